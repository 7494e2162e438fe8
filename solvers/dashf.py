"""DASHF: Dinkelbach + Alternating optimisation + SDR + Hungarian + Fractional programming.

Qian & Zhao, "User Association and Resource Allocation in Large Language Model Based
Mobile Edge Computing System over 6G Wireless Communications"
(papers/dashf-user-association.txt), Algorithm 1. Read beside the paper:

1. Initialise (Algorithm 1, line 1): b = b_max / N, p_n = p_max^(n), p_{n,m} = p_max^(m) / N,
   F_n = F_max^(n), F_{n,m} = F_max^(m) / N, x^(0) = (e_1, ..., e_M)^T (user n to server
   n mod M), phi = 0.5; y^(0) = SCR of that point (line 2).
2. Repeat (lines 3-8): AO part 1 (x, phi by the SDR (8) + Hungarian, `dashf_parts.ao_part1`),
   AO part 2 (b, p_u, p_s, f_u, f_s by the FP transform (11)-(12), `dashf_parts.ao_part2`),
   y <- SCR (eq. 2), until y^(i+1) / y^(i) - 1 <= epsilon.

Each AO step keeps the incumbent when its solver fails or its point is worse, so y never
decreases (up to solver tolerance) and the returned point is the best feasible one seen.

Example
-------
>>> import numpy as np
>>> from environment.adapter_training import adapter_training_config, generate_instance
>>> result = dashf(generate_instance(adapter_training_config(), np.random.default_rng(1)))
>>> result.feasible
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from pydantic import Field

from environment.adapter_training import AdapterTrainingInstance, Evaluation, Solution, evaluate, feasibility
from environment.config import StrictConfig
from solvers.dashf_parts import SolverEvent, StepLog, ao_part1, ao_part2

Step = Callable[[Solution, float], tuple[Solution, StepLog]]


class DashfSettings(StrictConfig):
    """Algorithm 1's knobs (the paper gives no values; these are ours)."""

    epsilon: float = Field(1e-3, gt=0)  # line 8 stopping rule on y^(i+1)/y^(i) - 1
    max_outer: int = Field(20, gt=0)  # safety cap on Dinkelbach iterations
    fp_max_iterations: int = Field(10, gt=0)  # AO part 2: z / (12) alternations
    fp_tolerance: float = Field(1e-4, gt=0)  # AO part 2: relative improvement of (10)
    # open solvers (Mosek is unavailable): Clarabel for the exponential-cone problem (12)
    # and the LPs; for the SDR (8) "auto" takes Clarabel up to a 40 x 40 lifted matrix
    # (N = 10, M = 2: 0.3 s vs SCS 2.8 s) and SCS above (N = 20, M = 3: 3.7 s vs 20 s)
    solver: str = Field("CLARABEL", pattern="^(CLARABEL|SCS)$")
    sdr_solver: str = Field("auto", pattern="^(auto|CLARABEL|SCS)$")

    def sdr_solver_for(self, n_users: int, n_servers: int) -> str:
        """The solver used for the SDR (8) of an N x M instance."""
        if self.sdr_solver != "auto":
            return self.sdr_solver
        return "CLARABEL" if n_users * (n_servers + 1) + 1 <= 40 else "SCS"
    initial_phi: float = Field(0.5, ge=0, le=1)  # Algorithm 1 line 1


@dataclass
class IterationRecord:
    """One Dinkelbach iteration: y after it and what each AO step logged (Fig. 2)."""

    iteration: int
    y: float
    steps: dict[str, StepLog]
    wall_s: float


@dataclass
class MethodResult:
    """A method's final point and how it got there."""

    name: str
    solution: Solution
    evaluation: Evaluation
    feasible: bool
    worst_violation: float
    iterations: int
    wall_s: float
    y_history: list[float] = field(default_factory=list)
    records: list[IterationRecord] = field(default_factory=list)

    @property
    def solver_events(self) -> list[SolverEvent]:
        return [event for record in self.records for log in record.steps.values() for event in log.events]

    def summary(self) -> dict[str, float | int | bool]:
        """The numbers `edge-icl bench dashf --json` prints."""
        return {
            "scr": self.evaluation.scr,
            "time_s": self.evaluation.delay_s,
            "energy_j": self.evaluation.energy_j,
            "iterations": self.iterations,
            "wall_s": self.wall_s,
            "feasible": self.feasible,
        }


def initial_solution(instance: AdapterTrainingInstance, phi: float) -> Solution:
    """Algorithm 1, line 1 (pair entries of unchosen servers are 0; AO part 1 prices them)."""
    c = instance.config
    n, m = instance.n_users, instance.n_servers
    x = np.zeros((n, m), dtype=np.int64)
    x[np.arange(n), np.arange(n) % m] = 1
    return Solution(
        x=x,
        phi=np.full(n, phi),
        bandwidth=x * (c.b_max_hz / n),
        user_power=np.full(n, c.p_max_user_w),
        server_power=x * (c.p_max_server_w / n),
        user_flops=np.full(n, c.f_max_user),
        server_flops=x * (c.f_max_server / n),
    )


def finish(name: str, instance: AdapterTrainingInstance, solution: Solution, started: float, records: list[IterationRecord], y_history: list[float]) -> MethodResult:
    """Evaluate and check the final point."""
    check = feasibility(instance, solution)
    return MethodResult(
        name=name,
        solution=solution,
        evaluation=evaluate(instance, solution),
        feasible=check.ok(),
        worst_violation=check.worst,
        iterations=len(records),
        wall_s=time.perf_counter() - started,
        y_history=y_history,
        records=records,
    )


def dinkelbach(
    name: str, instance: AdapterTrainingInstance, start: Solution, steps: dict[str, Step], settings: DashfSettings
) -> MethodResult:
    """Algorithm 1's outer loop over any sequence of AO steps (DASHF uses both parts)."""
    started = time.perf_counter()
    solution = start
    y = evaluate(instance, solution).scr  # line 2
    y_history, records = [y], []
    for iteration in range(1, settings.max_outer + 1):  # lines 3-8
        tick = time.perf_counter()
        logs = {}
        for step_name, step in steps.items():
            solution, logs[step_name] = step(solution, y)
        y_next = evaluate(instance, solution).scr  # line 7
        records.append(IterationRecord(iteration, y_next, logs, time.perf_counter() - tick))
        y_history.append(y_next)
        converged = y_next / y - 1 <= settings.epsilon  # line 8
        y = max(y, y_next)
        if converged:
            break
    return finish(name, instance, solution, started, records, y_history)


def part1_step(instance: AdapterTrainingInstance, settings: DashfSettings) -> Step:
    return lambda solution, y: ao_part1(instance, solution, y, settings.solver, settings.sdr_solver_for(instance.n_users, instance.n_servers))


def part2_step(instance: AdapterTrainingInstance, settings: DashfSettings) -> Step:
    return lambda solution, y: ao_part2(instance, solution, y, settings.solver, settings.fp_max_iterations, settings.fp_tolerance)


def dashf(instance: AdapterTrainingInstance, settings: DashfSettings | None = None) -> MethodResult:
    """Algorithm 1 (DASHF) from its initial point; returns the final (best) feasible point."""
    settings = settings or DashfSettings()
    steps = {"ao_part1": part1_step(instance, settings), "ao_part2": part2_step(instance, settings)}
    return dinkelbach("DASHF", instance, initial_solution(instance, settings.initial_phi), steps, settings)
