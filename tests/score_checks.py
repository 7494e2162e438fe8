"""Compare log-probs that llama.cpp or torch computed two ways by what they decide, not by their digits.

llama-cpp-python compiles llama.cpp for the CPU it is installed on: AVX2, AVX-512 or NEON
kernels of different widths, and one-token (GEMV) vs batched (GEMM) matmul paths, sum the
dot products of 30 layers in different orders, so two paths (batched vs one token at a time,
a cached prefix vs a cold one, F16 vs Q4_1 weights, torch vs llama.cpp) give other last
digits, by an amount that depends on the machine (4.2e-4 relative measured on Intel AVX2,
7.0e-4 and more on an AMD EPYC). A tolerance fitted to one CPU fails on the next, so the
tests here check what a decision reads: the candidates' order (the decision and every
runner-up), and that each log-prob lies nearer its own counterpart than any other value it
could be confused with (a token read at the wrong position lands on another candidate's
log-prob, or a stale cache entry's).
"""

from __future__ import annotations

from collections.abc import Mapping


def ranking(logprobs: Mapping[str, float]) -> list[str]:
    """The candidates, best first."""
    return sorted(logprobs, key=lambda candidate: -logprobs[candidate])


def assert_same_ranking(got: Mapping[str, float], want: Mapping[str, float]) -> None:
    """The same candidates in the same order: the same decision, and the same runner-ups."""
    assert got.keys() == want.keys(), (got, want)
    assert ranking(got) == ranking(want), (got, want)


def assert_nearest_its_own(got: Mapping[str, float], want: Mapping[str, float], *rivals: Mapping[str, float]) -> None:
    """Each got[c] is nearer want[c] than want's other candidates and every value of `rivals`."""
    for candidate, value in got.items():
        own = abs(value - want[candidate])
        others = [v for c, v in want.items() if c != candidate] + [v for rival in rivals for v in rival.values()]
        nearest_other = min((abs(value - other) for other in others), default=float("inf"))
        assert own < nearest_other, (candidate, value, dict(want), rivals)
