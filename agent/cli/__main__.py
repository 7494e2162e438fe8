"""`python -m agent.cli`: the same as the `edge-icl` command."""

from agent.cli import main

main()
