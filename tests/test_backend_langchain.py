"""The langchain backend with LangChain's own fake chat model (langchain_core's FakeListChatModel).

The prompt's answers carry a leading space (" local", " offload" from prompts/offloading/
answer.j2); a chat model's reply names the bare word. Score mode must still decide by it
(it used to match nothing: every step a parse failure and a random fallback).
"""

import json
import math

import pytest
from typer.testing import CliRunner

from agent.backends.base import BackendUnavailable
from edge_icl.cli import app

pytest.importorskip("langchain_core", reason="langchain-core not installed (pip install 'edge-icl[langchain]')")

FAKE = "langchain_core.language_models.fake_chat_models:FakeListChatModel"
MESSAGES = [{"role": "system", "content": 'Reply "local" or "offload".'}, {"role": "user", "content": "Decision?"}]


def test_score_matches_answers_with_a_leading_space_by_their_word():
    from agent.backends.langchain_backend import LangChainBackend

    backend = LangChainBackend(FAKE, {"responses": ["offload"]})
    scores = backend.score(MESSAGES, [" local", " offload"])
    assert scores.logprobs[" offload"] == 0.0 and scores.logprobs[" local"] == -math.inf


@pytest.mark.parametrize("answer,decision", [("offload", "offload"), ("local", "local")])
def test_a_chat_model_that_always_answers_x_decides_x_through_edge_icl_run(tmp_path, answer, decision):
    model = f'{FAKE}{{"responses": ["{answer}"]}}'
    result = CliRunner().invoke(
        app, ["run", "--json", "--out", str(tmp_path), "--backend", "langchain", "--model", model, "--steps", "8", "--seed", "2", "--exploration", "none"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["llm_calls"] == 8 and summary["parse_failures"] == 0
    assert summary["offload_share"] == (1.0 if decision == "offload" else 0.0)
    assert summary["model"] == FAKE  # the kwargs are not the model's name
    (folder,) = tmp_path.iterdir()
    records = [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]
    assert {r["decision"] for r in records} == {decision} and all(r["score_method"] == "parsed" for r in records)


def test_model_spec_with_json_kwargs_and_its_errors():
    from agent.backends.langchain_backend import parse_model_spec

    assert parse_model_spec('pkg.mod:Chat{"temperature": 0, "n": 2}') == ("pkg.mod", "Chat", {"temperature": 0, "n": 2})
    assert parse_model_spec("pkg.mod:Chat") == ("pkg.mod", "Chat", {})
    with pytest.raises(BackendUnavailable, match="module:ChatClass"):
        parse_model_spec("no_colon_here")
    with pytest.raises(BackendUnavailable, match="not JSON"):
        parse_model_spec("pkg.mod:Chat{temperature: 0}")
    with pytest.raises(BackendUnavailable, match="cannot build it"):
        from agent.backends.langchain_backend import LangChainBackend

        LangChainBackend(f'{FAKE}{{"responses": 3}}')


def eight_thousand_words(first: str) -> str:
    """A chat model's runaway reply: its decision first, then 8,000 words of reasoning drawn from a seeded generator."""
    import numpy as np

    rng = np.random.default_rng(8)
    filler = ("the", "queue", "is", "long", "and", "the", "link", "delay", "matters", "local", "offload", "so", "we", "weigh", "it")
    return f"Decision: {first}. " + " ".join(rng.choice(filler, size=8_000)) + "."


def test_an_eight_thousand_word_reply_is_cut_before_it_is_parsed():
    from agent.backends.langchain_backend import LangChainBackend
    from agent.decision_parser import REPLY_CHARS

    reply = eight_thousand_words("offload")
    backend = LangChainBackend(FAKE, {"responses": [reply]})
    completion = backend.complete(MESSAGES)
    assert completion.text == reply[:REPLY_CHARS] and completion.text_chars == len(reply) > 5 * REPLY_CHARS
    scores = backend.score(MESSAGES, [" local", " offload"])
    assert scores.logprobs == {" local": -math.inf, " offload": 0.0}


def test_a_run_on_a_chat_model_that_writes_pages_keeps_the_read_part_and_the_full_length(tmp_path):
    from agent.decision_parser import REPLY_CHARS

    reply = eight_thousand_words("local")
    model = FAKE + json.dumps({"responses": [reply]})
    result = CliRunner().invoke(
        app,
        ["run", "--json", "--out", str(tmp_path), "--backend", "langchain", "--model", model, "--decision-mode", "generate",
         "--steps", "2", "--seed", "2", "--exploration", "none", "--llm-cache", "off"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["parse_failures"] == 0
    (folder,) = tmp_path.iterdir()
    records = [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]
    assert [r["decision"] for r in records] == ["local", "local"]
    for record in records:
        assert record["reply"] == reply[:REPLY_CHARS] and record["reply_chars"] == len(reply) and record["reply_truncated"] is True
