"""Time for the whole package: the clocks, the live loop's scheduler, the time constants, one UTC formatter.

Everything that needs a minute in milliseconds, a clock or a person-readable
UTC time imports it from here (this module imports nothing of botcore): every
message, table and report formats a time with :func:`utc` and a duration with
:func:`duration`, never as epoch milliseconds; a person's time is read with
:func:`parse_utc`.

The scheduler puts cycle times on a fixed grid: no drift, overruns recorded.

Cycle times are multiples of ``cycle_ms`` since the epoch (whole minutes UTC
by default). Each due time comes from the grid, never from "previous end +
period", so a slow step or a late wake-up never shifts the schedule.

When a step ends after the next due time, the grid times it ran over are not
run late and not silently dropped: one :class:`Overrun` names the cycle that
overran, the first grid time it missed, how late it ended and how many grid
slots were missed; the next cycle is the next grid time not yet past::

    sched = Scheduler(60_000, on_overrun=record)
    for t_ms, late_ms in sched:        # sleeps until each due time
        loop.step(t_ms)                # a step ending after t + 60 s is an overrun
    ...
    sched.stop()                       # from a signal handler or another thread

Clock and sleep are injectable (tests run thousands of cycles on a fake
clock); the default sleep waits on an event that :meth:`Scheduler.stop` sets,
so a stop wakes a sleeping scheduler at once.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, Protocol

import pandas as pd

logger = logging.getLogger(__name__)

MINUTE_MS = 60_000
#: One bar of the engine: one minute.
BAR_MS = MINUTE_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

#: Overruns kept in memory (the ledger keeps its own bounded record): a 24/7 run must not grow without bound.
OVERRUNS_KEPT = 1_000


# --------------------------------------------------------------------------- times as a person reads them

#: how a missing time or duration is shown
MISSING = "—"


def utc(ts: Any, *, seconds: bool = False, suffix: bool = True) -> str:
    """Format a time as ``2024-01-04 07:12 UTC``.

    Parameters
    ----------
    ts : int, float, pandas.Timestamp, datetime or None
        Epoch milliseconds (UTC) or a timestamp (naive ones are taken as UTC).
    seconds : bool
        Show the seconds (``07:12:05``).
    suffix : bool
        Append `` UTC`` (off in table columns whose title already says UTC).
    """
    if ts is None or ts is pd.NaT or (isinstance(ts, float) and not math.isfinite(ts)):
        return MISSING
    if isinstance(ts, (int, float)) and not isinstance(ts, bool):
        text = time.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M", time.gmtime(int(ts) / 1000))
    else:
        stamp = pd.Timestamp(ts)
        if pd.isna(stamp):
            return MISSING
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        text = stamp.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{text} UTC" if suffix else text


def utc_span(start: Any, end: Any) -> str:
    """Format a window as ``2024-01-01 00:01 .. 2024-01-04 00:00 UTC``."""
    return f"{utc(start, suffix=False)} .. {utc(end)}"


def duration(ms: float | None) -> str:
    """Format a duration as ``2d 3h``, ``3h 12m``, ``4m 5s`` or ``12s``; missing as an em dash."""
    if ms is None or not math.isfinite(ms):
        return MISSING
    s = max(0, int(ms // 1000))
    d, h, m = s // 86_400, s % 86_400 // 3600, s % 3600 // 60
    if d:
        return f"{d}d {h}h"
    if h:
        return f"{h}h {m}m"
    if m:
        return f"{m}m {s % 60}s"
    return f"{s}s"


def parse_utc(text: str | int, name: str) -> int:
    """Return epoch milliseconds of a UTC time (``2024-01-04 07:12``, ISO 8601, or epoch ms digits).

    Raises
    ------
    ValueError
        Naming ``name`` (the option or field) and the accepted forms.
    """
    if isinstance(text, int) or str(text).strip().lstrip("-").isdigit():
        return int(text)
    try:
        stamp = pd.Timestamp(str(text).strip())
    except (ValueError, TypeError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise ValueError(f"{name} {text!r}: not a time; use a UTC date such as 2024-01-04 or 2024-01-04 07:12")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value // 1_000_000)


__all__ = ["MISSING", "duration", "parse_utc", "utc", "utc_span"]


# --------------------------------------------------------------------------- the scheduler


class Tick(NamedTuple):
    """A cycle to run: its grid time and how late the scheduler handed it over (ms, >= 0)."""

    t_ms: int
    late_ms: int


class Overrun(NamedTuple):
    """Grid times missed because the step of ``cycle_ms`` ended after the next due time.

    Attributes
    ----------
    cycle_ms : int
        The cycle whose step overran.
    first_missed_ms : int
        The first grid time not run (``cycle_ms + period``).
    missed : int
        How many grid times were not run (``first_missed_ms`` and the ones after it).
    late_ms : int
        How long after ``first_missed_ms`` the step ended.
    next_ms : int
        The grid time run instead (the next one not yet past).
    """

    cycle_ms: int
    first_missed_ms: int
    missed: int
    late_ms: int
    next_ms: int


def wall_ms() -> int:
    """Return the wall clock in int ms UTC."""
    return time.time_ns() // 1_000_000


def grid_ceil(now_ms: int, period_ms: int) -> int:
    """Return the first grid time at or after ``now_ms`` (a grid time is not past while it is now)."""
    return -(-int(now_ms) // period_ms) * period_ms


def next_due(last_ms: int, now_ms: int, period_ms: int) -> tuple[int, int]:
    """Return ``(due_ms, missed)``: the cycle after ``last_ms`` as of ``now_ms`` and the grid times skipped.

    ``due_ms`` is ``last_ms + period_ms`` while that is not past, else the next
    grid time not yet past; ``missed`` counts the grid times in between.
    """
    first = int(last_ms) + period_ms
    if now_ms <= first:
        return first, 0
    due = grid_ceil(now_ms, period_ms)
    return due, (due - first) // period_ms


class Scheduler:
    """Hand out cycle times on the ``period_ms`` grid at their wall-clock time (see the module docstring).

    Parameters
    ----------
    period_ms : int
        Cycle length; cycle times are its multiples since the epoch.
    first_ms : int, optional
        First cycle time (a grid time); default the first grid time not yet past.
        A ``first_ms`` already past runs at once, its lateness in the tick.
    cycles : int, optional
        Stop after this many cycles (None: until :meth:`stop`).
    on_overrun : callable, optional
        Called with each :class:`Overrun` (the loop records it in the ledger);
        the newest :data:`OVERRUNS_KEPT` overruns are also kept in :attr:`overruns`, and each is logged.
    clock : callable
        Wall clock, int ms UTC.
    sleep : callable, optional
        ``sleep(seconds)``; default an event wait that :meth:`stop` interrupts.
    delay_ms : int
        Wake this long after each grid time (lets the venue close the bar that
        ends at it); ticks still carry the grid time, lateness and overruns are
        measured from grid time + delay.
    """

    def __init__(
        self,
        period_ms: int = 60_000,
        *,
        first_ms: int | None = None,
        cycles: int | None = None,
        on_overrun: Callable[[Overrun], None] | None = None,
        clock: Callable[[], int] = wall_ms,
        sleep: Callable[[float], object] | None = None,
        delay_ms: int = 0,
    ) -> None:
        if period_ms <= 0:
            raise ValueError(f"period_ms: must be > 0, got {period_ms}")
        if first_ms is not None and first_ms % period_ms:
            raise ValueError(f"first_ms: {first_ms} is not on the {period_ms} ms grid")
        if not 0 <= delay_ms < period_ms:
            raise ValueError(f"delay_ms: must be in [0, period_ms), got {delay_ms}")
        if cycles is not None and cycles < 0:
            raise ValueError(f"cycles: must be >= 0 or None, got {cycles}")
        self.period_ms = int(period_ms)
        self.first_ms = first_ms
        self.cycles = cycles
        self.on_overrun = on_overrun
        self.overruns: collections.deque[Overrun] = collections.deque(maxlen=OVERRUNS_KEPT)
        self.ticks = 0
        self.delay_ms = int(delay_ms)
        self._wall = clock
        self._stopped = threading.Event()
        self._sleep = sleep if sleep is not None else self._stopped.wait

    @property
    def stopped(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stopped.is_set()

    def stop(self) -> None:
        """Stop handing out cycles (thread- and signal-safe; wakes the default sleep)."""
        self._stopped.set()

    def _clock(self) -> int:
        """The wall clock shifted back by the delay: grid times are due when this reaches them."""
        return int(self._wall()) - self.delay_ms

    def _done(self) -> bool:
        return self.stopped or (self.cycles is not None and self.ticks >= self.cycles)

    def _wait_until(self, due_ms: int) -> int | None:
        """Sleep until ``due_ms``; return the clock then, or None if stopped meanwhile."""
        while not self.stopped:
            now = int(self._clock())
            if now >= due_ms:
                return now
            self._sleep((due_ms - now) / 1000.0)
        return None

    def _overrun(self, last_ms: int, now_ms: int, due_ms: int, missed: int) -> None:
        first = last_ms + self.period_ms
        rec = Overrun(last_ms, first, missed, now_ms - first, due_ms)
        self.overruns.append(rec)
        logger.warning("cycle %s overran: ended %d ms after %s, %d grid time(s) missed, next cycle %s",
                       utc(last_ms, seconds=True), rec.late_ms, utc(first, seconds=True), missed,
                       utc(due_ms, seconds=True))
        if self.on_overrun is not None:
            self.on_overrun(rec)

    def __iter__(self) -> Iterator[Tick]:
        due = grid_ceil(self._clock(), self.period_ms) if self.first_ms is None else int(self.first_ms)
        while not self._done():
            now = self._wait_until(due)
            if now is None:
                return
            self.ticks += 1
            yield Tick(due, now - due)
            if self._done():
                return
            last, now = due, int(self._clock())
            due, missed = next_due(last, now, self.period_ms)
            if missed:
                self._overrun(last, now, due, missed)


__all__ = ["Overrun", "Scheduler", "Tick", "grid_ceil", "next_due", "wall_ms"]


class Clock(Protocol):
    """Where the loop reads the time of what it records (simulated in replay, the wall clock live)."""

    def now_ms(self) -> int:
        """Return the time now, int ms UTC."""
        ...

    def advance(self, t_ms: int) -> None:
        """Move to the cycle at ``t_ms`` (a simulated clock; the wall clock moves by itself)."""
        ...


class SimClock:
    """Simulated time: the time of the cycle being run (the replay feed paces the cycles)."""

    def __init__(self, t_ms: int = 0) -> None:
        self.t_ms = int(t_ms)

    def now_ms(self) -> int:
        return self.t_ms

    def advance(self, t_ms: int) -> None:
        self.t_ms = int(t_ms)


class WallClock:
    """The wall clock, int ms UTC."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def advance(self, t_ms: int) -> None:
        pass
