"""`edge-icl run`: one policy on the edge-cloud offloading problem, into a run folder."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from agent.cli_app import app, err_console, fail, progress_bar, read_config
from agent.rollout import policy_generator, run_policy
from agent.run_folder import RunFolder, run_name
from environment.offloading import OffloadingEnv
from solvers.reference import REFERENCE_POLICIES, reference_policy


def summary_table(title: str, summaries: dict[str, dict[str, Any]]) -> Table:
    """A rich table of run summaries, one row per policy."""
    table = Table(title=title)
    columns = [
        ("mean reward", "mean_reward"),
        ("oracle reward", "oracle_mean_reward"),
        ("mean delay (s)", "mean_delay_s"),
        ("quality success", "quality_success_rate"),
        ("accuracy vs oracle", "decision_accuracy"),
        ("offload share", "offload_share"),
    ]
    table.add_column("policy")
    for header, _ in columns:
        table.add_column(header, justify="right")
    for name, summary in summaries.items():
        cells = [name]
        for _, key in columns:
            value = summary.get(key)
            cells.append("-" if value is None else f"{value:.3f}")
        table.add_row(*cells)
    return table


@app.command()
def run(
    policy: str = typer.Option("oracle", help=f"Decision maker: {' | '.join(REFERENCE_POLICIES)}."),
    steps: int = typer.Option(200, min=1, help="Number of requests (environment steps)."),
    seed: int = typer.Option(0, help="Run seed: the same seed gives the same world and request stream."),
    config: Path | None = typer.Option(None, "--config", help="YAML config (sections radio, tasks, offloading)."),
    out: Path = typer.Option(Path("runs"), help="Parent folder of the run folder."),
    as_json: bool = typer.Option(False, "--json", help="Print summary.json to stdout instead of a table."),
) -> None:
    """Run a policy on the edge-cloud offloading problem (ICL paper, eq. 4 and 10).

    Writes a run folder under OUT with config.yaml, steps.csv (one row per step, as it
    goes) and summary.json.
    """
    if policy not in REFERENCE_POLICIES:
        fail(f"--policy: unknown policy {policy!r}; choose one of {', '.join(REFERENCE_POLICIES)}")
    scenario_config = read_config(config)
    decision_maker = reference_policy(policy, policy_generator(seed))
    env = OffloadingEnv(scenario_config)
    folder = RunFolder(out, run_name("offloading", policy, seed))
    config_dump = scenario_config.model_dump(mode="json")
    folder.write_config(config_dump)
    started = time.perf_counter()
    with progress_bar() as progress:
        task = progress.add_task(f"{policy}", total=steps)

        def on_step(row: dict[str, Any]) -> None:
            folder.append_row(row)
            progress.advance(task)

        try:
            rollout = run_policy(decision_maker, env, steps, seed, on_step=on_step)
        finally:
            folder.close()
    summary = {**rollout.summary, "seed": seed, "policy": policy, "config": config_dump}
    folder.write_json("summary.json", summary)
    folder.write_json("run.json", {"run_dir": str(folder.path), "wall_s": time.perf_counter() - started})
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        Console().print(summary_table(f"offloading, seed {seed}, {steps} steps", {policy: summary}))
        err_console.print(f"run folder: {folder.path}")
