"""`edge-icl bench caching` (edge_icl/benches/caching.py)."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from edge_icl.cli import app
from edge_icl.benches.caching import BENCH_POLICIES, LEARNERS
from solvers.caching import POLICIES
from edge_icl.problems.caching import BENCH_KEYS, SMALL_CONFIG

NO_LLM = ",".join(POLICIES)


def test_bench_caching_json_has_every_policy_and_the_small_milp(tmp_path):
    result = CliRunner().invoke(app, ["bench", "caching", "--seed", "1", "--slots", "12", "--small-runs", "2", "--policies", NO_LLM, "--json", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data) == ["policies"]
    expected = [*POLICIES, *(f"small/{p}" for p in POLICIES), "small/milp"]
    assert list(data["policies"]) == expected
    for values in data["policies"].values():
        assert list(values) == list(BENCH_KEYS)
        assert abs(values["total_cost"] - sum(values[k] for k in ("switching", "transmission", "inference", "accuracy", "cloud"))) < 1e-9
    assert data["policies"]["small/milp"]["total_cost"] <= min(data["policies"][f"small/{p}"]["total_cost"] for p in POLICIES) + 1e-9
    (folder,) = tmp_path.iterdir()
    with open(folder / "slots.csv") as handle:
        assert len(list(csv.DictReader(handle))) == len(POLICIES) * 12
    with open(folder / "small.csv") as handle:
        assert len(list(csv.DictReader(handle))) == 2 * (len(POLICIES) + 1) * SMALL_CONFIG.slots
    assert (folder / "summary.json").exists() and (folder / "config.yaml").exists()
    assert not (folder / "transcript.jsonl").exists()  # no LLM asked


def test_the_bench_lists_icl_and_rejects_unknown_policies_and_backends_in_one_line(tmp_path):
    assert BENCH_POLICIES == (*POLICIES, *LEARNERS) and "icl" in LEARNERS
    result = CliRunner().invoke(app, ["bench", "caching", "--policies", "least-aot,gpt-17", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--policies: unknown gpt-17" in result.output
    result = CliRunner().invoke(app, ["bench", "caching", "--policies", "icl", "--backend", "gpt-17", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown backend 'gpt-17'" in result.output
    assert not any(p.is_dir() for p in tmp_path.iterdir())


@pytest.mark.slow
def test_bench_caching_icl_row_on_the_same_traces_with_its_transcript(tmp_path):
    result = CliRunner().invoke(
        app, ["bench", "caching", "--seed", "1", "--slots", "6", "--small-runs", "1", "--policies", "lru,icl", "--json", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)["policies"]
    assert list(data) == ["lru", "icl", "small/lru", "small/icl", "small/milp"]
    (folder,) = tmp_path.iterdir()
    records = [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]
    asked = {r["policy"] if r["setting"] == "default" else f"{r['setting']}/{r['policy']}" for r in records if r.get("llm_call")}
    assert asked <= {"icl", "small/icl"} and asked  # only the agent asks, and on 6 + small slots it did
    for name, values in data.items():  # the rows whose agent asked its LLM also say how often the fallback decided
        assert list(values) == list(BENCH_KEYS) + (["fallback_share", "valid"] if name in asked else [])
    assert all(data[name]["valid"] is True and 0.0 <= data[name]["fallback_share"] <= 0.2 for name in asked)
    assert data["small/milp"]["total_cost"] <= data["small/icl"]["total_cost"] + 1e-9
    with open(folder / "slots.csv") as handle:
        slots = list(csv.DictReader(handle))
    requests = {p: [r["requests"] for r in slots if r["policy"] == p] for p in ("lru", "icl")}
    assert len(requests["icl"]) == 6 and requests["icl"] == requests["lru"]  # the same trace
    assert {(r["policy"], r["setting"]) for r in records} == {("icl", "default"), ("icl", "small")}
    assert all("step" in r and "decision" in r for r in records)


def test_lookup_and_bandit_play_the_same_traces_without_an_llm(tmp_path):
    assert {"lookup", "bandit"} <= set(LEARNERS)
    result = CliRunner().invoke(
        app, ["bench", "caching", "--seed", "1", "--slots", "20", "--small-runs", "1", "--policies", "lru,lookup,bandit", "--json", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data["policies"]) == ["lru", "lookup", "bandit", "small/lru", "small/lookup", "small/bandit", "small/milp"]
    assert "llm_lift" not in data  # no icl row, no lift
    (folder,) = tmp_path.iterdir()
    with open(folder / "slots.csv") as handle:
        slots = list(csv.DictReader(handle))
    requests = {p: [r["requests"] for r in slots if r["policy"] == p] for p in ("lru", "lookup", "bandit")}
    assert requests["lookup"] == requests["lru"] == requests["bandit"] and len(requests["lru"]) == 20
    records = [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]
    assert records and not any(r["llm_call"] for r in records)


def test_llm_lift_is_icl_minus_lookup_on_each_setting_paired_by_seed():
    from edge_icl.benches.caching import caching_lift

    def slot(policy: str, seed: int, cost: float, hits: int) -> dict:
        parts = {"switching": cost, "transmission": 0.0, "inference": 0.0, "accuracy": 0.0, "cloud": 0.0}
        return {"policy": policy, "seed": seed, "total_cost": cost, **parts, "requests": 10, "hits": hits, "edge_served": hits, "cot_gain_sum": 0.0}

    default = [slot("icl", 1, 30.0, 9), slot("icl", 1, 30.0, 9), slot("lookup", 1, 32.5, 8), slot("lookup", 1, 32.5, 8), slot("lru", 1, 1.0, 10)]
    small = [slot("icl", 7, 1.0, 5)]  # no lookup on the small instances: no lift there
    lift = caching_lift(default, small)
    assert list(lift) == ["icl_minus_lookup"]
    assert lift["icl_minus_lookup"]["total_cost"]["mean"] == -2.5 and lift["icl_minus_lookup"]["total_cost"]["per_seed"] == {"1": -2.5}
    assert lift["icl_minus_lookup"]["hit_rate"]["mean"] == pytest.approx(0.9 - 0.8)


def test_bench_caching_rejects_a_bad_config_in_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("n_gpus: -3\n")
    result = CliRunner().invoke(app, ["bench", "caching", "--config", str(bad), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "n_gpus" in result.output
    assert not any(p.is_dir() for p in tmp_path.iterdir())  # no run folder: nothing started
