"""When an ICL result is not a result: the share of its decisions the fallback made.

The agent asks its LLM for a decision; a reply that names none (an unparseable text, a
score where no candidate was seen, a server body that is not an answer) is decided by
the fallback (`AgentSettings.fallback`: random, or a fixed decision). A run where the
fallback made most decisions measures the fallback, not the LLM, however it is labelled.

    fallback_share = fallback decisions / decisions the LLM was asked for

Explored steps and steps with one open candidate ask no LLM and count in neither; a
policy that asks none (lookup, bandit, the solvers) has no share (None). Above
`AgentSettings.max_fallback_share` (flag `--max-fallback-share`, default 0.2) the result
is not valid: a run, bench or sweep still writes everything, marks it `valid: false`,
and exits with INVALID_EXIT (edge_icl/cli/app.py). The counts come from the agent
(`ICLStats`) or, for what an earlier process ran (a resumed bench, the viewer), from
the transcript lines, which say the same: `llm_call` and `fallback` on every step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

FLAG = "--max-fallback-share"


@dataclass(frozen=True)
class FallbackCount:
    """Decisions the LLM was asked for and how many of them the fallback made."""

    asked: int = 0
    fallbacks: int = 0

    @property
    def share(self) -> float | None:
        """fallback decisions / decisions the LLM was asked for; None when it was asked for none."""
        return self.fallbacks / self.asked if self.asked else None

    def valid(self, limit: float) -> bool:
        """Whether the share is at most `limit` (a result with no LLM decision is valid: nothing to judge)."""
        return self.share is None or self.share <= limit

    def facts(self, limit: float) -> dict[str, Any]:
        """The summary's fields: the share, the threshold it was judged by, and the verdict."""
        return {"fallback_share": self.share, "max_fallback_share": limit, "valid": self.valid(limit)}

    def describe(self) -> str:
        """The share in words, e.g. '100% (16 of 16 LLM decisions)'."""
        return f"{self.share:.0%} ({self.fallbacks} of {self.asked} LLM decisions)" if self.share is not None else "no LLM decision"

    def __add__(self, other: FallbackCount) -> FallbackCount:
        return FallbackCount(self.asked + other.asked, self.fallbacks + other.fallbacks)


def count_records(records: Iterable[dict[str, Any]]) -> FallbackCount:
    """The count of transcript lines: a line with `llm_call` asked the LLM; one with `fallback` too was decided by it."""
    asked = fallbacks = 0
    for record in records:
        if record.get("llm_call"):
            asked += 1
            fallbacks += "fallback" in record
    return FallbackCount(asked, fallbacks)


def too_many(what: str, count: FallbackCount, limit: float) -> str:
    """The one line of an invalid result: what, its share, the threshold and the flag."""
    return f"{what}: the fallback made {count.describe()}, above {FLAG} {limit:g}; not a result of the LLM"


def too_many_in(where: str, units: Sequence[tuple[str, FallbackCount]], limit: float) -> str:
    """The one line of a bench or sweep with invalid results: where, and each invalid unit with its share."""
    listed = "; ".join(f"{name} {count.describe()}" for name, count in units)
    return f"{where}: the fallback made more than {FLAG} {limit:g} of the LLM decisions in {len(units)} of its results: {listed}; not results of the LLM"


__all__ = ["FLAG", "FallbackCount", "count_records", "too_many", "too_many_in"]
