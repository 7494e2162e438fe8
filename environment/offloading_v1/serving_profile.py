"""Measured serving profiles of an edge LLM server (data in `serving_profiles.yaml`).

A profile keeps the published rows as they are; `ServingProfile` derives TPOT per
decode batch size and the prefill speed from them with the formulas of `formulas.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from environment.config import load_yaml
from environment.offloading_v1.formulas import batch_slowdown, decode_time_per_token, measured_tpot, prefill_time


@dataclass(frozen=True)
class ServingProfile:
    """Decode speed vs batch size and prefill speed of one model on one server.

    Parameters
    ----------
    name: key in serving_profiles.yaml.
    display_name, model, source, caveat: what was measured and where it was published.
    batch_sizes: the measured decode batch sizes B, increasing.
    tpot_s: TPOT(B) in seconds per output token and sequence, mean over the rows of each B.
    prefill_tokens_per_s: S_PP of the B = 1 rows (mean), the speed of one prompt's prefill.
    """

    name: str
    display_name: str
    model: str
    source: str
    caveat: str
    batch_sizes: tuple[int, ...]
    tpot_s: tuple[float, ...]
    prefill_tokens_per_s: float

    def tpot(self, batch: int) -> float:
        """TPOT at decode batch `batch` (interpolated between measured sizes)."""
        return decode_time_per_token(batch, self.batch_sizes, self.tpot_s)

    def slowdown(self, batch: int) -> float:
        """TPOT(batch) / TPOT(1): how much slower each sequence decodes in a batch."""
        return batch_slowdown(self.tpot(batch), self.tpot_s[0])

    def ttft(self, prompt_tokens: float) -> float:
        """Time to first token of a prompt of `prompt_tokens` tokens: its prefill time."""
        return prefill_time(prompt_tokens, self.prefill_tokens_per_s)


@cache
def _profiles_data() -> dict:
    text = resources.files("environment.offloading_v1").joinpath("serving_profiles.yaml").read_text()
    return load_yaml(text)["profiles"]


def serving_profile_names() -> list[str]:
    """Every profile of serving_profiles.yaml."""
    return sorted(_profiles_data())


@cache
def serving_profile(name: str) -> ServingProfile:
    """The profile called `name`; a KeyError lists the known names."""
    data = _profiles_data()
    if name not in data:
        raise KeyError(f"unknown serving profile {name!r}; known: {', '.join(sorted(data))}")
    entry = data[name]
    rows = np.asarray(entry["rows"], dtype=float)  # PP, TG, B, T_PP, S_PP, T_TG, S_TG
    batches = sorted({int(b) for b in rows[:, 2]})
    tpot = [float(np.mean([measured_tpot(r[5], r[1]) for r in rows if int(r[2]) == b])) for b in batches]
    prefill = float(np.mean(rows[rows[:, 2] == 1, 4]))
    return ServingProfile(
        name=name,
        display_name=entry["display_name"],
        model=entry["model"],
        source=" ".join(entry["source"].split()),
        caveat=" ".join(entry["caveat"].split()),
        batch_sizes=tuple(batches),
        tpot_s=tuple(tpot),
        prefill_tokens_per_s=prefill,
    )
