"""User-LLM association as a sequential decision problem (`EdgeICL/Association-v0`).

Picano, Buratto and Badia (papers/inference-aware-matching.txt): the users of one
section V instance arrive one per step, in a seeded order, and each is placed at once on
a node hosting its LLM type with storage left (eq. 1, 7, the incomplete lists), or
dropped. Its e2e delay is eq. (3) with the FIFO queue of the users placed before it
(`environment.association.evaluate`), known the moment it is placed: later users queue
behind it. The one-shot solvers (IAM, Gale-Shapley, Kolkata, random, MILP) are
evaluated on the same instances with the same `evaluate`, so the metrics compare.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from environment.association.config import AssociationEnvConfig, association_env_config
from environment.association.formulas import LLM_TYPES, UNSERVED, e2e_delay, placement_reward, queueing_delay
from environment.association.problem import Assignment, AssociationInstance, evaluate, generate_instance

NODE_FEATURES = ("open", "queue_ms", "link_ms", "inference_ms", "residual_storage")
USER_FEATURES = ("tokens", "deadline_ms", "storage")
DROP = "drop"
STORAGE_TOLERANCE = 1e-9  # as `check_feasible`


def node_label(node: int) -> str:
    """A node's name in text: A, B, C, ... (numbers would mean nothing in the next instance either)."""
    return chr(ord("A") + node)


def level(value: float, bounds: tuple[float, float], names: tuple[str, ...]) -> str:
    """The name of the equal-width bin of [low, high] that `value` falls in (outside: the nearest end)."""
    low, high = bounds
    if high <= low:
        return names[0]
    index = int(np.floor((value - low) / (high - low) * len(names)))
    return names[min(max(index, 0), len(names) - 1)]


class AssociationEnv(gym.Env):
    """Users of one instance arrive one per step; place each on an edge node hosting its LLM type, or drop it.

    ## Description
    One episode is one instance of Picano et al.'s section V setting: 13-17 edge nodes,
    each hosting one LLM of one of three types with a storage Delta_e, and 95-105 users,
    each requesting one type with gamma_u tokens, a deadline d_u and a storage need s_u.
    Users arrive one per step in a seeded order; the decision places the arriving user
    on a node (joining the back of its FIFO queue) or drops it. Placements are final.

    ## Action Space
    `Discrete(max_nodes + 1)` with max_nodes = `instances.n_nodes[1]`: action e < n_nodes
    places the user on node e; action max_nodes drops it. `info["action_mask"]` (int8)
    marks the legal ones: nodes hosting the user's type with residual storage (1) at
    least s_u (constraint 7), and drop. Any other action drops the user and costs
    `online.invalid_action_penalty_ms` more (the invalid-action penalty of DQN).

    ## Observation Space
    `Box(0, high, (5 max_nodes + n_llm_types + 3,), float32)`, `high` the largest value
    each entry takes under the config's ranges; for the arriving user u:

    | index | meaning |
    |-------|---------|
    | 5e + 0 | node e is legal for u (1/0; 0 for node slots the instance lacks) |
    | 5e + 1 | Q_{e,u}: the FIFO queue u would wait behind on e, ms |
    | 5e + 2 | 2 C_{e,u}: its link time there and back (eq. 3), ms |
    | 5e + 3 | I_{e,u}: its inference time on e (eq. 2), ms |
    | 5e + 4 | S_e: the residual storage of e (eq. 1) |
    | 5 max_nodes + t | one-hot of u's LLM type |
    | last three | gamma_u (tokens), d_u (ms), s_u |

    The text face, for prompts, is `info["keywords"]` (LLM type, token level, deadline
    level) and `info["candidates"]` (each legal node's label, action and features:
    queue, link and slack to the deadline in ms; and drop).

    ## Rewards
    `placement_reward` (environment/association/formulas.py): minus the user's e2e
    delay D_{e,u} of eq. (3), minus `online.late_penalty_ms` when D_{e,u} > d_u; a
    dropped user earns -`online.drop_penalty_ms`.

    ## Starting State
    `reset(seed=...)` seeds the generator and draws an instance and an arrival order;
    `reset()` without a seed draws the next instance from the same generator, so the k-th
    episode after a seeded reset is the same instance for every policy.
    `reset(options={"instance": AssociationInstance})` plays a given instance.

    ## Episode End
    Terminated when the last user of the instance has been placed or dropped; the final
    step's info holds `episode`: the instance's outcome by `evaluate` (mean delay of
    served users, dropping probability, served share). Never truncated.

    ## Arguments
    `config`: an `AssociationEnvConfig`, a mapping validated into one, or None for the paper defaults.

    ## Example
    >>> import gymnasium as gym, environment
    >>> env = gym.make("EdgeICL/Association-v0")
    >>> obs, info = env.reset(seed=1)
    >>> obs, reward, terminated, truncated, info = env.step(int(info["action_mask"].nonzero()[0][0]))
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(self, config: AssociationEnvConfig | dict[str, Any] | None = None, render_mode: str | None = None) -> None:
        self.config = config if isinstance(config, AssociationEnvConfig) else association_env_config(config)
        self.render_mode = render_mode
        self.max_nodes = self.config.instances.n_nodes[1]
        self.drop_action = self.max_nodes
        self.n_types = self.config.instances.n_llm_types
        self.observation_space = spaces.Box(0.0, self._upper_bounds(), dtype=np.float32)
        self.action_space = spaces.Discrete(self.max_nodes + 1)
        self.instance: AssociationInstance | None = None
        self.episode = -1  # episodes since the last seeded reset

    def _upper_bounds(self) -> np.ndarray:
        """The largest value each observation entry can take under the config's ranges."""
        inst = self.config.instances
        inference = inst.tokens[1] * inst.inter_token_ms[1]
        node = [1.0, inst.n_users[1] * inference, 2.0 * inst.comm_delay_ms[1], inference, inst.node_storage[1]]
        user = [1.0] * self.n_types + [inst.tokens[1], inst.deadline_ms[1], inst.user_storage[1]]
        return np.array(node * self.max_nodes + user, dtype=np.float32)

    # --- the state of the arriving user -----------------------------------------------
    @property
    def user(self) -> int:
        """The arriving user."""
        return int(self.arrival[self.t])

    def legal_nodes(self, user: int) -> np.ndarray:
        """Nodes hosting `user`'s type with residual storage (1) for it (constraint 7)."""
        inst = self.instance
        return np.flatnonzero((inst.node_type == inst.user_type[user]) & (self.residual - inst.storage[user] >= -STORAGE_TOLERANCE))

    def queue_if_placed(self, node: int, user: int) -> float:
        """Q_{e,u} (FIFO, text under eq. 4) that `user` would wait on `node` if placed now, at the back."""
        node_of = self.node_of.copy()
        node_of[user] = node
        order = self.order.copy()
        order[user] = self.t
        return float(queueing_delay(node_of, order, self._own_inference(node_of))[user])

    def _own_inference(self, node_of: np.ndarray) -> np.ndarray:
        served = node_of != UNSERVED
        users = np.arange(self.instance.n_users)
        return np.where(served, self.instance.inference_ms[np.where(served, node_of, 0), users], 0.0)

    def node_view(self, user: int) -> dict[int, dict[str, float]]:
        """Each legal node's numbers for `user`: queue, link (2C), inference, e2e delay (3) and slack d_u - D, in ms."""
        inst = self.instance
        view = {}
        for e in self.legal_nodes(user):
            queue = self.queue_if_placed(int(e), user)
            link, inference = 2.0 * float(inst.comm_ms[e, user]), float(inst.inference_ms[e, user])
            delay = float(e2e_delay(inst.comm_ms[e, user], inference, queue))
            view[int(e)] = {"queue_ms": queue, "link_ms": link, "inference_ms": inference, "delay_ms": delay, "slack_ms": float(inst.deadline_ms[user]) - delay}
        return view

    def _observe(self) -> tuple[np.ndarray, dict[str, Any]]:
        inst, u = self.instance, self.user
        view = self.node_view(u)
        obs = np.zeros(self.observation_space.shape, dtype=np.float32)
        for e in range(inst.n_nodes):
            base = len(NODE_FEATURES) * e
            numbers = view.get(e)
            queue = numbers["queue_ms"] if numbers else 0.0
            obs[base : base + 5] = (1.0 if numbers else 0.0, queue, 2.0 * inst.comm_ms[e, u], inst.inference_ms[e, u], max(self.residual[e], 0.0))
        head = len(NODE_FEATURES) * self.max_nodes
        obs[head + int(inst.user_type[u])] = 1.0
        obs[head + self.n_types :] = (inst.tokens[u], inst.deadline_ms[u], inst.storage[u])
        mask = np.zeros(self.action_space.n, dtype=np.int8)
        mask[list(view)] = 1
        mask[self.drop_action] = 1
        cfg = self.config
        candidates = [
            {"label": node_label(e), "action": e, "features": {k: round(v[k], 3) for k in ("queue_ms", "link_ms", "slack_ms")}}
            for e, v in view.items()
        ]
        candidates.append({"label": DROP, "action": self.drop_action, "features": {}})
        greedy = min(view, key=lambda e: (view[e]["delay_ms"], e)) if view else self.drop_action
        info = {
            "instance": self.episode,
            "user": u,
            "arrival": self.t,
            "keywords": {
                "llm_type": LLM_TYPES[int(inst.user_type[u])] if int(inst.user_type[u]) < len(LLM_TYPES) else f"type {int(inst.user_type[u])}",
                "token_level": level(float(inst.tokens[u]), cfg.instances.tokens, cfg.online.token_levels),
                "deadline_level": level(float(inst.deadline_ms[u]), cfg.instances.deadline_ms, cfg.online.deadline_levels),
            },
            "candidates": candidates,
            "action_mask": mask,
            "greedy_action": greedy,  # eq. (8): the legal node with the least e2e delay now
            "node_view": view,
        }
        self._state = info
        return obs, info

    # --- Gymnasium API ----------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.episode = 0 if seed is not None else self.episode + 1
        given = (options or {}).get("instance")
        self.instance = given if given is not None else generate_instance(self.config.instances, self.np_random)
        if self.instance.n_nodes > self.max_nodes:
            raise ValueError(f"the instance has {self.instance.n_nodes} nodes, the env at most {self.max_nodes}")
        self.arrival = self.np_random.permutation(self.instance.n_users)
        self.t = 0
        self.node_of = np.full(self.instance.n_users, UNSERVED, dtype=np.int64)
        self.order = np.zeros(self.instance.n_users, dtype=np.int64)
        self.residual = self.instance.capacity.astype(float).copy()
        return self._observe()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.instance is None or self.t >= self.instance.n_users:
            raise RuntimeError("call reset() first: the episode is over")
        if not self.action_space.contains(action):
            raise ValueError(f"action must be in 0..{self.drop_action}, got {action!r}")
        inst, u, action = self.instance, self.user, int(action)
        state = self._state
        legal = action != self.drop_action and action in state["node_view"]
        invalid = action != self.drop_action and not legal
        delay: float | None = None  # a dropped user has none
        if legal:
            self.node_of[u], self.order[u] = action, self.t
            self.residual[action] -= inst.storage[u]
            delay = float(evaluate(inst, Assignment(self.node_of, self.order)).delay_ms[u])  # eq. (3), FIFO queue
        online = self.config.online
        reward = placement_reward(delay if delay is not None else 0.0, float(inst.deadline_ms[u]), legal, online.late_penalty_ms, online.drop_penalty_ms)
        if invalid:
            reward -= online.invalid_action_penalty_ms
        executed = {
            "instance": self.episode,
            "user": u,
            "arrival": self.t,
            "llm_type": int(inst.user_type[u]),
            "tokens": int(inst.tokens[u]),
            "deadline_ms": float(inst.deadline_ms[u]),
            "node": action if legal else UNSERVED,
            "served": legal,
            "invalid": invalid,
            "delay_ms": delay,
            "late": bool(legal and delay > inst.deadline_ms[u]),
            "reward": reward,
            "open_nodes": len(state["node_view"]),
            "greedy_action": state["greedy_action"],
        }
        self.t += 1
        terminated = self.t >= inst.n_users
        if terminated:
            outcome = evaluate(inst, Assignment(self.node_of, self.order))
            info: dict[str, Any] = {"executed": executed, "episode": {
                "instance": self.episode,
                "n_users": inst.n_users,
                "n_nodes": inst.n_nodes,
                "served": outcome.n_served,
                "mean_delay_ms": outcome.mean_delay_ms,
                "drop_probability": outcome.drop_probability,
                "served_share": 1.0 - outcome.unserved_share,
                "node_of": self.node_of.copy(),
                "order": self.order.copy(),
            }}
            return np.zeros(self.observation_space.shape, dtype=np.float32), reward, True, False, info
        obs, info = self._observe()
        info["executed"] = executed
        return obs, reward, False, False, info

    def action_masks(self) -> np.ndarray:
        """The legal actions now (sb3-contrib's MaskablePPO reads this method)."""
        return self._observe()[1]["action_mask"].astype(bool)

    def render(self) -> str | None:
        if self.render_mode == "ansi" and self.instance is not None and self.t < self.instance.n_users:
            _, info = self._observe()
            return f"user {self.user} {info['keywords']}: " + ", ".join(c["label"] for c in info["candidates"]) + "\n"
        return None
