"""Offloading-v1 as a Gymnasium environment: the edge-cloud decision with a queue and a moving cloud.

Extends the problem of Zhou et al. (papers/icl-task-offloading.txt, problem (4), reward
(10)) so that the best decision is not a function of (service, token level): the edge
serves with a limited batch and a queue, the cloud's latency and price move, required
quality overlaps the edge model's, and the prompt's upload and prefill count.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from environment.offloading_v1.config import OffloadingV1Config, offloading_v1_config
from environment.offloading_v1.world import LOCAL, OFFLOAD, Conditions, OutcomeV1, RequestV1, WorldV1

DECISIONS: tuple[str, str] = ("local", "offload")

# Finite upper bound of every observation entry (waits, tokens and prices stay far below).
OBSERVATION_HIGH = 1e9

# The numeric face of the state, in the order of the observation vector (after the
# service one-hot). Units are chosen so every entry is of order 1-100.
NUMERIC_FEATURES: tuple[str, ...] = (
    "estimated_output_ktokens",
    "prompt_ktokens",
    "prompt_kbytes",
    "required_quality",
    "uplink_mbps",
    "edge_running",
    "edge_waiting",
    "estimated_edge_wait_s",
    "recent_cloud_latency_s",
    "output_price_usd_per_mtok",
)


class OffloadingV1Env(gym.Env):
    """Edge-vs-cloud offloading with an edge queue, a moving cloud, overlapping quality and the uplink.

    ## Description
    Requests arrive at a base station's edge server as a Poisson process (one step =
    one request). The edge keeps a request on its small LLM ("local") or sends it to the
    cloud's large LLM ("offload"). The edge decodes at most `edge.max_batch` requests at
    once, first come first served; a kept request waits for a slot (and for its prompt
    to arrive over the uplink), then takes the prefill time of its prompt (TTFT) and
    its output tokens times the TPOT of the batch it joins, along a measured serving
    profile. An offloaded request pays the prompt's upload, the backhaul, the cloud's
    current latency (a Markov-modulated congestion level) and the cloud model's
    generation time, and costs money per token at the current price level. Each
    request asks for a quality drawn on a range straddling the edge model's index.

    ## Action Space
    `Discrete(2)`: 0 = local (alpha = 0), 1 = offload (alpha = 1).

    ## Observation Space
    `Box(0, 1e9, (n_services + 10,), float32)`: the service one-hot (S entries), then

    | index | feature | unit |
    |-------|---------|------|
    | S+0 | estimated output tokens | thousands |
    | S+1 | prompt tokens | thousands |
    | S+2 | prompt upload size | kB |
    | S+3 | required quality tau | MMLU scale, 0-1 |
    | S+4 | the user's uplink capacity | Mbit/s |
    | S+5 | requests decoding at the edge | count |
    | S+6 | requests waiting at the edge | count |
    | S+7 | estimated wait for an edge slot | s |
    | S+8 | cloud latency measured at the previous request | s |
    | S+9 | cloud price of output tokens | USD per 1M tokens |

    The same numbers are `info["features"]` (by name) and, as text, `info["keywords"]`
    and `info["text"]`. Besides them `info` holds what a dispatcher knows of its own
    site and of the posted prices: `edge_quality_index` and `cloud_quality_index` (the
    models' tau of (4e)), `price_level` (the posted price tier) and
    `estimated_offload_cost_usd` (the posted prices times the prompt and the estimated
    output tokens). The true output size, the current cloud latency and the exact queue
    finish times are not observed; the oracle (`info["oracle_action"]`) uses them.

    ## Rewards
    r = T^Target - t^total - r^penalty [if (4e) fails] - w c: reward (10) of the ICL
    paper minus the weighted money c spent on the cloud (0 at the edge).

    ## Starting State
    `reset(seed=...)` drops the users, starts an empty edge and the cloud at its first
    congestion and price levels, and draws the first request. `reset()` without a seed
    keeps the world (queue, clock, cloud) and draws on.

    ## Episode End
    Never terminated (the world runs on); truncated after `episode_steps` requests.

    ## Arguments
    `config`: an `OffloadingV1Config`, a mapping validated into one, or None for the defaults.

    ## Example
    >>> import gymnasium as gym, environment
    >>> env = gym.make("EdgeICL/Offloading-v1")
    >>> obs, info = env.reset(seed=1)
    >>> obs, reward, terminated, truncated, info = env.step(info["oracle_action"])
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(self, config: OffloadingV1Config | dict[str, Any] | None = None, render_mode: str | None = None) -> None:
        self.config = config if isinstance(config, OffloadingV1Config) else offloading_v1_config(config)
        self.render_mode = render_mode
        self.service_names = [s.name for s in self.config.requests.services]
        self.feature_names = [f"service={name}" for name in self.service_names] + list(NUMERIC_FEATURES)
        self.observation_space = spaces.Box(0.0, OBSERVATION_HIGH, shape=(len(self.feature_names),), dtype=np.float32)
        self.action_space = spaces.Discrete(len(DECISIONS))
        self.world: WorldV1 | None = None
        self.request: RequestV1 | None = None
        self.conditions: Conditions | None = None
        self._features: dict[str, float] = {}
        self._plan = None
        self._outcomes: tuple[OutcomeV1, OutcomeV1] | None = None
        self.steps_in_episode = 0

    # --- the faces of one state ---------------------------------------------------------
    def features(self) -> dict[str, float]:
        """The numeric face of the current state, by name (the observation's entries)."""
        assert self.world is not None and self.request is not None and self.conditions is not None
        now = self.request.arrival_s
        edge = self.world.edge
        values = {f"service={name}": float(name == self.request.service) for name in self.service_names}
        values.update(
            {
                "estimated_output_ktokens": self.request.estimated_tokens / 1000.0,
                "prompt_ktokens": self.request.prompt_tokens / 1000.0,
                "prompt_kbytes": self.request.prompt_tokens * self.request.prompt_token_bytes / 1000.0,
                "required_quality": self.request.required_quality,
                "uplink_mbps": self.conditions.uplink_bps / 1e6,
                "edge_running": float(edge.running(now)),
                "edge_waiting": float(edge.waiting(now)),
                "estimated_edge_wait_s": edge.estimated_wait(now),
                "recent_cloud_latency_s": self.conditions.recent_cloud_latency_s,
                "output_price_usd_per_mtok": self.world.output_price_usd_per_mtok(self.conditions),
            }
        )
        return values

    def observation(self) -> np.ndarray:
        """The vector face: `features()` in `feature_names` order."""
        return np.array([self._features[name] for name in self.feature_names], dtype=np.float32)

    def keywords(self) -> dict[str, str]:
        """The text face: what a dispatcher at the edge sees, as keyword values for a prompt."""
        f, request = self._features, self.request
        assert request is not None
        return {
            "service_type": request.service,
            "estimated_output_tokens": str(request.estimated_tokens),
            "token_size": request.token_level_name,
            "prompt_tokens": str(request.prompt_tokens),
            "upload_size": f"{f['prompt_kbytes']:.0f} kB",
            "required_quality": f"{request.required_quality:.2f}",
            "uplink": f"{f['uplink_mbps']:.2f} Mbit/s",
            "edge_running": str(int(f["edge_running"])),
            "edge_waiting": str(int(f["edge_waiting"])),
            "estimated_edge_wait": f"{f['estimated_edge_wait_s']:.1f} s",
            "recent_cloud_latency": f"{f['recent_cloud_latency_s']:.1f} s",
            "price": f"${f['output_price_usd_per_mtok']:.2f} per 1M output tokens",
        }

    def describe(self) -> str:
        """The state as one line of text."""
        kw = self.keywords()
        return (
            f"Service type: {kw['service_type']}; Estimated output tokens: {kw['estimated_output_tokens']} ({kw['token_size']}); "
            f"Prompt tokens: {kw['prompt_tokens']} ({kw['upload_size']} to upload); Required quality: {kw['required_quality']}; Uplink: {kw['uplink']}; "
            f"Edge: {kw['edge_running']} running, {kw['edge_waiting']} waiting, estimated wait {kw['estimated_edge_wait']}; "
            f"Recent cloud latency: {kw['recent_cloud_latency']}; Price: {kw['price']}"
        )

    # --- decisions ----------------------------------------------------------------------
    def evaluate(self, action: int) -> OutcomeV1:
        """The exact outcome of `action` on the current request, without stepping."""
        assert self._outcomes is not None, "call reset() first"
        return self._outcomes[int(action)]

    def oracle_action(self) -> int:
        """The exact per-request optimum: argmax of the reward given the true state (ties: local).

        Exact for this request given the queue and the cloud now; it does not weigh what
        keeping a request costs the requests after it (a per-request, not a long-run, optimum).
        """
        assert self._outcomes is not None, "call reset() first"
        return int(np.argmax([outcome.reward for outcome in self._outcomes]))

    def _next_request(self) -> dict[str, Any]:
        assert self.world is not None
        self.request, self.conditions = self.world.next_request()
        self._plan = self.world.plan_local(self.request, self.conditions)
        self._outcomes = self.world.outcomes(self.request, self.conditions, self._plan)
        self._features = self.features()
        return {
            "keywords": self.keywords(),
            "text": self.describe(),
            "features": dict(self._features),
            "request": asdict(self.request),
            "edge_quality_index": self.world.edge_llm.quality_index,
            "cloud_quality_index": self.world.cloud_llm.quality_index,
            "price_level": self.conditions.price_level,
            "estimated_offload_cost_usd": self.world.estimated_offload_cost_usd(self.request, self.conditions),
            "oracle_action": self.oracle_action(),
        }

    # --- Gymnasium API ------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if self.world is None or seed is not None:
            self.world = WorldV1(self.config, self.np_random)
        self.steps_in_episode = 0
        info = self._next_request()
        return self.observation(), info

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if not self.action_space.contains(action):
            raise ValueError(f"action must be 0 (local) or 1 (offload), got {action!r}")
        assert self.world is not None and self.request is not None and self.conditions is not None
        outcome = self.evaluate(int(action))
        oracle = self.oracle_action()
        if outcome.action == LOCAL and self.config.edge.cell_requests_join_queue:
            self.world.edge.commit(self._plan)
        self.steps_in_episode += 1
        info = {
            "executed_request": asdict(self.request),
            "executed_features": dict(self._features),
            "executed_conditions": asdict(self.conditions),
            "decision": DECISIONS[outcome.action],
            "outcome": asdict(outcome),
            "executed_oracle_action": oracle,
            "oracle_reward": self.evaluate(oracle).reward,
            "local_reward": self.evaluate(LOCAL).reward,
            "offload_reward": self.evaluate(OFFLOAD).reward,
            "edge_slot_wait_s": self.evaluate(LOCAL).slot_wait_s,
        }
        info.update(self._next_request())
        truncated = self.steps_in_episode >= self.config.episode_steps
        return self.observation(), float(outcome.reward), False, truncated, info

    def render(self) -> str | None:
        if self.render_mode == "ansi" and self.request is not None:
            return self.describe() + "\n"
        return None
