"""The ICL agent's settings, declared once: the CLI's options, config.yaml's `icl` section and the benches share them.

Defaults follow Zhou et al. (papers/icl-task-offloading.txt) section III where the
paper gives a choice (prioritized pool, epsilon-greedy exploration, scoring by eq. 5-6);
the rest are ours, each with its reason. Unknown keys are rejected, not dropped. The
backend's own options (model file, server URL, ...) are validated by that backend's
options model (agent.backends.registry).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from environment.config import StrictConfig


class AgentSettings(StrictConfig):
    """How the ICL agent remembers, explores and asks its LLM."""

    backend: str = Field("llama-cpp", description="LLM backend (see `edge-icl backends`).")
    backend_options: dict[str, Any] = Field(default_factory=dict, description="The backend's own options (its options model validates them).")
    prompt: str | None = Field(None, description="A prompt folder (default prompts/<problem>).")
    # III-B: the prioritized experience replay; "latest" is baseline 1 of III-C.
    pool: Literal["prioritized", "latest"] = Field("prioritized", description="Experience pool: prioritized (III-B) | latest (baseline 1).")
    # Ours: room for every keyword combination of the offloading problem (4 services x 4 levels).
    # At most 10,000: every decision ranks the whole pool (and the lookup baseline reads it);
    # a prompt shows it all unless pool_sample draws a few.
    pool_size: int = Field(16, gt=0, le=10_000, description="Most examples in the pool.")
    # III-B: epsilon-greedy; "none" is baseline 2 of III-C. Exponential decay: ours.
    exploration: Literal["constant", "linear", "exponential", "none"] = Field(
        "exponential", description="Epsilon schedule: constant | linear | exponential | none."
    )
    epsilon: float = Field(0.5, ge=0.0, le=1.0, description="Starting epsilon.")
    # Eq. (5)-(6): the argmax of the model's score over the candidates.
    decision_mode: Literal["score", "generate"] = Field("score", description="score (eq. 5-6 over the candidates) | generate (parse a reply).")
    fallback: str = Field("random", description="Decision when a reply names none: random, or a decision of the problem (e.g. local).")
    # Ours (measured in docs/results-icl-offloading.md): the closest example repeated last.
    # At most 100: each is one more example in every prompt's variable part (no KV reuse).
    closest: int = Field(1, ge=0, le=100, description="Closest pool examples repeated next to the query, the best last.")
    # Zhao et al. 2021, "Calibrate before use".
    calibrate: bool = Field(True, description="Subtract each answer's score under a content-free query (score mode).")
    # At most a pool's 10,000 examples.
    pool_sample: int = Field(0, ge=0, le=10_000, description="Show this many pool examples, drawn afresh per decision (0: the whole pool; costs the KV reuse).")
    # At most 1,024: a decision is a word or two, and each token is one more decode step
    # of the LLM per decision.
    max_tokens: int = Field(6, gt=0, le=1_024, description="Reply length in generate mode.")
    warn_after_parse_failures: int = Field(10, ge=0, description="Warn once after this many parse failures in a row (0: never).")
    # Ours (agent/fallback_share.py): a run the fallback mostly decided measures the fallback, not the LLM.
    max_fallback_share: float = Field(
        0.2, ge=0.0, le=1.0, description="Most share of the LLM decisions the fallback may make; above it the result is marked not valid and the command exits 3 (1: never)."
    )
    # Ours (agent/llm_cache.py): repeated calls (same model, prompt, candidates) are answered from disk.
    llm_cache: Literal["on", "off", "refresh"] = Field(
        "on", description="Persistent LLM call cache (~/.cache/edge-icl, EDGE_ICL_CACHE): on | off | refresh (call the model, overwrite)."
    )

    @field_validator("llm_cache", mode="before")
    @classmethod
    def _yaml_switch(cls, value: Any) -> Any:
        """YAML reads a bare `on` / `off` as true / false: take them as the modes they spell."""
        return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value
