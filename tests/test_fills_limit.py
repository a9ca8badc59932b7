"""Limit orders: fill when price trades through, touches filled by the queue fraction, maker fee."""

from __future__ import annotations

import math

import numpy as np
import pytest

from botcore.fills import nb
from botcore.fills.enums import FillReasons, FillStatuses, Liquidities

MAKER = 0.0002
UNIT = (1.0, 1.0, 1.0)  # contract_size, contract_step, min_contracts
TS = 1_704_067_200_000   # 2024-01-01 00:00 UTC
MASK = (1 << 64) - 1


def limit(side, qty, price, high, low, *, fraction=0.5, key=7, ts=TS, spec=UNIT):
    return nb.fill_limit_order_nb(side, float(qty), price, high, low, *spec, MAKER, fraction, key, ts)


def splitmix64(x: int) -> int:
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def reference_queue_draw(key: int, ts: int) -> float:
    return (splitmix64(splitmix64(key & MASK) ^ (ts & MASK)) >> 11) / 2.0**53


def test_buy_limit_fills_at_its_price_when_the_low_trades_through():
    # 2 contracts of 1 base at 100: notional 200, maker fee 200 * 0.0002 = 0.04
    r = limit(1, 2.0, 100.0, high=101.0, low=99.9)
    assert r.status == FillStatuses.filled
    assert r.reason == FillReasons.limit and r.liquidity == Liquidities.maker
    assert r.price == 100.0 and r.qty_contracts == 2 and r.qty_base == 2.0
    assert r.notional_usd == 200.0 and r.fee_usd == pytest.approx(0.04, rel=1e-15)
    assert r.slippage_frac == 0.0 and r.fee_rate == MAKER


def test_buy_limit_below_the_bar_does_not_fill():
    r = limit(1, 2.0, 100.0, high=101.0, low=100.1)
    assert r.status == FillStatuses.not_filled and r.qty_contracts == 0 and r.fee_usd == 0
    assert r.requested_contracts == 2 and math.isnan(r.price)


def test_sell_limit_fills_when_the_high_trades_through():
    # 0.01 BTC (10 contracts of 0.001) at 60,000: notional 600, fee 600 * 0.0002 = 0.12
    r = limit(-1, 0.01, 60_000.0, high=60_000.5, low=59_000.0, spec=(0.001, 1.0, 1.0))
    assert r.status == FillStatuses.filled and r.side == -1
    assert r.qty_contracts == 10 and r.notional_usd == pytest.approx(600.0, rel=1e-15)
    assert r.fee_usd == pytest.approx(0.12, rel=1e-14)
    assert limit(-1, 1.0, 60_000.0, high=59_999.5, low=59_000.0).status == FillStatuses.not_filled


def test_touch_fills_always_with_fraction_one_and_never_with_zero():
    for key in range(50):
        assert limit(1, 1.0, 100.0, high=101.0, low=100.0, fraction=1.0, key=key).status == FillStatuses.filled
        assert limit(1, 1.0, 100.0, high=101.0, low=100.0, fraction=0.0, key=key).status == FillStatuses.not_filled
        assert limit(-1, 1.0, 100.0, high=100.0, low=99.0, fraction=1.0, key=key).status == FillStatuses.filled
        assert limit(-1, 1.0, 100.0, high=100.0, low=99.0, fraction=0.0, key=key).status == FillStatuses.not_filled


def test_queue_fraction_of_touches_fill_deterministically():
    # 4,000 touches at fraction 0.3: about 1,200 fill (binomial sd ~29); the same ones every time,
    # exactly those whose draw is below 0.3
    keys = range(4000)
    first = [limit(1, 1.0, 100.0, 101.0, 100.0, fraction=0.3, key=k).status for k in keys]
    again = [limit(1, 1.0, 100.0, 101.0, 100.0, fraction=0.3, key=k).status for k in keys]
    assert first == again
    filled = sum(s == FillStatuses.filled for s in first)
    assert 1080 < filled < 1320
    expected = [FillStatuses.filled if reference_queue_draw(k, TS) < 0.3 else FillStatuses.not_filled for k in keys]
    assert first == expected


def test_queue_draw_is_splitmix64_and_changes_with_the_bar():
    # splitmix64 from state 0 yields 0xE220A8397B1DCDAF (the published first output)
    assert splitmix64(0) == 0xE220A8397B1DCDAF
    for key, ts in [(0, 0), (7, TS), (123456789, TS + 60_000), (-5, -1)]:
        assert nb.queue_draw_nb(key, ts) == reference_queue_draw(key, ts)
    draws = {nb.queue_draw_nb(7, TS + 60_000 * i) for i in range(100)}
    assert len(draws) == 100 and all(0.0 <= d < 1.0 for d in draws)


def test_queue_key_depends_on_symbol_and_submission_time():
    keys = {nb.queue_key_nb(col, TS + 60_000 * i) for col in range(5) for i in range(20)}
    assert len(keys) == 100 and all(k >= 0 for k in keys)


def test_missing_bar_bound_is_no_data_but_the_other_bound_may_be_missing():
    assert limit(1, 1.0, 100.0, high=101.0, low=np.nan).status == FillStatuses.no_data
    assert limit(1, 1.0, 100.0, high=np.nan, low=99.0).status == FillStatuses.filled
    assert limit(-1, 1.0, 100.0, high=np.nan, low=99.0).status == FillStatuses.no_data
    assert limit(-1, 1.0, 100.0, high=101.0, low=np.nan).status == FillStatuses.filled


def test_limit_below_the_minimum_is_below_minimum():
    r = limit(1, 0.9, 100.0, high=101.0, low=99.0)
    assert r.status == FillStatuses.below_minimum and r.qty_contracts == 0


@pytest.mark.parametrize(
    "args, message",
    [
        ((0, 1.0, 100.0), "side"),
        ((1, 1.0, np.nan), "limit_price"),
        ((1, 1.0, -1.0), "limit_price"),
    ],
)
def test_bad_limit_parameters_raise(args, message):
    with pytest.raises(ValueError, match=message):
        limit(*args, high=101.0, low=99.0)
    with pytest.raises(ValueError, match="queue_fill_fraction"):
        limit(1, 1.0, 100.0, 101.0, 99.0, fraction=1.5)
