"""The Parquet market-data store: layout, validation, merge, windows, resampling, panel, info."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from botcore.errors import DataError
from botcore.market.store import MARKET, Store, book_columns, key_symbol, resample_candles, symbol_key

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
MIN = 60_000


def candles(n: int, start: int = T0, step: int = MIN) -> pd.DataFrame:
    i = np.arange(n, dtype=float)
    return pd.DataFrame(
        {
            "ts": start + np.arange(n, dtype=np.int64) * step,
            "open": 100 + i,
            "high": 101 + i,
            "low": 99 + i,
            "close": 100.5 + i,
            "volume": np.ones(n),
        }
    )


def test_symbol_key_round_trips_and_names_the_file(tmp_path):
    assert symbol_key("BTC/USDT:USDT") == "BTC_USDT_USDT"
    assert key_symbol("BTC_USDT_USDT") == "BTC/USDT:USDT"
    assert key_symbol("ETH_BTC") == "ETH/BTC"
    store = Store(tmp_path)
    store.write("candles_1m", "BTC/USDT:USDT", candles(3))
    assert (tmp_path / "candles_1m" / "BTC_USDT_USDT.parquet").is_file()
    store.write("fear_greed", "ignored", pd.DataFrame({"ts": [T0], "value": [50.0]}))
    assert (tmp_path / "fear_greed" / f"{MARKET}.parquet").is_file()
    assert store.kinds() == ["candles_1m", "fear_greed"]
    assert store.symbols() == ["BTC/USDT:USDT"]
    assert store.symbols("fear_greed") == [MARKET]


def test_write_merges_deduplicates_and_sorts_with_new_rows_winning(tmp_path):
    store = Store(tmp_path)
    store.write("candles_1m", "BTC/USDT:USDT", candles(10).iloc[::-1])
    newer = candles(10, start=T0 + 5 * MIN)
    newer["close"] = 1.0
    assert store.write("candles_1m", "BTC/USDT:USDT", newer) == 15
    df = store.read("candles_1m", "BTC/USDT:USDT")
    assert df["ts"].is_monotonic_increasing and df["ts"].is_unique
    assert df["ts"].dtype == np.int64
    assert (df.loc[df["ts"] >= T0 + 5 * MIN, "close"] == 1.0).all()
    assert (df.loc[df["ts"] < T0 + 5 * MIN, "close"] > 100).all()


def test_read_window_is_inclusive_on_both_ends_and_selects_columns(tmp_path):
    store = Store(tmp_path)
    store.write("candles_1m", "BTC/USDT:USDT", candles(10))
    df = store.read("candles_1m", "BTC/USDT:USDT", T0 + 2 * MIN, T0 + 4 * MIN, columns=["close"])
    assert list(df.columns) == ["ts", "close"]
    assert df["ts"].tolist() == [T0 + 2 * MIN, T0 + 3 * MIN, T0 + 4 * MIN]
    empty = store.read("mark", "ETH/USDT:USDT")
    assert list(empty.columns) == ["ts", "mark_price"] and len(empty) == 0


@pytest.mark.parametrize(
    ("kind", "frame", "field"),
    [
        ("mark", pd.DataFrame({"ts": [T0], "mark_price": ["x"]}), "mark_price"),
        ("mark", pd.DataFrame({"ts": [T0], "price": [1.0]}), "mark_price"),
        ("mark", pd.DataFrame({"ts": [T0], "mark_price": [1.0], "junk": [1.0]}), "junk"),
        ("mark", pd.DataFrame({"ts": [T0 // 1000], "mark_price": [1.0]}), "ts"),
        ("mark", pd.DataFrame({"ts": ["2024"], "mark_price": [1.0]}), "ts"),
        ("mark", pd.DataFrame({"ts": [T0], "mark_price": [-1.0]}), "mark_price"),
        ("taker", pd.DataFrame({"ts": [T0], "taker_buy_base": [1.0], "taker_sell_base": [-2.0]}), "taker_sell_base"),
        ("social", pd.DataFrame({"ts": [T0], "mentions": [1.0], "tone": [1.5]}), "tone"),
        ("fear_greed", pd.DataFrame({"ts": [T0], "value": [np.inf]}), "value"),
        ("regime_truth", pd.DataFrame({"ts": [T0], "regime": [0.5], "hurst": [0.7]}), "regime"),
        ("nonsense", pd.DataFrame({"ts": [T0]}), "kind"),
    ],
)
def test_write_rejects_bad_input_naming_the_field(tmp_path, kind, frame, field):
    with pytest.raises(DataError, match=rf"\.?{field}\b"):
        Store(tmp_path).write(kind, "BTC/USDT:USDT", frame)


def test_book_needs_all_levels_and_accepts_nan_for_missing_levels(tmp_path):
    cols = book_columns()
    assert len(cols) == 40 and cols[0] == "bid_px_1" and cols[-1] == "ask_sz_10"
    row = {c: [np.nan] for c in cols}
    row.update(ts=[T0], bid_px_1=[99.0], bid_sz_1=[1.0], ask_px_1=[101.0], ask_sz_1=[2.0])
    Store(tmp_path).write("book", "BTC/USDT:USDT", pd.DataFrame(row))
    del row["ask_sz_7"]
    with pytest.raises(DataError, match="ask_sz_7"):
        Store(tmp_path).write("book", "BTC/USDT:USDT", pd.DataFrame(row))


def test_datetime_ts_is_converted_to_milliseconds(tmp_path):
    store = Store(tmp_path)
    dates = pd.date_range("2024-01-01", periods=3, freq="1min", tz="UTC")
    store.write("mark", "BTC/USDT:USDT", pd.DataFrame({"ts": dates, "mark_price": [1.0, 2.0, 3.0]}))
    assert store.read("mark", "BTC/USDT:USDT")["ts"].tolist() == [T0, T0 + MIN, T0 + 2 * MIN]


def reference_resample(df: pd.DataFrame, rule: str) -> pd.DataFrame:
    x = df.set_index(pd.to_datetime(df["ts"], unit="ms"))
    out = x.resample(rule, label="left", closed="left").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    out = out.dropna(subset=["open"])
    out.insert(0, "ts", out.index.as_unit("ms").asi8)
    return out.reset_index(drop=True)


@pytest.mark.parametrize(("tf", "rule", "tf_ms"), [("5m", "5min", 5 * MIN), ("15m", "15min", 15 * MIN), ("1h", "1h", 60 * MIN), ("4h", "4h", 240 * MIN)])
def test_candles_resample_like_pandas_and_never_return_a_partial_bar(tmp_path, tf, rule, tf_ms):
    store = Store(tmp_path)
    base = candles(1000)
    base = base.drop(index=[7, 8, 300])  # gaps inside bars
    store.write("candles_1m", "BTC/USDT:USDT", base)
    full = store.candles("BTC/USDT:USDT", tf)
    expected = reference_resample(base, rule)
    last_close = int(base["ts"].iloc[-1]) + MIN
    expected = expected[expected["ts"] + tf_ms <= last_close].reset_index(drop=True)
    pd.testing.assert_frame_equal(full, expected, check_dtype=False)
    # as of any time t, only bars closed by t, identical to the full result's prefix
    for t in (T0 + 37 * MIN + 30_000, T0 + 240 * MIN, T0 + 241 * MIN, T0 + 999 * MIN):
        asof = store.candles("BTC/USDT:USDT", tf, end_ms=t)
        assert (asof["ts"] + tf_ms <= t).all()
        pd.testing.assert_frame_equal(asof, full[full["ts"] + tf_ms <= t].reset_index(drop=True))


def test_candles_use_the_finest_stored_timeframe_and_respect_start(tmp_path):
    store = Store(tmp_path)
    store.write("candles_5m", "XRP/USDT:USDT", candles(100, step=5 * MIN))
    assert store.candle_base("XRP/USDT:USDT", "1m") is None
    assert len(store.candles("XRP/USDT:USDT", "1m")) == 0
    h = store.candles("XRP/USDT:USDT", "1h", start_ms=T0 + 1)
    assert h["ts"].iloc[0] == T0 + 60 * MIN
    assert len(h) == 7  # 100 five-minute bars = 8h20m: 8 whole hours, the first skipped by start
    assert h["volume"].iloc[0] == 12


def test_resample_with_equal_timeframes_only_drops_unclosed_bars():
    df = candles(5)
    out = resample_candles(df, MIN, MIN, T0 + 3 * MIN)
    assert out["ts"].tolist() == [T0, T0 + MIN, T0 + 2 * MIN]


def test_read_panel_aligns_symbols_on_the_union_of_timestamps(tmp_path):
    store = Store(tmp_path)
    store.write("candles_1m", "BTC/USDT:USDT", candles(10))
    store.write("candles_1m", "ETH/USDT:USDT", candles(5, start=T0 + 8 * MIN))
    panel = store.read_panel("candles_1m", ["ETH/USDT:USDT", "BTC/USDT:USDT", "SOL/USDT:USDT"], "close", T0 + 2 * MIN, T0 + 11 * MIN)
    assert list(panel.columns) == ["ETH/USDT:USDT", "BTC/USDT:USDT", "SOL/USDT:USDT"]
    assert panel.index[0] == T0 + 2 * MIN and panel.index[-1] == T0 + 11 * MIN
    assert panel["SOL/USDT:USDT"].isna().all()
    assert panel.loc[T0 + 9 * MIN].tolist()[:2] == [101.5, 109.5]
    assert np.isnan(panel.loc[T0 + 11 * MIN, "BTC/USDT:USDT"])


def test_info_reports_rows_span_candle_gaps_and_rows_marked_missing(tmp_path):
    store = Store(tmp_path)
    store.write("candles_1m", "BTC/USDT:USDT", candles(100).drop(index=[10, 11, 50]))
    store.write("mark", "BTC/USDT:USDT", pd.DataFrame({"ts": [T0, T0 + 5 * MIN, T0 + 6 * MIN], "mark_price": [1.0, 2.0, np.nan]}))
    info = store.info().set_index("kind")
    assert info.loc["candles_1m", "rows"] == 97
    assert info.loc["candles_1m", "gaps"] == 3
    assert info.loc["candles_1m", "first"] == T0 and info.loc["candles_1m", "last"] == T0 + 99 * MIN
    assert info.loc["mark", "gaps"] == 1  # a row marking the input missing (a live recording writes them)
    assert not info["synthetic"].any()
    store.mark_synthetic("generated")
    assert store.synthetic and store.info()["synthetic"].all()
