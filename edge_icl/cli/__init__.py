"""The `edge-icl` command line: one module per command; importing a command module registers it."""

from __future__ import annotations

from edge_icl.benches import association, auction, backend, caching, dashf, matching, offloading  # noqa: F401  (they register)
from edge_icl.cli import backends, run, sweep, view  # noqa: F401  (they register)
from edge_icl.cli.app import app


def main() -> None:
    """Console-script entry point."""
    app()
