"""The four baselines of the DASHF paper, section V-C.

1. RUCAA: random user connection, average resource allocation.
2. GUCAA: greedy user connection (fewest users first), average resource allocation.
3. AAUCO: average resource allocation, user connection (and phi) by AO part 1 (III-A).
4. GUCRO: greedy user connection, resources by AO part 2 (III-B).

"Average" = each server splits b_max, p_max^(m), F_max^(m) evenly over its users, users
at p_max^(n), F_max^(n) (`equal_allocation`). The paper optimises phi only in AO part 1, so
the methods without it keep Algorithm 1's phi = 0.5 (ours: the paper does not say).
AAUCO and GUCRO run Algorithm 1's Dinkelbach loop with their one AO step.
"""

from __future__ import annotations

import time

import numpy as np

from environment.adapter_training import AdapterTrainingInstance, Solution, equal_allocation
from solvers.dashf import DashfSettings, MethodResult, dashf, dinkelbach, finish, initial_solution, part1_step, part2_step
from solvers.dashf_parts import StepLog, objective


def greedy_association(instance: AdapterTrainingInstance) -> np.ndarray:
    """Users in index order each join the server with the fewest users so far (V-C, GUCAA).

    Ties go to the server with the larger channel gain g_{n,m} (ours: the paper leaves
    ties open).
    """
    n, m = instance.n_users, instance.n_servers
    x = np.zeros((n, m), dtype=np.int64)
    for user in range(n):
        load = x.sum(axis=0)
        fewest = np.flatnonzero(load == load.min())
        x[user, fewest[np.argmax(instance.gain[user, fewest])]] = 1
    return x


def random_association(instance: AdapterTrainingInstance, rng: np.random.Generator) -> np.ndarray:
    """Each user joins a server drawn uniformly at random from `rng` (V-C, RUCAA)."""
    n, m = instance.n_users, instance.n_servers
    x = np.zeros((n, m), dtype=np.int64)
    x[np.arange(n), rng.integers(0, m, size=n)] = 1
    return x


def _fixed(name: str, instance: AdapterTrainingInstance, x: np.ndarray, phi: float) -> MethodResult:
    started = time.perf_counter()
    return finish(name, instance, equal_allocation(instance, x, np.full(instance.n_users, phi)), started, [], [])


def rucaa(instance: AdapterTrainingInstance, rng: np.random.Generator, settings: DashfSettings | None = None) -> MethodResult:
    """RUCAA (V-C.1)."""
    settings = settings or DashfSettings()
    return _fixed("RUCAA", instance, random_association(instance, rng), settings.initial_phi)


def gucaa(instance: AdapterTrainingInstance, settings: DashfSettings | None = None) -> MethodResult:
    """GUCAA (V-C.2)."""
    settings = settings or DashfSettings()
    return _fixed("GUCAA", instance, greedy_association(instance), settings.initial_phi)


def aauco(instance: AdapterTrainingInstance, settings: DashfSettings | None = None) -> MethodResult:
    """AAUCO (V-C.3): AO part 1 for x and phi; each server re-splits its resources evenly after it."""
    settings = settings or DashfSettings()
    part1 = part1_step(instance, settings)

    def step(solution: Solution, y: float) -> tuple[Solution, StepLog]:
        moved, log = part1(solution, y)
        even = equal_allocation(instance, moved.x, moved.phi)
        # keep the incoming point if re-splitting made (3)'s objective worse (y stays monotone)
        return (even, log) if objective(instance, even, y) >= objective(instance, solution, y) else (solution, log)

    start = equal_allocation(instance, initial_solution(instance, settings.initial_phi).x, np.full(instance.n_users, settings.initial_phi))
    return dinkelbach("AAUCO", instance, start, {"ao_part1": step}, settings)


def gucro(instance: AdapterTrainingInstance, settings: DashfSettings | None = None) -> MethodResult:
    """GUCRO (V-C.4): greedy x, phi = 0.5, resources by AO part 2."""
    settings = settings or DashfSettings()
    start = equal_allocation(instance, greedy_association(instance), np.full(instance.n_users, settings.initial_phi))
    return dinkelbach("GUCRO", instance, start, {"ao_part2": part2_step(instance, settings)}, settings)


METHODS = ("DASHF", "AAUCO", "GUCRO", "RUCAA", "GUCAA")


def run_method(name: str, instance: AdapterTrainingInstance, rng: np.random.Generator, settings: DashfSettings | None = None) -> MethodResult:
    """Run one of `METHODS` by name (RUCAA draws its association from `rng`)."""
    settings = settings or DashfSettings()
    if name == "DASHF":
        return dashf(instance, settings)
    if name == "AAUCO":
        return aauco(instance, settings)
    if name == "GUCRO":
        return gucro(instance, settings)
    if name == "RUCAA":
        return rucaa(instance, rng, settings)
    if name == "GUCAA":
        return gucaa(instance, settings)
    raise ValueError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
