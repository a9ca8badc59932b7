"""The order state machine: every legal move works, every illegal one raises naming both states."""

from __future__ import annotations

import itertools

import pytest

from botcore.errors import DataError, IllegalTransition
from botcore.model import (
    TRANSITIONS,
    Fill,
    LiquiditySide,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
)

S = OrderStatus
# The specification, written out independently of the implementation's table.
LEGAL = {
    (S.NEW, S.SUBMITTED), (S.NEW, S.REJECTED), (S.NEW, S.CANCELED),
    (S.SUBMITTED, S.ACCEPTED), (S.SUBMITTED, S.PARTIALLY_FILLED), (S.SUBMITTED, S.FILLED),
    (S.SUBMITTED, S.REJECTED), (S.SUBMITTED, S.CANCELED), (S.SUBMITTED, S.EXPIRED),
    (S.ACCEPTED, S.PARTIALLY_FILLED), (S.ACCEPTED, S.FILLED), (S.ACCEPTED, S.CANCELED), (S.ACCEPTED, S.EXPIRED),
    (S.PARTIALLY_FILLED, S.PARTIALLY_FILLED), (S.PARTIALLY_FILLED, S.FILLED),
    (S.PARTIALLY_FILLED, S.CANCELED), (S.PARTIALLY_FILLED, S.EXPIRED),
}
ALL_PAIRS = list(itertools.product(OrderStatus, OrderStatus))
ILLEGAL = [p for p in ALL_PAIRS if p not in LEGAL]


def order_in(status: OrderStatus, **kwargs) -> Order:
    base = dict(
        client_order_id="o1", symbol="ETH/USDT:USDT", side=OrderSide.BUY, order_type=OrderType.LIMIT,
        qty_contracts=10.0, contract_size=0.01, created_ts_ms=1_000, price=3_000.0, status=status,
    )
    base.update(kwargs)
    return Order(**base)


def fill_of(order: Order, qty: float, price: float, fill_id: str = "f1", ts_ms: int = 2_000) -> Fill:
    return Fill.from_contracts(
        fill_id=fill_id, client_order_id=order.client_order_id, symbol=order.symbol, side=order.side,
        price=price, qty_contracts=qty, contract_size=order.contract_size, fee_usd=0.01,
        liquidity=LiquiditySide.MAKER, ts_ms=ts_ms,
    )


def test_transition_table_matches_the_specification():
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == LEGAL


@pytest.mark.parametrize("from_status,to_status", ILLEGAL, ids=[f"{a.name}->{b.name}" for a, b in ILLEGAL])
def test_illegal_transition_raises_naming_both_states(from_status, to_status):
    order = order_in(from_status)
    with pytest.raises(IllegalTransition) as info:
        order.transition(to_status, 5_000)
    message = str(info.value)
    assert f"{from_status.name} -> {to_status.name}" in message
    assert "o1" in message
    assert order.status == from_status  # untouched


@pytest.mark.parametrize("from_status,to_status", sorted(LEGAL), ids=[f"{a.name}->{b.name}" for a, b in sorted(LEGAL)])
def test_legal_transition_returns_new_order_in_target_state(from_status, to_status):
    order = order_in(from_status)
    moved = order.transition(to_status, 5_000)
    assert moved.status == to_status
    assert moved.updated_ts_ms == 5_000
    assert order.status == from_status  # orders are values: the original is unchanged


def test_happy_path_new_to_filled_through_partial_fills():
    order = order_in(S.NEW).submit(1_100).accept(1_200, venue_order_id="v-1")
    assert order.status == S.ACCEPTED and order.venue_order_id == "v-1"
    order = order.apply_fill(fill_of(order, 4.0, 3_000.0, "f1"))
    assert order.status == S.PARTIALLY_FILLED
    assert order.filled_qty_contracts == pytest.approx(4.0)
    assert order.remaining_qty_contracts == pytest.approx(6.0)
    order = order.apply_fill(fill_of(order, 6.0, 2_990.0, "f2"))
    assert order.status == S.FILLED
    assert order.filled_qty_contracts == 10.0
    assert order.avg_fill_price == pytest.approx((4 * 3_000 + 6 * 2_990) / 10)
    assert not order.is_open


def test_terminal_states_have_no_exit():
    for status in (S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED):
        assert status.is_terminal and not TRANSITIONS[status]


def test_fill_on_new_order_raises_illegal_transition():
    order = order_in(S.NEW)
    with pytest.raises(IllegalTransition, match="NEW -> FILLED"):
        order.apply_fill(fill_of(order, 10.0, 3_000.0))


def test_fill_after_cancel_raises_illegal_transition():
    order = order_in(S.ACCEPTED).cancel(1_500, reason="user")
    assert order.status_reason == "user"
    with pytest.raises(IllegalTransition, match="CANCELED -> PARTIALLY_FILLED"):
        order.apply_fill(fill_of(order, 1.0, 3_000.0))


def test_overfill_raises_data_error():
    order = order_in(S.ACCEPTED)
    with pytest.raises(DataError, match="overfills"):
        order.apply_fill(fill_of(order, 10.5, 3_000.0))


def test_fill_of_other_side_or_order_is_rejected():
    order = order_in(S.ACCEPTED)
    wrong_side = Fill.from_contracts(
        fill_id="f", client_order_id="o1", symbol=order.symbol, side=OrderSide.SELL, price=1.0,
        qty_contracts=1, contract_size=0.01, fee_usd=0.0, liquidity=LiquiditySide.TAKER, ts_ms=1,
    )
    with pytest.raises(DataError, match="side SELL"):
        order.apply_fill(wrong_side)
    other = order_in(S.ACCEPTED, client_order_id="o2")
    with pytest.raises(DataError, match="is for order o1, not o2"):
        other.apply_fill(fill_of(order, 1.0, 3_000.0))


def test_reject_keeps_the_reason():
    order = order_in(S.SUBMITTED).reject(1_300, reason="insufficient margin")
    assert order.status == S.REJECTED and order.status_reason == "insufficient margin"


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"price": None}, "price"),
        ({"qty_contracts": 0.0}, "qty_contracts"),
        ({"qty_contracts": float("nan")}, "qty_contracts"),
        ({"created_ts_ms": 1_000.5}, "created_ts_ms"),
        ({"created_ts_ms": -1}, "created_ts_ms"),
        ({"client_order_id": ""}, "client_order_id"),
        ({"contract_size": -1.0}, "contract_size"),
    ],
)
def test_bad_order_field_raises_naming_it(kwargs, field):
    with pytest.raises(DataError, match=field):
        order_in(S.NEW, **kwargs)


def test_market_order_with_price_is_rejected():
    with pytest.raises(DataError, match="MARKET"):
        order_in(S.NEW, order_type=OrderType.MARKET)
