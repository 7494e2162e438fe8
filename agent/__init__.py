"""The LLM-in-the-loop agent, the run loop that drives any policy, and the `edge-icl` CLI."""
