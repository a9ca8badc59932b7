"""The ledger's SQLite schema and its migrations.

``MIGRATIONS[i]`` takes a database at schema version ``i`` to ``i + 1``; the
version reached is recorded as a row of ``schema_version``. :func:`migrate`
applies the pending ones in order inside the caller's transaction and refuses
a database newer than this code. Migrations execute statement by statement
(never ``executescript``, which would commit the open transaction).

Conventions of every table: time columns are ``*_ts_ms`` INTEGER milliseconds
UTC and NOT NULL (the only exception, ``entry_ts_ms``, is NULL for positions
adopted from the venue and for flat position rows); money columns are
``*_usd`` REAL; codes are INTEGER values of :mod:`botcore.model.enums`.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence

from botcore.errors import LedgerError

logger = logging.getLogger(__name__)

Migration = Callable[[sqlite3.Connection], None]

_V1 = [
    """CREATE TABLE schema_version (
        version INTEGER PRIMARY KEY,
        applied_ts_ms INTEGER NOT NULL,
        description TEXT NOT NULL
    )""",
    """CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,               -- JSON
        updated_ts_ms INTEGER NOT NULL
    )""",
    """CREATE TABLE account (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        cash_usd REAL NOT NULL,
        updated_ts_ms INTEGER NOT NULL
    )""",
    """CREATE TABLE orders (
        client_order_id TEXT PRIMARY KEY NOT NULL,
        venue_order_id TEXT,
        symbol TEXT NOT NULL,
        side INTEGER NOT NULL CHECK (side IN (-1, 1)),
        order_type INTEGER NOT NULL,
        qty_contracts REAL NOT NULL CHECK (qty_contracts > 0),
        contract_size REAL NOT NULL CHECK (contract_size > 0),
        price REAL,
        reduce_only INTEGER NOT NULL,
        strategy_id TEXT NOT NULL,
        close_reason INTEGER NOT NULL,
        status INTEGER NOT NULL,
        filled_qty_contracts REAL NOT NULL,
        avg_fill_price REAL,
        status_reason TEXT,
        created_ts_ms INTEGER NOT NULL,
        updated_ts_ms INTEGER NOT NULL
    )""",
    "CREATE INDEX orders_by_status ON orders (status)",
    """CREATE TABLE fills (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        fill_id TEXT NOT NULL UNIQUE,
        client_order_id TEXT NOT NULL REFERENCES orders (client_order_id),
        symbol TEXT NOT NULL,
        side INTEGER NOT NULL CHECK (side IN (-1, 1)),
        price REAL NOT NULL CHECK (price > 0),
        qty_contracts REAL NOT NULL CHECK (qty_contracts > 0),
        qty_base REAL NOT NULL CHECK (qty_base > 0),
        fee_usd REAL NOT NULL,
        liquidity INTEGER NOT NULL,
        reduce_only INTEGER NOT NULL,
        ts_ms INTEGER NOT NULL,
        realized_pnl_usd REAL NOT NULL
    )""",
    "CREATE INDEX fills_by_symbol ON fills (symbol, ts_ms)",
    "CREATE INDEX fills_by_order ON fills (client_order_id)",
    """CREATE TABLE positions (
        symbol TEXT PRIMARY KEY NOT NULL,
        contract_size REAL NOT NULL CHECK (contract_size > 0),
        qty_contracts REAL NOT NULL,
        avg_entry_price REAL NOT NULL,
        entry_ts_ms INTEGER,
        last_ts_ms INTEGER NOT NULL,
        strategy_id TEXT NOT NULL,
        opened_qty_contracts REAL NOT NULL,
        entry_notional_usd REAL NOT NULL,
        exit_qty_contracts REAL NOT NULL,
        exit_notional_usd REAL NOT NULL,
        realized_pnl_usd REAL NOT NULL,
        fees_usd REAL NOT NULL,
        funding_usd REAL NOT NULL,
        adopted INTEGER NOT NULL,
        adopted_qty_contracts REAL NOT NULL DEFAULT 0,
        CHECK (entry_ts_ms IS NOT NULL OR adopted = 1 OR qty_contracts = 0)
    )""",
    """CREATE TABLE trades (
        trade_id INTEGER PRIMARY KEY AUTOINCREMENT,
        symbol TEXT NOT NULL,
        side INTEGER NOT NULL CHECK (side IN (-1, 1)),
        strategy_id TEXT NOT NULL,
        entry_ts_ms INTEGER,
        exit_ts_ms INTEGER NOT NULL,
        entry_price REAL NOT NULL,
        exit_price REAL NOT NULL,
        qty_contracts REAL NOT NULL,
        qty_base REAL NOT NULL,
        gross_pnl_usd REAL NOT NULL,
        fees_usd REAL NOT NULL,
        funding_usd REAL NOT NULL,
        net_pnl_usd REAL NOT NULL,
        close_reason INTEGER NOT NULL,
        closing_fill_id TEXT NOT NULL UNIQUE REFERENCES fills (fill_id),
        adopted INTEGER NOT NULL,
        CHECK (entry_ts_ms IS NOT NULL OR adopted = 1)
    )""",
    "CREATE INDEX trades_by_exit ON trades (exit_ts_ms)",
    "CREATE INDEX trades_by_strategy ON trades (strategy_id, exit_ts_ms)",
    """CREATE TABLE funding (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        funding_id TEXT NOT NULL UNIQUE,
        symbol TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,
        amount_usd REAL NOT NULL,
        rate REAL,
        position_qty_contracts REAL NOT NULL,
        attributed INTEGER NOT NULL          -- 1: added to the open position's round trip
    )""",
    """CREATE TABLE equity (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        ts_ms INTEGER NOT NULL,
        equity_usd REAL NOT NULL,
        cash_usd REAL NOT NULL,
        unrealized_pnl_usd REAL NOT NULL,
        exposure_usd REAL NOT NULL,
        n_positions INTEGER NOT NULL
    )""",
    "CREATE INDEX equity_by_ts ON equity (ts_ms)",
    """CREATE TABLE decisions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        ts_ms INTEGER NOT NULL,
        symbol TEXT NOT NULL,
        strategy TEXT NOT NULL,
        outcome INTEGER NOT NULL,
        reason_code INTEGER NOT NULL,        -- the gate or rule that decided
        reason_mask INTEGER NOT NULL DEFAULT 0,  -- bit k set: reason code k also applied
        detail TEXT                          -- JSON
    )""",
    "CREATE INDEX decisions_by_ts ON decisions (ts_ms)",
    "CREATE INDEX decisions_by_symbol ON decisions (symbol, ts_ms)",
    """CREATE TABLE parameters (
        version INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        created_ts_ms INTEGER NOT NULL,
        parent_version INTEGER REFERENCES parameters (version),
        active INTEGER NOT NULL CHECK (active IN (0, 1)),
        body TEXT NOT NULL,                  -- JSON
        reason TEXT NOT NULL
    )""",
    "CREATE UNIQUE INDEX parameters_one_active_per_kind ON parameters (kind) WHERE active = 1",
    """CREATE TABLE heartbeats (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        ts_ms INTEGER NOT NULL,
        component TEXT NOT NULL,
        status TEXT NOT NULL,
        detail TEXT                          -- JSON
    )""",
    "CREATE INDEX heartbeats_by_component ON heartbeats (component, ts_ms)",
]


def _v1_initial(con: sqlite3.Connection) -> None:
    """Create every table of the first schema."""
    for statement in _V1:
        con.execute(statement)


_v1_initial.description = "initial schema"  # type: ignore[attr-defined]

_V2 = [
    """CREATE TABLE signal_outcomes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        ts_ms INTEGER NOT NULL,              -- entry: the entry decision time; close: the exit time
        event TEXT NOT NULL CHECK (event IN ('entry', 'close')),
        entry_key TEXT NOT NULL,             -- ties the close to its entry (the entry's client order id)
        symbol TEXT NOT NULL,
        strategy TEXT NOT NULL,
        side INTEGER NOT NULL CHECK (side IN (-1, 1)),
        shadow INTEGER NOT NULL DEFAULT 0 CHECK (shadow IN (0, 1)),  -- 1: a would-be trade (benched symbol)
        source TEXT NOT NULL,                -- engine, recomputed, trail, shadow
        regime INTEGER,                      -- regime code at entry
        conviction REAL,                     -- aggregated conviction at entry
        scores TEXT,                         -- JSON {signal: score or null} at entry
        confidences TEXT,                    -- JSON {signal: confidence or null} at entry
        net_pnl_usd REAL,                    -- close: net of fees and funding
        net_return REAL,                     -- close: net P&L / entry notional
        UNIQUE (entry_key, event)
    )""",
    "CREATE INDEX signal_outcomes_by_ts ON signal_outcomes (ts_ms)",
    "CREATE INDEX signal_outcomes_by_symbol ON signal_outcomes (symbol, ts_ms)",
]


def _v2_signal_outcomes(con: sqlite3.Connection) -> None:
    """Add the bounded per-signal outcome log of the learning system."""
    for statement in _V2:
        con.execute(statement)


_v2_signal_outcomes.description = "signal_outcomes: bounded per-signal outcome log (learning)"  # type: ignore[attr-defined]

#: Migrations in order; ``MIGRATIONS[i]`` moves version ``i`` to ``i + 1``.
MIGRATIONS: tuple[Migration, ...] = (_v1_initial, _v2_signal_outcomes)
#: The schema version this code writes and reads.
LATEST_VERSION = len(MIGRATIONS)

#: Tables exported by ``botcore ledger export``, in a readable order.
TABLES = (
    "meta", "account", "orders", "fills", "positions", "trades", "funding",
    "equity", "decisions", "parameters", "heartbeats", "signal_outcomes", "schema_version",
)


def schema_version(con: sqlite3.Connection) -> int:
    """Return the schema version of an open database (0 for an empty one).

    Raises
    ------
    LedgerError
        When the file is not SQLite, or holds tables but no ``schema_version`` (not a ledger).
    """
    try:
        names = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise LedgerError(f"not a SQLite ledger: {exc}") from None
    if "schema_version" not in names:
        user_tables = {n for n in names if not n.startswith("sqlite_")}
        if user_tables:
            raise LedgerError(f"not a botcore ledger: tables {sorted(user_tables)} but no schema_version")
        return 0
    row = con.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(con: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Apply the pending migrations in order, inside the caller's open transaction.

    Returns
    -------
    int
        The version reached, ``len(migrations)``.

    Raises
    ------
    LedgerError
        When the database is newer than ``len(migrations)``.
    """
    current = schema_version(con)
    latest = len(migrations)
    if current > latest:
        raise LedgerError(
            f"ledger schema version {current} is newer than this botcore supports ({latest}); upgrade botcore"
        )
    for version in range(current, latest):
        step = migrations[version]
        description = getattr(step, "description", step.__name__)
        logger.info("migrating ledger schema %d -> %d: %s", version, version + 1, description)
        step(con)
        con.execute(
            "INSERT INTO schema_version (version, applied_ts_ms, description) VALUES (?, ?, ?)",
            (version + 1, time.time_ns() // 1_000_000, description),
        )
    return latest
