"""LiveFeed: BloFin public market data and the market-intelligence feeds, cycle by cycle, as snapshots.

The live counterpart of :class:`botcore.market.replay.ReplayFeed`: same
``symbols``, ``at(t_ms) -> Cycle`` and iteration over :class:`Cycle`, so
:class:`botcore.engine.loop.TradingLoop` runs on either unchanged.

At cycle time ``t`` (a whole minute) every source of every symbol is fetched
concurrently through ccxt's async ``blofin`` class (public endpoints, no
credentials) and :class:`botcore.intel.IntelFeeds`:

==============  ==========================================  ====================================
input           source                                      known at
==============  ==========================================  ====================================
candles_1m      ``fetch_ohlcv`` 1m (the bars since the       the bar's close; only bars closed
                newest held one, in one request)            by ``t`` (``ts + 1m <= t``)
candles_<tf>    5m..4h built here from the held 1m history  the bar's close
                with :func:`~botcore.market.store.resample_candles`, the replay's own resampling
book            BloFin's ``books`` websocket channel        the venue's book time
                (``books``: a started :class:`~botcore.market.streams.BookStream`),
                else ``fetch_order_book`` (sizes -> base units); REST is also the
                fallback of a symbol the stream cannot serve this cycle
mark            BloFin ``market/mark-price`` without        the venue's time
                ``instId``: every symbol in one request
funding         BloFin ``market/funding-rate`` without      when fetched (cached
                ``instId`` (rate, next time; every symbol   ``funding_refresh_ms`` at most)
                in one request)
open_interest   CoinGlass via ``IntelFeeds.latest``          the bar's close
liquidations    CoinGlass                                    the minute's close
taker           CoinGlass buy/sell ratio x BloFin 1m volume  the minute's close
fear_greed      Alternative.me (market-wide)                 the day's start
social          CryptoCompare (market-wide)                  the hour's start
==============  ==========================================  ====================================

Instantaneous venue values are observed during the cycle's fetch, just after
``t``: a venue time in ``(t, t + max_ahead_ms]`` is stamped ``t``; a later one
is not the market at ``t`` and is dropped as a fault. ``taker`` turns
CoinGlass's taker buy/sell ratio ``r`` of a minute into base units with
BloFin's base volume ``V`` of the same minute: buy ``V r / (1 + r)``, sell
``V / (1 + r)`` (the taker signal reads only the buy share).

Requests: a cycle asks BloFin for one 1m candle request per symbol plus one
mark and (every ``funding_refresh_ms``) one funding request for all symbols,
and one book request per symbol the book stream does not serve: S + 2 with
the stream up (17 for the 15-symbol universe), 2 S + 2 without it, the cold
first cycle one more (the markets). BloFin documents 500 REST requests a
minute and 1 500 in five minutes per IP (its "Rate Limits" section); ccxt
spaces BloFin calls ``rateLimit`` (200 ms) apart, so the cold cycle of 15
symbols is queued for about 33 x 0.2 = 6.6 s. :class:`RequestBudget` keeps
the documented limits explicitly (a share of them, the rest left to the
venue's trading calls on the same IP): a request past the budget is not
sent and its input is missing for the cycle.

The 1m history the higher timeframes are built from is the warm-up store
(:meth:`LiveFeed.warm_up`, or :meth:`LiveFeed.record_to`) plus the bars
fetched since. A bar is taken only at the cycle it closes by (at the first
cycle: every bar closed by then): a bar missed then stays a gap, so the
history at ``t`` is exactly the recorded bars closed by ``t`` and a replay of
the recording (:mod:`botcore.market.recorder`) builds the same bars.

Every source runs under ``asyncio.wait_for(timeout_s)`` (market loading,
ccxt's throttle queue and tenacity retries of ``ccxt.NetworkError``
included) and all start together, so a cycle's fetch never takes longer than
``timeout_s``. A source that fails, times out or
answers invalid data leaves its input MISSING (the signals report
``DATA_OUTAGE``) — never a neutral stand-in; the reason is kept in
:attr:`LiveFeed.last_faults` (this cycle) and :attr:`LiveFeed.fault_counts`
(since start) and logged. A symbol whose every fetch fails is still in the
cycle, with every input missing.

:func:`warm_up_live` downloads the recent history the signals warm up on into
a :class:`~botcore.market.store.Store` (1m candles and funding through
:mod:`botcore.market.download`; open interest, liquidations, taker, fear &
greed and social through ``IntelFeeds.history``) and returns the cycle range
for :meth:`TradingLoop.warm_up`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import ccxt
import ccxt.async_support as ccxt_async
import numpy as np
import pandas as pd

from botcore.clock import BAR_MS, HOUR_MS, Scheduler, utc
from botcore.errors import BotcoreError, DataError
from botcore.market.download import book_row, download_funding, download_ohlcv, make_exchange
from botcore.market.enums import TIMEFRAMES
from botcore.market.recorder import Recorder
from botcore.market.replay import Cycle
from botcore.market.snapshot import (
    DEFAULT_LOOKBACK_BARS,
    Book,
    CandleRows,
    Candles,
    MarketSnapshot,
    Rows,
    SymbolData,
    build_snapshot,
    staleness_ms,
)
from botcore.market.store import BOOK_LEVELS, CANDLE_COLUMNS, TIMEFRAME_MS, Store, resample_candles
from botcore.market.streams import BookStream
from botcore.net import RetryPolicy, backoff, retrying

logger = logging.getLogger(__name__)

MARKET = "MARKET"
#: most candles BloFin returns per request
MAX_CANDLES = 1_440
#: wake this long after each whole minute, so the venue has closed the bar ending at it
SETTLE_MS = 2_000
#: BloFin's documented REST limits per IP ("Rate Limits": 500 a minute, 1 500 in five minutes)
BLOFIN_REST_PER_MINUTE = 500
BLOFIN_REST_PER_5MIN = 1_500
#: BloFin's production REST URL (ccxt's default for its ``blofin`` class)
BLOFIN_REST_URL = "https://openapi.blofin.com"
#: the share of BloFin's limits the live feed may use (the rest stays for the venue's calls on the same IP)
FEED_BUDGET_SHARE = 0.6
#: waits between the live feed's tries of one request (0.2 s doubling to 2 s: a cycle cannot wait long)
CALL_WAIT = backoff(0.2, 2.0)
#: the warm-up download's retries (3 tries, 1 s doubling to 10 s)
WARMUP_RETRY = RetryPolicy(attempts=3, wait=backoff(1.0, 10.0))
#: snapshot input of each per-symbol intel kind
_INTEL_INPUT = {"open_interest": "open_interest", "liquidations": "liquidations", "taker_ratio": "taker"}
_ROW_KINDS = ("book", "mark", "funding", "open_interest", "liquidations", "taker")


# --------------------------------------------------------------------------- pure pieces


def floor_ms(t_ms: int, step_ms: int) -> int:
    """Return ``t_ms`` floored to the ``step_ms`` grid."""
    return int(t_ms) - int(t_ms) % step_ms


def last_closed_open(t_ms: int, tf_ms: int) -> int:
    """Return the open time of the newest ``tf_ms`` bar closed by ``t_ms``."""
    return floor_ms(t_ms, tf_ms) - tf_ms


def merge_closed_bars(cached: Mapping[int, Sequence[float]], rows: Iterable[Sequence[Any]], tf_ms: int, t_ms: int,
                      keep: int) -> dict[int, tuple[float, ...]]:
    """Return ``cached`` plus the ``rows`` (ccxt OHLCV) closed by ``t_ms``, the newest ``keep`` bars only.

    A bar still forming at ``t_ms`` (``ts + tf_ms > t_ms``) is never kept.
    """
    out = {int(ts): tuple(row) for ts, row in cached.items()}
    for r in rows:
        ts = int(r[0])
        if ts + tf_ms <= t_ms and None not in r[1:6]:
            out[ts] = tuple(float(x) for x in r[1:6])
    newest = sorted(out)[-keep:]
    return {ts: out[ts] for ts in newest}


def candles_at(bars: Mapping[int, Sequence[float]], tf_ms: int, t_ms: int, lookback_bars: int) -> Candles | None:
    """Return the bars closed in ``(t - lookback * tf, t]`` as :class:`Candles`, None unless the newest closed bar is held."""
    if last_closed_open(t_ms, tf_ms) not in bars:
        return None
    lo = t_ms - lookback_bars * tf_ms
    ts = np.array([s for s in sorted(bars) if lo < s + tf_ms <= t_ms], dtype=np.int64)
    v = np.array([bars[int(s)] for s in ts], dtype=np.float64).reshape(-1, 5)
    return Candles(ts, v[:, 0], v[:, 1], v[:, 2], v[:, 3], v[:, 4])


def stamp(ts_ms: int | None, t_ms: int, max_ahead_ms: int) -> int:
    """Return the known-at time of a value observed during the cycle at ``t_ms``: ``min(ts, t)``.

    None (the venue gave no time) is ``t``. Raise DataError for a time more
    than ``max_ahead_ms`` after ``t``: that value is not the market at ``t``.
    """
    if ts_ms is None:
        return int(t_ms)
    if ts_ms > t_ms + max_ahead_ms:
        raise DataError(f"stamped {int(ts_ms) - int(t_ms)} ms after the cycle time {t_ms} (limit {max_ahead_ms} ms)")
    return min(int(ts_ms), int(t_ms))


def book_from_ccxt(order_book: Mapping[str, Any], contract_size: float, known_ms: int, levels: int = BOOK_LEVELS) -> Book:
    """Return a ccxt order book as a :class:`Book` (sizes from contracts to base units, NaN past the depth)."""
    row = np.asarray(book_row(dict(order_book), contract_size, known_ms, levels)[1:], dtype=np.float64)
    return Book(int(known_ms), *row.reshape(4, levels))


def taker_base(ratio: float, volume_base: float) -> tuple[float, float]:
    """Split a minute's base volume by a taker buy/sell ratio: ``(V r / (1 + r), V / (1 + r))``."""
    if not (math.isfinite(ratio) and ratio >= 0 and math.isfinite(volume_base) and volume_base >= 0):
        raise DataError(f"taker: ratio {ratio} and volume {volume_base} must be finite and >= 0")
    return volume_base * ratio / (1.0 + ratio), volume_base / (1.0 + ratio)


def snapshot_from_parts(symbol: str, t_ms: int, candles: Mapping[str, Candles], parts: Mapping[str, Mapping[str, Any]],
                        stale: Iterable[str] = ()) -> tuple[MarketSnapshot, dict[str, str]]:
    """Build the snapshot, dropping each input whose data fails validation; return it and ``{input: reason}``.

    ``parts`` maps an input name (``book``, ``mark``, ...) to its
    :class:`MarketSnapshot` keyword arguments. Corrupt data is worse than no
    data: a part that does not validate is left out, the rest kept.
    """
    faults: dict[str, str] = {}
    good_candles: dict[str, Candles] = {}
    for tf, bars in candles.items():
        try:
            MarketSnapshot(symbol, t_ms, {tf: bars})
            good_candles[tf] = bars
        except DataError as exc:
            faults[f"candles_{tf}"] = f"invalid: {exc}"
    kwargs: dict[str, Any] = {}
    for name, part in parts.items():
        try:
            MarketSnapshot(symbol, t_ms, **part)
            kwargs.update(part)
        except DataError as exc:
            faults[name] = f"invalid: {exc}"
    snap = MarketSnapshot(symbol, int(t_ms), good_candles, stale=frozenset(stale), check=False, **kwargs)
    return snap, faults


class RequestBudget:
    """BloFin's REST limits kept explicitly: at most ``per_minute`` requests in any 60 s, ``per_5min`` in any 300 s.

    :meth:`take` books one request now, or raises :class:`DataError` naming
    the window that is full (the request is not sent: its input is missing
    for the cycle, rather than BloFin suspending the IP for 5 minutes or an
    hour). The default is :data:`FEED_BUDGET_SHARE` of the documented limits.
    """

    def __init__(self, per_minute: int = int(BLOFIN_REST_PER_MINUTE * FEED_BUDGET_SHARE),
                 per_5min: int = int(BLOFIN_REST_PER_5MIN * FEED_BUDGET_SHARE),
                 clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1 or per_5min < 1:
            raise DataError(f"request budget: limits must be >= 1, got {per_minute} a minute, {per_5min} in 5 minutes")
        self.per_minute = int(per_minute)
        self.per_5min = int(per_5min)
        self.clock = clock
        self.sent: deque[float] = deque()
        self.refused = 0

    def used(self, window_s: float) -> int:
        """Requests booked in the last ``window_s`` seconds."""
        now = self.clock()
        return sum(1 for x in self.sent if now - x < window_s)

    def take(self) -> None:
        """Book one request, or raise :class:`DataError` when a window is full."""
        now = self.clock()
        while self.sent and now - self.sent[0] >= 300.0:
            self.sent.popleft()
        for window, limit in ((60.0, self.per_minute), (300.0, self.per_5min)):
            if self.used(window) >= limit:
                self.refused += 1
                raise DataError(f"request budget: {limit} BloFin requests in the last {window:g} s already sent "
                                f"(limit {limit}); not sent")
        self.sent.append(now)


class MinuteHistory:
    """The 1m bars the live feed holds for one symbol (open times ascending, OHLCV), extended bar by bar."""

    def __init__(self, ts: np.ndarray | None = None, ohlcv: np.ndarray | None = None) -> None:
        self.ts = np.empty(0, np.int64) if ts is None else np.asarray(ts, np.int64)
        self.ohlcv = np.empty((0, 5)) if ohlcv is None else np.asarray(ohlcv, np.float64).reshape(-1, 5)

    @classmethod
    def from_store(cls, store: Store, symbol: str, start_ms: int, end_ms: int) -> MinuteHistory:
        """The stored 1m bars of ``symbol`` opening in ``[start_ms, end_ms]``."""
        df = store.read("candles_1m", symbol, start_ms, end_ms)
        return cls(df["ts"].to_numpy(np.int64), df[list(CANDLE_COLUMNS)].to_numpy(np.float64))

    @property
    def newest(self) -> int | None:
        return int(self.ts[-1]) if len(self.ts) else None

    def extend(self, ts: Sequence[int], ohlcv: Sequence[Sequence[float]]) -> None:
        """Append bars newer than the newest held (older ones are ignored)."""
        if not len(ts):
            return
        ts_a, v = np.asarray(ts, np.int64), np.asarray(ohlcv, np.float64).reshape(-1, 5)
        keep = ts_a > (self.newest if self.newest is not None else -1)
        self.ts = np.concatenate([self.ts, ts_a[keep]])
        self.ohlcv = np.concatenate([self.ohlcv, v[keep]])

    def trim(self, start_ms: int) -> None:
        """Drop bars opening before ``start_ms``."""
        i = int(self.ts.searchsorted(start_ms, "left"))
        if i:
            self.ts, self.ohlcv = self.ts[i:], self.ohlcv[i:]

    def frame(self, start_ms: int) -> pd.DataFrame:
        """The bars opening at or after ``start_ms`` in the store's candle schema."""
        i = int(self.ts.searchsorted(start_ms, "left"))
        return pd.DataFrame({"ts": self.ts[i:], **{c: self.ohlcv[i:, k] for k, c in enumerate(CANDLE_COLUMNS)}})


_NO_ROWS = Rows(np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, 0)), ())


def candle_rows(history: MinuteHistory, tf: str, t_ms: int, lookback_bars: int) -> CandleRows:
    """The ``tf`` bars closed by ``t_ms`` over the look-back, resampled from ``history`` as the replay resamples."""
    tf_ms = TIMEFRAME_MS[tf]
    df = resample_candles(history.frame(floor_ms(t_ms - (lookback_bars + 1) * tf_ms, tf_ms)), BAR_MS, tf_ms, t_ms)
    ts = df["ts"].to_numpy(np.int64)
    return CandleRows(ts, ts + tf_ms, np.ascontiguousarray(df[list(CANDLE_COLUMNS)].to_numpy(np.float64)))


# --------------------------------------------------------------------------- the client


def live_intel_options(cycle_ms: int = BAR_MS, **overrides: Any) -> Any:
    """Return :class:`~botcore.intel.IntelOptions` whose per-minute kinds are cached for less than one cycle."""
    from botcore.intel import IntelOptions
    from botcore.intel.feeds import DEFAULT_TTL_S

    ttl = dict(DEFAULT_TTL_S)
    ttl.update({kind: 0.8 * cycle_ms / 1000.0 for kind in _INTEL_INPUT})
    return IntelOptions(**{"ttl_s": ttl, **overrides})


def public_exchange(api_url: str | None = None, *, timeout_ms: int = 10_000, rate_limit_ms: int | None = None) -> Any:
    """Return ccxt's async ``blofin`` client for public data; ``api_url`` replaces every REST base URL (a test server)."""
    config: dict[str, Any] = {"enableRateLimit": True, "timeout": int(timeout_ms)}
    if rate_limit_ms is not None:
        config["rateLimit"] = rate_limit_ms
    exchange = ccxt_async.blofin(config)
    if api_url is not None:
        api = exchange.urls["api"]
        exchange.urls["api"] = {k: api_url for k in api} if isinstance(api, dict) else api_url
    return exchange


def _talks_to_blofin(exchange: Any) -> bool:
    """Whether ``exchange`` is ccxt's BloFin class on BloFin's own REST URL (not a test server)."""
    urls = getattr(exchange, "urls", {}).get("api")
    return getattr(exchange, "id", None) == "blofin" and isinstance(urls, dict) and urls.get("rest") == BLOFIN_REST_URL


class _Failed(Exception):
    """A source gave nothing usable this cycle (the reason is the message)."""


class LiveFeed:
    """Cycles of live BloFin public data plus intel, the interface of :class:`ReplayFeed` (module docstring).

    Parameters
    ----------
    symbols : sequence of str
        ccxt symbols (``BTC/USDT:USDT``); each cycle's snapshots follow this order.
    exchange : optional
        A ``ccxt.async_support.blofin`` (or compatible) client, used only on the
        feed's own event loop; default :func:`public_exchange`.
    intel : IntelFeeds, optional
        The market-intelligence feeds; None leaves their inputs missing.
    staleness : optional
        Settings, a mapping of ``max_staleness_seconds``, or None for the default config.
    timeframes : sequence of str
        Candle timeframes to carry (a subset of ``1m, 5m, 15m, 1h, 4h``; ``1m`` is what the loop reads).
    lookback_bars : int
        Closed bars per timeframe in each snapshot.
    levels : int
        Order-book depth.
    timeout_s : float
        Time budget of each source of a cycle (all start together, so of the cycle's fetch).
    budget : RequestBudget, optional
        The REST requests the feed may send (default: a share of BloFin's documented limits).
    record : Store, optional
        Record every cycle into this store (:meth:`record_to`; :meth:`warm_up` records into its store).
    books : BookStream, "auto" or None
        Books over BloFin's websocket (:class:`botcore.market.streams.BookStream`, started); a symbol
        whose streamed book is absent (stream down, no snapshot since it reconnected) or older than the
        book staleness limit is read over REST. ``"auto"`` (the default): a stream of BloFin's own
        websocket, started at the first cycle, when ``exchange`` talks to BloFin itself; REST books
        when it talks to another server (a test server: give it its own stream). None: REST only.
    attempts : int
        Tries of a call failing with ``ccxt.NetworkError`` (429, 5xx, timeouts) within the budget.
    funding_refresh_ms : int
        Reuse a fetched funding rate this long (and never past its settlement time).
    max_ahead_ms : int, optional
        How far after ``t`` a venue time may be (the fetch window); default ``timeout_s`` + 5 s.
    scheduler : iterable of (t_ms, late_ms), optional
        What :meth:`__iter__` walks; default :class:`botcore.clock.Scheduler` on the minute
        grid, waking :data:`SETTLE_MS` after each minute.

    Build ``intel`` with :func:`live_intel_options` so the per-minute sums are
    refetched every cycle (with ``IntelFeeds``' default 120 s cache every other
    cycle would carry the previous minute, which the bar row does not use).
    """

    def __init__(
        self,
        symbols: Sequence[str],
        *,
        exchange: Any = None,
        intel: Any = None,
        staleness: Any = None,
        timeframes: Sequence[str] = TIMEFRAMES,
        lookback_bars: int = DEFAULT_LOOKBACK_BARS,
        levels: int = BOOK_LEVELS,
        timeout_s: float = 20.0,
        attempts: int = 2,
        funding_refresh_ms: int = 300_000,
        max_ahead_ms: int | None = None,
        scheduler: Iterable[tuple[int, int]] | None = None,
        budget: RequestBudget | None = None,
        record: Store | None = None,
        books: Any = "auto",
    ) -> None:
        if not symbols:
            raise DataError("symbols: empty")
        unknown = [tf for tf in timeframes if tf not in TIMEFRAMES]
        if unknown:
            raise DataError(f"timeframes: {unknown[0]!r} is not one of {TIMEFRAMES}")
        if lookback_bars < 1:
            raise DataError(f"lookback_bars: must be >= 1, got {lookback_bars}")
        if timeout_s <= 0:
            raise DataError(f"timeout_s: must be > 0, got {timeout_s}")
        self.symbols = tuple(symbols)
        self.exchange = exchange if exchange is not None else public_exchange()
        self.intel = intel
        self.stale_ms = staleness_ms(staleness)
        self.timeframes = tuple(timeframes)
        self.lookback_bars = int(lookback_bars)
        self.levels = int(levels)
        self.timeout_s = float(timeout_s)
        self.attempts = int(attempts)
        self.funding_refresh_ms = int(funding_refresh_ms)
        self.max_ahead_ms = int(self.timeout_s * 1000) + 5_000 if max_ahead_ms is None else int(max_ahead_ms)
        self.scheduler = scheduler
        self.last_faults: dict[str, dict[str, str]] = {}
        self.fault_counts: Counter[tuple[str, str]] = Counter()
        self.cycles = 0
        self.budget = budget if budget is not None else RequestBudget()
        self._start_books = False
        if isinstance(books, str):
            if books != "auto":
                raise DataError(f"books: {books!r} is not a BookStream, 'auto' or None")
            books = BookStream(self.symbols, levels=self.levels) if _talks_to_blofin(self.exchange) else None
            self._start_books = books is not None
        self.books = books
        self.streamed_books = 0
        #: REST requests of the last cycle and since start, by ccxt method
        self.last_requests: Counter[str] = Counter()
        self.request_counts: Counter[str] = Counter()
        self.store: Store | None = None
        self.recorder: Recorder | None = None
        self._hist: dict[str, MinuteHistory] = {}
        self._tf_rows: dict[tuple[str, str], tuple[int, CandleRows]] = {}
        self._new_bars: dict[str, pd.DataFrame] = {}
        self._last_t: int | None = None
        self._funding: dict[str, tuple[int, dict[str, Any]]] = {}
        self._ids: dict[str, str] = {}
        self._markets_loaded = False
        self._markets_lock = asyncio.Lock()
        self._aio: asyncio.AbstractEventLoop | None = None
        if record is not None:
            self.record_to(record)

    def record_to(self, store: Store) -> None:
        """Take the 1m history from ``store`` and record every cycle into it (:class:`~botcore.market.recorder.Recorder`)."""
        if self.recorder is not None:
            self.recorder.close()
        self.store = store
        self.recorder = Recorder(store, self.symbols)

    # ------------------------------------------------------------------ calls

    async def _call(self, fn: Callable[..., Awaitable[Any]], *args: Any, label: str | None = None, **kwargs: Any) -> Any:
        """Send one request through the budget (``fn``; ``label`` names it in the counts), retrying ccxt network
        errors; raise :class:`_Failed` with the reason."""
        retrier = retrying(RetryPolicy(attempts=self.attempts, wait=CALL_WAIT), ccxt.NetworkError)
        name = label or getattr(fn, "__name__", "request")

        async def once() -> Any:
            self.budget.take()
            self.last_requests[name] += 1
            self.request_counts[name] += 1
            return await fn(*args, **kwargs)

        try:
            return await retrier(once)
        except (ccxt.BaseError, BotcoreError, ValueError, KeyError, TypeError) as exc:
            raise _Failed(f"{type(exc).__name__}: {str(exc)[:300]}") from None

    async def _load_markets(self) -> None:
        if self._markets_loaded:
            return
        async with self._markets_lock:  # the sources start together: one request, not one each
            if not self._markets_loaded:
                await self._call(self.exchange.load_markets)
                self._markets_loaded = True
            for s in self.symbols:
                try:
                    self._ids[self.exchange.market(s)["id"]] = s
                except ccxt.BaseError:  # a symbol the venue does not list: its fetches fail and say so
                    pass

    # ------------------------------------------------------------------ sources

    def _history(self, symbol: str, t: int) -> MinuteHistory:
        """The held 1m bars of ``symbol`` (read from the store at the first cycle)."""
        hist = self._hist.get(symbol)
        if hist is None:
            if self.store is not None:
                hist = MinuteHistory.from_store(self.store, symbol, self._history_start(t), t - BAR_MS)
            else:
                hist = MinuteHistory()
            self._hist[symbol] = hist
        return hist

    def _history_start(self, t: int) -> int:
        """The oldest 1m bar open the look-back of every timeframe needs at ``t``."""
        widest = max(TIMEFRAME_MS[tf] for tf in self.timeframes)
        return floor_ms(t - (self.lookback_bars + 1) * widest, widest)

    async def _candles_1m(self, symbol: str, t: int) -> None:
        """Fetch the 1m bars since the newest held one (one request), keeping those closed since the last cycle."""
        hist = self._history(symbol, t)
        want = t - BAR_MS
        newest = hist.newest
        if newest is not None and newest >= want:
            return
        if newest is None:
            need = (t - self._history_start(t)) // BAR_MS
        else:
            need = (want - newest) // BAR_MS
        limit = min(MAX_CANDLES, max(int(need), 1) + 1)  # + the bar still forming
        await self._load_markets()
        rows = await self._call(self.exchange.fetch_ohlcv, symbol, "1m", None, limit, {"until": t})
        after = self._last_t if self._last_t is not None else -1  # a bar is taken at the cycle it closes by
        floor = newest if newest is not None else -1
        bars = sorted({int(r[0]): tuple(float(x) for x in r[1:6]) for r in rows
                       if None not in r[1:6] and after < int(r[0]) + BAR_MS <= t and int(r[0]) > floor}.items())
        if bars:
            ts = [b[0] for b in bars]
            ohlcv = [b[1] for b in bars]
            hist.extend(ts, ohlcv)
            self._new_bars[symbol] = pd.DataFrame({"ts": np.asarray(ts, np.int64),
                                                   **{c: [v[k] for v in ohlcv] for k, c in enumerate(CANDLE_COLUMNS)}})
        if hist.newest != want:
            raise _Failed(f"the venue has no 1m bar closing at {want + BAR_MS}")

    def _candles(self, symbol: str, t: int) -> tuple[dict[str, Candles], frozenset[str]]:
        """The closed bars of every timeframe at ``t`` from the held 1m history, chosen as the replay chooses them."""
        hist = self._history(symbol, t)
        rows: dict[str, CandleRows] = {}
        for tf in self.timeframes:
            tf_ms = TIMEFRAME_MS[tf]
            last_open = last_closed_open(t, tf_ms)
            hit = self._tf_rows.get((symbol, tf))
            if hit is None or hit[0] != last_open or tf == "1m":  # a closed bar never changes: rebuilt when one closes
                hit = (last_open, candle_rows(hist, tf, t, self.lookback_bars))
                self._tf_rows[(symbol, tf)] = hit
            if len(hit[1].ts):
                rows[tf] = hit[1]
        snap = build_snapshot(SymbolData(symbol, rows, {k: _NO_ROWS for k in _ROW_KINDS}), None, t, self.stale_ms,
                              self.lookback_bars)
        return dict(snap.candles), snap.stale

    async def _book(self, symbol: str, t: int) -> dict[str, Any]:
        streamed = None if self.books is None else self.books.book(symbol)
        if streamed is not None and not isinstance(streamed, str):
            ts, bids, asks = streamed
            if ts <= t + self.max_ahead_ms and t - min(ts, t) <= self.stale_ms["book"]:
                await self._load_markets()
                self.streamed_books += 1
                known = stamp(ts, t, self.max_ahead_ms)
                size = float(self.exchange.market(symbol).get("contractSize") or 1.0)
                return {"book": book_from_ccxt({"bids": bids, "asks": asks}, size, known, self.levels)}
        await self._load_markets()
        try:
            ob = await self._call(self.exchange.fetch_order_book, symbol, self.levels, label="fetch_order_book")
        except _Failed as exc:
            raise _Failed(str(exc) if streamed is None else f"{streamed}; REST fallback: {exc}") from None
        known = self._fresh("book", stamp(ob.get("timestamp"), t, self.max_ahead_ms), t)
        size = float(self.exchange.market(symbol).get("contractSize") or 1.0)
        return {"book": book_from_ccxt(ob, size, known, self.levels)}

    def _by_symbol(self, data: Any) -> dict[str, dict[str, Any]]:
        """BloFin's rows of every instrument (``instId``) keyed by the feed's symbols."""
        out = {}
        items = data.get("data") if isinstance(data, dict) else None
        for item in items or []:
            symbol = self._ids.get(str(item.get("instId")))
            if symbol is not None:
                out[symbol] = item
        return out

    async def _marks(self, t: int) -> dict[str, dict[str, Any]]:
        """Every symbol's mark price in one request (``market/mark-price`` without ``instId``)."""
        await self._load_markets()
        rows = self._by_symbol(await self._call(self.exchange.publicGetMarketMarkPrice, {}, label="mark_prices"))
        return {s: self.exchange.parse_ticker(row) for s, row in rows.items()}

    def _mark(self, symbol: str, marks: Any, t: int) -> dict[str, Any] | str:
        if isinstance(marks, str):
            return marks
        ticker = marks.get(symbol)
        price = None if ticker is None else ticker.get("markPrice")
        if price is None:
            return "the venue sent no mark price"
        try:
            known = self._fresh("candles", stamp(ticker.get("timestamp"), t, self.max_ahead_ms), t)
        except (_Failed, DataError) as exc:
            return str(exc) if isinstance(exc, _Failed) else f"invalid: {exc}"
        return {"mark_price": float(price), "mark_ts_ms": known}

    async def _fundings(self, t: int) -> dict[str, dict[str, Any]]:
        """Every symbol's funding rate and next settlement, in one request when any cached one is due."""
        due = False
        for s in self.symbols:
            hit = self._funding.get(s)
            if hit is None:
                due = True
                continue
            seen, part = hit
            nxt = part["next_funding_ts_ms"]
            if not (seen <= t < seen + self.funding_refresh_ms and (nxt is None or t < nxt)):
                due = True
        if due:
            await self._load_markets()
            rows = self._by_symbol(await self._call(self.exchange.publicGetMarketFundingRate, {}, label="funding_rates"))
            self._funding = {}  # a symbol the answer leaves out is missing, not its older rate
            for s, row in rows.items():
                fr = self.exchange.parse_funding_rate(row)
                if fr.get("fundingRate") is None:
                    continue
                nxt = fr.get("fundingTimestamp")
                self._funding[s] = (int(t), {"funding_rate": float(fr["fundingRate"]), "funding_ts_ms": int(t),
                                             "next_funding_ts_ms": None if nxt is None else int(nxt)})
        return {s: hit[1] for s, hit in self._funding.items()}

    def _funding_rate(self, symbol: str, fundings: Any, t: int) -> dict[str, Any] | str:
        if isinstance(fundings, str):
            return fundings
        part = fundings.get(symbol)
        if part is None:
            return "the venue sent no funding rate"
        try:
            return self._fresh_part("funding", part, t)
        except _Failed as exc:
            return str(exc)

    def _fresh(self, key: str, known: int, t: int) -> int:
        if t - known > self.stale_ms[key]:
            raise _Failed(f"stale: {t - known} ms old (limit {self.stale_ms[key]} ms)")
        return known

    def _fresh_part(self, key: str, part: dict[str, Any], t: int) -> dict[str, Any]:
        self._fresh(key, part["funding_ts_ms"], t)
        return part

    async def _intel(self, kind: str, symbol: str, t: int) -> Any:
        """One intel value (a :class:`FeedValue`, with the feeds' own retries and outages)."""
        if self.intel is None:
            raise _Failed("no intel feeds configured")
        return await self.intel.latest(kind, symbol, t)

    # ------------------------------------------------------------------ one cycle

    async def _guard(self, coro: Awaitable[Any]) -> Any:
        """Return the source's result within the budget (market loading and retries included), or why not."""
        try:
            return await asyncio.wait_for(coro, self.timeout_s)
        except TimeoutError:
            return f"timed out after {self.timeout_s:g} s"
        except _Failed as exc:
            return str(exc)
        except DataError as exc:
            return f"invalid: {exc}"
        except ccxt.BaseError as exc:  # e.g. BadSymbol from market(): a symbol the venue does not list
            return f"{type(exc).__name__}: {str(exc)[:300]}"
        except Exception as exc:  # noqa: BLE001 - a defect must not stop the loop: an outage, logged loudly
            logger.error("live feed: unexpected %s", type(exc).__name__, exc_info=True)
            return f"{type(exc).__name__}: {exc}"

    async def fetch(self, t_ms: int) -> Cycle:
        """Fetch every source of every symbol concurrently and return the :class:`Cycle` at ``t_ms``.

        Use from a running event loop; :meth:`at` is the synchronous face.
        """
        t = int(t_ms)
        if t % BAR_MS:
            raise DataError(f"t_ms: {t} is not on a whole minute")
        if self._last_t is not None and t <= self._last_t:
            raise DataError(f"t_ms: {t} is not after the previous cycle {self._last_t}")
        self.last_requests = Counter()
        self._new_bars = {}
        if self._start_books:  # the first cycle reads its books over REST while the stream connects
            self._start_books = False
            self.books.start()
        jobs: list[tuple[str, str, Awaitable[Any]]] = [(MARKET, "mark", self._marks(t)), (MARKET, "funding", self._fundings(t))]
        for s in self.symbols:
            jobs += [(s, "candles_1m", self._candles_1m(s, t)), (s, "book", self._book(s, t))]
            jobs += [(s, kind, self._intel(kind, s, t)) for kind in _INTEL_INPUT]
        jobs += [(MARKET, kind, self._intel(kind, MARKET, t)) for kind in ("fear_greed", "social")]
        results = await asyncio.gather(*(self._guard(job) for _, _, job in jobs))
        got: dict[str, dict[str, Any]] = {}
        for (s, name, _), res in zip(jobs, results):
            got.setdefault(s, {})[name] = res
        venue = got.pop(MARKET)
        marks, fundings = venue.pop("mark"), venue.pop("funding")
        got[MARKET] = venue
        for s in self.symbols:
            got[s]["mark"] = self._mark(s, marks, t)
            got[s]["funding"] = self._funding_rate(s, fundings, t)
        cycle = self._assemble(t, got)
        self._last_t = t
        for hist in self._hist.values():
            if len(hist.ts) > 2 * ((t - self._history_start(t)) // BAR_MS) + 1_000:
                hist.trim(self._history_start(t))
        if self.recorder is not None:
            self.recorder.record(cycle, self._new_bars, self.last_faults)
        return cycle

    def _assemble(self, t: int, got: dict[str, dict[str, Any]]) -> Cycle:
        faults: dict[str, dict[str, str]] = {}
        stale: dict[str, set[str]] = {}

        def fail(owner: str, name: str, reason: str) -> None:
            faults.setdefault(owner, {})[name] = reason
            if reason.startswith("stale"):
                stale.setdefault(owner, set()).add(name)

        market: dict[str, dict[str, Any]] = {}
        for kind, value in got.get(MARKET, {}).items():
            part = self._intel_part(kind, value, None)
            if isinstance(part, str):
                fail(MARKET, kind, part)
            else:
                market[kind] = part
        snaps: dict[str, MarketSnapshot] = {}
        for s in self.symbols:
            res = got[s]
            if isinstance(res["candles_1m"], str):
                fail(s, "candles_1m", res["candles_1m"])
            candles, stale_tf = self._candles(s, t)
            stale.setdefault(s, set()).update(stale_tf)
            parts: dict[str, dict[str, Any]] = {}
            for name in ("book", "mark", "funding"):
                if isinstance(res[name], str):
                    fail(s, name, res[name])
                else:
                    parts[name] = res[name]
            for kind, name in _INTEL_INPUT.items():
                part = self._intel_part(kind, res[kind], self._hist.get(s))
                if isinstance(part, str):
                    fail(s, name, part)
                else:
                    parts[name] = part
            parts.update(market)
            snap, bad = snapshot_from_parts(s, t, candles, parts, stale.get(s, set()) | stale.get(MARKET, set()))
            for name, reason in bad.items():
                fail(s, name, reason)
            snaps[s] = snap
        self._record(t, faults)
        return Cycle(t, snaps)

    @staticmethod
    def _intel_part(kind: str, value: Any, bars_1m: Any) -> dict[str, Any] | str:
        """Return the snapshot keywords of one intel :class:`FeedValue`, or why it is missing."""
        if isinstance(value, str):
            return value
        if not value.ok:
            return f"{value.outage.value if value.outage else 'outage'}: {value.reason}"  # 'stale: ...' when stale
        v, ts = value.values, int(value.ts_ms)
        if kind == "open_interest":
            return {"oi_usd": v["oi_usd"], "oi_ts_ms": ts}
        if kind == "liquidations":
            return {"long_liq_usd": v["long_liq_usd"], "short_liq_usd": v["short_liq_usd"], "liquidations_ts_ms": ts}
        if kind == "taker_ratio":
            volume = _volume_of_minute(bars_1m, ts - BAR_MS)
            if volume is None:
                return f"no BloFin 1m volume for the taker minute closing at {ts}"
            try:
                buy, sell = taker_base(float(v["buy_sell_ratio"]), volume)
            except DataError as exc:
                return f"invalid: {exc}"
            return {"taker_buy_base": buy, "taker_sell_base": sell, "taker_ts_ms": ts}
        if kind == "fear_greed":
            return {"fear_greed": v["value"], "fear_greed_ts_ms": ts}
        return {"social_mentions": v["mentions"], "social_tone": v["tone"], "social_ts_ms": ts}

    def _record(self, t: int, faults: dict[str, dict[str, str]]) -> None:
        self.last_faults = faults
        self.cycles += 1
        for owner, by_input in faults.items():
            for name in by_input:
                self.fault_counts[(owner, name)] += 1
        if faults:
            n = sum(len(v) for v in faults.values())
            detail = "; ".join(f"{owner} {name}: {why}" for owner, v in faults.items() for name, why in v.items())
            logger.warning("cycle %s: %d input(s) missing: %s", utc(t), n, detail[:2_000])

    # ------------------------------------------------------------------ synchronous face

    def _loop(self) -> asyncio.AbstractEventLoop:
        if self._aio is None or self._aio.is_closed():
            self._aio = asyncio.new_event_loop()
        return self._aio

    def run(self, coro: Awaitable[Any]) -> Any:
        """Run ``coro`` on the feed's own event loop (where its clients live)."""
        return self._loop().run_until_complete(coro)

    def at(self, t_ms: int) -> Cycle:
        """Return the :class:`Cycle` at ``t_ms`` (fetched now: call it at ``t``, not for the past)."""
        return self.run(self.fetch(t_ms))

    def __iter__(self) -> Iterator[Cycle]:
        """Yield the cycle of each scheduler tick (the default scheduler: every whole minute, wall clock)."""
        if self.scheduler is None:
            self.scheduler = Scheduler(BAR_MS, delay_ms=SETTLE_MS)
        for t_ms, _late_ms in self.scheduler:
            yield self.at(t_ms)

    def stop(self) -> None:
        """Stop the iteration after the current cycle (the scheduler's ``stop``)."""
        stop = getattr(self.scheduler, "stop", None)
        if stop is not None:
            stop()

    async def aclose(self) -> None:
        """Close the exchange client and the intel feeds (the recorder has written every cycle)."""
        await self.exchange.close()
        if self.intel is not None:
            await self.intel.aclose()

    def close(self) -> None:
        """Write what the recorder holds; close the clients, the book stream and the feed's event loop."""
        if self.recorder is not None:
            self.recorder.close()
        if self.books is not None:
            self.books.close()
        if self._aio is not None and not self._aio.is_closed():
            self._aio.run_until_complete(self.aclose())
            self._aio.close()

    def warm_up(self, store: Store, bars: int, **kwargs: Any) -> WarmUp:
        """Download ``bars`` minutes of history into ``store`` with :func:`warm_up_live` (intel on this feed's loop).

        The feed then builds its higher timeframes from that store's 1m history
        and records every cycle into it (:meth:`record_to`).
        """
        w = warm_up_live(store, self.symbols, bars, intel=self.intel, run=self.run, **kwargs)
        self.record_to(store)
        return w


def _volume_of_minute(bars: Any, open_ms: int) -> float | None:
    """Base volume of the 1m bar opening at ``open_ms`` from :class:`Candles` or a :class:`MinuteHistory`."""
    if bars is None:
        return None
    ts = bars.ts_ms if isinstance(bars, Candles) else bars.ts
    hit = np.flatnonzero(ts == open_ms)
    if not len(hit):
        return None
    return float(bars.volume[hit[0]]) if isinstance(bars, Candles) else float(bars.ohlcv[hit[0], 4])


# --------------------------------------------------------------------------- warm-up


class WarmUp(NamedTuple):
    """What :func:`warm_up_live` stored: the cycle range for ``TradingLoop.warm_up`` and what failed."""

    first_ms: int
    last_ms: int
    faults: dict[str, str]


def _intel_rows(kind: str, frame: pd.DataFrame, candles: pd.DataFrame | None) -> tuple[str, pd.DataFrame]:
    """Return the store kind and rows of an intel history frame (stamped at bar close) in the store's schema."""
    if kind == "open_interest":
        return "open_interest", frame[["ts", "oi_usd"]]
    if kind == "liquidations":
        return "liquidations", frame.assign(ts=frame["ts"] - BAR_MS)[["ts", "long_liq_usd", "short_liq_usd"]]
    if kind == "taker_ratio":
        opened = frame.assign(ts=frame["ts"] - BAR_MS)
        if candles is None or candles.empty:
            return "taker", pd.DataFrame({"ts": np.array([], np.int64), "taker_buy_base": [], "taker_sell_base": []})
        both = opened.merge(candles[["ts", "volume"]], on="ts", how="inner")
        r, v = both["buy_sell_ratio"].to_numpy(np.float64), both["volume"].to_numpy(np.float64)
        ok = np.isfinite(r) & (r >= 0)
        out = pd.DataFrame({"ts": both["ts"].to_numpy(np.int64)[ok], "taker_buy_base": (v * r / (1 + r))[ok],
                            "taker_sell_base": (v / (1 + r))[ok]})
        return "taker", out
    return kind, frame


def warm_up_live(
    store: Store,
    symbols: Sequence[str],
    bars: int,
    *,
    end_ms: int | None = None,
    exchange: Any = None,
    api_url: str | None = None,
    intel: Any = None,
    run: Callable[[Awaitable[Any]], Any] = asyncio.run,
    intel_page_bars: int = 1_000,
    page_limit: int = 100,
    retry: RetryPolicy = WARMUP_RETRY,
    progress: bool = False,
) -> WarmUp:
    """Download the last ``bars`` minutes before ``end_ms`` into ``store``; return the cycle range to warm up on.

    The range is ``[last - (bars - 1) min, last]`` with ``last`` the newest
    whole minute at or before ``end_ms`` (default the venue's clock). 1m
    candles and funding come from BloFin through :mod:`botcore.market.download`
    (a synchronous ccxt client: ``exchange``, or :func:`make_exchange` on
    ``api_url``); with ``intel``, open interest, liquidations, taker (ratio x
    stored 1m volume), fear & greed and social from ``IntelFeeds.history``
    (``run`` runs its coroutines: pass the live feed's :meth:`LiveFeed.run` so
    the feeds stay on one event loop). Candle and funding failures raise (no
    warm-up without prices); an intel kind that fails is logged and listed in
    ``faults``, its signal warming up live instead.
    """
    if bars < 1:
        raise DataError(f"bars: must be >= 1, got {bars}")
    exchange = exchange if exchange is not None else make_exchange("blofin", api_url)
    now = int(exchange.milliseconds() if end_ms is None else end_ms)
    last = floor_ms(now, BAR_MS)
    first = last - (bars - 1) * BAR_MS
    for s in symbols:
        download_ohlcv(exchange, store, s, "1m", first - BAR_MS, last, page_limit=page_limit, retry=retry, progress=progress)
        download_funding(exchange, store, s, first - 24 * HOUR_MS, last, page_limit=page_limit, retry=retry, progress=progress)
    faults: dict[str, str] = {}
    if intel is not None:
        faults = run(_intel_history(intel, store, symbols, first, last, intel_page_bars))
    logger.info("live warm-up: %d bars of %d symbols in [%d, %d]; %d intel fault(s)", bars, len(symbols), first, last,
                len(faults))
    return WarmUp(first, last, faults)


async def _intel_history(intel: Any, store: Store, symbols: Sequence[str], first: int, last: int,
                         page_bars: int) -> dict[str, str]:
    """Page each intel kind's history over ``(first - 1m, last]`` into ``store``; return ``{"symbol kind": reason}``."""
    faults: dict[str, str] = {}
    jobs = [(s, k) for s in symbols for k in _INTEL_INPUT] + [(MARKET, "fear_greed"), (MARKET, "social")]
    for symbol, kind in jobs:
        try:
            if kind in _INTEL_INPUT:
                frames = []
                for w0 in range(first - BAR_MS, last, page_bars * BAR_MS):
                    w1 = min(w0 + page_bars * BAR_MS, last)
                    frames.append(await intel.history(kind, symbol, now_ms=last, start_ms=w0, end_ms=w1, limit=page_bars))
                frame = pd.concat(frames).drop_duplicates("ts", keep="last").sort_values("ts")
            else:
                days = -(-(last - first) // (24 * HOUR_MS)) + 2
                hours = -(-(last - first) // HOUR_MS) + 2 + intel.options.social_baseline_hours  # + the tone's baseline
                limit = days if kind == "fear_greed" else min(2_000, max(hours, intel.options.social_hours))
                frame = await intel.history(kind, MARKET, now_ms=last, limit=limit)
            frame = frame.loc[frame["ts"] <= last].reset_index(drop=True)
            candles = store.read("candles_1m", symbol, first - 2 * BAR_MS, last) if kind == "taker_ratio" else None
            store_kind, rows = _intel_rows(kind, frame, candles)
            if len(rows):
                store.write(store_kind, symbol, rows.reset_index(drop=True))
        except (BotcoreError, ValueError, KeyError) as exc:
            faults[f"{symbol} {kind}"] = f"{type(exc).__name__}: {exc}"[:300]
            logger.warning("live warm-up: %s %s history not stored (%s): its signal warms up live", symbol, kind, exc)
    return faults


__all__ = [
    "BLOFIN_REST_PER_5MIN",
    "BLOFIN_REST_PER_MINUTE",
    "SETTLE_MS",
    "LiveFeed",
    "MinuteHistory",
    "RequestBudget",
    "WarmUp",
    "book_from_ccxt",
    "candle_rows",
    "candles_at",
    "last_closed_open",
    "live_intel_options",
    "merge_closed_bars",
    "public_exchange",
    "snapshot_from_parts",
    "stamp",
    "taker_base",
    "warm_up_live",
]
