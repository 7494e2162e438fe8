"""`EdgeICL/Association-v0`: the users of one section V instance arrive one per step (environment/association/env.py)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import environment  # noqa: F401  (registers the envs)
from environment.association import (
    UNSERVED,
    AssociationEnv,
    AssociationInstance,
    Assignment,
    association_env_config,
    evaluate,
    placement_reward,
)
from environment.association.env import level
from environment.config import ConfigError
from solvers.matching import inference_aware_matching


def play(env: AssociationEnv, seed: int | None, choose) -> tuple[list[dict], dict]:
    """One episode; returns each step's executed record and the final episode summary."""
    _, info = env.reset(seed=seed)
    executed = []
    while True:
        _, reward, terminated, truncated, step_info = env.step(choose(info))
        executed.append({**step_info["executed"], "offered": info})
        assert not truncated
        if terminated:
            return executed, step_info["episode"]
        info = step_info


def first_legal(info) -> int:
    return int(np.flatnonzero(info["action_mask"])[0])


def test_check_env_passes():
    check_env(AssociationEnv(), skip_render_check=True)


def test_registered_and_made_by_id():
    env = gym.make("EdgeICL/Association-v0")
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs) and env.action_space.n == 17 + 1
    assert set(info["keywords"]) == {"llm_type", "token_level", "deadline_level"}


def test_one_episode_is_one_instance_and_every_user_arrives_once():
    env = AssociationEnv()
    executed, episode = play(env, 3, first_legal)
    assert len(executed) == env.instance.n_users == episode["n_users"]
    assert sorted(e["user"] for e in executed) == list(range(env.instance.n_users))


def test_the_delay_a_step_reports_is_the_one_evaluate_gives_the_final_assignment():
    env = AssociationEnv()
    rng = np.random.default_rng(0)
    executed, episode = play(env, 5, lambda info: int(rng.choice(np.flatnonzero(info["action_mask"]))))
    final = evaluate(env.instance, Assignment(episode["node_of"], episode["order"]))
    served = [e for e in executed if e["served"]]
    assert served and len(served) == final.n_served
    for e in served:
        assert e["delay_ms"] == pytest.approx(final.delay_ms[e["user"]])
        assert e["late"] == bool(final.late[e["user"]])
    assert episode["mean_delay_ms"] == pytest.approx(final.mean_delay_ms)
    assert episode["drop_probability"] == pytest.approx(final.drop_probability)


def test_a_candidates_numbers_are_what_placing_the_user_there_gives():
    env = AssociationEnv()
    executed, _ = play(env, 2, lambda info: max(info["node_view"], key=lambda e: info["node_view"][e]["queue_ms"]) if info["node_view"] else env.drop_action)
    placed = [e for e in executed if e["served"]]
    assert any(e["offered"]["node_view"][e["node"]]["queue_ms"] > 0 for e in placed)  # some users waited behind others
    for e in placed:
        numbers = e["offered"]["node_view"][e["node"]]
        assert numbers["delay_ms"] == pytest.approx(e["delay_ms"])
        assert numbers["slack_ms"] == pytest.approx(e["deadline_ms"] - e["delay_ms"])
        assert e["reward"] == pytest.approx(placement_reward(e["delay_ms"], e["deadline_ms"], True, 5.0, 50.0))


def test_the_mask_opens_the_nodes_of_the_users_type_with_storage_left_and_drop():
    env = AssociationEnv()
    _, info = env.reset(seed=1)
    inst = env.instance
    for _ in range(60):
        u = info["user"]
        mask = info["action_mask"]
        expected = (inst.node_type == inst.user_type[u]) & (env.residual >= inst.storage[u] - 1e-9)
        assert mask[-1] == 1 and list(mask[: inst.n_nodes]) == list(expected.astype(int)) and not mask[inst.n_nodes : -1].any()
        labels = [c["label"] for c in info["candidates"]]
        assert labels[-1] == "drop" and len(labels) == expected.sum() + 1
        _, _, terminated, _, info = env.step(first_legal(info))
        if terminated:
            break


def test_an_action_outside_the_mask_drops_the_user_with_the_invalid_action_penalty():
    env = AssociationEnv()
    _, info = env.reset(seed=0)
    illegal = int(np.flatnonzero(info["action_mask"] == 0)[0])
    _, reward, _, _, step_info = env.step(illegal)
    assert step_info["executed"]["invalid"] and not step_info["executed"]["served"]
    assert reward == -50.0 - 10.0
    _, info = env.reset(seed=0)
    _, reward, _, _, step_info = env.step(env.drop_action)
    assert reward == -50.0 and not step_info["executed"]["invalid"]


def test_placement_reward_is_minus_the_delay_with_a_late_penalty_and_a_drop_penalty():
    assert placement_reward(3.0, 3.5, True, 5.0, 50.0) == -3.0
    assert placement_reward(4.0, 3.5, True, 5.0, 50.0) == -9.0
    assert placement_reward(0.0, 3.5, False, 5.0, 50.0) == -50.0


def test_the_kth_episode_is_the_same_instance_whatever_the_actions():
    def instances(choose) -> list[np.ndarray]:
        env = AssociationEnv()
        seen = []
        for k in range(3):
            play(env, 9 if k == 0 else None, choose)
            seen.append(env.instance.comm_ms.copy())
        return seen

    rng = np.random.default_rng(1)
    for a, b in zip(instances(first_legal), instances(lambda info: int(rng.choice(np.flatnonzero(info["action_mask"]))))):
        np.testing.assert_array_equal(a, b)


def test_a_one_shot_solver_is_evaluated_on_the_envs_instance():
    env = AssociationEnv()
    env.reset(seed=4)
    outcome = evaluate(env.instance, inference_aware_matching(env.instance))
    assert 0 < outcome.n_served < env.instance.n_users


def test_a_given_instance_is_played_as_given():
    instance = AssociationInstance(
        user_type=np.array([0, 0]),
        tokens=np.array([100, 100]),
        deadline_ms=np.array([5.0, 5.0]),
        storage=np.array([1.0, 1.0]),
        node_type=np.array([0]),
        capacity=np.array([1.5]),
        inter_token_ms=np.array([0.02]),
        comm_ms=np.array([[0.5, 0.5]]),
    )
    env = AssociationEnv()
    _, info = env.reset(seed=0, options={"instance": instance})
    _, reward, _, _, info = env.step(0)
    assert reward == pytest.approx(-(2 * 0.5 + 100 * 0.02))  # no queue, on time
    assert list(info["action_mask"][:1]) == [0]  # the node is full
    _, _, terminated, _, info = env.step(0)
    assert terminated and info["executed"]["invalid"] and info["episode"]["served"] == 1
    assert info["episode"]["node_of"].tolist().count(UNSERVED) == 1


def test_keyword_levels_split_the_configured_ranges_evenly():
    names = ("tight", "medium", "loose")
    assert [level(v, (1.0, 3.5), names) for v in (1.0, 1.8, 1.9, 2.7, 3.5)] == ["tight", "tight", "medium", "loose", "loose"]
    assert level(244, (240, 248), ("short", "long")) == "long" and level(243.9, (240, 248), ("short", "long")) == "short"


def test_more_nodes_than_letters_is_a_one_line_config_error():
    with pytest.raises(ConfigError, match="n_nodes"):
        association_env_config({"instances": {"n_nodes": [13, 30]}})
    with pytest.raises(ConfigError, match="drop_penalty_ms"):
        association_env_config({"online": {"drop_penalty_ms": -1}})
