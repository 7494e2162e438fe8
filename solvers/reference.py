"""Reference policies for the offloading problem: the exact oracle and three naive rules.

The oracle is the per-request optimum of problem (4) with reward (10) of Zhou et al.
(papers/icl-task-offloading.txt): it reads the true state the environment evaluated
(`info["oracle_action"]`, computed by `OffloadingEnv.oracle_action`), so no policy can
earn more reward on the same request stream.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from environment.offloading import LOCAL, OFFLOAD


class _Stateless:
    """Policies that do not learn ignore outcomes."""

    name = "stateless"

    def observe(self, observation: np.ndarray, info: dict[str, Any], action: int, reward: float, step_info: dict[str, Any]) -> None:
        return None


class OraclePolicy(_Stateless):
    """The exact per-request optimum: argmax of reward (10) given the true state."""

    name = "oracle"

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> int:
        return int(info["oracle_action"])


class ConstantPolicy(_Stateless):
    """Always the same decision: all-local (edge only) or all-offload (cloud only)."""

    def __init__(self, action: int) -> None:
        if action not in (LOCAL, OFFLOAD):
            raise ValueError(f"action must be {LOCAL} or {OFFLOAD}, got {action!r}")
        self.action = action
        self.name = "all-local" if action == LOCAL else "all-offload"

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> int:
        return self.action


class RandomPolicy(_Stateless):
    """Local or offload with equal probability, from its own seeded generator."""

    name = "random"

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> int:
        return int(self.rng.integers(2))


REFERENCE_POLICIES = ("oracle", "random", "all-local", "all-offload")


def reference_policy(name: str, rng: np.random.Generator) -> OraclePolicy | ConstantPolicy | RandomPolicy:
    """Build the reference policy called `name` (one of REFERENCE_POLICIES)."""
    if name == "oracle":
        return OraclePolicy()
    if name == "random":
        return RandomPolicy(rng)
    if name == "all-local":
        return ConstantPolicy(LOCAL)
    if name == "all-offload":
        return ConstantPolicy(OFFLOAD)
    raise ValueError(f"unknown reference policy {name!r}; choose one of {', '.join(REFERENCE_POLICIES)}")
