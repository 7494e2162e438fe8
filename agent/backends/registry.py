"""The backends by name: how to build each one and whether it is usable here."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass

from agent.backends.base import BackendUnavailable, LLMBackend


@dataclass(frozen=True)
class BackendOptions:
    """What the CLI knows about the brain: model name, model file, its weights format, server URL, seed,
    and for HTTP backends the API flavour, the per-request timeout and the retries."""

    model: str | None = None
    model_path: str | None = None
    weights: str | None = None
    base_url: str | None = None
    seed: int = 0
    prefix_reuse: bool = True
    api: str | None = None  # "completions" | "chat"; None: detect
    timeout_s: float = 60.0
    max_retries: int = 2


@dataclass(frozen=True)
class BackendSpec:
    """A registered backend: its builder, a check that says why it is unusable, a line of help."""

    build: Callable[[BackendOptions], LLMBackend]
    check: Callable[[], str | None]
    description: str


def _missing(*modules: str) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


def _check_llama_cpp() -> str | None:
    if _missing("llama_cpp"):
        return "llama-cpp-python is not installed: pip install llama-cpp-python"
    from agent.backends.llama_cpp import bundled_model_path

    try:
        bundled_model_path()
    except BackendUnavailable as error:
        return str(error)
    return None


def _check_openai() -> str | None:
    if _missing("openai"):
        return "openai is not installed: pip install 'edge-icl[openai]'"
    if not os.environ.get("OPENAI_API_KEY"):
        return "usable with --base-url only: OPENAI_API_KEY is not set or empty (export OPENAI_API_KEY=sk-...)"
    return None


def _check_transformers() -> str | None:
    missing = _missing("transformers", "torch", "gguf", "accelerate")
    return f"{', '.join(missing)} not installed: pip install 'edge-icl[transformers]'" if missing else None


def _check_langchain() -> str | None:
    return "langchain-core is not installed: pip install 'edge-icl[langchain]'" if _missing("langchain_core") else None


def _build_llama_cpp(o: BackendOptions) -> LLMBackend:
    from agent.backends.llama_cpp import LlamaCppBackend

    return LlamaCppBackend(model_path=o.model_path, seed=o.seed, prefix_reuse=o.prefix_reuse, weights=o.weights)


def _build_openai(o: BackendOptions) -> LLMBackend:
    from agent.backends.openai_backend import OpenAIBackend

    return OpenAIBackend(
        model=o.model or "gpt-4o", base_url=o.base_url, seed=o.seed, api=o.api, timeout_s=o.timeout_s, max_retries=o.max_retries,
        template_path=o.model_path,  # the served model's chat template (GGUF or .jinja) for the completions API
    )


def _build_transformers(o: BackendOptions) -> LLMBackend:
    from agent.backends.transformers_backend import TransformersBackend

    return TransformersBackend(model_path=o.model_path or o.model, seed=o.seed)


def _build_langchain(o: BackendOptions) -> LLMBackend:
    from agent.backends.langchain_backend import LangChainBackend

    if not o.model:
        raise BackendUnavailable("the langchain backend needs --model module:ChatClass (optionally followed by JSON constructor kwargs)")
    return LangChainBackend(model=o.model)


BACKENDS: dict[str, BackendSpec] = {
    "llama-cpp": BackendSpec(_build_llama_cpp, _check_llama_cpp, "llama.cpp on the CPU; default model SmolLM2-135M-Instruct (GGUF)"),
    "openai": BackendSpec(
        _build_openai, _check_openai, "OpenAI API or any OpenAI-compatible server (--base-url; --api completions|chat, detected by default)"
    ),
    "transformers": BackendSpec(_build_transformers, _check_transformers, "a Hugging Face causal LM (local folder, hub id or GGUF)"),
    "langchain": BackendSpec(_build_langchain, _check_langchain, "any LangChain chat model (--model 'module:ChatClass{\"kwarg\": ...}')"),
}


def register_backend(name: str, spec: BackendSpec) -> None:
    """Add a backend (a plugin, or a test's wrapper) under `name`."""
    BACKENDS[name] = spec


def make_backend(name: str, options: BackendOptions) -> LLMBackend:
    """Build the backend called `name`; unknown names and unusable backends raise BackendUnavailable."""
    spec = BACKENDS.get(name)
    if spec is None:
        raise BackendUnavailable(f"--backend: unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return spec.build(options)


def backend_status() -> dict[str, str | None]:
    """Each backend's reason for being unusable here, None when it is usable."""
    return {name: spec.check() for name, spec in BACKENDS.items()}
