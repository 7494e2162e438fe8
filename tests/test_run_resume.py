"""A stopped or killed run keeps what it did and continues to the same result (`edge-icl run --resume`)."""

import json
import shutil
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge_icl.cli import app
from edge_icl.experiment.bench import BenchSettings, run_bench
from edge_icl.benches.offloading import OffloadingRunners
from agent.settings import AgentSettings
from edge_icl.experiment.run_folder import read_jsonl
from environment.offloading import offloading_env_config
from tests.cli_process import edge_icl
from tests.resume_points import RUN_EXCLUDED, assert_same_folder, copy_setup, cut_steps, wait_for_rows

runner = CliRunner()


def only_folder(parent: Path) -> Path:
    (folder,) = parent.iterdir()
    return folder


def run_to_end(parent: Path, *args: str) -> Path:
    result = runner.invoke(app, ["run", "--out", str(parent), "--json", *args])
    assert result.exit_code == 0, result.output
    return only_folder(parent)


@pytest.mark.slow
def test_an_icl_run_killed_with_sigkill_resumes_to_the_same_steps_csv_byte_for_byte(tmp_path):
    args = ("--steps", "30", "--seed", "1", "--llm-cache", "off")  # every step asks the model, in both runs
    whole = run_to_end(tmp_path / "whole", *args)
    process = edge_icl("run", "--out", str(tmp_path / "killed"), "--json", *args)
    folder = wait_for_rows(tmp_path / "killed", 12, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (folder / "summary.json").exists()
    result = runner.invoke(app, ["run", "--resume", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    assert (folder / "steps.csv").read_bytes() == (whole / "steps.csv").read_bytes()
    records = read_jsonl(folder / "transcript.jsonl")
    assert [r["step"] for r in records] == list(range(30))  # each step once, none lost, none twice
    resumed, original = json.loads(result.stdout), json.loads((whole / "summary.json").read_text())
    for key in ("mean_reward", "decision_accuracy", "llm_calls", "explored_steps", "parse_failures", "steps"):
        assert resumed[key] == original[key], key
    # and every other file and field, but the wall-clock ones and the counts of this process's own
    # model calls (resume_points.RUN_EXCLUDED); the transcript's prompts, scores and decisions too
    assert_same_folder(folder, whole, RUN_EXCLUDED)


def test_a_torn_last_line_is_dropped_and_the_run_completes_as_if_never_stopped(tmp_path):
    args = ("--policy", "random", "--steps", "60", "--seed", "4")
    whole = run_to_end(tmp_path / "whole", *args)
    cut = run_to_end(tmp_path / "cut", *args)
    data = (cut / "steps.csv").read_bytes()
    twentieth = [i for i, b in enumerate(data) if b == ord("\n")][20]
    (cut / "steps.csv").write_bytes(data[: twentieth + 15])  # 20 rows and a line torn mid-write
    (cut / "summary.json").unlink()
    result = runner.invoke(app, ["run", "--resume", str(cut), "--json"])
    assert result.exit_code == 0, result.output
    assert (cut / "steps.csv").read_bytes() == (whole / "steps.csv").read_bytes()
    assert json.loads(result.stdout)["mean_reward"] == json.loads((whole / "summary.json").read_text())["mean_reward"]


def test_resume_of_a_folder_that_is_not_a_run_is_a_one_line_error(tmp_path):
    result = runner.invoke(app, ["run", "--resume", str(tmp_path)])
    assert result.exit_code == 2 and "config.yaml" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_resume_refuses_rows_that_do_not_replay_on_the_world(tmp_path):
    folder = run_to_end(tmp_path, "--policy", "oracle", "--steps", "20", "--seed", "2")
    lines = (folder / "steps.csv").read_text().splitlines(keepends=True)
    (folder / "steps.csv").write_text("".join(lines[:5]) + lines[5].replace(",0,", ",1,", 1) + "".join(lines[6:10]))
    config = folder / "config.yaml"
    config.write_text(config.read_text().replace("steps: 20", "steps: 30"))
    result = runner.invoke(app, ["run", "--resume", str(folder)])
    assert result.exit_code == 2 and "--resume:" in result.stderr


def test_ctrl_c_writes_the_summary_of_the_steps_done_and_exits_130(tmp_path):
    process = edge_icl("run", "--out", str(tmp_path), "--json", "--steps", "60", "--seed", "5")
    folder = wait_for_rows(tmp_path, 10, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "--resume" in stderr and str(folder) in stderr
    summary = json.loads((folder / "summary.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in summary.json"))
    rows = len((folder / "steps.csv").read_text().splitlines()) - 1
    assert summary["interrupted"] is True and summary["steps"] == rows >= 10
    result = runner.invoke(app, ["run", "--resume", str(folder), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["steps"] == 60


def test_bench_resume_drops_the_aborted_groups_transcript_and_a_torn_row(tmp_path):
    policies = ["oracle", "random"]
    settings = BenchSettings(policies=policies, seeds=[0, 1], steps=20, config={})
    runners = OffloadingRunners(offloading_env_config(), AgentSettings(), tmp_path / "transcript.jsonl").runners(policies)
    seen = {"rows": 0}

    def interrupt(row):
        seen["rows"] += 1
        if seen["rows"] == 50:  # half-way through the third group (oracle, seed 1)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_bench(tmp_path, settings, runners, on_row=interrupt)
    # the transcript an LLM policy would have written: records of finished and aborted groups
    records = [{"policy": "oracle", "seed": 0, "step": s} for s in range(20)] + [{"policy": "oracle", "seed": 1, "step": s} for s in range(10)]
    (tmp_path / "transcript.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + '{"policy": "orac')
    with open(tmp_path / "steps.csv", "a") as handle:
        handle.write("oracle,1,10,3")  # a row torn by the kill
    groups = run_bench(tmp_path, settings, runners)
    assert sorted(groups) == [("oracle", 0), ("oracle", 1), ("random", 0), ("random", 1)]
    assert all(len(rows) == 20 for rows in groups.values())
    kept = read_jsonl(tmp_path / "transcript.jsonl")
    assert kept == records[:20]  # the aborted group's records went with its rows


# Where a kill can land in a run, as (rows finished, what was torn): before the first row;
# in the middle of writing a row; in the middle of writing a step's transcript record (it is
# written before its row); right after the last row (no summary yet); after the summary.
KILL_POINTS = {
    "before the first row": (0, None),
    "mid-row": (17, "row"),
    "mid-record": (17, "record"),
    "after the last row": (40, None),
    "after the summary": None,
}
LOOKUP_RUN = ("--policy", "lookup", "--steps", "40", "--seed", "3")  # the agent without its LLM: it writes a transcript too


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_run_killed_at_any_point_resumes_to_the_folder_of_a_run_never_stopped(tmp_path, point):
    """A kill at each point, made as the files stand then (tests/resume_points.py: the uninterrupted
    folder cut back to that moment, a torn line cut in half): timing a signal cannot hit a point
    between two writes. The resumed folder equals the uninterrupted one byte for byte, file by
    file, but for its wall-clock fields (resume_points.RUN_EXCLUDED: run.json's wall_s and
    resumed_at_step)."""
    whole = run_to_end(tmp_path / "whole", *LOOKUP_RUN)
    if KILL_POINTS[point] is None:
        cut = tmp_path / "cut"
        shutil.copytree(whole, cut)
    else:
        rows, torn = KILL_POINTS[point]
        cut = copy_setup(whole, tmp_path / "cut", ["config.yaml", "prompt"])
        cut_steps(whole, cut, rows, torn, key=lambda r: int(r["step"]))
    result = runner.invoke(app, ["run", "--resume", str(cut), "--json"])
    assert result.exit_code == 0, result.output
    assert_same_folder(cut, whole, RUN_EXCLUDED)


def test_a_run_killed_with_sigkill_wherever_it_lands_resumes_to_the_folder_of_a_run_never_stopped(tmp_path):
    """A real SIGKILL of `edge-icl run` in its own process, sent once its steps.csv holds 20 of
    5,000 rows: wherever between two writes (or inside one) it lands, the resumed folder equals
    an uninterrupted run's (wall-clock fields aside)."""
    args = ("--policy", "lookup", "--steps", "5000", "--seed", "6")
    whole = run_to_end(tmp_path / "whole", *args)
    process = edge_icl("run", "--out", str(tmp_path / "killed"), "--json", *args)
    folder = wait_for_rows(tmp_path / "killed", 20, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL  # killed, not finished
    result = runner.invoke(app, ["run", "--resume", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    assert_same_folder(folder, whole, RUN_EXCLUDED)
