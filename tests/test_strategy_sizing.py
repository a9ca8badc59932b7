"""Kelly sizing, its conviction adjustment, predictive and profit-seeking scales, and contract rounding."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from botcore.config import load_settings
from botcore.strategy.enums import Reason
from botcore.strategy.nb import (
    conviction_win_prob_nb,
    kelly_f_nb,
    kelly_inputs_nb,
    kelly_size_usd_nb,
    profit_scale_nb,
    round_contracts_nb,
    vol_scale_nb,
)
from botcore.strategy.params import build_params
from botcore.strategy.state import new_memory
from tests._strategy_world import fill_memory, make_world, only
from tests.conftest import CONFIG_DIR

SETTINGS = load_settings(CONFIG_DIR)
PARAMS = build_params(SETTINGS)
P = PARAMS[0]
MIN_USD, MAX_USD = SETTINGS.sizing.min_usd, SETTINGS.sizing.max_usd

probability = st.floats(0.0, 1.0)
payoff = st.floats(0.05, 10.0)
equity = st.floats(100.0, 1e6)
scale = st.floats(0.5, 1.5)


def size(win_prob: float, b: float, equity_usd: float, vol_scale: float = 1.0, profit_scale: float = 1.0) -> float:
    return kelly_size_usd_nb(equity_usd, kelly_f_nb(win_prob, b), vol_scale, profit_scale, P)


# --------------------------------------------------------------------------- Kelly


def test_kelly_formula():
    assert kelly_f_nb(0.6, 2.0) == pytest.approx(0.6 - 0.4 / 2.0)
    assert kelly_f_nb(0.45, 1.2) == pytest.approx(-0.008333333333)  # the bootstrap defaults: no edge


@given(win_prob=probability, b=payoff, equity_usd=equity)
def test_kelly_with_no_edge_returns_zero(win_prob, b, equity_usd):
    if kelly_f_nb(win_prob, b) <= 0.0:
        assert size(win_prob, b, equity_usd) == 0.0


@given(p1=probability, p2=probability, b1=payoff, b2=payoff, equity_usd=equity, vol=scale, profit=scale)
def test_kelly_size_is_non_decreasing_in_edge(p1, p2, b1, b2, equity_usd, vol, profit):
    (p1, p2), (b1, b2) = sorted((p1, p2)), sorted((b1, b2))
    assert size(p1, b1, equity_usd, vol, profit) <= size(p2, b2, equity_usd, vol, profit)


@given(win_prob=probability, b=payoff, equity_usd=equity, vol=scale, profit=scale)
def test_kelly_size_never_outside_the_bounds(win_prob, b, equity_usd, vol, profit):
    s = size(win_prob, b, equity_usd, vol, profit)
    assert s == 0.0 or MIN_USD <= s <= MAX_USD


def test_fractional_kelly_stake():
    f = kelly_f_nb(0.55, 1.5)
    assert size(0.55, 1.5, 20_000.0) == pytest.approx(20_000.0 * 0.3 * f)


def test_predictive_sizing_scales_by_volatility_up_to_half_kelly():
    f = kelly_f_nb(0.6, 2.0)
    assert size(0.6, 2.0, 10_000.0, vol_scale=0.5) == pytest.approx(10_000.0 * 0.3 * 0.5 * f)
    assert size(0.6, 2.0, 10_000.0, vol_scale=1.5) == pytest.approx(10_000.0 * 0.45 * f)
    eager = build_params(SETTINGS, {"kelly_fraction": 0.6})[0]  # 0.6 x 1.5 = 0.9 of Kelly: capped at 0.5
    assert kelly_size_usd_nb(5_000.0, f, 1.5, 1.0, eager) == pytest.approx(5_000.0 * 0.5 * f)
    assert kelly_size_usd_nb(5_000.0, f, 1.5, 1.25, eager) == pytest.approx(5_000.0 * 0.5 * f * 1.25)


def test_stake_below_minimum_is_raised_only_within_full_kelly():
    f = kelly_f_nb(0.5, 1.2)  # 0.0833: 0.3 x Kelly on $5,000 = $125, full Kelly = $417
    assert size(0.5, 1.2, 5_000.0) == MIN_USD
    assert size(0.5, 1.2, 2_000.0) == 0.0  # full Kelly $167 < $200: raising would over-bet
    assert 2_000.0 * f < MIN_USD <= 5_000.0 * f
    always = build_params(SETTINGS, {"min_size_kelly_multiple": math.inf})[0]
    assert kelly_size_usd_nb(2_000.0, f, 1.0, 1.0, always) == MIN_USD


# --------------------------------------------------------------------------- conviction adjustment


def test_conviction_adjusts_the_win_probability():
    assert conviction_win_prob_nb(0.45, 0.5, P) == pytest.approx(0.45)  # the pivot
    assert conviction_win_prob_nb(0.45, 0.7, P) == pytest.approx(0.50)
    assert conviction_win_prob_nb(0.45, 0.1, P) == pytest.approx(0.35)
    assert conviction_win_prob_nb(0.45, 5.0, P) == pytest.approx(0.70)  # capped at kelly_max_win_rate
    assert conviction_win_prob_nb(0.05, 0.0, P) == 0.0


@given(c1=probability, c2=probability, base=probability)
def test_adjusted_win_probability_is_monotone_and_bounded(c1, c2, base):
    c1, c2 = sorted((c1, c2))
    lo, hi = conviction_win_prob_nb(base, c1, P), conviction_win_prob_nb(base, c2, P)
    assert 0.0 <= lo <= hi <= P["kelly_max_win_rate"]


def test_bootstrap_high_conviction_sizes_and_weak_conviction_has_no_edge(settings):
    """The prototype's preflight: Kelly from bootstrap defaults gives a size for a strong setup.

    Defaults p=0.45, b=1.2 have no edge (f* < 0). With the conviction
    adjustment a 0.7-conviction setup has p=0.50, f*=0.083 and a $250 stake on
    $10,000 (0.3 x Kelly); a 0.5-conviction setup still has no edge.
    """
    world = make_world(settings, overrides=only("trend_conservative"))
    world.signals.conviction[0] = 0.7
    decision = world.decide()
    row = decision.trail[0]
    assert row["outcome"] == Reason.entered
    assert row["kelly_f"] == pytest.approx(0.5 - 0.5 / 1.2)
    assert decision.intents[0]["size_usd"] == pytest.approx(250.0, abs=1.0)
    world.signals.conviction[0] = 0.5
    row = world.row()
    assert row["reason"] == Reason.kelly_no_edge and row["kelly_f"] < 0


@given(c1=st.floats(0.3, 1.0), c2=st.floats(0.3, 1.0))
@hyp_settings(max_examples=60, deadline=None)
def test_decided_size_never_shrinks_as_conviction_grows(c1, c2):
    c1, c2 = sorted((c1, c2))
    sizes = []
    for c in (c1, c2):
        world = make_world(SETTINGS, overrides=only("sentiment_fusion"))
        world.set_equity(50_000.0)
        world.features.volatility_daily[0] = 0.2
        world.signals.conviction[0] = c
        decision = world.decide()
        sizes.append(float(decision.intents["size_usd"].sum()))
    assert sizes[0] <= sizes[1] + 1e-9


# --------------------------------------------------------------------------- trade memory


def test_defaults_until_burn_in_then_the_rolling_memory(settings):
    world = make_world(settings)
    mem = world.memory
    fill_memory(world, 0, [0.02] * 10 + [-0.01] * 19)
    assert kelly_inputs_nb(mem[0], P) == (P["default_win_rate"], P["default_payoff"])
    fill_memory(world, 0, [-0.01])
    p, b = kelly_inputs_nb(mem[0], P)
    assert p == pytest.approx(10 / 30) and b == pytest.approx(2.0)


def test_memory_uses_only_the_last_trade_memory_trades(settings):
    world = make_world(settings)
    fill_memory(world, 0, [-0.01] * 150 + [0.03] * 35 + [-0.01] * 15)  # ring wraps past 50
    p, b = kelly_inputs_nb(world.memory[0], P)
    assert p == pytest.approx(35 / 50) and b == pytest.approx(3.0)


def test_payoff_bounds_without_wins_or_losses(settings):
    world = make_world(settings)
    fill_memory(world, 0, [0.01] * 30)
    fill_memory(world, 1, [-0.01] * 30)
    assert kelly_inputs_nb(world.memory[0], P) == (1.0, P["kelly_max_payoff"])
    assert kelly_inputs_nb(world.memory[1], P) == (0.0, P["kelly_min_payoff"])


# --------------------------------------------------------------------------- predictive and profit-seeking scales


@pytest.mark.parametrize("vol, expected", [(0.02, 1.0), (0.03, 2 / 3), (0.04, 0.5), (0.08, 0.5), (0.016, 1.25),
                                           (0.001, 1.5), (0.0, 1.5)])
def test_volatility_scale_targets_daily_volatility_within_bounds(vol, expected):
    assert vol_scale_nb(vol, P) == pytest.approx(expected)


def test_profit_seeking_scale_within_bounds(settings):
    world = make_world(settings)
    mem = new_memory(PARAMS)
    assert profit_scale_nb(mem[0], P) == 1.0
    fill_memory(world, 0, [0.003] * 10)  # +0.3% mean = 0.2 stop losses -> 1.2
    assert profit_scale_nb(world.memory[0], P) == pytest.approx(1.2)
    fill_memory(world, 1, [0.05] * 10)
    fill_memory(world, 2, [-0.05] * 10)
    assert profit_scale_nb(world.memory[1], P) == 1.25
    assert profit_scale_nb(world.memory[2], P) == 0.8


# --------------------------------------------------------------------------- contracts


@given(size_usd=st.floats(0.0, 5_000.0), cap=st.floats(0.0, 5_000.0), price=st.floats(1e-4, 1e5),
       contract_size=st.sampled_from([1e-3, 0.01, 0.1, 1.0, 10.0, 1000.0]),
       min_contracts=st.sampled_from([0.1, 1.0, 2.0]), step=st.sampled_from([0.01, 0.1, 1.0]))
def test_contract_rounding_respects_steps_minimums_and_caps(size_usd, cap, price, contract_size, min_contracts, step):
    contracts = round_contracts_nb(size_usd, cap, price, contract_size, min_contracts, step, MIN_USD)
    if contracts == 0.0:
        return
    notional = contracts * price * contract_size
    assert contracts / step == pytest.approx(round(contracts / step), rel=1e-12, abs=1e-6)
    assert contracts >= min_contracts * (1 - 1e-9)
    assert notional >= MIN_USD * (1 - 1e-9)
    assert notional <= max(size_usd, cap) * (1 + 1e-9)


@given(s1=st.floats(0.0, 3_000.0), s2=st.floats(0.0, 3_000.0), price=st.floats(1e-3, 1e5),
       contract_size=st.sampled_from([1e-3, 0.1, 1.0, 100.0]))
def test_contract_rounding_is_monotone(s1, s2, price, contract_size):
    s1, s2 = sorted((s1, s2))
    c1 = round_contracts_nb(s1, 2_000.0, price, contract_size, 1.0, 1.0, MIN_USD)
    c2 = round_contracts_nb(s2, 2_000.0, price, contract_size, 1.0, 1.0, MIN_USD)
    assert c1 <= c2


def test_one_contract_too_big_for_the_stake_is_skipped(settings):
    world = make_world(settings, overrides=only("trend_conservative"))
    world.features.contract_size[0] = 30.0  # one contract = $3,000 > max_usd
    row = world.row()
    assert row["reason"] == Reason.size_below_minimum and row["outcome"] == Reason.skipped
    world.features.contract_size[0] = 3.0  # $300 per contract: rounded to whole contracts
    decision = world.decide()
    assert decision.trail[0]["outcome"] == Reason.entered
    assert decision.intents[0]["qty_contracts"] == 1.0


def test_exact_notional_survives_float_rounding(settings):
    # 2 x 0.001 BTC at 100,000 is exactly $200 although 0.001 is not exact in binary
    assert round_contracts_nb(200.0, 2_000.0, 100_000.0, 0.001, 1.0, 1.0, 200.0) == 2.0
    assert np.isfinite(round_contracts_nb(1e9, 2_000.0, 1.0, 1.0, 1.0, 1.0, 200.0))


# --------------------------------------------------------------------------- Kelly calibration (research / learn)


def test_calibrated_win_probability_agrees_with_numpy_interp(settings):
    from botcore.strategy.nb import calibrated_win_prob_nb

    rng = np.random.default_rng(17)
    for _ in range(200):
        m = int(rng.integers(1, 9))
        x = np.sort(rng.choice(np.linspace(0.0, 1.0, 101), m, replace=False))
        y = np.sort(rng.uniform(0.1, 0.7, m))
        params = build_params(settings, {"calib_conviction.trend_conservative": x, "calib_win_prob.trend_conservative": y,
                                         "kelly_max_win_rate": 1.0})
        for c in rng.uniform(-0.2, 1.2, 20):
            assert calibrated_win_prob_nb(1, c, params[0]) == pytest.approx(np.interp(c, x, y), rel=1e-12, abs=1e-15)


def test_a_calibration_replaces_the_prior_and_the_memory(settings):
    calib = {"calib_conviction.trend_conservative": [0.2, 0.6], "calib_win_prob.trend_conservative": [0.40, 0.60],
             "calib_payoff.trend_conservative": 1.5}
    world = make_world(settings, overrides=only("trend_conservative", **calib))
    world.signals.conviction[0] = 0.5  # p = 0.55, b = 1.5: f* = 0.55 - 0.45 / 1.5 = 0.25 (the prior has no edge here)
    row = world.row()
    assert row["outcome"] == Reason.entered
    assert row["win_prob"] == pytest.approx(0.55) and row["kelly_f"] == pytest.approx(0.25)
    fill_memory(world, 1, [0.03] * 30)  # a perfect memory does not override the calibration
    assert world.row()["kelly_f"] == pytest.approx(0.25)
    world.signals.conviction[0] = 0.3  # p = 0.45, b = 1.5: f* = 0.0833
    assert world.row()["win_prob"] == pytest.approx(0.45)
    calib["calib_payoff.trend_conservative"] = 0.5  # the same probabilities at a poor payoff: no edge
    world = make_world(settings, overrides=only("trend_conservative", **calib))
    world.signals.conviction[0] = 0.5
    assert world.row()["reason"] == Reason.kelly_no_edge


def test_a_calibration_must_be_monotone(settings):
    with pytest.raises(ValueError, match="calib_win_prob.trend_conservative"):
        build_params(settings, {"calib_conviction.trend_conservative": [0.2, 0.6],
                                "calib_win_prob.trend_conservative": [0.6, 0.4]})
    with pytest.raises(ValueError, match="calib_conviction.trend_conservative"):
        build_params(settings, {"calib_conviction.trend_conservative": [0.6, 0.2],
                                "calib_win_prob.trend_conservative": [0.4, 0.6]})
