"""Reconciliation of the ledger with a venue: adopt unknown positions as aged, resolve orphan orders, flag the rest."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from botcore.ledger import Ledger
from botcore.model import Fill, LiquiditySide, Order, OrderSide, OrderStatus, OrderType
from botcore.venues import MarketSpec, OrderRequest, OrderUpdate, VenueBalance, VenuePosition, VenueReason
from botcore.venues.paper import PaperVenue
from botcore.venues.reconcile import META_KEY, apply_order_update, reconcile, reconcile_with_venue
from tests.fakes.blofin_server import FakeBlofin
from tests.test_venue_blofin import venue_for

BTC = "BTC/USDT:USDT"
CS = 0.001
T0 = 1_709_251_200_000
START = 10_000.0


@pytest.fixture
def ledger(tmp_path: Path):
    with Ledger.open(tmp_path / "ledger.db", starting_cash_usd=START) as book:
        yield book


def cash(usd: float = START) -> VenueBalance:
    return VenueBalance(cash_usd=usd, equity_usd=usd, available_usd=usd)


def market_order(cid: str, side: OrderSide, qty: float, ts: int = T0) -> Order:
    return Order(cid, BTC, side, OrderType.MARKET, qty, CS, ts)


def fill(cid: str, side: OrderSide, qty: float, price: float = 60_000.0, n: int = 0, ts: int = T0 + 1) -> Fill:
    return Fill.from_contracts(fill_id=f"{cid}:{n}", client_order_id=cid, symbol=BTC, side=side, price=price,
                               qty_contracts=qty, contract_size=CS, fee_usd=price * qty * CS * 0.0006,
                               liquidity=LiquiditySide.TAKER, ts_ms=ts)


def update(order: Order, status: OrderStatus, fills: tuple[Fill, ...] = (), **kw) -> OrderUpdate:
    filled = sum(f.qty_contracts for f in fills)
    return OrderUpdate(order.client_order_id, order.symbol, order.side, order.order_type, status, T0 + 2,
                       order.qty_contracts, order.qty_base, filled, filled * CS, fills[0].price if fills else None,
                       sum(f.fee_usd for f in fills), order.price, venue_order_id=f"v{order.client_order_id}",
                       fills=fills, **kw)


def book_order(ledger: Ledger, order: Order, status: OrderStatus = OrderStatus.SUBMITTED) -> Order:
    ledger.record_order(order)
    if status != OrderStatus.NEW:
        ledger.update_order_status(order.client_order_id, OrderStatus.SUBMITTED, order.created_ts_ms)
    return ledger.order(order.client_order_id)


# --------------------------------------------------------------------------- positions


def test_a_venue_position_unknown_to_the_ledger_is_adopted_as_aged(ledger) -> None:
    venue_position = VenuePosition(BTC, -4.0, CS, 61_000.0, mark_price=60_500.0)
    report = reconcile(ledger, [venue_position], [], cash(), T0)
    assert report.ok and [c.kind for c in report.changes] == ["POSITION_ADOPTED"]
    assert "aged" in report.changes[0].detail
    adopted = ledger.position(BTC)
    assert (adopted.qty_contracts, adopted.avg_entry_price, adopted.adopted) == (-4.0, 61_000.0, True)
    assert adopted.entry_ts_ms is None and adopted.holding_ms(T0 + 1) is None  # aged: entry time unknown
    assert ledger.get_meta(META_KEY)["changes"][0]["kind"] == "POSITION_ADOPTED"
    assert reconcile(ledger, [venue_position], [], cash(), T0 + 1).changes == ()  # adopted once


def test_long_and_short_rows_of_a_hedged_account_are_netted_before_comparing(ledger) -> None:
    rows = [VenuePosition(BTC, 5.0, CS, 60_000.0, position_side="long"),
            VenuePosition(BTC, -2.0, CS, 61_000.0, position_side="short")]
    report = reconcile(ledger, rows, [], cash(), T0)
    assert report.ok and ledger.position(BTC).qty_contracts == 3.0


def test_a_position_size_it_cannot_explain_fails_reconciliation(ledger) -> None:
    order = book_order(ledger, market_order("p1", OrderSide.BUY, 5))
    effect = ledger.record_fill(fill("p1", OrderSide.BUY, 5))
    venue_cash = cash(START + effect.cash_delta_usd)
    wrong = reconcile(ledger, [VenuePosition(BTC, 3.0, CS, 60_000.0)], [], venue_cash, T0 + 5)
    assert not wrong.ok and wrong.problems == ("BTC/USDT:USDT: position 5 contracts in the ledger, 3 on the venue",)
    flat = reconcile(ledger, [], [], venue_cash, T0 + 6)
    assert not flat.ok and "5 contracts in the ledger, 0 on the venue" in flat.problems[0]
    right = reconcile(ledger, [VenuePosition(BTC, 5.0, CS, 60_000.0)], [], venue_cash, T0 + 7)
    assert right.ok and right.changes == () and order.client_order_id == "p1"


@pytest.mark.parametrize("diff_usd, ok", [(0.99, True), (-0.99, True), (1.01, False), (-250.0, False)])
def test_a_cash_difference_over_one_dollar_fails_reconciliation(ledger, diff_usd, ok) -> None:
    report = reconcile(ledger, [], [], cash(START + diff_usd), T0)
    assert report.ok is ok and report.cash_diff_usd == pytest.approx(-diff_usd)
    if not ok:
        assert "cash 10000.00 USD in the ledger" in report.problems[0]


# --------------------------------------------------------------------------- orders


def test_an_order_filled_on_the_venue_but_missing_from_the_ledger_gets_its_fills(ledger) -> None:
    order = book_order(ledger, market_order("o1", OrderSide.BUY, 2))
    fills = (fill("o1", OrderSide.BUY, 1, 60_000.0, 0), fill("o1", OrderSide.BUY, 1, 60_001.0, 1))
    lookup = update(order, OrderStatus.FILLED, fills)
    venue_cash = cash(START - sum(f.fee_usd for f in fills))
    report = reconcile(ledger, [VenuePosition(BTC, 2.0, CS, 60_000.5)], [], venue_cash, T0 + 10,
                       order_lookups={"o1": lookup})
    assert report.ok, report.problems
    assert [c.kind for c in report.changes] == ["FILL_RECORDED", "FILL_RECORDED"]
    assert ledger.order("o1").status == OrderStatus.FILLED and ledger.position(BTC).qty_contracts == 2.0
    assert ledger.check_invariant().ok


def test_an_order_the_venue_never_saw_is_canceled_with_the_reason(ledger) -> None:
    book_order(ledger, market_order("o2", OrderSide.SELL, 1))
    book_order(ledger, market_order("o3", OrderSide.SELL, 1), status=OrderStatus.NEW)
    report = reconcile(ledger, [], [], cash(), T0 + 10, order_lookups={"o2": None, "o3": None})
    assert report.ok and [c.kind for c in report.changes] == ["ORDER_CANCELED", "ORDER_CANCELED"]
    canceled = ledger.order("o2")
    assert canceled.status == OrderStatus.CANCELED and "no record" in canceled.status_reason


def test_an_order_canceled_on_the_venue_is_canceled_in_the_ledger(ledger) -> None:
    order = book_order(ledger, Order("o4", BTC, OrderSide.BUY, OrderType.LIMIT, 3, CS, T0, price=59_000.0))
    lookup = update(order, OrderStatus.CANCELED, reason="Order canceled by user", reason_code=VenueReason.CANCELED)
    report = reconcile(ledger, [], [], cash(), T0 + 10, order_lookups={"o4": lookup})
    assert report.ok and ledger.order("o4").status == OrderStatus.CANCELED
    assert "Order canceled by user" in ledger.order("o4").status_reason


def test_a_resting_order_takes_the_venues_progress(ledger) -> None:
    order = book_order(ledger, Order("o5", BTC, OrderSide.BUY, OrderType.LIMIT, 10, CS, T0, price=59_000.0))
    part = (fill("o5", OrderSide.BUY, 3, 59_000.0),)
    venue_open = update(order, OrderStatus.PARTIALLY_FILLED, part)
    report = reconcile(ledger, [VenuePosition(BTC, 3.0, CS, 59_000.0)], [venue_open], cash(START - part[0].fee_usd), T0 + 10)
    assert report.ok, report.problems
    assert [c.kind for c in report.changes] == ["ORDER_ACCEPTED", "FILL_RECORDED"]
    booked = ledger.order("o5")
    assert (booked.status, booked.filled_qty_contracts, booked.venue_order_id) == (OrderStatus.PARTIALLY_FILLED, 3.0, "vo5")


def test_an_open_order_the_ledger_does_not_know_or_an_orphan_not_looked_up_fails(ledger) -> None:
    stranger = update(market_order("zz9", OrderSide.BUY, 1), OrderStatus.ACCEPTED)
    book_order(ledger, market_order("o6", OrderSide.BUY, 1))
    report = reconcile(ledger, [], [stranger], cash(), T0)
    assert not report.ok
    assert any("zz9 on the venue" in p and "not in the ledger" in p for p in report.problems)
    assert any("o6" in p and "was not looked up" in p for p in report.problems)
    assert ledger.order("o6").status == OrderStatus.SUBMITTED  # left alone


def test_apply_order_update_books_a_rejection_and_skips_fills_already_recorded(ledger) -> None:
    new = book_order(ledger, market_order("o7", OrderSide.BUY, 1), status=OrderStatus.NEW)
    changes, problems = apply_order_update(ledger, update(new, OrderStatus.REJECTED, reason="Insufficient margin"))
    assert [c.kind for c in changes] == ["ORDER_REJECTED"] and problems == []
    order = book_order(ledger, market_order("o8", OrderSide.BUY, 1))
    done = update(order, OrderStatus.FILLED, (fill("o8", OrderSide.BUY, 1),))
    first, _ = apply_order_update(ledger, done)
    again, problems = apply_order_update(ledger, done)
    assert [c.kind for c in first] == ["FILL_RECORDED"] and again == [] and problems == []


# --------------------------------------------------------------------------- against real venues


def test_after_a_crash_between_submit_and_booking_the_paper_venues_fill_is_recovered(ledger) -> None:
    venue = PaperVenue([MarketSpec(BTC, CS, 1, 1, 0.1, 100)], starting_cash_usd=START)
    venue.update_market(BTC, [60_000.0], [1.0], [60_000.1], [1.0], 60_010.0, 59_990.0, 60_000.0, T0)
    order = book_order(ledger, market_order("crash1", OrderSide.BUY, 4))
    asyncio.run(venue.submit(OrderRequest.from_order(order)))  # ... and the process dies before booking the fill
    report = asyncio.run(reconcile_with_venue(ledger, venue, T0 + 60_000))
    assert report.ok, report.problems
    assert ledger.order("crash1").status == OrderStatus.FILLED
    assert ledger.cash() == pytest.approx(asyncio.run(venue.balance()).cash_usd)
    assert ledger.check_invariant().ok
    assert asyncio.run(reconcile_with_venue(ledger, venue, T0 + 120_000)).changes == ()


def test_reconciling_with_blofin_adopts_a_manual_position_and_books_partial_fills(ledger) -> None:
    async def go(fake: FakeBlofin):
        venue = venue_for(fake)
        try:
            await venue.load_markets()
            fake.seed_position("ETH-USDT", -7, 3_000.0)  # opened by hand on the website
            order = book_order(ledger, Order("rb1", BTC, OrderSide.BUY, OrderType.LIMIT, 10, CS, T0, price=50_000.0))
            await venue.submit(OrderRequest.from_order(order))
            fake.fill_order("rb1", 3)
            first = await reconcile_with_venue(ledger, venue, T0 + 60_000)
            fake.fill_order("rb1", 7)  # the rest fills while the bot is down
            second = await reconcile_with_venue(ledger, venue, T0 + 120_000)
            return first, second
        finally:
            await venue.close()

    with FakeBlofin() as fake:
        first, second = asyncio.run(go(fake))
    assert first.ok, first.problems
    assert sorted(c.kind for c in first.changes) == ["FILL_RECORDED", "ORDER_ACCEPTED", "POSITION_ADOPTED"]
    assert second.ok, second.problems
    assert [c.kind for c in second.changes] == ["FILL_RECORDED"]
    assert ledger.order("rb1").status == OrderStatus.FILLED
    assert ledger.position("ETH/USDT:USDT").adopted and ledger.position(BTC).qty_contracts == 10.0
    assert abs(second.cash_diff_usd) < 1e-6 and ledger.check_invariant().ok
    assert np.isclose(ledger.position(BTC).avg_entry_price, 50_000.0)
