"""Bad input stops before any step with one line naming what is wrong (exit 2), and leaves no run folder."""

import json
import math
import shutil
import typing
from pathlib import Path

import annotated_types
import pytest
import yaml
from pydantic import BaseModel
from typer.testing import CliRunner

from edge_icl.cli import app
from agent.prompting import default_prompt_dir
from edge_icl.experiment.run_folder import RunFolder
from environment.config import ConfigError
from environment.offloading import offloading_env_config

runner = CliRunner()


def command_error(out: Path, *args: str) -> str:
    """`edge-icl ARGS` stops with exit code 2 and one line on stderr, leaving nothing in `out`; the line."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1 and message.startswith("error:"), message
    assert not out.exists() or not list(out.iterdir())  # no run folder left behind
    return message


def one_line_error(tmp_path: Path, *args: str) -> str:
    out = tmp_path / "runs"
    return command_error(out, "run", "--out", str(out), *args)


def prompt_variant(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "variant"
    shutil.copytree(default_prompt_dir(), folder)
    (folder / name).write_text(text)
    return folder


def test_user_template_without_the_variable_marker(tmp_path):
    folder = prompt_variant(tmp_path, "user.j2", "Examples:\n{{ examples|join('\\n') }}\n")
    assert "variable_marker" in one_line_error(tmp_path, "--prompt", str(folder), "--steps", "3")


def test_example_template_with_an_undefined_variable(tmp_path):
    folder = prompt_variant(tmp_path, "example.j2", "Keywords: {{ keywords.service_type }}, Cost: {{ cost }}\n")
    message = one_line_error(tmp_path, "--prompt", str(folder), "--steps", "3")
    assert "example.j2" in message and "cost" in message


def test_answer_template_that_makes_both_answers_equal(tmp_path):
    folder = prompt_variant(tmp_path, "answer.j2", " choice\n")
    assert "equal answers" in one_line_error(tmp_path, "--prompt", str(folder), "--steps", "3")


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "world.yaml"
    path.write_text(text)
    return path


def test_min_distance_beyond_the_cell_radius(tmp_path):
    config = write_config(tmp_path, "radio:\n  min_distance_m: 300\n  cell_radius_m: 250\n")
    message = one_line_error(tmp_path, "--policy", "oracle", "--config", str(config))
    assert "radio" in message and "min_distance_m" in message


@pytest.mark.parametrize("field,value", [("bs_power_dbm", ".inf"), ("noise_density_dbm_hz", ".nan"), ("bs_power_dbm", "-.inf")])
def test_non_finite_numbers_are_rejected(tmp_path, field, value):
    config = write_config(tmp_path, f"radio:\n  {field}: {value}\n")
    assert f"radio.{field}" in one_line_error(tmp_path, "--policy", "oracle", "--config", str(config))
    with pytest.raises(ConfigError, match=field):
        offloading_env_config({"radio": {field: math.inf}})


def test_out_pointing_at_a_file(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("not a folder")
    result = runner.invoke(app, ["run", "--policy", "oracle", "--out", str(target)])
    assert result.exit_code == 2 and "is a file, not a folder" in result.stderr
    result = runner.invoke(app, ["bench", "offloading", "--policies", "oracle", "--steps", "5", "--seeds", "1", "--out", str(target / "below")])
    assert result.exit_code == 2 and "is a file, not a folder" in result.stderr


def test_summary_json_is_strict_json_with_null_for_non_finite_numbers(tmp_path):
    folder = RunFolder(tmp_path, "run")
    folder.write_json("summary.json", {"a": math.nan, "b": [math.inf, 1.5], "c": {"d": -math.inf}})
    folder.append_jsonl("transcript.jsonl", {"x": math.nan})
    folder.close()

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} written")

    assert json.loads((folder.path / "summary.json").read_text(), parse_constant=refuse) == {"a": None, "b": [None, 1.5], "c": {"d": None}}
    assert json.loads((folder.path / "transcript.jsonl").read_text(), parse_constant=refuse) == {"x": None}


def test_transformers_model_path_that_is_a_text_file(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a model\n")
    message = one_line_error(tmp_path, "--backend", "transformers", "--model-path", str(text), "--steps", "2")
    assert "is a file but not a GGUF" in message


def test_openai_key_set_but_empty(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "")
    assert "OPENAI_API_KEY is not set or empty" in one_line_error(tmp_path, "--backend", "openai", "--steps", "2")



# --- every size has an upper bound (issue 22, item 9) -----------------------------------

# Integer and list fields of the models a user's file or flag fills that are not sizes, and why.
NOT_SIZES = {
    "EdgeServerConfig.max_batch": "at most the serving profile's largest measured batch (its validator)",
    "CachedModel.context_tokens": "a token count of the refresh rule (eq. 18), nothing is held per token",
    "Service.best_model": "an index, checked against the models",
    "Service.equivalent_model": "an index, checked against the models",
    "Service.prompt_tokens": "a token count of the cost formulas (eq. 23)",
    "Service.output_tokens": "a token count of the cost formulas (eq. 23)",
    "CachingConfig.thought_tokens_low": "the range one integer per thought is drawn from",
    "CachingConfig.thought_tokens_high": "the range one integer per thought is drawn from",
    "AssociationConfig.tokens": "token counts of the delays (eq. 2), nothing is held per token",
    "AgentSettings.warn_after_parse_failures": "when to warn, not a size",
    "AgentSettings.backend_options": "validated by the backend's options model, whose sizes are bounded",
    "SweepSpec.agent": "AgentSettings, whose sizes are bounded",
    "SweepSpec.world": "the problem's config, whose sizes are bounded",
    "SweepSpec.grid": "its worlds (the product of its lists) are bounded by MAX_WORLDS",
    "SweepSpec.policies": "unique names of known policies",
    "LlamaCppOptions.n_ctx": "at most the model's trained context, checked when the model loads (agent/context_window.py)",
}


def user_models() -> list[type[BaseModel]]:
    """Every model a config file, a sweep spec or a command-line flag is validated into."""
    import agent.backends.registry  # noqa: F401  (the backends' options models register)
    import edge_icl.experiment.spec
    import agent.settings  # noqa: F401  (each import makes its models known as StrictConfig subclasses)
    import environment.adapter_training.config
    import environment.association.config
    import environment.caching.config
    import environment.market.config
    import environment.offloading.config
    import environment.offloading_v1.config  # noqa: F401
    from agent.backends.registry import backend_option_fields
    from environment.config import StrictConfig

    backend_option_fields()  # every backend registered, with its options model
    found, todo = [], list(StrictConfig.__subclasses__())
    while todo:
        model = todo.pop()
        todo.extend(model.__subclasses__())
        if not model.__module__.startswith("solvers."):  # DQN and DASHF settings are built in code, not from input
            found.append(model)
    return found


def declares(metadata: list, kind: type) -> bool:
    return any(isinstance(item, kind) for item in metadata)


def unbounded_sizes() -> list[str]:
    missing = []
    for model in user_models():
        for name, field in model.model_fields.items():
            where = f"{model.__name__}.{name}"
            annotation, args = field.annotation, typing.get_args(field.annotation)
            origin = typing.get_origin(annotation)
            if annotation is int or (int in args and type(None) in args):
                bounded = declares(field.metadata, annotated_types.Le) or declares(field.metadata, annotated_types.Lt)
            elif origin is tuple and args and args[-1] is not Ellipsis:  # a fixed-length tuple: its integer items
                items = [typing.get_args(a) for a in args if a is int or typing.get_origin(a) is typing.Annotated]
                bounded = all(item and any(declares(getattr(extra, "metadata", []), annotated_types.Le) for extra in item[1:]) for item in items)
            elif origin in (list, tuple, dict):
                bounded = declares(field.metadata, annotated_types.MaxLen)
            else:
                continue
            if not bounded and where not in NOT_SIZES:
                missing.append(where)
    return missing


def test_every_size_a_user_gives_has_an_upper_bound():
    models = {model.__name__ for model in user_models()}
    assert {"RadioConfig", "CachingConfig", "MarketConfig", "AgentSettings", "SweepSpec", "LlamaCppOptions", "OpenAIOptions"} <= models
    assert unbounded_sizes() == []
    assert set(NOT_SIZES) <= {f"{m.__name__}.{n}" for m in user_models() for n in m.model_fields}  # no stale excuse


def test_the_defaults_and_the_paper_figures_sizes_are_within_the_bounds():
    from agent.settings import AgentSettings
    from environment.adapter_training.config import adapter_training_config
    from environment.association.config import association_config, association_env_config
    from environment.caching.config import caching_config, scaled_config
    from environment.market.config import market_config
    from environment.offloading.config import offloading_env_config
    from environment.offloading_v1.config import offloading_v1_config

    for make in (offloading_env_config, offloading_v1_config, association_env_config, caching_config, market_config, adapter_training_config):
        make()
    AgentSettings()
    # scripts/reproduce_*.py: the largest point of each figure's sweep (their --full sizes).
    for field in ("n_ground_bs", "n_services", "n_gpus", "n_users"):
        market_config({field: {"n_ground_bs": 7, "n_services": 18, "n_gpus": 32, "n_users": 25}[field]})
    scaled_config(n_services=20, n_gpus=32, n_users=30)
    association_config({"n_users": [140 - 5, 140 + 5], "n_nodes": [25 - 2, 25 + 2]})
    adapter_training_config(n_users=20, n_servers=3)
    offloading_env_config({"offloading": {"episode_steps": 500}})


def write_file(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


SPEC = {"problem": "offloading", "policies": ["oracle"], "seeds": [0], "steps": 3}


@pytest.mark.parametrize(
    "args,expected",
    [
        (["run", "--policy", "oracle", "--steps", "100001"], ["--steps", "100000"]),
        (["run", "--steps", "2", "--pool-size", "10001"], ["pool_size", "10000"]),
        (["run", "--steps", "2", "--max-tokens", "5000"], ["max_tokens", "1024"]),
        (["run", "--steps", "2", "--n-threads", "1000"], ["n_threads", "256"]),
        (["bench", "offloading", "--seeds", "101"], ["--seeds", "100"]),
        (["bench", "offloading", "--steps", "100001"], ["--steps", "100000"]),
        (["bench", "offloading", "--policies", "oracle,random", "--seeds", "100", "--steps", "100000"], ["20,000,000 steps", "10,000,000"]),
        (["bench", "association", "--runs", "1001"], ["--runs", "1000"]),
        (["bench", "association", "--policies", "least-delay", "--seeds", "100", "--runs", "1000"], ["10,500,000 steps", "10,000,000"]),
        (["bench", "matching", "--runs", "100001"], ["--runs", "100000"]),
        (["bench", "caching", "--policies", "fifo", "--slots", "10001"], ["slots", "10000"]),
        (["bench", "caching", "--policies", "fifo", "--milp-seconds", "4000"], ["--milp-seconds", "3600"]),
        (["bench", "auction", "--rounds", "100001"], ["--rounds", "100000"]),
        (["bench", "auction", "--train-rounds", "300001"], ["--train-rounds", "300000"]),
        (["bench", "auction", "--ground-bs", "101"], ["n_ground_bs", "100"]),
        (["bench", "dashf", "--users", "41"], ["n_users", "40"]),
        (["bench", "backend", "--decisions", "10001"], ["--decisions", "10000"]),
        (["sweep", "{spec}", "--executor", "serial", "--actors", "65"], ["--actors", "64"]),
    ],
)
def test_a_size_flag_above_its_bound_is_one_line_naming_it_and_the_bound(tmp_path, args, expected):
    out = tmp_path / "runs"
    spec = write_file(tmp_path, "spec.yaml", yaml.safe_dump(SPEC))
    args = [str(spec) if a == "{spec}" else a for a in args]
    if args[0] != "sweep" and args[:2] != ["bench", "backend"]:
        args += ["--out", str(out)]
    message = command_error(out, *args)
    assert all(part in message for part in expected), message


def test_a_config_size_above_its_bound_is_one_line_before_any_step(tmp_path):
    """The finding: `radio.n_users: 100000000` ran until the kernel killed it at 24 GB."""
    config = write_file(tmp_path, "world.yaml", "radio:\n  n_users: 100000000\n")
    message = one_line_error(tmp_path, "--policy", "oracle", "--config", str(config))
    assert "radio.n_users" in message and "10000" in message


@pytest.mark.parametrize(
    "change,expected",
    [
        ({"steps": 100_001}, ["steps", "100000"]),
        ({"seeds": list(range(101))}, ["seeds", "100"]),
        ({"grid": {"radio.n_users": list(range(1, 41)), "tasks.quality_preferred_share": [i / 30 for i in range(30)]}}, ["grid", "1,200 worlds", "1,000"]),
        ({"seeds": list(range(100)), "policies": ["oracle", "random"], "grid": {"radio.n_users": list(range(1, 52))}}, ["10,200 cells", "10,000"]),
        ({"grid": {"radio.n_users": list(range(1, 101))}, "seeds": list(range(100)), "steps": 1001}, ["10,000 cells x 1,001 steps", "10,000,000"]),
        ({"grid": {}}, ["grid", "give at least one dotted key"]),
        ({"policies": []}, ["policies"]),
        ({"seeds": []}, ["seeds"]),
        ({"variants": {}}, ["variants"]),
        ({"grid": {"radio.n_users": []}}, ["radio.n_users", "give at least one value"]),
    ],
)
def test_a_sweep_spec_too_large_or_empty_is_one_line_naming_the_key(tmp_path, change, expected):
    """An empty grid ran one cell with rc 0; `grid:` left out is the one-world sweep."""
    out = tmp_path / "sweep"
    spec = write_file(tmp_path, "spec.yaml", yaml.safe_dump({**SPEC, **change}))
    message = command_error(out, "sweep", str(spec), "--executor", "serial", "--out", str(out))
    assert "spec.yaml" in message and all(part in message for part in expected), message


# --- silent bad inputs become one-line errors (issue 22, item 10) -----------------------

DUPLICATED = "radio:\n  n_users: 10\n  n_users: 30\n"


@pytest.mark.parametrize(
    "command,text",
    [
        (["run", "--policy", "oracle", "--steps", "2", "--config"], DUPLICATED),
        (["run", "--problem", "offloading-v1", "--policy", "greedy", "--steps", "2", "--config"], DUPLICATED),
        (["bench", "offloading", "--policies", "oracle", "--steps", "2", "--seeds", "1", "--config"], DUPLICATED),
        (["bench", "caching", "--policies", "fifo", "--config"], "n_users: 10\nslots: 5\nn_users: 30\n"),
        (["bench", "auction", "--config"], "n_users: 10\nn_gpus: 20\nn_users: 30\n"),
        (["sweep", "--executor", "serial"], "policies: [oracle]\nsteps: 3\nradio_note: 1\nsteps: 4\n"),
    ],
)
def test_a_key_given_twice_in_a_yaml_file_is_one_line_naming_the_key_its_line_and_the_file(tmp_path, command, text):
    out = tmp_path / "runs"
    path = write_file(tmp_path, "given.yaml", text)
    args = [*command, str(path)] if command[0] != "sweep" else ["sweep", str(path), *command[1:]]
    message = command_error(out, *args, "--out", str(out))
    duplicated, line, first = ("steps", 4, 2) if command[0] == "sweep" else ("n_users", 3, 1 if command[1] in ("caching", "auction") else 2)
    assert "given.yaml" in message and f"duplicate key '{duplicated}' at line {line} (first at line {first})" in message, message


def test_the_one_yaml_reader_keeps_merges_and_rejects_only_repeated_keys():
    from environment.config import load_yaml

    assert load_yaml("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  x: 3\n") == {"base": {"x": 1, "y": 2}, "other": {"x": 3, "y": 2}}
    with pytest.raises(yaml.YAMLError, match="duplicate key 'x' at line 3 \\(first at line 2\\)"):
        load_yaml("a:\n  x: 1\n  x: 2\n")


@pytest.mark.parametrize(
    "command,known",
    [
        (["bench", "offloading", "--steps", "2", "--seeds", "1", "--policies"], "oracle"),
        (["bench", "offloading", "--world", "v1", "--steps", "2", "--seeds", "1", "--policies"], "greedy"),
        (["bench", "association", "--runs", "1", "--gap-runs", "0", "--policies"], "least-delay"),
        (["bench", "caching", "--small-runs", "0", "--policies"], "fifo"),
        (["bench", "auction", "--mechanisms"], "msb"),
    ],
)
@pytest.mark.parametrize("value,expected", [("", "no names given"), (",,", "no names given"), ("{x},{x}", "{x} given twice"), ("{x},", "an empty name"), ("{x},,{x}", "an empty name")])
def test_an_empty_or_repeated_policy_list_is_one_line_on_every_command(tmp_path, command, known, value, expected):
    """`--policies ''`, `--policies ,,` and a repeated name ran with rc 0."""
    out = tmp_path / "runs"
    message = command_error(out, *command, value.format(x=known), "--out", str(out))
    assert command[-1] in message and expected.format(x=known) in message, message


def test_view_on_a_folder_holding_no_run_is_one_line_naming_it(tmp_path):
    """It served (or bundled) a page of 0 runs without a word."""
    empty = tmp_path / "empty"
    (empty / "notes").mkdir(parents=True)
    (empty / "notes" / "readme.txt").write_text("no run here")
    site = tmp_path / "site"
    message = command_error(site, "view", str(empty), "--bundle", str(site))
    assert "holds no run or bench folder" in message and str(empty) in message and not site.exists()
    from tests.cli_process import edge_icl

    server = edge_icl("view", str(empty), "--no-browser")  # in a process of its own: a server that starts would not return
    try:
        _, stderr = server.communicate(timeout=120)
    finally:
        server.kill()
    assert server.returncode == 2 and len(stderr.strip().splitlines()) == 1 and "holds no run or bench folder" in stderr and str(empty) in stderr


NOT_UTF8 = b"radio:\n  n_users: 10\n\xff\xfe\x00\x01"


@pytest.mark.parametrize("what", ["config", "sweep spec", "prompt template"])
def test_a_file_that_is_not_utf8_is_one_line_naming_it(tmp_path, what):
    """A binary config and a prompt file with invalid UTF-8 gave "'utf-8' codec can't decode ..." naming no file."""
    out = tmp_path / "runs"
    if what == "config":
        path = write_file(tmp_path, "binary.yaml", NOT_UTF8)
        message = one_line_error(tmp_path, "--policy", "oracle", "--config", str(path))
    elif what == "sweep spec":
        path = write_file(tmp_path, "binary.yaml", NOT_UTF8)
        message = command_error(out, "sweep", str(path), "--executor", "serial", "--out", str(out))
    else:
        folder = prompt_variant(tmp_path, "example.j2", "")
        path = write_file(folder, "example.j2", b"Keywords: \xff{{ keywords }}\n")
        message = one_line_error(tmp_path, "--prompt", str(folder), "--steps", "2")
    assert str(path) in message and "not UTF-8" in message and "codec" not in message, message


def test_a_usage_error_is_one_line_and_exit_2_in_a_terminal(tmp_path):
    """Typer drew these as a box of several lines; `edge-icl bench` alone still shows its help."""
    from tests.cli_process import edge_icl

    for args, expected in ((["run", "--steps", "0"], "--steps"), (["run", "--no-such-flag"], "--no-such-flag"), (["bench", "nope"], "nope")):
        process = edge_icl(*args, "--out", str(tmp_path / "runs"))
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 2, stderr
        assert len(stderr.strip().splitlines()) == 1 and stderr.startswith("error:") and expected in stderr, stderr
    process = edge_icl("bench")
    stdout, stderr = process.communicate(timeout=120)
    assert "offloading" in stdout + stderr and "Usage" in stdout + stderr
