"""MarketSnapshot: validation at the boundary, staleness marks inputs missing, the array form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from botcore.errors import DataError
from botcore.market.enums import INPUT_NAMES, TIMEFRAMES, BookRows, Inputs, Ohlcv, SnapFields
from botcore.market.sample import DEFAULT_START_MS, generate_sample_market
from botcore.market.snapshot import Book, Candles, MarketSnapshot, snapshot_at, staleness_ms, to_arrays
from botcore.market.store import MARKET, TIMEFRAME_MS, Store, book_columns

T = 1_704_110_400_000  # 2024-01-01 12:00 UTC
MIN = 60_000
SYM = "BTC/USDT:USDT"


def book(ts: int = T, bid: float = 99.0, ask: float = 101.0, levels: int = 3) -> Book:
    i = np.arange(levels, dtype=float)
    return Book(ts, bid - i, np.ones(levels), ask + i, np.full(levels, 2.0))


def bars(n: int = 3, end: int = T, tf_ms: int = MIN, close: float = 100.0) -> Candles:
    ts = end - tf_ms * np.arange(n, 0, -1, dtype=np.int64)
    one = np.ones(n)
    return Candles(ts, close * one, close * one + 1, close * one - 1, close * one, one)


# --------------------------------------------------------------------------- construction and validation


def test_a_full_snapshot_has_nothing_missing_and_derives_book_views():
    snap = MarketSnapshot(
        SYM, T, {tf: bars(2, T - T % TIMEFRAME_MS[tf], TIMEFRAME_MS[tf]) for tf in TIMEFRAMES},
        book=book(), mark_price=100.0, mark_ts_ms=T, funding_rate=1e-4, funding_ts_ms=T - 1000, next_funding_ts_ms=T + 1000,
        oi_usd=1e9, oi_ts_ms=T, long_liq_usd=0.0, short_liq_usd=5.0, liquidations_ts_ms=T,
        taker_buy_base=3.0, taker_sell_base=1.0, taker_ts_ms=T, fear_greed=40.0, fear_greed_ts_ms=T - 5,
        social_mentions=10.0, social_tone=-0.2, social_ts_ms=T - 5,
    )
    assert snap.missing == frozenset()
    assert snap.best_bid == 99.0 and snap.best_ask == 101.0 and snap.mid_price == 100.0
    assert snap.spread_bps == pytest.approx(200.0)
    assert snap.taker_buy_ratio == 0.75
    assert snap.known_ms("candles_1h") == T and snap.known_ms("funding") == T - 1000


def test_an_empty_snapshot_marks_every_input_missing_never_neutral():
    snap = MarketSnapshot(SYM, T)
    assert snap.missing == frozenset(INPUT_NAMES)
    assert snap.mark_price is None and snap.funding_rate is None and snap.fear_greed is None and snap.taker_buy_ratio is None
    assert snap.is_missing("book") and snap.is_missing("candles_4h")
    with pytest.raises(KeyError):
        snap.is_missing("nonsense")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"book": book(bid=101.0, ask=101.0)}, "book: crossed"),
        ({"book": book(bid=102.0, ask=101.0)}, "book: crossed"),
        ({"book": Book(T, np.array([99.0, 98.0]), np.array([1.0, -1.0]), np.array([101.0, 102.0]), np.ones(2))}, "book.bid_sz_2"),
        ({"book": Book(T, np.array([99.0, 98.0]), np.ones(2), np.array([np.nan, 102.0]), np.ones(2))}, "book.ask_px_1"),
        ({"book": Book(T, np.array([99.0, 99.5]), np.ones(2), np.array([101.0, 102.0]), np.ones(2))}, "book.bid_px_2"),
        ({"book": Book(T, np.array([99.0, np.nan, 97.0]), np.array([1.0, np.nan, 1.0]), np.array([101.0, 102.0, 103.0]), np.ones(3))}, "book.bid_px_2"),
        ({"book": Book(T, np.array([99.0, 98.0]), np.array([1.0, np.nan]), np.array([101.0, 102.0]), np.ones(2))}, "book.bid_sz_2"),
        ({"book": book(ts=T + 1)}, "look-ahead"),
        ({"mark_price": float("nan"), "mark_ts_ms": T}, "mark_price"),
        ({"mark_price": -1.0, "mark_ts_ms": T}, "mark_price"),
        ({"mark_price": 1.0}, "mark_ts_ms"),
        ({"funding_rate": float("inf"), "funding_ts_ms": T}, "funding_rate"),
        ({"oi_usd": -5.0, "oi_ts_ms": T}, "oi_usd"),
        ({"taker_buy_base": 1.0, "taker_ts_ms": T}, "taker_buy_base"),
        ({"fear_greed": 101.0, "fear_greed_ts_ms": T}, "fear_greed"),
        ({"social_mentions": 1.0, "social_tone": 2.0, "social_ts_ms": T}, "social_tone"),
        ({"candles": {"1m": bars(end=T + MIN)}}, "candles_1m.ts_ms"),
        ({"candles": {"1m": bars()._replace(close=np.array([1.0, np.nan, 1.0]))}}, "candles_1m.close"),
        ({"candles": {"1m": bars()._replace(low=np.array([1.0, 0.0, 1.0]))}}, "candles_1m.low"),
        ({"candles": {"2m": bars()}}, "candles_2m"),
    ],
)
def test_bad_inputs_raise_naming_the_field(kwargs, field):
    with pytest.raises(DataError, match=field.replace("(", r"\(")):
        MarketSnapshot(SYM, T, **kwargs)


def test_deeper_book_levels_may_be_missing():
    shallow = Book(T, np.array([99.0, np.nan]), np.array([1.0, np.nan]), np.array([101.0, 102.0]), np.ones(2))
    assert MarketSnapshot(SYM, T, book=shallow).best_bid == 99.0


# --------------------------------------------------------------------------- from a store: staleness


def small_store(root) -> Store:
    """A hand-made store with every input at a known age relative to T."""
    store = Store(root)
    ts = T - MIN * np.arange(300, 0, -1, dtype=np.int64)  # bars up to the one closing at T
    px = 100.0 + np.arange(300.0)
    store.write("candles_1m", SYM, pd.DataFrame({"ts": ts, "open": px, "high": px + 1, "low": px - 1, "close": px, "volume": 1.0}))
    levels = {c: [np.nan] for c in book_columns()}
    levels.update(bid_px_1=[99.0], bid_sz_1=[1.0], ask_px_1=[101.0], ask_sz_1=[1.0])
    store.write("book", SYM, pd.DataFrame({"ts": [T - 130_000], **levels}))  # 130 s old: stale (limit 120 s)
    store.write("mark", SYM, pd.DataFrame({"ts": [T - 170_000, T - 100_000], "mark_price": [100.0, np.nan]}))
    store.write("funding", SYM, pd.DataFrame({"ts": [T - 8 * 3_600_000], "rate": [2e-4], "next_funding_ts": [float(T)]}))
    store.write("open_interest", SYM, pd.DataFrame({"ts": [T - 1000 * 1000], "oi_usd": [1e9]}))  # 1000 s: stale (900)
    store.write("liquidations", SYM, pd.DataFrame({"ts": [T - 2 * MIN, T - MIN, T], "long_liq_usd": [1.0, 2.0, 99.0], "short_liq_usd": [0.0, 0.0, 99.0]}))
    store.write("taker", SYM, pd.DataFrame({"ts": [T - MIN], "taker_buy_base": [3.0], "taker_sell_base": [1.0]}))
    store.write("fear_greed", MARKET, pd.DataFrame({"ts": [T - 3 * 86_400_000], "value": [20.0]}))  # 3 days: stale (2)
    store.write("social", MARKET, pd.DataFrame({"ts": [T - 3_600_000], "mentions": [5.0], "tone": [0.1]}))
    return store


def test_stale_inputs_are_missing_and_fresh_ones_carry_their_time(tmp_path, settings):
    snap = snapshot_at(small_store(tmp_path), SYM, T, settings)
    assert snap.stale == {"book", "open_interest", "fear_greed"}
    # the latest mark row (T - 100 s) is NaN: missing in the store means missing now, not the older value
    assert snap.missing == {"book", "open_interest", "fear_greed", "mark"}
    assert snap.book is None and snap.oi_usd is None and snap.fear_greed is None and snap.mark_price is None
    assert snap.funding_rate == 2e-4 and snap.funding_ts_ms == T - 8 * 3_600_000 and snap.next_funding_ts_ms == T
    # the liquidation minute opening at T has not closed: the latest known minute opened at T - 1 min
    assert snap.long_liq_usd == 2.0 and snap.liquidations_ts_ms == T
    assert snap.liquidations_history["long_liq_usd"].tolist() == [1.0, 2.0]
    assert snap.taker_buy_ratio == 0.75 and snap.taker_ts_ms == T
    assert snap.social_tone == 0.1 and snap.social_ts_ms == T - 3_600_000
    assert snap.candles["1m"].ts_ms[-1] == T - MIN
    assert len(snap.candles["1m"].ts_ms) == 256  # look-back bars
    assert snap.candles["1h"].ts_ms[-1] == T - 3_600_000


def test_a_nan_row_in_the_store_is_missing_not_an_error(tmp_path, settings):
    store = small_store(tmp_path)
    assert snapshot_at(store, SYM, T - 100_001, settings).mark_price == 100.0
    snap = snapshot_at(store, SYM, T - 100_000, settings)
    assert snap.mark_price is None and "mark" in snap.missing and "mark" not in snap.stale


def test_staleness_limits_come_from_configuration(tmp_path, settings):
    store = small_store(tmp_path)
    generous = {**settings.signals.max_staleness_seconds, "book": 600, "open_interest": 3600, "fear_greed": 4 * 86_400}
    snap = snapshot_at(store, SYM, T, generous)
    assert snap.book is not None and snap.oi_usd == 1e9 and snap.fear_greed == 20.0
    assert not snap.stale
    with pytest.raises(DataError, match="max_staleness_seconds.book"):
        staleness_ms({"candles": 1})


def test_candles_go_missing_when_the_feed_stops(tmp_path, settings):
    store = small_store(tmp_path)
    later = T + 181_000  # last 1m bar closed at T: 181 s old (limit 180 s)
    snap = snapshot_at(store, SYM, later, settings)
    assert "candles_1m" in snap.stale and "candles_1m" in snap.missing
    assert "candles_4h" not in snap.missing  # the last 4h bar is as recent as a 4h bar can be


def test_a_crossed_book_in_the_store_fails_naming_the_field(tmp_path, settings):
    store = Store(tmp_path)
    levels = {c: [np.nan] for c in book_columns()}
    levels.update(bid_px_1=[101.0], bid_sz_1=[1.0], ask_px_1=[100.0], ask_sz_1=[1.0])
    store.write("book", SYM, pd.DataFrame({"ts": [T], **levels}))
    with pytest.raises(DataError, match=rf"{SYM} at ts {T}: book: crossed"):
        snapshot_at(store, SYM, T, settings)


# --------------------------------------------------------------------------- on the sample market, and arrays


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory, settings):
    return Store(generate_sample_market(tmp_path_factory.mktemp("snap"), 2, 3, settings).out_dir)


def test_sample_snapshot_is_complete_mid_sample_and_empty_at_the_first_instant(sample_store, settings):
    t = DEFAULT_START_MS + 26 * 3_600_000 + 30_000
    snap = snapshot_at(sample_store, SYM, t, settings)
    assert snap.missing == frozenset()
    for tf, tf_ms in (("1m", MIN), ("5m", 5 * MIN), ("15m", 15 * MIN), ("1h", 60 * MIN), ("4h", 240 * MIN)):
        expected = sample_store.candles(SYM, tf, end_ms=t).tail(256)
        got = snap.candles[tf]
        np.testing.assert_array_equal(got.ts_ms, expected["ts"].to_numpy())
        np.testing.assert_array_equal(got.close, expected["close"].to_numpy())
        assert got.ts_ms[-1] + tf_ms <= t
    first = snapshot_at(sample_store, SYM, DEFAULT_START_MS, settings)
    assert {"book", "mark", "open_interest", "taker", "liquidations", "candles_1m"} <= first.missing
    assert first.funding_rate is not None and first.fear_greed is not None  # stamped at the first instant


def test_array_form_stacks_symbols_with_nan_for_missing(sample_store, settings):
    t = DEFAULT_START_MS + 30 * 3_600_000
    snaps = [snapshot_at(sample_store, s, t, settings) for s in (SYM, "PEPE/USDT:USDT")]
    snaps.append(MarketSnapshot("XRP/USDT:USDT", t))
    arr = to_arrays(snaps, lookback_bars=64)
    assert arr.symbols == (SYM, "PEPE/USDT:USDT", "XRP/USDT:USDT")
    assert arr.values.shape == (3, len(SnapFields)) and arr.candles.shape == (5, 3, 64, 5)
    assert arr.values[0, SnapFields.mark_price] == snaps[0].mark_price
    assert arr.values[1, SnapFields.best_ask] == snaps[1].best_ask
    assert np.isnan(arr.values[2]).all() and arr.missing[2].all() and (arr.known_ms[2] == -1).all()
    assert not arr.missing[0].any() and arr.known_ms[0, Inputs.book] == t
    assert arr.candles[TIMEFRAMES.index("1m"), 0, -1, Ohlcv.close] == snaps[0].candles["1m"].close[-1]
    four_h = arr.candles[TIMEFRAMES.index("4h"), 0]
    n4 = len(snaps[0].candles["4h"].ts_ms)
    assert np.isnan(four_h[: 64 - n4]).all() and not np.isnan(four_h[64 - n4 :]).any()
    assert arr.book[1, BookRows.ask_sz, 0] == snaps[1].book.ask_sz[0]
    with pytest.raises(DataError, match="ts_ms"):
        to_arrays([snaps[0], MarketSnapshot(SYM, t + 1)])


def test_snapshots_compare_equal_by_value(sample_store, settings):
    t = DEFAULT_START_MS + 20 * 3_600_000
    a = snapshot_at(sample_store, SYM, t, settings)
    b = snapshot_at(sample_store, SYM, t, settings)
    assert a == b and a is not b
    assert a != snapshot_at(sample_store, SYM, t + MIN, settings)
