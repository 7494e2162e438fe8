"""The one interface every decision maker implements, and where its random draws come from.

A policy sees the state in both faces (the vector observation and the `info` mapping,
whose text face a `DecisionTask` reads) and returns an action; a policy that learns
online (the ICL agent, the bandit) also gets the outcome of its decision through
`observe`. Every policy of a run meets the same stream: the environment's generator is
seeded by the run seed and no decision draws from it; a policy that needs randomness
gets its own generator, a child stream of the same seed.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

# Generator streams spawned from the run seed: 0 belongs to the reference policies,
# 1 and 2 to the ICL agent (exploration; fallback and pool-sample draws), 3 to bandits,
# 4 to the benches' choice of held-out (unseen) states.
REFERENCE_STREAM, EXPLORATION_STREAM, AGENT_STREAM, BANDIT_STREAM, HOLDOUT_STREAM = 0, 1, 2, 3, 4


def policy_generator(seed: int, stream: int = REFERENCE_STREAM) -> np.random.Generator:
    """A policy's own generator: child `stream` of the run seed's SeedSequence.

    Child streams are independent of the environment's generator, which is seeded
    with the run seed itself through `env.reset(seed=seed)`.
    """
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(stream + 1)[stream])


@runtime_checkable
class Policy(Protocol):
    """A decision maker for a Gymnasium environment of this project.

    Attributes
    ----------
    name: the policy's name in tables, CSV rows and run folders.
    """

    name: str

    def act(self, observation: Any, info: dict[str, Any]) -> int:
        """Return the action for the state described by `observation` / `info`."""
        ...

    def observe(self, observation: Any, info: dict[str, Any], action: int, reward: float, step_info: dict[str, Any]) -> None:
        """Take the outcome of `action`; `step_info` is the `info` that `env.step` returned."""
        ...
