import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import environment
from environment.config import ConfigError
from environment.offloading import offloading_env_config
from environment.offloading import LOCAL, OFFLOAD, OffloadingEnv


def test_check_env_passes():
    check_env(OffloadingEnv(), skip_render_check=True)


def test_registered_and_made_by_id():
    env = gym.make("EdgeICL/Offloading-v0")
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert set(info["keywords"]) == {"service_type", "token_size"}


def test_same_seed_same_request_stream_whatever_the_actions():
    def stream(actions_rng_seed: int) -> list:
        env = OffloadingEnv()
        env.reset(seed=7)
        rng = np.random.default_rng(actions_rng_seed)
        out = []
        for _ in range(50):
            _, _, _, _, info = env.step(int(rng.integers(2)))
            out.append((info["executed_request"], info["capacity_bps"]))
        return out

    assert stream(1) == stream(2)


def test_step_reports_delay_parts_quality_and_oracle():
    env = OffloadingEnv()
    env.reset(seed=3)
    _, reward, terminated, truncated, info = env.step(LOCAL)
    for key in ("transmission_s", "generation_s", "total_delay_s", "quality_met", "executed_oracle_action", "oracle_reward"):
        assert key in info
    assert info["total_delay_s"] == pytest.approx(info["transmission_s"] + info["generation_s"])
    assert reward <= info["oracle_reward"] + 1e-12
    assert not terminated and not truncated


def test_oracle_matches_hand_rule_of_default_setting():
    # Default setting: regular tasks are served best at the edge; quality-preferred tasks
    # go to the cloud unless the output is so long that the penalty costs less (~2,500 tokens).
    env = OffloadingEnv()
    _, info = env.reset(seed=11)
    for _ in range(300):
        request = info["request"]
        if request["task_class"] == "regular":
            assert info["oracle_action"] == LOCAL
        elif request["n_tokens"] < 2400:
            assert info["oracle_action"] == OFFLOAD
        elif request["n_tokens"] > 2600:
            assert info["oracle_action"] == LOCAL
        *_, info = env.step(info["oracle_action"])


def test_quality_penalty_applies_when_edge_cannot_meet_quality():
    env = OffloadingEnv()
    _, info = env.reset(seed=5)
    while info["request"]["task_class"] != "quality-preferred":
        *_, info = env.step(LOCAL)
    local, offload = env.evaluate(LOCAL), env.evaluate(OFFLOAD)
    assert not local.quality_met and offload.quality_met
    cfg = env.config.offloading
    assert local.reward == pytest.approx(cfg.target_delay_s - local.total_delay_s - cfg.quality_penalty)


def test_truncates_after_episode_steps():
    env = OffloadingEnv({"offloading": {"episode_steps": 3}})
    env.reset(seed=0)
    flags = [env.step(LOCAL)[3] for _ in range(3)]
    assert flags == [False, False, True]


def test_bad_config_is_one_line_naming_the_field():
    with pytest.raises(ConfigError) as excinfo:
        offloading_env_config({"radio": {"n_users": -1}})
    assert "radio.n_users" in str(excinfo.value) and "\n" not in str(excinfo.value)
    with pytest.raises(ConfigError, match="radio.n_userz"):
        offloading_env_config({"radio": {"n_userz": 3}})
    with pytest.raises(ConfigError, match="edge_llm"):
        offloading_env_config({"offloading": {"edge_llm": "nope"}})


def test_invalid_action_is_rejected():
    env = OffloadingEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must be"):
        env.step(5)
