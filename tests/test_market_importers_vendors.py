"""Vendor files in their documented layouts import with the values they hold, are detected from name and header,
and sizes land in base units whatever the contract: coin-margined (inverse) contracts are priced, never counted as coins.

Layouts: CryptoDataDownload CSVs (banner line, ``Unix,Date,Symbol,...,Volume <BASE>,Volume <QUOTE>``, newest first);
Binance Vision (github.com/binance/binance-public-data: klines, aggTrades, fundingRate, futures metrics; COIN-M klines
give base volume in columns 8 and 11); Binance historical depth CSVs (``symbol,timestamp,first_update_id,
last_update_id,side,update_type,price,qty,pu``); Tardis CSVs (docs.tardis.dev/downloadable-csv-files: µs times,
trades, book_snapshot_N with ``asks[i].price`` ..., derivative_ticker)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from botcore.errors import DataError
from botcore.market.frames import CsvOptions, candles_from_trades, contract_for, resample_bars
from botcore.market.importers import Format, detect_format, import_path
from botcore.market.store import Store, resample_candles

MIN = 60_000
DAY = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- CryptoDataDownload, generic CSV options

CDD = """https://www.CryptoDataDownload.com
Unix,Date,Symbol,Open,High,Low,Close,Volume BTC,Volume USDT,tradecount
1704067380000,2024-01-01 00:03:00,BTCUSDT,42310.0,42330.0,42300.0,42320.0,4.0,169280.0,90
1704067320000,2024-01-01 00:02:00,BTCUSDT,42300.0,42315.0,42295.0,42310.0,3.0,126930.0,80
1704067260000,2024-01-01 00:01:00,BTCUSDT,42290.0,42305.0,42285.0,42300.0,2.0,84600.0,70
1704067200000,2024-01-01 00:00:00,BTCUSDT,42280.0,42295.0,42270.0,42290.0,1.0,42290.0,60
"""


def test_cryptodatadownload_banner_file_imports_oldest_first_with_base_volume(tmp_path: Path) -> None:
    path = write(tmp_path / "Binance_BTCUSDT_minute.csv", CDD)
    got = import_path(path, symbol="BTC/USDT")
    assert got.format is Format.CRYPTODATADOWNLOAD
    bars = got.frames["candles_1m"]
    assert bars["ts"].tolist() == [DAY + i * MIN for i in range(4)]
    assert bars["close"].tolist() == [42290.0, 42300.0, 42310.0, 42320.0]
    assert bars["volume"].tolist() == [1.0, 2.0, 3.0, 4.0]  # 'Volume BTC', not 'Volume USDT'
    seconds = CDD.replace("1704067", "1704067").replace("00000,", "00,").replace("20000,", "20,").replace("60000,", "60,").replace("80000,", "80,")
    assert import_path(write(tmp_path / "s.csv", seconds), symbol="BTC/USDT").frames["candles_1m"]["ts"].tolist() == bars["ts"].tolist()
    with pytest.raises(DataError, match=r"field 'Symbol'.*BTCUSDT.*ETH/USDT"):
        import_path(path, symbol="ETH/USDT")


def test_generic_csv_options_skip_rename_parse_local_time_and_check_order(tmp_path: Path) -> None:
    body = "exported by a terminal\nsecond junk line\nZeit,o,h,l,c,vol\n"
    body += "01/07/2024 02:01,10,12,9,11,5\n01/07/2024 02:00,9,10,8,10,4\n"  # newest first, Berlin summer time (UTC+2)
    path = write(tmp_path / "custom.csv", body)
    options = CsvOptions(
        skip_lines=2,
        columns=(("timestamp", "Zeit"), ("open", "o"), ("high", "h"), ("low", "l"), ("close", "c"), ("volume", "vol")),
        time_format="%d/%m/%Y %H:%M", time_zone="Europe/Berlin", order="descending",
    )
    bars = import_path(path, "csv", "BTC/USDT", volume_unit="base", csv_options=options).frames["candles_1m"]
    july_1 = 1_719_792_000_000  # 2024-07-01 00:00 UTC
    assert bars["ts"].tolist() == [july_1, july_1 + MIN] and bars["close"].tolist() == [10.0, 11.0]
    with pytest.raises(DataError, match=r"custom\.csv: field 'timestamp': rows are not in ascending time order"):
        import_path(path, "csv", "BTC/USDT", csv_options=options._replace(order="ascending"))
    seconds = write(tmp_path / "sec.csv", "t,open,high,low,close,volume\n1704067200,1,2,1,2,3\n1704067260,2,2,1,1,3\n")
    got = import_path(seconds, "csv", "BTC/USDT", csv_options=CsvOptions(time_column="t", time_unit="s"), volume_unit="base")
    assert got.frames["candles_1m"]["ts"].tolist() == [DAY, DAY + MIN]
    with pytest.raises(DataError, match=r"sec\.csv: field 't \(read in ms\)'.*outside 2000-2100"):
        import_path(seconds, "csv", "BTC/USDT", csv_options=CsvOptions(time_column="t"))
    with pytest.raises(DataError, match=r"field 'column 'Time'': not in the file's header"):
        import_path(seconds, "csv", "BTC/USDT", csv_options=CsvOptions(columns=(("timestamp", "Time"),)))


# --------------------------------------------------------------------------- Binance Vision

KLINE_HEADER = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n"
KLINES = [
    f"{DAY},42280.0,42295.0,42270.0,42290.0,10.0,{DAY + MIN - 1},422900.0,100,6.0,253740.0,0",
    f"{DAY + MIN},42290.0,42305.0,42285.0,42300.0,8.0,{DAY + 2 * MIN - 1},338400.0,90,2.0,84600.0,0",
]


def test_binance_vision_klines_with_or_without_header_give_candles_and_taker_volume(tmp_path: Path) -> None:
    for name, body in (("BTCUSDT-1m-2024-01-01.csv", KLINE_HEADER + "\n".join(KLINES)), ("BTCUSDT-1m-2023-01-01.csv", "\n".join(KLINES))):
        path = write(tmp_path / name, body + "\n")
        assert detect_format(path) is Format.BINANCE_KLINES
        frames = import_path(path, symbol="BTC/USDT:USDT").frames
        assert frames["candles_1m"]["volume"].tolist() == [10.0, 8.0]
        assert frames["taker"]["ts"].tolist() == [DAY, DAY + MIN]
        assert frames["taker"]["taker_buy_base"].tolist() == [6.0, 2.0] and frames["taker"]["taker_sell_base"].tolist() == [4.0, 6.0]
    micro = "\n".join(f"{int(line.split(',')[0]) * 1000}," + line.split(",", 1)[1] for line in KLINES)  # spot files from 2025: µs
    bars = import_path(write(tmp_path / "BTCUSDT-1m-2025-01-01.csv", micro + "\n"), symbol="BTC/USDT").frames["candles_1m"]
    assert bars["ts"].tolist() == [DAY, DAY + MIN]
    hourly = write(tmp_path / "ETHUSDT-1h-2024-01-01.csv", f"{DAY},1,2,1,2,5,{DAY + 3_599_999},10,1,2,4,0\n")
    assert list(import_path(hourly, symbol="ETH/USDT:USDT").frames) == ["candles_1h"]


def test_coin_margined_klines_count_contracts_and_take_base_volume_from_their_own_column(tmp_path: Path) -> None:
    # COIN-M: volume = contracts (100 USD each), column 8 = base asset volume, column 11 = taker buy base volume
    body = f"{DAY},42000.0,42100.0,41900.0,42000.0,840,{DAY + MIN - 1},2.0,50,630,1.5,0\n"
    path = write(tmp_path / "BTCUSD_PERP-1m-2024-01-01.csv", body)
    with pytest.raises(DataError, match=r"field 'symbol'.*coin-margined.*USD contracts.*BTC/USDT:USDT is linear"):
        import_path(path, symbol="BTC/USDT:USDT")
    with pytest.raises(DataError, match=r"field 'contract_value'.*BTC/USD:BTC is coin-margined.*--contract-value"):
        import_path(path, symbol="BTC/USD:BTC")
    frames = import_path(path, symbol="BTC/USD:BTC", contract_value=100).frames
    assert frames["candles_1m"]["volume"].tolist() == [2.0]  # 840 contracts x 100 USD / 42000 USD/BTC
    assert frames["taker"][["taker_buy_base", "taker_sell_base"]].iloc[0].tolist() == [1.5, 0.5]


def test_binance_vision_aggtrades_build_minute_candles_and_taker_volume(tmp_path: Path) -> None:
    rows = [  # agg id, price, qty, first id, last id, time, buyer is maker
        (1, 100.0, 1.0, 1, 1, DAY + 10, "false"), (2, 102.0, 2.0, 2, 3, DAY + 20_000, "true"),
        (3, 99.0, 0.5, 4, 4, DAY + 59_999, "false"), (4, 101.0, 3.0, 5, 5, DAY + 2 * MIN + 5_000, "true"),
        (5, 103.0, 1.0, 6, 6, DAY + 3 * MIN, "false"),
    ]
    body = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n"
    body += "".join(",".join(map(str, r)) + "\n" for r in rows)
    path = write(tmp_path / "BTCUSDT-aggTrades-2024-01-01.csv", body)
    got = import_path(path, symbol="BTC/USDT:USDT")
    assert got.format is Format.BINANCE_AGGTRADES
    bars = got.frames["candles_1m"]
    assert bars["ts"].tolist() == [DAY, DAY + MIN, DAY + 2 * MIN]  # 00:03 holds one trade at its very start: not complete
    first, quiet, third = bars.iloc[0], bars.iloc[1], bars.iloc[2]
    assert (first.open, first.high, first.low, first.close, first.volume) == (100.0, 102.0, 99.0, 99.0, 3.5)
    assert (quiet.open, quiet.high, quiet.low, quiet.close, quiet.volume) == (99.0, 99.0, 99.0, 99.0, 0.0)  # no trade
    assert (third.open, third.close, third.volume) == (101.0, 101.0, 3.0)
    taker = got.frames["taker"]
    assert taker["taker_buy_base"].tolist() == [1.5, 0.0, 0.0] and taker["taker_sell_base"].tolist() == [2.0, 0.0, 3.0]


def test_binance_vision_funding_and_metrics_give_funding_and_open_interest(tmp_path: Path) -> None:
    funding = write(tmp_path / "BTCUSDT-fundingRate-2024-01.csv",
                    f"calc_time,funding_interval_hours,last_funding_rate\n{DAY},8,0.00010000\n{DAY + 8 * 3_600_000 + 1},8,-0.00002500\n")
    got = import_path(funding, symbol="BTC/USDT:USDT")
    assert got.format is Format.BINANCE_FUNDING
    assert got.frames["funding"]["rate"].tolist() == [0.0001, -0.000025]
    header = ("create_time,symbol,sum_open_interest,sum_open_interest_value,count_toptrader_long_short_ratio,"
              "sum_toptrader_long_short_ratio,count_long_short_ratio,sum_taker_long_short_vol_ratio\n")
    metrics = write(tmp_path / "BTCUSDT-metrics-2024-01-01.csv", header
                    + "2024-01-01 00:05:00,BTCUSDT,70000.5,2961000000.0,1.5,1.4,1.3,0.95\n"
                    + "2024-01-01 00:10:00,BTCUSDT,70100.0,2965000000.0,1.5,1.4,1.3,1.05\n")
    got = import_path(metrics, symbol="BTC/USDT:USDT")
    assert got.format is Format.BINANCE_METRICS
    oi = got.frames["open_interest"]
    assert oi["ts"].tolist() == [DAY + 5 * MIN, DAY + 10 * MIN] and oi["oi_usd"].tolist() == [2961000000.0, 2965000000.0]


def test_binance_depth_snapshot_and_updates_replay_into_minute_books(tmp_path: Path) -> None:
    header = "symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu\n"
    snap = [("b", 100.0, 1.0), ("b", 99.0, 2.0), ("a", 101.0, 1.5), ("a", 102.0, 3.0)]
    snap_body = header + "".join(f"BTCUSDT,{DAY - 500},990,1000,{s},snap,{p},{q},-1\n" for s, p, q in snap)
    write(tmp_path / "BTCUSDT_T_DEPTH_2024-01-01_depth_snap.csv", snap_body)
    updates = [  # (time, first id, last id, pu, side, price, qty)
        (DAY - 100, 995, 1003, 990, "b", 100.5, 4.0), (DAY - 100, 995, 1003, 990, "b", 100.0, 0.0),
        (DAY + 30_000, 1004, 1010, 1003, "a", 101.0, 0.0), (DAY + MIN + 1, 1011, 1012, 1010, "a", 100.8, 2.0),
    ]
    upd_body = header + "".join(f"BTCUSDT,{t},{u0},{u1},{s},set,{p},{q},{pu}\n" for t, u0, u1, pu, s, p, q in updates)
    path = write(tmp_path / "BTCUSDT_T_DEPTH_2024-01-01_depth_update.csv", upd_body)
    got = import_path(path, symbol="BTC/USDT:USDT")
    assert got.format is Format.BINANCE_DEPTH
    book = got.frames["book"]
    assert book["ts"].tolist() == [DAY, DAY + MIN]
    first, second = book.iloc[0], book.iloc[1]
    assert (first.bid_px_1, first.bid_sz_1, first.bid_px_2, first.ask_px_1) == (100.5, 4.0, 99.0, 101.0)
    assert np.isnan(first.bid_px_3)
    assert (second.ask_px_1, second.ask_sz_1) == (102.0, 3.0) and np.isnan(second.ask_px_2)  # 101 removed at 00:00:30
    snapshot = import_path(tmp_path / "BTCUSDT_T_DEPTH_2024-01-01_depth_snap.csv", symbol="BTC/USDT:USDT").frames["book"]
    assert snapshot["ts"].tolist() == [DAY - 500] and snapshot["ask_sz_2"].iloc[0] == 3.0
    renamed = write(tmp_path / "updates.csv", upd_body)
    assert detect_format(renamed) is Format.BINANCE_DEPTH  # by its header
    with pytest.raises(DataError, match=r"updates\.csv: field 'update_type': row 1 is 'set'.*_depth_snap\.csv"):
        import_path(renamed, symbol="BTC/USDT:USDT")
    (tmp_path / "BTCUSDT_T_DEPTH_2024-01-01_depth_snap.csv").unlink()
    with pytest.raises(DataError, match=r"field 'snapshot'.*depth_snap\.csv is not beside"):
        import_path(path, symbol="BTC/USDT:USDT")


# --------------------------------------------------------------------------- Tardis

def us(ms: int) -> int:
    return ms * 1000


def test_tardis_trades_give_candles_and_taker_and_coin_margined_amounts_are_priced(tmp_path: Path) -> None:
    rows = [(DAY + 5, "buy", 60000.0, 6), (DAY + 30_000, "sell", 60100.0, 12), (DAY + MIN + 1, "buy", 59900.0, 3)]
    header = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
    linear = write(tmp_path / "binance-futures_trades_2024-01-01_BTCUSDT.csv",
                   header + "".join(f"binance-futures,BTCUSDT,{us(t)},{us(t) + 900},{i},{s},{p},{q / 100}\n" for i, (t, s, p, q) in enumerate(rows)))
    got = import_path(linear, symbol="BTC/USDT:USDT")
    assert got.format is Format.TARDIS_TRADES
    assert got.frames["candles_1m"]["ts"].tolist() == [DAY] and got.frames["candles_1m"]["volume"].iloc[0] == pytest.approx(0.18)
    inverse = write(tmp_path / "binance-delivery_trades_2024-01-01_BTCUSD_PERP.csv",
                    header + "".join(f"binance-delivery,BTCUSD_PERP,{us(t)},{us(t)},{i},{s},{p},{q}\n" for i, (t, s, p, q) in enumerate(rows)))
    with pytest.raises(DataError, match=r"field 'symbol'.*binance-delivery BTCUSD_PERP is a coin-margined"):
        import_path(inverse, symbol="BTC/USDT:USDT")
    frames = import_path(inverse, symbol="BTC/USD:BTC", contract_value=100).frames
    taker = frames["taker"].iloc[0]
    assert taker.taker_buy_base == pytest.approx(6 * 100 / 60000.0)  # 0.01 BTC, not 6 BTC
    assert taker.taker_sell_base == pytest.approx(12 * 100 / 60100.0)


def test_tardis_book_snapshots_are_sampled_each_minute_in_base_units(tmp_path: Path) -> None:
    cols = ["exchange", "symbol", "timestamp", "local_timestamp"]
    for i in range(5):
        cols += [f"asks[{i}].price", f"asks[{i}].amount", f"bids[{i}].price", f"bids[{i}].amount"]

    def row(t: int, mid: float) -> str:
        levels = []
        for i in range(5):
            levels += [mid + 0.5 + i, 1.0 + i, mid - 0.5 - i, 2.0 + i]
        return ",".join(map(str, ["binance-futures", "BTCUSDT", us(t), us(t) + 50, *levels]))

    body = ",".join(cols) + "\n" + "\n".join(row(t, m) for t, m in ((DAY - 2_000, 100.0), (DAY + 10_000, 101.0), (DAY + MIN, 102.0))) + "\n"
    path = write(tmp_path / "binance-futures_book_snapshot_5_2024-01-01_BTCUSDT.csv", body)
    got = import_path(path, symbol="BTC/USDT:USDT")
    assert got.format is Format.TARDIS_BOOK
    book = got.frames["book"]
    assert book["ts"].tolist() == [DAY, DAY + MIN]
    assert (book["bid_px_1"].tolist(), book["ask_px_1"].tolist()) == ([99.5, 101.5], [100.5, 102.5])
    assert book["ask_sz_5"].iloc[0] == 5.0 and np.isnan(book["ask_px_6"].iloc[0])  # five levels in the file


def test_tardis_derivative_ticker_gives_mark_open_interest_and_settled_funding(tmp_path: Path) -> None:
    header = "exchange,symbol,timestamp,local_timestamp,funding_timestamp,funding_rate,predicted_funding_rate,open_interest,last_price,index_price,mark_price\n"
    settle = DAY + 2 * MIN
    rows = [
        (DAY - 1_000, settle, 0.0001, 1000.0, 42000.0),
        (DAY + 20_000, settle, 0.00012, "", ""),  # only funding changed
        (DAY + MIN + 5, settle, 0.00015, 1010.0, 42100.0),
        (settle + 10, settle + 8 * 60 * MIN, 0.00002, "", 42050.0),
    ]
    body = header + "".join(f"binance-futures,BTCUSDT,{us(t)},{us(t)},{us(f)},{r},,{oi},,,{m}\n" for t, f, r, oi, m in rows)
    got = import_path(write(tmp_path / "binance-futures_derivative_ticker_2024-01-01_BTCUSDT.csv", body), symbol="BTC/USDT:USDT")
    assert got.format is Format.TARDIS_TICKER
    mark, oi, funding = got.frames["mark"], got.frames["open_interest"], got.frames["funding"]
    assert mark["ts"].tolist() == [DAY, DAY + MIN, DAY + 2 * MIN] and mark["mark_price"].tolist() == [42000.0, 42000.0, 42100.0]
    assert oi["oi_usd"].tolist() == [1000.0 * 42000.0, 1000.0 * 42000.0, 1010.0 * 42100.0]
    assert funding["ts"].tolist() == [settle] and funding["rate"].tolist() == [0.00015]  # the last rate before settlement


# --------------------------------------------------------------------------- detection, contracts, bars


def test_detection_failure_quotes_the_line_and_names_the_closest_formats(tmp_path: Path) -> None:
    path = write(tmp_path / "mystery.csv", "open_time,open,high,low,close_px,vol\n1,2,3,4,5,6\n")
    with pytest.raises(DataError) as err:
        detect_format(path)
    message = str(err.value)
    assert "mystery.csv: field 'format'" in message and "'open_time,open,high,low,close_px,vol'" in message
    assert "closest: csv (lacks close)" in message and "binance-klines (lacks" in message


def test_contracts_are_linear_or_inverse_and_refuse_the_wrong_unit() -> None:
    linear = contract_for("ETH/USDT:USDT", "x", contract_size=0.01)
    assert not linear.inverse and linear.base(np.array([300.0]), 2000.0).tolist() == [3.0]
    inverse = contract_for("BTC/USD:BTC", "x", contract_value=100)
    assert inverse.inverse and inverse.settle == "BTC"
    assert inverse.base(np.array([600.0]), 60_000.0).tolist() == [1.0]  # 600 contracts of 100 USD at 60k = 1 BTC
    with pytest.raises(DataError, match="is linear"):
        contract_for("BTC/USDT:USDT", "x", contract_value=100)
    with pytest.raises(DataError, match="is inverse: give its contract value"):
        contract_for("BTC/USD:BTC", "x", contract_size=0.001, contract_value=100)


def test_coin_margined_binance_feed_is_refused_as_linear_and_priced_as_inverse(tmp_path: Path) -> None:
    snapshot = {"lastUpdateId": 100, "E": DAY - 500, "T": DAY - 500, "bids": [["60000.0", "600"]], "asks": [["60010.0", "300"]]}
    diff = {"e": "depthUpdate", "E": DAY + 1_000, "T": DAY + 1_000, "U": 99, "u": 101, "pu": 98, "b": [], "a": []}
    later = {**diff, "E": DAY + MIN + 1, "T": DAY + MIN + 1, "U": 102, "u": 103, "pu": 101}
    lines = [f"1723161296000000000 {json.dumps(snapshot)}"]
    lines += [f"172316129600000000{i + 1} " + json.dumps({"stream": "btcusd_perp@depth@0ms", "data": d}) for i, d in enumerate((diff, later))]
    path = write(tmp_path / "binance-coinm_btcusd_20240101.feed", "\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"stream btcusd_perp is a coin-margined.*BTC/USDT:USDT is linear"):
        import_path(path, "binance-feed", "BTC/USDT:USDT")
    book = import_path(path, "binance-feed", "BTC/USD:BTC", contract_value=100).frames["book"]
    assert book["bid_sz_1"].iloc[0] == pytest.approx(600 * 100 / 60000.0)  # 1 BTC, not 600
    assert book["ask_sz_1"].iloc[0] == pytest.approx(300 * 100 / 60010.0)


def test_candles_from_trades_resample_to_any_bar_with_the_stores_resampler() -> None:
    rng = np.random.default_rng(7)
    ts = np.sort(rng.integers(DAY, DAY + 10 * MIN, 400))
    ts[0], ts[-1] = DAY, DAY + 10 * MIN - 1
    price = 100 + np.cumsum(rng.normal(0, 0.1, len(ts)))
    qty = rng.uniform(0.1, 1, len(ts))
    minutes = candles_from_trades(ts, price, qty)
    assert minutes["ts"].tolist() == [DAY + i * MIN for i in range(10)]
    assert minutes["volume"].sum() == pytest.approx(qty.sum())
    for i in (0, 9):
        inside = (ts >= DAY + i * MIN) & (ts < DAY + (i + 1) * MIN)
        assert minutes["open"].iloc[i] == price[inside][0] and minutes["close"].iloc[i] == price[inside][-1]
        assert minutes["high"].iloc[i] == price[inside].max() and minutes["low"].iloc[i] == price[inside].min()
    five = candles_from_trades(ts, price, qty, timeframe="5m")
    pd.testing.assert_frame_equal(five, resample_candles(minutes, MIN, 5 * MIN, DAY + 10 * MIN))
    pd.testing.assert_frame_equal(resample_bars(minutes, "1m", "5m"), five)
    assert five["high"].iloc[0] == price[ts < DAY + 5 * MIN].max()
    with pytest.raises(DataError, match="cannot build"):
        resample_bars(five, "5m", "1m")


def test_an_import_can_also_store_coarser_bars_from_its_trades(tmp_path: Path) -> None:
    header = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
    rows = "".join(f"binance-futures,BTCUSDT,{(DAY + i * 10_000) * 1000},{(DAY + i * 10_000) * 1000},{i},buy,{100 + i % 7},1\n"
                   for i in range(6 * 65))  # 65 minutes of trades every 10 s
    path = write(tmp_path / "binance-futures_trades_2024-01-01_BTCUSDT.csv", header + rows)
    frames = import_path(path, symbol="BTC/USDT:USDT", resample_to=("5m", "1h")).frames
    minutes = frames["candles_1m"]
    pd.testing.assert_frame_equal(frames["candles_5m"], resample_bars(minutes, "1m", "5m"))
    assert frames["candles_1h"]["ts"].tolist() == [DAY] and frames["candles_1h"]["volume"].iloc[0] == 360.0
    funding = write(tmp_path / "BTCUSDT-fundingRate-2024-01.csv", f"calc_time,funding_interval_hours,last_funding_rate\n{DAY},8,0.0001\n")
    with pytest.raises(DataError, match=r"field 'resample'.*no candles"):
        import_path(funding, symbol="BTC/USDT:USDT", resample_to=("5m",))


def test_every_vendor_file_imports_through_the_cli_and_data_info_shows_it(tmp_path: Path) -> None:
    store = tmp_path / "store"
    cdd = write(tmp_path / "Binance_BTCUSDT_minute.csv", CDD)
    klines = write(tmp_path / "BTCUSDT-1m-2024-01-01.csv", KLINE_HEADER + "\n".join(KLINES) + "\n")
    coin_m = write(tmp_path / "BTCUSD_PERP-1m-2024-01-01.csv", f"{DAY},42000.0,42100.0,41900.0,42000.0,840,{DAY + MIN - 1},2.0,50,630,1.5,0\n")
    cli = [sys.executable, "-m", "botcore", "data"]
    for path, symbol, extra in ((cdd, "BTC/USDT", []), (klines, "BTC/USDT:USDT", []), (coin_m, "BTC/USD:BTC", ["--contract-value", "100"])):
        done = subprocess.run([*cli, "import", str(path), "--out", str(store), "--symbol", symbol, *extra], capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
    refused = subprocess.run([*cli, "import", str(coin_m), "--out", str(store), "--symbol", "BTC/USDT:USDT"], capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode == 1 and "coin-margined" in refused.stderr and "Traceback" not in refused.stderr
    empty = write(tmp_path / "empty.csv", "")
    done = subprocess.run([*cli, "import", str(empty), "--out", str(store), "--format", "csv", "--symbol", "BTC/USDT"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1 and "empty.csv: field 'file': empty" in done.stderr and "Traceback" not in done.stderr
    info = subprocess.run([*cli, "info", str(store)], capture_output=True, text=True, timeout=120, check=False)
    assert info.returncode == 0, info.stderr
    for needle in ("BTC/USDT", "BTC/USDT:USDT", "BTC/USD:BTC", "candles_1m", "taker", "2024-01-01 00:00"):
        assert needle in info.stdout, info.stdout
    assert Store(store).read("candles_1m", "BTC/USD:BTC")["volume"].tolist() == [2.0]
