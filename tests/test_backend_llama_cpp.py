"""The llama-cpp backend on the real bundled SmolLM2-135M model (greedy, seeded)."""

import math

import pytest

from agent.backends.llama_cpp import LlamaCppBackend
from tests.score_checks import assert_nearest_its_own, assert_same_ranking

# Log-probs computed two ways (batched vs one token at a time, with vs without the cached
# prefix, F16 vs the shipped Q4_1) are compared by the candidates' order and by each value
# lying nearest its own counterpart, never to a tolerance: their last digits depend on the
# CPU llama.cpp was compiled for (tests/score_checks.py).

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
    assert_same_ranking(cold.logprobs, again.logprobs)
    assert_nearest_its_own(cold.logprobs, again.logprobs)


def test_complete_returns_text_and_is_deterministic(backend):
    first = backend.complete(MESSAGES, max_tokens=6)
    second = backend.complete(MESSAGES, max_tokens=6)
    assert first.text.strip() and first.completion_tokens > 0 and first.prompt_tokens > 0
    assert first.text == second.text


def test_missing_model_file_is_a_clear_error(tmp_path):
    from agent.backends.base import BackendUnavailable

    with pytest.raises(BackendUnavailable, match="no GGUF file"):
        LlamaCppBackend(model_path=tmp_path / "nope.gguf")


def logprob_one_token_at_a_time(backend: LlamaCppBackend, messages, answer: str) -> float:
    """log Pr(answer | prompt) the plain way: a fresh prompt, then one token per eval."""
    llm = backend.llm
    prompt = backend.tokenize(backend.render(messages))
    llm.reset()
    llm.eval(prompt)
    total = 0.0
    for token in backend.tokenize(answer) + [backend._end_of_turn]:
        logits = llm._ctx.get_logits_ith(-1)
        row = [logits[i] for i in range(llm.n_vocab())]
        top = max(row)
        total += row[token] - top - math.log(sum(math.exp(v - top) for v in row))
        llm.eval([token])
    return total


def test_batched_scoring_equals_scoring_token_by_token(backend):
    # candidates that share tokens, leave each other's path, and differ in length; in the
    # second set " off the" leaves the longest path after one token and " offload now"
    # after two, so the second extra pass must not trust the cache the first one left
    for candidates in ([" offload", " off", " local", " on the edge"], [" offload the task", " off the", " offload now"]):
        batched = backend.score(MESSAGES, candidates).logprobs
        plain = {c: logprob_one_token_at_a_time(backend, MESSAGES, c) for c in candidates}
        assert_same_ranking(batched, plain)
        # a token read at the wrong position lands on another candidate's log-prob: nearest its own
        assert_nearest_its_own(batched, plain)


def test_the_f16_copy_is_made_once_and_decides_as_the_shipped_weights(tmp_path, monkeypatch, backend):
    monkeypatch.setenv("EDGE_ICL_CACHE", str(tmp_path))
    f16 = LlamaCppBackend(seed=0)
    (copy,) = tmp_path.iterdir()
    assert f16.model_path == copy and f16.weights == "f16" and "as F16" in f16.model
    assert LlamaCppBackend(seed=0).model_path == copy and len(list(tmp_path.iterdir())) == 1
    shipped = LlamaCppBackend(seed=0, weights="shipped")
    assert shipped.model_path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    for content in ("Keywords: (reasoning, medium), Decision:", "Keywords: (chatting, short), Decision:"):
        messages = [MESSAGES[0], {"role": "user", "content": content}]
        a, b = f16.score(messages, ["local", "offload"]).logprobs, shipped.score(messages, ["local", "offload"]).logprobs
        # the shipped path also rounds weights to 4 bits and activations to 8 (llama.cpp's
        # Q4_1 x Q8_1 dot product): the same order of the answers, each nearest its own
        assert max(a, key=a.get) == max(b, key=b.get)
        assert_same_ranking(a, b)
        assert_nearest_its_own(a, b)


def test_unknown_weights_is_a_clear_error():
    from agent.backends.base import BackendUnavailable

    with pytest.raises(BackendUnavailable, match="--weights: unknown 'q2'"):
        LlamaCppBackend(weights="q2")
