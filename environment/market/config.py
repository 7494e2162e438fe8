"""Validated configuration of the LLM agent market (Xu et al., cached-model paper, IV-D, V, VI).

"Cached Model-as-a-Resource: Provisioning Large Language Model Agents for Edge
Intelligence in Space-air-ground Integrated Networks" (papers/cached-model-least-aot.txt).
Defaults follow section VI-A where the paper gives a value; every other default is
marked "ours" with why. Unknown fields are rejected, every number must be finite.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from environment.config import MAX_STEPS, StrictConfig, validate

# The price scaling factors alpha the auctioneer chooses from (V-B: alpha is computed
# from the level a in A, |A| the size of the action space; the mapping was lost in our
# copy). Ours: |A| = 11 levels alpha_a = 1 + 0.2 a, a = 0..10, i.e. 1.0, 1.2, ..., 3.0.
# alpha >= 1 is needed for strategy-proofness (the critical payment alpha x b_(2) must be
# at least the second bid); at the defaults the ratio b_(1)/b_(2) of the two highest
# ground bids is below 3.0 in about 90 % of rounds.
DEFAULT_ALPHA_LEVELS: tuple[float, ...] = tuple(round(1.0 + 0.2 * a, 1) for a in range(11))

# VI-A: ImageBind [40] zero-shot performance by modality (images, videos, infrared,
# depth, audio, IMU) of the LLM agent's perception module.
IMAGEBIND_ACCURACY: tuple[float, ...] = (0.777, 0.500, 0.634, 0.540, 0.669, 0.250)


class MarketConfig(StrictConfig):
    """One LLM agent market: who bids, how valuations are drawn, the satellite's terms.

    Build from a mapping with `market_config`; `market_config(n_ground_bs=7)` overrides one field.
    """

    # --- who bids (IV-D) ---------------------------------------------------------------
    # VI-A: "the number of BSs is set to 5 by default"; Fig. 6(a) sweeps 3-7. At least two
    # ground BSs, so that a second-highest ground bid exists for (31)-(32).
    # At most 100 bidders (20 x the default): DQMSB's state and every round's auction
    # grow with them.
    n_ground_bs: int = Field(5, ge=2, le=100)

    # --- the LLM agent's services and users (VI-A) ---------------------------------------
    # VI-A: "The default number of services is set to 10"; Fig. 6(b) sweeps 10-18.
    # At most 1,000 services (Fig. 6(b): 10-18), as modalities below; one is drawn per round.
    n_services: int = Field(10, gt=0, le=1_000)
    # Zero-shot accuracy a0 of a service (eq. 20's zero-shot term) by its input modality;
    # service s has modality s mod 6 (ours: the paper lists the modalities, not which
    # service uses which, so services cycle through them in the paper's order).
    modality_accuracy: tuple[float, ...] = Field(IMAGEBIND_ACCURACY, min_length=1, max_length=1_000)
    # VI-A: "the default number of users is set to 10"; Fig. 6(d) sweeps it (5-25). At
    # most 10,000: each round draws the input size of every request.
    n_users: int = Field(10, gt=0, le=10_000)
    # VI-A: requests "generated from the Poisson point process depending on the number of
    # users". Rate per user per round: ours (one request per user per round). At most 100.
    requests_per_user: float = Field(1.0, gt=0, le=100)
    # VI-A: "The size of input data of LLM agent services is uniformly selected from
    # [100, 200] MB".
    input_size_mb: tuple[float, float] = (100.0, 200.0)

    # --- GPUs and cached models at each ground BS (III-C, VI-A) ----------------------------
    # VI-A: "the default number of GPUs at ground BSs is set to 24" (per ground BS in our
    # reading); Fig. 6(c) sweeps it. VI-A: "For each GPU ..., the memory is 80 GB".
    # At most 1,000 GPUs (Fig. 6(c): 16-32): a count in the cache-hit formula, bounded as
    # every size of a config is.
    n_gpus: int = Field(24, gt=0, le=1_000)
    gpu_memory_gb: float = Field(80.0, gt=0)
    # VI-A: "The total number of reasoning LLMs is set to 10", LLaMA-65B and GPT3-175B.
    # Runtime memory: 2 bytes per parameter (fp16), 130 and 350 GB (ours: the paper names
    # the models, not their footprint); a cached model takes the mean, 240 GB.
    # At most 1,000 LLMs and footprints (100 x VI-A's 10), counts in the cache-hit formula.
    n_llms: int = Field(10, gt=0, le=1_000)
    llm_memory_gb: tuple[float, ...] = Field((130.0, 350.0), min_length=1, max_length=1_000)
    # A ground BS that has not cached the LLM the agent needs serves it with an equivalent
    # model at an accuracy cost (eq. 24): its match quality is scaled by this factor (ours).
    cache_miss_factor: float = Field(0.6, gt=0, le=1)

    # --- valuations v = common value x match quality (IV-D) --------------------------------
    # Common value c = value_per_mb x omega x (MB the agent's requests move this round):
    # the resource consumption of IV-D priced at a unit value (ours: sets the unit of all
    # surpluses) times a market price shock omega ~ LogNormal(-s^2/2, s), mean 1.
    value_per_mb: float = Field(0.01, gt=0)
    # s above (ours). It is the correlation knob: the larger s, the more of a valuation's
    # spread is common to all bidders, the more positively correlated the valuations
    # (at the defaults the correlation of log v_i and log v_j is about 0.67).
    common_value_sigma: float = Field(0.6, ge=0)
    # Idiosyncratic match quality eps_i of ground BS i (IV-D, [16]): iid draws from this
    # distribution, scaled by a0 and the cache factor. "pareto": Pareto(match_pareto_shape)
    # on [1, inf) (numpy's Lomax + 1); "lognormal": LogNormal(0, match_sigma). Ours:
    # Pareto with shape 2, the heavy-tailed match values for which ABM [16] show the MSB
    # auction near first-best (their 94.8 % bound).
    match_distribution: Literal["lognormal", "pareto"] = "pareto"
    match_sigma: float = Field(0.5, gt=0)
    match_pareto_shape: float = Field(2.0, gt=1)
    # The satellite relays the agent to the cloud, whose most accurate model has minimal
    # accuracy cost (IV-A2): its match quality is a0 x satellite_quality, with no
    # idiosyncratic part (it cannot measure per-opportunity performance, IV-D). Ours: 2.5,
    # which makes the satellite the efficient winner in about a third of default rounds.
    satellite_quality: float = Field(2.5, gt=0)
    # V-A: the satellite's "contracted price is chosen to maximize its expected profit".
    # Ours: the contract price is this share of the satellite's unconditional expected
    # value E[c] x mean(a0) x satellite_quality; it is also the satellite's constant bid
    # in the second-price auction (it cannot value a single opportunity).
    contract_price_share: float = Field(0.9, gt=0)

    # --- the satellite's coverage (III-A eq. 1, constraint 30b) -----------------------------
    # Ours (VI-A: "satellite-related settings follow [2]", not in our copy): a 550 km LEO
    # shell, 10 degree minimum elevation, Earth radius 6371 km, circular-orbit velocity.
    satellite_altitude_km: float = Field(550.0, gt=0)
    min_elevation_deg: float = Field(10.0, ge=0, lt=90)
    earth_radius_km: float = Field(6371.0, gt=0)
    # Ours: user-to-satellite-to-cloud throughput and cloud inference time per request.
    satellite_rate_mbps: float = Field(100.0, gt=0)
    cloud_inference_s: float = Field(2.0, ge=0)

    # --- the auctioneer (V) -----------------------------------------------------------------
    # At most 100 levels: DQMSB's action space and the ICL agent's candidates (each one
    # scored per round).
    alpha_levels: tuple[float, ...] = Field(DEFAULT_ALPHA_LEVELS, min_length=2, max_length=100)
    # The fixed alpha of the plain MSB baseline (ours: the middle of the grid, chosen
    # without data; "optimal" MSB fits it instead).
    msb_alpha: float = 2.0
    # VI-A: "We evaluate the proposed algorithm within 100 time steps": an episode (the
    # "epoch" of Fig. 5) is 100 auction rounds.
    rounds_per_episode: int = Field(100, gt=0, le=MAX_STEPS)

    @model_validator(mode="after")
    def _consistent(self) -> "MarketConfig":
        low, high = self.input_size_mb
        if not 0 < low <= high:
            raise ValueError(f"input_size_mb: need 0 < low <= high, got ({low}, {high})")
        if any(not 0 < a <= 1 for a in self.modality_accuracy):
            raise ValueError("modality_accuracy: every accuracy must be in (0, 1]")
        if any(m <= 0 for m in self.llm_memory_gb):
            raise ValueError("llm_memory_gb: every model needs a positive footprint")
        levels = self.alpha_levels
        if levels[0] < 1 or any(b <= a for a, b in zip(levels, levels[1:])):
            raise ValueError("alpha_levels: need strictly increasing levels, all >= 1 (alpha < 1 is not strategy-proof)")
        if self.msb_alpha not in levels:
            raise ValueError(f"msb_alpha: {self.msb_alpha} is not one of alpha_levels {list(levels)}")
        return self


def market_config(data: dict[str, Any] | None = None, **overrides: Any) -> MarketConfig:
    """Validate a mapping (plus keyword overrides) into a MarketConfig; ConfigError names the field."""
    return validate(MarketConfig, {**(data or {}), **overrides}, "market config")
