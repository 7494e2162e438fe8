"""The LLM agent market of Xu et al. (cached-model paper, IV-D and V): modified second-bid
auctions for the opportunity to serve an LLM agent, between ground BSs and a relaying
satellite. `EdgeICL/Market-v0` is `environment.market.env.MarketEnv`."""

from environment.market.config import DEFAULT_ALPHA_LEVELS, MarketConfig, market_config
from environment.market.env import MarketEnv, bid_facts
from environment.market.formulas import SATELLITE, AuctionOutcome, msb_outcome
from environment.market.rounds import DistributionMatchQuality, Market, MarketRound, MatchQualityModel, round_metrics

__all__ = [
    "DEFAULT_ALPHA_LEVELS",
    "SATELLITE",
    "AuctionOutcome",
    "DistributionMatchQuality",
    "Market",
    "MarketConfig",
    "MarketEnv",
    "MarketRound",
    "MatchQualityModel",
    "bid_facts",
    "market_config",
    "msb_outcome",
    "round_metrics",
]
