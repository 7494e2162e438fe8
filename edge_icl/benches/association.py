"""`edge-icl bench association`: the ICL agent on user-LLM association beside its no-LLM baselines, DQN and the matching solvers.

Picano, Buratto and Badia (papers/inference-aware-matching.txt), played online
(`EdgeICL/Association-v0`: one arriving user per step) by the ICL agent of Zhou et al.
(papers/icl-task-offloading.txt), `lookup`, `bandit`, `least-delay` (eq. 8's first
choice) and DQN (stable-baselines3, invalid-action penalty), and solved one-shot by IAM,
Gale-Shapley, Kolkata and random selection (solvers/matching.py) on the same instances:
episode k of seed s is the k-th instance the env draws after `reset(seed=s)`, and every
policy's assignment is scored by `environment.association.evaluate`, so every row
compares. Metrics per instance, averaged over instances and seeds: mean e2e delay (3)
of served users, dropping probability (unserved or late, section V), served share.

The MILP optimum (`optimal_assignment`) takes 80-330 s per instance of the default size
(measured), so it runs on `--gap-runs` small instances (8-12 users, 3-5 nodes, section V
ranges otherwise), on which every policy plays too: a policy's optimality gap is its
mean delay over the MILP's least mean delay serving as many users, minus 1, as in
`edge-icl bench matching`. The `milp` row holds its own numbers on the small instances
(the most users served, then the least delay) and none at the default size.

Rows go to `default/steps.csv` and `small/steps.csv` as they are produced (one per policy
x seed x user), LLM calls to `transcript.jsonl` beside them; `--resume FOLDER` finishes
an interrupted bench.
"""

from __future__ import annotations

import time
from collections.abc import Callable
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
    icl_agent,
    judge_fallbacks,
    lift_table,
    llm_lift,
    load_settings,
    no_llm_learner,
    row_label,
    run_bench,
    save_settings,
)
from edge_icl.experiment.rollout import run_policy
from edge_icl.experiment.run_folder import dumps, read_jsonl, run_name
from agent.prompting import PromptError
from agent.settings import AgentSettings
from environment.association import (
    DROP,
    AssociationEnv,
    AssociationEnvConfig,
    AssociationInstance,
    AssociationTask,
    Assignment,
    association_env_config,
    evaluate,
    node_label,
    placement_reward,
)
from environment.config import MAX_SEEDS, ConfigError, read_yaml
from agent.baselines.registry import NO_LLM_BASELINES
from solvers.association_online import LeastDelayPolicy
from solvers.matching import HEURISTICS, optimal_assignment
from edge_icl.problems.matching import GAP_CONFIG

ONLINE = ("icl", *NO_LLM_BASELINES, "least-delay", "dqn")
ONE_SHOT = (*HEURISTICS, "milp")
BENCH_POLICIES = (*ONLINE, *ONE_SHOT)
TABLE_METRICS = ("mean_delay_ms", "drop_probability", "served_share", "optimality_gap")
LIFT_METRICS = ("mean_delay_ms", "drop_probability", "served_share", "mean_reward", "least_delay_choice_rate")
SIZES = ("default", "small")


def small_config(config: AssociationEnvConfig) -> AssociationEnvConfig:
    """The same setting with `GAP_CONFIG`'s numbers of users and nodes (small enough for the MILP)."""
    instances = config.instances.model_copy(update={"n_users": GAP_CONFIG.n_users, "n_nodes": GAP_CONFIG.n_nodes})
    return config.model_copy(update={"instances": instances})


def draw_instances(config: AssociationEnvConfig, seed: int, runs: int) -> list[AssociationInstance]:
    """The `runs` instances an env draws after `reset(seed=seed)`: the episodes every online policy plays."""
    env = AssociationEnv(config)
    instances = []
    for k in range(runs):
        env.reset(seed=seed if k == 0 else None)
        instances.append(env.instance)
    return instances


def assignment_rows(instance: AssociationInstance, assignment: Assignment, index: int, env_config: AssociationEnvConfig, first_step: int) -> list[dict[str, Any]]:
    """A one-shot solver's assignment as the rows `AssociationTask.row` makes (delays by `evaluate`), one per user."""
    outcome = evaluate(instance, assignment)
    online, drop_action = env_config.online, env_config.instances.n_nodes[1]
    rows = []
    for u in range(instance.n_users):
        served = bool(outcome.served[u])
        delay = float(outcome.delay_ms[u]) if served else None
        node = int(assignment.node_of[u])
        rows.append({
            "step": first_step + u,
            "instance": index,
            "user": u,
            "arrival": int(assignment.order[u]) if served else -1,
            "llm_type": int(instance.user_type[u]),
            "tokens": int(instance.tokens[u]),
            "deadline_ms": round(float(instance.deadline_ms[u]), 6),
            "open_nodes": 0,  # not an online decision
            "action": node if served else drop_action,
            "decision": node_label(node) if served else DROP,
            "served": int(served),
            "invalid": 0,
            "delay_ms": round(delay, 6) if delay is not None else "",
            "late": int(outcome.late[u]),
            "reward": round(placement_reward(delay or 0.0, float(instance.deadline_ms[u]), served, online.late_penalty_ms, online.drop_penalty_ms), 6),
            "greedy_action": -1,
        })
    return rows


def solver_generator(seed: int, instance: int, name: str) -> np.random.Generator:
    """A one-shot solver's own generator for one instance (independent of the env's and of the other solvers')."""
    return np.random.default_rng([seed, instance, list(HEURISTICS).index(name) if name in HEURISTICS else len(HEURISTICS)])


class AssociationRunners:
    """How each bench policy plays one seed's instances of one size.

    Parameters
    ----------
    env_config: the env's config (instances of this size, online rewards).
    agent: the ICL agent's settings (lookup and bandit take theirs from the same).
    transcript: this size's transcript.jsonl (every ICL and lookup step, tagged with policy and seed).
    runs: instances per seed.
    backend: builds the bench's one LLM on first use (shared by both sizes).
    """

    def __init__(self, env_config: AssociationEnvConfig, agent: AgentSettings, transcript: Path, runs: int, backend: Callable[[], LLMBackend]) -> None:
        self.env_config = env_config
        self.agent = agent
        self.transcript = transcript
        self.runs = runs
        self.backend = backend
        self.task = AssociationTask()
        self._instances: dict[int, list[AssociationInstance]] = {}
        self.wall_s: dict[tuple[str, int], float] = {}

    def instances(self, seed: int) -> list[AssociationInstance]:
        if seed not in self._instances:
            self._instances[seed] = draw_instances(self.env_config, seed, self.runs)
        return self._instances[seed]

    def expected_rows(self, name: str, seed: int) -> int:
        """One row per user of the seed's instances, for every policy."""
        return sum(i.n_users for i in self.instances(seed))

    def online(self, name: str, seed: int, on_row: RowCallback) -> None:
        """Play the seed's instances one arriving user at a time (learners learn across instances)."""
        steps = self.expected_rows(name, seed)
        if name == "dqn":
            from solvers.association_dqn import train_association_dqn

            train_association_dqn(self.env_config, seed, steps, on_step=lambda step, action, reward, info: on_row(self.task.row(step, action, reward, info)))
            return
        if name == "least-delay":
            run_policy(LeastDelayPolicy(), AssociationEnv(self.env_config), self.task, steps, seed, on_step=on_row)
            return
        with open(self.transcript, "a") as transcript:

            def write(record: dict[str, Any]) -> None:
                transcript.write(dumps({"policy": name, "seed": seed, **record}) + "\n")
                transcript.flush()

            learner = no_llm_learner(name) if name in NO_LLM_BASELINES else icl_agent
            policy = learner(self.task, self.agent, seed, self.backend, write)
            run_policy(policy, AssociationEnv(self.env_config), self.task, steps, seed, on_step=on_row)

    def one_shot(self, name: str, seed: int, on_row: RowCallback) -> None:
        """Solve each of the seed's instances at once and score the assignment with `evaluate`."""
        step = 0
        for k, instance in enumerate(self.instances(seed)):
            assignment = optimal_assignment(instance) if name == "milp" else HEURISTICS[name](instance, solver_generator(seed, k, name))
            for row in assignment_rows(instance, assignment, k, self.env_config, step):
                on_row(row)
            step += instance.n_users

    def runners(self, policies: list[str]) -> dict[str, Any]:
        """Each policy's runner `(seed, steps, on_row)` (steps: ignored, a run is `runs` whole instances), timed."""

        def timed(name: str) -> Callable[[int, int, RowCallback], None]:
            def run(seed: int, steps: int, on_row: RowCallback) -> None:
                started = time.perf_counter()
                (self.online if name in ONLINE else self.one_shot)(name, seed, on_row)
                self.wall_s[(name, seed)] = time.perf_counter() - started

            return run

        return {name: timed(name) for name in policies}


def optimality_gaps(groups: dict[tuple[str, int], list[dict[str, Any]]], runners: AssociationRunners) -> dict[tuple[str, int], float | None]:
    """Per policy and seed: mean over instances of mean delay / MILP optimum serving as many users - 1."""
    optimum: dict[tuple[int, int, int], float] = {}
    gaps: dict[tuple[str, int], float | None] = {}
    for (name, seed), rows in groups.items():
        per_instance = []
        for k, instance in enumerate(runners.instances(seed)):
            delays = [float(r["delay_ms"]) for r in rows if int(r["instance"]) == k and int(r["served"])]
            if not delays:
                continue
            key = (seed, k, len(delays))
            if key not in optimum:
                optimum[key] = evaluate(instance, optimal_assignment(instance, len(delays))).mean_delay_ms
            per_instance.append(float(np.mean(delays)) / optimum[key] - 1.0)
        gaps[(name, seed)] = float(np.mean(per_instance)) if per_instance else None
    return gaps


def policy_table(groups: dict[tuple[str, int], list[dict[str, Any]]], policies: list[str], gaps: dict[tuple[str, int], float | None]) -> dict[str, dict[str, Any]]:
    """Each policy's metrics averaged over seeds, with its optimality gap."""
    task = AssociationTask()

    def metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {k: v for k, v in task.metrics(rows).items() if k not in ("steps",)}

    table = aggregate(groups, policies, metrics)
    for name in table:
        values = [g for (policy, _), g in gaps.items() if policy == name and g is not None]
        table[name]["optimality_gap"] = float(np.mean(values)) if values else None
    return table


def results_table(title: str, table: dict[str, dict[str, Any]]) -> Table:
    out = Table(title=title)
    out.add_column("policy")
    for metric in (*TABLE_METRICS, "least_delay_choice_rate"):
        out.add_column(metric.replace("_", " "), justify="right")
    for name, values in table.items():
        out.add_row(row_label(name, values), *("-" if values.get(m) is None else f"{values[m]:.3f}" for m in (*TABLE_METRICS, "least_delay_choice_rate")))
    return out


@bench_app.command("association")
@with_agent_options
def association(
    # At most 1,000 instances: each is an episode of about 100 arriving users (steps), so
    # 1,000 are MAX_STEPS steps per policy and seed.
    runs: int = typer.Option(20, min=1, max=1_000, help="Instances of the default size per seed (one episode each)."),
    seeds: int = typer.Option(1, min=1, max=MAX_SEEDS, help="Number of seeds: seed, seed+1, ..."),
    seed: int = typer.Option(0, help="First seed."),
    # At most 1,000 small instances: the exact MILP solves each one.
    gap_runs: int = typer.Option(10, min=0, max=1_000, help="Small instances per seed (8-12 users, 3-5 nodes) for the MILP optimum and the optimality gap."),
    policies: str = typer.Option(",".join(BENCH_POLICIES), help="Comma-separated policies to compare."),
    config: Path | None = typer.Option(None, "--config", help="YAML config of the env (sections instances, online)."),
    out: Path = typer.Option(Path("runs"), help="Parent folder of the bench's run folder."),
    resume: Path | None = typer.Option(None, help="A bench run folder to complete (its settings are reused)."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON on stdout."),
    **agent_options: Any,
) -> None:
    """Every association policy on the same instances (Picano et al. section V; the ICL agent online).

    Mean e2e delay of served users, dropping probability, served share, and optimality gap
    on small instances; LLM lift = icl - lookup per seed. A policy whose fallback made more
    than --max-fallback-share of its LLM decisions on a seed is marked valid: false; the
    bench writes everything, then exits with 3.
    """
    try:
        if resume is not None:
            settings = load_settings(resume)
            run_dir = resume
            env_config = association_env_config(settings.config["env"])
            gap_runs = int(settings.config["gap_runs"])
            agent = AgentSettings.model_validate(settings.agent)
        else:
            chosen = chosen_names(policies, BENCH_POLICIES)
            env_config = association_env_config(None if config is None else read_yaml(config))
            most_users = env_config.instances.n_users[1]
            check_bench_size(len(chosen) * seeds * runs * most_users, f"{len(chosen)} policies x {seeds} seeds x {runs} instances x up to {most_users} users")
            agent = agent_settings(agent_options)
            settings = BenchSettings(
                policies=chosen,
                seeds=list(range(seed, seed + seeds)),
                steps=runs,
                agent=agent.model_dump(mode="json"),
                config={"env": env_config.model_dump(mode="json"), "gap_runs": gap_runs},
                problem="association",
            )
    except (FileNotFoundError, ValueError, ConfigError, KeyError) as error:
        fail(str(error))
    if resume is None:
        run_dir = open_run_folder(out, run_name("bench-association", "all", seed)).path
        save_settings(run_dir, settings)
    backend: list[LLMBackend] = []

    def shared_backend() -> LLMBackend:
        if not backend:
            backend.append(make_backend(agent.backend, agent.backend_options))
        return backend[0]

    sizes = {"default": (env_config, settings.steps, [p for p in settings.policies if p != "milp"])}
    if gap_runs:
        sizes["small"] = (small_config(env_config), gap_runs, settings.policies)
    runners: dict[str, AssociationRunners] = {}
    for size, (size_config, size_runs, _) in sizes.items():
        (run_dir / size).mkdir(exist_ok=True)
        runners[size] = AssociationRunners(size_config, agent, run_dir / size / "transcript.jsonl", size_runs, shared_backend)
    total = sum(runners[size].expected_rows(p, s) for size, (_, _, chosen) in sizes.items() for p in chosen for s in settings.seeds)
    started = time.perf_counter()
    groups: dict[str, dict[tuple[str, int], list[dict[str, Any]]]] = {}
    with progress_bar() as progress:
        bar = progress.add_task("bench association", total=total)
        hint = f"bench folder {run_dir} keeps the finished groups; continue with: edge-icl bench association --resume {run_dir}"
        try:
            for size, (_, size_runs, chosen) in sizes.items():
                size_settings = BenchSettings(policies=chosen, seeds=settings.seeds, steps=size_runs)
                groups[size] = run_bench(
                    run_dir / size,
                    size_settings,
                    runners[size].runners(chosen),
                    on_group_start=lambda name, s, size=size: progress.update(bar, description=f"{size}: {name} seed {s}"),
                    on_row=lambda row: progress.advance(bar),
                    expected_rows=runners[size].expected_rows,
                )
        except (BackendError, BackendUnavailable, PromptError, ValueError) as error:
            fail(f"{error} ({hint})")
        except KeyboardInterrupt:
            note(f"interrupted; {hint}")
            raise typer.Exit(code=130) from None
    gaps = optimality_gaps(groups["small"], runners["small"]) if "small" in groups else {}
    main = policy_table(groups["default"], [p for p in settings.policies if p != "milp"], gaps)
    if "milp" in settings.policies:
        milp_gap = [g for (p, _), g in gaps.items() if p == "milp" and g is not None]
        main["milp"] = {m: None for m in TABLE_METRICS} | {"optimality_gap": float(np.mean(milp_gap)) if milp_gap else None, "note": "small instances only: see small_instances"}
    summary: dict[str, Any] = {"policies": main}
    if "small" in groups:
        summary["small_instances"] = policy_table(groups["small"], settings.policies, gaps)
    # every ICL group's share of fallback decisions, per size, from its transcript (resumed groups too)
    invalid: list[tuple[str, Any]] = []
    for size, size_table in (("default", main), ("small", summary.get("small_instances"))):
        if size_table is not None:
            unit = lambda record, size=size: f"{size}: {record.get('policy')} seed {record.get('seed')}"
            invalid += judge_fallbacks(size_table, read_jsonl(run_dir / size / "transcript.jsonl"), agent.max_fallback_share, unit_of=unit)
    lift = llm_lift(groups["default"], AssociationTask().metrics, LIFT_METRICS)
    if lift:
        summary["llm_lift"] = {agent.backend: {"icl_minus_lookup": lift, "backend_options": agent.backend_options}}
    summary.update(
        runs=settings.steps,
        gap_runs=gap_runs,
        seeds=settings.seeds,
        dqn="stable-baselines3 DQN, online on the same instances, invalid-action penalty (no masking)",
        wall_s={"total": time.perf_counter() - started, **{f"{size}/{p}/{s}": w for size, r in runners.items() for (p, s), w in r.wall_s.items()}},
        agent=settings.agent,
    )
    (run_dir / "summary.json").write_text(dumps(summary, indent=2) + "\n")
    if as_json:
        typer.echo(dumps(summary, indent=2))
        end_if_invalid(f"bench {run_dir}", invalid, agent.max_fallback_share)
        return
    console = Console()
    console.print(results_table(f"association, {settings.steps} instances x {len(settings.seeds)} seeds (gap: {gap_runs} small instances per seed)", main))
    if lift:
        console.print(lift_table(f"LLM lift = icl - lookup ({agent.backend}), paired by seed", lift))
    note(f"run folder: {run_dir}")
    end_if_invalid(f"bench {run_dir}", invalid, agent.max_fallback_share)
