"""The experience pool of the ICL agent and its evaluator.

Zhou et al. (papers/icl-task-offloading.txt): an example E_e of eq. (9) holds the
keywords of eq. (8), the decision, the reward of eq. (10) and a Good/Bad evaluation.
Step 3 of III-A: the evaluator marks E_current bad when the problem's constraint fails
(offloading: the quality constraint (4e), the one a decision can violate); otherwise the
prioritized experience replay of III-B decides (rules 1 and 2). Baseline 1 of III-C
keeps the latest experiences instead. Written against any `DecisionTask`: keywords are
named fields, decisions are candidate labels.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

GOOD, BAD = "good", "bad"
# x of eq. (8): the state's named fields as text, in the task's order ((name, value), ...)
Keywords = tuple[tuple[str, str], ...]
# the chosen candidate's numbers at decision time ((name, value), ...)
Features = tuple[tuple[str, float], ...]


def as_keywords(keywords: Mapping[str, str] | Keywords) -> Keywords:
    """Keywords as a hashable, ordered tuple of (name, value) pairs."""
    return tuple(keywords.items()) if isinstance(keywords, Mapping) else tuple(keywords)


@dataclass(frozen=True)
class Experience:
    """One example E_e of eq. (9): keywords, decision, reward (10), evaluation, and when it happened.

    `features` are the chosen candidate's numbers (empty where a label says it all, as in
    offloading), so that an example still means something where labels change.
    """

    keywords: Keywords
    decision: str
    reward: float
    evaluation: str
    step: int
    features: Features = ()


def evaluate_constraints(constraint_met: bool) -> str:
    """Step 3 of III-A: a decision is bad when the problem's constraint fails (offloading: (4e)), else it goes on to the pool."""
    return GOOD if constraint_met else BAD


class ExperiencePool(Protocol):
    """A pool the prompt shows as the example set E; `add` returns the example's evaluation."""

    capacity: int

    def add(self, keywords: Keywords, decision: str, reward: float, constraint_met: bool, step: int, features: Features = ()) -> Experience: ...

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

    def add(self, keywords: Keywords, decision: str, reward: float, constraint_met: bool, step: int, features: Features = ()) -> Experience:
        """Evaluate E_current and update the pool (III-A step 3, III-B rules 1-2); return E_current."""
        if evaluate_constraints(constraint_met) == BAD:
            return Experience(keywords, decision, reward, BAD, step, features)
        pooled = self._best.get(keywords)
        if pooled is not None and pooled.reward >= reward:  # rule 2: not better -> bad, pool unchanged
            return Experience(keywords, decision, reward, BAD, step, features)
        current = Experience(keywords, decision, reward, GOOD, step, features)  # rule 1 (new) or rule 2 (better)
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

    def add(self, keywords: Keywords, decision: str, reward: float, constraint_met: bool, step: int, features: Features = ()) -> Experience:
        current = Experience(keywords, decision, reward, evaluate_constraints(constraint_met), step, features)
        self._latest.append(current)
        return current

    def examples(self) -> list[Experience]:
        return list(self._latest)

    def __len__(self) -> int:
        return len(self._latest)


class HoldoutPool:
    """A pool that never learns from held-out states (the unseen-state benches).

    The experience of a held-out keyword combination is evaluated (step 3) and returned,
    but never added, so the prompt never shows an example of that state and the agent
    meets it as unseen however often it comes.

    Parameters
    ----------
    pool: the pool that learns from every other state.
    held_out: the keyword combinations never added.
    """

    def __init__(self, pool: ExperiencePool, held_out: Collection[Keywords]) -> None:
        self.pool = pool
        self.held_out = frozenset(held_out)

    @property
    def capacity(self) -> int:
        return self.pool.capacity

    def add(self, keywords: Keywords, decision: str, reward: float, constraint_met: bool, step: int, features: Features = ()) -> Experience:
        if keywords in self.held_out:
            return Experience(keywords, decision, reward, evaluate_constraints(constraint_met), step, features)
        return self.pool.add(keywords, decision, reward, constraint_met, step, features)

    def examples(self) -> list[Experience]:
        return self.pool.examples()

    def __len__(self) -> int:
        return len(self.pool.examples())


POOLS = ("prioritized", "latest")


def make_pool(kind: str, capacity: int) -> PrioritizedPool | LatestPool:
    """The pool called `kind` (one of POOLS)."""
    if kind == "prioritized":
        return PrioritizedPool(capacity)
    if kind == "latest":
        return LatestPool(capacity)
    raise ValueError(f"unknown pool {kind!r}; choose one of {', '.join(POOLS)}")


def relevance(example: Experience, keywords: Keywords) -> tuple[int, float]:
    """How close an example is to the query: how many keyword fields match, counted from the first, then its reward.

    A task lists its keywords most telling first (offloading: service type, then token
    size), so an example that matches the first field and not the second is closer than
    one that matches only the second: for offloading, same keywords, then same service
    type, then reward. (Counting equal fields in any position instead picked a
    (chatting, medium) example over (knowledge, long) for a (knowledge, medium) query and
    changed 2 of 150 decisions on seeds 0-2.)
    """
    matching = 0
    for (name, value), (query_name, query_value) in zip(example.keywords, keywords):
        if name != query_name or value != query_value:
            break
        matching += 1
    return (matching, example.reward)


def most_relevant(examples: list[Experience], keywords: Keywords, k: int) -> list[Experience]:
    """The `k` good examples closest to the query, the closest last (next to the query)."""
    good = [e for e in examples if e.evaluation == GOOD]
    return sorted(good, key=lambda e: relevance(e, keywords))[-k:] if k > 0 else []
