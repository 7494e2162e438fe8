import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "reproduce_offloading_v1.py"


def load_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("reproduce_offloading_v1", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_upload_tips_a_decision_only_when_it_hides_in_an_edge_wait():
    script = load_script()
    close_call = {"local_reward": 10.0, "offload_reward": 9.5, "upload_s": 2.0}
    # the edge is free: both sides pay the upload, nothing changes
    assert script.upload_tipped_share([{**close_call, "edge_slot_wait_s": 0.0}]) == 0.0
    # a 5 s slot wait hides the upload at the edge: without it, offloading gains 2 s and wins
    assert script.upload_tipped_share([{**close_call, "edge_slot_wait_s": 5.0}]) == 1.0


@pytest.mark.slow
def test_reproduce_script_smoke_run_writes_csv_and_png(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--seeds", "1", "--steps", "40", "--loads", "0.1,0.2", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    folder = next(tmp_path.iterdir())
    for name in ("fig_reward_over_time", "fig_decision_vs_queue", "fig_decision_vs_cloud_latency", "fig_load_sweep"):
        assert (folder / f"{name}.png").stat().st_size > 0
        assert (folder / f"{name}.csv").exists()
    with open(folder / "fig_load_sweep.csv") as handle:
        assert [float(row["edge_arrival_rate_per_s"]) for row in csv.DictReader(handle)] == [0.1, 0.2]
    facts = json.loads((folder / "world_facts.json").read_text())
    assert facts["oracle_steps"] == 40 and 0.0 <= facts["upload_tipped_share"] <= 1.0
    summary = json.loads(done.stdout)
    assert set(summary["bench"]) == {"oracle", "random", "all-local", "all-offload", "greedy", "dqn"}
    assert summary["bench"]["oracle"]["mean_regret"] == pytest.approx(0.0)


def test_versus_counts_where_two_policies_differ_and_who_was_right():
    script = load_script()

    def row(action, oracle, reward, level="edge quality ok"):
        return {"action": str(action), "oracle_action": str(oracle), "reward": str(reward), "quality_keyword": level}

    groups = {
        ("icl", 0): [row(1, 1, 5.0), row(0, 1, 1.0), row(0, 0, 3.0, "above edge quality")],
        ("greedy", 0): [row(1, 1, 5.0), row(1, 1, 4.0), row(1, 0, 2.0, "above edge quality")],
    }
    facts = script.versus(groups, "icl", "greedy")
    assert facts["steps"] == 3 and facts["same_decision_share"] == pytest.approx(1 / 3)
    assert facts["icl_right_where_they_differ"] == 0.5
    assert facts["reward_difference_where_they_differ"] == pytest.approx(((1.0 - 4.0) + (3.0 - 2.0)) / 2)
    assert facts["icl_accuracy_edge_quality_ok"] == 0.5 and facts["greedy_accuracy_edge_quality_ok"] == 1.0
    assert facts["icl_accuracy_above_edge_quality"] == 1.0 and facts["greedy_accuracy_above_edge_quality"] == 0.0


def test_closest_example_facts_read_the_example_shown_before_the_query(tmp_path):
    script = load_script()
    closest = "Keywords: (a, b), Decision: {}, Evaluation: Good decision.\n[assistant] Keywords: (a, b), Decision:"
    records = [
        {"policy": "icl", "seed": 0, "step": 0, "llm_call": True, "decision": "offload", "prompt_variable": closest.format("offload")},
        {"policy": "icl", "seed": 0, "step": 1, "llm_call": True, "decision": "local", "prompt_variable": closest.format("offload")},
        {"policy": "icl", "seed": 0, "step": 2, "llm_call": True, "decision": "local", "prompt_variable": "[assistant] Keywords: (a, b), Decision:"},
        {"policy": "icl", "seed": 0, "step": 3, "llm_call": False, "explored": True, "decision": "local"},
    ]
    path = tmp_path / "transcript.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    groups = {("icl", 0): [{"oracle_action": "1"}, {"oracle_action": "0"}, {"oracle_action": "0"}, {"oracle_action": "0"}]}
    facts = script.closest_example_facts(path, groups)["icl"]
    assert facts == {"calls": 2, "took_closest_share": 0.5, "llm_accuracy": 1.0, "closest_example_accuracy": 0.5}
