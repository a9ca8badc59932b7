"""LiveFeed against local servers answering like BloFin (ccxt's own async class) and the intel providers.

No internet: BloFin is :class:`tests.fakes.blofin_server.FakeBlofin` plus the
public endpoints of :mod:`tests.fakes.blofin_public`; CoinGlass, Alternative.me
and CryptoCompare are :class:`tests.fakes.intel_servers.FakeIntelServer`.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from tenacity import wait_none

from botcore.engine.enums import RowScalars as R
from botcore.engine.inputs import load_rows, row_from_cycle
from botcore.errors import DataError
from botcore.intel import IntelFeeds, IntelOptions
from botcore.market.download import make_exchange
from botcore.market.enums import INPUT_NAMES
from botcore.market.live import (
    LiveFeed,
    live_intel_options,
    merge_closed_bars,
    public_exchange,
    stamp,
    taker_base,
    warm_up_live,
)
from botcore.market.store import Store
from botcore.net import RetryPolicy, backoff
from tests.fakes import blofin_public
from tests.fakes.blofin_server import FakeBlofin
from tests.fakes.intel_servers import (
    DAY_MS,
    HOUR_MS,
    FakeIntelServer,
    fear_greed_value,
    liq_usd,
    oi_close_usd,
    social_row,
    taker_usd,
)

MIN = 60_000
T = 1_710_072_000_000  # 2024-03-10 12:00 UTC: a whole minute, 5m, 15m, 1h and 4h boundary
BTC, ETH, DOGE = "BTC/USDT:USDT", "ETH/USDT:USDT", "DOGE/USDT:USDT"
INST = {BTC: "BTC-USDT", ETH: "ETH-USDT"}
PAIR = {BTC: "BTCUSDT", ETH: "ETHUSDT"}
TF_MS = {"1m": MIN, "5m": 5 * MIN, "15m": 15 * MIN, "1h": HOUR_MS, "4h": 4 * HOUR_MS}
VENUE_INPUTS = {f"candles_{tf}" for tf in TF_MS} | {"book", "mark", "funding"}


@pytest.fixture(scope="module")
def intel_server():
    with FakeIntelServer(hang_s=2.0) as srv:
        yield srv


@pytest.fixture
def intel_fake(intel_server):
    intel_server.reset()
    intel_server.now_ms = T + 3_000
    yield intel_server
    intel_server.reset()


@pytest.fixture
def blofin():
    fake = FakeBlofin(now_ms=T + 3_000)  # the venue's clock: 3 s into the bar opening at T
    faults = blofin_public.install(fake)
    with fake:
        yield fake, faults


def make_feed(settings, fake, intel_fake=None, symbols=(BTC, ETH), **kw) -> LiveFeed:
    intel = None
    if intel_fake is not None:
        intel = IntelFeeds(settings, base_urls=intel_fake.base_urls, env=intel_fake.env,
                           options=IntelOptions(wait=wait_none(), timeout_s=0.5))
    options = dict(staleness=settings, lookback_bars=5, timeout_s=3.0)
    options.update(kw)
    return LiveFeed(symbols, exchange=public_exchange(fake.url, rate_limit_ms=1), intel=intel, **options)


def cycle_of(feed: LiveFeed, t_ms: int = T):
    try:
        return feed.at(t_ms)
    finally:
        feed.close()


def candle(fake: FakeBlofin, inst_id: str, tf: str, open_ms: int) -> list[float]:
    """The venue's bar; above 1m the bar built from the venue's 1m bars (the feed asks only for 1m)."""
    if tf != "1m":
        rows = [candle(fake, inst_id, "1m", t) for t in range(open_ms, open_ms + TF_MS[tf], MIN)]
        return [rows[0][0], max(r[1] for r in rows), min(r[2] for r in rows), rows[-1][3], sum(r[4] for r in rows)]
    row = fake.candle(next(i for i in fake.instruments if i["instId"] == inst_id), TF_MS[tf], open_ms)
    return [float(x) for x in (row[1], row[2], row[3], row[4], row[6])]  # ohlc + base volume


# --------------------------------------------------------------------------- a full cycle


def test_a_full_cycle_carries_every_input_with_the_values_the_servers_sent(settings, blofin, intel_fake):
    fake, _ = blofin
    cycle = cycle_of(make_feed(settings, fake, intel_fake))
    assert cycle.t_ms == T and list(cycle.snapshots) == [BTC, ETH]
    for symbol, snap in cycle.snapshots.items():
        inst, pair = INST[symbol], PAIR[symbol]
        assert snap.missing == frozenset(), symbol
        for tf, tf_ms in TF_MS.items():  # closed bars only, the newest closing exactly at T
            bars = snap.candles[tf]
            assert list(bars.ts_ms) == [T - k * tf_ms for k in range(5, 0, -1)], tf
            assert bars.as_array()[-1].tolist() == pytest.approx(candle(fake, inst, tf, T - tf_ms), rel=1e-12), tf
        cv = float(next(i for i in fake.instruments if i["instId"] == inst)["contractValue"])
        bids, asks, _ = blofin_public.book(fake, inst, 10)
        assert snap.book.ts_ms == T  # observed 3 s after T: stamped at the cycle
        assert snap.book.bid_px.tolist() == [float(p) for p, _ in bids]
        assert snap.book.ask_sz.tolist() == pytest.approx([float(s) * cv for _, s in asks])
        assert (snap.mark_price, snap.mark_ts_ms) == (blofin_public.mark_price(fake, inst), T)
        nxt = blofin_public.next_funding_ms(fake)
        assert snap.funding_rate == pytest.approx(fake.funding_rate(inst, nxt))
        assert (snap.next_funding_ts_ms, snap.funding_ts_ms) == (nxt, T)
        assert (snap.oi_usd, snap.oi_ts_ms) == (oi_close_usd(pair, T - MIN), T)
        assert (snap.long_liq_usd, snap.short_liq_usd, snap.liquidations_ts_ms) == (*liq_usd(pair, T - MIN), T)
        buy_usd, sell_usd = taker_usd(pair, T - MIN)
        volume = candle(fake, inst, "1m", T - MIN)[4]
        assert snap.taker_buy_base == pytest.approx(volume * buy_usd / (buy_usd + sell_usd))
        assert snap.taker_sell_base == pytest.approx(volume * sell_usd / (buy_usd + sell_usd))
        assert snap.taker_ts_ms == T
        assert (snap.fear_greed, snap.fear_greed_ts_ms) == (fear_greed_value(T // DAY_MS * DAY_MS), T // DAY_MS * DAY_MS)
        row = social_row(1182, T)
        assert snap.social_ts_ms == T
        assert snap.social_mentions == pytest.approx(row["reddit_posts_per_hour"] + row["reddit_comments_per_hour"] + 4)
        assert -1.0 <= snap.social_tone <= 1.0


def test_the_loops_bar_row_of_a_live_cycle_holds_the_latest_bar_and_the_minute_sums(settings, blofin, intel_fake):
    fake, _ = blofin
    feed = make_feed(settings, fake, intel_fake)
    cycle = cycle_of(feed)
    row = row_from_cycle(cycle.arrays(lookback_bars=1))
    assert feed.last_faults == {}
    for i, symbol in enumerate((BTC, ETH)):
        snap = cycle.snapshots[symbol]
        assert row.ohlcv[i].tolist() == candle(fake, INST[symbol], "1m", T - MIN)
        assert row.book[i, 0, 0] == snap.book.bid_px[0]
        assert row.scalars[i, R.long_liq_usd] == snap.long_liq_usd
        assert row.scalars[i, R.taker_buy_base] == snap.taker_buy_base
        assert row.scalars[i, R.mark_price] == snap.mark_price
        assert row.scalars[i, R.fear_greed] == snap.fear_greed
    assert np.isfinite(row.scalars).all()


# --------------------------------------------------------------------------- faults


def test_a_source_that_times_out_is_missing_and_recorded_while_the_rest_is_kept(settings, blofin, intel_fake):
    fake, faults = blofin
    faults.hang["/api/v1/market/books"] = 4.0
    feed = make_feed(settings, fake, intel_fake, timeout_s=1.5)
    t0 = time.monotonic()
    cycle = cycle_of(feed)
    assert time.monotonic() - t0 < 3.5  # the cycle did not wait for the hanging books
    for symbol in (BTC, ETH):
        snap = cycle.snapshots[symbol]
        assert snap.missing == {"book"} and snap.book is None
        assert feed.last_faults[symbol] == {"book": "timed out after 1.5 s"}
        assert snap.mark_price == blofin_public.mark_price(fake, INST[symbol])
    assert feed.fault_counts == {(BTC, "book"): 1, (ETH, "book"): 1}
    row = row_from_cycle(cycle.arrays(lookback_bars=1))
    assert np.isnan(row.book).all() and np.isfinite(row.ohlcv).all()


def test_a_rate_limited_source_is_retried_then_reported_missing(settings, blofin, intel_fake, caplog):
    fake, _ = blofin
    fake.fail_next("/market/mark-price", 429, count=1)  # one 429: the retry gets it
    first = make_feed(settings, fake, intel_fake, symbols=(BTC,))
    assert cycle_of(first).snapshots[BTC].mark_price == blofin_public.mark_price(fake, "BTC-USDT")
    fake.fail_next("/market/mark-price", 429, count=2)  # both attempts rate-limited
    second = make_feed(settings, fake, intel_fake, symbols=(BTC,))
    snap = cycle_of(second).snapshots[BTC]
    assert snap.missing == {"mark"} and snap.mark_price is None
    assert "RateLimitExceeded" in second.last_faults[BTC]["mark"] or "DDoSProtection" in second.last_faults[BTC]["mark"]
    assert "mark" in caplog.text and "1 input(s) missing" in caplog.text


def test_an_intel_outage_leaves_only_that_input_missing(settings, blofin, intel_fake):
    fake, _ = blofin
    intel_fake.fail("/open-interest/", "500")
    feed = make_feed(settings, fake, intel_fake)
    cycle = cycle_of(feed)
    for symbol in (BTC, ETH):
        assert cycle.snapshots[symbol].missing == {"open_interest"}
        assert feed.last_faults[symbol]["open_interest"].startswith("temporary:")
    row = row_from_cycle(cycle.arrays(lookback_bars=1))
    assert np.isnan(row.scalars[:, R.oi_usd]).all() and np.isfinite(row.scalars[:, R.long_liq_usd]).all()


def test_invalid_venue_data_is_dropped_not_passed_on(settings, blofin, intel_fake):
    fake, _ = blofin

    def crossed(params):
        return fake.ok([{"asks": [["100.0", "1"]], "bids": [["101.0", "1"]], "ts": str(fake.now_ms)}])

    fake.route("/api/v1/market/books", crossed)
    feed = make_feed(settings, fake, intel_fake, symbols=(BTC,))
    snap = cycle_of(feed).snapshots[BTC]
    assert snap.missing == {"book"}
    assert feed.last_faults[BTC]["book"].startswith("invalid: book: crossed")


def test_a_symbol_whose_venue_fetches_all_fail_is_in_the_cycle_with_its_venue_inputs_missing(settings, blofin, intel_fake):
    fake, faults = blofin
    faults.down.add("ETH-USDT")
    feed = make_feed(settings, fake, intel_fake, attempts=1)
    cycle = cycle_of(feed)
    assert list(cycle.snapshots) == [BTC, ETH]
    assert cycle.snapshots[BTC].missing == frozenset()
    assert cycle.snapshots[ETH].missing == VENUE_INPUTS | {"taker"}  # taker needs BloFin's 1m volume
    # one fault per source: the 1m candles (the higher timeframes are built from them), book, mark, funding
    assert set(feed.last_faults) == {ETH} and set(feed.last_faults[ETH]) == {"candles_1m", "book", "mark", "funding", "taker"}
    assert feed.last_faults[ETH]["taker"].startswith("no BloFin 1m volume")
    row = row_from_cycle(cycle.arrays(lookback_bars=1))
    assert np.isnan(row.ohlcv[1]).all() and np.isfinite(row.ohlcv[0]).all()
    assert math.isnan(row.scalars[1, R.mark_price]) and row.scalars[1, R.oi_usd] == cycle.snapshots[ETH].oi_usd


def test_a_symbol_the_venue_does_not_list_and_no_intel_gives_an_all_missing_snapshot(settings, blofin):
    fake, _ = blofin
    feed = make_feed(settings, fake, None, symbols=(BTC, DOGE))
    cycle = cycle_of(feed)
    assert list(cycle.snapshots) == [BTC, DOGE]
    assert cycle.snapshots[DOGE].missing == frozenset(INPUT_NAMES)
    assert "BadSymbol" in feed.last_faults[DOGE]["book"]
    assert feed.last_faults["MARKET"]["fear_greed"] == "no intel feeds configured"
    assert cycle.snapshots[BTC].missing == frozenset(INPUT_NAMES) - VENUE_INPUTS
    row = row_from_cycle(cycle.arrays(lookback_bars=1))
    assert np.isnan(row.ohlcv[1]).all() and np.isnan(row.book[1]).all() and np.isnan(row.scalars[1]).all()
    assert np.isfinite(row.ohlcv[0]).all()


# --------------------------------------------------------------------------- no look-ahead and the candle cache


def test_a_bar_still_forming_at_t_is_never_used(settings, intel_fake):
    t = T + 2 * MIN  # inside the 5m bar opening at T, which the venue already serves (still forming)
    fake = FakeBlofin(now_ms=t + 2_000)
    blofin_public.install(fake)
    with fake:
        feed = make_feed(settings, fake, intel_fake, symbols=(BTC,), timeframes=("1m", "5m", "1h"))
        snap = cycle_of(feed, t).snapshots[BTC]
        asked = fake.calls("/market/candles")
    assert [c["bar"] for c in asked] == ["1m"] and asked[0]["after"] == str(t)  # 5m and 1h are built from 1m
    assert snap.candles["1m"].ts_ms[-1] == t - MIN
    assert snap.candles["5m"].ts_ms[-1] == T - 5 * MIN  # the bar opening at T closes at T + 5m: not used
    assert snap.candles["1h"].ts_ms[-1] == T - HOUR_MS
    assert feed.last_faults == {}


def test_merge_keeps_only_bars_closed_by_t_and_the_newest_ones():
    rows = [[T - 2 * MIN, 1, 2, 0.5, 1.5, 10], [T - MIN, 1, 2, 0.5, 1.5, 11], [T, 1, 2, 0.5, 1.5, 12]]
    merged = merge_closed_bars({T - 3 * MIN: (1.0, 1.0, 1.0, 1.0, 9.0)}, rows, MIN, T, keep=2)
    assert merged == {T - 2 * MIN: (1.0, 2.0, 0.5, 1.5, 10.0), T - MIN: (1.0, 2.0, 0.5, 1.5, 11.0)}


def test_later_cycles_fetch_only_the_1m_bars_since_the_newest_held_one(settings, blofin, intel_fake):
    fake, _ = blofin
    feed = make_feed(settings, fake, intel_fake, symbols=(BTC,))
    try:
        feed.at(T)
        n0 = len(fake.calls("/market/candles"))
        fake.now_ms = T + MIN + 3_000
        snap = feed.at(T + MIN).snapshots[BTC]
        again = fake.calls("/market/candles")[n0:]
    finally:
        feed.close()
    assert n0 == 1 and [(c["bar"], c["limit"]) for c in again] == [("1m", "2")]
    assert snap.candles["1m"].ts_ms.tolist() == [T - k * MIN for k in range(4, -1, -1)]
    assert snap.candles["4h"].ts_ms[-1] == T - 4 * HOUR_MS and snap.missing == frozenset()


def test_stamp_clamps_values_seen_during_the_cycle_and_rejects_later_ones():
    assert stamp(T - 500, T, 10_000) == T - 500
    assert stamp(T + 3_000, T, 10_000) == T
    assert stamp(None, T, 10_000) == T
    with pytest.raises(DataError, match="after the cycle"):
        stamp(T + 10_001, T, 10_000)


def test_taker_base_splits_the_minutes_volume_by_the_ratio():
    assert taker_base(3.0, 8.0) == (6.0, 2.0)
    with pytest.raises(DataError):
        taker_base(float("nan"), 8.0)


# --------------------------------------------------------------------------- iteration and warm-up


def test_iteration_follows_the_scheduler_and_stop_ends_it(settings, blofin, intel_fake):
    fake, _ = blofin
    feed = make_feed(settings, fake, intel_fake, symbols=(BTC,), scheduler=[(T, 0), (T + MIN, 5)])
    try:
        times = [c.t_ms for c in feed]
    finally:
        feed.close()
    assert times == [T, T + MIN]


def test_warm_up_stores_the_history_the_signals_read_and_returns_the_range(settings, tmp_path, intel_fake):
    fake = FakeBlofin()  # venue history up to 2024-03-11
    with fake:
        feed = make_feed(settings, fake, intel_fake, symbols=(BTC,))
        exchange = make_exchange("blofin", fake.url, rate_limit_ms=1)
        store = Store(tmp_path / "market")
        try:
            first, last, faults = warm_up_live(store, [BTC], 90, end_ms=T + 3_000, exchange=exchange,
                                               intel=feed.intel, run=feed.run, retry=RetryPolicy(2, backoff(0.01, 0.02)))
        finally:
            feed.close()
    assert (first, last, faults) == (T - 89 * MIN, T, {})
    rows = load_rows(store, [BTC], first, last, settings)
    assert rows.ohlcv[-1, 0].tolist() == candle(fake, "BTC-USDT", "1m", T - MIN)
    assert rows.ohlcv[0, 0].tolist() == candle(fake, "BTC-USDT", "1m", first - MIN)
    s = rows.scalars[:, 0]
    assert np.isfinite(s[:, R.funding_rate]).all()
    assert s[-1, R.funding_rate] == pytest.approx(fake.funding_rate("BTC-USDT", T - 4 * HOUR_MS))
    assert s[-1, R.oi_usd] == oi_close_usd("BTCUSDT", T - MIN)
    assert s[-1, R.long_liq_usd] == liq_usd("BTCUSDT", T - MIN)[0]
    assert s[0, R.long_liq_usd] == liq_usd("BTCUSDT", first - MIN)[0]
    buy_usd, sell_usd = taker_usd("BTCUSDT", T - MIN)
    assert s[-1, R.taker_buy_base] == pytest.approx(rows.ohlcv[-1, 0, 4] * buy_usd / (buy_usd + sell_usd))
    assert np.isfinite(s[:, R.taker_buy_base]).all() and np.isfinite(s[:, R.long_liq_usd]).all()
    assert s[-1, R.fear_greed] == fear_greed_value(T // DAY_MS * DAY_MS)
    assert np.isfinite(s[:, R.social_mentions]).all()


def test_with_live_intel_options_every_cycle_carries_the_minute_that_just_closed(settings, blofin, intel_fake):
    fake, _ = blofin
    clock = [1_000.0]
    intel = IntelFeeds(settings, base_urls=intel_fake.base_urls, env=intel_fake.env, clock=lambda: clock[0],
                       options=live_intel_options(wait=wait_none(), timeout_s=0.5))
    feed = LiveFeed((BTC,), exchange=public_exchange(fake.url, rate_limit_ms=1), intel=intel, staleness=settings,
                    lookback_bars=2, timeframes=("1m",))
    rows = []
    try:
        for k in range(3):
            fake.now_ms = intel_fake.now_ms = T + k * MIN + 3_000
            clock[0] += 60.0
            rows.append(row_from_cycle(feed.at(T + k * MIN).arrays(lookback_bars=1)))
    finally:
        feed.close()
    assert [r.scalars[0, R.long_liq_usd] for r in rows] == [liq_usd("BTCUSDT", T + (k - 1) * MIN)[0] for k in range(3)]
    assert all(np.isfinite(r.scalars[0, R.taker_buy_base]) for r in rows)
