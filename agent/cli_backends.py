"""`edge-icl backends`: every LLM backend, whether it is usable here, and why not."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agent.backends.registry import BACKENDS, backend_status
from agent.cli_app import app


@app.command()
def backends() -> None:
    """List the LLM backends and whether each is usable on this machine."""
    table = Table(title="LLM backends")
    for column in ("backend", "usable", "what it is / why not"):
        table.add_column(column)
    for name, reason in backend_status().items():
        table.add_row(name, "yes" if reason is None else "no", escape(BACKENDS[name].description if reason is None else reason))
    Console(width=160).print(table)
