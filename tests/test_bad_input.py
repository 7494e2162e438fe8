"""Bad input stops before any step with one line naming what is wrong (exit 2), and leaves no run folder."""

import json
import math
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.prompting import default_prompt_dir
from agent.cli.run_folder import RunFolder
from environment.config import ConfigError
from environment.offloading import offloading_env_config

runner = CliRunner()


def one_line_error(tmp_path: Path, *args: str) -> str:
    out = tmp_path / "runs"
    result = runner.invoke(app, ["run", "--out", str(out), *args])
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1 and message.startswith("error:"), message
    assert not out.exists() or not list(out.iterdir())  # no run folder left behind
    return message


def prompt_variant(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "variant"
    shutil.copytree(default_prompt_dir(), folder)
    (folder / name).write_text(text)
    return folder


def test_user_template_without_the_variable_marker(tmp_path):
    folder = prompt_variant(tmp_path, "user.j2", "Examples:\n{{ examples|join('\\n') }}\n")
    assert "variable_marker" in one_line_error(tmp_path, "--prompt", str(folder), "--steps", "3")


def test_example_template_with_an_undefined_variable(tmp_path):
    folder = prompt_variant(tmp_path, "example.j2", "Keywords: {{ keywords.service_type }}, Cost: {{ cost }}\n")
    message = one_line_error(tmp_path, "--prompt", str(folder), "--steps", "3")
    assert "example.j2" in message and "cost" in message


def test_answer_template_that_makes_both_answers_equal(tmp_path):
    folder = prompt_variant(tmp_path, "answer.j2", " choice\n")
    assert "equal answers" in one_line_error(tmp_path, "--prompt", str(folder), "--steps", "3")


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "world.yaml"
    path.write_text(text)
    return path


def test_min_distance_beyond_the_cell_radius(tmp_path):
    config = write_config(tmp_path, "radio:\n  min_distance_m: 300\n  cell_radius_m: 250\n")
    message = one_line_error(tmp_path, "--policy", "oracle", "--config", str(config))
    assert "radio" in message and "min_distance_m" in message


@pytest.mark.parametrize("field,value", [("bs_power_dbm", ".inf"), ("noise_density_dbm_hz", ".nan"), ("bs_power_dbm", "-.inf")])
def test_non_finite_numbers_are_rejected(tmp_path, field, value):
    config = write_config(tmp_path, f"radio:\n  {field}: {value}\n")
    assert f"radio.{field}" in one_line_error(tmp_path, "--policy", "oracle", "--config", str(config))
    with pytest.raises(ConfigError, match=field):
        offloading_env_config({"radio": {field: math.inf}})


def test_out_pointing_at_a_file(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("not a folder")
    result = runner.invoke(app, ["run", "--policy", "oracle", "--out", str(target)])
    assert result.exit_code == 2 and "is a file, not a folder" in result.stderr
    result = runner.invoke(app, ["bench", "offloading", "--policies", "oracle", "--steps", "5", "--seeds", "1", "--out", str(target / "below")])
    assert result.exit_code == 2 and "is a file, not a folder" in result.stderr


def test_summary_json_is_strict_json_with_null_for_non_finite_numbers(tmp_path):
    folder = RunFolder(tmp_path, "run")
    folder.write_json("summary.json", {"a": math.nan, "b": [math.inf, 1.5], "c": {"d": -math.inf}})
    folder.append_jsonl("transcript.jsonl", {"x": math.nan})
    folder.close()

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} written")

    assert json.loads((folder.path / "summary.json").read_text(), parse_constant=refuse) == {"a": None, "b": [None, 1.5], "c": {"d": None}}
    assert json.loads((folder.path / "transcript.jsonl").read_text(), parse_constant=refuse) == {"x": None}


def test_transformers_model_path_that_is_a_text_file(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a model\n")
    message = one_line_error(tmp_path, "--backend", "transformers", "--model-path", str(text), "--steps", "2")
    assert "is a file but not a GGUF" in message


def test_openai_key_set_but_empty(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "")
    assert "OPENAI_API_KEY is not set or empty" in one_line_error(tmp_path, "--backend", "openai", "--steps", "2")
