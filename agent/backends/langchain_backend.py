"""Any LangChain chat model, given by import path and keyword arguments.

`model` is "package.module:ClassName", optionally followed by a JSON object of its
constructor's keyword arguments (`--model 'langchain_openai:ChatOpenAI{"model": "gpt-4o"}'`);
`model_kwargs` add to them. Keys belong in the environment the chat class reads, not in
the JSON (the run's config.yaml keeps `--model` as given). `score` (f_LLM of eq. 5, Zhou
et al., papers/icl-task-offloading.txt) parses a greedy reply: log-prob 0 for the
decision it names, -inf for the others (LangChain exposes no common log-probability
interface). Candidates are matched by their bare words: the prompt's answers carry a
leading space (" local", from answer.j2), a reply names "local".
"""

from __future__ import annotations

import importlib
import json
import math
import time
from typing import Any

from pydantic import Field

from agent.backends.base import BackendUnavailable, Completion, Message, Scores, bare_word
from agent.backends.registry import missing_modules, register_backend
from agent.decision_parser import parse_decision
from environment.config import StrictConfig


def parse_model_spec(spec: str) -> tuple[str, str, dict[str, Any]]:
    """("module", "Class", kwargs) of "module:Class" or "module:Class{...json kwargs...}"."""
    path, brace, rest = spec.partition("{")
    module_name, _, class_name = path.strip().partition(":")
    if not module_name or not class_name:
        raise BackendUnavailable(f"--model for langchain must be 'module:ChatClass' (optionally followed by JSON kwargs), got {spec!r}")
    kwargs: dict[str, Any] = {}
    if brace:
        try:
            kwargs = json.loads(brace + rest)
        except ValueError as error:
            raise BackendUnavailable(f"--model {spec!r}: the constructor kwargs are not JSON ({error})") from None
        if not isinstance(kwargs, dict):
            raise BackendUnavailable(f"--model {spec!r}: the constructor kwargs must be a JSON object")
    return module_name, class_name, kwargs


class LangChainBackend:
    """A LangChain `BaseChatModel`.

    Parameters
    ----------
    model: "module:Class" of the chat model, optionally followed by JSON constructor kwargs.
    model_kwargs: more constructor keyword arguments (they win over the JSON's).
    """

    name = "langchain"

    def __init__(self, model: str, model_kwargs: dict[str, Any] | None = None) -> None:
        try:
            from langchain_core.language_models.chat_models import BaseChatModel
        except ImportError:
            raise BackendUnavailable("the langchain backend needs langchain-core: pip install 'edge-icl[langchain]'") from None
        module_name, class_name, kwargs = parse_model_spec(model)
        try:
            chat_class = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as error:
            raise BackendUnavailable(f"--model {model!r}: cannot import it ({error})") from None
        try:
            self.chat = chat_class(**{**kwargs, **(model_kwargs or {})})
        except Exception as error:  # pydantic validation and the class's own checks: no common base
            raise BackendUnavailable(f"--model {module_name}:{class_name}: cannot build it ({type(error).__name__}: {' '.join(str(error).split())[:200]})") from None
        if not isinstance(self.chat, BaseChatModel):
            raise BackendUnavailable(f"--model {model!r} is not a LangChain chat model")
        self.model = f"{module_name}:{class_name}"

    def complete(self, messages: list[Message], max_tokens: int = 8) -> Completion:
        """The chat model's reply (its own decoding settings; `max_tokens` is not passed on, so a
        reply may run long: `Completion` keeps its first REPLY_CHARS characters and its length)."""
        started = time.perf_counter()
        reply = self.chat.invoke([(m["role"], m["content"]) for m in messages])
        usage = getattr(reply, "usage_metadata", None) or {}
        return Completion(
            text=str(reply.content),
            prompt_tokens=int(usage.get("input_tokens", 0)),
            completion_tokens=int(usage.get("output_tokens", 0)),
            latency_s=time.perf_counter() - started,
        )

    def score(self, prompt: list[Message], candidates: list[str]) -> Scores:
        """Log-prob 0 for the candidate the reply names (by its bare word), -inf for the others."""
        completion = self.complete(prompt)
        chosen = parse_decision(completion.text, tuple(bare_word(c) for c in candidates))
        logprobs = {c: (0.0 if i == chosen else -math.inf) for i, c in enumerate(candidates)}
        return Scores(logprobs=logprobs, method="parsed", prompt_tokens=completion.prompt_tokens, latency_s=completion.latency_s)


class LangChainOptions(StrictConfig):
    """Options of the langchain backend."""

    model: str | None = Field(None, description="Model name (openai: default gpt-4o; langchain: 'module:ChatClass', optionally followed by JSON constructor kwargs).")


def _check_langchain() -> str | None:
    return "langchain-core is not installed: pip install 'edge-icl[langchain]'" if missing_modules("langchain_core") else None


@register_backend("langchain", LangChainOptions, "any LangChain chat model (--model 'module:ChatClass{\"kwarg\": ...}')", check=_check_langchain)
def build_langchain(options: LangChainOptions, seed: int) -> LangChainBackend:
    if not options.model:
        raise BackendUnavailable("the langchain backend needs --model module:ChatClass (optionally followed by JSON constructor kwargs)")
    return LangChainBackend(model=options.model)
