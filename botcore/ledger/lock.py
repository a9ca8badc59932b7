"""One writer per ledger: an OS lock on ``<ledger>.lock`` held for the life of a run.

:class:`WriterLock` takes ``fcntl.flock(LOCK_EX | LOCK_NB)`` on the lock file
beside the ledger and writes the holder's pid, start time and command into it.
The kernel releases the lock when the holder exits, however it exits (a
SIGKILL included), so a lock file left by a killed process is simply taken
over by the next writer, which rewrites its contents. A second writer while
the holder lives gets :class:`LedgerLocked`, whose message names the holder's
pid and start time (UTC). Readers (``ledger check``, ``review``, ``status``,
the dashboard) never take the lock and are not affected by it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

from botcore.errors import LedgerError

#: Suffix of the lock file next to the ledger (``<ledger>.lock``).
LOCK_SUFFIX = ".lock"


class LedgerLocked(LedgerError):
    """Another process holds the ledger's writer lock."""

    def __init__(self, message: str, holder: dict) -> None:
        super().__init__(message)
        self.holder = holder


def lock_path(ledger_path: str | os.PathLike[str]) -> Path:
    """Return the lock file of a ledger: ``<ledger>.lock`` in the same directory."""
    return Path(str(ledger_path) + LOCK_SUFFIX)


def _utc(ts_ms: int | None) -> str:
    if ts_ms is None:
        return "an unknown time"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts_ms / 1000))


def read_holder(ledger_path: str | os.PathLike[str]) -> dict:
    """Return what the lock file says about its (last) holder: pid, start time, host, command ({} if unreadable)."""
    try:
        record = json.loads(lock_path(ledger_path).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def describe_holder(holder: dict) -> str:
    """Return ``pid N on HOST since 2026-01-01 12:00:00 UTC (command)`` for a lock record."""
    text = f"pid {holder.get('pid', '?')}"
    if holder.get("host"):
        text += f" on {holder['host']}"
    text += f" since {_utc(holder.get('started_ms'))}"
    if holder.get("command"):
        text += f" ({holder['command']})"
    return text


def _command_line(limit: int = 160) -> str:
    """Return this process's command line, shortened (``botcore run ...`` for ``python -m botcore run ...``)."""
    head = Path(sys.argv[0]).name if sys.argv else "python"
    text = " ".join(["botcore" if head in ("__main__.py", "botcore") else head, *sys.argv[1:]])
    return text if len(text) <= limit else text[: limit - 3] + "..."


class WriterLock:
    """The exclusive writer lock of one ledger; use as a context manager or call :meth:`acquire`/:meth:`release`."""

    def __init__(self, ledger_path: str | os.PathLike[str], *, command: str | None = None) -> None:
        self.ledger_path = Path(ledger_path)
        self.path = lock_path(ledger_path)
        self.command = command if command is not None else _command_line()
        self._fd: int | None = None
        self.record: dict = {}

    @property
    def held(self) -> bool:
        """Return True while this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> WriterLock:
        """Take the lock or raise :class:`LedgerLocked` (another live writer) or :class:`LedgerError` (no access)."""
        if self._fd is not None:
            return self
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LedgerError(f"cannot create the writer lock {self.path}: {exc.strerror} "
                              f"(the ledger's directory must be writable)") from None
        try:
            for attempt in range(5):  # a reader's brief probe (writer_active) must not refuse a writer
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if attempt == 4:
                        raise
                    time.sleep(0.05)
        except BlockingIOError:
            os.close(fd)
            holder = read_holder(self.ledger_path)
            raise LedgerLocked(
                f"ledger {self.ledger_path} is being written by another process: {describe_holder(holder)}. "
                f"One writer per ledger: stop that run first (`botcore kill` or SIGTERM to pid "
                f"{holder.get('pid', '?')}), or use another --ledger.", holder) from None
        except OSError as exc:
            os.close(fd)
            raise LedgerError(f"cannot lock {self.path}: {exc.strerror}") from None
        previous = read_holder(self.ledger_path)
        self.record = {"pid": os.getpid(), "started_ms": time.time_ns() // 1_000_000, "host": socket.gethostname(),
                       "command": self.command}
        if previous.get("pid") not in (None, os.getpid()):
            self.record["took_over_from"] = previous
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(self.record, sort_keys=True).encode(), 0)
            os.fsync(fd)
        except OSError as exc:
            os.close(fd)
            raise LedgerError(f"cannot write the writer lock {self.path}: {exc.strerror}") from None
        self._fd = fd
        return self

    def release(self) -> None:
        """Release the lock (the file stays; its contents name the last holder)."""
        if self._fd is None:
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def writer_active(ledger_path: str | os.PathLike[str]) -> dict | None:
    """Return the holder record when a live process holds the writer lock, else None (never takes it for long)."""
    path = lock_path(ledger_path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return read_holder(ledger_path) or {"pid": None}
    except OSError:
        return None
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
