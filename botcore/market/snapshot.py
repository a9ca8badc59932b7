"""MarketSnapshot: everything the bot knows about one symbol at one time.

A snapshot holds candles on 1m/5m/15m/1h/4h (closed bars only), the top book
levels (sizes in BASE units), mark price, funding rate and next funding time,
open interest, liquidations, taker buy/sell volume, and the market-wide fear
& greed index and social sentiment. Every input carries the time it became
known (``*_ts_ms``, ms UTC, never after the snapshot time ``ts_ms``). An input
that is absent or older than its ``max_staleness_seconds`` is None and listed
in :attr:`MarketSnapshot.missing`: never a made-up neutral value.

Construction validates at the boundary: a crossed book, negative sizes, NaN
or non-positive prices, out-of-range values or a time stamp after ``ts_ms``
raise :class:`~botcore.errors.DataError` naming the field.

:func:`build_snapshot` makes a snapshot from in-memory store rows
(:class:`SymbolData`) as of a time, using only rows known by then;
:func:`snapshot_at` does it straight from a :class:`~botcore.market.store.Store`;
:func:`to_arrays` turns the snapshots of one cycle into arrays for the kernels.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import InitVar, dataclass, field, fields
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from botcore.clock import utc
from botcore.errors import DataError
from botcore.market.enums import (
    INPUT_NAMES,
    N_INPUTS,
    N_SNAP_FIELDS,
    STALENESS_KEY,
    TIMEFRAMES,
    BookRows,
    Inputs,
    SnapFields,
)
from botcore.market.store import (
    BOOK_LEVELS,
    CANDLE_COLUMNS,
    KINDS,
    TIMEFRAME_MS,
    Store,
    book_columns,
    resample_candles,
)

logger = logging.getLogger(__name__)

DEFAULT_LOOKBACK_BARS = 256
DEFAULT_HISTORY_MS = 3_600_000
STALE_LOOKBACK = 2  # a row older than this many staleness limits counts as absent rather than stale
STALENESS_KEYS = ("candles", "book", "funding", "open_interest", "liquidations", "taker", "fear_greed", "social")
ROW_KINDS = ("book", "mark", "funding", "open_interest", "liquidations", "taker")
MARKET_KINDS = ("fear_greed", "social")


class Candles(NamedTuple):
    """Closed bars of one timeframe, oldest first; ``ts_ms`` is each bar's open."""

    ts_ms: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def as_array(self) -> np.ndarray:
        """Return (n, 5) float64 OHLCV."""
        return np.column_stack([self.open, self.high, self.low, self.close, self.volume])


class Book(NamedTuple):
    """Top levels of the order book: prices and sizes (BASE units), best level first; NaN past the depth."""

    ts_ms: int
    bid_px: np.ndarray
    bid_sz: np.ndarray
    ask_px: np.ndarray
    ask_sz: np.ndarray


class History(NamedTuple):
    """Recent rows of a minute-level input: ``ts_ms`` as stored (interval open for sums), values (n, c)."""

    ts_ms: np.ndarray
    values: np.ndarray
    columns: tuple[str, ...]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return self.values[:, self.columns.index(key)]
        return tuple.__getitem__(self, key)


def _fail(name: str, reason: str) -> None:
    raise DataError(f"{name}: {reason}")


def _check_price(name: str, value: float) -> None:
    if not np.isfinite(value) or value <= 0:
        _fail(name, f"price must be finite and > 0, got {value}")


def _check_ts(name: str, ts: int | None, value_present: bool, t_ms: int) -> None:
    if value_present and ts is None:
        _fail(name, "value given without its timestamp")
    if ts is not None and ts > t_ms:
        _fail(name, f"timestamp {ts} is after the snapshot time {t_ms} (look-ahead)")


def _validate_book(book: Book, t_ms: int) -> None:
    _check_ts("book", book.ts_ms, True, t_ms)
    arrays = {"bid_px": book.bid_px, "bid_sz": book.bid_sz, "ask_px": book.ask_px, "ask_sz": book.ask_sz}
    n = len(book.bid_px)
    if n == 0 or any(len(a) != n for a in arrays.values()):
        _fail("book", f"level arrays must share one non-zero length, got {[len(a) for a in arrays.values()]}")
    for side in ("bid", "ask"):
        px, sz = arrays[f"{side}_px"], arrays[f"{side}_sz"]
        if np.isnan(px[0]):
            _fail(f"book.{side}_px_1", "NaN price at the best level")
        if np.isnan(sz[0]):
            _fail(f"book.{side}_sz_1", "NaN size at the best level")
        present = ~np.isnan(px)
        if not np.array_equal(present, ~np.isnan(sz)):
            i = int(np.flatnonzero(present != ~np.isnan(sz))[0])
            _fail(f"book.{side}_sz_{i + 1}", "price and size must be both present or both NaN")
        depth = int(present.sum())
        if not present[:depth].all():
            i = int(np.flatnonzero(~present[:depth])[0])
            _fail(f"book.{side}_px_{i + 1}", "NaN price inside the book (missing levels must be the deepest)")
        if (~np.isfinite(px[:depth])).any() or (px[:depth] <= 0).any():
            i = int(np.flatnonzero(~(px[:depth] > 0) | ~np.isfinite(px[:depth]))[0])
            _fail(f"book.{side}_px_{i + 1}", f"price must be finite and > 0, got {px[i]}")
        if (sz[:depth] < 0).any() or (~np.isfinite(sz[:depth])).any():
            i = int(np.flatnonzero(~(sz[:depth] >= 0) | ~np.isfinite(sz[:depth]))[0])
            _fail(f"book.{side}_sz_{i + 1}", f"size must be finite and >= 0, got {sz[i]}")
        steps = np.diff(px[:depth])
        if (steps >= 0).any() if side == "bid" else (steps <= 0).any():
            i = int(np.flatnonzero(steps >= 0 if side == "bid" else steps <= 0)[0])
            order = "descending" if side == "bid" else "ascending"
            _fail(f"book.{side}_px_{i + 2}", f"{side} prices must be strictly {order}")
    if book.bid_px[0] >= book.ask_px[0]:
        _fail("book", f"crossed: bid_px_1 {book.bid_px[0]} >= ask_px_1 {book.ask_px[0]}")


@dataclass(frozen=True, eq=False)
class MarketSnapshot:
    """One symbol at one time; see the module docstring. ``missing`` is derived, never passed."""

    symbol: str
    ts_ms: int
    candles: Mapping[str, Candles] = field(default_factory=dict)  # timeframe -> closed bars; absent = missing
    book: Book | None = None
    mark_price: float | None = None
    mark_ts_ms: int | None = None
    funding_rate: float | None = None  # per 8 h interval as the venue quotes it
    funding_ts_ms: int | None = None
    next_funding_ts_ms: int | None = None
    oi_usd: float | None = None
    oi_ts_ms: int | None = None
    oi_history: History | None = None
    long_liq_usd: float | None = None  # latest per-minute sum
    short_liq_usd: float | None = None
    liquidations_ts_ms: int | None = None  # when the latest minute closed
    liquidations_history: History | None = None
    taker_buy_base: float | None = None  # latest per-minute sum
    taker_sell_base: float | None = None
    taker_ts_ms: int | None = None  # when the latest minute closed
    taker_history: History | None = None
    fear_greed: float | None = None  # 0..100
    fear_greed_ts_ms: int | None = None
    social_mentions: float | None = None
    social_tone: float | None = None  # -1..1
    social_ts_ms: int | None = None
    stale: frozenset[str] = frozenset()  # inputs dropped for being too old (a subset of ``missing``)
    missing: frozenset[str] = field(init=False)
    check: InitVar[bool] = True  # False only for builders whose rows were validated in bulk (load_symbol)

    def __post_init__(self, check: bool = True) -> None:
        if check:
            self.validate()
        present = {f"candles_{tf}" for tf in self.candles}
        present |= {name for name, v in (
            ("book", self.book), ("mark", self.mark_price), ("funding", self.funding_rate), ("open_interest", self.oi_usd),
            ("liquidations", self.long_liq_usd), ("taker", self.taker_buy_base), ("fear_greed", self.fear_greed),
            ("social", self.social_tone),
        ) if v is not None}
        object.__setattr__(self, "missing", frozenset(INPUT_NAMES) - present)

    def validate(self) -> None:
        """Raise :class:`DataError` naming the first bad field (run on construction)."""
        t = self.ts_ms
        if not isinstance(t, (int, np.integer)):
            _fail("ts_ms", f"must be int milliseconds, got {type(t).__name__}")
        for tf, bars in self.candles.items():
            self._validate_candles(tf, bars)
        if self.book is not None:
            _validate_book(self.book, t)
        if self.mark_price is not None:
            _check_price("mark_price", self.mark_price)
        _check_ts("mark_ts_ms", self.mark_ts_ms, self.mark_price is not None, t)
        if self.funding_rate is not None and not np.isfinite(self.funding_rate):
            _fail("funding_rate", f"must be finite, got {self.funding_rate}")
        _check_ts("funding_ts_ms", self.funding_ts_ms, self.funding_rate is not None, t)
        for name in ("oi_usd", "long_liq_usd", "short_liq_usd", "taker_buy_base", "taker_sell_base", "social_mentions"):
            v = getattr(self, name)
            if v is not None and not (np.isfinite(v) and v >= 0):
                _fail(name, f"must be finite and >= 0, got {v}")
        if (self.long_liq_usd is None) != (self.short_liq_usd is None):
            _fail("long_liq_usd", "long and short liquidations must be both present or both missing")
        if (self.taker_buy_base is None) != (self.taker_sell_base is None):
            _fail("taker_buy_base", "taker buy and sell must be both present or both missing")
        if (self.social_mentions is None) != (self.social_tone is None):
            _fail("social_tone", "mentions and tone must be both present or both missing")
        _check_ts("oi_ts_ms", self.oi_ts_ms, self.oi_usd is not None, t)
        _check_ts("liquidations_ts_ms", self.liquidations_ts_ms, self.long_liq_usd is not None, t)
        _check_ts("taker_ts_ms", self.taker_ts_ms, self.taker_buy_base is not None, t)
        if self.fear_greed is not None and not (0.0 <= self.fear_greed <= 100.0):
            _fail("fear_greed", f"must lie in [0, 100], got {self.fear_greed}")
        _check_ts("fear_greed_ts_ms", self.fear_greed_ts_ms, self.fear_greed is not None, t)
        if self.social_tone is not None and not (-1.0 <= self.social_tone <= 1.0):
            _fail("social_tone", f"must lie in [-1, 1], got {self.social_tone}")
        _check_ts("social_ts_ms", self.social_ts_ms, self.social_tone is not None, t)

    def _validate_candles(self, tf: str, bars: Candles) -> None:
        name = f"candles_{tf}"
        if tf not in TIMEFRAME_MS:
            _fail(name, f"unknown timeframe; known: {', '.join(TIMEFRAMES)}")
        n = len(bars.ts_ms)
        if n == 0:
            _fail(name, "empty; leave the timeframe out to mark it missing")
        if any(len(a) != n for a in bars):
            _fail(name, "OHLCV arrays differ in length")
        if int(bars.ts_ms[-1]) + TIMEFRAME_MS[tf] > self.ts_ms:
            _fail(f"{name}.ts_ms", f"bar opening at {int(bars.ts_ms[-1])} has not closed by {self.ts_ms} (look-ahead)")
        prices = np.concatenate([bars.open, bars.high, bars.low, bars.close])
        if not (np.isfinite(prices).all() and (prices > 0).all()):
            for col in ("open", "high", "low", "close"):
                arr = getattr(bars, col)
                bad = ~np.isfinite(arr) | ~(arr > 0)
                if bad.any():
                    i = int(np.flatnonzero(bad)[0])
                    _fail(f"{name}.{col}", f"price must be finite and > 0, got {arr[i]} at ts {int(bars.ts_ms[i])}")
        if (bars.volume < 0).any():
            _fail(f"{name}.volume", "must be >= 0")

    # ------------------------------------------------------------------ derived views

    @property
    def best_bid(self) -> float | None:
        return None if self.book is None else float(self.book.bid_px[0])

    @property
    def best_ask(self) -> float | None:
        return None if self.book is None else float(self.book.ask_px[0])

    @property
    def mid_price(self) -> float | None:
        return None if self.book is None else 0.5 * (float(self.book.bid_px[0]) + float(self.book.ask_px[0]))

    @property
    def spread_bps(self) -> float | None:
        mid = self.mid_price
        return None if mid is None else (float(self.book.ask_px[0]) - float(self.book.bid_px[0])) / mid * 1e4  # type: ignore[union-attr]

    @property
    def taker_buy_ratio(self) -> float | None:
        """Taker buy / (buy + sell) of the latest minute; None when missing or no volume."""
        if self.taker_buy_base is None or self.taker_sell_base is None:
            return None
        total = self.taker_buy_base + self.taker_sell_base
        return None if total <= 0 else self.taker_buy_base / total

    def is_missing(self, name: str) -> bool:
        """Return whether input ``name`` (see :data:`botcore.market.enums.INPUT_NAMES`) is missing."""
        if name not in INPUT_NAMES:
            raise KeyError(f"unknown input {name!r}; known: {', '.join(INPUT_NAMES)}")
        return name in self.missing

    def known_ms(self, name: str) -> int | None:
        """Return when input ``name`` became known (close of the last bar / minute for intervals)."""
        if name.startswith("candles_"):
            bars = self.candles.get(name.removeprefix("candles_"))
            return None if bars is None else int(bars.ts_ms[-1]) + TIMEFRAME_MS[name.removeprefix("candles_")]
        return {
            "book": None if self.book is None else self.book.ts_ms,
            "mark": self.mark_ts_ms,
            "funding": self.funding_ts_ms,
            "open_interest": self.oi_ts_ms,
            "liquidations": self.liquidations_ts_ms,
            "taker": self.taker_ts_ms,
            "fear_greed": self.fear_greed_ts_ms,
            "social": self.social_ts_ms,
        }[name]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MarketSnapshot):
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in fields(self))

    __hash__ = None  # type: ignore[assignment]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return bool(a == b)


# --------------------------------------------------------------------------- staleness


def staleness_ms(source: Any = None) -> dict[str, int]:
    """Return max staleness in ms per key from Settings, a mapping of seconds, or the default config."""
    if source is None:
        from botcore.config import load_settings

        source = load_settings()
    seconds = source.signals.max_staleness_seconds if hasattr(source, "signals") else source
    missing = [k for k in STALENESS_KEYS if k not in seconds]
    if missing:
        raise DataError(f"max_staleness_seconds.{missing[0]}: key missing (needed: {', '.join(STALENESS_KEYS)})")
    return {k: int(seconds[k]) * 1000 for k in STALENESS_KEYS}


# --------------------------------------------------------------------------- in-memory rows of a symbol


@dataclass
class Rows:
    """Rows of one kind in memory: stored ``ts``, ``known`` (when each row became known), values (n, c)."""

    ts: np.ndarray
    known: np.ndarray
    values: np.ndarray
    columns: tuple[str, ...]

    @classmethod
    def from_frame(cls, kind: str, df: pd.DataFrame, columns: Sequence[str]) -> Rows:
        ts = df["ts"].to_numpy(np.int64)
        cols = tuple(columns)
        values = np.column_stack([
            df[c].to_numpy(np.float64) if c in df.columns else np.full(len(df), np.nan) for c in cols
        ]) if len(cols) else np.empty((len(df), 0))
        return cls(ts, ts + KINDS[kind].interval_ms, np.ascontiguousarray(values), cols)

    def latest(self, t_ms: int) -> int:
        """Return the index of the latest row known by ``t_ms``, or -1."""
        return int(self.known.searchsorted(t_ms, "right")) - 1


@dataclass
class CandleRows:
    """Resampled closed bars of one timeframe: open ``ts``, ``known`` = close time, ohlcv (n, 5)."""

    ts: np.ndarray
    known: np.ndarray
    ohlcv: np.ndarray


@dataclass
class SymbolData:
    """Everything stored for one symbol over a window, in memory, ready for :func:`build_snapshot`."""

    symbol: str
    candles: dict[str, CandleRows]
    rows: dict[str, Rows]


@dataclass
class MarketData:
    """The market-wide kinds (fear & greed, social) over a window."""

    rows: dict[str, Rows]


#: value columns of each non-candle kind besides ``ts`` (the replay reads them; the live recorder writes them)
VALUE_COLUMNS: dict[str, tuple[str, ...]] = {
    "book": book_columns(BOOK_LEVELS),
    "mark": ("mark_price",),
    "funding": ("rate", "next_funding_ts"),
    "open_interest": ("oi_usd",),
    "liquidations": ("long_liq_usd", "short_liq_usd"),
    "taker": ("taker_buy_base", "taker_sell_base"),
    "fear_greed": ("value",),
    "social": ("mentions", "tone"),
}
_INPUT_OF_KIND = {"book": "book", "mark": "mark", "funding": "funding", "open_interest": "open_interest",
                  "liquidations": "liquidations", "taker": "taker", "fear_greed": "fear_greed", "social": "social"}


def validate_book_rows(symbol: str, rows: Rows) -> None:
    """Check every stored book row at once (NaN rows are missing books); raise DataError naming the field."""
    v = rows.values
    if len(v) == 0:
        return
    L = BOOK_LEVELS
    bid_px, bid_sz, ask_px, ask_sz = v[:, :L], v[:, L : 2 * L], v[:, 2 * L : 3 * L], v[:, 3 * L :]
    empty = np.isnan(bid_px[:, 0]) & np.isnan(ask_px[:, 0])
    with np.errstate(invalid="ignore"):
        bad = ~empty & ((bid_px[:, 0] >= ask_px[:, 0]) | np.isnan(bid_px[:, 0]) | np.isnan(ask_px[:, 0]))
        bad |= (np.isnan(bid_px) != np.isnan(bid_sz)).any(axis=1) | (np.isnan(ask_px) != np.isnan(ask_sz)).any(axis=1)
        bad |= (np.diff(bid_px, axis=1) >= 0).any(axis=1) | (np.diff(ask_px, axis=1) <= 0).any(axis=1)
        bad |= (~np.isnan(bid_px[:, 1:]) & np.isnan(bid_px[:, :-1])).any(axis=1)
        bad |= (~np.isnan(ask_px[:, 1:]) & np.isnan(ask_px[:, :-1])).any(axis=1)
    bad &= ~empty
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        try:
            _validate_book(Book(int(rows.known[i]), bid_px[i], bid_sz[i], ask_px[i], ask_sz[i]), int(rows.known[i]))
        except DataError as exc:
            raise DataError(f"{symbol} at ts {int(rows.ts[i])}: {exc}") from None
        raise DataError(f"book[{symbol}] at ts {int(rows.ts[i])}: invalid levels")


def validate_candle_rows(symbol: str, tf: str, bars: CandleRows) -> None:
    """Check that every closed bar has finite, positive prices; raise DataError naming the field."""
    prices = bars.ohlcv[:, :4]
    bad = ~(np.isfinite(prices) & (prices > 0))
    if bad.any():
        i, j = (int(x[0]) for x in np.nonzero(bad))
        col = CANDLE_COLUMNS[j]
        raise DataError(f"candles_{tf}.{col}: price must be finite and > 0, got {prices[i, j]} for {symbol} at ts {int(bars.ts[i])}")


def _floor(t: int, step: int) -> int:
    return t - t % step


def load_symbol(
    store: Store,
    symbol: str,
    start_ms: int,
    end_ms: int,
    stale_ms: Mapping[str, int],
    lookback_bars: int = DEFAULT_LOOKBACK_BARS,
    history_ms: int = DEFAULT_HISTORY_MS,
) -> SymbolData:
    """Load what snapshots of ``symbol`` at times in ``[start_ms, end_ms]`` need, and nothing after ``end_ms``.

    Candles come from the finest stored base and are resampled once (bars
    closed by ``end_ms``); a bar closed by t is the same bar whatever the
    window, so snapshots do not depend on how far the data or the window reach.
    """
    candles: dict[str, CandleRows] = {}
    base = {tf: store.candle_base(symbol, tf) for tf in TIMEFRAMES}
    loaded: dict[str, pd.DataFrame] = {}
    for tf in TIMEFRAMES:
        if base[tf] is None:
            continue
        kind, base_ms = base[tf]  # type: ignore[misc]
        tf_ms = TIMEFRAME_MS[tf]
        if kind not in loaded:
            widest = max(TIMEFRAME_MS[x] for x in TIMEFRAMES if base[x] is not None and base[x][0] == kind)  # type: ignore[index]
            lo = _floor(start_ms - (lookback_bars + 1) * widest, widest)
            loaded[kind] = store.read(kind, symbol, lo, end_ms - base_ms)
        df = resample_candles(loaded[kind], base_ms, tf_ms, end_ms)
        ts = df["ts"].to_numpy(np.int64)
        ohlcv = np.ascontiguousarray(df[list(CANDLE_COLUMNS)].to_numpy(np.float64))
        candles[tf] = CandleRows(ts, ts + tf_ms, ohlcv)
        validate_candle_rows(symbol, tf, candles[tf])
    rows = {}
    for kind in ROW_KINDS:
        reach = max(STALE_LOOKBACK * stale_ms[STALENESS_KEY[_INPUT_OF_KIND[kind]]], history_ms) + KINDS[kind].interval_ms
        df = store.read(kind, symbol, start_ms - reach, end_ms)
        rows[kind] = Rows.from_frame(kind, df, VALUE_COLUMNS[kind])
    validate_book_rows(symbol, rows["book"])
    return SymbolData(symbol, candles, rows)


def load_market(store: Store, start_ms: int, end_ms: int, stale_ms: Mapping[str, int]) -> MarketData:
    """Load the market-wide kinds needed for snapshots in ``[start_ms, end_ms]``."""
    rows = {}
    for kind in MARKET_KINDS:
        reach = STALE_LOOKBACK * stale_ms[kind] + KINDS[kind].interval_ms
        rows[kind] = Rows.from_frame(kind, store.read(kind, "MARKET", start_ms - reach, end_ms), VALUE_COLUMNS[kind])
    return MarketData(rows)


# --------------------------------------------------------------------------- building


def build_snapshot(
    data: SymbolData,
    market: MarketData | None,
    t_ms: int,
    stale_ms: Mapping[str, int],
    lookback_bars: int = DEFAULT_LOOKBACK_BARS,
    history_ms: int = DEFAULT_HISTORY_MS,
) -> MarketSnapshot:
    """Return the snapshot of ``data.symbol`` at ``t_ms`` from rows known by ``t_ms`` only.

    Candles: bars that closed in ``(t - lookback_bars * tf, t]``. Row inputs:
    the latest row known by t, missing when older than its staleness limit
    (listed in ``stale`` when younger than twice the limit, else simply
    absent) or NaN. Histories: rows known in ``(t - history_ms, t]``. The
    result depends only on rows known by t, never on how far the loaded
    window reaches.
    """
    t = int(t_ms)
    stale: set[str] = set()
    candles: dict[str, Candles] = {}
    for tf, bars in data.candles.items():
        tf_ms = TIMEFRAME_MS[tf]
        hi = int(bars.known.searchsorted(t, "right"))
        lo = int(bars.known.searchsorted(t - lookback_bars * tf_ms, "right"))
        if hi <= lo:
            continue
        if t - int(bars.known[hi - 1]) > stale_ms["candles"] + tf_ms - 60_000:
            stale.add(f"candles_{tf}")
            continue
        block = bars.ohlcv[lo:hi]
        candles[tf] = Candles(bars.ts[lo:hi], block[:, 0], block[:, 1], block[:, 2], block[:, 3], block[:, 4])

    def latest(rows: Rows, name: str) -> tuple[int, np.ndarray] | None:
        i = rows.latest(t)
        if i < 0:
            return None
        age, limit = t - int(rows.known[i]), stale_ms[STALENESS_KEY[name]]
        if age > limit:
            if age <= STALE_LOOKBACK * limit:  # beyond that it is absent: loaders look back no further
                stale.add(name)
            return None
        return int(rows.known[i]), rows.values[i]

    def history(rows: Rows) -> History | None:
        hi = int(rows.known.searchsorted(t, "right"))
        lo = int(rows.known.searchsorted(t - history_ms, "right"))
        return None if hi <= lo else History(rows.ts[lo:hi], rows.values[lo:hi], rows.columns)

    kw: dict[str, Any] = {}
    r = data.rows
    if (hit := latest(r["book"], "book")) is not None:
        known, v = hit
        bid_px, bid_sz, ask_px, ask_sz = v[:BOOK_LEVELS], v[BOOK_LEVELS : 2 * BOOK_LEVELS], v[2 * BOOK_LEVELS : 3 * BOOK_LEVELS], v[3 * BOOK_LEVELS :]
        if not (np.isnan(bid_px[0]) and np.isnan(ask_px[0])):
            kw["book"] = Book(known, bid_px, bid_sz, ask_px, ask_sz)
    if (hit := latest(r["mark"], "mark")) is not None and not np.isnan(hit[1][0]):
        kw.update(mark_price=float(hit[1][0]), mark_ts_ms=hit[0])
    if (hit := latest(r["funding"], "funding")) is not None and not np.isnan(hit[1][0]):
        nxt = hit[1][1]
        kw.update(funding_rate=float(hit[1][0]), funding_ts_ms=hit[0], next_funding_ts_ms=None if np.isnan(nxt) else int(nxt))
    if (hit := latest(r["open_interest"], "open_interest")) is not None and not np.isnan(hit[1][0]):
        kw.update(oi_usd=float(hit[1][0]), oi_ts_ms=hit[0], oi_history=history(r["open_interest"]))
    if (hit := latest(r["liquidations"], "liquidations")) is not None and not np.isnan(hit[1]).any():
        kw.update(long_liq_usd=float(hit[1][0]), short_liq_usd=float(hit[1][1]), liquidations_ts_ms=hit[0],
                  liquidations_history=history(r["liquidations"]))
    if (hit := latest(r["taker"], "taker")) is not None and not np.isnan(hit[1]).any():
        kw.update(taker_buy_base=float(hit[1][0]), taker_sell_base=float(hit[1][1]), taker_ts_ms=hit[0],
                  taker_history=history(r["taker"]))
    if market is not None:
        if (hit := latest(market.rows["fear_greed"], "fear_greed")) is not None and not np.isnan(hit[1][0]):
            kw.update(fear_greed=float(hit[1][0]), fear_greed_ts_ms=hit[0])
        if (hit := latest(market.rows["social"], "social")) is not None and not np.isnan(hit[1]).any():
            kw.update(social_mentions=float(hit[1][0]), social_tone=float(hit[1][1]), social_ts_ms=hit[0])
    # rows were validated in bulk by load_symbol and the store; known-at <= t holds by construction
    return MarketSnapshot(data.symbol, t, candles, stale=frozenset(stale), check=False, **kw)


def snapshot_at(
    store: Store,
    symbol: str,
    t_ms: int,
    staleness: Any = None,
    lookback_bars: int = DEFAULT_LOOKBACK_BARS,
    history_ms: int = DEFAULT_HISTORY_MS,
) -> MarketSnapshot:
    """Return the snapshot of ``symbol`` at ``t_ms`` read straight from ``store``.

    ``staleness``: Settings, a mapping of seconds per key, or None for the default config.
    """
    stale_ms = staleness_ms(staleness)
    data = load_symbol(store, symbol, t_ms, t_ms, stale_ms, lookback_bars, history_ms)
    market = load_market(store, t_ms, t_ms, stale_ms)
    return build_snapshot(data, market, t_ms, stale_ms, lookback_bars, history_ms)


# --------------------------------------------------------------------------- array form


class SnapshotArrays(NamedTuple):
    """The snapshots of one cycle as arrays (S symbols; see :mod:`botcore.market.enums` for indices).

    values
        (S, N_SNAP_FIELDS) float64 scalars, NaN when the input is missing.
    known_ms
        (S, N_INPUTS) int64 when each input became known, -1 when missing.
    missing
        (S, N_INPUTS) bool.
    book
        (S, 4, levels) float64: bid_px, bid_sz, ask_px, ask_sz; NaN when missing.
    candles
        (N_TF, S, lookback, 5) float64 OHLCV, right-aligned (the latest closed
        bar at index lookback-1), NaN-padded on the left.
    candle_ts_ms
        (N_TF, S, lookback) int64 bar opens, -1 padding.
    """

    t_ms: int
    symbols: tuple[str, ...]
    values: np.ndarray
    known_ms: np.ndarray
    missing: np.ndarray
    book: np.ndarray
    candles: np.ndarray
    candle_ts_ms: np.ndarray


def to_arrays(snapshots: Sequence[MarketSnapshot], lookback_bars: int = DEFAULT_LOOKBACK_BARS, levels: int = BOOK_LEVELS) -> SnapshotArrays:
    """Stack the snapshots of one time into :class:`SnapshotArrays`."""
    if not snapshots:
        raise DataError("snapshots: empty")
    t = snapshots[0].ts_ms
    if any(s.ts_ms != t for s in snapshots):
        raise DataError("snapshots: must share one ts_ms")
    n = len(snapshots)
    values = np.full((n, N_SNAP_FIELDS), np.nan)
    known = np.full((n, N_INPUTS), -1, dtype=np.int64)
    missing = np.ones((n, N_INPUTS), dtype=np.bool_)
    book = np.full((n, 4, levels), np.nan)
    candles = np.full((len(TIMEFRAMES), n, lookback_bars, 5), np.nan)
    candle_ts = np.full((len(TIMEFRAMES), n, lookback_bars), -1, dtype=np.int64)
    F = SnapFields
    for i, s in enumerate(snapshots):
        for j, name in enumerate(INPUT_NAMES):
            if name not in s.missing:
                at = s.known_ms(name)
                if at is None:
                    raise DataError(f"snapshot {s.symbol} at {utc(s.ts_ms)}: input {name} is not listed missing but has no data")
                missing[i, j] = False
                known[i, j] = at
        for k, tf in enumerate(TIMEFRAMES):
            bars = s.candles.get(tf)
            if bars is not None:
                m = min(len(bars.ts_ms), lookback_bars)
                candles[k, i, lookback_bars - m :] = bars.as_array()[-m:]
                candle_ts[k, i, lookback_bars - m :] = bars.ts_ms[-m:]
        if s.book is not None:
            m = min(levels, len(s.book.bid_px))
            for row, arr in ((BookRows.bid_px, s.book.bid_px), (BookRows.bid_sz, s.book.bid_sz),
                             (BookRows.ask_px, s.book.ask_px), (BookRows.ask_sz, s.book.ask_sz)):
                book[i, row, :m] = arr[:m]
            values[i, F.best_bid] = s.best_bid
            values[i, F.best_ask] = s.best_ask
            values[i, F.mid_price] = s.mid_price
            values[i, F.spread_bps] = s.spread_bps
        for name, col in (("mark_price", F.mark_price), ("funding_rate", F.funding_rate), ("next_funding_ts_ms", F.next_funding_ts_ms),
                          ("oi_usd", F.oi_usd), ("long_liq_usd", F.long_liq_usd), ("short_liq_usd", F.short_liq_usd),
                          ("taker_buy_base", F.taker_buy_base), ("taker_sell_base", F.taker_sell_base),
                          ("fear_greed", F.fear_greed), ("social_mentions", F.social_mentions), ("social_tone", F.social_tone)):
            v = getattr(s, name)
            if v is not None:
                values[i, col] = v
    return SnapshotArrays(t, tuple(s.symbol for s in snapshots), values, known, missing, book, candles, candle_ts)


__all__ = [
    "Book",
    "Candles",
    "History",
    "Inputs",
    "MarketData",
    "MarketSnapshot",
    "SnapshotArrays",
    "SymbolData",
    "build_snapshot",
    "load_market",
    "load_symbol",
    "snapshot_at",
    "staleness_ms",
    "to_arrays",
]
