"""User-LLM association at the edge: the problem of Picano, Buratto and Badia.

"Joint Communication and Inference User Allocation in LLM Native Networks"
(papers/inference-aware-matching.txt, section III). Users each request one learning
task of one type; every edge node hosts one LLM specialised in one type and has a
limited storage; a user may only go to a node hosting its type (incomplete lists).

The formulas (eq. 1-5) are in `formulas.py`; this module holds instances, the
assignment check of constraints (6)-(7) and the evaluation. The instance generator
draws the section V setting from a passed `numpy.random.Generator`.

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
from numpy.typing import NDArray

from environment.association.config import AssociationConfig
from environment.association.formulas import UNSERVED, e2e_delay, inference_delay, mean_e2e_objective, queueing_delay, residual_storage

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
