"""Drive one policy through a decision problem's environment and record every step.

Every policy of a run meets the same stream: the environment's generator is seeded by
the run seed and no decision draws from it; a policy that needs randomness gets its own
generator, a child stream of the same seed (`environment.policy.policy_generator`). The
problem's `DecisionTask` makes each step's tidy row and the run's summary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from agent.icl import ReplayError
from environment.decision_task import DecisionTask
from environment.policy import Policy

StepCallback = Callable[[dict[str, Any]], None]


def csv_text(row: dict[str, Any]) -> dict[str, str]:
    """A row as `csv` writes it (every value through str), to compare with rows read back."""
    return {k: str(v) for k, v in row.items()}


@dataclass
class Rollout:
    """The rows of one policy's run and their summary."""

    rows: list[dict[str, Any]]
    summary: dict[str, Any]


def replay_step(policy: Policy, observation: Any, info: dict[str, Any], recorded: dict[str, str], record: dict[str, Any] | None) -> int:
    """The action of a recorded step, with the policy's own state (its generator draws) brought
    to where the original run had it after choosing it; no LLM call is made."""
    action = int(recorded["action"])
    replay = getattr(policy, "replay", None)
    if replay is not None:
        replay(observation, info, action, record or {})
    elif int(policy.act(observation, info)) != action:  # a cheap policy simply decides again
        raise ReplayError(f"step {recorded['step']}: policy {policy.name} decides {policy.act(observation, info)}, the run folder says {action}")
    return action


def run_policy(
    policy: Policy,
    env: gym.Env,
    task: DecisionTask,
    steps: int,
    seed: int,
    on_step: StepCallback | None = None,
    done: list[dict[str, str]] | None = None,
    records: dict[int, dict[str, Any]] | None = None,
    rows: list[dict[str, Any]] | None = None,
) -> Rollout:
    """Run `policy` for `steps` decisions from `env.reset(seed=seed)`; `task` makes each row and the summary.

    `on_step(row)` is called after every step (write the row, advance a progress bar):
    a run stopped half-way has reported every step it made. An episode that ends is
    reset without a seed, so the world and its stream run on.

    Resuming: `done` are the rows a run already wrote (read back from its steps.csv) and
    `records` its transcript records by step. Those steps are replayed, not decided: the
    same world steps with the recorded actions, the policy observes the outcomes and
    replays its own draws (`policy.replay`), each replayed row must equal the recorded one
    (else ReplayError), and `on_step` is not called for them; the run goes on from there.
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
        row = task.row(step, action, reward, step_info)
        rows.append(row)
        if replaying:
            if csv_text(row) != done[step]:
                raise ReplayError(f"step {step} of steps.csv does not replay on the world of config.yaml (another config or version?)")
        elif on_step is not None:
            on_step(row)
        if terminated or truncated:
            next_observation, reset_info = env.reset()
            step_info = reset_info
        observation, info = next_observation, step_info
    return Rollout(rows=rows, summary=task.metrics(rows))
