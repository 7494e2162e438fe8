import json
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edge_icl.cli import app
from edge_icl.experiment.bench import BenchSettings, aggregate, moving_average, run_bench, steps_to_fraction
from edge_icl.benches.offloading import OffloadingRunners, offloading_metrics
from edge_icl.experiment.run_folder import read_jsonl
from agent.settings import AgentSettings
from environment.offloading import offloading_env_config
from tests.cli_process import edge_icl
from tests.resume_points import BENCH_EXCLUDED, assert_same_folder, copy_setup, csv_lines, cut_steps, wait_for_rows

POLICIES = ["oracle", "random", "all-local"]


def test_moving_average_by_hand():
    assert moving_average(np.array([1.0, 3.0, 5.0, 7.0]), 2).tolist() == [1.0, 2.0, 4.0, 6.0]


def test_steps_to_95_finds_the_first_step_the_curve_gets_there():
    rewards = np.concatenate([np.zeros(20), np.full(80, 10.0)])
    # window 10: the moving average first reaches 9.5 when all 10 values are 10 -> step 30
    assert steps_to_fraction(rewards, window=10) == 30
    # a flat curve is there as soon as the first window is full
    assert steps_to_fraction(np.full(50, 4.0), window=10) == 10
    # a lucky start does not count: the first full window averages below the threshold
    assert steps_to_fraction(np.concatenate([[50.0], np.zeros(9), np.full(90, 10.0)]), window=10) == 20
    # negative final reward: threshold final - 5% |final|
    assert steps_to_fraction(np.concatenate([np.full(10, -100.0), np.full(90, -10.0)]), window=1) == 11


def settings(steps=30):
    return BenchSettings(policies=POLICIES, seeds=[0, 1], steps=steps, config={})


def runners(run_dir):
    return OffloadingRunners(offloading_env_config(), AgentSettings(), run_dir / "transcript.jsonl").runners(POLICIES)


def test_interrupted_bench_resumes_to_the_same_rows(tmp_path):
    full_dir, cut_dir = tmp_path / "full", tmp_path / "cut"
    full_dir.mkdir(), cut_dir.mkdir()
    full = run_bench(full_dir, settings(), runners(full_dir))

    seen = {"rows": 0}

    def interrupt(row):
        seen["rows"] += 1
        if seen["rows"] == 75:  # half-way through the third group
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_bench(cut_dir, settings(), runners(cut_dir), on_row=interrupt)
    assert len((cut_dir / "steps.csv").read_text().splitlines()) == 1 + 75
    started = []
    resumed = run_bench(cut_dir, settings(), runners(cut_dir), on_group_start=lambda n, s: started.append((n, s)))
    # the two finished groups are not run again; the cut one is rerun from its start
    assert started == [("all-local", 0), ("oracle", 1), ("random", 1), ("all-local", 1)]
    assert sorted(resumed) == sorted(full)
    assert sorted((cut_dir / "steps.csv").read_text().splitlines()) == sorted((full_dir / "steps.csv").read_text().splitlines())
    assert (cut_dir / "steps.csv").read_bytes() == (full_dir / "steps.csv").read_bytes()  # in the same order, too
    assert list(resumed) == list(full)  # the groups in the bench's order, seed by seed
    table = aggregate(resumed, POLICIES, offloading_metrics)
    assert table["oracle"]["decision_accuracy"] == 1.0
    assert table["oracle"]["mean_reward_last_half"] >= table["random"]["mean_reward_last_half"]


def test_bench_cli_reports_every_policy_as_json(tmp_path):
    result = CliRunner().invoke(
        app, ["bench", "offloading", "--policies", "oracle,random,all-local,all-offload", "--seeds", "2", "--steps", "40", "--out", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    table = json.loads(result.stdout)["policies"]
    assert set(table) == {"oracle", "random", "all-local", "all-offload"}
    for metrics in table.values():
        assert set(metrics) >= {"mean_reward_last_half", "quality_success_rate", "mean_delay_s", "decision_accuracy", "steps_to_95"}
    assert table["all-offload"]["quality_success_rate"] == 1.0
    assert table["all-local"]["quality_success_rate"] == 0.0


def test_bench_cli_rejects_unknown_policy(tmp_path):
    result = CliRunner().invoke(app, ["bench", "offloading", "--policies", "oracle,magic", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "magic" in result.stderr


def bench_folder(out: Path, *args: str) -> Path:
    """`edge-icl bench offloading ARGS` to its end in a new folder under `out`; that folder."""
    result = CliRunner().invoke(app, ["bench", "offloading", "--out", str(out), "--json", *args])
    assert result.exit_code == 0, result.output
    (folder,) = out.iterdir()
    return folder


def resume_bench(folder: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "offloading", "--resume", str(folder), "--json"])
    assert result.exit_code == 0, result.output


def bench_key(record: dict) -> tuple:
    """The step a bench row or transcript record belongs to."""
    return record["policy"], int(record["seed"]), int(record["step"])


def killed_bench(whole: Path, target: Path, point: tuple[int, str | None] | None) -> Path:
    """`whole` as a kill at `point` (rows finished, what was torn; None: after the summary) leaves it."""
    if point is None:
        shutil.copytree(whole, target)
        return target
    copy_setup(whole, target, ["bench.json"])
    cut_steps(whole, target, *point, key=bench_key)
    return target


# Kill points of a bench of 3 seeds x 3 policies x 30 steps (270 rows, 30 per group, written
# seed by seed): before the first row; torn in the first group of the third seed (the 200th
# row, as found in issue 22); its record torn; after the last row, before the summary (the
# other case found: every row there, the file rewritten in another order); after the summary.
BENCH_POINTS = {
    "before the first row": (0, None),
    "mid-row": (200, "row"),
    "mid-record": (200, "record"),
    "after the last row": (270, None),
    "after the summary": None,
}


@pytest.mark.parametrize("point", list(BENCH_POINTS))
def test_a_bench_killed_at_any_point_resumes_to_the_folder_of_a_bench_never_stopped(tmp_path, point):
    """A kill at each point, made as the files stand then (tests/resume_points.py; a point between
    two writes cannot be hit by timing a signal): the resumed folder equals the uninterrupted one
    byte for byte, steps.csv, transcript.jsonl (lookup writes one), bench.json and summary.json
    (bench offloading's holds no wall-clock field)."""
    whole = bench_folder(tmp_path / "whole", "--policies", "lookup,oracle,random", "--seeds", "3", "--steps", "30")
    cut = killed_bench(whole, tmp_path / "cut", BENCH_POINTS[point])
    resume_bench(cut)
    assert_same_folder(cut, whole, BENCH_EXCLUDED)


def test_a_bench_killed_with_sigkill_wherever_it_lands_resumes_to_the_folder_of_a_bench_never_stopped(tmp_path):
    """A real SIGKILL of `edge-icl bench offloading` in its own process, sent once its steps.csv
    holds 7,600 of 9,000 rows (in its last group, lookup on seed 1, five groups finished: the
    state whose resume an earlier version wrote in another order): wherever it lands, the
    resumed folder equals an uninterrupted bench's byte for byte."""
    args = ("--policies", "oracle,random,lookup", "--seeds", "2", "--steps", "1500")
    whole = bench_folder(tmp_path / "whole", *args)
    process = edge_icl("bench", "offloading", "--out", str(tmp_path / "killed"), "--json", *args)
    folder = wait_for_rows(tmp_path / "killed", 7600, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL  # killed, not finished
    assert not (folder / "summary.json").exists()
    resume_bench(folder)
    assert_same_folder(folder, whole, BENCH_EXCLUDED)


def test_a_bench_resumed_from_a_folder_in_another_order_is_brought_back_to_the_benchs_order(tmp_path):
    """Every group finished, but steps.csv sorted by (policy, seed), as an earlier version's resume
    rewrote it: the resume writes the groups back in the bench's order (seed by seed) without
    running any again, and the folder equals one never stopped."""
    whole = bench_folder(tmp_path / "whole", "--policies", "random,oracle", "--seeds", "2", "--steps", "20")
    cut = killed_bench(whole, tmp_path / "cut", BENCH_POINTS["after the summary"])
    header, *rows = csv_lines(cut / "steps.csv")
    (cut / "steps.csv").write_bytes("".join([header, *sorted(rows, key=lambda line: line.split(",")[:2])]).encode())
    assert (cut / "steps.csv").read_bytes() != (whole / "steps.csv").read_bytes()
    resume_bench(cut)
    assert_same_folder(cut, whole, BENCH_EXCLUDED)


# The ICL agent on the bundled model (2 seeds x icl, lookup, oracle x 6 steps: 36 rows, 6 per
# group): torn in (icl, seed 1), which then starts on a model that has not seen seed 0's
# prompts; after the last row.
ICL_POINTS = {"mid-row in icl seed 1": (20, "row"), "mid-record in icl seed 1": (20, "record"), "after the last row": (36, None)}


@pytest.mark.slow
@pytest.mark.parametrize("point", list(ICL_POINTS))
def test_an_icl_bench_killed_at_any_point_resumes_to_the_same_folder(tmp_path, point):
    """The ICL agent (llama.cpp, bundled model, --llm-cache off: every decision asks the model in
    both runs): the resumed folder equals the uninterrupted one, the transcript's prompts, scores
    and decisions included, but for its wall-clock fields and evaluated_tokens (how much of each
    prompt llama.cpp evaluated anew: a resumed process starts with an empty KV cache;
    resume_points.TRANSCRIPT). Both runs are on this machine."""
    args = ("--policies", "icl,lookup,oracle", "--seeds", "2", "--steps", "6", "--llm-cache", "off")
    whole = bench_folder(tmp_path / "whole", *args)
    assert any(r.get("llm_call") for r in read_jsonl(whole / "transcript.jsonl"))
    cut = killed_bench(whole, tmp_path / "cut", ICL_POINTS[point])
    resume_bench(cut)
    assert_same_folder(cut, whole, BENCH_EXCLUDED)
