"""Build the ICL agent from command-line choices (backend, prompt, pool, exploration, decision mode)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agent.backends.base import LLMBackend
from agent.backends.registry import BackendOptions, make_backend
from agent.experience import make_pool
from agent.exploration import EpsilonGreedy, EpsilonSchedule
from agent.icl import ICLAgent, ICLSettings, TranscriptSink
from agent.prompting import OffloadingPrompt
from agent.rollout import policy_generator
from environment.offloading import DECISIONS

# Generator streams spawned from the run seed (stream 0 belongs to the reference policies).
EXPLORATION_STREAM, FALLBACK_STREAM = 1, 2


@dataclass(frozen=True)
class ICLChoices:
    """Everything `edge-icl run --policy icl` lets a user choose (written to config.yaml)."""

    backend: str = "llama-cpp"
    model: str | None = None
    model_path: str | None = None
    weights: str | None = None
    base_url: str | None = None
    api: str | None = None
    timeout_s: float = 60.0
    max_retries: int = 2
    prompt: str | None = None
    pool: str = "prioritized"
    pool_size: int = 16
    exploration: str = "exponential"
    epsilon: float = 0.5
    decision_mode: str = "score"
    fallback: str = "random"
    relevant_examples: int = 1
    calibrate: bool = True
    pool_sample: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_icl_agent(
    choices: ICLChoices, seed: int, transcript: TranscriptSink | None, backend: LLMBackend | None = None
) -> ICLAgent:
    """The ICL agent for these choices; raises ValueError / PromptError / BackendUnavailable on bad input."""
    settings = ICLSettings(
        decision_mode=choices.decision_mode,
        fallback=choices.fallback,
        relevant_examples=choices.relevant_examples,
        calibrate=choices.calibrate,
        pool_sample=choices.pool_sample,
    )
    prompt = OffloadingPrompt(Path(choices.prompt) if choices.prompt else None, DECISIONS)
    pool = make_pool(choices.pool, choices.pool_size)
    schedule = EpsilonSchedule(kind=choices.exploration, epsilon=min(choices.epsilon, 1.0), epsilon_min=min(0.05, choices.epsilon))
    exploration = EpsilonGreedy(schedule, policy_generator(seed, EXPLORATION_STREAM), n_actions=len(DECISIONS))
    if backend is None:
        options = BackendOptions(
            model=choices.model, model_path=choices.model_path, weights=choices.weights, base_url=choices.base_url, seed=seed,
            api=choices.api, timeout_s=choices.timeout_s, max_retries=choices.max_retries,
        )
        backend = make_backend(choices.backend, options)
    return ICLAgent(backend, prompt, pool, exploration, policy_generator(seed, FALLBACK_STREAM), settings, transcript)
