"""The book stream: BloFin's ``books`` websocket channel through ccxt.pro, against a local server built from the docs.

:class:`tests.fakes.blofin_ws.FakeBlofinWs` serves the snapshot and updates of
the REST fake's books; the live feed reads streamed books instead of asking
REST, reconnects with backoff when the stream drops, detects lost and
out-of-order messages by BloFin's sequence numbers, falls back to REST while
the stream is down and leaves the book missing (never an older one) when
REST fails too.
"""

from __future__ import annotations

import time

import pytest

from botcore.market.live import LiveFeed, public_exchange
from botcore.market.streams import BookStream
from tests.fakes import blofin_public
from tests.fakes.blofin_server import FakeBlofin
from tests.fakes.blofin_ws import FakeBlofinWs

MIN = 60_000
T = 1_710_072_000_000
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
INST = {BTC: "BTC-USDT", ETH: "ETH-USDT"}


def until(cond, timeout_s: float = 8.0) -> None:
    end = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture
def servers():
    fake = FakeBlofin(now_ms=T + 3_000)
    faults = blofin_public.install(fake)
    with fake, FakeBlofinWs(fake) as ws:
        stream = BookStream([BTC, ETH], ws_url=ws.url, api_url=fake.url, backoff_s=(0.05, 0.2)).start()
        feed = LiveFeed([BTC, ETH], exchange=public_exchange(fake.url, rate_limit_ms=1), staleness=None,
                        lookback_bars=2, timeout_s=3.0, attempts=1, books=stream)
        try:
            until(lambda: all(not isinstance(stream.book(s), str) for s in (BTC, ETH)))
            yield fake, faults, ws, stream, feed
        finally:
            feed.close()


def expected(fake, symbol):
    bids, asks, _ = blofin_public.book(fake, INST[symbol], 10)
    cv = float(next(i for i in fake.instruments if i["instId"] == INST[symbol])["contractValue"])
    return [float(p) for p, _ in bids], [float(s) * cv for _, s in asks]


def check(cycle, fake):
    for s, snap in cycle.snapshots.items():
        bid_px, ask_sz = expected(fake, s)
        assert snap.book is not None, s
        assert snap.book.bid_px.tolist() == bid_px and snap.book.ask_sz.tolist() == pytest.approx(ask_sz), s
        assert snap.book.ts_ms == cycle.t_ms


def push(fake, ws, stream, now_ms):
    fake.now_ms = now_ms
    seqs = {s: stream.seq(s) for s in (BTC, ETH)}
    ws.push()
    until(lambda: all(stream.seq(s) not in (None, seqs[s]) and not isinstance(stream.book(s), str) for s in (BTC, ETH)))


def test_streamed_books_replace_rest_and_follow_the_updates(servers):
    fake, _faults, ws, stream, feed = servers
    for k, t in enumerate((T, T + MIN, T + 2 * MIN)):
        if k:
            push(fake, ws, stream, t + 3_000)
        check(feed.at(t), fake)
    assert fake.calls("/market/books") == [] and feed.streamed_books == 6
    assert feed.request_counts["fetch_order_book"] == 0 and stream.connects == 1


@pytest.mark.parametrize("fault", ["gap_next", "reorder_next"])
def test_a_lost_or_out_of_order_message_reconnects_for_a_fresh_snapshot(servers, fault):
    fake, _faults, ws, stream, feed = servers
    getattr(ws, fault)("ETH-USDT")
    fake.now_ms = T + 3_000
    ws.push()
    until(lambda: stream.exchange.book_breaks["ETH-USDT"] == 1)
    until(lambda: ws.connections == 2 and all(not isinstance(stream.book(s), str) for s in (BTC, ETH)))
    check(feed.at(T), fake)  # the new snapshot, not a book with a message missing
    assert fake.calls("/market/books") == []


def test_a_dropped_stream_falls_back_to_rest_then_leaves_the_book_missing_and_comes_back(servers):
    fake, faults, ws, stream, feed = servers
    ws.refuse = True
    ws.drop()
    until(lambda: isinstance(stream.book(BTC), str))
    cycle = feed.at(T)  # stream down: the books come over REST
    check(cycle, fake)
    assert len(fake.calls("/market/books")) == 2
    faults.down.add("ETH-USDT")  # REST fails too for ETH: its book is missing, never an older streamed one
    fake.now_ms = T + MIN + 3_000
    cycle = feed.at(T + MIN)
    assert cycle.snapshots[ETH].book is None and "book" in cycle.snapshots[ETH].missing
    assert feed.last_faults[ETH]["book"].startswith("book stream down") and "REST fallback" in feed.last_faults[ETH]["book"]
    assert cycle.snapshots[BTC].book is not None
    faults.down.clear()
    ws.refuse = False  # the stream reconnects with backoff and serves again
    until(lambda: all(not isinstance(stream.book(s), str) for s in (BTC, ETH)))
    n = len(fake.calls("/market/books"))
    push(fake, ws, stream, T + 2 * MIN + 3_000)
    check(feed.at(T + 2 * MIN), fake)
    assert stream.drops == 1 and stream.connects == 2
    assert len(fake.calls("/market/books")) == n  # streamed again


def test_by_default_the_feed_streams_books_only_from_blofin_itself():
    assert isinstance(LiveFeed([BTC], staleness=None).books, BookStream)  # not started before the first cycle
    with FakeBlofin() as fake:
        assert LiveFeed([BTC], exchange=public_exchange(fake.url), staleness=None).books is None
    assert LiveFeed([BTC], staleness=None, books=None).books is None
