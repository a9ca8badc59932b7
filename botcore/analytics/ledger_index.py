"""Cheap aggregate look-ups on a ledger file, so a report reads only its window.

A live ledger grows by a decision row per symbol per cycle (about 20,000 a
day for 15 symbols); a 7-day review or one cycle must not load months of
rows to find its bounds. These queries run on their own read-only SQLite
connection (``file:...?mode=ro``) over the ledger's time indexes; the rows
themselves are then read through :class:`botcore.ledger.Ledger` with
``since_ms``.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

from botcore.errors import LedgerError

__all__ = ["Bounds", "ledger_bounds", "equity_before", "cycle_index"]


class Bounds(NamedTuple):
    """First and last times (ms UTC) of the equity snapshots and of any activity; None when empty."""

    first_equity_ms: int | None
    last_equity_ms: int | None
    first_any_ms: int | None
    last_any_ms: int | None


def _connect(path: str | os.PathLike) -> sqlite3.Connection:
    p = Path(path)
    if not p.exists():
        raise LedgerError(f"ledger {p} does not exist")
    return sqlite3.connect(f"file:{quote(str(p.resolve()))}?mode=ro", uri=True, timeout=10.0)


def _one(con: sqlite3.Connection, sql: str, params: tuple = ()) -> Any:
    row = con.execute(sql, params).fetchone()
    return None if row is None else row[0]


def ledger_bounds(path: str | os.PathLike) -> Bounds:
    """Return the time bounds of the equity snapshots and of all activity (equity, trades, decisions, heartbeats)."""
    with closing(_connect(path)) as con:
        first_eq = _one(con, "SELECT MIN(ts_ms) FROM equity")
        last_eq = _one(con, "SELECT MAX(ts_ms) FROM equity")
        firsts = [first_eq, _one(con, "SELECT MIN(entry_ts_ms) FROM trades"), _one(con, "SELECT MIN(exit_ts_ms) FROM trades"),
                  _one(con, "SELECT MIN(ts_ms) FROM decisions"), _one(con, "SELECT MIN(ts_ms) FROM heartbeats")]
        lasts = [last_eq, _one(con, "SELECT MAX(exit_ts_ms) FROM trades"), _one(con, "SELECT MAX(ts_ms) FROM decisions"),
                 _one(con, "SELECT MAX(ts_ms) FROM heartbeats")]
    firsts = [int(x) for x in firsts if x is not None]
    lasts = [int(x) for x in lasts if x is not None]
    return Bounds(
        None if first_eq is None else int(first_eq), None if last_eq is None else int(last_eq),
        min(firsts) if firsts else None, max(lasts) if lasts else None,
    )


def equity_before(path: str | os.PathLike, ts_ms: int) -> float | None:
    """Return the equity of the last snapshot strictly before ``ts_ms`` (None when there is none)."""
    with closing(_connect(path)) as con:
        value = _one(con, "SELECT equity_usd FROM equity WHERE ts_ms < ? ORDER BY ts_ms DESC, seq DESC LIMIT 1",
                     (int(ts_ms),))
    return None if value is None else float(value)


class CycleIndex(NamedTuple):
    """Where one cycle sits among the ledger's cycles."""

    n_cycles: int
    latest_ms: int | None
    next_ms: int | None  # the cycle after the one asked about (None: it is the last)
    exists: bool


def cycle_index(path: str | os.PathLike, ts_ms: int | None = None) -> CycleIndex:
    """Return how many cycles (distinct decision times) the ledger holds, the latest, and the one after ``ts_ms``."""
    with closing(_connect(path)) as con:
        n = int(_one(con, "SELECT COUNT(DISTINCT ts_ms) FROM decisions") or 0)
        latest = _one(con, "SELECT MAX(ts_ms) FROM decisions")
        at = latest if ts_ms is None else int(ts_ms)
        exists = at is not None and _one(con, "SELECT 1 FROM decisions WHERE ts_ms = ? LIMIT 1", (at,)) is not None
        nxt = None if at is None else _one(con, "SELECT MIN(ts_ms) FROM decisions WHERE ts_ms > ?", (at,))
    return CycleIndex(n, None if latest is None else int(latest), None if nxt is None else int(nxt), bool(exists))
