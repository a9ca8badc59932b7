"""Live == replay: a paper session on the live feed, recorded, replays to the same decisions, orders and fills.

A paper live session runs against the local BloFin (REST and the ``books``
websocket channel) and intel servers for 45 cycles on a simulated clock (the
servers' clocks 3 s into each cycle, one book update pushed a cycle). For
three cycles the websocket is dropped (and refuses new connections) while
ETH's public REST endpoints answer HTTP 500: BTC's book comes over the REST
fallback, ETH's book, mark, 1m candle and taker flow are missing. Its recording (the
warm-up store beside the ledger) is then replayed the way a user does it,
``botcore run --mode paper --feed replay --data <ledger>.market --start
<first> --end <last>``, and the two ledgers are compared row for row; the
replayed snapshots miss exactly the inputs the live cycles missed.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pandas as pd
import pytest
from tenacity import wait_none

from botcore.engine.backtest import restrict_settings
from botcore.engine.live import live_loop, open_venue
from botcore.engine.testing import (
    ACTIVE_OVERRIDES,
    MONEY_TABLES,
    diff_ledgers,
    ledger_tables,
)
from botcore.intel import IntelFeeds
from botcore.ledger import Ledger
from botcore.market.download import make_exchange
from botcore.market.live import LiveFeed, live_intel_options, public_exchange
from botcore.market.recorder import read_journal
from botcore.market.replay import ReplayFeed
from botcore.market.store import Store
from botcore.market.streams import BookStream
from tests.fakes import blofin_public
from tests.fakes.blofin_server import FakeBlofin
from tests.fakes.blofin_ws import FakeBlofinWs
from tests.fakes.intel_servers import FakeIntelServer

MIN = 60_000
T = 1_710_072_000_000  # 2024-03-10 12:00 UTC
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
SYMBOLS = [BTC, ETH]
SEED = 11
WARMUP = 4_320  # 3 days: the daily volatility and the funding signal warm up on them
CYCLES = 45  # the order-flow signal (required to trade) warms up on 30 cycles of books: live books only
#: the parity tests' overrides, lowered further so the fake's calm market trades within a few cycles
OVERRIDES = {**ACTIVE_OVERRIDES, "min_conviction.sentiment_fusion": 0.05, "min_expected_roi.sentiment_fusion": 0.0,
             "min_size_kelly_multiple": "inf"}
DOWN = range(36, 39)  # cycles (1-based) without the websocket, ETH's public REST endpoints answering HTTP 500


def _until(cond, timeout_s: float = 10.0) -> None:
    end = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < end, "the book stream did not deliver in time"
        time.sleep(0.01)


def _ticks(fake, intel, faults, ws, stream, first_ms, n):
    """Grid times on the servers' clocks; each cycle's book update applied before the cycle reads it."""
    for k in range(n):
        t = first_ms + k * MIN
        fake.now_ms = intel.now_ms = t + 3_000
        if k + 1 in DOWN:
            faults.down.add("ETH-USDT")
            ws.refuse = True
            ws.drop()
            _until(lambda: isinstance(stream.book(BTC), str))
        else:
            faults.down.discard("ETH-USDT")
            ws.refuse = False
            _until(lambda: all(not isinstance(stream.book(s), str) for s in SYMBOLS))
            seqs = {s: stream.seq(s) for s in SYMBOLS}
            ws.push()
            _until(lambda seqs=seqs: all(stream.seq(s) != seqs[s] for s in SYMBOLS))
        yield t, 0


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """The live paper session: (ledger path, store, first and last cycle)."""
    from botcore.config import load_settings
    from tests.conftest import CONFIG_DIR

    settings = restrict_settings(load_settings(CONFIG_DIR), SYMBOLS)
    root = tmp_path_factory.mktemp("live_replay")
    path = root / "live.sqlite"
    fake = FakeBlofin(now_ms=T + 3_000)
    faults = blofin_public.install(fake)
    with fake, FakeIntelServer(hang_s=2.0) as intel, FakeBlofinWs(fake) as ws:
        intel.now_ms = T + 3_000
        stream = BookStream(SYMBOLS, ws_url=ws.url, api_url=fake.url, backoff_s=(0.05, 0.2)).start()
        feeds = IntelFeeds(settings, base_urls=intel.base_urls, env=intel.env,
                           options=live_intel_options(1, wait=wait_none(), timeout_s=0.5))
        feed = LiveFeed(SYMBOLS, exchange=public_exchange(fake.url, rate_limit_ms=1), intel=feeds, staleness=settings,
                        lookback_bars=2, timeout_s=3.0, attempts=1, books=stream,
                        scheduler=_ticks(fake, intel, faults, ws, stream, T + MIN, CYCLES))
        led = Ledger.open(path, starting_cash_usd=float(settings.venue.starting_equity_usd), mode="paper")
        try:
            loop = live_loop(settings, led, feed, open_venue(settings, "paper"), mode="paper", symbols=SYMBOLS,
                             warmup_bars=WARMUP, run_seed=SEED, params_overrides=dict(OVERRIDES),
                             warm_up_kwargs={"exchange": make_exchange("blofin", fake.url, rate_limit_ms=1), "end_ms": fake.now_ms,
                                             "page_limit": 100}, submit_timeout_s=2.0)
            report = loop.run()
            feed.close()
            loop.close()
        finally:
            led.close()
    assert report.cycles == CYCLES
    assert feed.streamed_books == 2 * (CYCLES - len(DOWN)) and stream.drops == 1
    assert len(fake.calls("/market/books")) == 2 * len(DOWN)  # the REST fallback, only while the stream was down
    return path, Store(f"{path}.market"), settings, T + MIN, T + CYCLES * MIN


def test_the_recording_is_an_ordinary_store_listing_every_kind_and_the_missing_cycles(session):
    path, store, _settings, first, last = session
    assert set(store.kinds()) >= {"candles_1m", "book", "mark", "funding", "open_interest", "liquidations", "taker",
                                  "fear_greed", "social"}
    info = store.info().set_index(["symbol", "kind"])
    assert info.loc[(ETH, "book"), "gaps"] == len(DOWN)  # one row marking the book missing per cycle down
    assert info.loc[(BTC, "book"), "gaps"] == 0 and info.loc[(BTC, "book"), "last"] == last
    journal = read_journal(store)
    assert journal["t_ms"].tolist() == list(range(first, last + 1, MIN))
    down = {first + (k - 1) * MIN for k in DOWN}
    for row in journal.itertuples():
        eth = set(row.missing.get(ETH, []))
        if row.t_ms in down:
            assert {"book", "mark", "taker"} <= eth and row.reasons[ETH]["book"].startswith("book stream down")
            assert "REST fallback" in row.reasons[ETH]["book"] and "book" not in row.missing.get(BTC, [])
        else:
            assert "book" not in eth and BTC not in row.missing
    out = subprocess.run([sys.executable, "-m", "botcore", "data", "info", f"{path}.market"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "book" in out.stdout and "2024-03-10 12:" in out.stdout


def test_the_replayed_snapshots_miss_exactly_what_the_live_cycles_missed(session):
    _path, store, settings, first, last = session
    journal = read_journal(store).set_index("t_ms")
    feed = ReplayFeed(store, SYMBOLS, first, last, staleness=settings, lookback_bars=2)
    for cycle in feed:
        live = journal.loc[cycle.t_ms, "missing"]
        for s, snap in cycle.snapshots.items():
            assert sorted(snap.missing) == live.get(s, []), (pd.Timestamp(cycle.t_ms, unit="ms"), s)


def test_botcore_run_replaying_the_recording_makes_the_live_sessions_decisions_orders_and_fills(session, tmp_path):
    path, _store, _settings, first, last = session
    replay = tmp_path / "replay.sqlite"
    args = ["--mode", "paper", "--feed", "replay", "--data", f"{path}.market", "--ledger", str(replay), "--start",
            str(first), "--end", str(last), "--seed", str(SEED), "--warmup-bars", str(WARMUP), "--symbols", ",".join(SYMBOLS)]
    for k, v in OVERRIDES.items():
        args += ["--override", f"{k}={v}"]
    out = subprocess.run([sys.executable, "-m", "botcore", "run", *args], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    live_t = ledger_tables(path, ("decisions", *MONEY_TABLES))
    replay_t = ledger_tables(replay, ("decisions", *MONEY_TABLES))
    assert len(live_t["decisions"]) == CYCLES * len(SYMBOLS)
    assert len(live_t["orders"]) > 0 and len(live_t["fills"]) > 0, "the session must trade for the comparison to mean anything"
    assert diff_ledgers(path, replay, ("decisions", *MONEY_TABLES)) == {}
    for name, frame in live_t.items():
        pd.testing.assert_frame_equal(frame, replay_t[name], check_exact=True, obj=name)
