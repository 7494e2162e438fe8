"""Prompts held to the LLM's context window: one line before step 0, a trimmed pool past it.

A backend that knows its window says so: `context_window` (tokens, the prompt and the
answer together), `count_tokens(text)` (its own tokenizer) and `render(messages)` (the
text the model reads). The llama-cpp backend (`--n-ctx`, default the model's trained
context up to 8192) and the transformers backend (the model's max positions) do. HTTP
backends (openai, langchain) may not know the window: their prompts go out as they are,
and a server that refuses one fails that call with its own one-line error.

A prompt fits when its tokens plus the room its answer needs are at most the window: in
score mode the longest candidate answer and its end-of-turn token (eq. 5 of Zhou et al.,
papers/icl-task-offloading.txt, scores them after the prompt), in generate mode the
reply's `max_tokens`.

Before step 0 (`check_fits` on `TaskPrompt.sample`): the smallest prompt a step can
show once the pool holds an example (the task description, no pool example, the
`closest` examples, the query) must fit, or the agent is not built: a PromptError
naming the prompt's tokens and the window (exit 2 in the CLI), before any work.

Past step 0 (`longest_fitting_head`): a pool that grew past the window shows the
longest head of its examples, in the pool's own order, that fits; the examples at the
end of the stable part are left out, and the step's transcript record says how many
(`pool_trimmed`). Why the head:
- the KV prefix: the stable part (the pool in a fixed order) comes first, and llama.cpp
  reuses the prompt up to its first changed token. Cutting the tail, a pool change after
  the cut changes no prompt at all, and one before it changes the prompt only from
  there; a cut anywhere else (the oldest, the lowest reward) moves with the pool and
  costs the prefix from that place on.
- the examples the query needs most, its closest ones, are chosen from the whole pool
  and shown in the variable part whether the cut keeps them or not.
- the cut depends on the pool and the query's length only, so between pool changes the
  stable part changes only when a longer query leaves room for one example fewer.
For the latest pool (baseline 1, oldest first) the head is its oldest examples; such a
pool shifts on every step once full, so no cut keeps its prefix there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from agent.backends.base import Message


@runtime_checkable
class WindowedBackend(Protocol):
    """A backend that knows its context window and counts tokens with its own tokenizer."""

    context_window: int | None

    def count_tokens(self, text: str) -> int: ...

    def render(self, messages: list[Message]) -> str: ...


def window_of(backend: object) -> int | None:
    """The backend's context window in tokens; None when it does not know one (HTTP backends)."""
    window = getattr(backend, "context_window", None)
    if not isinstance(window, int) or not callable(getattr(backend, "count_tokens", None)):
        return None
    return window


def prompt_tokens(backend: WindowedBackend, messages: list[Message]) -> int:
    """Tokens of the prompt as the model reads it (its chat template, an assistant prefill included)."""
    return backend.count_tokens(backend.render(messages))


def answer_room(backend: WindowedBackend, answers: Sequence[str], mode: str, max_tokens: int) -> int:
    """Tokens the answer needs after the prompt: the longest candidate and its end-of-turn token (score), or `max_tokens` (generate)."""
    if mode == "score":
        return max((backend.count_tokens(a) for a in answers), default=0) + 1
    return max_tokens


def overflow(backend: WindowedBackend, prompts: Sequence[list[Message]], room: int) -> int | None:
    """The tokens of the longest of `prompts` when it and `room` exceed the window; None when all fit."""
    window = window_of(backend)
    if window is None:
        return None
    longest = max(prompt_tokens(backend, p) for p in prompts)
    return longest if longest + room > window else None


def longest_fitting_head(count: int, fits: Callable[[int], bool]) -> int | None:
    """The largest k in 0..count with fits(k), by bisection (fewer examples make a shorter prompt); None when not even 0 fits."""
    if fits(count):
        return count
    if not fits(0):
        return None
    low, high = 0, count  # fits(low), not fits(high)
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low


def too_long(tokens: int, room: int, window: int, backend: object, where: str, detail: str = "") -> str:
    """The one line that says a prompt does not fit: its tokens, the answer's room, the window."""
    model = getattr(backend, "model", "the model")
    return (
        f"{where}: the prompt takes {tokens} tokens{detail} and its answer {room} more, over the {window}-token context window of {model} "
        f"(raise --n-ctx where the backend takes it, or shorten the prompt)"
    )


__all__ = ["WindowedBackend", "answer_room", "longest_fitting_head", "overflow", "prompt_tokens", "too_long", "window_of"]
