"""Heartbeats: the loop's proof of life, written to the ledger independently of cycle work.

:class:`Heartbeat` writes one row to the ledger's ``heartbeats`` table every
``interval_s`` seconds (``schedules.heartbeat_seconds``, 20 s) from a
background thread (:meth:`Heartbeat.start`) or an asyncio task
(:meth:`Heartbeat.run_async`), whether or not the market gives the loop
anything to do: a quiet market is not a failure. The loop reports progress
with :meth:`Heartbeat.tick` once per cycle (and may tick while it waits); a
thread whose loop has not ticked for ``stall_after_s`` writes ``stalled``
beats instead of ``ok`` ones, which the supervisor does not count as alive, so
a hung loop is restarted even though its heartbeat thread still runs. (With
the asyncio task a blocked event loop simply stops the beats.) Until the first
tick the process is starting (imports, Numba compilation, which on a cold cache
takes minutes, the warm-up download): beats say ``starting`` and turn
``stalled`` only after ``startup_stall_after_s`` (15 min), so a slow first start
is not killed and restarted, only to compile again from scratch, until the
restart budget runs out.

Every beat is also written to a small *beat file* next to the ledger
(``<ledger>.<component>.beat``: pid, a per-process beat counter, status and
wall time, replaced atomically) before the ledger row. The ledger row can wait
for the write lock while the loop holds it (a long cycle transaction: a first
cycle that compiles, slow venue calls); the file cannot, so the supervisor,
which reads both, never takes a bot busy inside a transaction for a hung one.
A loop that is truly stuck is still caught: its beats turn ``stalled``.

Each beat's ``detail`` (JSON) holds the process health the supervisor and
``botcore status`` read: ``pid``, ``rss_mb``, ``ledger_writable``,
``disk_free_mb``, ``last_cycle_ts_ms``, ``last_tick_ms``, ``cycles``,
``feed_age_s`` (per feed, seconds) and whatever the loop passed to ``tick``.

Loop wiring::

    hb = Heartbeat(ledger_path, interval_s=settings.schedules.heartbeat_seconds,
                   stall_after_s=3 * settings.schedules.cycle_seconds).start()
    ...
    hb.tick(cycle_ts_ms=now_ms, feed_age_s={"candles": 4.2, "book": 0.8})   # every cycle
    ...
    hb.stop()    # on shutdown: writes a final "stopped" beat
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import psutil

from botcore.ledger import Ledger

logger = logging.getLogger(__name__)

COMPONENT = "engine"
#: Statuses that prove the component is alive (``stalled`` and ``stopped`` do not).
LIVE_STATUSES = frozenset({"ok", "idle", "degraded", "starting"})
#: Suffix of a component's beat file next to the ledger (``<ledger>.engine.beat``).
BEAT_FILE_SUFFIX = ".beat"


class FileBeat(NamedTuple):
    """The latest beat in a beat file: writer pid, its beat counter, status, wall time (ms)."""

    pid: int
    seq: int
    status: str
    wall_ms: int


def beat_file_path(ledger_path: str | os.PathLike[str], component: str = COMPONENT) -> Path:
    """Return the beat file of ``component``: ``<ledger>.<component>.beat`` in the ledger's directory."""
    return Path(f"{os.fspath(ledger_path)}.{component}{BEAT_FILE_SUFFIX}")


def write_beat_file(path: str | os.PathLike[str], beat: FileBeat) -> None:
    """Replace the beat file with ``beat`` atomically (write a temporary file, then rename; no fsync)."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{beat.pid}.tmp")
    tmp.write_text(json.dumps(beat._asdict()))
    os.replace(tmp, path)


def read_beat_file(path: str | os.PathLike[str]) -> FileBeat | None:
    """Return the beat in the file, or None when it is missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text())
        return FileBeat(int(data["pid"]), int(data["seq"]), str(data["status"]), int(data["wall_ms"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def process_health(ledger_path: str | os.PathLike[str] | None = None, pid: int | None = None) -> dict[str, Any]:
    """Return ``pid``, ``rss_mb`` and, with a ledger path, ``ledger_writable`` and ``disk_free_mb``."""
    pid = os.getpid() if pid is None else pid
    out: dict[str, Any] = {"pid": pid}
    try:
        out["rss_mb"] = round(psutil.Process(pid).memory_info().rss / 2**20, 2)
    except psutil.Error:
        out["rss_mb"] = None
    if ledger_path is not None:
        out.update(ledger_access(ledger_path))
    return out


def ledger_access(ledger_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return whether the ledger (or its directory, before it exists) is writable and the disk space left."""
    path = Path(ledger_path).absolute()
    directory = path.parent
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent  # the loop creates missing directories
    writable = os.access(directory, os.W_OK | os.X_OK) and (not path.exists() or os.access(path, os.W_OK))
    try:
        free_mb = round(shutil.disk_usage(directory).free / 2**20, 1)
    except OSError:
        free_mb = None
    return {"ledger_writable": bool(writable), "disk_free_mb": free_mb}


class Heartbeat:
    """Write heartbeats of ``component`` to the ledger at least every ``interval_s`` seconds.

    Parameters
    ----------
    ledger_path : path
        The ledger; the heartbeat opens its own connection (in its own thread).
    component : str
        Heartbeat component name (``engine`` for the loop).
    interval_s : float
        Seconds between beats (``schedules.heartbeat_seconds``).
    stall_after_s : float or None
        Beats turn ``stalled`` when :meth:`tick` has not been called for this
        long (None: never; thread mode needs it to reveal a hung loop).
    startup_stall_after_s : float or None
        The same allowance before the first :meth:`tick` (beats say
        ``starting`` until then); None: never.
    extra : callable, optional
        Returns more JSON-able health facts for every beat.
    clock : callable
        Wall clock in seconds.
    """

    def __init__(
        self,
        ledger_path: str | os.PathLike[str],
        *,
        component: str = COMPONENT,
        interval_s: float = 20.0,
        stall_after_s: float | None = 180.0,
        startup_stall_after_s: float | None = 900.0,
        extra: Callable[[], Mapping[str, Any]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s: must be > 0, got {interval_s!r}")
        self.ledger_path = Path(ledger_path)
        self.component = component
        self.interval_s = float(interval_s)
        self.stall_after_s = stall_after_s
        self.startup_stall_after_s = startup_stall_after_s
        self.extra = extra
        self.clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = clock()
        self._last_tick: float | None = None
        self._info: dict[str, Any] = {}
        self._cycles = 0
        self._status = "ok"
        self._ledger: Ledger | None = None
        self._ledger_thread: int | None = None
        self._last_ok = True
        self.beats = 0
        self.failures = 0
        self.beat_file = beat_file_path(self.ledger_path, component)
        self._file_seq = 0
        self._file_failures = 0

    # ------------------------------------------------------------------ the loop's side

    def tick(self, *, cycle_ts_ms: int | None = None, status: str = "ok",
             feed_age_s: Mapping[str, float] | None = None, **info: Any) -> None:
        """Report loop progress (call once per cycle, and while waiting if a wait can be long).

        Parameters
        ----------
        cycle_ts_ms : int, optional
            Time of the cycle just finished (``last_cycle_ts_ms`` in the beats).
        status : str
            ``ok``, ``idle`` (nothing to do) or ``degraded`` (e.g. feeds stale); all count as alive.
        feed_age_s : mapping, optional
            Age of each feed's latest data, seconds.
        **info
            More JSON-able facts (mode, open positions, ...).
        """
        with self._lock:
            self._last_tick = self.clock()
            self._status = status
            if cycle_ts_ms is not None:
                self._cycles += 1
                self._info["last_cycle_ts_ms"] = int(cycle_ts_ms)
            if feed_age_s is not None:
                self._info["feed_age_s"] = {k: (None if v is None else round(float(v), 3)) for k, v in feed_age_s.items()}
            self._info.update(info)

    # ------------------------------------------------------------------ beats

    def _snapshot(self) -> tuple[str, dict[str, Any]]:
        now = self.clock()
        with self._lock:
            last_tick = self._last_tick
            status = self._status
            info = dict(self._info)
            cycles = self._cycles
        since = now - (last_tick if last_tick is not None else self._started)
        if last_tick is None and status == "ok":
            status = "starting"
        stall_after_s = self.stall_after_s if last_tick is not None else self.startup_stall_after_s
        if stall_after_s is not None and since > stall_after_s:
            status = "stalled"
        detail: dict[str, Any] = process_health(self.ledger_path)
        detail["ledger_writable"] = bool(detail.get("ledger_writable")) and self._last_ok
        detail.update({
            "interval_s": self.interval_s,
            "last_tick_ms": None if last_tick is None else int(last_tick * 1000),
            "since_tick_s": round(since, 3),
            "cycles": cycles,
            **info,
        })
        if self.extra is not None:
            try:
                detail.update(self.extra())
            except Exception as exc:  # noqa: BLE001 - a health probe must not stop the heartbeat
                detail["extra_error"] = f"{type(exc).__name__}: {exc}"
        return status, detail

    def beat(self, status: str | None = None) -> bool:
        """Write one heartbeat now (from the calling thread); return True when it was written."""
        snap_status, detail = self._snapshot()
        status = status or snap_status
        self._write_beat_file(status)
        try:
            if self._ledger is None or self._ledger_thread != threading.get_ident():
                self._close_ledger()
                # NORMAL: a beat survives a process crash without an fsync per beat (WAL mode); wait for the
                # loop's write lock at most half an interval, so a long transaction does not space the beats
                self._ledger = Ledger.open(self.ledger_path, timeout_s=max(0.05, min(self.interval_s / 2, 10.0)),
                                           synchronous="NORMAL")
                self._ledger_thread = threading.get_ident()
            self._ledger.record_heartbeat(self.component, ts_ms=int(self.clock() * 1000), status=status,
                                          detail=detail)
        except Exception as exc:  # noqa: BLE001 - keep beating; the supervisor judges the silence
            self.failures += 1
            self._last_ok = False
            if self.failures in (1, 10) or self.failures % 100 == 0:
                logger.error("heartbeat %s: cannot write to %s (%d failures): %s", self.component, self.ledger_path,
                             self.failures, exc)
            self._close_ledger()
            return False
        self._last_ok = True
        self.beats += 1
        if status == "stalled":
            logger.error("heartbeat %s: loop has not reported progress for %.0f s (stalled)", self.component,
                         detail["since_tick_s"])
        return True

    def _write_beat_file(self, status: str) -> None:
        """Write the beat file first: it never waits for the ledger's write lock."""
        self._file_seq += 1
        try:
            write_beat_file(self.beat_file, FileBeat(os.getpid(), self._file_seq, status, int(self.clock() * 1000)))
        except OSError as exc:
            self._file_failures += 1
            if self._file_failures in (1, 10) or self._file_failures % 100 == 0:
                logger.error("heartbeat %s: cannot write %s (%d failures): %s", self.component, self.beat_file,
                             self._file_failures, exc)

    def _close_ledger(self) -> None:
        if self._ledger is not None and self._ledger_thread == threading.get_ident():
            try:
                self._ledger.close()
            except Exception:  # noqa: BLE001
                pass
        self._ledger = None
        self._ledger_thread = None

    # ------------------------------------------------------------------ thread mode

    def start(self) -> Heartbeat:
        """Start beating from a daemon thread (the first beat is immediate); return self."""
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._started = self.clock()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{self.component}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                t0 = time.monotonic()
                self.beat()
                self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - t0)))
        finally:
            self._close_ledger()

    def stop(self, *, final_status: str | None = "stopped", timeout_s: float = 5.0) -> None:
        """Stop the thread and (by default) write a last ``stopped`` beat."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        if final_status:
            self.beat(final_status)
            self._close_ledger()

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ asyncio mode

    async def run_async(self) -> None:
        """Beat from an asyncio task until cancelled (each write runs in a worker thread).

        Use ``task = asyncio.create_task(hb.run_async())`` and cancel it on
        shutdown. If the event loop blocks, no beat is written, which is what
        the supervisor needs to see.
        """
        self._started = self.clock()
        worker = _OneThread()
        try:
            while True:
                t0 = time.monotonic()
                await asyncio.get_running_loop().run_in_executor(worker.executor, self.beat)
                await asyncio.sleep(max(0.0, self.interval_s - (time.monotonic() - t0)))
        finally:
            worker.executor.submit(self._close_ledger)
            worker.executor.shutdown(wait=False)


class _OneThread:
    """A single worker thread, so the heartbeat's ledger connection stays in one thread."""

    def __init__(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="heartbeat")


def beat_wall_ms(ts_ms: int, detail: Mapping[str, Any] | None) -> int:
    """Return a beat's wall-clock time: ``detail["wall_ms"]`` when the writer stamped ``ts_ms`` with simulated time."""
    wall = (detail or {}).get("wall_ms")
    return int(wall) if isinstance(wall, (int, float)) and wall > 0 else int(ts_ms)


def latest_heartbeat(ledger: Ledger, component: str = COMPONENT) -> tuple[int, str] | None:
    """Return ``(seq, status)`` of the newest heartbeat of ``component``, or None.

    The supervisor watches ``seq`` advance (with a live status) on its own
    clock, so a child that stamps beats with a simulated time (a replay) or a
    skewed clock is judged correctly.
    """
    last = ledger.last_heartbeats()
    if last.empty:
        return None
    rows = last[last["component"] == component]
    if rows.empty:
        return None
    row = rows.iloc[0]
    return int(row["seq"]), str(row["status"])


def last_live_heartbeat_ms(ledger: Ledger, component: str = COMPONENT, *, since_ms: int | None = None) -> int | None:
    """Return the time of the latest beat of ``component`` whose status proves life, or None."""
    frame = ledger.heartbeats(since_ms=since_ms)
    if frame.empty:
        return None
    live = frame[(frame["component"] == component) & frame["status"].isin(LIVE_STATUSES)]
    return None if live.empty else int(live["ts_ms"].max())
