"""Section II of the DASHF paper: every formula against a hand computation, the constraints, the instances."""

from __future__ import annotations

import math

import numpy as np
import pytest

from environment.adapter_training import (
    Solution,
    adapter_training_config,
    dinkelbach_objective,
    downlink_delay,
    downlink_energy,
    downlink_rate,
    equal_allocation,
    evaluate,
    feasibility,
    fit_to_capacity,
    generate_instance,
    local_training_delay,
    local_training_energy,
    server_side_time,
    server_training_delay,
    server_training_energy,
    service_cost_ratio,
    service_score,
    total_delay,
    total_energy,
    uplink_delay,
    uplink_energy,
    uplink_rate,
    user_side_time,
)
from environment.config import ConfigError

CFG = adapter_training_config()
ONE = np.ones((1, 1))


def test_uplink_and_downlink_rates_are_fdma_shannon():
    # -130 dBm/Hz = 1e-16 W/Hz; b = 1 MHz, g = 1e-10: SNR = g p / (sigma^2 b) = p / 1e0
    assert uplink_rate(1e6, 0.3, 1e-10, -130.0) == pytest.approx(1e6 * math.log2(1.3))
    assert downlink_rate(1e6, 2.0, 1e-10, -130.0) == pytest.approx(1e6 * math.log2(3.0))
    assert uplink_rate(0.0, 0.3, 1e-10, -130.0) == 0.0


def test_the_four_delays_and_the_side_times():
    phi, d, t = np.array([0.5]), np.array([4e6]), np.array([2e6])
    t1 = local_training_delay(phi, d, t, 1, np.array([1e12]))  # 2e6 * 0.5 * 4e6 / 1e12
    t2 = uplink_delay(ONE, phi, d, 32, np.array([[1e6]]))  # 0.5 * 4e6 * 32 / 1e6
    t3 = server_training_delay(ONE, phi, d, t, 1, np.array([[2e12]]))  # 2e6 * 0.5 * 4e6 / 2e12
    t4 = downlink_delay(ONE, phi, d, 32, np.array([[2e6]]))  # 0.5 * 4e6 * 32 / 2e6
    assert (t1[0], t2[0, 0], t3[0, 0], t4[0, 0]) == pytest.approx((4.0, 64.0, 2.0, 32.0))
    assert server_side_time(t2, t3)[0, 0] == pytest.approx(66.0)
    assert user_side_time(t1, t4)[0, 0] == pytest.approx(36.0)
    assert total_delay(ONE, server_side_time(t2, t3), user_side_time(t1, t4)) == pytest.approx(102.0)
    # an unchosen pair costs nothing
    assert uplink_delay(np.zeros((1, 1)), phi, d, 32, np.array([[1e6]]))[0, 0] == 0.0


def test_total_delay_is_the_max_over_chosen_pairs_only():
    x = np.array([[1, 0], [0, 1]])
    side = np.array([[5.0, 100.0], [100.0, 7.0]])
    assert total_delay(x, side, np.zeros((2, 2))) == 7.0


def test_the_four_energies_and_their_total():
    phi, d, t = np.array([0.5]), np.array([4e6]), np.array([2e6])
    e1 = local_training_energy(phi, d, t, 1, 1e-38, np.array([1e12]))  # 1e-38 * 0.5*4e6*2e6 * 1e24
    e2 = uplink_energy(np.array([0.2]), np.array([[64.0]]))
    e3 = server_training_energy(ONE, phi, d, t, 1, 1e-38, np.array([[2e12]]))  # 1e-38 * 4e12 * 4e24
    e4 = downlink_energy(np.array([[5.0]]), np.array([[32.0]]))
    assert (e1[0], e2[0, 0], e3[0, 0], e4[0, 0]) == pytest.approx((0.04, 12.8, 0.16, 160.0))
    assert total_energy(e1, e2, e3, e4) == pytest.approx(173.0)


def test_service_score_eq1_and_scr_eq2():
    # half of every server resource: share = 1.5, varpi_2 share = 0.5
    v = service_score(5.0, CFG.f_max_server / 2, 5e6, CFG)
    assert v == pytest.approx(10000 * math.log2(1.5))
    scr = service_cost_ratio(ONE, np.array([[v]]), 102.0, 173.0, 0.5, 0.005)
    assert scr == pytest.approx(v / (0.5 * 102.0 + 0.005 * 173.0))
    assert dinkelbach_objective(ONE, np.array([[v]]), 102.0, 173.0, 0.5, 0.005, scr) == pytest.approx(0.0, abs=1e-9)


def test_config_defaults_follow_section_5a():
    assert CFG.f_max_user == pytest.approx(19.58e12)
    assert CFG.f_max_server == pytest.approx(1372.8e12)
    assert CFG.varpi_1 == pytest.approx(10000 / math.log(2))
    assert (CFG.n_users, CFG.n_servers, CFG.b_max_hz, CFG.p_max_user_w, CFG.p_max_server_w) == (10, 2, 10e6, 0.2, 10.0)


@pytest.mark.parametrize("bad", [{"n_users": 0}, {"kappa": 1.0}, {"adapter_params_low": 20e6}, {"max_users_per_server": 2}])
def test_bad_config_is_a_one_line_error(bad):
    with pytest.raises(ConfigError) as error:
        adapter_training_config(bad)
    assert "\n" not in str(error.value)


def test_instances_are_seeded_and_within_section_5a_ranges():
    a = generate_instance(CFG, np.random.default_rng(3))
    b = generate_instance(CFG, np.random.default_rng(3))
    assert np.array_equal(a.gain, b.gain) and np.array_equal(a.adapter_params, b.adapter_params)
    assert not np.array_equal(a.gain, generate_instance(CFG, np.random.default_rng(4)).gain)
    assert np.all((a.adapter_params >= 1.2e6) & (a.adapter_params <= 14e6))
    assert np.all((a.token_bits >= 10e6) & (a.token_bits <= 50e6))
    assert np.allclose(a.flops_per_param, 6 * a.token_bits / 32)
    assert np.all((a.user_xy >= 0) & (a.user_xy <= 1000)) and a.gain.shape == (10, 2)


def _point() -> tuple:
    inst = generate_instance(CFG, np.random.default_rng(0))
    x = np.eye(2, dtype=np.int64)[np.arange(10) % 2]
    return inst, equal_allocation(inst, x, np.full(10, 0.5))


def test_equal_allocation_is_feasible_and_its_evaluation_matches_the_formulas():
    inst, sol = _point()
    assert feasibility(inst, sol).ok()
    ev = evaluate(inst, sol)
    assert ev.scr == pytest.approx(ev.service / (CFG.omega_t * ev.delay_s + CFG.omega_e * ev.energy_j))
    assert ev.service == pytest.approx(float(np.sum(sol.x * ev.score)))


@pytest.mark.parametrize(
    ("change", "constraint", "amount"),
    [
        (lambda s: s.with_(bandwidth=s.bandwidth * 1.1), "(3d) server bandwidth", 0.1),
        (lambda s: s.with_(user_power=s.user_power * 1.5), "(3e) user power", 0.5),
        (lambda s: s.with_(server_flops=s.server_flops * 1.2), "(3h) server compute", 0.2),
        (lambda s: s.with_(phi=s.phi + 0.75), "(3c) phi in [0, 1]", 0.25),
        (lambda s: s.with_(x=np.vstack([np.zeros((1, 2), dtype=np.int64), s.x[1:]])), "(3b) one server per user", 1.0),
    ],
)
def test_feasibility_names_the_worst_violation(change, constraint, amount):
    inst, sol = _point()
    report = feasibility(inst, change(sol))
    assert report.worst_constraint == constraint
    assert report.worst == pytest.approx(amount)
    assert not report.ok()


def test_starved_link_violates_3j():
    inst, sol = _point()
    report = feasibility(inst, sol.with_(bandwidth=np.zeros_like(sol.bandwidth)))
    assert report.worst_constraint == "(3j) delay within T" and report.worst == math.inf


def test_fit_to_capacity_restores_every_bound():
    inst, sol = _point()
    over = sol.with_(bandwidth=sol.bandwidth * 3, server_power=sol.server_power * 2, user_flops=sol.user_flops * 2)
    assert not feasibility(inst, over).ok()
    fitted = fit_to_capacity(inst, over)
    assert feasibility(inst, fitted).ok()
    assert np.sum(fitted.x[:, 0] * fitted.bandwidth[:, 0]) == pytest.approx(CFG.b_max_hz)


def test_solution_fields_have_paper_shapes():
    inst, sol = _point()
    assert isinstance(sol, Solution)
    assert sol.x.shape == sol.bandwidth.shape == sol.server_power.shape == (10, 2)
    assert sol.phi.shape == sol.user_power.shape == sol.user_flops.shape == (10,)
