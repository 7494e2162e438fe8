"""The OpenAI API or any OpenAI-compatible server, through the official openai SDK.

GPT-4o with OPENAI_API_KEY, or `base_url` for an OpenAI-compatible server (llama.cpp's
`python -m llama_cpp.server`, vLLM, Ollama). `score` is f_LLM of eq. (5) of Zhou et al.
(papers/icl-task-offloading.txt), read from the server in one of two ways (`api`):

- "completions" (servers with /v1/completions and prompt log-probabilities: llama_cpp.server
  started with `--logits_all true`, vLLM): the llama-cpp backend's computation, done by the
  server. The messages are rendered with the model's chat template (the function the
  llama-cpp backend uses, `ChatTemplate.render`, assistant prefill included); for each
  candidate the server gets that text plus the candidate (plus the end-of-turn text when
  there is no prefill, as the llama-cpp backend scores it) with `echo` and `logprobs`,
  `max_tokens=1`, and the candidate's log-probability is the sum of the echoed log-probs
  of its tokens, found by their text offsets. method "echo". The template comes from the
  GGUF or `.jinja` file given as `template_path` (`--model-path`), by default the
  bundled SmolLM2 GGUF's: it must be the served model's template.
- "chat" (chat-only APIs such as GPT-4o): one reply token (`max_tokens=1`) with its top-20
  log-probabilities; a candidate's score is the log-probability mass of the top tokens
  that begin it. A candidate none of whose first tokens is among the top 20 is censored:
  its value is the 20th log-probability, an upper bound, and it is listed in
  `Scores.censored`. method "top_logprobs". A server that returns no log-probabilities
  gets its one-token reply parsed (method "parsed").

`api=None` detects: no `base_url` (api.openai.com) is "chat"; otherwise one small echo
request to /v1/completions decides (a refusal, or an echo without prompt log-probs, means
"chat"), and the answer is kept.

Faults: the SDK's timeout and retries (408/409/429/5xx, connection errors, timeouts) are
`timeout_s` and `max_retries`; when they are spent, a one-line `BackendError`. A reply the
backend cannot read (malformed JSON, no choices, empty, null or runaway content, echo
log-probs that do not line up) is not an error: the call returns a reply that names no
decision and carries the raw body (cut to 4 KB) and its length, so the agent counts a
parse failure and logs it.

Generate mode (`complete`) on the completions API sends the rendered prompt, so the reply
continues an assistant prefill as the llama-cpp backend's does; llama_cpp.server applies its
own default repeat_penalty of 1.1 (not an OpenAI parameter, so not sent), which can change
a reply that repeats itself.

Known server quirk: llama_cpp.server reports each echoed prompt token's log-probability
one position late unless the prompt starts with the BOS token (abetlen/llama-cpp-python
#1983); SmolLM2's ChatML prompt starts with `<|im_start|>`, its BOS. Its echo is also
slow: it sorts the whole vocabulary in Python for every prompt token (about 75 ms per
token on our 2-core machine), so one candidate of a 260-token prompt takes about 20 s.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from agent.backends.base import RAW_REPLY_CAP, BackendError, BackendUnavailable, Completion, Message, Scores, bare_word, raw_capped
from agent.backends.chat_template import ChatTemplate, load_chat_template
from agent.backends.registry import missing_modules, register_backend
from agent.decision_parser import parse_decision
from environment.config import StrictConfig

APIS = ("completions", "chat")
TOP_LOGPROBS = 20
# Top log-probs per echoed position (OpenAI's completions API allows at most 5).
ECHO_TOP_LOGPROBS = 5
# A reply longer than this many characters per requested token ran away (the server
# ignored max_tokens); it is kept as a raw reply, not parsed.
RUNAWAY_CHARS_PER_TOKEN = 16
# The detection probe: a tiny chat whose rendering the server echoes with log-probs.
_PROBE_MESSAGES: list[Message] = [{"role": "user", "content": "Reply ok."}, {"role": "assistant", "content": "ok"}]


class _Unreadable(Exception):
    """A server reply that carries no usable answer; the message says why."""


class _Refused(Exception):
    """The server refuses a completions request (HTTP 4xx/5xx) during API detection."""


class OpenAIBackend:
    """A model behind the OpenAI API or an OpenAI-compatible server.

    Parameters
    ----------
    model: the model name the server knows ("gpt-4o").
    base_url: an OpenAI-compatible endpoint; None for api.openai.com.
    api_key: None reads OPENAI_API_KEY (a local server with base_url needs none).
    timeout_s, max_retries: the SDK's per-request timeout and its retries (timeouts,
        connection errors, 408/409/429/5xx).
    seed: sent with each request (servers that honour it decode reproducibly).
    api: "completions", "chat", or None to detect (see the module note).
    template_path: the served model's chat template for the completions API: its GGUF
        or a `.jinja` file; None for the bundled SmolLM2 GGUF's.
    """

    name = "openai"

    def __init__(
        self,
        model: str = "gpt-4o",
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        seed: int = 0,
        api: str | None = None,
        template_path: str | Path | None = None,
    ) -> None:
        try:
            import openai
        except ImportError:
            raise BackendUnavailable("the openai backend needs the openai package: pip install 'edge-icl[openai]'") from None
        if api is not None and api not in APIS:
            raise BackendUnavailable(f"--api: unknown {api!r}; choose one of {', '.join(APIS)}")
        key = api_key or os.environ.get("OPENAI_API_KEY") or None  # set but empty counts as unset
        if key is None:
            if base_url is None:
                raise BackendUnavailable(
                    "OPENAI_API_KEY is not set or empty: export OPENAI_API_KEY=sk-... (or give --base-url for a local server)"
                )
            key = "no-key"  # local OpenAI-compatible servers accept any key
        self._openai = openai
        self.client = openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout_s, max_retries=max_retries)
        self.model = model
        self.base_url = base_url
        self.endpoint = base_url or "https://api.openai.com/v1"
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.seed = seed
        # None until detected; a base_url-less client talks to api.openai.com, whose chat models have no echo.
        self.api: str | None = api or ("chat" if base_url is None else None)
        self.api_note: str | None = None  # why detection chose the API it chose
        self._template_path = template_path
        self._template: ChatTemplate | None = None

    # --- the chat template (completions API) ------------------------------------------
    @property
    def template(self) -> ChatTemplate:
        """The served model's chat template, read once (only the completions API needs it)."""
        if self._template is None:
            self._template = load_chat_template(self._template_path)
        return self._template

    # --- HTTP -------------------------------------------------------------------------
    def _post(self, api: str, probing: bool = False, **params: Any) -> tuple[dict[str, Any] | None, str]:
        """One request with the SDK's timeout and retries: the JSON body as a dict (None when it is
        not a JSON object) and the raw text. Transport failures and HTTP errors raise `BackendError`
        (`_Refused` for an HTTP error while `probing`)."""
        resource = self.client.completions if api == "completions" else self.client.chat.completions
        openai = self._openai
        try:
            raw = resource.with_raw_response.create(model=self.model, temperature=0.0, seed=self.seed, **params)
        except openai.APITimeoutError:
            raise BackendError(
                f"openai backend: timed out after {self.timeout_s:g} s ({self.max_retries} retries) at {self.endpoint}"
            ) from None
        except openai.APIConnectionError as error:
            cause = _one_line(str(error.__cause__ or error))
            raise BackendError(f"openai backend: cannot connect to {self.endpoint} ({self.max_retries} retries): {cause}") from None
        except openai.APIStatusError as error:
            message = _one_line(str(error.message))
            if probing:
                raise _Refused(f"HTTP {error.status_code}: {message}") from None
            raise BackendError(
                f"openai backend: HTTP {error.status_code} from {self.endpoint} ({self.max_retries} retries): {message}"
            ) from None
        text = raw.text
        try:
            body = json.loads(text)
        except ValueError:
            return None, text
        return (body if isinstance(body, dict) else None), text

    # --- API detection ----------------------------------------------------------------
    def _api(self) -> str:
        """The API in use, detected once when none was given (see the module note)."""
        if self.api is None:
            try:
                text = self.template.render(_PROBE_MESSAGES)
                body, _ = self._post("completions", probing=True, **_echo_params(text))
                _echo(body, text)
                self.api, self.api_note = "completions", "detected: /completions echoes prompt log-probs"
            except (_Refused, _Unreadable) as reason:
                self.api, self.api_note = "chat", f"detected: /completions gives no echo log-probs ({reason})"
                print(f"openai backend: {self.endpoint} {self.api_note}; scoring by chat top-{TOP_LOGPROBS} log-probs", file=sys.stderr)
        return self.api

    # --- the protocol -----------------------------------------------------------------
    def complete(self, messages: list[Message], max_tokens: int = 8) -> Completion:
        """Greedy (temperature 0) reply; on the completions API, to the chat-template-rendered prompt
        (prefill included, as the llama-cpp backend completes it)."""
        started = time.perf_counter()
        if self._api() == "completions":
            body, raw = self._post("completions", prompt=self.template.render(messages), max_tokens=max_tokens)
        else:
            body, raw = self._post("chat", messages=without_prefill(messages), max_tokens=max_tokens)
        try:
            choice = _first_choice(body)
            text = choice.get("text") if self.api == "completions" else (choice.get("message") or {}).get("content")
            if not isinstance(text, str) or not text:
                raise _Unreadable("no reply text")
            if len(text) > max(RAW_REPLY_CAP, RUNAWAY_CHARS_PER_TOKEN * max_tokens):
                raise _Unreadable(f"a runaway reply of {len(text)} characters for {max_tokens} tokens")
        except _Unreadable:
            reply, chars = raw_capped(raw)
            return Completion(text="", prompt_tokens=0, completion_tokens=0, latency_s=time.perf_counter() - started, raw_reply=reply, raw_reply_chars=chars)
        usage = _usage(body)
        return Completion(
            text=text,
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
            latency_s=time.perf_counter() - started,
        )

    def score(self, prompt: list[Message], candidates: list[str]) -> Scores:
        """log Pr(candidate | prompt) of each candidate: eq. (5), by echo or by top-20 log-probs (module note)."""
        if self._api() == "completions":
            return self._score_by_echo(prompt, candidates)
        return self._score_by_top_logprobs(prompt, candidates)

    def _score_by_echo(self, prompt: list[Message], candidates: list[str]) -> Scores:
        """The llama-cpp backend's score, read from the server's echoed prompt log-probs.

        As the llama-cpp backend decodes the longest candidate and reads the others off its
        path, the longest candidate is echoed first; after an assistant prefill (no end-of-turn
        token to score), a candidate that follows the echoed path and then branches by one token
        is read from the echoed top log-probs at the branch (" local" beside " off|load": one
        request for both); any other candidate gets its own echo.
        """
        started = time.perf_counter()
        text = self.template.render(prompt)
        ending = "" if prompt and prompt[-1]["role"] == "assistant" else self.template.eos_token
        found: dict[str, float] = {}
        paths: list[list[tuple[str, float, dict[str, float]]]] = []
        prompt_tokens, requests = 0, 0
        for candidate in sorted(candidates, key=len, reverse=True):
            value = None if ending else next((v for v in (_off_path(p, candidate) for p in paths) if v is not None), None)
            if value is not None:
                found[candidate] = value
                continue
            full = text + candidate + ending
            body, raw = self._post("completions", **_echo_params(full))
            requests += 1
            try:
                found[candidate], prompt_tokens, path = _echoed_logprob(body, full, candidate, ending)
            except _Unreadable as reason:
                reply, chars = raw_capped(raw)
                return Scores(
                    logprobs={c: -math.inf for c in candidates}, method="echo", prompt_tokens=prompt_tokens,
                    latency_s=time.perf_counter() - started, extra={"unreadable": str(reason)}, raw_reply=reply, raw_reply_chars=chars,
                )
            paths.append(path)
        return Scores(
            logprobs={c: found[c] for c in candidates}, method="echo", prompt_tokens=prompt_tokens,
            latency_s=time.perf_counter() - started, extra={"requests": requests},
        )

    def _score_by_top_logprobs(self, prompt: list[Message], candidates: list[str]) -> Scores:
        """First-token log-probabilities from one reply token's top-20; missing candidates censored at the 20th."""
        started = time.perf_counter()
        body, raw = self._post("chat", messages=without_prefill(prompt), max_tokens=1, logprobs=True, top_logprobs=TOP_LOGPROBS)
        try:
            choice = _first_choice(body)
            content = (choice.get("logprobs") or {}).get("content")
            if content:
                first = content[0]
                top = {entry["token"]: float(entry["logprob"]) for entry in first.get("top_logprobs") or []}
                top.setdefault(first["token"], float(first["logprob"]))
                floor = min(top.values())  # the k-th log-prob: a bound on every token the server left out
                logprobs = {c: _first_token_logprob(c, top) for c in candidates}
                censored = frozenset(c for c, v in logprobs.items() if v == -math.inf)
                logprobs = {c: (floor if c in censored else v) for c, v in logprobs.items()}
                return Scores(
                    logprobs=logprobs, method="top_logprobs", prompt_tokens=_usage(body).get("prompt_tokens", 0),
                    latency_s=time.perf_counter() - started, censored=censored, extra={"top_k": len(top)},
                )
            reply = (choice.get("message") or {}).get("content")
            if not isinstance(reply, str) or not reply or len(reply) > RAW_REPLY_CAP:
                raise _Unreadable("no log-probs and no usable reply text")
        except (_Unreadable, KeyError, TypeError, ValueError, IndexError) as reason:
            message, chars = raw_capped(raw)
            return Scores(
                logprobs={c: -math.inf for c in candidates}, method="top_logprobs", prompt_tokens=0,
                latency_s=time.perf_counter() - started, extra={"unreadable": _one_line(str(reason))}, raw_reply=message, raw_reply_chars=chars,
            )
        chosen = parse_decision(reply, tuple(bare_word(c) for c in candidates))
        return Scores(
            logprobs={c: (0.0 if i == chosen else -math.inf) for i, c in enumerate(candidates)}, method="parsed",
            prompt_tokens=_usage(body).get("prompt_tokens", 0), latency_s=time.perf_counter() - started,
        )


def without_prefill(messages: list[Message]) -> list[Message]:
    """Chat APIs start a new assistant turn after the last message, so an assistant prefill
    (the query line the reply should complete) is moved to the end of the user's turn."""
    if len(messages) < 2 or messages[-1]["role"] != "assistant" or messages[-2]["role"] != "user":
        return list(messages)
    user = messages[-2]
    return [*messages[:-2], {"role": "user", "content": f"{user['content']}\n{messages[-1]['content']}"}]


def _echo_params(prompt: str) -> dict[str, Any]:
    """A completions request that echoes `prompt` with each token's log-prob and the top
    ECHO_TOP_LOGPROBS at each position, and generates one token (llama_cpp.server reads
    max_tokens 0 as "no limit")."""
    return {"prompt": prompt, "max_tokens": 1, "echo": True, "logprobs": ECHO_TOP_LOGPROBS}


def _first_choice(body: dict[str, Any] | None) -> dict[str, Any]:
    if body is None:
        raise _Unreadable("the body is not a JSON object")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _Unreadable("no choices")
    return choices[0]


def _usage(body: dict[str, Any] | None) -> dict[str, int]:
    usage = (body or {}).get("usage") or {}
    return {k: int(v) for k, v in usage.items() if isinstance(v, int)}


def _echo(body: dict[str, Any] | None, prompt: str) -> tuple[list[Any], list[Any], list[Any], str]:
    """The echoed tokens, their text offsets and log-probs, and the generated text, of an echo of `prompt`."""
    choice = _first_choice(body)
    echoed = choice.get("text")
    logprobs = choice.get("logprobs")
    if not isinstance(echoed, str) or not echoed.startswith(prompt):
        raise _Unreadable("the reply does not echo the prompt")
    if not isinstance(logprobs, dict):
        raise _Unreadable("no log-probs in the reply")
    tokens, offsets, values = logprobs.get("tokens"), logprobs.get("text_offset"), logprobs.get("token_logprobs")
    if not (isinstance(tokens, list) and isinstance(offsets, list) and isinstance(values, list)) or not len(tokens) == len(offsets) == len(values):
        raise _Unreadable("the echoed tokens, offsets and log-probs do not line up")
    if sum(isinstance(v, (int, float)) for v in values) < 2:
        raise _Unreadable("log-probs for the generated token only, none for the prompt")
    generated = echoed[len(prompt) :]
    if generated and tokens[-1] != generated:  # one generated token with text: it must be the last echoed token
        raise _Unreadable(f"the echo does not end with the generated token {generated!r}: prompt log-probs not aligned")
    return tokens, offsets, values, generated


def _echoed_logprob(body: dict[str, Any] | None, prompt: str, candidate: str, ending: str) -> tuple[float, int, list[tuple[str, float, dict[str, float]]]]:
    """log Pr(candidate + ending | the text before them) from an echo of `prompt` (which ends with
    them), the number of prompt tokens before the candidate, and the candidate's path: each of its
    tokens' (string, log-prob, top log-probs at its position).

    The candidate's tokens are the echoed tokens whose strings spell it, contiguous by their text
    offsets, right before the end-of-turn token (when `ending`) and at most one generated token.
    Servers differ in what they echo for special tokens (llama_cpp.server: an empty string and
    offsets that skip them; vLLM: their text), so the end is found from the tokens' own strings.
    """
    tokens, offsets, values, generated = _echo(body, prompt)
    end = len(tokens) - 1 if generated else len(tokens)
    # a generated special token (no text) may or may not be echoed
    for stop in (end,) if generated else (end, end - 1):
        span = _candidate_span(tokens, offsets, stop, candidate, ending)
        if span is not None:
            break
    else:
        raise _Unreadable(f"no echoed tokens spell {candidate!r} at the end of the prompt")
    first, last = span  # candidate tokens first..last-1, then the end-of-turn token when `ending`
    picked = values[first : last + (1 if ending else 0)]
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in picked):
        raise _Unreadable(f"no log-prob for a token of {candidate!r}")
    tops = (body or {})["choices"][0]["logprobs"].get("top_logprobs")
    tops = tops if isinstance(tops, list) and len(tops) == len(tokens) else [None] * len(tokens)
    path = [(tokens[i], float(values[i]), tops[i] if isinstance(tops[i], dict) else {}) for i in range(first, last)]
    return float(sum(picked)), _usage(body).get("prompt_tokens", 0) - len(picked), path


def _off_path(path: list[tuple[str, float, dict[str, float]]], candidate: str) -> float | None:
    """log Pr(candidate) read off an echoed candidate's path: the path's tokens while they spell the
    candidate's start, then the one token that completes it from the top log-probs where it
    branches; None when the candidate is not one token away from the path."""
    spelled, total = "", 0.0
    for token, value, top in path:
        rest = candidate[len(spelled) :]
        if rest == token:
            return total + value
        if rest in top and isinstance(top[rest], (int, float)) and math.isfinite(top[rest]):
            return total + float(top[rest])
        if not rest.startswith(token):
            return None
        spelled, total = spelled + token, total + value
    return None


def _candidate_span(tokens: list[Any], offsets: list[Any], stop: int, candidate: str, ending: str) -> tuple[int, int] | None:
    """(first, last): echoed tokens[first:last] spell `candidate`, contiguous by offsets, and end the prompt at `stop`
    (after them the end-of-turn token, when `ending`, as the last before `stop`); None if they do not."""
    last = stop - 1 if ending else stop
    if ending and (last < 0 or tokens[last] not in ("", ending)):
        return None
    spelled, first = "", last
    while first > 0 and len(spelled) < len(candidate):
        first -= 1
        if not isinstance(tokens[first], str) or not tokens[first]:
            return None  # a special token inside the candidate: not this span
        spelled = tokens[first] + spelled
    if spelled != candidate:
        return None
    for i in range(first, last):  # contiguous: each token starts where the one before ends
        following = offsets[i + 1] if i + 1 < len(offsets) else None
        if following is not None and following != offsets[i] + len(tokens[i]):
            return None
    return first, last


def _first_token_logprob(candidate: str, top: dict[str, float]) -> float:
    """Log-prob mass of the top tokens that begin the candidate (case, spaces and punctuation ignored;
    at least 3 letters, or the whole word when shorter, so that "o" or "L" is no vote); -inf when none does."""
    word = bare_word(candidate)
    matches = [lp for token, lp in top.items() if len(bare_word(token)) >= min(3, len(word)) and word.startswith(bare_word(token))]
    return math.log(sum(math.exp(lp) for lp in matches)) if matches else -math.inf


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


class OpenAIOptions(StrictConfig):
    """Options of the openai backend (the OpenAI API or any OpenAI-compatible server)."""

    model: str = Field("gpt-4o", description="Model name (openai: default gpt-4o; langchain: 'module:ChatClass', optionally followed by JSON constructor kwargs).")
    base_url: str | None = Field(None, description="An OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (default api.openai.com).")
    api: Literal["completions", "chat"] | None = Field(
        None,
        description="completions (log-probs of the chat-template-rendered prompt, as llama-cpp scores it) | chat (top-20 first-token log-probs); default: completions where the server offers it.",
    )
    # At most an hour per reply and 10 retries: a run waits timeout x (retries + 1) on a
    # server that does not answer before it stops.
    timeout_s: float = Field(60.0, gt=0, le=3600.0, description="Seconds to wait for one reply.", json_schema_extra={"flag": "--timeout"})
    max_retries: int = Field(2, ge=0, le=10, description="Retries after a timeout, 429 or 5xx.")
    model_path: str | None = Field(
        None, description="The served model's chat template, for --api completions: a GGUF file or a .jinja file (default: the bundled SmolLM2's)."
    )


def _check_openai() -> str | None:
    if missing_modules("openai"):
        return "openai is not installed: pip install 'edge-icl[openai]'"
    if not os.environ.get("OPENAI_API_KEY"):
        return "usable with --base-url only: OPENAI_API_KEY is not set or empty (export OPENAI_API_KEY=sk-...)"
    return None


@register_backend(
    "openai", OpenAIOptions, "OpenAI API or any OpenAI-compatible server (--base-url; --api completions|chat, detected by default)", check=_check_openai
)
def build_openai(options: OpenAIOptions, seed: int) -> OpenAIBackend:
    return OpenAIBackend(
        model=options.model, base_url=options.base_url, seed=seed, api=options.api, timeout_s=options.timeout_s, max_retries=options.max_retries,
        template_path=options.model_path,
    )
