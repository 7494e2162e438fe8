"""`bandit`: UCB1 per keyword combination, LinUCB where candidates carry features (agent/baselines/bandit.py)."""

from __future__ import annotations

import numpy as np

from edge_icl.experiment.bench import learning_metrics
from edge_icl.experiment.rollout import run_policy
from agent.experience import as_keywords
from environment.offloading import OffloadingEnv, OffloadingTask, offloading_env_config
from agent.baselines.bandit import ContextualBandit
from environment.policy import BANDIT_STREAM, policy_generator
from solvers.reference import reference_policy

TASK = OffloadingTask()


def run(bandit: ContextualBandit, steps: int, seed: int):
    return run_policy(bandit, OffloadingEnv(offloading_env_config()), TASK, steps, seed)


def test_ucb1_plays_every_label_of_a_keyword_combination_once_before_repeating_one():
    bandit = ContextualBandit.from_settings(TASK, None, seed=0)
    rollout = run(bandit, 200, seed=0)
    firsts: dict[tuple[str, str], list[int]] = {}
    for row in rollout.rows:
        firsts.setdefault((row["service"], row["token_level"]), []).append(int(row["action"]))
    for actions in firsts.values():
        if len(actions) >= 2:
            assert sorted(actions[:2]) == [0, 1]  # untried labels first
    plays = sum(bandit.plays.values())
    assert plays == 200 == sum(bandit.context_plays.values())


def test_ucb1_learns_offloading_better_than_random_on_the_same_stream():
    config = offloading_env_config()
    learned = learning_metrics(run(ContextualBandit.from_settings(TASK, None, seed=0), 500, seed=0).rows)
    chance = learning_metrics(run_policy(reference_policy("random", policy_generator(0)), OffloadingEnv(config), TASK, 500, seed=0).rows)
    assert learned["mean_reward_last_half"] > chance["mean_reward_last_half"] + 2.0
    assert learned["decision_accuracy"] > chance["decision_accuracy"] + 0.1


def test_same_seed_same_decisions_and_ties_drawn_from_the_bandit_stream():
    first = [r["action"] for r in run(ContextualBandit.from_settings(TASK, None, seed=4), 80, seed=4).rows]
    again = [r["action"] for r in run(ContextualBandit(TASK, policy_generator(4, BANDIT_STREAM)), 80, seed=4).rows]
    other = [r["action"] for r in run(ContextualBandit(TASK, policy_generator(5, BANDIT_STREAM)), 80, seed=4).rows]
    assert first == again and first != other


def test_a_held_out_state_is_decided_but_never_learned_from():
    held = {as_keywords({"service_type": "reasoning", "token_size": "long"}), as_keywords({"service_type": "chatting", "token_size": "short"})}
    bandit = ContextualBandit.from_settings(TASK, None, seed=2, held_out=held)
    rows = run(bandit, 300, seed=2).rows
    assert any((r["service"], r["token_level"]) in {("reasoning", "long"), ("chatting", "short")} for r in rows)
    assert not any(keywords in held for keywords, _ in bandit.plays)
    assert bandit.plays and sum(bandit.plays.values()) < 300


def test_linucb_on_association_features_learns_to_pick_low_delay_nodes_more_often_than_random():
    from environment.association import AssociationEnv, AssociationTask
    from solvers.association_online import RandomNodePolicy

    task = AssociationTask()
    bandit = ContextualBandit.from_settings(task, None, seed=0)
    learned = run_policy(bandit, AssociationEnv(), task, 600, seed=0).summary
    chance = run_policy(RandomNodePolicy(policy_generator(0)), AssociationEnv(), task, 600, seed=0).summary
    assert {"feature queue_ms", "feature link_ms", "feature slack_ms", "keyword llm_type=text-to-text"} <= set(bandit.dimensions)
    assert all(label == "drop" for _, label in bandit.plays)  # nodes carry features: LinUCB; UCB1 only saw forced drops
    assert learned["least_delay_choice_rate"] > chance["least_delay_choice_rate"] + 0.2
