"""A run whose LLM answers are not decisions is not a result, and an unread reply is never cached.

Against a real HTTP server on 127.0.0.1 (tests/test_backend_openai_http.py's fake server,
through the real openai SDK) that answers garbage in six ways, `edge-icl run` writes the
whole run folder, marks summary.json `valid: false` and exits with 3 (one line naming the
share, the threshold and the flag); `--resume` on that folder replays it and says the
same. Then the same server is "fixed": it answers what a real `llama_cpp.server`
answered to the same requests (the recorded cassettes, served from the same URL, so the
LLM call cache sees the same keys), and the same command with the cache on decides as a
healthy run does: nothing the broken server said was stored. Benches and sweeps mark
their affected rows and cells and exit with 3 after writing everything.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from openai_cassettes import GENERATE_ARGS, RECORD_BASE_URL, RUN_ARGS, recorded_replies
from typer.testing import CliRunner

from edge_icl.cli import app
from agent.fallback_share import FallbackCount, count_records
from tests.test_backend_openai_http import FakeServer, chat_reply, fake_server

GARBAGE = {
    "bad JSON": "{'choices': [oops",
    "no choices": json.dumps({"id": "x", "object": "chat.completion", "choices": []}),
    "empty body": "",
    "null": "null",
    "HTML": "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>",
    "10 MB": chat_reply("local " * 1_750_000),  # a well-formed reply whose content ran away
}
# (what the healthy server answers, the command's arguments): score and generate mode, the API
# detected by the backend or given; the broken server answers every request with garbage.
MODES = {
    "score": ("openai_run.yaml", RUN_ARGS),
    "score, --api completions": ("openai_run.yaml", [*RUN_ARGS, "--api", "completions"]),
    # one of the four healthy generate replies names no decision (25%): a threshold that lets it pass
    "generate": ("openai_generate.yaml", [*GENERATE_ARGS, "--max-fallback-share", "0.5"]),
    "generate, --api completions": ("openai_generate.yaml", [*GENERATE_ARGS, "--api", "completions", "--max-fallback-share", "0.5"]),
}
CASES = [("score", kind) for kind in GARBAGE] + [(mode, "bad JSON") for mode in MODES if mode != "score"]


@pytest.fixture
def server():
    with fake_server() as running:
        yield running


def at(args: list[str], server: FakeServer) -> list[str]:
    """The recorded run's arguments with the local server's URL for the recording server's."""
    return [server.base_url if a == RECORD_BASE_URL else a for a in args]


def run(out: Path, server: FakeServer, args: list[str], *extra: str):
    """`edge-icl run --json` against `server`; (the result, the new run folder)."""
    out.mkdir(parents=True, exist_ok=True)
    before = set(out.iterdir())
    result = CliRunner().invoke(app, ["run", "--json", "--out", str(out), *at(args, server), *extra])
    (folder,) = set(out.iterdir()) - before
    return result, folder


def records(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]


def decisions(folder: Path) -> list[str]:
    return [r["decision"] for r in records(folder)]


@pytest.mark.parametrize("mode, kind", CASES)
def test_a_garbage_server_makes_an_invalid_run_kept_whole_resumable_and_never_cached(tmp_path, server, mode, kind):
    cassette, args = MODES[mode]
    healthy = recorded_replies(cassette)
    server.reply = healthy
    reference, reference_folder = run(tmp_path / "healthy", server, args, "--llm-cache", "off")
    assert reference.exit_code == 0, reference.output

    server.reply = lambda path, body: (200, GARBAGE[kind])
    broken, folder = run(tmp_path / "broken", server, args)
    assert broken.exit_code == 3, broken.output
    (line,) = [line for line in broken.stderr.splitlines() if line.startswith("error:")]
    limit = "0.5" if "generate" in mode else "0.2"
    assert "100% (4 of 4 LLM decisions)" in line and f"--max-fallback-share {limit}" in line and str(folder) in line
    assert "Traceback" not in broken.output
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["valid"] is False and summary["fallback_share"] == 1.0 and summary["max_fallback_share"] == float(limit)
    assert json.loads(broken.stdout)["valid"] is False  # --json still prints the summary
    assert len((folder / "steps.csv").read_text().splitlines()) == 1 + 4 and (folder / "config.yaml").is_file()
    assert all(r["llm_call"] and r["parsed_ok"] is False and "fallback" in r for r in records(folder))
    assert all(r.get("cache") != "hit" for r in records(folder))

    # --resume replays the kept steps without a call and reaches the same verdict
    steps = (folder / "steps.csv").read_bytes()
    asked = len(server.requests)
    resumed = CliRunner().invoke(app, ["run", "--json", "--resume", str(folder)])
    assert resumed.exit_code == 3 and "100% (4 of 4 LLM decisions)" in resumed.stderr
    assert len(server.requests) == asked and (folder / "steps.csv").read_bytes() == steps
    assert json.loads((folder / "summary.json").read_text())["valid"] is False

    # the server is fixed: the same command, the cache on, decides as the healthy run did
    server.reply = healthy
    fixed, fixed_folder = run(tmp_path / "fixed", server, args)
    assert fixed.exit_code == 0, fixed.output
    assert decisions(fixed_folder) == decisions(reference_folder)
    assert (fixed_folder / "steps.csv").read_bytes() == (reference_folder / "steps.csv").read_bytes()
    again = json.loads(fixed.stdout)
    assert again["valid"] is True and again["fallback_share"] == json.loads(reference.stdout)["fallback_share"]
    assert again["cache_hits"] == 0 and again["model_calls"] > 0  # nothing of the broken server was stored


def test_the_share_counts_llm_decisions_only():
    lines = [
        {"step": 0, "explored": True, "llm_call": False, "decision": "local"},
        {"step": 1, "llm_call": True, "parsed_ok": True, "decision": "local"},
        {"step": 2, "llm_call": True, "parsed_ok": False, "fallback": "random", "decision": "offload"},
        {"step": 3, "llm_call": False, "only_candidate": True, "decision": "drop"},
        {"step": 4, "llm_call": False, "mode": "lookup", "fallback": "random", "decision": "local"},  # lookup: no LLM asked
    ]
    count = count_records(lines)
    assert count == FallbackCount(asked=2, fallbacks=1) and count.share == 0.5
    assert not count.valid(0.2) and count.valid(0.5) and FallbackCount().share is None and FallbackCount().valid(0.0)
    assert count.facts(0.2) == {"fallback_share": 0.5, "max_fallback_share": 0.2, "valid": False}


def test_the_threshold_is_an_agent_setting_with_one_line_errors(tmp_path):
    result = CliRunner().invoke(app, ["run", "--out", str(tmp_path), "--max-fallback-share", "1.5", "--steps", "2"])
    assert result.exit_code == 2 and "max_fallback_share" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())
    for command in (["run"], ["bench", "offloading"], ["bench", "association"], ["bench", "caching"], ["bench", "auction"]):
        assert "--max-fallback-share" in CliRunner().invoke(app, [*command, "--help"], terminal_width=200).stdout


def test_a_bench_marks_the_invalid_groups_writes_every_group_and_exits_3(tmp_path, server):
    server.reply = lambda path, body: (200, GARBAGE["bad JSON"])
    args = ["bench", "offloading", "--json", "--out", str(tmp_path), "--policies", "icl,lookup,oracle", "--steps", "4", "--seeds", "2",
            "--exploration", "none", "--backend", "openai", "--base-url", server.base_url, "--model", "fake"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3, result.output
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "icl seed 0 100% (4 of 4 LLM decisions)" in line and "icl seed 1" in line and "--max-fallback-share 0.2" in line
    (folder,) = tmp_path.iterdir()
    summary = json.loads((folder / "summary.json").read_text())
    policies = summary["policies"]
    assert policies["icl"]["valid"] is False and policies["icl"]["fallback_share"] == 1.0
    assert "valid" not in policies["oracle"] and "valid" not in policies["lookup"]  # asked no LLM: nothing to judge
    assert len((folder / "steps.csv").read_text().splitlines()) == 1 + 3 * 2 * 4  # every group written
    resumed = CliRunner().invoke(app, ["bench", "offloading", "--json", "--resume", str(folder)])
    assert resumed.exit_code == 3 and "icl seed 0 100%" in resumed.stderr  # judged from the transcript: nothing ran again
    assert json.loads((folder / "summary.json").read_text())["policies"]["icl"]["valid"] is False


def test_a_sweep_marks_the_invalid_cells_runs_the_rest_and_exits_3(tmp_path, server):
    server.reply = lambda path, body: (200, GARBAGE["null"])
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({
        "problem": "offloading", "policies": ["icl", "oracle"], "seeds": [0, 1], "steps": 3,
        "agent": {"exploration": "none", "backend": "openai", "backend_options": {"base_url": server.base_url, "model": "fake"}},
    }))
    out = tmp_path / "sweep"
    result = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(out), "--executor", "serial", "--json", "--no-figures"])
    assert result.exit_code == 3, result.output
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "in 2 cells" in line and "--max-fallback-share" in line and "(100%)" in line
    summary = json.loads(result.stdout)
    assert summary["invalid"] == 2 and summary["failed"] == 0 and summary["finished"] == 2
    with open(out / "cells.csv") as handle:
        import csv

        rows = {row["policy"]: row for row in csv.DictReader(handle)}
    assert rows["icl"]["status"] == "invalid" and float(rows["icl"]["fallback_share"]) == 1.0 and "100% (3 of 3" in rows["icl"]["error"]
    assert rows["oracle"]["status"] == "ok" and rows["oracle"]["fallback_share"] == ""
    resumed = CliRunner().invoke(app, ["sweep", "--resume", str(out), "--executor", "serial", "--json", "--no-figures"])
    assert resumed.exit_code == 3 and json.loads(resumed.stdout)["ran"] == 2  # only the invalid cells run again
