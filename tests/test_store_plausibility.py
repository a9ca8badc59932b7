"""Plausibility at the store boundary: implausible values are refused when written and when read, naming file,
column, row and value; a corrupt Parquet file is a clean error in `data info`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from botcore.cli import app
from botcore.errors import DataError
from botcore.market.store import Plausibility, Store

runner = CliRunner()
SYMBOL = "BTC/USDT:USDT"
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
MIN = 60_000


def _candles(n: int = 5) -> pd.DataFrame:
    ts = T0 + np.arange(n, dtype=np.int64) * MIN
    return pd.DataFrame({"ts": ts, "open": 100.0, "high": 101.0, "low": 99.0, "close": 100.5, "volume": 3.0})


def _raw(store: Store, kind: str, frame: pd.DataFrame) -> None:
    """Put a file into the store behind its back (another tool, a hand edit)."""
    path = store.path(kind, SYMBOL)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)


def test_a_funding_rate_of_500_percent_is_refused_when_written(tmp_path):
    store = Store(tmp_path)
    frame = pd.DataFrame({"ts": [T0, T0 + 8 * 3_600_000], "rate": [0.0001, 5.0]})
    with pytest.raises(DataError, match=r"funding\[BTC/USDT:USDT\]\.rate: row 1: must lie in \[-0\.05, 0\.05\], got 5\.0"):
        store.write("funding", SYMBOL, frame)
    assert not store.exists("funding", SYMBOL)
    # the bound is configurable
    assert Store(tmp_path, Plausibility(max_abs_funding_rate=10.0)).write("funding", SYMBOL, frame) == 2


def test_negative_volume_and_unaligned_candles_are_refused_when_written(tmp_path):
    store = Store(tmp_path)
    bad = _candles()
    bad.loc[3, "volume"] = -1.0
    with pytest.raises(DataError, match=r"candles_1m\[BTC/USDT:USDT\]\.volume: row 3: must be >= 0, got -1\.0"):
        store.write("candles_1m", SYMBOL, bad)
    shifted = _candles()
    shifted.loc[2, "ts"] += 1_000
    with pytest.raises(DataError, match=r"\.ts: row 2: 1704067321000 is not on a 60 s boundary"):
        store.write("candles_1m", SYMBOL, shifted)


@pytest.mark.parametrize("fault, pattern", [
    ("duplicate_ts", r"column ts, row 3: 1704067320000 is a duplicate of row 2"),
    ("out_of_order", r"column ts, row 2: 1704067260000 is before row 1"),
    ("string_close", r"column close is (large_)?string, not numeric"),
    ("float_ts", r"column ts is double, not int64 milliseconds"),
    ("negative_volume", r"column volume: row 4: must be >= 0, got -2\.0"),
    ("zero_price", r"column low: row 1: must be > 0, got 0\.0"),
    ("funding_bound", r"column rate: row 0: must lie in \[-0\.05, 0\.05\], got 5\.0"),
])
def test_a_stored_file_with_implausible_values_is_refused_when_read(tmp_path, fault, pattern):
    store = Store(tmp_path)
    frame, kind = _candles(), "candles_1m"
    if fault == "duplicate_ts":
        frame.loc[3, "ts"] = frame.loc[2, "ts"]
    elif fault == "out_of_order":
        frame.loc[[1, 2], "ts"] = frame.loc[[2, 1], "ts"].to_numpy()
    elif fault == "string_close":
        frame["close"] = frame["close"].astype(str)
    elif fault == "float_ts":
        frame["ts"] = frame["ts"].astype(float)
    elif fault == "negative_volume":
        frame.loc[4, "volume"] = -2.0
    elif fault == "zero_price":
        frame.loc[1, "low"] = 0.0
    else:
        frame, kind = pd.DataFrame({"ts": [T0], "rate": [5.0]}), "funding"
    _raw(store, kind, frame)
    path = store.path(kind, SYMBOL)
    for read in (lambda: store.read(kind, SYMBOL), lambda: store.last_ts(kind, SYMBOL), store.info):
        with pytest.raises(DataError, match=pattern) as exc:
            read()
        assert str(path) in str(exc.value)
    info = runner.invoke(app, ["data", "info", str(tmp_path)])
    assert info.exit_code == 1 and str(path) in info.output and isinstance(info.exception, SystemExit)


def test_a_sound_file_written_elsewhere_reads_back(tmp_path):
    store = Store(tmp_path)
    _raw(store, "candles_1m", _candles())
    assert len(store.read("candles_1m", SYMBOL)) == 5 and store.last_ts("candles_1m", SYMBOL) == T0 + 4 * MIN


def test_a_corrupt_parquet_file_is_a_clean_error(tmp_path):
    store = Store(tmp_path)
    store.write("candles_1m", SYMBOL, _candles())
    path = store.path("candles_1m", SYMBOL)
    data = bytearray(path.read_bytes())
    data[len(data) // 2:] = b"\0" * (len(data) - len(data) // 2)
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="not a readable Parquet file"):
        Store(tmp_path).read("candles_1m", SYMBOL)
    info = runner.invoke(app, ["data", "info", str(tmp_path)])
    assert info.exit_code == 1 and "not a readable Parquet file" in info.output
    assert isinstance(info.exception, SystemExit)
