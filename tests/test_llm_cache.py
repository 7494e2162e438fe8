"""The persistent LLM call cache (agent/llm_cache.py) on the real bundled llama.cpp model."""

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.backends.base import Scores
from agent.backends.llama_cpp import LlamaCppBackend
from edge_icl.cli import app
from edge_icl.experiment.rollout import run_policy
from agent.icl import ICLAgent
from agent.llm_cache import CALLS_FOLDER, CachedBackend, call_key, model_identity, with_llm_cache
from agent.prompting import default_prompt_dir
from agent.settings import AgentSettings
from environment.offloading import OffloadingEnv, OffloadingTask, offloading_env_config
from tests.score_checks import assert_nearest_its_own, assert_same_ranking

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = [
    {"role": "system", "content": 'Reply "local" or "offload" only.'},
    {"role": "user", "content": "Keywords: (reasoning, medium), Decision:"},
]
CANDIDATES = [" local", " offload"]
runner = CliRunner()


@pytest.fixture(scope="module")
def llama() -> LlamaCppBackend:
    return LlamaCppBackend(seed=0)


class SamplingLlama(LlamaCppBackend):
    """The real backend declaring a sampling temperature: its completions may differ from call to call."""

    temperature = 0.7


def test_a_repeated_score_call_is_a_hit_with_the_identical_scores(llama, own_llm_cache):
    cached = CachedBackend(llama, "on")
    first = cached.score(MESSAGES, CANDIDATES)
    second = cached.score(MESSAGES, CANDIDATES)
    assert first.extra["llm_cache"] == {"status": "miss"}
    assert second.extra["llm_cache"] == {"status": "hit", "saved_latency_s": first.latency_s}
    assert second.logprobs == first.logprobs and second.best() == first.best()
    assert second.evaluated_tokens == 0 and second.prompt_tokens == first.prompt_tokens
    assert cached.stats.calls == 2 and cached.stats.hits == 1 and cached.stats.model_calls == 1
    assert (own_llm_cache / CALLS_FOLDER).is_dir()


def test_a_greedy_completion_is_cached_and_a_sampled_one_never(llama):
    cached = CachedBackend(llama, "on")
    first, second = cached.complete(MESSAGES, 6), cached.complete(MESSAGES, 6)
    assert (first.extra["llm_cache"]["status"], second.extra["llm_cache"]["status"]) == ("miss", "hit")
    assert second.text == first.text and second.completion_tokens == first.completion_tokens
    assert cached.complete(MESSAGES, 3).extra["llm_cache"]["status"] == "miss"  # another length: another call
    sampling = CachedBackend(SamplingLlama(seed=0), "on")
    statuses = [sampling.complete(MESSAGES, 6).extra["llm_cache"]["status"] for _ in range(2)]
    assert statuses == ["bypass", "bypass"] and sampling.stats.model_calls == 2
    scored = [sampling.score(MESSAGES, CANDIDATES).extra["llm_cache"]["status"] for _ in range(2)]
    assert scored == ["miss", "hit"]  # scores are deterministic: cached whatever the temperature


def test_refresh_calls_the_model_and_overwrites_what_is_stored(llama):
    cached = CachedBackend(llama, "on")
    true = cached.score(MESSAGES, CANDIDATES)
    key = call_key(model_identity(llama), {"call": "score", "messages": MESSAGES, "candidates": CANDIDATES})
    stale = {**cached._store.get(key), "logprobs": {" local": -9.0, " offload": -1.0}}
    cached._store.set(key, stale)  # an entry left by an older version of the model or code
    assert CachedBackend(llama, "on").score(MESSAGES, CANDIDATES).logprobs == stale["logprobs"]
    refreshing = CachedBackend(llama, "refresh")
    refreshed = refreshing.score(MESSAGES, CANDIDATES)
    assert refreshed.extra["llm_cache"] == {"status": "refresh"} and refreshing.stats.model_calls == 1
    # the model's scores again (the last digits may move with the batching), not the stale entry's
    assert_same_ranking(refreshed.logprobs, true.logprobs)
    assert_nearest_its_own(refreshed.logprobs, true.logprobs, stale["logprobs"])
    again = CachedBackend(llama, "on").score(MESSAGES, CANDIDATES)
    assert again.extra["llm_cache"]["status"] == "hit" and again.logprobs == refreshed.logprobs


def test_off_touches_no_disk_and_only_counts(llama, own_llm_cache):
    cached = CachedBackend(llama, "off")
    scores = cached.score(MESSAGES, CANDIDATES)
    assert "llm_cache" not in scores.extra and cached.stats.model_calls == 1 and cached.stats.hits == 0
    assert not (own_llm_cache / CALLS_FOLDER).exists()


def test_the_model_is_named_by_its_file_content_or_for_a_hosted_one_by_name_and_server(llama, tmp_path):
    shipped = LlamaCppBackend(seed=0, weights="shipped")
    assert model_identity(llama)["file_sha256"] != model_identity(shipped)["file_sha256"]
    renamed = tmp_path / "renamed.gguf"
    renamed.symlink_to(shipped.model_path)
    assert model_identity(LlamaCppBackend(model_path=renamed)) == model_identity(shipped)  # same bytes, same model
    from agent.backends.openai_backend import OpenAIBackend

    hosted = [model_identity(OpenAIBackend(model=m, base_url=u)) for m, u in [("a", "http://h:1/v1"), ("b", "http://h:1/v1"), ("a", "http://g:1/v1")]]
    assert len({json.dumps(i, sort_keys=True) for i in hosted}) == 3


def test_an_answer_its_reader_does_not_accept_is_never_stored(llama, own_llm_cache):
    cached = CachedBackend(llama, "on")
    refused = [cached.complete(MESSAGES, 6, accept=lambda reply: False).extra["llm_cache"]["status"] for _ in range(2)]
    assert refused == ["miss", "miss"] and cached.stats.model_calls == 2
    assert [cached.complete(MESSAGES, 6).extra["llm_cache"]["status"] for _ in range(2)] == ["miss", "hit"]
    unseen = lambda scores: False  # a reader that found no candidate in the scores
    assert [cached.score(MESSAGES, CANDIDATES, accept=unseen).extra["llm_cache"]["status"] for _ in range(2)] == ["miss", "miss"]
    key = call_key(model_identity(llama), {"call": "score", "messages": MESSAGES, "candidates": CANDIDATES})
    assert cached._store.get(key) is None


def test_a_stored_answer_that_was_not_read_is_asked_again_and_replaced(llama):
    cached = CachedBackend(llama, "on")
    key = call_key(model_identity(llama), {"call": "score", "messages": MESSAGES, "candidates": CANDIDATES})
    # what a version before this rule stored from a broken server: a body that was no answer, nothing seen
    unread = Scores({c: -math.inf for c in CANDIDATES}, "top_logprobs", 0, 0.01, raw_reply="{'choices': [oops", raw_reply_chars=17)
    cached._store.set(key, dataclasses.asdict(unread))
    asked = cached.score(MESSAGES, CANDIDATES)
    assert asked.extra["llm_cache"] == {"status": "stale"} and asked.raw_reply is None
    assert all(math.isfinite(v) for v in asked.logprobs.values()) and cached.stats.hits == 0 and cached.stats.model_calls == 1
    again = CachedBackend(llama, "on").score(MESSAGES, CANDIDATES)
    assert again.extra["llm_cache"]["status"] == "hit" and again.logprobs == asked.logprobs


def icl_run(backend, prompt: Path | None, steps: int = 6, seed: int = 3, **settings_: object) -> list[dict]:
    """`steps` decisions of the ICL agent without exploration (every step asks the LLM); its transcript."""
    records: list[dict] = []
    task = OffloadingTask()
    settings = AgentSettings(prompt=str(prompt) if prompt else None, exploration="none", **settings_)
    agent = ICLAgent.from_settings(task, settings, seed, backend=backend, transcript=records.append)
    run_policy(agent, OffloadingEnv(offloading_env_config()), task, steps, seed)
    return records


def test_the_agent_marks_hits_in_its_transcript_and_decides_the_same(llama):
    first, second = icl_run(llama, None), icl_run(llama, None)
    assert [r["decision"] for r in second] == [r["decision"] for r in first]
    assert [r["scores"] for r in second] == [r["scores"] for r in first]
    assert all(r["cache"] == "hit" and r["saved_latency_s"] > 0 and r["evaluated_tokens"] == 0 for r in second)
    assert {r["cache"] for r in first} <= {"miss", "hit"} and first[0]["cache"] == "miss"
    # a call already seen in the first run (a prompt that repeats) was a hit there too
    assert sum(r["cache"] == "miss" for r in first) == len({(r["prompt_hash"], r["prompt_variable"]) for r in first})


def test_the_agent_lets_the_cache_keep_only_replies_that_name_a_decision(llama):
    from tests.test_icl_loop import ReversedReplies

    first, second = icl_run(llama, None, decision_mode="generate"), icl_run(llama, None, decision_mode="generate")
    assert [r["cache"] == "hit" for r in second] == [r["parsed_ok"] for r in second] == [r["parsed_ok"] for r in first]
    reversed_backend = ReversedReplies(seed=0)  # the real model, its replies reversed: never a decision
    for run in (icl_run(reversed_backend, None, steps=3, decision_mode="generate"), icl_run(reversed_backend, None, steps=3, decision_mode="generate")):
        assert [(r["parsed_ok"], r["cache"]) for r in run] == [(False, "miss")] * 3


@pytest.mark.slow
def test_a_changed_prompt_file_misses(llama, tmp_path):
    folder = tmp_path / "prompt"
    shutil.copytree(default_prompt_dir("offloading"), folder)
    icl_run(llama, folder)
    assert all(r["cache"] == "hit" for r in icl_run(llama, folder))
    (folder / "system.j2").write_text((folder / "system.j2").read_text().replace("Task goal:", "Goal:"))
    edited = icl_run(llama, folder)
    assert edited[0]["cache"] == "miss" and edited[0]["calibration_cache"] == "miss"


@pytest.mark.slow
def test_a_changed_model_misses(llama):
    icl_run(llama, None, steps=2)
    shipped = LlamaCppBackend(seed=0, weights="shipped")  # the same weights as shipped (Q4_1), not their F16 copy
    records = icl_run(shipped, None, steps=2)
    assert records[0]["cache"] == "miss"


def test_from_settings_puts_any_backend_behind_the_cache_once(llama):
    task = OffloadingTask()
    agent = ICLAgent.from_settings(task, AgentSettings(llm_cache="refresh"), 0, backend=llama)
    assert isinstance(agent.backend, CachedBackend) and agent.backend.mode == "refresh" and agent.backend.inner is llama
    again = ICLAgent.from_settings(task, AgentSettings(), 0, backend=agent.backend)
    assert again.backend.inner is llama and again.backend.mode == "on"
    assert with_llm_cache(agent.backend, "off").inner is llama


@pytest.mark.slow
def test_a_run_repeated_in_another_process_makes_no_llm_call_and_writes_the_same_steps(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ["run", "--steps", "10", "--seed", "2", "--json"]
    summaries, folders = [], []
    for name in ("first", "second"):
        done = subprocess.run([sys.executable, "-m", "edge_icl", *args, "--out", str(tmp_path / name)], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        summaries.append(json.loads(done.stdout))
        (folder,) = (tmp_path / name).iterdir()
        folders.append(folder)
    first, second = summaries
    assert first["model_calls"] > 0 and second["model_calls"] == 0
    assert second["cache_hits"] == first["model_calls"] + first["cache_hits"]
    assert (folders[1] / "steps.csv").read_bytes() == (folders[0] / "steps.csv").read_bytes()
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "off"), "--llm-cache", "off"])
    assert result.exit_code == 0, result.output
    off = json.loads(result.stdout)
    assert off["cache_hits"] == 0 and off["model_calls"] == first["model_calls"] + first["cache_hits"] and off["llm_cache"] == "off"
