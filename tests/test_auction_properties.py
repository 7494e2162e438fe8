"""Theorem 2 of the cached-model paper, checked on sampled rounds (hypothesis).

With alpha fixed, the MSB auction (31)-(32) is strategy-proof: no ground BS raises its
utility by bidding anything but its valuation; its critical payment (35) is homogeneous
of degree one, so who wins does not depend on the common value (no adverse selection).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from environment.market.config import DEFAULT_ALPHA_LEVELS, market_config
from environment.market.formulas import SATELLITE, msb_allocation, msb_critical_payment, msb_outcome, utilities
from environment.market.rounds import Market
from solvers.auction import SecondPriceAuction

values = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False, allow_infinity=False)
bids = st.floats(min_value=0.0, max_value=2e3, allow_nan=False, allow_infinity=False)


@st.composite
def rounds(draw):
    """A round: N ground valuations, the satellite's value, alpha, p_0, coverage, one bidder and its lie."""
    n = draw(st.integers(min_value=2, max_value=7))
    ground = np.array(draw(st.lists(values, min_size=n, max_size=n)))
    return {
        "values": ground,
        "satellite_value": draw(values),
        "alpha": draw(st.sampled_from(DEFAULT_ALPHA_LEVELS)),
        "contract": draw(values),
        "available": draw(st.booleans()),
        "bidder": draw(st.integers(min_value=0, max_value=n - 1)),
        "lie": draw(st.one_of(bids, st.sampled_from([0.0]))),
    }


def _ground_utility(values, satellite_value, reported, alpha, contract, available, bidder) -> float:
    outcome = msb_outcome(reported, alpha, contract, available)
    return float(utilities(values, satellite_value, outcome)[0][bidder])


@settings(max_examples=400, deadline=None)
@given(rounds())
def test_truthful_bidding_is_a_dominant_strategy_under_msb_with_fixed_alpha(r):
    truthful = _ground_utility(r["values"], r["satellite_value"], r["values"], r["alpha"], r["contract"], r["available"], r["bidder"])
    deviated = r["values"].copy()
    deviated[r["bidder"]] = r["lie"]
    lying = _ground_utility(r["values"], r["satellite_value"], deviated, r["alpha"], r["contract"], r["available"], r["bidder"])
    assert truthful >= lying - 1e-9 * max(1.0, float(np.max(r["values"])))


@settings(max_examples=200, deadline=None)
@given(rounds())
def test_truthful_bidding_never_loses_money_under_msb(r):
    truthful = _ground_utility(r["values"], r["satellite_value"], r["values"], r["alpha"], r["contract"], r["available"], r["bidder"])
    assert truthful >= -1e-12


@settings(max_examples=300, deadline=None)
@given(rounds())
def test_a_ground_bs_wins_iff_it_beats_its_critical_payment_and_then_pays_it(r):
    bidder, reported = r["bidder"], r["values"]
    others = np.delete(reported, bidder)
    critical = msb_critical_payment(others, r["alpha"], r["available"])
    outcome = msb_outcome(reported, r["alpha"], r["contract"], r["available"])
    if reported[bidder] > critical and reported[bidder] > others.max():
        assert outcome.winner == bidder and outcome.payment == critical
    if reported[bidder] < critical:
        assert outcome.winner != bidder


@settings(max_examples=300, deadline=None)
@given(rounds(), st.floats(min_value=1e-3, max_value=1e3, allow_nan=False))
def test_critical_payment_is_homogeneous_of_degree_one(r, scale):
    others = np.delete(r["values"], r["bidder"])
    critical = msb_critical_payment(others, r["alpha"], r["available"])
    assert np.isclose(msb_critical_payment(scale * others, r["alpha"], r["available"]), scale * critical, rtol=1e-12)


@settings(max_examples=300, deadline=None)
@given(rounds(), st.floats(min_value=1e-3, max_value=1e3, allow_nan=False))
def test_msb_winner_does_not_depend_on_the_common_value(r, scale):
    # v_i = c m_i: scaling c scales every bid; MSB's allocation sees only b_(1)/b_(2), so the
    # satellite is not handed the low-c rounds (adverse-selection-free, Theorem 2).
    assert msb_allocation(scale * r["values"], r["alpha"], r["available"]) == msb_allocation(r["values"], r["alpha"], r["available"])


def test_second_price_auction_hands_the_satellite_the_low_common_value_rounds():
    # The contrast: with the satellite bidding a constant p_0, the same match qualities go
    # to the ground when c is high and to the satellite when c is low.
    market = Market(market_config())
    spa = SecondPriceAuction(market)
    match = np.array([1.0, 0.8, 0.5])
    p0 = market.contract_price

    class _Round:
        satellite_available = True

        def __init__(self, c: float) -> None:
            self.bids = c * match

    assert spa.run(_Round(2.0 * p0))[0].winner == 0
    assert spa.run(_Round(0.5 * p0))[0].winner == SATELLITE
    assert msb_allocation(2.0 * p0 * match, 1.2) == msb_allocation(0.5 * p0 * match, 1.2)


@settings(max_examples=300, deadline=None)
@given(rounds())
def test_truthful_bidding_is_dominant_for_ground_bs_under_spa(r):
    market = Market(market_config())
    spa = SecondPriceAuction(market)

    class _Round:
        satellite_available = r["available"]

        def __init__(self, reported):
            self.bids = reported

    def utility(reported) -> float:
        outcome, _ = spa.run(_Round(reported))
        return float(utilities(r["values"], r["satellite_value"], outcome)[0][r["bidder"]])

    deviated = r["values"].copy()
    deviated[r["bidder"]] = r["lie"]
    assert utility(r["values"]) >= utility(deviated) - 1e-9 * max(1.0, float(np.max(r["values"])))
