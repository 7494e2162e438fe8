"""Seeded episodes and summaries of the caching policies (edge_icl/problems/caching.py)."""

from __future__ import annotations

import pytest

from environment.caching import scaled_config
from edge_icl.problems.caching import SMALL_CONFIG, milp_rows, play, policy_rows, summarise


def row(policy, total, hits, requests, served, gain):
    parts = {"switching": total, "transmission": 0.0, "inference": 0.0, "accuracy": 0.0, "cloud": 0.0}
    return {"policy": policy, "total_cost": total, **parts, "hits": hits, "requests": requests, "edge_served": served, "cot_gain_sum": gain}


def test_summarise_averages_per_slot_and_pools_hit_rate_over_requests():
    rows = [row("a", 10.0, 3, 4, 2, 0.2), row("a", 20.0, 1, 6, 1, 0.1), row("b", 5.0, 0, 0, 0, 0.0)]
    summary = summarise(rows)
    assert summary["a"]["total_cost"] == 15.0 and summary["a"]["switching"] == 15.0
    assert summary["a"]["hit_rate"] == pytest.approx(4 / 10)
    assert summary["a"]["performance_gain"] == pytest.approx(0.3 / 3)
    assert summary["b"]["hit_rate"] != summary["b"]["hit_rate"]  # NaN: no requests


def test_every_policy_meets_the_same_trace_and_a_seed_repeats_its_rows():
    config = scaled_config(slots=20)
    first = list(policy_rows(config, 4))
    assert first == list(policy_rows(config, 4))
    requests = {}
    for r in first:
        requests.setdefault(r["policy"], []).append(r["requests"])
    assert len({tuple(v) for v in requests.values()}) == 1


class Illegal:
    name = "illegal"

    def act(self, info, env):
        return 0 if not env.cached[0] else next(m for m in range(env.n_models) if not env.cached[m])


def test_play_refuses_an_illegal_action():
    with pytest.raises(ValueError, match="illegal action"):
        play(scaled_config(n_gpus=12, slots=30), 1, Illegal())


def test_milp_rows_price_the_optimum_per_slot():
    rows = list(milp_rows(SMALL_CONFIG, 3, setting="small"))
    assert len(rows) == SMALL_CONFIG.slots and {r["policy"] for r in rows} == {"milp"}
    policies = summarise(policy_rows(SMALL_CONFIG, 3))
    assert summarise(rows)["milp"]["total_cost"] <= min(v["total_cost"] for v in policies.values()) + 1e-9
