"""Edge-vs-cloud generation task offloading as a Gymnasium environment (`EdgeICL/Offloading-v0`).

Zhou et al., "Generative AI as a Service in 6G Edge-Cloud: Generation Task Offloading by
In-context Learning" (papers/icl-task-offloading.txt), problem (4) decided one request
at a time with the state of eq. (8) and the reward of eq. (10).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from environment.inference import LLMProfile, llm_profile
from environment.offloading.config import OffloadingEnvConfig, offloading_env_config
from environment.offloading.formulas import offloading_reward, quality_met, service_delay, transmission_delay
from environment.world import Request, Scenario

DECISIONS: tuple[str, str] = ("local", "offload")
LOCAL, OFFLOAD = 0, 1


@dataclass(frozen=True)
class Outcome:
    """What one decision on one request gives: the delay parts of (4), (4e) and reward (10)."""

    action: int
    capacity_bps: float
    transmission_s: float
    generation_s: float
    total_delay_s: float
    quality_met: bool
    reward: float


def evaluate_decision(
    config: OffloadingEnvConfig, edge_llm: LLMProfile, cloud_llm: LLMProfile, request: Request, capacity_bps: float, action: int
) -> Outcome:
    """Evaluate one offloading decision with the one shared delay model (eq. 1, 3, 4, 4e, 10)."""
    offloaded = action == OFFLOAD
    cfg = config.offloading
    llm = cloud_llm if offloaded else edge_llm
    transmission = transmission_delay(request.n_tokens, config.tasks.token_bytes, capacity_bps, offloaded, cfg.backhaul_delay_s)
    edge_time = float(edge_llm.generation_time(request.n_tokens))
    cloud_time = float(cloud_llm.generation_time(request.n_tokens))
    total = service_delay(transmission, edge_time, cloud_time, offloaded)
    met = quality_met(request.required_quality, edge_llm.quality_index, cloud_llm.quality_index, offloaded)
    return Outcome(
        action=action,
        capacity_bps=capacity_bps,
        transmission_s=transmission,
        generation_s=float(llm.generation_time(request.n_tokens)),
        total_delay_s=total,
        quality_met=met,
        reward=offloading_reward(cfg.target_delay_s, total, cfg.quality_penalty, met),
    )


class OffloadingEnv(gym.Env):
    """Generation task offloading between an edge LLM and a cloud LLM.

    ## Description
    Users of one base station send generation requests (chatting, translation,
    reasoning, knowledge). For each request the edge server decides to generate it
    with its small LLM ("local") or to offload it to the cloud's large LLM ("offload").
    The content then goes down a radio link whose capacity follows eq. (2) under a
    proportional-fair RB allocation. One step is one request.

    ## Action Space
    `Discrete(2)`: 0 = local (alpha = 0), 1 = offload (alpha = 1).

    ## Observation Space
    `MultiDiscrete([n_services, n_token_levels])`, the two keywords of eq. (8):

    | index | keyword | values |
    |-------|---------|--------|
    | 0 | service type | index into `config.tasks.services` |
    | 1 | estimated output token size | level index at `config.tasks.token_level_edges` |

    The same state as text, for prompts, is `info["keywords"]` and `info["text"]`.

    ## Rewards
    Eq. (10): r = T^Target - t^total - r^penalty, with t^total the per-request objective
    of (4) and the penalty when the quality constraint (4e) fails.

    ## Starting State
    `reset(seed=...)` drops the users and draws the first request from the seeded
    generator. `reset()` without a seed keeps the world and draws on.

    ## Episode End
    Never terminated (the world runs on); truncated after `offloading.episode_steps`.

    ## Arguments
    `config`: an `OffloadingEnvConfig`, a mapping validated into one, or None for the paper defaults.

    ## Example
    >>> import gymnasium as gym, environment
    >>> env = gym.make("EdgeICL/Offloading-v0")
    >>> obs, info = env.reset(seed=1)
    >>> obs, reward, terminated, truncated, info = env.step(info["oracle_action"])
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(self, config: OffloadingEnvConfig | dict[str, Any] | None = None, render_mode: str | None = None) -> None:
        self.config = config if isinstance(config, OffloadingEnvConfig) else offloading_env_config(config)
        self.edge_llm: LLMProfile = llm_profile(self.config.offloading.edge_llm)
        self.cloud_llm: LLMProfile = llm_profile(self.config.offloading.cloud_llm)
        self.render_mode = render_mode
        tasks = self.config.tasks
        self.service_names = [s.name for s in tasks.services]
        self.token_level_names = list(tasks.token_level_names)
        self.observation_space = spaces.MultiDiscrete([len(self.service_names), len(self.token_level_names)])
        self.action_space = spaces.Discrete(len(DECISIONS))
        self.scenario: Scenario | None = None
        self.request: Request | None = None
        self.capacity_bps: np.ndarray | None = None
        self.steps_in_episode = 0

    # --- the two faces of one state -------------------------------------------------
    def observation(self, request: Request) -> np.ndarray:
        """The vector face of the state of eq. (8)."""
        return np.array([self.service_names.index(request.service), request.token_level], dtype=np.int64)

    def keywords(self, request: Request) -> dict[str, str]:
        """The text face of the state of eq. (8): the keyword values a prompt shows."""
        return {"service_type": request.service, "token_size": request.token_level_name}

    def describe(self, request: Request) -> str:
        """The query x of eq. (8) as one line of text."""
        kw = self.keywords(request)
        return f"Service type: {kw['service_type']}; Estimated output token size: {kw['token_size']}"

    # --- decisions --------------------------------------------------------------------
    def evaluate(self, action: int) -> Outcome:
        """Evaluate `action` on the current request without stepping."""
        assert self.scenario is not None and self.request is not None, "call reset() first"
        capacity = float(self.capacity_bps[self.request.user])
        return evaluate_decision(self.config, self.edge_llm, self.cloud_llm, self.request, capacity, int(action))

    def oracle_action(self) -> int:
        """The exact per-request optimum: argmax of reward (10) given the true state (ties: local)."""
        rewards = [self.evaluate(a).reward for a in range(len(DECISIONS))]
        return int(np.argmax(rewards))

    def _next_request(self) -> dict[str, Any]:
        assert self.scenario is not None
        self.request = self.scenario.sample_request()
        self.capacity_bps = self.scenario.schedule()
        return {
            "keywords": self.keywords(self.request),
            "text": self.describe(self.request),
            "request": asdict(self.request),
            "oracle_action": self.oracle_action(),
        }

    # --- Gymnasium API ----------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if self.scenario is None or seed is not None:
            self.scenario = Scenario(self.config, self.np_random)
        self.steps_in_episode = 0
        info = self._next_request()
        return self.observation(self.request), info

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if not self.action_space.contains(action):
            raise ValueError(f"action must be 0 (local) or 1 (offload), got {action!r}")
        request = self.request
        outcome = self.evaluate(int(action))
        oracle = self.oracle_action()
        oracle_outcome = self.evaluate(oracle)
        self.steps_in_episode += 1
        info = {
            "executed_request": asdict(request),
            "decision": DECISIONS[outcome.action],
            "capacity_bps": outcome.capacity_bps,
            "transmission_s": outcome.transmission_s,
            "generation_s": outcome.generation_s,
            "total_delay_s": outcome.total_delay_s,
            "quality_met": outcome.quality_met,
            "reward": outcome.reward,
            "executed_oracle_action": oracle,
            "oracle_reward": oracle_outcome.reward,
        }
        info.update(self._next_request())
        truncated = self.steps_in_episode >= self.config.offloading.episode_steps
        return self.observation(self.request), float(outcome.reward), False, truncated, info

    def render(self) -> str | None:
        if self.render_mode == "ansi" and self.request is not None:
            return self.describe(self.request) + "\n"
        return None
