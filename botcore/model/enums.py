"""Codes of the domain model: order sides, types and states, liquidity, close reasons.

Every code is an :class:`enum.IntEnum`, so it stores as an ``INTEGER`` in the
ledger, travels as an ``int64`` through NumPy arrays and Numba kernels, and
still prints its name in logs. Sides are signed (``BUY = +1``, ``SELL = -1``,
``LONG = +1``, ``SHORT = -1``) so that ``side * qty`` is a signed quantity.
"""

from __future__ import annotations

from enum import IntEnum


class OrderSide(IntEnum):
    """Direction of an order or a fill; the value is the sign of the quantity it adds."""

    BUY = 1
    SELL = -1

    @property
    def opposite(self) -> OrderSide:
        """Return the other side."""
        return OrderSide(-int(self))


class OrderType(IntEnum):
    """How an order prices itself."""

    MARKET = 0
    LIMIT = 1


class OrderStatus(IntEnum):
    """States of the order state machine (see :data:`botcore.model.orders.TRANSITIONS`)."""

    NEW = 0
    SUBMITTED = 1
    ACCEPTED = 2
    PARTIALLY_FILLED = 3
    FILLED = 4
    CANCELED = 5
    REJECTED = 6
    EXPIRED = 7

    @property
    def is_terminal(self) -> bool:
        """Return True when no transition leaves this state."""
        return self in TERMINAL_STATUSES

    @property
    def is_open(self) -> bool:
        """Return True while the order may still trade or be cancelled."""
        return not self.is_terminal


TERMINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


class LiquiditySide(IntEnum):
    """Whether a fill added liquidity (maker fee) or took it (taker fee)."""

    MAKER = 0
    TAKER = 1


class PositionSide(IntEnum):
    """Direction of a net position; the value is the sign of its quantity."""

    SHORT = -1
    FLAT = 0
    LONG = 1


class TradeCloseReason(IntEnum):
    """Why a position was closed; the order that closes it carries the reason.

    ``UNSPECIFIED`` is the default of opening orders. ``FLIP`` is recorded when a
    fill from an order without a close reason reverses the position through zero.
    """

    UNSPECIFIED = 0
    SIGNAL = 1
    STOP_LOSS = 2
    TAKE_PROFIT = 3
    TRAILING_STOP = 4
    PROFIT_LOCK = 5
    TIME_EXIT = 6
    HOLD_BREAKER = 7
    CIRCUIT_BREAKER = 8
    KILL_SWITCH = 9
    FLIP = 10
    RECONCILE = 11
    LIQUIDATION = 12
    MANUAL = 13
