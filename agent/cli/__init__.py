"""The `edge-icl` command line: one module per command; importing a command module registers it."""

from __future__ import annotations

from agent.cli import backends, bench_association, bench_auction, bench_backend, bench_caching, bench_dashf, bench_matching, bench_offloading, run, sweep, view  # noqa: F401  (they register)
from agent.cli.app import app


def main() -> None:
    """Console-script entry point."""
    app()

