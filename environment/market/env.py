"""The LLM agent market as a Gymnasium environment: the auctioneer picks MSB's price scaling factor.

Xu et al., cached-model paper (papers/cached-model-least-aot.txt), section V-B: the MDP of
the DQMSB auction. State: the round's bids; action: a level a of the price scaling factor
alpha; reward: the total surplus (30a) of the MSB auction (31)-(32) run with that alpha.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from environment.market.config import MarketConfig, market_config
from environment.market.formulas import msb_outcome, top_two
from environment.market.rounds import Market, MarketRound, MatchQualityModel, bidder_name, round_metrics


def bid_facts(market_round: MarketRound, contract: float) -> dict[str, Any]:
    """The facts an auctioneer sees before it picks alpha: the round's bids, named (no valuations
    beyond the bids, no satellite value, no coverage outcome)."""
    _, highest, second = top_two(market_round.bids)
    return {
        "round": market_round.index,
        "bids": {bidder_name(i): float(b) for i, b in enumerate(market_round.bids)},
        "highest_bid": highest,
        "second_highest_bid": second,
        "bid_ratio": highest / second if second > 0 else None,  # None, not Infinity: JSON-safe
        "satellite_contract_price": float(contract),
    }


class MarketEnv(gym.Env):
    """The auctioneer of the LLM agent market choosing MSB's price scaling factor each round.

    ## Description
    Ground BSs (performance bidders) and a relaying LEO satellite (the brand bidder) compete
    for the opportunity to serve an LLM agent (section IV-D). Each round, every ground BS
    bids its valuation v_i = c x m_i (common value c from the agent's resource consumption,
    match quality m_i; truthful bidding is dominant, Theorem 2); the satellite cannot value
    single opportunities and holds a contract price p_0. The auctioneer picks alpha and runs
    the MSB auction: the highest ground bid wins if b_(1) >= alpha b_(2) and pays
    alpha b_(2) (31)-(32); otherwise the satellite wins at p_0, unless its coverage time is
    too short (30b), in which case the highest ground bid wins at b_(2). One step is one round.

    ## Action Space
    `Discrete(|A|)`: level a picks alpha = `config.alpha_levels[a]` (default |A| = 11,
    alpha = 1.0, 1.2, ..., 3.0; also `env.alpha_levels`).

    ## Observation Space
    `Box(0, inf, (N,), float32)`: the round's bids, ground BS order (N = `n_ground_bs`).

    | index | meaning |
    |-------|---------|
    | i | bid b_i of ground BS i+1 (`info["bids"]["BS<i+1>"]`) |

    The same state as named facts, for a text face: `info["bids"]` ({"BS1": b_1, ...}),
    `info["highest_bid"]`, `info["second_highest_bid"]`, `info["bid_ratio"]`,
    `info["satellite_contract_price"]`, `info["round"]`.

    ## Rewards
    The total surplus (30a) of the round: the winner's valuation (section V-B).

    ## Starting State
    `reset(seed=...)` seeds the round stream and draws the first round; `reset()` without a
    seed continues the stream with the round not yet auctioned, so the rounds played across
    episodes are exactly `Market.draw_rounds(np.random.default_rng(seed), n)`.

    ## Episode End
    Never terminated (the market runs on); truncated after `rounds_per_episode` rounds
    (default 100, the "epoch" of Fig. 5).

    ## Arguments
    `config`: a `MarketConfig`, a mapping validated into one, or None for the defaults.
    `match_quality`: a `MatchQualityModel` (e.g. the caching problem's accuracy, eq. 20);
    None draws match qualities from the configured distribution.

    ## Example
    >>> import gymnasium as gym, environment
    >>> env = gym.make("EdgeICL/Market-v0")
    >>> obs, info = env.reset(seed=1)
    >>> obs, reward, terminated, truncated, info = env.step(0)   # alpha = 1.0
    >>> info["winner"], info["total_surplus"] == reward
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(
        self,
        config: MarketConfig | dict[str, Any] | None = None,
        match_quality: MatchQualityModel | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.config = config if isinstance(config, MarketConfig) else market_config(config)
        self.market = Market(self.config, match_quality)
        self.render_mode = render_mode
        self.alpha_levels: tuple[float, ...] = tuple(self.config.alpha_levels)
        self.observation_space = spaces.Box(0.0, np.inf, shape=(self.config.n_ground_bs,), dtype=np.float32)
        self.action_space = spaces.Discrete(len(self.alpha_levels))
        self.current_round: MarketRound | None = None
        self._rounds_drawn = 0
        self.steps_in_episode = 0

    def observation(self, market_round: MarketRound) -> np.ndarray:
        """The vector face of the state: the round's bids."""
        return market_round.bids.astype(np.float32)

    def evaluate(self, action: int) -> dict[str, Any]:
        """The MSB outcome and metrics of `action` on the current round, without stepping."""
        assert self.current_round is not None, "call reset() first"
        market_round = self.current_round
        alpha = self.alpha_levels[int(action)]
        outcome = msb_outcome(market_round.bids, alpha, self.market.contract_price, market_round.satellite_available)
        return {"alpha": alpha, **round_metrics(market_round, outcome)}

    def _next_round(self) -> dict[str, Any]:
        self.current_round = self.market.draw_round(self.np_random, self._rounds_drawn)
        self._rounds_drawn += 1
        return bid_facts(self.current_round, self.market.contract_price)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.steps_in_episode = 0
        if seed is not None or self.current_round is None:
            self._rounds_drawn = 0
            info = self._next_round()
        else:  # continue the stream: the round drawn by the last step has not been auctioned yet
            info = bid_facts(self.current_round, self.market.contract_price)
        return self.observation(self.current_round), {**info, "alpha_levels": list(self.alpha_levels)}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if not self.action_space.contains(action):
            raise ValueError(f"action must be a level 0..{len(self.alpha_levels) - 1}, got {action!r}")
        executed = self.current_round
        result = self.evaluate(int(action))
        self.steps_in_episode += 1
        info = {
            **result,
            "executed_round": executed.index,
            "valuations": {bidder_name(i): float(v) for i, v in enumerate(executed.ground_values)},
            "satellite_value": executed.satellite_value,
            "common_value": executed.common_value,
        }
        info.update(self._next_round())
        truncated = self.steps_in_episode >= self.config.rounds_per_episode
        return self.observation(self.current_round), float(result["total_surplus"]), False, truncated, info

    def render(self) -> str | None:
        if self.render_mode == "ansi" and self.current_round is not None:
            facts = bid_facts(self.current_round, self.market.contract_price)
            bids = ", ".join(f"{name} {bid:.2f}" for name, bid in facts["bids"].items())
            return f"round {facts['round']}: {bids}; satellite contract price {facts['satellite_contract_price']:.2f}\n"
        return None
