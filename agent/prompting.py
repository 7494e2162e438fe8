"""Render the ICL prompt from template files: D (eq. 7), examples (eq. 9), query (eq. 8).

Zhou et al. (papers/icl-task-offloading.txt) III-A. A prompt variant is a folder with
`system.j2` (the task description D), `example.j2` (one example E_e), `query.j2` (the
query x) and `user.j2` (how examples and query make the user message). The stable part
of the prompt (D and the pool in a fixed order) comes first so a backend can reuse the
KV cache of that prefix; the variable part (closest examples, query) comes last.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import jinja2

from agent.backends.base import Message
from agent.decision_parser import parse_decision  # noqa: F401  (re-exported: backends parse replies too)
from agent.experience import Experience, Keywords

TEMPLATE_FILES = ("system.j2", "example.j2", "query.j2", "user.j2")
OPTIONAL_FILES = ("answer_prefix.j2", "answer.j2")
_MARKER = "\x00variable\x00"


class PromptError(ValueError):
    """A prompt folder that cannot be used; the message is one line."""


def default_prompt_dir() -> Path:
    """The packaged default prompt folder, `prompts/offloading`."""
    return Path(str(files("prompts").joinpath("offloading")))


@dataclass(frozen=True)
class RenderedPrompt:
    """A prompt as chat messages, with its stable and variable parts for the transcript."""

    messages: list[Message]
    stable: str
    variable: str

    @property
    def stable_hash(self) -> str:
        """Short sha256 of the stable part (D and the pool)."""
        return hashlib.sha256(self.stable.encode()).hexdigest()[:16]


class OffloadingPrompt:
    """The templates of one prompt folder.

    Parameters
    ----------
    folder: a folder holding TEMPLATE_FILES; None for the packaged default.
    decisions: the candidate answers, in action order.
    """

    def __init__(self, folder: str | Path | None, decisions: tuple[str, ...]) -> None:
        self.folder = Path(folder) if folder is not None else default_prompt_dir()
        if not self.folder.is_dir():
            raise PromptError(f"--prompt: {self.folder} is not a folder")
        missing = [name for name in TEMPLATE_FILES if not (self.folder / name).is_file()]
        if missing:
            raise PromptError(f"--prompt: {self.folder} lacks {', '.join(missing)}")
        environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(self.folder)), undefined=jinja2.StrictUndefined, keep_trailing_newline=False
        )
        try:
            present = [n for n in OPTIONAL_FILES if (self.folder / n).is_file()]
            self._templates = {name: environment.get_template(name) for name in (*TEMPLATE_FILES, *present)}
        except jinja2.TemplateSyntaxError as error:
            raise PromptError(f"--prompt: {error.filename}:{error.lineno}: {error.message}") from None
        self.decisions = decisions
        self.system = self._render("system.j2", decisions=decisions)
        # The candidate answers y of eq. (5)-(6) as the model sees them, in action order.
        answer = self._templates.get("answer.j2")
        self.answers = [self._render("answer.j2", decision=d) if answer else d for d in decisions]
        self.check()

    def check(self) -> None:
        """Render every template once with a sample state, so a broken folder fails before any step.

        Raises PromptError (one line) for an undefined variable, a user.j2 that does not
        render `variable_marker` exactly once, or answers that cannot be told apart.
        """
        if len(set(self.answers)) != len(self.answers):
            raise PromptError(f"--prompt: {self.folder / 'answer.j2'} renders equal answers for different decisions: {self.answers}")
        sample_keywords: Keywords = ("N/A", "N/A")
        sample = Experience(sample_keywords, self.decisions[0], 0.0, "good", 0)
        self.render([sample], [sample], sample_keywords)

    def _render(self, name: str, **values: object) -> str:
        try:
            return self._templates[name].render(**values).strip("\n")
        except jinja2.UndefinedError as error:
            raise PromptError(f"--prompt: {self.folder / name}: {error.message}") from None
        except (jinja2.TemplateError, TypeError, ValueError) as error:
            raise PromptError(f"--prompt: {self.folder / name}: {type(error).__name__}: {error}") from None

    def example(self, experience: Experience) -> str:
        """One example E_e in the format of eq. (9)."""
        keywords = {"service_type": experience.keywords[0], "token_size": experience.keywords[1]}
        return self._render(
            "example.j2", keywords=keywords, decision=experience.decision, reward=experience.reward, evaluation=experience.evaluation
        )

    def render(self, pool: list[Experience], relevant: list[Experience], keywords: Keywords) -> RenderedPrompt:
        """Messages for one decision: system D; user = pool (stable), closest examples and query x (variable).

        With `answer_prefix.j2` the query opens the assistant's reply (a prefill) instead.
        """
        query = self._render("query.j2", keywords={"service_type": keywords[0], "token_size": keywords[1]})
        prefill = self._render("answer_prefix.j2", query=query) if "answer_prefix.j2" in self._templates else None
        user = self._render(
            "user.j2",
            examples=[self.example(e) for e in pool],
            relevant=[self.example(e) for e in relevant],
            relevant_experiences=relevant,  # for variants that format them their own way
            query=query,
            variable_marker=_MARKER,
        )
        if user.count(_MARKER) != 1:
            raise PromptError(f"--prompt: {self.folder / 'user.j2'} must render variable_marker exactly once")
        stable_user, variable = user.split(_MARKER)
        messages: list[Message] = [{"role": "system", "content": self.system}, {"role": "user", "content": stable_user + variable}]
        if prefill is not None:
            messages.append({"role": "assistant", "content": prefill})
            variable = f"{variable}\n[assistant] {prefill}"
        return RenderedPrompt(messages=messages, stable=self.system + "\n" + stable_user, variable=variable)

