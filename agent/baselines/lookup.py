"""`lookup`: the ICL agent with its LLM call replaced by the decision of the closest good example.

What an ICL agent's result means depends on what its pool alone can do: the pool of
Zhou et al. (papers/icl-task-offloading.txt, III-B) keeps the best example per keyword
combination, which a few lines of code can read as well as a model can. Garg et al.
("What Can Transformers Learn In-Context?", NeurIPS 2022) measure their transformer
against a nearest-neighbour model run on exactly the in-context examples; `lookup` is
that model for our agent. It is `agent.icl.ICLAgent` with `decide_by_llm` replaced, so
it shares everything else: the pool and its evaluator (III-A step 3, III-B rules), the
epsilon-greedy exploration on the same generator stream, the pool-sample draws, the
fallback and its generator, and a transcript record per step naming the example it copied.

The decision, for a query x with the open candidates:
1. the closest good example among those the prompt shows (the shown pool and the
   closest examples repeated next to the query), by the agent's own relevance
   (`agent.experience.relevance`: keyword fields matching from the first, then reward);
2. where candidates carry features (labels mean nothing in the next instance: a node
   number, a cached model's slot), the open candidate whose features are closest to the
   example's choice, each feature scaled by its range over the candidates and the
   example (ties: the first candidate); otherwise the open candidate with the example's
   label;
3. no example, or its label not open and no features to compare: the agent's fallback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from agent.experience import Experience, Keywords, most_relevant
from agent.icl import ICLAgent
from environment.decision_task import Candidate


def nearest_by_features(features: Mapping[str, float], candidates: Sequence[Candidate]) -> int | None:
    """The index of the candidate whose features are closest to `features`, or None if none carries them all.

    Distance: Euclidean over the features' names, each difference divided by that
    feature's range over the comparable candidates and `features` (a feature equal on
    all of them does not count). Ties: the first candidate.
    """
    names = sorted(features)
    comparable = [i for i, c in enumerate(candidates) if names and all(n in c.features for n in names)]
    if not comparable:
        return None
    values = np.array([[float(candidates[i].features[n]) for n in names] for i in comparable])
    target = np.array([float(features[n]) for n in names])
    spread = np.ptp(np.vstack([values, target]), axis=0)
    scale = np.where(spread > 0, spread, np.inf)
    distance = np.sqrt((((values - target) / scale) ** 2).sum(axis=1))
    return comparable[int(np.argmin(distance))]


def copied_choice(example: Experience, candidates: Sequence[Candidate]) -> int | None:
    """The open candidate that repeats `example`'s decision: by features where both carry them, else by label."""
    if example.features and any(c.features for c in candidates):
        found = nearest_by_features(dict(example.features), candidates)
        if found is not None:
            return found
    labels = [c.label for c in candidates]
    return labels.index(example.decision) if example.decision in labels else None


class LookupAgent(ICLAgent):
    """The ICL agent deciding by the closest good example instead of an LLM (same pool, exploration, fallback).

    Build it like the agent: `LookupAgent.from_settings(task, settings, seed, transcript=...)`
    (no backend is built; `settings.backend` is ignored).
    """

    name = "lookup"
    uses_llm = False

    def decide_by_llm(self, keywords: Keywords, candidates: Sequence[Candidate]) -> tuple[int | None, dict[str, Any]]:
        """Copy the closest good example the prompt would show; None (the fallback decides) if it names no open candidate."""
        shown = self.shown_examples()  # the same pool-sample draw the ICL agent makes
        nearest = most_relevant([*shown, *self.closest_examples(keywords)], keywords, 1)
        choice = copied_choice(nearest[0], candidates) if nearest else None
        record: dict[str, Any] = {
            "step": self.step,
            "backend": None,
            "model": None,
            "mode": "lookup",
            "copied": None
            if not nearest
            else {
                "keywords": dict(nearest[0].keywords),
                "decision": nearest[0].decision,
                "features": dict(nearest[0].features),
                "reward": nearest[0].reward,
                "step": nearest[0].step,
            },
            "parsed_ok": choice is not None,
        }
        return choice, record
