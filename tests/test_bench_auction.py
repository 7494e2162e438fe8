"""`edge-icl bench auction` and scripts/reproduce_auction.py, as tiny smoke runs of the real commands."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("stable_baselines3")

from edge_icl.cli import app  # noqa: E402
from edge_icl.experiment.run_folder import RunFolder  # noqa: E402
from environment.config import ConfigError  # noqa: E402
from environment.market.config import market_config  # noqa: E402
from solvers.auction import MECHANISMS  # noqa: E402

SMALL = ["--rounds", "200", "--train-rounds", "1200"]


def _bench(tmp_path: Path, *extra: str):
    return CliRunner().invoke(app, ["bench", "auction", "--seed", "1", "--json", "--out", str(tmp_path), *SMALL, *extra])


def test_bench_prints_the_four_metrics_for_every_mechanism_and_writes_its_run_folder(tmp_path):
    result = _bench(tmp_path)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # every mechanism, then the agent's no-LLM baselines; no LLM lift without icl
    assert list(data) == ["mechanisms"] and list(data["mechanisms"]) == [*MECHANISMS, "lookup", "bandit"]
    for metrics in data["mechanisms"].values():
        assert set(metrics) == {"total_surplus", "ground_surplus", "satellite_surplus", "revenue"}
        assert metrics["total_surplus"] == pytest.approx(metrics["ground_surplus"] + metrics["satellite_surplus"])
    (folder,) = tmp_path.iterdir()
    for name in ("config.yaml", "training.csv", "rounds.csv", "mechanisms.csv", "summary.json"):
        assert (folder / name).exists(), name
    with open(folder / "rounds.csv") as handle:
        assert sum(1 for _ in csv.DictReader(handle)) == 200 * (len(MECHANISMS) + 2)
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


def test_mechanisms_option_runs_only_the_chosen_rows_without_training_dqmsb(tmp_path):
    result = _bench(tmp_path, "--mechanisms", "spa,msb")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data["mechanisms"]) == ["msb", "spa"]  # in the bench's order
    (folder,) = tmp_path.iterdir()
    assert not (folder / "training.csv").exists()
    assert json.loads((folder / "summary.json").read_text())["optimal_msb_alpha"] is None


def test_an_unknown_mechanism_is_one_line_and_exit_2_before_any_run(tmp_path):
    result = CliRunner().invoke(app, ["bench", "auction", "--out", str(tmp_path), *SMALL, "--mechanisms", "msb,vcg"])
    assert result.exit_code == 2
    assert "--mechanisms: unknown vcg" in result.output and "icl" in result.output
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


@pytest.mark.slow
def test_icl_row_plays_the_same_held_out_rounds_with_the_bundled_model(tmp_path):
    result = _bench(tmp_path, "--mechanisms", "msb,icl,lookup", "--rounds", "12", "--epsilon", "0.3")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data["mechanisms"]) == ["msb", "icl", "lookup"]
    lift = data["llm_lift"]["llama-cpp"]["icl_minus_lookup"]  # LLM lift = icl - lookup on the same rounds
    for key, difference in lift.items():
        assert difference["mean"] == pytest.approx(data["mechanisms"]["icl"][key] - data["mechanisms"]["lookup"][key])
        assert difference["seeds"] == 1 and difference["ci95"] is None
    icl = data["mechanisms"]["icl"]
    assert set(icl) == {"total_surplus", "ground_surplus", "satellite_surplus", "revenue", "fallback_share", "valid"}
    assert icl["valid"] is True and 0.0 <= icl["fallback_share"] <= 0.2
    assert icl["total_surplus"] == pytest.approx(icl["ground_surplus"] + icl["satellite_surplus"])
    (folder,) = tmp_path.iterdir()
    with open(folder / "rounds.csv") as handle:
        rows = list(csv.DictReader(handle))
    msb, played = ([r for r in rows if r["mechanism"] == name] for name in ("msb", "icl"))
    assert [r["round"] for r in played] == [r["round"] for r in msb] == [str(i) for i in range(12)]
    # the same rounds: the same first-best surplus and satellite coverage, round by round
    assert [(r["first_best_surplus"], r["satellite_available"]) for r in played] == [(r["first_best_surplus"], r["satellite_available"]) for r in msb]
    assert float(icl["total_surplus"]) == pytest.approx(np.mean([float(r["total_surplus"]) for r in played]))
    records = [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]
    icl_records, lookup_records = ([r for r in records if r["policy"] == name] for name in ("icl", "lookup"))
    assert [r["step"] for r in icl_records] == [r["step"] for r in lookup_records] == list(range(12))
    # lookup shares the agent's exploration stream: it explores on the same rounds, choosing the same alphas there
    assert [r["explored"] for r in icl_records] == [r["explored"] for r in lookup_records]
    assert [r["decision"] for r in icl_records if r["explored"]] == [r["decision"] for r in lookup_records if r["explored"]]
    records = icl_records
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["learners"]["icl"]["llm_calls"] == sum(r["llm_call"] for r in records) > 0
    assert summary["learners"]["icl"]["backend"] == "llama-cpp"


def test_mechanisms_all_names_every_row_in_the_bench_order():
    from edge_icl.benches.auction import BENCH_MECHANISMS, LEARNERS, chosen_mechanisms

    assert chosen_mechanisms("all") == list(BENCH_MECHANISMS) == [*MECHANISMS, *LEARNERS]
    assert "icl" in LEARNERS
    assert chosen_mechanisms("icl, msb,dqmsb") == ["msb", "dqmsb", "icl"]
    with pytest.raises(ConfigError, match="unknown all"):
        chosen_mechanisms("all,msb")


def test_lookup_and_bandit_play_the_held_out_rounds_of_the_mechanisms_and_learn_online(tmp_path):
    result = _bench(tmp_path, "--mechanisms", "msb,lookup,bandit", "--rounds", "300")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data["mechanisms"]) == ["msb", "lookup", "bandit"] and "llm_lift" not in data  # no icl: no lift
    (folder,) = tmp_path.iterdir()
    with open(folder / "rounds.csv") as handle:
        rows = list(csv.DictReader(handle))
    by_name = {name: [r for r in rows if r["mechanism"] == name] for name in ("msb", "lookup", "bandit")}
    same_rounds = [[(r["round"], r["first_best_surplus"], r["satellite_available"]) for r in played] for played in by_name.values()]
    assert same_rounds[0] == same_rounds[1] == same_rounds[2] and len(same_rounds[0]) == 300
    for name in ("lookup", "bandit"):
        assert data["mechanisms"][name]["total_surplus"] == pytest.approx(np.mean([float(r["total_surplus"]) for r in by_name[name]]))
        assert len({r["alpha"] for r in by_name[name]}) > 1  # they choose alpha per round, unlike MSB's fixed 2.0
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["learners"]["lookup"]["llm_calls"] == 0 and summary["learners"]["lookup"]["backend"] is None
    records = [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["policy"] == "lookup"] == list(range(300))
