"""The two alternating-optimisation steps of DASHF (Qian & Zhao, section III-A and III-B).

AO part 1 (`ao_part1`): given the resources and y, choose x, phi, T. Problem (6) is
lifted to the QCQP (7) over Q = [phi; x] and relaxed to the SDP (8) over
S = [[Q Q^T, Q], [Q^T, 1]] >= 0; the relaxed x is rounded by normalising rows and the
Hungarian method on the capacity-augmented matrix, then phi is re-optimised for it.

AO part 2 (`ao_part2`): given x, phi and y, choose b, p_u, p_s, f_u, f_s, T. The energy
ratios chi/r of (10) are replaced by the quadratic transform (11)-(12) with the closed-form
z = 1 / (2 chi r); with z fixed (12) is concave and solved with cvxpy; z and the
resources are updated in turn until the objective (10) stops improving.

Both steps return a point no worse than the one they were given (for the Dinkelbach
objective of (3) at that y): a relaxation that fails, or a rounding that is worse, keeps
the incumbent. This is what makes y non-decreasing in Algorithm 1.

Units inside the cvxpy models: MHz, W, TFLOP/s, Mbit, s, J; costs are divided by a
scale so the solver sees numbers near 1.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np
from scipy.optimize import linear_sum_assignment

from environment import radio
from environment.adapter_training import (
    AdapterTrainingInstance,
    Solution,
    dinkelbach_objective,
    evaluate,
    fit_to_capacity,
)

Array = np.ndarray
MHZ, TFLOPS, MBIT = 1e6, 1e12, 1e6
ACCEPTED = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)


@dataclass
class SolverEvent:
    """One cvxpy solve: which step, the solver's status, and whether its point was used."""

    step: str
    status: str
    used: bool


@dataclass
class StepLog:
    """What a step recorded: objective values (for Fig. 2) and every solver status."""

    objectives: list[float] = field(default_factory=list)
    bound: float | None = None
    events: list[SolverEvent] = field(default_factory=list)


def objective(instance: AdapterTrainingInstance, solution: Solution, y: float) -> float:
    """The Dinkelbach objective of problem (3) at `solution` (T = T_total)."""
    c = instance.config
    ev = evaluate(instance, solution)
    return dinkelbach_objective(solution.x, ev.score, ev.delay_s, ev.energy_j, c.omega_t, c.omega_e, y)


def _solve(problem: cp.Problem, solver: str, step: str, log: StepLog) -> bool:
    """Solve, record the status; True when the point can be used. Solver errors are caught."""
    try:
        with warnings.catch_warnings():  # "may be inaccurate" is recorded as the status instead
            warnings.simplefilter("ignore", UserWarning)
            problem.solve(solver=solver)
        status = str(problem.status)
    except cp.error.SolverError as error:
        status = f"solver_error: {str(error).splitlines()[0] if str(error) else 'unknown'}"
    ok = status in ACCEPTED
    log.events.append(SolverEvent(step, status, ok))
    return ok


# --- AO part 1: x, phi, T (section III-A) ------------------------------------------


def prospective_resources(instance: AdapterTrainingInstance, solution: Solution) -> Solution:
    """Price every pair (n, m) with the resources user n holds on its current server.

    Ours: (6) needs b, p_s, f_s for every pair, but only the chosen pairs have been
    optimised, so a user is offered elsewhere what it holds now. A user with phi_n = 1
    does not use p_{n,m}, F_{n,m} (nothing is trained or sent back), so AO part 2 sets them
    from eq. (1) alone; pricing a smaller phi_n with them would trap the alternation, so
    they are priced at the even share of the user's server, p_max^(m) / N_m, F_max^(m) / N_m.
    """
    c = instance.config
    held = lambda a: np.broadcast_to(np.sum(solution.x * a, axis=1, keepdims=True), a.shape).copy()  # noqa: E731
    unused = (solution.phi >= 1.0 - 1e-6)[:, None]
    users_on_own_server = (solution.x @ solution.x.sum(axis=0))[:, None]  # N_m of each user's server

    return solution.with_(
        bandwidth=held(solution.bandwidth),
        server_power=np.where(unused, c.p_max_server_w / users_on_own_server, held(solution.server_power)),
        server_flops=np.where(unused, c.f_max_server / users_on_own_server, held(solution.server_flops)),
    )


@dataclass(frozen=True)
class PairCosts:
    """Coefficients of P1 (6): as if x_{n,m} = 1, energy and delay are affine in phi_n.

    energy0/denergy: E_{u,n,m} + E_{s,n,m} at phi = 0 and its slope (so B = y w_e energy0 - v,
    A_n + G_{n,m} = y w_e denergy); delay0/ddelay: T_{s,n,m} + T_{u,n,m} at phi = 0 and its
    slope, for (3j). Pairs with non-finite costs are not allowed.
    """

    score: Array
    energy0: Array
    denergy: Array
    delay0: Array
    ddelay: Array
    allowed: Array


def pair_costs(instance: AdapterTrainingInstance, priced: Solution) -> PairCosts:
    """Evaluate every pair at phi = 0 and phi = 1 with the section II formulas."""
    n, m = instance.n_users, instance.n_servers
    ones = np.ones((n, m))
    at = [evaluate(instance, priced.with_(phi=np.full(n, v)), x=ones) for v in (0.0, 1.0)]
    energy = [ev.e1[:, None] + ev.e2 + ev.e3 + ev.e4 for ev in at]
    delay = [ev.t1[:, None] + ev.t2 + ev.t3 + ev.t4 for ev in at]
    allowed = np.isfinite(energy[0]) & np.isfinite(energy[1]) & np.isfinite(delay[0]) & np.isfinite(delay[1])
    clean = lambda a: np.where(allowed, a, 0.0)  # noqa: E731
    return PairCosts(
        score=at[0].score,
        energy0=clean(energy[0]),
        denergy=clean(energy[1] - energy[0]),
        delay0=clean(delay[0]),
        ddelay=clean(delay[1] - delay[0]),
        allowed=allowed,
    )


def solve_sdr(instance: AdapterTrainingInstance, priced: Solution, costs: PairCosts, y: float, solver: str, log: StepLog) -> Array | None:
    """Solve the SDR (8) of P1 and return the relaxed x (N, M), or None if it failed.

    Q = [phi_1..phi_N, x_{1,1}..x_{N,M}] and S = [[Q Q^T, Q], [Q^T, 1]]; x_{n,m} phi_n is
    the entry S[x_{n,m}, phi_n]. Besides the paper's constraints we add phi_n^2 <= phi_n
    and the McCormick bounds on x phi (valid for (3a), (3c)); without them the relaxation
    is unbounded whenever some G_{n,m} > 0.
    """
    c = instance.config
    n, m = instance.n_users, instance.n_servers
    size = n + n * m + 1
    S = cp.Variable((size, size), symmetric=True)
    q = S[: size - 1, size - 1]
    phi, x = q[:n], q[n:]
    X = cp.reshape(x, (n, m), order="C")
    # W[n m + m', n] -> x_{n,m'} phi_n; picked out of the (x, phi) block with a one-hot mask
    block = S[n : size - 1, :n]
    onehot = np.kron(np.eye(n), np.ones((m, 1)))
    W = cp.reshape(cp.sum(cp.multiply(onehot, block), axis=1), (n, m), order="C")
    Phi = cp.reshape(phi, (n, 1), order="C") @ np.ones((1, m))  # phi_n repeated over servers
    t_scale = max(float(np.max(costs.delay0 + np.maximum(costs.ddelay, 0.0))), 1e-12)
    T = cp.Variable(nonneg=True)  # T / t_scale
    e_coef = y * c.omega_e * costs.denergy
    b_coef = y * c.omega_e * costs.energy0 - costs.score
    scale = max(float(np.max(np.abs(np.concatenate([e_coef.ravel(), b_coef.ravel()])))), y * c.omega_t * t_scale, 1e-12)
    # (8) objective Tr(P_1 S): y w_t T + sum A_n phi_n + sum (B x + G x phi), eq. (6)
    cost = (y * c.omega_t * t_scale * T + cp.sum(cp.multiply(b_coef, X)) + cp.sum(cp.multiply(e_coef, W))) / scale
    def cap(prices: Array, bound: float) -> cp.Constraint:
        # the priced shares of unused resources are notional and may overfill a server at the
        # current x; the row is relaxed to that load so the incumbent x stays feasible (ours)
        limit = np.maximum(bound, np.sum(priced.x * prices, axis=0))
        return cp.sum(cp.multiply(prices / limit, X), axis=0) <= 1
    constraints = [
        S >> 0,  # (8h)
        S[size - 1, size - 1] == 1,  # homogenising entry of the lifting
        cp.diag(S)[n : size - 1] == x,  # (8a) / (7a) / (5a): x (x - 1) = 0
        cp.sum(X, axis=1) == 1,  # (8b) / (7b) / (3b): one server per user
        phi >= 0, phi <= 1,  # (8c) / (7c)-(7d) / (3c)
        cp.diag(S)[:n] <= phi,  # phi^2 <= phi, implied by (3c) (ours, keeps the SDR bounded)
        W >= 0, W <= X, W <= Phi, W >= X + Phi - 1,  # McCormick bounds of x phi (ours)
        cap(priced.bandwidth, c.b_max_hz),  # (8d) / (7e) / (3d) per-server bandwidth
        cap(priced.server_power, c.p_max_server_w),  # (8e) / (7f) / (3f) per-server power
        cap(priced.server_flops, c.f_max_server),  # (8f) / (7g) / (3h) per-server compute
        # (8g) / (7h) / (3j): sum_m x (T_s + T_u) = sum_m (delay0 x + ddelay x phi) <= T per user
        cp.sum(cp.multiply(costs.delay0 / t_scale, X) + cp.multiply(costs.ddelay / t_scale, W), axis=1) <= T,
    ]
    if not costs.allowed.all():
        constraints.append(X[~costs.allowed] == 0)
    problem = cp.Problem(cp.Minimize(cost), constraints)
    if not _solve(problem, solver, "AO part 1 SDR (8)", log):
        return None
    log.bound = -float(problem.value) * scale  # upper bound on the objective of (6) at this y (plus constants)
    return np.clip(np.asarray(X.value, dtype=float), 0.0, 1.0)


def round_association(relaxed_x: Array, max_users_per_server: int | None, allowed: Array) -> Array:
    """Rows with sum > 1 are normalised, then the Hungarian method picks the heaviest matching.

    Each server m is copied into `max_users_per_server` slots (all N when None), so the
    matrix is users x (M * slots); scipy handles the rectangular case the paper pads with
    zero vectors. Returns the 0/1 x (N, M).
    """
    n, m = relaxed_x.shape
    weights = relaxed_x / np.maximum(relaxed_x.sum(axis=1, keepdims=True), 1.0)
    weights = np.where(allowed, weights, -1e6)
    slots = n if max_users_per_server is None else max_users_per_server
    rows, cols = linear_sum_assignment(np.repeat(weights, slots, axis=1), maximize=True)
    x = np.zeros((n, m), dtype=np.int64)
    x[rows, cols // slots] = 1
    return x


def optimal_phi(instance: AdapterTrainingInstance, x: Array, costs: PairCosts, y: float, solver: str, log: StepLog) -> Array | None:
    """Given x, the LP left of (7) in phi and T: min y w_t T + y w_e sum slope_n phi_n s.t. (3c), (3j)."""
    c = instance.config
    d0, dd = np.sum(x * costs.delay0, axis=1), np.sum(x * costs.ddelay, axis=1)
    de = np.sum(x * costs.denergy, axis=1)
    t_scale = max(float(np.max(d0 + np.maximum(dd, 0.0))), 1e-12)
    phi, T = cp.Variable(instance.n_users), cp.Variable()
    scale = max(float(np.max(np.abs(de))) * y * c.omega_e, y * c.omega_t * t_scale, 1e-12)
    problem = cp.Problem(
        cp.Minimize((y * c.omega_t * t_scale * T + y * c.omega_e * de @ phi) / scale),
        [
            phi >= 0, phi <= 1,  # (3c)
            d0 / t_scale + cp.multiply(dd / t_scale, phi) <= T,  # (3j)
        ],
    )
    if not _solve(problem, solver, "AO part 1 phi LP", log):
        return None
    return np.clip(np.asarray(phi.value, dtype=float), 0.0, 1.0)


def ao_part1(
    instance: AdapterTrainingInstance, current: Solution, y: float, solver: str, sdr_solver: str
) -> tuple[Solution, StepLog]:
    """AO part 1 (III-A): SDR (8), rounding, optimal phi; keep whichever of it and the incumbent is better."""
    log = StepLog()
    priced = prospective_resources(instance, current)
    costs = pair_costs(instance, priced)
    candidates = [current]
    phi_here = optimal_phi(instance, current.x, costs, y, solver, log)
    if phi_here is not None:
        candidates.append(fit_to_capacity(instance, priced.with_(phi=phi_here)))
    relaxed = solve_sdr(instance, priced, costs, y, sdr_solver, log)
    if relaxed is not None:
        x = round_association(relaxed, instance.config.max_users_per_server, costs.allowed)
        phi_new = optimal_phi(instance, x, costs, y, solver, log)
        if phi_new is not None:
            # each user brings what it held to its new server; (3d), (3f), (3h) are then restored
            moved = priced.with_(x=x, phi=phi_new)
            candidates.append(fit_to_capacity(instance, moved))
    values = [objective(instance, s, y) for s in candidates]
    log.objectives = values
    best = int(np.argmax(values))
    return candidates[best], log


# --- AO part 2: b, p_u, p_s, f_u, f_s, T (section III-B) ---------------------------


class ResourceProblem:
    """Problem (12) for a fixed x, phi and y, with z_1, z_2 as cvxpy Parameters (DPP: re-solves reuse it)."""

    def __init__(self, instance: AdapterTrainingInstance, x: Array, phi: Array, y: float) -> None:
        c = instance.config
        self.instance, self.x, self.phi, self.y = instance, x, phi, y
        n = instance.n_users
        self.server = np.argmax(x, axis=1)
        gain = instance.gain[np.arange(n), self.server]
        noise_psd = float(radio.dbm_to_watt(c.noise_density_dbm_hz))
        snr_per_w = gain / (noise_psd * MHZ)  # g / (sigma^2 b) with b in MHz
        d = instance.adapter_params
        self.up_mbit = phi * d * c.omega_b / MBIT
        self.dn_mbit = (1 - phi) * d * c.omega_b / MBIT
        work_u = instance.flops_per_param * phi * d * c.epochs_user / TFLOPS  # TFLOP
        work_s = instance.flops_per_param * (1 - phi) * d * c.epochs_server / TFLOPS
        self.up = np.flatnonzero(self.up_mbit > 0)
        self.dn = np.flatnonzero(self.dn_mbit > 0)
        uc, sc = np.flatnonzero(work_u > 0), np.flatnonzero(work_s > 0)

        self.b = cp.Variable(n, nonneg=True)  # MHz
        self.pu = cp.Variable(n, nonneg=True)  # W
        self.ps = cp.Variable(n, nonneg=True)  # W
        self.fu = cp.Variable(n, nonneg=True)  # TFLOP/s
        self.fs = cp.Variable(n, nonneg=True)  # TFLOP/s
        self.T = cp.Variable(nonneg=True)  # s
        self.uu = cp.Variable(len(self.up), nonneg=True)  # >= 1 / r_{n,m}, s per Mbit
        self.ud = cp.Variable(len(self.dn), nonneg=True)  # >= 1 / r_{m,n}
        self.z1 = cp.Parameter(len(self.up), nonneg=True)  # y w_e z_1 (chi_1 / p_n)^2, scaled
        self.w1 = cp.Parameter(len(self.up), nonneg=True)  # y w_e / (4 z_1), scaled
        self.z2 = cp.Parameter(len(self.dn), nonneg=True)
        self.w2 = cp.Parameter(len(self.dn), nonneg=True)

        rate = lambda idx, p: -cp.rel_entr(self.b[idx], self.b[idx] + cp.multiply(snr_per_w[idx], p[idx])) / math.log(2)  # noqa: E731
        self.rate_up, self.rate_dn = rate(self.up, self.pu), rate(self.dn, self.ps)
        kappa_u, kappa_s = c.kappa_user * TFLOPS**3, c.kappa_server * TFLOPS**3
        self.scale = c.varpi_1 * n
        share = self.ps / c.p_max_server_w + self.fs / (c.f_max_server / TFLOPS) + self.b / (c.b_max_hz / MHZ)
        score = c.varpi_1 * cp.sum(cp.log(1 + c.varpi_2 * share))  # eq. (1), sum over chosen pairs
        energy_compute = kappa_u * cp.sum(cp.multiply(work_u[uc], cp.square(self.fu[uc]))) + kappa_s * cp.sum(
            cp.multiply(work_s[sc], cp.square(self.fs[sc]))
        )  # E^(t1) + E^(t3), the convex part of (9)
        # (11): chi^2 z + 1 / (4 r^2 z) >= chi / r, with 1 / r <= u
        transmit = cp.sum(cp.multiply(self.z1, cp.square(self.pu[self.up]))) + cp.sum(cp.multiply(self.w1, cp.square(self.uu)))
        transmit += cp.sum(cp.multiply(self.z2, cp.square(self.ps[self.dn]))) + cp.sum(cp.multiply(self.w2, cp.square(self.ud)))
        t1 = cp.multiply(work_u[uc], cp.inv_pos(self.fu[uc]))
        t3 = cp.multiply(work_s[sc], cp.inv_pos(self.fs[sc]))
        pair_time = 0
        for idx, term in ((uc, t1), (sc, t3), (self.up, cp.multiply(self.up_mbit[self.up], self.uu)), (self.dn, cp.multiply(self.dn_mbit[self.dn], self.ud))):
            if len(idx):
                pair_time = pair_time + _scatter(idx, n) @ term
        loads = lambda v: _server_sum(self.server, instance.n_servers) @ v  # noqa: E731
        constraints = [
            loads(self.b) <= c.b_max_hz / MHZ,  # (3d) per-server bandwidth
            self.pu <= c.p_max_user_w,  # (3e) user power
            loads(self.ps) <= c.p_max_server_w,  # (3f) per-server power
            self.fu <= c.f_max_user / TFLOPS,  # (3g) user compute
            loads(self.fs) <= c.f_max_server / TFLOPS,  # (3h) per-server compute
            # (3i) non-negativity: the variables are declared nonneg
            pair_time <= self.T,  # (3j) T_s + T_u <= T for every chosen pair
        ]
        if len(self.up):
            constraints.append(self.uu >= cp.inv_pos(self.rate_up))  # 1 / r_{n,m} <= u (epigraph)
        if len(self.dn):
            constraints.append(self.ud >= cp.inv_pos(self.rate_dn))
        idle = np.setdiff1d(np.arange(n), uc)
        if len(idle):  # users who train nothing: p_n, F_n cost nothing; keep them at their maxima
            constraints += [self.pu[idle] == c.p_max_user_w, self.fu[idle] == c.f_max_user / TFLOPS]
        # objective (12), divided by `scale`
        self.problem = cp.Problem(
            cp.Maximize((score - y * c.omega_t * self.T - y * c.omega_e * (energy_compute + transmit)) / self.scale), constraints
        )

    def set_z(self, solution: Solution) -> None:
        """Closed-form z_1 = 1 / (2 chi_1 r_{n,m}), z_2 = 1 / (2 chi_2 r_{m,n}) at `solution` (section III-B)."""
        c = self.instance.config
        ev = evaluate(self.instance, solution)
        n = self.instance.n_users
        rows = np.arange(n)
        r_up = ev.rate_up[rows, self.server] / MBIT
        r_dn = ev.rate_down[rows, self.server] / MBIT
        pu, ps = solution.user_power, solution.server_power[rows, self.server]
        k = self.y * c.omega_e / self.scale
        for idx, bits, p, r, zp, wp in ((self.up, self.up_mbit, pu, r_up, self.z1, self.w1), (self.dn, self.dn_mbit, ps, r_dn, self.z2, self.w2)):
            chi = np.maximum(p[idx] * bits[idx], 1e-12)
            z = 1.0 / (2.0 * chi * np.maximum(r[idx], 1e-12))
            zp.value = k * z * bits[idx] ** 2  # coefficient of p^2 in chi^2 z
            wp.value = k / (4.0 * z)

    def solution(self, template: Solution) -> Solution:
        """The solved resources as a Solution (pair arrays filled on the chosen server only)."""
        x = self.x
        pair = lambda v: x * np.asarray(v, dtype=float)[:, None]  # noqa: E731
        return fit_to_capacity(
            self.instance,
            template.with_(
                bandwidth=pair(self.b.value) * MHZ,
                user_power=np.asarray(self.pu.value, dtype=float),
                server_power=pair(self.ps.value),
                user_flops=np.asarray(self.fu.value, dtype=float) * TFLOPS,
                server_flops=pair(self.fs.value) * TFLOPS,
            ),
        )


def _scatter(idx: Array, n: int) -> Array:
    """(n, len(idx)) 0/1 matrix putting entry j of a sub-vector at position idx[j]."""
    out = np.zeros((n, len(idx)))
    out[idx, np.arange(len(idx))] = 1.0
    return out


def _server_sum(server: Array, m: int) -> Array:
    """(m, n) 0/1 matrix summing a per-user vector over each server's users."""
    out = np.zeros((m, len(server)))
    out[server, np.arange(len(server))] = 1.0
    return out


def ao_part2(
    instance: AdapterTrainingInstance, current: Solution, y: float, solver: str, max_iterations: int, tolerance: float
) -> tuple[Solution, StepLog]:
    """AO part 2 (III-B): alternate closed-form z and the concave problem (12) until (10) stops improving."""
    log = StepLog()
    model = ResourceProblem(instance, current.x, current.phi, y)
    best, best_value = current, objective(instance, current, y)
    log.objectives.append(best_value)
    for _ in range(max_iterations):
        model.set_z(best)
        if not _solve(model.problem, solver, "AO part 2 FP (12)", log):
            break
        candidate = model.solution(best)
        value = objective(instance, candidate, y)
        if not np.isfinite(value) or value < best_value:
            log.events[-1].used = False
            break
        improvement = value - best_value
        best, best_value = candidate, value
        log.objectives.append(value)
        if improvement <= tolerance * max(abs(best_value), 1.0):
            break
    return best, log
