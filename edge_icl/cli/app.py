"""The shared pieces of the `edge-icl` command line: the typer apps, errors, config, progress.

Each command lives in its own module of `edge_icl/cli/` and registers itself on `app` or
`bench_app`; `edge_icl/cli/__init__.py` imports them all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from typer.core import TyperGroup

from edge_icl.experiment.run_folder import RunFolder
from environment.config import ConfigError
from environment.offloading.config import OffloadingEnvConfig, load_offloading_env_config

err_console = Console(stderr=True)
# click's UsageError (a bad flag value, an unknown option or command, a missing argument):
# the base of typer.BadParameter, whether typer uses click or its own copy of it.
UsageError: type[Exception] = typer.BadParameter.__bases__[0]


class OneLineErrors(TyperGroup):
    """The `edge-icl` group: a usage error is one line on stderr and exit 2, like every other bad input.

    Typer draws a usage error as a box of several lines; here it is `error: <click's message>
    (see <command> --help)`, e.g. `error: Invalid value for '--steps': Input should be less
    than or equal to 100000 (see edge-icl run --help)`. `edge-icl bench` alone still shows its help.
    """

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _one_line_usage_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with _one_line_usage_errors():
            return super().invoke(ctx)


@contextmanager
def _one_line_usage_errors() -> Iterator[None]:
    try:
        yield
    except UsageError as error:
        if type(error).__name__ == "NoArgsIsHelpError":  # a group called bare: its help, as typer shows it
            raise
        context = getattr(error, "ctx", None)
        fail(error.format_message() + (f" (see {context.command_path} --help)" if context is not None else ""))  # type: ignore[attr-defined]


app = typer.Typer(
    help="edge-icl: LLM services at the network edge with an LLM in the decision loop.",
    no_args_is_help=False,
    add_completion=False,
    cls=OneLineErrors,
)
bench_app = typer.Typer(help="Side-by-side comparisons of policies and solvers.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


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


def chosen_names(text: str, known: Sequence[str], flag: str = "--policies", *, every: str | None = None, known_order: bool = False) -> list[str]:
    """The names of a comma-separated list flag (--policies, --mechanisms), each known and given once.

    The one parser of every such flag. ConfigError (one line naming the flag) for an empty
    list or an empty name between commas (`''`, `,,`, `a,`), a name given twice, or an
    unknown name. `every` (e.g. "all") alone stands for every known name; `known_order`
    returns the names in the order of `known` rather than as given.
    """
    names = [name.strip() for name in text.split(",")]
    if not any(names):
        raise ConfigError(f"{flag}: no names given; choose from {', '.join(known)}")
    if not all(names):
        raise ConfigError(f"{flag}: an empty name in {text!r} (a comma too many?)")
    if every is not None and names == [every]:
        return list(known)
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(f"{flag}: {', '.join(repeated)} given twice")
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(f"{flag}: unknown {', '.join(unknown)}; choose from {', '.join(known)}{f', or {every}' if every else ''}")
    return [name for name in known if name in names] if known_order else names


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
