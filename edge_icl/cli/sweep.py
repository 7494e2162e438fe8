"""`edge-icl sweep SPEC`: every cell of a sweep spec (policies x agent variants x worlds x seeds), on Ray or serially.

The spec (edge_icl/experiment/spec.py) is validated whole before any cell runs. Each cell is
one rollout (`edge_icl.experiment.rollout.run_policy`); its row goes to the sweep folder's tidy
table as it finishes (edge_icl/experiment/sweep_folder.py), so a stopped sweep keeps what it
finished and `--resume DIR` runs only the missing (and failed) cells. A cell that fails
is recorded with its one-line error and the others go on. At the end: the summary
figures (edge_icl/experiment/figures.py) and summary.json.

Executors: `ray` (default; edge_icl/experiment/ray_executor.py: LLM cells on actors that load their
model once, the rest as tasks) and `serial` (this process, one cell after the other).
Both give the same table, timing columns aside (sweep_engine.TIMING_COLUMNS).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from edge_icl.cli.app import app, fail, fail_invalid, note, progress_bar
from edge_icl.experiment.run_folder import dumps
from edge_icl.experiment.engine import CellResult, run_serial
from edge_icl.experiment.figures import draw_figures, metric_by_policy
from edge_icl.experiment.sweep_folder import CELLS, STEPS, SweepFolder
from edge_icl.experiment.spec import Cell, Sweep, load_sweep, resolve
from environment.config import ConfigError

EXECUTORS = ("ray", "serial")
CACHE_MODES = ("on", "off", "refresh")


@app.command()
def sweep(
    spec: Path | None = typer.Argument(None, help="The sweep spec (YAML: problem, policies, variants, seeds, steps, world, grid)."),
    out: Path | None = typer.Option(None, "--out", help="The sweep's folder, new or empty (default runs/sweep__SPEC__TIME)."),
    resume: Path | None = typer.Option(None, "--resume", help="A sweep folder to complete: only its missing and failed cells run (its spec.yaml holds the spec)."),
    executor: str = typer.Option("ray", help="ray (a local Ray, or the cluster at --address) | serial (this process, no Ray)."),
    address: str | None = typer.Option(None, "--address", help="A Ray cluster to join (default: RAY_ADDRESS, else a new local Ray)."),
    # At most 256 CPUs for a local Ray (one machine's logical cores), 256 threads per LLM
    # actor, and 64 actors per backend: each actor holds its own copy of the model (the
    # bundled one 270 MB, an 8B GGUF about 5 GB), 64 of the bundled one fill 17 GB.
    num_cpus: int | None = typer.Option(None, "--num-cpus", min=1, max=256, help="CPUs of the local Ray (default: every core)."),
    actor_cpus: int = typer.Option(1, "--actor-cpus", min=1, max=256, help="CPUs per LLM actor, given to llama.cpp as its threads."),
    actors: int | None = typer.Option(None, "--actors", min=1, max=64, help="LLM actors per backend (default: as many as the CPUs hold)."),
    llm_cache: str | None = typer.Option(None, "--llm-cache", help="on | off | refresh for every variant (default: the spec's agent settings)."),
    figures: bool = typer.Option(True, "--figures/--no-figures", help="Draw the summary figures at the end."),
    as_json: bool = typer.Option(False, "--json", help="Print the sweep's summary as JSON on stdout."),
) -> None:
    """Run every cell of a sweep spec and write one tidy table (cells.csv), every step (steps.csv) and summary figures.

    One cell = one policy x agent variant x world override x seed. Ctrl-C keeps the
    finished cells (exit 130); `edge-icl sweep --resume DIR` runs the rest. An ICL cell
    whose fallback made more than its max_fallback_share of the LLM decisions is written
    with status invalid (left out of the figures, run again on resume); the sweep then
    exits with 3.
    """
    if executor not in EXECUTORS:
        fail(f"--executor: unknown {executor!r}; choose ray or serial")
    if llm_cache is not None and llm_cache not in CACHE_MODES:
        fail(f"--llm-cache: unknown {llm_cache!r}; choose on, off or refresh")
    if (spec is None) == (resume is None):
        fail("give a sweep spec (edge-icl sweep SPEC) or a sweep folder to resume (--resume DIR), not both")
    if executor == "ray":
        from edge_icl.experiment.ray_executor import cluster_address

        if num_cpus is not None and cluster_address(address):
            fail(f"--num-cpus sizes a new local Ray; the cluster at {cluster_address(address)} (--address or RAY_ADDRESS) has its own CPUs")
    try:
        if executor == "ray":
            from edge_icl.experiment.ray_executor import require_ray

            require_ray()
        if resume is not None:
            folder, saved, meta = SweepFolder.existing(resume)
            the_sweep = resolve(saved, Path(meta["base_dir"]), llm_cache or meta.get("llm_cache"))
        else:
            the_sweep = load_sweep(spec, llm_cache)
            target = out or Path("runs") / f"sweep__{spec.stem}__{time.strftime('%Y%m%d-%H%M%S')}"
            meta = {"spec_file": str(spec.resolve()), "base_dir": str(spec.resolve().parent), "llm_cache": llm_cache}
            folder = SweepFolder.create(target, the_sweep.spec, meta)
    except (ValueError, ConfigError, RuntimeError) as error:
        fail(str(error))
    run_sweep(folder, the_sweep, executor, as_json, figures, dict(address=address, num_cpus=num_cpus, actor_cpus=actor_cpus, max_actors=actors))


def run_sweep(folder: SweepFolder, the_sweep: Sweep, executor: str, as_json: bool, figures: bool, ray_options: dict[str, Any]) -> dict[str, Any]:
    """Run the cells `folder` does not hold yet; write the table, figures and summary; print the summary."""
    finished = folder.finished()
    todo = [cell for cell in the_sweep.cells if cell.cell_id not in finished]
    ran: list[dict[str, Any]] = []
    started = time.perf_counter()
    facts: dict[str, Any] = {}
    hint = f"the sweep folder {folder.path} keeps the finished cells; run the rest with: edge-icl sweep --resume {folder.path}"
    with progress_bar() as progress:
        bar = progress.add_task("sweep", total=len(the_sweep.cells), completed=len(finished))

        def on_start(cell: Cell) -> None:
            progress.update(bar, description=cell.cell_id)

        def on_result(result: CellResult) -> None:
            folder.record(result.row, result.steps, result.transcript)
            ran.append(result.row)
            progress.advance(bar)
            if result.row["status"] == "invalid":
                note(f"not valid: {result.row['error']}", "yellow")
            elif not result.ok:
                note(f"cell {result.cell_id} failed: {result.row['error']}", "yellow")

        try:
            if executor == "ray":
                from edge_icl.experiment.ray_executor import run_ray

                try:
                    facts = run_ray(todo, on_result, on_start, **ray_options)
                except (ConnectionError, RuntimeError, ValueError) as error:  # Ray could not start or join: nothing ran
                    folder.close()
                    fail(f"Ray: {str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__} ({hint})")
            else:
                run_serial(todo, on_result, on_start)
        except KeyboardInterrupt:
            folder.close()
            folder.write_summary(summarize(folder, the_sweep, executor, ran, time.perf_counter() - started, facts, [], interrupted=True))
            note(f"interrupted after {len(ran)} cells; {hint}")
            raise typer.Exit(code=130) from None
    wall = time.perf_counter() - started
    folder.close()
    drawn: list[str] = []
    if figures:
        drawn, why_not = draw_figures(folder.path, folder.cells.rows, the_sweep.spec.metric, the_sweep.spec.compared(), list(the_sweep.spec.grid))
        if why_not:
            note(why_not)
    summary = summarize(folder, the_sweep, executor, ran, wall, facts, drawn)
    folder.write_summary(summary)
    if as_json:
        typer.echo(dumps(summary, indent=2))
    else:
        Console().print(results_table(folder.cells.rows, the_sweep.spec.metric, list(the_sweep.spec.grid)))
        note(f"{summary['ran']} cells run ({summary['failed']} failed, {summary['invalid']} not valid), {summary['llm_calls']} LLM calls, {summary['cache_hits']} cache hits, {wall:.1f} s; sweep folder: {folder.path}")
    if summary["invalid"]:
        cells = ", ".join(f"{c['cell_id']} ({c['fallback_share']:.0%})" for c in summary["invalid_cells"])
        fail_invalid(
            f"sweep {folder.path}: in {summary['invalid']} cells the fallback made more than their --max-fallback-share of the LLM decisions: "
            f"{cells}; cells.csv says status invalid (not in the figures; --resume runs them again)"
        )
    return summary


def summarize(
    folder: SweepFolder, the_sweep: Sweep, executor: str, ran: list[dict[str, Any]], wall: float, facts: dict[str, Any], drawn: list[str], interrupted: bool = False
) -> dict[str, Any]:
    """The sweep's summary: the table's cells (finished, failed) and what this invocation did (cells run, LLM calls, hits, wall time)."""
    rows = folder.cells.rows
    calls = sum(int(r.get("llm_calls") or 0) for r in ran)
    hits = sum(int(r.get("cache_hits") or 0) for r in ran)
    failed = [r for r in rows if r.get("status") not in ("ok", "invalid")]
    invalid = [r for r in rows if r.get("status") == "invalid"]
    return {
        "cells": len(the_sweep.cells),
        "finished": len(rows) - len(failed) - len(invalid),
        "failed": len(failed),
        "invalid": len(invalid),
        "invalid_cells": [{"cell_id": r["cell_id"], "fallback_share": float(r["fallback_share"])} for r in invalid],
        "ran": len(ran),
        "llm_calls": calls,
        "cache_hits": hits,
        "hit_rate": hits / (calls + hits) if calls + hits else None,
        "llm_decisions": sum(int(r.get("llm_decisions") or 0) for r in ran),
        "wall_s": wall,
        "executor": executor,
        "table": str(folder.path / CELLS),
        "steps": str(folder.path / STEPS),
        "figures": [str(folder.path / name) for name in drawn],
        "failures": [{"cell_id": r["cell_id"], "error": r.get("error")} for r in failed],
        **({"ray": facts} if facts else {}),
        **({"interrupted": True} if interrupted else {}),
    }


def results_table(rows: list[dict[str, Any]], metric: str, grid_keys: list[str]) -> Table:
    """The metric per world and policy/variant, over seeds (the figure's numbers)."""
    table = Table(title=f"sweep: {metric} over seeds")
    for column in ("world", "policy / variant", "seeds", "mean", "std"):
        table.add_column(column, justify="right" if column in ("seeds", "mean", "std") else "left")
    for entry in metric_by_policy(rows, metric, grid_keys):
        table.add_row(entry["world_settings"], entry["label"], str(entry["seeds"]), f"{entry['mean']:.3f}", f"{entry['std']:.3f}")
    return table
