"""The domain model shared by backtest, paper and live: orders, fills, positions, trades.

Units everywhere: money in USD (USDT), prices in USD per base unit, sizes in
contracts *and* base units (``qty_base = qty_contracts * contract_size``, with
``contract_size`` from :class:`botcore.config.models.Asset`), time as int
milliseconds UTC (``*_ts_ms``). Bad input raises
:class:`botcore.errors.DataError` naming the field.

Public API
----------
Codes (:mod:`botcore.model.enums`, all ``IntEnum``)
    ``OrderSide`` (BUY=+1, SELL=-1), ``OrderType``, ``OrderStatus``,
    ``LiquiditySide``, ``PositionSide`` (LONG=+1, FLAT=0, SHORT=-1),
    ``TradeCloseReason``.
:class:`Order` (:mod:`botcore.model.orders`)
    Frozen; ``submit/accept/reject/cancel/expire/apply_fill/transition`` each
    return the order in its next state, checked against :data:`TRANSITIONS`;
    an illegal move raises :class:`botcore.errors.IllegalTransition`.
:class:`Fill`, :class:`FundingPayment` (:mod:`botcore.model.fills`)
    Frozen venue reports; ``Fill.from_contracts`` derives ``qty_base``.
:class:`Position` (:mod:`botcore.model.position`)
    Net position per symbol, changed only by ``apply_fill`` (returns a
    :class:`FillEffect`: realised P&L, fee, and the :class:`ClosedTrade` it
    ended, if any) and ``apply_funding``; ``Position.adopted_from_venue`` builds
    one found on the venue (``entry_ts_ms`` None). A repeated fill id raises
    :class:`botcore.errors.DuplicateFill`.

Example
-------
>>> from botcore.model import Order, Fill, Position, OrderSide, OrderType, LiquiditySide
>>> order = Order("o1", "BTC/USDT:USDT", OrderSide.BUY, OrderType.MARKET, 2, 0.001, 0).submit(1)
>>> fill = Fill.from_contracts(fill_id="f1", client_order_id="o1", symbol="BTC/USDT:USDT",
...     side=OrderSide.BUY, price=60_000.0, qty_contracts=2, contract_size=0.001,
...     fee_usd=0.072, liquidity=LiquiditySide.TAKER, ts_ms=2)
>>> order.apply_fill(fill).status.name
'FILLED'
>>> position = Position("BTC/USDT:USDT", 0.001)
>>> position.apply_fill(fill).cash_delta_usd
-0.072
"""

from botcore.model.enums import (
    TERMINAL_STATUSES,
    LiquiditySide,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionSide,
    TradeCloseReason,
)
from botcore.model.fills import Fill, FundingPayment
from botcore.model.orders import TRANSITIONS, Order, is_legal
from botcore.model.position import ClosedTrade, FillEffect, Position

__all__ = [
    "ClosedTrade",
    "Fill",
    "FillEffect",
    "FundingPayment",
    "LiquiditySide",
    "Order",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "Position",
    "PositionSide",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "TradeCloseReason",
    "is_legal",
]
