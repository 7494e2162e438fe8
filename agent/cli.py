"""The `edge-icl` command line. Importing a command module registers its command."""

from __future__ import annotations

import agent.cli_run  # noqa: F401  (edge-icl run)
from agent.cli_app import app


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
