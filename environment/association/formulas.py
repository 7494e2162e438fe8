"""The formulas of user-LLM association (Picano, Buratto and Badia; papers/inference-aware-matching.txt, section III).

Residual storage eq. (1), inference delay eq. (2), e2e delay eq. (3), communication
delay eq. (4), FIFO queueing delay (text under eq. 4) and objective eq. (5), each once.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

# Section V: "three types of LMMs: text-to-text LLM, text-to-audio LLM, and text-to-image LLM".
LLM_TYPES = ("text-to-text", "text-to-audio", "text-to-image")

UNSERVED = -1  # node index of a user that no node serves


def residual_storage(capacity: ArrayLike, storage: ArrayLike, allocation: ArrayLike) -> NDArray[np.float64]:
    """Residual storage S_e = Delta_e - sum_u s_u alpha_{u,e}: Picano et al. eq. (1).

    `capacity` is Delta (E,), `storage` is s (U,), `allocation` the binary alpha (U, E).
    """
    alpha = np.asarray(allocation, dtype=float)
    return np.asarray(capacity, dtype=float) - np.asarray(storage, dtype=float) @ alpha


def inference_delay(tokens: ArrayLike, inter_token_ms: ArrayLike) -> NDArray[np.float64]:
    """Inference delay I_{e,u} = tau_u iota_e: Picano et al. eq. (2). Broadcasts; ms if iota is."""
    return np.asarray(tokens, dtype=float) * np.asarray(inter_token_ms, dtype=float)


def e2e_delay(comm_ms: ArrayLike, inference_ms: ArrayLike, queue_ms: ArrayLike) -> NDArray[np.float64]:
    """End-to-end delay D_{e,u} = 2 C_{e,u} + I_{e,u} + Q_{e,u}: Picano et al. eq. (3).

    The 2 C is the upload of gamma_u input tokens and the return of as many output
    tokens (the paper's footnote 1: output size = input size). Broadcasts.
    """
    return 2.0 * np.asarray(comm_ms, dtype=float) + np.asarray(inference_ms, dtype=float) + np.asarray(queue_ms, dtype=float)


def communication_delay(tokens: ArrayLike, bandwidth: ArrayLike) -> NDArray[np.float64]:
    """Communication delay C_{e,u} = gamma_u / B_e: Picano et al. eq. (4) (tokens per time unit)."""
    return np.asarray(tokens, dtype=float) / np.asarray(bandwidth, dtype=float)


def queueing_delay(node_of: ArrayLike, order: ArrayLike, inference_ms: ArrayLike) -> NDArray[np.float64]:
    """FIFO queueing delay Q_{e,u}: Picano et al. text under eq. (4).

    Q_{e,u} is the sum of the inference delays (2) of the users allocated on e before u
    ("queues follow a first-in-first-out policy"). `node_of` (U,) is each user's node
    or UNSERVED, `order` (U,) its allocation time (smaller = earlier; ties must not occur
    on one node), `inference_ms` (U,) each user's I on its own node. Unserved users get 0.
    """
    node_of = np.asarray(node_of)
    inference_ms = np.asarray(inference_ms, dtype=float)
    queue = np.zeros(node_of.shape[0])
    served = np.flatnonzero(node_of != UNSERVED)
    if served.size == 0:
        return queue
    ranked = served[np.lexsort((np.asarray(order)[served], node_of[served]))]
    work = inference_ms[ranked]
    done = np.cumsum(work) - work  # work finished before each user, across all nodes
    first = np.r_[True, node_of[ranked][1:] != node_of[ranked][:-1]]
    node_start = np.maximum.accumulate(np.where(first, done, 0.0))
    queue[ranked] = done - node_start
    return queue


def mean_e2e_objective(delay_ms: ArrayLike, served: ArrayLike) -> float:
    """Objective (5): (1/|U|) sum_e sum_u D_{e,u} alpha_{u,e}: Picano et al. eq. (5).

    Divides by all users, so an unserved user adds 0 to the sum; compare
    `AssociationOutcome.mean_delay_ms`, the mean over served users.
    """
    delay = np.asarray(delay_ms, dtype=float)
    return float(np.sum(delay, where=np.asarray(served, dtype=bool)) / delay.shape[0])


def placement_reward(delay_ms: float, deadline_ms: float, served: bool, late_penalty_ms: float, drop_penalty_ms: float) -> float:
    """Reward of placing one arriving user (ours, in the form of Zhou et al. eq. (10), papers/icl-task-offloading.txt).

    r = -D_{e,u} - late_penalty [D_{e,u} > d_u] for a served user, with D the e2e delay
    of Picano et al. eq. (3) and d_u its deadline (late as in section V's dropping
    probability); r = -drop_penalty for a user no node serves.
    """
    if not served:
        return -float(drop_penalty_ms)
    return -float(delay_ms) - (float(late_penalty_ms) if delay_ms > deadline_ms else 0.0)
