"""Seeded runs of the association heuristics and their aggregation (Picano et al., section V).

Run `r` of seed `s` draws its instance and each solver's random choices from children
of `SeedSequence([s, r])`: the same seed gives the same numbers, every solver sees the
same instance, and adding a solver changes no other's draws. Results are averaged over
runs, as the paper's "averaged over the number of 1000 independent runs".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from environment.association import AssociationConfig, evaluate, generate_instance
from solvers.matching import HEURISTICS, optimal_assignment

# Small enough for the MILP in well under a second: same distributions, fewer players.
GAP_CONFIG = AssociationConfig(n_users=(8, 12), n_nodes=(3, 5))


def run_generators(seed: int, run: int) -> tuple[np.random.Generator, dict[str, np.random.Generator]]:
    """The instance generator and one generator per heuristic for run `run` of `seed`."""
    children = np.random.SeedSequence([seed, run]).spawn(1 + len(HEURISTICS))
    return np.random.default_rng(children[0]), {name: np.random.default_rng(c) for name, c in zip(HEURISTICS, children[1:])}


def heuristic_rows(config: AssociationConfig, seed: int, runs: int, with_optimum: bool = False) -> Iterator[dict[str, Any]]:
    """One row per (run, heuristic): sizes, served, mean delay, drop probability, eq. (5).

    With `with_optimum`, each row also holds the MILP optimum's mean delay serving as
    many users as the heuristic did and the relative gap (>= 0 up to solver tolerance).
    """
    for run in range(runs):
        instance_rng, solver_rngs = run_generators(seed, run)
        instance = generate_instance(config, instance_rng)
        for name, solver in HEURISTICS.items():
            outcome = evaluate(instance, solver(instance, solver_rngs[name]))
            row: dict[str, Any] = {
                "run": run,
                "solver": name,
                "n_users": instance.n_users,
                "n_nodes": instance.n_nodes,
                "served": outcome.n_served,
                "mean_delay_ms": outcome.mean_delay_ms,
                "drop_probability": outcome.drop_probability,
                "unserved_share": outcome.unserved_share,
                "late_share": outcome.late_share,
                "objective_ms": outcome.objective_ms,
            }
            if with_optimum:
                best = evaluate(instance, optimal_assignment(instance, outcome.n_served)) if outcome.n_served else None
                row["optimum_mean_delay_ms"] = best.mean_delay_ms if best else float("nan")
                row["optimality_gap"] = outcome.mean_delay_ms / best.mean_delay_ms - 1.0 if best else float("nan")
            yield row


def summarise(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Per solver, the mean over runs of each key (NaN runs, e.g. nobody served, left out)."""
    summary: dict[str, dict[str, float]] = {}
    for name in HEURISTICS:
        mine = [row for row in rows if row["solver"] == name]
        summary[name] = {key: _nanmean([row[key] for row in mine]) for key in keys}
    return summary


def _nanmean(values: list[float]) -> float:
    finite = np.asarray(values, dtype=float)
    finite = finite[~np.isnan(finite)]
    return float(finite.mean()) if finite.size else float("nan")


def collect(rows: Iterator[dict[str, Any]], on_row: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Drain `rows` into a list, calling `on_row` on each (CSV writing, progress)."""
    kept = []
    for row in rows:
        if on_row is not None:
            on_row(row)
        kept.append(row)
    return kept
