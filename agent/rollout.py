"""Drive one policy through the offloading environment and record every step.

Every policy of a run meets the same request stream: the environment's generator is
seeded by the run seed and no decision draws from it; a policy that needs randomness
gets its own generator, spawned from the same seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from environment.offloading import DECISIONS, OffloadingEnv
from solvers.policy import OffloadingPolicy

StepCallback = Callable[[dict[str, Any]], None]


def policy_generator(seed: int, stream: int = 0) -> np.random.Generator:
    """A policy's own generator: child `stream` of the run seed's SeedSequence.

    Child streams are independent of the environment's generator, which is seeded
    with the run seed itself through `env.reset(seed=seed)`.
    """
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(stream + 1)[stream])


def step_row(step: int, action: int, reward: float, step_info: dict[str, Any]) -> dict[str, Any]:
    """One tidy CSV row for one decision."""
    request = step_info["executed_request"]
    return {
        "step": step,
        "user": request["user"],
        "service": request["service"],
        "task_class": request["task_class"],
        "n_tokens": request["n_tokens"],
        "token_level": request["token_level_name"],
        "required_quality": round(request["required_quality"], 6),
        "action": action,
        "decision": DECISIONS[action],
        "oracle_action": step_info["executed_oracle_action"],
        "reward": round(reward, 6),
        "oracle_reward": round(step_info["oracle_reward"], 6),
        "total_delay_s": round(step_info["total_delay_s"], 6),
        "transmission_s": round(step_info["transmission_s"], 6),
        "generation_s": round(step_info["generation_s"], 6),
        "capacity_bps": round(step_info["capacity_bps"], 3),
        "quality_met": int(step_info["quality_met"]),
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Run metrics: mean reward and delay, quality-preferred success rate (Fig. 4(b)), accuracy vs oracle."""
    if not rows:
        return {"steps": 0}
    quality_rows = [r for r in rows if r["task_class"] == "quality-preferred"]
    return {
        "steps": len(rows),
        "mean_reward": float(np.mean([r["reward"] for r in rows])),
        "oracle_mean_reward": float(np.mean([r["oracle_reward"] for r in rows])),
        "mean_delay_s": float(np.mean([r["total_delay_s"] for r in rows])),
        "quality_success_rate": float(np.mean([r["quality_met"] for r in quality_rows])) if quality_rows else None,
        "decision_accuracy": float(np.mean([r["action"] == r["oracle_action"] for r in rows])),
        "offload_share": float(np.mean([r["action"] for r in rows])),
    }


class ResumeError(ValueError):
    """A run folder that cannot be continued: its rows do not replay on the world of its config."""


def csv_text(row: dict[str, Any]) -> dict[str, str]:
    """A row as `csv` writes it (every value through str), to compare with rows read back."""
    return {k: str(v) for k, v in row.items()}


@dataclass
class Rollout:
    """The rows of one policy's run and their summary."""

    rows: list[dict[str, Any]]
    summary: dict[str, Any]


def replay_step(policy: OffloadingPolicy, observation: Any, info: dict[str, Any], recorded: dict[str, str], record: dict[str, Any] | None) -> int:
    """The action of a recorded step, with the policy's own state (its generator draws) brought
    to where the original run had it after choosing it; no LLM call is made."""
    action = int(recorded["action"])
    replay = getattr(policy, "replay", None)
    if replay is not None:
        replay(observation, info, action, record or {})
    elif int(policy.act(observation, info)) != action:  # a cheap policy simply decides again
        raise ResumeError(f"step {recorded['step']}: policy {policy.name} decides {policy.act(observation, info)}, the run folder says {action}")
    return action


def run_policy(
    policy: OffloadingPolicy,
    env: OffloadingEnv,
    steps: int,
    seed: int,
    on_step: StepCallback | None = None,
    done: list[dict[str, str]] | None = None,
    records: dict[int, dict[str, Any]] | None = None,
    rows: list[dict[str, Any]] | None = None,
) -> Rollout:
    """Run `policy` for `steps` requests from `env.reset(seed=seed)`.

    `on_step(row)` is called after every step (write the row, advance a progress bar):
    a run stopped half-way has reported every step it made. An episode that is
    truncated is reset without a seed, so the world and its stream run on.

    Resuming: `done` are the rows a run already wrote (read back from its steps.csv) and
    `records` its transcript records by step. Those steps are replayed, not decided: the
    same world steps with the recorded actions, the policy observes the outcomes and
    replays its own draws (`policy.replay`), each replayed row must equal the recorded one
    (else ResumeError), and `on_step` is not called for them; the run goes on from there.
    `rows`, if given, is filled as the run goes (a caller interrupted half-way keeps them).
    """
    if steps <= 0:
        raise ValueError(f"steps must be positive, got {steps}")
    done = done or []
    observation, info = env.reset(seed=seed)
    rows = [] if rows is None else rows
    for step in range(steps):
        replaying = step < len(done)
        if replaying:
            action = replay_step(policy, observation, info, done[step], (records or {}).get(step))
        else:
            action = int(policy.act(observation, info))
        next_observation, reward, terminated, truncated, step_info = env.step(action)
        policy.observe(observation, info, action, reward, step_info)
        row = step_row(step, action, reward, step_info)
        rows.append(row)
        if replaying:
            if csv_text(row) != done[step]:
                raise ResumeError(f"step {step} of steps.csv does not replay on the world of config.yaml (another config or version?)")
        elif on_step is not None:
            on_step(row)
        if terminated or truncated:
            next_observation, reset_info = env.reset()
            step_info = reset_info
        observation, info = next_observation, step_info
    return Rollout(rows=rows, summary=summarize(rows))
