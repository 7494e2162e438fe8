"""The LLM agent market's formulas, each once (Xu et al., cached-model paper, III-A, IV-D, V).

Paper: "Cached Model-as-a-Resource: Provisioning Large Language Model Agents for Edge
Intelligence in Space-air-ground Integrated Networks" (papers/cached-model-least-aot.txt).
Our copy lost every formula; what is below is the standard modified second-bid (MSB)
auction of Arnosti, Beck and Milgrom, "Adverse selection and auction design for internet
display advertising", AER 106(10), 2016 (the paper's [16]), mapped to the paper's equation
numbers as its text describes them:

- valuations v_i = c x m_i, common value c from the LLM agent's resource consumption,
  match quality m_i (IV-D);
- MSB allocation (31) and pricing (32); the critical payment of Theorem 2 (35);
- total surplus (30a), the satellite's coverage-time constraint (30b) with the maximal
  communication duration of eq. (1);
- ground-BS surplus, satellite surplus (IV-D), revenue and utilities.

Bidder indices: ground BSs 0..N-1, the satellite `SATELLITE` (-1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

SATELLITE = -1  # the winner index of the relaying satellite (the brand bidder)

# Standard gravitational parameter of the Earth, km^3/s^2.
EARTH_MU_KM3_S2 = 398_600.4418


# ------------------------------------------------------------------ coverage (III-A, 30b)


def orbital_velocity(altitude_km: float, earth_radius_km: float) -> float:
    """Velocity v_s of a LEO satellite on a circular orbit, sqrt(mu / (R + h)) in km/s.

    The paper takes v_s as given (III-A); ours: circular-orbit mechanics.
    """
    return math.sqrt(EARTH_MU_KM3_S2 / (earth_radius_km + altitude_km))


def coverage_time(altitude_km: float, min_elevation_deg: float, earth_radius_km: float, velocity_km_s: float) -> float:
    """Maximal communication duration T_s = L_s / v_s between a user and a LEO satellite: eq. (1).

    III-A: the geocentric angle of the service area is
    phi = arccos(R cos(theta) / (R + h)) - theta for the minimum elevation theta; the arc
    over which the satellite is visible is L_s = 2 (R + h) phi. Seconds.
    """
    theta = math.radians(min_elevation_deg)
    radius = earth_radius_km + altitude_km
    phi = math.acos(earth_radius_km * math.cos(theta) / radius) - theta
    return 2.0 * radius * phi / velocity_km_s


def provisioning_time(data_mb: float, n_requests: int, rate_mbps: float, inference_s: float) -> float:
    """Time the satellite needs to serve the agent's round: relay the data, run it in the cloud (s).

    data_mb x 8 / rate (III-B: the user uploads its input data, the satellite relays it to
    the cloud data center) plus a cloud inference time per request (ours: the paper gives
    no cloud latency for the market).
    """
    return 8.0 * data_mb / rate_mbps + n_requests * inference_s


def satellite_can_serve(provisioning_s: float, remaining_coverage_s: float) -> bool:
    """Constraint (30b): the satellite's provisioning time may not exceed its coverage time."""
    return provisioning_s <= remaining_coverage_s


# ------------------------------------------------------------- valuations (IV-D, III-C)


def cache_hit_probability(n_gpus: int, gpu_memory_gb: float, n_llms: int, model_memory_gb: float) -> float:
    """Probability that a ground BS has the agent's LLM cached, under the GPU memory constraint (3).

    (3): the running sizes of the cached models fit in the GPU memory, so a BS holds at
    most n_gpus x gpu_memory / model_memory of the n_llms reasoning LLMs; the agent's LLM
    is any of them equally likely (ours: uniform demand over LLMs).
    """
    return min(1.0, n_gpus * gpu_memory_gb / (n_llms * model_memory_gb))


def resource_consumption(input_sizes_mb: ArrayLike) -> float:
    """The LLM agent's resource consumption in a round: the megabytes its requests move (IV-D).

    IV-D: the common value "captures attributes of the resource consumption required to
    execute the LLMs" (communication, computing, storage). Ours: the input data volume,
    to which transmission (22) and the batch's computation (23) are both proportional.
    """
    return float(np.sum(input_sizes_mb))


def common_value(consumption_mb: float, value_per_mb: float, price_shock: float) -> float:
    """Common value c of the opportunity to serve the agent: the resource consumption priced (IV-D).

    c = value_per_mb x price_shock x consumption; the shock is common to all bidders.
    """
    return value_per_mb * price_shock * consumption_mb


def valuation(common: ArrayLike, match_quality: ArrayLike) -> NDArray[np.float64]:
    """Valuation v_i = c x m_i of network operator i: IV-D ("a production of the common value
    ... and the match performance gain obtained in Eq. (20)"), as in ABM [16]. Broadcasts.

    Sharing c makes the valuations positively correlated across bidders (IV-D).
    """
    return np.asarray(common, dtype=float) * np.asarray(match_quality, dtype=float)


def expected_requests(mean_requests: float) -> float:
    """E[max(1, N)] for N ~ Poisson(mean): a round always carries at least the agent's request."""
    return mean_requests + math.exp(-mean_requests)


def contract_price(share: float, expected_common_value: float, mean_zero_shot: float, satellite_quality: float) -> float:
    """The satellite's contract price p_0 (V-A, Mechanism 1: "chosen to maximize its expected profit").

    Ours: share x the satellite's unconditional expected value E[c] x E[a0] x q_0.
    """
    return share * expected_common_value * mean_zero_shot * satellite_quality


# ------------------------------------------------------ the MSB auction (31), (32), (35)


@dataclass(frozen=True)
class AuctionOutcome:
    """Who wins the opportunity to serve the LLM agent and what it pays.

    winner: a ground BS index 0..N-1, or `SATELLITE`.
    payment: what the winner pays (the auction's revenue).
    """

    winner: int
    payment: float


def top_two(bids: ArrayLike) -> tuple[int, float, float]:
    """(index of the highest bid, highest bid b_(1), second-highest bid b_(2)); ties: lowest index."""
    bids = np.asarray(bids, dtype=float)
    if bids.ndim != 1 or bids.shape[0] < 2:
        raise ValueError(f"need at least two ground bids, got shape {bids.shape}")
    first = int(np.argmax(bids))
    second = float(np.partition(bids, -2)[-2])  # the largest of the others (ties count)
    return first, float(bids[first]), second


def msb_ground_wins(highest: ArrayLike, second: ArrayLike, alpha: ArrayLike, satellite_available: ArrayLike = True) -> NDArray[np.bool_]:
    """Allocation rule (31) of the MSB auction, on the two highest ground bids: does a ground BS win?

    The highest-bidding ground BS wins if b_(1) >= alpha x b_(2); otherwise the relaying
    satellite does. When the satellite cannot serve (30b) the highest ground bid wins:
    (30c)-(30d) give the opportunity to exactly one operator. Broadcasts (many rounds or
    many alphas at once).
    """
    return np.logical_or(np.greater_equal(highest, np.multiply(alpha, second)), np.logical_not(satellite_available))


def msb_allocation(bids: ArrayLike, alpha: float, satellite_available: bool = True) -> int:
    """Allocation rule (31) for one round's bids: the winning ground BS's index, or `SATELLITE`."""
    first, highest, second = top_two(bids)
    return first if bool(msb_ground_wins(highest, second, alpha, satellite_available)) else SATELLITE


def msb_critical_payment(other_bids: ArrayLike, alpha: float, satellite_available: bool = True) -> float:
    """Critical payment phi(b_-i) of Theorem 2, eq. (35): the lowest bid with which ground BS i wins.

    phi(b_-i) = alpha x max_j b_j over the other ground BSs (alpha >= 1), or max_j b_j when
    the satellite cannot serve. Homogeneous of degree one: phi(t b_-i) = t phi(b_-i).
    """
    highest_other = float(np.max(np.asarray(other_bids, dtype=float)))
    return alpha * highest_other if satellite_available else highest_other


def msb_payment(bids: ArrayLike, alpha: float, winner: int, contract: float, satellite_available: bool = True) -> float:
    """Pricing rule (32): a winning ground BS pays alpha x b_(2); the satellite pays its contract price p_0.

    alpha x b_(2) is the winner's critical payment (35); with the satellite unable to
    serve (30b), the critical payment is b_(2) itself.
    """
    if winner == SATELLITE:
        return float(contract)
    bids = np.asarray(bids, dtype=float)
    return msb_critical_payment(np.delete(bids, winner), alpha, satellite_available)


def msb_outcome(bids: ArrayLike, alpha: float, contract: float, satellite_available: bool = True) -> AuctionOutcome:
    """The MSB auction (Mechanism 1): allocation (31) and pricing (32) of one round."""
    winner = msb_allocation(bids, alpha, satellite_available)
    return AuctionOutcome(winner, msb_payment(bids, alpha, winner, contract, satellite_available))


# --------------------------------------------------------------- surplus (30a), IV-D


def ground_surplus(ground_values: ArrayLike, winner: ArrayLike) -> float | NDArray[np.float64]:
    """Surplus from the agent allocated to the ground BSs, sum_i x_i v_i (IV-D).

    `ground_values` (..., N), `winner` (...) ground index or `SATELLITE`: one round or many.
    """
    values = np.asarray(ground_values, dtype=float)
    winner = np.asarray(winner)
    won = np.take_along_axis(values, np.maximum(winner, 0)[..., None], axis=-1)[..., 0]
    out = np.where(winner == SATELLITE, 0.0, won)
    return float(out) if out.ndim == 0 else out


def satellite_surplus(satellite_value: ArrayLike, winner: ArrayLike) -> float | NDArray[np.float64]:
    """The satellite's surplus, x_0 v_0: the realised valuation when it wins (IV-D). One round or many."""
    out = np.where(np.asarray(winner) == SATELLITE, np.asarray(satellite_value, dtype=float), 0.0)
    return float(out) if out.ndim == 0 else out


def total_surplus(ground_values: ArrayLike, satellite_value: ArrayLike, winner: ArrayLike) -> float | NDArray[np.float64]:
    """Objective (30a): the total surplus sum_i x_i v_i + x_0 v_0, the winner's realised value.

    Payments are transfers between operators and the seller; they do not enter it.
    One round or many (see `ground_surplus`).
    """
    return ground_surplus(ground_values, winner) + satellite_surplus(satellite_value, winner)


def utilities(ground_values: ArrayLike, satellite_value: float, outcome: AuctionOutcome) -> tuple[NDArray[np.float64], float]:
    """Quasi-linear utilities u_i = x_i (v_i - p_i) of the ground BSs (N,) and of the satellite."""
    values = np.asarray(ground_values, dtype=float)
    ground = np.zeros(values.shape[0])
    if outcome.winner == SATELLITE:
        return ground, float(satellite_value) - outcome.payment
    ground[outcome.winner] = values[outcome.winner] - outcome.payment
    return ground, 0.0


def first_best_winner(ground_values: ArrayLike, satellite_value: float, satellite_available: bool) -> int:
    """The efficient allocation of (30a)-(30d) with every value known: the largest feasible value."""
    values = np.asarray(ground_values, dtype=float)
    best = int(np.argmax(values))
    if satellite_available and satellite_value > values[best]:
        return SATELLITE
    return best
