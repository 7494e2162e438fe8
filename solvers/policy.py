"""The one interface every offloading decision maker implements.

A policy sees the state of eq. (8) in both faces (the vector observation and the
`info` mapping with its keywords) and returns an action; a policy that learns online
(the ICL agent) also gets the outcome of its decision through `observe`.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class OffloadingPolicy(Protocol):
    """A decision maker for `environment.OffloadingEnv`.

    Attributes
    ----------
    name: the policy's name in tables, CSV rows and run folders.
    """

    name: str

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> int:
        """Return 0 (local) or 1 (offload) for the request described by `observation` / `info`."""
        ...

    def observe(self, observation: np.ndarray, info: dict[str, Any], action: int, reward: float, step_info: dict[str, Any]) -> None:
        """Take the outcome of `action`; `step_info` is the `info` that `env.step` returned."""
        ...
