"""Importers: every real file in ../shared/data/market imports with the counts, spans and values its README states,
the resulting store reads back, and bad input raises a DataError naming file and field."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from botcore.errors import DataError
from botcore.market.book_feed import read_binance_feed
from botcore.market.frames import taker_per_minute
from botcore.market.importers import Format, detect_format, import_path, read_exchange_csv
from botcore.market.store import Store, book_columns

MIN = 60_000
SPOT_ALTS = ("ADA", "DASH", "ETC", "ETH", "LTC", "TRX", "XLM", "XMR", "ZEC")


def ms(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value // 1_000_000)


def span(df: pd.DataFrame) -> tuple[int, int]:
    return int(df["ts"].iloc[0]), int(df["ts"].iloc[-1])


@pytest.fixture(scope="module")
def feed_path(real_data: Path) -> Path:
    return real_data / "book-feed" / "binance-usdm_btcusdt_20240808.gz"


@pytest.fixture(scope="module")
def feed(feed_path: Path) -> dict[str, pd.DataFrame]:
    return import_path(feed_path, symbol="BTC/USDT:USDT").frames


@pytest.fixture(scope="module")
def feed_messages(feed_path: Path) -> dict[str, list[dict]]:
    streams: dict[str, list[dict]] = {"bookTicker": [], "trade": []}
    with gzip.open(feed_path, "rt") as fh:
        for line in fh:
            if "@depth" in line[:80]:
                continue
            msg = json.loads(line.split(" ", 1)[1])
            kind = msg.get("stream", "").split("@")[-1]
            if kind in streams:
                streams[kind].append(msg["data"])
    return streams


# --------------------------------------------------------------------------- real files: candles


def test_ftx_perp_csv_has_45031_gapless_minutes_with_quote_volume_converted_to_base(real_data: Path) -> None:
    path = real_data / "perp-1m" / "FTX_BTC-PERP_1m_2022-01.csv"
    got = import_path(path, symbol="BTC/USD:USD")
    assert got.format is Format.CSV
    bars = got.frames["candles_1m"]
    assert len(bars) == 45_031
    assert span(bars) == (ms("2021-12-31 23:01"), ms("2022-02-01 05:31"))
    assert (np.diff(bars["ts"]) == MIN).all()
    first = bars.iloc[0]
    assert (first.open, first.high, first.low, first.close) == (46319.0, 46385.0, 46319.0, 46377.0)
    assert first.volume == pytest.approx(2300413.7295 / 46377.0)  # USD volume / close = BTC
    as_quote = read_exchange_csv(path, volume_unit="base")["candles_1m"]
    assert as_quote["volume"].iloc[0] == 2300413.7295


def test_xrp_futures_feathers_give_5m_and_1h_candles_mark_and_funding(real_data: Path) -> None:
    folder = real_data / "perp-5m-funding"
    five = import_path(folder / "XRP_USDT_USDT-5m-futures.feather")
    assert five.symbol == "XRP/USDT:USDT" and five.format is Format.FREQTRADE_FEATHER
    bars = five.frames["candles_5m"]
    assert len(bars) == 1_999
    assert span(bars) == (ms("2021-11-15 00:00"), ms("2021-11-21 22:30"))
    assert bars["open"].iloc[0] == 1.1893 and bars["volume"].iloc[0] == 9289043.5

    hourly = import_path(folder / "XRP_USDT_USDT-1h-futures.feather").frames["candles_1h"]
    assert len(hourly) == 100 and span(hourly) == (ms("2021-11-17 01:00"), ms("2021-11-21 04:00"))

    mark = import_path(folder / "XRP_USDT_USDT-1h-mark.feather").frames
    assert list(mark) == ["mark"] and list(mark["mark"].columns) == ["ts", "mark_price"]
    assert len(mark["mark"]) == 100
    assert mark["mark"]["mark_price"].iloc[0] == 1.20932  # the mark at the bar open
    assert span(mark["mark"]) == (ms("2021-11-15 06:00"), ms("2021-11-19 09:00"))

    funding = import_path(folder / "XRP_USDT_USDT-8h-funding_rate.feather").frames["funding"]
    assert len(funding) == 91
    assert span(funding) == (ms("2021-11-18 00:00:00.017"), ms("2021-12-18 00:00:00.014"))
    assert funding["rate"].iloc[0] == 0.0001 and funding["rate"].abs().max() < 0.01


def test_spot_altcoins_in_btc_import_as_nine_correlated_5m_series(real_data: Path) -> None:
    closes = {}
    for alt in SPOT_ALTS:
        got = import_path(real_data / "spot-5m-multi" / f"{alt}_BTC-5m.feather")
        assert got.symbol == f"{alt}/BTC"
        bars = got.frames["candles_5m"]
        assert 5_700 <= len(bars) <= 5_760
        assert bars["ts"].iloc[0] == ms("2018-01-10 04:55")
        assert bars["ts"].iloc[-1] in (ms("2018-01-30 04:45"), ms("2018-01-30 04:50"))
        closes[alt] = bars.set_index("ts")["close"]
    assert len(closes["ETH"]) == 5_760
    returns = np.log(pd.DataFrame(closes)).diff()
    assert returns.corr().to_numpy()[np.triu_indices(len(SPOT_ALTS), 1)].mean() > 0.05  # aligned, positively correlated


def test_orderflow_pandas_json_has_10999_btc_5m_bars(real_data: Path) -> None:
    got = import_path(real_data / "orderflow" / "BTC_USDT_5m_2023-01.json", symbol="BTC/USDT")
    assert got.format is Format.PANDAS_JSON
    bars = got.frames["candles_5m"]
    assert len(bars) == 10_999
    assert span(bars) == (ms("2023-01-02 16:45"), ms("2023-02-09 21:15"))
    assert bars["open"].iloc[0] == 16727.3 and bars["close"].iloc[-1] == 21925.7


# --------------------------------------------------------------------------- real files: funding, trades


@pytest.mark.parametrize(
    ("name", "rows", "first_rate", "last_rate", "last"),
    [
        ("binance_btcusd_funding.csv", 12, 0.00020030, -0.00002983, "2022-12-13 16:00"),
        ("bybit_btcusdt_funding.csv", 3, -0.0002016, -0.00038555, "2022-12-13 16:00"),
    ],
)
def test_headerless_funding_csvs_import_every_8h_rate(
    real_data: Path, name: str, rows: int, first_rate: float, last_rate: float, last: str
) -> None:
    got = import_path(real_data / "funding-small" / name, symbol="BTC/USDT:USDT")
    assert got.format is Format.FUNDING_CSV
    funding = got.frames["funding"]
    assert len(funding) == rows
    assert funding["rate"].iloc[0] == first_rate and funding["rate"].iloc[-1] == last_rate
    assert funding["ts"].iloc[-1] == ms(last)
    assert (funding["ts"] % (8 * 60 * MIN) == 0).all()


def test_eth_trade_list_sums_1000_trades_into_taker_volume_per_complete_minute(real_data: Path) -> None:
    path = real_data / "orderflow" / "ETH_USDT_trades_2023-02-02.csv"
    raw = pd.read_csv(path)
    assert len(raw) == 1_000
    got = import_path(path, symbol="ETH/USDT")
    assert got.format is Format.TRADES_CSV
    taker = got.frames["taker"]
    # the capture runs 09:20:00.138 to 09:23:27.493: the 09:23 minute is partial and dropped
    assert taker["ts"].tolist() == [ms("2023-02-02 09:20"), ms("2023-02-02 09:21"), ms("2023-02-02 09:22")]
    kept = raw[raw["timestamp"] < ms("2023-02-02 09:23")]
    assert taker["taker_buy_base"].sum() == pytest.approx(kept.loc[kept.side == "buy", "amount"].sum())
    assert taker["taker_sell_base"].sum() == pytest.approx(kept.loc[kept.side == "sell", "amount"].sum())
    first_minute = raw[raw["timestamp"] < ms("2023-02-02 09:21")]
    assert taker["taker_buy_base"].iloc[0] == pytest.approx(first_minute.loc[first_minute.side == "buy", "amount"].sum())
    in_contracts = import_path(path, symbol="ETH/USDT", contract_size=0.01).frames["taker"]
    np.testing.assert_allclose(in_contracts["taker_sell_base"], taker["taker_sell_base"] * 0.01)


# --------------------------------------------------------------------------- real files: the Binance feed


def test_binance_feed_replays_into_six_minute_books_matching_the_book_ticker(
    feed: dict[str, pd.DataFrame], feed_messages: dict[str, list[dict]]
) -> None:
    book = feed["book"]
    assert list(book.columns) == ["ts", *book_columns()]
    assert book["ts"].tolist() == [ms("2024-08-08 23:55") + i * MIN for i in range(6)]
    assert book.notna().all().all()  # ten levels a side, every minute
    bid_px = book[[f"bid_px_{i}" for i in range(1, 11)]].to_numpy()
    ask_px = book[[f"ask_px_{i}" for i in range(1, 11)]].to_numpy()
    assert (np.diff(bid_px, axis=1) < 0).all() and (np.diff(ask_px, axis=1) > 0).all()
    assert (bid_px[:, 0] < ask_px[:, 0]).all()  # never crossed
    tickers = feed_messages["bookTicker"]
    assert len(tickers) == 66_089
    ticker_ms = np.array([t["E"] for t in tickers])
    for _, row in book.iterrows():
        latest = tickers[np.searchsorted(ticker_ms, row.ts, side="right") - 1]  # last best bid/ask known at ts
        assert (row.bid_px_1, row.ask_px_1) == (float(latest["b"]), float(latest["a"]))
    assert book["bid_px_1"].iloc[0] == 61807.7 and book["bid_sz_1"].iloc[0] == 5.294


def test_binance_feed_trades_give_taker_volume_by_the_buyer_is_maker_flag(
    feed: dict[str, pd.DataFrame], feed_messages: dict[str, list[dict]]
) -> None:
    trades = pd.DataFrame(feed_messages["trade"])
    assert len(trades) == 21_313
    taker = feed["taker"]
    # capture: 23:54:56.3 to 00:00:01.1 (exchange time): minutes 23:55 to 23:59 are complete
    assert taker["ts"].tolist() == [ms("2024-08-08 23:55") + i * MIN for i in range(5)]
    kept = trades[(trades["T"] >= taker["ts"].iloc[0]) & (trades["T"] < taker["ts"].iloc[-1] + MIN)]
    qty = kept["q"].astype(float)
    assert taker["taker_buy_base"].sum() == pytest.approx(qty[~kept["m"]].sum())
    assert taker["taker_sell_base"].sum() == pytest.approx(qty[kept["m"]].sum())


# --------------------------------------------------------------------------- every file → a store that reads back

SYMBOL_FOR = {
    "FTX_BTC-PERP_1m_2022-01.csv": "BTC/USD:USD",
    "BTC_USDT_5m_2023-01.json": "BTC/USDT",
    "ETH_USDT_trades_2023-02-02.csv": "ETH/USDT",
    "binance_btcusd_funding.csv": "BTC/USD:BTC",
    "bybit_btcusdt_funding.csv": "BTC/USDT:USDT",
    "binance-usdm_btcusdt_20240808.gz": "BTC/USDT:USDT",
}


def test_every_real_file_imports_and_its_store_reads_back_in_time_order(real_data: Path, tmp_path: Path) -> None:
    files = sorted(p for p in real_data.rglob("*") if p.is_file() and p.name != "README.md")
    assert len(files) == 19
    store = Store(tmp_path / "store")
    imported = {}
    for path in files:
        got = import_path(path, symbol=SYMBOL_FOR.get(path.name))
        for kind, df in got.frames.items():
            assert store.write(kind, got.symbol, df) == len(df)
            imported[kind, got.symbol] = df
    assert set(store.kinds()) == {"candles_1m", "candles_5m", "candles_1h", "mark", "funding", "book", "taker"}
    assert len(store.symbols("candles_5m")) == 11  # XRP perp, nine altcoins, BTC/USDT
    for (kind, symbol), df in imported.items():
        back = store.read(kind, symbol)
        pd.testing.assert_frame_equal(back[df.columns.tolist()], df, check_dtype=False)
        # replay reads windows; a window holds exactly the rows stamped inside it
        mid = int(df["ts"].iloc[len(df) // 2])
        window = store.read(kind, symbol, start_ms=int(df["ts"].iloc[0]), end_ms=mid)
        assert len(window) == len(df) // 2 + 1 and window["ts"].is_monotonic_increasing
    info = store.info()
    ftx = info[(info.kind == "candles_1m") & (info.symbol == "BTC/USD:USD")].iloc[0]
    assert ftx.rows == 45_031 and ftx.gaps == 0
    # resampling the FTX minutes to 1h works on the imported store
    hourly = store.candles("BTC/USD:USD", "1h")
    assert hourly["ts"].iloc[0] == ms("2021-12-31 23:00") and (np.diff(hourly["ts"]) == 60 * MIN).all()


def test_imported_stores_replay_as_a_live_feed_would_have_seen_them(
    real_data: Path, feed: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    replay = pytest.importorskip("botcore.market.replay", reason="botcore.market.replay not written yet")
    store = Store(tmp_path / "store")
    for kind, df in feed.items():
        store.write(kind, "BTC/USDT:USDT", df)
    for name in ("5m-futures", "1h-futures", "1h-mark", "8h-funding_rate"):
        got = import_path(real_data / "perp-5m-funding" / f"XRP_USDT_USDT-{name}.feather")
        for kind, df in got.frames.items():
            store.write(kind, got.symbol, df)

    book, taker = feed["book"].set_index("ts"), feed["taker"].set_index("ts")
    t0 = ms("2024-08-08 23:55")
    cycles = list(replay.ReplayFeed(store, ["BTC/USDT:USDT"], t0, t0 + 5 * MIN))
    assert len(cycles) == 6
    for cycle in cycles:
        snap = cycle.snapshots["BTC/USDT:USDT"]
        assert snap.book.ts_ms == cycle.t_ms and snap.book.bid_px[0] == book.loc[cycle.t_ms, "bid_px_1"]
        if cycle.t_ms == t0:
            assert "taker" in snap.missing  # the 23:54 minute was only partly captured
        else:  # the minute that closed at t
            assert snap.taker_buy_base == taker.loc[cycle.t_ms - MIN, "taker_buy_base"]

    t = ms("2021-11-18 12:00")
    snap = replay.ReplayFeed(store, ["XRP/USDT:USDT"], t, t).at(t).snapshots["XRP/USDT:USDT"]
    five = snap.candles["5m"]
    assert five.ts_ms[-1] == t - 5 * MIN  # the last bar closed by t
    assert snap.mark_price == store.read("mark", "XRP/USDT:USDT", t, t)["mark_price"].iloc[0]
    assert (snap.funding_rate, snap.funding_ts_ms) == (0.0001, ms("2021-11-18 08:00:00.007"))


# --------------------------------------------------------------------------- synthetic inputs: formats and bad input


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_freqtrade_json_list_of_lists_imports_as_candles(tmp_path: Path) -> None:
    rows = [[1_699_999_800_000 + i * 5 * MIN, 10.0 + i, 11.0 + i, 9.0 + i, 10.5 + i, 100.0] for i in range(4)]
    path = write(tmp_path / "SOL_USDT_USDT-5m-futures.json", json.dumps(rows))
    got = import_path(path)
    assert got.format is Format.FREQTRADE_JSON and got.symbol == "SOL/USDT:USDT"
    assert got.frames["candles_5m"]["close"].tolist() == [10.5, 11.5, 12.5, 13.5]
    funding = write(tmp_path / "SOL_USDT_USDT-8h-funding_rate.json", json.dumps([[1_700_006_400_000, 0.0001, 0, 0, 0, 0]]))
    assert import_path(funding).frames["funding"]["rate"].tolist() == [0.0001]


def test_formats_are_detected_from_extension_and_first_line(tmp_path: Path) -> None:
    assert detect_format(write(tmp_path / "a.csv", "20201229 00:00:00,0.0001\n")) is Format.FUNDING_CSV
    assert detect_format(write(tmp_path / "b.csv", "timestamp,open,high,low,close,volume\n")) is Format.CSV
    assert detect_format(write(tmp_path / "c.csv", ",timestamp,id,type,side,price,amount,cost,date\n")) is Format.TRADES_CSV
    assert detect_format(write(tmp_path / "d.json", '{"date": {}}')) is Format.PANDAS_JSON
    assert detect_format(write(tmp_path / "e.json", "[[1, 2]]")) is Format.FREQTRADE_JSON
    with pytest.raises(DataError, match=r"f\.txt: field 'format'"):
        detect_format(write(tmp_path / "f.txt", "hello\n"))


def test_corrupt_feather_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "XRP_USDT_USDT-5m-futures.feather"
    path.write_bytes(b"ARROW1\x00\x00garbage")
    with pytest.raises(DataError, match=r"XRP_USDT_USDT-5m-futures\.feather: field 'file'"):
        import_path(path)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("timestamp,open,high,low,close,volume\n2022-01-01 00:00:00,1,2,0.5,oops,10\n2022-01-01 00:01:00,1,2,0.5,1,10\n", "close"),
        ("timestamp,open,high,low,close,volume\n2022-01-01 00:00:00,1,2,0.5,1.5,10\n2022-01-01 00:01:00,1,1.2,0.5,1.5,10\n", "high"),
        ("timestamp,open,high,low,close,volume\n2022-01-01 00:00:00,1,2,0.5,1.5,10\n2022-01-01 00:00:00,1,2,0.5,1.5,10\n", "ts"),
        ("timestamp,open,high,low,close,volume\nnot a date,1,2,0.5,1.5,10\n2022-01-01 00:01:00,1,2,0.5,1,10\n", "timestamp"),
        ("timestamp,open,high,low,close\n2022-01-01 00:00:00,1,2,0.5,1.5\n", "volume"),
        ("timestamp,open,high,low,close,volume\n2022-01-01 00:00:00,1,2,0.5,1.5,10\n2022-01-01 00:00:07,1,2,0.5,1.5,10\n", "ts"),
    ],
)
def test_bad_candle_csv_raises_naming_file_and_field(tmp_path: Path, body: str, field: str) -> None:
    path = write(tmp_path / "bad.csv", body)
    with pytest.raises(DataError, match=rf"bad\.csv: field '{field}'"):
        import_path(path, symbol="BTC/USDT:USDT")


def test_bad_funding_and_trade_rows_raise_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"f\.csv: field 'time'.*line 2"):
        import_path(write(tmp_path / "f.csv", "20201229 00:00:00,0.0001\n2020-12-29 08:00,0.0002\n"), "funding-csv", "BTC/USDT:USDT")
    with pytest.raises(DataError, match=r"p\.csv: field 'rate'.*percent"):
        import_path(write(tmp_path / "p.csv", "20201229 00:00:00,1.5\n"), "funding-csv", "BTC/USDT:USDT")
    header = ",timestamp,id,type,side,price,amount,cost,date\n"
    with pytest.raises(DataError, match=r"t\.csv: field 'side'.*row 1"):
        import_path(write(tmp_path / "t.csv", header + "0,1675329600138,1,,buy,1,1,1,x\n1,1675329600139,2,,hold,1,1,1,x\n"), symbol="ETH/USDT")


def test_symbol_must_be_given_or_inferable_and_ccxt_unified(tmp_path: Path) -> None:
    path = write(tmp_path / "trades.csv", ",timestamp,id,type,side,price,amount,cost,date\n0,1675329600138,1,,buy,1,1,1,x\n")
    with pytest.raises(DataError, match="field 'symbol': cannot infer"):
        import_path(path)
    with pytest.raises(DataError, match="field 'symbol'"):
        import_path(path, symbol="BTCUSDT")
    with pytest.raises(DataError, match="field 'format': unknown format 'xlsx'"):
        import_path(path, "xlsx", "BTC/USDT")


def test_taker_minutes_cover_only_the_observed_span() -> None:
    ts = np.array([0, 30_000, 61_000, 119_999, 150_000]) + 1_700_000_040_000  # minute-aligned base
    taker = taker_per_minute(ts, np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([True, False, True, True, False]))
    assert taker["ts"].tolist() == [1_700_000_040_000, 1_700_000_100_000]  # the third minute is cut at 30 s
    assert taker["taker_buy_base"].tolist() == [1.0, 7.0] and taker["taker_sell_base"].tolist() == [2.0, 0.0]


# --------------------------------------------------------------------------- synthetic Binance feeds


def feed_lines(diffs: list[dict], last_update_id: int = 100, trades: list[dict] = (), tickers: list[dict] = ()) -> str:
    snapshot = {"lastUpdateId": last_update_id, "E": 1_700_000_000_500, "T": 1_700_000_000_500,
                "bids": [["100.0", "1.0"], ["99.0", "2.0"]], "asks": [["101.0", "1.5"], ["102.0", "3.0"]]}
    lines = [f"1 {json.dumps(snapshot)}"]
    for d in diffs:
        lines.append("2 " + json.dumps({"stream": "x@depth@0ms", "data": {"e": "depthUpdate", **d}}))
    for t in trades:
        lines.append("3 " + json.dumps({"stream": "x@trade", "data": {"e": "trade", **t}}))
    for t in tickers:
        lines.append("4 " + json.dumps({"stream": "x@bookTicker", "data": {"e": "bookTicker", **t}}))
    return "\n".join(lines) + "\n"


def diff(first: int, last: int, prev: int, event_ms: int, bids: list = (), asks: list = ()) -> dict:
    return {"E": event_ms, "T": event_ms, "U": first, "u": last, "pu": prev, "b": list(bids), "a": list(asks)}


T0 = 1_700_000_040_000  # a minute boundary after the snapshot time


def test_synthetic_feed_drops_stale_diffs_removes_zero_levels_and_converts_contracts(tmp_path: Path) -> None:
    diffs = [
        diff(90, 95, 89, T0 - 9_000, bids=[["100.0", "0"]]),  # u < lastUpdateId: dropped
        diff(98, 103, 95, T0 - 1_000, bids=[["100.0", "0"], ["100.5", "4"]]),  # straddles 101
        diff(104, 110, 103, T0 + 5_000, asks=[["101.0", "0"]]),
        diff(111, 112, 110, T0 + MIN, asks=[["100.9", "2"]]),
    ]
    trades = [{"E": T0 + 1, "T": T0 + 1, "q": "2", "m": False}, {"E": T0 + 2, "T": T0 + 2, "q": "3", "m": True},
              {"E": T0 + MIN + 1, "T": T0 + MIN + 1, "q": "1", "m": False}]
    tickers = [
        {"u": 103, "E": T0 - 1_000, "b": "100.5", "B": "4", "a": "101.0", "A": "1.5"},
        {"u": 110, "E": T0 + 5_000, "b": "100.5", "B": "4", "a": "102.0", "A": "3"},
        {"u": 112, "E": T0 + MIN, "b": "100.5", "B": "4", "a": "100.9", "A": "2"},
    ]
    path = write(tmp_path / "f.feed", feed_lines(diffs, trades=trades, tickers=tickers))
    frames = read_binance_feed(path, contract_size=0.001)
    book = frames["book"]
    assert book["ts"].tolist() == [T0, T0 + MIN]
    first, second = book.iloc[0], book.iloc[1]
    assert (first.bid_px_1, first.bid_sz_1, first.bid_px_2, first.ask_px_1) == (100.5, 0.004, 99.0, 101.0)
    assert np.isnan(first.bid_px_3)
    assert (second.ask_px_1, second.ask_sz_1, second.ask_px_2) == (100.9, 0.002, 102.0)
    assert frames["taker"]["ts"].tolist() == [T0]
    assert frames["taker"][["taker_buy_base", "taker_sell_base"]].iloc[0].tolist() == pytest.approx([0.002, 0.003])


def test_feed_with_a_gap_in_the_diff_stream_raises_naming_pu(tmp_path: Path) -> None:
    diffs = [diff(98, 103, 95, T0 - 1_000), diff(105, 110, 104, T0 + 1_000)]
    with pytest.raises(DataError, match=r"f\.feed: field 'line 3: pu'.*gap"):
        read_binance_feed(write(tmp_path / "f.feed", feed_lines(diffs)))


def test_feed_whose_first_diff_misses_the_snapshot_raises_naming_u(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"field 'line 2: U'.*lost"):
        read_binance_feed(write(tmp_path / "f.feed", feed_lines([diff(105, 110, 104, T0)])))


def test_feed_without_snapshot_or_with_a_disagreeing_book_ticker_raises(tmp_path: Path) -> None:
    no_snapshot = write(tmp_path / "a.feed", feed_lines([diff(98, 103, 95, T0)]).split("\n", 1)[1])
    with pytest.raises(DataError, match="field 'lastUpdateId'"):
        read_binance_feed(no_snapshot)
    tickers = [{"u": 103, "E": T0, "b": "99.5", "B": "4", "a": "101.0", "A": "1.5"}]
    wrong = write(tmp_path / "b.feed", feed_lines([diff(98, 103, 95, T0)], tickers=tickers))
    with pytest.raises(DataError, match="bookTicker.*replayed"):
        read_binance_feed(wrong)
