"""The no-LLM baselines of the ICL agent, by name, built like the agent: `(task, settings, seed, transcript, held_out)`.

Every bench where the ICL agent plays runs these beside it on the same streams
(docs/architecture.md, "What the LLM adds is always measured"):

- `lookup` (agent.baselines.lookup): the agent with its LLM call replaced by the decision of the
  closest good example: same pool, exploration, fallback;
- `bandit` (agent.baselines.bandit): UCB1 per keyword combination, or LinUCB where candidates
  carry features.

A bench adds both with one line: `NO_LLM_BASELINES[name](task, settings, seed, transcript=..., held_out=...)`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from agent.experience import Keywords
from agent.settings import AgentSettings
from environment.decision_task import DecisionTask
from agent.baselines.bandit import ContextualBandit
from agent.baselines.lookup import LookupAgent
from environment.policy import Policy

BaselineFactory = Callable[..., Policy]


def build_lookup(
    task: DecisionTask, settings: AgentSettings, seed: int, transcript: Any = None, held_out: Collection[Keywords] = ()
) -> LookupAgent:
    return LookupAgent.from_settings(task, settings, seed, transcript=transcript, held_out=held_out)


NO_LLM_BASELINES: dict[str, BaselineFactory] = {
    "lookup": build_lookup,
    "bandit": ContextualBandit.from_settings,
}
