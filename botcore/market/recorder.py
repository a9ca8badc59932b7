"""Recorder: every input of every live cycle written to a store as it was seen, so the session replays.

:class:`Recorder` takes each :class:`~botcore.market.replay.Cycle` the live feed
assembles and writes its inputs into a :class:`~botcore.market.store.Store` in
the store's own layout (``<kind>/<SYMBOL_KEY>.parquet``), so a recording is an
ordinary store: ``botcore data info`` lists it and
:class:`~botcore.market.replay.ReplayFeed` replays it. ``botcore run --feed
live`` records into the warm-up store beside the ledger (``<ledger>.market/``).

What is written, per cycle ``t`` and symbol:

- ``candles_1m``: the bars the feed took at this cycle (those closed since the
  previous cycle; the first cycle: every bar closed by then);
- ``book``, ``mark``, ``funding``, ``open_interest``: the value stamped at
  its known-at time; ``liquidations``, ``taker``: the minute's sums stamped
  at the minute's open; ``fear_greed``, ``social`` (``MARKET``) likewise;
- an input the cycle lacks is written as a row of NaN at ``t`` (interval
  kinds: at ``t - 1m``), which the replay reads as missing (the store's own
  convention), so a replay at ``t`` never takes an older row for a value the
  live cycle did not have. A missing 1m bar is simply absent (a gap);
- ``recording.jsonl`` at the store's root: one line per cycle with its UTC
  time and the reason of every missing input.

Writes merge into the store's files (a rewrite of each file), so they run in
one background thread every ``flush_every`` cycles (default 5), off the
cycle's path; :meth:`Recorder.close` (the live feed's ``close``) writes the
rest and waits. A crash loses at most the last ``flush_every`` cycles of the
recording.

A value already written (same stamp) is not written again. A value whose
stamp is not after the one written before (a provider catching up) is
stamped at ``t``: the replay then sees it at the same cycle as the live feed
did, not earlier.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from botcore.clock import BAR_MS, utc
from botcore.market.replay import Cycle
from botcore.market.snapshot import VALUE_COLUMNS, MarketSnapshot
from botcore.market.store import BOOK_LEVELS, MARKET, Store

logger = logging.getLogger(__name__)

JOURNAL = "recording.jsonl"
SOURCE = "live recording"
#: kinds whose rows are per-minute sums stamped at the minute's open
INTERVAL = ("liquidations", "taker")


def _book_values(snap: MarketSnapshot) -> tuple[float, ...]:
    b = snap.book
    out = []
    for arr in (b.bid_px, b.bid_sz, b.ask_px, b.ask_sz):  # type: ignore[union-attr]
        row = np.full(BOOK_LEVELS, np.nan)
        m = min(BOOK_LEVELS, len(arr))
        row[:m] = arr[:m]
        out += row.tolist()
    return tuple(out)


def snapshot_rows(snap: MarketSnapshot) -> dict[str, tuple[int, tuple[float, ...]] | None]:
    """``{kind: (stamp, values)}`` of one symbol's snapshot, None for an input it lacks (MARKET kinds included)."""
    def opt(x: Any) -> float:
        return np.nan if x is None else float(x)

    return {
        "book": None if snap.book is None else (int(snap.book.ts_ms), _book_values(snap)),
        "mark": None if snap.mark_price is None else (int(snap.mark_ts_ms), (snap.mark_price,)),  # type: ignore[arg-type]
        "funding": None if snap.funding_rate is None else (int(snap.funding_ts_ms),  # type: ignore[arg-type]
                                                           (snap.funding_rate, opt(snap.next_funding_ts_ms))),
        "open_interest": None if snap.oi_usd is None else (int(snap.oi_ts_ms), (snap.oi_usd,)),  # type: ignore[arg-type]
        "liquidations": None if snap.long_liq_usd is None or snap.short_liq_usd is None else (
            int(snap.liquidations_ts_ms) - BAR_MS, (snap.long_liq_usd, snap.short_liq_usd)),  # type: ignore[arg-type]
        "taker": None if snap.taker_buy_base is None or snap.taker_sell_base is None else (
            int(snap.taker_ts_ms) - BAR_MS, (snap.taker_buy_base, snap.taker_sell_base)),  # type: ignore[arg-type]
        "fear_greed": None if snap.fear_greed is None else (int(snap.fear_greed_ts_ms), (snap.fear_greed,)),  # type: ignore[arg-type]
        "social": None if snap.social_tone is None or snap.social_mentions is None else (int(snap.social_ts_ms),  # type: ignore[arg-type]
                                                         (snap.social_mentions, snap.social_tone)),
    }


class Recorder:
    """Write the live feed's cycles into ``store`` (module docstring); ``flush_every`` cycles per write."""

    def __init__(self, store: Store, symbols: Sequence[str], flush_every: int = 5) -> None:
        self.store = store
        self.symbols = tuple(symbols)
        self.flush_every = max(1, int(flush_every))
        self.cycles = 0
        self.rows_written = 0
        self.restamped = 0
        self._last: dict[tuple[str, str], tuple[int, tuple[float, ...]]] = {}
        self._pending: dict[tuple[str, str], list[pd.DataFrame]] = {}
        self._journal: list[str] = []
        self._prev_t: int | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recorder")
        self._writes: list[Future[None]] = []
        self.write_errors = 0
        self.closed = False

    def _put(self, kind: str, symbol: str, frame: pd.DataFrame) -> None:
        self._pending.setdefault((kind, symbol), []).append(frame)

    def _value(self, kind: str, symbol: str, t: int, hit: tuple[int, tuple[float, ...]] | None) -> None:
        if hit is None:
            stamp, values = (t - BAR_MS if kind in INTERVAL else t), (np.nan,) * len(VALUE_COLUMNS[kind])
        else:
            stamp, values = hit
            last = self._last.get((kind, symbol))
            if last is not None and stamp <= last[0]:
                if stamp == last[0] and np.array_equal(values, last[1], equal_nan=True):
                    return  # written already
                if kind in INTERVAL:
                    return  # a minute's sums that arrive late: that minute's cycle went without them
                stamp = t
                self.restamped += 1
        self._last[(kind, symbol)] = (stamp, tuple(values))
        self._put(kind, symbol, pd.DataFrame([[stamp, *values]], columns=["ts", *VALUE_COLUMNS[kind]]))

    def record(self, cycle: Cycle, new_bars: Mapping[str, pd.DataFrame], faults: Mapping[str, Mapping[str, str]]) -> None:
        """Record one cycle: its snapshots, the 1m bars taken at it, and why each missing input is missing."""
        t = int(cycle.t_ms)
        for symbol, snap in cycle.snapshots.items():
            bars = new_bars.get(symbol)
            if bars is not None and len(bars):
                self._put("candles_1m", symbol, bars)
            rows = snapshot_rows(snap)
            for kind in ("book", "mark", "funding", "open_interest", "liquidations", "taker"):
                self._value(kind, symbol, t, rows[kind])
        if cycle.snapshots:
            rows = snapshot_rows(next(iter(cycle.snapshots.values())))
            for kind in ("fear_greed", "social"):
                self._value(kind, MARKET, t, rows[kind])
        missing = {s: sorted(snap.missing) for s, snap in cycle.snapshots.items() if snap.missing}
        self._journal.append(json.dumps({"t": utc(t, seconds=True, suffix=False), "t_ms": t, "missing": missing,
                                         "reasons": {k: dict(v) for k, v in faults.items()}}, sort_keys=True))
        self.cycles += 1
        self._prev_t = t
        if self.cycles % self.flush_every == 0:
            self.flush()

    def flush(self) -> None:
        """Hand the buffered rows and journal lines to the writer thread (one merge per kind and symbol)."""
        pending, journal = self._pending, self._journal
        self._pending, self._journal = {}, []
        self._writes = [f for f in self._writes if not f.done()]
        self._writes.append(self._writer.submit(self._write, pending, journal))

    def _write(self, pending: dict[tuple[str, str], list[pd.DataFrame]], journal: list[str]) -> None:
        try:
            for (kind, symbol), frames in pending.items():
                frame = pd.concat(frames, ignore_index=True)
                self.store.write(kind, symbol, frame, metadata={"source": SOURCE})
                self.rows_written += len(frame)
            if journal:
                self.store.root.mkdir(parents=True, exist_ok=True)
                with open(self.store.root / JOURNAL, "a", encoding="utf-8") as fh:
                    fh.write("\n".join(journal) + "\n")
        except Exception:  # noqa: BLE001 - the trading loop goes on; the recording has a hole, said loudly
            self.write_errors += 1
            logger.exception("recorder: writing %d kind(s) into %s failed; the recording misses these cycles",
                             len(pending), self.store.root)

    def close(self) -> None:
        """Write what is buffered and wait for every write (again: nothing)."""
        if self.closed:
            return
        self.flush()
        self._writer.shutdown(wait=True)
        self.closed = True


def read_journal(store: Store) -> pd.DataFrame:
    """The recording's cycles: ``t`` (UTC), ``t_ms``, ``missing`` ({symbol: [inputs]}), ``reasons``."""
    path = store.root / JOURNAL
    if not path.is_file():
        return pd.DataFrame(columns=["t", "t_ms", "missing", "reasons"])
    return pd.DataFrame([json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()])


__all__ = ["JOURNAL", "Recorder", "read_journal", "snapshot_rows"]
