"""The llama-cpp backend on the real bundled SmolLM2-135M model (greedy, seeded)."""

import math

import pytest

from agent.backends.llama_cpp import LlamaCppBackend

MESSAGES = [
    {"role": "system", "content": 'Reply "local" or "offload" only.'},
    {"role": "user", "content": "Keywords: (reasoning, medium), Decision:"},
]


@pytest.fixture(scope="module")
def backend() -> LlamaCppBackend:
    return LlamaCppBackend(seed=0)


def test_score_gives_finite_logprobs_for_both_candidates(backend):
    scores = backend.score(MESSAGES, ["local", "offload"])
    assert set(scores.logprobs) == {"local", "offload"}
    assert all(math.isfinite(v) and v < 0 for v in scores.logprobs.values())
    assert scores.logprobs["local"] != scores.logprobs["offload"]


def test_score_reuses_the_cached_prefix(backend):
    backend.score(MESSAGES, ["local", "offload"])
    changed = [MESSAGES[0], {"role": "user", "content": "Keywords: (chatting, short), Decision:"}]
    again = backend.score(changed, ["local", "offload"])
    assert again.evaluated_tokens < again.prompt_tokens / 2
    backend.prefix_reuse = False
    try:
        cold = backend.score(changed, ["local", "offload"])
    finally:
        backend.prefix_reuse = True
    assert cold.evaluated_tokens == cold.prompt_tokens
    assert cold.logprobs == pytest.approx(again.logprobs, abs=0.05)


def test_complete_returns_text_and_is_deterministic(backend):
    first = backend.complete(MESSAGES, max_tokens=6)
    second = backend.complete(MESSAGES, max_tokens=6)
    assert first.text.strip() and first.completion_tokens > 0 and first.prompt_tokens > 0
    assert first.text == second.text


def test_missing_model_file_is_a_clear_error(tmp_path):
    from agent.backends.base import BackendUnavailable

    with pytest.raises(BackendUnavailable, match="no GGUF file"):
        LlamaCppBackend(model_path=tmp_path / "nope.gguf")
