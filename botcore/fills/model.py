"""Python face of the paper fill model: validate once, call the kernel, wrap the result.

The paper venue calls these per cycle; the backtest calls the kernels of
:mod:`botcore.fills.nb` directly from its compiled loop with the same
arguments (:meth:`FillParams.kernel_args` shows which). No arithmetic lives
here: every number comes from a kernel, so both clocks get the same bits.

Bad input raises :class:`botcore.errors.DataError` (market data) or
``ValueError`` (parameters) naming the field; expected outcomes are the status
codes of :data:`botcore.fills.enums.FillStatuses`.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple, Protocol

import numpy as np
from pydantic import Field

from botcore.config.models import Frozen
from botcore.errors import DataError
from botcore.fills import nb
from botcore.fills.enums import (
    EXHAUST_RULE_CODES,
    FILL_REASON_NAMES,
    FILL_STATUS_NAMES,
    FUNDING_ANCHOR_MS,
    FUNDING_INTERVAL_MS,
    MARGIN_MODE_CODES,
    SIDE_NAMES,
    FillResult,
    FillStatuses,
    RoundedQty,
)


class ContractSpec(Protocol):
    """What the fill model needs of a market; :class:`botcore.config.models.Asset` has it (read-only)."""

    @property
    def contract_size(self) -> float: ...

    @property
    def contract_step(self) -> float: ...

    @property
    def min_contracts(self) -> float: ...


class FillParams(Frozen):
    """Parameters of the paper fill model (immutable, unknown keys rejected)."""

    taker_fee: float = Field(0.0006, ge=0, lt=0.01, description="taker fee, fraction of notional")
    maker_fee: float = Field(0.0002, ge=0, lt=0.01, description="maker fee, fraction of notional")
    exhaust_rule: Literal["partial", "penalty"] = Field(
        "partial", description="market order larger than the book: fill what is there (PARTIAL) or the rest at a penalty"
    )
    exhaust_penalty_frac: float = Field(
        0.001, ge=0, lt=1, description="price penalty past the book's last level, fraction of that price"
    )
    queue_fill_fraction: float = Field(0.5, ge=0, le=1, description="share of limit touches that fill")
    leverage: float = Field(3.0, ge=1, description="leverage the liquidation price is computed at")
    margin_mode: Literal["isolated", "cross"] = "isolated"
    maintenance_margin_rate: float = Field(
        0.005, ge=0, lt=1, description="maintenance margin, fraction of the entry notional"
    )
    funding_interval_ms: int = Field(FUNDING_INTERVAL_MS, gt=0, description="funding period when the data gives none")
    funding_anchor_ts: int = Field(FUNDING_ANCHOR_MS, description="any funding time of the default grid, ms UTC")

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> FillParams:
        """Take fees from ``settings.fees`` and leverage and margin mode from ``settings.risk``."""
        values: dict[str, Any] = {
            "taker_fee": settings.fees.taker,
            "maker_fee": settings.fees.maker,
            "leverage": settings.risk.max_leverage,
            "margin_mode": settings.risk.margin_mode,
        }
        values.update(overrides)
        return cls(**values)

    @property
    def exhaust_rule_code(self) -> int:
        return EXHAUST_RULE_CODES[self.exhaust_rule]

    @property
    def margin_mode_code(self) -> int:
        return MARGIN_MODE_CODES[self.margin_mode]

    def kernel_args(self) -> dict[str, float | int]:
        """Return the scalar kernel arguments these parameters stand for (for a compiled loop)."""
        return {
            "taker_fee": float(self.taker_fee),
            "maker_fee": float(self.maker_fee),
            "exhaust_rule": self.exhaust_rule_code,
            "exhaust_penalty_frac": float(self.exhaust_penalty_frac),
            "queue_fill_fraction": float(self.queue_fill_fraction),
            "leverage": float(self.leverage),
            "margin_mode": self.margin_mode_code,
            "maintenance_margin_rate": float(self.maintenance_margin_rate),
            "funding_interval_ms": int(self.funding_interval_ms),
            "funding_anchor_ts": int(self.funding_anchor_ts),
        }


class Book(NamedTuple):
    """One order-book snapshot, best level first, sizes in base units, NaN = absent level."""

    bid_px: np.ndarray
    bid_sz: np.ndarray
    ask_px: np.ndarray
    ask_sz: np.ndarray


# --------------------------------------------------------------------------- validation


def _side(side: Any) -> int:
    if isinstance(side, str):
        key = side.strip().lower()
        if key in ("buy", "sell"):
            return 1 if key == "buy" else -1
    else:
        try:
            value = int(side)
        except (TypeError, ValueError):
            value = 0
        if value in (1, -1):
            return value
    raise ValueError(f"side must be +1/'buy' or -1/'sell', got {side!r}")


def _finite(name: str, value: Any, *, positive: bool = False, allow_nan: bool = False) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if np.isnan(x) and allow_nan:
        return x
    if not np.isfinite(x) or (positive and x <= 0):
        raise ValueError(f"{name} must be finite{' and > 0' if positive else ''}, got {value!r}")
    return x


def _spec(spec: ContractSpec) -> tuple[float, float, float]:
    return (
        _finite("contract_size", spec.contract_size, positive=True),
        _finite("contract_step", spec.contract_step, positive=True),
        _finite("min_contracts", spec.min_contracts),
    )


def _levels(name: str, values: Any) -> np.ndarray:
    try:
        arr = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"book {name}: not numeric") from None
    if arr.ndim != 1:
        raise DataError(f"book {name}: expected a 1-D array of levels, got shape {arr.shape}")
    if np.isinf(arr).any():
        raise DataError(f"book {name}: infinite value")
    if (arr[~np.isnan(arr)] < 0).any():
        raise DataError(f"book {name}: negative value")
    return arr


def validate_book(bid_px: Any, bid_sz: Any, ask_px: Any, ask_sz: Any) -> Book:
    """Convert the four level arrays to float64 and check them.

    Raises
    ------
    DataError
        Naming the field: not 1-D, mismatched lengths, negative or infinite
        values, present levels not best-first (bids strictly descending, asks
        strictly ascending), or a crossed book (best bid >= best ask).
    """
    book = Book(_levels("bid_px", bid_px), _levels("bid_sz", bid_sz), _levels("ask_px", ask_px), _levels("ask_sz", ask_sz))
    if book.bid_px.shape != book.bid_sz.shape:
        raise DataError(f"book bid_sz: {book.bid_sz.shape[0]} levels but bid_px has {book.bid_px.shape[0]}")
    if book.ask_px.shape != book.ask_sz.shape:
        raise DataError(f"book ask_sz: {book.ask_sz.shape[0]} levels but ask_px has {book.ask_px.shape[0]}")
    present_bids = book.bid_px[(book.bid_px > 0) & (book.bid_sz > 0)]
    present_asks = book.ask_px[(book.ask_px > 0) & (book.ask_sz > 0)]
    if (np.diff(present_bids) >= 0).any():
        raise DataError("book bid_px: present levels are not strictly descending (best first)")
    if (np.diff(present_asks) <= 0).any():
        raise DataError("book ask_px: present levels are not strictly ascending (best first)")
    if present_bids.size and present_asks.size and present_bids[0] >= present_asks[0]:
        raise DataError(f"book: crossed, best bid {present_bids[0]} >= best ask {present_asks[0]}")
    return book


# --------------------------------------------------------------------------- calls


def round_contracts(qty_base: float, spec: ContractSpec) -> RoundedQty:
    """Round ``qty_base`` down to whole contract steps; BELOW_MINIMUM under ``min_contracts``."""
    return nb.round_contracts_nb(_finite("qty_base", qty_base), *_spec(spec))


def fill_market_order(side: Any, qty_base: float, book: Book, spec: ContractSpec, params: FillParams) -> FillResult:
    """Fill a market order against ``book`` (see :func:`botcore.fills.nb.fill_market_order_nb`)."""
    book = validate_book(*book)
    return nb.fill_market_order_nb(
        _side(side), _finite("qty_base", qty_base), book.bid_px, book.bid_sz, book.ask_px, book.ask_sz,
        *_spec(spec), float(params.taker_fee), params.exhaust_rule_code, float(params.exhaust_penalty_frac),
    )


def fill_limit_order(
    side: Any,
    qty_base: float,
    limit_price: float,
    bar_high: float,
    bar_low: float,
    spec: ContractSpec,
    params: FillParams,
    *,
    queue_key: int,
    bar_ts: int,
) -> FillResult:
    """Check a resting limit order against one later bar (see :func:`botcore.fills.nb.fill_limit_order_nb`)."""
    return nb.fill_limit_order_nb(
        _side(side), _finite("qty_base", qty_base), _finite("limit_price", limit_price, positive=True),
        _finite("bar_high", bar_high, allow_nan=True), _finite("bar_low", bar_low, allow_nan=True),
        *_spec(spec), float(params.maker_fee), float(params.queue_fill_fraction), int(queue_key), int(bar_ts),
    )


def queue_key(col: int, submit_ts: int) -> int:
    """Derive the queue key of a limit order from its symbol column and submission time (ms)."""
    return int(nb.queue_key_nb(int(col), int(submit_ts)))


def funding_times(
    last_ts: int, now_ts: int, params: FillParams, *, next_funding_ts: int | None = None
) -> np.ndarray:
    """Return the funding times (int64 ms) in ``(last_ts, now_ts]``.

    The grid is anchored at ``next_funding_ts`` when the data gives one, else
    at ``params.funding_anchor_ts`` (00:00, 08:00, 16:00 UTC by default).
    """
    anchor = params.funding_anchor_ts if next_funding_ts is None else int(next_funding_ts)
    return nb.funding_times_nb(int(last_ts), int(now_ts), int(anchor), int(params.funding_interval_ms))


def funding_payment(position_qty_base: float, mark_price: float, funding_rate: float) -> float:
    """Return ``-position_qty_base * mark_price * funding_rate`` (> 0 received); NaN if an input is missing."""
    return float(nb.funding_payment_nb(
        _finite("position_qty_base", position_qty_base),
        _finite("mark_price", mark_price, allow_nan=True),
        _finite("funding_rate", funding_rate, allow_nan=True),
    ))


def liquidation_price(
    position_qty_base: float, entry_price: float, params: FillParams, *, free_equity_usd: float = 0.0
) -> float:
    """Return the liquidation price at ``params`` leverage, margin mode and maintenance rate."""
    return float(nb.liquidation_price_nb(
        _finite("position_qty_base", position_qty_base), _finite("entry_price", entry_price, positive=True),
        float(params.leverage), float(params.maintenance_margin_rate), params.margin_mode_code,
        _finite("free_equity_usd", free_equity_usd),
    ))


def liquidation_check(
    position_qty_base: float,
    liq_price: float,
    bar_low: float,
    bar_high: float,
    mark_price: float,
    spec: ContractSpec,
    params: FillParams,
) -> FillResult:
    """Return the liquidation fill of this bar (status FILLED), or NOT_FILLED / NO_DATA."""
    return nb.liquidation_check_nb(
        _finite("position_qty_base", position_qty_base), _finite("liq_price", liq_price, allow_nan=True),
        _finite("bar_low", bar_low, allow_nan=True), _finite("bar_high", bar_high, allow_nan=True),
        _finite("mark_price", mark_price, allow_nan=True), _spec(spec)[0], float(params.taker_fee),
    )


# --------------------------------------------------------------------------- wrapping


def describe(result: FillResult) -> dict[str, Any]:
    """Return the result as a dict with its codes also spelled out (for logs and the decision trail)."""
    out = result._asdict()
    out["status_name"] = FILL_STATUS_NAMES[result.status]
    out["reason_name"] = FILL_REASON_NAMES[result.reason]
    out["side_name"] = SIDE_NAMES.get(result.side, "NONE")
    return out


def has_quantity(result: FillResult) -> bool:
    """Return True when the result carries a fill (FILLED or PARTIAL)."""
    return result.status in (FillStatuses.filled, FillStatuses.partial) and result.qty_contracts > 0


def to_model_fill(
    result: FillResult, *, fill_id: str, client_order_id: str, symbol: str, ts_ms: int, reduce_only: bool = False
):
    """Wrap a filled result as a :class:`botcore.model.Fill` for the ledger and the position."""
    from botcore.model import Fill, LiquiditySide, OrderSide

    if not has_quantity(result):
        raise ValueError(f"fill {fill_id}: result has status {FILL_STATUS_NAMES[result.status]} and no quantity")
    return Fill(
        fill_id=fill_id,
        client_order_id=client_order_id,
        symbol=symbol,
        side=OrderSide(result.side),
        price=result.price,
        qty_contracts=result.qty_contracts,
        qty_base=result.qty_base,
        fee_usd=result.fee_usd,
        liquidity=LiquiditySide(result.liquidity),
        ts_ms=ts_ms,
        reduce_only=reduce_only,
    )
