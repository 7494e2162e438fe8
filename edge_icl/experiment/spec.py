"""The sweep spec: every cell `edge-icl sweep` runs, validated before any work starts.

A spec is YAML (`SweepSpec`; unknown keys are errors):

    problem: offloading               # a problem of edge_icl/problems/registry.py
    policies: [icl, lookup, oracle]   # icl and lookup (per variant), or the problem's own policies
    seeds: [0, 1, 2]
    steps: 150
    agent: {llm_cache: "on"}          # AgentSettings every variant starts from
    variants:                         # named partial AgentSettings: prompt folders, backends, models
      paper: {}
      terse: {prompt: prompts/offloading-terse}
    world: {}                         # the problem's config, as `edge-icl run --config` reads it
    grid:                             # dotted keys of that config -> values; their product
      radio.n_users: [10, 20, 40]
    metric: mean_reward               # the summary figures' metric (default: mean_reward)
    compare: [paper, terse]           # the paired figure's two variants (default: the first two)

One cell = one policy x agent variant x world x seed. A policy that takes agent settings
(`AGENT_POLICIES`: the ICL agent and its no-LLM baseline `lookup`, with the same settings)
runs once per variant; a problem's own policy runs once per world and seed, with no
variant. Relative prompt folders are read from the spec file's folder.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from agent.backends.base import BackendUnavailable, LLMBackend
from agent.backends.registry import backend_options
from agent.icl import ICLAgent, TranscriptSink
from agent.prompting import PromptError, TaskPrompt
from agent.settings import AgentSettings
from environment.config import MAX_SEEDS, MAX_STEPS, MAX_TOTAL_STEPS, ConfigError, StrictConfig, read_yaml, validate
from environment.decision_task import DecisionTask
from agent.baselines.registry import NO_LLM_BASELINES
from environment.policy import Policy

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$"
DEFAULT_METRIC = "mean_reward"
# The most worlds of a grid (the product of its value lists): each is validated, its task
# built and every variant's prompt rendered on it before any cell runs.
MAX_WORLDS = 1_000
# The most variants: each is validated and its prompt rendered on every world.
MAX_VARIANTS = 100
# The most cells of a sweep: a row each in cells.csv, a figure point each; with MAX_STEPS
# steps a cell, their steps together are also bounded by MAX_TOTAL_STEPS.
MAX_CELLS = 10_000


@dataclass(frozen=True)
class AgentPolicy:
    """A policy built from agent settings (pool, exploration, prompt, backend): one cell per variant.

    Attributes
    ----------
    name: its name in the spec and the table.
    build: (task, settings, seed, backend, transcript) -> the policy; `backend` is the
        loaded LLM for a policy that `uses_llm`, else None.
    uses_llm: whether its cells need an LLM (they then run where the model is loaded).
    """

    name: str
    build: Callable[[DecisionTask, AgentSettings, int, LLMBackend | None, TranscriptSink | None], Policy]
    uses_llm: bool


AGENT_POLICIES: dict[str, AgentPolicy] = {}


def register_agent_policy(policy: AgentPolicy) -> AgentPolicy:
    """Make a policy that takes agent settings known to sweeps (e.g. the no-LLM `lookup`)."""
    AGENT_POLICIES[policy.name] = policy
    return policy


register_agent_policy(
    AgentPolicy(
        "icl",
        lambda task, settings, seed, backend, transcript: ICLAgent.from_settings(task, settings, seed, backend=backend, transcript=transcript),
        uses_llm=True,
    )
)
# The agent's no-LLM baseline with the same pool, exploration and fallback (agent.baselines.lookup):
# one cell per variant, so `icl` and `lookup` of a variant pair up on the same streams.
# (`bandit` takes no agent settings: it runs as the problem's own policy.)
register_agent_policy(
    AgentPolicy(
        "lookup",
        lambda task, settings, seed, backend, transcript: NO_LLM_BASELINES["lookup"](task, settings, seed, transcript=transcript),
        uses_llm=False,
    )
)


class SweepSpec(StrictConfig):
    """What a sweep runs (see the module note for the YAML)."""

    problem: str = Field("offloading", description="A decision problem of edge_icl/problems/registry.py.")
    policies: list[str] = Field(default_factory=lambda: ["icl"], min_length=1, description="icl, or the problem's own policies.")
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1, max_length=MAX_SEEDS, description="Run seeds: one stream each.")
    steps: int = Field(50, gt=0, le=MAX_STEPS, description="Decisions per cell.")
    agent: dict[str, Any] = Field(default_factory=dict, description="AgentSettings shared by every variant.")
    variants: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: {"default": {}}, min_length=1, max_length=MAX_VARIANTS, description="Named partial AgentSettings (prompt folder, backend, model, ...)."
    )
    world: dict[str, Any] = Field(default_factory=dict, description="The problem's config (sections as `--config` reads them).")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="Dotted config keys -> values; every combination is a world.")
    metric: str = Field(DEFAULT_METRIC, description="The summary figures' metric (a column of the cells table).")
    compare: list[str] | None = Field(None, description="Two variants for the paired figure (default: the first two).")

    @field_validator("policies", "seeds")
    @classmethod
    def _unique(cls, values: list[Any]) -> list[Any]:
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            raise ValueError(f"listed twice: {', '.join(repeated)}")
        return values

    @field_validator("variants")
    @classmethod
    def _variant_names(cls, variants: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        import re

        bad = [name for name in variants if not re.match(NAME_PATTERN, name) or "__" in name]
        if bad:
            raise ValueError(f"variant name {bad[0]!r}: use letters, digits and . _ + - (no '__')")
        return variants

    @field_validator("grid")
    @classmethod
    def _grid_values(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        if not grid:
            raise ValueError("give at least one dotted key, or leave grid out for one world")
        worlds = math.prod(len(values) for values in grid.values())
        if worlds > MAX_WORLDS:
            raise ValueError(f"{worlds:,} worlds (the product of the value lists) exceed the most a sweep runs, {MAX_WORLDS:,}")
        for key, values in grid.items():
            if not values:
                raise ValueError(f"{key}: give at least one value")
            if not all(part for part in key.split(".")):
                raise ValueError(f"{key!r} is not a dotted config key such as radio.n_users")
        return grid

    @model_validator(mode="after")
    def _size(self) -> "SweepSpec":
        worlds = math.prod(len(values) for values in self.grid.values())
        runs = sum(len(self.variants) if policy in AGENT_POLICIES else 1 for policy in self.policies)
        cells = worlds * len(self.seeds) * runs
        if cells > MAX_CELLS:
            raise ValueError(f"{cells:,} cells (worlds x seeds x policies, agent policies once per variant) exceed the most a sweep runs, {MAX_CELLS:,}")
        if cells * self.steps > MAX_TOTAL_STEPS:
            raise ValueError(f"{cells:,} cells x {self.steps:,} steps exceed the most steps a sweep runs, {MAX_TOTAL_STEPS:,}")
        return self

    @model_validator(mode="after")
    def _compare_known(self) -> "SweepSpec":
        if self.compare is not None:
            if len(self.compare) != 2 or self.compare[0] == self.compare[1]:
                raise ValueError("compare: name two different variants")
            unknown = [v for v in self.compare if v not in self.variants]
            if unknown:
                raise ValueError(f"compare: unknown variant {unknown[0]!r}; variants: {', '.join(self.variants)}")
        return self

    def saved(self) -> dict[str, Any]:
        """The spec as the sweep folder's spec.yaml holds it: every field, but no grid when it has
        none (`grid: {}` given is an error, the empty grid a user forgot to fill)."""
        data = self.model_dump(mode="json")
        if not data["grid"]:
            del data["grid"]
        return data

    def compared(self) -> tuple[str, str] | None:
        """The paired figure's two variants: `compare`, else the first two; None with a single variant."""
        if self.compare is not None:
            return self.compare[0], self.compare[1]
        names = list(self.variants)
        return (names[0], names[1]) if len(names) >= 2 else None


@dataclass(frozen=True)
class World:
    """One combination of the grid: its id, the overrides (dotted key -> value), the full config."""

    world_id: str
    overrides: dict[str, Any]
    config: dict[str, Any]


@dataclass(frozen=True)
class Cell:
    """One run of a sweep: a policy, an agent variant (None for a problem's own policy), a world, a seed.

    Plain data (it travels to Ray workers); `agent` is the variant's AgentSettings as a
    mapping, `world` the problem's whole config.
    """

    cell_id: str
    problem: str
    policy: str
    variant: str | None
    world_id: str
    overrides: dict[str, Any]
    seed: int
    steps: int
    world: dict[str, Any]
    agent: dict[str, Any] | None = None
    uses_llm: bool = False

    def settings_row(self) -> dict[str, Any]:
        """The cell's settings as the first columns of its row in cells.csv."""
        overrides = {key: _cell_text(value) for key, value in self.overrides.items()}
        return {"cell_id": self.cell_id, "policy": self.policy, "variant": self.variant or "", "world": self.world_id, **overrides, "seed": self.seed}

    def backend_key(self) -> str:
        """Cells with the same key can share one loaded LLM (the backend and its options)."""
        agent = self.agent or {}
        return json.dumps([agent.get("backend"), agent.get("backend_options", {})], sort_keys=True)


@dataclass
class Sweep:
    """A validated spec and the cells it makes."""

    spec: SweepSpec
    variants: dict[str, AgentSettings]
    worlds: list[World]
    cells: list[Cell] = field(default_factory=list)


def _cell_text(value: Any) -> Any:
    """A grid value as a table cell: numbers and strings as they are, anything else as JSON."""
    return value if isinstance(value, (int, float, str, bool)) or value is None else json.dumps(value, sort_keys=True)


def set_dotted(data: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """A copy of `data` with `value` at the dotted `key` (radio.n_users -> data["radio"]["n_users"])."""
    out = json.loads(json.dumps(data))
    node = out
    *parents, last = key.split(".")
    for i, part in enumerate(parents):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"invalid sweep spec: grid {key}: {'.'.join(parents[: i + 1])} is not a section")
        node = child
    node[last] = value
    return out


def merge_agent(base: dict[str, Any], variant: dict[str, Any]) -> dict[str, Any]:
    """A variant's settings over the shared ones; backend options are merged key by key."""
    merged = {**base, **variant}
    if "backend_options" in base or "backend_options" in variant:
        merged["backend_options"] = {**(base.get("backend_options") or {}), **(variant.get("backend_options") or {})}
    return merged


def resolve(spec: SweepSpec, base_dir: Path, llm_cache: str | None = None) -> Sweep:
    """The cells of `spec`; ConfigError (one line) for anything that would fail later.

    Checks the problem and policy names, every variant's settings, backend options and
    prompt folder (rendered once per world), and every world of the grid against the problem's
    config model. `llm_cache` (the command's --llm-cache) overrides every variant's.
    """
    from edge_icl.problems.registry import PROBLEMS

    if spec.problem not in PROBLEMS:
        raise ConfigError(f"invalid sweep spec: problem: unknown {spec.problem!r}; choose one of {', '.join(PROBLEMS)}")
    problem = PROBLEMS[spec.problem]
    known = list(dict.fromkeys([*AGENT_POLICIES, *problem.policies]))
    unknown = [p for p in spec.policies if p not in known]
    if unknown:
        raise ConfigError(f"invalid sweep spec: policies: unknown {unknown[0]!r} for {spec.problem}; choose from {', '.join(known)}")
    worlds, tasks = [], []
    keys = list(spec.grid)
    for index, values in enumerate(itertools.product(*(spec.grid[k] for k in keys))):
        overrides = dict(zip(keys, values))
        data = dict(spec.world)
        for key, value in overrides.items():
            data = set_dotted(data, key, value)
        where = ", ".join(f"{k}={v}" for k, v in overrides.items()) or "world"
        try:
            config = problem.config(data)
        except ConfigError as error:
            raise ConfigError(f"invalid sweep spec: {where}: {error}") from None
        worlds.append(World(f"w{index}", overrides, config.model_dump(mode="json")))
        tasks.append(problem.task(config))
    variants: dict[str, AgentSettings] = {}
    for name, partial in spec.variants.items():
        data = merge_agent(spec.agent, partial)
        if llm_cache is not None:
            data["llm_cache"] = llm_cache
        if isinstance(data.get("prompt"), str) and not Path(data["prompt"]).expanduser().is_absolute():
            data["prompt"] = str((base_dir / data["prompt"]).resolve())
        try:
            settings = validate(AgentSettings, data, f"sweep spec: variants.{name}: agent settings")
            backend_options(settings.backend, settings.backend_options)
            if any(AGENT_POLICIES[p].uses_llm for p in spec.policies if p in AGENT_POLICIES):
                for task in tasks:  # a task may depend on its world (caching: the model names)
                    TaskPrompt(settings.prompt, task)
        except (BackendUnavailable, PromptError) as error:
            raise ConfigError(f"invalid sweep spec: variants.{name}: {error}") from None
        variants[name] = settings
    sweep = Sweep(spec, variants, worlds)
    for world in worlds:
        for seed in spec.seeds:
            for policy in spec.policies:
                agent_policy = AGENT_POLICIES.get(policy)
                for variant in variants if agent_policy is not None else [None]:
                    sweep.cells.append(
                        Cell(
                            cell_id=f"{policy}__{variant or '-'}__{world.world_id}__s{seed}",
                            problem=spec.problem,
                            policy=policy,
                            variant=variant,
                            world_id=world.world_id,
                            overrides=world.overrides,
                            seed=seed,
                            steps=spec.steps,
                            world=world.config,
                            agent=variants[variant].model_dump(mode="json") if variant is not None else None,
                            uses_llm=agent_policy is not None and agent_policy.uses_llm,
                        )
                    )
    return sweep


def read_spec(path: Path) -> SweepSpec:
    """The spec in a YAML file; ConfigError (one line) when it is unreadable or invalid."""
    return validate(SweepSpec, read_yaml(path), f"sweep spec {path}")


def load_sweep(path: Path, llm_cache: str | None = None) -> Sweep:
    """Read, validate and resolve a spec file into its cells."""
    return resolve(read_spec(path), path.resolve().parent, llm_cache)
