"""The shared pieces of the `edge-icl` command line: the typer apps, errors, config, progress.

Each command lives in its own module (`agent/cli_*.py`, `agent/bench_*.py`) and registers
itself on `app` or `bench_app`; `agent/cli.py` imports them all.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from agent.run_folder import RunFolder
from environment.config import ConfigError, ScenarioConfig, load_config

app = typer.Typer(
    help="edge-icl: LLM services at the network edge with an LLM in the decision loop.",
    no_args_is_help=False,
    add_completion=False,
)
bench_app = typer.Typer(help="Side-by-side comparisons of policies and solvers.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")

err_console = Console(stderr=True)


def fail(message: str) -> None:
    """Print a one-line error on stderr and exit with status 2."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def read_config(path: Path | None) -> ScenarioConfig:
    """Load a config or exit with its one-line error."""
    try:
        return load_config(path)
    except ConfigError as error:
        fail(str(error))
        raise  # unreachable; keeps type checkers calm


def open_run_folder(out: Path, name: str) -> RunFolder:
    """A new run folder under `out`, or a one-line error when `out` cannot hold one."""
    try:
        return RunFolder(out, name)
    except (ValueError, OSError) as error:
        fail(str(error))
        raise  # unreachable


def progress_bar(disable: bool = False) -> Progress:
    """The progress bar every long command shows (on stderr, so --json stdout stays clean)."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=disable,
    )
