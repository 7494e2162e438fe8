"""The Offloading-v1 side of `edge-icl bench offloading` (edge_icl/benches/offloading.py)."""

import json

import pytest
from typer.testing import CliRunner

from edge_icl.cli import app
from edge_icl.experiment.bench import BenchSettings, aggregate, run_bench
from edge_icl.benches.offloading import V1_POLICIES, FillPhase, OffloadingRunners, fill_seed, offloading_v1_metrics, world_facts
from edge_icl.problems.registry import PROBLEMS
from agent.settings import AgentSettings
from environment.offloading_v1 import best_lookup_accuracy, offloading_v1_config, oracle_offload_share_by_service

PROBLEM = PROBLEMS["offloading-v1"]
NON_LLM = ["oracle", "random", "all-local", "all-offload", "greedy"]


def runners(run_dir, policies, fill=None, world=None):
    return OffloadingRunners(world or offloading_v1_config(), AgentSettings(), run_dir / "transcript.jsonl", PROBLEM, fill).runners(policies)


def test_best_lookup_takes_the_majority_of_each_cell():
    rows = [
        {"service": "chatting", "token_level": "short", "oracle_action": 0},
        {"service": "chatting", "token_level": "short", "oracle_action": 0},
        {"service": "chatting", "token_level": "short", "oracle_action": 1},
        {"service": "knowledge", "token_level": "long", "oracle_action": 1},
    ]
    assert best_lookup_accuracy(rows) == pytest.approx(3 / 4)
    assert best_lookup_accuracy(rows, ("service",)) == pytest.approx(3 / 4)
    assert oracle_offload_share_by_service(rows) == {"chatting": pytest.approx(1 / 3), "knowledge": 1.0}


def test_v1_bench_resumes_and_reports_world_facts(tmp_path):
    policies = ["oracle", "greedy", "all-offload"]
    settings = BenchSettings(policies=policies, seeds=[0, 1], steps=25, problem=PROBLEM.name)
    groups = run_bench(tmp_path, settings, runners(tmp_path, policies))
    table = aggregate(groups, policies, offloading_v1_metrics)
    assert table["oracle"]["decision_accuracy"] == 1.0 and table["oracle"]["mean_regret"] == 0.0
    assert table["all-offload"]["offload_share"] == 1.0 and table["all-offload"]["mean_cost_usd"] > 0
    assert table["greedy"]["mean_regret"] >= 0.0
    assert table["oracle"]["accuracy_seen"] is None  # no fill phase, no seen / unseen split
    facts = world_facts(groups)
    assert facts["oracle_steps"] == 50 and 0.0 < facts["best_coarse_lookup_accuracy"] <= facts["best_keyword_lookup_accuracy"] <= 1.0
    started = []  # a second run finds every group finished and recomputes nothing
    run_bench(tmp_path, settings, runners(tmp_path, policies), on_group_start=lambda n, s: started.append(n))
    assert started == []


def test_a_fill_phase_plays_another_stream_first_and_tags_each_row_seen_or_unseen(tmp_path):
    assert fill_seed(0) != 0 and fill_seed(0) == fill_seed(0) and fill_seed(0) != fill_seed(1)
    heavy = offloading_v1_config({"edge": {"arrival_rate_per_s": 0.23}})
    light = offloading_v1_config({"edge": {"arrival_rate_per_s": 0.1}})
    settings = BenchSettings(policies=["oracle"], seeds=[0], steps=60, problem=PROBLEM.name)
    (tmp_path / "plain").mkdir(), (tmp_path / "filled").mkdir()
    plain = run_bench(tmp_path / "plain", settings, runners(tmp_path / "plain", ["oracle"], world=heavy))[("oracle", 0)]
    filled = run_bench(tmp_path / "filled", settings, runners(tmp_path / "filled", ["oracle"], FillPhase(40, light), heavy))[("oracle", 0)]
    # the recorded steps are the same stream with and without a fill phase
    assert [r["reward"] for r in filled] == [r["reward"] for r in plain]
    assert "seen_in_fill" not in plain[0]
    seen = [r["seen_in_fill"] for r in filled]
    assert set(seen) == {"0", "1"}  # the heavy load shows states the light one did not
    metrics = offloading_v1_metrics(filled)
    assert metrics["accuracy_seen"] == metrics["accuracy_unseen"] == 1.0
    assert metrics["unseen_share"] == pytest.approx(seen.count("0") / len(seen))


def test_bench_cli_world_v1_prints_every_non_llm_policy_and_the_world_facts(tmp_path):
    result = CliRunner().invoke(
        app, ["bench", "offloading", "--world", "v1", "--policies", ",".join(NON_LLM), "--steps", "30", "--seeds", "2",
              "--edge-arrival-rate", "0.15", "--out", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["world"] == "v1" and summary["edge_arrival_rate_per_s"] == 0.15 and summary["fill"] is None
    assert list(summary["policies"]) == NON_LLM
    for metrics in summary["policies"].values():
        assert set(metrics) >= {"mean_reward_last_half", "decision_accuracy", "offload_share", "mean_cost_usd", "mean_regret"}
    assert summary["policies"]["oracle"]["mean_regret"] == 0.0
    assert set(summary["world_facts"]["oracle_offload_share_by_service"]) == {"chatting", "translation", "reasoning", "knowledge"}


def test_bench_cli_fills_at_one_load_and_records_at_another(tmp_path):
    result = CliRunner().invoke(
        app, ["bench", "offloading", "--world", "v1", "--policies", "oracle,greedy,dqn", "--steps", "30", "--seeds", "1",
              "--edge-arrival-rate", "0.23", "--fill-steps", "100", "--fill-arrival-rate", "0.1", "--out", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["fill"] == {"steps": 100, "edge_arrival_rate_per_s": 0.1} and summary["edge_arrival_rate_per_s"] == 0.23
    assert 0 < summary["policies"]["oracle"]["unseen_share"] < 1
    folder = next(tmp_path.iterdir())
    assert json.loads((folder / "bench.json").read_text())["fill"]["config"]["edge"]["arrival_rate_per_s"] == 0.1
    assert len((folder / "steps.csv").read_text().splitlines()) == 1 + 3 * 30  # fill steps are not recorded
    assert summary["policies"]["dqn"]["accuracy_seen"] is not None  # DQN trained in the fill phase, then plays frozen


def test_lookup_and_bandit_fill_their_memory_then_play_the_recorded_stream(tmp_path):
    result = CliRunner().invoke(
        app, ["bench", "offloading", "--world", "v1", "--policies", "lookup,bandit,oracle", "--steps", "30", "--seeds", "1",
              "--edge-arrival-rate", "0.23", "--fill-steps", "100", "--fill-arrival-rate", "0.1", "--out", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    for name in ("lookup", "bandit"):
        assert summary["policies"][name]["accuracy_seen"] is not None and summary["policies"][name]["accuracy_unseen"] is not None
    assert "llm_lift" not in summary  # no icl row
    folder = next(tmp_path.iterdir())
    records = [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]
    assert {r["policy"] for r in records} == {"lookup"} and not any(r["llm_call"] for r in records)  # the bandit keeps no transcript
    assert len([r for r in records if r["policy"] == "lookup"]) == 100 + 30  # the fill phase, then the recorded steps


@pytest.mark.slow
def test_v1_llm_lift_is_over_lookup_and_over_the_greedy_rule(tmp_path):
    result = CliRunner().invoke(
        app, ["bench", "offloading", "--world", "v1", "--policies", "icl,lookup,greedy", "--steps", "8", "--seeds", "1", "--out", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    lift = summary["llm_lift"]["llama-cpp"]
    rewards = {name: summary["policies"][name]["mean_reward_last_half"] for name in ("icl", "lookup", "greedy")}
    for other in ("lookup", "greedy"):
        assert lift[f"icl_minus_{other}"]["mean_reward_last_half"]["mean"] == pytest.approx(rewards["icl"] - rewards[other])


def test_v1_policies_list_the_icl_agent_and_every_non_llm_policy():
    assert V1_POLICIES[:6] == ("icl", "icl-latest", "icl-no-explore", "lookup", "bandit", "dqn")
    assert set(NON_LLM) <= set(V1_POLICIES) and len(set(V1_POLICIES)) == len(V1_POLICIES)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--world", "v2"], "--world"),
        (["--world", "v0", "--edge-arrival-rate", "0.1"], "--edge-arrival-rate"),
        (["--world", "v0", "--fill-steps", "10"], "--fill-steps"),
        (["--world", "v1", "--fill-arrival-rate", "0.1"], "--fill-steps"),
        (["--world", "v1", "--policies", "oracle,magic"], "magic"),
        (["--world", "v0", "--policies", "greedy"], "greedy"),
        (["--world", "v1", "--holdout", "0.3"], "--holdout"),
    ],
)
def test_bench_cli_rejects_bad_world_input_before_any_work(tmp_path, args, message):
    result = CliRunner().invoke(app, ["bench", "offloading", *args, "--out", str(tmp_path)])
    assert result.exit_code == 2 and message in result.stderr
    assert not any(tmp_path.iterdir())
