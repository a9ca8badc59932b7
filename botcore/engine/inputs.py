"""Bar rows for the compiled step: from a store window (backtest, warm-up) or from a replayed cycle.

The rule (the same one :mod:`botcore.market.snapshot` applies, reduced to what
the step reads): at cycle time ``t`` (a whole minute, the close of the 1m bar
``[t - 1m, t)``)

- **per-bar inputs** — the 1m candle, the per-minute liquidation and taker
  sums — are the row of exactly that bar (stamped ``t - 1m``, known at
  ``t``), NaN when it is absent or has a missing value; never carried forward;
- **instantaneous inputs** — book, mark, funding (rate and next funding
  time), open interest, fear & greed, social — are the latest row stamped at
  or before ``t``, NaN when it is older than its
  ``signals.max_staleness_seconds`` limit (mark ages like candles) or its
  value is missing (a book is missing when both best prices are NaN; social
  when mentions or tone is).

:func:`load_rows` builds the rows of many cycle times at once from a
:class:`~botcore.market.store.Store`; :func:`row_from_cycle` builds the row
of one :class:`~botcore.market.replay.Cycle` from ``Cycle.arrays()``. The two
agree bar for bar (``tests/test_engine_inputs.py``), which is what lets a
backtest and a replay of the same window make the same decisions.
:func:`iter_chunks` walks a long window in chunks so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from botcore.clock import BAR_MS
from botcore.engine.enums import N_ROW_SCALARS, BarRow, BarRows, RowScalars
from botcore.errors import DataError
from botcore.market.enums import Inputs, SnapFields
from botcore.market.snapshot import SnapshotArrays, staleness_ms
from botcore.market.store import BOOK_LEVELS, MARKET, Store, book_columns

_R = RowScalars


def cycle_times(first_ms: int, last_ms: int) -> np.ndarray:
    """Return the cycle times ``first_ms, first_ms + 1m, ... <= last_ms`` (int64), checking the minute grid."""
    if first_ms % BAR_MS:
        raise DataError(f"start: {first_ms} is not on a whole minute")
    if last_ms < first_ms:
        raise DataError(f"end: {last_ms} is before start {first_ms}")
    return np.arange(int(first_ms), int(last_ms) + 1, BAR_MS, dtype=np.int64)


def _latest(known: np.ndarray, times: np.ndarray, limit_ms: int) -> tuple[np.ndarray, np.ndarray]:
    """Index of the latest row known by each time and whether it is within ``limit_ms``."""
    idx = np.searchsorted(known, times, side="right") - 1
    ok = idx >= 0
    safe = np.maximum(idx, 0)
    if len(known):
        ok &= times - known[safe] <= limit_ms
    else:
        ok[:] = False
    return safe, ok


def _exact(ts: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the row of the bar closing at each time (``ts == t - 1m``) and whether it exists."""
    want = times - BAR_MS
    idx = np.searchsorted(ts, want, side="left")
    safe = np.minimum(idx, max(len(ts) - 1, 0))
    ok = (idx < len(ts)) & (ts[safe] == want) if len(ts) else np.zeros(len(times), dtype=bool)
    return safe, ok


def load_rows(store: Store, symbols: Sequence[str], first_ms: int, last_ms: int, staleness: Any = None,
              levels: int = BOOK_LEVELS) -> BarRows:
    """Return the bar rows of ``symbols`` at every cycle time in ``[first_ms, last_ms]`` from ``store``.

    ``staleness`` is the Settings (or a mapping of ``max_staleness_seconds``).
    Reads only rows that can be known by ``last_ms``.
    """
    times = cycle_times(first_ms, last_ms)
    stale = staleness_ms(staleness)
    nb_, n = len(times), len(symbols)
    ohlcv = np.full((nb_, n, 5), np.nan)
    book = np.full((nb_, n, 4, levels), np.nan)
    scal = np.full((nb_, n, N_ROW_SCALARS), np.nan)
    lo_bar, hi_bar = int(times[0]) - BAR_MS, int(times[-1]) - BAR_MS

    cols: Sequence[str]
    for j, symbol in enumerate(symbols):
        df = store.read("candles_1m", symbol, lo_bar, hi_bar, columns=["open", "high", "low", "close", "volume"])
        ts = df["ts"].to_numpy(np.int64)
        idx, ok = _exact(ts, times)
        if ok.any():
            vals = df[["open", "high", "low", "close", "volume"]].to_numpy(np.float64)
            ohlcv[ok, j] = vals[idx[ok]]

        for kind, cols in (("liquidations", ("long_liq_usd", "short_liq_usd")),
                           ("taker", ("taker_buy_base", "taker_sell_base"))):
            df = store.read(kind, symbol, lo_bar, hi_bar, columns=list(cols))
            ts = df["ts"].to_numpy(np.int64)
            idx, ok = _exact(ts, times)
            if ok.any():
                vals = np.column_stack([df[c].to_numpy(np.float64) for c in cols])[idx]
                ok &= ~np.isnan(vals).any(axis=1)
                first = _R.long_liq_usd if kind == "liquidations" else _R.taker_buy_base
                scal[ok, j, first] = vals[ok, 0]
                scal[ok, j, first + 1] = vals[ok, 1]

        limit = stale["book"]
        cols = list(book_columns(levels))
        df = store.read("book", symbol, int(times[0]) - limit, int(times[-1]), columns=cols)
        ts = df["ts"].to_numpy(np.int64)
        idx, ok = _latest(ts, times, limit)
        if ok.any() and len(df):
            vals = np.column_stack([df[c].to_numpy(np.float64) if c in df.columns else np.full(len(df), np.nan)
                                    for c in cols])[idx]
            ok &= ~(np.isnan(vals[:, 0]) & np.isnan(vals[:, 2 * levels]))
            book[ok, j] = vals[ok].reshape(-1, 4, levels)

        for kind, cols, key, first in (("mark", ("mark_price",), "candles", _R.mark_price),
                                       ("funding", ("rate", "next_funding_ts"), "funding", _R.funding_rate),
                                       ("open_interest", ("oi_usd",), "open_interest", _R.oi_usd)):
            limit = stale[key]
            df = store.read(kind, symbol, int(times[0]) - limit, int(times[-1]))
            ts = df["ts"].to_numpy(np.int64)
            idx, ok = _latest(ts, times, limit)
            if not (ok.any() and len(df)):
                continue
            vals = np.column_stack([df[c].to_numpy(np.float64) if c in df.columns else np.full(len(df), np.nan)
                                    for c in cols])[idx]
            ok &= ~np.isnan(vals[:, 0])
            for c in range(len(cols)):
                scal[ok, j, first + c] = vals[ok, c]

    for kind, cols, first in (("fear_greed", ("value",), _R.fear_greed), ("social", ("mentions", "tone"), _R.social_mentions)):
        limit = stale[kind]
        df = store.read(kind, MARKET, int(times[0]) - limit, int(times[-1]))
        ts = df["ts"].to_numpy(np.int64)
        idx, ok = _latest(ts, times, limit)
        if not (ok.any() and len(df)):
            continue
        vals = np.column_stack([df[c].to_numpy(np.float64) for c in cols])[idx]
        ok &= ~np.isnan(vals).any(axis=1)
        for c in range(len(cols)):
            scal[ok, :, first + c] = vals[ok, c][:, None]
    return BarRows(times, ohlcv, book, scal)


def iter_chunks(store: Store, symbols: Sequence[str], first_ms: int, last_ms: int, staleness: Any = None,
                chunk_bars: int = 10_080, levels: int = BOOK_LEVELS) -> Iterator[BarRows]:
    """Yield :func:`load_rows` over ``[first_ms, last_ms]`` in chunks of ``chunk_bars`` cycle times."""
    if last_ms < first_ms:
        return
    t = int(first_ms)
    while t <= last_ms:
        end = min(int(last_ms), t + (chunk_bars - 1) * BAR_MS)
        yield load_rows(store, symbols, t, end, staleness, levels)
        t = end + BAR_MS


def row_from_cycle(arrays: SnapshotArrays, levels: int = BOOK_LEVELS) -> BarRow:
    """Return the bar row of one replayed cycle from ``Cycle.arrays()`` (:class:`SnapshotArrays`).

    The 1m candle counts only when the latest closed bar is the one closing at
    ``t``; the per-minute sums only when they were known exactly at ``t``;
    everything else is the snapshot's value (NaN when missing or stale).
    """
    t = int(arrays.t_ms)
    n = len(arrays.symbols)
    ohlcv = np.full((n, 5), np.nan)
    last_open = arrays.candle_ts_ms[0, :, -1]
    here = last_open == t - BAR_MS
    ohlcv[here] = arrays.candles[0, here, -1, :]
    book = np.full((n, 4, levels), np.nan)
    m = min(levels, arrays.book.shape[2])
    book[:, :, :m] = arrays.book[:, :, :m]
    v = arrays.values
    F = SnapFields
    scal = np.full((n, N_ROW_SCALARS), np.nan)
    scal[:, _R.mark_price] = v[:, F.mark_price]
    scal[:, _R.funding_rate] = v[:, F.funding_rate]
    scal[:, _R.next_funding_ts_ms] = v[:, F.next_funding_ts_ms]
    scal[:, _R.oi_usd] = v[:, F.oi_usd]
    liq = arrays.known_ms[:, Inputs.liquidations] == t
    scal[liq, _R.long_liq_usd] = v[liq, F.long_liq_usd]
    scal[liq, _R.short_liq_usd] = v[liq, F.short_liq_usd]
    taker = arrays.known_ms[:, Inputs.taker] == t
    scal[taker, _R.taker_buy_base] = v[taker, F.taker_buy_base]
    scal[taker, _R.taker_sell_base] = v[taker, F.taker_sell_base]
    scal[:, _R.fear_greed] = v[:, F.fear_greed]
    scal[:, _R.social_mentions] = v[:, F.social_mentions]
    scal[:, _R.social_tone] = v[:, F.social_tone]
    return BarRow(t, ohlcv, book, scal)


__all__ = ["BAR_MS", "cycle_times", "iter_chunks", "load_rows", "row_from_cycle"]
