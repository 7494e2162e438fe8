"""A greedy dispatcher for Offloading-v1 that reads the edge queue (no learning, no oracle).

The rule a network engineer would write first, from the numbers the dispatcher sees
(`info["features"]` of `environment.offloading_v1.OffloadingV1Env`):

1. quality first: offload when the request asks for more quality than the edge model's
   index (constraint (4e) of Zhou et al., papers/icl-task-offloading.txt);
2. otherwise keep it at the edge unless the edge is congested: offload when the
   estimated wait for an edge slot exceeds the cloud latency measured at the last
   request ("offload when the estimated edge wait exceeds the cloud latency").

It ignores the price, the output size, the batch slowdown and the prompt, and it only
sees estimates (the output size and the slot finish times are estimated, the cloud
latency is one request old), so it stays below the per-request oracle.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from environment.offloading_v1.world import LOCAL, OFFLOAD


class QueueGreedyPolicy:
    """Quality first, then offload iff the estimated edge wait exceeds the recent cloud latency.

    Parameters
    ----------
    edge_quality_index: tau^edge of the edge model (its quality index in llm_profiles.yaml).
    """

    name = "greedy"

    def __init__(self, edge_quality_index: float) -> None:
        self.edge_quality_index = edge_quality_index

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> int:
        features = info["features"]
        if features["required_quality"] > self.edge_quality_index:
            return OFFLOAD
        return OFFLOAD if features["estimated_edge_wait_s"] > features["recent_cloud_latency_s"] else LOCAL

    def observe(self, observation: np.ndarray, info: dict[str, Any], action: int, reward: float, step_info: dict[str, Any]) -> None:
        return None
