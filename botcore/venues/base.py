"""The venue port: what the engine asks of any venue, in :mod:`botcore.model` terms.

Adapters (:class:`~botcore.venues.blofin.BlofinVenue`,
:class:`~botcore.venues.paper.PaperVenue`) implement :class:`Venue`; the engine
never sees ccxt structures. Units: sizes in contracts *and* base units
(``qty_base = qty_contracts * contract_size``), prices in USD per base unit,
money in USD (USDT), time in int milliseconds UTC.

Outcomes
--------
- An order the venue (or a pre-trade check) refuses is an :class:`OrderUpdate`
  with status ``REJECTED`` and a :class:`VenueReason` code plus free text,
  never an exception: below minimum, insufficient margin, position-mode
  mismatch, reduce-only without a position, no liquidity.
- A temporary failure (network, timeout, HTTP 429, 5xx) is retried a bounded
  number of times; then :class:`botcore.errors.TemporaryError`.
- Credentials or permissions refused, or a venue that contradicts the
  configuration: :class:`botcore.errors.OperationalError`.
- Bad input from the caller (an unknown symbol, a malformed client order id):
  :class:`botcore.errors.DataError` naming the field.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import IntEnum
from typing import Any, Literal, Protocol, runtime_checkable

from botcore.errors import DataError
from botcore.fills import RoundedQty, round_contracts
from botcore.model import Fill, FundingPayment, Order, OrderSide, OrderStatus, OrderType

#: BloFin's limit on ``clientOrderId``: letters and digits, at most 32 characters.
#: (Its docs say "alphanumerics"; error 152009 also allows underscores. We keep to the stricter rule.)
CLIENT_ORDER_ID_MAX_LEN = 32
_CLIENT_ORDER_ID_RE = re.compile(r"^[A-Za-z0-9]{1,32}$")

PositionMode = Literal["net", "long_short"]
MarginMode = Literal["isolated", "cross"]


class VenueReason(IntEnum):
    """Why an order was refused or ended early (``NONE`` when it was not)."""

    NONE = 0
    BELOW_MINIMUM = 1            # rounds down below the venue's minimum size
    ABOVE_MAXIMUM = 2            # above the venue's maximum order size
    INSUFFICIENT_MARGIN = 3      # not enough free margin (BloFin 103003 / 150004)
    POSITION_MODE_MISMATCH = 4   # account in net vs long/short mode other than configured (BloFin 102089)
    REDUCE_ONLY_NO_POSITION = 5  # reduce-only order with nothing to reduce (BloFin 102022)
    NO_LIQUIDITY = 6             # no usable level on the side the order consumes
    NO_MARKET_DATA = 7           # the paper venue has no book for the symbol yet
    DUPLICATE_CLIENT_ORDER_ID = 8  # the id was used by another order
    PRICE_OUT_OF_RANGE = 9       # outside the venue's price limits (BloFin 102064/102065)
    BOOK_EXHAUSTED = 10          # a market order filled what the book held; the rest was cancelled
    CANCELED = 11                # cancelled (by us, the venue or a reconciliation)
    VENUE_REJECTED = 12          # any other refusal; the text says what


# --------------------------------------------------------------------------- client order ids


def check_client_order_id(client_order_id: str) -> str:
    """Return ``client_order_id`` if BloFin accepts it (1-32 letters or digits), else raise DataError."""
    if not isinstance(client_order_id, str) or not _CLIENT_ORDER_ID_RE.match(client_order_id):
        raise DataError(
            f"client_order_id must be 1-{CLIENT_ORDER_ID_MAX_LEN} letters or digits (BloFin's limit), "
            f"got {client_order_id!r}"
        )
    return client_order_id


def make_client_order_id(prefix: str, *parts: object) -> str:
    """Return a deterministic client order id valid on BloFin, built from ``prefix`` and ``parts``.

    The same parts always give the same id, so an engine that rebuilds an
    intent after a restart reuses its id and the ledger and the venue both
    refuse to place it twice. Non-alphanumeric characters are dropped; ids
    longer than 32 characters keep the prefix and a SHA-1 digest of the rest.

    Examples
    --------
    >>> make_client_order_id("bc", 1709251200000, 3, "BTC/USDT:USDT")
    'bc17092512000003BTCUSDTUSDT'
    """
    clean_prefix = re.sub(r"[^A-Za-z0-9]", "", str(prefix))
    if not clean_prefix:
        raise DataError(f"client order id prefix must contain letters or digits, got {prefix!r}")
    body = "".join(re.sub(r"[^A-Za-z0-9]", "", str(p)) for p in parts)
    candidate = clean_prefix + body
    if len(candidate) <= CLIENT_ORDER_ID_MAX_LEN:
        return candidate
    digest = hashlib.sha1("|".join(str(p) for p in parts).encode()).hexdigest()
    return (clean_prefix[:8] + digest)[:CLIENT_ORDER_ID_MAX_LEN]


# --------------------------------------------------------------------------- markets


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """What the venue needs to know of one market to size and price an order.

    Attributes
    ----------
    symbol : str
        ccxt unified symbol, e.g. ``BTC/USDT:USDT``.
    contract_size : float
        Base units per contract (BloFin's ``contractValue``).
    contract_step : float
        Order size increment in contracts (BloFin's ``lotSize``).
    min_contracts : float
        Smallest order in contracts (BloFin's ``minSize``).
    tick_size : float or None
        Price increment, USD; None when unknown (prices are sent as given).
    max_leverage : float
        Highest leverage the market allows.
    max_limit_contracts, max_market_contracts : float or None
        Largest limit / market order in contracts, when the venue says.
    venue_id : str
        The venue's instrument id (``BTC-USDT``).
    """

    symbol: str
    contract_size: float
    contract_step: float = 1.0
    min_contracts: float = 1.0
    tick_size: float | None = None
    max_leverage: float = 20.0
    max_limit_contracts: float | None = None
    max_market_contracts: float | None = None
    venue_id: str = ""

    def __post_init__(self) -> None:
        for name in ("contract_size", "contract_step", "min_contracts"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise DataError(f"MarketSpec {self.symbol}: {name} must be a finite number > 0, got {value!r}")

    @classmethod
    def from_asset(cls, asset) -> MarketSpec:
        """Build the spec of a configured :class:`botcore.config.models.Asset` (the paper venue's markets)."""
        return cls(
            symbol=asset.symbol,
            contract_size=float(asset.contract_size),
            contract_step=float(asset.contract_step),
            min_contracts=float(asset.min_contracts),
            max_leverage=float(asset.max_leverage),
            venue_id=asset.symbol.split(":")[0].replace("/", "-"),
        )

    def round_base(self, qty_base: float) -> RoundedQty:
        """Round a quantity in base units DOWN to whole lot steps (the fill model's rounding).

        Returns a :class:`botcore.fills.RoundedQty` whose status is ``FillStatuses.below_minimum``
        when the result is under ``min_contracts``.
        """
        return round_contracts(qty_base, self)

    def round_contracts(self, qty_contracts: float) -> RoundedQty:
        """Round a quantity in contracts DOWN to whole lot steps (see :meth:`round_base`)."""
        return round_contracts(float(qty_contracts) * self.contract_size, self)

    def round_price(self, price: float, side: OrderSide) -> float:
        """Round a limit price to the tick, never in the buyer's or seller's disfavour.

        A buy rounds down, a sell rounds up; with no ``tick_size`` the price is returned unchanged.
        """
        if self.tick_size is None:
            return float(price)
        tick = Decimal(repr(self.tick_size))
        steps = (Decimal(repr(float(price))) / tick).to_integral_value(
            rounding=ROUND_FLOOR if OrderSide(side) == OrderSide.BUY else ROUND_CEILING
        )
        return float(steps * tick)


# --------------------------------------------------------------------------- requests and reports


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An order to place. Give the size in contracts OR in base units, not both.

    The venue rounds the size DOWN to the market's lot step (a request below the
    minimum comes back ``REJECTED`` / ``BELOW_MINIMUM``) and a limit price to the
    tick; the :class:`OrderUpdate` says what was actually ordered.

    Attributes
    ----------
    client_order_id : str
        Idempotency key, 1-32 letters or digits (see :func:`make_client_order_id`).
    symbol : str
        ccxt unified symbol.
    side : OrderSide
        BUY or SELL.
    order_type : OrderType
        MARKET or LIMIT.
    qty_contracts : float, optional
        Size in contracts.
    qty_base : float, optional
        Size in base units (converted with the market's contract size).
    price : float, optional
        Limit price, USD per base unit (LIMIT only).
    reduce_only : bool
        Only shrink the position; a larger size closes it and opens nothing.
    post_only : bool
        LIMIT only: rest as a maker or be refused, never take (BloFin's ``post_only`` order type).
    """

    client_order_id: str
    symbol: str
    side: OrderSide
    order_type: OrderType
    qty_contracts: float | None = None
    qty_base: float | None = None
    price: float | None = None
    reduce_only: bool = False
    post_only: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.symbol, str) or not self.symbol:
            raise DataError(f"OrderRequest.symbol must be a non-empty string, got {self.symbol!r}")
        try:
            set_(self, "side", OrderSide(self.side))
            set_(self, "order_type", OrderType(self.order_type))
        except ValueError as exc:
            raise DataError(f"OrderRequest {self.client_order_id}: {exc}") from None
        if (self.qty_contracts is None) == (self.qty_base is None):
            raise DataError(f"OrderRequest {self.client_order_id}: give exactly one of qty_contracts and qty_base")
        for name in ("qty_contracts", "qty_base"):
            value = getattr(self, name)
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                    raise DataError(f"OrderRequest {self.client_order_id}: {name} must be a finite number > 0, got {value!r}")
                set_(self, name, float(value))
        if self.order_type == OrderType.LIMIT:
            if self.price is None or not math.isfinite(self.price) or self.price <= 0:
                raise DataError(f"OrderRequest {self.client_order_id}: price must be > 0 for a LIMIT order, got {self.price!r}")
            set_(self, "price", float(self.price))
        elif self.price is not None:
            raise DataError(f"OrderRequest {self.client_order_id}: price must be None for a MARKET order")
        set_(self, "reduce_only", bool(self.reduce_only))
        set_(self, "post_only", bool(self.post_only))
        if self.post_only and self.order_type != OrderType.LIMIT:
            raise DataError(f"OrderRequest {self.client_order_id}: post_only needs a LIMIT order")

    @classmethod
    def from_order(cls, order: Order) -> OrderRequest:
        """Return the request that places a ledger :class:`~botcore.model.Order` (size in contracts)."""
        return cls(
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            order_type=order.order_type,
            qty_contracts=order.qty_contracts,
            price=order.price,
            reduce_only=order.reduce_only,
        )


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """Where an order stands on the venue.

    Attributes
    ----------
    client_order_id, symbol, side, order_type :
        As requested.
    status : OrderStatus
        SUBMITTED / ACCEPTED (resting), PARTIALLY_FILLED, FILLED, CANCELED,
        REJECTED or EXPIRED. A cancelled order may carry fills.
    ts_ms : int
        Time of the venue's last change to the order.
    qty_contracts, qty_base : float
        Size actually ordered after rounding (0 when refused before rounding).
    filled_qty_contracts, filled_qty_base : float
        Filled so far.
    avg_fill_price : float or None
        Average fill price, None before the first fill.
    fee_usd : float
        Fees charged so far (a cost is positive).
    price : float or None
        Limit price after rounding to the tick; None for a market order.
    reduce_only : bool
        As requested.
    venue_order_id : str or None
        The venue's order id, once it has one.
    reason_code : VenueReason
        Why it was refused or ended early; ``NONE`` otherwise.
    reason : str
        Free text for people (the venue's message and code).
    fills : tuple of Fill
        The order's fills known to the venue at this moment, oldest first (the
        ledger refuses a repeated ``fill_id``, so they may be recorded again safely
        by catching :class:`botcore.errors.DuplicateFill`).
    """

    client_order_id: str
    symbol: str
    side: OrderSide
    order_type: OrderType
    status: OrderStatus
    ts_ms: int
    qty_contracts: float
    qty_base: float
    filled_qty_contracts: float = 0.0
    filled_qty_base: float = 0.0
    avg_fill_price: float | None = None
    fee_usd: float = 0.0
    price: float | None = None
    reduce_only: bool = False
    venue_order_id: str | None = None
    reason_code: VenueReason = VenueReason.NONE
    reason: str = ""
    fills: tuple[Fill, ...] = ()

    @property
    def is_open(self) -> bool:
        """Return True while the order rests on the venue."""
        return self.status.is_open

    @property
    def remaining_qty_contracts(self) -> float:
        """Return what is still unfilled, in contracts."""
        return max(self.qty_contracts - self.filled_qty_contracts, 0.0)


@dataclass(frozen=True, slots=True)
class VenuePosition:
    """An open position as the venue reports it.

    Attributes
    ----------
    symbol : str
        ccxt unified symbol.
    qty_contracts : float
        Signed: > 0 long, < 0 short.
    contract_size : float
        Base units per contract.
    avg_entry_price : float
        Average entry price, USD per base unit.
    mark_price : float or None
        The venue's mark price.
    unrealized_pnl_usd : float
        At the mark, USD.
    leverage : float or None
        Leverage the position runs at.
    margin_mode : str or None
        ``isolated`` or ``cross``.
    position_side : str
        ``net`` in one-way mode; ``long`` or ``short`` in long/short (hedge) mode.
    liquidation_price : float or None
        The venue's estimate.
    ts_ms : int
        Last update on the venue.
    """

    symbol: str
    qty_contracts: float
    contract_size: float
    avg_entry_price: float
    mark_price: float | None = None
    unrealized_pnl_usd: float = 0.0
    leverage: float | None = None
    margin_mode: str | None = None
    position_side: str = "net"
    liquidation_price: float | None = None
    ts_ms: int = 0

    @property
    def qty_base(self) -> float:
        """Return the signed quantity in base units."""
        return self.qty_contracts * self.contract_size


@dataclass(frozen=True, slots=True)
class VenueBalance:
    """The account's USDT balance.

    Attributes
    ----------
    cash_usd : float
        Wallet balance without unrealised P&L (what the ledger's cash must equal).
    equity_usd : float
        Cash plus unrealised P&L.
    available_usd : float
        Free for new margin.
    frozen_usd : float
        Held by positions and open orders.
    unrealized_pnl_usd : float
        ``equity_usd - cash_usd``.
    ts_ms : int
        The venue's timestamp of the figures.
    currency : str
        Always ``USDT`` here.
    """

    cash_usd: float
    equity_usd: float
    available_usd: float
    frozen_usd: float = 0.0
    unrealized_pnl_usd: float = 0.0
    ts_ms: int = 0
    currency: str = "USDT"


@dataclass(frozen=True, slots=True)
class LeverageSetting:
    """What :meth:`Venue.set_leverage` achieved: ``ok`` or the reason it could not."""

    symbol: str
    leverage: float
    margin_mode: str
    ok: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """The account's trading configuration against what the bot expects.

    ``position_mode_ok`` is False when the account runs in another position mode
    than configured; orders are then refused with ``POSITION_MODE_MISMATCH``
    until one of the two is changed (``reason`` says how).
    """

    position_mode: str
    expected_position_mode: str
    margin_mode: str | None = None
    position_mode_ok: bool = True
    reason: str = ""


# --------------------------------------------------------------------------- the port


@runtime_checkable
class Venue(Protocol):
    """The async port every venue implements (see the module docstring for outcomes).

    ``simulated`` says whether the venue fills orders from the market the loop hands it
    (:class:`SimulatedVenue`, the paper venue) or trades on a real exchange.
    """

    name: str
    simulated: bool

    async def load_markets(self) -> dict[str, MarketSpec]:
        """Load (or reload) the markets; check them against the configuration."""
        ...

    def market(self, symbol: str) -> MarketSpec:
        """Return the spec of ``symbol`` (DataError when unknown)."""
        ...

    async def submit(self, request: OrderRequest) -> OrderUpdate:
        """Place an order, idempotently by ``client_order_id``; a refusal is a REJECTED update."""
        ...

    async def cancel(self, client_order_id: str, *, symbol: str | None = None) -> OrderUpdate | None:
        """Cancel an order and return its final state (FILLED if it filled first); None if unknown."""
        ...

    async def fetch_order(self, client_order_id: str, *, symbol: str | None = None) -> OrderUpdate | None:
        """Return the order's state with its fills, or None when the venue never saw it."""
        ...

    async def open_orders(self) -> list[OrderUpdate]:
        """Return every order resting on the venue."""
        ...

    async def positions(self) -> list[VenuePosition]:
        """Return every open position."""
        ...

    async def balance(self) -> VenueBalance:
        """Return the USDT balance."""
        ...

    async def fills_since(self, ts_ms: int) -> list[Fill]:
        """Return the fills at or after ``ts_ms``, oldest first."""
        ...

    async def funding_since(self, ts_ms: int) -> list[FundingPayment]:
        """Return the funding settlements at or after ``ts_ms``, oldest first."""
        ...

    async def set_leverage(self, symbol: str, leverage: float, margin_mode: str) -> LeverageSetting:
        """Set the leverage (and margin mode) used for ``symbol``."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class SimulatedVenue(Venue, Protocol):
    """A venue that simulates fills: the loop hands it each cycle's market (``simulated`` is True)."""

    def update_market(self, symbol: str, bid_px: Any, bid_sz: Any, ask_px: Any, ask_sz: Any, bar_high: float,
                      bar_low: float, mark_price: float, ts_ms: int, *, bar_ts: int | None = None,
                      funding_rate: float = ..., next_funding_ts: int | None = None) -> list[Fill]:
        """Take one symbol's market for a cycle; return the fills it caused (resting orders, liquidations)."""
        ...


def rejected_update(
    request: OrderRequest,
    ts_ms: int,
    reason_code: VenueReason,
    reason: str,
    *,
    qty_contracts: float = 0.0,
    qty_base: float = 0.0,
    price: float | None = None,
) -> OrderUpdate:
    """Return the REJECTED update of a request refused before or by the venue."""
    return OrderUpdate(
        client_order_id=request.client_order_id,
        symbol=request.symbol,
        side=request.side,
        order_type=request.order_type,
        status=OrderStatus.REJECTED,
        ts_ms=ts_ms,
        qty_contracts=qty_contracts,
        qty_base=qty_base,
        price=price if price is not None else request.price,
        reduce_only=request.reduce_only,
        reason_code=reason_code,
        reason=reason,
    )


__all__ = [
    "AccountConfig",
    "CLIENT_ORDER_ID_MAX_LEN",
    "LeverageSetting",
    "MarginMode",
    "MarketSpec",
    "OrderRequest",
    "OrderUpdate",
    "PositionMode",
    "SimulatedVenue",
    "Venue",
    "VenueBalance",
    "VenuePosition",
    "VenueReason",
    "check_client_order_id",
    "make_client_order_id",
    "rejected_update",
]

