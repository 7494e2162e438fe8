"""`edge-icl bench caching`: least-AoT, FIFO, LFU, LRU, the offline references (Xu et al., VI-B) and the ICL agent.

Every policy meets the same traces: the default setting's episode of the seed, and the
small instances where the exact MILP runs. The ICL agent plays the eviction decision
through `CachingTask` (one agent for the default episode, one carried over the small
instances in order); its steps go to the bench folder's `transcript.jsonl`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from agent.backends.base import BackendError, BackendUnavailable, LLMBackend
from agent.backends.registry import make_backend
from edge_icl.cli.agent_options import agent_settings, with_agent_options
from edge_icl.cli.app import bench_app, chosen_names, err_console, fail, note, open_run_folder, progress_bar
from edge_icl.experiment.bench import LearnerFactory, end_if_invalid, icl_agent, judge_fallbacks, lift_table, llm_lift, no_llm_learner, row_label
from edge_icl.experiment.run_folder import RunFolder, dumps, read_jsonl, run_name
from agent.prompting import PromptError
from agent.settings import AgentSettings
from environment.caching.config import CachingConfig, caching_config
from environment.caching.task import CachingTask
from environment.config import ConfigError, read_yaml
from agent.baselines.registry import NO_LLM_BASELINES
from solvers.caching import POLICIES
from edge_icl.problems.caching import BENCH_KEYS, SMALL_CONFIG, episode_rows, instance_seed, milp_rows, play_policy, policy_rows, solve_milp, summarise
from environment.policy import Policy

SMALL_PREFIX = "small/"

# Decision makers that learn as they play: built from the agent's settings, one for the
# default episode and one carried over the small instances in order.
LEARNERS: dict[str, LearnerFactory] = {
    "icl": icl_agent,
    # The agent's no-LLM baselines (agent.baselines.registry): same pool and exploration, no LLM.
    **{name: no_llm_learner(name) for name in NO_LLM_BASELINES},
}
BENCH_POLICIES = (*POLICIES, *LEARNERS)


def _read_config(path: Path | None, slots: int) -> CachingConfig:
    """The caching config of YAML `path` (None: the paper defaults) with `slots` slots."""
    data = {} if path is None else read_yaml(path, "caching config")
    return caching_config({**data, "slots": slots})


LIFT_KEYS = ("total_cost", "hit_rate")


def one_policy(rows: list[dict[str, Any]]) -> dict[str, float]:
    """The bench's metrics (`summarise`) of one policy's rows."""
    return next(iter(summarise(rows).values()), {})


def caching_lift(default: list[dict[str, Any]], small: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """LLM lift = icl - lookup in cost per slot and hit rate (a cost: below zero, the LLM helps),
    as every bench reports it (`edge_icl.experiment.bench.llm_lift`, paired by seed): on the default
    episode, and over the small instances (each its own seed); {} where either did not play."""
    lift = {}
    for name, rows in (("icl_minus_lookup", default), (SMALL_PREFIX + "icl_minus_lookup", small)):
        groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for row in rows:
            if row["policy"] in ("icl", "lookup"):
                groups.setdefault((row["policy"], int(row["seed"])), []).append(row)
        found = llm_lift(groups, one_policy, LIFT_KEYS)
        if found:
            lift[name] = found
    return lift


def _finite(value: float) -> float | None:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _table(result: dict[str, dict[str, Any]], slots: int, small_runs: int) -> Table:
    table = Table(title=f"caching: mean cost per slot, default setting over {slots} slots; {SMALL_PREFIX}*: {small_runs} small instances")
    table.add_column("policy")
    for key in BENCH_KEYS:
        table.add_column(key, justify="right")
    for name, values in result.items():
        table.add_row(row_label(name, values), *("-" if values[k] is None else f"{values[k]:.3f}" for k in BENCH_KEYS))
    return table


class Learners:
    """The learning decision makers of one bench run, sharing one LLM and one transcript."""

    def __init__(self, settings: AgentSettings, seed: int) -> None:
        self.settings = settings
        self.seed = seed
        self._backend: LLMBackend | None = None
        self._transcript: Callable[[dict[str, Any]], None] = lambda record: None

    def backend(self) -> LLMBackend:
        """The one LLM of the bench, built on first use (not at all for no-LLM learners)."""
        if self._backend is None:
            self._backend = make_backend(self.settings.backend, self.settings.backend_options, self.seed)
        return self._backend

    def write_to(self, folder: RunFolder) -> None:
        """From now on every learner's step goes to the folder's transcript.jsonl."""
        self._transcript = lambda record: folder.append_jsonl("transcript.jsonl", record)

    def build(self, name: str, config: CachingConfig, setting: str, env_seed: Callable[[], int]) -> Policy:
        """Learner `name` for a setting; its records are tagged with policy, setting and the episode's env seed."""

        def transcript(record: dict[str, Any]) -> None:
            self._transcript({"policy": name, "setting": setting, "seed": env_seed(), **record})

        return LEARNERS[name](CachingTask(config), self.settings, self.seed, self.backend, transcript)


@bench_app.command("caching")
@with_agent_options
def bench_caching(
    seed: int = typer.Option(1, help="Seed of the default episode; small instance r uses the seed pair (seed, r)."),
    slots: int = typer.Option(100, min=1, help="Time slots of the default episode (paper VI-A: 100)."),
    # At most 1,000 small instances: the exact MILP solves each one.
    small_runs: int = typer.Option(10, min=0, max=1_000, help="Small instances (4 models, 12 slots) where the exact MILP runs beside every policy."),
    # At most an hour of HiGHS on the default setting (its memory grows with the search).
    milp_seconds: float = typer.Option(0.0, min=0.0, max=3600.0, help="If > 0: also a 'milp' row on the default setting, the best schedule HiGHS finds in this time (gap in summary.json)."),
    policies: str = typer.Option(",".join(BENCH_POLICIES), help=f"Comma-separated policies ({', '.join(BENCH_POLICIES)}); leave out icl for the fast bench without an LLM."),
    config: Path | None = typer.Option(None, "--config", help="YAML mapping of CachingConfig fields (default: the paper's setting)."),
    out: Path = typer.Option(Path("runs"), help="Parent folder of the run folder."),
    as_json: bool = typer.Option(
        False, "--json", help='Print {"policies": {name: {total_cost, switching, transmission, inference, accuracy, cloud, hit_rate}}} (and "llm_lift": icl - lookup).'
    ),
    **agent_options: Any,
) -> None:
    """Mean cost per slot, its five parts and the hit rate of every eviction policy and the ICL agent.

    Rows named after a policy (least-aot, fifo, lfu, lru, belady, icl) are the default
    setting over SLOTS slots. Rows named small/<policy> and small/milp average
    SMALL_RUNS small instances, where the MILP is the exact optimum over the horizon.
    With --milp-seconds, a "milp" row on the default setting: the best schedule HiGHS
    finds in that time; summary.json holds its relative gap and lower bound.
    Writes config.yaml, slots.csv and small.csv (a row per policy and slot, as
    produced), transcript.jsonl (every step of the ICL agent) and summary.json under a
    run folder in OUT. A learner whose fallback made more than --max-fallback-share of its
    LLM decisions is marked valid: false; the bench writes everything, then exits with 3.
    """
    try:
        default = _read_config(config, slots)
        chosen = chosen_names(policies, BENCH_POLICIES, known_order=True)
        learning = [p for p in chosen if p in LEARNERS]
        agent = agent_settings(agent_options)
        learners = Learners(agent, seed)
        if learning:  # bad backend or prompt options fail here, before any run folder
            learners.build(learning[0], SMALL_CONFIG, "check", lambda: seed)
    except (ConfigError, ValueError, PromptError, BackendUnavailable) as error:
        fail(str(error))
    rules = [p for p in chosen if p in POLICIES]
    folder = open_run_folder(out, run_name("caching", "bench", seed))
    folder.write_config(
        {"seed": seed, "small_runs": small_runs, "policies": chosen, "default": default.model_dump(mode="json"), "small": SMALL_CONFIG.model_dump(mode="json"),
         **({"icl": agent.model_dump(mode="json")} if learning else {})}
    )
    learners.write_to(folder)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    rows: list[dict[str, Any]] = []
    small: list[dict[str, Any]] = []

    def keep(row: dict[str, Any], file: str, into: list[dict[str, Any]]) -> None:
        folder.append_row(row, file)
        into.append(row)

    try:
        with progress_bar() as progress:
            task = progress.add_task("caching", total=len(chosen) + small_runs)
            for name in rules:
                progress.update(task, description=f"{name}, {slots} slots")
                clock = time.perf_counter()
                for row in policy_rows(default, seed, [name], setting="default"):
                    keep(row, "slots.csv", rows)
                timings[name] = time.perf_counter() - clock
                progress.advance(task)
            policies_s = time.perf_counter() - started
            for name in learning:
                clock = time.perf_counter()

                def on_slot(row: dict[str, Any], name: str = name) -> None:
                    progress.update(task, description=f"{name}, slot {row['slot'] + 1}/{slots}")
                    keep({"policy": name, "setting": "default", "seed": seed, **row}, "slots.csv", rows)

                play_policy(default, seed, learners.build(name, default, "default", lambda: seed), on_slot)
                timings[name] = time.perf_counter() - clock
                progress.advance(task)
            milp_default: dict[str, Any] = {}
            if milp_seconds > 0:
                progress.update(task, description=f"milp, {slots} slots (up to {milp_seconds:g} s)")
                best, milp = solve_milp(default, seed, milp_seconds, setting="default")
                for row in milp:
                    folder.append_row(row, "slots.csv")
                rows.extend(milp)
                milp_default = {"total_cost": best.objective / slots, "lower_bound": best.lower_bound / slots, "mip_gap": best.mip_gap, "solve_s": best.solve_s}
            run_seeds = [instance_seed(seed, run) for run in range(small_runs)]
            current: dict[str, int] = {}
            small_learners = {name: learners.build(name, SMALL_CONFIG, "small", lambda: current["seed"]) for name in learning}
            for run, run_seed in enumerate(run_seeds):
                progress.update(task, description=f"small instance {run + 1}/{small_runs}")
                current["seed"] = run_seed
                for row in policy_rows(SMALL_CONFIG, run_seed, rules, setting="small", run=run):
                    keep(row, "small.csv", small)
                for name, learner in small_learners.items():
                    for row in episode_rows(play_policy(SMALL_CONFIG, run_seed, learner), name, run_seed, setting="small", run=run):
                        keep(row, "small.csv", small)
                for row in milp_rows(SMALL_CONFIG, run_seed, setting="small", run=run):
                    keep(row, "small.csv", small)
                progress.advance(task)
    except (BackendError, BackendUnavailable, PromptError) as error:
        folder.close()
        fail(f"{error} (run folder {folder.path} keeps the rows written so far)")
    finally:
        folder.close()
    summary = {**summarise(rows), **{SMALL_PREFIX + k: v for k, v in summarise(small).items()}}
    result: dict[str, Any] = {"policies": {name: {k: _finite(values[k]) for k in BENCH_KEYS} for name, values in summary.items()}}
    # a learner plays all its setting's slots (the small instances one after the other): one result per table row
    row_of = lambda record: record.get("policy") if record.get("setting") == "default" else SMALL_PREFIX + str(record.get("policy"))
    invalid = judge_fallbacks(result["policies"], read_jsonl(folder.path / "transcript.jsonl"), agent.max_fallback_share, row_of=row_of, unit_of=row_of)
    lift = caching_lift(rows, small)
    if lift:  # per backend, as in every bench
        result["llm_lift"] = {agent.backend: {**lift, "backend_options": agent.backend_options}}
    wall_s = time.perf_counter() - started
    folder.write_json(
        "summary.json",
        {**result, "performance_gain": {k: _finite(v["performance_gain"]) for k, v in summary.items()},
         "milp_default": milp_default, "seed": seed, "slots": slots, "small_runs": small_runs, "policies_wall_s": policies_s,
         "default_wall_s": timings, "wall_s": wall_s},
    )
    if as_json:
        typer.echo(dumps(result, indent=2))
    else:
        Console().print(_table(result["policies"], slots, small_runs))
        for name, values in lift.items():
            err_console.print(lift_table(f"LLM lift, {name.replace('_minus_', ' - ')} ({agent.backend})", values))
    if milp_default:
        err_console.print(f"milp on the default setting: {milp_default['total_cost']:.3f} per slot, lower bound {milp_default['lower_bound']:.3f} (gap {milp_default['mip_gap']:.2%}, {milp_default['solve_s']:.0f} s)")
    learned = "".join(f"; {name} {timings[name]:.1f} s" for name in learning)
    note(f"policies: {policies_s:.2f} s for {len(rules)} x {slots} slots{learned}; total {wall_s:.2f} s; run folder: {folder.path}")
    end_if_invalid(f"bench {folder.path}", invalid, agent.max_fallback_share)
