"""PaperVenue: fills exactly as the shared fill model, fees, limit orders, funding, balances from its own fills."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from botcore.config.models import Asset
from botcore.errors import DataError
from botcore.fills import (
    Book,
    FillParams,
    fill_limit_order,
    fill_market_order,
    funding_payment,
    queue_key,
)
from botcore.fills.nb import queue_draw_nb
from botcore.model import LiquiditySide, OrderSide, OrderStatus, OrderType
from botcore.venues import MarketSpec, OrderRequest, Venue, VenueReason
from botcore.venues.paper import PaperVenue

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
SPECS = [MarketSpec(BTC, 0.001, 1, 1, 0.1, 100), MarketSpec(ETH, 0.01, 1, 1, 0.01, 100)]
T0 = 1_709_251_200_000
MIN = 60_000
BOOK = Book(
    np.array([60_000.0, 59_999.9, 59_999.8]), np.array([0.010, 0.020, 0.500]),
    np.array([60_000.1, 60_000.2, 60_000.3]), np.array([0.003, 0.004, 0.500]),
)


def venue(**kwargs) -> PaperVenue:
    return PaperVenue(SPECS, **kwargs)


def feed(v: PaperVenue, ts: int, *, book: Book = BOOK, high: float = 60_010.0, low: float = 59_990.0,
         mark: float = 60_000.0, bar_ts: int | None = None, symbol: str = BTC, **kw):
    return v.update_market(symbol, *book, high, low, mark, ts, bar_ts=bar_ts, **kw)


def run(coro):
    return asyncio.run(coro)


def test_the_paper_venue_implements_the_venue_port() -> None:
    assert isinstance(venue(), Venue)


def test_a_market_order_fills_exactly_as_the_fill_model_with_the_taker_fee() -> None:
    v = venue()
    feed(v, T0)
    update = run(v.submit(OrderRequest("m1", BTC, OrderSide.BUY, OrderType.MARKET, qty_base=0.0057)))
    expected = fill_market_order(1, 0.0057, BOOK, SPECS[0], FillParams())
    (fill,) = update.fills
    assert (update.status, update.qty_contracts, update.qty_base) == (OrderStatus.FILLED, 5.0, 0.005)
    assert (fill.price, fill.qty_contracts, fill.qty_base, fill.fee_usd) == (
        expected.price, expected.qty_contracts, expected.qty_base, expected.fee_usd)
    assert fill.fee_usd == pytest.approx(fill.price * 0.005 * 0.0006)  # taker 0.06 %
    assert (fill.liquidity, fill.ts_ms, fill.fill_id) == (LiquiditySide.TAKER, T0, "m1:0")


def test_sizes_in_contracts_and_in_base_units_give_the_same_order() -> None:
    a, b = venue(), venue()
    feed(a, T0), feed(b, T0)
    by_contracts = run(a.submit(OrderRequest("s1", BTC, OrderSide.SELL, OrderType.MARKET, qty_contracts=7)))
    by_base = run(b.submit(OrderRequest("s1", BTC, OrderSide.SELL, OrderType.MARKET, qty_base=0.0079)))
    assert by_contracts == by_base


def test_a_book_too_thin_fills_what_it_holds_and_cancels_the_rest() -> None:
    v = venue()
    thin = Book(BOOK.bid_px, BOOK.bid_sz, np.array([60_000.1, np.nan, np.nan]), np.array([0.003, np.nan, np.nan]))
    feed(v, T0, book=thin)
    update = run(v.submit(OrderRequest("t1", BTC, OrderSide.BUY, OrderType.MARKET, qty_contracts=10)))
    assert (update.status, update.reason_code, update.filled_qty_contracts) == (OrderStatus.CANCELED, VenueReason.BOOK_EXHAUSTED, 3.0)


def test_no_book_or_an_empty_side_is_a_rejected_status() -> None:
    v = venue()
    none = run(v.submit(OrderRequest("n1", BTC, OrderSide.BUY, OrderType.MARKET, qty_contracts=1)))
    empty = Book(BOOK.bid_px, BOOK.bid_sz, np.full(3, np.nan), np.full(3, np.nan))
    feed(v, T0, book=empty)
    no_asks = run(v.submit(OrderRequest("n2", BTC, OrderSide.BUY, OrderType.MARKET, qty_contracts=1)))
    small = run(v.submit(OrderRequest("n3", BTC, OrderSide.SELL, OrderType.MARKET, qty_base=0.0004)))
    assert none.reason_code == VenueReason.NO_MARKET_DATA and no_asks.reason_code == VenueReason.NO_LIQUIDITY
    assert small.reason_code == VenueReason.BELOW_MINIMUM
    assert {none.status, no_asks.status, small.status} == {OrderStatus.REJECTED}


def test_a_limit_order_rests_and_fills_at_its_price_with_the_maker_fee_when_a_later_bar_trades_through() -> None:
    v = venue()
    feed(v, T0)
    placed = run(v.submit(OrderRequest("l1", BTC, OrderSide.BUY, OrderType.LIMIT, qty_contracts=4, price=59_950.04)))
    assert (placed.status, placed.price) == (OrderStatus.ACCEPTED, 59_950.0)  # a buy rounds down to the tick
    assert feed(v, T0 + MIN, low=59_960.0, bar_ts=T0) == []  # not reached
    (fill,) = feed(v, T0 + 2 * MIN, low=59_949.0, bar_ts=T0 + MIN)
    expected = fill_limit_order(1, 0.004, 59_950.0, 60_010.0, 59_949.0, SPECS[0], FillParams(),
                                queue_key=queue_key(0, T0), bar_ts=T0 + MIN)
    assert (fill.price, fill.qty_contracts, fill.fee_usd, fill.liquidity) == (
        59_950.0, 4.0, expected.fee_usd, LiquiditySide.MAKER)
    assert fill.fee_usd == pytest.approx(59_950.0 * 0.004 * 0.0002)  # maker 0.02 %
    assert run(v.fetch_order("l1")).status == OrderStatus.FILLED and run(v.open_orders()) == []


def test_a_limit_order_ignores_bars_that_opened_before_it_was_submitted() -> None:
    v = venue()
    feed(v, T0)
    run(v.submit(OrderRequest("l2", BTC, OrderSide.SELL, OrderType.LIMIT, qty_contracts=1, price=60_005.0)))
    assert feed(v, T0 + MIN, high=61_000.0, bar_ts=T0 - MIN) == []
    assert len(feed(v, T0 + 2 * MIN, high=61_000.0, bar_ts=T0)) == 1


def test_a_touch_fills_exactly_when_the_models_queue_draw_says_so() -> None:
    params = FillParams(queue_fill_fraction=0.5)
    outcomes = []
    for i in range(12):
        v = venue(fill_params=params)
        feed(v, T0)
        run(v.submit(OrderRequest(f"q{i}", BTC, OrderSide.BUY, OrderType.LIMIT, qty_contracts=1, price=59_990.0)))
        bar_ts = T0 + i * MIN
        filled = bool(feed(v, bar_ts + MIN, low=59_990.0, bar_ts=bar_ts))
        outcomes.append(filled)
        assert filled == (queue_draw_nb(queue_key(0, T0), bar_ts) < 0.5)
    assert any(outcomes) and not all(outcomes)


def test_cancel_stops_a_resting_order_and_unknown_ids_are_none() -> None:
    v = venue()
    feed(v, T0)
    run(v.submit(OrderRequest("c1", BTC, OrderSide.BUY, OrderType.LIMIT, qty_contracts=1, price=59_000.0)))
    canceled = run(v.cancel("c1"))
    assert canceled.status == OrderStatus.CANCELED and feed(v, T0 + MIN, low=50_000.0, bar_ts=T0) == []
    assert run(v.cancel("nope")) is None and run(v.fetch_order("nope")) is None


def test_resubmitting_a_client_id_returns_the_order_without_trading_again() -> None:
    v = venue()
    feed(v, T0)
    request = OrderRequest("i1", BTC, OrderSide.BUY, OrderType.MARKET, qty_contracts=2)
    first, second = run(v.submit(request)), run(v.submit(request))
    assert first == second and len(run(v.fills_since(0))) == 1


def test_balance_and_positions_are_derived_from_the_venues_own_fills() -> None:
    v = venue(starting_cash_usd=5_000.0)
    feed(v, T0)
    buy = run(v.submit(OrderRequest("b1", BTC, OrderSide.BUY, OrderType.MARKET, qty_contracts=3)))
    sell = run(v.submit(OrderRequest("b2", BTC, OrderSide.SELL, OrderType.MARKET, qty_contracts=1)))
    (position,) = run(v.positions())
    balance = run(v.balance())
    realized = (sell.avg_fill_price - buy.avg_fill_price) * 0.001
    assert (position.qty_contracts, position.qty_base, position.avg_entry_price) == (2.0, 0.002, buy.avg_fill_price)
    assert balance.cash_usd == pytest.approx(5_000.0 + realized - buy.fee_usd - sell.fee_usd)
    assert balance.equity_usd == pytest.approx(balance.cash_usd + (60_000.0 - buy.avg_fill_price) * 0.002)


def test_reduce_only_is_capped_at_the_position_and_refused_without_one() -> None:
    v = venue()
    feed(v, T0)
    refused = run(v.submit(OrderRequest("r1", BTC, OrderSide.SELL, OrderType.MARKET, qty_contracts=1, reduce_only=True)))
    run(v.submit(OrderRequest("r2", BTC, OrderSide.BUY, OrderType.MARKET, qty_contracts=2)))
    capped = run(v.submit(OrderRequest("r3", BTC, OrderSide.SELL, OrderType.MARKET, qty_contracts=5, reduce_only=True)))
    assert refused.reason_code == VenueReason.REDUCE_ONLY_NO_POSITION
    assert (capped.status, capped.filled_qty_contracts, capped.fills[0].reduce_only) == (OrderStatus.FILLED, 2.0, True)
    assert run(v.positions()) == []


def test_an_order_beyond_the_free_margin_is_refused_as_insufficient_margin() -> None:
    v = venue(starting_cash_usd=100.0)
    deep = Book(BOOK.bid_px, BOOK.bid_sz, BOOK.ask_px, np.array([5.0, 5.0, 5.0]))
    feed(v, T0, book=deep)
    update = run(v.submit(OrderRequest("mg1", BTC, OrderSide.BUY, OrderType.MARKET, qty_contracts=10)))  # 600 USD at 3x
    assert (update.status, update.reason_code) == (OrderStatus.REJECTED, VenueReason.INSUFFICIENT_MARGIN)
    run(v.set_leverage(BTC, 10, "isolated"))
    assert run(v.submit(OrderRequest("mg2", BTC, OrderSide.BUY, OrderType.MARKET, qty_contracts=10))).status == OrderStatus.FILLED


def test_funding_is_settled_on_the_models_grid_on_the_position_held_before_the_bars_fills() -> None:
    v = venue()
    start = 8 * 3_600_000 * 10  # a funding time (the epoch grid)
    feed(v, start - MIN)
    run(v.submit(OrderRequest("f1", BTC, OrderSide.BUY, OrderType.MARKET, qty_contracts=10)))
    feed(v, start, mark=60_500.0, funding_rate=0.0001)
    (payment,) = run(v.funding_since(0))
    assert payment.ts_ms == start and payment.amount_usd == funding_payment(0.01, 60_500.0, 0.0001) < 0
    balance = run(v.balance())
    fee = run(v.fetch_order("f1")).fee_usd
    assert balance.cash_usd == pytest.approx(10_000.0 - fee + payment.amount_usd)
    feed(v, start + MIN, funding_rate=math.nan)
    assert len(run(v.funding_since(0))) == 1


def test_the_same_inputs_give_the_same_fills_bit_for_bit() -> None:
    def session() -> list:
        v = venue()
        feed(v, T0)
        run(v.submit(OrderRequest("d1", BTC, OrderSide.BUY, OrderType.MARKET, qty_base=0.0061)))
        run(v.submit(OrderRequest("d2", BTC, OrderSide.SELL, OrderType.LIMIT, qty_contracts=2, price=60_005.0)))
        feed(v, T0 + MIN, high=60_005.0, bar_ts=T0)
        feed(v, T0 + 2 * MIN, high=60_100.0, bar_ts=T0 + MIN)
        return run(v.fills_since(0))

    assert session() == session()


def test_bad_market_data_and_unknown_symbols_raise_naming_the_field() -> None:
    v = venue()
    crossed = Book(np.array([60_001.0]), np.array([1.0]), np.array([60_000.0]), np.array([1.0]))
    with pytest.raises(DataError, match="crossed"):
        feed(v, T0, book=crossed)
    feed(v, T0)
    with pytest.raises(DataError, match="before the previous update"):
        feed(v, T0 - 1)
    with pytest.raises(DataError, match="symbol"):
        run(v.submit(OrderRequest("u1", "SOL/USDT:USDT", OrderSide.BUY, OrderType.MARKET, qty_contracts=1)))


def test_markets_can_be_given_as_configured_assets() -> None:
    v = PaperVenue([Asset(symbol=ETH, sector="mega", contract_size=0.01, max_leverage=50)])
    spec = run(v.load_markets())[ETH]
    assert (spec.contract_size, spec.max_leverage, spec.venue_id) == (0.01, 50.0, "ETH-USDT")


def test_the_paper_venue_is_built_from_the_settings(settings) -> None:
    v = PaperVenue.from_settings(settings)
    specs = run(v.load_markets())
    assert list(specs) == list(settings.universe.symbols)
    assert run(v.balance()).cash_usd == settings.venue.starting_equity_usd
    assert (v.params.taker_fee, v.params.maker_fee) == (settings.fees.taker, settings.fees.maker)
