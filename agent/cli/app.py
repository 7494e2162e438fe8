"""The shared pieces of the `edge-icl` command line: the typer apps, errors, config, progress.

Each command lives in its own module of `agent/cli/` and registers itself on `app` or
`bench_app`; `agent/cli/__init__.py` imports them all.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from agent.cli.run_folder import RunFolder
from environment.config import ConfigError
from environment.offloading.config import OffloadingEnvConfig, load_offloading_env_config

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
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


# The exit status of a command whose results are written but not valid (agent/fallback_share.py):
# not 2 (bad input, nothing ran) and not 1 (a crash), so a script can tell them apart.
INVALID_EXIT = 3


def fail_invalid(message: str) -> None:
    """Print a one-line error on stderr and exit with INVALID_EXIT: the results are written, marked not valid."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=INVALID_EXIT)


def note(message: str, style: str = "") -> None:
    """Print one line on stderr (never wrapped, never read as markup), e.g. a warning or the run folder."""
    err_console.print(f"[{style}]{escape(message)}[/]" if style else escape(message), highlight=False, soft_wrap=True)


def read_config(path: Path | None) -> OffloadingEnvConfig:
    """Load an offloading config (world + problem) or exit with its one-line error."""
    try:
        return load_offloading_env_config(path)
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
