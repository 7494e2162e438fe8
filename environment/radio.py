"""Radio link model shared by every problem.

Formulas from Zhou et al., "Generative AI as a Service in 6G Edge-Cloud: Generation
Task Offloading by In-context Learning" (papers/icl-task-offloading.txt, section II-A),
and the 3GPP urban-macro path loss used by all the papers in `shared/papers/`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def dbm_to_watt(dbm: ArrayLike) -> NDArray[np.float64]:
    """Convert a power in dBm to watts: P[W] = 10^((P[dBm] - 30) / 10)."""
    return np.power(10.0, (np.asarray(dbm, dtype=float) - 30.0) / 10.0)


def db_to_linear(db: ArrayLike) -> NDArray[np.float64]:
    """Convert a ratio in dB to a linear ratio: 10^(x / 10)."""
    return np.power(10.0, np.asarray(db, dtype=float) / 10.0)


def path_loss_db(distance_m: ArrayLike) -> NDArray[np.float64]:
    """3GPP urban-macro distance path loss PL = 128.1 + 37.6 log10(d / km) in dB.

    3GPP TR 36.814 Table A.2.1.1-2 (macro, 2 GHz); the same law is used by the DASHF
    paper (section V-A) and the ICL offloading paper's "3GPP urban networks" (IV-A).
    Distances are clipped below at 1 m so a user on top of the antenna stays finite.
    """
    d_km = np.maximum(np.asarray(distance_m, dtype=float), 1.0) / 1000.0
    return 128.1 + 37.6 * np.log10(d_km)


def rayleigh_power_gain(rng: np.random.Generator, size: int | tuple[int, ...]) -> NDArray[np.float64]:
    """Small-scale Rayleigh fading power gain |h|^2 ~ Exp(1) (unit mean)."""
    return rng.exponential(1.0, size=size)


def channel_gain(distance_m: ArrayLike, fading: ArrayLike) -> NDArray[np.float64]:
    """Linear channel gain g = 10^(-PL(d)/10) * |h|^2 (path loss times small-scale fading)."""
    return db_to_linear(-path_loss_db(distance_m)) * np.asarray(fading, dtype=float)


def noise_power_w(noise_density_dbm_hz: float, bandwidth_hz: ArrayLike) -> NDArray[np.float64]:
    """Thermal noise power b N_0 in watts over a band, from the density N_0 in dBm/Hz."""
    return dbm_to_watt(noise_density_dbm_hz) * np.asarray(bandwidth_hz, dtype=float)


def resource_block_rates(
    rb_bandwidth_hz: ArrayLike,
    serving_power_w: ArrayLike,
    serving_gain: ArrayLike,
    interference_w: ArrayLike,
    noise_density_dbm_hz: float,
) -> NDArray[np.float64]:
    """Achievable rate in bit/s of every (user, RB) pair: the summand of eq. (2).

    r_{k,q} = b_q log2(1 + p_{j,q} g_{j,q,k} / (I_{k,q} + b_q N_0)), Zhou et al. eq. (2),
    where I_{k,q} = sum_{j' != j} p_{j',q} g_{j',q,k} z_{j',q,k'} is the inter-cell
    interference. Arrays broadcast; the usual shape is (users, RBs).
    """
    b = np.asarray(rb_bandwidth_hz, dtype=float)
    signal = np.asarray(serving_power_w, dtype=float) * np.asarray(serving_gain, dtype=float)
    sinr = signal / (np.asarray(interference_w, dtype=float) + noise_power_w(noise_density_dbm_hz, b))
    return b * np.log2(1.0 + sinr)


def link_capacity(rates_bps: ArrayLike, allocation: ArrayLike) -> NDArray[np.float64]:
    """Downlink link capacity C_{j,k} = sum_q z_{j,q,k} r_{k,q}: Zhou et al. eq. (2).

    `rates_bps` is (users, RBs) from `resource_block_rates`; `allocation` is the binary
    z_{j,q,k} of the same shape (each RB to at most one user: OFDMA, no intra-cell
    interference). Returns bit/s per user.
    """
    return np.sum(np.asarray(rates_bps, dtype=float) * np.asarray(allocation, dtype=float), axis=-1)


def proportional_fair_allocation(
    rates_bps: NDArray[np.float64], average_throughput_bps: NDArray[np.float64]
) -> NDArray[np.int8]:
    """Classic proportional-fair RB allocation z_{j,q,k} for one scheduling interval.

    Each RB q goes to the user maximising r_{k,q} / R̄_k (Kelly's PF metric; the ICL
    paper, section II-C, uses "a classic proportional fairness algorithm" for z).
    `rates_bps` is (users, RBs); `average_throughput_bps` is R̄ (users,). Returns the
    binary (users, RBs) allocation; ties go to the lowest user index.
    """
    metric = rates_bps / np.maximum(average_throughput_bps, 1e-9)[:, None]
    winners = np.argmax(metric, axis=0)
    allocation = np.zeros_like(rates_bps, dtype=np.int8)
    allocation[winners, np.arange(rates_bps.shape[1])] = 1
    return allocation


def update_average_throughput(
    average_throughput_bps: NDArray[np.float64], served_bps: NDArray[np.float64], window: float
) -> NDArray[np.float64]:
    """PF's exponentially weighted average R̄ <- (1 - 1/t_c) R̄ + (1/t_c) C over window t_c."""
    return (1.0 - 1.0 / window) * average_throughput_bps + served_bps / window
