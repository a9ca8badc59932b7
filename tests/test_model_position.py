"""Position arithmetic against hand-computed cases: partial fills, scaling, flips, fees, funding."""

from __future__ import annotations

import copy

import pytest

from botcore.errors import DataError, DuplicateFill
from botcore.model import (
    Fill,
    FundingPayment,
    LiquiditySide,
    Order,
    OrderSide,
    OrderType,
    Position,
    PositionSide,
    TradeCloseReason,
)

BUY, SELL = OrderSide.BUY, OrderSide.SELL
SYM = "SOL/USDT:USDT"


def fill(fill_id: str, side: OrderSide, qty: float, price: float, fee: float, ts_ms: int, *, cs: float,
         reduce_only: bool = False) -> Fill:
    return Fill.from_contracts(
        fill_id=fill_id, client_order_id=f"o-{fill_id}", symbol=SYM, side=side, price=price, qty_contracts=qty,
        contract_size=cs, fee_usd=fee, liquidity=LiquiditySide.TAKER, ts_ms=ts_ms, reduce_only=reduce_only,
    )


def test_long_scaled_in_and_out_realises_hand_computed_pnl():
    # contract_size 0.5: 4 contracts = 2 base units.
    p = Position(SYM, 0.5)
    assert p.apply_fill(fill("f1", BUY, 2, 100.0, 0.060, 1_000, cs=0.5), strategy_id="trend").cash_delta_usd == pytest.approx(-0.060)
    p.apply_fill(fill("f2", BUY, 2, 110.0, 0.066, 2_000, cs=0.5))
    assert p.qty_contracts == 4 and p.qty_base == 2.0
    assert p.avg_entry_price == pytest.approx(105.0)
    assert p.entry_ts_ms == 1_000 and p.side == PositionSide.LONG

    e3 = p.apply_fill(fill("f3", SELL, 1, 120.0, 0.036, 3_000, cs=0.5))
    assert e3.realized_pnl_usd == pytest.approx((120 - 105) * 0.5)  # 7.5
    assert e3.closed_trade is None
    assert p.qty_contracts == 3 and p.avg_entry_price == pytest.approx(105.0)

    e4 = p.apply_fill(fill("f4", SELL, 3, 104.0, 0.090, 4_000, cs=0.5), close_reason=TradeCloseReason.STOP_LOSS)
    assert e4.realized_pnl_usd == pytest.approx((104 - 105) * 1.5)  # -1.5
    t = e4.closed_trade
    assert t is not None and p.is_flat and p.entry_ts_ms is None
    assert t.side == PositionSide.LONG and t.strategy_id == "trend"
    assert (t.entry_ts_ms, t.exit_ts_ms) == (1_000, 4_000)
    assert t.entry_price == pytest.approx(105.0)
    assert t.exit_price == pytest.approx((120 * 1 + 104 * 3) / 4)  # 108
    assert (t.qty_contracts, t.qty_base) == (4.0, 2.0)
    assert t.gross_pnl_usd == pytest.approx(6.0)
    assert t.fees_usd == pytest.approx(0.252)
    assert t.funding_usd == 0.0
    assert t.net_pnl_usd == pytest.approx(5.748)
    assert t.close_reason == TradeCloseReason.STOP_LOSS and t.closing_fill_id == "f4"


def test_short_with_funding_realises_hand_computed_pnl():
    p = Position(SYM, 1.0)
    p.apply_fill(fill("f1", SELL, 3, 200.0, 0.36, 1_000, cs=1.0), strategy_id="breakout")
    assert p.side == PositionSide.SHORT and p.qty_contracts == -3
    e2 = p.apply_fill(fill("f2", BUY, 1, 180.0, 0.108, 2_000, cs=1.0))
    assert e2.realized_pnl_usd == pytest.approx(20.0)  # short gains when price falls
    p.apply_funding(FundingPayment(SYM, 0.5, 2_500))  # received
    p.apply_funding(FundingPayment(SYM, -0.2, 2_600))  # paid
    assert p.funding_usd == pytest.approx(0.3)
    e3 = p.apply_fill(fill("f3", BUY, 2, 190.0, 0.228, 3_000, cs=1.0))
    assert e3.realized_pnl_usd == pytest.approx(20.0)
    t = e3.closed_trade
    assert t.side == PositionSide.SHORT
    assert t.gross_pnl_usd == pytest.approx(40.0)
    assert t.fees_usd == pytest.approx(0.696)
    assert t.funding_usd == pytest.approx(0.3)
    assert t.net_pnl_usd == pytest.approx(39.604)
    assert t.exit_price == pytest.approx((180 + 2 * 190) / 3)
    assert t.is_win


def test_losing_short_has_negative_pnl():
    p = Position(SYM, 1.0)
    p.apply_fill(fill("f1", SELL, 2, 100.0, 0.0, 1, cs=1.0))
    e = p.apply_fill(fill("f2", BUY, 2, 103.0, 0.0, 2, cs=1.0))
    assert e.realized_pnl_usd == pytest.approx(-6.0)
    assert not e.closed_trade.is_win


def test_flip_through_zero_splits_into_close_and_open():
    p = Position(SYM, 1.0)
    p.apply_fill(fill("f1", BUY, 2, 100.0, 0.2, 1_000, cs=1.0), strategy_id="trend")
    effect = p.apply_fill(fill("f2", SELL, 5, 110.0, 0.5, 2_000, cs=1.0), strategy_id="meanrev")
    # close 2 long: +20 realised, 2/5 of the fee (0.2) belongs to the closed trade
    assert effect.realized_pnl_usd == pytest.approx(20.0)
    assert effect.fee_usd == pytest.approx(0.5)
    assert effect.cash_delta_usd == pytest.approx(19.5)
    t = effect.closed_trade
    assert t.side == PositionSide.LONG and t.strategy_id == "trend"
    assert t.fees_usd == pytest.approx(0.4)
    assert t.net_pnl_usd == pytest.approx(19.6)
    assert t.close_reason == TradeCloseReason.FLIP
    # open 3 short at the fill price, with the remaining 3/5 of the fee
    assert p.qty_contracts == -3 and p.side == PositionSide.SHORT
    assert p.avg_entry_price == pytest.approx(110.0)
    assert p.fees_usd == pytest.approx(0.3)
    assert p.entry_ts_ms == 2_000 and p.strategy_id == "meanrev"
    assert p.realized_pnl_usd == 0.0
    t2 = p.apply_fill(fill("f3", BUY, 3, 100.0, 0.3, 3_000, cs=1.0)).closed_trade
    assert t2.side == PositionSide.SHORT
    assert t2.gross_pnl_usd == pytest.approx(30.0)
    assert t2.fees_usd == pytest.approx(0.6)
    assert t2.net_pnl_usd == pytest.approx(29.4)
    assert (t2.entry_ts_ms, t2.exit_ts_ms) == (2_000, 3_000)


def test_partial_fills_of_one_order_build_the_position():
    order = Order("o1", SYM, BUY, OrderType.LIMIT, 10, 0.1, 0, price=101.0).submit(1).accept(2)
    p = Position(SYM, 0.1)
    for fill_id, qty, price, ts in (("a", 4, 100.0, 10), ("b", 6, 101.0, 20)):
        f = Fill.from_contracts(fill_id=fill_id, client_order_id="o1", symbol=SYM, side=BUY, price=price,
                                qty_contracts=qty, contract_size=0.1, fee_usd=0.0, liquidity=LiquiditySide.MAKER,
                                ts_ms=ts)
        order = order.apply_fill(f)
        p.apply_fill(f)
    assert order.status.name == "FILLED"
    assert p.qty_contracts == 10 and p.qty_base == pytest.approx(1.0)
    assert p.avg_entry_price == pytest.approx(100.6) == order.avg_fill_price
    assert p.entry_ts_ms == 10 and p.last_ts_ms == 20


def test_funding_lands_on_the_trade_it_was_paid_during():
    p = Position(SYM, 1.0)
    p.apply_fill(fill("f1", BUY, 1, 100.0, 0.06, 0, cs=1.0))
    p.apply_funding(FundingPayment(SYM, -1.5, 10))
    p.apply_funding(FundingPayment(SYM, 0.5, 20))
    t = p.apply_fill(fill("f2", SELL, 1, 105.0, 0.063, 30, cs=1.0)).closed_trade
    assert t.funding_usd == pytest.approx(-1.0)
    assert t.net_pnl_usd == pytest.approx(5.0 - 0.123 - 1.0)
    assert p.funding_usd == 0.0  # reset for the next round trip


def test_funding_on_flat_position_raises():
    with pytest.raises(DataError, match="flat"):
        Position(SYM, 1.0).apply_funding(FundingPayment(SYM, 1.0, 0))


@pytest.mark.parametrize("qty", [3.0, 5.0])
def test_reduce_only_fill_that_would_grow_or_flip_raises_and_changes_nothing(qty):
    p = Position(SYM, 1.0)
    p.apply_fill(fill("f1", SELL if qty == 3.0 else BUY, 2, 100.0, 0.1, 0, cs=1.0))
    before = copy.deepcopy(p)
    with pytest.raises(DataError, match="reduce-only"):
        p.apply_fill(fill("f2", SELL, qty, 99.0, 0.1, 1, cs=1.0, reduce_only=True))
    assert p == before and p.fill_ids == before.fill_ids


def test_reduce_only_fill_on_flat_position_raises():
    with pytest.raises(DataError, match="reduce-only"):
        Position(SYM, 1.0).apply_fill(fill("f1", SELL, 1, 100.0, 0.0, 0, cs=1.0, reduce_only=True))


def test_reduce_only_fill_that_closes_exactly_is_accepted():
    p = Position(SYM, 1.0)
    p.apply_fill(fill("f1", BUY, 2, 100.0, 0.0, 0, cs=1.0))
    assert p.apply_fill(fill("f2", SELL, 2, 101.0, 0.0, 1, cs=1.0, reduce_only=True)).closed_trade is not None
    assert p.is_flat


def test_duplicate_fill_id_raises_and_changes_nothing():
    p = Position(SYM, 1.0)
    f = fill("f1", BUY, 2, 100.0, 0.1, 0, cs=1.0)
    p.apply_fill(f)
    before = copy.deepcopy(p)
    with pytest.raises(DuplicateFill, match="f1"):
        p.apply_fill(f)
    assert p == before


def test_fill_for_another_symbol_or_inconsistent_base_qty_is_rejected():
    p = Position(SYM, 1.0)
    other = Fill.from_contracts(fill_id="x", client_order_id="o", symbol="BTC/USDT:USDT", side=BUY, price=1.0,
                                qty_contracts=1, contract_size=1.0, fee_usd=0.0, liquidity=LiquiditySide.TAKER, ts_ms=0)
    with pytest.raises(DataError, match="BTC/USDT:USDT"):
        p.apply_fill(other)
    bad_base = fill("y", BUY, 2, 100.0, 0.0, 0, cs=0.5)  # 1 base unit, but the position's contract is 1.0
    with pytest.raises(DataError, match="contract_size"):
        p.apply_fill(bad_base)
    assert p.is_flat and not p.fill_ids


def test_selling_in_thirds_closes_exactly_despite_float_residue():
    p = Position(SYM, 1.0)
    p.apply_fill(fill("b", BUY, 0.3, 10.0, 0.0, 0, cs=1.0))
    trades = [p.apply_fill(fill(f"s{i}", SELL, 0.1, 11.0, 0.0, i + 1, cs=1.0)).closed_trade for i in range(3)]
    assert trades[:2] == [None, None] and trades[2] is not None
    assert p.is_flat and p.qty_contracts == 0.0
    assert trades[2].gross_pnl_usd == pytest.approx(0.3)


def test_adopted_position_has_no_entry_time_and_closes_into_a_trade():
    p = Position.adopted_from_venue(SYM, 1.0, -4, 50.0, 1_000)
    assert p.entry_ts_ms is None and p.adopted and p.side == PositionSide.SHORT
    assert p.holding_ms(5_000) is None
    t = p.apply_fill(fill("f1", BUY, 4, 45.0, 0.1, 2_000, cs=1.0), close_reason=TradeCloseReason.TIME_EXIT).closed_trade
    assert t.entry_ts_ms is None
    assert t.gross_pnl_usd == pytest.approx(20.0)
    assert t.fees_usd == pytest.approx(0.1)
    assert t.close_reason == TradeCloseReason.TIME_EXIT


@pytest.mark.parametrize(
    "side,mark,unrealized",
    [(BUY, 110.0, 10.0), (BUY, 90.0, -10.0), (SELL, 110.0, -10.0), (SELL, 90.0, 10.0)],
)
def test_unrealized_pnl_and_exposure_at_mark(side, mark, unrealized):
    p = Position(SYM, 0.5)
    p.apply_fill(fill("f1", side, 2, 100.0, 0.0, 0, cs=0.5))  # 2 contracts = 1 base unit
    assert p.unrealized_pnl_usd(mark) == pytest.approx(unrealized)
    assert p.notional_usd(mark) == pytest.approx(mark * 1.0)


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"price": 0.0}, "price"),
        ({"price": float("inf")}, "price"),
        ({"qty_contracts": -1.0}, "qty_contracts"),
        ({"fee_usd": float("nan")}, "fee_usd"),
        ({"ts_ms": 1.7e12}, "ts_ms"),
        ({"fill_id": ""}, "fill_id"),
    ],
)
def test_bad_fill_field_raises_naming_it(kwargs, field):
    base = dict(fill_id="f", client_order_id="o", symbol=SYM, side=BUY, price=100.0, qty_contracts=1.0,
                qty_base=1.0, fee_usd=0.0, liquidity=LiquiditySide.TAKER, ts_ms=0)
    base.update(kwargs)
    with pytest.raises(DataError, match=field):
        Fill(**base)
