"""Short real runs of the ICL agent through `edge-icl run` on the bundled local model."""

import json
from pathlib import Path

from typer.testing import CliRunner

from agent.backends.base import Completion
from agent.backends.llama_cpp import LlamaCppBackend
from agent.backends.llama_cpp import LlamaCppOptions
from agent.backends.registry import BACKENDS, register_backend
from edge_icl.cli import app

runner = CliRunner()
# For the tests of the fallback itself: every reply names no decision, which would make the run
# not valid (exit 3, tests/test_fallback_share.py checks that); here the fallback's work is the point.
ACCEPT_FALLBACKS = ("--max-fallback-share", "1")
SUMMARY_KEYS = ("mean_reward", "oracle_mean_reward", "decision_accuracy", "llm_calls", "parse_failures", "backend", "model")


class ReversedReplies(LlamaCppBackend):
    """The real llama.cpp backend whose replies come back reversed: never a decision word."""

    name = "reversed-llama-cpp"

    def complete(self, messages, max_tokens=8):
        reply = super().complete(messages, max_tokens)
        return Completion(f"?{reply.text[::-1]}", reply.prompt_tokens, reply.completion_tokens, reply.latency_s, reply.evaluated_tokens)


def run_icl(tmp_path: Path, *args: str) -> tuple[dict, Path]:
    result = runner.invoke(app, ["run", "--out", str(tmp_path), "--json", *args])
    assert result.exit_code == 0, result.output
    (folder,) = tmp_path.iterdir()
    return json.loads(result.stdout), folder


def transcript(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]


def test_icl_run_logs_every_llm_call_and_reports_the_summary(tmp_path):
    summary, folder = run_icl(tmp_path, "--steps", "12", "--seed", "1", "--epsilon", "0.3", "--exploration", "constant")
    for key in SUMMARY_KEYS:
        assert key in summary
    assert summary["backend"] == "llama-cpp" and summary["model"].startswith("SmolLM2-135M-Instruct")
    records = transcript(folder)
    assert [r["step"] for r in records] == list(range(12))  # every step, in order
    calls = [r for r in records if r["llm_call"]]
    explored = [r for r in records if r["explored"]]
    assert len(calls) == summary["llm_calls"] == 12 - summary["explored_steps"] > 0
    assert len(explored) == summary["explored_steps"] > 0 and all("scores" not in r for r in explored)
    assert summary["parse_failures"] == 0
    assert len((folder / "steps.csv").read_text().splitlines()) == 13
    first = calls[0]
    assert "prompt_stable" in first and first["prompt_variable"] and first["parsed_ok"] is True
    assert set(first["scores"]) == {" local", " offload"} and first["decision"] in ("local", "offload")
    assert first["latency_s"] > 0 and first["prompt_tokens"] >= first["evaluated_tokens"] > 0


def test_a_reply_that_is_not_a_decision_is_logged_counted_and_the_fallback_decides(tmp_path):
    register_backend("reversed-llama-cpp", LlamaCppOptions, "test")(lambda options, seed: ReversedReplies(seed=seed))
    try:
        summary, folder = run_icl(
            tmp_path, "--backend", "reversed-llama-cpp", "--decision-mode", "generate", "--exploration", "none",
            "--fallback", "offload", "--steps", "4", "--seed", "2", *ACCEPT_FALLBACKS,
        )
    finally:
        del BACKENDS["reversed-llama-cpp"]
    assert summary["llm_calls"] == summary["parse_failures"] == 4
    assert summary["offload_share"] == 1.0
    for record in transcript(folder):
        assert record["parsed_ok"] is False and record["fallback"] == "offload" and record["decision"] == "offload"
        assert record["reply"].startswith("?")


def test_bad_backend_and_prompt_folder_are_one_line_errors(tmp_path):
    result = runner.invoke(app, ["run", "--backend", "gpt-17", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown backend 'gpt-17'" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = runner.invoke(app, ["run", "--prompt", str(tmp_path / "nowhere"), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "is not a folder" in result.stderr
    assert not list(tmp_path.iterdir())  # no run folder left behind


def test_a_sampled_pool_shows_a_fresh_subset_per_decision_and_keeps_the_closest_example(tmp_path):
    summary, folder = run_icl(
        tmp_path, "--steps", "40", "--seed", "3", "--pool-sample", "2", "--exploration", "constant", "--epsilon", "0.5"
    )
    calls = [r for r in transcript(folder) if r["llm_call"]]
    stables = {r["prompt_hash"]: r["prompt_stable"] for r in calls if "prompt_stable" in r}
    assert len(stables) > 2  # the shown examples change from decision to decision
    for text in stables.values():
        assert text.count("Keywords: (") <= 2  # at most two pool examples shown
    late = calls[-1]
    assert late["prompt_variable"].count("Keywords: (") == 2  # the closest example (from the whole pool) and the query
    assert summary["llm_calls"] == len(calls) and summary["parse_failures"] == 0
    again, _ = run_icl(tmp_path / "again", "--steps", "40", "--seed", "3", "--pool-sample", "2", "--exploration", "constant", "--epsilon", "0.5")
    assert again["mean_reward"] == summary["mean_reward"]  # seeded draws: the same run again


class HugeReplies(LlamaCppBackend):
    """The real llama.cpp backend whose replies come back padded to 100,000 characters."""

    name = "huge-llama-cpp"

    def complete(self, messages, max_tokens=8):
        reply = super().complete(messages, max_tokens)
        return Completion(reply.text + "x" * (100_000 - len(reply.text)), reply.prompt_tokens, reply.completion_tokens, reply.latency_s, reply.evaluated_tokens)


def with_backend(name, backend_class, tmp_path, *args):
    register_backend(name, LlamaCppOptions, "test")(lambda options, seed: backend_class(seed=seed))
    try:
        result = runner.invoke(app, ["run", "--out", str(tmp_path), "--json", "--backend", name, "--decision-mode", "generate", *args])
    finally:
        del BACKENDS[name]
    assert result.exit_code == 0, result.output
    return result, next(tmp_path.iterdir())


def test_a_huge_reply_is_kept_capped_with_its_full_length(tmp_path):
    _, folder = with_backend("huge-llama-cpp", HugeReplies, tmp_path, "--exploration", "none", "--steps", "3", "--seed", "2", *ACCEPT_FALLBACKS)
    assert (folder / "transcript.jsonl").stat().st_size < 3 * 6000
    for record in transcript(folder):
        assert len(record["reply"]) == 4096 and record["reply_chars"] == 100_000 and record["reply_truncated"] is True


def test_parse_failures_in_a_row_warn_once_on_stderr(tmp_path):
    result, _ = with_backend(
        "reversed-llama-cpp", ReversedReplies, tmp_path, "--exploration", "none", "--fallback", "local", "--steps", "22", "--seed", "2",
        *ACCEPT_FALLBACKS,
    )
    assert json.loads(result.stdout)["parse_failures"] == 22
    assert result.stderr.count("warning:") == 1 and "10 LLM replies in a row named no decision" in result.stderr
