"""Association's text face for the ICL agent (environment/association/task.py) and its prompt folder."""

from __future__ import annotations

import numpy as np
import pytest

from agent.backends.llama_cpp import LlamaCppBackend
from edge_icl.experiment.rollout import run_policy
from agent.experience import PrioritizedPool, as_keywords
from agent.exploration import EpsilonGreedy, EpsilonSchedule
from agent.icl import ICLAgent
from agent.prompting import TaskPrompt
from agent.settings import AgentSettings
from environment.association import AssociationEnv, AssociationInstance, AssociationTask, association_env_config
from environment.decision_task import Candidate, DecisionTask
from solvers.association_online import LeastDelayPolicy
from environment.policy import AGENT_STREAM, EXPLORATION_STREAM, policy_generator

TASK = AssociationTask()
SMALL = association_env_config({"instances": {"n_users": [8, 12], "n_nodes": [3, 5]}})


def fifteen_nodes_of_one_type() -> AssociationInstance:
    rng = np.random.default_rng(0)
    return AssociationInstance(
        user_type=np.zeros(20, dtype=np.int64),
        tokens=rng.integers(240, 249, size=20),
        deadline_ms=rng.uniform(1.0, 3.5, size=20),
        storage=rng.uniform(1.1, 3.1, size=20),
        node_type=np.zeros(15, dtype=np.int64),
        capacity=rng.uniform(3.3, 5.5, size=15),
        inter_token_ms=rng.uniform(0.01, 0.03, size=15),
        comm_ms=rng.uniform(0.6, 0.8, size=(15, 20)),
    )


def test_association_task_is_a_decision_task_with_a_letter_per_node_and_drop():
    assert isinstance(TASK, DecisionTask)
    assert TASK.decisions[0] == "A" and TASK.decisions[-1] == "drop" and len(set(TASK.decisions)) == len(TASK.decisions)


def test_candidates_are_the_open_nodes_with_queue_link_and_slack_and_drop_only_when_none_is_open():
    env = AssociationEnv()
    _, info = env.reset(seed=0)
    candidates = TASK.candidates(info)
    assert [c.action for c in candidates] == list(np.flatnonzero(info["action_mask"][:-1]))
    for c in candidates:
        assert set(c.features) == {"queue_ms", "link_ms", "slack_ms"}
        assert c.features["slack_ms"] == pytest.approx(info["node_view"][c.action]["slack_ms"], abs=1e-3)
    assert TASK.keywords(info) == info["keywords"]
    while info["node_view"]:  # fill the nodes until a user finds none open
        _, _, _, _, info = env.step(info["greedy_action"])
    assert TASK.candidates(info) == [Candidate("drop", env.drop_action)]


def test_a_drop_is_a_bad_decision_and_a_placement_a_good_one():
    env = AssociationEnv()
    _, info = env.reset(seed=0)
    _, reward, _, _, placed = env.step(info["greedy_action"])
    assert TASK.feedback(placed).constraint_met and TASK.feedback(placed).reward == reward
    _, reward, _, _, dropped = env.step(env.drop_action)
    assert not TASK.feedback(dropped).constraint_met and TASK.feedback(dropped).reward == -50.0


def test_metrics_per_instance_agree_with_evaluate_on_the_final_assignments():
    env = AssociationEnv()
    episodes = []
    for k in range(2):
        _, info = env.reset(seed=3 if k == 0 else None)
        done = False
        while not done:
            _, _, done, _, info = env.step(info["greedy_action"])
        episodes.append(info["episode"])
    steps = sum(e["n_users"] for e in episodes)
    summary = run_policy(LeastDelayPolicy(), AssociationEnv(), TASK, steps, seed=3).summary
    assert summary["instances"] == 2 and summary["least_delay_choice_rate"] == 1.0
    assert summary["mean_delay_ms"] == pytest.approx(np.mean([e["mean_delay_ms"] for e in episodes]))
    assert summary["drop_probability"] == pytest.approx(np.mean([e["drop_probability"] for e in episodes]))
    assert summary["served_share"] == pytest.approx(np.mean([e["served_share"] for e in episodes]))


def test_the_prompt_shows_the_chosen_nodes_numbers_and_renders_without_them_for_calibration():
    prompt = TaskPrompt(None, TASK)
    env = AssociationEnv()
    _, info = env.reset(seed=0)
    candidates = TASK.candidates(info)
    pool = PrioritizedPool()
    chosen = candidates[0]
    pool.add(as_keywords(TASK.keywords(info)), chosen.label, -12.3, True, 0, tuple(chosen.features.items()))
    rendered = prompt.render(pool.examples(), pool.examples(), TASK.keywords(info), candidates)
    assert f"Chosen: queue {chosen.features['queue_ms']:.1f}, link {chosen.features['link_ms']:.1f}" in rendered.stable
    assert f"{chosen.label}: queue" not in rendered.stable  # the example keeps numbers, not the letter
    for c in candidates:
        assert f"{c.label}: queue {c.features['queue_ms']:.1f}" in rendered.variable
    bare = prompt.render(pool.examples(), [], TASK.content_free, [Candidate(c.label, c.action) for c in candidates])
    assert "queue" not in bare.variable and all(f"\n{c.label}\n" in bare.messages[-1]["content"] for c in candidates)
    assert prompt.answers(candidates) == [f" {c.label}" for c in candidates]


@pytest.mark.slow
def test_a_prompt_listing_fifteen_nodes_reuses_the_cached_pool_prefix():
    backend = LlamaCppBackend(seed=0)
    env = AssociationEnv()
    _, info = env.reset(seed=0, options={"instance": fifteen_nodes_of_one_type()})
    assert len(TASK.candidates(info)) == 15
    prompt = TaskPrompt(None, TASK)
    pool = PrioritizedPool()
    for k, level in enumerate(("tight", "medium", "loose")):
        for size in ("short", "long"):
            c = TASK.candidates(info)[k]
            pool.add(as_keywords({"llm_type": "text-to-text", "token_level": size, "deadline_level": level}), c.label, -10.0 - k, True, k, tuple(c.features.items()))
    exploration = EpsilonGreedy(EpsilonSchedule(kind="none"), policy_generator(0, EXPLORATION_STREAM))
    agent = ICLAgent(TASK, backend, prompt, pool, exploration, policy_generator(0, AGENT_STREAM), AgentSettings(calibrate=False))
    first = backend.score(agent.build_prompt(as_keywords(TASK.keywords(info)), TASK.candidates(info)).messages, prompt.answers(TASK.candidates(info)))
    _, _, _, _, info = env.step(int(np.flatnonzero(info["action_mask"])[0]))
    rendered = agent.build_prompt(as_keywords(TASK.keywords(info)), TASK.candidates(info))
    assert rendered.variable.count("queue") == 15 + 1  # 15 open nodes and the closest example, after the cached prefix
    second = backend.score(rendered.messages, prompt.answers(TASK.candidates(info)))
    stable_tokens = len(backend.tokenize(rendered.stable))
    assert first.evaluated_tokens == first.prompt_tokens  # nothing cached yet
    assert second.evaluated_tokens <= second.prompt_tokens - stable_tokens  # the pool prefix came from the cache
    assert second.evaluated_tokens < second.prompt_tokens / 2
    assert second.extra["extra_passes"] == 0  # one-token answers: every node scored in one pass


@pytest.mark.slow
def test_the_icl_agent_places_users_with_the_bundled_model_and_pools_the_chosen_numbers():
    records: list[dict] = []
    agent = ICLAgent.from_settings(TASK, AgentSettings(), seed=2, transcript=records.append)
    env = AssociationEnv(SMALL)
    # Seed 2: of 12 users, 3 reach the LLM (on small instances most users have one open node
    # or none, and those are decided without a call).
    rollout = run_policy(agent, env, TASK, 12, seed=2)
    calls = [r for r in records if r["llm_call"]]
    assert calls
    for r in calls:  # eq. (5)-(6) over the open candidates' one-token answers
        assert len(r["scores"]) >= 2 and all(a.startswith(" ") for a in r["scores"]) and r["decision"] in [a.strip() for a in r["scores"]]
    assert agent.pool.examples() and all(dict(e.features).keys() == {"queue_ms", "link_ms", "slack_ms"} for e in agent.pool.examples())
    assert rollout.summary["invalid_actions"] == 0 and len(rollout.rows) == 12


def test_edge_icl_run_plays_association_with_the_agents_no_llm_baseline(tmp_path):
    import json

    from typer.testing import CliRunner

    from edge_icl.cli import app

    result = CliRunner().invoke(app, ["run", "--problem", "association", "--policy", "lookup", "--steps", "120", "--seed", "2", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["instances"] == 2 and summary["llm_calls"] == 0 and summary["invalid_actions"] == 0
    assert 0 < summary["served_share"] < 1 and summary["mean_delay_ms"] > 0
    (folder,) = tmp_path.iterdir()
    records = [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]
    assert len(records) == 120 and any(r.get("only_candidate") for r in records) and any(r.get("copied") for r in records)


def test_a_cut_association_run_resumes_to_the_same_rows(tmp_path):
    import json

    from typer.testing import CliRunner

    from edge_icl.cli import app

    args = ["run", "--problem", "association", "--policy", "lookup", "--steps", "150", "--seed", "4", "--json"]
    for name in ("whole", "cut"):
        assert CliRunner().invoke(app, [*args, "--out", str(tmp_path / name)]).exit_code == 0
    (whole,), (cut,) = (tmp_path / "whole").iterdir(), (tmp_path / "cut").iterdir()
    lines = (cut / "steps.csv").read_text().splitlines(keepends=True)
    (cut / "steps.csv").write_text("".join(lines[:71]) + lines[71][:9])  # 70 rows and a torn one, as a kill leaves them
    records = (cut / "transcript.jsonl").read_text().splitlines(keepends=True)
    (cut / "transcript.jsonl").write_text("".join(r for r in records if json.loads(r)["step"] < 71))
    result = CliRunner().invoke(app, ["run", "--resume", str(cut), "--json"])
    assert result.exit_code == 0, result.output
    assert (cut / "steps.csv").read_text() == (whole / "steps.csv").read_text()
    assert (cut / "transcript.jsonl").read_text() == (whole / "transcript.jsonl").read_text()
