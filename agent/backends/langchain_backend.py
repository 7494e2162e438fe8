"""Any LangChain chat model, given by import path and keyword arguments.

`model` is "package.module:ClassName"; `model_kwargs` go to its constructor. `score`
(f_LLM of eq. 5, Zhou et al., papers/icl-task-offloading.txt) parses a greedy reply
(log-prob 0 for the named decision, -inf for the others): LangChain exposes no common
log-probability interface.
"""

from __future__ import annotations

import importlib
import math
import time
from typing import Any

from pydantic import Field

from agent.backends.base import BackendUnavailable, Completion, Message, Scores
from agent.backends.registry import missing_modules, register_backend
from agent.decision_parser import parse_decision
from environment.config import StrictConfig


class LangChainBackend:
    """A LangChain `BaseChatModel`.

    Parameters
    ----------
    model: "module:Class" of the chat model.
    model_kwargs: its constructor's keyword arguments.
    """

    name = "langchain"

    def __init__(self, model: str, model_kwargs: dict[str, Any] | None = None) -> None:
        try:
            from langchain_core.language_models.chat_models import BaseChatModel
        except ImportError:
            raise BackendUnavailable("the langchain backend needs langchain-core: pip install 'edge-icl[langchain]'") from None
        module_name, _, class_name = model.partition(":")
        if not class_name:
            raise BackendUnavailable(f"--model for langchain must be 'module:ChatClass', got {model!r}")
        try:
            chat_class = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as error:
            raise BackendUnavailable(f"--model {model!r}: cannot import it ({error})") from None
        self.chat = chat_class(**(model_kwargs or {}))
        if not isinstance(self.chat, BaseChatModel):
            raise BackendUnavailable(f"--model {model!r} is not a LangChain chat model")
        self.model = model

    def complete(self, messages: list[Message], max_tokens: int = 8) -> Completion:
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
        completion = self.complete(prompt)
        chosen = parse_decision(completion.text, tuple(candidates))
        logprobs = {c: (0.0 if i == chosen else -math.inf) for i, c in enumerate(candidates)}
        return Scores(logprobs=logprobs, method="parsed", prompt_tokens=completion.prompt_tokens, latency_s=completion.latency_s)


class LangChainOptions(StrictConfig):
    """Options of the langchain backend."""

    model: str | None = Field(None, description="Model name (openai: default gpt-4o; langchain: module:ChatClass).")


def _check_langchain() -> str | None:
    return "langchain-core is not installed: pip install 'edge-icl[langchain]'" if missing_modules("langchain_core") else None


@register_backend("langchain", LangChainOptions, "any LangChain chat model (--model module:ChatClass)", check=_check_langchain)
def build_langchain(options: LangChainOptions, seed: int) -> LangChainBackend:
    if not options.model:
        raise BackendUnavailable("the langchain backend needs --model module:ChatClass")
    return LangChainBackend(model=options.model)
