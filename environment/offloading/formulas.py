"""Service delay, quality constraint and reward of the edge-cloud offloading problem.

Zhou et al., "Generative AI as a Service in 6G Edge-Cloud" (papers/icl-task-offloading.txt),
eq. (1), (4), (4e) and (10).
"""

from __future__ import annotations

BITS_PER_BYTE = 8


def transmission_delay(
    n_tokens: float, token_bytes: float, capacity_bps: float, offloaded: bool, backhaul_delay_s: float
) -> float:
    """Content transmission delay t^tran = n^token s^token / C_{j,k} + alpha t^back: eq. (1).

    `capacity_bps` is in bit/s (eq. 2 with log base 2), so the token bytes are turned
    into bits. `offloaded` is the decision alpha (True = cloud).
    """
    return n_tokens * token_bytes * BITS_PER_BYTE / capacity_bps + float(offloaded) * backhaul_delay_s


def service_delay(transmission_s: float, edge_generation_s: float, cloud_generation_s: float, offloaded: bool) -> float:
    """Per-request objective of (4): t^tran + alpha t^cloud + (1 - alpha) t^edge.

    The paper's text under (10) writes t^total with minus signs; the objective (4)
    itself is the sum, which is what is minimised and what we use.
    """
    return transmission_s + (cloud_generation_s if offloaded else edge_generation_s)


def quality_met(required_quality: float, edge_quality: float, cloud_quality: float, offloaded: bool) -> bool:
    """Quality constraint (4e): tau_{k,i} <= alpha tau^cloud + (1 - alpha) tau^edge."""
    return required_quality <= (cloud_quality if offloaded else edge_quality)


def offloading_reward(target_delay_s: float, total_delay_s: float, penalty: float, constraint_met: bool) -> float:
    """Reward r = T^Target - t^total - r^penalty: eq. (10); the penalty applies when (4e) fails."""
    return target_delay_s - total_delay_s - (0.0 if constraint_met else penalty)
