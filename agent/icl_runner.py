"""Run the ICL agent and its two baselines (Zhou et al. section III-C) inside the offloading bench.

`icl` is the paper's method (prioritized pool, epsilon-greedy); `icl-latest` is
baseline 1 (latest experience); `icl-no-explore` is baseline 2 (no exploration). Every
LLM call goes to the bench folder's `transcript.jsonl`, tagged with policy and seed.
One backend is built per bench and reused by every run, so the model loads once.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from agent.backends.base import LLMBackend
from agent.backends.registry import BackendOptions, make_backend
from agent.icl_setup import ICLChoices, build_icl_agent
from agent.rollout import run_policy
from agent.run_folder import dumps
from environment.config import ScenarioConfig
from environment.offloading import OffloadingEnv

VARIANTS: dict[str, dict[str, str]] = {
    "icl": {},
    "icl-latest": {"pool": "latest"},
    "icl-no-explore": {"exploration": "none"},
}


@cache
def _backend(backend: str, model: str | None, model_path: str | None, weights: str | None, base_url: str | None) -> LLMBackend:
    return make_backend(backend, BackendOptions(model=model, model_path=model_path, weights=weights, base_url=base_url))


def icl_choices(name: str, icl_options: dict[str, Any]) -> ICLChoices:
    """The agent's choices for bench policy `name` with the bench's backend options."""
    if name not in VARIANTS:
        raise ValueError(f"unknown ICL variant {name!r}; choose one of {', '.join(VARIANTS)}")
    known = {k: v for k, v in icl_options.items() if k in ICLChoices.__dataclass_fields__ and v is not None}
    return ICLChoices(**{**known, **VARIANTS[name]})


def run_icl_policy(
    name: str,
    seed: int,
    steps: int,
    scenario_config: ScenarioConfig,
    icl_options: dict[str, Any],
    on_row: Any,
    run_dir: Path,
) -> None:
    """Run ICL variant `name` on seed `seed`'s stream; rows to `on_row`, LLM calls to transcript.jsonl."""
    choices = icl_choices(name, icl_options)
    backend = _backend(choices.backend, choices.model, choices.model_path, choices.weights, choices.base_url)
    with open(run_dir / "transcript.jsonl", "a") as transcript:

        def write(record: dict[str, Any]) -> None:
            transcript.write(dumps({"policy": name, "seed": seed, **record}) + "\n")
            transcript.flush()

        agent = build_icl_agent(choices, seed, write, backend=backend)
        run_policy(agent, OffloadingEnv(scenario_config), steps, seed, on_step=on_row)
