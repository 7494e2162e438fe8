"""The one protocol every LLM backend implements: `complete` for text, `score` for eq. (5).

Zhou et al. (papers/icl-task-offloading.txt) eq. (5): Pr(y*|x) = f_LLM(x, y*, E, D), the
scoring function over candidate answers; eq. (6): the decision is the argmax over the
candidates. `score` returns log Pr(y|prompt) for each candidate y; `complete` returns
the model's free text for a chat prompt (the "generate" decision mode).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, TypedDict, runtime_checkable


class Message(TypedDict):
    """One chat message: role is "system", "user" or "assistant"."""

    role: str
    content: str


class BackendError(RuntimeError):
    """A backend call failed for good (after the SDK's last retry); the message is one line."""


class BackendUnavailable(RuntimeError):
    """A backend cannot be built here (missing package, model file or key); says how to fix it."""


@dataclass(frozen=True)
class Completion:
    """A text reply with its cost.

    Attributes
    ----------
    text: the reply.
    prompt_tokens: tokens of the prompt (as the backend counts them).
    completion_tokens: tokens generated.
    evaluated_tokens: prompt tokens actually run through the model (less than
        `prompt_tokens` when a cached prefix was reused); None when unknown.
    latency_s: wall-clock seconds of the call.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    evaluated_tokens: int | None = None


@dataclass(frozen=True)
class Scores:
    """log Pr(candidate | prompt) for each candidate: the scoring function f_LLM of eq. (5).

    Attributes
    ----------
    logprobs: candidate -> log-probability (-inf when the backend saw it impossible).
    method: how they were obtained ("logits", "echo", "top_logprobs", "parsed").
    prompt_tokens, evaluated_tokens, latency_s: as in `Completion`.
    censored: candidates the backend could not see (missing from a server's top-k
        log-probs): their value in `logprobs` is an upper bound (the k-th log-prob), not
        the log-probability itself.
    """

    logprobs: dict[str, float]
    method: str
    prompt_tokens: int
    latency_s: float
    evaluated_tokens: int | None = None
    extra: dict[str, object] = field(default_factory=dict)
    censored: frozenset[str] = frozenset()

    def best(self) -> str:
        """The argmax of eq. (6); ties go to the first candidate."""
        return max(self.logprobs, key=lambda c: (self.logprobs[c], -list(self.logprobs).index(c)))

    def finite(self) -> dict[str, float | None]:
        """The log-probs with -inf written as None (for JSON)."""
        return {c: (v if math.isfinite(v) else None) for c, v in self.logprobs.items()}


@runtime_checkable
class LLMBackend(Protocol):
    """An LLM the ICL loop can ask; the loop does not know which one it talks to.

    Attributes
    ----------
    name: the backend's registry name ("llama-cpp", "openai", ...).
    model: the model's name or path, as written to the transcript.
    """

    name: str
    model: str

    def complete(self, messages: list[Message], max_tokens: int = 8) -> Completion:
        """Greedy reply to a chat prompt."""
        ...

    def score(self, prompt: list[Message], candidates: list[str]) -> Scores:
        """log Pr(y | prompt) of each candidate answer y as the assistant's reply: eq. (5)."""
        ...
