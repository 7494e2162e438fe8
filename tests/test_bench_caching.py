"""`edge-icl bench caching` (agent/bench_caching.py)."""

from __future__ import annotations

import csv
import json

from typer.testing import CliRunner

from agent.cli import app
from solvers.caching import POLICIES
from solvers.caching_experiment import BENCH_KEYS, SMALL_CONFIG


def test_bench_caching_json_has_every_policy_and_the_small_milp(tmp_path):
    result = CliRunner().invoke(app, ["bench", "caching", "--seed", "1", "--slots", "12", "--small-runs", "2", "--json", "--out", str(tmp_path)])
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


def test_bench_caching_rejects_a_bad_config_in_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("n_gpus: -3\n")
    result = CliRunner().invoke(app, ["bench", "caching", "--config", str(bad), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "n_gpus" in result.output
    assert not any(p.is_dir() for p in tmp_path.iterdir())  # no run folder: nothing started
