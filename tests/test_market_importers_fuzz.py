"""Importers never crash: every mutated or generated input ends in an import the store accepts or a DataError
naming the file and the field or line (never another exception). A seeded mutated-file corpus per format and a
hypothesis property test over the same seeds."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botcore.errors import DataError
from botcore.market.frames import CsvOptions
from botcore.market.importers import Format, import_path
from botcore.market.store import Store
from tests.test_market_importers_vendors import CDD, DAY, KLINE_HEADER, KLINES

MIN = 60_000
T0 = 1_700_000_040_000  # a minute boundary


def _feed() -> str:
    snapshot = {"lastUpdateId": 100, "E": T0 - 59_500, "T": T0 - 59_500,
                "bids": [["100.0", "1.0"], ["99.0", "2.0"]], "asks": [["101.0", "1.5"], ["102.0", "3.0"]]}
    diffs = [(98, 103, 95, T0 - 1_000, [["100.0", "0"], ["100.5", "4"]], []), (104, 110, 103, T0 + 5_000, [], [["101.0", "0"]]),
             (111, 112, 110, T0 + MIN, [], [["100.9", "2"]])]
    lines = [f"1699999980500000000 {json.dumps(snapshot)}"]
    for first, last, prev, event, bids, asks in diffs:
        data = {"e": "depthUpdate", "E": event, "T": event, "U": first, "u": last, "pu": prev, "b": bids, "a": asks}
        lines.append("1700000000000000002 " + json.dumps({"stream": "btcusdt@depth@0ms", "data": data}))
    for t, q, m in ((T0 + 1, "2", False), (T0 + 2, "3", True), (T0 + MIN + 1, "1", False)):
        lines.append("1700000000000000003 " + json.dumps({"stream": "btcusdt@trade", "data": {"e": "trade", "E": t, "T": t, "q": q, "m": m}}))
    for u, event, a in ((103, T0 - 1_000, "101.0"), (112, T0 + MIN, "100.9")):
        lines.append("1700000000000000004 " + json.dumps({"stream": "btcusdt@bookTicker", "data": {"u": u, "E": event, "b": "100.5", "B": "4", "a": a, "A": "2"}}))
    return "\n".join(lines) + "\n"


#: (file name, format, symbol, text): one small valid file per format; every seed imports as it stands
SEEDS: list[tuple[str, str, str | None, str]] = [
    ("c.csv", "csv", "BTC/USDT:USDT",
     "timestamp,open,high,low,close,volume\n" + "".join(f"2022-01-01 00:0{i}:00,1,2,0.5,1.5,10\n" for i in range(5))),
    ("t.csv", "trades-csv", "ETH/USDT",
     ",timestamp,id,type,side,price,amount,cost,date\n"
     + "".join(f"{i},{1675329600138 + i * 20_000},{i},,{'buy' if i % 2 else 'sell'},1,0.5,0.5,x\n" for i in range(10))),
    ("f.csv", "funding-csv", "BTC/USDT:USDT", "20201229 00:00:00,0.0001\n20201229 08:00:00,-0.0002\n"),
    ("SOL_USDT_USDT-5m-futures.json", "freqtrade-json", None,
     json.dumps([[1_699_999_800_000 + i * 300_000, 10.0 + i, 11.0 + i, 9.0 + i, 10.5 + i, 100.0] for i in range(4)])),
    ("p.json", "pandas-json", "BTC/USDT",
     json.dumps({"date": {str(i): 1_699_999_800_000 + i * 300_000 for i in range(4)},
                 **{c: {str(i): 10.0 for i in range(4)} for c in ("open", "high", "low", "close", "volume")}})),
    ("b.feed", "binance-feed", "BTC/USDT:USDT", _feed()),
]
_TARDIS_BOOK_HEADER = ",".join(
    ["exchange", "symbol", "timestamp", "local_timestamp"]
    + [f"{side}[{i}].{what}" for i in range(5) for side in ("asks", "bids") for what in ("price", "amount")]
)
_DAY_US = DAY * 1000
SEEDS += [
    ("Binance_BTCUSDT_minute.csv", "cryptodatadownload", "BTC/USDT", CDD),
    ("BTCUSDT-1m-2024-01-01.csv", "binance-klines", "BTC/USDT:USDT", KLINE_HEADER + "\n".join(KLINES) + "\n"),
    ("BTCUSDT-aggTrades-2024-01-01.csv", "binance-aggtrades", "BTC/USDT:USDT",
     "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n"
     + "".join(f"{i},{100 + i % 3},{0.5 + i % 2},{i},{i},{DAY + i * 7_000},{'true' if i % 2 else 'false'}\n" for i in range(20))),
    ("BTCUSDT-fundingRate-2024-01.csv", "binance-funding", "BTC/USDT:USDT",
     f"calc_time,funding_interval_hours,last_funding_rate\n{DAY},8,0.0001\n{DAY + 28_800_000},8,-0.00002\n"),
    ("BTCUSDT-metrics-2024-01-01.csv", "binance-metrics", "BTC/USDT:USDT",
     "create_time,symbol,sum_open_interest,sum_open_interest_value,count_toptrader_long_short_ratio,"
     "sum_toptrader_long_short_ratio,count_long_short_ratio,sum_taker_long_short_vol_ratio\n"
     "2024-01-01 00:05:00,BTCUSDT,70000.5,2961000000.0,1.5,1.4,1.3,0.95\n2024-01-01 00:10:00,BTCUSDT,70100.0,2965000000.0,1.5,1.4,1.3,1.05\n"),
    ("BTCUSDT_T_DEPTH_2024-01-01_depth_snap.csv", "binance-depth", "BTC/USDT:USDT",
     "symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu\n"
     + "".join(f"BTCUSDT,{DAY},990,1000,{s},snap,{p},{q},-1\n" for s, p, q in (("b", 100, 1), ("b", 99, 2), ("a", 101, 1.5), ("a", 102, 3)))),
    ("binance-futures_trades_2024-01-01_BTCUSDT.csv", "tardis-trades", "BTC/USDT:USDT",
     "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
     + "".join(f"binance-futures,BTCUSDT,{_DAY_US + i * 9_000_000},{_DAY_US + i * 9_000_000 + 5},{i},{'buy' if i % 3 else 'sell'},{100 + i % 4},0.{i + 1}\n" for i in range(20))),
    ("binance-futures_book_snapshot_5_2024-01-01_BTCUSDT.csv", "tardis-book-snapshot", "BTC/USDT:USDT",
     _TARDIS_BOOK_HEADER + "\n" + "".join(
         "binance-futures,BTCUSDT," + f"{_DAY_US + t * 20_000_000},{_DAY_US + t * 20_000_000 + 9}," + ",".join(
             f"{100.5 + i + t},{1 + i},{99.5 - i + t},{2 + i}" for i in range(5)) + "\n" for t in range(8))),
    ("binance-futures_derivative_ticker_2024-01-01_BTCUSDT.csv", "tardis-derivative-ticker", "BTC/USDT:USDT",
     "exchange,symbol,timestamp,local_timestamp,funding_timestamp,funding_rate,predicted_funding_rate,open_interest,last_price,index_price,mark_price\n"
     + "".join(f"binance-futures,BTCUSDT,{_DAY_US + i * 30_000_000},{_DAY_US + i * 30_000_000},{_DAY_US + 120_000_000},0.000{i + 1},,{1000 + i},,,{42000 + i}\n" for i in range(8))),
]
TOKENS = ["", "nan", "inf", "-1", "0", "1e400", "null", "[]", "{}", '"x"', "[1]", "[[1,2,3]]", "99999999999999999999999",
          "abc", ",", '"', "true", "-0", '["1",null]', "\n", "2022-13-45", "1e-300", "\x00", "é"]


def mutate(text: str, rng: random.Random) -> bytes:
    """One random damage of a file: a byte, a cut, a lost/doubled/shuffled line, a replaced token, inserted bytes."""
    data = bytearray(text.encode())
    lines = text.split("\n")
    op = rng.randrange(8)
    if op == 0 and data:
        data[rng.randrange(len(data))] = rng.randrange(256)
    elif op == 1:
        return data[: rng.randrange(len(data) + 1)]
    elif op == 2:
        del lines[rng.randrange(len(lines))]
        return "\n".join(lines).encode()
    elif op == 3:
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(lines))
        return "\n".join(lines).encode()
    elif op == 4:
        parts = re.split(r"([,:\[\]{} \n])", text)
        parts[rng.randrange(len(parts))] = rng.choice(TOKENS)
        return "".join(parts).encode()
    elif op == 5:
        return "\n".join(rng.sample(lines, len(lines))).encode()
    elif op == 6:
        return b""
    else:
        for _ in range(rng.randrange(1, 5)):
            data.insert(rng.randrange(len(data) + 1), rng.choice(b',\n[]{}"0-.e:'))
    return bytes(data)


def import_or_clean_error(path: Path, fmt: str | None, symbol: str | None, store_root: Path) -> str:
    """Import ``path`` into a store; return 'imported' or 'error'. Any other exception fails the test."""
    try:
        got = import_path(path, fmt, symbol)
        store = Store(store_root)
        for kind, df in got.frames.items():
            store.write(kind, got.symbol, df)
        return "imported"
    except DataError as exc:
        message = str(exc)
        assert message.startswith(str(path)) or f"{path}" in message, message  # names the file ...
        assert re.search(r"field '[^']+'|\w+\.\w+:", message), message  # ... and the field or line
        return "error"


@pytest.mark.parametrize(("name", "fmt", "symbol", "text"), SEEDS, ids=[s[1] for s in SEEDS])
def test_every_seed_imports_as_written(tmp_path: Path, name: str, fmt: str, symbol: str | None, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert import_or_clean_error(path, fmt, symbol, tmp_path / "store") == "imported"
    assert import_path(path, None, symbol).format is Format(fmt)  # detected too


@pytest.mark.parametrize(("name", "fmt", "symbol", "text"), SEEDS, ids=[s[1] for s in SEEDS])
def test_mutated_corpus_of_each_format_imports_or_fails_cleanly(tmp_path: Path, name: str, fmt: str, symbol: str | None, text: str) -> None:
    rng = random.Random(f"corpus-{fmt}")
    outcomes = {"imported": 0, "error": 0}
    for i in range(100):
        data = mutate(text, rng)
        if i % 3 == 0:
            data = mutate(data.decode(errors="replace"), rng)
        path = tmp_path / name
        path.write_bytes(data)
        outcomes[import_or_clean_error(path, fmt if i % 4 else None, symbol, tmp_path / f"store{i % 2}")] += 1
    assert outcomes["error"] > 0 and outcomes["imported"] > 0, outcomes  # the corpus exercises both ends


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(SEEDS), damage=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=3), detect=st.booleans())
def test_any_damage_to_any_format_imports_or_fails_cleanly(tmp_path: Path, seed: tuple, damage: list[int], detect: bool) -> None:
    name, fmt, symbol, text = seed
    data = text.encode()
    for d in damage:
        data = mutate(data.decode(errors="replace"), random.Random(d))
    path = tmp_path / name
    path.write_bytes(data)
    import_or_clean_error(path, None if detect else fmt, symbol, tmp_path / "store")


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    frame=st.lists(
        st.tuples(*[st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-2**63, 2**63 - 1), st.text(max_size=4), st.none())] * 6),
        max_size=6,
    )
)
def test_any_table_in_a_freqtrade_feather_imports_or_fails_cleanly(tmp_path: Path, frame: list[tuple]) -> None:
    path = tmp_path / "BTC_USDT_USDT-1m-futures.feather"
    df = pd.DataFrame(frame, columns=["date", "open", "high", "low", "close", "volume"]).astype(object)
    try:
        df.astype(str).to_feather(path) if frame and not all(isinstance(v, (int, float)) for row in frame for v in row) else df.astype("float64").to_feather(path)
    except (ValueError, TypeError, OverflowError):
        return
    import_or_clean_error(path, None, None, tmp_path / "store")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    skip=st.integers(-1, 3),
    time_column=st.sampled_from(["timestamp", "Zeit", "open", "x"]),
    unit=st.sampled_from(["auto", "s", "ms", "us", "ns", "minutes"]),
    fmt=st.one_of(st.none(), st.sampled_from(["%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M:%S", "%Q", "", "%s"]), st.text(max_size=6)),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "Mars/Base", "", "+02:00"]),
    order=st.sampled_from(["any", "ascending", "descending", "sideways"]),
    rename=st.lists(st.tuples(st.sampled_from(["timestamp", "open", "high", "volume", "bogus"]), st.sampled_from(["Zeit", "o", "low", "vol", "nope"])), max_size=3),
)
def test_any_csv_options_import_or_fail_cleanly(tmp_path: Path, skip, time_column, unit, fmt, zone, order, rename) -> None:
    path = tmp_path / "custom.csv"
    path.write_text("banner\nZeit,o,high,low,close,vol\n01/07/2024 02:01,10,12,9,11,5\n01/07/2024 02:00,9,10,8,10,4\n")
    options = CsvOptions(skip_lines=skip, columns=tuple(rename), time_column=time_column, time_unit=unit, time_format=fmt,
                         time_zone=zone, order=order)
    try:
        import_path(path, "csv", "BTC/USDT", csv_options=options, volume_unit="base")
    except DataError as exc:
        assert str(exc).startswith(str(path)) and "field '" in str(exc), str(exc)
