"""`python -m edge_icl`: the same as the `edge-icl` command."""

from edge_icl.cli import main

main()
