"""Online reference policies for `EdgeICL/Association-v0` (Picano et al., papers/inference-aware-matching.txt).

Each arriving user is placed at once, without knowing who comes next:

- `least-delay`: the legal node of least e2e delay (3) now, the first choice of the
  user's preference list eq. (8) (`info["greedy_action"]`, computed by the env); drop
  only when no node is legal. IAM without the node side: users do not compete.
- `random`: a legal node uniformly at random (drop when none), as section V's random
  selection does for users taken in a random order.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class LeastDelayPolicy:
    """Place each arriving user on its legal node of least e2e delay (eq. 8's first choice)."""

    name = "least-delay"

    def act(self, observation: Any, info: dict[str, Any]) -> int:
        return int(info["greedy_action"])

    def observe(self, observation: Any, info: dict[str, Any], action: int, reward: float, step_info: dict[str, Any]) -> None:
        return None


class RandomNodePolicy:
    """Place each arriving user on a legal node drawn uniformly from its own generator; drop when none is legal."""

    name = "random"

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def act(self, observation: Any, info: dict[str, Any]) -> int:
        mask = np.asarray(info["action_mask"])
        nodes = np.flatnonzero(mask[:-1])
        return int(nodes[self.rng.integers(nodes.size)]) if nodes.size else len(mask) - 1

    def observe(self, observation: Any, info: dict[str, Any], action: int, reward: float, step_info: dict[str, Any]) -> None:
        return None
