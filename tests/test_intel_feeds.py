"""IntelFeeds against a local server answering like CoinGlass, Alternative.me and CryptoCompare."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest
from tenacity import wait_none

from botcore.errors import OperationalError, TemporaryError
from botcore.intel import (
    FEAR_GREED,
    FUNDING,
    LIQUIDATIONS,
    MARKET,
    OPEN_INTEREST,
    SOCIAL,
    TAKER_RATIO,
    CoinGlassClient,
    FeedStatus,
    IntelFeeds,
    IntelOptions,
    OutageKind,
)
from botcore.net import RetryPolicy
from tests.fakes.intel_servers import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    NOW_MS,
    FakeIntelServer,
    fear_greed_value,
    funding_pct,
    liq_usd,
    oi_close_usd,
    social_row,
    taker_usd,
)

BTC, PEPE = "BTC/USDT:USDT", "PEPE/USDT:USDT"


@pytest.fixture(scope="module")
def server():
    with FakeIntelServer(hang_s=1.0) as srv:
        yield srv


@pytest.fixture
def fake(server):
    server.reset()
    yield server
    server.reset()


class FakeClock:
    """Monotonic seconds the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


def feeds_for(settings, fake, *, env=None, clock=None, **options) -> IntelFeeds:
    opts = IntelOptions(wait=wait_none(), timeout_s=0.3, **options)
    return IntelFeeds(settings, base_urls=fake.base_urls, options=opts, env=fake.env if env is None else env,
                      clock=clock or FakeClock())


def fetch(settings, fake, symbols=(BTC,), now_ms=NOW_MS, **kw):
    async def go():
        async with feeds_for(settings, fake, **kw) as feeds:
            return await feeds.fetch_all(symbols, now_ms)

    return asyncio.run(go())


def test_fetch_all_returns_every_kind_in_store_units_stamped_with_the_datas_own_time(settings, fake):
    out = fetch(settings, fake, symbols=(BTC, PEPE))
    assert set(out) == {BTC, PEPE, MARKET}
    assert set(out[BTC]) == {OPEN_INTEREST, LIQUIDATIONS, TAKER_RATIO, FUNDING}
    assert set(out[MARKET]) == {FEAR_GREED, SOCIAL}
    assert all(v.status is FeedStatus.OK for kinds in out.values() for v in kinds.values())

    minute, hour = NOW_MS // MINUTE_MS * MINUTE_MS, NOW_MS // HOUR_MS * HOUR_MS
    last_open = minute - MINUTE_MS  # newest CLOSED 1m bar; the forming one is not used
    oi = out[BTC][OPEN_INTEREST]
    assert oi.ts_ms == minute and oi.values == {"oi_usd": oi_close_usd("BTCUSDT", last_open)}
    assert oi.source == "coinglass:Binance"
    liq = out[PEPE][LIQUIDATIONS]
    assert liq.ts_ms == minute
    assert (liq.values["long_liq_usd"], liq.values["short_liq_usd"]) == liq_usd("1000PEPEUSDT", last_open)
    buy, sell = taker_usd("BTCUSDT", last_open)
    assert out[BTC][TAKER_RATIO].values["buy_sell_ratio"] == pytest.approx(buy / sell)
    funding = out[BTC][FUNDING]
    assert funding.ts_ms == hour and funding.values["rate"] == pytest.approx(funding_pct("BTCUSDT", hour - HOUR_MS) / 100)

    fng = out[MARKET][FEAR_GREED]
    assert fng.ts_ms == NOW_MS // DAY_MS * DAY_MS and fng.values == {"value": float(fear_greed_value(fng.ts_ms))}
    social = out[MARKET][SOCIAL]
    row = social_row(1182, hour)
    assert social.ts_ms == hour
    assert social.values["mentions"] == pytest.approx(row["reddit_posts_per_hour"] + row["reddit_comments_per_hour"] + 4)
    assert -1.0 <= social.values["tone"] <= 1.0

    oi_requests = [r for r in fake.requests if r.path.endswith("/open-interest/history")]
    assert {r.params["symbol"] for r in oi_requests} == {"BTCUSDT", "1000PEPEUSDT"}
    assert all(r.params["exchange"] == "Binance" and r.params["interval"] == "1m" and r.params["unit"] == "usd"
               for r in oi_requests)
    assert all(r.headers.get("CG-API-KEY") == fake.coinglass_key for r in fake.requests if r.path.startswith("/api/"))


@pytest.mark.parametrize("fault", ["timeout", "429", "500", "malformed"])
def test_a_temporary_failure_is_tried_exactly_three_times_then_reported_as_data_outage(settings, fake, fault):
    fake.fail("/open-interest/", fault)
    out = fetch(settings, fake)
    assert fake.count("/open-interest/") == 3
    oi = out[BTC][OPEN_INTEREST]
    assert oi.status is FeedStatus.DATA_OUTAGE and oi.outage is OutageKind.TEMPORARY
    assert oi.values == {} and oi.ts_ms is None and "after 3 attempts" in oi.reason
    assert out[BTC][LIQUIDATIONS].ok and out[MARKET][FEAR_GREED].ok  # one feed's outage is its own


def test_a_cryptocompare_rate_limit_is_retried_three_times(settings, fake):
    fake.fail("/social/", "cc_rate_limit")
    out = fetch(settings, fake)
    assert fake.count("/social/") == 3
    assert out[MARKET][SOCIAL].outage is OutageKind.TEMPORARY


def test_a_brief_failure_is_absorbed_by_the_retries(settings, fake):
    fake.fail("/funding-rate/", "500", times=2)
    out = fetch(settings, fake)
    assert fake.count("/funding-rate/") == 3 and out[BTC][FUNDING].ok


@pytest.mark.parametrize(("fragment", "kind", "symbol"), [("/liquidation/", LIQUIDATIONS, BTC), ("/social/", SOCIAL, MARKET)])
def test_an_auth_error_is_not_retried_and_is_operational(settings, fake, fragment, kind, symbol):
    fake.fail(fragment, "auth")
    out = fetch(settings, fake)
    assert fake.count(fragment) == 1
    value = out[symbol][kind]
    assert value.status is FeedStatus.DATA_OUTAGE and value.outage is OutageKind.OPERATIONAL and value.values == {}


def test_a_schema_mismatch_is_not_retried_and_names_the_field(settings, fake):
    fake.fail("/taker-buy-sell-volume/", "schema")
    out = fetch(settings, fake)
    assert fake.count("/taker-buy-sell-volume/") == 1
    value = out[BTC][TAKER_RATIO]
    assert value.outage is OutageKind.OPERATIONAL and "taker_buy_volume_usd: missing" in value.reason


def test_the_cache_serves_within_its_ttl_and_keeps_the_datas_timestamp(settings, fake):
    clock = FakeClock()

    async def go():
        async with feeds_for(settings, fake, clock=clock) as feeds:
            first = await feeds.fetch_all([BTC], NOW_MS)
            fake.now_ms = NOW_MS + 60_000  # the provider now has a newer bar
            clock.t += 60.0  # within the 120 s TTL
            cached = await feeds.fetch_all([BTC], NOW_MS + 60_000)
            calls_cached = fake.count("/open-interest/")
            clock.t += 61.0  # past the TTL
            fresh = await feeds.fetch_all([BTC], NOW_MS + 60_000)
            return first, cached, calls_cached, fresh

    first, cached, calls_cached, fresh = asyncio.run(go())
    assert calls_cached == 1 and fake.count("/open-interest/") == 2
    assert cached[BTC][OPEN_INTEREST].ts_ms == first[BTC][OPEN_INTEREST].ts_ms  # its own time, not the fetch time
    assert cached[BTC][OPEN_INTEREST].values == first[BTC][OPEN_INTEREST].values
    assert fresh[BTC][OPEN_INTEREST].ts_ms == first[BTC][OPEN_INTEREST].ts_ms + 60_000


def test_a_cached_value_goes_stale_on_its_own_timestamp(settings, fake):
    clock = FakeClock()
    limit_s = settings.signals.max_staleness_seconds["open_interest"]

    async def go():
        async with feeds_for(settings, fake, clock=clock, ttl_s={OPEN_INTEREST: 3_600.0}) as feeds:
            await feeds.fetch_all([BTC], NOW_MS)
            clock.t += limit_s + 60
            return await feeds.latest(OPEN_INTEREST, BTC, NOW_MS + (limit_s + 60) * 1000)

    value = asyncio.run(go())
    assert fake.count("/open-interest/") == 1
    assert value.status is FeedStatus.DATA_OUTAGE and value.outage is OutageKind.STALE and value.values == {}


def test_concurrent_cycles_share_one_request_per_endpoint_and_symbol(settings, fake):
    async def go():
        async with feeds_for(settings, fake) as feeds:
            await asyncio.gather(feeds.fetch_all([BTC], NOW_MS), feeds.fetch_all([BTC, BTC], NOW_MS))

    asyncio.run(go())
    assert fake.count("/open-interest/") == 1 and fake.count("/fng/") == 1


def test_a_missing_key_is_a_data_outage_logged_once_without_any_request(settings, fake, caplog):
    caplog.set_level(logging.INFO)

    async def go():
        async with feeds_for(settings, fake, env={}) as feeds:
            await feeds.fetch_all([BTC], NOW_MS)
            return await feeds.fetch_all([BTC, PEPE], NOW_MS)

    out = asyncio.run(go())
    for kind in (OPEN_INTEREST, LIQUIDATIONS, TAKER_RATIO, FUNDING):
        value = out[PEPE][kind]
        assert value.status is FeedStatus.DATA_OUTAGE and value.outage is OutageKind.NO_API_KEY
        assert value.reason == "no API key" and value.values == {}
    assert out[MARKET][SOCIAL].outage is OutageKind.NO_API_KEY
    assert out[MARKET][FEAR_GREED].ok  # Alternative.me needs no key
    assert fake.count("/api/") == 0 and fake.count("/data/") == 0
    assert sum("COINGLASS_API_KEY" in r.getMessage() for r in caplog.records) == 1
    assert sum("CRYPTOCOMPARE_API_KEY" in r.getMessage() for r in caplog.records) == 1


def test_api_keys_never_appear_in_logs_reasons_or_exceptions(settings, fake, caplog):
    caplog.set_level(logging.DEBUG)
    secrets = {"COINGLASS_API_KEY": "cg-SECRET-7Hq2", "CRYPTOCOMPARE_API_KEY": "cc-SECRET-9Zx4"}
    fake.fail("/fng/", "500")  # retries log warnings too

    out = fetch(settings, fake, env=secrets)  # the server rejects both keys; CoinGlass echoes it in its 401 body
    values = [v for kinds in out.values() for v in kinds.values()]
    assert {v.outage for v in values} == {OutageKind.OPERATIONAL, OutageKind.TEMPORARY}

    async def direct():
        async with aiohttp.ClientSession() as session:
            policy = RetryPolicy(attempts=3, wait=wait_none(), timeout_s=0.3)
            client = CoinGlassClient(session, secrets["COINGLASS_API_KEY"], base_url=fake.url, policy=policy)
            with pytest.raises(OperationalError) as auth:
                await client.open_interest("BTCUSDT")
            fake.fail("/open-interest/", "timeout")
            with pytest.raises(TemporaryError) as timeout:
                await client.open_interest("BTCUSDT")
            return auth.value, timeout.value

    errors = asyncio.run(direct())
    texts = [caplog.text, *(v.reason for v in values), *(str(e) for e in errors), *(repr(e) for e in errors)]
    assert any("HTTP 401" in t for t in texts)
    for secret in secrets.values():
        for text in texts:
            assert secret not in text


def test_history_and_recent_frames_hold_closed_bars_in_the_store_schema(settings, fake):
    store = pytest.importorskip("botcore.market.store")

    async def go():
        async with feeds_for(settings, fake) as feeds:
            oi = await feeds.history(OPEN_INTEREST, BTC, now_ms=NOW_MS, limit=5)
            fng = await feeds.history(FEAR_GREED, now_ms=NOW_MS)
            liq = await feeds.recent(LIQUIDATIONS, BTC, NOW_MS)
            return oi, fng, liq

    oi, fng, liq = asyncio.run(go())
    minute = NOW_MS // MINUTE_MS * MINUTE_MS
    assert oi["ts"].tolist() == [minute - i * MINUTE_MS for i in range(3, -1, -1)]  # 5 bars asked, the forming one dropped
    assert len(fng) == 30 and fng["ts"].is_monotonic_increasing and fng["ts"].iloc[-1] <= NOW_MS
    assert len(liq) == 9 and liq["ts"].iloc[-1] == minute
    store.validate("open_interest", oi, BTC)
    store.validate("fear_greed", fng, "MARKET")
    store.validate("liquidations", liq, BTC)


def test_unknown_base_url_provider_is_rejected(settings):
    with pytest.raises(ValueError, match="base_urls: unknown provider 'binance'"):
        IntelFeeds(settings, base_urls={"binance": "http://127.0.0.1:1"}, env={})
