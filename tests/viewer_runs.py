"""Run folders for the viewer's tests, made by the real commands: cheap policies and short ICL runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from edge_icl.cli import app
from agent.prompting import default_prompt_dir

runner = CliRunner()
VARIANT_RULE = "Reasoning and knowledge tasks need the cloud model's quality; chatting and translation do not."


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def make_run(out: Path, *args: str) -> Path:
    """`edge-icl run --out OUT ARGS`; returns the new run folder."""
    out.mkdir(parents=True, exist_ok=True)
    before = set(out.iterdir())
    invoke("run", "--out", str(out), "--json", *args)
    (folder,) = set(out.iterdir()) - before
    return folder


def make_bench(out: Path, *args: str) -> Path:
    """`edge-icl bench offloading --out OUT ARGS`; returns the new bench folder."""
    out.mkdir(parents=True, exist_ok=True)
    before = set(out.iterdir())
    invoke("bench", "offloading", "--out", str(out), "--json", *args)
    (folder,) = set(out.iterdir()) - before
    return folder


def variant_prompt(where: Path) -> Path:
    """A copy of prompts/offloading with an edited system.j2 (a prompt variant, as a user makes one)."""
    folder = where / "variant"
    shutil.copytree(default_prompt_dir(), folder)
    system = folder / "system.j2"
    text = system.read_text()
    system.write_text(text.replace("Task definition:", f"{VARIANT_RULE}\nTask definition:", 1))
    return folder


def summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def transcript(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines() if line.strip()]
