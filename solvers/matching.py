"""User-LLM association solvers: IAM, its rivals and the exact optimum.

Picano, Buratto and Badia, "Joint Communication and Inference User Allocation in LLM
Native Networks" (papers/inference-aware-matching.txt). The problem, its delays and
its metrics live in `environment.association`; every solver here returns an
`Assignment` (each user's node and its place in that node's FIFO queue) and never
computes a delay the environment does not define.

- `inference_aware_matching`: Algorithm 1 (IAM). Every round each unallocated user
  ranks the nodes hosting its task type with room for it by eq. (8), V_u(e) = D_{e,u}
  with the queue as it stands, and proposes to the first; each node accepts the one
  proposer it ranks first by eq. (9), W_e(u) = d_u, descending, and rejects the rest.
  Accepted users stay (queues only grow); lists are rebuilt every round from the
  residual storage (1) and the queues.
- `kolkata_game`: the same rounds, but a node picks among its proposers uniformly at
  random (section V, after [30]).
- `gale_shapley`: user-proposing deferred acceptance with lists built once, before any
  allocation (Q = 0, full storage), section V after [28].
- `random_selection`: users, in random order, each pick a node uniformly among those
  hosting their type with room left.
- `optimal_assignment`: the exact optimum of (5)-(7) by a MILP (HiGHS through
  scipy.optimize.milp), for small instances.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from environment.association import UNSERVED, AssociationInstance, Assignment, e2e_delay

Solver = Callable[[AssociationInstance, np.random.Generator], Assignment]


def _empty(instance: AssociationInstance) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    return np.full(instance.n_users, UNSERVED, dtype=np.int64), np.zeros(instance.n_users, dtype=np.int64)


def proposal_rounds(instance: AssociationInstance, node_preference: Callable[[NDArray[np.int64]], NDArray[np.float64]]) -> Assignment:
    """The rounds of Algorithm 1 with a pluggable node-side choice.

    `node_preference(proposers)` scores the proposing users; each node accepts its
    highest-scoring proposer (ties: lowest user index). Users rank by eq. (8) with the
    current queues (ties: lowest node index). A user with no node of its type that
    still has room for it leaves the game unserved: residual storage only shrinks.
    """
    node_of, order = _empty(instance)
    compatible = instance.compatible
    inference = instance.inference_ms
    queue = np.zeros(instance.n_nodes)
    residual = instance.capacity.astype(float)
    active = np.ones(instance.n_users, dtype=bool)
    round_index = 0
    while True:
        # Step 1 / line 17: lists from residual storage (1) and the current queues.
        feasible = compatible & (instance.storage[None, :] <= residual[:, None]) & active[None, :]
        active &= feasible.any(axis=0)
        proposers = np.flatnonzero(active)
        if proposers.size == 0:
            break
        delay = e2e_delay(instance.comm_ms[:, proposers], inference[:, proposers], queue[:, None])
        # Step 2 / line 18: propose to the node with the lowest V_u(e) = D_{e,u}, eq. (8).
        target = np.argmin(np.where(feasible[:, proposers], delay, np.inf), axis=0)
        # Step 3 / line 19: each node keeps its most preferred proposer, rejects the others.
        ranked = np.lexsort((-node_preference(proposers), target))
        first = np.r_[True, target[ranked][1:] != target[ranked][:-1]]
        winners, nodes = proposers[ranked][first], target[ranked][first]
        node_of[winners] = nodes
        order[winners] = round_index
        queue[nodes] += inference[nodes, winners]
        residual[nodes] -= instance.storage[winners]
        active[winners] = False
        round_index += 1
    return Assignment(node_of=node_of, order=order)


def inference_aware_matching(instance: AssociationInstance, rng: np.random.Generator | None = None) -> Assignment:
    """IAM, Algorithm 1: users rank by eq. (8), nodes by eq. (9) W_e(u) = d_u, descending.

    Deterministic; `rng` is accepted for the common solver signature and unused.
    """
    return proposal_rounds(instance, lambda proposers: instance.deadline_ms[proposers])


def kolkata_game(instance: AssociationInstance, rng: np.random.Generator) -> Assignment:
    """Kolkata game (section V, [30]): users rank by eq. (8), a node picks a proposer at random."""
    return proposal_rounds(instance, lambda proposers: rng.random(proposers.size))


def static_preferences(instance: AssociationInstance) -> tuple[list[list[int]], list[list[int]]]:
    """Preference lists built once, before any allocation (Gale-Shapley, section V).

    A user lists the nodes hosting its type whose whole storage Delta_e fits s_u, by
    eq. (8) with empty queues, ascending (ties: node index); a node lists the users
    that list it, by eq. (9), deadline descending (ties: user index).
    """
    acceptable = instance.compatible & (instance.storage[None, :] <= instance.capacity[:, None])
    delay = np.where(acceptable, instance.unqueued_delay_ms, np.inf)
    by_delay = np.argsort(delay, axis=0, kind="stable")
    counts = acceptable.sum(axis=0)
    user_lists = [by_delay[: counts[u], u].tolist() for u in range(instance.n_users)]
    by_deadline = np.argsort(-instance.deadline_ms, kind="stable")
    node_lists = [by_deadline[acceptable[e, by_deadline]].tolist() for e in range(instance.n_nodes)]
    return user_lists, node_lists


def gale_shapley(instance: AssociationInstance, rng: np.random.Generator | None = None) -> Assignment:
    """User-proposing deferred acceptance on `static_preferences` (section V, [28]).

    Storage replaces the classic integer capacity: a node holds, among the users it
    holds and its new proposers, its most preferred ones greedily while they fit in
    Delta_e, and rejects the rest; rejected users propose to their next node. With equal
    s_u this is the resident-optimal hospitals/residents matching. The FIFO order on a
    node is the round of each user's accepted proposal, then the node's preference.
    Deterministic; `rng` is unused.
    """
    user_lists, _ = static_preferences(instance)
    priority = np.empty(instance.n_users, dtype=np.int64)
    priority[np.argsort(-instance.deadline_ms, kind="stable")] = np.arange(instance.n_users)
    storage, capacity = instance.storage.tolist(), instance.capacity.tolist()
    rank = priority.tolist()
    held: list[list[int]] = [[] for _ in range(instance.n_nodes)]
    next_choice = [0] * instance.n_users
    proposal_round = [0] * instance.n_users
    free = [u for u in range(instance.n_users) if user_lists[u]]
    round_index = 0
    while free:
        proposals: dict[int, list[int]] = {}
        for u in free:
            node = user_lists[u][next_choice[u]]
            next_choice[u] += 1
            proposal_round[u] = round_index
            proposals.setdefault(node, []).append(u)
        free = []
        for node, new in proposals.items():
            room, keep = capacity[node], []
            for u in sorted(held[node] + new, key=rank.__getitem__):
                if storage[u] <= room:
                    keep.append(u)
                    room -= storage[u]
                elif next_choice[u] < len(user_lists[u]):
                    free.append(u)
            held[node] = keep
        round_index += 1
    node_of, order = _empty(instance)
    for node, users in enumerate(held):
        node_of[users] = node
        order[users] = np.asarray(proposal_round)[users] * instance.n_users + priority[users]
    return Assignment(node_of=node_of, order=order)


def random_selection(instance: AssociationInstance, rng: np.random.Generator) -> Assignment:
    """Random selection (section V): users, in a random order, each pick a node uniformly
    among those hosting their type with residual storage (1) for them; none left: unserved.
    """
    node_of, order = _empty(instance)
    arrival = rng.permutation(instance.n_users)
    pick = rng.random(instance.n_users)
    nodes_of_type = {t: np.flatnonzero(instance.node_type == t) for t in np.unique(instance.user_type)}
    residual = instance.capacity.astype(float)
    for step, u in enumerate(arrival):
        candidates = nodes_of_type[instance.user_type[u]]
        candidates = candidates[residual[candidates] >= instance.storage[u]]
        if candidates.size:
            node = candidates[int(pick[step] * candidates.size)]
            node_of[u], order[u] = node, step
            residual[node] -= instance.storage[u]
    return Assignment(node_of=node_of, order=order)


HEURISTICS: dict[str, Solver] = {
    "iam": inference_aware_matching,
    "kolkata": kolkata_game,
    "gale-shapley": gale_shapley,
    "random": random_selection,
}
DISPLAY_NAMES = {"iam": "IAM", "kolkata": "Kolkata game", "gale-shapley": "Gale-Shapley", "random": "Random selection"}


def optimal_assignment(instance: AssociationInstance, n_served: int | None = None) -> Assignment:
    """Exact optimum of problem (5)-(7) with (6) relaxed to <= 1, by a MILP (HiGHS).

    With `n_served` given: the least total e2e delay (3) serving exactly that many users,
    the optimum to compare a heuristic that served as many with. Without it: first the
    most users that can be served, then the least total delay among such assignments.

    FIFO queues make the delay depend on the order on each node, so a variable
    y_{u,e,r} puts u on e with r - 1 users after it: it costs 2 C_{e,u} + r I_{e,u}
    (u's own delay plus the wait its inference adds to the r - 1 behind it). The
    optimum fills the slots r = 1..n_e without gaps (a gap could be closed for less)
    and orders each node shortest-inference-first. Small instances only: the variable
    count is about U x (nodes per type) x (users per node).
    """
    acceptable = instance.compatible & (instance.storage[None, :] <= instance.capacity[:, None])
    slots = [
        int(np.sum(np.cumsum(np.sort(instance.storage[acceptable[e]])) <= instance.capacity[e]))
        for e in range(instance.n_nodes)
    ]
    pairs_e, pairs_u = np.nonzero(acceptable)
    repeats = np.asarray(slots)[pairs_e]
    var_e, var_u = np.repeat(pairs_e, repeats), np.repeat(pairs_u, repeats)
    var_r = np.concatenate([np.arange(1, k + 1) for k in repeats]) if var_e.size else np.zeros(0, dtype=np.int64)
    node_of, order = _empty(instance)
    if var_e.size == 0:
        if n_served:
            raise ValueError(f"cannot serve {n_served} users: no user fits any node of its type")
        return Assignment(node_of=node_of, order=order)
    n_var = var_e.size
    columns = np.arange(n_var)
    slot_offset = np.r_[0, np.cumsum(slots)][:-1]
    rows = [
        # (6) relaxed: each user on at most one (node, slot).
        (var_u, np.ones(n_var), np.zeros(instance.n_users), np.ones(instance.n_users)),
        # each slot of each node holds at most one user.
        (slot_offset[var_e] + var_r - 1, np.ones(n_var), np.zeros(sum(slots)), np.ones(sum(slots))),
        # (7) storage: sum_u s_u alpha_{u,e} <= Delta_e.
        (var_e, instance.storage[var_u], np.full(instance.n_nodes, -np.inf), instance.capacity),
    ]
    blocks, lower, upper, row_base = [], [], [], 0
    for row, value, low, high in rows:
        blocks.append(coo_matrix((value, (row + row_base, columns)), shape=(row_base + low.size, n_var)))
        lower.append(low)
        upper.append(high)
        row_base += low.size
    matrix = coo_matrix(
        (np.concatenate([b.data for b in blocks]), (np.concatenate([b.row for b in blocks]), np.concatenate([b.col for b in blocks]))),
        shape=(row_base, n_var),
    ).tocsr()
    base = LinearConstraint(matrix, np.concatenate(lower), np.concatenate(upper))
    integrality, bounds = np.ones(n_var), Bounds(0, 1)
    if n_served is None:
        most = milp(-np.ones(n_var), constraints=[base], integrality=integrality, bounds=bounds)
        _check(most, "the most users served")
        n_served = int(round(-most.fun))
    # (5): what y_{u,e,r} adds to the total delay: u's own 2C + I, plus I for each of the
    # r - 1 users queued behind it (their Q in eq. 3).
    inference = instance.inference_ms[var_e, var_u]
    cost = e2e_delay(instance.comm_ms[var_e, var_u], inference, (var_r - 1) * inference)
    count = LinearConstraint(np.ones((1, n_var)), n_served, n_served)
    best = milp(cost, constraints=[base, count], integrality=integrality, bounds=bounds)
    _check(best, f"the least delay serving {n_served} users")
    chosen = best.x > 0.5
    node_of[var_u[chosen]] = var_e[chosen]
    order[var_u[chosen]] = max(slots) - var_r[chosen]  # more users behind = earlier in the queue
    return Assignment(node_of=node_of, order=order)


def _check(result: object, what: str) -> None:
    if getattr(result, "status", None) != 0:
        raise RuntimeError(f"MILP for {what} did not reach an optimum: {getattr(result, 'message', '?')}")
