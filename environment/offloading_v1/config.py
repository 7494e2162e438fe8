"""Validated configuration of Offloading-v1: an edge LLM server with a queue and a moving cloud.

The radio (user drop, PF downlink) is the shared world's `RadioConfig`; the model
choices (edge and cloud LLM, the edge's serving profile) and v1's own request stream
live here, not in the shared `WorldConfig`. Every default says where it comes from: the ICL paper
(papers/icl-task-offloading.txt), a measurement, a standard, a price list, or "ours".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from environment.config import MAX_STEPS, RadioConfig, StrictConfig, read_yaml, validate


class ServiceV1(StrictConfig):
    """One generation service: its prompt and output sizes and the quality its users ask for."""

    name: str
    # Kept from v0 (ICL IV-A: regular vs quality-preferred) for the success-rate metric;
    # the decision no longer follows from it, since required quality overlaps.
    task_class: str = Field(pattern="^(regular|quality-preferred)$")
    # Mean output tokens; their average over the default services is 1,000 (ICL IV-A).
    mean_output_tokens: float = Field(gt=0)
    # Mean prompt (input) tokens; ours: short chat turns, a text to translate as long as
    # its translation, a question, and a question about an attached document.
    mean_prompt_tokens: float = Field(gt=0)
    # Bytes the user uploads per prompt token; None: plain text, the request stream's
    # `token_bytes` (4, ICL IV-A). A service whose users attach files (a document to ask
    # about) uploads the file, far more bytes per token of the text it holds.
    prompt_bytes_per_token: float | None = Field(None, gt=0)
    # Required quality tau ~ U[low, high] of constraint (4e), on the MMLU scale of
    # llm_profiles.yaml; ours: every range straddles the edge model's index (0.684 for
    # Llama3-8B) so the same service goes either way, and stays below the cloud's (0.887).
    quality_low: float = Field(ge=0, le=1)
    quality_high: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> "ServiceV1":
        if self.quality_low > self.quality_high:
            raise ValueError("quality_low must be <= quality_high")
        return self


def _default_services() -> list[ServiceV1]:
    return [
        ServiceV1(name="chatting", task_class="regular", mean_output_tokens=600, mean_prompt_tokens=200, quality_low=0.45, quality_high=0.80),
        ServiceV1(name="translation", task_class="regular", mean_output_tokens=800, mean_prompt_tokens=800, quality_low=0.50, quality_high=0.85),
        ServiceV1(name="reasoning", task_class="quality-preferred", mean_output_tokens=1400, mean_prompt_tokens=400, quality_low=0.60, quality_high=0.88),
        # Questions about an attached document: ours, a text PDF of about 180 kB for its
        # 3,000 tokens of text (60 bytes per token: fonts, layout and compression overhead).
        ServiceV1(name="knowledge", task_class="quality-preferred", mean_output_tokens=1200, mean_prompt_tokens=3000,
                  prompt_bytes_per_token=60.0, quality_low=0.55, quality_high=0.88),
    ]


class RequestStreamConfig(StrictConfig):
    """Requests arriving at the edge in continuous time."""

    # At most 100 services: each is a keyword value the prompt and the pool tell apart.
    services: list[ServiceV1] = Field(default_factory=_default_services, min_length=1, max_length=100)
    # Poisson arrival rate (requests/s) of the cell whose requests are decided (one step
    # each). Ours: 0.1, one request per 200 s from each of the 20 users. At least 0.01
    # (one request per 100 s): between two of its requests the edge site's arrivals are
    # simulated one by one, edge.arrival_rate_per_s / this many per step (at most 100).
    arrival_rate_per_s: float = Field(0.1, ge=0.01)
    # Output tokens ~ Gamma(shape, mean/shape), as in v0 (coefficient of variation 1/sqrt(8)).
    token_gamma_shape: float = Field(8.0, gt=0)
    # Prompt tokens ~ Gamma(shape, mean/shape); ours, wider than the outputs.
    prompt_gamma_shape: float = Field(4.0, gt=0)
    # The dispatcher sees an estimate of the output size: true tokens x LogNormal(0, sigma).
    # Ours: a length predictor within about +-25 % (one sigma).
    estimate_log_sigma: float = Field(0.25, ge=0)
    # ICL IV-A: "each token corresponds to about 4 bytes" (OpenAI).
    token_bytes: float = Field(4.0, gt=0)
    # v0's token levels (keyword 2 of eq. 8), applied to the estimated output tokens; at
    # most 100, keyword values as services.
    token_level_edges: list[float] = Field(default_factory=lambda: [500.0, 1500.0, 2500.0], max_length=100)
    token_level_names: list[str] = Field(default_factory=lambda: ["short", "medium", "long", "very long"], max_length=101)

    @model_validator(mode="after")
    def _consistent(self) -> "RequestStreamConfig":
        if len(self.token_level_names) != len(self.token_level_edges) + 1:
            raise ValueError("token_level_names needs one name more than token_level_edges has edges")
        if sorted(self.token_level_edges) != list(self.token_level_edges):
            raise ValueError("token_level_edges must be increasing")
        names = [s.name for s in self.services]
        if len(set(names)) != len(names):
            raise ValueError("service names must be unique")
        return self


class EdgeServerConfig(StrictConfig):
    """The edge LLM server at the base station."""

    # ICL IV-A: Llama3-8B at the edge; its quality index comes from llm_profiles.yaml.
    llm: str = "llama3-8b"
    # Decode slowdown vs batch and prefill speed, from serving_profiles.yaml (a measurement).
    serving_profile: str = "llama-7b-f16-llamacpp"
    # True: TPOT(b) = the edge LLM's TPOT of llm_profiles.yaml (ICL IV-A: 1/75 s for
    # Llama3-8B) x the profile's measured slowdown TPOT(b)/TPOT(1). False: the profile's
    # measured TPOT(b) itself (24 ms at b = 1 for the default profile).
    anchor_tpot_to_llm: bool = True
    # Most requests decoded at once. The default profile was measured with a KV cache of
    # 16,384 tokens (8 GB, "N_KV_MAX = 16384"): 8 requests of 2,048 tokens of context.
    max_batch: int = Field(8, ge=1)
    # The edge site serves the requests of every cell around it: they arrive as a Poisson
    # process of this rate (requests/s), with the services of `requests`, and always run
    # at the edge. This is the load knob. Ours: 0.2, about 80 % of what the default edge
    # decodes at its full batch (8 slots / (1,000 tokens x 31.8 ms) = 0.25 requests/s).
    # At most 1 request/s, 4 x what the default site decodes. Beyond its capacity the
    # queue only grows, and every arrival scans it: an overloaded site slows down as a run
    # goes on (scripts/measure_bounds.py: 12 ms a step over 1,000 steps at the bound).
    arrival_rate_per_s: float = Field(0.2, gt=0, le=1.0)
    # Whether the requests this dispatcher keeps take an edge slot too. False (default):
    # the cell is a small share of the site's load, so its decisions leave the queue to
    # the other cells and the per-request oracle is the best any policy can do. True: its
    # kept requests queue as well; then the per-request optimum over-uses the edge (Naor,
    # 1969) and is no longer an upper bound (docs/results-offloading-v1.md).
    cell_requests_join_queue: bool = False
    # The site has been running this long when the first request of the cell arrives (s).
    # At most an hour: its arrivals are simulated one by one before the first step.
    warmup_s: float = Field(600.0, ge=0, le=3600.0)


class CongestionLevel(StrictConfig):
    """One level of the cloud's congestion (a state of the Markov-modulated latency)."""

    name: str
    # Mean extra latency of the backhaul + cloud API at this level (s); ours.
    latency_s: float = Field(gt=0)
    # Mean time the cloud stays at this level (s): exponential sojourns; ours.
    mean_sojourn_s: float = Field(gt=0)


def _default_congestion() -> list[CongestionLevel]:
    return [
        CongestionLevel(name="normal", latency_s=0.5, mean_sojourn_s=600.0),
        CongestionLevel(name="busy", latency_s=4.0, mean_sojourn_s=300.0),
        CongestionLevel(name="congested", latency_s=15.0, mean_sojourn_s=200.0),
    ]


class PriceLevel(StrictConfig):
    """One level of the cloud's price (a state of the Markov-modulated price)."""

    name: str
    # Multiplier on the list price; ours.
    multiplier: float = Field(gt=0)
    mean_sojourn_s: float = Field(gt=0)


def _default_prices() -> list[PriceLevel]:
    return [
        PriceLevel(name="standard", multiplier=1.0, mean_sojourn_s=900.0),
        PriceLevel(name="peak", multiplier=2.0, mean_sojourn_s=600.0),
    ]


class CloudConfig(StrictConfig):
    """The cloud LLM behind a backhaul whose latency and price move."""

    # ICL IV-A: GPT-4o in the cloud (TTFT, TPOT and quality from llm_profiles.yaml).
    llm: str = "gpt-4o"
    # Fixed part of t^back of eq. (1): v0's 0.1 s.
    backhaul_delay_s: float = Field(0.1, ge=0)
    # Backhaul rate carrying prompt and output bytes (bit/s); ours: a 100 Mbit/s link.
    backhaul_rate_bps: float = Field(100e6, gt=0)
    # Congestion levels, a birth-death Markov chain in continuous time (ordered levels);
    # at most 100, keyword values of the prompt.
    congestion: list[CongestionLevel] = Field(default_factory=_default_congestion, min_length=1, max_length=100)
    # Per-request spread of the latency around its level's mean: LogNormal sigma; ours.
    latency_log_sigma: float = Field(0.3, ge=0)
    # OpenAI API list price of gpt-4o (2024-08-06 snapshot): $2.50 per 1M input tokens,
    # $10.00 per 1M output tokens (openai.com/api/pricing).
    input_usd_per_mtok: float = Field(2.5, ge=0)
    output_usd_per_mtok: float = Field(10.0, ge=0)
    # Price levels, a second birth-death chain independent of the congestion; at most 100.
    prices: list[PriceLevel] = Field(default_factory=_default_prices, min_length=1, max_length=100)


class RadioLinkConfig(StrictConfig):
    """What v1 adds to the shared radio: the uplink carrying the prompt."""

    # Uplink capacity as a share of the user's PF downlink capacity. 3GPP TS 36.306
    # (UE category 4): peak 51,024 bits per TTI up vs 150,752 down, a ratio of 0.338.
    uplink_to_downlink: float = Field(0.338, gt=0)


class RewardConfig(StrictConfig):
    """Reward (10) plus the price of offloading."""

    # T^Target of eq. (10): v0's 50 s.
    target_delay_s: float = Field(50.0, gt=0)
    # r^penalty of eq. (10) when (4e) fails; ours: of the order of the delay a busy edge
    # or a congested cloud adds, so quality is traded against delay and price.
    quality_penalty: float = Field(20.0, ge=0)
    # Reward units (seconds of delay) one US dollar of cloud spend is worth; ours: a
    # 1,000-token answer at list price ($0.01) weighs 5 s.
    price_weight_per_usd: float = Field(500.0, ge=0)


class OffloadingV1Config(StrictConfig):
    """Everything an Offloading-v1 world is built from."""

    radio: RadioConfig = Field(default_factory=RadioConfig)
    uplink: RadioLinkConfig = Field(default_factory=RadioLinkConfig)
    requests: RequestStreamConfig = Field(default_factory=RequestStreamConfig)
    edge: EdgeServerConfig = Field(default_factory=EdgeServerConfig)
    cloud: CloudConfig = Field(default_factory=CloudConfig)
    reward: RewardConfig = Field(default_factory=RewardConfig)
    # Requests per episode before `truncated` (the world itself runs on); at most a run's
    # MAX_STEPS.
    episode_steps: int = Field(200, gt=0, le=MAX_STEPS)

    @model_validator(mode="after")
    def _known_models(self) -> "OffloadingV1Config":
        from environment.inference import llm_catalogue
        from environment.offloading_v1.serving_profile import serving_profile_names, serving_profile

        known = llm_catalogue()
        for where, name in (("edge.llm", self.edge.llm), ("cloud.llm", self.cloud.llm)):
            if name not in known:
                raise ValueError(f"{where}: unknown LLM {name!r}; known: {', '.join(sorted(known))}")
        profiles = serving_profile_names()
        if self.edge.serving_profile not in profiles:
            raise ValueError(f"edge.serving_profile: unknown profile {self.edge.serving_profile!r}; known: {', '.join(profiles)}")
        largest = max(serving_profile(self.edge.serving_profile).batch_sizes)
        if self.edge.max_batch > largest:
            raise ValueError(f"edge.max_batch: {self.edge.max_batch} is beyond the profile's largest measured batch {largest}")
        return self


def offloading_v1_config(data: dict[str, Any] | None = None) -> OffloadingV1Config:
    """Validate a mapping; raise ConfigError with a one-line message naming the field."""
    return validate(OffloadingV1Config, data, "offloading-v1 config")


def load_offloading_v1_config(path: str | Path | None) -> OffloadingV1Config:
    """Read and validate a YAML config; None gives the defaults."""
    return offloading_v1_config(None if path is None else read_yaml(path))
