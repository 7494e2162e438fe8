"""The LLM agent market: its formulas, its round generator and `EdgeICL/Market-v0`."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import environment  # noqa: F401  (registers the envs)
from environment.config import ConfigError
from environment.market.config import DEFAULT_ALPHA_LEVELS, market_config
from environment.market.env import MarketEnv
from environment.market.formulas import (
    SATELLITE,
    AuctionOutcome,
    cache_hit_probability,
    coverage_time,
    ground_surplus,
    orbital_velocity,
    satellite_can_serve,
    satellite_surplus,
    total_surplus,
    utilities,
)
from environment.market.rounds import Market

BID_FACTS = {"round", "bids", "highest_bid", "second_highest_bid", "bid_ratio", "satellite_contract_price"}


# --------------------------------------------------------------------------- formulas


def test_coverage_time_of_a_550_km_pass_above_10_degrees_is_about_eight_minutes():
    # By hand: phi = arccos(6371 cos 10deg / 6921) - 10deg = 0.2608 rad, L = 2 x 6921 x 0.2608
    # = 3610 km, v = sqrt(398600 / 6921) = 7.589 km/s, T = 475.7 s.
    velocity = orbital_velocity(550.0, 6371.0)
    assert velocity == pytest.approx(7.589, abs=1e-3)
    assert coverage_time(550.0, 10.0, 6371.0, velocity) == pytest.approx(475.7, abs=1.0)


def test_coverage_time_grows_with_altitude_and_shrinks_with_the_minimum_elevation():
    low = coverage_time(550.0, 10.0, 6371.0, orbital_velocity(550.0, 6371.0))
    high = coverage_time(1200.0, 10.0, 6371.0, orbital_velocity(1200.0, 6371.0))
    steep = coverage_time(550.0, 40.0, 6371.0, orbital_velocity(550.0, 6371.0))
    assert high > low > steep > 0


def test_satellite_serves_only_within_its_coverage_time():
    assert satellite_can_serve(100.0, 100.0)
    assert not satellite_can_serve(100.1, 100.0)


def test_default_gpus_hold_eight_of_ten_models():
    # (3): 24 GPUs x 80 GB over 10 LLMs x 240 GB (mean of LLaMA-65B and GPT3-175B in fp16).
    assert cache_hit_probability(24, 80.0, 10, 240.0) == pytest.approx(0.8)
    assert cache_hit_probability(40, 80.0, 10, 240.0) == 1.0


def test_surplus_metrics_by_hand():
    values, v0 = np.array([10.0, 6.0, 3.0]), 7.0
    assert total_surplus(values, v0, 0) == 10.0 and ground_surplus(values, 0) == 10.0 and satellite_surplus(v0, 0) == 0.0
    assert total_surplus(values, v0, SATELLITE) == 7.0 and ground_surplus(values, SATELLITE) == 0.0
    ground, satellite = utilities(values, v0, AuctionOutcome(1, 4.0))
    assert ground.tolist() == [0.0, 2.0, 0.0] and satellite == 0.0
    ground, satellite = utilities(values, v0, AuctionOutcome(SATELLITE, 5.0))
    assert ground.tolist() == [0.0, 0.0, 0.0] and satellite == 2.0


def test_surplus_formulas_take_many_rounds_at_once():
    values = np.array([[10.0, 6.0], [4.0, 9.0]])
    v0 = np.array([7.0, 8.0])
    winners = np.array([0, SATELLITE])
    assert total_surplus(values, v0, winners).tolist() == [10.0, 8.0]
    assert ground_surplus(values, winners).tolist() == [10.0, 0.0]


# ------------------------------------------------------------------------------ rounds


def test_valuations_are_common_value_times_match_quality_and_positively_correlated():
    market = Market(market_config())
    rounds = market.draw_rounds(np.random.default_rng(0), 4000)
    for r in rounds[:20]:
        assert np.allclose(r.ground_values, r.common_value * r.ground_match)
        assert r.satellite_value == pytest.approx(r.common_value * r.satellite_match)
        assert np.array_equal(r.bids, r.ground_values)
    logs = np.log(np.stack([r.ground_values for r in rounds]))
    assert np.corrcoef(logs[:, 0], logs[:, 1])[0, 1] > 0.5


def test_a_larger_common_value_spread_correlates_valuations_more():
    def correlation(sigma: float) -> float:
        rounds = Market(market_config(common_value_sigma=sigma)).draw_rounds(np.random.default_rng(1), 3000)
        logs = np.log(np.stack([r.ground_values for r in rounds]))
        return float(np.corrcoef(logs[:, 0], logs[:, 1])[0, 1])

    assert correlation(1.0) > correlation(0.6) > correlation(0.0) > 0


def test_more_users_make_the_satellite_miss_its_coverage_more_often():
    def available(users: int) -> float:
        rounds = Market(market_config(n_users=users)).draw_rounds(np.random.default_rng(2), 2000)
        return float(np.mean([r.satellite_available for r in rounds]))

    assert available(5) > available(10) > available(25)


def test_same_seed_same_rounds():
    a = Market(market_config()).draw_rounds(np.random.default_rng(5), 50)
    b = Market(market_config()).draw_rounds(np.random.default_rng(5), 50)
    assert all(np.array_equal(x.bids, y.bids) and x.satellite_value == y.satellite_value and x.satellite_available == y.satellite_available for x, y in zip(a, b))


def test_bad_config_is_one_line_naming_the_field():
    for bad, field in (({"n_ground_bs": 1}, "n_ground_bs"), ({"msb_alpha": 1.3}, "msb_alpha"), ({"alpha_levels": [0.5, 1.0]}, "alpha_levels"),
                       ({"match_distribution": "normal"}, "match_distribution"), ({"colour": 1}, "colour"), ({"value_per_mb": math.inf}, "value_per_mb")):
        with pytest.raises(ConfigError, match=field) as error:
            market_config(bad)
        assert "\n" not in str(error.value)


# --------------------------------------------------------------------------------- env


@pytest.mark.filterwarnings("ignore:.*Box observation space maximum value is infinity")  # bids are unbounded (Pareto match)
def test_check_env_passes():
    check_env(MarketEnv(), skip_render_check=True)


def test_registered_and_made_by_id_with_the_bids_as_named_facts():
    env = gym.make("EdgeICL/Market-v0")
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert BID_FACTS <= set(info) and info["alpha_levels"] == list(DEFAULT_ALPHA_LEVELS)
    assert list(info["bids"]) == [f"BS{i}" for i in range(1, 6)]
    assert np.allclose(obs, list(info["bids"].values()))
    assert info["bid_ratio"] == pytest.approx(info["highest_bid"] / info["second_highest_bid"])


def test_reward_is_the_total_surplus_of_msb_with_the_chosen_alpha():
    env = MarketEnv()
    _, info = env.reset(seed=3)
    for step in range(200):
        action = step % len(DEFAULT_ALPHA_LEVELS)
        bids = dict(info["bids"])
        _, reward, terminated, truncated, info = env.step(action)
        assert reward == info["total_surplus"] == info["ground_surplus"] + info["satellite_surplus"]
        assert reward <= info["first_best_surplus"] + 1e-12
        assert info["alpha"] == DEFAULT_ALPHA_LEVELS[action]
        assert info["valuations"] == bids  # truthful bids
        if info["winner"] != "satellite":
            assert info["payment"] <= bids[info["winner"]] + 1e-12
        assert BID_FACTS <= set(info) and not terminated


def test_stream_equals_the_market_generator_whatever_the_actions():
    # So "optimal" MSB's history (Market.draw_rounds) is the very stream DQMSB trains on.
    config = market_config(rounds_per_episode=30)
    rounds = Market(config).draw_rounds(np.random.default_rng(11), 100)
    env = MarketEnv(config)
    _, info = env.reset(seed=11)
    seen, rng = [], np.random.default_rng(0)
    for _ in range(100):
        seen.append(list(info["bids"].values()))
        _, _, _, truncated, info = env.step(int(rng.integers(11)))
        if truncated:
            _, info = env.reset()
    assert np.allclose(seen, [r.bids for r in rounds])


def test_truncated_after_an_episode_of_rounds():
    env = MarketEnv(market_config(rounds_per_episode=5))
    env.reset(seed=1)
    flags = [env.step(0)[3] for _ in range(5)]
    assert flags == [False] * 4 + [True]


def test_invalid_action_is_refused():
    env = MarketEnv()
    env.reset(seed=1)
    with pytest.raises(ValueError, match="level"):
        env.step(11)


def test_render_shows_the_bids():
    env = MarketEnv(render_mode="ansi")
    env.reset(seed=1)
    assert "BS1" in env.render() and "contract price" in env.render()
