"""What the engine writes to the ledger, built the same way by every clock.

The live loop and the backtest both record an order with :func:`order_for`
before it goes to the venue, both book the venue's answer with
:func:`botcore.venues.apply_order_update`, and both turn the kernel's trail
into ``decisions`` rows with :func:`trail_rows`; so their ledgers agree row
for row. :class:`RecordWriter` books a backtest's compiled-loop records
(orders with their fills, funding, equity, trail) through those same calls,
rebuilding each order's venue answer exactly as
:class:`botcore.venues.PaperVenue` would have sent it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd

from botcore.config.models import STRATEGY_NAMES
from botcore.engine.enums import KIND_EXIT, KIND_LIQUIDATION, close_reason_of
from botcore.ledger import Ledger
from botcore.model import Fill, FundingPayment, LiquiditySide, Order, OrderSide, OrderStatus, OrderType
from botcore.venues.base import OrderUpdate, VenueReason, make_client_order_id
from botcore.venues.reconcile import apply_order_update

CID_PREFIX = "bc"
LIQUIDATION_PREFIX = "bcliq"


def order_cid(t_ms: int, col: int, kind: int) -> str:
    """Return the client order id of the engine's order for column ``col`` at cycle ``t_ms``.

    One intent per symbol per cycle, so (time, column, kind) is unique; the
    same inputs give the same id in every clock and after a restart.
    """
    if kind == KIND_LIQUIDATION:
        return liquidation_cid(t_ms, col)
    return make_client_order_id(CID_PREFIX, int(t_ms), int(col), "x" if kind == KIND_EXIT else "e")


def liquidation_cid(t_ms: int, col: int) -> str:
    """Return the client order id the paper venue gives the liquidation of column ``col`` at ``t_ms``."""
    return make_client_order_id(LIQUIDATION_PREFIX, int(t_ms), int(col))


@contextmanager
def routine_booking() -> Iterator[None]:
    """Book the venue's answers to the engine's own orders without reconciliation warnings.

    :func:`botcore.venues.apply_order_update` logs every change it makes as a
    reconciliation warning; for orders the engine just placed those changes
    are the normal path (the ledger still logs each order and fill at INFO).
    """
    log = logging.getLogger("botcore.venues.reconcile")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def strategy_name(strategy_id: int) -> str:
    return STRATEGY_NAMES[strategy_id] if 0 <= strategy_id < len(STRATEGY_NAMES) else ""


def order_for(cid: str, symbol: str, side: int, qty_contracts: float, contract_size: float, t_ms: int,
              strategy_id: int, reduce_only: bool, kind: int, exit_reason: int) -> Order:
    """Return the ledger :class:`Order` (NEW, market) the engine records before submitting."""
    return Order(
        client_order_id=cid, symbol=symbol, side=OrderSide(int(side)), order_type=OrderType.MARKET,
        qty_contracts=float(qty_contracts), contract_size=float(contract_size), created_ts_ms=int(t_ms),
        reduce_only=bool(reduce_only), strategy_id=strategy_name(int(strategy_id)),
        close_reason=close_reason_of(int(kind), int(exit_reason)),
    )


def fmt_num(x: float) -> str:
    """JSON number of ``x`` (null when not finite)."""
    return repr(x) if math.isfinite(x) else "null"


def _json_numbers(values: np.ndarray) -> list[str]:
    """:func:`fmt_num` of every value, in bulk (``repr`` of the finite ones, null for the rest)."""
    text = list(map(repr, values.tolist()))
    for k in np.flatnonzero(~np.isfinite(values)).tolist():
        text[k] = "null"
    return text


def trail_rows(trail: np.ndarray, symbols: Sequence[str]) -> pd.DataFrame:
    """Turn trail records (``trail_rec_dt``) into rows of the ledger's ``decisions`` table.

    ``detail`` is the JSON of :func:`botcore.strategy.decision_rows` plus
    ``regime`` (the symbol's regime code) and ``bars`` (consecutive bars of the
    symbol the row stands for; 1 in a full trail).
    """
    sym = np.asarray(symbols, dtype=object)
    names = np.asarray([strategy_name(i) for i in range(-1, len(STRATEGY_NAMES))], dtype=object)
    details = [
        f'{{"bars": {bars}, "conviction": {conv}, "direction": {direction}, '
        f'"expected_roi": {roi}, "kelly_f": {kf}, "regime": {regime}, '
        f'"size_usd": {size}, "win_prob": {wp}}}'
        for bars, conv, direction, roi, kf, regime, size, wp in zip(
            trail["bars"].tolist(), _json_numbers(trail["conviction"]), trail["direction"].tolist(),
            _json_numbers(trail["expected_roi"]), _json_numbers(trail["kelly_f"]), trail["regime"].tolist(),
            _json_numbers(trail["size_usd"]), _json_numbers(trail["win_prob"]))
    ]
    strategy = np.clip(trail["strategy_id"], -1, len(STRATEGY_NAMES) - 1) + 1
    return pd.DataFrame({
        "ts_ms": trail["ts"].astype(np.int64), "symbol": sym[trail["symbol_idx"]], "strategy": names[strategy],
        "outcome": trail["outcome"].astype(np.int64), "reason_code": trail["reason"].astype(np.int64),
        "reason_mask": trail["gate_mask"].astype(np.int64), "detail": details,
    })


def venue_reason_text(code: int, side: int, ordered: float, filled: float) -> str:
    """The paper venue's text for a refusal or early end (what it can say without more context)."""
    if code == VenueReason.BOOK_EXHAUSTED:
        return f"book held {filled:g} of {ordered:g} contracts; the rest was cancelled"
    if code == VenueReason.NO_LIQUIDITY:
        return f"no usable {'ask' if side > 0 else 'bid'} level in the book"
    if code == VenueReason.BELOW_MINIMUM:
        return "rounds below the minimum order size"
    if code == VenueReason.REDUCE_ONLY_NO_POSITION:
        return "reduce-only order with no position to reduce"
    if code == VenueReason.INSUFFICIENT_MARGIN:
        return "not enough free margin"
    return ""


class RecordWriter:
    """Book a backtest's compiled-loop records into a ledger, as the live loop books its venue's reports.

    Parameters
    ----------
    ledger : Ledger
        An open writer.
    symbols : sequence of str
        Symbol of each column.
    contract_size : array
        Contract size of each column.
    """

    def __init__(self, ledger: Ledger, symbols: Sequence[str], contract_size: np.ndarray) -> None:
        self.ledger = ledger
        self.symbols = list(symbols)
        self.contract_size = np.asarray(contract_size, dtype=np.float64)
        self.n_orders = 0
        self.n_fills = 0
        self.n_funding = 0
        self.n_trail = 0
        self.n_equity = 0

    def write(self, orders: np.ndarray, fills: np.ndarray, funding: np.ndarray, equity: np.ndarray,
              trail: np.ndarray) -> None:
        """Book one batch of records in one transaction: orders and funding in event order, then equity and trail."""
        fill_by_seq = {int(f["id"]): f for f in fills}
        events = [(int(o["seq"]), 0, k) for k, o in enumerate(orders)]
        events += [(int(f["id"]), 1, k) for k, f in enumerate(funding)]
        events.sort()
        led = self.ledger
        with led.transaction(), routine_booking():
            for _seq, what, k in events:
                if what == 1:
                    f = funding[k]
                    col = int(f["col"])
                    led.record_funding(FundingPayment(symbol=self.symbols[col], amount_usd=float(f["payment_usd"]),
                                                      ts_ms=int(f["ts"]), rate=float(f["funding_rate"])))
                    self.n_funding += 1
                    continue
                o = orders[k]
                self._order(o, fill_by_seq.get(int(o["seq"])))
            if len(equity):
                led.record_equity_rows(equity.tolist())
                self.n_equity += len(equity)
            if len(trail):
                led.record_decisions(trail_rows(trail, self.symbols))
                self.n_trail += len(trail)

    def _order(self, o: np.void, fill_rec: np.void | None) -> None:
        col, kind, t = int(o["col"]), int(o["kind"]), int(o["ts"])
        symbol = self.symbols[col]
        cid = order_cid(t, col, kind)
        side = int(o["side"])
        order = order_for(cid, symbol, side, float(o["qty_contracts"]), float(self.contract_size[col]), t,
                          int(o["strategy_id"]), bool(o["reduce_only"]), kind, int(o["exit_reason"]))
        self.ledger.record_order(order)
        self.n_orders += 1
        fills: tuple[Fill, ...] = ()
        if fill_rec is not None:
            fills = (Fill(
                fill_id=f"{cid}:0", client_order_id=cid, symbol=symbol, side=OrderSide(int(fill_rec["side"])),
                price=float(fill_rec["price"]), qty_contracts=float(fill_rec["qty_contracts"]),
                qty_base=float(fill_rec["qty_base"]), fee_usd=float(fill_rec["fee_usd"]),
                liquidity=LiquiditySide(int(fill_rec["liquidity"])), ts_ms=int(fill_rec["ts"]),
                reduce_only=bool(o["reduce_only"]),
            ),)
            self.n_fills += 1
        status = OrderStatus(int(o["status"]))
        code = VenueReason(int(o["venue_reason"]))
        filled = float(o["filled_contracts"])
        update = OrderUpdate(
            client_order_id=cid, symbol=symbol, side=OrderSide(side), order_type=OrderType.MARKET, status=status,
            ts_ms=int(o["updated_ts"]), qty_contracts=float(o["ordered_contracts"]),
            qty_base=float(o["ordered_base"]), filled_qty_contracts=filled,
            filled_qty_base=float(o["filled_base"]),
            avg_fill_price=(fills[0].price * fills[0].qty_contracts / filled) if fills else None,
            fee_usd=float(o["fee_usd"]), price=None, reduce_only=bool(o["reduce_only"]),
            venue_order_id=f"paper-{cid}" if (fills or code in (VenueReason.NO_LIQUIDITY,)) else None,
            reason_code=code, reason=venue_reason_text(code, side, float(o["ordered_contracts"]), filled),
            fills=fills,
        )
        apply_order_update(self.ledger, update)


__all__ = ["CID_PREFIX", "LIQUIDATION_PREFIX", "RecordWriter", "liquidation_cid", "order_cid", "order_for",
           "routine_booking", "strategy_name", "trail_rows", "venue_reason_text"]

