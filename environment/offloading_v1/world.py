"""The seeded world of Offloading-v1: arrivals, requests, radio, cloud state and the edge queue.

Built on the shared world: `environment.world.Scenario` drops the users and gives
their PF downlink capacities (eq. 2); `environment.inference` gives the LLM profiles.
Every random draw comes from one generator, in a fixed order per request, so the same
seed gives the same requests, radio, cloud and edge queue whatever is decided. The edge
queue is the site's: the other cells' requests, which always run there; the requests
this cell keeps join it only with `edge.cell_requests_join_queue`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from environment.config import WorldConfig
from environment.inference import LLMProfile, llm_profile
from environment.offloading.formulas import quality_met
from environment.offloading_v1.cloud import BirthDeathChain
from environment.offloading_v1.config import OffloadingV1Config, ServiceV1
from environment.offloading_v1.edge_server import EdgePlan, EdgeServer
from environment.offloading_v1.formulas import (
    anchored_tpot,
    backhaul_delay,
    cloud_service_delay,
    content_download_delay,
    local_service_delay,
    mean_preserving_lognormal,
    offloading_cost_usd,
    poisson_interarrival,
    priced_offloading_reward,
    prompt_upload_delay,
    uplink_capacity,
)
from environment.offloading_v1.serving_profile import ServingProfile, serving_profile
from environment.world import Scenario, token_level

LOCAL, OFFLOAD = 0, 1


@dataclass(frozen=True)
class RequestV1:
    """One generation request as it arrives at the edge (true sizes and the dispatcher's estimate)."""

    index: int
    arrival_s: float
    user: int
    service: str
    task_class: str
    prompt_tokens: int
    prompt_token_bytes: float
    n_tokens: int
    estimated_tokens: int
    token_level: int
    token_level_name: str
    required_quality: float


@dataclass(frozen=True)
class Conditions:
    """The radio and the cloud when a request arrives."""

    downlink_bps: float
    uplink_bps: float
    cloud_level: str
    cloud_latency_s: float
    recent_cloud_latency_s: float
    price_level: str
    price_multiplier: float


@dataclass(frozen=True)
class OutcomeV1:
    """What one decision on one request gives."""

    action: int
    upload_s: float
    waiting_s: float
    slot_wait_s: float
    backhaul_s: float
    cloud_latency_s: float
    generation_s: float
    download_s: float
    total_delay_s: float
    edge_batch: int
    cost_usd: float
    quality_met: bool
    reward: float


def edge_tpot_by_batch(config: OffloadingV1Config, edge_llm: LLMProfile, profile: ServingProfile) -> list[float]:
    """The edge's TPOT at decode batch 1 .. max_batch: anchored to the LLM's or as measured."""
    batches = range(1, config.edge.max_batch + 1)
    if config.edge.anchor_tpot_to_llm:
        return [anchored_tpot(edge_llm.tpot_s, profile.slowdown(b)) for b in batches]
    return [profile.tpot(b) for b in batches]


class WorldV1:
    """The world a v1 environment steps through.

    Parameters
    ----------
    config: the validated v1 configuration.
    rng: the run's generator (every draw, in a fixed order per request).
    """

    def __init__(self, config: OffloadingV1Config, rng: np.random.Generator) -> None:
        self.config = config
        self.rng = rng
        self.scenario = Scenario(WorldConfig(radio=config.radio), rng)
        self.edge_llm: LLMProfile = llm_profile(config.edge.llm)
        self.cloud_llm: LLMProfile = llm_profile(config.cloud.llm)
        self.profile: ServingProfile = serving_profile(config.edge.serving_profile)
        self.edge = EdgeServer(edge_tpot_by_batch(config, self.edge_llm, self.profile), self.profile.ttft)
        cloud = config.cloud
        self.congestion = BirthDeathChain([level.mean_sojourn_s for level in cloud.congestion], rng)
        self.prices = BirthDeathChain([level.mean_sojourn_s for level in cloud.prices], rng)
        self.next_site_arrival_s = poisson_interarrival(rng, config.edge.arrival_rate_per_s)
        self.now_s = config.edge.warmup_s
        self.index = -1
        # The edge probes the cloud with every request; before the first, one probe at t = 0.
        self.last_probe_s = self._cloud_latency()

    def _cloud_latency(self) -> float:
        level = self.config.cloud.congestion[self.congestion.level]
        return mean_preserving_lognormal(self.rng, level.latency_s, self.config.cloud.latency_log_sigma)

    def _draw_sizes(self, service: ServiceV1) -> tuple[int, int, int]:
        """Output tokens, the dispatcher's estimate of them, and prompt tokens of one request."""
        cfg = self.config.requests
        n_tokens = max(1, int(round(self.rng.gamma(cfg.token_gamma_shape, service.mean_output_tokens / cfg.token_gamma_shape))))
        estimated = max(1, int(round(n_tokens * self.rng.lognormal(0.0, cfg.estimate_log_sigma))))
        prompt = max(1, int(round(self.rng.gamma(cfg.prompt_gamma_shape, service.mean_prompt_tokens / cfg.prompt_gamma_shape))))
        return n_tokens, estimated, prompt

    def _admit_site_traffic(self, until_s: float) -> None:
        """Admit the other cells' requests arriving at the edge up to `until_s` (always local)."""
        services = self.config.requests.services
        while self.next_site_arrival_s <= until_s:
            service = services[int(self.rng.integers(len(services)))]
            n_tokens, estimated, prompt = self._draw_sizes(service)
            self.edge.commit(self.edge.plan(self.next_site_arrival_s, 0.0, prompt, n_tokens, estimated))
            self.next_site_arrival_s += poisson_interarrival(self.rng, self.config.edge.arrival_rate_per_s)

    def next_request(self) -> tuple[RequestV1, Conditions]:
        """Advance to the next arrival; draw the request and the conditions it meets."""
        cfg = self.config.requests
        self.now_s += poisson_interarrival(self.rng, cfg.arrival_rate_per_s)
        self.index += 1
        self._admit_site_traffic(self.now_s)
        self.congestion.advance(self.now_s)
        self.prices.advance(self.now_s)
        self.edge.forget_finished(self.now_s)
        downlink = self.scenario.schedule()
        user = int(self.rng.integers(self.config.radio.n_users))
        service = cfg.services[int(self.rng.integers(len(cfg.services)))]
        n_tokens, estimated, prompt = self._draw_sizes(service)
        required = float(self.rng.uniform(service.quality_low, service.quality_high))
        level = token_level(estimated, cfg.token_level_edges)
        request = RequestV1(
            index=self.index,
            arrival_s=self.now_s,
            user=user,
            service=service.name,
            task_class=service.task_class,
            prompt_tokens=prompt,
            prompt_token_bytes=service.prompt_bytes_per_token or cfg.token_bytes,
            n_tokens=n_tokens,
            estimated_tokens=estimated,
            token_level=level,
            token_level_name=cfg.token_level_names[level],
            required_quality=required,
        )
        cloud_latency = self._cloud_latency()
        conditions = Conditions(
            downlink_bps=float(downlink[user]),
            uplink_bps=uplink_capacity(float(downlink[user]), self.config.uplink.uplink_to_downlink),
            cloud_level=self.config.cloud.congestion[self.congestion.level].name,
            cloud_latency_s=cloud_latency,
            recent_cloud_latency_s=self.last_probe_s,
            price_level=self.config.cloud.prices[self.prices.level].name,
            price_multiplier=self.config.cloud.prices[self.prices.level].multiplier,
        )
        self.last_probe_s = cloud_latency
        return request, conditions

    def output_price_usd_per_mtok(self, conditions: Conditions) -> float:
        """The cloud's current output-token price (USD per 1M tokens)."""
        return self.config.cloud.output_usd_per_mtok * conditions.price_multiplier

    def estimated_offload_cost_usd(self, request: RequestV1, conditions: Conditions) -> float:
        """What offloading `request` costs by the dispatcher's estimate: the posted prices times
        its prompt and its estimated (not its true) output tokens."""
        cloud = self.config.cloud
        return offloading_cost_usd(request.prompt_tokens, request.estimated_tokens, cloud.input_usd_per_mtok, cloud.output_usd_per_mtok, conditions.price_multiplier)

    # --- the two outcomes ---------------------------------------------------------------
    def plan_local(self, request: RequestV1, conditions: Conditions) -> EdgePlan:
        upload = prompt_upload_delay(request.prompt_tokens, request.prompt_token_bytes, conditions.uplink_bps)
        return self.edge.plan(request.arrival_s, upload, request.prompt_tokens, request.n_tokens, request.estimated_tokens)

    def outcomes(self, request: RequestV1, conditions: Conditions, plan: EdgePlan) -> tuple[OutcomeV1, OutcomeV1]:
        """The exact outcome of keeping the request (given `plan`) and of offloading it."""
        cfg = self.config
        token_bytes = cfg.requests.token_bytes
        upload = prompt_upload_delay(request.prompt_tokens, request.prompt_token_bytes, conditions.uplink_bps)
        download = content_download_delay(request.n_tokens, token_bytes, conditions.downlink_bps)
        reward = cfg.reward

        local_generation = plan.finish_s - plan.start_s
        local_delay = local_service_delay(plan.waiting_s, plan.ttft_s, plan.tpot_s, request.n_tokens, download)
        local_met = quality_met(request.required_quality, self.edge_llm.quality_index, self.cloud_llm.quality_index, offloaded=False)
        local = OutcomeV1(
            action=LOCAL,
            upload_s=upload,
            waiting_s=plan.waiting_s,
            slot_wait_s=plan.slot_wait_s,
            backhaul_s=0.0,
            cloud_latency_s=0.0,
            generation_s=local_generation,
            download_s=download,
            total_delay_s=local_delay,
            edge_batch=plan.batch,
            cost_usd=0.0,
            quality_met=local_met,
            reward=priced_offloading_reward(reward.target_delay_s, local_delay, reward.quality_penalty, local_met, reward.price_weight_per_usd, 0.0),
        )

        backhaul = backhaul_delay(
            request.prompt_tokens, request.prompt_token_bytes, request.n_tokens, token_bytes, cfg.cloud.backhaul_rate_bps, cfg.cloud.backhaul_delay_s
        )
        cloud_generation = float(self.cloud_llm.generation_time(request.n_tokens))
        cloud_delay = cloud_service_delay(upload, backhaul, conditions.cloud_latency_s, cloud_generation, download)
        cost = offloading_cost_usd(request.prompt_tokens, request.n_tokens, cfg.cloud.input_usd_per_mtok, cfg.cloud.output_usd_per_mtok, conditions.price_multiplier)
        cloud_met = quality_met(request.required_quality, self.edge_llm.quality_index, self.cloud_llm.quality_index, offloaded=True)
        offload = OutcomeV1(
            action=OFFLOAD,
            upload_s=upload,
            waiting_s=0.0,
            slot_wait_s=0.0,
            backhaul_s=backhaul,
            cloud_latency_s=conditions.cloud_latency_s,
            generation_s=cloud_generation,
            download_s=download,
            total_delay_s=cloud_delay,
            edge_batch=0,
            cost_usd=cost,
            quality_met=cloud_met,
            reward=priced_offloading_reward(reward.target_delay_s, cloud_delay, reward.quality_penalty, cloud_met, reward.price_weight_per_usd, cost),
        )
        return local, offload
