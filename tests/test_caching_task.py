"""The caching problem's text face (environment/caching/task.py) and its prompts (prompts/caching/)."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from edge_icl.cli import app
from edge_icl.problems.registry import PROBLEMS
from edge_icl.experiment.rollout import run_policy
from agent.experience import Experience, as_keywords
from agent.prompting import TaskPrompt
from environment.caching import CachingEnv, CachingTask, scaled_config
from environment.caching.formulas import COST_PARTS
from environment.caching.task import BYPASS, DEMAND_LEVELS, ROOM_LEVELS, cost_per_slot_served
from environment.decision_task import DecisionTask
from solvers.caching import RuleAsPolicy, least_aot
from edge_icl.problems.caching import SMALL_CONFIG, play, play_policy


def decision_points(seed: int = 1, config=None):
    """(env, info) at every decision point of least-AoT's episode on `seed`; the env is paused there."""
    env = CachingEnv(config)
    _, info = env.reset(seed=seed)
    rule = least_aot()
    while not info["finished"]:
        yield env, info
        _, _, terminated, _, info = env.step(rule.act(info, env))
        if terminated:
            return


def first_point(condition, seed: int = 1, config=None):
    """The env paused at the first decision point of least-AoT's episode where `condition(task, info)` holds."""
    task = CachingTask(config)
    for env, info in decision_points(seed, config):
        if condition(task, info):
            return env, info
    raise AssertionError("no such decision point")


def test_caching_task_is_a_decision_task_whose_labels_are_the_model_names_and_bypass():
    task = CachingTask()
    assert isinstance(task, DecisionTask)
    assert task.decisions == (*[m.name for m in CachingEnv().config.models], BYPASS)
    assert list(task.content_free) == ["room", "needed", "demand"]


def test_keywords_name_room_then_the_needed_family_then_its_demand():
    task = CachingTask()
    seen = set()
    for env, info in decision_points():
        keywords = task.keywords(info)
        assert list(keywords) == ["room", "needed", "demand"]  # most telling first
        assert keywords["room"] in ROOM_LEVELS and keywords["demand"] in DEMAND_LEVELS
        assert keywords["needed"] == info["needed"]["family"]
        assert (keywords["demand"] == "1 request") == (info["needed"]["requests_this_slot"] == 1)
        seen.add(tuple(keywords.values()))
    assert len(seen) <= len(ROOM_LEVELS) * 2 * len(DEMAND_LEVELS)  # few combinations: the pool generalises
    assert {k[0] for k in seen} == set(ROOM_LEVELS)


def test_one_eviction_room_means_evicting_the_largest_idle_model_loads_the_needed_one():
    env, info = first_point(lambda task, info: task.keywords(info)["room"] == "one eviction")
    idle = [c for c in info["candidates"] if c["requests_this_slot"] == 0]
    _, _, _, _, after = env.step(max(idle, key=lambda c: c["memory_gb"])["model"])
    assert after["decision"]["needed_loaded"] and env.cached[info["needed"]["model"]]


def test_idle_too_small_means_evicting_every_idle_model_still_leaves_no_room():
    env, info = first_point(lambda task, info: task.keywords(info)["room"] == "idle too small" and any(c["requests_this_slot"] == 0 for c in info["candidates"]))
    needed = info["needed"]["model"]
    for candidate in [c for c in info["candidates"] if c["requests_this_slot"] == 0]:
        _, _, _, _, after = env.step(candidate["model"])
        assert not after["decision"]["needed_loaded"]
        assert after["needed"]["model"] == needed and after["slot"] == info["slot"]  # the env asks again


def test_candidates_are_every_cached_model_with_its_state_then_bypass():
    task = CachingTask()
    _, info = next(decision_points())
    candidates = task.candidates(info)
    assert [c.label for c in candidates] == [c["name"] for c in info["candidates"]] + [BYPASS]
    assert [c.action for c in candidates] == [c["model"] for c in info["candidates"]] + [len(info["action_mask"]) - 1]
    assert all(info["action_mask"][c.action] for c in candidates)
    for candidate, facts in zip(candidates, info["candidates"]):
        assert candidate.features == {
            "aot": facts["aot"], "fill": facts["context_fill"], "recent": facts["recent_requests"],
            "now": facts["requests_this_slot"], "size_gb": facts["memory_gb"],
        }
    assert candidates[-1].features == {}


def test_candidates_follow_the_action_mask_when_requested_models_may_not_be_evicted():
    config = scaled_config(evict_requested=False)
    env, info = first_point(lambda task, info: any(c["requests_this_slot"] > 0 for c in info["candidates"]), config=config)
    labels = [c.label for c in CachingTask(config).candidates(info)]
    assert labels == [c["name"] for c in info["candidates"] if c["requests_this_slot"] == 0] + [BYPASS]


def test_evicting_a_model_requested_in_this_slot_is_a_bad_decision():
    env, info = first_point(lambda task, info: any(c["requests_this_slot"] > 0 for c in info["candidates"]))
    busy = next(c for c in info["candidates"] if c["requests_this_slot"] > 0)
    _, _, _, _, after = env.step(busy["model"])
    assert after["decision"]["evicted_requests"] == busy["requests_this_slot"]
    assert CachingTask().feedback(after).constraint_met is False


def test_a_decision_that_completes_its_slot_earns_minus_the_cost_per_slot_served():
    task = CachingTask()
    for env, info in decision_points():
        idle = [c for c in info["candidates"] if c["requests_this_slot"] == 0]
        if task.keywords(info)["room"] != "one eviction":
            continue
        _, reward, _, _, after = env.step(max(idle, key=lambda c: c["memory_gb"])["model"])
        if after["slots_done"]:
            break
    feedback = task.feedback(after)
    assert feedback.constraint_met
    assert reward == pytest.approx(-sum(after["cost_parts"].values()))
    assert feedback.reward == pytest.approx(reward / len(after["slots_done"])) == cost_per_slot_served(after)


def test_a_decision_followed_by_another_in_its_slot_is_not_evaluated():
    task = CachingTask()
    for env, info in decision_points():
        _, reward, _, _, after = env.step(env.bypass_action)
        if not after["finished"] and after["slot"] == info["slot"]:
            break
    assert not after["slots_done"] and reward == 0.0  # nothing charged yet: it would look like the best decision
    assert task.feedback(after).constraint_met is False


def test_rule_as_policy_plays_like_the_rule_and_rows_add_up_to_the_env_cost():
    task = CachingTask(SMALL_CONFIG)
    env, reference = CachingEnv(SMALL_CONFIG), play(SMALL_CONFIG, 5, least_aot())
    decisions = sum(r.evictions + r.bypasses for r in reference.records)
    before_first = CachingEnv(SMALL_CONFIG).reset(seed=5)[1]
    rollout = run_policy(RuleAsPolicy(least_aot()), env, task, decisions, 5)  # the whole episode, decision by decision
    assert sum(r["total_cost"] for r in rollout.rows) + sum(before_first["cost_parts"].values()) == pytest.approx(sum(reference.episode_costs().values()))
    metrics = rollout.summary
    assert metrics["slots"] == SMALL_CONFIG.slots - len(before_first["slots_done"])
    assert metrics["total_cost"] == pytest.approx(sum(metrics[k] for k in COST_PARTS))
    assert metrics["evicted_requested_share"] == 0.0  # least-AoT protects the models requested now


def test_play_policy_gives_the_policy_the_same_episode_as_play():
    reference = play(SMALL_CONFIG, 2, least_aot())
    slots: list[dict] = []
    env = play_policy(SMALL_CONFIG, 2, RuleAsPolicy(least_aot()), slots.append)
    assert slots == [r.as_row() for r in reference.records]
    assert env.episode_costs() == reference.episode_costs()


# --- prompts/caching -------------------------------------------------------------------------


def pool_example(task: CachingTask, info: dict, chosen: int, reward: float) -> Experience:
    candidate = task.candidates(info)[chosen]
    return Experience(as_keywords(task.keywords(info)), candidate.label, reward, "good", 0, tuple(candidate.features.items()))


def test_caching_prompt_shows_each_candidate_with_its_state_and_renders_without_it():
    task = CachingTask()
    prompt = TaskPrompt(None, task)
    assert prompt.folder.name == "caching"
    _, info = next(decision_points())
    candidates = task.candidates(info)
    example = pool_example(task, info, 0, -31.5)
    rendered = prompt.render([example], [example], task.keywords(info), candidates)
    assert "age of thought (AoT)" in rendered.messages[0]["content"] and "context window" in rendered.messages[0]["content"]
    assert "Reward: -31.5" in rendered.stable and "Reward" not in rendered.variable  # the pool's rewards stay in the stable part
    assert rendered.messages[-1] == {"role": "assistant", "content": "Keywords: ({room}, {needed}, {demand}), Decision:".format(**task.keywords(info))}
    for candidate in candidates[:-1]:
        f = candidate.features
        assert f"{candidate.label} (AoT {f['aot']:.1f}, fill {100 * f['fill']:.0f}%, recent {f['recent']}, now {f['now']}, {f['size_gb']:.0f} GB)" in rendered.variable
    bare = prompt.render([example], [example], task.content_free, [type(c)(c.label, c.action) for c in candidates])
    assert "AoT" not in bare.variable.split("Cached models:")[1]
    assert "Cached models: " + "; ".join(c.label for c in candidates[:-1]) + ". Or bypass." in bare.variable
    assert bare.stable == rendered.stable  # calibration reuses the same KV prefix
    assert prompt.answers(candidates) == [f" {c.label}," for c in candidates]


def test_caching_prompt_keeps_the_variable_part_short():
    task = CachingTask()
    prompt = TaskPrompt(None, task)
    _, info = next(decision_points())
    examples = [pool_example(task, info, i, -30.0 - i) for i in range(len(task.candidates(info)))]
    rendered = prompt.render(examples, examples[-1:], task.keywords(info), task.candidates(info))
    assert len(rendered.variable) < len(rendered.stable)
    assert rendered.variable.count("\n") == 2  # closest example, candidates, the query


# --- the ICL agent on the caching problem ------------------------------------------------------


def test_caching_is_registered_with_its_online_rules_and_the_agents_no_llm_baselines_as_policies():
    problem = PROBLEMS["caching"]
    assert set(problem.policies) == {"least-aot", "fifo", "lfu", "lru", "lookup", "bandit"}
    config = problem.config(None)
    assert isinstance(problem.task(config), CachingTask) and isinstance(problem.env(config), CachingEnv)


def test_edge_icl_run_plays_a_caching_rule(tmp_path):
    result = CliRunner().invoke(app, ["run", "--problem", "caching", "--policy", "lru", "--steps", "8", "--seed", "1", "--json", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["steps"] == 8 and summary["policy"] == "lru" and summary["llm_calls"] == 0
    for key in ("total_cost", *COST_PARTS, "hit_rate", "bypass_share"):
        assert summary[key] is not None


@pytest.mark.slow
def test_icl_agent_plays_evictions_on_a_small_instance_with_the_bundled_model(tmp_path):
    small = tmp_path / "small.yaml"
    small.write_text(yaml.safe_dump(SMALL_CONFIG.model_dump(mode="json")))
    out = tmp_path / "runs"
    result = CliRunner().invoke(
        app, ["run", "--problem", "caching", "--config", str(small), "--steps", "8", "--seed", "3", "--epsilon", "0.2", "--json", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["backend"] == "llama-cpp" and summary["model"].startswith("SmolLM2-135M-Instruct")
    assert summary["steps"] == 8 and summary["llm_calls"] == 8 - summary["explored_steps"] > 1
    assert summary["parse_failures"] == 0
    (folder,) = out.iterdir()
    records = [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]
    rows = (folder / "steps.csv").read_text().splitlines()
    assert [r["step"] for r in records] == list(range(8)) and len(rows) == 9
    labels = set(CachingTask(SMALL_CONFIG).decisions)
    calls = [r for r in records if r["llm_call"]]
    for record in calls:
        assert record["decision"] in labels and record["parsed_ok"]
        assert {answer.strip(" ,") for answer in record["scores"]} <= labels and " bypass," in record["scores"]  # cached models and bypass
        assert record["decision"] in {answer.strip(" ,") for answer in record["scores"]}
        assert record["prompt_tokens"] >= record["evaluated_tokens"] > 0
    # the stable prefix (task description and pool) is reused: later calls evaluate only part of the prompt
    assert any(r["evaluated_tokens"] < r["prompt_tokens"] for r in calls[1:])
