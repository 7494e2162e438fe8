"""`edge-icl bench offloading`: the ICL agent, its baselines, DQN and the reference policies side by side.

Zhou et al. (papers/icl-task-offloading.txt) section III-C and IV: `icl` is the paper's
method (prioritized pool, epsilon-greedy); `icl-latest` is baseline 1 (latest
experience); `icl-no-explore` is baseline 2 (no exploration); DQN is baseline 3; the
reference policies bound it; `lookup` and `bandit` are the agent's no-LLM baselines
(solvers.agent_baselines), and the summary's `llm_lift` is ICL - lookup per seed. Every
policy meets the same seeded request streams. Every LLM call goes to the bench folder's
`transcript.jsonl`, tagged with policy and seed; one backend is built per bench and
reused by every run, so the model loads once. `--holdout F` keeps a seeded share F of
the keyword combinations out of every pool and bandit (unseen states) and splits the
accuracy into seen and unseen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from agent.backends.base import BackendError, BackendUnavailable, LLMBackend
from agent.backends.registry import make_backend
from agent.cli.agent_options import agent_settings, with_agent_options
from agent.cli.app import bench_app, fail, note, open_run_folder, progress_bar, read_config
from agent.cli.bench import (
    BenchSettings,
    RowCallback,
    aggregate,
    held_out_states,
    learning_metrics,
    lift_table,
    llm_lift,
    load_settings,
    run_bench,
    save_settings,
    split_accuracy,
)
from agent.cli.rollout import run_policy
from agent.cli.run_folder import dumps, run_name
from agent.experience import Keywords
from agent.icl import ICLAgent
from agent.prompting import PromptError
from agent.settings import AgentSettings
from environment.config import ConfigError
from environment.offloading import OffloadingEnv, OffloadingEnvConfig, OffloadingTask, offloading_env_config
from solvers.agent_baselines import NO_LLM_BASELINES
from solvers.policy import policy_generator
from solvers.reference import REFERENCE_POLICIES, reference_policy

# The ICL agent and its two baselines of section III-C, as changes to the agent's settings.
ICL_VARIANTS: dict[str, dict[str, str]] = {
    "icl": {},
    "icl-latest": {"pool": "latest"},
    "icl-no-explore": {"exploration": "none"},
}
BENCH_POLICIES = (*ICL_VARIANTS, *NO_LLM_BASELINES, "dqn", *REFERENCE_POLICIES)
QUICK_STEPS, FULL_STEPS = 150, 500
METRICS = ("mean_reward_last_half", "quality_success_rate", "mean_delay_s", "decision_accuracy", "steps_to_95")
SPLIT_METRICS = ("decision_accuracy_seen", "decision_accuracy_unseen")
LIFT_METRICS = ("mean_reward_last_half", "decision_accuracy", *SPLIT_METRICS)


def offloading_metrics(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """The bench's metrics of one policy on one seed's run: learning, quality success (Fig. 4(b)), delay."""
    quality = [int(r["quality_met"]) for r in rows if r["task_class"] == "quality-preferred"]
    return {
        **learning_metrics(rows),
        "quality_success_rate": float(np.mean(quality)) if quality else None,
        "mean_delay_s": float(np.mean([float(r["total_delay_s"]) for r in rows])),
        **split_accuracy(rows),
    }


class OffloadingRunners:
    """How each bench policy runs on one seed's stream of the offloading world.

    Parameters
    ----------
    world: the problem's config.
    agent: the ICL agent's settings (the variants change pool or exploration).
    transcript: the bench's transcript.jsonl (every ICL step, tagged with policy and seed).
    holdout: share of keyword combinations held out of the learners' memory (rows get `held_out`).
    """

    def __init__(self, world: OffloadingEnvConfig, agent: AgentSettings, transcript: Path, holdout: float = 0.0) -> None:
        self.world = world
        self.agent = agent
        self.transcript = transcript
        self.holdout = holdout
        self.task = OffloadingTask()
        self._backend: LLMBackend | None = None
        env = OffloadingEnv(world)
        self.states: list[Keywords] = [(("service_type", s), ("token_size", t)) for s in env.service_names for t in env.token_level_names]

    def held_out(self, seed: int) -> frozenset[Keywords]:
        """The keyword combinations seed `seed` holds out (none without --holdout)."""
        return held_out_states(self.states, self.holdout, seed)

    def tagged(self, on_row: RowCallback, seed: int) -> RowCallback:
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

    def reference_or_dqn(self, name: str, seed: int, steps: int, on_row: RowCallback) -> None:
        """Run a non-LLM policy on seed `seed`'s stream (DQN learns online on it)."""
        if name == "dqn":
            from solvers.dqn import train_dqn

            on_row = self.tagged(on_row, seed)  # DQN learns on every state, held out or not
            train_dqn(self.world, seed, steps, on_step=lambda step, action, reward, info: on_row(self.task.row(step, action, reward, info)))
            return
        run_policy(reference_policy(name, policy_generator(seed)), OffloadingEnv(self.world), self.task, steps, seed, on_step=self.tagged(on_row, seed))

    def icl(self, name: str, seed: int, steps: int, on_row: RowCallback) -> None:
        """Run ICL variant (or no-LLM baseline) `name` on seed `seed`'s stream; its steps go to the bench transcript."""
        settings = self.agent.model_copy(update=ICL_VARIANTS.get(name, {}))
        with open(self.transcript, "a") as transcript:

            def write(record: dict[str, Any]) -> None:
                transcript.write(dumps({"policy": name, "seed": seed, **record}) + "\n")
                transcript.flush()

            if name in NO_LLM_BASELINES:
                agent = NO_LLM_BASELINES[name](self.task, settings, seed, transcript=write, held_out=self.held_out(seed))
            else:
                agent = ICLAgent.from_settings(self.task, settings, seed, backend=self.backend(), transcript=write, held_out=self.held_out(seed))
            run_policy(agent, OffloadingEnv(self.world), self.task, steps, seed, on_step=self.tagged(on_row, seed))

    def runners(self, policies: list[str]) -> dict[str, Any]:
        """Each policy's runner `(seed, steps, on_row)`."""
        runner = {name: self.icl if name in ICL_VARIANTS or name in NO_LLM_BASELINES else self.reference_or_dqn for name in policies}
        return {name: (lambda seed, steps, on_row, name=name: runner[name](name, seed, steps, on_row)) for name in policies}


def metrics_table(title: str, table: dict[str, dict], metrics: tuple[str, ...] = METRICS) -> Table:
    out = Table(title=title)
    out.add_column("policy")
    for metric in metrics:
        out.add_column(metric.replace("_", " "), justify="right")
    for name, values in table.items():
        out.add_row(name, *("-" if values.get(m) is None else f"{values[m]:.3f}" for m in metrics))
    return out


@bench_app.command("offloading")
@with_agent_options
def offloading(
    quick: bool = typer.Option(False, "--quick", help=f"{QUICK_STEPS} steps per run instead of {FULL_STEPS}."),
    seeds: int = typer.Option(3, min=1, help="Number of seeds (streams): seed, seed+1, ..."),
    seed: int = typer.Option(0, help="First seed."),
    steps: int | None = typer.Option(None, min=2, help="Steps per run (overrides --quick)."),
    policies: str = typer.Option(",".join(BENCH_POLICIES), help="Comma-separated policies to compare."),
    config: Path | None = typer.Option(None, "--config", help="YAML config of the world (sections radio, tasks, offloading)."),
    out: Path = typer.Option(Path("runs"), help="Parent folder of the bench's run folder."),
    resume: Path | None = typer.Option(None, help="A bench run folder to complete (its settings are reused)."),
    as_json: bool = typer.Option(False, "--json", help="Print the table as JSON on stdout."),
    holdout: float = typer.Option(0.0, "--holdout", min=0.0, max=0.99, help="Share of keyword combinations held out of every pool and bandit (unseen states)."),
    **agent_options: Any,
) -> None:
    """Compare every offloading policy on the same seeded request streams (ICL paper, Fig. 4 and III-C).

    Writes steps.csv (one row per policy x seed x step, as produced), bench.json and
    summary.json into a run folder; an interrupted bench is finished with --resume FOLDER.
    """
    try:
        if resume is not None:
            settings = load_settings(resume)
            run_dir = resume
            world = offloading_env_config(settings.config)
            agent = AgentSettings.model_validate(settings.agent)
        else:
            chosen = [p.strip() for p in policies.split(",") if p.strip()]
            unknown = [p for p in chosen if p not in BENCH_POLICIES]
            if unknown:
                fail(f"--policies: unknown {', '.join(unknown)}; choose from {', '.join(BENCH_POLICIES)}")
            world = read_config(config)
            agent = agent_settings(agent_options)
            settings = BenchSettings(
                policies=chosen,
                seeds=list(range(seed, seed + seeds)),
                steps=steps or (QUICK_STEPS if quick else FULL_STEPS),
                agent=agent.model_dump(mode="json"),
                config=world.model_dump(mode="json"),
                holdout=holdout,
            )
    except (FileNotFoundError, ValueError, ConfigError) as error:
        fail(str(error))
    if resume is None:
        run_dir = open_run_folder(out, run_name("bench-offloading", "all", seed)).path
        save_settings(run_dir, settings)
    offloading_runners = OffloadingRunners(world, agent, run_dir / "transcript.jsonl", settings.holdout)
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
    table = aggregate(groups, settings.policies, offloading_metrics)
    summary: dict[str, Any] = {"policies": table, "seeds": settings.seeds, "steps": settings.steps, "agent": settings.agent}
    lift = llm_lift(groups, offloading_metrics, LIFT_METRICS if settings.holdout else LIFT_METRICS[:2])
    if lift:  # per backend: this bench ran one
        summary["llm_lift"] = {agent.backend: {"icl_minus_lookup": lift, "backend_options": agent.backend_options}}
    if settings.holdout:
        summary["holdout"] = {
            "fraction": settings.holdout,
            "held_out": {str(s): [dict(k) for k in sorted(offloading_runners.held_out(s))] for s in settings.seeds},
            "learn_from_every_state": [p for p in settings.policies if p == "dqn"],
        }
    (run_dir / "summary.json").write_text(dumps(summary, indent=2) + "\n")
    if as_json:
        typer.echo(dumps(summary, indent=2))
    else:
        console = Console()
        columns = METRICS + (SPLIT_METRICS if settings.holdout else ())
        console.print(metrics_table(f"offloading bench: {len(settings.seeds)} seeds x {settings.steps} steps", table, columns))
        if lift:
            console.print(lift_table(f"LLM lift = icl - lookup ({agent.backend}), paired by seed", lift))
        note(f"run folder: {run_dir}")
