"""Auction rounds of the LLM agent market: what is drawn, in which order, from which generator.

One round is one opportunity to serve the LLM agent (IV-D). Its draws, in this order,
from the `numpy.random.Generator` passed in (same seed, same rounds, bit for bit):

1. the agent's service s ~ U{0..S-1} and its zero-shot accuracy a0 (modality s mod 6);
2. the match qualities, from the `MatchQualityModel` (the hook below);
3. the requests n = max(1, Poisson(requests_per_user x users)) and their input sizes;
4. the market price shock omega ~ LogNormal(-s^2/2, s) of the common value;
5. the satellite's remaining coverage time ~ U[0, T_s], T_s of eq. (1).

Ground BSs bid truthfully, b_i = v_i: it is a dominant strategy under MSB with a fixed
alpha (Theorem 2; tests/test_auction_properties.py checks it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from environment.market.config import MarketConfig
from environment.market.formulas import (
    SATELLITE,
    AuctionOutcome,
    cache_hit_probability,
    common_value,
    contract_price,
    coverage_time,
    expected_requests,
    first_best_winner,
    ground_surplus,
    orbital_velocity,
    provisioning_time,
    resource_consumption,
    satellite_can_serve,
    satellite_surplus,
    total_surplus,
    valuation,
)


class MatchQualityModel(Protocol):
    """The hook for match qualities m_i (IV-D: "the match performance gain obtained in Eq. (20)").

    Used alone, the market draws them from `DistributionMatchQuality` (the configured
    distribution). The caching problem (environment/caching/, eq. 20: few-shot CoT
    accuracy of the model each BS has cached) can supply them instead by implementing
    this protocol and passing it to `Market(config, match_quality=...)`.
    """

    def draw(self, rng: np.random.Generator, service: int, zero_shot_accuracy: float, n_ground: int) -> tuple[NDArray[np.float64], float]:
        """Match qualities of the N ground BSs (N,) and of the satellite for this round's service."""
        ...

    def prior_ground_to_satellite(self) -> float:
        """E[m_i] / m_0: the prior an auctioneer knows without any history (myopic MSB uses it)."""
        ...


class DistributionMatchQuality:
    """Match qualities from the configured distribution: m_i = a0 x f_i x eps_i, m_0 = a0 x q_0.

    f_i = 1 if ground BS i has the agent's LLM cached (probability from constraint (3)),
    else `cache_miss_factor` (accuracy cost, eq. 24); eps_i iid `match_distribution`.
    The satellite relays to the cloud's most accurate model (IV-A2): no idiosyncratic part.

    Parameters
    ----------
    config: the market's configuration.
    """

    def __init__(self, config: MarketConfig) -> None:
        self.config = config
        self.hit_probability = cache_hit_probability(config.n_gpus, config.gpu_memory_gb, config.n_llms, float(np.mean(config.llm_memory_gb)))

    def _idiosyncratic(self, rng: np.random.Generator, size: int) -> NDArray[np.float64]:
        if self.config.match_distribution == "lognormal":
            return rng.lognormal(0.0, self.config.match_sigma, size)
        return 1.0 + rng.pareto(self.config.match_pareto_shape, size)

    def mean_idiosyncratic(self) -> float:
        """E[eps]: exp(sigma^2 / 2) (lognormal) or k / (k - 1) (Pareto on [1, inf))."""
        if self.config.match_distribution == "lognormal":
            return math.exp(self.config.match_sigma**2 / 2)
        k = self.config.match_pareto_shape
        return k / (k - 1)

    def draw(self, rng: np.random.Generator, service: int, zero_shot_accuracy: float, n_ground: int) -> tuple[NDArray[np.float64], float]:
        cached = rng.random(n_ground) < self.hit_probability
        factor = np.where(cached, 1.0, self.config.cache_miss_factor)
        ground = zero_shot_accuracy * factor * self._idiosyncratic(rng, n_ground)
        return ground, zero_shot_accuracy * self.config.satellite_quality

    def prior_ground_to_satellite(self) -> float:
        p = self.hit_probability
        mean_factor = p + (1 - p) * self.config.cache_miss_factor
        return mean_factor * self.mean_idiosyncratic() / self.config.satellite_quality


@dataclass(frozen=True)
class MarketRound:
    """One auction round: the opportunity, every bidder's valuation, the satellite's coverage.

    Parameters
    ----------
    index: the round's number in its stream (0-based).
    service: the agent's service s; zero_shot_accuracy its a0.
    n_requests, data_mb: the agent's requests this round and the megabytes they move.
    price_shock: omega; common_value: c.
    ground_match (N,), satellite_match: m_i, m_0.
    ground_values (N,), satellite_value: v_i = c m_i, v_0 = c m_0.
    provisioning_s, remaining_coverage_s: the two sides of (30b); satellite_available: (30b) holds.
    """

    index: int
    service: int
    zero_shot_accuracy: float
    n_requests: int
    data_mb: float
    price_shock: float
    common_value: float
    ground_match: NDArray[np.float64]
    satellite_match: float
    ground_values: NDArray[np.float64]
    satellite_value: float
    provisioning_s: float
    remaining_coverage_s: float
    satellite_available: bool

    @property
    def bids(self) -> NDArray[np.float64]:
        """The ground BSs' bids: truthful, b_i = v_i (dominant under MSB with fixed alpha, Theorem 2)."""
        return self.ground_values

    @property
    def n_ground(self) -> int:
        return int(self.ground_values.shape[0])


class Market:
    """The market's fixed quantities (coverage time, contract price, ...) and its round generator.

    Parameters
    ----------
    config: the market's configuration.
    match_quality: where match qualities come from; None = the configured distribution.
    """

    def __init__(self, config: MarketConfig, match_quality: MatchQualityModel | None = None) -> None:
        self.config = config
        self.match_quality = match_quality or DistributionMatchQuality(config)
        velocity = orbital_velocity(config.satellite_altitude_km, config.earth_radius_km)
        self.coverage_s = coverage_time(config.satellite_altitude_km, config.min_elevation_deg, config.earth_radius_km, velocity)
        self.zero_shot = np.array([config.modality_accuracy[s % len(config.modality_accuracy)] for s in range(config.n_services)])
        mean_requests = config.requests_per_user * config.n_users
        self.expected_common_value = config.value_per_mb * expected_requests(mean_requests) * float(np.mean(config.input_size_mb))
        self.contract_price = contract_price(config.contract_price_share, self.expected_common_value, float(np.mean(self.zero_shot)), config.satellite_quality)

    @property
    def bid_scale(self) -> float:
        """A typical ground bid, E[c] x mean a0 x E[m_i]/a0 (to put bids on a unit scale for learners)."""
        ratio = self.match_quality.prior_ground_to_satellite() * self.config.satellite_quality
        return self.expected_common_value * float(np.mean(self.zero_shot)) * ratio

    def draw_round(self, rng: np.random.Generator, index: int = 0) -> MarketRound:
        """Draw one round from `rng` (the order of draws is the module docstring's)."""
        cfg = self.config
        service = int(rng.integers(cfg.n_services))
        a0 = float(self.zero_shot[service])
        ground_match, satellite_match = self.match_quality.draw(rng, service, a0, cfg.n_ground_bs)
        n_requests = max(1, int(rng.poisson(cfg.requests_per_user * cfg.n_users)))
        data_mb = resource_consumption(rng.uniform(*cfg.input_size_mb, size=n_requests))
        s = cfg.common_value_sigma
        shock = float(rng.lognormal(-s * s / 2, s))
        c = common_value(data_mb, cfg.value_per_mb, shock)
        remaining = float(rng.uniform(0.0, self.coverage_s))
        provisioning = provisioning_time(data_mb, n_requests, cfg.satellite_rate_mbps, cfg.cloud_inference_s)
        return MarketRound(
            index=index,
            service=service,
            zero_shot_accuracy=a0,
            n_requests=n_requests,
            data_mb=data_mb,
            price_shock=shock,
            common_value=c,
            ground_match=np.asarray(ground_match, dtype=float),
            satellite_match=float(satellite_match),
            ground_values=valuation(c, ground_match),
            satellite_value=float(valuation(c, satellite_match)),
            provisioning_s=provisioning,
            remaining_coverage_s=remaining,
            satellite_available=satellite_can_serve(provisioning, remaining),
        )

    def draw_rounds(self, rng: np.random.Generator, count: int) -> list[MarketRound]:
        """`count` consecutive rounds from `rng`."""
        return [self.draw_round(rng, index) for index in range(count)]


def bidder_name(index: int) -> str:
    """`BS1`..`BSN` for ground BS index 0..N-1, `satellite` for `SATELLITE`."""
    return "satellite" if index == SATELLITE else f"BS{index + 1}"


def round_metrics(market_round: MarketRound, outcome: AuctionOutcome) -> dict[str, float | int | str | bool]:
    """The surplus metrics of one round under `outcome`: (30a), ground-BS and satellite surplus, revenue.

    Also the first-best surplus (the efficient winner with every value known) and who won.
    """
    values, v0 = market_round.ground_values, market_round.satellite_value
    best = first_best_winner(values, v0, market_round.satellite_available)
    return {
        "winner": bidder_name(outcome.winner),
        "payment": outcome.payment,
        "total_surplus": total_surplus(values, v0, outcome.winner),
        "ground_surplus": ground_surplus(values, outcome.winner),
        "satellite_surplus": satellite_surplus(v0, outcome.winner),
        "revenue": outcome.payment,
        "first_best_surplus": total_surplus(values, v0, best),
        "satellite_available": market_round.satellite_available,
    }
