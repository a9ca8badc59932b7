"""Orders as an explicit state machine.

An :class:`Order` is a frozen value; every event returns a new order in its
next state, checked against :data:`TRANSITIONS`::

    NEW ──► SUBMITTED ──► ACCEPTED ──► PARTIALLY_FILLED ──► FILLED
     │         │  │           │            │  ▲ (more partials)
     │         │  └─► (PARTIALLY_)FILLED   │  │
     ├─► REJECTED ◄┘           ├───────────┴──┴─► CANCELED / EXPIRED
     └─► CANCELED

A move the table does not list raises :class:`botcore.errors.IllegalTransition`
naming the order, its state and the state asked for. FILLED, CANCELED,
REJECTED and EXPIRED are terminal. The fill states are reached only through
:meth:`Order.apply_fill`, which also keeps the filled quantity and the
average fill price.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from botcore.errors import DataError, IllegalTransition
from botcore.model import _checks
from botcore.model.enums import OrderSide, OrderStatus, OrderType, TradeCloseReason
from botcore.model.fills import Fill

logger = logging.getLogger(__name__)

S = OrderStatus
#: Legal moves: state -> the states it may move to. Terminal states map to nothing.
TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = MappingProxyType(
    {
        S.NEW: frozenset({S.SUBMITTED, S.REJECTED, S.CANCELED}),
        S.SUBMITTED: frozenset({S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.REJECTED, S.CANCELED, S.EXPIRED}),
        S.ACCEPTED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED}),
        S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED}),
        S.FILLED: frozenset(),
        S.CANCELED: frozenset(),
        S.REJECTED: frozenset(),
        S.EXPIRED: frozenset(),
    }
)
del S


def is_legal(from_status: OrderStatus, to_status: OrderStatus) -> bool:
    """Return True when the state machine allows ``from_status -> to_status``."""
    return OrderStatus(to_status) in TRANSITIONS[OrderStatus(from_status)]


@dataclass(frozen=True, slots=True)
class Order:
    """An order and where it stands.

    Attributes
    ----------
    client_order_id : str
        Our idempotency key; unique across the ledger.
    symbol : str
        ccxt unified symbol.
    side : OrderSide
        BUY or SELL.
    order_type : OrderType
        MARKET or LIMIT.
    qty_contracts : float
        Ordered quantity in contracts (> 0).
    contract_size : float
        Base units per contract, from the asset configuration.
    created_ts_ms : int
        When the order was created, milliseconds UTC.
    price : float or None
        Limit price in USD per base unit; None for a market order.
    reduce_only : bool
        The order may only shrink the position.
    strategy_id : str
        The strategy that wanted it ("" when none, e.g. a reconciliation).
    close_reason : TradeCloseReason
        Why the order closes a position (UNSPECIFIED for opening orders).
    status : OrderStatus
        Current state; change it only through the transition methods.
    updated_ts_ms : int or None
        Time of the last transition (defaults to ``created_ts_ms``).
    filled_qty_contracts : float
        Sum of the fills applied so far.
    avg_fill_price : float or None
        Quantity-weighted average fill price; None before the first fill.
    venue_order_id : str or None
        The venue's id, once it has acknowledged the order.
    status_reason : str or None
        Free text from the venue or the engine on reject or cancel.
    """

    client_order_id: str
    symbol: str
    side: OrderSide
    order_type: OrderType
    qty_contracts: float
    contract_size: float
    created_ts_ms: int
    price: float | None = None
    reduce_only: bool = False
    strategy_id: str = ""
    close_reason: TradeCloseReason = TradeCloseReason.UNSPECIFIED
    status: OrderStatus = OrderStatus.NEW
    updated_ts_ms: int | None = None
    filled_qty_contracts: float = 0.0
    avg_fill_price: float | None = None
    venue_order_id: str | None = None
    status_reason: str | None = None

    def __post_init__(self) -> None:
        owner = "Order"
        set_ = object.__setattr__
        set_(self, "client_order_id", _checks.text(owner, "client_order_id", self.client_order_id))
        set_(self, "symbol", _checks.text(owner, "symbol", self.symbol))
        try:
            set_(self, "side", OrderSide(self.side))
            set_(self, "order_type", OrderType(self.order_type))
            set_(self, "status", OrderStatus(self.status))
            set_(self, "close_reason", TradeCloseReason(self.close_reason))
        except ValueError as exc:
            raise DataError(f"Order {self.client_order_id}: {exc}") from None
        set_(self, "qty_contracts", _checks.positive(owner, "qty_contracts", self.qty_contracts))
        set_(self, "contract_size", _checks.positive(owner, "contract_size", self.contract_size))
        set_(self, "created_ts_ms", _checks.ts_ms(owner, "created_ts_ms", self.created_ts_ms))
        if self.updated_ts_ms is None:
            set_(self, "updated_ts_ms", self.created_ts_ms)
        else:
            set_(self, "updated_ts_ms", _checks.ts_ms(owner, "updated_ts_ms", self.updated_ts_ms))
        if self.order_type == OrderType.LIMIT:
            if self.price is None:
                raise DataError(f"Order {self.client_order_id}: price is required for a LIMIT order")
            set_(self, "price", _checks.positive(owner, "price", self.price))
        elif self.price is not None:
            raise DataError(f"Order {self.client_order_id}: price must be None for a MARKET order, got {self.price!r}")
        filled = _checks.finite(owner, "filled_qty_contracts", self.filled_qty_contracts)
        if filled < 0:
            raise DataError(f"Order {self.client_order_id}: filled_qty_contracts must be >= 0, got {filled}")
        set_(self, "filled_qty_contracts", filled)
        set_(self, "reduce_only", bool(self.reduce_only))
        if not isinstance(self.strategy_id, str):
            raise DataError(f"Order.strategy_id must be a string, got {self.strategy_id!r}")

    # ------------------------------------------------------------------ views

    @property
    def qty_base(self) -> float:
        """Return the ordered quantity in base units."""
        return self.qty_contracts * self.contract_size

    @property
    def remaining_qty_contracts(self) -> float:
        """Return the quantity still to fill, in contracts (never below 0)."""
        return max(self.qty_contracts - self.filled_qty_contracts, 0.0)

    @property
    def is_open(self) -> bool:
        """Return True while the order may still trade or be cancelled."""
        return self.status.is_open

    # ------------------------------------------------------------------ transitions

    def transition(self, to_status: OrderStatus, ts_ms: int, *, reason: str | None = None) -> Order:
        """Return this order moved to ``to_status``.

        Raises
        ------
        IllegalTransition
            When :data:`TRANSITIONS` does not allow the move; the message names both states.
        """
        to_status = OrderStatus(to_status)
        if not is_legal(self.status, to_status):
            raise IllegalTransition(
                f"order {self.client_order_id}: illegal transition {self.status.name} -> {to_status.name}"
            )
        ts_ms = _checks.ts_ms("Order", "updated_ts_ms", ts_ms)
        logger.debug("order %s: %s -> %s", self.client_order_id, self.status.name, to_status.name)
        return replace(
            self,
            status=to_status,
            updated_ts_ms=ts_ms,
            status_reason=reason if reason is not None else self.status_reason,
        )

    def submit(self, ts_ms: int) -> Order:
        """Return the order as sent to the venue (NEW -> SUBMITTED)."""
        return self.transition(OrderStatus.SUBMITTED, ts_ms)

    def accept(self, ts_ms: int, venue_order_id: str | None = None) -> Order:
        """Return the order acknowledged by the venue (SUBMITTED -> ACCEPTED)."""
        order = self.transition(OrderStatus.ACCEPTED, ts_ms)
        return replace(order, venue_order_id=venue_order_id) if venue_order_id is not None else order

    def reject(self, ts_ms: int, reason: str) -> Order:
        """Return the order refused by the venue or by a pre-trade check."""
        return self.transition(OrderStatus.REJECTED, ts_ms, reason=reason)

    def cancel(self, ts_ms: int, reason: str | None = None) -> Order:
        """Return the order cancelled (what was filled stays filled)."""
        return self.transition(OrderStatus.CANCELED, ts_ms, reason=reason)

    def expire(self, ts_ms: int) -> Order:
        """Return the order expired by its time in force."""
        return self.transition(OrderStatus.EXPIRED, ts_ms)

    def apply_fill(self, fill: Fill) -> Order:
        """Return the order after ``fill``: PARTIALLY_FILLED, or FILLED once nothing remains.

        Raises
        ------
        DataError
            When the fill belongs to another order, symbol or side, or overfills the order.
        IllegalTransition
            When the order's state cannot take a fill (NEW or terminal).
        """
        if fill.client_order_id != self.client_order_id:
            raise DataError(f"fill {fill.fill_id} is for order {fill.client_order_id}, not {self.client_order_id}")
        if fill.symbol != self.symbol:
            raise DataError(f"fill {fill.fill_id}: symbol {fill.symbol} differs from order's {self.symbol}")
        if fill.side != self.side:
            raise DataError(f"fill {fill.fill_id}: side {fill.side.name} differs from order's {self.side.name}")
        filled = self.filled_qty_contracts + fill.qty_contracts
        if filled > self.qty_contracts and not _checks.qty_equal(filled, self.qty_contracts):
            raise DataError(
                f"fill {fill.fill_id} overfills order {self.client_order_id}: "
                f"{filled} of {self.qty_contracts} contracts"
            )
        done = _checks.qty_equal(filled, self.qty_contracts)
        order = self.transition(OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED, fill.ts_ms)
        previous_notional = (self.avg_fill_price or 0.0) * self.filled_qty_contracts
        avg_price = (previous_notional + fill.price * fill.qty_contracts) / filled
        return replace(
            order,
            filled_qty_contracts=self.qty_contracts if done else filled,
            avg_fill_price=avg_price,
        )
