"""How chat messages become the prompt text a model reads: one function for every backend that renders.

The llama-cpp backend and the openai backend on a completions API (Zhou et al.,
papers/icl-task-offloading.txt, eq. 5: f_LLM scores each candidate answer after the
prompt) must score the very same text, so both render through `ChatTemplate.render`:
the model's Jinja chat template (from its GGUF metadata), and a last assistant message
as a prefill that the reply continues. `eos_token` is the end-of-turn text scored after
a whole answer.

Where a template comes from (`load_chat_template`): a GGUF file (its
`tokenizer.chat_template` and its BOS/EOS tokens), a `.jinja` file (the template alone;
the end-of-turn text is read off the template's own rendering of an assistant turn),
or, by default, the bundled SmolLM2-135M-Instruct GGUF.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.backends.base import BackendUnavailable, Message
from environment.config import not_utf8

# llama.cpp's OpenMP workers spin while waiting by default (see llama_cpp.py); set before it loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# ChatML, the format of SmolLM2-Instruct; used when a GGUF carries no chat template.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
_PROBE = "\x00answer\x00"


@dataclass(frozen=True)
class ChatTemplate:
    """A model's chat template with the special texts it uses.

    Attributes
    ----------
    template: the Jinja source (Hugging Face chat-template conventions).
    bos_token, eos_token: the texts of the model's BOS and EOS tokens; `eos_token` ends a
        whole answer (scored after it when there is no prefill).
    source: where the template was read (for error messages).
    """

    template: str
    bos_token: str
    eos_token: str
    source: str = "built-in ChatML"

    def render(self, messages: list[Message]) -> str:
        """The prompt text the model sees: the messages in the chat template, ready for the assistant's reply.

        A last message from the assistant is a prefill: the reply continues its text.
        """
        if messages and messages[-1]["role"] == "assistant":
            return self._format(list(messages[:-1])) + messages[-1]["content"]
        return self._format(list(messages))

    def _format(self, messages: list[Message]) -> str:
        return self._formatter()(messages=messages).prompt

    def _formatter(self) -> Any:
        formatter = _FORMATTERS.get(self)
        if formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            formatter = Jinja2ChatFormatter(template=self.template, eos_token=self.eos_token, bos_token=self.bos_token, add_generation_prompt=True)
            _FORMATTERS[self] = formatter
        return formatter


_FORMATTERS: dict[ChatTemplate, Any] = {}


def template_of_model(llm: Any, source: str) -> ChatTemplate:
    """The chat template of a loaded `llama_cpp.Llama` (GGUF metadata; ChatML when it carries none)."""
    model = llm._model
    return ChatTemplate(
        template=llm.metadata.get("tokenizer.chat_template") or CHATML_TEMPLATE,
        bos_token=model.token_get_text(llm.token_bos()) if llm.token_bos() >= 0 else "",
        eos_token=model.token_get_text(llm.token_eos()) if llm.token_eos() >= 0 else "",
        source=source,
    )


def template_of_gguf(path: Path) -> ChatTemplate:
    """The chat template in a GGUF file's metadata, read without loading its weights."""
    try:
        from llama_cpp import Llama
        from llama_cpp._utils import suppress_stdout_stderr
    except ImportError as error:  # pragma: no cover - a default dependency
        raise BackendUnavailable(f"reading a chat template from a GGUF needs llama-cpp-python ({error})") from None
    try:
        with suppress_stdout_stderr(disable=False):
            vocab = Llama(model_path=str(path), vocab_only=True, verbose=False)
    except (ValueError, RuntimeError) as error:
        raise BackendUnavailable(f"--model-path: cannot read {path} as a GGUF ({error})") from None
    return template_of_model(vocab, str(path))


def template_of_jinja(path: Path) -> ChatTemplate:
    """A Jinja chat template file; its end-of-turn text is what the template writes right after an assistant answer."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise BackendUnavailable(f"--model-path: {not_utf8(path, error)}") from None
    template = ChatTemplate(template=text, bos_token="", eos_token="", source=str(path))
    try:
        turn = template._format([{"role": "user", "content": "u"}, {"role": "assistant", "content": _PROBE}])
    except Exception as error:  # a broken template: jinja's errors have no common base here
        raise BackendUnavailable(f"--model-path: {path} does not render a chat ({type(error).__name__}: {error})") from None
    after = turn.split(_PROBE, 1)[1] if _PROBE in turn else ""
    end_of_turn = after.split("\n", 1)[0].strip()
    if not end_of_turn:
        raise BackendUnavailable(f"--model-path: {path} writes no end-of-turn text after an answer; give the model's GGUF instead")
    return ChatTemplate(template=template.template, bos_token="", eos_token=end_of_turn, source=str(path))


def load_chat_template(path: str | Path | None = None) -> ChatTemplate:
    """The chat template from a GGUF or `.jinja` file; None: the bundled SmolLM2-135M-Instruct GGUF's."""
    if path is None:
        from agent.backends.bundled_model import bundled_model_path

        return template_of_gguf(bundled_model_path())
    path = Path(path)
    if not path.is_file():
        raise BackendUnavailable(f"--model-path: no chat template file (GGUF or .jinja) at {path}")
    if path.suffix == ".jinja":
        return template_of_jinja(path)
    return template_of_gguf(path)
