"""`edge-icl bench dashf`: DASHF and the four baselines of section V-C on one seeded instance."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from edge_icl.cli.app import bench_app, err_console, fail, progress_bar, open_run_folder
from edge_icl.experiment.run_folder import run_name
from environment.adapter_training import adapter_training_config, generate_instance
from environment.config import ConfigError
from solvers.adapter_baselines import METHODS, run_method
from solvers.dashf import DashfSettings, MethodResult


def results_table(title: str, results: dict[str, MethodResult]) -> Table:
    """One row per method: SCR, T_total, E_total, iterations, wall time, feasibility."""
    table = Table(title=title)
    for header in ("method", "SCR", "T_total (s)", "E_total (J)", "iterations", "wall (s)", "feasible"):
        table.add_column(header, justify="left" if header == "method" else "right")
    for name, result in results.items():
        s = result.summary()
        table.add_row(name, f"{s['scr']:.4g}", f"{s['time_s']:.4g}", f"{s['energy_j']:.4g}", str(s["iterations"]), f"{s['wall_s']:.2f}", "yes" if s["feasible"] else "NO")
    return table


@bench_app.command("dashf")
def bench_dashf(
    seed: int = typer.Option(1, help="Instance seed (positions, fading, adapter and data sizes; RUCAA's draw)."),
    users: int = typer.Option(10, help="Number of users N (paper V-A: 10)."),
    servers: int = typer.Option(2, help="Number of servers M (paper V-A: 2)."),
    as_json: bool = typer.Option(False, "--json", help='Print {"methods": {name: {scr, time_s, energy_j, iterations, wall_s, feasible}}}.'),
    out: Path = typer.Option(Path("runs"), help="Parent folder of the run folder."),
) -> None:
    """Compare DASHF with RUCAA, GUCAA, AAUCO, GUCRO (DASHF paper, Fig. 3(a)) on one instance.

    Writes a run folder under OUT with config.yaml, methods.csv (a row per method as it
    finishes) and summary.json.
    """
    try:
        config = adapter_training_config(n_users=users, n_servers=servers)
    except ConfigError as error:
        fail(str(error))
    settings = DashfSettings()
    rng = np.random.default_rng(seed)
    instance = generate_instance(config, rng)
    folder = open_run_folder(out, run_name("adapter-training", "dashf-bench", seed))
    folder.write_config({"seed": seed, "problem": config.model_dump(mode="json"), "dashf": settings.model_dump(mode="json")})
    results: dict[str, MethodResult] = {}
    try:
        with progress_bar() as progress:
            task = progress.add_task(f"bench dashf ({users} users, {servers} servers)", total=len(METHODS))
            for name in METHODS:
                progress.update(task, description=f"{name} ({users} users, {servers} servers)")
                result = run_method(name, instance, rng, settings)
                results[name] = result
                failures = [e.status for e in result.solver_events if not e.used]
                folder.append_row({"method": name, "seed": seed, "users": users, "servers": servers, **result.summary(),
                                   "worst_violation": result.worst_violation, "unused_solver_results": ";".join(failures)}, "methods.csv")
                progress.advance(task)
    finally:
        folder.close()
    summary = {"methods": {name: result.summary() for name, result in results.items()}}
    folder.write_json("summary.json", {**summary, "seed": seed, "run_dir": str(folder.path)})
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        Console().print(results_table(f"adapter training, {users} users, {servers} servers, seed {seed}", results))
        err_console.print(f"run folder: {folder.path}")
