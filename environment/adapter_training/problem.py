"""Instances, solutions and their evaluation for split adapter training between mobile users and LLM servers (DASHF paper, section II).

Qian & Zhao, "User Association and Resource Allocation in Large Language Model Based
Mobile Edge Computing System over 6G Wireless Communications"
(papers/dashf-user-association.txt). User n trains the first phi_n d_n adapter
parameters, uploads them to its server m (x_{n,m} = 1), the server trains the rest and
sends them back. The formulas of section II are in `formulas.py`; this module draws
instances and evaluates a solution with them, and checks constraints (3a)-(3j).

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
from environment.adapter_training.config import AdapterTrainingConfig
from environment.adapter_training.formulas import (
    Array,
    uplink_rate,
    downlink_rate,
    local_training_delay,
    uplink_delay,
    server_training_delay,
    downlink_delay,
    server_side_time,
    user_side_time,
    total_delay,
    local_training_energy,
    uplink_energy,
    server_training_energy,
    downlink_energy,
    total_energy,
    service_score,
    service_cost_ratio,
)

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
