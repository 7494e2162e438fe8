"""Seeded caching episodes of every policy and their aggregation (least-AoT paper, VI-B).

An episode of seed s draws its request trace from the env's generator seeded with s,
so every policy (and the MILP) meets the same trace; the policies draw nothing.
Rows are one per (policy, slot), written as they are produced; summaries are means
per slot, as the paper's "average cost".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from environment.caching.config import CachingConfig, default_models, scaled_config
from environment.caching.env import CachingEnv
from environment.caching.formulas import COST_PARTS
from environment.caching.serving import schedule_costs
from solvers.caching import POLICIES, EvictionPolicy, OptimalSchedule, optimal_schedule
from environment.policy import Policy

# What `edge-icl bench caching --json` reports per policy.
BENCH_KEYS: tuple[str, ...] = ("total_cost", *COST_PARTS, "hit_rate")

# Small enough for the exact MILP in well under a second: 4 models (2 LLaMA-65B, 2
# GPT-3-175B), 4 services, 4 users, 8 GPUs (640 GB: one GPT-3 and one LLaMA), 12 slots.
SMALL_CONFIG: CachingConfig = scaled_config(
    models=[m.model_dump() for m in default_models(4)], n_services=4, n_users=4, n_gpus=8, slots=12
)


def instance_seed(seed: int, run: int) -> int:
    """The env seed of run `run` of a bench or sweep point seeded `seed`."""
    return int(np.random.SeedSequence([seed, run]).generate_state(1)[0])


def play(config: CachingConfig, seed: int, policy: EvictionPolicy) -> CachingEnv:
    """Play one episode of `policy`; the finished env holds its records and schedule.

    Raises ValueError if the policy picks an action outside `info["action_mask"]`.
    """
    env = CachingEnv(config)
    _, info = env.reset(seed=seed)
    while True:
        action = env.bypass_action if info["finished"] else int(policy.act(info, env))
        if not info["action_mask"][action]:
            raise ValueError(f"policy {policy.name} chose illegal action {action} at slot {info['slot']}")
        _, _, terminated, _, info = env.step(action)
        if terminated:
            return env


def play_policy(config: CachingConfig, seed: int, policy: Policy, on_slot: Callable[[dict[str, Any]], None] | None = None) -> CachingEnv:
    """Play one episode of a `Policy` (act(observation, info), then observe the outcome).

    For decision makers that learn as they go (the ICL agent, the no-LLM baselines of
    the agent): the same episode as `play`, the same trace for the same seed; a policy
    played over several seeds in a row carries what it learned from one to the next.
    `on_slot(row)` gets each slot's row (`SlotRecord.as_row`) as soon as it is served.
    Raises ValueError if the policy picks an action outside `info["action_mask"]`.
    """
    env = CachingEnv(config)
    observation, info = env.reset(seed=seed)
    report = on_slot or (lambda row: None)
    for row in info["slots_done"]:
        report(row)
    while True:
        action = int(policy.act(observation, info))
        if not info["action_mask"][action]:
            raise ValueError(f"policy {policy.name} chose illegal action {action} at slot {info['slot']}")
        next_observation, reward, terminated, _, step_info = env.step(action)
        policy.observe(observation, info, action, reward, step_info)
        for row in step_info["slots_done"]:
            report(row)
        if terminated:
            return env
        observation, info = next_observation, step_info


def episode_rows(env: CachingEnv, name: str, seed: int, **labels: Any) -> list[dict[str, Any]]:
    """One row per slot of a finished episode, as `policy_rows` writes them."""
    return [{"policy": name, **labels, "seed": seed, **record.as_row()} for record in env.records]


def policy_rows(config: CachingConfig, seed: int, names: Iterable[str] = POLICIES, **labels: Any) -> Iterator[dict[str, Any]]:
    """One row per (policy, slot) of the episode seeded `seed`, `labels` added to each."""
    for name in names:
        yield from episode_rows(play(config, seed, POLICIES[name]()), name, seed, **labels)


def solve_milp(config: CachingConfig, seed: int, time_limit_s: float | None = None, **labels: Any) -> tuple[OptimalSchedule, list[dict[str, Any]]]:
    """The MILP optimum on the trace of seed `seed` and its rows, one per slot (policy "milp").

    The schedule is priced again by `schedule_costs`, the env's own cost; a mismatch
    with the MILP's objective would be a bug and raises. With a time limit the schedule
    is the best HiGHS found (`mip_gap`, `lower_bound` say how far from proven).
    """
    env = CachingEnv(config)
    env.reset(seed=seed)
    best = optimal_schedule(env.tables, env.trace, time_limit_s)
    priced = schedule_costs(env.tables, env.trace, best.cached)
    if abs(priced.total - best.objective) > 1e-6 * max(1.0, abs(best.objective)):
        raise RuntimeError(f"MILP objective {best.objective} differs from the schedule's cost {priced.total}")
    rows = []
    for t, costs in enumerate(priced.costs):
        row: dict[str, Any] = {"policy": "milp", **labels, "seed": seed, "slot": t}
        for key in ("requests", "hits", "edge_served", "miss_offloaded", "energy_offloaded", "loads", "refreshes"):
            row[key] = int(getattr(priced, key)[t])
        # Counts of the env's decisions have no meaning for a schedule.
        row.update({"evictions": None, "bypasses": None, "wasted_loads": None})
        row["memory_used_gb"] = float(priced.memory_used_gb[t])
        row["cot_gain_sum"] = float(priced.cot_gain_sum[t])
        rows.append({**row, **costs.as_dict(), "total_cost": costs.total})
    return best, rows


def milp_rows(config: CachingConfig, seed: int, time_limit_s: float | None = None, **labels: Any) -> list[dict[str, Any]]:
    """The rows of `solve_milp`."""
    return solve_milp(config, seed, time_limit_s, **labels)[1]


def summarise(rows: Iterable[dict[str, Any]], key: str = "policy") -> dict[str, dict[str, float]]:
    """Per value of `key`: mean per slot of each cost part and the total, hit rate, gain.

    hit_rate = requests whose model was cached / requests; performance_gain = mean CoT
    accuracy gain (A - a0, eq. 20) of the requests served at the edge.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row[key], []).append(row)
    summary = {}
    for name, mine in groups.items():
        values = {part: float(np.mean([r[part] for r in mine])) for part in ("total_cost", *COST_PARTS)}
        requests = sum(r["requests"] for r in mine)
        served = sum(r["edge_served"] for r in mine)
        values["hit_rate"] = sum(r["hits"] for r in mine) / requests if requests else float("nan")
        values["performance_gain"] = sum(r["cot_gain_sum"] for r in mine) / served if served else float("nan")
        values["slots"] = float(len(mine))
        summary[name] = values
    return summary
