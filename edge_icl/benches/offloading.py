"""`edge-icl bench offloading`: the ICL agent, its baselines, DQN and the reference policies side by side.

Zhou et al. (papers/icl-task-offloading.txt) section III-C and IV: `icl` is the paper's
method (prioritized pool, epsilon-greedy); `icl-latest` is baseline 1 (latest
experience); `icl-no-explore` is baseline 2 (no exploration); DQN is baseline 3; the
reference policies bound it; `lookup` and `bandit` are the agent's no-LLM baselines
(agent.baselines.registry), and the summary's `llm_lift` is ICL - lookup per seed. Every
policy meets the same seeded request streams. Every LLM call goes to the bench folder's
`transcript.jsonl`, tagged with policy and seed; one backend is built per bench and
reused by every run, so the model loads once. `--holdout F` (v0) keeps a seeded share F
of the keyword combinations out of every pool and bandit (unseen states) and splits the
accuracy into seen and unseen.

`--world v0` (default) is the paper's problem (`EdgeICL/Offloading-v0`, problem
`offloading`); `--world v1` is `EdgeICL/Offloading-v1` (problem `offloading-v1`: an edge
queue, a moving cloud, overlapping quality), with its queue-reading greedy rule, the
world facts that show it is not a table (docs/results-offloading-v1.md), its load knob
`--edge-arrival-rate`, and unseen load levels: with `--fill-steps N --fill-arrival-rate
R` every policy first plays N requests of another stream at load R (the ICL agent fills
its pool, DQN trains), then the N recorded steps at the bench's load, where each row
says whether its keywords were met while filling.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from agent.backends.base import BackendError, BackendUnavailable, LLMBackend
from agent.backends.registry import make_backend
from edge_icl.cli.agent_options import agent_settings, with_agent_options
from edge_icl.cli.app import bench_app, chosen_names, fail, note, open_run_folder, progress_bar
from edge_icl.experiment.bench import (
    BenchSettings,
    RowCallback,
    aggregate,
    check_bench_size,
    end_if_invalid,
    held_out_states,
    judge_fallbacks,
    learning_metrics,
    lift_table,
    llm_lift,
    load_settings,
    row_label,
    run_bench,
    save_settings,
    split_accuracy,
)
from edge_icl.problems.registry import PROBLEMS, Problem
from edge_icl.experiment.rollout import run_policy
from edge_icl.experiment.run_folder import dumps, read_jsonl, run_name
from agent.experience import Keywords
from agent.icl import ICLAgent
from agent.prompting import PromptError
from agent.settings import AgentSettings
from environment.config import MAX_SEEDS, MAX_STEPS, ConfigError, read_yaml
from environment.offloading import OffloadingEnv
from environment.offloading_v1.task import KEYWORD_COLUMNS, best_lookup_accuracy, oracle_offload_share_by_service
from agent.baselines.registry import NO_LLM_BASELINES
from environment.policy import Policy
from solvers.reference import REFERENCE_POLICIES

# The ICL agent and its two baselines of section III-C, as changes to the agent's settings.
ICL_VARIANTS: dict[str, dict[str, str]] = {
    "icl": {},
    "icl-latest": {"pool": "latest"},
    "icl-no-explore": {"exploration": "none"},
}
# The policies that learn from the stream: the ICL variants and the agent's no-LLM baselines.
LEARNERS = (*ICL_VARIANTS, *NO_LLM_BASELINES)
BENCH_POLICIES = (*LEARNERS, "dqn", *REFERENCE_POLICIES)
# The worlds of the bench: their problem (edge_icl/problems/registry.py) and their policies.
WORLDS = {"v0": "offloading", "v1": "offloading-v1"}
# Offloading-v1: the learners, DQN on the numeric features, then the problem's other
# policies (oracle, random, all-local, all-offload, greedy).
V1_POLICIES = (*LEARNERS, "dqn", *(name for name in PROBLEMS["offloading-v1"].policies if name not in LEARNERS))
QUICK_STEPS, FULL_STEPS = 150, 500
METRICS = ("mean_reward_last_half", "quality_success_rate", "mean_delay_s", "decision_accuracy", "steps_to_95")
V1_METRICS = (*METRICS, "offload_share", "mean_cost_usd", "mean_regret", "accuracy_seen", "accuracy_unseen")
SPLIT_METRICS = ("decision_accuracy_seen", "decision_accuracy_unseen")
LIFT_METRICS = ("mean_reward_last_half", "decision_accuracy")
HOLDOUT_V0_ONLY = "--holdout: only for --world v0 (v1 measures unseen states with --fill-steps and --fill-arrival-rate)"
# The fill phase plays the stream of a seed drawn from (run seed, FILL_STREAM), not the recorded one.
FILL_STREAM = 1


def offloading_metrics(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """The bench's metrics of one policy on one seed's run: learning, quality success (Fig. 4(b)), delay."""
    quality = [int(r["quality_met"]) for r in rows if r["task_class"] == "quality-preferred"]
    return {
        **learning_metrics(rows),
        "quality_success_rate": float(np.mean(quality)) if quality else None,
        "mean_delay_s": float(np.mean([float(r["total_delay_s"]) for r in rows])),
        **split_accuracy(rows),
    }


def offloading_v1_metrics(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """v0's metrics plus what v1 adds: offload share, money spent, regret to the oracle, and,
    after a fill phase, the accuracy on states whose keywords were met / not met while filling."""
    seen = [int(r["action"]) == int(r["oracle_action"]) for r in rows if str(r.get("seen_in_fill")) == "1"]
    unseen = [int(r["action"]) == int(r["oracle_action"]) for r in rows if str(r.get("seen_in_fill")) == "0"]
    return {
        **offloading_metrics(rows),
        "offload_share": float(np.mean([int(r["action"]) for r in rows])),
        "mean_cost_usd": float(np.mean([float(r["cost_usd"]) for r in rows])),
        "mean_regret": float(np.mean([float(r["oracle_reward"]) - float(r["reward"]) for r in rows])),
        "accuracy_seen": float(np.mean(seen)) if seen else None,
        "accuracy_unseen": float(np.mean(unseen)) if unseen else None,
        "unseen_share": float(len(unseen) / len(rows)) if unseen else (0.0 if seen else None),
    }


def world_facts(groups: dict[tuple[str, int], list[dict[str, Any]]]) -> dict[str, Any]:
    """What the oracle's v1 rows show about the world: the best table on v0's keywords
    (service, token level) and on v1's levels against the oracle, and its offload share
    per service (empty if the bench has no oracle)."""
    rows = [row for (name, _), group in sorted(groups.items()) if name == "oracle" for row in group]
    if not rows:
        return {}
    return {
        "best_coarse_lookup_accuracy": best_lookup_accuracy(rows),
        "best_keyword_lookup_accuracy": best_lookup_accuracy(rows, KEYWORD_COLUMNS),
        "oracle_offload_share_by_service": oracle_offload_share_by_service(rows),
        "oracle_steps": len(rows),
    }


def fill_seed(seed: int) -> int:
    """The seed of the stream a fill phase plays: drawn from the run seed, not the run seed itself."""
    return int(np.random.SeedSequence((seed, FILL_STREAM)).generate_state(1)[0])


@dataclass(frozen=True)
class FillPhase:
    """Requests every policy plays before the recorded ones, on another stream and maybe at another load.

    Attributes
    ----------
    steps: how many.
    config: the world they are drawn from (the bench's world at the fill load).
    """

    steps: int
    config: Any


class OffloadingRunners:
    """How each bench policy runs on one seed's stream of an offloading world.

    Parameters
    ----------
    world: the problem's config.
    agent: the ICL agent's settings (the variants change pool or exploration).
    transcript: the bench's transcript.jsonl (every ICL step, tagged with policy and seed).
    problem: the offloading problem (v0's `offloading`, v1's `offloading-v1`).
    fill: requests every policy plays first, not recorded (v1's unseen load levels); None: none.
    holdout: share of keyword combinations held out of the learners' memory (v0; rows get `held_out`).
    """

    def __init__(
        self,
        world: Any,
        agent: AgentSettings,
        transcript: Path,
        problem: Problem | None = None,
        fill: FillPhase | None = None,
        holdout: float = 0.0,
    ) -> None:
        self.world = world
        self.agent = agent
        self.transcript = transcript
        self.problem = problem or PROBLEMS["offloading"]
        self.fill = fill
        self.holdout = holdout
        self.task = self.problem.task(world)
        self._backend: LLMBackend | None = None
        # The policies that learn from the stream, by name: (name, seed) -> a fresh policy.
        self.learners: dict[str, Callable[[str, int], Policy]] = {
            **{name: self.icl_agent for name in ICL_VARIANTS},
            **{name: self.no_llm_agent for name in NO_LLM_BASELINES},
        }
        self.states: list[Keywords] = []
        if holdout:
            if self.problem.name != "offloading":
                raise ValueError(HOLDOUT_V0_ONLY)
            env = OffloadingEnv(world)
            self.states = [(("service_type", s), ("token_size", t)) for s in env.service_names for t in env.token_level_names]

    def held_out(self, seed: int) -> frozenset[Keywords]:
        """The keyword combinations seed `seed` holds out (none without --holdout)."""
        return held_out_states(self.states, self.holdout, seed)

    def tag_held_out(self, on_row: RowCallback, seed: int) -> RowCallback:
        """With --holdout, each row says whether its state is held out."""
        if not self.holdout:
            return on_row
        held = {tuple(value for _, value in k) for k in self.held_out(seed)}
        return lambda row: on_row({**row, "held_out": int((row["service"], row["token_level"]) in held)})

    def backend(self) -> LLMBackend:
        """The one LLM of the bench, built when the first ICL policy runs."""
        if self._backend is None:
            self._backend = make_backend(self.agent.backend, self.agent.backend_options)
        return self._backend

    def writer(self, name: str, seed: int) -> Callable[[dict[str, Any]], None]:
        """A transcript sink: policy `name`'s records on seed `seed`, appended to the bench transcript, tagged."""

        def write(record: dict[str, Any]) -> None:
            with open(self.transcript, "a") as transcript:
                transcript.write(dumps({"policy": name, "seed": seed, **record}) + "\n")

        return write

    def icl_agent(self, name: str, seed: int) -> ICLAgent:
        """ICL variant `name` for seed `seed`; its steps go to the bench transcript, tagged."""
        settings = self.agent.model_copy(update=ICL_VARIANTS[name])
        return ICLAgent.from_settings(
            self.task, settings, seed, backend=self.backend(), transcript=self.writer(name, seed), held_out=self.held_out(seed)
        )

    def no_llm_agent(self, name: str, seed: int) -> Policy:
        """No-LLM baseline `name` (lookup, bandit) with the bench's agent settings, on the same streams and pool."""
        return NO_LLM_BASELINES[name](self.task, self.agent, seed, transcript=self.writer(name, seed), held_out=self.held_out(seed))

    def play(self, policy: Policy, seed: int, steps: int, on_row: RowCallback) -> None:
        """The fill phase (if any, rows not recorded), then `steps` recorded requests of seed `seed`'s stream."""
        seen: set[tuple[str, ...]] | None = None
        if self.fill is not None:
            seen = set()
            run_policy(policy, self.problem.env(self.fill.config), self.task, self.fill.steps, fill_seed(seed), on_step=self.collect(seen))
        run_policy(policy, self.problem.env(self.world), self.task, steps, seed, on_step=self.tagged(self.tag_held_out(on_row, seed), seen))

    def dqn(self, seed: int, steps: int, on_row: RowCallback) -> None:
        """DQN learns online on seed `seed`'s stream (on every state, held out or not); after a fill phase it
        trained there and plays frozen."""
        from solvers.dqn import train_dqn

        on_row = self.tag_held_out(on_row, seed)

        def row_of(on: RowCallback) -> Callable[[int, int, float, dict[str, Any]], None]:
            return lambda step, action, reward, info: on(self.task.row(step, action, reward, info))

        if self.fill is None:
            train_dqn(self.problem.env(self.world), seed, steps, on_step=row_of(on_row))
            return
        seen: set[tuple[str, ...]] = set()
        trained = train_dqn(self.problem.env(self.fill.config), fill_seed(seed), self.fill.steps, on_step=row_of(self.collect(seen)))
        run_policy(trained, self.problem.env(self.world), self.task, steps, seed, on_step=self.tagged(on_row, seen))

    @staticmethod
    def collect(seen: set[tuple[str, ...]]) -> RowCallback:
        """A row callback that keeps the keyword levels of each row in `seen`."""
        return lambda row: seen.add(tuple(row[c] for c in KEYWORD_COLUMNS))

    @staticmethod
    def tagged(on_row: RowCallback, seen: set[tuple[str, ...]] | None) -> RowCallback:
        """`on_row` with, after a fill phase, whether each row's keywords were met while filling."""
        if seen is None:
            return on_row
        return lambda row: on_row({**row, "seen_in_fill": int(tuple(row[c] for c in KEYWORD_COLUMNS) in seen)})

    def run(self, name: str, seed: int, steps: int, on_row: RowCallback) -> None:
        """Run policy `name` on seed `seed`'s stream."""
        if name == "dqn":
            self.dqn(seed, steps, on_row)
        elif name in self.learners:
            self.play(self.learners[name](name, seed), seed, steps, on_row)
        else:
            self.play(self.problem.policies[name](seed, self.world), seed, steps, on_row)

    def runners(self, policies: list[str]) -> dict[str, Any]:
        """Each policy's runner `(seed, steps, on_row)`."""
        return {name: (lambda seed, steps, on_row, name=name: self.run(name, seed, steps, on_row)) for name in policies}


def metrics_table(title: str, table: dict[str, dict], metrics: tuple[str, ...] = METRICS) -> Table:
    out = Table(title=title)
    out.add_column("policy")
    for metric in metrics:
        out.add_column(metric.replace("_", " "), justify="right")
    for name, values in table.items():
        out.add_row(row_label(name, values), *("-" if values.get(m) is None else f"{values[m]:.3f}" for m in metrics))
    return out


def with_edge_load(data: dict[str, Any], rate: float | None) -> dict[str, Any]:
    """A v1 config mapping with the edge site's arrival rate (the load knob) set, if `rate` is given."""
    if rate is None:
        return data
    return {**data, "edge": {**data.get("edge", {}), "arrival_rate_per_s": rate}}


def new_settings(
    world_name: str, policies: str | None, config: Path | None, edge_arrival_rate: float | None, fill_steps: int, fill_arrival_rate: float | None,
    seed: int, seeds: int, steps: int, agent: AgentSettings, holdout: float = 0.0,
) -> BenchSettings:
    """The settings of a new bench from the command line; ValueError / ConfigError (one line) on bad input."""
    if world_name not in WORLDS:
        raise ValueError(f"--world: unknown world {world_name!r}; choose one of {', '.join(WORLDS)}")
    known = V1_POLICIES if world_name == "v1" else BENCH_POLICIES
    chosen = chosen_names(policies, known) if policies is not None else list(known)
    if world_name == "v0" and (edge_arrival_rate is not None or fill_steps or fill_arrival_rate is not None):
        raise ValueError("--edge-arrival-rate, --fill-steps, --fill-arrival-rate: only for --world v1 (v0 has no edge queue)")
    if world_name == "v1" and holdout:
        raise ValueError(HOLDOUT_V0_ONLY)
    if fill_arrival_rate is not None and not fill_steps:
        raise ValueError("--fill-arrival-rate: give --fill-steps too (how many requests fill the pool)")
    check_bench_size(len(chosen) * seeds * steps, f"{len(chosen)} policies x {seeds} seeds x {steps:,} steps")
    problem = PROBLEMS[WORLDS[world_name]]
    data = read_yaml(config) if config is not None else {}
    world = problem.config(with_edge_load(data, edge_arrival_rate))
    fill = {}
    if fill_steps:
        fill_world = problem.config(with_edge_load(data, fill_arrival_rate if fill_arrival_rate is not None else edge_arrival_rate))
        fill = {"steps": fill_steps, "config": fill_world.model_dump(mode="json")}
    return BenchSettings(
        policies=chosen,
        seeds=list(range(seed, seed + seeds)),
        steps=steps,
        agent=agent.model_dump(mode="json"),
        config=world.model_dump(mode="json"),
        problem=problem.name,
        fill=fill,
        holdout=holdout,
    )


@bench_app.command("offloading")
@with_agent_options
def offloading(
    quick: bool = typer.Option(False, "--quick", help=f"{QUICK_STEPS} steps per run instead of {FULL_STEPS}."),
    seeds: int = typer.Option(3, min=1, max=MAX_SEEDS, help="Number of seeds (streams): seed, seed+1, ..."),
    seed: int = typer.Option(0, help="First seed."),
    steps: int | None = typer.Option(None, min=2, max=MAX_STEPS, help="Steps per run (overrides --quick)."),
    world_name: str = typer.Option("v0", "--world", help="v0: the paper's problem (Offloading-v0) | v1: Offloading-v1 (edge queue, moving cloud, overlapping quality)."),
    policies: str | None = typer.Option(
        None, help=f"Comma-separated policies to compare (v0 default: {','.join(BENCH_POLICIES)}; v1 default: {','.join(V1_POLICIES)})."
    ),
    config: Path | None = typer.Option(None, "--config", help="YAML config of the world (v0: sections radio, tasks, offloading; v1: radio, uplink, requests, edge, cloud, reward)."),
    edge_arrival_rate: float | None = typer.Option(None, "--edge-arrival-rate", min=0.0, help="v1: the load, requests/s arriving at the edge site (default from the config: 0.2)."),
    fill_steps: int = typer.Option(0, "--fill-steps", min=0, max=MAX_STEPS, help="v1: requests every policy plays first on another stream, not recorded (the ICL pool fills, DQN trains)."),
    fill_arrival_rate: float | None = typer.Option(
        None, "--fill-arrival-rate", min=0.0, help="v1: the load of the fill phase (default: the bench's); another load makes the recorded one unseen."
    ),
    out: Path = typer.Option(Path("runs"), help="Parent folder of the bench's run folder."),
    resume: Path | None = typer.Option(None, help="A bench run folder to complete (its settings are reused)."),
    as_json: bool = typer.Option(False, "--json", help="Print the table as JSON on stdout."),
    holdout: float = typer.Option(
        0.0, "--holdout", min=0.0, max=0.99, help="v0: share of keyword combinations held out of every pool and bandit (unseen states)."
    ),
    **agent_options: Any,
) -> None:
    """Compare every offloading policy on the same seeded request streams (ICL paper, Fig. 4 and III-C).

    Writes steps.csv (one row per policy x seed x step, as produced), bench.json and
    summary.json into a run folder; an interrupted bench is finished with --resume FOLDER.
    A policy whose fallback made more than --max-fallback-share of its LLM decisions on
    a seed is marked valid: false; the bench writes everything, then exits with 3.
    """
    try:
        if resume is not None:
            settings = load_settings(resume)
            run_dir = resume
            agent = AgentSettings.model_validate(settings.agent)
        else:
            agent = agent_settings(agent_options)
            settings = new_settings(
                world_name, policies, config, edge_arrival_rate, fill_steps, fill_arrival_rate,
                seed, seeds, steps or (QUICK_STEPS if quick else FULL_STEPS), agent, holdout,
            )
        problem = PROBLEMS[settings.problem]
        world = problem.config(settings.config)
        fill = FillPhase(settings.fill["steps"], problem.config(settings.fill["config"])) if settings.fill else None
    except (FileNotFoundError, ValueError, ConfigError) as error:
        fail(str(error))
    v1 = problem.name == "offloading-v1"
    if resume is None:
        run_dir = open_run_folder(out, run_name("bench-offloading-v1" if v1 else "bench-offloading", "all", seed)).path
        save_settings(run_dir, settings)
    offloading_runners = OffloadingRunners(world, agent, run_dir / "transcript.jsonl", problem, fill, settings.holdout)
    runners = offloading_runners.runners(settings.policies)
    total = len(settings.policies) * len(settings.seeds) * settings.steps
    with progress_bar() as progress:
        task = progress.add_task("bench offloading", total=total)
        hint = f"bench folder {run_dir} keeps the finished groups; continue with: edge-icl bench offloading --resume {run_dir}"
        try:
            groups = run_bench(
                run_dir,
                settings,
                runners,
                on_group_start=lambda name, s: progress.update(task, description=f"{name} seed {s}"),
                on_row=lambda row: progress.advance(task),
            )
        except (BackendError, BackendUnavailable, PromptError, ValueError) as error:
            fail(f"{error} ({hint})")
        except KeyboardInterrupt:
            note(f"interrupted; {hint}")
            raise typer.Exit(code=130) from None
        progress.update(task, completed=total)
    if v1:
        table = aggregate(groups, settings.policies, offloading_v1_metrics)
        summary = {
            "world": "v1",
            "policies": table,
            "world_facts": world_facts(groups),
            "seeds": settings.seeds,
            "steps": settings.steps,
            "edge_arrival_rate_per_s": world.edge.arrival_rate_per_s,
            "fill": {"steps": fill.steps, "edge_arrival_rate_per_s": fill.config.edge.arrival_rate_per_s} if fill else None,
            "agent": settings.agent,
        }
    else:
        table = aggregate(groups, settings.policies, offloading_metrics)
        summary = {"policies": table, "seeds": settings.seeds, "steps": settings.steps, "agent": settings.agent}
    # every ICL group's share of fallback decisions, from the transcript (groups of an earlier run of a resumed bench too)
    invalid = judge_fallbacks(table, read_jsonl(run_dir / "transcript.jsonl"), agent.max_fallback_share)
    lift_keys = LIFT_METRICS + (SPLIT_METRICS if settings.holdout else ()) + (("accuracy_seen", "accuracy_unseen") if fill else ())
    # LLM lift over the agent's no-LLM twin (and, on v1, over the queue-reading rule), paired by seed.
    lifts = {
        f"icl_minus_{other}": llm_lift(groups, offloading_v1_metrics if v1 else offloading_metrics, lift_keys, lookup=other)
        for other in (("lookup", "greedy") if v1 else ("lookup",))
    }
    lifts = {name: lift for name, lift in lifts.items() if lift}
    if lifts:  # per backend: this bench ran one
        summary["llm_lift"] = {agent.backend: {**lifts, "backend_options": agent.backend_options}}
    if settings.holdout:
        summary["holdout"] = {
            "fraction": settings.holdout,
            "held_out": {str(s): [dict(k) for k in sorted(offloading_runners.held_out(s))] for s in settings.seeds},
            "learn_from_every_state": [p for p in settings.policies if p == "dqn"],
        }
    (run_dir / "summary.json").write_text(dumps(summary, indent=2) + "\n")
    if as_json:
        typer.echo(dumps(summary, indent=2))
        end_if_invalid(f"bench {run_dir}", invalid, agent.max_fallback_share)
        return
    title = f"offloading{'-v1' if v1 else ''} bench: {len(settings.seeds)} seeds x {settings.steps} steps"
    shown = tuple(m for m in V1_METRICS if any(values.get(m) is not None for values in table.values())) if v1 else METRICS
    shown += ("fallback_share",) if any("fallback_share" in values for values in table.values()) else ()
    console = Console()
    console.print(metrics_table(title, table, shown + (SPLIT_METRICS if settings.holdout else ())))
    for name, lift in lifts.items():
        console.print(lift_table(f"LLM lift = {name.replace('_minus_', ' - ')} ({agent.backend}), paired by seed", lift))
    if v1 and summary["world_facts"]:
        facts = summary["world_facts"]
        shares = ", ".join(f"{k} {v:.2f}" for k, v in facts["oracle_offload_share_by_service"].items())
        console.print(
            f"best lookup vs the oracle: on (service, token level) {facts['best_coarse_lookup_accuracy']:.3f}, "
            f"on the task's keyword levels {facts['best_keyword_lookup_accuracy']:.3f}; oracle offload share: {shares}"
        )
    note(f"run folder: {run_dir}")
    end_if_invalid(f"bench {run_dir}", invalid, agent.max_fallback_share)
