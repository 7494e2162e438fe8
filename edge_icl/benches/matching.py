"""`edge-icl bench matching`: IAM and its rivals on the default setting of Picano et al. (section V)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from edge_icl.cli.app import bench_app, err_console, progress_bar, open_run_folder
from edge_icl.experiment.run_folder import run_name
from environment.association import AssociationConfig
from solvers.matching import HEURISTICS
from edge_icl.problems.matching import GAP_CONFIG, collect, heuristic_rows, summarise

LAST = list(HEURISTICS)[-1]


def _table(summary: dict[str, dict[str, float]], runs: int, gap_runs: int) -> Table:
    table = Table(title=f"association, default setting, {runs} runs (gap: {gap_runs} small instances)")
    table.add_column("solver")
    for header in ("mean e2e delay (ms)", "drop probability", "optimality gap"):
        table.add_column(header, justify="right")
    for name, values in summary.items():
        table.add_row(name, f"{values['mean_delay_ms']:.3f}", f"{values['drop_probability']:.3f}", "-" if values["optimality_gap"] is None else f"{values['optimality_gap']:.2%}")
    return table


@bench_app.command("matching")
def bench_matching(
    # At most 100,000 instances, 100 x the paper's 1,000: the four heuristics take milliseconds each.
    runs: int = typer.Option(1000, min=1, max=100_000, help="Independent instances of the default setting."),
    seed: int = typer.Option(0, help="Run seed: the same seed gives the same instances and choices."),
    # At most 1,000 small instances: the exact MILP solves each one.
    gap_runs: int = typer.Option(50, min=0, max=1_000, help="Small instances on which the MILP optimum gives each gap."),
    out: Path = typer.Option(Path("runs"), help="Parent folder of the run folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON instead of a table."),
) -> None:
    """Mean e2e delay, dropping probability and optimality gap of IAM, Kolkata, Gale-Shapley, random.

    Writes runs.csv (one row per run and solver), gap.csv (small instances with the
    MILP optimum) and summary.json under a run folder in OUT.
    """
    config = AssociationConfig()
    folder = open_run_folder(out, run_name("association", "matching", seed))
    folder.write_config({"default": config.model_dump(mode="json"), "gap": GAP_CONFIG.model_dump(mode="json"), "runs": runs, "gap_runs": gap_runs, "seed": seed})
    started = time.perf_counter()
    with progress_bar(disable=False) as progress:
        task = progress.add_task("matching", total=runs + gap_runs)

        def on_row(filename: str) -> Any:
            def write(row: dict[str, Any]) -> None:
                folder.append_row(row, filename)
                if row["solver"] == LAST:
                    progress.advance(task)

            return write

        try:
            rows = collect(heuristic_rows(config, seed, runs), on_row("runs.csv"))
            heuristics_s = time.perf_counter() - started
            gap_rows = collect(heuristic_rows(GAP_CONFIG, seed, gap_runs, with_optimum=True), on_row("gap.csv"))
        finally:
            folder.close()
    summary = summarise(rows, ("mean_delay_ms", "drop_probability"))
    gaps = summarise(gap_rows, ("optimality_gap",)) if gap_rows else {name: {"optimality_gap": float("nan")} for name in HEURISTICS}
    # NaN (e.g. --gap-runs 0) is not JSON: it becomes null.
    result = {"solvers": {name: {k: (None if v != v else v) for k, v in {**summary[name], **gaps[name]}.items()} for name in HEURISTICS}}
    folder.write_json("summary.json", {**result, "runs": runs, "gap_runs": gap_runs, "seed": seed, "heuristics_wall_s": heuristics_s, "wall_s": time.perf_counter() - started})
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        Console().print(_table(result["solvers"], runs, gap_runs))
        err_console.print(f"heuristics: {heuristics_s:.2f} s for {runs} runs; run folder: {folder.path}")
