"""The experience pool of the ICL agent and its evaluator.

Zhou et al. (papers/icl-task-offloading.txt): an example E_e of eq. (9) holds the
keywords of eq. (8), the decision, the reward of eq. (10) and a Good/Bad evaluation.
Step 3 of III-A: the evaluator marks E_current bad when a constraint of (4) fails
(here the quality constraint (4e), the one a decision can violate); otherwise the
prioritized experience replay of III-B decides (rules 1 and 2). Baseline 1 of III-C
keeps the latest experiences instead.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Protocol

GOOD, BAD = "good", "bad"
Keywords = tuple[str, str]  # (service type, estimated output token size): x of eq. (8)


@dataclass(frozen=True)
class Experience:
    """One example E_e of eq. (9): keywords, decision, reward (10), evaluation, and when it happened."""

    keywords: Keywords
    decision: str
    reward: float
    evaluation: str
    step: int


def evaluate_constraints(quality_met: bool) -> str:
    """Step 3 of III-A: a decision is bad when constraint (4e) fails, else it goes on to the pool."""
    return GOOD if quality_met else BAD


class ExperiencePool(Protocol):
    """A pool the prompt shows as the example set E; `add` returns the example's evaluation."""

    capacity: int

    def add(self, keywords: Keywords, decision: str, reward: float, quality_met: bool, step: int) -> Experience: ...

    def examples(self) -> list[Experience]: ...


class PrioritizedPool:
    """Prioritized experience replay, III-B: the best example found for each keyword combination.

    Rule 1: an example whose keywords no pooled example has is new and always kept as good.
    Rule 2: an example with the keywords of a pooled one replaces it only when its reward
    is higher (a good decision); otherwise it is a bad decision and the pool is unchanged.
    Before both, the evaluator of step 3 marks a decision that breaks (4e) bad and keeps it out.

    Parameters
    ----------
    capacity: most examples kept. When a new combination arrives at a full pool, the
        example with the lowest reward leaves (our choice: the paper's pool is unbounded;
        dropping the worst keeps "only examples with the best performance").
    """

    def __init__(self, capacity: int = 16) -> None:
        if capacity <= 0:
            raise ValueError(f"pool capacity must be positive, got {capacity}")
        self.capacity = capacity
        self._best: dict[Keywords, Experience] = {}

    def add(self, keywords: Keywords, decision: str, reward: float, quality_met: bool, step: int) -> Experience:
        """Evaluate E_current and update the pool (III-A step 3, III-B rules 1-2); return E_current."""
        if evaluate_constraints(quality_met) == BAD:
            return Experience(keywords, decision, reward, BAD, step)
        pooled = self._best.get(keywords)
        if pooled is not None and pooled.reward >= reward:  # rule 2: not better -> bad, pool unchanged
            return Experience(keywords, decision, reward, BAD, step)
        current = Experience(keywords, decision, reward, GOOD, step)  # rule 1 (new) or rule 2 (better)
        if pooled is None and len(self._best) >= self.capacity:
            worst = min(self._best.values(), key=lambda e: (e.reward, e.step))
            del self._best[worst.keywords]
        self._best[keywords] = current
        return current

    def examples(self) -> list[Experience]:
        """The pool in a fixed order (by keywords), so the prompt's stable part changes only with the pool."""
        return [self._best[k] for k in sorted(self._best)]

    def __len__(self) -> int:
        return len(self._best)


class LatestPool:
    """Baseline 1 of III-C: the latest `capacity` experiences, good and bad, oldest first."""

    def __init__(self, capacity: int = 16) -> None:
        if capacity <= 0:
            raise ValueError(f"pool capacity must be positive, got {capacity}")
        self.capacity = capacity
        self._latest: deque[Experience] = deque(maxlen=capacity)

    def add(self, keywords: Keywords, decision: str, reward: float, quality_met: bool, step: int) -> Experience:
        current = Experience(keywords, decision, reward, evaluate_constraints(quality_met), step)
        self._latest.append(current)
        return current

    def examples(self) -> list[Experience]:
        return list(self._latest)

    def __len__(self) -> int:
        return len(self._latest)


POOLS = ("prioritized", "latest")


def make_pool(kind: str, capacity: int) -> PrioritizedPool | LatestPool:
    """The pool called `kind` (one of POOLS)."""
    if kind == "prioritized":
        return PrioritizedPool(capacity)
    if kind == "latest":
        return LatestPool(capacity)
    raise ValueError(f"unknown pool {kind!r}; choose one of {', '.join(POOLS)}")


def relevance(example: Experience, keywords: Keywords) -> tuple[int, int, float]:
    """How close an example is to the query: same keywords, then same service type, then reward."""
    return (int(example.keywords == keywords), int(example.keywords[0] == keywords[0]), example.reward)


def most_relevant(examples: list[Experience], keywords: Keywords, k: int) -> list[Experience]:
    """The `k` good examples closest to the query, the closest last (next to the query)."""
    good = [e for e in examples if e.evaluation == GOOD]
    return sorted(good, key=lambda e: relevance(e, keywords))[-k:] if k > 0 else []
