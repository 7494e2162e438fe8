"""`edge-icl bench association`: every policy on the same instances, scored by one `evaluate`."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge_icl.cli import app
from tests.resume_points import BENCH_EXCLUDED, assert_same_folder, copy_setup, csv_lines, cut_steps

NO_LLM = "lookup,bandit,least-delay,iam,gale-shapley,kolkata,random,milp"


def bench(tmp_path: Path, *args: str) -> tuple[dict, Path]:
    result = CliRunner().invoke(app, ["bench", "association", "--out", str(tmp_path), "--json", *args])
    assert result.exit_code == 0, result.output
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    return json.loads(result.stdout), folder


def rows(path: Path) -> list[dict[str, str]]:
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_every_row_holds_delay_drop_served_and_gap_and_the_milp_is_optimal_on_small_instances(tmp_path):
    summary, folder = bench(tmp_path, "--runs", "2", "--gap-runs", "3", "--policies", NO_LLM)
    table = summary["policies"]
    assert list(table) == NO_LLM.split(",")
    for name, row in table.items():
        assert set(row) >= {"mean_delay_ms", "drop_probability", "served_share", "optimality_gap"}
        if name != "milp":
            assert row["mean_delay_ms"] > 0 and 0 <= row["drop_probability"] <= 1 and 0 < row["served_share"] < 1
            assert row["optimality_gap"] >= -1e-6  # nobody beats the MILP serving as many users
    assert table["milp"]["mean_delay_ms"] is None and table["milp"]["optimality_gap"] == pytest.approx(0.0, abs=1e-6)
    small = summary["small_instances"]
    assert small["milp"]["served_share"] >= max(r["served_share"] for r in small.values()) - 1e-12  # it serves the most
    assert table["least-delay"]["least_delay_choice_rate"] == 1.0


def test_online_and_one_shot_policies_meet_the_same_instances(tmp_path):
    _, folder = bench(tmp_path, "--runs", "2", "--gap-runs", "0", "--policies", "least-delay,iam,random")
    users: dict[str, set] = {}
    for row in rows(folder / "default" / "steps.csv"):
        users.setdefault(row["policy"], set()).add((row["instance"], row["user"], row["tokens"], row["deadline_ms"]))
    assert users["least-delay"] == users["iam"] == users["random"] and len(users["iam"]) > 150


def test_an_interrupted_bench_resumes_to_the_same_summary(tmp_path):
    summary, folder = bench(tmp_path / "a", "--runs", "2", "--gap-runs", "2", "--policies", "bandit,iam,milp")
    steps = folder / "default" / "steps.csv"
    lines = steps.read_text().splitlines(keepends=True)
    steps.write_text("".join(lines[: len(lines) // 2]))  # half the rows, the last group cut mid-way
    result = CliRunner().invoke(app, ["bench", "association", "--resume", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    resumed = json.loads(result.stdout)
    assert resumed["policies"] == summary["policies"] and resumed["small_instances"] == summary["small_instances"]
    assert len(steps.read_text().splitlines()) == len(lines)


# Where a kill can land in a bench association of 2 seeds x lookup, iam, random, whose two sizes
# are written one after the other (default/, then small/): (size, rows finished, what was torn)
# with every row of the sizes before it written; None: after the summary.
ASSOCIATION_POINTS = {
    "before the first row": ("default", 0, None),
    "mid-row": ("default", 700, "row"),
    "mid-record": ("default", 700, "record"),
    "after the last default row": ("small", 0, None),
    "mid-row of small": ("small", 60, "row"),
    "after the last row": ("small", None, None),
    "after the summary": None,
}


@pytest.mark.parametrize("point", list(ASSOCIATION_POINTS))
def test_a_bench_association_killed_at_any_point_resumes_to_the_folder_of_one_never_stopped(tmp_path, point):
    """A kill at each point, made as the files stand then (tests/resume_points.py; a point between
    two writes cannot be hit by timing a signal): the resumed folder equals the uninterrupted one
    byte for byte (default/ and small/ steps.csv and transcript.jsonl, bench.json), summary.json
    but for its wall_s (seconds per group and in all)."""
    _, whole = bench(tmp_path / "whole", "--runs", "2", "--gap-runs", "2", "--policies", "lookup,iam,random", "--seeds", "2")
    cut = tmp_path / "cut"
    if ASSOCIATION_POINTS[point] is None:
        shutil.copytree(whole, cut)
    else:
        size, rows, torn = ASSOCIATION_POINTS[point]
        copy_setup(whole, cut, ["bench.json"])
        for name in ("default", "small"):  # both made before the first row
            (cut / name).mkdir()
        before = ["default", "small"][: ["default", "small"].index(size)]
        for name in before:
            shutil.copytree(whole / name, cut / name, dirs_exist_ok=True)
        total = len(csv_lines(whole / size / "steps.csv")) - 1
        cut_steps(whole / size, cut / size, total if rows is None else rows, torn, key=lambda r: (r["policy"], int(r["seed"]), int(r["step"])))
    result = CliRunner().invoke(app, ["bench", "association", "--resume", str(cut), "--json"])
    assert result.exit_code == 0, result.output
    assert_same_folder(cut, whole, BENCH_EXCLUDED)


@pytest.mark.slow
def test_dqn_learns_online_with_an_invalid_action_penalty(tmp_path):
    summary, _ = bench(tmp_path, "--runs", "1", "--gap-runs", "1", "--policies", "dqn,iam")
    assert "invalid-action penalty" in summary["dqn"]
    dqn = summary["policies"]["dqn"]
    assert dqn["invalid_actions"] > 0 and 0 <= dqn["drop_probability"] <= 1


def test_unknown_policy_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(app, ["bench", "association", "--policies", "iam,oracle", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "oracle" in result.stderr and not list(tmp_path.iterdir())


@pytest.mark.slow
def test_the_icl_agent_plays_beside_lookup_and_the_lift_is_reported(tmp_path):
    config = tmp_path / "small.yaml"
    config.write_text("instances:\n  n_users: [8, 12]\n  n_nodes: [3, 5]\n")
    summary, folder = bench(tmp_path / "runs", "--runs", "2", "--gap-runs", "1", "--policies", "icl,lookup,iam", "--config", str(config))
    lift = summary["llm_lift"]["llama-cpp"]["icl_minus_lookup"]
    assert lift["mean_delay_ms"]["mean"] == pytest.approx(summary["policies"]["icl"]["mean_delay_ms"] - summary["policies"]["lookup"]["mean_delay_ms"])
    records = [json.loads(line) for line in (folder / "default" / "transcript.jsonl").read_text().splitlines()]
    assert {r["policy"] for r in records} == {"icl", "lookup"}
    assert any(r["policy"] == "icl" and r["llm_call"] for r in records)
    assert summary["policies"]["icl"]["invalid_actions"] == 0
