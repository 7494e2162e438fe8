"""A persistent cache of LLM calls, shared by runs, benches and sweep workers.

Many LLM calls of an experiment repeat exactly: the same pool and the same query give the
same prompt, and scoring it (eq. 5 of Zhou et al., papers/icl-task-offloading.txt) gives
the same log-probabilities. `CachedBackend` wraps any backend (same `score` / `complete`
protocol) and answers a call it has seen from a store on disk: a diskcache (SQLite) in
`cache_dir()/llm-calls` (~/.cache/edge-icl by default; `EDGE_ICL_CACHE` moves it), safe
for several processes at once (Ray workers, parallel benches).

The key of a call is everything its answer depends on: the backend's name, the model's
identity (`model_identity`: the sha256 of a local model file, e.g. a GGUF; for a hosted
model its name, base URL and API), the full rendered messages, the call (score with its
candidates, or complete with its length) and the sampling settings. Not in the key: the
run seed (decoding is greedy, so it changes nothing) and speed settings (threads, prefix
reuse; they change the numbers only in their last bits, see test_backend_llama_cpp).

What is cacheable: a score call is deterministic and always is; a completion only when the
backend decodes greedily (temperature 0). Every backend of this project decodes greedily;
a backend that samples says so with a `temperature` attribute above 0, and its
completions then always go to the model.

What is stored: only an answer that was read. A call's reader says what it can read with
`accept` (a predicate on the result; the agent passes its own: a completion whose reply
parses into one of the open decisions, a score where some candidate was seen); without
one, the cache's own rule (`readable`): no unreadable server body (`raw_reply`), and for a
score some candidate seen. An answer not accepted is returned (the agent counts its
fallback) and never stored, so a broken server's replies are asked again once it is
fixed. The same predicate is applied to a stored answer before it is used: one that
fails it (stored before this rule existed, or no longer read by today's parser) is not a
hit but asked again (status `stale`) and removed unless the new answer is accepted. This
re-asks exactly the unread entries and keeps the good ones, so CACHE_FORMAT stays (a
bump would re-ask every stored call, hours of LLM time for no change in the answers).

Modes (`AgentSettings.llm_cache`, flag `--llm-cache`): `on` reads and writes; `refresh`
never reads, calls the model and overwrites the stored answer; `off` touches no disk.
A result says what happened in `extra["llm_cache"]` (`cache_facts` turns it into the
transcript's `cache: hit|miss|stale|refresh|bypass` and, for a hit, `saved_latency_s`: the
latency of the original call). A hit's `latency_s` is the lookup's own time and its
`evaluated_tokens` 0: nothing ran through the model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agent.backends.base import Completion, LLMBackend, Message, Scores

CacheMode = Literal["on", "off", "refresh"]
# Whether a call's result was read (only then is it stored or used from the store).
Accept = Callable[[Any], bool]
# Part of every key: bump it when what is stored, or how a key is made, changes.
CACHE_FORMAT = 1
CALLS_FOLDER = "llm-calls"


def cache_dir() -> Path:
    """The cache folder: $EDGE_ICL_CACHE, else ~/.cache/edge-icl (model copies and LLM calls)."""
    from agent.backends.llama_cpp import cache_dir as backend_cache_dir

    return backend_cache_dir()


def _store(folder: Path) -> Any:
    """The diskcache store in `folder`, opened once per process."""
    key = str(folder)
    store = _STORES.get(key)
    if store is None:
        import diskcache

        folder.mkdir(parents=True, exist_ok=True)
        store = _STORES[key] = diskcache.Cache(key)
    return store


_STORES: dict[str, Any] = {}
_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path, store: Any | None = None) -> str:
    """The sha256 (16 hex digits) of a model file, computed once per file version.

    Remembered by path, size and modification time, in this process and in the store
    (so Ray workers and later runs do not hash a multi-GB GGUF again).
    """
    from agent.backends.llama_cpp import _file_digest

    stat = path.stat()
    memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    digest = _DIGESTS.get(memo)
    if digest is None and store is not None:
        digest = store.get(("file-digest", *memo))
    if digest is None:
        digest = _file_digest(path)
        if store is not None:
            store.set(("file-digest", *memo), digest)
    _DIGESTS[memo] = digest
    return digest


def model_identity(backend: LLMBackend, store: Any | None = None) -> dict[str, Any]:
    """What names the model behind `backend`, for the cache key.

    A backend may say it itself with a `cache_identity()` method; otherwise: the content
    hash of its local model file (attribute `model_path`) when it has one, else its
    model name with the server's `base_url` and `api` where it has them.
    """
    identity: dict[str, Any] = {"backend": backend.name}
    own = getattr(backend, "cache_identity", None)
    if callable(own):
        return {**identity, **own()}
    path = getattr(backend, "model_path", None)
    if path is not None and Path(path).is_file():
        return {**identity, "file_sha256": file_digest(Path(path), store)}
    identity["model"] = backend.model
    for attribute in ("base_url", "api"):
        value = getattr(backend, attribute, None)
        identity[attribute] = None if value is None else str(value)
    return identity


def call_key(identity: dict[str, Any], call: dict[str, Any]) -> str:
    """The sha256 of a call's canonical JSON: the model's identity and the call."""
    payload = {"format": CACHE_FORMAT, "model": identity, **call}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True)
class CachedCompletion(Completion):
    """A `Completion` that says what the cache did (`extra["llm_cache"]`), as `Scores.extra` does."""

    extra: dict[str, object] = field(default_factory=dict)


def cache_facts(result: object) -> dict[str, Any]:
    """The transcript's fields for what the cache did for one call: `cache` and, for a hit, `saved_latency_s`."""
    facts = (getattr(result, "extra", None) or {}).get("llm_cache")
    if not isinstance(facts, dict):
        return {}
    return {"cache": facts["status"], **({"saved_latency_s": facts["saved_latency_s"]} if "saved_latency_s" in facts else {})}


def readable(result: Completion | Scores) -> bool:
    """The cache's own rule for what it may store: no unreadable server body, and for a score some candidate seen."""
    if getattr(result, "raw_reply", None) is not None:
        return False
    return bool(result.seen()) if isinstance(result, Scores) else True


@dataclass
class CacheStats:
    """What one wrapper did: calls asked of it, calls answered by the model, hits, seconds saved."""

    calls: int = 0
    hits: int = 0
    saved_latency_s: float = 0.0

    @property
    def model_calls(self) -> int:
        return self.calls - self.hits


class CachedBackend:
    """Any `LLMBackend`, its calls answered from the persistent cache where they can be.

    Parameters
    ----------
    inner: the backend that answers misses.
    mode: "on" | "refresh" | "off" (see the module note); "off" only counts calls.
    folder: the store's folder (None: `cache_dir()/llm-calls`).
    """

    def __init__(self, inner: LLMBackend, mode: CacheMode = "on", folder: Path | None = None) -> None:
        if mode not in ("on", "off", "refresh"):
            raise ValueError(f"--llm-cache: unknown mode {mode!r}; choose on, off or refresh")
        self.inner = inner
        self.mode = mode
        self.stats = CacheStats()
        self._store = None if mode == "off" else _store(folder or cache_dir() / CALLS_FOLDER)
        self._identity = None if mode == "off" else model_identity(inner, self._store)

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def model(self) -> str:
        return self.inner.model

    def __getattr__(self, attribute: str) -> Any:  # the wrapped backend's other attributes (render, llm, ...)
        if attribute == "inner":
            raise AttributeError(attribute)
        return getattr(self.inner, attribute)

    def cache_stats(self) -> dict[str, Any]:
        """The run summary's cache facts."""
        return {
            "llm_cache": self.mode,
            "model_calls": self.stats.model_calls,
            "cache_hits": self.stats.hits,
            "saved_latency_s": self.stats.saved_latency_s,
        }

    def greedy(self) -> bool:
        """Whether the wrapped backend's completions are deterministic (temperature 0): the rule for caching them."""
        return float(getattr(self.inner, "temperature", 0.0) or 0.0) == 0.0

    # --- the protocol ---------------------------------------------------------------
    def score(self, prompt: list[Message], candidates: list[str], accept: Accept | None = None) -> Scores:
        """`inner.score`, or its stored answer: score calls are deterministic, always cacheable.
        `accept`: whether a result was read (module note); default `readable`."""
        call = {"call": "score", "messages": list(prompt), "candidates": list(candidates)}
        return self._answer(call, Scores, lambda: self.inner.score(prompt, candidates), accept or readable)

    def complete(self, messages: list[Message], max_tokens: int = 8, accept: Accept | None = None) -> Completion:
        """`inner.complete`, or its stored answer when the backend decodes greedily; `accept` as for `score`."""
        call = {"call": "complete", "messages": list(messages), "max_tokens": max_tokens, "temperature": 0.0}
        return self._answer(call, CachedCompletion, lambda: self.inner.complete(messages, max_tokens), accept or readable, cacheable=self.greedy())

    def _answer(self, call: dict[str, Any], kind: type, ask: Any, accept: Accept, cacheable: bool = True) -> Any:
        self.stats.calls += 1
        if self._store is None or not cacheable:
            return _marked(kind, ask(), {"status": "bypass"} if self._store is not None else None)
        started = time.perf_counter()
        key = call_key(self._identity, call)
        status = "miss" if self.mode == "on" else "refresh"
        stale = False
        if self.mode == "on":
            stored = self._store.get(key)
            if stored is not None:
                fields = {**stored, "latency_s": time.perf_counter() - started, "evaluated_tokens": 0}
                hit = _rebuild(kind, fields)
                if accept(hit):
                    self.stats.hits += 1
                    self.stats.saved_latency_s += stored["latency_s"]
                    return _marked(kind, hit, {"status": "hit", "saved_latency_s": stored["latency_s"]})
                status, stale = "stale", True  # stored before answers were checked, or unread by today's reader
        result = ask()
        if accept(result):
            self._store.set(key, _fields(result))
        elif stale:
            self._store.delete(key)
        return _marked(kind, result, {"status": status})


def _fields(result: Any) -> dict[str, Any]:
    """A result's fields as a plain mapping (what the store keeps), without the cache's own mark."""
    values = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    if isinstance(values.get("extra"), dict):
        values["extra"] = {k: v for k, v in values["extra"].items() if k != "llm_cache"}
    return values


def _rebuild(kind: type, fields: dict[str, Any]) -> Any:
    """A result of type `kind` from stored fields (fields the type no longer has are dropped)."""
    known = {f.name for f in dataclasses.fields(kind)}
    return kind(**{k: v for k, v in fields.items() if k in known})


def _marked(kind: type, result: Any, facts: dict[str, Any] | None) -> Any:
    """`result` as a `kind` whose `extra` says what the cache did (unchanged when `facts` is None)."""
    if facts is None:
        return result
    values = _fields(result)
    values["extra"] = {**(values.get("extra") or {}), "llm_cache": facts}
    return _rebuild(kind, values)


def with_llm_cache(backend: LLMBackend, mode: CacheMode) -> CachedBackend:
    """`backend` behind the cache in `mode` (a backend already wrapped is rewrapped, not stacked)."""
    inner = backend.inner if isinstance(backend, CachedBackend) else backend
    return CachedBackend(inner, mode)


def ask(backend: LLMBackend, call: Literal["score", "complete"], *args: Any, accept: Accept) -> Any:
    """`backend.score(*args)` or `backend.complete(*args)`, telling the cache (when `backend` is behind one)
    which result it may keep: the one mechanism by which a reader keeps unread answers out of the store."""
    method = getattr(backend, call)
    return method(*args, accept=accept) if isinstance(backend, CachedBackend) else method(*args)


def calls_folder() -> Path:
    """Where the LLM calls are stored now (`cache_dir()/llm-calls`)."""
    return cache_dir() / CALLS_FOLDER


__all__ = ["Accept", "CacheMode", "CachedBackend", "CachedCompletion", "ask", "cache_facts", "calls_folder", "model_identity", "readable", "with_llm_cache"]
