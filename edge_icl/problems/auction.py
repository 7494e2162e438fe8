"""One comparison of the market's mechanisms on one setting: what `edge-icl bench auction` and
scripts/reproduce_auction.py run (Xu et al., cached-model paper, VI-C and VI-D).

Protocol: from the run seed, two disjoint round streams (`stream_seeds`). DQMSB trains
online on `train_rounds` rounds of the training stream; "optimal" MSB fits its alpha on
the same rounds (equal information). Every mechanism is then evaluated on the same
`eval_rounds` held-out rounds of the evaluation stream; the numbers are per-round means.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from environment.market.config import MarketConfig
from environment.market.rounds import Market
from solvers.auction import (
    DQMSB,
    DQMSB_DQN,
    MECHANISMS,
    FixedAlphaMSB,
    Mechanism,
    MyopicMSB,
    SecondPriceAuction,
    evaluate,
    optimal_alpha,
    profitable_deviations,
    stream_seeds,
    train_dqmsb,
)
from solvers.dqn import DQNConfig

REPORTED = ("total_surplus", "ground_surplus", "satellite_surplus", "revenue")


@dataclass
class Comparison:
    """What one comparison measured.

    summaries: mechanism name -> `evaluate` summary (per-round means on the held-out rounds).
    optimal_alpha: the alpha "optimal" MSB fitted (None when it was not compared); alpha_means:
        each level's mean surplus on the history.
    training: one row per DQMSB training epoch (Fig. 5). wall_s: seconds per phase.
    """

    summaries: dict[str, dict[str, float]]
    optimal_alpha: float | None
    alpha_means: dict[float, float]
    training: list[dict[str, float]] = field(default_factory=list)
    wall_s: dict[str, float] = field(default_factory=dict)

    def reported(self) -> dict[str, dict[str, float]]:
        """{mechanism: {total_surplus, ground_surplus, satellite_surplus, revenue}}."""
        return {name: {key: summary[key] for key in REPORTED} for name, summary in self.summaries.items()}


def compare_mechanisms(
    config: MarketConfig,
    seed: int,
    eval_rounds: int,
    train_rounds: int,
    dqn: DQNConfig = DQMSB_DQN,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    on_round: Callable[[dict[str, Any]], None] | None = None,
    on_mechanism: Callable[[str, dict[str, float]], None] | None = None,
    deviation_rounds: int = 200,
    names: Sequence[str] = MECHANISMS,
) -> Comparison:
    """Train DQMSB, fit optimal MSB, evaluate every mechanism of `names` (default `MECHANISMS`; plus first-best).

    DQMSB is trained, and optimal MSB fitted, only when `names` holds them.

    Each summary also holds `profitable_deviation_share`: on the first `deviation_rounds`
    held-out rounds, the share of rounds in which some ground BS gains by misreporting
    (`profitable_deviations`; 0 for a strategy-proof mechanism).
    Callbacks see results as they are produced: `on_epoch` a training epoch's row,
    `on_round` a mechanism's row for one evaluation round, `on_mechanism` a finished summary.
    """
    market = Market(config)
    train_seed, eval_seed = stream_seeds(seed)
    wall: dict[str, float] = {}
    training: list[dict[str, float]] = []

    def record_epoch(epoch: int, means: dict[str, float], _: object) -> None:
        row = {"epoch": epoch, **means}
        training.append(row)
        if on_epoch is not None:
            on_epoch(row)

    unknown = [name for name in names if name not in MECHANISMS]
    if unknown:
        raise ValueError(f"unknown mechanisms {unknown}; choose from {', '.join(MECHANISMS)}")

    dqmsb: DQMSB | None = None
    if "dqmsb" in names:
        started = time.perf_counter()
        dqmsb = train_dqmsb(config, train_seed, train_rounds, dqn, record_epoch)
        wall["train_dqmsb"] = time.perf_counter() - started

    alpha: float | None = None
    alpha_means: dict[float, float] = {}
    if "optimal-msb" in names:
        started = time.perf_counter()
        history = market.draw_rounds(np.random.default_rng(train_seed), train_rounds)
        alpha, alpha_means = optimal_alpha(market, history)
        wall["fit_optimal_msb"] = time.perf_counter() - started

    rounds = market.draw_rounds(np.random.default_rng(eval_seed), eval_rounds)
    every: dict[str, Mechanism | None] = {
        "msb": FixedAlphaMSB(market, config.msb_alpha, name="msb"),
        "spa": SecondPriceAuction(market),
        "myopic-msb": MyopicMSB(market),
        "optimal-msb": None if alpha is None else FixedAlphaMSB(market, alpha, name="optimal-msb"),
        "dqmsb": dqmsb,
    }
    assert tuple(every) == MECHANISMS
    mechanisms = {name: mechanism for name, mechanism in every.items() if name in names and mechanism is not None}
    summaries: dict[str, dict[str, float]] = {}
    started = time.perf_counter()
    for name, mechanism in mechanisms.items():
        summaries[name] = evaluate(mechanism, rounds, on_round)
        if deviation_rounds > 0:
            summaries[name]["profitable_deviation_share"] = profitable_deviations(mechanism, rounds[:deviation_rounds])["share_of_rounds"]
        if on_mechanism is not None:
            on_mechanism(name, summaries[name])
    wall["evaluate"] = time.perf_counter() - started
    return Comparison(summaries, alpha, alpha_means, training, wall)
