"""Two-sided exchange stability (S2ES), Def. 1 of Picano et al. (papers/inference-aware-matching.txt).

A pair of served users (u1, u2) on different nodes blocks a matching M when swapping
their places makes both users and both nodes weakly better off and at least one of the
four strictly better. Readings:

- A user ranks by V_u(e) = D_{e,u} (eq. 8), lower is better; after the swap u1 takes
  u2's place in the FIFO queue of M(u2), so its delay there is (3) with the queue
  that was ahead of u2. A node ranks by W_e(u) = d_u (eq. 9), higher is better: Def. 1's
  "<=" is read as "ranked no worse".
- A swap is possible only if each user's type is hosted by the other node and both
  nodes' storage (7) holds afterwards; unserved users hold no place and never block.

With eq. (9) and distinct deadlines, the two node conditions together force
d_{u1} = d_{u2}, so only users with equal deadlines can block: check on instances with ties.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from environment.association import AssociationInstance, Assignment, e2e_delay, evaluate, queueing_delay


def blocking_pairs(instance: AssociationInstance, assignment: Assignment, tolerance: float = 1e-9) -> NDArray[np.int64]:
    """All pairs (u1, u2), u1 < u2, that block `assignment` in the sense of Def. 1, as a (K, 2) array."""
    outcome = evaluate(instance, assignment)
    users = np.flatnonzero(outcome.served)
    node = assignment.node_of[users]
    inference = np.zeros(instance.n_users)
    inference[users] = instance.inference_ms[node, users]
    queue_ahead = queueing_delay(assignment.node_of, assignment.order, inference)[users]
    own = outcome.delay_ms[users]
    # swapped[i, j]: delay of users[i] in the place of users[j].
    swapped = e2e_delay(instance.comm_ms[node[None, :], users[:, None]], instance.inference_ms[node[None, :], users[:, None]], queue_ahead[None, :])
    user_gain = own[:, None] - swapped  # > 0: strictly better, >= 0: weakly
    deadline = instance.deadline_ms[users]
    node_gain = deadline[None, :] - deadline[:, None]  # M(u1) gets u2 for u1: d_u2 - d_u1
    residual = instance.capacity - np.bincount(node, weights=instance.storage[users], minlength=instance.n_nodes)
    size = instance.storage[users]
    fits = residual[node][:, None] + size[:, None] - size[None, :] >= -tolerance  # M(u1) after u1 -> u2
    typed = instance.node_type[node][None, :] == instance.user_type[users][:, None]  # u1 can use M(u2)
    weak = (user_gain >= -tolerance) & (node_gain >= -tolerance) & fits & typed
    weak_pair = weak & weak.T & (node[:, None] != node[None, :])
    strict = (user_gain > tolerance) | (node_gain > tolerance)
    blocking = np.triu(weak_pair & (strict | strict.T), k=1)
    first, second = np.nonzero(blocking)
    return np.column_stack([users[first], users[second]])


def is_s2es(instance: AssociationInstance, assignment: Assignment) -> bool:
    """True when no pair of users blocks the matching (Def. 1)."""
    return blocking_pairs(instance, assignment).shape[0] == 0

