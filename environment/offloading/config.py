"""Validated configuration of the edge-vs-cloud offloading problem (Zhou et al., papers/icl-task-offloading.txt).

`OffloadingEnvConfig` is what `edge-icl run --config` reads: the shared world's sections
(`radio`, `tasks`) and the problem's own (`offloading`). Defaults follow section IV-A
where the paper gives a value; every other default says where it comes from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from environment.config import MAX_STEPS, StrictConfig, WorldConfig, read_yaml, validate


class OffloadingConfig(StrictConfig):
    """The edge-vs-cloud decision problem (ICL paper II-C, III-A eq. 10)."""

    # ICL IV-A: Llama3-8B-class edge model and GPT-4o-class cloud model.
    edge_llm: str = "llama3-8b"
    cloud_llm: str = "gpt-4o"
    # "fixed t_back" (ICL II-A); the value is ours: 0.1 s edge-to-cloud backhaul.
    backhaul_delay_s: float = Field(0.1, ge=0)
    # T^Target of eq. (10); ours, chosen above the typical cloud service time so a
    # well-served request earns a positive reward.
    target_delay_s: float = Field(50.0, gt=0)
    # r^penalty of eq. (10) for violating (4e); ours. With the default models a
    # quality-preferred request is worth offloading until about 2,500 output tokens,
    # where the cloud's extra generation time outweighs the penalty.
    quality_penalty: float = Field(45.0, ge=0)
    # Requests per episode before `truncated` (the world itself runs on); at most a run's
    # MAX_STEPS.
    episode_steps: int = Field(200, gt=0, le=MAX_STEPS)


class OffloadingEnvConfig(WorldConfig):
    """The world and the offloading problem on it: everything an offloading run is built from."""

    offloading: OffloadingConfig = Field(default_factory=OffloadingConfig)

    @model_validator(mode="after")
    def _known_llms(self) -> "OffloadingEnvConfig":
        from environment.inference import llm_catalogue

        known = llm_catalogue()
        for role in ("edge_llm", "cloud_llm"):
            name = getattr(self.offloading, role)
            if name not in known:
                raise ValueError(f"offloading.{role}: unknown LLM {name!r}; known: {', '.join(sorted(known))}")
        return self


def offloading_env_config(data: dict[str, Any] | None = None) -> OffloadingEnvConfig:
    """Validate a config mapping; raise ConfigError with a one-line message naming the field."""
    return validate(OffloadingEnvConfig, data)


def load_offloading_env_config(path: str | Path | None) -> OffloadingEnvConfig:
    """Read and validate a YAML config (sections radio, tasks, offloading); None gives the paper defaults."""
    return offloading_env_config(None if path is None else read_yaml(path))
