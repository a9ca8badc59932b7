"""Reconciliation: bring the ledger in line with what the venue reports, and say what it cannot explain.

Run at start and every ``venue.reconcile_every_cycles`` cycles (nautilus_trader's
live execution client is the model). :func:`reconcile_with_venue` asks the venue
for its positions, open orders and balance, looks up every order the ledger
thinks open but the venue does not list, and calls :func:`reconcile`, which in
one ledger transaction:

1. **orders** — an order open on both sides takes the venue's progress (accepted,
   missing fills recorded); an order the ledger thinks open but the venue does
   not list is resolved from its lookup: fills recorded, then FILLED, or
   CANCELED / EXPIRED / REJECTED as the venue says; one the venue never saw is
   CANCELED ("the venue has no record of it"). An open order on the venue that
   the ledger does not know is a problem (it may trade behind our back).
2. **positions** — a venue position the ledger does not hold is adopted as an
   aged position (:meth:`botcore.model.Position.adopted_from_venue`: entry time
   unknown, so the exit rules treat it as old) with ``ledger.adopt_position``.
   Any other size difference is a problem: nothing the ledger knows explains it.
3. **cash** — ledger cash against the venue's wallet balance; a difference over
   ``cash_tolerance_usd`` ($1) is a problem.

Every change is logged and listed in the :class:`ReconcileReport` with its
reason; the last report is stored in the ledger's ``meta`` under
``reconcile:last``. ``report.ok`` is False when any problem remains: the engine
then stops trading and alerts.

:func:`apply_order_update` is the order step on its own; the engine uses it to
book what :meth:`Venue.submit` returned.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

from botcore.errors import BotcoreError, DataError, DuplicateFill
from botcore.ledger import Ledger, RecordNotFound
from botcore.model import OrderStatus, Position
from botcore.model._checks import qty_equal
from botcore.venues.base import OrderUpdate, Venue, VenueBalance, VenuePosition

logger = logging.getLogger(__name__)

#: Money difference between ledger and venue above which reconciliation fails (the ledger's red flag).
CASH_TOLERANCE_USD = 1.0
META_KEY = "reconcile:last"


@dataclass(frozen=True, slots=True)
class ReconcileChange:
    """One change reconciliation made to the ledger, and why.

    ``kind`` is one of ``ORDER_SUBMITTED``, ``ORDER_ACCEPTED``, ``FILL_RECORDED``,
    ``ORDER_CANCELED``, ``ORDER_REJECTED``, ``ORDER_EXPIRED``, ``POSITION_ADOPTED``.
    """

    kind: str
    symbol: str
    client_order_id: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """What one reconciliation found and did.

    Attributes
    ----------
    ts_ms : int
        When it ran.
    ok : bool
        True when the ledger now agrees with the venue; False means stop trading and alert.
    changes : tuple of ReconcileChange
        What was changed in the ledger, with the reason.
    problems : tuple of str
        The differences it could not explain (empty when ``ok``).
    ledger_cash_usd, venue_cash_usd : float
        Cash after the changes, on both sides.
    """

    ts_ms: int
    ok: bool
    changes: tuple[ReconcileChange, ...]
    problems: tuple[str, ...]
    ledger_cash_usd: float
    venue_cash_usd: float

    @property
    def cash_diff_usd(self) -> float:
        """Return ledger cash minus venue cash, USD."""
        return self.ledger_cash_usd - self.venue_cash_usd

    def to_dict(self) -> dict:
        """Return a JSON-able dict (stored in the ledger's meta)."""
        return {
            "ts_ms": self.ts_ms, "ok": self.ok, "changes": [asdict(c) for c in self.changes],
            "problems": list(self.problems), "ledger_cash_usd": self.ledger_cash_usd,
            "venue_cash_usd": self.venue_cash_usd, "cash_diff_usd": self.cash_diff_usd,
        }


def _change(changes: list[ReconcileChange], kind: str, symbol: str, cid: str | None, detail: str) -> None:
    changes.append(ReconcileChange(kind, symbol, cid, detail))
    logger.warning("reconcile: %s %s %s: %s", kind, symbol, cid or "", detail)


def apply_order_update(
    ledger: Ledger, update: OrderUpdate, *, why: str = "venue"
) -> tuple[list[ReconcileChange], list[str]]:
    """Bring the ledger's order ``update.client_order_id`` to the venue's state.

    Records the update's fills the ledger lacks (a fill already recorded is
    skipped), moves NEW/SUBMITTED orders forward, and applies a terminal state.
    A REJECTED order that has fills is closed as CANCELED (the state machine's
    only way out of PARTIALLY_FILLED).

    Returns
    -------
    (changes, problems)
        What changed, and what disagrees after the update (e.g. the venue reports
        more filled than its fills account for).

    Raises
    ------
    RecordNotFound
        When the ledger has no such order.
    """
    cid = update.client_order_id
    changes: list[ReconcileChange] = []
    problems: list[str] = []
    with ledger.transaction():
        order = ledger.order(cid)
        if order.status == OrderStatus.NEW and (update.status != OrderStatus.REJECTED or update.fills):
            order = ledger.update_order_status(cid, OrderStatus.SUBMITTED, update.ts_ms, venue_order_id=update.venue_order_id)
            _change(changes, "ORDER_SUBMITTED", update.symbol, cid, f"{why}: the venue has it")
        if order.status == OrderStatus.SUBMITTED and update.status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED):
            order = ledger.update_order_status(cid, OrderStatus.ACCEPTED, update.ts_ms, venue_order_id=update.venue_order_id)
            _change(changes, "ORDER_ACCEPTED", update.symbol, cid, f"{why}: resting on the venue as {update.venue_order_id}")
        for fill in sorted(update.fills, key=lambda f: (f.ts_ms, f.fill_id)):
            try:
                ledger.record_fill(fill)
            except DuplicateFill:
                continue
            except BotcoreError as exc:
                problems.append(f"order {cid}: fill {fill.fill_id} cannot be recorded: {exc}")
                continue
            _change(changes, "FILL_RECORDED", update.symbol, cid,
                    f"{why}: {fill.side.name} {fill.qty_contracts:g} @ {fill.price:g} (fill {fill.fill_id})")
        order = ledger.order(cid)
        if order.is_open and update.status in (OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED):
            target = update.status
            if target == OrderStatus.REJECTED and order.status not in (OrderStatus.NEW, OrderStatus.SUBMITTED):
                target = OrderStatus.CANCELED
            reason = f"{why}: {update.reason or update.status.name.lower()}"
            ledger.update_order_status(cid, target, update.ts_ms, venue_order_id=update.venue_order_id, reason=reason)
            _change(changes, f"ORDER_{target.name}", update.symbol, cid, reason)
        order = ledger.order(cid)
        if not qty_equal(order.filled_qty_contracts, update.filled_qty_contracts):
            problems.append(
                f"order {cid}: venue reports {update.filled_qty_contracts:g} contracts filled, "
                f"ledger has {order.filled_qty_contracts:g}"
            )
        elif update.status == OrderStatus.FILLED and order.status != OrderStatus.FILLED:
            problems.append(f"order {cid}: venue reports FILLED, ledger has {order.status.name}")
    return changes, problems


def _net_positions(venue_positions: Iterable[VenuePosition], problems: list[str]) -> dict[str, VenuePosition]:
    """Net long/short rows per symbol into one signed position (entry price weighted by size)."""
    netted: dict[str, VenuePosition] = {}
    for p in venue_positions:
        prev = netted.get(p.symbol)
        if prev is None:
            netted[p.symbol] = p
            continue
        if not math.isclose(prev.contract_size, p.contract_size, rel_tol=1e-12):
            problems.append(f"{p.symbol}: venue rows disagree on contract size ({prev.contract_size} vs {p.contract_size})")
        qty = prev.qty_contracts + p.qty_contracts
        weight = abs(prev.qty_contracts) + abs(p.qty_contracts)
        price = (prev.avg_entry_price * abs(prev.qty_contracts) + p.avg_entry_price * abs(p.qty_contracts)) / weight
        netted[p.symbol] = VenuePosition(p.symbol, qty, p.contract_size, price, p.mark_price, prev.unrealized_pnl_usd
                                         + p.unrealized_pnl_usd, p.leverage, p.margin_mode, "net", None, max(prev.ts_ms, p.ts_ms))
    return netted


def reconcile(
    ledger: Ledger,
    venue_positions: Iterable[VenuePosition],
    venue_open_orders: Iterable[OrderUpdate],
    venue_balance: VenueBalance,
    now_ms: int,
    *,
    order_lookups: Mapping[str, OrderUpdate | None] | None = None,
    cash_tolerance_usd: float = CASH_TOLERANCE_USD,
) -> ReconcileReport:
    """Compare the ledger with the venue, fix what the venue explains, report the rest.

    Parameters
    ----------
    ledger : Ledger
        The writer ledger.
    venue_positions, venue_open_orders, venue_balance :
        What the venue reports now (:meth:`Venue.positions`, :meth:`Venue.open_orders`,
        :meth:`Venue.balance`); open orders with the fills they have, when any.
    now_ms : int
        Reconciliation time (the adoption time of adopted positions).
    order_lookups : mapping, optional
        ``client_order_id -> Venue.fetch_order(...)`` for the orders the ledger
        thinks open but the venue does not list (None: the venue never saw it).
        An orphan without a lookup stays open and is reported as a problem.
    cash_tolerance_usd : float
        Largest cash difference accepted ($1).

    Returns
    -------
    ReconcileReport
        ``ok`` False when anything is left unexplained.
    """
    lookups = dict(order_lookups or {})
    changes: list[ReconcileChange] = []
    problems: list[str] = []
    venue_open = {u.client_order_id: u for u in venue_open_orders}
    with ledger.transaction():
        # 1. orders
        for order in ledger.open_orders():
            cid = order.client_order_id
            update = venue_open.get(cid)
            if update is None and cid in lookups:
                update = lookups[cid]
                if update is None:
                    reason = "reconcile: the venue has no record of this order"
                    ledger.update_order_status(cid, OrderStatus.CANCELED, now_ms, reason=reason)
                    _change(changes, "ORDER_CANCELED", order.symbol, cid, reason)
                    if order.filled_qty_contracts > 0:
                        problems.append(f"order {cid}: {order.filled_qty_contracts:g} contracts filled in the ledger "
                                        f"but the venue has no record of the order")
                    continue
            if update is None:
                problems.append(f"order {cid} ({order.symbol}) is open in the ledger, not on the venue, and was not looked up")
                continue
            c, p = apply_order_update(ledger, update, why="reconcile")
            changes += c
            problems += p
        for cid, update in venue_open.items():
            try:
                known = ledger.order(cid)
            except RecordNotFound:
                problems.append(f"open order {cid} on the venue ({update.symbol} {update.side.name} "
                                f"{update.qty_contracts:g} contracts) is not in the ledger")
                continue
            if not known.is_open:
                problems.append(f"order {cid} is open on the venue but {known.status.name} in the ledger")
        # 2. positions
        venue = _net_positions(venue_positions, problems)
        held = ledger.open_positions()
        for symbol in sorted(set(venue) | set(held)):
            vp, lp = venue.get(symbol), held.get(symbol)
            venue_qty = vp.qty_contracts if vp else 0.0
            ledger_qty = lp.qty_contracts if lp else 0.0
            if lp is None and vp is not None and venue_qty != 0:
                try:
                    position = Position.adopted_from_venue(symbol, vp.contract_size, venue_qty, vp.avg_entry_price, now_ms)
                    ledger.adopt_position(position)
                except DataError as exc:
                    problems.append(f"{symbol}: venue position of {venue_qty:g} contracts cannot be adopted: {exc}")
                    continue
                _change(changes, "POSITION_ADOPTED", symbol, None,
                        f"reconcile: {venue_qty:g} contracts @ {vp.avg_entry_price:g} on the venue, none in the ledger; "
                        f"adopted as aged (entry time unknown)")
                continue
            if vp is not None and lp is not None and not math.isclose(vp.contract_size, lp.contract_size, rel_tol=1e-12):
                problems.append(f"{symbol}: contract size {lp.contract_size} in the ledger, {vp.contract_size} on the venue")
            if not qty_equal(venue_qty, ledger_qty):
                problems.append(f"{symbol}: position {ledger_qty:g} contracts in the ledger, {venue_qty:g} on the venue")
        # 3. cash
        ledger_cash = ledger.cash()
        diff = ledger_cash - venue_balance.cash_usd
        if not abs(diff) <= cash_tolerance_usd:
            problems.append(f"cash {ledger_cash:.2f} USD in the ledger, {venue_balance.cash_usd:.2f} USD on the venue "
                            f"(difference {diff:+.2f} USD, tolerance {cash_tolerance_usd:g})")
        report = ReconcileReport(now_ms, not problems, tuple(changes), tuple(problems), ledger_cash, venue_balance.cash_usd)
        ledger.set_meta(META_KEY, report.to_dict())
    if report.ok:
        logger.info("reconcile: ok (%d changes), cash %.2f USD", len(changes), ledger_cash)
    else:
        for problem in problems:
            logger.error("reconcile: %s", problem)
    return report


async def reconcile_with_venue(
    ledger: Ledger, venue: Venue, now_ms: int, *, cash_tolerance_usd: float = CASH_TOLERANCE_USD
) -> ReconcileReport:
    """Fetch what :func:`reconcile` needs from ``venue`` (looking up orphan orders) and run it.

    Raises
    ------
    TemporaryError
        When the venue cannot be reached (nothing in the ledger changed).
    """
    positions = await venue.positions()
    open_orders = await venue.open_orders()
    balance = await venue.balance()
    venue_open = {u.client_order_id: u for u in open_orders}
    lookups: dict[str, OrderUpdate | None] = {}
    for order in ledger.open_orders():
        cid = order.client_order_id
        listed = venue_open.get(cid)
        if listed is None:
            lookups[cid] = await venue.fetch_order(cid, symbol=order.symbol)
        elif listed.filled_qty_contracts > order.filled_qty_contracts and not listed.fills:
            venue_open[cid] = await venue.fetch_order(cid, symbol=order.symbol) or listed
    return reconcile(ledger, positions, list(venue_open.values()), balance, now_ms,
                     order_lookups=lookups, cash_tolerance_usd=cash_tolerance_usd)


__all__ = [
    "CASH_TOLERANCE_USD",
    "ReconcileChange",
    "ReconcileReport",
    "apply_order_update",
    "reconcile",
    "reconcile_with_venue",
]
