"""The decision problems a command can run, by name: their config, env, task and non-LLM policies.

One entry per problem package of `environment/`; `edge-icl run --problem NAME`, the
benches and sweeps look problems up here, so a new problem registers itself with
`register_problem` in its bench module and every command can run it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
from pydantic import BaseModel

from agent.settings import AgentSettings
from environment.association import AssociationEnv, AssociationTask, association_env_config
from environment.caching import CachingEnv, CachingTask, caching_config
from environment.config import read_yaml
from environment.decision_task import DecisionTask
from environment.inference import llm_profile
from environment.market import Market, MarketEnv, MarketTask, market_config
from environment.offloading import OffloadingEnv, OffloadingTask, offloading_env_config
from environment.offloading_v1 import OffloadingV1Config, OffloadingV1Env, OffloadingV1Task, offloading_v1_config
from agent.baselines.registry import NO_LLM_BASELINES
from solvers.association_online import LeastDelayPolicy, RandomNodePolicy
from solvers.auction import FixedAlphaMSB, MechanismAsPolicy, MyopicMSB, fitted_optimal_msb
from solvers.caching import RULES, RuleAsPolicy
from solvers.offloading_greedy import QueueGreedyPolicy
from environment.policy import Policy, policy_generator
from solvers.reference import REFERENCE_POLICIES, reference_policy

PolicyFactory = Callable[[int, Any], Policy]  # (seed, the problem's config) -> a fresh policy


@dataclass(frozen=True)
class Problem:
    """A decision problem as the commands see it.

    Attributes
    ----------
    name: its name on the command line (`--problem`), in run folder names and tables.
    config: validates a config mapping (None: the defaults) into the problem's config model.
    env: builds its Gymnasium environment from that config.
    task: builds its `DecisionTask` (the text face the ICL agent reads) from that config
        (caching: the config's model names are the task's decisions).
    policies: its non-LLM policies by name (oracle, baselines, solvers).
    """

    name: str
    config: Callable[[dict[str, Any] | None], BaseModel]
    env: Callable[[Any], gym.Env]
    task: Callable[[Any], DecisionTask]
    policies: dict[str, PolicyFactory] = field(default_factory=dict)

    def load_config(self, path: str | Path | None) -> BaseModel:
        """The problem's config from a YAML file (None: the defaults); ConfigError with one line."""
        return self.config(None if path is None else read_yaml(path))


PROBLEMS: dict[str, Problem] = {}


def register_problem(problem: Problem) -> Problem:
    """Make `problem` known to every command."""
    PROBLEMS[problem.name] = problem
    return problem


def _reference(name: str) -> PolicyFactory:
    return lambda seed, config: reference_policy(name, policy_generator(seed))


def _no_llm(name: str, task: Callable[[Any], DecisionTask]) -> PolicyFactory:
    """The agent's no-LLM baseline `name` on the problem's task, with the default agent settings."""
    return lambda seed, config: NO_LLM_BASELINES[name](task(config), AgentSettings(), seed)


def _with_no_llm(task: Callable[[Any], DecisionTask], policies: dict[str, PolicyFactory]) -> dict[str, PolicyFactory]:
    """`policies` plus the agent's no-LLM baselines (lookup, bandit) on `task`: every problem the agent plays has them."""
    return {**policies, **{name: _no_llm(name, task) for name in NO_LLM_BASELINES}}


register_problem(
    Problem(
        name="offloading",
        config=offloading_env_config,
        env=OffloadingEnv,
        task=lambda config: OffloadingTask(),
        policies=_with_no_llm(lambda config: OffloadingTask(), {name: _reference(name) for name in REFERENCE_POLICIES}),
    )
)

register_problem(
    Problem(
        name="association",
        config=association_env_config,
        env=AssociationEnv,
        task=lambda config: AssociationTask(),
        policies=_with_no_llm(
            lambda config: AssociationTask(),
            {
                "least-delay": lambda seed, config: LeastDelayPolicy(),
                "random": lambda seed, config: RandomNodePolicy(policy_generator(seed)),
            },
        ),
    )
)


def _rule(name: str) -> PolicyFactory:
    return lambda seed, config: RuleAsPolicy(RULES[name]())


# Eviction at a ground BS (least-AoT paper, IV-C): one step = one eviction decision. The
# online rules run as policies; Belady and the MILP read the whole trace and stay in
# `edge-icl bench caching`.
register_problem(
    Problem(
        name="caching",
        config=caching_config,
        env=CachingEnv,
        task=CachingTask,
        policies=_with_no_llm(CachingTask, {name: _rule(name) for name in RULES}),
    )
)


def _greedy(seed: int, config: OffloadingV1Config) -> QueueGreedyPolicy:
    return QueueGreedyPolicy(llm_profile(config.edge.llm).quality_index)


register_problem(
    Problem(
        name="offloading-v1",
        config=offloading_v1_config,
        env=OffloadingV1Env,
        task=lambda config: OffloadingV1Task(),
        policies=_with_no_llm(lambda config: OffloadingV1Task(), {**{name: _reference(name) for name in REFERENCE_POLICIES}, "greedy": _greedy}),
    )
)


# Rounds of the training stream optimal MSB fits its alpha on (as `edge-icl bench auction`'s
# default --train-rounds, so both fit the same alpha for the same seed).
OPTIMAL_MSB_HISTORY = 15_000

# The auctioneer's choice of alpha in the LLM agent market (cached-model paper, V-B): one
# step = one auction round. The MSB mechanisms that pick alpha from the bids run as
# policies; SPA (not an MSB alpha) and DQMSB (minutes of training) stay in `edge-icl bench
# auction`.
register_problem(
    Problem(
        name="auction",
        config=market_config,
        env=MarketEnv,
        task=MarketTask,
        policies=_with_no_llm(
            MarketTask,
            {
                "msb": lambda seed, config: MechanismAsPolicy(FixedAlphaMSB(Market(config), config.msb_alpha)),
                "myopic-msb": lambda seed, config: MechanismAsPolicy(MyopicMSB(Market(config))),
                "optimal-msb": lambda seed, config: MechanismAsPolicy(fitted_optimal_msb(Market(config), seed, OPTIMAL_MSB_HISTORY)),
            },
        ),
    )
)
