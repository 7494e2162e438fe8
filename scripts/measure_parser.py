"""Measure how long the decision parser takes on long replies, on this machine.

For k = 1,000 ... 100,000 words, two replies: "local " repeated k times (the reply that
took 4.2 s at k = 4,000 when the parser was quadratic) and k words drawn from a seeded
generator out of labels, negations, contrasts and filler ("local instead of offload, not
..."). Each is parsed as every backend and the agent parse it (the first REPLY_CHARS
characters read) and whole (`limit` past its length: the parser's own time, which must
grow linearly with k). Prints the best of `--repeats` wall times per cell. Target
(issue 22): 100,000 words parsed whole in under 1 s.

    python scripts/measure_parser.py
    python scripts/measure_parser.py --words 1000 10000 100000 --repeats 5
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from agent.decision_parser import REPLY_CHARS, parse_decision

DECISIONS = ("local", "offload")
VOCABULARY = ("local", "offload", "offloading", "locally", "not", "instead", "of", "rather", "than", "over", "the", "queue",
              "is", "a", "bad", "idea", "anything", "but", "Decision:", "prefer", "to", ",", ".", "link", "delay")


def replies(words: int, seed: int) -> dict[str, str]:
    """The two replies of `words` words."""
    rng = np.random.default_rng(seed)
    return {"repeated": "local " * words, "mixed": " ".join(rng.choice(VOCABULARY, size=words))}


def best_time(reply: str, limit: int, repeats: int) -> tuple[float, int | None]:
    """The fastest of `repeats` parses, in seconds, and what the parse named."""
    times, named = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        named = parse_decision(reply, DECISIONS, limit=limit)
        times.append(time.perf_counter() - started)
    return min(times), named


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, nargs="+", default=[1_000, 3_000, 10_000, 30_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=22)
    args = parser.parse_args()
    print(f"{'words':>8} {'reply':>9} {'chars':>9} {'bounded s':>10} {'whole s':>9} {'us/word':>8}  named (bounded, whole)")
    for words in args.words:
        for name, reply in replies(words, args.seed).items():
            bounded, named_bounded = best_time(reply, REPLY_CHARS, args.repeats)
            whole, named_whole = best_time(reply, len(reply) + 1, args.repeats)
            print(
                f"{words:>8} {name:>9} {len(reply):>9} {bounded:>10.4f} {whole:>9.4f} {whole / words * 1e6:>8.2f}  "
                f"{named_bounded}, {named_whole}"
            )


if __name__ == "__main__":
    main()
