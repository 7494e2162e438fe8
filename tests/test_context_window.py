"""The context window (agent/context_window.py) on the real bundled model: `--n-ctx`, one line
before step 0 for a prompt that cannot fit, a pool trimmed to fit past it."""

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.backends.base import BackendUnavailable
from agent.backends.llama_cpp import DEFAULT_N_CTX_CAP, LlamaCppBackend, trained_context
from edge_icl.cli import app
from edge_icl.problems.registry import PROBLEMS
from agent.context_window import answer_room, longest_fitting_head, prompt_tokens
from agent.prompting import TaskPrompt, default_prompt_dir

runner = CliRunner()
# Lines of background text that make system.j2 render about 3,000 tokens of SmolLM2's tokenizer.
LONG_SYSTEM = "\n{% for i in range(200) %}Background note {{ i }}: the edge server is busy today.\n{% endfor %}"


@pytest.fixture(scope="module")
def backend() -> LlamaCppBackend:
    return LlamaCppBackend(seed=0)


def variant(tmp_path: Path, name: str, append: str) -> Path:
    folder = tmp_path / "variant"
    shutil.copytree(default_prompt_dir(), folder)
    (folder / name).write_text((folder / name).read_text() + append)
    return folder


def run(tmp_path: Path, *args: str):
    return runner.invoke(app, ["run", "--out", str(tmp_path / "runs"), "--json", *args])


def transcript(tmp_path: Path) -> list[dict]:
    (folder,) = (tmp_path / "runs").iterdir()
    return [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]


def test_the_default_window_is_the_trained_context_up_to_the_cap(backend):
    from agent.backends.bundled_model import bundled_model_path

    trained = trained_context(bundled_model_path())
    assert trained == 8192  # SmolLM2-135M's GGUF says so
    assert backend.context_window == min(trained, DEFAULT_N_CTX_CAP) and backend.llm.n_ctx() >= backend.context_window
    small = LlamaCppBackend(n_ctx=300)
    assert small.context_window == 300 and small.llm.n_ctx() >= 300  # llama.cpp may round its allocation up; we hold to 300


def test_n_ctx_above_the_trained_context_is_one_line(tmp_path):
    with pytest.raises(BackendUnavailable, match="--n-ctx: 9000 tokens is above the 8192 tokens"):
        LlamaCppBackend(n_ctx=9000)
    result = run(tmp_path, "--n-ctx", "9000", "--steps", "2")
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1 and "--n-ctx: 9000" in result.stderr
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_n_ctx_is_an_option_of_the_llama_cpp_backend_only(tmp_path):
    result = run(tmp_path, "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1", "--n-ctx", "512")
    assert result.exit_code == 2 and "--n-ctx: not an option of backend openai" in result.stderr


def test_a_3000_token_prompt_over_a_small_window_is_one_line_before_step_0(tmp_path, backend):
    folder = variant(tmp_path, "system.j2", LONG_SYSTEM)
    task = PROBLEMS["offloading"].task(PROBLEMS["offloading"].load_config(None))
    floor = TaskPrompt(folder, task).sample(pool=0, relevant=1)
    expected = prompt_tokens(backend, floor.messages)
    assert 2900 < expected < 3300
    result = run(tmp_path, "--prompt", str(folder), "--n-ctx", "2048", "--steps", "3")  # 2048: the window that was hard-coded
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()  # one line, no traceback
    assert line.startswith("error: --prompt:") and str(folder) in line
    assert f"the prompt takes {expected} tokens" in line and "2048-token context window" in line and "system.j2 alone" in line
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())  # before any work: no run folder


@pytest.mark.slow
def test_the_same_3000_token_prompt_runs_in_the_default_window(tmp_path):
    folder = variant(tmp_path, "system.j2", LONG_SYSTEM)
    result = run(tmp_path, "--prompt", str(folder), "--steps", "2", "--exploration", "none")
    assert result.exit_code == 0, result.output  # was `llama_decode returned 1` with n_ctx 2048
    calls = transcript(tmp_path)
    assert len(calls) == 2 and all(c["llm_call"] and c["prompt_tokens"] > 2900 and "pool_trimmed" not in c for c in calls)


def test_a_growing_pool_past_a_small_window_is_trimmed_recorded_and_the_run_finishes(tmp_path, backend):
    args = ("--seed", "1", "--llm-cache", "off")
    small = run(tmp_path / "small", *args, "--steps", "12", "--n-ctx", "240")
    assert small.exit_code == 0, small.output
    assert small.stderr.count("warning:") == 1 and "outgrew the 240-token context window" in small.stderr
    cut = transcript(tmp_path / "small")
    prompt = TaskPrompt(None, PROBLEMS["offloading"].task(PROBLEMS["offloading"].load_config(None)))
    room = answer_room(backend, [prompt.answer(label) for label in prompt.decisions], "score", 6)
    calls = [r for r in cut if r["llm_call"]]
    assert calls and all(r["prompt_tokens"] + room <= 240 for r in calls)  # every prompt fits the window
    trimmed = [r for r in calls if r.get("pool_trimmed")]
    assert trimmed and all(r["pool_trimmed"] >= 1 for r in trimmed)
    first = trimmed[0]["step"]
    full = run(tmp_path / "full", *args, "--steps", str(first + 1))  # the default window, up to that step
    assert full.exit_code == 0, full.output
    whole = transcript(tmp_path / "full")
    # before the window binds, both runs show the same prompts and decide the same
    assert [(r["decision"], r.get("prompt_hash")) for r in cut[:first]] == [(r["decision"], r.get("prompt_hash")) for r in whole[:first]]
    # where it binds, the kept examples are the head of the pool's order: the cut stable part is a
    # prefix of the whole one, which shows pool_trimmed examples more
    stable = {r["prompt_hash"]: r["prompt_stable"] for r in cut + whole if "prompt_stable" in r}
    kept, shown = stable[cut[first]["prompt_hash"]], stable[whole[first]["prompt_hash"]]
    assert shown.startswith(kept) and shown.count("Keywords: (") - kept.count("Keywords: (") == cut[first]["pool_trimmed"]


def test_a_step_whose_prompt_cannot_fit_even_without_examples_ends_the_run_with_one_line(tmp_path, backend):
    # a query longer for real states than for the content-free sample that the check before step 0 renders
    folder = variant(tmp_path, "query.j2", '{% if keywords.service_type != "N/A" %}{{ " padding" * 150 }}{% endif %}')
    task = PROBLEMS["offloading"].task(PROBLEMS["offloading"].load_config(None))
    floor = prompt_tokens(backend, TaskPrompt(folder, task).sample(pool=0, relevant=1).messages)
    window = str(floor + 10)
    result = run(tmp_path, "--prompt", str(folder), "--n-ctx", window, "--steps", "3", "--exploration", "none", "--llm-cache", "off")
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert re.search(rf"step 0: the prompt takes \d+ tokens with no pool example shown and its answer \d+ more, over the {window}-token", line)
    assert "edge-icl run --resume" in line  # the run folder is kept


def test_longest_fitting_head_finds_the_largest_count_that_fits():
    for limit in range(12):
        assert longest_fitting_head(11, lambda k, limit=limit: k <= limit) == min(limit, 11)
    assert longest_fitting_head(11, lambda k: k <= 40) == 11
    assert longest_fitting_head(5, lambda k: False) is None
