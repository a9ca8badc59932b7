"""BookStream: BloFin's order books over ccxt's websocket API, in a thread of its own.

:class:`BookStream` watches the ``books`` channel of every symbol with
``ccxt.pro.blofin.watch_order_book_for_symbols`` on an event loop in a
background thread, so the books stay current between cycles. BloFin numbers
its book messages (``seqId``, and ``prevSeqId`` = the previous message's);
ccxt applies updates without checking the chain, so :class:`BlofinBooks`
checks it: an update that does not follow the last message (a lost message,
or messages out of order) drops the connection, and the next connection
starts from a fresh snapshot. A dropped or refused connection is retried
with exponential backoff (``backoff_s``); while it is down, or before a
symbol's first snapshot after it, :meth:`BookStream.book` returns None with
the reason, and the live feed falls back to REST for that symbol's book
(:class:`botcore.market.live.LiveFeed`). A book is never served from a
connection that dropped: every drop clears them all.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import ccxt
import ccxt.pro as ccxt_pro

logger = logging.getLogger(__name__)


class BlofinBooks(ccxt_pro.blofin):
    """ccxt's BloFin websocket client that checks the ``books`` sequence chain (``prevSeqId`` -> ``seqId``)."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config or {})
        self.book_seq: dict[str, int] = {}
        self.book_breaks: Counter[str] = Counter()

    def handle_order_book(self, client: Any, message: dict) -> None:
        inst = self.safe_string(self.safe_dict(message, "arg"), "instId")
        data = self.safe_dict(message, "data") or {}
        seq, prev = self.safe_integer(data, "seqId"), self.safe_integer(data, "prevSeqId")
        if self.safe_string(message, "action") != "snapshot":
            last = self.book_seq.get(inst)
            if last is None or prev != last:
                self.book_seq.clear()
                self.book_breaks[inst] += 1
                error = ccxt.NetworkError(f"books {inst}: update {prev} -> {seq} does not follow {last} "
                                          "(a lost or out-of-order message): reconnecting for a fresh snapshot")
                client.on_error(error)
                return
        self.book_seq[inst] = seq
        super().handle_order_book(client, message)


class BookStream:
    """The books of ``symbols`` kept current over BloFin's websocket (module docstring).

    Parameters
    ----------
    symbols : sequence of str
        ccxt symbols.
    ws_url : str, optional
        Replaces BloFin's public websocket URL (a test server).
    api_url : str, optional
        Replaces BloFin's REST URL (where the markets are loaded from once).
    levels : int
        Depth kept per side.
    backoff_s : (float, float)
        First and longest wait before reconnecting (doubling in between).
    """

    def __init__(self, symbols: Sequence[str], ws_url: str | None = None, api_url: str | None = None, levels: int = 10,
                 backoff_s: tuple[float, float] = (0.5, 10.0), exchange: Any = None) -> None:
        self.symbols = tuple(symbols)
        self.levels = int(levels)
        self.backoff_s = backoff_s
        self.exchange = exchange if exchange is not None else BlofinBooks({"enableRateLimit": True})
        if ws_url is not None:
            self.exchange.urls["api"]["ws"]["swap"]["public"] = ws_url
        if api_url is not None:
            self.exchange.urls["api"]["rest"] = api_url
        self.up = False
        self.error: str | None = "not connected yet"
        self.connects = 0
        self.drops = 0
        self.messages = 0
        self._books: dict[str, tuple[int, list[list[float]], list[list[float]], float]] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._task: Any = None

    # ------------------------------------------------------------------ reading

    def book(self, symbol: str) -> tuple[int, list[list[float]], list[list[float]]] | str:
        """``(venue ms, bids, asks)`` of ``symbol`` (``[price, contracts]``, best first), or why there is none."""
        with self._lock:
            if not self.up:
                return f"book stream down: {self.error}"
            hit = self._books.get(symbol)
        if hit is None:
            return "book stream: no snapshot of this symbol since the stream (re)connected"
        return hit[0], hit[1], hit[2]

    def seq(self, symbol: str) -> int | None:
        """The venue's sequence number of the last message applied to ``symbol``'s book."""
        try:
            inst = self.exchange.market(symbol)["id"]
        except (ccxt.BaseError, TypeError):
            return None
        return self.exchange.book_seq.get(inst)

    # ------------------------------------------------------------------ running

    def start(self) -> BookStream:
        """Start watching in a background thread."""
        if self._thread is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="blofin-books", daemon=True)
            self._thread.start()
            self._task = asyncio.run_coroutine_threadsafe(self._spawn(), self._loop).result(10)
        return self

    async def _spawn(self) -> Any:
        return asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        delay = self.backoff_s[0]
        while True:
            try:
                await self.exchange.watch_order_book_for_symbols(list(self.symbols))
                books = {}
                for s in self.symbols:  # every book this connection has a snapshot of (updates may come in bursts)
                    ob = self.exchange.orderbooks.get(s)
                    if ob is not None and self.exchange.market(s)["id"] in self.exchange.book_seq:
                        books[s] = (int(ob["timestamp"] or 0), [list(b[:2]) for b in ob["bids"][: self.levels]],
                                    [list(a[:2]) for a in ob["asks"][: self.levels]], time.monotonic())
                with self._lock:
                    if not self.up:
                        self.connects += 1
                    self.up, self.error = True, None
                    self.messages += 1
                    self._books = books
                delay = self.backoff_s[0]
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure is a drop: logged, books cleared, retried
                with self._lock:
                    if self.up:
                        self.drops += 1
                    self.up, self.error = False, f"{type(exc).__name__}: {str(exc)[:200]}"
                    self._books = {}
                    self.exchange.book_seq.clear()
                logger.warning("book stream down (%s): reconnecting in %.1f s", self.error, delay)
                await asyncio.sleep(delay)
                delay = min(2 * delay, self.backoff_s[1])

    def close(self) -> None:
        """Stop watching and close the connection."""
        if self._loop is None:
            return
        loop = self._loop

        async def stop() -> None:
            self._task.cancel()
            await self.exchange.close()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)  # type: ignore[union-attr]
        loop.close()
        self._loop = self._thread = None


__all__ = ["BlofinBooks", "BookStream"]
