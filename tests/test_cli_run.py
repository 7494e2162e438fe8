import json
from pathlib import Path

from typer.testing import CliRunner

from edge_icl.cli import app

runner = CliRunner()


def run_json(tmp_path: Path, *args: str) -> dict:
    result = runner.invoke(app, ["run", "--out", str(tmp_path), "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_run_writes_a_run_folder_and_json_summary(tmp_path):
    summary = run_json(tmp_path, "--policy", "oracle", "--steps", "40", "--seed", "1")
    for key in ("mean_reward", "mean_delay_s", "quality_success_rate", "steps", "seed", "policy", "config"):
        assert key in summary
    assert summary["steps"] == 40 and summary["seed"] == 1 and summary["policy"] == "oracle"
    (folder,) = tmp_path.iterdir()
    assert {p.name for p in folder.iterdir()} >= {"config.yaml", "steps.csv", "summary.json"}
    assert len((folder / "steps.csv").read_text().splitlines()) == 41
    assert json.loads((folder / "summary.json").read_text()) == summary


def test_same_seed_gives_identical_steps_csv_and_summary(tmp_path):
    first = run_json(tmp_path / "a", "--policy", "random", "--steps", "60", "--seed", "9")
    second = run_json(tmp_path / "b", "--policy", "random", "--steps", "60", "--seed", "9")
    assert first == second
    (a,), (b,) = (tmp_path / "a").iterdir(), (tmp_path / "b").iterdir()
    assert (a / "steps.csv").read_bytes() == (b / "steps.csv").read_bytes()
    third = run_json(tmp_path / "c", "--policy", "random", "--steps", "60", "--seed", "10")
    assert third["mean_reward"] != first["mean_reward"]


def test_oracle_beats_random_on_the_same_seed(tmp_path):
    oracle = run_json(tmp_path / "o", "--policy", "oracle", "--steps", "200", "--seed", "1")
    random = run_json(tmp_path / "r", "--policy", "random", "--steps", "200", "--seed", "1")
    assert oracle["mean_reward"] >= random["mean_reward"]


def test_malformed_config_is_a_one_line_error_naming_the_field(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("radio:\n  n_resource_blocks: zero\n")
    result = runner.invoke(app, ["run", "--policy", "oracle", "--config", str(config), "--out", str(tmp_path)])
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert "radio.n_resource_blocks" in message and len(message.splitlines()) == 1


def test_config_that_is_not_a_mapping_or_missing_is_reported(tmp_path):
    config = tmp_path / "list.yaml"
    config.write_text("- 1\n- 2\n")
    result = runner.invoke(app, ["run", "--policy", "oracle", "--config", str(config)])
    assert result.exit_code == 2 and "must be a mapping" in result.stderr
    result = runner.invoke(app, ["run", "--policy", "oracle", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "cannot read config" in result.stderr
