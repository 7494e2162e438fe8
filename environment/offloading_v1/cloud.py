"""The cloud's moving state: congestion and price levels as continuous-time Markov chains.

Each is a birth-death chain over ordered levels with exponential sojourns (formulas
`exponential_sojourn`, `birth_death_jump`); the latency and the price are modulated by
the current level. Every draw comes from the world's generator, at the times the world
advances to, whatever the decisions.
"""

from __future__ import annotations

import numpy as np

from environment.offloading_v1.formulas import birth_death_jump, exponential_sojourn


class BirthDeathChain:
    """A continuous-time birth-death Markov chain, advanced to a requested time.

    Parameters
    ----------
    mean_sojourn_s: mean holding time of each level (s), in level order.
    rng: the world's generator.
    level: the starting level (at time 0).
    """

    def __init__(self, mean_sojourn_s: list[float], rng: np.random.Generator, level: int = 0) -> None:
        self.mean_sojourn_s = list(mean_sojourn_s)
        self.rng = rng
        self.level = level
        self.next_jump_s = exponential_sojourn(rng, self.mean_sojourn_s[level])

    def advance(self, now_s: float) -> int:
        """Make every jump due by `now_s`; return the level then."""
        while self.next_jump_s <= now_s:
            self.level = birth_death_jump(self.rng, self.level, len(self.mean_sojourn_s))
            self.next_jump_s += exponential_sojourn(self.rng, self.mean_sojourn_s[self.level])
        return self.level
