"""A Hugging Face causal LM through transformers, scored from its logits (eq. 5).

Zhou et al. (papers/icl-task-offloading.txt) eq. (5): log Pr(y|prompt) of each whole
candidate answer, from one forward pass over prompt + answer. `model_path` is a local
folder or hub id; a `.gguf` file (such as the bundled SmolLM2) is loaded through
transformers' GGUF support (needs the `gguf` and `accelerate` packages), which
dequantizes it to float32.

Context window: the model's `max_position_embeddings` (its config), the most positions
it has; the ICL agent holds each prompt to it (agent/context_window.py). There is no
option to set it: transformers allocates nothing for the window up front.
"""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import Field

from agent.backends.base import BackendUnavailable, Completion, Message, Scores
from agent.backends.registry import missing_modules, register_backend
from environment.config import StrictConfig


class TransformersBackend:
    """A causal LM run by transformers on the CPU.

    Parameters
    ----------
    model_path: a local model folder, a hub id, or a GGUF file; None for the bundled SmolLM2 GGUF.
    seed: torch's seed (decoding is greedy).
    """

    name = "transformers"

    def __init__(self, model_path: str | Path | None = None, seed: int = 0) -> None:
        try:
            import torch
            import transformers
        except ImportError:
            raise BackendUnavailable(
                "the transformers backend needs transformers, gguf and accelerate: pip install 'edge-icl[transformers]'"
            ) from None
        from agent.backends.bundled_model import bundled_model_path

        path = Path(model_path) if model_path is not None else bundled_model_path()
        if path.is_file() and path.suffix != ".gguf":
            raise BackendUnavailable(f"--model-path: {path} is a file but not a GGUF; give a model folder, a hub id or a .gguf file")
        kwargs = {"gguf_file": path.name} if path.suffix == ".gguf" else {}
        source = str(path.parent) if path.suffix == ".gguf" else str(path)
        torch.manual_seed(seed)
        self._torch = torch
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(source, **kwargs)
            self.lm = transformers.AutoModelForCausalLM.from_pretrained(source, **kwargs).eval()
        except (OSError, ValueError) as error:  # not a model, or a hub id that cannot be fetched here
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise BackendUnavailable(f"--model-path: transformers cannot load {model_path or path}: {first}") from None
        self.model = path.name
        self.model_path = path  # a local file is named by its content in the LLM call cache
        positions = getattr(self.lm.config, "max_position_embeddings", None)
        self.context_window: int | None = int(positions) if isinstance(positions, int) and positions > 0 else None

    def render(self, messages: list[Message]) -> str:
        """The prompt text in the model's chat template; a last assistant message is a prefill the reply continues."""
        if messages and messages[-1]["role"] == "assistant":
            head = self.tokenizer.apply_chat_template(list(messages[:-1]), add_generation_prompt=True, tokenize=False)
            return head + messages[-1]["content"]
        return self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)

    def count_tokens(self, text: str) -> int:
        """How many tokens `text` takes in the window, as `_prompt_ids` tokenizes a prompt (agent/context_window.py)."""
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def _prompt_ids(self, messages: list[Message]) -> list[int]:
        return self.tokenizer.encode(self.render(messages), add_special_tokens=False)

    def score(self, prompt: list[Message], candidates: list[str]) -> Scores:
        """log Pr(answer | prompt) of each whole candidate: eq. (5).

        A whole answer ends the assistant's turn (its end-of-turn token is scored too);
        after an assistant prefill the candidates are continuations scored as given, as
        in the llama-cpp backend.
        """
        started = time.perf_counter()
        prompt_ids = self._prompt_ids(prompt)
        ending = [] if prompt and prompt[-1]["role"] == "assistant" else [self.tokenizer.eos_token_id]
        logprobs: dict[str, float] = {}
        for candidate in candidates:
            answer = self.tokenizer.encode(candidate, add_special_tokens=False) + ending
            ids = self._torch.tensor([prompt_ids + answer])
            with self._torch.no_grad():
                log_softmax = self.lm(ids).logits[0].float().log_softmax(-1)
            positions = range(len(prompt_ids) - 1, len(prompt_ids) - 1 + len(answer))
            logprobs[candidate] = float(sum(log_softmax[p, t] for p, t in zip(positions, answer)))
        return Scores(logprobs=logprobs, method="logits", prompt_tokens=len(prompt_ids), latency_s=time.perf_counter() - started)

    def complete(self, messages: list[Message], max_tokens: int = 8) -> Completion:
        """Greedy reply."""
        started = time.perf_counter()
        prompt_ids = self._prompt_ids(messages)
        with self._torch.no_grad():
            out = self.lm.generate(self._torch.tensor([prompt_ids]), max_new_tokens=max_tokens, do_sample=False)
        new = out[0][len(prompt_ids) :].tolist()
        return Completion(
            text=self.tokenizer.decode(new, skip_special_tokens=True),
            prompt_tokens=len(prompt_ids),
            completion_tokens=len(new),
            latency_s=time.perf_counter() - started,
            evaluated_tokens=len(prompt_ids),
        )


class TransformersOptions(StrictConfig):
    """Options of the transformers backend."""

    model_path: str | None = Field(None, description="A local model folder, hub id or GGUF file (default: the bundled SmolLM2 GGUF).")


def _check_transformers() -> str | None:
    missing = missing_modules("transformers", "torch", "gguf", "accelerate")
    return f"{', '.join(missing)} not installed: pip install 'edge-icl[transformers]'" if missing else None


@register_backend("transformers", TransformersOptions, "a Hugging Face causal LM (local folder, hub id or GGUF)", check=_check_transformers)
def build_transformers(options: TransformersOptions, seed: int) -> TransformersBackend:
    return TransformersBackend(model_path=options.model_path, seed=seed)
