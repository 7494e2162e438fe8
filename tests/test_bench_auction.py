"""`edge-icl bench auction` and scripts/reproduce_auction.py, as tiny smoke runs of the real commands."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("stable_baselines3")

from agent.cli import app  # noqa: E402
from agent.cli.run_folder import RunFolder  # noqa: E402
from environment.market.config import market_config  # noqa: E402
from solvers.auction import MECHANISMS  # noqa: E402

SMALL = ["--rounds", "200", "--train-rounds", "1200"]


def _bench(tmp_path: Path, *extra: str):
    return CliRunner().invoke(app, ["bench", "auction", "--seed", "1", "--json", "--out", str(tmp_path), *SMALL, *extra])


def test_bench_prints_the_four_metrics_for_every_mechanism_and_writes_its_run_folder(tmp_path):
    result = _bench(tmp_path)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data) == ["mechanisms"] and list(data["mechanisms"]) == list(MECHANISMS)
    for metrics in data["mechanisms"].values():
        assert set(metrics) == {"total_surplus", "ground_surplus", "satellite_surplus", "revenue"}
        assert metrics["total_surplus"] == pytest.approx(metrics["ground_surplus"] + metrics["satellite_surplus"])
    (folder,) = tmp_path.iterdir()
    for name in ("config.yaml", "training.csv", "rounds.csv", "mechanisms.csv", "summary.json"):
        assert (folder / name).exists(), name
    with open(folder / "rounds.csv") as handle:
        assert sum(1 for _ in csv.DictReader(handle)) == 200 * len(MECHANISMS)
    with open(folder / "training.csv") as handle:
        assert sum(1 for _ in csv.DictReader(handle)) == 12


def test_same_seed_same_numbers(tmp_path):
    first = _bench(tmp_path / "a")
    second = _bench(tmp_path / "b")
    assert first.exit_code == second.exit_code == 0
    assert json.loads(first.stdout) == json.loads(second.stdout)


def test_ground_bs_count_and_yaml_config_are_applied(tmp_path):
    config = tmp_path / "market.yaml"
    config.write_text("n_users: 20\nsatellite_quality: 3.0\n")
    result = _bench(tmp_path / "runs", "--ground-bs", "3", "--config", str(config))
    assert result.exit_code == 0, result.output
    (folder,) = (tmp_path / "runs").iterdir()
    written = (folder / "config.yaml").read_text()
    assert "n_ground_bs: 3" in written and "n_users: 20" in written and "satellite_quality: 3.0" in written


@pytest.mark.parametrize(("args", "message"), [(["--ground-bs", "1"], "n_ground_bs"), (["--config", "missing.yaml"], "cannot read market config")])
def test_bad_input_is_one_line_and_exit_2_before_any_run(tmp_path, args, message):
    result = CliRunner().invoke(app, ["bench", "auction", "--out", str(tmp_path), *SMALL, *args])
    assert result.exit_code == 2
    assert message in result.output
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def _script():
    spec = importlib.util.spec_from_file_location("reproduce_auction", Path(__file__).resolve().parents[1] / "scripts" / "reproduce_auction.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reproduce_fig5_leaves_csv_and_png(tmp_path):
    script = _script()
    folder = RunFolder(tmp_path, "fig5")
    script.figure5(market_config(), 1, 1200, 100, 4, folder, folder.path, lambda: None)
    folder.close()
    assert (folder.path / "fig5_convergence.png").stat().st_size > 10_000
    with open(folder.path / "fig5_convergence.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12 * len(MECHANISMS)  # 12 epochs of 100 rounds, every mechanism
    assert (folder.path / "fig5_held_out.csv").exists()


@pytest.mark.slow
def test_reproduce_fig6_leaves_csv_and_png(tmp_path):
    script = _script()
    folder = RunFolder(tmp_path, "fig6")
    script.figure6(1, 1100, 50, folder, folder.path, lambda: None)
    folder.close()
    assert (folder.path / "fig6_surplus.png").stat().st_size > 10_000
    with open(folder.path / "fig6_sweeps.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 * 5 * len(MECHANISMS)
    assert {row["panel"] for row in rows} == {"a", "b", "c", "d"}
