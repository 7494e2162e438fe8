"""The sweep spec (edge_icl/experiment/spec.py): its cells, and one-line errors before any work."""

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from edge_icl.cli import app
from edge_icl.experiment.spec import SweepSpec, load_sweep, resolve, set_dotted
from environment.config import ConfigError

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
BASE = {"problem": "offloading", "policies": ["icl", "oracle"], "seeds": [0, 1], "steps": 5}


def write(tmp_path: Path, spec: dict) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def error_of(tmp_path: Path, spec: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        load_sweep(write(tmp_path, spec))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_cell_is_a_policy_a_variant_a_world_and_a_seed(tmp_path):
    spec = {**BASE, "variants": {"a": {}, "b": {"pool": "latest"}}, "grid": {"radio.n_users": [10, 20, 40]}}
    sweep = load_sweep(write(tmp_path, spec))
    icl = [c for c in sweep.cells if c.policy == "icl"]
    oracle = [c for c in sweep.cells if c.policy == "oracle"]
    assert len(icl) == 2 * 3 * 2 and len(oracle) == 3 * 2  # a problem's own policy has no variant
    assert len({c.cell_id for c in sweep.cells}) == len(sweep.cells)
    assert all(c.uses_llm and c.agent is not None for c in icl) and all(not c.uses_llm and c.variant is None for c in oracle)
    assert {c.world["radio"]["n_users"] for c in icl} == {10, 20, 40}
    cell = next(c for c in icl if c.variant == "b" and c.overrides == {"radio.n_users": 20} and c.seed == 1)
    assert cell.agent["pool"] == "latest" and cell.world["radio"]["n_users"] == 20
    assert cell.settings_row() == {"cell_id": cell.cell_id, "policy": "icl", "variant": "b", "world": "w1", "radio.n_users": 20, "seed": 1}


def test_variants_start_from_the_shared_agent_settings_and_merge_backend_options(tmp_path):
    spec = {**BASE, "agent": {"epsilon": 0.2, "backend_options": {"n_threads": 1}}, "variants": {"a": {}, "b": {"backend_options": {"weights": "shipped"}}}}
    sweep = load_sweep(write(tmp_path, spec), llm_cache="off")
    assert sweep.variants["a"].epsilon == sweep.variants["b"].epsilon == 0.2
    assert sweep.variants["b"].backend_options == {"n_threads": 1, "weights": "shipped"}
    assert {v.llm_cache for v in sweep.variants.values()} == {"off"}
    assert sweep.cells[0].backend_key() != next(c for c in sweep.cells if c.variant == "b").backend_key()


def test_a_relative_prompt_folder_is_read_from_the_spec_files_folder(tmp_path):
    sweep = load_sweep(ROOT / "examples" / "sweep-prompts.yaml")
    assert Path(sweep.variants["terse"].prompt) == ROOT / "examples" / "prompts" / "offloading-terse"
    assert sweep.variants["paper"].prompt is None
    assert sweep.spec.policies == ["icl", "lookup"] and sweep.spec.compared() == ("paper", "terse")
    assert len(sweep.cells) == 2 * 2 * 3  # icl and lookup, each per prompt variant and seed


def test_set_dotted_puts_a_value_at_its_path_and_leaves_the_input_alone():
    data = {"radio": {"n_users": 20}}
    assert set_dotted(data, "radio.n_users", 40) == {"radio": {"n_users": 40}}
    assert set_dotted(data, "offloading.quality_penalty", 10) == {"radio": {"n_users": 20}, "offloading": {"quality_penalty": 10}}
    assert data == {"radio": {"n_users": 20}}
    with pytest.raises(ConfigError, match="radio.n_users is not a section"):
        set_dotted(data, "radio.n_users.x", 1)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"seedz": [1]}, "seedz: Extra inputs are not permitted"),
        ({"problem": "chess"}, "problem: unknown 'chess'"),
        ({"policies": ["icl", "dqn-9000"]}, "policies: unknown 'dqn-9000'"),
        ({"seeds": [1, 1]}, "seeds: Value error, listed twice: 1"),
        ({"steps": 0}, "steps: Input should be greater than 0"),
        ({"grid": {"radio.n_userz": [10]}}, "radio.n_userz=10: invalid config: radio.n_userz: Extra inputs are not permitted"),
        ({"grid": {"radio.n_users": [10, 0]}}, "radio.n_users=0: invalid config: radio.n_users: Input should be greater than 0"),
        ({"grid": {"radio.n_users": []}}, "grid: Value error, radio.n_users: give at least one value"),
        ({"variants": {"a": {"pool_sizee": 3}}}, "variants.a: agent settings: pool_sizee: Extra inputs are not permitted"),
        ({"variants": {"a": {"llm_cache": "maybe"}}}, "variants.a: agent settings: llm_cache: Input should be 'on', 'off' or 'refresh'"),
        ({"variants": {"a": {"backend_options": {"temperaturez": 1}}}}, "variants.a: --temperaturez: not an option of backend llama-cpp"),
        ({"variants": {"a": {"prompt": "nowhere"}}}, "variants.a: --prompt:"),
        ({"variants": {"a__b": {}}}, "variant name 'a__b'"),
        ({"variants": {"a": {}}, "compare": ["a", "z"]}, "compare: unknown variant 'z'"),
    ],
)
def test_bad_specs_are_one_line_errors_naming_the_field(tmp_path, change, expected):
    assert expected in error_of(tmp_path, {**BASE, **change})


def test_the_command_stops_on_a_bad_spec_before_any_work(tmp_path):
    spec = write(tmp_path, {**BASE, "grid": {"radio.n_users": [-3]}})
    out = tmp_path / "out"
    result = runner.invoke(app, ["sweep", str(spec), "--out", str(out), "--executor", "serial"])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "radio.n_users=-3" in result.stderr and not out.exists()
    result = runner.invoke(app, ["sweep", str(tmp_path / "missing.yaml"), "--executor", "serial"])
    assert result.exit_code == 2 and "cannot read config" in result.stderr


def test_a_spec_validated_is_a_spec_resolved_again_the_same(tmp_path):
    spec = {**BASE, "variants": {"a": {"prompt": str(ROOT / "examples/prompts/offloading-terse")}}, "grid": {"tasks.quality_preferred_share": [0.2, 0.8]}}
    first = load_sweep(write(tmp_path, spec))
    again = resolve(SweepSpec.model_validate(first.spec.model_dump(mode="json")), tmp_path)
    assert [c for c in again.cells] == [c for c in first.cells]


def test_a_bare_yaml_on_or_off_is_the_cache_mode_it_spells(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("policies: [icl]\nagent: {llm_cache: off}\nvariants: {a: {}, b: {llm_cache: on}}\n")
    sweep = load_sweep(path)
    assert (sweep.variants["a"].llm_cache, sweep.variants["b"].llm_cache) == ("off", "on")
