"""User-LLM association at the edge: the problem of Picano, Buratto and Badia.

"Joint Communication and Inference User Allocation in LLM Native Networks"
(papers/inference-aware-matching.txt, section III). Users each request one learning
task of one type; every edge node hosts one LLM specialised in one type and has a
limited storage; a user may only go to a node hosting its type (incomplete lists).

Formulas, each once: residual storage eq. (1), inference delay eq. (2), e2e delay
eq. (3), communication delay eq. (4), FIFO queueing delay (text under eq. 4),
objective eq. (5) and constraints (6)-(7). The instance generator draws the section V
setting from a passed `numpy.random.Generator`.

Readings of the paper where it is ambiguous (also in docs/results-matching.md):

- Constraint (6) asks every user to be served, but at the section V defaults the
  nodes hold ~4.4 storage units and a user needs ~2.1, so only ~30 of ~100 users fit:
  (6) is infeasible. We relax it to "at most one node" and count an unserved user as
  dropped, as the paper's dropping probability does.
- C_{e,u} is drawn per (node, user) pair, as section V states; eq. (4), gamma_u / B_e,
  is kept as a function for settings that give a bandwidth instead.
- Q_{e,u} is the sum of the inference delays (2) of the users queued before u on e
  (FIFO, in order of allocation): the LLM serves one request at a time while every
  user has its own interference-free channel, so only inference queues.
- The paper's footnote sets output tokens equal to input tokens: tau_u = gamma_u.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import Field, model_validator

from environment.config import StrictConfig, validate

# Section V: "three types of LMMs: text-to-text LLM, text-to-audio LLM, and text-to-image LLM".
LLM_TYPES = ("text-to-text", "text-to-audio", "text-to-image")

UNSERVED = -1  # node index of a user that no node serves


# --------------------------------------------------------------------------- formulas


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


# ----------------------------------------------------------------------------- config


class AssociationConfig(StrictConfig):
    """The section V setting of Picano et al.; every range is [low, high] (integers: inclusive).

    Unknown fields are rejected. Build from a mapping with `association_config`.
    """

    # V: "a number of edge node uniformly distributed within the interval [13, 17]".
    n_nodes: tuple[int, int] = (13, 17)
    # V: "an integer number of users between 95 and 105 with uniform distribution".
    n_users: tuple[int, int] = (95, 105)
    # V: "uniformly drawing a number from 1 to 3" (text-to-text, -audio, -image).
    n_llm_types: int = Field(3, ge=1)
    # V: "the number of tokens per user was generated between 240 and 248" (gamma_u = tau_u).
    tokens: tuple[int, int] = (240, 248)
    # V: "d_u is assumed to be uniformly distributed within the interval [1, 3.5]" (ms).
    deadline_ms: tuple[float, float] = (1.0, 3.5)
    # V: "s_u and Delta_e were uniformly distributed in [1.1, 3.1] and [3.3, 5.5]".
    user_storage: tuple[float, float] = (1.1, 3.1)
    node_storage: tuple[float, float] = (3.3, 5.5)
    # V: "iota_e was randomly selected within [0.01, 0.03] ms".
    inter_token_ms: tuple[float, float] = (0.01, 0.03)
    # V: "C_{e,u} in [0.60, 0.80] ms", drawn per (node, user) pair.
    comm_delay_ms: tuple[float, float] = (0.60, 0.80)

    @model_validator(mode="after")
    def _ranges(self) -> "AssociationConfig":
        for name in ("n_nodes", "n_users", "tokens", "deadline_ms", "user_storage", "node_storage", "inter_token_ms", "comm_delay_ms"):
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"{name}: low {low} exceeds high {high}")
            # Positive times keep (2) > 0, on which the MILP's slot model relies.
            if low < 0 or (low == 0 and name != "comm_delay_ms"):
                raise ValueError(f"{name}: values must be positive, got low {low}")
        return self


def association_config(data: dict[str, Any] | None = None) -> AssociationConfig:
    """Validate a config mapping; raise ConfigError with a one-line message naming the field."""
    return validate(AssociationConfig, data, "association config")


# --------------------------------------------------------------------------- instance


@dataclass(frozen=True)
class AssociationInstance:
    """One draw of the problem. Users index u in 0..U-1, nodes e in 0..E-1; times in ms.

    Parameters
    ----------
    user_type: (U,) the task type each user requests.
    tokens: (U,) gamma_u = tau_u, input = output tokens.
    deadline_ms: (U,) d_u.
    storage: (U,) s_u, storage a user occupies on its node.
    node_type: (E,) the type of the LLM each node hosts.
    capacity: (E,) Delta_e, total storage of each node.
    inter_token_ms: (E,) iota_e.
    comm_ms: (E, U) C_{e,u}.
    """

    user_type: NDArray[np.int64]
    tokens: NDArray[np.int64]
    deadline_ms: NDArray[np.float64]
    storage: NDArray[np.float64]
    node_type: NDArray[np.int64]
    capacity: NDArray[np.float64]
    inter_token_ms: NDArray[np.float64]
    comm_ms: NDArray[np.float64]

    @property
    def n_users(self) -> int:
        return int(self.user_type.shape[0])

    @property
    def n_nodes(self) -> int:
        return int(self.node_type.shape[0])

    @property
    def compatible(self) -> NDArray[np.bool_]:
        """(E, U): node e hosts the type user u requests (the incomplete lists)."""
        return self.node_type[:, None] == self.user_type[None, :]

    @property
    def inference_ms(self) -> NDArray[np.float64]:
        """(E, U) I_{e,u} of eq. (2)."""
        return inference_delay(self.tokens[None, :], self.inter_token_ms[:, None])

    @property
    def unqueued_delay_ms(self) -> NDArray[np.float64]:
        """(E, U) D_{e,u} of eq. (3) with an empty queue, Q = 0."""
        return e2e_delay(self.comm_ms, self.inference_ms, 0.0)


def _uniform_int(rng: np.random.Generator, bounds: tuple[int, int], size: int | None = None) -> Any:
    return rng.integers(bounds[0], bounds[1] + 1, size=size)


def generate_instance(config: AssociationConfig, rng: np.random.Generator) -> AssociationInstance:
    """Draw one instance of the section V setting; every number comes from `rng`, in a fixed order."""
    n_nodes = int(_uniform_int(rng, config.n_nodes))
    n_users = int(_uniform_int(rng, config.n_users))
    node_type = rng.integers(0, config.n_llm_types, size=n_nodes)
    capacity = rng.uniform(*config.node_storage, size=n_nodes)
    inter_token = rng.uniform(*config.inter_token_ms, size=n_nodes)
    user_type = rng.integers(0, config.n_llm_types, size=n_users)
    tokens = _uniform_int(rng, config.tokens, size=n_users)
    deadline = rng.uniform(*config.deadline_ms, size=n_users)
    storage = rng.uniform(*config.user_storage, size=n_users)
    comm = rng.uniform(*config.comm_delay_ms, size=(n_nodes, n_users))
    return AssociationInstance(
        user_type=user_type,
        tokens=tokens,
        deadline_ms=deadline,
        storage=storage,
        node_type=node_type,
        capacity=capacity,
        inter_token_ms=inter_token,
        comm_ms=comm,
    )


# ------------------------------------------------------------------ assignment, metrics


@dataclass(frozen=True)
class Assignment:
    """A decision: each user's node (UNSERVED = -1) and its allocation time.

    `order[u]` orders the FIFO queue of u's node (smaller = allocated earlier); its
    value on unserved users is ignored.
    """

    node_of: NDArray[np.int64]
    order: NDArray[np.int64]

    def allocation_matrix(self, n_nodes: int) -> NDArray[np.int8]:
        """The binary alpha (U, E) of eq. (1) and (5)-(7)."""
        alpha = np.zeros((self.node_of.shape[0], n_nodes), dtype=np.int8)
        served = np.flatnonzero(self.node_of != UNSERVED)
        alpha[served, self.node_of[served]] = 1
        return alpha


def check_feasible(instance: AssociationInstance, assignment: Assignment, tolerance: float = 1e-9) -> None:
    """Raise ValueError unless the assignment meets (6) relaxed to <= 1, the incomplete lists and (7).

    (6) at most one node per user holds by construction of `node_of`.
    """
    node_of = assignment.node_of
    if node_of.shape != (instance.n_users,):
        raise ValueError(f"node_of has shape {node_of.shape}, expected ({instance.n_users},)")
    if np.any((node_of < UNSERVED) | (node_of >= instance.n_nodes)):
        raise ValueError("node_of holds an index that is not a node")
    served = np.flatnonzero(node_of != UNSERVED)
    wrong = served[instance.node_type[node_of[served]] != instance.user_type[served]]
    if wrong.size:
        raise ValueError(f"user {wrong[0]} is on a node that does not host its task type")
    residual = residual_storage(instance.capacity, instance.storage, assignment.allocation_matrix(instance.n_nodes))
    if np.any(residual < -tolerance):
        raise ValueError(f"node {int(np.argmin(residual))} exceeds its storage, constraint (7)")
    for e in np.unique(node_of[served]):
        orders = assignment.order[served[node_of[served] == e]]
        if np.unique(orders).size != orders.size:
            raise ValueError(f"node {e} has two users with the same allocation order")


@dataclass(frozen=True)
class AssociationOutcome:
    """What an assignment yields. Delays in ms; an unserved user's delay is NaN.

    `drop_probability` counts a user as dropped when it is unserved or its e2e delay
    exceeds its deadline (section V); `unserved_share` and `late_share` split it.
    `objective_ms` is eq. (5), dividing by all users; `mean_delay_ms` divides by the
    served ones (NaN when none is served).
    """

    delay_ms: NDArray[np.float64]
    served: NDArray[np.bool_]
    late: NDArray[np.bool_]

    @property
    def n_served(self) -> int:
        return int(self.served.sum())

    @property
    def total_delay_ms(self) -> float:
        return float(np.sum(self.delay_ms, where=self.served))

    @property
    def mean_delay_ms(self) -> float:
        return self.total_delay_ms / self.n_served if self.n_served else float("nan")

    @property
    def objective_ms(self) -> float:
        return mean_e2e_objective(np.nan_to_num(self.delay_ms), self.served)

    @property
    def unserved_share(self) -> float:
        return float(1.0 - self.served.mean())

    @property
    def late_share(self) -> float:
        return float(self.late.mean())

    @property
    def drop_probability(self) -> float:
        return float(np.mean(~self.served | self.late))


def evaluate(instance: AssociationInstance, assignment: Assignment) -> AssociationOutcome:
    """Delays (3) with FIFO queues of an assignment, checked against (6)-(7) first."""
    check_feasible(instance, assignment)
    node_of = assignment.node_of
    served = node_of != UNSERVED
    users = np.arange(instance.n_users)
    node = np.where(served, node_of, 0)
    own_inference = np.where(served, instance.inference_ms[node, users], 0.0)
    queue = queueing_delay(node_of, assignment.order, own_inference)
    delay = np.where(served, e2e_delay(instance.comm_ms[node, users], own_inference, queue), np.nan)
    late = served & (delay > instance.deadline_ms)
    return AssociationOutcome(delay_ms=delay, served=served, late=late)
