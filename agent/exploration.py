"""Epsilon-greedy exploration of the ICL agent (Zhou et al., papers/icl-task-offloading.txt, III-B).

With probability epsilon the decision is drawn at random among the candidates open at
this step, otherwise the LLM decides.
Schedules: constant, linear decay, exponential decay, and "none" (baseline 2 of III-C:
every decision by the LLM). Draws come from the agent's own seeded Generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCHEDULES = ("constant", "linear", "exponential", "none")


@dataclass(frozen=True)
class EpsilonSchedule:
    """epsilon_t for step t.

    Parameters
    ----------
    kind: one of SCHEDULES.
    epsilon: epsilon_0, the starting (or constant) value.
    epsilon_min: the floor of the decaying schedules.
    decay_steps: linear: steps from epsilon_0 down to epsilon_min.
    decay_rate: exponential: epsilon_t = max(epsilon_min, epsilon_0 * decay_rate**t).
    """

    kind: str = "exponential"
    epsilon: float = 0.5
    epsilon_min: float = 0.05
    decay_steps: int = 100
    decay_rate: float = 0.95

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ValueError(f"unknown exploration {self.kind!r}; choose one of {', '.join(SCHEDULES)}")
        if not 0.0 <= self.epsilon_min <= self.epsilon <= 1.0:
            raise ValueError(f"need 0 <= epsilon_min <= epsilon <= 1, got {self.epsilon_min} and {self.epsilon}")
        if self.decay_steps <= 0 or not 0.0 < self.decay_rate <= 1.0:
            raise ValueError("decay_steps must be positive and decay_rate in (0, 1]")

    def value(self, step: int) -> float:
        """epsilon at `step` (0-based)."""
        if self.kind == "none":
            return 0.0
        if self.kind == "constant":
            return self.epsilon
        if self.kind == "linear":
            fraction = min(step / self.decay_steps, 1.0)
            return self.epsilon + fraction * (self.epsilon_min - self.epsilon)
        return max(self.epsilon_min, self.epsilon * self.decay_rate**step)


class EpsilonGreedy:
    """Explore with probability epsilon_t, drawing from a seeded Generator."""

    def __init__(self, schedule: EpsilonSchedule, rng: np.random.Generator) -> None:
        self.schedule = schedule
        self.rng = rng

    def explore(self, step: int) -> bool:
        """Whether step `step` explores; no draw at all when epsilon is 0 (no exploration)."""
        epsilon = self.schedule.value(step)
        return epsilon > 0.0 and bool(self.rng.random() < epsilon)

    def random_choice(self, n_open: int) -> int:
        """A uniformly random index among the `n_open` candidates open at this step."""
        return int(self.rng.integers(n_open))
