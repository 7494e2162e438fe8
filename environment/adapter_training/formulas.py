"""The formulas of split adapter training (DASHF paper, section II), each one function.

Qian & Zhao, "User Association and Resource Allocation in Large Language Model Based
Mobile Edge Computing System over 6G Wireless Communications"
(papers/dashf-user-association.txt). User n trains the first phi_n d_n adapter
parameters, uploads them to its server m (x_{n,m} = 1), the server trains the rest and
sends them back. Arrays are shaped (N,) per user or (N, M) per user-server pair, and a
pair term is counted only where x_{n,m} = 1. Units are SI: Hz, W, FLOP/s, bit, s, J.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from environment import radio
from environment.adapter_training.config import AdapterTrainingConfig

Array = NDArray[np.float64]



def _ratio(numerator: ArrayLike, denominator: ArrayLike) -> Array:
    """numerator / denominator with 0 where nothing is to be done (0/0 = 0, c/0 = inf)."""
    num = np.asarray(numerator, dtype=float)
    den = np.asarray(denominator, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return np.where(num == 0, 0.0, np.where(den == 0, np.inf, out))


# --- rates (section II-B.1, FDMA) -------------------------------------------------


def _fdma_rate(bandwidth_hz: ArrayLike, power_w: ArrayLike, gain: ArrayLike, noise_density_dbm_hz: float) -> Array:
    b = np.asarray(bandwidth_hz, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = radio.resource_block_rates(np.maximum(b, 0.0), power_w, gain, 0.0, noise_density_dbm_hz)
    return np.where(b > 0, np.nan_to_num(rate, nan=0.0), 0.0)


def uplink_rate(bandwidth_hz: ArrayLike, user_power_w: ArrayLike, gain: ArrayLike, noise_density_dbm_hz: float) -> Array:
    """r_{n,m} = b_{n,m} log2(1 + g_{n,m} p_n / (sigma^2 b_{n,m})) in bit/s (II-B.1, FDMA: no interference).

    0 where b_{n,m} = 0. `user_power_w` is p_n, broadcast against the (N, M) gains.
    """
    return _fdma_rate(bandwidth_hz, user_power_w, gain, noise_density_dbm_hz)


def downlink_rate(bandwidth_hz: ArrayLike, server_power_w: ArrayLike, gain: ArrayLike, noise_density_dbm_hz: float) -> Array:
    """r_{m,n} = b_{n,m} log2(1 + g_{n,m} p_{n,m} / (sigma^2 b_{n,m})) in bit/s (II-B.1).

    The paper assumes the same gain and bandwidth as the uplink; p_{n,m} is the power
    server m spends on user n (the variable of (3f)).
    """
    return _fdma_rate(bandwidth_hz, server_power_w, gain, noise_density_dbm_hz)


# --- delays (section II-B.1) --------------------------------------------------------


def local_training_delay(phi: ArrayLike, adapter_params: ArrayLike, flops_per_param: ArrayLike, epochs: int, user_flops: ArrayLike) -> Array:
    """T^(t1)_n = t_n phi_n d_n e_n / F_n (II-B.1); F_n already counts the user's g_n GPUs."""
    return _ratio(np.asarray(flops_per_param) * np.asarray(phi) * np.asarray(adapter_params) * epochs, user_flops)


def uplink_delay(x: ArrayLike, phi: ArrayLike, adapter_params: ArrayLike, omega_b: float, rate_up: ArrayLike) -> Array:
    """T^(t2)_{n,m} = x_{n,m} phi_n d_n omega_b / r_{n,m} (II-B.1); (N, M)."""
    bits = np.asarray(x) * (np.asarray(phi) * np.asarray(adapter_params) * omega_b)[:, None]
    return _ratio(bits, rate_up)


def server_training_delay(
    x: ArrayLike, phi: ArrayLike, adapter_params: ArrayLike, flops_per_param: ArrayLike, epochs: int, server_flops: ArrayLike
) -> Array:
    """T^(t3)_{n,m} = t_n (1 - phi_n) x_{n,m} d_n e_m / F_{n,m} (II-B.1); (N, M).

    F_{n,m} is the compute server m gives user n (the variable of (3h) and eq. 1).
    """
    work = np.asarray(x) * (np.asarray(flops_per_param) * (1.0 - np.asarray(phi)) * np.asarray(adapter_params) * epochs)[:, None]
    return _ratio(work, server_flops)


def downlink_delay(x: ArrayLike, phi: ArrayLike, adapter_params: ArrayLike, omega_b: float, rate_down: ArrayLike) -> Array:
    """T^(t4)_{n,m} = x_{n,m} (1 - phi_n) d_n omega_b / r_{m,n} (II-B.1); (N, M)."""
    bits = np.asarray(x) * ((1.0 - np.asarray(phi)) * np.asarray(adapter_params) * omega_b)[:, None]
    return _ratio(bits, rate_down)


def server_side_time(uplink: ArrayLike, server_training: ArrayLike) -> Array:
    """T_{s,n,m} = T^(t2)_{n,m} + T^(t3)_{n,m} (II-B.1)."""
    return np.asarray(uplink, dtype=float) + np.asarray(server_training, dtype=float)


def user_side_time(local_training: ArrayLike, downlink: ArrayLike) -> Array:
    """T_{u,n,m} = T^(t1)_n + T^(t4)_{n,m} (II-B.1); T^(t1) broadcast over servers."""
    return np.asarray(local_training, dtype=float)[:, None] + np.asarray(downlink, dtype=float)


def total_delay(x: ArrayLike, server_side: ArrayLike, user_side: ArrayLike) -> float:
    """T_total = max_{n,m: x_{n,m}=1} (T_{s,n,m} + T_{u,n,m}) (II-B.1; the T of (3j))."""
    per_pair = np.where(np.asarray(x) > 0.5, np.asarray(server_side) + np.asarray(user_side), -np.inf)
    return float(np.max(per_pair))


# --- energies (section II-B.2) ------------------------------------------------------


def local_training_energy(
    phi: ArrayLike, adapter_params: ArrayLike, flops_per_param: ArrayLike, epochs: int, kappa: float, user_flops: ArrayLike
) -> Array:
    """E^(t1)_n = e_n kappa_n phi_n d_n t_n F_n^2 (II-B.2, after [9])."""
    return epochs * kappa * np.asarray(phi) * np.asarray(adapter_params) * np.asarray(flops_per_param) * np.square(user_flops)


def _transmit_energy(power_w: ArrayLike, delay_s: ArrayLike) -> Array:
    """p T, 0 when nothing is sent (T = 0) and inf when a starved link never finishes."""
    delay = np.asarray(delay_s, dtype=float)
    with np.errstate(invalid="ignore"):
        energy = np.asarray(power_w, dtype=float) * delay
    return np.where(delay == 0, 0.0, np.where(np.isnan(energy), np.inf, energy))


def uplink_energy(user_power_w: ArrayLike, uplink: ArrayLike) -> Array:
    """E^(t2)_{n,m} = p_n T^(t2)_{n,m} (II-B.2); 0 when nothing is sent."""
    return _transmit_energy(np.asarray(user_power_w, dtype=float)[:, None], uplink)


def server_training_energy(
    x: ArrayLike, phi: ArrayLike, adapter_params: ArrayLike, flops_per_param: ArrayLike, epochs: int, kappa: float, server_flops: ArrayLike
) -> Array:
    """E^(t3)_{n,m} = e_m kappa_m x_{n,m} (1 - phi_n) d_n t_n F_{n,m}^2 (II-B.2; F_{n,m} as in eq. 9)."""
    work = (epochs * kappa * (1.0 - np.asarray(phi)) * np.asarray(adapter_params) * np.asarray(flops_per_param))[:, None]
    return np.asarray(x) * work * np.square(server_flops)


def downlink_energy(server_power_w: ArrayLike, downlink: ArrayLike) -> Array:
    """E^(t4)_{n,m} = p_{n,m} T^(t4)_{n,m} (II-B.2); 0 when nothing is sent."""
    return _transmit_energy(server_power_w, downlink)


def total_energy(local: ArrayLike, uplink: ArrayLike, server: ArrayLike, downlink: ArrayLike) -> float:
    """E_total = sum_{n,m} (E_{u,n,m} + E_{s,n,m}), E_u = E^(t1) + E^(t2), E_s = E^(t3) + E^(t4) (II-B.2).

    E^(t1)_n is counted once per user (each user has one server, (3b)).
    """
    return float(np.sum(local) + np.sum(uplink) + np.sum(server) + np.sum(downlink))


# --- service score and SCR (eqs. 1-3) ------------------------------------------------


def service_score(
    server_power_w: ArrayLike,
    server_flops: ArrayLike,
    bandwidth_hz: ArrayLike,
    config: AdapterTrainingConfig,
) -> Array:
    """v_{n,m} = varpi_1 ln[1 + varpi_2 (p_{n,m}/p_max^(m) + F_{n,m}/F_max^(m) + b_{n,m}/b_max)], eq. (1)."""
    share = (
        np.asarray(server_power_w, dtype=float) / config.p_max_server_w
        + np.asarray(server_flops, dtype=float) / config.f_max_server
        + np.asarray(bandwidth_hz, dtype=float) / config.b_max_hz
    )
    return config.varpi_1 * np.log1p(config.varpi_2 * share)


def service_cost_ratio(x: ArrayLike, score: ArrayLike, delay_s: float, energy_j: float, omega_t: float, omega_e: float) -> float:
    """SCR = sum_{n,m} x_{n,m} v_{n,m} / (omega_t T_total + omega_e E_total), eq. (2)."""
    return float(np.sum(np.asarray(x) * np.asarray(score))) / (omega_t * delay_s + omega_e * energy_j)


def dinkelbach_objective(x: ArrayLike, score: ArrayLike, delay_s: float, energy_j: float, omega_t: float, omega_e: float, y: float) -> float:
    """sum x v - y (omega_e E_total + omega_t T), the objective of problem (3) with T = T_total."""
    return float(np.sum(np.asarray(x) * np.asarray(score))) - y * (omega_t * delay_s + omega_e * energy_j)
