"""`edge-icl bench backend` on the real bundled model: prefix reuse on vs off, accuracy per layout."""

import json

import pytest

from typer.testing import CliRunner

from edge_icl.cli import app


def test_bench_backend_reports_reuse_and_accuracy_side_by_side():
    result = CliRunner().invoke(app, ["bench", "backend", "--decisions", "5", "--seeds", "1", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    on, off = report["reuse_on"], report["reuse_off"]
    # with reuse only the tail after the cached pool is evaluated; without, the whole prompt
    assert 0 < on["median_prompt_tokens_evaluated"] < off["median_prompt_tokens_evaluated"] / 5
    assert report["latency_ratio_off_over_on"] > 0 and report["accuracy_seeds"] == [0]
    layouts = report["accuracy"]
    assert len(layouts) == 5
    for row in layouts.values():
        assert 0.0 <= row["accuracy_vs_oracle"] <= 1.0 and set(row["per_seed"]) == {"0"}
    # the default layout copies the pool's decision (calibrated margins >= 0.4 nats on these queries)
    assert layouts["closest example last, calibrated"]["copy_accuracy"] >= 0.8


@pytest.mark.slow
def test_bench_backend_holdout_splits_every_accuracy_into_seen_and_unseen_beside_lookup_and_bandit():
    result = CliRunner().invoke(app, ["bench", "backend", "--decisions", "10", "--seeds", "1", "--seed", "1", "--holdout", "0.5", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    held = report["holdout"]["held_out"]["1"]
    assert report["holdout"]["fraction"] == 0.5 and len(held) == 8  # half of 4 services x 4 token levels
    rows = {**report["accuracy"], **report["baselines"]}
    assert set(report["baselines"]) == {"lookup", "bandit"}
    for row in rows.values():
        assert {"accuracy_seen", "accuracy_unseen"} <= set(row)
        assert row["accuracy_seen"] is not None and row["accuracy_unseen"] is not None
    # lookup copies the pool wherever the pool has the query's state
    assert report["baselines"]["lookup"]["copy_accuracy"] == 1.0
