"""Codes, result tuples and record dtypes of the paper fill model.

Everything here is usable inside Numba kernels: the code tuples are global
NamedTuple instances (Numba freezes them as constants) and :class:`FillResult`
is the NamedTuple every fill kernel in :mod:`botcore.fills.nb` returns.

Units: prices in USDT per base unit, quantities in base units (``*_base``) or
contracts (``*_contracts``; ``qty_base = qty_contracts * contract_size``),
money in USDT (``*_usd``), rates as fractions (0.0006 = 0.06 %), timestamps as
int64 milliseconds since the Unix epoch, UTC (ccxt's convention).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# --------------------------------------------------------------------------- codes


class FillStatus(NamedTuple):
    """Outcome of one fill attempt. Only FILLED and PARTIAL carry a quantity."""

    filled: int = 0          # the whole (rounded) quantity filled
    partial: int = 1         # book exhausted, the rest left unfilled (exhaust rule PARTIAL)
    no_liquidity: int = 2    # no usable level on the side the order consumes
    below_minimum: int = 3   # quantity rounds down below the venue minimum in contracts
    not_filled: int = 4      # limit not reached, queue not reached, or no liquidation
    no_data: int = 5         # the bar (high/low) needed to decide is missing (NaN)


FillStatuses = FillStatus()
FILL_STATUS_NAMES = {v: k.upper() for k, v in FillStatuses._asdict().items()}


class OrderSide(NamedTuple):
    """Order side as a sign: +1 buys (adds to a long), -1 sells (as :class:`botcore.model.enums.OrderSide`)."""

    buy: int = 1
    sell: int = -1


Sides = OrderSide()
SIDE_NAMES = {1: "BUY", -1: "SELL"}


class FillReason(NamedTuple):
    """Why a fill happened."""

    market: int = 0
    limit: int = 1
    liquidation: int = 2


FillReasons = FillReason()
FILL_REASON_NAMES = {v: k.upper() for k, v in FillReasons._asdict().items()}


class Liquidity(NamedTuple):
    """Which fee schedule applied; same values as :class:`botcore.model.enums.LiquiditySide`."""

    maker: int = 0
    taker: int = 1


Liquidities = Liquidity()


class ExhaustRule(NamedTuple):
    """What a market order does with the quantity the book cannot absorb."""

    partial: int = 0   # fill what the book holds, status PARTIAL (default)
    penalty: int = 1   # fill the rest at the last level's price worsened by a penalty fraction


ExhaustRules = ExhaustRule()
EXHAUST_RULE_CODES = {k: v for k, v in ExhaustRules._asdict().items()}


class MarginMode(NamedTuple):
    isolated: int = 0
    cross: int = 1


MarginModes = MarginMode()
MARGIN_MODE_CODES = {k: v for k, v in MarginModes._asdict().items()}

# --------------------------------------------------------------------------- constants

MS_PER_HOUR = 3_600_000
FUNDING_INTERVAL_MS = 8 * MS_PER_HOUR
"""BloFin's default funding interval: every 8 h."""
FUNDING_ANCHOR_MS = 0
"""A funding time on the default grid: the epoch, 00:00 UTC (so 00:00, 08:00, 16:00 UTC)."""
QTY_EPS_STEPS = 1e-9
"""Tolerance, in contract steps, that absorbs binary rounding (0.3 / 0.1 = 2.9999999999999996)."""

# --------------------------------------------------------------------------- results


class FillResult(NamedTuple):
    """One fill attempt, as every fill kernel returns it.

    Attributes
    ----------
    status : int
        A :data:`FillStatuses` code.
    reason : int
        A :data:`FillReasons` code.
    side : int
        +1 buy, -1 sell (for a liquidation: the side that closes the position).
    liquidity : int
        A :data:`Liquidities` code: taker for market and liquidation fills, maker for limits.
    requested_contracts : float
        The order quantity after rounding down to the contract step (0 when BELOW_MINIMUM).
    qty_contracts : float
        Filled contracts, a whole number of contract steps; 0 when nothing filled.
    qty_base : float
        Filled base units, ``qty_contracts * contract_size``.
    price : float
        Volume-weighted average fill price; NaN when nothing filled.
    notional_usd : float
        ``price * qty_base``; 0 when nothing filled.
    fee_usd : float
        ``notional_usd * fee_rate``, a cost (>= 0); 0 when nothing filled.
    fee_rate : float
        The fee rate applied (taker or maker).
    touch_price : float
        Reference price: the best level on the consumed side (market), the
        limit price (limit), the liquidation price (liquidation); NaN if none.
    slippage_frac : float
        ``side * (price - touch_price) / touch_price``: the cost of walking
        the book, >= 0 (0 for limit and liquidation fills); NaN when nothing filled.
    levels_used : int
        Book levels the market order consumed (0 for limit and liquidation fills).
    beyond_book_base : float
        Base units filled past the book at the penalty price (exhaust rule PENALTY).
    """

    status: int
    reason: int
    side: int
    liquidity: int
    requested_contracts: float
    qty_contracts: float
    qty_base: float
    price: float
    notional_usd: float
    fee_usd: float
    fee_rate: float
    touch_price: float
    slippage_frac: float
    levels_used: int
    beyond_book_base: float


class RoundedQty(NamedTuple):
    """A quantity rounded down to the contract step."""

    status: int            # FILLED (the quantity is tradable) or BELOW_MINIMUM
    qty_contracts: float   # whole contract steps, 0 when BELOW_MINIMUM
    qty_base: float        # qty_contracts * contract_size


# --------------------------------------------------------------------------- records

fill_dt = np.dtype(
    [
        ("id", np.int64),
        ("col", np.int64),           # symbol column
        ("ts", np.int64),            # ms since epoch, UTC
        ("status", np.int64),
        ("reason", np.int64),
        ("side", np.int64),
        ("liquidity", np.int64),
        ("requested_contracts", np.float64),
        ("qty_contracts", np.float64),
        ("qty_base", np.float64),
        ("price", np.float64),
        ("notional_usd", np.float64),
        ("fee_usd", np.float64),
        ("fee_rate", np.float64),
        ("touch_price", np.float64),
        ("slippage_frac", np.float64),
        ("levels_used", np.int64),
        ("beyond_book_base", np.float64),
    ],
    align=True,
)
"""Record layout of a fill (one :class:`FillResult` plus id, column and time)."""

funding_dt = np.dtype(
    [
        ("id", np.int64),
        ("col", np.int64),
        ("ts", np.int64),              # the funding time, ms since epoch, UTC
        ("position_qty_base", np.float64),   # signed: > 0 long, < 0 short
        ("mark_price", np.float64),
        ("funding_rate", np.float64),
        ("notional_usd", np.float64),  # |position_qty_base| * mark_price
        ("payment_usd", np.float64),   # > 0 received, < 0 paid
    ],
    align=True,
)
"""Record layout of one funding event charged or paid on a position."""
