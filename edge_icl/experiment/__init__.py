"""The experiment engine: spec, cells, executors (serial, Ray), the run folder, stats, figures, rollout."""
