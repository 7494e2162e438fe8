"""Any OpenAI-compatible chat API through the official openai SDK.

GPT-4o with OPENAI_API_KEY, or `base_url` for an OpenAI-compatible server (llama.cpp's
`python -m llama_cpp.server`, vLLM, Ollama). `score` (f_LLM of eq. 5, Zhou et al.,
papers/icl-task-offloading.txt) reads the log-probabilities of the first reply token
from `logprobs`/`top_logprobs` where the server gives them: the candidates differ in
their first token, so this ranks them as eq. (6) needs. A server that gives none, or a
reply whose top tokens match no candidate, gets its reply parsed instead (log-prob 0 for
the named decision, -inf for the others; all -inf when it names none).
Timeouts and retries on 429/5xx are the SDK's; after its last retry a `BackendError`.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

from typing import Literal

from pydantic import Field

from agent.backends.base import BackendError, BackendUnavailable, Completion, Message, Scores
from agent.backends.registry import missing_modules, register_backend
from agent.decision_parser import parse_decision
from environment.config import StrictConfig

TOP_LOGPROBS = 20
SCORE_MAX_TOKENS = 16


class OpenAIBackend:
    """A chat model behind the OpenAI API or an OpenAI-compatible server.

    Parameters
    ----------
    model: the model name the server knows ("gpt-4o").
    base_url: an OpenAI-compatible endpoint; None for api.openai.com.
    api_key: None reads OPENAI_API_KEY (a local server with base_url needs none).
    timeout_s, max_retries: the SDK's per-request timeout and retries (429, 5xx, timeouts).
    seed: sent with each request (servers that honour it decode reproducibly).
    """

    name = "openai"

    def __init__(
        self,
        model: str = "gpt-4o",
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        seed: int = 0,
        api: str | None = None,
    ) -> None:
        try:
            import openai
        except ImportError:
            raise BackendUnavailable("the openai backend needs the openai package: pip install 'edge-icl[openai]'") from None
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if key is None:
            if base_url is None:
                raise BackendUnavailable(
                    "OPENAI_API_KEY is not set: export OPENAI_API_KEY=sk-... (or give --base-url for a local server)"
                )
            key = "no-key"  # local OpenAI-compatible servers accept any key
        self._openai = openai
        self.client = openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout_s, max_retries=max_retries)
        self.model = model
        self.base_url = base_url
        self.seed = seed
        self.api = api  # TODO(issue 10): completions vs chat

    def _chat(self, messages: list[Message], max_tokens: int, logprobs: bool) -> Any:
        extra: dict[str, Any] = {"logprobs": True, "top_logprobs": TOP_LOGPROBS} if logprobs else {}
        try:
            return self.client.chat.completions.create(
                model=self.model, messages=without_prefill(messages), max_tokens=max_tokens, temperature=0.0, seed=self.seed, **extra
            )
        except self._openai.APIStatusError as error:
            raise BackendError(f"openai backend: HTTP {error.status_code} from {self.base_url or 'api.openai.com'} after retries: {error.message}") from None
        except self._openai.APIConnectionError as error:
            raise BackendError(f"openai backend: cannot reach {self.base_url or 'api.openai.com'} after retries: {error}") from None

    def complete(self, messages: list[Message], max_tokens: int = 8) -> Completion:
        """Greedy (temperature 0) reply."""
        started = time.perf_counter()
        reply = self._chat(messages, max_tokens, logprobs=False)
        usage = reply.usage
        return Completion(
            text=reply.choices[0].message.content or "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            latency_s=time.perf_counter() - started,
            evaluated_tokens=None,
        )

    def score(self, prompt: list[Message], candidates: list[str]) -> Scores:
        """First-token log-probabilities of each candidate from top_logprobs; else a parsed reply."""
        started = time.perf_counter()
        # Room for a short sentence: a chat model may name the decision after a few words.
        reply = self._chat(prompt, SCORE_MAX_TOKENS, logprobs=True)
        usage = reply.usage
        prompt_tokens = usage.prompt_tokens if usage else 0
        content = reply.choices[0].logprobs.content if reply.choices[0].logprobs else None
        if content:
            top = {entry.token: entry.logprob for entry in content[0].top_logprobs}
            top.setdefault(content[0].token, content[0].logprob)
            logprobs = {c: _first_token_logprob(c, top) for c in candidates}
            method = "top_logprobs"
        if not content or not any(math.isfinite(v) for v in logprobs.values()):
            chosen = parse_decision(reply.choices[0].message.content or "", tuple(_bare(c) for c in candidates))
            logprobs = {c: (0.0 if i == chosen else -math.inf) for i, c in enumerate(candidates)}
            method = "parsed" if not content else "top_logprobs, none matched: parsed"
        return Scores(logprobs=logprobs, method=method, prompt_tokens=prompt_tokens, latency_s=time.perf_counter() - started)


def without_prefill(messages: list[Message]) -> list[Message]:
    """Chat APIs start a new assistant turn after the last message, so an assistant prefill
    (the query line the reply should complete) is moved to the end of the user's turn."""
    if len(messages) < 2 or messages[-1]["role"] != "assistant" or messages[-2]["role"] != "user":
        return list(messages)
    user = messages[-2]
    return [*messages[:-2], {"role": "user", "content": f"{user['content']}\n{messages[-1]['content']}"}]


def _bare(text: str) -> str:
    """A candidate or token without surrounding spaces and punctuation, lower case (" Local," -> "local")."""
    return text.strip().strip(".,;:!?\"'()[]*`").lower()


def _first_token_logprob(candidate: str, top: dict[str, float]) -> float:
    """Log-prob mass of the top tokens that begin the candidate (case and spaces ignored)."""
    matches = [lp for token, lp in top.items() if _bare(token) and _bare(candidate).startswith(_bare(token))]
    return math.log(sum(math.exp(lp) for lp in matches)) if matches else -math.inf


class OpenAIOptions(StrictConfig):
    """Options of the openai backend (the OpenAI API or any OpenAI-compatible server)."""

    model: str = Field("gpt-4o", description="Model name (openai: default gpt-4o; langchain: module:ChatClass).")
    base_url: str | None = Field(None, description="An OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (default api.openai.com).")
    api: Literal["completions", "chat"] | None = Field(
        None,
        description="completions (log-probs of the chat-template-rendered prompt, as llama-cpp scores it) | chat (top-20 first-token log-probs); default: completions where the server offers it.",
    )
    timeout_s: float = Field(60.0, gt=0, description="Seconds to wait for one reply.", json_schema_extra={"flag": "--timeout"})
    max_retries: int = Field(2, ge=0, description="Retries after a timeout, 429 or 5xx.")


def _check_openai() -> str | None:
    if missing_modules("openai"):
        return "openai is not installed: pip install 'edge-icl[openai]'"
    if not os.environ.get("OPENAI_API_KEY"):
        return "usable with --base-url only: OPENAI_API_KEY is not set (export OPENAI_API_KEY=sk-...)"
    return None


@register_backend("openai", OpenAIOptions, "OpenAI API or any OpenAI-compatible server (--base-url)", check=_check_openai)
def build_openai(options: OpenAIOptions, seed: int) -> OpenAIBackend:
    return OpenAIBackend(
        model=options.model, base_url=options.base_url, seed=seed, api=options.api, timeout_s=options.timeout_s, max_retries=options.max_retries
    )
