"""The ledger: one SQLite database (WAL mode), the single source of truth of the bot.

Orders, fills, positions, closed trades, funding, equity snapshots, the
decision trail, versioned parameters, heartbeats and a small ``meta`` store
(starting cash, mode, flags such as the kill switch) live in one file. There
are no JSON state files; JSON and CSV are exports (:func:`export_csv`).

Writers and readers
-------------------
One process writes (``Ledger.open(path, starting_cash_usd=...)``); any number
of others read (``Ledger.open(path, readonly=True)``, a ``file:...?mode=ro``
URI). Group the writes of one cycle step in ``with ledger.transaction():``;
nested transactions join the outer one (as SAVEPOINTs), and every write method
opens its own, so a lone call is atomic too. Group reads that must agree in
``with ledger.snapshot():`` (each reader method already reads one snapshot).

One writer, integrity
---------------------
``botcore run`` holds :class:`WriterLock` (``fcntl.flock`` on ``<ledger>.lock``,
with the holder's pid and start time) for its whole life: a second writer is
refused naming the holder, and a lock left by a killed process is taken over
(the kernel drops it with the process). :func:`check_integrity` (SQLite
``quick_check`` and the schema check, read-only, never raises) guards
``run``, ``ledger check``, ``preflight`` and ``status``; a record a damaged
page garbled raises :class:`LedgerDamaged`.

The invariant
-------------
``cash == starting cash + realised P&L - fees + funding`` (funding positive
when received), with cash kept on the account row and the right side summed
from the fills and funding tables; plus cross-checks of trades, positions and
orders against the fills. :meth:`Ledger.check_invariant` returns an
:class:`InvariantReport` (``ok``, ``discrepancies`` with amounts,
``red_flag`` when money is off by more than $1). ``botcore ledger check PATH``
runs it from the shell.

Public API
----------
``Ledger.open(path, *, create=True, readonly=False, starting_cash_usd=None, mode=None)``
    Open, create and migrate; ``close()`` or use it as a context manager.
``transaction()`` / ``snapshot()``
    Write transaction (nests) / consistent read snapshot.
``record_order(order)``, ``update_order_status(id, status, ts_ms, *, venue_order_id, reason)``, ``order(id)``, ``open_orders()``
    Orders as :class:`botcore.model.Order`; duplicate ids raise :class:`DuplicateOrder`.
``record_fill(fill) -> FillEffect``
    Applies the fill to its order, its position and cash in one transaction,
    writing a trade row when the fill closes a round trip; a repeated fill id
    raises :class:`botcore.errors.DuplicateFill`.
``record_funding(payment)``, ``adopt_position(position)``, ``position(symbol)``, ``open_positions()``
    Funding, venue positions adopted at reconciliation, the portfolio state.
``record_equity(ts_ms, mark_prices) -> EquitySnapshot``, ``record_decisions(rows) -> int``, ``record_heartbeat(component, ...)``
    Equity snapshots, the bulk decision trail (ts_ms, symbol, strategy,
    outcome, reason_code, reason_mask, detail JSON), heartbeats.
``put_params(kind, body, *, reason, activate=False)``, ``active_params(kind)``, ``get_params(version)``, ``list_params(kind)``, ``activate(version)``, ``rollback(kind)``
    Versioned parameter sets with parents; one active version per kind.
``set_flag/get_flag``, ``set_meta/get_meta``, ``cash()``, ``starting_cash()``
    Account and flags.
``orders()``, ``fills()``, ``positions()``, ``trades()``, ``funding()``, ``equity()``, ``decisions(since_ms)``, ``heartbeats()``, ``last_heartbeats()``, ``list_params()``, ``table(name)``
    Readers returning pandas DataFrames (codes as ints of :mod:`botcore.model.enums`).
``check_invariant(tol=1e-6) -> InvariantReport``
    The invariant and its cross-checks.

Errors: :class:`botcore.errors.LedgerError` (an operational error: missing
file, not a ledger, schema newer than the code) and the input errors above.
"""

from botcore.ledger.export import export_csv
from botcore.ledger.integrity import IntegrityReport, LedgerDamaged, check_integrity
from botcore.ledger.invariant import Check, InvariantReport
from botcore.ledger.lock import LedgerLocked, WriterLock
from botcore.ledger.schema import LATEST_VERSION, MIGRATIONS, TABLES
from botcore.ledger.store import (
    DuplicateOrder,
    EquitySnapshot,
    Ledger,
    ParamSet,
    RecordNotFound,
    now_ms,
)

__all__ = [
    "Check",
    "DuplicateOrder",
    "EquitySnapshot",
    "IntegrityReport",
    "InvariantReport",
    "LATEST_VERSION",
    "Ledger",
    "LedgerDamaged",
    "LedgerLocked",
    "MIGRATIONS",
    "ParamSet",
    "RecordNotFound",
    "TABLES",
    "WriterLock",
    "check_integrity",
    "export_csv",
    "now_ms",
]
