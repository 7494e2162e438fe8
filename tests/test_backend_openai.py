"""The openai backend against recorded cassettes of a real llama.cpp server (never the network).

Recorded by `python scripts/record_cassettes.py`; replayed here with record mode "none". A
replayed run equals its sidecar (cassettes/NAME.expected.json, written with the cassette); a
fresh llama-cpp run is compared with it by its decisions (tests/openai_cassettes.py says why).
"""

import json
import math
import re

import pytest

from agent.backends.base import BackendUnavailable
from agent.backends.openai_backend import OpenAIBackend
from openai_cassettes import (
    CANDIDATES,
    CASSETTE_DIR,
    GENERATE_ARGS,
    GENERATE_LOCAL_ARGS,
    MESSAGES,
    RECORD_BASE_URL,
    RUN_ARGS,
    SERVER_MODEL,
    assert_same_facts,
    decisions,
    read_expected,
    run_transcript,
    step_facts,
    use_cassette,
)

CASSETTES = ("openai_score.yaml", "openai_complete.yaml", "openai_run.yaml", "openai_generate.yaml", "openai_parity.yaml")


def replay(name: str):
    path = CASSETTE_DIR / name
    if not path.is_file():
        pytest.fail(f"missing cassette {path}: record it with python scripts/record_cassettes.py")
    return use_cassette(name, "none")


@pytest.fixture
def backend() -> OpenAIBackend:
    """The chat API of the recording server (the score and complete cassettes)."""
    return OpenAIBackend(model=SERVER_MODEL, base_url=RECORD_BASE_URL, api_key="sk-replay", max_retries=0, api="chat")


def test_chat_score_reads_one_tokens_top_20_and_censors_what_is_missing(backend):
    with replay("openai_score.yaml") as cassette:
        scores = backend.score(MESSAGES, CANDIDATES)
        again = backend.score(MESSAGES, CANDIDATES)  # identical prompt: a playback repeat
    request = json.loads(cassette.requests[0].body)
    assert request["max_tokens"] == 1 and request["top_logprobs"] == 20
    assert scores.method == "top_logprobs" and set(scores.logprobs) == set(CANDIDATES)
    assert all(math.isfinite(v) for v in scores.logprobs.values())  # censored: a bound, never -inf
    top = json.loads(cassette.responses[0]["body"]["string"])["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    for candidate in scores.censored:
        assert scores.logprobs[candidate] == min(entry["logprob"] for entry in top)
    assert scores.logprobs == again.logprobs and scores.prompt_tokens > 0


def test_complete_returns_the_recorded_text(backend):
    with replay("openai_complete.yaml"):
        completion = backend.complete(MESSAGES, max_tokens=6)
    assert completion.text and completion.completion_tokens > 0


def test_icl_run_through_an_openai_compatible_server(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-replay")
    with replay("openai_run.yaml"):
        summary, records = run_transcript(tmp_path, RUN_ARGS)
    assert summary["backend"] == "openai" and summary["model"] == SERVER_MODEL
    assert summary["llm_calls"] == 4 and summary["steps"] == 4
    # no --api: one probe found that llama_cpp.server echoes prompt log-probs, so it scored by echo
    assert {r["score_method"] for r in records} == {"echo"} and summary["parse_failures"] == 0
    assert_same_facts(step_facts(records), read_expected("openai_run.yaml")["openai"], "replay")


def test_generate_mode_through_the_completions_api_continues_the_prefill_as_llama_cpp_does(tmp_path, monkeypatch):
    # through a chat turn the bundled model wrote prose ("The best decision is to choose"):
    # every step a parse failure; the completions API continues the prefill "Decision:" as
    # the llama-cpp backend does on the same weights
    monkeypatch.setenv("OPENAI_API_KEY", "sk-replay")
    expected = read_expected("openai_generate.yaml")
    with replay("openai_generate.yaml") as cassette:
        summary, ours = run_transcript(tmp_path / "openai", GENERATE_ARGS)
    paths = [request.path for request in cassette.requests]
    assert paths[0] == "/v1/completions" and "/v1/chat/completions" not in paths
    assert_same_facts(step_facts(ours), expected["openai"], "replay")  # the recorded replies and decisions
    assert decisions(expected["llama_cpp"]) == decisions(expected["openai"])  # so decided llama-cpp where it was recorded
    local_summary, theirs = run_transcript(tmp_path / "llama-cpp", GENERATE_LOCAL_ARGS)  # here: compared by decision
    assert decisions(ours) == decisions(theirs)
    # the same first word; later tokens may differ: llama_cpp.server applies its default
    # repeat_penalty 1.1 (" (task, task type)" where llama-cpp repeats " (task, task, task")
    assert [r["reply"].split()[0] for r in ours] == [r["reply"].split()[0] for r in theirs]
    assert summary["llm_calls"] == 4 and summary["parse_failures"] == local_summary["parse_failures"] < 4


def test_an_unrecorded_request_never_reaches_the_network(backend):
    from vcr.errors import CannotOverwriteExistingCassetteException

    other = [MESSAGES[0], {"role": "user", "content": "a prompt that was never recorded"}]
    with replay("openai_complete.yaml"), pytest.raises(Exception) as caught:
        backend.complete(other, max_tokens=6)
    chain, error = [], caught.value
    while error is not None and len(chain) < 10:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(e, CannotOverwriteExistingCassetteException) for e in chain), chain


def test_no_key_or_authorization_is_in_any_cassette():
    for name in CASSETTES:
        text = (CASSETTE_DIR / name).read_text()
        assert not re.search(r"(?i)authorization|sk-[A-Za-z0-9-]{6,}|api[-_]key", text), name


def test_a_missing_key_says_how_to_set_it(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(BackendUnavailable, match="export OPENAI_API_KEY"):
        OpenAIBackend(model="gpt-4o")


def test_top_logprobs_match_candidates_written_with_spaces_and_commas():
    from agent.backends.openai_backend import _first_token_logprob

    top = {" local": -0.2, " off": -1.9, "Local": -3.0}
    # answers may carry spaces and punctuation (a prompt variant's answer.j2): their words must match
    assert _first_token_logprob(" local,", top) == pytest.approx(math.log(math.exp(-0.2) + math.exp(-3.0)))
    assert _first_token_logprob(" offload,", top) == pytest.approx(-1.9)
    assert _first_token_logprob(" offload,", {" local": -0.1}) == -math.inf
