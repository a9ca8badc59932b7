"""The Python face, and determinism: the paper venue (Python calls) and the backtest
(a compiled loop) get the same fills, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from pydantic import ValidationError

import botcore.fills as fills
from botcore.errors import DataError
from botcore.fills import nb
from botcore.fills.enums import ExhaustRules, FillResult, FillStatuses, Liquidities, Sides, fill_dt

NAN = np.nan


def pad(values, n=10):
    return np.array(list(values) + [NAN] * (n - len(values)), dtype=np.float64)


BOOK = fills.Book(pad([99.5, 99.0, 98.0]), pad([1.0, 2.0, 3.0]), pad([100.0, 100.5, 101.0]), pad([1.0, 2.0, 3.0]))


class Spec:
    contract_size = 0.001
    contract_step = 1.0
    min_contracts = 1.0


def bits(result: FillResult) -> np.ndarray:
    return np.array([float(x) for x in result], dtype=np.float64).view(np.int64)


# --------------------------------------------------------------------------- parameters


def test_params_come_from_the_settings(settings):
    params = fills.FillParams.from_settings(settings)
    assert params.taker_fee == settings.fees.taker == 0.0006
    assert params.maker_fee == settings.fees.maker == 0.0002
    assert params.leverage == settings.risk.max_leverage
    assert params.margin_mode == settings.risk.margin_mode
    assert params.exhaust_rule == "partial"
    assert fills.FillParams.from_settings(settings, exhaust_rule="penalty").exhaust_rule_code == ExhaustRules.penalty


def test_params_reject_unknown_keys_and_out_of_range_values():
    with pytest.raises(ValidationError, match="queue_fill"):
        fills.FillParams(queue_fill="all")
    with pytest.raises(ValidationError, match="queue_fill_fraction"):
        fills.FillParams(queue_fill_fraction=1.5)
    with pytest.raises(ValidationError, match="exhaust_rule"):
        fills.FillParams(exhaust_rule="fill_anyway")


def test_codes_match_the_domain_model():
    from botcore.model import LiquiditySide, OrderSide

    assert (Sides.buy, Sides.sell) == (OrderSide.BUY, OrderSide.SELL)
    assert (Liquidities.maker, Liquidities.taker) == (LiquiditySide.MAKER, LiquiditySide.TAKER)


# --------------------------------------------------------------------------- book validation


def test_book_with_mismatched_lengths_is_rejected_naming_the_field():
    with pytest.raises(DataError, match="ask_sz"):
        fills.validate_book(BOOK.bid_px, BOOK.bid_sz, BOOK.ask_px, BOOK.ask_sz[:5])


def test_book_out_of_order_is_rejected():
    with pytest.raises(DataError, match="ask_px.*ascending"):
        fills.validate_book(BOOK.bid_px, BOOK.bid_sz, pad([100.5, 100.0]), pad([1.0, 1.0]))
    with pytest.raises(DataError, match="bid_px.*descending"):
        fills.validate_book(pad([98.0, 99.0]), pad([1.0, 1.0]), BOOK.ask_px, BOOK.ask_sz)


def test_crossed_or_negative_or_2d_book_is_rejected():
    with pytest.raises(DataError, match="crossed"):
        fills.validate_book(pad([100.0]), pad([1.0]), pad([100.0]), pad([1.0]))
    with pytest.raises(DataError, match="bid_sz.*negative"):
        fills.validate_book(pad([99.0]), pad([-1.0]), pad([100.0]), pad([1.0]))
    with pytest.raises(DataError, match="bid_px.*1-D"):
        fills.validate_book(np.ones((2, 10)), BOOK.bid_sz, BOOK.ask_px, BOOK.ask_sz)


def test_book_with_absent_levels_is_valid():
    book = fills.validate_book([NAN, 99.0, NAN], [1.0, 2.0, 5.0], [100.0, NAN, 101.0], [1.0, 1.0, NAN])
    assert book.bid_px.dtype == np.float64 and book.bid_px.flags.c_contiguous


# --------------------------------------------------------------------------- calls through the face


def test_face_market_order_is_the_kernel_result(settings):
    params = fills.FillParams.from_settings(settings)
    asset = settings.universe.asset("BTC/USDT:USDT")   # contract_size 0.001
    got = fills.fill_market_order("buy", 2, BOOK, asset, params)
    want = nb.fill_market_order_nb(1, 2.0, *BOOK, 0.001, 1.0, 1.0, 0.0006, 0, 0.001)
    assert np.array_equal(bits(got), bits(want))
    # 1.0 @ 100 + 1.0 @ 100.5 = 200.5 for 2.0 BTC
    assert got.price == pytest.approx(100.25, rel=1e-15)
    d = fills.describe(got)
    assert (d["status_name"], d["reason_name"], d["side_name"]) == ("FILLED", "MARKET", "BUY")


def test_face_rejects_a_bad_side():
    with pytest.raises(ValueError, match="side"):
        fills.fill_market_order("long", 1.0, BOOK, Spec, fills.FillParams())


def test_face_limit_funding_and_liquidation():
    params = fills.FillParams(leverage=3.0, margin_mode="cross", maintenance_margin_rate=0.005)
    r = fills.fill_limit_order(-1, 0.01, 100.0, 100.2, 99.0, Spec, params, queue_key=fills.queue_key(0, 0), bar_ts=60_000)
    assert r.status == FillStatuses.filled and r.fee_usd == pytest.approx(100.0 * 0.01 * 0.0002, rel=1e-15)
    # data's next funding 04:00 on an 8 h grid, window (00:00, 12:00] -> 04:00 and 12:00 (closed end)
    hours = fills.funding_times(0, 12 * 3_600_000, params, next_funding_ts=4 * 3_600_000) // 3_600_000
    assert hours.tolist() == [4, 12]
    assert fills.funding_times(0, 12 * 3_600_000, params).tolist() == [8 * 3_600_000]
    assert fills.funding_payment(-1.0, 100.0, 0.001) == pytest.approx(0.1, rel=1e-15)
    # cross long 0.5 @ 60,000, 3x, mmr 0.5 %, free 5,000: 40,300 - 10,000 = 30,300
    liq = fills.liquidation_price(0.5, 60_000.0, params, free_equity_usd=5_000.0)
    assert liq == pytest.approx(30_300.0, rel=1e-14)
    hit = fills.liquidation_check(0.5, liq, 30_000.0, 31_000.0, 30_500.0, Spec, params)
    assert hit.status == FillStatuses.filled and hit.price == liq


def test_filled_result_becomes_a_domain_fill():
    from botcore.model import Fill, LiquiditySide, OrderSide

    r = fills.fill_market_order(-1, 5.0, BOOK, Spec, fills.FillParams())
    fill = fills.to_model_fill(r, fill_id="f1", client_order_id="o1", symbol="BTC/USDT:USDT", ts_ms=1)
    assert isinstance(fill, Fill)
    assert fill.side == OrderSide.SELL and fill.liquidity == LiquiditySide.TAKER
    assert fill.qty_contracts == 5000 and fill.price == r.price and fill.fee_usd == r.fee_usd
    empty = fills.fill_market_order(-1, 5.0, fills.Book(pad([]), pad([]), pad([]), pad([])), Spec, fills.FillParams())
    assert not fills.has_quantity(empty)
    with pytest.raises(ValueError, match="NO_LIQUIDITY"):
        fills.to_model_fill(empty, fill_id="f2", client_order_id="o2", symbol="BTC/USDT:USDT", ts_ms=1)


# --------------------------------------------------------------------------- determinism and parity


@njit
def _backtest_like_loop(sides, qtys, bid_px, bid_sz, ask_px, ask_sz, highs, lows, records):
    """What the backtest does: kernels called from inside a compiled loop."""
    n = sides.shape[0]
    payments = np.empty(n)
    for i in range(n):
        rule = i % 2
        m = nb.fill_market_order_nb(
            sides[i], qtys[i], bid_px[i], bid_sz[i], ask_px[i], ask_sz[i], 0.001, 1.0, 1.0, 0.0006, rule, 0.003
        )
        nb.write_fill_record_nb(records, 2 * i, 2 * i, i % 15, 60_000 * i, m)
        limit_px = ask_px[i, 0] if sides[i] == 1 else bid_px[i, 0]
        if np.isnan(limit_px):
            limit_px = 100.0
        lim = nb.fill_limit_order_nb(
            sides[i], qtys[i], limit_px, highs[i], lows[i], 0.001, 1.0, 1.0, 0.0002, 0.4,
            nb.queue_key_nb(i % 15, 60_000 * i), 60_000 * (i + 1),
        )
        nb.write_fill_record_nb(records, 2 * i + 1, 2 * i + 1, i % 15, 60_000 * (i + 1), lim)
        payments[i] = nb.funding_payment_nb(sides[i] * qtys[i], m.price, 0.0001 * (i % 7 - 3))
    return payments


def _random_books(n, seed):
    rng = np.random.default_rng(seed)
    mid = rng.uniform(1.0, 70_000.0, n)
    tick = mid * 1e-4
    bid_px = mid[:, None] - tick[:, None] * np.cumsum(rng.integers(1, 5, (n, 10)), axis=1)
    ask_px = mid[:, None] + tick[:, None] * np.cumsum(rng.integers(1, 5, (n, 10)), axis=1)
    bid_sz = rng.integers(1, 400, (n, 10)) * 0.001
    ask_sz = rng.integers(1, 400, (n, 10)) * 0.001
    for arr in (bid_px, ask_sz):
        arr[rng.random((n, 10)) < 0.15] = NAN
    ask_px[rng.random(n) < 0.05] = NAN            # a few missing books
    sides = rng.choice(np.array([1, -1]), n)
    qtys = rng.uniform(0.0, 3.0, n)
    qtys[rng.random(n) < 0.05] = 0.0005          # under one contract
    highs = mid + tick * rng.integers(-3, 4, n)
    lows = mid - tick * rng.integers(-3, 4, n)
    return sides, qtys, bid_px, bid_sz, ask_px, ask_sz, highs, lows


def test_backtest_loop_and_paper_calls_produce_identical_fills():
    n = 400
    sides, qtys, bid_px, bid_sz, ask_px, ask_sz, highs, lows = _random_books(n, seed=20240101)
    records = np.zeros(2 * n, dtype=fill_dt)
    payments = _backtest_like_loop(sides, qtys, bid_px, bid_sz, ask_px, ask_sz, highs, lows, records)

    statuses = set()
    for i in range(n):
        # the paper venue: one Python call per order, same inputs
        m = nb.fill_market_order_nb(
            int(sides[i]), float(qtys[i]), bid_px[i].copy(), bid_sz[i].copy(), ask_px[i].copy(), ask_sz[i].copy(),
            0.001, 1.0, 1.0, 0.0006, i % 2, 0.003,
        )
        statuses.add(m.status)
        rec = records[2 * i]
        assert np.array_equal(bits(m), np.array([float(rec[f]) for f in FillResult._fields]).view(np.int64)), i
        assert (rec["id"], rec["col"], rec["ts"]) == (2 * i, i % 15, 60_000 * i)
        limit_px = ask_px[i, 0] if sides[i] == 1 else bid_px[i, 0]
        limit_px = 100.0 if np.isnan(limit_px) else float(limit_px)
        lim = nb.fill_limit_order_nb(
            int(sides[i]), float(qtys[i]), limit_px, float(highs[i]), float(lows[i]), 0.001, 1.0, 1.0, 0.0002, 0.4,
            int(nb.queue_key_nb(i % 15, 60_000 * i)), 60_000 * (i + 1),
        )
        rec = records[2 * i + 1]
        assert np.array_equal(bits(lim), np.array([float(rec[f]) for f in FillResult._fields]).view(np.int64)), i
        pay = nb.funding_payment_nb(float(sides[i] * qtys[i]), m.price, 0.0001 * (i % 7 - 3))
        assert np.array_equal(np.float64(pay).view(np.int64), payments[i : i + 1].view(np.int64)[0]), i
    # the sample exercised the interesting outcomes
    assert {FillStatuses.filled, FillStatuses.partial, FillStatuses.no_liquidity, FillStatuses.below_minimum} <= statuses


def test_same_inputs_give_the_same_bits_every_time():
    sides, qtys, bid_px, bid_sz, ask_px, ask_sz, highs, lows = _random_books(50, seed=7)
    first = [bits(nb.fill_market_order_nb(int(s), float(q), bp, bs, ap, az, 0.001, 1.0, 1.0, 0.0006, 1, 0.01))
             for s, q, bp, bs, ap, az in zip(sides, qtys, bid_px, bid_sz, ask_px, ask_sz)]
    again = [bits(nb.fill_market_order_nb(int(s), float(q), bp, bs, ap, az, 0.001, 1.0, 1.0, 0.0006, 1, 0.01))
             for s, q, bp, bs, ap, az in zip(sides, qtys, bid_px, bid_sz, ask_px, ask_sz)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
