"""The agent's no-LLM twins: lookup (the closest good pool example) and a contextual bandit, on the same pool and exploration."""
