"""Split adapter training between mobile users and LLM servers (DASHF paper, section II).

Qian & Zhao, "User Association and Resource Allocation in Large Language Model Based
Mobile Edge Computing System over 6G Wireless Communications"
(papers/dashf-user-association.txt). User n trains the first phi_n d_n adapter
parameters, uploads them to its server m (x_{n,m} = 1), the server trains the rest and
sends them back. Every formula of section II is one function below; arrays are shaped
(N,) per user or (N, M) per user-server pair, and a pair term is counted only where
x_{n,m} = 1. Units are SI: Hz, W, FLOP/s, bit, s, J.

Example
-------
>>> import numpy as np
>>> from environment.adapter_training import adapter_training_config, equal_allocation, evaluate, generate_instance
>>> inst = generate_instance(adapter_training_config(), np.random.default_rng(0))
>>> sol = equal_allocation(inst, np.eye(2, dtype=int)[np.arange(10) % 2], np.full(10, 0.5))
>>> evaluate(inst, sol).scr > 0
True
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from environment import radio
from environment.adapter_training_config import AdapterTrainingConfig, adapter_training_config

Array = NDArray[np.float64]

__all__ = [
    "AdapterTrainingConfig",
    "AdapterTrainingInstance",
    "Evaluation",
    "Feasibility",
    "Solution",
    "adapter_training_config",
    "dinkelbach_objective",
    "downlink_delay",
    "downlink_energy",
    "downlink_rate",
    "equal_allocation",
    "evaluate",
    "feasibility",
    "fit_to_capacity",
    "generate_instance",
    "local_training_delay",
    "local_training_energy",
    "server_side_time",
    "server_training_delay",
    "server_training_energy",
    "service_cost_ratio",
    "service_score",
    "total_delay",
    "total_energy",
    "uplink_delay",
    "uplink_energy",
    "uplink_rate",
    "user_side_time",
]


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


# --- instances, solutions, evaluation ----------------------------------------------


@dataclass(frozen=True)
class AdapterTrainingInstance:
    """One drawn world: positions, channel gains g_{n,m}, adapter sizes d_n, t_n.

    Parameters
    ----------
    config: the validated configuration it was drawn from.
    user_xy, server_xy: positions (N, 2) and (M, 2) in metres.
    gain: g_{n,m} = path loss x Rayleigh fading (N, M), linear.
    adapter_params: d_n (N,).
    token_bits: each user's token data size (N,), in bits.
    flops_per_param: t_n, FLOPs of all tokens per adapter parameter (N,).
    """

    config: AdapterTrainingConfig
    user_xy: Array
    server_xy: Array
    gain: Array
    adapter_params: Array
    token_bits: Array
    flops_per_param: Array

    @property
    def n_users(self) -> int:
        return self.gain.shape[0]

    @property
    def n_servers(self) -> int:
        return self.gain.shape[1]


def generate_instance(config: AdapterTrainingConfig, rng: np.random.Generator) -> AdapterTrainingInstance:
    """Draw an instance (V-A settings); every random number comes from `rng`, in a fixed order."""
    n, m, side = config.n_users, config.n_servers, config.area_side_m
    user_xy = rng.uniform(0.0, side, size=(n, 2))
    server_xy = rng.uniform(0.0, side, size=(m, 2))
    distance = np.linalg.norm(user_xy[:, None, :] - server_xy[None, :, :], axis=2)
    gain = radio.channel_gain(distance, radio.rayleigh_power_gain(rng, (n, m)))
    adapter_params = rng.uniform(config.adapter_params_low, config.adapter_params_high, size=n)
    token_bits = rng.uniform(config.token_data_bits_low, config.token_data_bits_high, size=n)
    flops_per_param = config.flops_per_param_token * token_bits / config.bits_per_token
    return AdapterTrainingInstance(config, user_xy, server_xy, gain, adapter_params, token_bits, flops_per_param)


@dataclass(frozen=True)
class Solution:
    """A point of problem (3): x, phi, b, p_u, p_s, f_u, f_s.

    x: (N, M) 0/1 association; phi: (N,) share trained by the user; bandwidth b_{n,m}
    (N, M) Hz; user_power p_n (N,) W; server_power p_{n,m} (N, M) W; user_flops F_n (N,)
    FLOP/s; server_flops F_{n,m} (N, M) FLOP/s. Pair entries with x_{n,m} = 0 are unused.
    """

    x: NDArray[np.int64]
    phi: Array
    bandwidth: Array
    user_power: Array
    server_power: Array
    user_flops: Array
    server_flops: Array

    def with_(self, **changes: object) -> "Solution":
        """A copy with some fields replaced."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Evaluation:
    """Everything section II computes for one solution (all pair arrays (N, M))."""

    rate_up: Array
    rate_down: Array
    t1: Array
    t2: Array
    t3: Array
    t4: Array
    e1: Array
    e2: Array
    e3: Array
    e4: Array
    score: Array
    delay_s: float
    energy_j: float
    service: float
    scr: float


def evaluate(instance: AdapterTrainingInstance, solution: Solution, x: ArrayLike | None = None) -> Evaluation:
    """Rates, the four delays and energies, T_total, E_total, v and the SCR (eqs. 1-2).

    `x` overrides the solution's association, e.g. all ones to price every pair as if
    it were chosen (AO part 1 does this).
    """
    c = instance.config
    x = solution.x if x is None else np.asarray(x)
    d, t = instance.adapter_params, instance.flops_per_param
    r_up = uplink_rate(solution.bandwidth, solution.user_power[:, None], instance.gain, c.noise_density_dbm_hz)
    r_dn = downlink_rate(solution.bandwidth, solution.server_power, instance.gain, c.noise_density_dbm_hz)
    t1 = local_training_delay(solution.phi, d, t, c.epochs_user, solution.user_flops)
    t2 = uplink_delay(x, solution.phi, d, c.omega_b, r_up)
    t3 = server_training_delay(x, solution.phi, d, t, c.epochs_server, solution.server_flops)
    t4 = downlink_delay(x, solution.phi, d, c.omega_b, r_dn)
    e1 = local_training_energy(solution.phi, d, t, c.epochs_user, c.kappa_user, solution.user_flops)
    e2 = uplink_energy(solution.user_power, t2)
    e3 = server_training_energy(x, solution.phi, d, t, c.epochs_server, c.kappa_server, solution.server_flops)
    e4 = downlink_energy(solution.server_power, t4)
    score = service_score(solution.server_power, solution.server_flops, solution.bandwidth, c)
    delay = total_delay(x, server_side_time(t2, t3), user_side_time(t1, t4))
    energy = total_energy(e1, e2, e3, e4)
    service = float(np.sum(x * score))
    scr = service_cost_ratio(x, score, delay, energy, c.omega_t, c.omega_e)
    return Evaluation(r_up, r_dn, t1, t2, t3, t4, e1, e2, e3, e4, score, delay, energy, service, scr)


# --- constraints (3a)-(3j) ----------------------------------------------------------


@dataclass(frozen=True)
class Feasibility:
    """Violation of each constraint of problem (3), relative to its bound (0 = satisfied)."""

    violations: dict[str, float]

    @property
    def worst_constraint(self) -> str:
        return max(self.violations, key=self.violations.__getitem__)

    @property
    def worst(self) -> float:
        return self.violations[self.worst_constraint]

    def ok(self, tolerance: float = 1e-6) -> bool:
        """True when every violation is at most `tolerance`."""
        return self.worst <= tolerance


def feasibility(instance: AdapterTrainingInstance, solution: Solution, T: float | None = None) -> Feasibility:
    """Worst relative violation of (3a)-(3j); T defaults to T_total, so (3j) asks it to be finite."""
    c = instance.config
    s = solution
    x = np.asarray(s.x, dtype=float)
    pos = lambda a: float(np.max(np.maximum(a, 0.0), initial=0.0))  # noqa: E731
    server_load = lambda a: np.sum(x * a, axis=0)  # noqa: E731
    ev = evaluate(instance, s)
    pair_time = server_side_time(ev.t2, ev.t3) + user_side_time(ev.t1, ev.t4)
    T = ev.delay_s if T is None else T
    with np.errstate(invalid="ignore"):
        time_excess = np.where(x > 0.5, (pair_time - T) / max(abs(T), 1e-12), 0.0)
    violations = {
        "(3a) x binary": float(np.max(np.minimum(np.abs(x), np.abs(x - 1.0)))),
        "(3b) one server per user": float(np.max(np.abs(x.sum(axis=1) - 1.0))),
        "(3c) phi in [0, 1]": max(pos(-s.phi), pos(s.phi - 1.0)),
        "(3d) server bandwidth": pos(server_load(s.bandwidth) / c.b_max_hz - 1.0),
        "(3e) user power": pos(s.user_power / c.p_max_user_w - 1.0),
        "(3f) server power": pos(server_load(s.server_power) / c.p_max_server_w - 1.0),
        "(3g) user compute": pos(s.user_flops / c.f_max_user - 1.0),
        "(3h) server compute": pos(server_load(s.server_flops) / c.f_max_server - 1.0),
        "(3i) non-negative": max(
            pos(-s.bandwidth / c.b_max_hz), pos(-s.user_power / c.p_max_user_w), pos(-s.server_power / c.p_max_server_w),
            pos(-s.user_flops / c.f_max_user), pos(-s.server_flops / c.f_max_server),
        ),
        "(3j) delay within T": float("inf") if not np.isfinite(T) or np.any(np.isnan(time_excess)) else pos(time_excess),
    }
    return Feasibility(violations)


# --- allocations shared by DASHF and the baselines ---------------------------------------


def equal_allocation(instance: AdapterTrainingInstance, x: ArrayLike, phi: ArrayLike) -> Solution:
    """Each server splits b_max, p_max^(m), F_max^(m) evenly over its users; users at p_max^(n), F_max^(n).

    The "average resource allocation" of the baselines (V-C).
    """
    c = instance.config
    x = np.asarray(x, dtype=np.int64)
    load = np.maximum(x.sum(axis=0), 1)
    n = instance.n_users
    return Solution(
        x=x,
        phi=np.asarray(phi, dtype=float).copy(),
        bandwidth=x * (c.b_max_hz / load),
        user_power=np.full(n, c.p_max_user_w),
        server_power=x * (c.p_max_server_w / load),
        user_flops=np.full(n, c.f_max_user),
        server_flops=x * (c.f_max_server / load),
    )


def fit_to_capacity(instance: AdapterTrainingInstance, solution: Solution) -> Solution:
    """Clip to [0, max] and scale each server's shares down to (3d), (3f), (3h); unused pairs set to 0.

    Used after a rounding or a solver step whose tolerance overshoots a bound slightly.
    """
    c = instance.config
    x = np.asarray(solution.x)

    def shares(values: Array, cap: float) -> Array:
        values = x * np.clip(values, 0.0, cap)
        load = values.sum(axis=0)
        return values * np.where(load > cap, cap / np.maximum(load, 1e-300), 1.0)

    return solution.with_(
        phi=np.clip(solution.phi, 0.0, 1.0),
        bandwidth=shares(solution.bandwidth, c.b_max_hz),
        user_power=np.clip(solution.user_power, 0.0, c.p_max_user_w),
        server_power=shares(solution.server_power, c.p_max_server_w),
        user_flops=np.clip(solution.user_flops, 0.0, c.f_max_user),
        server_flops=shares(solution.server_flops, c.f_max_server),
    )
