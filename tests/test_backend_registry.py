"""The backend registry, `edge-icl backends`, and the backends that need optional packages."""

import importlib.util
import math

import pytest
from typer.testing import CliRunner

from agent.backends.base import BackendUnavailable
from agent.backends.registry import BACKENDS, backend_status, load_backends, make_backend
from edge_icl.cli import app
from tests.score_checks import assert_nearest_its_own, assert_same_ranking

MESSAGES = [{"role": "system", "content": 'Reply "local" or "offload".'}, {"role": "user", "content": "Decision?"}]


def test_backends_command_lists_every_backend_and_why_one_is_unusable(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = CliRunner().invoke(app, ["backends"])
    assert result.exit_code == 0, result.output
    for name in load_backends():
        assert name in result.stdout
    assert "OPENAI_API_KEY" in result.stdout
    status = backend_status()
    assert status["llama-cpp"] is None
    if importlib.util.find_spec("transformers") is None:
        assert "pip install 'edge-icl[transformers]'" in status["transformers"]


def test_unknown_backend_is_rejected():
    with pytest.raises(BackendUnavailable, match="unknown backend 'nope'"):
        make_backend("nope")


def test_an_option_of_another_backend_is_rejected_with_the_backends_own_options():
    with pytest.raises(BackendUnavailable, match="--base-url: not an option of backend llama-cpp .*--model-path"):
        make_backend("llama-cpp", {"base_url": "http://127.0.0.1:1/v1"})


def test_a_backend_registers_itself_and_its_options_become_flags():
    from pydantic import Field

    from agent.backends.registry import register_backend
    from edge_icl.cli.agent_options import agent_parameters
    from environment.config import StrictConfig

    class EchoOptions(StrictConfig):
        echo_word: str = Field("local", description="The word it always answers.")

    @register_backend("echo-test", EchoOptions, "answers one word")
    def build(options, seed):
        return options.echo_word

    try:
        assert make_backend("echo-test", {"echo_word": "offload"}) == "offload"
        assert "echo_word" in {p.name for p in agent_parameters()}
        result = CliRunner().invoke(app, ["backends"])
        assert "echo-test" in result.stdout and "--echo-word" in result.stdout
    finally:
        del BACKENDS["echo-test"]


def test_langchain_backend_parses_a_chat_model_reply():
    pytest.importorskip("langchain_core", reason="langchain-core not installed")
    from agent.backends.langchain_backend import LangChainBackend

    backend = LangChainBackend("langchain_core.language_models.fake_chat_models:FakeListChatModel", {"responses": ["Offload."]})
    scores = backend.score(MESSAGES, ["local", "offload"])
    assert scores.method == "parsed" and scores.logprobs["offload"] == 0.0 and math.isinf(scores.logprobs["local"])
    with pytest.raises(BackendUnavailable, match="module:ChatClass"):
        LangChainBackend("no_colon_here")


def test_transformers_backend_scores_the_bundled_model_as_llama_cpp_does():
    pytest.importorskip("transformers", reason="transformers is not installed (pip install 'edge-icl[transformers]')")
    pytest.importorskip("gguf", reason="gguf is not installed (pip install 'edge-icl[transformers]')")
    pytest.importorskip("accelerate", reason="accelerate is not installed (pip install 'edge-icl[transformers]')")
    from agent.backends.llama_cpp import LlamaCppBackend
    from agent.backends.transformers_backend import TransformersBackend

    backend = TransformersBackend()
    llama = LlamaCppBackend(weights="f16")
    prefilled = [*MESSAGES, {"role": "assistant", "content": "Decision:"}]
    for prompt, candidates in ((MESSAGES, ["local", "offload"]), (prefilled, [" local", " offload"])):
        assert backend.render(prompt) == llama.render(prompt)  # the same chat template, prefill included
        ours, theirs = backend.score(prompt, candidates).logprobs, llama.score(prompt, candidates).logprobs
        # the same weights (dequantized to float32 here, F16 in llama.cpp, whose kernels and
        # summation order depend on the CPU it was compiled for): compared by what they decide,
        # each log-prob nearest its own (tests/score_checks.py; measured 1.2e-3 relative apart
        # at most on Intel AVX2, the answers' log-probs are -6 to -16)
        assert max(ours, key=ours.get) == max(theirs, key=theirs.get)
        assert_same_ranking(ours, theirs)
        assert_nearest_its_own(ours, theirs)
    assert backend.complete(MESSAGES, max_tokens=4).text == backend.complete(MESSAGES, max_tokens=4).text
    # the window is the model's max positions, its tokens counted as llama.cpp counts them (agent/context_window.py)
    assert backend.context_window == llama.context_window == 8192
    assert backend.count_tokens(backend.render(MESSAGES)) == llama.count_tokens(llama.render(MESSAGES))
