"""edge-icl's lab: the problems' registry, the experiment engine, the benches, the CLI and the viewer.

`agent/` is the LLM-in-the-loop agent, `environment/` the world and the problems' envs,
`solvers/` the classical solvers; this package runs them as experiments
(docs/architecture.md).
"""
