"""Solvers of Picano et al. (papers/inference-aware-matching.txt): IAM, rivals, MILP optimum, S2ES."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

import numpy as np
import pytest
from matching.games import HospitalResident
from typer.testing import CliRunner

import edge_icl.benches.matching  # noqa: F401  (registers the command)
from edge_icl.cli.app import app
from environment.association import UNSERVED, AssociationConfig, AssociationInstance, Assignment, evaluate, generate_instance
from solvers.matching import HEURISTICS, gale_shapley, inference_aware_matching, optimal_assignment, static_preferences
from edge_icl.problems.matching import GAP_CONFIG, heuristic_rows
from solvers.stability import blocking_pairs, is_s2es


def two_node_instance(deadlines: list[float]) -> AssociationInstance:
    """Two nodes of type 0 with room for one user each; users 0 and 1, close to node 0 and 1."""
    return AssociationInstance(
        user_type=np.array([0, 0]),
        tokens=np.array([100, 100]),
        deadline_ms=np.array(deadlines),
        storage=np.array([1.0, 1.0]),
        node_type=np.array([0, 0]),
        capacity=np.array([1.5, 1.5]),
        inter_token_ms=np.array([0.01, 0.01]),
        comm_ms=np.array([[0.1, 0.9], [0.9, 0.1]]),
    )


def tied_deadlines(instance: AssociationInstance) -> AssociationInstance:
    """Deadlines on a 0.5 ms grid, so ties occur and Def. 1's node conditions can hold."""
    return replace(instance, deadline_ms=np.round(instance.deadline_ms * 2) / 2)


def test_iam_node_accepts_the_proposer_with_the_later_deadline():
    # Both users prefer node 0 (no queue there, least communication); node 0 takes the later deadline.
    instance = replace(two_node_instance([1.0, 3.0]), comm_ms=np.array([[0.1, 0.1], [0.9, 0.9]]))
    result = inference_aware_matching(instance)
    assert result.node_of.tolist() == [1, 0]
    assert result.order.tolist() == [1, 0]


def test_checker_finds_the_swap_that_helps_both_users_with_equal_deadlines():
    instance = two_node_instance([2.0, 2.0])
    crossed = Assignment(node_of=np.array([1, 0]), order=np.array([0, 0]))
    assert blocking_pairs(instance, crossed).tolist() == [[0, 1]]
    assert not is_s2es(instance, crossed)
    assert is_s2es(instance, Assignment(node_of=np.array([0, 1]), order=np.array([0, 0])))


def test_distinct_deadlines_make_a_node_refuse_every_swap():
    instance = two_node_instance([2.0, 2.5])
    assert is_s2es(instance, Assignment(node_of=np.array([1, 0]), order=np.array([0, 0])))


@pytest.mark.parametrize("config", [AssociationConfig(), GAP_CONFIG, AssociationConfig(n_users=(30, 40), node_storage=(6.0, 12.0))])
def test_iam_outcome_is_s2es_on_random_instances_with_tied_deadlines(config):
    for seed in range(15):
        instance = tied_deadlines(generate_instance(config, np.random.default_rng(seed)))
        assert is_s2es(instance, inference_aware_matching(instance)), f"seed {seed}"


def test_gale_shapley_equals_the_matching_package_on_the_same_lists():
    config = AssociationConfig(n_users=(20, 30), n_nodes=(4, 6), user_storage=(1.0, 1.0), node_storage=(2.0, 5.9))
    for seed in range(10):
        instance = generate_instance(config, np.random.default_rng(seed))
        user_lists, node_lists = static_preferences(instance)
        # The package rejects empty lists; players without one stay unmatched either way.
        residents = {f"u{u}": [f"e{e}" for e in nodes] for u, nodes in enumerate(user_lists) if nodes}
        hospitals = {f"e{e}": [f"u{u}" for u in users] for e, users in enumerate(node_lists) if users}
        capacities = {name: int(np.floor(instance.capacity[int(name[1:])])) for name in hospitals}
        game = HospitalResident.create_from_dictionaries(residents, hospitals, capacities)
        expected = {str(r): str(h) for h, rs in game.solve(optimal="resident").items() for r in rs}
        ours = gale_shapley(instance).node_of
        got = {f"u{u}": f"e{e}" for u, e in enumerate(ours) if e != UNSERVED}
        assert got == expected, f"seed {seed}"


def brute_force_least_total_delay(instance: AssociationInstance, n_served: int) -> float:
    """Every assignment serving n_served users, every FIFO order: the least total delay."""
    best = np.inf
    options = [[UNSERVED, *np.flatnonzero(instance.compatible[:, u]).tolist()] for u in range(instance.n_users)]
    for node_of in itertools.product(*options):
        node_of = np.array(node_of)
        if np.sum(node_of != UNSERVED) != n_served:
            continue
        for order in itertools.permutations(range(instance.n_users)):
            try:
                outcome = evaluate(instance, Assignment(node_of=node_of, order=np.array(order)))
            except ValueError:
                break  # storage (7) violated: no order helps
            best = min(best, outcome.total_delay_ms)
    return best


def test_milp_equals_brute_force_on_a_tiny_instance():
    config = AssociationConfig(n_users=(5, 5), n_nodes=(2, 2), n_llm_types=1)
    for seed in range(3):
        instance = generate_instance(config, np.random.default_rng(seed))
        best = evaluate(instance, optimal_assignment(instance))
        assert best.total_delay_ms == pytest.approx(brute_force_least_total_delay(instance, best.n_served))


def test_heuristics_never_beat_the_milp_optimum_on_small_instances():
    rows = list(heuristic_rows(GAP_CONFIG, seed=7, runs=12, with_optimum=True))
    gaps = np.array([row["optimality_gap"] for row in rows if row["served"]])
    assert gaps.size > 0 and np.all(gaps >= -1e-9)
    assert np.any(gaps > 1e-6)  # the optimum is not just a copy of a heuristic
    for run in range(12):
        instance = generate_instance(GAP_CONFIG, np.random.default_rng(np.random.SeedSequence([7, run]).spawn(5)[0]))
        most = evaluate(instance, optimal_assignment(instance)).n_served
        assert all(row["served"] <= most for row in rows if row["run"] == run)


def test_same_seed_same_numbers_for_every_solver():
    first = list(heuristic_rows(AssociationConfig(), seed=3, runs=3))
    second = list(heuristic_rows(AssociationConfig(), seed=3, runs=3))
    other = list(heuristic_rows(AssociationConfig(), seed=4, runs=3))
    assert first == second
    assert [row["mean_delay_ms"] for row in first] != [row["mean_delay_ms"] for row in other]
    assert {row["solver"] for row in first} == set(HEURISTICS)


def test_bench_matching_json_shape(tmp_path):
    result = CliRunner().invoke(app, ["bench", "matching", "--runs", "4", "--gap-runs", "2", "--seed", "1", "--json", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"solvers"}
    assert set(data["solvers"]) == set(HEURISTICS)
    for values in data["solvers"].values():
        assert set(values) == {"mean_delay_ms", "drop_probability", "optimality_gap"}
        assert values["mean_delay_ms"] > 0 and 0 <= values["drop_probability"] <= 1 and values["optimality_gap"] >= 0
    folder = next(tmp_path.iterdir())
    assert (folder / "runs.csv").read_text().count("\n") == 1 + 4 * len(HEURISTICS)
    assert (folder / "gap.csv").exists() and (folder / "summary.json").exists()


def test_reproduce_script_smoke_run_writes_csv_and_png(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "reproduce_matching.py"
    done = subprocess.run([sys.executable, str(script), "--runs", "2", "--only", "fig4", "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    folder = next(tmp_path.iterdir())
    assert (folder / "fig4.png").stat().st_size > 0
    assert (folder / "fig4.csv").read_text().count("\n") == 1 + 6 * len(HEURISTICS)
