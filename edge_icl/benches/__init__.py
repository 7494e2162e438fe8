"""One module per bench: its flags and its table, run through the experiment engine (edge_icl/experiment)."""
