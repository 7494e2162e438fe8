"""`edge-icl backends`: every LLM backend, whether it is usable here, and why not."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agent.backends.registry import backend_spec, backend_status
from edge_icl.cli.agent_options import flag
from edge_icl.cli.app import app


@app.command()
def backends() -> None:
    """List the LLM backends, whether each is usable on this machine (and why not), and its options."""
    table = Table(title="LLM backends (--backend NAME)")
    for column in ("backend", "usable", "what it is / why not", "its options"):
        table.add_column(column)
    for name, reason in backend_status().items():
        spec = backend_spec(name)
        options = " ".join(flag(option, field) for option, field in spec.options.model_fields.items())
        table.add_row(name, "yes" if reason is None else "no", escape(spec.description if reason is None else reason), options)
    Console(width=160).print(table)
