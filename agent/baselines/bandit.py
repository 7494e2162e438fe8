"""`bandit`: a standard contextual bandit beside the ICL agent, on any `DecisionTask`.

It sees what the agent sees (the keywords of the state, the open candidates, their
features, the reward of its own decisions) and learns with no LLM and no pool:

- **UCB1 per keyword combination** when candidates carry no features (offloading: the
  labels local / offload mean the same thing at every step). Auer, Cesa-Bianchi and
  Fischer, "Finite-time Analysis of the Multiarmed Bandit Problem", Machine Learning
  47 (2002), UCB1: play every arm once, then the arm maximising
  mean_a + sqrt(2 ln n / n_a), here one independent bandit per keyword combination
  (n: its plays, n_a: the label's) over the labels open at the step. UCB1 assumes
  rewards in [0, 1]; ours are rescaled by the range of rewards seen so far, i.e. the
  bonus is multiplied by that range.
- **LinUCB** when candidates carry features (association: a node number means nothing
  in the next instance, its queue and link delay do). Li, Chu, Langford and Schapire,
  "A Contextual-Bandit Approach to Personalized News Article Recommendation", WWW 2010,
  Algorithm 1, with one parameter vector shared by all candidates, each candidate being
  its own feature vector (the form analysed by Chu, Li, Reyzin and Schapire, AISTATS
  2011): x = [1, one-hot keyword values, the candidate's features, 1 if it has none];
  A = ridge I + sum x x^T, b = sum r x, theta = A^-1 b; choose argmax theta.x +
  alpha sigma sqrt(x^T A^-1 x). Li et al.'s alpha assumes rewards of unit scale; sigma,
  the standard deviation of the rewards seen so far (1 before two), puts the bonus in
  reward units. Keyword values and feature names are added as they first appear.

Ties are broken by a draw from the bandit's own generator,
`environment.policy.policy_generator(seed, BANDIT_STREAM)`. A held-out keyword combination
(the unseen-state benches) is decided but never learned from.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from agent.experience import Keywords, as_keywords
from agent.settings import AgentSettings
from environment.decision_task import Candidate, DecisionTask
from environment.policy import BANDIT_STREAM, policy_generator

NO_FEATURES = "no features"


class ContextualBandit:
    """UCB1 per keyword combination (candidates without features) or LinUCB (with features).

    Parameters
    ----------
    task: the decision problem's text face (keywords, candidates, feedback).
    rng: the bandit's own generator (tie-breaking only).
    held_out: keyword combinations it never learns from.
    alpha: LinUCB's exploration weight (Li et al. 2010, Algorithm 1).
    ridge: LinUCB's regulariser, A starts at ridge * I.
    """

    name = "bandit"

    @classmethod
    def from_settings(
        cls, task: DecisionTask, settings: AgentSettings | None, seed: int, transcript: Any = None, held_out: Collection[Keywords] = ()
    ) -> "ContextualBandit":
        """The bandit for a run seeded by `seed` (same signature as the agent's; settings and transcript are unused)."""
        return cls(task, policy_generator(seed, BANDIT_STREAM), held_out)

    def __init__(
        self, task: DecisionTask, rng: np.random.Generator, held_out: Collection[Keywords] = (), alpha: float = 1.0, ridge: float = 1.0
    ) -> None:
        if alpha < 0 or ridge <= 0:
            raise ValueError(f"need alpha >= 0 and ridge > 0, got {alpha} and {ridge}")
        self.task = task
        self.rng = rng
        self.held_out = frozenset(held_out)
        self.alpha = alpha
        self.ridge = ridge
        # UCB1: plays and reward sums per (keywords, label); plays per keywords.
        self.plays: dict[tuple[Keywords, str], int] = defaultdict(int)
        self.reward_sum: dict[tuple[Keywords, str], float] = defaultdict(float)
        self.context_plays: dict[Keywords, int] = defaultdict(int)
        # LinUCB: the dimensions seen so far, A and b.
        self.dimensions: dict[str, int] = {"bias": 0, NO_FEATURES: 1}
        self.A = ridge * np.eye(2)
        self.b = np.zeros(2)
        # rewards seen (for UCB1's range and LinUCB's sigma)
        self.rewards = 0
        self.reward_mean = 0.0
        self.reward_m2 = 0.0
        self.reward_low = math.inf
        self.reward_high = -math.inf

    # --- UCB1 ---------------------------------------------------------------------------
    def ucb1_scores(self, keywords: Keywords, candidates: Sequence[Candidate]) -> np.ndarray:
        """mean + range * sqrt(2 ln n / n_a) per open candidate; +inf for a label never played here."""
        n = self.context_plays.get(keywords, 0)
        span = self.reward_high - self.reward_low if self.rewards > 1 else 0.0
        scores = []
        for c in candidates:
            plays = self.plays.get((keywords, c.label), 0)
            if plays == 0:
                scores.append(math.inf)
            else:
                scores.append(self.reward_sum[(keywords, c.label)] / plays + span * math.sqrt(2.0 * math.log(n) / plays))
        return np.array(scores)

    # --- LinUCB -------------------------------------------------------------------------
    def _dimension(self, name: str) -> int:
        if name not in self.dimensions:
            self.dimensions[name] = len(self.dimensions)
            d = len(self.dimensions)
            grown = self.ridge * np.eye(d)
            grown[: d - 1, : d - 1] = self.A
            self.A, self.b = grown, np.append(self.b, 0.0)
        return self.dimensions[name]

    def features(self, keywords: Keywords, candidate: Candidate) -> np.ndarray:
        """x = [1, one-hot keyword values, the candidate's features, no-features flag], in the bandit's dimensions."""
        entries = {"bias": 1.0}
        for field, value in keywords:
            entries[f"keyword {field}={value}"] = 1.0
        for name, value in candidate.features.items():
            entries[f"feature {name}"] = float(value)
        if not candidate.features:
            entries[NO_FEATURES] = 1.0
        index = {name: self._dimension(name) for name in entries}
        x = np.zeros(len(self.dimensions))
        for name, value in entries.items():
            x[index[name]] = value
        return x

    def linucb_scores(self, keywords: Keywords, candidates: Sequence[Candidate]) -> np.ndarray:
        """theta.x + alpha sigma sqrt(x^T A^-1 x) per open candidate."""
        xs = [self.features(keywords, c) for c in candidates]
        X = np.array([np.pad(x, (0, len(self.dimensions) - len(x))) for x in xs])
        A_inv = np.linalg.inv(self.A)
        theta = A_inv @ self.b
        sigma = math.sqrt(self.reward_m2 / self.rewards) if self.rewards > 1 else 1.0
        width = np.sqrt(np.einsum("ij,jk,ik->i", X, A_inv, X))
        return X @ theta + self.alpha * sigma * width

    # --- the policy ---------------------------------------------------------------------
    def act(self, observation: Any, info: dict[str, Any]) -> int:
        keywords = as_keywords(self.task.keywords(info))
        candidates = self.task.candidates(info)
        if len(candidates) == 1:
            return candidates[0].action
        with_features = any(c.features for c in candidates)
        scores = self.linucb_scores(keywords, candidates) if with_features else self.ucb1_scores(keywords, candidates)
        best = np.flatnonzero(scores == scores.max())
        pick = int(best[0]) if best.size == 1 else int(best[self.rng.integers(best.size)])
        return candidates[pick].action

    def observe(self, observation: Any, info: dict[str, Any], action: int, reward: float, step_info: dict[str, Any]) -> None:
        """Learn from the decision's reward (the task's feedback), unless its state is held out."""
        keywords = as_keywords(self.task.keywords(info))
        if keywords in self.held_out:
            return
        candidates = self.task.candidates(info)
        chosen = next(c for c in candidates if c.action == action)
        r = float(self.task.feedback(step_info).reward)
        self.rewards += 1
        delta = r - self.reward_mean
        self.reward_mean += delta / self.rewards
        self.reward_m2 += delta * (r - self.reward_mean)
        self.reward_low, self.reward_high = min(self.reward_low, r), max(self.reward_high, r)
        if any(c.features for c in candidates):
            x = self.features(keywords, chosen)
            self.A += np.outer(x, x)
            self.b += r * x
        else:
            self.plays[(keywords, chosen.label)] += 1
            self.reward_sum[(keywords, chosen.label)] += r
            self.context_plays[keywords] += 1
