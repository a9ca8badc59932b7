"""The :class:`Ledger`: one SQLite database in WAL mode, the single source of truth.

Writes run in transactions (``BEGIN IMMEDIATE``); a nested
:meth:`Ledger.transaction` joins the outer one through a SAVEPOINT, so an
inner failure undoes only the inner writes and the outer commit is still all
or nothing. Every public write method opens its own transaction, which joins
the caller's when there is one. Readers use :meth:`Ledger.snapshot` (every
reader method does), so several reads see one consistent state while another
process writes. A read-only :class:`Ledger` may be shared by threads (a lock
serialises its snapshots); a writer belongs to the thread that opened it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

import pandas as pd

from botcore.errors import BotcoreError, DataError, DuplicateFill, LedgerError
from botcore.ledger import schema
from botcore.ledger.integrity import LedgerDamaged
from botcore.ledger.invariant import DEFAULT_TOL, InvariantReport, check_invariant
from botcore.ledger.rows import (
    DECISION_COLUMNS,
    ORDER_COLUMNS,
    POSITION_FIELDS,
    int_field,
    json_text,
    order_from_row,
    order_row,
    position_from_row,
)
from botcore.model.enums import OrderStatus, TradeCloseReason
from botcore.model.fills import Fill, FundingPayment
from botcore.model.orders import Order
from botcore.model.position import ClosedTrade, FillEffect, Position

logger = logging.getLogger(__name__)


class DuplicateOrder(BotcoreError, ValueError):
    """A client order id was recorded twice."""


class RecordNotFound(BotcoreError, LookupError):
    """An order, parameter version or other record asked for does not exist."""


class EquitySnapshot(NamedTuple):
    """One row of the equity table."""

    ts_ms: int
    equity_usd: float
    cash_usd: float
    unrealized_pnl_usd: float
    exposure_usd: float
    n_positions: int


@dataclass(frozen=True, slots=True)
class ParamSet:
    """One version of a parameter set (signal weights, strategy settings, ...)."""

    version: int
    kind: str
    body: dict
    created_ts_ms: int
    parent_version: int | None
    active: bool
    reason: str


def now_ms() -> int:
    """Return the wall-clock time in int milliseconds UTC."""
    return time.time_ns() // 1_000_000


#: Meta key of the log of parameter activations and rollbacks (:meth:`Ledger.params_history`) and its length.
PARAMS_HISTORY_KEY = "params:history"
PARAMS_HISTORY_LIMIT = 10_000


class Ledger:
    """The trading ledger over one SQLite file. Build it with :meth:`Ledger.open`."""

    def __init__(self, con: sqlite3.Connection, path: Path, *, readonly: bool, version: int) -> None:
        self._con = con
        self.path = path
        self.readonly = readonly
        self.schema_version = version
        self._depth = 0
        self._kind: str | None = None  # "write" or "read" for the outermost open transaction
        self._lock = threading.RLock()  # one thread at a time inside a transaction or snapshot

    # ================================================================== lifecycle

    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        *,
        create: bool = True,
        readonly: bool = False,
        starting_cash_usd: float | None = None,
        mode: str | None = None,
        timeout_s: float = 10.0,
        synchronous: str = "FULL",
        migrations: tuple[schema.Migration, ...] = schema.MIGRATIONS,
    ) -> Ledger:
        """Open (and by default create and migrate) a ledger.

        Parameters
        ----------
        path : path-like
            The SQLite file.
        create : bool
            Create the file when it does not exist (a writer only).
        readonly : bool
            Open through a ``file:...?mode=ro`` URI: readers only, never migrates.
        starting_cash_usd : float, optional
            Initialise the account with this cash when it has none yet; ignored
            (with a warning if different) once the account exists.
        mode : str, optional
            ``paper``, ``demo`` or ``live``, recorded in ``meta`` when given.
        timeout_s : float
            How long to wait for another writer's lock.
        synchronous : str
            SQLite ``synchronous`` level; ``FULL`` survives power loss, ``NORMAL`` only a process crash.
        migrations : tuple
            The migrations to apply (tests substitute their own).

        Raises
        ------
        LedgerError
            When the file is missing (and not created), not a ledger, or its schema
            is newer than ``migrations`` (or older, for a read-only open).
        """
        path = Path(path)
        latest = len(migrations)
        if readonly:
            if not path.exists():
                raise LedgerError(f"ledger {path} does not exist")
            uri = f"file:{quote(str(path.resolve()))}?mode=ro"
            con = sqlite3.connect(uri, uri=True, timeout=timeout_s, isolation_level=None, check_same_thread=False)
        else:
            if not path.exists() and not create:
                raise LedgerError(f"ledger {path} does not exist (pass create=True to make one)")
            if path.is_dir():
                raise LedgerError(f"ledger {path} is a directory, not a ledger file")
            if path.exists() and path.stat().st_size == 0:  # a truncated ledger must not silently become a new one
                raise LedgerError(f"ledger {path} is an empty file (0 bytes): truncated or never written; restore it "
                                  f"from a backup, or delete it to start a new ledger")
            path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(path, timeout=timeout_s, isolation_level=None)
        con.row_factory = sqlite3.Row
        try:
            con.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
            version = schema.schema_version(con)
            if readonly:
                if version != latest:
                    state = "newer" if version > latest else "older"
                    raise LedgerError(
                        f"ledger {path} has schema version {version}, {state} than this botcore's {latest}"
                        + ("; open it once as a writer to migrate" if version < latest else "; upgrade botcore")
                    )
            else:
                cls._prepare_writer(con, path, synchronous)
                con.execute("BEGIN IMMEDIATE")
                try:
                    version = schema.migrate(con, migrations)
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
            con.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            con.close()
            raise LedgerError(f"cannot open ledger {path}: {exc}") from None
        except BaseException:
            con.close()
            raise
        ledger = cls(con, path, readonly=readonly, version=version)
        if not readonly:
            if starting_cash_usd is not None:
                ledger._init_account(starting_cash_usd)
            if mode is not None:
                ledger.set_meta("mode", mode)
        logger.debug("opened ledger %s (schema v%d, %s)", path, version, "read-only" if readonly else "writer")
        return ledger

    @staticmethod
    def _prepare_writer(con: sqlite3.Connection, path: Path, synchronous: str) -> None:
        journal = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(journal).lower() != "wal":
            raise LedgerError(f"ledger {path}: could not switch to WAL mode (journal_mode={journal})")
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"synchronous must be OFF, NORMAL, FULL or EXTRA, got {synchronous!r}")
        con.execute(f"PRAGMA synchronous = {synchronous.upper()}")

    def close(self) -> None:
        """Close the connection (an open transaction is rolled back)."""
        self._con.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ================================================================== transactions

    @contextmanager
    def transaction(self) -> Iterator[Ledger]:
        """Run the block as one write transaction; nested calls join the outer one.

        The outermost call commits on success and rolls back on any exception; a
        nested call is a SAVEPOINT, rolled back alone if its block raises.
        """
        with self._lock, self._transaction():
            yield self

    @contextmanager
    def _transaction(self) -> Iterator[Ledger]:
        if self.readonly:
            raise LedgerError(f"ledger {self.path} is open read-only")
        if self._depth == 0:
            self._con.execute("BEGIN IMMEDIATE")
            self._depth, self._kind = 1, "write"
            try:
                yield self
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            else:
                try:
                    self._con.execute("COMMIT")
                except BaseException:
                    if self._con.in_transaction:
                        self._con.execute("ROLLBACK")
                    raise
            finally:
                self._depth, self._kind = 0, None
            return
        if self._kind != "write":
            raise LedgerError("cannot write inside a read snapshot; open the transaction first")
        name = f"sp{self._depth}"
        self._con.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield self
        except BaseException:
            self._con.execute(f"ROLLBACK TO {name}")
            self._con.execute(f"RELEASE {name}")
            raise
        else:
            self._con.execute(f"RELEASE {name}")
        finally:
            self._depth -= 1

    @contextmanager
    def snapshot(self) -> Iterator[Ledger]:
        """Run the block's reads against one consistent snapshot (joins any open transaction)."""
        with self._lock, self._snapshot():
            yield self

    @contextmanager
    def _snapshot(self) -> Iterator[Ledger]:
        if self._depth > 0:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self._con.execute("BEGIN DEFERRED")
        self._depth, self._kind = 1, "read"
        try:
            yield self
        finally:
            self._depth, self._kind = 0, None
            if self._con.in_transaction:
                self._con.execute("COMMIT")

    # ================================================================== account and meta

    def _init_account(self, starting_cash_usd: float) -> None:
        cash = float(starting_cash_usd)
        if not math.isfinite(cash) or cash < 0:
            raise DataError(f"starting_cash_usd must be a finite number >= 0, got {starting_cash_usd!r}")
        with self.transaction():
            existing = self.get_meta("starting_cash_usd")
            if existing is not None:
                if not math.isclose(float(existing), cash):
                    logger.warning(
                        "ledger %s started with %.2f USD; ignoring starting_cash_usd=%.2f", self.path, existing, cash
                    )
                return
            ts_ms = now_ms()
            self.set_meta("starting_cash_usd", cash)
            self._con.execute("INSERT INTO account (id, cash_usd, updated_ts_ms) VALUES (1, ?, ?)", (cash, ts_ms))
            logger.info("ledger %s: account opened with %.2f USD", self.path, cash)

    def starting_cash(self) -> float:
        """Return the cash the account started with, USD."""
        value = self.get_meta("starting_cash_usd")
        if value is None:
            raise LedgerError(f"ledger {self.path}: account not initialised (open with starting_cash_usd=...)")
        return float(value)

    def account_opened_ms(self) -> int:
        """Return when the account was opened with its starting cash (a demo/live run: the venue's balance read), ms UTC."""
        row = self._con.execute("SELECT updated_ts_ms FROM meta WHERE key = 'starting_cash_usd'").fetchone()
        if row is None:
            raise LedgerError(f"ledger {self.path}: account not initialised (open with starting_cash_usd=...)")
        return int(row[0])

    def cash(self) -> float:
        """Return the account's cash, USD (start + realised P&L - fees + funding)."""
        row = self._con.execute("SELECT cash_usd FROM account WHERE id = 1").fetchone()
        if row is None:
            raise LedgerError(f"ledger {self.path}: account not initialised (open with starting_cash_usd=...)")
        return float(row[0])

    def _move_cash(self, delta_usd: float, ts_ms: int) -> None:
        cur = self._con.execute(
            "UPDATE account SET cash_usd = cash_usd + ?, updated_ts_ms = ? WHERE id = 1", (delta_usd, ts_ms)
        )
        if cur.rowcount != 1:
            raise LedgerError(f"ledger {self.path}: account not initialised (open with starting_cash_usd=...)")

    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON-able value under ``key`` (mode, kill switch, ...)."""
        with self.transaction():
            self._con.execute(
                "INSERT INTO meta (key, value, updated_ts_ms) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_ts_ms = excluded.updated_ts_ms",
                (key, json.dumps(value), now_ms()),
            )

    def get_meta(self, key: str, default: Any = None) -> Any:
        """Return the value stored under ``key``, or ``default``."""
        with self._unreadable():
            row = self._con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            return default if row is None else json.loads(row[0])

    @contextmanager
    def _unreadable(self) -> Iterator[None]:
        """Turn a record SQLite or JSON cannot decode (a damaged page's bytes) into a LedgerError naming the file."""
        try:
            yield
        except (sqlite3.DatabaseError, ValueError) as exc:
            if isinstance(exc, sqlite3.IntegrityError) or (
                    isinstance(exc, ValueError) and not isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError))):
                raise
            raise LedgerDamaged(f"ledger {self.path}: a record cannot be read ({exc}): damaged; run `botcore ledger "
                              f"check {self.path}` and restore it from a backup") from None

    def set_flag(self, name: str, value: bool) -> None:
        """Set a boolean flag such as ``kill_switch``."""
        logger.info("ledger flag %s = %s", name, bool(value))
        self.set_meta(f"flag:{name}", bool(value))

    def get_flag(self, name: str, default: bool = False) -> bool:
        """Return a boolean flag, or ``default`` when never set."""
        return bool(self.get_meta(f"flag:{name}", default))

    # ================================================================== orders

    def record_order(self, order: Order) -> None:
        """Store a new order; its ``client_order_id`` must be new.

        Raises
        ------
        DuplicateOrder
            When the client order id is already in the ledger.
        """
        with self.transaction():
            try:
                self._con.execute(
                    f"INSERT INTO orders ({', '.join(ORDER_COLUMNS)}) VALUES ({', '.join('?' * len(ORDER_COLUMNS))})",
                    order_row(order),
                )
            except sqlite3.IntegrityError as exc:
                if "orders.client_order_id" in str(exc):
                    raise DuplicateOrder(f"client order id {order.client_order_id} is already recorded") from None
                raise DataError(f"order {order.client_order_id}: {exc}") from None
        logger.info(
            "order %s recorded: %s %s %s contracts (%s)", order.client_order_id, order.side.name, order.symbol,
            order.qty_contracts, order.status.name,
        )

    def _save_order(self, order: Order) -> None:
        sets = ", ".join(f"{c} = ?" for c in ORDER_COLUMNS[1:])
        row = order_row(order)
        self._con.execute(f"UPDATE orders SET {sets} WHERE client_order_id = ?", (*row[1:], row[0]))

    def order(self, client_order_id: str) -> Order:
        """Return the stored order.

        Raises
        ------
        RecordNotFound
            When no order has that id.
        """
        row = self._con.execute("SELECT * FROM orders WHERE client_order_id = ?", (client_order_id,)).fetchone()
        if row is None:
            raise RecordNotFound(f"no order with client order id {client_order_id}")
        return order_from_row(row)

    def open_orders(self) -> list[Order]:
        """Return the orders not yet in a terminal state, oldest first."""
        open_codes = tuple(int(s) for s in OrderStatus if s.is_open)
        rows = self._con.execute(
            f"SELECT * FROM orders WHERE status IN ({', '.join('?' * len(open_codes))}) ORDER BY created_ts_ms",
            open_codes,
        ).fetchall()
        return [order_from_row(r) for r in rows]

    def update_order_status(
        self,
        client_order_id: str,
        status: OrderStatus,
        ts_ms: int,
        *,
        venue_order_id: str | None = None,
        reason: str | None = None,
    ) -> Order:
        """Move a stored order to ``status`` (SUBMITTED, ACCEPTED, CANCELED, REJECTED or EXPIRED).

        The fill states are reached only by :meth:`record_fill`.

        Raises
        ------
        IllegalTransition
            When the order's state machine forbids the move.
        ValueError
            When ``status`` is a fill state.
        """
        status = OrderStatus(status)
        if status in (OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED):
            raise ValueError(f"order {client_order_id}: {status.name} is reached by record_fill, not set directly")
        with self.transaction():
            order = self.order(client_order_id).transition(status, ts_ms, reason=reason)
            if venue_order_id is not None:
                order = replace(order, venue_order_id=venue_order_id)
            self._save_order(order)
        logger.info("order %s -> %s%s", client_order_id, status.name, f" ({reason})" if reason else "")
        return order

    # ================================================================== fills, funding, positions

    def has_fill(self, fill_id: str) -> bool:
        """Return True when the fill ``fill_id`` is recorded."""
        return self._con.execute("SELECT 1 FROM fills WHERE fill_id = ?", (fill_id,)).fetchone() is not None

    def record_fill(self, fill: Fill) -> FillEffect:
        """Apply a fill to its order, its position and cash in one transaction.

        Writes the fill row (with the P&L it realised), updates the order's fill
        state, the position row and the account cash, and a trade row when the
        fill closes a round trip.

        Raises
        ------
        DuplicateFill
            When ``fill.fill_id`` is already recorded.
        RecordNotFound
            When the fill's order was never recorded.
        IllegalTransition, DataError
            When the order or the position cannot take the fill.
        """
        with self.transaction():
            if self._con.execute("SELECT 1 FROM fills WHERE fill_id = ?", (fill.fill_id,)).fetchone():
                raise DuplicateFill(f"fill {fill.fill_id} is already recorded")
            order = self.order(fill.client_order_id).apply_fill(fill)
            position = self.position(fill.symbol) or Position(fill.symbol, order.contract_size)
            if not math.isclose(position.contract_size, order.contract_size, rel_tol=1e-12):
                raise DataError(
                    f"fill {fill.fill_id}: order contract_size {order.contract_size} differs from "
                    f"position {fill.symbol}'s {position.contract_size}"
                )
            effect = position.apply_fill(fill, strategy_id=order.strategy_id, close_reason=order.close_reason)
            try:
                self._con.execute(
                    """INSERT INTO fills (fill_id, client_order_id, symbol, side, price, qty_contracts, qty_base,
                       fee_usd, liquidity, reduce_only, ts_ms, realized_pnl_usd)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (
                        fill.fill_id, fill.client_order_id, fill.symbol, int(fill.side), fill.price,
                        fill.qty_contracts, fill.qty_base, fill.fee_usd, int(fill.liquidity), int(fill.reduce_only),
                        fill.ts_ms, effect.realized_pnl_usd,
                    ),
                )
            except sqlite3.IntegrityError as exc:
                if "fills.fill_id" in str(exc):
                    raise DuplicateFill(f"fill {fill.fill_id} is already recorded") from None
                raise
            self._save_order(order)
            self._save_position(position)
            self._move_cash(effect.cash_delta_usd, fill.ts_ms)
            if effect.closed_trade is not None:
                self._insert_trade(effect.closed_trade, adopted=self._was_adopted(effect.closed_trade))
        logger.info(
            "fill %s: %s %s %s @ %s fee %.4f realised %.4f%s", fill.fill_id, fill.side.name, fill.qty_contracts,
            fill.symbol, fill.price, fill.fee_usd, effect.realized_pnl_usd,
            " (closed trade)" if effect.closed_trade else "",
        )
        return effect

    @staticmethod
    def _was_adopted(trade: ClosedTrade) -> bool:
        return trade.entry_ts_ms is None

    def _insert_trade(self, trade: ClosedTrade, *, adopted: bool) -> None:
        self._con.execute(
            """INSERT INTO trades (symbol, side, strategy_id, entry_ts_ms, exit_ts_ms, entry_price, exit_price,
               qty_contracts, qty_base, gross_pnl_usd, fees_usd, funding_usd, net_pnl_usd, close_reason,
               closing_fill_id, adopted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                trade.symbol, int(trade.side), trade.strategy_id, trade.entry_ts_ms, trade.exit_ts_ms,
                trade.entry_price, trade.exit_price, trade.qty_contracts, trade.qty_base, trade.gross_pnl_usd,
                trade.fees_usd, trade.funding_usd, trade.net_pnl_usd, int(trade.close_reason),
                trade.closing_fill_id, int(adopted),
            ),
        )
        logger.info(
            "trade closed: %s %s net %.4f USD (%s)", trade.side.name, trade.symbol, trade.net_pnl_usd,
            TradeCloseReason(trade.close_reason).name,
        )

    def _save_position(self, position: Position, *, adopted_qty_contracts: float = 0.0) -> None:
        values = [getattr(position, f) for f in POSITION_FIELDS]
        values = [int(v) if isinstance(v, bool) else v for v in values]
        columns = ", ".join(POSITION_FIELDS)
        updates = ", ".join(f"{f} = excluded.{f}" for f in POSITION_FIELDS[1:])
        self._con.execute(
            f"""INSERT INTO positions ({columns}, adopted_qty_contracts)
                VALUES ({', '.join('?' * len(POSITION_FIELDS))}, ?)
                ON CONFLICT (symbol) DO UPDATE SET {updates},
                adopted_qty_contracts = adopted_qty_contracts + excluded.adopted_qty_contracts""",
            (*values, adopted_qty_contracts),
        )

    def position(self, symbol: str) -> Position | None:
        """Return the stored position of ``symbol`` (flat or open), or None if it never traded."""
        row = self._con.execute("SELECT * FROM positions WHERE symbol = ?", (symbol,)).fetchone()
        return None if row is None else position_from_row(row)

    def open_positions(self) -> dict[str, Position]:
        """Return the open positions by symbol (the portfolio state ``decide()`` starts from)."""
        with self.snapshot():
            rows = self._con.execute("SELECT * FROM positions WHERE qty_contracts != 0 ORDER BY symbol").fetchall()
        return {row["symbol"]: position_from_row(row) for row in rows}

    def adopt_position(self, position: Position) -> None:
        """Store a position found open on the venue (see :meth:`Position.adopted_from_venue`).

        Raises
        ------
        DataError
            When the position is not an adopted one, or the ledger already holds an open one.
        """
        if not position.adopted or position.is_flat:
            raise DataError(f"adopt_position needs an open Position.adopted_from_venue(...), got {position!r}")
        with self.transaction():
            current = self.position(position.symbol)
            if current is not None and not current.is_flat:
                raise DataError(
                    f"cannot adopt {position.symbol}: the ledger already holds {current.qty_contracts} contracts"
                )
            self._save_position(position, adopted_qty_contracts=position.qty_contracts)
        logger.warning("adopted %s: %s contracts @ %s (entry time unknown)", position.symbol,
                       position.qty_contracts, position.avg_entry_price)

    def has_funding(self, funding_id: str) -> bool:
        """Return True when the funding payment ``funding_id`` is recorded."""
        return self._con.execute("SELECT 1 FROM funding WHERE funding_id = ?", (funding_id,)).fetchone() is not None

    def record_funding(self, payment: FundingPayment) -> None:
        """Book a funding payment: cash moves by ``amount_usd`` (positive = received).

        While the symbol's position is open the payment is added to its round
        trip (and so to the trade it closes); on a flat position only cash moves.

        Raises
        ------
        DataError
            When the ``funding_id`` is already recorded.
        """
        with self.transaction():
            position = self.position(payment.symbol)
            attributed = position is not None and not position.is_flat
            held = position.qty_contracts if attributed else 0.0
            try:
                self._con.execute(
                    """INSERT INTO funding (funding_id, symbol, ts_ms, amount_usd, rate, position_qty_contracts,
                       attributed) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                    (payment.funding_id, payment.symbol, payment.ts_ms, payment.amount_usd, payment.rate, held,
                     int(attributed)),
                )
            except sqlite3.IntegrityError:
                raise DataError(f"funding {payment.funding_id} is already recorded") from None
            if attributed:
                position.apply_funding(payment)
                self._save_position(position)
            self._move_cash(payment.amount_usd, payment.ts_ms)
        logger.info("funding %s: %+.4f USD on %s", payment.funding_id, payment.amount_usd, payment.symbol)

    # ================================================================== equity, decisions, heartbeats

    def record_equity(self, ts_ms: int, mark_prices: Mapping[str, float]) -> EquitySnapshot:
        """Snapshot equity = cash + unrealised P&L of the open positions at ``mark_prices``.

        Raises
        ------
        DataError
            When an open position has no finite mark price.
        """
        with self.transaction():
            positions = self.open_positions()
            unrealized, exposure = [], []
            for symbol, position in positions.items():
                mark = mark_prices.get(symbol)
                if mark is None or not math.isfinite(mark) or mark <= 0:
                    raise DataError(f"record_equity: mark_prices[{symbol!r}] missing or invalid ({mark!r})")
                unrealized.append(position.unrealized_pnl_usd(mark))
                exposure.append(position.notional_usd(mark))
            cash = self.cash()
            snap = EquitySnapshot(
                ts_ms=int(ts_ms),
                equity_usd=cash + math.fsum(unrealized),
                cash_usd=cash,
                unrealized_pnl_usd=math.fsum(unrealized),
                exposure_usd=math.fsum(exposure),
                n_positions=len(positions),
            )
            self._con.execute(
                """INSERT INTO equity (ts_ms, equity_usd, cash_usd, unrealized_pnl_usd, exposure_usd, n_positions)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                snap,
            )
        return snap

    def record_equity_rows(self, rows: Iterable[EquitySnapshot | tuple]) -> int:
        """Append precomputed equity snapshots in bulk; return how many were written.

        For a backtest, whose compiled loop computes each bar's snapshot with
        :meth:`record_equity`'s arithmetic (cash + ``fsum`` of unrealised P&L).
        Each row is ``(ts_ms, equity_usd, cash_usd, unrealized_pnl_usd, exposure_usd, n_positions)``.
        """
        with self.transaction():
            cur = self._con.executemany(
                """INSERT INTO equity (ts_ms, equity_usd, cash_usd, unrealized_pnl_usd, exposure_usd, n_positions)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                ((int(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]), int(r[5])) for r in rows),
            )
            return cur.rowcount

    def record_decisions(self, rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> int:
        """Append decision-trail rows in bulk; return how many were written.

        Each row has ``ts_ms``, ``symbol``, ``strategy``, ``outcome`` and
        ``reason_code`` (ints from the strategy package's codes) and optionally
        ``reason_mask`` (int bit set of further reason codes, default 0) and
        ``detail`` (a JSON-able dict or a JSON string).

        Raises
        ------
        DataError
            When a required column is missing or a value violates the schema.
        """
        if isinstance(rows, pd.DataFrame):
            missing = {"ts_ms", "symbol", "strategy", "outcome", "reason_code"} - set(rows.columns)
            if missing:
                raise DataError(f"record_decisions: missing columns {sorted(missing)}")
            n = len(rows)
            columns = [
                rows[c].tolist() if c in rows.columns else [0 if c == "reason_mask" else None] * n
                for c in DECISION_COLUMNS
            ]
            columns[-1] = [json_text(d) for d in columns[-1]]
            params: Iterable[tuple] = zip(*columns)
        else:
            params = (self._decision_tuple(r) for r in rows)
        with self.transaction():
            try:
                cur = self._con.executemany(
                    f"INSERT INTO decisions ({', '.join(DECISION_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)", params
                )
            except sqlite3.IntegrityError as exc:
                raise DataError(f"record_decisions: {exc}") from None
            return cur.rowcount

    @staticmethod
    def _decision_tuple(row: Mapping[str, Any]) -> tuple:
        try:
            ints = [int_field(row, c) for c in ("ts_ms", "outcome", "reason_code")]
            return (
                ints[0], row["symbol"], row["strategy"], ints[1], ints[2],
                int_field({"reason_mask": row.get("reason_mask", 0)}, "reason_mask"), json_text(row.get("detail")),
            )
        except KeyError as exc:
            raise DataError(f"record_decisions: row lacks {exc.args[0]!r}: {dict(row)!r}") from None

    def record_heartbeat(
        self, component: str, *, ts_ms: int | None = None, status: str = "ok", detail: Mapping | None = None
    ) -> None:
        """Append a heartbeat of ``component`` (engine, feed, dashboard, ...)."""
        with self.transaction():
            self._con.execute(
                "INSERT INTO heartbeats (ts_ms, component, status, detail) VALUES (?, ?, ?, ?)",
                (now_ms() if ts_ms is None else int(ts_ms), component, status, json_text(detail)),
            )

    # ================================================================== parameters

    def put_params(
        self, kind: str, body: Mapping[str, Any], *, reason: str, activate: bool = False, ts_ms: int | None = None
    ) -> int:
        """Store a new version of the ``kind`` parameters; return its version number.

        Its parent is the version of ``kind`` active when it is stored.
        """
        with self.transaction():
            parent = self.active_params(kind)
            cur = self._con.execute(
                """INSERT INTO parameters (kind, created_ts_ms, parent_version, active, body, reason)
                   VALUES (?, ?, ?, 0, ?, ?)""",
                (kind, now_ms() if ts_ms is None else int(ts_ms), parent.version if parent else None,
                 json.dumps(dict(body), sort_keys=True), reason),
            )
            version = int(cur.lastrowid)
            if activate:
                self.activate(version, reason=reason, ts_ms=ts_ms)
        logger.info("parameters %s v%d stored (%s)%s", kind, version, reason, ", active" if activate else "")
        return version

    @staticmethod
    def _params_from_row(row: sqlite3.Row) -> ParamSet:
        return ParamSet(
            version=row["version"], kind=row["kind"], body=json.loads(row["body"]),
            created_ts_ms=row["created_ts_ms"], parent_version=row["parent_version"],
            active=bool(row["active"]), reason=row["reason"],
        )

    def get_params(self, version: int) -> ParamSet:
        """Return one stored version. Raises RecordNotFound when absent."""
        row = self._con.execute("SELECT * FROM parameters WHERE version = ?", (version,)).fetchone()
        if row is None:
            raise RecordNotFound(f"no parameter version {version}")
        return self._params_from_row(row)

    def active_params(self, kind: str) -> ParamSet | None:
        """Return the active version of ``kind``, or None when none is active."""
        row = self._con.execute("SELECT * FROM parameters WHERE kind = ? AND active = 1", (kind,)).fetchone()
        return None if row is None else self._params_from_row(row)

    def activate(self, version: int, *, reason: str = "activated", ts_ms: int | None = None,
                 action: str = "activate") -> ParamSet:
        """Make ``version`` the active one of its kind; return it. The change is logged (:meth:`params_history`)."""
        with self.transaction():
            params = self.get_params(version)
            previous = self.active_params(params.kind)
            self._con.execute("UPDATE parameters SET active = 0 WHERE kind = ? AND active = 1", (params.kind,))
            self._con.execute("UPDATE parameters SET active = 1 WHERE version = ?", (version,))
            log = list(self.get_meta(PARAMS_HISTORY_KEY, []) or [])[-(PARAMS_HISTORY_LIMIT - 1):]
            log.append({"ts_ms": now_ms() if ts_ms is None else int(ts_ms), "kind": params.kind, "action": action,
                        "from_version": previous.version if previous else None, "to_version": version,
                        "reason": reason})
            self.set_meta(PARAMS_HISTORY_KEY, log)
        logger.info("parameters %s v%d activated (%s)", params.kind, version, reason)
        return self.get_params(version)

    def rollback(self, kind: str, *, reason: str = "rollback", ts_ms: int | None = None) -> ParamSet:
        """Re-activate the parent of the active ``kind`` version; return it (logged as a rollback with ``reason``).

        Raises
        ------
        RecordNotFound
            When nothing of ``kind`` is active or the active version has no parent.
        """
        with self.transaction():
            current = self.active_params(kind)
            if current is None or current.parent_version is None:
                raise RecordNotFound(f"parameters {kind}: no earlier version to roll back to")
            logger.warning("parameters %s: rolling back v%d -> v%d", kind, current.version, current.parent_version)
            return self.activate(current.parent_version, reason=reason, ts_ms=ts_ms, action="rollback")

    def params_history(self, kind: str | None = None) -> pd.DataFrame:
        """Return every activation and rollback, oldest first: ts_ms, kind, action, from_version, to_version, reason."""
        rows = [r for r in (self.get_meta(PARAMS_HISTORY_KEY, []) or []) if kind is None or r["kind"] == kind]
        return pd.DataFrame(rows, columns=["ts_ms", "kind", "action", "from_version", "to_version", "reason"])

    def list_params(self, kind: str | None = None) -> pd.DataFrame:
        """Return every stored version (of ``kind``), oldest first; ``body`` is JSON text."""
        if kind is None:
            return self._frame("SELECT * FROM parameters ORDER BY version")
        return self._frame("SELECT * FROM parameters WHERE kind = ? ORDER BY version", (kind,))

    # ================================================================== readers

    def _frame(self, sql: str, params: tuple = ()) -> pd.DataFrame:
        with self._unreadable(), self.snapshot():
            cur = self._con.execute(sql, params)
            rows = cur.fetchall()
        columns = [d[0] for d in cur.description]
        return pd.DataFrame([tuple(r) for r in rows], columns=columns)

    def table(self, name: str) -> pd.DataFrame:
        """Return a whole table by name (one of :data:`botcore.ledger.schema.TABLES`)."""
        if name not in schema.TABLES:
            raise ValueError(f"unknown ledger table {name!r}; known: {list(schema.TABLES)}")
        return self._frame(f"SELECT * FROM {name}")

    def orders(self, *, open_only: bool = False) -> pd.DataFrame:
        """Return the orders, oldest first (codes as ints of botcore.model.enums)."""
        where = ""
        if open_only:
            where = "WHERE status IN (" + ", ".join(str(int(s)) for s in OrderStatus if s.is_open) + ")"
        return self._frame(f"SELECT * FROM orders {where} ORDER BY created_ts_ms, client_order_id")

    def fills(self, *, since_ms: int | None = None) -> pd.DataFrame:
        """Return the fills in the order they were recorded."""
        if since_ms is None:
            return self._frame("SELECT * FROM fills ORDER BY seq")
        return self._frame("SELECT * FROM fills WHERE ts_ms >= ? ORDER BY seq", (int(since_ms),))

    def positions(self, *, include_flat: bool = False) -> pd.DataFrame:
        """Return the position rows (open ones unless ``include_flat``)."""
        where = "" if include_flat else "WHERE qty_contracts != 0"
        return self._frame(f"SELECT * FROM positions {where} ORDER BY symbol")

    def trades(self, *, since_ms: int | None = None) -> pd.DataFrame:
        """Return the closed trades by exit time."""
        if since_ms is None:
            return self._frame("SELECT * FROM trades ORDER BY exit_ts_ms, trade_id")
        return self._frame("SELECT * FROM trades WHERE exit_ts_ms >= ? ORDER BY exit_ts_ms, trade_id", (int(since_ms),))

    def funding(self) -> pd.DataFrame:
        """Return the funding payments in the order they were recorded."""
        return self._frame("SELECT * FROM funding ORDER BY seq")

    def equity(self, *, since_ms: int | None = None) -> pd.DataFrame:
        """Return the equity snapshots by time."""
        if since_ms is None:
            return self._frame("SELECT * FROM equity ORDER BY ts_ms, seq")
        return self._frame("SELECT * FROM equity WHERE ts_ms >= ? ORDER BY ts_ms, seq", (int(since_ms),))

    def decisions(self, since_ms: int | None = None, *, symbol: str | None = None) -> pd.DataFrame:
        """Return the decision trail (optionally from ``since_ms``, for one ``symbol``)."""
        clauses, params = [], []
        if since_ms is not None:
            clauses.append("ts_ms >= ?")
            params.append(int(since_ms))
        if symbol is not None:
            clauses.append("symbol = ?")
            params.append(symbol)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return self._frame(f"SELECT * FROM decisions {where} ORDER BY ts_ms, seq", tuple(params))

    def heartbeats(self, *, since_ms: int | None = None) -> pd.DataFrame:
        """Return the heartbeats by time."""
        if since_ms is None:
            return self._frame("SELECT * FROM heartbeats ORDER BY ts_ms, seq")
        return self._frame("SELECT * FROM heartbeats WHERE ts_ms >= ? ORDER BY ts_ms, seq", (int(since_ms),))

    def last_heartbeats(self) -> pd.DataFrame:
        """Return the latest heartbeat of each component."""
        return self._frame(
            """SELECT h.* FROM heartbeats h
               JOIN (SELECT component, MAX(seq) AS seq FROM heartbeats GROUP BY component) last USING (seq)
               ORDER BY h.component"""
        )

    # ================================================================== invariant

    def check_invariant(self, *, tol: float = DEFAULT_TOL) -> InvariantReport:
        """Check cash = start + realised P&L - fees + funding and its cross-checks, on one snapshot."""
        with self._unreadable(), self.snapshot():
            report = check_invariant(self._con, schema_version=self.schema_version, tol=tol)
        if not report.ok:
            logger.error("ledger %s invariant broken:\n%s", self.path, report.summary())
        return report
