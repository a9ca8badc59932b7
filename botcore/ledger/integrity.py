"""Is this file a sound ledger? The SQLite integrity check and the schema check, never a traceback.

:func:`check_integrity` looks at a ledger file without writing to it: that it
is a regular, non-empty SQLite file, that SQLite's ``PRAGMA quick_check``
finds no damage, and that its schema is this botcore's (schema version, every
table and column the migrations create). It returns an
:class:`IntegrityReport` whose ``problems`` each name the file and the fix;
``run`` refuses to start, and ``ledger check``, ``preflight`` and ``status``
fail, on any problem. A ledger that does not exist yet is not a problem here
(``exists`` is False): the callers decide whether one must exist.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from botcore.errors import LedgerError
from botcore.ledger import schema

SQLITE_HEADER = b"SQLite format 3\x00"


class LedgerDamaged(LedgerError):
    """A record of the ledger cannot be decoded: the file is damaged (restore it from a backup)."""


@dataclass(frozen=True)
class IntegrityReport:
    """The outcome of :func:`check_integrity`: ``ok`` when the file is a sound ledger of this schema."""

    path: str
    exists: bool
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    schema_version: int | None = None
    size_bytes: int | None = None
    checks: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Return True when no problem was found."""
        return not self.problems

    def summary(self) -> str:
        """Return one line: what was checked, or every problem."""
        if self.problems:
            return "; ".join(self.problems)
        return f"ledger {self.path}: " + ", ".join(self.checks) if self.checks else f"ledger {self.path}: no file yet"

    def to_dict(self) -> dict:
        """Return the report as JSON-able data."""
        return {"path": self.path, "exists": self.exists, "ok": self.ok, "problems": list(self.problems),
                "warnings": list(self.warnings), "schema_version": self.schema_version,
                "size_bytes": self.size_bytes, "checks": list(self.checks)}


@lru_cache(maxsize=1)
def expected_schema() -> dict[str, tuple[str, ...]]:
    """Return {table: column names} of a ledger built by this botcore's migrations (in memory)."""
    con = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for step in schema.MIGRATIONS:  # the migrations themselves, without migrate()'s log lines
            step(con)
        return _tables(con)
    finally:
        con.close()


def _tables(con: sqlite3.Connection) -> dict[str, tuple[str, ...]]:
    names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    return {n: tuple(r[1] for r in con.execute(f'PRAGMA table_info("{n}")')) for n in names}


def _connect_ro(path: Path) -> tuple[sqlite3.Connection, str | None]:
    """Open ``path`` read-only; in a read-only directory (no -shm can be made) fall back to an immutable open."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    con = sqlite3.connect(uri, uri=True, timeout=5.0, isolation_level=None, check_same_thread=False)
    try:
        con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return con, None
    except sqlite3.OperationalError as exc:
        con.close()
        if os.access(path.parent, os.W_OK):
            raise
        note = (f"directory {path.parent} is not writable: read as an immutable file ({exc}); "
                f"the bot cannot write this ledger there")
        con = sqlite3.connect(uri + "&immutable=1", uri=True, timeout=5.0, isolation_level=None,
                              check_same_thread=False)
        return con, note


def check_integrity(path: str | os.PathLike[str], *, full: bool = False) -> IntegrityReport:
    """Check that ``path`` is an undamaged ledger of this botcore's schema (read-only; never raises).

    Parameters
    ----------
    path : path-like
        The ledger file.
    full : bool
        Run ``PRAGMA integrity_check`` (slower, also checks indexes against
        tables) instead of ``quick_check``.
    """
    path = Path(path)
    name = str(path)
    if not path.exists():
        return IntegrityReport(name, exists=False)
    if path.is_dir():
        return IntegrityReport(name, True, (f"ledger {path} is a directory, not a ledger file; pass the SQLite file "
                                            f"(e.g. {path / 'ledger.db'})",))
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        return IntegrityReport(name, True, (f"ledger {path} cannot be read: {exc.strerror}",))
    if size == 0:
        return IntegrityReport(name, True, (f"ledger {path} is an empty file (0 bytes): truncated or never written; "
                                            f"restore it from a backup, or delete it to start a new ledger",),
                               size_bytes=0)
    if head != SQLITE_HEADER:
        return IntegrityReport(name, True, (f"ledger {path} is not a SQLite database (its first bytes are "
                                            f"{head[:16]!r}); restore it from a backup",), size_bytes=size)
    problems: list[str] = []
    warnings: list[str] = []
    checks: list[str] = []
    try:
        con, note = _connect_ro(path)
    except (sqlite3.Error, ValueError) as exc:  # ValueError: text a damaged page turned into invalid UTF-8
        return IntegrityReport(name, True, (f"ledger {path} cannot be opened ({exc}): damaged or truncated; restore "
                                            f"it from a backup",), size_bytes=size)
    if note:
        warnings.append(note)
    try:
        return _check_open(con, path, name, size, full, problems, warnings, checks)
    except (sqlite3.Error, ValueError) as exc:
        problems.append(f"ledger {path} cannot be read ({exc}): damaged; restore it from a backup")
        return IntegrityReport(name, True, tuple(problems), tuple(warnings), None, size, tuple(checks))
    finally:
        con.close()


def _check_open(con: sqlite3.Connection, path: Path, name: str, size: int, full: bool, problems: list[str],
                warnings: list[str], checks: list[str]) -> IntegrityReport:
    """The SQLite integrity check and the schema check on an open connection (the body of :func:`check_integrity`)."""
    version = None
    pragma = "integrity_check" if full else "quick_check"
    try:
        rows = [" ".join(str(r[0]).split()) for r in con.execute(f"PRAGMA {pragma}(20)")]
    except sqlite3.DatabaseError as exc:
        rows = [str(exc)]
    if rows != ["ok"]:
        found = "; ".join(rows)
        problems.append(f"ledger {path} is damaged (SQLite {pragma}: "
                        + (found if len(found) <= 160 else found[:160] + " ...")
                        + "); restore it from a backup")
        return IntegrityReport(name, True, tuple(problems), tuple(warnings), None, size, tuple(checks))
    checks.append(f"SQLite {pragma} ok")
    try:
        tables = _tables(con)
    except sqlite3.DatabaseError as exc:
        problems.append(f"ledger {path}: schema unreadable ({exc})")
        return IntegrityReport(name, True, tuple(problems), tuple(warnings), None, size, tuple(checks))
    if not tables:
        problems.append(f"ledger {path} is an empty SQLite database (no tables): not a botcore ledger")
    elif "schema_version" not in tables:
        problems.append(f"ledger {path} is not a botcore ledger: tables {sorted(tables)[:6]} but no schema_version")
    else:
        try:
            version = int(con.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0)
        except (sqlite3.DatabaseError, TypeError, ValueError) as exc:
            problems.append(f"ledger {path}: schema_version unreadable ({exc})")
        latest = schema.LATEST_VERSION
        if version is not None and version > latest:
            problems.append(f"ledger {path} has schema version {version}, newer than this botcore's {latest}; "
                            f"upgrade botcore")
        elif version is not None and version < latest:
            warnings.append(f"schema version {version} (this botcore: {latest}); a writer migrates it")
        elif version is not None:
            expected = expected_schema()
            missing = sorted(set(expected) - set(tables))
            if missing:
                problems.append(f"ledger {path} lacks tables {missing}: damaged; restore it from a backup")
            for table in sorted(set(expected) & set(tables)):
                lost = [c for c in expected[table] if c not in tables[table]]
                if lost:
                    problems.append(f"ledger {path}: table {table} lacks columns {lost}")
            if not problems:
                checks.append(f"schema v{version} ok ({len(expected)} tables)")
    return IntegrityReport(name, True, tuple(problems), tuple(warnings), version, size, tuple(checks))
