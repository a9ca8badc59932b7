"""ReplayFeed: a stored market played back cycle by cycle, as a live feed would have seen it.

At each cycle time ``t`` (``start_ms``, ``start_ms + cycle_ms``, ... up to
``end_ms``) the feed yields the snapshots of all symbols built ONLY from rows
known at or before ``t``: candles that closed by ``t``, per-minute sums whose
minute closed by ``t``, and instantaneous rows stamped at or before ``t``
(see :mod:`botcore.market.store` for when each kind is known). So a snapshot
at ``t`` is the same whether the store ends at ``t`` or a month later.

The window is loaded into memory once (with the look-back the first cycle
needs); ``speed=None`` replays as fast as possible, ``speed=k`` paces the
cycles at k times real time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

from botcore.errors import DataError
from botcore.market.snapshot import (
    DEFAULT_HISTORY_MS,
    DEFAULT_LOOKBACK_BARS,
    MarketSnapshot,
    SnapshotArrays,
    build_snapshot,
    load_market,
    load_symbol,
    staleness_ms,
    to_arrays,
)
from botcore.market.store import Store

logger = logging.getLogger(__name__)


class Cycle(NamedTuple):
    """One replayed cycle: its time and the snapshot of every symbol (in the feed's symbol order)."""

    t_ms: int
    snapshots: dict[str, MarketSnapshot]

    def arrays(self, lookback_bars: int = DEFAULT_LOOKBACK_BARS) -> SnapshotArrays:
        """Return the cycle's snapshots as :class:`~botcore.market.snapshot.SnapshotArrays`."""
        return to_arrays(list(self.snapshots.values()), lookback_bars)


class ReplayFeed:
    """Replay ``symbols`` from ``store`` over ``[start_ms, end_ms]`` every ``cycle_ms``.

    Parameters
    ----------
    store
        The market-data store.
    symbols
        ccxt symbols; each cycle's snapshots follow this order.
    start_ms, end_ms
        First and last cycle time bounds (ms UTC, inclusive).
    cycle_ms
        Time between cycles (60 000 = one minute, the live loop's default).
    speed
        None: as fast as possible; k > 0: k times real time (60 plays one
        one-minute cycle per wall-clock second).
    staleness
        Settings, a mapping of ``max_staleness_seconds``, or None for the default config.
    lookback_bars, history_ms
        Bars per timeframe and minutes of history each snapshot carries.
    clock, sleep
        Wall clock and sleep, replaceable in tests.
    """

    def __init__(
        self,
        store: Store,
        symbols: Sequence[str],
        start_ms: int,
        end_ms: int,
        cycle_ms: int = 60_000,
        speed: float | None = None,
        staleness: Any = None,
        lookback_bars: int = DEFAULT_LOOKBACK_BARS,
        history_ms: int = DEFAULT_HISTORY_MS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if cycle_ms <= 0:
            raise DataError(f"cycle_ms: must be > 0, got {cycle_ms}")
        if end_ms < start_ms:
            raise DataError(f"end_ms: {end_ms} is before start_ms {start_ms}")
        if speed is not None and speed <= 0:
            raise DataError(f"speed: must be > 0 or None, got {speed}")
        if not symbols:
            raise DataError("symbols: empty")
        self.store = store
        self.symbols = tuple(symbols)
        self.start_ms = int(start_ms)
        self.end_ms = int(end_ms)
        self.cycle_ms = int(cycle_ms)
        self.speed = speed
        self.stale_ms = staleness_ms(staleness)
        self.lookback_bars = lookback_bars
        self.history_ms = history_ms
        self._clock = clock
        self._sleep = sleep
        self._data: dict[str, Any] | None = None
        self._market: Any = None
        self._stopped = False
        #: A stored market has no fetch faults: what it lacks, its snapshots mark missing.
        self.last_faults: dict[str, dict[str, str]] = {}

    def __len__(self) -> int:
        return (self.end_ms - self.start_ms) // self.cycle_ms + 1

    def times(self) -> range:
        """Return the cycle times."""
        return range(self.start_ms, self.end_ms + 1, self.cycle_ms)

    def load(self) -> None:
        """Load the window (done lazily by the first iteration)."""
        if self._data is not None:
            return
        t0 = time.perf_counter()
        self._data = {
            s: load_symbol(self.store, s, self.start_ms, self.end_ms, self.stale_ms, self.lookback_bars, self.history_ms)
            for s in self.symbols
        }
        self._market = load_market(self.store, self.start_ms, self.end_ms, self.stale_ms)
        logger.info("replay: loaded %d symbols for %d cycles in %.2f s", len(self.symbols), len(self), time.perf_counter() - t0)

    def at(self, t_ms: int) -> Cycle:
        """Return the cycle at ``t_ms`` (any time inside the window, not only a cycle time)."""
        if not self.start_ms <= t_ms <= self.end_ms:
            raise DataError(f"t_ms: {t_ms} outside the replay window [{self.start_ms}, {self.end_ms}]")
        self.load()
        assert self._data is not None
        snaps = {
            s: build_snapshot(self._data[s], self._market, t_ms, self.stale_ms, self.lookback_bars, self.history_ms)
            for s in self.symbols
        }
        return Cycle(int(t_ms), snaps)

    def __iter__(self) -> Iterator[Cycle]:
        self.load()
        wall0 = self._clock()
        for t in self.times():
            if self._stopped:
                return
            if self.speed is not None:
                due = wall0 + (t - self.start_ms) / 1000.0 / self.speed
                wait = due - self._clock()
                if wait > 0:
                    self._sleep(wait)
            yield self.at(t)

    def stop(self) -> None:
        """Stop iterating after the current cycle."""
        self._stopped = True
