"""LLM inference delay: time-to-first-token plus tokens times time-per-output-token.

Zhou et al., "Generative AI as a Service in 6G Edge-Cloud" (papers/icl-task-offloading.txt),
section II-B. The catalogue of model profiles is data, in `llm_profiles.yaml` beside
this module, each number with its source.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
from numpy.typing import ArrayLike, NDArray

from environment.config import load_yaml


def generation_time(ttft_s: float, tpot_s: float, n_tokens: ArrayLike) -> NDArray[np.float64] | float:
    """Total generation time t^gen = t^TTFT + n^token t^TPOT: Zhou et al. eq. (3).

    The same law gives the edge time of (4c) and the cloud time of (4d) with each
    model's own TTFT and TPOT.
    """
    return ttft_s + np.asarray(n_tokens, dtype=float) * tpot_s


@dataclass(frozen=True)
class LLMProfile:
    """One LLM's inference profile.

    Parameters
    ----------
    name: catalogue key, e.g. ``llama3-8b``.
    display_name: the name used in figures.
    ttft_s: time to first token t^TTFT in seconds.
    tpot_s: time per output token t^TPOT in seconds.
    quality_index: the quality index tau^edge / tau^cloud of constraint (4e).
    ttft_source, tpot_source, quality_source: where each number comes from.
    """

    name: str
    display_name: str
    ttft_s: float
    tpot_s: float
    quality_index: float
    ttft_source: str
    tpot_source: str
    quality_source: str

    def generation_time(self, n_tokens: ArrayLike) -> NDArray[np.float64] | float:
        """This model's t^gen for `n_tokens` output tokens (eq. 3, 4c, 4d)."""
        return generation_time(self.ttft_s, self.tpot_s, n_tokens)


@cache
def _catalogue_data() -> dict:
    text = resources.files("environment").joinpath("llm_profiles.yaml").read_text()
    return load_yaml(text)


def llm_catalogue() -> dict[str, LLMProfile]:
    """Every LLM profile of `llm_profiles.yaml`, by name."""
    return {name: LLMProfile(name=name, **fields) for name, fields in _catalogue_data()["profiles"].items()}


def llm_profile(name: str) -> LLMProfile:
    """The profile called `name`; a KeyError lists the known names."""
    catalogue = llm_catalogue()
    if name not in catalogue:
        raise KeyError(f"unknown LLM profile {name!r}; known: {', '.join(sorted(catalogue))}")
    return catalogue[name]


def edge_cloud_pairs() -> list[tuple[str, str]]:
    """The (edge, cloud) model pairs compared in the ICL paper's Fig. 4(e)-(f)."""
    return [(pair["edge"], pair["cloud"]) for pair in _catalogue_data()["pairs"]]
