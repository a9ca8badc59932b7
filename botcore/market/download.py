"""Downloader: history from an exchange's public REST API (BloFin by default) into the store.

Through ccxt's synchronous client with ``enableRateLimit`` (ccxt spaces the
requests by the venue's ``rateLimit``) and tenacity retries with exponential
backoff on temporary failures (``ccxt.NetworkError``: rate limits, 5xx,
timeouts). Symbol and parameter errors are not retried.

Pagination walks forward in fixed windows that cannot hold more than one page
(``page_limit`` bars, or ``page_limit`` hours of funding), because BloFin
answers a range with its NEWEST ``limit`` records. Downloads are resumable:
each starts after the last ``ts`` already stored. Only closed bars are stored
(a bar still forming at the exchange's clock is left for the next run).
Buffered rows are flushed to the store every ``flush_rows`` rows and before
any error propagates, so an interrupted run resumes where it stopped.

Open interest, liquidations and the taker ratio are not in ccxt for BloFin;
the market-intelligence clients fetch those.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import ccxt
import numpy as np
import pandas as pd
from tqdm import tqdm

from botcore.clock import HOUR_MS
from botcore.errors import DataError, TemporaryError
from botcore.market.store import BOOK_LEVELS, CANDLE_KINDS, Store, book_columns
from botcore.net import RetryPolicy, backoff, retrying_sync

log = logging.getLogger(__name__)

KIND_BY_TIMEFRAME = {kind.removeprefix("candles_"): kind for kind in CANDLE_KINDS}
TIMEFRAME_MS = {kind.removeprefix("candles_"): bar_ms for kind, bar_ms in CANDLE_KINDS.items()}
#: funding windows span page_limit × this, so no window holds more settlements than a page (1 h is the shortest interval)
MIN_FUNDING_INTERVAL_MS = HOUR_MS


#: the downloader's retries of temporary failures: 6 tries, exponential waits from 1 s capped at 60 s
DOWNLOAD_RETRY = RetryPolicy(attempts=6, wait=backoff(1.0, 60.0))


class DownloadReport(NamedTuple):
    """What one download stored: kind, symbol, rows fetched, first and last ``ts`` fetched, HTTP pages."""

    kind: str
    symbol: str
    rows: int
    first_ts: int | None
    last_ts: int | None
    pages: int


def make_exchange(exchange_id: str = "blofin", api_url: str | None = None, rate_limit_ms: int | None = None) -> ccxt.Exchange:
    """Return a rate-limited synchronous ccxt client; ``api_url`` replaces every REST base URL (a local test server)."""
    try:
        exchange_class = getattr(ccxt, exchange_id)
    except AttributeError:
        raise DataError(f"exchange: {exchange_id!r} is not a ccxt exchange id") from None
    config: dict[str, Any] = {"enableRateLimit": True}
    if rate_limit_ms is not None:
        config["rateLimit"] = rate_limit_ms
    exchange = exchange_class(config)
    if api_url is not None:
        api = exchange.urls["api"]
        exchange.urls["api"] = {k: api_url for k in api} if isinstance(api, dict) else api_url
    return exchange


def call_with_retry(fn: Callable[..., Any], *args: Any, retry: RetryPolicy = DOWNLOAD_RETRY, **kwargs: Any) -> Any:
    """Call ``fn``, retrying ccxt network errors (429, 5xx, timeouts) with backoff; raise TemporaryError when exhausted."""
    retrying = retrying_sync(retry, ccxt.NetworkError, what=str(getattr(fn, "__name__", fn)), logger=log)
    try:
        return retrying(fn, *args, **kwargs)
    except ccxt.NetworkError as exc:
        raise TemporaryError(f"{getattr(fn, '__name__', fn)}: gave up after {retry.attempts} attempts: {exc}") from exc


def _market(exchange: ccxt.Exchange, symbol: str, retry: RetryPolicy) -> dict:
    call_with_retry(exchange.load_markets, retry=retry)
    try:
        return exchange.market(symbol)
    except ccxt.BadSymbol:
        raise DataError(f"symbol: {symbol!r} is not listed on {exchange.id}") from None


class _Buffer:
    """Rows waiting to be written to one (kind, symbol) of the store."""

    def __init__(self, store: Store, kind: str, symbol: str, columns: Sequence[str], flush_rows: int) -> None:
        self.store, self.kind, self.symbol, self.columns, self.flush_rows = store, kind, symbol, list(columns), flush_rows
        self.rows: list[Sequence[float]] = []
        self.count = 0
        self.first_ts: int | None = None
        self.last_ts: int | None = None

    def add(self, rows: Iterable[Sequence[float]]) -> None:
        for row in rows:
            self.rows.append(row)
            self.count += 1
            self.first_ts = int(row[0]) if self.first_ts is None else self.first_ts
            self.last_ts = int(row[0])
        if len(self.rows) >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        df = pd.DataFrame(self.rows, columns=self.columns)
        df["ts"] = df["ts"].astype("int64")
        self.store.write(self.kind, self.symbol, df)
        log.debug("%s %s: flushed %d rows", self.kind, self.symbol, len(self.rows))
        self.rows = []


def resume_from(store: Store, kind: str, symbol: str, since_ms: int, step_ms: int) -> int:
    """Return where to start: ``since_ms`` (floored to the ``step_ms`` grid) or just after the last stored ``ts``."""
    start = since_ms - since_ms % step_ms
    last = store.last_ts(kind, symbol)
    if last is not None and last + step_ms > start:
        start = last + step_ms
        log.info("%s %s: resuming after stored ts %d", kind, symbol, last)
    return start


def download_ohlcv(
    exchange: ccxt.Exchange,
    store: Store,
    symbol: str,
    timeframe: str,
    since_ms: int,
    until_ms: int | None = None,
    *,
    page_limit: int = 100,
    flush_rows: int = 50_000,
    retry: RetryPolicy = DOWNLOAD_RETRY,
    progress: bool = True,
) -> DownloadReport:
    """Download closed ``timeframe`` candles of ``symbol`` from ``since_ms`` into ``candles_<tf>``.

    Parameters
    ----------
    exchange : a ccxt client (see :func:`make_exchange`).
    store : destination; rows merge on ``ts``.
    symbol : ccxt unified symbol, e.g. ``BTC/USDT:USDT``.
    timeframe : '1m', '5m' or '1h' (stored natively).
    since_ms : first bar open wanted (epoch ms); later if the store already holds bars.
    until_ms : stop at bars closing after this (default: the exchange clock now).
    page_limit : bars per request (BloFin: at most 1440; 100 is ccxt's default).

    ccxt reports ``volume`` in base units (BloFin's ``volCurrency``).
    """
    if timeframe not in KIND_BY_TIMEFRAME:
        raise DataError(f"timeframe: {timeframe!r} is not stored natively; use one of {list(KIND_BY_TIMEFRAME)}")
    kind, step_ms = KIND_BY_TIMEFRAME[timeframe], TIMEFRAME_MS[timeframe]
    _market(exchange, symbol, retry)
    now_ms = exchange.milliseconds() if until_ms is None else int(until_ms)
    end_ms = now_ms - now_ms % step_ms  # bars opening before this have closed by now_ms
    cursor = resume_from(store, kind, symbol, since_ms, step_ms)
    buffer = _Buffer(store, kind, symbol, ["ts", "open", "high", "low", "close", "volume"], flush_rows)
    pages = 0
    total = max(0, (end_ms - cursor) // step_ms)
    with tqdm(total=total, desc=f"{symbol} {timeframe}", unit="bar", disable=not progress, leave=False) as bar:
        try:
            while cursor < end_ms:
                window_end = min(cursor + page_limit * step_ms, end_ms)
                rows = call_with_retry(exchange.fetch_ohlcv, symbol, timeframe, since=cursor, limit=page_limit, retry=retry)
                pages += 1
                buffer.add(sorted(r for r in rows if cursor <= r[0] < window_end))
                bar.update((window_end - cursor) // step_ms)
                cursor = window_end
        finally:
            buffer.flush()
    log.info("%s %s: %d bars in %d pages", kind, symbol, buffer.count, pages)
    return DownloadReport(kind, symbol, buffer.count, buffer.first_ts, buffer.last_ts, pages)


def download_funding(
    exchange: ccxt.Exchange,
    store: Store,
    symbol: str,
    since_ms: int,
    until_ms: int | None = None,
    *,
    page_limit: int = 100,
    flush_rows: int = 50_000,
    retry: RetryPolicy = DOWNLOAD_RETRY,
    progress: bool = True,
) -> DownloadReport:
    """Download the funding-rate history of ``symbol`` from ``since_ms`` into ``funding`` (ts = settlement time).

    Each request covers ``page_limit`` hours, which holds at most ``page_limit``
    settlements even on an hourly funding schedule.
    """
    _market(exchange, symbol, retry)
    now_ms = exchange.milliseconds() if until_ms is None else int(until_ms)
    cursor = resume_from(store, "funding", symbol, since_ms, 1)
    window_ms = page_limit * MIN_FUNDING_INTERVAL_MS
    buffer = _Buffer(store, "funding", symbol, ["ts", "rate"], flush_rows)
    pages = 0
    with tqdm(total=max(0, now_ms + 1 - cursor) // HOUR_MS, desc=f"{symbol} funding", unit="h", disable=not progress, leave=False) as bar:
        try:
            while cursor <= now_ms:
                window_end = min(cursor + window_ms, now_ms + 1)
                history = call_with_retry(
                    exchange.fetch_funding_rate_history, symbol, since=cursor, limit=page_limit,
                    params={"until": window_end}, retry=retry,
                )
                pages += 1
                rows = sorted((int(h["timestamp"]), float(h["fundingRate"])) for h in history if cursor <= h["timestamp"] < window_end)
                buffer.add(rows)
                bar.update((window_end - cursor) // HOUR_MS)
                cursor = window_end
        finally:
            buffer.flush()
    log.info("funding %s: %d rates in %d pages", symbol, buffer.count, pages)
    return DownloadReport("funding", symbol, buffer.count, buffer.first_ts, buffer.last_ts, pages)


def download_mark(
    exchange: ccxt.Exchange,
    store: Store,
    symbol: str,
    since_ms: int,
    until_ms: int | None = None,
    *,
    page_limit: int = 100,
    flush_rows: int = 50_000,
    retry: RetryPolicy = DOWNLOAD_RETRY,
    progress: bool = True,
) -> DownloadReport:
    """Download the 1m mark-price history of ``symbol`` into ``mark`` (``mark_price`` = each bar's open, the mark at ``ts``).

    BloFin serves it at ``market/mark-price-candles`` (rows ``[ts, open, high,
    low, close, ...]``, newest first, ``after``/``before`` exclusive bounds),
    which ccxt does not wrap for BloFin; it is called through ccxt's implicit
    API with the same rate limit and retries. Paginated and resumed like
    :func:`download_ohlcv`.
    """
    market = _market(exchange, symbol, retry)
    fetch = getattr(exchange, "publicGetMarketMarkPriceCandles", None)
    if fetch is None:
        raise DataError(f"mark: {exchange.id} has no mark-price candle endpoint in ccxt")
    step_ms = TIMEFRAME_MS["1m"]
    now_ms = exchange.milliseconds() if until_ms is None else int(until_ms)
    end_ms = now_ms - now_ms % step_ms + step_ms  # the mark at a bar's open is known once the bar opens
    cursor = resume_from(store, "mark", symbol, since_ms, step_ms)
    buffer = _Buffer(store, "mark", symbol, ["ts", "mark_price"], flush_rows)
    pages = 0
    with tqdm(total=max(0, (end_ms - cursor) // step_ms), desc=f"{symbol} mark", unit="bar", disable=not progress, leave=False) as bar:
        try:
            while cursor < end_ms:
                window_end = min(cursor + page_limit * step_ms, end_ms)
                params = {"instId": market["id"], "bar": "1m", "limit": page_limit, "before": cursor - 1, "after": window_end}
                response = call_with_retry(fetch, params, retry=retry)
                pages += 1
                try:
                    rows = [(int(r[0]), float(r[1])) for r in response.get("data") or []]
                except (TypeError, ValueError, IndexError, AttributeError):
                    raise DataError(f"mark {symbol}: {exchange.id} mark-price candles are not [ts, open, ...] rows") from None
                buffer.add(sorted(r for r in rows if cursor <= r[0] < window_end))
                bar.update((window_end - cursor) // step_ms)
                cursor = window_end
        finally:
            buffer.flush()
    log.info("mark %s: %d marks in %d pages", symbol, buffer.count, pages)
    return DownloadReport("mark", symbol, buffer.count, buffer.first_ts, buffer.last_ts, pages)


def book_row(order_book: dict, contract_size: float, ts_ms: int, levels: int = BOOK_LEVELS) -> list[float]:
    """Flatten a ccxt order book to a ``book`` row: ts, bid px, bid sizes, ask px, ask sizes (contracts → base)."""
    def side(entries: list, n: int) -> tuple[np.ndarray, np.ndarray]:
        px, sz = np.full(n, np.nan), np.full(n, np.nan)
        for i, entry in enumerate(entries[:n]):
            px[i], sz[i] = float(entry[0]), float(entry[1]) * contract_size
        return px, sz

    bid_px, bid_sz = side(order_book.get("bids", []), levels)
    ask_px, ask_sz = side(order_book.get("asks", []), levels)
    return [ts_ms, *bid_px, *bid_sz, *ask_px, *ask_sz]


def record_books(
    exchange: ccxt.Exchange,
    store: Store,
    symbols: Sequence[str],
    snapshots: int,
    interval_s: float = 60.0,
    *,
    levels: int = BOOK_LEVELS,
    retry: RetryPolicy = DOWNLOAD_RETRY,
    sleep: Callable[[float], None] = time.sleep,
    progress: bool = True,
) -> list[DownloadReport]:
    """Record ``snapshots`` live order books of each symbol, ``interval_s`` apart, into ``book``.

    Sizes are converted from contracts to base units with each market's
    ``contractSize``; ``ts`` is the venue's book time (the local clock if absent).
    """
    markets = {s: _market(exchange, s, retry) for s in symbols}
    buffers = {s: _Buffer(store, "book", s, ["ts", *book_columns(levels)], snapshots + 1) for s in symbols}
    try:
        for i in tqdm(range(snapshots), desc="order books", unit="snap", disable=not progress, leave=False):
            if i:
                sleep(interval_s)
            for symbol, market in markets.items():
                book = call_with_retry(exchange.fetch_order_book, symbol, levels, retry=retry)
                ts_ms = int(book.get("timestamp") or exchange.milliseconds())
                buffers[symbol].add([book_row(book, float(market.get("contractSize") or 1.0), ts_ms, levels)])
    finally:
        for buffer in buffers.values():
            buffer.flush()
    return [DownloadReport("book", s, b.count, b.first_ts, b.last_ts, b.count) for s, b in buffers.items()]
