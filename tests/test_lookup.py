"""`lookup`: the ICL agent whose LLM call is replaced by the closest good example (agent/baselines/lookup.py)."""

from __future__ import annotations

import numpy as np
import pytest

from edge_icl.experiment.bench import learning_metrics
from edge_icl.experiment.rollout import run_policy
from agent.experience import as_keywords
from agent.icl import ICLAgent
from agent.settings import AgentSettings
from environment.decision_task import Candidate
from environment.offloading import OffloadingEnv, OffloadingTask, offloading_env_config
from agent.baselines.lookup import LookupAgent, copied_choice, nearest_by_features
from environment.policy import policy_generator
from solvers.reference import reference_policy

TASK = OffloadingTask()


def kw(service: str, level: str):
    return as_keywords({"service_type": service, "token_size": level})


def lookup(**settings) -> tuple[LookupAgent, list[dict]]:
    records: list[dict] = []
    agent = LookupAgent.from_settings(TASK, AgentSettings(exploration="none", **settings), seed=0, transcript=records.append)
    return agent, records


def test_lookup_copies_the_decision_of_the_closest_good_example_and_says_which():
    agent, records = lookup()
    agent.pool.add(kw("chatting", "short"), "local", 40.0, True, 0)
    agent.pool.add(kw("reasoning", "long"), "offload", 20.0, True, 1)
    agent.pool.add(kw("reasoning", "short"), "local", 5.0, False, 2)  # breaks (4e): bad, never copied
    choice, record = agent.decide_by_llm(kw("reasoning", "long"), TASK.candidates({}))
    assert TASK.candidates({})[choice].label == "offload"
    assert record["copied"]["keywords"] == {"service_type": "reasoning", "token_size": "long"} and record["copied"]["step"] == 1
    # an unseen combination copies the example matching its first keyword (same service type)
    choice, record = agent.decide_by_llm(kw("reasoning", "short"), TASK.candidates({}))
    assert TASK.candidates({})[choice].label == "offload" and record["copied"]["decision"] == "offload"
    assert record["backend"] is None and record["mode"] == "lookup"


def test_an_empty_pool_leaves_the_decision_to_the_agents_fallback():
    agent, records = lookup(fallback="offload")
    env = OffloadingEnv(offloading_env_config())
    observation, info = env.reset(seed=0)
    assert agent.act(observation, info) == 1  # offload, the fallback
    assert records[0]["fallback"] == "offload" and records[0]["copied"] is None and records[0]["llm_call"] is False


def test_features_pick_the_open_candidate_closest_to_the_examples_choice():
    candidates = [
        Candidate("node A", 0, {"queue_ms": 0.0, "link_ms": 1.6, "slack_ms": -3.0}),
        Candidate("node B", 1, {"queue_ms": 0.0, "link_ms": 1.3, "slack_ms": -4.5}),
        Candidate("node C", 2, {"queue_ms": 4.9, "link_ms": 1.2, "slack_ms": -8.0}),
        Candidate("drop", 3),
    ]
    # ranges over B, A, C and the example: queue 4.9, link 0.4, slack 5.5; B is nearest (0.27 normalised)
    assert nearest_by_features({"queue_ms": 0.0, "link_ms": 1.3, "slack_ms": -3.0}, candidates) == 1
    # a feature equal everywhere does not count; the featureless drop is never compared
    assert nearest_by_features({"queue_ms": 0.0, "slack_ms": -7.9}, candidates[:2] + candidates[3:]) == 1
    assert nearest_by_features({"queue_ms": 0.0}, [Candidate("drop", 3)]) is None


def test_a_label_from_another_instance_is_not_copied_when_features_say_otherwise():
    from agent.experience import Experience

    example = Experience(kw("a", "b"), "node C", -5.0, "good", 0, (("queue_ms", 0.0), ("slack_ms", -2.0)))
    open_now = [Candidate("node C", 2, {"queue_ms": 9.0, "slack_ms": -12.0}), Candidate("node F", 5, {"queue_ms": 0.0, "slack_ms": -2.5})]
    assert copied_choice(example, open_now) == 1
    without_features = Experience(kw("a", "b"), "offload", 1.0, "good", 0)
    assert copied_choice(without_features, TASK.candidates({})) == 1
    assert copied_choice(Experience(kw("a", "b"), "elsewhere", 1.0, "good", 0), TASK.candidates({})) is None


def test_lookup_builds_no_backend_even_when_the_settings_name_one_that_cannot_load():
    agent = LookupAgent.from_settings(TASK, AgentSettings(backend="openai", backend_options={"model": "nothing"}), seed=0)
    assert agent.backend is None


def test_lookup_learns_offloading_better_than_random_on_the_same_stream():
    config = offloading_env_config()
    agent = LookupAgent.from_settings(TASK, AgentSettings(), seed=0)
    mine = learning_metrics(run_policy(agent, OffloadingEnv(config), TASK, 150, seed=0).rows)
    chance = learning_metrics(run_policy(reference_policy("random", policy_generator(0)), OffloadingEnv(config), TASK, 150, seed=0).rows)
    assert mine["mean_reward_last_half"] > chance["mean_reward_last_half"] + 3.0
    assert mine["decision_accuracy"] > 0.8


def test_held_out_states_never_enter_the_lookup_pool():
    held = {kw("reasoning", "long"), kw("chatting", "short")}
    agent = LookupAgent.from_settings(TASK, AgentSettings(), seed=1, held_out=held)
    run_policy(agent, OffloadingEnv(offloading_env_config()), TASK, 120, seed=1)
    pooled = {e.keywords for e in agent.pool.examples()}
    assert pooled and not pooled & held


@pytest.mark.slow
def test_lookup_meets_the_same_exploration_draws_as_the_icl_agent_on_the_bundled_model():
    """Same seed: the same steps explore, with the same random decisions; only the decided steps differ in how."""
    config = offloading_env_config()
    settings = AgentSettings(exploration="constant", epsilon=0.4)
    icl_records: list[dict] = []
    lookup_records: list[dict] = []
    icl = ICLAgent.from_settings(TASK, settings, seed=3, transcript=icl_records.append)
    run_policy(icl, OffloadingEnv(config), TASK, 12, seed=3)
    run_policy(LookupAgent.from_settings(TASK, settings, seed=3, transcript=lookup_records.append), OffloadingEnv(config), TASK, 12, seed=3)
    explored = [(r["step"], r["decision"]) for r in icl_records if r["explored"]]
    assert explored and explored == [(r["step"], r["decision"]) for r in lookup_records if r["explored"]]
    assert icl.stats.llm_calls == 12 - len(explored)
    assert all(r["llm_call"] is False for r in lookup_records)
