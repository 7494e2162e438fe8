"""The caching env of the least-AoT paper: serving, AoT, refresh, constraints (3) and (5), Gymnasium API."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st

import environment  # noqa: F401  (registers EdgeICL/Caching-v0)
from environment.caching import CachingEnv, scaled_config, schedule_costs
from environment.caching.config import CachingConfig, Service, gpt3_175b, llama_65b
from environment.caching.formulas import COST_PARTS, age_of_thought, cot_accuracy, memory_feasible
from environment.caching.serving import ModelContext, serve_model_slot, serving_tables
from environment.caching.trace import RequestTrace


def one_model_config(**changes) -> CachingConfig:
    """One LLaMA-65B, one image service with K = 2 thoughts per request."""
    service = Service(name="s", modality="image", best_model=0, thoughts_per_request=2)
    return scaled_config(models=[llama_65b(0).model_dump()], services=[service.model_dump()], **changes)


def hand_trace(slots: list[int], thought_tokens: list[int], n_slots: int) -> RequestTrace:
    """Requests of service 0 for model 0 at the given slots, 150 MB each."""
    n = len(slots)
    return RequestTrace(
        slot=np.array(slots, dtype=np.int64), service=np.zeros(n, dtype=np.int64), model=np.zeros(n, dtype=np.int64),
        input_mb=np.full(n, 150.0), thought_tokens=np.array(thought_tokens, dtype=np.int64), n_slots=n_slots, n_models=1, n_services=1,
    )


def serve(tables, trace, context, t):
    return serve_model_slot(tables, 0, trace, np.flatnonzero(trace.slot == t), context)


def test_check_env_passes():
    check_env(CachingEnv(), skip_render_check=True)


def test_registered_and_made_by_id():
    env = gym.make("EdgeICL/Caching-v0")
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert info["action_mask"][-1]  # bypass is always legal


def test_aot_by_hand_on_a_small_trace():
    config = one_model_config()
    tables = serving_tables(config)
    trace = hand_trace([0, 2, 2], [100, 100, 100], n_slots=3)
    a0, gain, c = tables.zero_shot[0, 0], tables.gain[0, 0], config.accuracy_base
    context, out = serve(tables, trace, ModelContext(), 0)
    assert context.aot == 2.0 and context.context_tokens == 100
    assert out.accuracy_sum == pytest.approx(a0)  # the first request sees no thoughts
    context, out = serve(tables, trace, context, 1)  # idle slot: AoT fades by nu
    assert context.aot == pytest.approx(0.6 * 2)
    context, out = serve(tables, trace, context, 2)
    # the two requests of slot 2 see 0.6 * 1.2 = 0.72 and 0.72 + 2 thoughts
    assert out.accuracy_sum == pytest.approx(cot_accuracy(a0, gain, 0.72, c) + cot_accuracy(a0, gain, 2.72, c))
    assert context.aot == pytest.approx(age_of_thought([2, 0, 4], 0.6)) == pytest.approx(4.72)
    assert out.costs.accuracy == pytest.approx(config.accuracy_unit_cost * (2 - out.accuracy_sum))


def test_a_full_context_window_refreshes_the_model():
    config = one_model_config()
    tables = serving_tables(config)
    trace = hand_trace([0, 0, 0], [800, 800, 800], n_slots=1)  # LLaMA window: 2048 tokens
    context, out = serve(tables, trace, ModelContext(), 0)
    assert out.refreshes == 1
    assert out.costs.switching == pytest.approx(config.models[0].switching_cost)
    assert context.context_tokens == 800 and context.aot == 2.0  # only the third request's thoughts
    a0, gain = tables.zero_shot[0, 0], tables.gain[0, 0]
    expected = a0 + cot_accuracy(a0, gain, 2.0, config.accuracy_base) + a0  # the refreshed model starts at zero shot
    assert out.accuracy_sum == pytest.approx(expected)


def test_requests_beyond_the_energy_budget_of_5_go_to_the_cloud():
    config = one_model_config(slot_seconds=0.2)  # budget: about one request
    tables = serving_tables(config)
    trace = hand_trace([0, 0], [100, 100], n_slots=1)
    _, out = serve(tables, trace, ModelContext(), 0)
    assert (out.edge_served, out.energy_offloaded) == (1, 1)
    assert out.costs.cloud == pytest.approx(0.04 * 150.0 + config.models[0].cloud_process_cost)


def play_random(env: CachingEnv, seed: int, action_seed: int, check=None):
    rng = np.random.default_rng(action_seed)
    obs, info = env.reset(seed=seed)
    while True:
        if check:
            check(env, info)
        action = int(rng.choice(np.flatnonzero(info["action_mask"])))
        obs, reward, terminated, truncated, info = env.step(action)
        if terminated:
            return env


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), gpus=st.integers(4, 24), users=st.integers(1, 25), action_seed=st.integers(0, 100))
def test_memory_constraint_3_never_broken(seed, gpus, users, action_seed):
    env = CachingEnv(scaled_config(n_gpus=gpus, n_users=users, slots=15))

    def check(env, info):
        assert memory_feasible(env.cached, env.tables.memory_gb, env.tables.capacity_gb)
        assert all(c["context_tokens"] <= c["context_window"] for c in info["candidates"])  # (28c)

    play_random(env, seed, action_seed, check)
    for t in range(env.config.slots):
        assert memory_feasible(env.schedule[:, t], env.tables.memory_gb, env.tables.capacity_gb)


def test_same_seed_same_costs_and_another_seed_other_costs():
    def costs(seed):
        env = play_random(CachingEnv(), seed, action_seed=5)
        return [r.as_row() for r in env.records]

    assert costs(3) == costs(3)
    assert costs(3) != costs(4)


def test_the_env_charges_exactly_the_cost_of_the_schedule_it_played():
    for seed in range(3):
        env = play_random(CachingEnv(scaled_config(n_gpus=12)), seed, action_seed=seed)
        priced = schedule_costs(env.tables, env.trace, env.schedule)
        wasted = sum(r.wasted_loads for r in env.records)  # random play may load then evict before serving
        played = sum(env.episode_costs().values())
        assert played >= priced.total - 1e-9
        if wasted == 0:
            assert played == pytest.approx(priced.total, rel=1e-12)
        assert [r.hits for r in env.records] == priced.hits.tolist()


def test_rewards_and_reset_cost_add_up_to_the_episode_cost():
    env = CachingEnv()
    obs, info = env.reset(seed=2)
    total, parts = sum(info["cost_parts"].values()), dict(info["cost_parts"])
    rng = np.random.default_rng(0)
    while True:
        obs, reward, terminated, truncated, info = env.step(int(rng.choice(np.flatnonzero(info["action_mask"]))))
        total -= reward
        for k in COST_PARTS:
            parts[k] += info["cost_parts"][k]
        assert not truncated
        if terminated:
            break
    assert total == pytest.approx(sum(env.episode_costs().values()))
    assert parts == pytest.approx(env.episode_costs())
    assert sum(r.requests for r in env.records) == env.trace.slot.size


def test_a_decision_point_describes_the_needed_model_and_every_cached_candidate():
    env = CachingEnv()
    obs, info = env.reset(seed=1)
    assert not info["finished"]
    need = info["needed"]
    assert not env.cached[need["model"]] and need["memory_gb"] > info["free_memory_gb"]
    assert sorted(c["model"] for c in info["candidates"]) == np.flatnonzero(env.cached).tolist()
    for key in ("aot", "context_fill", "recent_requests", "requests_this_slot", "memory_gb", "entered_slot", "last_request_slot", "total_requests"):
        assert all(key in c for c in info["candidates"])
    np.testing.assert_array_equal(info["action_mask"], np.r_[env.cached, True])
    np.testing.assert_array_equal(env.action_masks(), info["action_mask"])
    assert obs[need["model"], 4] == 1.0 and obs[:, 4].sum() == 1.0
    np.testing.assert_allclose(obs[:, 1], [c.aot for c in env.contexts], rtol=1e-6)
    assert "does not fit" in env.describe()


def test_an_evicted_model_is_not_served_or_reloaded_in_that_slot():
    env = CachingEnv()
    _, info = env.reset(seed=1)
    victim, slot = info["candidates"][0]["model"], info["slot"]
    _, _, _, _, after = env.step(victim)
    assert not after["illegal_action"]
    if env.slot == slot:
        env.step(env.bypass_action)
    assert not env.schedule[victim, slot]
    assert env.records[slot].evictions >= 1


def test_an_illegal_action_is_played_as_bypass_and_flagged():
    played, bypassed = CachingEnv(), CachingEnv()
    played.reset(seed=1)
    bypassed.reset(seed=1)
    uncached = int(np.flatnonzero(~played.cached)[0])
    obs_a, reward_a, _, _, info_a = played.step(uncached)
    obs_b, reward_b, _, _, info_b = bypassed.step(bypassed.bypass_action)
    assert info_a["illegal_action"] and not info_b["illegal_action"]
    np.testing.assert_array_equal(obs_a, obs_b)
    assert reward_a == reward_b


def test_a_model_larger_than_the_memory_goes_to_the_cloud_without_a_decision():
    config = scaled_config(models=[llama_65b(0).model_dump(), gpt3_175b(0).model_dump()], n_services=2, n_gpus=2, slots=5)
    env = CachingEnv(config)
    obs, info = env.reset(seed=0)
    assert info["finished"]  # GPT-3 (420 GB) never fits 160 GB, LLaMA always does
    _, reward, terminated, _, _ = env.step(env.bypass_action)
    assert terminated and reward == 0.0
    assert not env.schedule[1].any()
    assert sum(r.bypasses for r in env.records) == int((env.trace.counts()[1] > 0).sum())


def test_step_info_says_what_the_decision_did():
    env = CachingEnv()
    _, info = env.reset(seed=1)
    needed, slot = info["needed"]["model"], info["slot"]
    _, _, _, _, after = env.step(env.bypass_action)
    assert after["decision"] == {"slot": slot, "needed": needed, "bypass": True, "evicted": None, "evicted_requests": 0, "needed_loaded": False}
    _, info = env.reset(seed=1)
    victim = max(info["candidates"], key=lambda c: c["memory_gb"])
    _, _, _, _, after = env.step(victim["model"])
    decision = after["decision"]
    assert decision["evicted"] == victim["model"] and not decision["bypass"]
    assert decision["evicted_requests"] == victim["requests_this_slot"]
    assert decision["needed_loaded"] == bool(env.schedule[needed, slot])


def test_without_evict_requested_the_mask_protects_the_models_requested_in_this_slot():
    env = CachingEnv(scaled_config(evict_requested=False))
    _, info = env.reset(seed=1)
    requested = env.trace.counts()[:, info["slot"]] > 0
    np.testing.assert_array_equal(info["action_mask"], np.r_[env.cached & ~requested, True])
    assert (env.cached & requested).any()  # there was something to protect
