"""Liquidation price (isolated and cross, long and short) and the per-bar liquidation check."""

from __future__ import annotations

import math

import numpy as np
import pytest

from botcore.fills import nb
from botcore.fills.enums import FillReasons, FillStatuses, Liquidities, MarginModes

ISO, CROSS = MarginModes.isolated, MarginModes.cross
TAKER = 0.0006


def test_isolated_long_at_3x():
    # 60,000 * (1 - 1/3 + 0.005) = 60,000 - 20,000 + 300 = 40,300
    assert nb.liquidation_price_nb(0.5, 60_000.0, 3.0, 0.005, ISO, 0.0) == pytest.approx(40_300.0, rel=1e-14)


def test_isolated_short_at_3x():
    # 60,000 * (1 + 1/3 - 0.005) = 60,000 + 20,000 - 300 = 79,700
    assert nb.liquidation_price_nb(-0.5, 60_000.0, 3.0, 0.005, ISO, 0.0) == pytest.approx(79_700.0, rel=1e-14)


def test_isolated_at_10x():
    # 100 * (1 - 0.1 + 0.004) = 90.4; 100 * (1 + 0.1 - 0.004) = 109.6
    assert nb.liquidation_price_nb(3.0, 100.0, 10.0, 0.004, ISO, 0.0) == pytest.approx(90.4, rel=1e-14)
    assert nb.liquidation_price_nb(-3.0, 100.0, 10.0, 0.004, ISO, 0.0) == pytest.approx(109.6, rel=1e-14)


def test_isolated_ignores_free_equity():
    assert nb.liquidation_price_nb(0.5, 60_000.0, 3.0, 0.005, ISO, 1e6) == pytest.approx(40_300.0, rel=1e-14)


def test_isolated_liquidation_leaves_exactly_the_maintenance_margin():
    # 0.5 BTC at 60,000, 3x: margin 10,000; loss at 40,300 = 0.5 * 19,700 = 9,850;
    # left 150 = maintenance 0.5 * 60,000 * 0.005
    q, entry = 0.5, 60_000.0
    liq = nb.liquidation_price_nb(q, entry, 3.0, 0.005, ISO, 0.0)
    assert q * entry / 3.0 - q * (entry - liq) == pytest.approx(q * entry * 0.005, rel=1e-9)


def test_cross_long_uses_the_free_equity():
    # 40,300 - 5,000 / 0.5 = 40,300 - 10,000 = 30,300
    assert nb.liquidation_price_nb(0.5, 60_000.0, 3.0, 0.005, CROSS, 5_000.0) == pytest.approx(30_300.0, rel=1e-14)


def test_cross_short_uses_the_free_equity():
    # 79,700 + 5,000 / 0.5 = 89,700
    assert nb.liquidation_price_nb(-0.5, 60_000.0, 3.0, 0.005, CROSS, 5_000.0) == pytest.approx(89_700.0, rel=1e-14)


def test_cross_with_no_free_equity_equals_isolated():
    for q in (0.5, -0.5):
        iso = nb.liquidation_price_nb(q, 60_000.0, 3.0, 0.005, ISO, 0.0)
        assert nb.liquidation_price_nb(q, 60_000.0, 3.0, 0.005, CROSS, 0.0) == iso


def test_cross_long_with_ample_equity_cannot_be_liquidated():
    # 40,300 - 50,000 / 0.5 < 0 -> clamped to 0
    assert nb.liquidation_price_nb(0.5, 60_000.0, 3.0, 0.005, CROSS, 50_000.0) == 0.0


def test_flat_position_has_no_liquidation_price():
    assert math.isnan(nb.liquidation_price_nb(0.0, 60_000.0, 3.0, 0.005, ISO, 0.0))


@pytest.mark.parametrize(
    "args, message",
    [
        ((1.0, 0.0, 3.0, 0.005, ISO, 0.0), "entry_price"),
        ((1.0, 100.0, 0.5, 0.005, ISO, 0.0), "leverage"),
        ((1.0, 100.0, 3.0, 1.0, ISO, 0.0), "maintenance_margin_rate"),
        ((1.0, 100.0, 3.0, 0.005, 9, 0.0), "margin_mode"),
        ((1.0, 100.0, 3.0, 0.005, CROSS, np.nan), "free_equity_usd"),
    ],
)
def test_bad_liquidation_parameters_raise(args, message):
    with pytest.raises(ValueError, match=message):
        nb.liquidation_price_nb(*args)


# --------------------------------------------------------------------------- the check


def check(qty, liq, low, high, mark):
    return nb.liquidation_check_nb(qty, liq, low, high, mark, 0.001, TAKER)


def test_long_survives_a_bar_above_its_liquidation_price():
    r = check(0.5, 40_300.0, 40_350.0, 41_000.0, 40_500.0)
    assert r.status == FillStatuses.not_filled and r.qty_base == 0 and r.reason == FillReasons.liquidation


def test_long_is_liquidated_at_its_price_when_the_low_reaches_it():
    # sell 0.5 BTC (500 contracts) at 40,300: notional 20,150; fee 20,150 * 0.0006 = 12.09
    r = check(0.5, 40_300.0, 40_300.0, 41_000.0, 40_500.0)
    assert r.status == FillStatuses.filled and r.reason == FillReasons.liquidation
    assert r.side == -1 and r.liquidity == Liquidities.taker
    assert r.price == 40_300.0 and r.qty_base == 0.5 and r.qty_contracts == pytest.approx(500.0, rel=1e-15)
    assert r.notional_usd == 20_150.0 and r.fee_usd == pytest.approx(12.09, rel=1e-14)


def test_long_gapping_through_still_fills_at_the_liquidation_price():
    r = check(0.5, 40_300.0, 35_000.0, 41_000.0, 36_000.0)
    assert r.status == FillStatuses.filled and r.price == 40_300.0


def test_mark_alone_triggers_the_liquidation():
    assert check(0.5, 40_300.0, np.nan, np.nan, 40_000.0).status == FillStatuses.filled
    assert check(0.5, 40_300.0, 40_400.0, 41_000.0, 40_300.0).status == FillStatuses.filled


def test_short_is_liquidated_when_the_high_reaches_its_price():
    # buy back 0.5 BTC at 79,700: notional 39,850; fee 39,850 * 0.0006 = 23.91
    r = check(-0.5, 79_700.0, 78_000.0, 79_700.0, 79_000.0)
    assert r.status == FillStatuses.filled and r.side == 1
    assert r.fee_usd == pytest.approx(23.91, rel=1e-14)
    assert check(-0.5, 79_700.0, 78_000.0, 79_699.0, 79_000.0).status == FillStatuses.not_filled


def test_liquidation_check_without_data_or_position():
    assert check(0.5, 40_300.0, np.nan, 41_000.0, np.nan).status == FillStatuses.no_data
    assert check(0.0, 40_300.0, 1.0, 2.0, 1.0).status == FillStatuses.not_filled
    assert check(0.5, np.nan, 1.0, 2.0, 1.0).status == FillStatuses.not_filled
    # a long clamped to 0 is never liquidated
    assert check(0.5, 0.0, 0.01, 2.0, 0.01).status == FillStatuses.not_filled
