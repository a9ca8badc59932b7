"""Net positions changed only by applying fills, and the trades they close.

One :class:`Position` per symbol (the venue's net position mode). Its signed
quantity is in contracts (+ long, - short); P&L uses base units
(``contracts * contract_size``) and USD prices.

Accounting is average cost:

- an increasing fill moves ``avg_entry_price`` to the quantity-weighted mean;
- a reducing fill realises ``(price - avg_entry_price) * qty_base * sign``
  and leaves ``avg_entry_price`` unchanged;
- a fill that crosses zero is split: the part that closes the position (with
  its pro-rata share of the fee) ends the round trip, the rest opens a new
  one in the other direction at the fill price;
- fees and funding accumulate on the open round trip; funding is applied
  separately by :meth:`Position.apply_funding` (positive = received).

A round trip from flat back to flat (or to a flip) yields one
:class:`ClosedTrade`. A fill id seen twice raises
:class:`botcore.errors.DuplicateFill`; a reduce-only fill that would grow or
flip the position raises :class:`botcore.errors.DataError`. Every check runs
before any field changes, so a rejected fill leaves the position untouched.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import NamedTuple

from botcore.errors import DataError, DuplicateFill
from botcore.model import _checks
from botcore.model.enums import PositionSide, TradeCloseReason
from botcore.model.fills import Fill, FundingPayment

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """One round trip of a position, from opening to flat (or to a flip).

    Attributes
    ----------
    symbol : str
        ccxt unified symbol.
    side : PositionSide
        LONG or SHORT.
    strategy_id : str
        Strategy of the fill that opened the round trip.
    entry_ts_ms : int or None
        Time of the opening fill; None only for a position adopted from the venue.
    exit_ts_ms : int
        Time of the fill that closed it.
    entry_price : float
        Quantity-weighted mean price of the opening fills, USD per base unit.
    exit_price : float
        Quantity-weighted mean price of the reducing fills, USD per base unit.
    qty_contracts : float
        Total quantity opened over the round trip, contracts.
    qty_base : float
        The same in base units.
    gross_pnl_usd : float
        Realised P&L before fees and funding.
    fees_usd : float
        Fees of every fill of the round trip (pro rata for a split fill).
    funding_usd : float
        Funding received (+) or paid (-) while it was open.
    close_reason : TradeCloseReason
        Why it closed (from the closing order).
    closing_fill_id : str
        The fill that brought it to flat.
    """

    symbol: str
    side: PositionSide
    strategy_id: str
    entry_ts_ms: int | None
    exit_ts_ms: int
    entry_price: float
    exit_price: float
    qty_contracts: float
    qty_base: float
    gross_pnl_usd: float
    fees_usd: float
    funding_usd: float
    close_reason: TradeCloseReason
    closing_fill_id: str

    @property
    def net_pnl_usd(self) -> float:
        """Return ``gross_pnl_usd - fees_usd + funding_usd``."""
        return self.gross_pnl_usd - self.fees_usd + self.funding_usd

    @property
    def entry_notional_usd(self) -> float:
        """Return ``entry_price * qty_base``."""
        return self.entry_price * self.qty_base

    @property
    def net_return(self) -> float:
        """Return net P&L as a fraction of the entry notional."""
        return self.net_pnl_usd / self.entry_notional_usd

    @property
    def is_win(self) -> bool:
        """Return True when the trade made money after fees and funding."""
        return self.net_pnl_usd > 0


class FillEffect(NamedTuple):
    """What applying one fill did: the cash it moved and the trade it closed, if any."""

    realized_pnl_usd: float
    fee_usd: float
    closed_trade: ClosedTrade | None

    @property
    def cash_delta_usd(self) -> float:
        """Return the change of cash: realised P&L minus the fee."""
        return self.realized_pnl_usd - self.fee_usd


@dataclass(slots=True)
class Position:
    """A net position in one symbol, changed only by :meth:`apply_fill` and :meth:`apply_funding`.

    Build a flat one with ``Position(symbol, contract_size)``; build one found
    open on the venue with :meth:`adopted`. The round-trip fields (``opened_*``,
    ``exit_*``, ``realized_pnl_usd``, ``fees_usd``, ``funding_usd``) reset when the
    position returns to flat.

    Attributes
    ----------
    symbol : str
        ccxt unified symbol.
    contract_size : float
        Base units per contract.
    qty_contracts : float
        Signed quantity: > 0 long, < 0 short, 0 flat.
    avg_entry_price : float
        Average cost of the open quantity, USD per base unit (0 when flat).
    entry_ts_ms : int or None
        Time of the opening fill; None when flat or adopted from the venue.
    last_ts_ms : int or None
        Time of the last fill or funding payment applied.
    strategy_id : str
        Strategy of the opening fill.
    opened_qty_contracts : float
        Quantity opened over the round trip.
    entry_notional_usd : float
        Sum of ``price * qty_base`` over the opening fills.
    exit_qty_contracts : float
        Quantity closed so far in the round trip.
    exit_notional_usd : float
        Sum of ``price * qty_base`` over the reducing fills.
    realized_pnl_usd : float
        Realised P&L of the round trip so far, before fees and funding.
    fees_usd : float
        Fees of the round trip so far.
    funding_usd : float
        Funding of the round trip so far (+ received).
    adopted : bool
        The round trip started from a venue position, not from our fills.
    """

    symbol: str
    contract_size: float
    qty_contracts: float = 0.0
    avg_entry_price: float = 0.0
    entry_ts_ms: int | None = None
    last_ts_ms: int | None = None
    strategy_id: str = ""
    opened_qty_contracts: float = 0.0
    entry_notional_usd: float = 0.0
    exit_qty_contracts: float = 0.0
    exit_notional_usd: float = 0.0
    realized_pnl_usd: float = 0.0
    fees_usd: float = 0.0
    funding_usd: float = 0.0
    adopted: bool = False
    fill_ids: set[str] = field(default_factory=set, repr=False, compare=False)

    def __post_init__(self) -> None:
        _checks.text("Position", "symbol", self.symbol)
        self.contract_size = _checks.positive("Position", "contract_size", self.contract_size)

    @classmethod
    def adopted_from_venue(
        cls,
        symbol: str,
        contract_size: float,
        qty_contracts: float,
        avg_entry_price: float,
        ts_ms: int,
        *,
        strategy_id: str = "",
    ) -> Position:
        """Return a position found open on the venue with no fill of ours behind it.

        Its ``entry_ts_ms`` is None (the exit logic treats it as aged); it moves
        no cash until fills reduce it.
        """
        qty = _checks.finite("Position", "qty_contracts", qty_contracts)
        if qty == 0:
            raise DataError(f"adopted position {symbol}: qty_contracts must be non-zero")
        price = _checks.positive("Position", "avg_entry_price", avg_entry_price)
        position = cls(symbol, contract_size)
        position.qty_contracts = qty
        position.avg_entry_price = price
        position.last_ts_ms = _checks.ts_ms("Position", "ts_ms", ts_ms)
        position.strategy_id = strategy_id
        position.opened_qty_contracts = abs(qty)
        position.entry_notional_usd = price * abs(qty) * position.contract_size
        position.adopted = True
        logger.info("adopted %s position %s contracts @ %s", symbol, qty, price)
        return position

    # ------------------------------------------------------------------ views

    @property
    def side(self) -> PositionSide:
        """Return LONG, SHORT or FLAT."""
        if self.qty_contracts > 0:
            return PositionSide.LONG
        if self.qty_contracts < 0:
            return PositionSide.SHORT
        return PositionSide.FLAT

    @property
    def is_flat(self) -> bool:
        """Return True when no quantity is held."""
        return self.qty_contracts == 0

    @property
    def qty_base(self) -> float:
        """Return the signed quantity in base units."""
        return self.qty_contracts * self.contract_size

    def notional_usd(self, mark_price: float) -> float:
        """Return the absolute exposure at ``mark_price``, USD."""
        return abs(self.qty_base) * mark_price

    def unrealized_pnl_usd(self, mark_price: float) -> float:
        """Return the P&L of the open quantity at ``mark_price``, USD, before fees."""
        return (mark_price - self.avg_entry_price) * self.qty_base if self.qty_contracts else 0.0

    def holding_ms(self, now_ms: int) -> int | None:
        """Return how long the round trip has been open, or None when flat or adopted."""
        return None if self.entry_ts_ms is None else now_ms - self.entry_ts_ms

    # ------------------------------------------------------------------ events

    def apply_fill(
        self,
        fill: Fill,
        *,
        strategy_id: str = "",
        close_reason: TradeCloseReason = TradeCloseReason.UNSPECIFIED,
    ) -> FillEffect:
        """Apply one fill and return what it realised, charged and closed.

        Parameters
        ----------
        fill : Fill
            The execution; its symbol must be this position's.
        strategy_id : str
            Strategy of the order, kept when the fill opens a round trip.
        close_reason : TradeCloseReason
            Reason of the order, written on the trade it closes.

        Raises
        ------
        DuplicateFill
            When ``fill.fill_id`` was applied before.
        DataError
            When the fill is for another symbol, its base quantity disagrees with
            ``contract_size``, or a reduce-only fill would grow or flip the position.
        """
        self._check_fill(fill)
        held = abs(self.qty_contracts)
        sign = 1.0 if self.qty_contracts > 0 else -1.0
        reducing = held > 0 and fill.side != sign
        if not reducing:
            if fill.reduce_only:
                raise DataError(
                    f"reduce-only fill {fill.fill_id} would grow {self.symbol} "
                    f"({self.qty_contracts} contracts) by {fill.signed_qty_contracts}"
                )
            self._add(fill, fill.qty_contracts, fill.fee_usd, strategy_id)
            self.fill_ids.add(fill.fill_id)
            return FillEffect(0.0, fill.fee_usd, None)

        closes = _checks.qty_equal(fill.qty_contracts, held) or fill.qty_contracts > held
        close_qty = held if closes else fill.qty_contracts
        open_qty = fill.qty_contracts - held if closes and not _checks.qty_equal(fill.qty_contracts, held) else 0.0
        if open_qty > 0 and fill.reduce_only:
            raise DataError(
                f"reduce-only fill {fill.fill_id} of {fill.qty_contracts} contracts would flip "
                f"{self.symbol} ({self.qty_contracts} contracts)"
            )
        close_fee = fill.fee_usd * (close_qty / fill.qty_contracts)
        close_base = close_qty * self.contract_size
        realized = (fill.price - self.avg_entry_price) * close_base * sign
        self.realized_pnl_usd += realized
        self.fees_usd += close_fee
        self.exit_qty_contracts += close_qty
        self.exit_notional_usd += fill.price * close_base
        self.last_ts_ms = fill.ts_ms
        trade = None
        if closes:
            reason = close_reason
            if reason == TradeCloseReason.UNSPECIFIED and open_qty > 0:
                reason = TradeCloseReason.FLIP
            trade = self._close(fill, reason)
        else:
            self.qty_contracts -= sign * close_qty
        if open_qty > 0:
            self._add(fill, open_qty, fill.fee_usd - close_fee, strategy_id)
        self.fill_ids.add(fill.fill_id)
        return FillEffect(realized, fill.fee_usd, trade)

    def apply_funding(self, payment: FundingPayment) -> None:
        """Add a funding payment (positive = received) to the open round trip.

        Raises
        ------
        DataError
            When the payment is for another symbol or the position is flat.
        """
        if payment.symbol != self.symbol:
            raise DataError(f"funding {payment.funding_id} is for {payment.symbol}, not {self.symbol}")
        if self.is_flat:
            raise DataError(f"funding {payment.funding_id}: position {self.symbol} is flat")
        self.funding_usd += payment.amount_usd
        self.last_ts_ms = payment.ts_ms

    # ------------------------------------------------------------------ internals

    def _check_fill(self, fill: Fill) -> None:
        if fill.symbol != self.symbol:
            raise DataError(f"fill {fill.fill_id} is for {fill.symbol}, not {self.symbol}")
        if fill.fill_id in self.fill_ids:
            raise DuplicateFill(f"fill {fill.fill_id} was already applied to {self.symbol}")
        expected_base = fill.qty_contracts * self.contract_size
        if not math.isclose(fill.qty_base, expected_base, rel_tol=1e-9, abs_tol=1e-12):
            raise DataError(
                f"fill {fill.fill_id}: qty_base {fill.qty_base} != qty_contracts {fill.qty_contracts} "
                f"* contract_size {self.contract_size}"
            )

    def _add(self, fill: Fill, qty_contracts: float, fee_usd: float, strategy_id: str) -> None:
        """Open or grow the position in the fill's direction."""
        held = abs(self.qty_contracts)
        if held == 0:
            self.entry_ts_ms = fill.ts_ms
            self.strategy_id = strategy_id
            self.adopted = False
        total = held + qty_contracts
        self.avg_entry_price = (self.avg_entry_price * held + fill.price * qty_contracts) / total
        self.qty_contracts = int(fill.side) * total
        self.opened_qty_contracts += qty_contracts
        self.entry_notional_usd += fill.price * qty_contracts * self.contract_size
        self.fees_usd += fee_usd
        self.last_ts_ms = fill.ts_ms

    def _close(self, fill: Fill, reason: TradeCloseReason) -> ClosedTrade:
        """Build the trade of the round trip that ``fill`` ended and reset to flat."""
        opened_base = self.opened_qty_contracts * self.contract_size
        trade = ClosedTrade(
            symbol=self.symbol,
            side=self.side,
            strategy_id=self.strategy_id,
            entry_ts_ms=self.entry_ts_ms,
            exit_ts_ms=fill.ts_ms,
            entry_price=self.entry_notional_usd / opened_base,
            exit_price=self.exit_notional_usd / (self.exit_qty_contracts * self.contract_size),
            qty_contracts=self.opened_qty_contracts,
            qty_base=opened_base,
            gross_pnl_usd=self.realized_pnl_usd,
            fees_usd=self.fees_usd,
            funding_usd=self.funding_usd,
            close_reason=reason,
            closing_fill_id=fill.fill_id,
        )
        logger.debug(
            "closed %s %s: gross %.4f fees %.4f funding %.4f", trade.side.name, self.symbol,
            trade.gross_pnl_usd, trade.fees_usd, trade.funding_usd,
        )
        self.qty_contracts = 0.0
        self.avg_entry_price = 0.0
        self.entry_ts_ms = None
        self.strategy_id = ""
        self.opened_qty_contracts = 0.0
        self.entry_notional_usd = 0.0
        self.exit_qty_contracts = 0.0
        self.exit_notional_usd = 0.0
        self.realized_pnl_usd = 0.0
        self.fees_usd = 0.0
        self.funding_usd = 0.0
        self.adopted = False
        return trade
