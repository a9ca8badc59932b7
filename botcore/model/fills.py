"""Fills and funding payments: the venue's reports that move a position and cash.

Both are frozen value objects validated on construction; a bad field raises
:class:`botcore.errors.DataError` naming it. Prices are USD (USDT) per base
unit, quantities are given both in contracts and in base units
(``qty_base = qty_contracts * contract_size``), money is USD, time is int
milliseconds UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from botcore.errors import DataError
from botcore.model import _checks
from botcore.model.enums import LiquiditySide, OrderSide


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of (part of) an order.

    Attributes
    ----------
    fill_id : str
        Venue trade id (or the paper venue's); unique across the ledger.
    client_order_id : str
        Our id of the order that traded.
    symbol : str
        ccxt unified symbol, e.g. ``BTC/USDT:USDT``.
    side : OrderSide
        BUY adds to the signed position, SELL subtracts.
    price : float
        Execution price, USD per base unit.
    qty_contracts : float
        Executed quantity in contracts (> 0).
    qty_base : float
        Executed quantity in base units (> 0), ``qty_contracts * contract_size``.
    fee_usd : float
        Fee charged, USD; negative for a rebate.
    liquidity : LiquiditySide
        MAKER or TAKER.
    ts_ms : int
        Execution time, milliseconds UTC.
    reduce_only : bool
        The order may only shrink the position; a fill that would grow or flip it is rejected.
    """

    fill_id: str
    client_order_id: str
    symbol: str
    side: OrderSide
    price: float
    qty_contracts: float
    qty_base: float
    fee_usd: float
    liquidity: LiquiditySide
    ts_ms: int
    reduce_only: bool = False

    def __post_init__(self) -> None:
        owner = "Fill"
        set_ = object.__setattr__
        set_(self, "fill_id", _checks.text(owner, "fill_id", self.fill_id))
        set_(self, "client_order_id", _checks.text(owner, "client_order_id", self.client_order_id))
        set_(self, "symbol", _checks.text(owner, "symbol", self.symbol))
        try:
            set_(self, "side", OrderSide(self.side))
            set_(self, "liquidity", LiquiditySide(self.liquidity))
        except ValueError as exc:
            raise DataError(f"Fill {self.fill_id}: {exc}") from None
        set_(self, "price", _checks.positive(owner, "price", self.price))
        set_(self, "qty_contracts", _checks.positive(owner, "qty_contracts", self.qty_contracts))
        set_(self, "qty_base", _checks.positive(owner, "qty_base", self.qty_base))
        set_(self, "fee_usd", _checks.finite(owner, "fee_usd", self.fee_usd))
        set_(self, "ts_ms", _checks.ts_ms(owner, "ts_ms", self.ts_ms))
        set_(self, "reduce_only", bool(self.reduce_only))

    @classmethod
    def from_contracts(
        cls,
        *,
        fill_id: str,
        client_order_id: str,
        symbol: str,
        side: OrderSide,
        price: float,
        qty_contracts: float,
        contract_size: float,
        fee_usd: float,
        liquidity: LiquiditySide,
        ts_ms: int,
        reduce_only: bool = False,
    ) -> Fill:
        """Build a fill from a quantity in contracts and the asset's ``contract_size``."""
        contract_size = _checks.positive("Fill", "contract_size", contract_size)
        return cls(
            fill_id=fill_id,
            client_order_id=client_order_id,
            symbol=symbol,
            side=side,
            price=price,
            qty_contracts=qty_contracts,
            qty_base=float(qty_contracts) * contract_size,
            fee_usd=fee_usd,
            liquidity=liquidity,
            ts_ms=ts_ms,
            reduce_only=reduce_only,
        )

    @property
    def signed_qty_contracts(self) -> float:
        """Return the quantity with the side's sign: + for BUY, - for SELL."""
        return int(self.side) * self.qty_contracts

    @property
    def notional_usd(self) -> float:
        """Return ``price * qty_base``."""
        return self.price * self.qty_base


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """A funding settlement on a perpetual position.

    Attributes
    ----------
    symbol : str
        ccxt unified symbol.
    amount_usd : float
        Cash moved, USD: positive = received, negative = paid.
    ts_ms : int
        Settlement time, milliseconds UTC.
    rate : float or None
        The funding rate of the interval, if the venue reported it.
    funding_id : str
        Unique id of the settlement; defaults to ``"{symbol}:{ts_ms}"``.
    """

    symbol: str
    amount_usd: float
    ts_ms: int
    rate: float | None = None
    funding_id: str = field(default="")

    def __post_init__(self) -> None:
        owner = "FundingPayment"
        set_ = object.__setattr__
        set_(self, "symbol", _checks.text(owner, "symbol", self.symbol))
        set_(self, "amount_usd", _checks.finite(owner, "amount_usd", self.amount_usd))
        set_(self, "ts_ms", _checks.ts_ms(owner, "ts_ms", self.ts_ms))
        if self.rate is not None:
            set_(self, "rate", _checks.finite(owner, "rate", self.rate))
        if not self.funding_id:
            set_(self, "funding_id", f"{self.symbol}:{self.ts_ms}")
