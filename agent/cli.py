"""The `edge-icl` command line. Importing a command module registers its command."""

from __future__ import annotations

import agent.cli_run  # noqa: F401  (edge-icl run)
import agent.cli_backends  # noqa: F401  (edge-icl backends)
import agent.bench_auction  # noqa: F401  (edge-icl bench auction)
import agent.bench_backend  # noqa: F401  (edge-icl bench backend)
import agent.bench_dashf  # noqa: F401  (edge-icl bench dashf)
import agent.bench_matching  # noqa: F401  (edge-icl bench matching)
import agent.bench_offloading  # noqa: F401  (edge-icl bench offloading)
from agent.cli_app import app


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
