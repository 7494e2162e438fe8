"""`edge-icl bench offloading`: the ICL agent, its baselines, DQN and the reference policies side by side."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from agent.backends.base import BackendError, BackendUnavailable
from agent.prompting import PromptError
from agent.cli_app import bench_app, err_console, fail, progress_bar, read_config, open_run_folder
from agent.offloading_bench import (
    BENCH_POLICIES,
    ICL_POLICIES,
    BenchSettings,
    aggregate,
    load_settings,
    run_bench,
    run_reference_or_dqn,
    save_settings,
)
from agent.run_folder import dumps, run_name
from environment.config import scenario_config

QUICK_STEPS, FULL_STEPS = 150, 500
METRICS = ("mean_reward_last_half", "quality_success_rate", "mean_delay_s", "decision_accuracy", "steps_to_95")


def bench_runners() -> dict:
    """Runner of every bench policy: the ICL variants through the agent, the rest directly."""
    from agent.icl_runner import run_icl_policy  # loads the LLM stack only when a bench runs

    runners = {name: run_reference_or_dqn for name in BENCH_POLICIES if name not in ICL_POLICIES}
    runners.update({name: run_icl_policy for name in ICL_POLICIES})
    return runners


def metrics_table(title: str, table: dict[str, dict]) -> Table:
    out = Table(title=title)
    out.add_column("policy")
    for metric in METRICS:
        out.add_column(metric.replace("_", " "), justify="right")
    for name, values in table.items():
        out.add_row(name, *("-" if values.get(m) is None else f"{values[m]:.3f}" for m in METRICS))
    return out


@bench_app.command("offloading")
def offloading(
    quick: bool = typer.Option(False, "--quick", help=f"{QUICK_STEPS} steps per run instead of {FULL_STEPS}."),
    seeds: int = typer.Option(3, min=1, help="Number of seeds (streams): seed, seed+1, ..."),
    seed: int = typer.Option(0, help="First seed."),
    steps: int | None = typer.Option(None, min=2, help="Steps per run (overrides --quick)."),
    policies: str = typer.Option(",".join(BENCH_POLICIES), help="Comma-separated policies to compare."),
    backend: str = typer.Option("llama-cpp", help="LLM backend of the ICL policies (see `edge-icl backends`)."),
    model: str | None = typer.Option(None, help="Model name for the openai / transformers / langchain backends."),
    model_path: Path | None = typer.Option(None, help="GGUF file for llama-cpp (default: bundled SmolLM2-135M)."),
    weights: str | None = typer.Option(None, "--weights", help="llama-cpp: f16 (default for the bundled model) | shipped (the GGUF as is)."),
    base_url: str | None = typer.Option(None, help="OpenAI-compatible server URL (openai backend)."),
    config: Path | None = typer.Option(None, "--config", help="YAML scenario config."),
    out: Path = typer.Option(Path("runs"), help="Parent folder of the bench's run folder."),
    resume: Path | None = typer.Option(None, help="A bench run folder to complete (its settings are reused)."),
    as_json: bool = typer.Option(False, "--json", help="Print the table as JSON on stdout."),
) -> None:
    """Compare every offloading policy on the same seeded request streams (ICL paper, Fig. 4 and III-C).

    Writes steps.csv (one row per policy x seed x step, as produced), bench.json and
    summary.json into a run folder; an interrupted bench is finished with --resume FOLDER.
    """
    if resume is not None:
        try:
            settings = load_settings(resume)
        except FileNotFoundError as error:
            fail(str(error))
        run_dir = resume
        world = scenario_config(settings.config)
    else:
        chosen = [p.strip() for p in policies.split(",") if p.strip()]
        unknown = [p for p in chosen if p not in BENCH_POLICIES]
        if unknown:
            fail(f"--policies: unknown {', '.join(unknown)}; choose from {', '.join(BENCH_POLICIES)}")
        world = read_config(config)
        icl_options = {"backend": backend, "model": model, "model_path": str(model_path) if model_path else None,
                       "weights": weights, "base_url": base_url}
        settings = BenchSettings(
            policies=chosen,
            seeds=list(range(seed, seed + seeds)),
            steps=steps or (QUICK_STEPS if quick else FULL_STEPS),
            icl_options=icl_options,
            config=world.model_dump(mode="json"),
        )
        folder = open_run_folder(out, run_name("bench-offloading", "all", seed))
        run_dir = folder.path
        save_settings(run_dir, settings)
    runners = bench_runners()
    total = len(settings.policies) * len(settings.seeds) * settings.steps
    with progress_bar() as progress:
        task = progress.add_task("bench offloading", total=total)
        hint = f"bench folder {run_dir} keeps the finished groups; continue with: edge-icl bench offloading --resume {run_dir}"
        try:
            groups = run_bench(
                run_dir,
                settings,
                world,
                runners,
                on_group_start=lambda name, s: progress.update(task, description=f"{name} seed {s}"),
                on_row=lambda row: progress.advance(task),
            )
        except (BackendError, BackendUnavailable, PromptError, ValueError) as error:
            fail(f"{error} ({hint})")
        except KeyboardInterrupt:
            err_console.print(f"interrupted; {hint}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=130) from None
        progress.update(task, completed=total)
    table = aggregate(groups, settings.policies)
    summary = {"policies": table, "seeds": settings.seeds, "steps": settings.steps, "icl_options": settings.icl_options}
    (run_dir / "summary.json").write_text(dumps(summary, indent=2) + "\n")
    if as_json:
        typer.echo(dumps(summary, indent=2))
    else:
        Console().print(metrics_table(f"offloading bench: {len(settings.seeds)} seeds x {settings.steps} steps", table))
        err_console.print(f"run folder: {run_dir}")
