"""`edge-icl sweep`: the tidy table, resume, failed cells, figures, and the serial and Ray executors agreeing."""

import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from edge_icl.cli import app
from edge_icl.problems.registry import PROBLEMS
from edge_icl.experiment.rollout import run_policy
from edge_icl.experiment.run_folder import read_jsonl
from edge_icl.cli.sweep import run_sweep
from edge_icl.experiment.engine import TIMING_COLUMNS
from edge_icl.experiment.figures import metric_by_policy, paired_difference
from edge_icl.experiment.sweep_folder import SweepFolder
from edge_icl.experiment.spec import load_sweep
from agent.settings import AgentSettings
from agent.baselines.registry import NO_LLM_BASELINES
from tests.cli_process import edge_icl
from tests.resume_points import SWEEP_EXCLUDED, assert_same_folder, cut_sweep, wait_for_rows

ROOT = Path(__file__).resolve().parent.parent
TERSE = str(ROOT / "examples" / "prompts" / "offloading-terse")
runner = CliRunner()
PLAIN = {"problem": "offloading", "policies": ["oracle", "random", "all-local"], "seeds": [0, 1], "steps": 20, "grid": {"radio.n_users": [10, 20]}}
ONE_WORLD = {key: value for key, value in PLAIN.items() if key != "grid"}  # no grid: one world (`grid: {}` is an error)


def write_spec(tmp_path: Path, spec: dict) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def sweep(*args: str) -> dict:
    result = runner.invoke(app, ["sweep", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def table(folder: Path) -> dict[str, dict[str, str]]:
    """cells.csv by cell id, without the columns that differ from run to run."""
    with open(folder / "cells.csv", newline="") as handle:
        return {row["cell_id"]: {k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in csv.DictReader(handle)}


def sorted_lines(path: Path) -> list[str]:
    return sorted(path.read_text().splitlines())


def test_a_serial_sweep_writes_one_row_per_cell_and_every_step(tmp_path):
    summary = sweep(str(write_spec(tmp_path, PLAIN)), "--out", str(tmp_path / "out"), "--executor", "serial")
    assert {"cells", "failed", "llm_calls", "cache_hits", "wall_s", "table"} <= set(summary)
    assert summary["cells"] == summary["finished"] == summary["ran"] == 3 * 2 * 2 and summary["failed"] == 0
    assert summary["llm_calls"] == summary["cache_hits"] == 0
    rows = table(tmp_path / "out")
    assert len(rows) == 12 and len(read_jsonl(tmp_path / "out" / "cells.jsonl")) == 12
    steps = list(csv.DictReader(open(tmp_path / "out" / "steps.csv", newline="")))
    assert len(steps) == 12 * 20 and {s["cell_id"] for s in steps} == set(rows)
    # a cell's row holds the problem's own metrics of that policy on that world and seed
    row = rows["random__-__w1__s1"]
    assert (row["policy"], row["variant"], row["radio.n_users"], row["seed"], row["status"]) == ("random", "", "20", "1", "ok")
    problem = PROBLEMS["offloading"]
    world = problem.config({"radio": {"n_users": 20}})
    direct = run_policy(problem.policies["random"](1, world), problem.env(world), problem.task(world), 20, 1)
    assert float(row["mean_reward"]) == pytest.approx(direct.summary["mean_reward"], rel=1e-12)
    assert [s["reward"] for s in steps if s["cell_id"] == "random__-__w1__s1"] == [str(r["reward"]) for r in direct.rows]
    figure = tmp_path / "out" / "by_policy_mean_reward.png"
    assert str(figure) in summary["figures"] and figure.stat().st_size > 10_000


def test_a_failing_cell_is_recorded_with_its_one_line_error_and_resume_runs_only_what_is_missing(tmp_path):
    spec = {**ONE_WORLD, "policies": ["icl", "oracle"], "agent": {"llm_cache": "off"},
            "variants": {"broken": {"backend_options": {"model_path": str(tmp_path / "no-such.gguf")}}}}
    out = tmp_path / "out"
    summary = sweep(str(write_spec(tmp_path, spec)), "--out", str(out), "--executor", "serial")
    assert summary["cells"] == 4 and summary["failed"] == 2 and summary["finished"] == 2
    rows = table(out)
    for seed in (0, 1):
        failed = rows[f"icl__broken__w0__s{seed}"]
        assert failed["status"] == "failed" and failed["error"].startswith("BackendUnavailable: --model-path: no GGUF file at")
        assert rows[f"oracle__-__w0__s{seed}"]["status"] == "ok"
    assert [f["cell_id"] for f in summary["failures"]] == ["icl__broken__w0__s0", "icl__broken__w0__s1"]
    resumed = sweep("--resume", str(out), "--executor", "serial")
    assert resumed["ran"] == 2 and resumed["failed"] == 2  # only the failed cells ran again
    assert len(table(out)) == 4


def test_lookup_runs_per_variant_with_the_variants_agent_settings_and_no_llm(tmp_path):
    spec = {"problem": "offloading", "policies": ["lookup", "bandit"], "seeds": [0, 1], "steps": 30,
            "agent": {"epsilon": 0.3}, "variants": {"latest": {"pool": "latest", "pool_size": 4}, "relevant": {}}}
    summary = sweep(str(write_spec(tmp_path, spec)), "--out", str(tmp_path / "out"), "--executor", "serial")
    rows = table(tmp_path / "out")
    assert summary["cells"] == 2 * 2 + 2 and summary["failed"] == 0 and summary["llm_calls"] == summary["cache_hits"] == 0
    assert {r["variant"] for r in rows.values() if r["policy"] == "bandit"} == {""}  # the bandit takes no agent settings
    problem = PROBLEMS["offloading"]
    world = problem.config(None)
    for variant, settings in (("latest", AgentSettings(epsilon=0.3, pool="latest", pool_size=4)), ("relevant", AgentSettings(epsilon=0.3))):
        task = problem.task(world)
        direct = run_policy(NO_LLM_BASELINES["lookup"](task, settings, 1), problem.env(world), task, 30, 1)
        assert float(rows[f"lookup__{variant}__w0__s1"]["mean_reward"]) == pytest.approx(direct.summary["mean_reward"], rel=1e-12)
        assert rows[f"lookup__{variant}__w0__s1"]["llm_decisions"] == "0"
    assert rows["lookup__latest__w0__s0"]["mean_reward"] != rows["lookup__relevant__w0__s0"]["mean_reward"]


class StoppedAfter(Exception):
    pass


def test_a_stopped_sweep_keeps_its_finished_cells_and_resumes_to_the_same_table(tmp_path):
    spec_path = write_spec(tmp_path, PLAIN)
    sweep(str(spec_path), "--out", str(tmp_path / "whole"), "--executor", "serial")
    cut = tmp_path / "cut"
    the_sweep = load_sweep(spec_path)
    folder = SweepFolder.create(cut, the_sweep.spec, {"base_dir": str(tmp_path), "llm_cache": None})
    record, seen = folder.record, []

    def record_then_stop(row, steps, transcript):
        if len(seen) == 5:  # a kill half-way through writing the sixth cell: some of its steps, no line in cells.jsonl
            for step in steps[:7]:
                folder._steps.append(step)
            folder._steps.close()
            with open(cut / "steps.csv", "a") as handle:
                handle.write("torn,li")
            raise KeyboardInterrupt
        seen.append(row["cell_id"])
        record(row, steps, transcript)

    folder.record = record_then_stop
    with pytest.raises(typer.Exit) as stopped:  # exit 130, as after Ctrl-C
        run_sweep(folder, the_sweep, "serial", as_json=True, figures=False, ray_options={})
    assert getattr(stopped.value, "exit_code", None) == 130
    assert len(table(cut)) == 5 and json.loads((cut / "summary.json").read_text())["interrupted"] is True
    resumed = sweep("--resume", str(cut), "--executor", "serial")
    assert resumed["ran"] == 12 - 5
    assert table(cut) == table(tmp_path / "whole")
    assert sorted_lines(cut / "steps.csv") == sorted_lines(tmp_path / "whole" / "steps.csv")


# Where a kill can land in a serial sweep of 18 cells (3 policies x 2 worlds x 3 seeds, lookup
# writing a transcript): (finished cells, step rows of the next one, what was torn); None:
# after the summary and figures.
SWEEP_POINTS = {
    "before the first row": (0, 0, None),
    "mid-row": (5, 7, "row"),
    "mid-line of cells.jsonl": (5, 0, "cells.jsonl"),
    "after the last row": (18, 0, None),
    "after the summary": None,
}
WITH_LOOKUP = {**PLAIN, "policies": ["oracle", "lookup", "random"], "seeds": [0, 1, 2]}


@pytest.mark.parametrize("point", list(SWEEP_POINTS))
def test_a_sweep_killed_at_any_point_resumes_to_the_folder_of_a_sweep_never_stopped(tmp_path, point):
    """A kill at each point, made as the files stand then (tests/resume_points.py `cut_sweep`; a
    point between two writes cannot be hit by timing a signal): the resumed folder equals the
    uninterrupted one byte for byte, figures included, but for the timing columns of cells.csv
    and cells.jsonl and what summary.json says this invocation did (resume_points.SWEEP_EXCLUDED)."""
    spec = str(write_spec(tmp_path, WITH_LOOKUP))
    sweep(spec, "--out", str(tmp_path / "whole"), "--executor", "serial")
    cut = tmp_path / "cut"
    if SWEEP_POINTS[point] is None:
        shutil.copytree(tmp_path / "whole", cut)
    else:
        cut_sweep(tmp_path / "whole", cut, *SWEEP_POINTS[point])
    sweep("--resume", str(cut), "--executor", "serial")
    assert_same_folder(cut, tmp_path / "whole", SWEEP_EXCLUDED)


def test_a_sweep_killed_with_sigkill_wherever_it_lands_resumes_to_the_folder_of_a_sweep_never_stopped(tmp_path):
    """A real SIGKILL of `edge-icl sweep` in its own process, sent once 6 of its 24 cells are
    recorded in cells.jsonl: wherever it lands, the resumed folder equals an uninterrupted sweep's
    (timing columns and this invocation's counts aside)."""
    spec = str(write_spec(tmp_path, {**WITH_LOOKUP, "seeds": [0, 1, 2, 3], "steps": 300}))
    sweep(spec, "--out", str(tmp_path / "whole"), "--executor", "serial")
    process = edge_icl("sweep", spec, "--out", str(tmp_path / "runs" / "killed"), "--executor", "serial", "--json")
    folder = wait_for_rows(tmp_path / "runs", 6, process, name="cells.jsonl")
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL  # killed, not finished
    assert not (folder / "summary.json").exists()
    sweep("--resume", str(folder), "--executor", "serial")
    assert_same_folder(folder, tmp_path / "whole", SWEEP_EXCLUDED)


def test_bad_command_lines_are_one_line_errors(tmp_path):
    spec = str(write_spec(tmp_path, PLAIN))
    for args, expected in [
        (["--executor", "dask"], "--executor: unknown 'dask'"),
        (["--llm-cache", "sometimes", "--executor", "serial"], "--llm-cache: unknown 'sometimes'"),
        (["--resume", str(tmp_path), "--executor", "serial"], "not both"),
    ]:
        result = runner.invoke(app, ["sweep", spec, *args])
        assert result.exit_code == 2 and expected in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = runner.invoke(app, ["sweep", "--resume", str(tmp_path), "--executor", "serial"])
    assert result.exit_code == 2 and "holds no sweep" in result.stderr
    sweep(spec, "--out", str(tmp_path / "out"), "--executor", "serial")
    result = runner.invoke(app, ["sweep", spec, "--out", str(tmp_path / "out"), "--executor", "serial"])
    assert result.exit_code == 2 and f"continue it with --resume {tmp_path / 'out'}" in result.stderr


def test_without_ray_installed_the_ray_executor_says_what_to_install(tmp_path):
    spec = write_spec(tmp_path, PLAIN)
    code = "import sys; sys.modules['ray'] = None; from edge_icl.cli import main; main()"  # as if ray were not installed
    done = subprocess.run(
        [sys.executable, "-c", code, "sweep", str(spec), "--out", str(tmp_path / "out")],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
    )
    assert done.returncode == 2 and "pip install 'edge-icl[ray]'" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_the_paired_difference_is_b_minus_a_on_the_same_seeds_with_a_t_interval():
    rows = [
        {"policy": "icl", "variant": v, "world": "w0", "seed": s, "status": "ok", "mean_reward": r}
        for v, s, r in [("a", 0, 10.0), ("a", 1, 20.0), ("a", 2, 30.0), ("b", 0, 11.0), ("b", 1, 22.0), ("b", 2, 33.0), ("b", 3, 99.0)]
    ]
    (entry,) = paired_difference(rows, "mean_reward", "a", "b", [])
    # differences 1, 2, 3 (seed 3 has no pair): mean 2, sd 1, t(0.975, 2) = 4.302653
    half = 4.302652729911275 / math.sqrt(3)
    assert entry["seeds"] == 3 and entry["mean_diff"] == pytest.approx(2.0)
    assert (entry["ci95_low"], entry["ci95_high"]) == pytest.approx((2.0 - half, 2.0 + half))
    by_policy = {e["label"]: e for e in metric_by_policy(rows, "mean_reward", [])}
    assert by_policy["icl / a"]["mean"] == pytest.approx(20.0) and by_policy["icl / a"]["std"] == pytest.approx(10.0)
    assert by_policy["icl / b"]["seeds"] == 4


@pytest.fixture(scope="module")
def local_ray():
    """A local 2-CPU Ray for this module's tests, shut down after them."""
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


TINY = {"problem": "offloading", "policies": ["icl", "oracle"], "seeds": [0, 1], "steps": 6,
        "agent": {"epsilon": 0.3}, "variants": {"paper": {}, "terse": {"prompt": TERSE}}}


@pytest.mark.slow
def test_serial_and_ray_give_the_same_table_on_a_tiny_sweep(tmp_path, local_ray):
    spec = str(write_spec(tmp_path, TINY))
    serial = sweep(spec, "--out", str(tmp_path / "serial"), "--executor", "serial", "--llm-cache", "off")
    on_ray = sweep(spec, "--out", str(tmp_path / "ray"), "--executor", "ray", "--llm-cache", "off")
    assert serial["cells"] == on_ray["cells"] == 2 * 2 + 2 and serial["failed"] == on_ray["failed"] == 0
    assert on_ray["llm_calls"] == serial["llm_calls"] > 0
    assert table(tmp_path / "ray") == table(tmp_path / "serial")
    assert sorted_lines(tmp_path / "ray" / "steps.csv") == sorted_lines(tmp_path / "serial" / "steps.csv")
    workers = {row["worker"] for row in csv.DictReader(open(tmp_path / "ray" / "cells.csv")) if row["policy"] == "icl"}
    assert len(workers) == 2 and str(os.getpid()) not in {w.split(":")[1] for w in workers}  # two actors, not this process
    assert on_ray["ray"] == {"ray_address": local_ray.get_runtime_context().gcs_address, "ray_cpus": 2, "actor_cpus": 1, "actors": [2]}
    assert any(name.endswith("paired_paper_vs_terse_mean_reward.png") for name in on_ray["figures"])


@pytest.mark.slow
def test_a_sweep_rerun_on_ray_with_the_cache_warm_makes_no_llm_call(tmp_path, local_ray):
    spec = str(write_spec(tmp_path, TINY))
    cold = sweep(spec, "--out", str(tmp_path / "cold"), "--executor", "ray")
    warm = sweep(spec, "--out", str(tmp_path / "warm"), "--executor", "ray")
    assert cold["llm_calls"] > 0 and warm["llm_calls"] == 0
    assert warm["cache_hits"] == cold["llm_calls"] + cold["cache_hits"] and warm["hit_rate"] == 1.0
    assert table(tmp_path / "warm").keys() == table(tmp_path / "cold").keys()
    for cell, row in table(tmp_path / "warm").items():
        cold_row = table(tmp_path / "cold")[cell]
        assert {k: v for k, v in row.items() if k not in ("llm_calls", "cache_hits")} == {k: v for k, v in cold_row.items() if k not in ("llm_calls", "cache_hits")}
    assert sorted_lines(tmp_path / "warm" / "steps.csv") == sorted_lines(tmp_path / "cold" / "steps.csv")


@pytest.mark.slow
def test_address_or_ray_address_joins_a_running_cluster(tmp_path, local_ray):
    """Another process (the command) joins the module's Ray: its cells run on that cluster's workers."""
    address = local_ray.get_runtime_context().gcs_address
    spec = str(write_spec(tmp_path, ONE_WORLD))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("RAY_ADDRESS", None)
    command = [sys.executable, "-m", "edge_icl", "sweep", spec, "--json"]
    by_flag = subprocess.run([*command, "--out", str(tmp_path / "flag"), "--address", address], env=env, capture_output=True, text=True)
    assert by_flag.returncode == 0, by_flag.stderr
    joined = json.loads(by_flag.stdout)
    assert joined["ray"]["ray_address"] == address and joined["ray"]["ray_cpus"] == 2 and joined["finished"] == 6
    sweep(spec, "--out", str(tmp_path / "serial"), "--executor", "serial")
    assert table(tmp_path / "flag") == table(tmp_path / "serial")
    by_env = subprocess.run([*command, "--out", str(tmp_path / "env")], env={**env, "RAY_ADDRESS": address}, capture_output=True, text=True)
    assert by_env.returncode == 0, by_env.stderr
    assert json.loads(by_env.stdout)["ray"]["ray_address"] == address
    sized = subprocess.run([*command, "--out", str(tmp_path / "sized"), "--num-cpus", "1"], env={**env, "RAY_ADDRESS": address}, capture_output=True, text=True)
    assert sized.returncode == 2 and "--num-cpus sizes a new local Ray" in sized.stderr and len(sized.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "sized").exists()
