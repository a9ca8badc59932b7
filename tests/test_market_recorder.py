"""The recorder and the request budget, unit by unit (the whole session is tests/test_live_replay.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from botcore.errors import DataError
from botcore.market.live import RequestBudget
from botcore.market.recorder import Recorder, read_journal
from botcore.market.replay import Cycle
from botcore.market.snapshot import Book, MarketSnapshot
from botcore.market.store import Store

MIN = 60_000
T = 1_710_072_000_000
BTC = "BTC/USDT:USDT"


def book(ts):
    return Book(ts, np.array([99.0]), np.array([1.0]), np.array([101.0]), np.array([2.0]))


def snap(t, **kw):
    return MarketSnapshot(BTC, t, {}, **kw)


def test_values_are_written_at_their_stamp_missing_ones_as_nan_rows_and_late_ones_at_the_cycle(tmp_path):
    store = Store(tmp_path)
    rec = Recorder(store, [BTC], flush_every=1)
    bars = pd.DataFrame({"ts": [T - MIN], "open": [1.0], "high": [2.0], "low": [0.5], "close": [1.5], "volume": [3.0]})
    rec.record(Cycle(T, {BTC: snap(T, book=book(T), oi_usd=5.0, oi_ts_ms=T - 30_000, long_liq_usd=1.0,
                                   short_liq_usd=2.0, liquidations_ts_ms=T)}), {BTC: bars}, {})
    rec.record(Cycle(T + MIN, {BTC: snap(T + MIN, oi_usd=6.0, oi_ts_ms=T - 40_000)}), {},
               {BTC: {"book": "timed out after 3 s"}})
    rec.close()
    assert store.read("candles_1m", BTC)["ts"].tolist() == [T - MIN]
    b = store.read("book", BTC)
    assert b["ts"].tolist() == [T, T + MIN] and b["bid_px_1"].iloc[0] == 99.0 and np.isnan(b["bid_px_1"].iloc[1])
    assert np.isnan(b["bid_px_2"].iloc[0])  # one level held: the deeper ones NaN
    oi = store.read("open_interest", BTC)  # a value stamped before the one written already: at the cycle
    assert oi["ts"].tolist() == [T - 30_000, T + MIN] and oi["oi_usd"].tolist() == [5.0, 6.0]
    liq = store.read("liquidations", BTC)  # per-minute sums at the minute's open; missing: a NaN row
    assert liq["ts"].tolist() == [T - MIN, T] and np.isnan(liq["long_liq_usd"].iloc[1])
    assert rec.restamped == 1 and store.metadata("book", BTC)["source"] == "live recording"
    journal = read_journal(store)
    assert journal["t"].tolist() == ["2024-03-10 12:00:00", "2024-03-10 12:01:00"]
    assert "book" in journal["missing"].iloc[1][BTC] and journal["reasons"].iloc[1] == {BTC: {"book": "timed out after 3 s"}}
    info = store.info().set_index("kind")
    assert info.loc["book", "gaps"] == 1 and info.loc["mark", "gaps"] == 2


def test_a_value_written_already_is_not_written_again(tmp_path):
    store = Store(tmp_path)
    rec = Recorder(store, [BTC], flush_every=1)
    for k in range(3):  # funding refreshed every 5 minutes: the same stamp and rate each cycle
        rec.record(Cycle(T + k * MIN, {BTC: snap(T + k * MIN, funding_rate=1e-4, funding_ts_ms=T,
                                                 next_funding_ts_ms=T + 8 * 60 * MIN)}), {}, {})
    rec.close()
    assert store.read("funding", BTC)["ts"].tolist() == [T]


def test_the_budget_refuses_past_a_minute_or_five_minute_window_and_frees_it_as_time_passes():
    now = {"s": 0.0}
    budget = RequestBudget(per_minute=3, per_5min=4, clock=lambda: now["s"])
    for _ in range(3):
        budget.take()
    with pytest.raises(DataError, match="3 BloFin requests in the last 60 s"):
        budget.take()
    now["s"] = 61.0
    budget.take()
    with pytest.raises(DataError, match="in the last 300 s"):
        budget.take()
    now["s"] = 301.0
    budget.take()
    assert budget.refused == 2 and budget.used(60.0) == 1
