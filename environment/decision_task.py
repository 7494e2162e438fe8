"""The text face of a decision problem: what the LLM-in-the-loop agent needs to play it.

A decision problem is a Gymnasium environment (the vector face, for DRL and solvers)
plus a `DecisionTask` (the text face, for the agent, its experience pool, its prompts,
the rollout and the benches). The agent never knows which problem it plays: it reads
the state's keywords, chooses among the candidates open at this step, and learns from
the feedback. Adding a problem is an env, a task and a prompt folder `prompts/<name>/`.

Zhou et al. (papers/icl-task-offloading.txt) III-A in these terms: the keywords are x
of eq. (8), an experience example E_e of eq. (9) is (keywords, decision, reward,
evaluation), the candidates are the answers y scored by eq. (5)-(6), and the feedback
is the reward (10) with the constraint check of step 3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Candidate:
    """One decision open at a step.

    Attributes
    ----------
    label: the decision as the model reads and names it ("local", "node 3", "evict llama-65b").
    action: the environment action it stands for.
    features: numbers that describe this candidate at this step (a node's queue delay and
        link delay, a cached model's AoT), shown in the prompt and kept with a pool example,
        so that a decision means something in the next instance, where labels may not.
    """

    label: str
    action: int
    features: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Feedback:
    """What a decision earned: the reward, and whether the problem's constraint held (step 3 of III-A)."""

    reward: float
    constraint_met: bool


@runtime_checkable
class DecisionTask(Protocol):
    """The text face of one decision problem.

    Attributes
    ----------
    name: selects the prompt folder `prompts/<name>/`.
    decisions: every label a candidate can carry, in a fixed order (for the task
        description, and the labels a fallback may name).
    content_free: keywords of the content-free query used for calibration ("N/A" each).
    """

    name: str
    decisions: tuple[str, ...]
    content_free: Mapping[str, str]

    def keywords(self, info: Mapping[str, Any]) -> Mapping[str, str]:
        """The state's named fields as text, in a fixed order (the most telling first)."""
        ...

    def candidates(self, info: Mapping[str, Any]) -> Sequence[Candidate]:
        """The decisions open at this step (they may change from step to step)."""
        ...

    def feedback(self, step_info: Mapping[str, Any]) -> Feedback:
        """The reward and constraint check of the decision `env.step` just evaluated."""
        ...

    def row(self, step: int, action: int, reward: float, step_info: Mapping[str, Any]) -> dict[str, Any]:
        """One tidy CSV row for the decision taken at `step`."""
        ...

    def metrics(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The run summary of a list of rows (as `row` made them)."""
        ...
