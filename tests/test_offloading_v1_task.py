import json

import pytest
from typer.testing import CliRunner

from edge_icl.cli import app
from edge_icl.experiment.rollout import run_policy
from agent.experience import Experience, PrioritizedPool, as_keywords, most_relevant
from agent.prompting import TaskPrompt
from environment.decision_task import Candidate, DecisionTask
from environment.inference import llm_profile
from environment.offloading_v1 import LOCAL, OFFLOAD, OffloadingV1Env, OffloadingV1Task
from environment.offloading_v1.task import KEYWORD_COLUMNS, cloud_level, edge_level, quality_level
from solvers.reference import OraclePolicy

EDGE_QUALITY = llm_profile("llama3-8b").quality_index
CLOUD_QUALITY = llm_profile("gpt-4o").quality_index
TASK = OffloadingV1Task()


def states(seed=0, steps=200):
    """(info, step_info) of each request of a stream, offloading everything."""
    env = OffloadingV1Env()
    _, info = env.reset(seed=seed)
    for _ in range(steps):
        _, _, _, truncated, step_info = env.step(OFFLOAD)
        yield info, step_info
        info = env.reset()[1] if truncated else step_info


def test_the_task_is_a_decision_task_with_its_own_prompt_folder():
    assert isinstance(TASK, DecisionTask)
    assert TASK.name == "offloading-v1" and TASK.decisions == ("local", "offload")
    assert list(TASK.content_free) == ["quality", "edge", "cloud", "price"]


def test_quality_level_is_the_step_of_constraint_4e_at_the_edge_models_index():
    assert quality_level(EDGE_QUALITY, EDGE_QUALITY) == "edge quality ok"
    assert quality_level(EDGE_QUALITY + 0.001, EDGE_QUALITY) == "above edge quality"


def test_edge_level_reads_the_batch_while_a_slot_is_free_and_the_wait_once_none_is():
    assert edge_level(running=3, estimated_wait_s=0.0) == "edge light"
    assert edge_level(running=4, estimated_wait_s=0.0) == "edge busy"
    assert edge_level(running=8, estimated_wait_s=8.0) == "edge full"
    assert edge_level(running=8, estimated_wait_s=8.1) == "edge backlog"


def test_cloud_level_bins_the_recent_latency_between_the_congestion_means():
    assert [cloud_level(x) for x in (0.5, 1.99, 2.0, 7.99, 8.0, 15.0)] == ["cloud fast", "cloud fast", "cloud slow", "cloud slow", "cloud congested", "cloud congested"]


def test_keywords_are_levels_so_a_stream_meets_few_combinations():
    seen = {tuple(TASK.keywords(info).items()) for info, _ in states()}
    assert len(seen) <= 2 * 4 * 3 * 2
    assert len(seen) < 200 / 4  # numbers in the keywords would make nearly every request a new combination
    info = next(states())[0]
    keywords = TASK.keywords(info)
    assert list(keywords) == ["quality", "edge", "cloud", "price"]
    assert keywords["price"] == f"{info['price_level']} price"
    assert keywords["quality"] == quality_level(info["features"]["required_quality"], EDGE_QUALITY)


def test_candidates_carry_the_exact_numbers_the_keywords_bin():
    for info, _ in states(seed=3, steps=60):
        local, offload = TASK.candidates(info)
        f = info["features"]
        assert (local.label, local.action, offload.label, offload.action) == ("local", LOCAL, "offload", OFFLOAD)
        assert local.features["quality_margin"] == pytest.approx(EDGE_QUALITY - f["required_quality"], abs=0.005)
        assert offload.features["quality_margin"] == pytest.approx(CLOUD_QUALITY - f["required_quality"], abs=0.005)
        assert local.features["queue"] == f["edge_running"] + f["edge_waiting"]
        assert local.features["wait_s"] == pytest.approx(f["estimated_edge_wait_s"], abs=0.05)
        assert offload.features["latency_s"] == pytest.approx(f["recent_cloud_latency_s"], abs=0.05)
        # the estimated cost: posted prices x prompt and estimated (not true) output tokens
        multiplier = 2.0 if info["price_level"] == "peak" else 1.0
        request = info["request"]
        expected = multiplier * (request["prompt_tokens"] * 2.5 + request["estimated_tokens"] * 10.0) / 1e6
        assert offload.features["cost_usd"] == pytest.approx(expected, abs=0.0005)


def test_feedback_is_the_priced_reward_and_whether_4e_held():
    for _, step_info in states(seed=1, steps=40):
        feedback = TASK.feedback(step_info)
        assert feedback.reward == step_info["offload_reward"]
        assert feedback.constraint_met == (step_info["executed_request"]["required_quality"] <= CLOUD_QUALITY)
    env = OffloadingV1Env()
    env.reset(seed=1)
    for _ in range(60):
        _, reward, _, _, step_info = env.step(LOCAL)
        feedback = TASK.feedback(step_info)
        assert feedback.reward == reward
        assert feedback.constraint_met == (step_info["executed_request"]["required_quality"] <= EDGE_QUALITY)


def test_rows_hold_the_keywords_of_the_decided_state_and_the_metrics_read_them():
    env = OffloadingV1Env()
    _, info = env.reset(seed=2)
    keywords = TASK.keywords(info)
    rollout = run_policy(OraclePolicy(), OffloadingV1Env(), TASK, 30, seed=2)
    assert tuple(rollout.rows[0][c] for c in KEYWORD_COLUMNS) == tuple(keywords.values())
    summary = rollout.summary
    assert summary["steps"] == 30 and summary["decision_accuracy"] == 1.0 and summary["mean_regret"] == 0.0
    assert summary["mean_reward"] == pytest.approx(summary["oracle_mean_reward"])
    assert 0.0 < summary["offload_share"] < 1.0 and summary["mean_cost_usd"] > 0.0


def test_the_prioritized_pool_keeps_one_example_per_level_combination_and_finds_the_closest():
    pool = PrioritizedPool(capacity=64)
    infos = []
    for step, (info, step_info) in enumerate(states(seed=4, steps=150)):
        feedback = TASK.feedback(step_info)
        pool.add(as_keywords(TASK.keywords(info)), "offload", feedback.reward, feedback.constraint_met, step)
        infos.append(info)
    combinations = {tuple(TASK.keywords(info).items()) for info in infos}
    assert len(pool) == len(combinations)
    query = as_keywords(TASK.keywords(infos[-1]))
    assert most_relevant(pool.examples(), query, 1)[0].keywords == query


def test_the_prompt_folder_renders_levels_in_the_examples_and_numbers_in_the_query():
    prompt = TaskPrompt(None, TASK)  # renders every template once (a broken folder fails here)
    info = list(states(seed=0, steps=40))[-1][0]
    keywords = as_keywords(TASK.keywords(info))
    local, offload = TASK.candidates(info)
    example = Experience(keywords, "offload", 8.25, "good", 3)
    rendered = prompt.render([example], [example], keywords, TASK.candidates(info))
    levels = ", ".join(TASK.keywords(info).values())
    assert f"Keywords: ({levels}), Decision: offload, Reward: 8.2, Evaluation: Good decision." in rendered.stable
    assert f"wait {local.features['wait_s']} s" in rendered.variable and f"queue {local.features['queue']}" in rendered.variable
    assert f"latency {offload.features['latency_s']} s" in rendered.variable and f"${offload.features['cost_usd']:.3f}" in rendered.variable
    assert rendered.messages[-1] == {"role": "assistant", "content": f"Keywords: ({levels}), Decision:"}
    assert prompt.answers(TASK.candidates(info)) == [" local", " offload"]
    # the content-free query of the calibration keeps the layout, with no numbers
    free = prompt.render([example], [], as_keywords(TASK.content_free), [Candidate(c.label, c.action) for c in (local, offload)])
    assert "Local: quality N/A, queue N/A, wait N/A. Offload: quality N/A, latency N/A, cost N/A." in free.variable


@pytest.mark.slow
def test_icl_runs_on_offloading_v1_with_the_bundled_model(tmp_path):
    result = CliRunner().invoke(app, ["run", "--problem", "offloading-v1", "--steps", "8", "--seed", "1", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["steps"] == 8 and summary["model"].startswith("SmolLM2-135M-Instruct")
    assert summary["llm_calls"] + summary["explored_steps"] == 8 and summary["llm_calls"] > 0 and summary["parse_failures"] == 0
    folder = next(tmp_path.iterdir())
    records = [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]
    calls = [r for r in records if r["llm_call"]]
    assert calls and all(set(r["scores"]) == {" local", " offload"} for r in calls)
    assert all("Local: quality" in r["prompt_variable"] and "Decision:" in r["prompt_variable"] for r in calls)
    rows = (folder / "steps.csv").read_text().splitlines()
    assert len(rows) == 9 and "edge_keyword" in rows[0]
