"""Eviction policies and offline references of the least-AoT paper (papers/cached-model-least-aot.txt, IV-C, VI-B)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from environment.caching import CachingEnv, scaled_config, schedule_costs
from environment.caching.config import gpt3_175b, llama_65b
from environment.caching.formulas import memory_feasible
from solvers.caching import POLICIES, Belady, fifo, least_aot, lfu, lru, optimal_schedule
from edge_icl.problems.caching import SMALL_CONFIG, instance_seed, play


def candidate(model, aot=0.0, now=0, entered=0, total=0, last=0, memory=156.48):
    return {"model": model, "aot": aot, "requests_this_slot": now, "entered_slot": entered, "total_requests": total,
            "last_request_slot": last, "memory_gb": memory}


class Env:
    bypass_action = 9


def test_least_aot_evicts_the_lowest_aot_model():
    info = {"candidates": [candidate(0, aot=3.2), candidate(1, aot=0.4), candidate(2, aot=1.7)]}
    assert least_aot().act(info, Env()) == 1


def test_online_policies_never_evict_a_model_requested_in_this_slot():
    info = {"candidates": [candidate(0, aot=5.0), candidate(1, aot=0.1, now=2)]}
    assert least_aot().act(info, Env()) == 0
    info = {"candidates": [candidate(0, aot=5.0, now=1), candidate(1, aot=0.1, now=2)]}
    for make in (least_aot, fifo, lfu, lru):
        assert make().act(info, Env()) == Env.bypass_action


@pytest.mark.parametrize(
    "make, field, expected",
    [(fifo, "entered", 1), (lfu, "total", 2), (lru, "last", 0)],
)
def test_fifo_lfu_lru_evict_the_oldest_least_frequent_least_recent(make, field, expected):
    values = {"entered": [4, 1, 7], "total": [9, 8, 2], "last": [3, 6, 5]}[field]
    info = {"candidates": [candidate(m, **{field: v}) for m, v in enumerate(values)]}
    assert make().act(info, Env()) == expected


class Recorder:
    """Wraps a policy and keeps each decision's facts and action."""

    def __init__(self, policy):
        self.policy, self.name, self.seen = policy, policy.name, []

    def act(self, info, env):
        action = self.policy.act(info, env)
        self.seen.append((info, action, env.trace.counts()))
        return action


def test_least_aot_on_the_env_picks_the_lowest_aot_among_models_not_requested_now():
    recorder = Recorder(least_aot())
    play(scaled_config(n_gpus=16), 3, recorder)
    assert recorder.seen
    for info, action, _ in recorder.seen:
        free = [c for c in info["candidates"] if c["requests_this_slot"] == 0]
        if not free:
            assert action == len(info["action_mask"]) - 1
        else:
            assert next(c for c in free if c["model"] == action)["aot"] == min(c["aot"] for c in free)


def test_belady_evicts_the_model_needed_furthest_in_the_future():
    recorder = Recorder(Belady())
    play(scaled_config(n_gpus=16), 3, recorder)
    for info, action, counts in recorder.seen:
        free = [c["model"] for c in info["candidates"] if c["requests_this_slot"] == 0]
        if not free:
            continue
        later = counts[:, info["slot"] + 1 :]
        next_use = {m: (np.flatnonzero(later[m])[0] if later[m].any() else np.inf) for m in free}
        assert next_use[action] == max(next_use.values())


def test_milp_costs_no_more_than_any_policy_on_small_instances():
    for run in range(8):
        seed = instance_seed(0, run)
        policy_costs = {name: sum(play(SMALL_CONFIG, seed, POLICIES[name]()).episode_costs().values()) for name in POLICIES}
        env = CachingEnv(SMALL_CONFIG)
        env.reset(seed=seed)
        best = optimal_schedule(env.tables, env.trace)
        assert best.mip_gap == pytest.approx(0.0, abs=1e-9)
        for name, cost in policy_costs.items():
            assert best.objective <= cost + 1e-6, (run, name)
        # its objective is the env's own cost of its schedule, and the schedule fits (3)
        assert schedule_costs(env.tables, env.trace, best.cached).total == pytest.approx(best.objective, rel=1e-9)
        assert all(memory_feasible(best.cached[:, t], env.tables.memory_gb, env.tables.capacity_gb) for t in range(env.config.slots))


def test_milp_finds_the_least_cost_of_every_schedule_that_fits_memory():
    # 3 models (LLaMA 156 GB, GPT-3 420 GB, LLaMA) in 640 GB: any two fit, all three do not.
    # Every one of the 2^12 schedules is priced by the env's cost (brute force).
    config = scaled_config(
        models=[llama_65b(0).model_dump(), gpt3_175b(0).model_dump(), llama_65b(1).model_dump()],
        n_services=3, n_users=3, n_gpus=8, slots=4,
    )
    for seed in (2,):
        env = CachingEnv(config)
        env.reset(seed=seed)
        M, T = env.n_models, config.slots
        best_cost = np.inf
        for bits in itertools.product((False, True), repeat=M * T):
            cached = np.array(bits).reshape(M, T)
            if all(memory_feasible(cached[:, t], env.tables.memory_gb, env.tables.capacity_gb) for t in range(T)):
                best_cost = min(best_cost, schedule_costs(env.tables, env.trace, cached).total)
        assert optimal_schedule(env.tables, env.trace).objective == pytest.approx(best_cost, rel=1e-9)
