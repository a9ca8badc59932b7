"""BlofinVenue end to end: ccxt's own async ``blofin`` class against a local server that answers like BloFin.

No internet: every request goes to ``tests.fakes.blofin_server.FakeBlofin``, which
verifies each signature server-side with the test secret.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import ccxt
import pytest

from botcore.config.models import Asset
from botcore.errors import DataError, OperationalError, TemporaryError
from botcore.model import LiquiditySide, OrderSide, OrderStatus, OrderType
from botcore.net import RetryPolicy, backoff
from botcore.venues import BlofinVenue, OrderRequest, VenueReason, make_client_order_id
from botcore.venues.blofin import CREDENTIAL_ENV, VenueRejection
from tests.fakes.blofin_server import TEST_API_KEY, TEST_API_SECRET, TEST_PASSPHRASE, FakeBlofin

BTC, ETH, XRP, LTC = "BTC/USDT:USDT", "ETH/USDT:USDT", "XRP/USDT:USDT", "LTC/USDT:USDT"
ENV = {"BLOFIN_API_KEY": TEST_API_KEY, "BLOFIN_API_SECRET": TEST_API_SECRET, "BLOFIN_PASSPHRASE": TEST_PASSPHRASE}
FAST = RetryPolicy(attempts=3, wait=backoff(0.01, 0.02))
SECRETS = (TEST_API_KEY, TEST_API_SECRET, TEST_PASSPHRASE)


@pytest.fixture
def fake():
    with FakeBlofin() as server:
        yield server


def venue_for(fake: FakeBlofin, **kwargs: Any) -> BlofinVenue:
    options: dict[str, Any] = {"api_url": fake.url, "env": ENV, "rate_limit_ms": 1, "retry": FAST, "timeout_ms": 2_000}
    options.update(kwargs)
    return BlofinVenue("demo", **options)


def run(fake: FakeBlofin, body: Callable[[BlofinVenue], Awaitable[Any]], *, load: bool = True, **kwargs: Any) -> Any:
    """Build a venue on the fake, load markets, run ``body(venue)``, close."""

    async def go() -> Any:
        venue = venue_for(fake, **kwargs)
        try:
            if load:
                await venue.load_markets()
            return await body(venue)
        finally:
            await venue.close()

    return asyncio.run(go())


def market(cid: str, side: OrderSide, symbol: str = BTC, **qty: float) -> OrderRequest:
    return OrderRequest(cid, symbol, side, OrderType.MARKET, **qty)


def limit(cid: str, side: OrderSide, price: float, symbol: str = BTC, **qty: float) -> OrderRequest:
    return OrderRequest(cid, symbol, side, OrderType.LIMIT, price=price, **qty)


# --------------------------------------------------------------------------- credentials and endpoints


def test_demo_mode_uses_blofins_demo_endpoint_and_live_the_production_one() -> None:
    async def urls() -> tuple[str, str]:
        demo, live = BlofinVenue("demo", env=ENV), BlofinVenue("live", env=ENV)
        try:
            return demo.rest_url, live.rest_url
        finally:
            await demo.close()
            await live.close()

    assert asyncio.run(urls()) == ("https://demo-trading-openapi.blofin.com", "https://openapi.blofin.com")


def test_missing_credentials_raise_an_operational_error_naming_the_variables_only() -> None:
    with pytest.raises(OperationalError) as info:
        BlofinVenue("live", env={"BLOFIN_API_KEY": TEST_API_KEY})
    assert "BLOFIN_API_SECRET" in str(info.value) and "BLOFIN_PASSPHRASE" in str(info.value)
    assert TEST_API_KEY not in str(info.value)


def test_every_private_request_is_signed_and_verified_by_the_server(fake) -> None:
    balance = run(fake, lambda v: v.balance())
    assert balance.cash_usd == pytest.approx(10_000.0)
    private = [p for p, _ in fake.requests if not p.startswith("/api/v1/market/")]
    assert {"/api/v1/account/position-mode", "/api/v1/account/margin-mode", "/api/v1/account/balance"} <= set(private)


def test_a_wrong_secret_is_refused_by_the_server_as_an_operational_error(fake) -> None:
    wrong = dict(ENV, BLOFIN_API_SECRET="not-the-secret")
    with pytest.raises(OperationalError, match="credentials or permissions refused"):
        run(fake, lambda v: v.balance(), env=wrong)


@pytest.mark.parametrize(
    "override, code",
    [({"BLOFIN_API_KEY": "unknown-key"}, "152401"), ({"BLOFIN_PASSPHRASE": "wrong-pass"}, "152408")],
)
def test_an_unknown_key_or_wrong_passphrase_is_an_operational_error(fake, override, code) -> None:
    with pytest.raises(OperationalError, match=code):
        run(fake, lambda v: v.balance(), env=dict(ENV, **override))


def test_credentials_never_reach_logs_or_exception_messages(fake, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="botcore.venues")  # a CLI run in this process may have quietened it
    run(fake, lambda v: v.submit(market("logcheck1", OrderSide.BUY, qty_contracts=2)))
    wrong = dict(ENV, BLOFIN_API_SECRET="another-wrong-secret-value")
    with pytest.raises(OperationalError) as info:
        run(fake, lambda v: v.positions(), env=wrong)
    text = caplog.text + str(info.value) + repr(info.value)
    assert "ACCESS-SIGN" in caplog.text  # ccxt's request log was captured, with the credentials redacted
    for secret in (*SECRETS, "another-wrong-secret-value"):
        assert secret not in text


# --------------------------------------------------------------------------- markets, contracts, rounding


def test_markets_carry_contract_size_lot_minimum_tick_and_leverage(fake) -> None:
    specs = run(fake, lambda v: v.load_markets(), load=False)
    assert (specs[BTC].contract_size, specs[BTC].contract_step, specs[BTC].min_contracts, specs[BTC].tick_size) == (
        0.001, 1.0, 1.0, 0.1)
    assert (specs[XRP].contract_size, specs[XRP].max_leverage, specs[XRP].venue_id) == (10.0, 50.0, "XRP-USDT")


def test_blofins_instrument_is_the_truth_and_a_configured_difference_is_a_warning_naming_both(fake, caplog) -> None:
    wrong = Asset(symbol=ETH, sector="mega", contract_size=0.1, max_leverage=100)

    async def body(v: BlofinVenue):
        return v.differences, v.market(ETH), await v.submit(market("cv1", OrderSide.BUY, symbol=ETH, qty_base=0.35))

    with caplog.at_level(logging.WARNING, logger="botcore.venues.blofin"):
        differences, spec, update = run(fake, body, assets=[wrong])
    assert differences == ["ETH/USDT:USDT: config/universe.yaml contract_size 0.1, BloFin contractValue 0.01; using BloFin's"]
    assert differences[0] in caplog.text
    assert spec.contract_size == 0.01
    assert fake.private_calls("/trade/order")[-1]["size"] == "35"  # 0.35 ETH at BloFin's 0.01 per contract
    assert update.qty_base == pytest.approx(0.35)


def test_an_instrument_blofin_does_not_list_refuses_the_start_naming_symbol_and_code(fake) -> None:
    unknown = Asset(symbol="FOO/USDT:USDT", sector="meme", contract_size=1)
    with pytest.raises(OperationalError, match=r"FOO/USDT:USDT not listed.*152014"):
        run(fake, lambda v: asyncio.sleep(0), assets=[unknown])


def test_fractional_lots_are_sent_as_blofin_lists_them(fake) -> None:
    async def body(v: BlofinVenue):
        return v.market(LTC), await v.submit(market("ltc1", OrderSide.BUY, symbol=LTC, qty_base=0.257))

    spec, update = run(fake, body)
    assert (spec.contract_size, spec.contract_step, spec.min_contracts, spec.tick_size) == (1.0, 0.01, 0.01, 0.01)
    assert fake.private_calls("/trade/order")[-1]["size"] == "0.25"
    assert (update.status, update.qty_contracts, update.filled_qty_base) == (OrderStatus.FILLED, 0.25, 0.25)


def test_base_units_are_converted_to_contracts_rounded_down_and_fills_come_back_in_both(fake) -> None:
    update = run(fake, lambda v: v.submit(market("conv1", OrderSide.BUY, symbol=XRP, qty_base=57.9)))
    assert fake.private_calls("/trade/order")[-1]["size"] == "5"  # 57.9 XRP = 5.79 contracts of 10 -> 5
    assert (update.status, update.qty_contracts, update.qty_base) == (OrderStatus.FILLED, 5.0, 50.0)
    (fill,) = update.fills
    assert (fill.qty_contracts, fill.qty_base, fill.client_order_id, fill.liquidity) == (5.0, 50.0, "conv1", LiquiditySide.TAKER)
    assert fill.fee_usd == pytest.approx(50.0 * fill.price * 0.0006)
    sent = fake.private_calls("/trade/order")[-1]
    assert "brokerId" not in sent  # no broker id unless venue.yaml sets one (a transaction key refuses any: 152011)
    assert sent == {"instId": "XRP-USDT", "marginMode": "isolated", "positionSide": "net", "side": "buy",
                    "orderType": "market", "size": "5", "reduceOnly": "false", "clientOrderId": "conv1"}


def test_an_order_below_the_minimum_is_rejected_without_reaching_the_venue(fake) -> None:
    update = run(fake, lambda v: v.submit(market("small1", OrderSide.BUY, qty_base=0.0009)))
    assert (update.status, update.reason_code) == (OrderStatus.REJECTED, VenueReason.BELOW_MINIMUM)
    assert fake.private_calls("/trade/order") == []


def test_limit_prices_are_rounded_to_the_tick_in_the_traders_favour(fake) -> None:
    async def body(v: BlofinVenue):
        buy = await v.submit(limit("tick1", OrderSide.BUY, 50_000.07, qty_contracts=1))
        sell = await v.submit(limit("tick2", OrderSide.SELL, 70_000.01, qty_contracts=1))
        return buy, sell

    buy, sell = run(fake, body)
    assert (buy.price, sell.price) == (50_000.0, 70_000.1)
    assert [c["price"] for c in fake.private_calls("/trade/order")] == ["50000", "70000.1"]
    assert buy.status == sell.status == OrderStatus.ACCEPTED


def test_a_client_order_id_outside_blofins_limits_is_bad_input(fake) -> None:
    with pytest.raises(DataError, match="client_order_id"):
        run(fake, lambda v: v.submit(market("has-dash", OrderSide.BUY, qty_contracts=1)))
    with pytest.raises(DataError, match="client_order_id"):
        run(fake, lambda v: v.submit(market("x" * 33, OrderSide.BUY, qty_contracts=1)))
    built = make_client_order_id("bc", "run-7", 1_709_251_200_000, "ETH/USDT:USDT", 12, "x" * 40)
    assert built.isalnum() and len(built) <= 32 and built == make_client_order_id("bc", "run-7", 1_709_251_200_000,
                                                                                  "ETH/USDT:USDT", 12, "x" * 40)


# --------------------------------------------------------------------------- fills, partial fills, cancels


def test_a_market_order_filled_in_several_trades_reports_each_fill_and_the_average(fake) -> None:
    fake.market_chunk_contracts = 4
    update = run(fake, lambda v: v.submit(market("multi1", OrderSide.BUY, qty_contracts=10)))
    assert update.status == OrderStatus.FILLED
    assert [f.qty_contracts for f in update.fills] == [4.0, 4.0, 2.0]
    average = sum(f.price * f.qty_contracts for f in update.fills) / 10
    assert update.avg_fill_price == pytest.approx(average)
    assert update.fee_usd == pytest.approx(sum(f.fee_usd for f in update.fills))


def test_partial_fills_of_a_resting_limit_order_then_cancel(fake) -> None:
    async def body(v: BlofinVenue):
        placed = await v.submit(limit("part1", OrderSide.BUY, 50_000.0, qty_contracts=10))
        fake.fill_order("part1", 3)
        partial = await v.fetch_order("part1")
        fills = await v.fills_since(0)
        opened = await v.open_orders()
        canceled = await v.cancel("part1")
        again = await v.cancel("part1")
        return placed, partial, fills, opened, canceled, again

    placed, partial, fills, opened, canceled, again = run(fake, body)
    assert placed.status == OrderStatus.ACCEPTED
    assert (partial.status, partial.filled_qty_contracts, partial.filled_qty_base) == (OrderStatus.PARTIALLY_FILLED, 3.0, 0.003)
    (fill,) = fills
    assert (fill.client_order_id, fill.qty_contracts, fill.price, fill.liquidity) == ("part1", 3.0, 50_000.0, LiquiditySide.MAKER)
    assert [o.client_order_id for o in opened] == ["part1"] and opened[0].remaining_qty_contracts == 7.0
    assert (canceled.status, canceled.filled_qty_contracts, canceled.reason_code) == (OrderStatus.CANCELED, 3.0, VenueReason.CANCELED)
    assert again.status == OrderStatus.CANCELED  # cancelling twice answers the final state


def test_an_unknown_order_is_none_for_fetch_and_cancel(fake) -> None:
    async def body(v: BlofinVenue):
        return await v.fetch_order("nosuch1", symbol=BTC), await v.cancel("nosuch1", symbol=BTC)

    assert run(fake, body) == (None, None)


def test_fills_since_walks_every_page_and_knows_each_fills_client_id(fake) -> None:
    fake.max_page = 4

    async def body(v: BlofinVenue):
        for i in range(5):
            await v.submit(market(f"page{i}", OrderSide.BUY, qty_contracts=1 + i))
        fresh = venue_for(fake)  # a restarted process: no memory of the orders
        try:
            await fresh.load_markets()
            return await fresh.fills_since(0)
        finally:
            await fresh.close()

    fills = run(fake, body)
    assert [f.client_order_id for f in fills] == [f"page{i}" for i in range(5)]
    assert [f.qty_contracts for f in fills] == [1.0, 2.0, 3.0, 4.0, 5.0]


# --------------------------------------------------------------------------- rejects as statuses


def test_insufficient_margin_is_a_rejected_status_with_its_reason(fake) -> None:
    update = run(fake, lambda v: v.submit(market("big1", OrderSide.BUY, qty_contracts=1_000)))  # 60k USD at 3x > 10k
    assert (update.status, update.reason_code) == (OrderStatus.REJECTED, VenueReason.INSUFFICIENT_MARGIN)
    assert "103003" in update.reason and update.qty_contracts == 1_000.0


def test_reduce_only_without_a_position_is_rejected_and_other_venue_codes_are_kept(fake) -> None:
    async def body(v: BlofinVenue):
        reduce = await v.submit(OrderRequest("ro1", BTC, OrderSide.SELL, OrderType.MARKET, qty_contracts=1, reduce_only=True))
        fake.reject_next("102064", "Buy price is not within the price limit")
        price = await v.submit(limit("pr1", OrderSide.BUY, 50_000.0, qty_contracts=1))
        fake.reject_next("999999", "Something new")
        other = await v.submit(limit("ot1", OrderSide.BUY, 50_000.0, qty_contracts=1))
        return reduce, price, other

    reduce, price, other = run(fake, body)
    assert reduce.reason_code == VenueReason.REDUCE_ONLY_NO_POSITION
    assert price.reason_code == VenueReason.PRICE_OUT_OF_RANGE
    assert (other.status, other.reason_code) == (OrderStatus.REJECTED, VenueReason.VENUE_REJECTED)
    assert "Something new (999999)" in other.reason


# --------------------------------------------------------------------------- temporary failures and idempotency


@pytest.mark.parametrize("status", [429, 502, 503])
def test_rate_limits_and_server_errors_are_retried(fake, status) -> None:
    fake.fail_next("/account/balance", status=status, count=2)
    balance = run(fake, lambda v: v.balance())
    assert balance.cash_usd == pytest.approx(10_000.0)
    assert len(fake.private_calls("/account/balance")) == 3


def test_a_venue_that_stays_down_raises_temporary_error_after_bounded_retries(fake) -> None:
    fake.fail_next("/account/positions", status=503, count=10)
    with pytest.raises(TemporaryError, match="gave up after 3 attempts"):
        run(fake, lambda v: v.positions())
    assert len(fake.private_calls("/account/positions")) == 3


def test_a_submit_that_times_out_is_looked_up_and_never_placed_twice(fake) -> None:
    fake.delay_next("/trade/order", seconds=1.0)  # BloFin places it, the answer arrives after the client gave up
    update = run(fake, lambda v: v.submit(market("slow1", OrderSide.BUY, qty_contracts=3)), timeout_ms=300)
    assert (update.status, update.filled_qty_contracts, update.client_order_id) == (OrderStatus.FILLED, 3.0, "slow1")
    assert len(fake.private_calls("/trade/order")) == 1
    assert [o["clientOrderId"] for o in fake.orders.values()] == ["slow1"]
    assert len(update.fills) == 1


def test_a_submit_rate_limited_first_is_placed_once_after_the_retry(fake) -> None:
    fake.fail_next("/trade/order", status=429, count=1)
    update = run(fake, lambda v: v.submit(market("rl1", OrderSide.SELL, qty_contracts=2)))
    assert update.status == OrderStatus.FILLED
    assert len(fake.orders) == 1 and len(fake.private_calls("/trade/order")) == 2


def test_resubmitting_the_same_client_id_returns_the_existing_order(fake) -> None:
    async def body(v: BlofinVenue):
        first = await v.submit(limit("dup1", OrderSide.BUY, 50_000.0, qty_contracts=2))
        fresh = venue_for(fake)  # e.g. after a restart
        try:
            await fresh.load_markets()
            second = await fresh.submit(limit("dup1", OrderSide.BUY, 50_000.0, qty_contracts=2))
        finally:
            await fresh.close()
        return first, second

    first, second = run(fake, body)
    assert second.venue_order_id == first.venue_order_id and second.status == OrderStatus.ACCEPTED
    assert len(fake.orders) == 1


# --------------------------------------------------------------------------- position mode, leverage, account


def test_a_position_mode_mismatch_is_reported_and_orders_are_refused_clearly(fake) -> None:
    fake.position_mode = "long_short_mode"

    async def body(v: BlofinVenue):
        return v.account, await v.submit(market("pm1", OrderSide.BUY, qty_contracts=1))

    account, update = run(fake, body)
    assert (account.position_mode, account.expected_position_mode, account.position_mode_ok) == ("long_short", "net", False)
    assert "long_short_mode" in account.reason and "'net'" in account.reason
    assert (update.status, update.reason_code) == (OrderStatus.REJECTED, VenueReason.POSITION_MODE_MISMATCH)
    assert fake.private_calls("/trade/order") == []


def test_a_mode_switched_behind_the_bots_back_is_refused_by_blofin_as_a_mismatch(fake) -> None:
    async def body(v: BlofinVenue):
        fake.position_mode = "long_short_mode"  # after the check at load
        return await v.submit(market("pm2", OrderSide.BUY, qty_contracts=1))

    update = run(fake, body)
    assert (update.reason_code, "102089" in update.reason) == (VenueReason.POSITION_MODE_MISMATCH, True)


def test_long_short_mode_sends_the_position_side_and_nets_positions(fake) -> None:
    fake.position_mode = "long_short_mode"

    async def body(v: BlofinVenue):
        await v.submit(market("hl1", OrderSide.BUY, qty_contracts=5))
        await v.submit(market("hs1", OrderSide.SELL, qty_contracts=2))
        await v.submit(OrderRequest("hl2", BTC, OrderSide.SELL, OrderType.MARKET, qty_contracts=1, reduce_only=True))
        return await v.positions()

    positions = run(fake, body, position_mode="long_short")
    assert [c["positionSide"] for c in fake.private_calls("/trade/order")] == ["long", "short", "long"]
    assert sorted((p.position_side, p.qty_contracts) for p in positions) == [("long", 4.0), ("short", -2.0)]


def test_leverage_and_margin_mode_are_set_and_used_by_later_orders(fake) -> None:
    async def body(v: BlofinVenue):
        setting = await v.set_leverage(ETH, 5, "isolated")
        await v.submit(market("lev1", OrderSide.BUY, symbol=ETH, qty_contracts=3))
        with pytest.raises(DataError, match="leverage"):
            await v.set_leverage(ETH, 500, "isolated")
        return setting

    setting = run(fake, body)
    assert setting.ok and fake.leverages[("ETH-USDT", "isolated")] == 5 and fake.margin_mode == "isolated"
    assert fake.private_calls("/trade/order")[-1]["marginMode"] == "isolated"


def test_a_leverage_change_blofin_refuses_is_a_status_not_an_exception(fake) -> None:
    fake.seed_position("BTC-USDT", 2, 60_000.0)  # BloFin will not switch margin mode with a position open
    setting = run(fake, lambda v: v.set_leverage(BTC, 10, "isolated"))
    assert not setting.ok and "110019" in setting.reason


def test_positions_and_balance_come_back_in_model_units(fake) -> None:
    async def body(v: BlofinVenue):
        bought = await v.submit(market("pos1", OrderSide.BUY, symbol=ETH, qty_contracts=30))
        sold = await v.submit(market("pos2", OrderSide.SELL, symbol=ETH, qty_contracts=10))
        return bought, sold, await v.positions(), await v.balance()

    bought, sold, positions, balance = run(fake, body)
    (eth,) = positions
    assert (eth.symbol, eth.qty_contracts, eth.contract_size, eth.qty_base) == (ETH, 20.0, 0.01, pytest.approx(0.2))
    assert eth.avg_entry_price == pytest.approx(bought.avg_fill_price)
    realized = (sold.avg_fill_price - bought.avg_fill_price) * 10 * 0.01
    assert balance.cash_usd == pytest.approx(10_000.0 + realized - bought.fee_usd - sold.fee_usd)
    assert balance.equity_usd == pytest.approx(balance.cash_usd + eth.unrealized_pnl_usd)


def test_funding_is_booked_per_position_from_blofins_documented_rate_position_and_mark(fake) -> None:
    step = fake.funding_interval_ms
    t1 = (fake.now_ms // step + 1) * step

    async def body(v: BlofinVenue):
        since = fake.now_ms
        await v.submit(market("f1", OrderSide.BUY, qty_contracts=30))                 # long BTC
        await v.submit(market("f2", OrderSide.SELL, symbol=ETH, qty_contracts=40))    # short ETH
        assert await v.funding_since(since) == []                                        # nothing settled yet
        fake.now_ms = t1 + 2_000
        await v.submit(market("f3", OrderSide.BUY, qty_contracts=10))  # after the settlement: not in its position
        fake.now_ms = t1 + step + 2_000                                  # a second settlement, BTC now 40 contracts
        fake.settle_funding()
        return await v.funding_since(since), await v.balance()

    payments, balance = run(fake, body)
    booked = {(p.symbol, p.ts_ms): p.amount_usd for p in payments}
    charged = {(f["instId"], f["ts"]): f["amount"] for f in fake.funding}
    ids = {"BTC-USDT": BTC, "ETH-USDT": ETH}
    assert booked == pytest.approx({(ids[i], t): a for (i, t), a in charged.items()})
    assert set(booked) == {(BTC, t1), (ETH, t1), (BTC, t1 + step), (ETH, t1 + step)}
    assert booked[(BTC, t1)] == pytest.approx(-30 * 0.001 * fake.price("BTC-USDT", t1) * fake.funding_rate("BTC-USDT", t1))
    assert booked[(BTC, t1 + step)] == pytest.approx(-40 * 0.001 * fake.price("BTC-USDT", t1 + step)
                                                     * fake.funding_rate("BTC-USDT", t1 + step))
    assert all(p.rate is not None for p in payments)
    assert "/api/v1/account/funding-fees" not in {path for path, _ in fake.requests}  # not in BloFin's docs


def test_credentials_are_only_read_from_the_environment(monkeypatch, fake) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    assert set(CREDENTIAL_ENV) == set(ENV)
    balance = run(fake, lambda v: v.balance(), env=None)
    assert balance.cash_usd == pytest.approx(10_000.0)


# --------------------------------------------------------------------------- error codes


def _failed(code: str, msg: str) -> str:
    """The body ccxt puts in its exception when BloFin answers ``All operations failed``."""
    return ('blofin {"code":"1","msg":"All operations failed","data":[{"orderId":null,"clientOrderId":"x",'
            f'"msg":"{msg}","code":"{code}"}}]}}')


@pytest.mark.parametrize(
    "exc, outcome",
    [
        (ccxt.ExchangeError(_failed("103003", "Insufficient USDT margin")), VenueReason.INSUFFICIENT_MARGIN),
        (ccxt.InsufficientFunds('blofin {"code":"103003","msg":"Order failed. Insufficient USDT margin in account"}'), VenueReason.INSUFFICIENT_MARGIN),
        (ccxt.InvalidOrder(_failed("150004", "Insufficient balance")), VenueReason.INSUFFICIENT_MARGIN),
        (ccxt.BadRequest('blofin {"code":"102089","msg":"Position mode mismatch"}'), VenueReason.POSITION_MODE_MISMATCH),
        (ccxt.ExchangeError(_failed("102022", "no position")), VenueReason.REDUCE_ONLY_NO_POSITION),
        (ccxt.ExchangeError(_failed("102015", "Market order exceeds maximum order size limit")), VenueReason.ABOVE_MAXIMUM),
        (ccxt.BadRequest('blofin {"code":"102065","msg":"Sell price is not within the price limit"}'), VenueReason.PRICE_OUT_OF_RANGE),
        (ccxt.RateLimitExceeded('blofin {"code":"429","msg":"Too Many Requests"}'), TemporaryError),
        (ccxt.ExchangeNotAvailable("blofin GET https://x 503 Service Unavailable"), TemporaryError),
        (ccxt.RequestTimeout("blofin POST https://x/api/v1/trade/order"), TemporaryError),
        (ccxt.ExchangeError('blofin {"code":"103013","msg":"Internal error; please try again."}'), TemporaryError),
        (ccxt.AuthenticationError('blofin {"code":"152409","msg":"Signature verification failed"}'), OperationalError),
        (ccxt.PermissionDenied('blofin {"code":"152406","msg":"Your IP is not included in your API key\'s IP whitelist"}'), OperationalError),
    ],
)
def test_blofin_error_codes_map_to_statuses_temporary_or_operational_errors(fake, exc, outcome) -> None:
    venue = venue_for(fake)
    try:
        translated = venue._translate(exc, "submit x")
    finally:
        asyncio.run(venue.close())
    if isinstance(outcome, VenueReason):
        assert isinstance(translated, VenueRejection) and BlofinVenue._reason(translated) == outcome
    else:
        assert type(translated) is outcome


def test_open_orders_walks_every_page(fake) -> None:
    fake.max_page = 2

    async def body(v: BlofinVenue):
        for i in range(5):
            await v.submit(limit(f"rest{i}", OrderSide.BUY, 40_000.0 + i, qty_contracts=1))
        return await v.open_orders()

    assert [o.client_order_id for o in run(fake, body)] == [f"rest{i}" for i in range(5)]


def test_a_submit_that_gives_up_can_be_resubmitted_and_still_places_one_order(fake) -> None:
    fake.delay_next("/trade/order", seconds=0.8)          # placed, but the answer comes too late
    fake.delay_next("/trade/order-detail", seconds=0.8, count=2)  # and the look-ups time out too

    async def body(v: BlofinVenue):
        request = market("gaveup1", OrderSide.BUY, qty_contracts=2)
        with pytest.raises(TemporaryError, match="may exist"):
            await v.submit(request)
        return await v.submit(request)  # the engine's next cycle tries the same intent again

    update = run(fake, body, timeout_ms=300)
    assert (update.status, update.filled_qty_contracts) == (OrderStatus.FILLED, 2.0)
    assert [o["clientOrderId"] for o in fake.orders.values()] == ["gaveup1"]


def test_the_blofin_venue_is_built_from_the_settings_and_checks_the_universe(settings, fake) -> None:
    async def build():
        venue = BlofinVenue.from_settings(settings, mode="demo", api_url=fake.url, env=ENV, rate_limit_ms=1, retry=FAST)
        try:
            assert (venue.position_mode, venue.default_margin_mode) == (settings.venue.position_mode, settings.risk.margin_mode)
            await venue.load_markets()
        finally:
            await venue.close()

    with pytest.raises(OperationalError, match="SOL/USDT:USDT.* not listed"):  # the fake lists four markets only
        asyncio.run(build())


# --------------------------------------------------------------------------- BloFin's docs: keys, broker ids, requests


def test_a_broker_id_on_an_ordinary_key_is_refused_152011_with_the_fix_and_none_is_sent_by_default(fake) -> None:
    with pytest.raises(OperationalError, match=r"152011 Transaction API Key does not support brokerId: .*remove `broker_id`"):
        run(fake, lambda v: v.submit(market("brk1", OrderSide.BUY, qty_contracts=1)), broker_id="abc123")
    update = run(fake, lambda v: v.submit(market("brk2", OrderSide.BUY, qty_contracts=1)))
    assert update.status == OrderStatus.FILLED and "brokerId" not in fake.private_calls("/trade/order")[-1]


def test_a_broker_bound_key_needs_its_own_broker_id(fake) -> None:
    fake.key_type, fake.broker_id = "broker", "bound42"
    with pytest.raises(OperationalError, match=r"152012 BrokerId is required: .*set `broker_id`"):
        run(fake, lambda v: v.submit(market("bk1", OrderSide.BUY, qty_contracts=1)))
    with pytest.raises(OperationalError, match=r"152013 Unmatched brokerId"):
        run(fake, lambda v: v.submit(market("bk2", OrderSide.BUY, qty_contracts=1)), broker_id="other7")
    update = run(fake, lambda v: v.submit(market("bk3", OrderSide.BUY, qty_contracts=1)), broker_id="bound42")
    assert update.status == OrderStatus.FILLED and fake.private_calls("/trade/order")[-1]["brokerId"] == "bound42"


def test_an_expired_key_says_so_and_how_to_renew_it(fake) -> None:
    fake.key_expired = True
    with pytest.raises(OperationalError, match=r"152402 Access key has expired: create a new key .*90 days"):
        run(fake, lambda v: v.balance())


def test_cancel_sends_the_order_id_and_client_id_and_every_lookup_sends_the_instrument(fake) -> None:
    async def body(v: BlofinVenue):
        await v.submit(limit("cx1", OrderSide.BUY, 40_000.0, qty_contracts=2))
        fresh = venue_for(fake)  # a restarted process: knows neither the symbol nor the order id
        try:
            await fresh.load_markets()
            return await fresh.cancel("cx1")
        finally:
            await fresh.close()

    update = run(fake, body)
    assert update.status == OrderStatus.CANCELED
    (cancel,) = fake.private_calls("/trade/cancel-order")
    assert cancel == {"instId": "BTC-USDT", "orderId": fake.order_by_client_id("cx1")["orderId"], "clientOrderId": "cx1"}
    assert all(p.get("instId") for p in fake.private_calls("/trade/order-detail"))


def test_blofin_refuses_a_cancel_without_order_id_and_a_lookup_without_instrument(fake) -> None:
    async def body(v: BlofinVenue):
        await v.submit(limit("raw1", OrderSide.BUY, 40_000.0, qty_contracts=1))
        with pytest.raises(ccxt.BaseError, match="152001"):
            await v._ex.privatePostTradeCancelOrder({"instId": "BTC-USDT", "clientOrderId": "raw1"})
        with pytest.raises(ccxt.BaseError, match="152001"):
            await v._ex.privateGetTradeOrderDetail({"clientOrderId": "raw1"})

    run(fake, body)


def test_a_post_only_entry_goes_out_as_post_only_and_never_takes(fake) -> None:
    async def body(v: BlofinVenue):
        resting = await v.submit(OrderRequest("po1", BTC, OrderSide.BUY, OrderType.LIMIT, qty_contracts=1, price=40_000.0,
                                              post_only=True))
        crossing = await v.submit(OrderRequest("po2", BTC, OrderSide.BUY, OrderType.LIMIT, qty_contracts=1,
                                               price=90_000.0, post_only=True))
        return resting, crossing

    resting, crossing = run(fake, body)
    assert [p["orderType"] for p in fake.private_calls("/trade/order")] == ["post_only", "post_only"]
    assert resting.status == OrderStatus.ACCEPTED
    assert (crossing.status, crossing.filled_qty_contracts, crossing.fills) == (OrderStatus.CANCELED, 0.0, ())


def test_a_negative_fee_is_a_rebate_booked_as_received(fake) -> None:
    fake.maker_fee = -0.0001

    async def body(v: BlofinVenue):
        await v.submit(limit("rb1", OrderSide.BUY, 40_000.0, qty_contracts=10))
        fake.fill_order("rb1", 10)
        return await v.fetch_order("rb1")

    update = run(fake, body)
    (fill,) = update.fills
    assert fill.fee_usd == pytest.approx(-10 * 0.001 * 40_000.0 * 0.0001) and fill.fee_usd < 0
    assert update.fee_usd == pytest.approx(fill.fee_usd) and fill.liquidity == LiquiditySide.MAKER


def test_trading_requests_past_blofins_limit_are_answered_429_and_retried_as_temporary(fake) -> None:
    fake.trade_limit = (3, 60.0)  # BloFin: 30 per 10 s; three here so the test stays short

    async def body(v: BlofinVenue):
        await v.submit(market("rl1", OrderSide.BUY, qty_contracts=1))   # order + detail + fills: three requests
        with pytest.raises(TemporaryError, match="gave up after 3 attempts"):
            await v.open_orders()

    run(fake, body)
    assert fake.rate_limited >= 3


def test_demo_reads_and_trades_on_the_demo_host_and_a_venue_url_replaces_both() -> None:
    from botcore.engine.live import rest_hosts
    from botcore.venues.blofin import DEMO_REST_URL, LIVE_REST_URL

    assert rest_hosts("demo") == (DEMO_REST_URL, DEMO_REST_URL) == ("https://demo-trading-openapi.blofin.com",) * 2
    assert rest_hosts("live") == (LIVE_REST_URL, LIVE_REST_URL)
    assert rest_hosts("paper") == (LIVE_REST_URL, None)
    assert rest_hosts("demo", "http://127.0.0.1:9") == ("http://127.0.0.1:9", "http://127.0.0.1:9")


def test_the_demo_host_grants_demo_funds_and_production_does_not() -> None:
    body = {"accountType": "futures", "demoApplyMoney": [{"currency": "USDT", "amountStr": "100"}]}

    async def apply(fake: FakeBlofin) -> Any:
        venue = venue_for(fake)
        try:
            return await venue._ex.privatePostAssetDemoApplyMoney(dict(body))
        finally:
            await venue.close()

    with FakeBlofin(demo=True) as demo:
        asyncio.run(apply(demo))
        assert demo.balance_usdt == pytest.approx(10_100.0)
    with FakeBlofin() as production, pytest.raises(ccxt.BaseError):
        asyncio.run(apply(production))
