"""Classical solvers and baselines the LLM agent is measured against, one family per module."""
