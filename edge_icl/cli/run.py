"""`edge-icl run`: one policy on one decision problem, into a run folder.

The default is the ICL agent (Zhou et al., papers/icl-task-offloading.txt, section III)
on the edge-cloud offloading problem with the local default LLM; the oracle runs on the
same seed, so the same stream, and stands beside it in the final table.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from agent.backends.base import BackendError, BackendUnavailable
from edge_icl.cli.agent_options import agent_settings, with_agent_options
from edge_icl.cli.app import app, fail, fail_invalid, note, progress_bar
from edge_icl.problems.registry import PROBLEMS, Problem
from edge_icl.experiment.rollout import run_policy
from edge_icl.experiment.run_folder import RunFolder, check_out_dir, dumps, read_csv_rows, read_jsonl, rewrite_csv, run_name, write_jsonl
from agent.fallback_share import FallbackCount, too_many
from agent.icl import ICLAgent, ReplayError
from agent.prompting import PromptError
from agent.settings import AgentSettings
from environment.config import MAX_STEPS, ConfigError
from environment.policy import Policy

# Facts of the summary shown in the table besides the problem's own metrics.
LLM_FACTS = ("llm_calls", "parse_failures", "fallback_share")


def summary_table(title: str, summaries: dict[str, dict[str, Any]]) -> Table:
    """A rich table of run summaries, one row per policy: every number the first summary holds."""
    first = next(iter(summaries.values()))
    keys = [k for k, v in first.items() if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("steps", "seed", "max_fallback_share")]
    keys += [k for k in LLM_FACTS if k not in keys]
    table = Table(title=title)
    table.add_column("policy")
    for key in keys:
        table.add_column(key.replace("_", " "), justify="right")
    for name, summary in summaries.items():
        cells = [name]
        for key in keys:
            value = summary.get(key)
            cells.append("-" if value is None else (str(value) if isinstance(value, int) else f"{value:.3f}"))
        table.add_row(*cells)
    return table


@app.command()
@with_agent_options
def run(
    problem: str = typer.Option("offloading", help=f"Decision problem: {' | '.join(PROBLEMS)}."),
    policy: str = typer.Option(
        "icl",
        help="Decision maker: icl, or one of the problem's policies ("
        + "; ".join(f"{name}: {' | '.join(p.policies)}" for name, p in PROBLEMS.items())
        + ").",
    ),
    steps: int = typer.Option(50, min=1, max=MAX_STEPS, help="Number of decisions (environment steps)."),
    seed: int = typer.Option(0, help="Run seed: the same seed gives the same world and stream."),
    config: Path | None = typer.Option(None, "--config", help="YAML config of the problem (offloading: sections radio, tasks, offloading; offloading-v1: radio, uplink, requests, edge, cloud, reward; caching: CachingConfig fields; auction: MarketConfig fields)."),
    out: Path = typer.Option(Path("runs"), help="Parent folder of the run folder."),
    as_json: bool = typer.Option(False, "--json", help="Print summary.json to stdout instead of a table."),
    resume: Path | None = typer.Option(
        None, "--resume", help="Continue the run in this run folder (stopped or killed): its steps are replayed without LLM calls, then it runs on to its last step. Other options are ignored: the folder's config.yaml holds them."
    ),
    **agent_options: Any,
) -> None:
    """Run a policy on a decision problem (default: the ICL agent on edge-cloud offloading, ICL paper eq. 4 and 10).

    Writes a run folder under OUT with config.yaml (first), steps.csv (one row per step,
    as it goes), transcript.jsonl (every step of the ICL agent: its LLM call or its
    exploration) and summary.json. Ctrl-C writes summary.json for the steps done (exit
    130); `--resume RUN_DIR` continues a run that was stopped or killed. An ICL run whose
    fallback made more than --max-fallback-share of its LLM decisions is written whole,
    its summary marked valid: false, and exits with 3.
    """
    if resume is not None:
        resume_run(resume, as_json)
        return
    chosen = find_problem(problem)
    if policy != "icl" and policy not in chosen.policies:
        fail(f"--policy: unknown policy {policy!r} for {problem}; choose one of {', '.join(['icl', *chosen.policies])}")
    try:
        check_out_dir(out)
        world = chosen.load_config(config)
        settings = agent_settings(agent_options) if policy == "icl" else None
    except (ValueError, ConfigError) as error:
        fail(str(error))
    decision_maker = build_policy(chosen, policy, world, settings, seed)  # before the run folder: bad input leaves none
    folder = RunFolder(out, run_name(problem, policy, seed))
    config_dump: dict[str, Any] = {
        "run": {"problem": problem, "policy": policy, "steps": steps, "seed": seed},
        **world.model_dump(mode="json"),
        **({"icl": settings.model_dump(mode="json")} if settings is not None else {}),
    }
    folder.write_config(config_dump)
    if isinstance(decision_maker, ICLAgent):
        folder.copy_templates(decision_maker.prompt.folder)
    execute(folder, chosen, decision_maker, world, config_dump, as_json)


def find_problem(name: str) -> Problem:
    if name not in PROBLEMS:
        fail(f"--problem: unknown problem {name!r}; choose one of {', '.join(PROBLEMS)}")
    return PROBLEMS[name]


def build_policy(problem: Problem, policy: str, world: Any, settings: AgentSettings | None, seed: int) -> Policy:
    """The decision maker of `edge-icl run`; bad choices end the command with one line (exit 2)."""
    if policy != "icl":
        return problem.policies[policy](seed, world)
    try:
        agent = ICLAgent.from_settings(problem.task(world), settings or AgentSettings(), seed)
    except (ValueError, PromptError, BackendUnavailable) as error:
        fail(str(error))
    agent.on_warning = lambda message: note(f"warning: {message}", "bold yellow")
    return agent


def resume_run(path: Path, as_json: bool) -> None:
    """`edge-icl run --resume RUN_DIR`: replay the run's finished steps, then go on to its last step."""
    try:
        folder = RunFolder.existing(path)
        config_dump = folder.read_config()
        settings = config_dump.get("run")
        if not isinstance(settings, dict):
            raise ValueError(f"--resume: {path}/config.yaml has no run section (made before runs could resume)")
        problem = find_problem(settings.get("problem", "offloading"))
        world = problem.config({k: v for k, v in config_dump.items() if k not in ("run", "icl")})
        agent = AgentSettings.model_validate(config_dump["icl"]) if "icl" in config_dump else None
    except (ValueError, ConfigError) as error:
        fail(str(error))
    decision_maker = build_policy(problem, settings["policy"], world, agent, int(settings["seed"]))
    execute(folder, problem, decision_maker, world, config_dump, as_json, resuming=True)


def steps_done(folder: RunFolder, decision_maker: Policy) -> tuple[list[dict[str, str]], dict[int, dict[str, Any]]]:
    """The rows a stopped run finished and, for the ICL agent, their transcript records by step.

    Lines torn by a kill are cut from both files; a step whose record or row is missing
    is dropped from both (a record is written before its row).
    """
    done = read_csv_rows(folder.path / "steps.csv", truncate=True)
    if not isinstance(decision_maker, ICLAgent):
        return done, {}
    kept = [r for r in read_jsonl(folder.path / "transcript.jsonl", truncate=True) if int(r.get("step", -1)) < len(done)]
    records = {int(r["step"]): r for r in kept}
    done = done[: next((s for s in range(len(done)) if s not in records), len(done))]
    write_jsonl(folder.path / "transcript.jsonl", [r for r in kept if int(r["step"]) < len(done)])
    rewrite_csv(folder.path / "steps.csv", done)
    return done, records


def execute(
    folder: RunFolder, problem: Problem, decision_maker: Policy, world: Any, config_dump: dict[str, Any], as_json: bool, resuming: bool = False
) -> None:
    """Run (or continue) the run of `folder`; write steps, transcript, summary.json and run.json.

    An LLM backend that fails for good ends the run with one line naming the folder; Ctrl-C
    writes the summary of the steps done and exits with 130.
    """
    settings = config_dump["run"]
    policy, steps, seed = settings["policy"], int(settings["steps"]), int(settings["seed"])
    task = problem.task(world)
    done, records = steps_done(folder, decision_maker) if resuming else ([], {})
    if resuming and len(done) >= steps:
        note(f"{folder.path} already holds all {steps} steps; writing its summary")
    if isinstance(decision_maker, ICLAgent):
        decision_maker.transcript = lambda record: folder.append_jsonl("transcript.jsonl", record)
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    resume_hint = f"run folder {folder.path} keeps the steps done; continue with: edge-icl run --resume {folder.path}"

    judged = fallback_judged(decision_maker)

    def summary(**extra: Any) -> dict[str, Any]:
        verdict = judged[0]().facts(judged[1]) if judged else {}
        return {**task.metrics(rows), **policy_facts(decision_maker), **verdict, "seed": seed, "policy": policy, **extra, "config": config_dump}

    with progress_bar(disable=as_json) as progress:
        bar = progress.add_task(policy, total=steps, completed=len(done))

        def on_step(row: dict[str, Any]) -> None:
            folder.append_row(row)
            progress.advance(bar)

        try:
            run_policy(decision_maker, problem.env(world), task, steps, seed, on_step=on_step, done=done, records=records, rows=rows)
        except BackendError as error:
            folder.close()
            fail(f"{error} ({resume_hint})")
        except ReplayError as error:
            folder.close()
            fail(f"--resume: {error}")
        except KeyboardInterrupt:
            folder.close()
            folder.write_json("summary.json", summary(interrupted=True))
            note(f"interrupted after {len(rows)} of {steps} steps; summary.json written; {resume_hint}")
            raise typer.Exit(code=130) from None
        finally:
            folder.close()
    result = summary()
    folder.write_json("summary.json", result)
    folder.write_json("run.json", {"run_dir": str(folder.path), "wall_s": time.perf_counter() - started, "resumed_at_step": len(done) if resuming else None})
    if as_json:
        typer.echo(dumps(result, indent=2))
    else:
        summaries = {policy: result}
        if policy != "oracle" and "oracle" in problem.policies:
            oracle = run_policy(problem.policies["oracle"](seed, world), problem.env(world), task, steps, seed)
            summaries["oracle (same stream)"] = oracle.summary
        Console().print(summary_table(f"{problem.name}, seed {seed}, {steps} steps", summaries))
        note(f"run folder: {folder.path}")
    if result.get("valid") is False:
        fail_invalid(
            too_many(f"run {folder.path}", judged[0](), judged[1])
            + " (summary.json says valid: false; steps.csv and transcript.jsonl keep every step, the transcript marks the fallback's)"
        )


def fallback_judged(decision_maker: object) -> tuple[Callable[[], FallbackCount], float] | None:
    """For an agent that asks an LLM: how to count its fallback decisions now, and the share it may reach; else None."""
    if not isinstance(decision_maker, ICLAgent) or not decision_maker.uses_llm:
        return None
    return decision_maker.stats.fallback_count, decision_maker.settings.max_fallback_share


def policy_facts(decision_maker: object) -> dict[str, Any]:
    """LLM facts for the summary: calls, parse failures, backend and model (zeros / None for the rest),
    and what the LLM call cache did (model_calls: calls the model answered, calibration included; cache_hits)."""
    stats = getattr(decision_maker, "stats", None)
    backend = getattr(decision_maker, "backend", None)
    facts: dict[str, Any] = {"llm_calls": 0, "parse_failures": 0, "fallback_share": None, "backend": None, "model": None}
    if stats is not None:
        facts.update(stats.summary())
    if backend is not None:
        facts.update(backend=backend.name, model=backend.model)
        cache_stats = getattr(backend, "cache_stats", None)
        if callable(cache_stats):  # the persistent LLM call cache (agent/llm_cache.py)
            facts.update(cache_stats())
    return facts
