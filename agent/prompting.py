"""Render the ICL prompt from template files: D (eq. 7), examples (eq. 9), query (eq. 8).

Zhou et al. (papers/icl-task-offloading.txt) III-A. A prompt variant is a folder with
`system.j2` (the task description D), `example.j2` (one example E_e), `query.j2` (the
query x with the candidates open at this step) and `user.j2` (how examples and query
make the user message); optional `answer_prefix.j2` (the start of the assistant's
reply) and `answer.j2` (each candidate answer y as scored). The stable part of the
prompt (D and the pool in a fixed order) comes first so a backend can reuse the KV
cache of that prefix; the variable part (closest examples, query) comes last. The
default folder of a problem is `prompts/<task.name>/`.

What the templates see:
- system.j2: `decisions` (every label the task knows);
- example.j2: `keywords` (name -> value), `decision`, `features` (name -> number),
  `reward`, `evaluation`;
- query.j2: `keywords`, `candidates` (each with `label` and `features`);
- user.j2: `examples` and `relevant` (rendered), `relevant_experiences` (as in
  example.j2), `query`, `candidates`, `variable_marker` (render it exactly once);
- answer_prefix.j2: `query`; answer.j2: `decision` (a candidate's label).

A prompt folder is someone else's code (a colleague's variant, a sweep spec's
`prompt`), so its templates run in Jinja's ImmutableSandboxedEnvironment: no attribute
that starts with `_` (the `cycler.__init__.__globals__.os` way out to Python), no
unsafe `str.format`, no mutation of Python objects. A template that tries is a
PromptError naming its file. The packaged prompts render the same text as under a plain
Environment (tests/test_prompting.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from agent.backends.base import Message
from agent.decision_parser import parse_decision  # noqa: F401  (re-exported: backends parse replies too)
from agent.experience import Experience, Keywords, as_keywords
from environment.config import not_utf8
from environment.decision_task import Candidate, DecisionTask

TEMPLATE_FILES = ("system.j2", "example.j2", "query.j2", "user.j2")
OPTIONAL_FILES = ("answer_prefix.j2", "answer.j2")
_MARKER = "\x00variable\x00"


class PromptError(ValueError):
    """A prompt folder that cannot be used; the message is one line."""


def default_prompt_dir(task_name: str = "offloading") -> Path:
    """The packaged prompt folder of a decision problem, `prompts/<task_name>`."""
    return Path(str(files("prompts").joinpath(task_name)))


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


def example_view(experience: Experience) -> dict[str, Any]:
    """An experience as the templates see it (keywords and features as name -> value)."""
    return {
        "keywords": dict(experience.keywords),
        "decision": experience.decision,
        "features": dict(experience.features),
        "reward": experience.reward,
        "evaluation": experience.evaluation,
    }


class TaskPrompt:
    """The templates of one prompt folder, for one decision problem.

    Parameters
    ----------
    folder: a folder holding TEMPLATE_FILES; None for the packaged `prompts/<task.name>`.
    task: the decision problem (its decisions, its content-free keywords).
    """

    # The templates' environment: sandboxed (see the module note); a test renders with a plain one to compare.
    environment_class: type[jinja2.Environment] = ImmutableSandboxedEnvironment

    def __init__(self, folder: str | Path | None, task: DecisionTask) -> None:
        self.folder = Path(folder) if folder is not None else default_prompt_dir(task.name)
        if not self.folder.is_dir():
            raise PromptError(f"--prompt: {self.folder} is not a folder")
        missing = [name for name in TEMPLATE_FILES if not (self.folder / name).is_file()]
        if missing:
            raise PromptError(f"--prompt: {self.folder} lacks {', '.join(missing)}")
        environment = self.environment_class(
            loader=jinja2.FileSystemLoader(str(self.folder)), undefined=jinja2.StrictUndefined, keep_trailing_newline=False
        )
        present = [n for n in OPTIONAL_FILES if (self.folder / n).is_file()]
        self._templates = {}
        for name in (*TEMPLATE_FILES, *present):
            try:
                self._templates[name] = environment.get_template(name)
            except jinja2.TemplateSyntaxError as error:
                raise PromptError(f"--prompt: {error.filename}:{error.lineno}: {error.message}") from None
            except UnicodeDecodeError as error:
                raise PromptError(f"--prompt: {not_utf8(self.folder / name, error)}") from None
        self.task = task
        self.decisions = task.decisions
        self.system = self._render("system.j2", decisions=task.decisions)
        self.check()

    def _render(self, name: str, **values: object) -> str:
        try:
            return self._templates[name].render(**values).strip("\n")
        except jinja2.UndefinedError as error:
            raise PromptError(f"--prompt: {self.folder / name}: {error.message}") from None
        except (jinja2.TemplateError, TypeError, ValueError, KeyError, AttributeError) as error:
            raise PromptError(f"--prompt: {self.folder / name}: {type(error).__name__}: {error}") from None

    def answer(self, label: str) -> str:
        """The candidate answer y of eq. (5)-(6) as the model sees it."""
        return self._render("answer.j2", decision=label) if "answer.j2" in self._templates else label

    def answers(self, candidates: Sequence[Candidate]) -> list[str]:
        """The scored answers of the open candidates, in candidate order."""
        return [self.answer(c.label) for c in candidates]

    def check(self) -> None:
        """Render every template once with a sample state, so a broken folder fails before any step.

        Raises PromptError (one line) for an undefined variable, a user.j2 that does not
        render `variable_marker` exactly once, or answers that cannot be told apart.
        """
        answers = [self.answer(label) for label in self.decisions]
        if len(set(answers)) != len(answers):
            raise PromptError(f"--prompt: {self.folder / 'answer.j2'} renders equal answers for different decisions: {answers}")
        self.sample(pool=1, relevant=1)

    def sample(self, pool: int, relevant: int) -> RenderedPrompt:
        """The prompt of a sample state: the content-free keywords, every decision open, `pool` pool
        examples and `relevant` closest examples (a sample experience each)."""
        keywords = as_keywords(self.task.content_free)
        candidates = [Candidate(label, action) for action, label in enumerate(self.decisions)]
        example = Experience(keywords, self.decisions[0], 0.0, "good", 0)
        return self.render([example] * pool, [example] * relevant, keywords, candidates)

    def example(self, experience: Experience) -> str:
        """One example E_e in the format of eq. (9)."""
        return self._render("example.j2", **example_view(experience))

    def render(
        self, pool: list[Experience], relevant: list[Experience], keywords: Keywords | Mapping[str, str], candidates: Sequence[Candidate]
    ) -> RenderedPrompt:
        """Messages for one decision: system D; user = pool (stable), closest examples and query x (variable).

        With `answer_prefix.j2` the query opens the assistant's reply (a prefill) instead.
        """
        shown = [{"label": c.label, "features": dict(c.features)} for c in candidates]
        query = self._render("query.j2", keywords=dict(as_keywords(keywords)), candidates=shown)
        prefill = self._render("answer_prefix.j2", query=query) if "answer_prefix.j2" in self._templates else None
        user = self._render(
            "user.j2",
            examples=[self.example(e) for e in pool],
            relevant=[self.example(e) for e in relevant],
            relevant_experiences=[example_view(e) for e in relevant],  # for variants that format them their own way
            query=query,
            candidates=shown,
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
