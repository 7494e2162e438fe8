import json

import numpy as np
import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.cli.bench import BenchSettings, aggregate, moving_average, run_bench, steps_to_fraction
from agent.cli.bench_offloading import OffloadingRunners, offloading_metrics
from agent.settings import AgentSettings
from environment.offloading import offloading_env_config

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
