"""What the LLM adds, in the benches: held-out states, seen/unseen accuracy, LLM lift = ICL - lookup paired by seed."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from edge_icl.cli import app
from edge_icl.experiment.bench import held_out_states, paired_difference, split_accuracy
from agent.experience import as_keywords

STATES = [as_keywords({"service": s, "size": z}) for s in "abcd" for z in ("short", "long")]


def test_held_out_states_are_a_seeded_share_of_the_combinations():
    held = held_out_states(STATES, 0.3, seed=0)
    assert len(held) == 2 and held <= set(STATES)  # round(0.3 * 8)
    assert held == held_out_states(STATES, 0.3, seed=0)
    assert any(held_out_states(STATES, 0.3, seed=s) != held for s in range(1, 5))
    assert held_out_states(STATES, 0.0, seed=0) == frozenset()
    assert len(held_out_states(STATES, 0.01, seed=0)) == 1 and len(held_out_states(STATES, 0.99, seed=0)) == 7  # one seen at least
    with pytest.raises(ValueError, match="--holdout"):
        held_out_states(STATES, 1.0, seed=0)


def test_paired_difference_is_the_mean_of_per_seed_differences_with_a_t_interval():
    icl = {0: 20.0, 1: 18.0, 2: 23.0}
    lookup = {0: 22.0, 1: 19.0, 2: 21.0, 3: 5.0}  # seed 3: no partner, left out
    lift = paired_difference(icl, lookup)
    diffs = np.array([-2.0, -1.0, 2.0])
    assert lift["seeds"] == 3 and lift["mean"] == pytest.approx(diffs.mean()) and lift["std"] == pytest.approx(diffs.std(ddof=1))
    half = stats.t.ppf(0.975, 2) * diffs.std(ddof=1) / np.sqrt(3)
    assert lift["ci95"] == pytest.approx([diffs.mean() - half, diffs.mean() + half])
    assert lift["per_seed"] == {"0": -2.0, "1": -1.0, "2": 2.0}
    one = paired_difference({0: 1.0}, {0: 0.5})
    assert one["mean"] == 0.5 and one["std"] is None and one["ci95"] is None


def test_split_accuracy_counts_seen_and_unseen_rows_apart():
    rows = [
        {"action": "1", "oracle_action": "1", "held_out": "0"},
        {"action": "0", "oracle_action": "1", "held_out": "0"},
        {"action": "0", "oracle_action": "0", "held_out": "1"},
    ]
    assert split_accuracy(rows) == {"decision_accuracy_seen": 0.5, "decision_accuracy_unseen": 1.0}
    assert split_accuracy([{"action": "1", "oracle_action": "1"}]) == {}


def test_offloading_bench_has_lookup_and_bandit_rows_and_splits_accuracy_with_a_holdout(tmp_path):
    result = CliRunner().invoke(
        app,
        ["bench", "offloading", "--policies", "lookup,bandit,oracle", "--seeds", "2", "--steps", "60", "--holdout", "0.3", "--out", str(tmp_path), "--json"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    table = summary["policies"]
    assert set(table) == {"lookup", "bandit", "oracle"}
    for row in table.values():
        assert row["decision_accuracy_seen"] is not None and row["decision_accuracy_unseen"] is not None
    assert table["oracle"]["decision_accuracy_unseen"] == 1.0
    held = summary["holdout"]["held_out"]
    assert set(held) == {"0", "1"} and all(len(states) == 5 for states in held.values())  # round(0.3 * 16)
    assert "llm_lift" not in summary  # no icl row: nothing to compare lookup with


@pytest.mark.slow
def test_offloading_bench_reports_the_llm_lift_of_the_bundled_model_over_lookup(tmp_path):
    result = CliRunner().invoke(
        app, ["bench", "offloading", "--policies", "icl,lookup", "--seeds", "2", "--steps", "16", "--out", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    lift = summary["llm_lift"]["llama-cpp"]["icl_minus_lookup"]
    table = summary["policies"]
    for metric in ("mean_reward_last_half", "decision_accuracy"):
        assert lift[metric]["seeds"] == 2 and lift[metric]["ci95"] is not None
        assert lift[metric]["mean"] == pytest.approx(table["icl"][metric] - table["lookup"][metric])
