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

from agent.decision_parser import REPLY_CHARS


class Message(TypedDict):
    """One chat message: role is "system", "user" or "assistant"."""

    role: str
    content: str


# Most characters of a raw server reply a Completion or Scores carries (the transcript keeps it).
RAW_REPLY_CAP = 4096


class BackendError(RuntimeError):
    """A backend call failed for good (after the SDK's last retry); the message is one line."""


class BackendUnavailable(RuntimeError):
    """A backend cannot be built here (missing package, model file or key); says how to fix it."""


@dataclass(frozen=True)
class Completion:
    """A text reply with its cost.

    Every backend's reply is cut here, so none hands the loop, the cache or the transcript
    more than a reply's worth of text, however much the model wrote (a chat model that
    ignores the length limit; `LangChainBackend` passes no `max_tokens`).

    Attributes
    ----------
    text: the reply, at most REPLY_CHARS characters (agent.decision_parser: what a reply is
        read for); a longer one is cut to its first REPLY_CHARS characters on construction.
    prompt_tokens: tokens of the prompt (as the backend counts them).
    completion_tokens: tokens generated.
    evaluated_tokens: prompt tokens actually run through the model (less than
        `prompt_tokens` when a cached prefix was reused); None when unknown.
    latency_s: wall-clock seconds of the call.
    raw_reply: a server reply the backend could not read as an answer (malformed JSON,
        no choices, no or runaway content), at most RAW_REPLY_CAP characters; `text` is
        then empty, so the reply names no decision. None for a normal reply.
    raw_reply_chars: the full length of that raw reply.
    text_chars: the reply's full length when `text` was cut; None when `text` is the whole reply.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    evaluated_tokens: int | None = None
    raw_reply: str | None = None
    raw_reply_chars: int | None = None
    text_chars: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.text, str) and len(self.text) > REPLY_CHARS:
            object.__setattr__(self, "text_chars", len(self.text))  # frozen: set once, here
            object.__setattr__(self, "text", self.text[:REPLY_CHARS])


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
    raw_reply, raw_reply_chars: as in `Completion`: a reply the backend could not read
        (every candidate is then -inf, so it names no decision).
    """

    logprobs: dict[str, float]
    method: str
    prompt_tokens: int
    latency_s: float
    evaluated_tokens: int | None = None
    extra: dict[str, object] = field(default_factory=dict)
    censored: frozenset[str] = frozenset()
    raw_reply: str | None = None
    raw_reply_chars: int | None = None

    def best(self) -> str:
        """The argmax of eq. (6); ties go to the first candidate."""
        return max(self.logprobs, key=lambda c: (self.logprobs[c], -list(self.logprobs).index(c)))

    def seen(self) -> list[str]:
        """The candidates the backend saw: neither censored nor -inf. None seen = the reply names no decision."""
        return [c for c, v in self.logprobs.items() if c not in self.censored and v > -math.inf]

    def finite(self) -> dict[str, float | None]:
        """The log-probs with -inf written as None (for JSON)."""
        return {c: (v if math.isfinite(v) else None) for c, v in self.logprobs.items()}


def raw_capped(text: str) -> tuple[str, int]:
    """A raw reply cut to RAW_REPLY_CAP characters, and its full length."""
    return text[:RAW_REPLY_CAP], len(text)


def bare_word(answer: str) -> str:
    """A candidate answer as the decision word a reply would name: no surrounding spaces or
    punctuation, lower case (" local" from answer.j2 -> "local")."""
    return answer.strip().strip(".,;:!?\"'()[]*`").lower()


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
