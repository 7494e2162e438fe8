"""DASHF (Algorithm 1) and the baselines of section V-C, on small seeded default instances."""

from __future__ import annotations

import json

import cvxpy as cp
import numpy as np
import pytest
from typer.testing import CliRunner

import edge_icl.benches.dashf  # noqa: F401  (registers `bench dashf` on the app)
from edge_icl.cli.app import app
from environment.adapter_training import adapter_training_config, evaluate, feasibility, generate_instance
from solvers.adapter_baselines import METHODS, greedy_association, run_method
from solvers.dashf import DashfSettings, dashf, initial_solution
from solvers.dashf_parts import StepLog, _solve, ao_part2, objective, pair_costs, prospective_resources, round_association, solve_sdr

SEEDS = (1, 2)
CFG = adapter_training_config()


@pytest.fixture(scope="module")
def runs() -> dict[int, dict]:
    """Every method on the default (10 users, 2 servers) instance of each seed."""
    out = {}
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        instance = generate_instance(CFG, rng)
        out[seed] = {"instance": instance, **{name: run_method(name, instance, rng) for name in METHODS}}
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_every_returned_solution_passes_the_feasibility_check(runs, seed):
    for name in METHODS:
        result = runs[seed][name]
        report = feasibility(runs[seed]["instance"], result.solution)
        assert report.ok(), f"{name}: {report.worst_constraint} violated by {report.worst}"
        assert result.feasible and np.isfinite(result.evaluation.scr)


@pytest.mark.parametrize("seed", SEEDS)
def test_dinkelbach_y_never_decreases(runs, seed):
    for name in ("DASHF", "AAUCO", "GUCRO"):
        y = np.asarray(runs[seed][name].y_history)
        assert len(y) >= 2
        assert np.all(np.diff(y) >= -1e-6 * y[:-1]), f"{name}: {y}"


@pytest.mark.parametrize("seed", SEEDS)
def test_dashf_scr_is_at_least_every_baselines(runs, seed):
    dashf_scr = runs[seed]["DASHF"].evaluation.scr
    for name in METHODS[1:]:
        assert dashf_scr >= runs[seed][name].evaluation.scr, name


@pytest.mark.parametrize("seed", SEEDS)
def test_dashf_converges_within_the_iteration_cap_and_improves_on_its_start(runs, seed):
    result = runs[seed]["DASHF"]
    assert result.iterations < DashfSettings().max_outer
    assert result.y_history[-1] > 10 * result.y_history[0]
    assert result.y_history[-1] == pytest.approx(result.evaluation.scr)


def test_dashf_is_deterministic(runs):
    again = dashf(generate_instance(CFG, np.random.default_rng(SEEDS[0])))
    first = runs[SEEDS[0]]["DASHF"]
    assert np.array_equal(again.solution.x, first.solution.x)
    assert np.allclose(again.y_history, first.y_history, rtol=1e-9)


def test_sdr_relaxation_bounds_the_points_it_is_relaxed_from():
    instance = generate_instance(CFG, np.random.default_rng(5))
    start = initial_solution(instance, 0.5)
    y = evaluate(instance, start).scr
    priced = prospective_resources(instance, start)
    log = StepLog()
    relaxed = solve_sdr(instance, priced, pair_costs(instance, priced), y, "CLARABEL", log)
    assert relaxed is not None and log.events[-1].status == cp.OPTIMAL
    assert np.allclose(relaxed.sum(axis=1), 1.0, atol=1e-5)  # (3b) holds in the relaxation
    # the initial point is feasible for P1, so the relaxation's optimum is at least its objective
    assert log.bound >= objective(instance, start, y) - 1e-6 * abs(log.bound)


def test_rounding_normalises_rows_and_respects_the_augmented_capacity():
    relaxed = np.array([[0.9, 0.6], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4]])
    x = round_association(relaxed, None, np.ones_like(relaxed, dtype=bool))
    assert np.array_equal(x.argmax(axis=1), [0, 0, 0, 0])
    capped = round_association(relaxed, 2, np.ones_like(relaxed, dtype=bool))
    assert capped.sum(axis=0).tolist() == [2, 2] and np.all(capped.sum(axis=1) == 1)
    # after normalising, rows 1 and 2 prefer server 0 most (by 0.6 and 0.4; row 0 by only 0.2)
    assert capped[:, 0].tolist() == [0, 1, 1, 0]


def test_greedy_association_balances_users():
    x = greedy_association(generate_instance(adapter_training_config(n_users=7, n_servers=3), np.random.default_rng(0)))
    assert sorted(x.sum(axis=0).tolist()) == [2, 2, 3]


def test_a_failing_solver_is_reported_and_the_incumbent_kept():
    instance = generate_instance(CFG, np.random.default_rng(1))
    start = initial_solution(instance, 0.5)
    y = evaluate(instance, start).scr
    log = StepLog()
    assert not _solve(cp.Problem(cp.Minimize(cp.Variable())), "MOSEK", "test", log)  # MOSEK is not installed
    assert log.events[-1].status.startswith("solver_error")
    kept, part2_log = ao_part2(instance, start, y, "MOSEK", 5, 1e-4)
    assert kept is start and part2_log.events[0].status.startswith("solver_error")


def test_bench_dashf_json_lists_five_methods_with_dashf_highest(tmp_path):
    result = CliRunner().invoke(app, ["bench", "dashf", "--seed", "1", "--users", "6", "--servers", "2", "--json", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    methods = json.loads(result.stdout)["methods"]
    assert set(methods) == set(METHODS)
    assert all(set(m) == {"scr", "time_s", "energy_j", "iterations", "wall_s", "feasible"} for m in methods.values())
    assert all(m["feasible"] for m in methods.values())
    assert max(methods, key=lambda name: methods[name]["scr"]) == "DASHF"
    run_dir = next(tmp_path.iterdir())
    assert (run_dir / "methods.csv").read_text().count("\n") == 1 + len(METHODS)


def test_bench_dashf_rejects_bad_sizes_in_one_line(tmp_path):
    result = CliRunner().invoke(app, ["bench", "dashf", "--users", "0", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "n_users" in result.output
