import numpy as np
import pytest

from environment import radio


def test_path_loss_is_128_1_at_one_km_and_adds_37_6_per_decade():
    assert radio.path_loss_db(1000.0) == pytest.approx(128.1)
    assert radio.path_loss_db(100.0) == pytest.approx(128.1 - 37.6)
    # 250 m by hand: 128.1 + 37.6 * log10(0.25) = 128.1 - 22.63746
    assert radio.path_loss_db(250.0) == pytest.approx(105.46254, abs=1e-4)


def test_dbm_and_noise_conversions():
    assert radio.dbm_to_watt(30.0) == pytest.approx(1.0)
    assert radio.dbm_to_watt(46.0) == pytest.approx(39.81072, rel=1e-6)
    # -174 dBm/Hz over 180 kHz: 10^(-20.4) W/Hz * 1.8e5 Hz
    assert radio.noise_power_w(-174.0, 180e3) == pytest.approx(10 ** (-20.4) * 1.8e5, rel=1e-9)


def test_rayleigh_power_gain_has_unit_mean_and_is_seeded():
    a = radio.rayleigh_power_gain(np.random.default_rng(3), 200_000)
    b = radio.rayleigh_power_gain(np.random.default_rng(3), 200_000)
    assert np.array_equal(a, b)
    assert a.mean() == pytest.approx(1.0, abs=0.01)


def test_resource_block_rate_matches_shannon_by_hand():
    # SINR = 1e-6 * 1e-10 / (1e-18 + noise) with noise = 10^(-17.4-3) * 1e5
    noise = 10 ** (-17.4 - 3) * 1e5
    expected = 1e5 * np.log2(1 + 1e-16 / (1e-18 + noise))
    rate = radio.resource_block_rates(1e5, 1e-6, 1e-10, 1e-18, -174.0)
    assert rate == pytest.approx(expected)


def test_link_capacity_sums_only_allocated_blocks():
    rates = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    z = np.array([[1, 0, 1], [0, 1, 0]])
    assert np.allclose(radio.link_capacity(rates, z), [4.0, 5.0])


def test_proportional_fair_gives_each_block_to_best_rate_over_average():
    rates = np.array([[10.0, 10.0], [6.0, 1.0]])
    average = np.array([10.0, 2.0])
    # RB 0: 10/10 = 1 vs 6/2 = 3 -> user 1; RB 1: 1 vs 0.5 -> user 0
    z = radio.proportional_fair_allocation(rates, average)
    assert z.tolist() == [[0, 1], [1, 0]]
    assert z.sum(axis=0).tolist() == [1, 1]


def test_average_throughput_update_is_exponential_window():
    updated = radio.update_average_throughput(np.array([100.0]), np.array([200.0]), window=10.0)
    assert updated[0] == pytest.approx(0.9 * 100 + 0.1 * 200)
