"""Helpers for the model and ledger tests: build orders and fills in one call.

Also runnable as a script (``python tests/_ledger_helpers.py MODE DB``) to be
the writer process of the crash and concurrency tests:

- ``commit-then-hang N``: commit N cycles, then open a transaction, write more
  cycles, print ``IN_TXN`` and sleep (to be killed with SIGKILL);
- ``loop``: write cycles forever (to be killed at a random moment);
- ``hold N``: commit N cycles, open a transaction, write one more cycle, print
  ``IN_TXN``, wait for a line on stdin, commit, print ``COMMITTED``, exit.

A cycle is one transaction: an order, its fill, a funding payment while a
position is open, DECISIONS_PER_CYCLE decision rows and an equity snapshot.
"""

from __future__ import annotations

import sys
import time

from botcore.ledger import Ledger
from botcore.model import (
    Fill,
    FillEffect,
    FundingPayment,
    LiquiditySide,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    TradeCloseReason,
)

SYMBOL = "BTC/USDT:USDT"
CONTRACT_SIZE = 0.001
STARTING_CASH_USD = 10_000.0
DECISIONS_PER_CYCLE = 5


def make_order(
    client_order_id: str,
    side: OrderSide,
    qty_contracts: float,
    ts_ms: int,
    *,
    symbol: str = SYMBOL,
    contract_size: float = CONTRACT_SIZE,
    strategy_id: str = "trend_conservative",
    close_reason: TradeCloseReason = TradeCloseReason.UNSPECIFIED,
    reduce_only: bool = False,
) -> Order:
    """Return a NEW market order."""
    return Order(
        client_order_id, symbol, side, OrderType.MARKET, qty_contracts, contract_size, ts_ms,
        strategy_id=strategy_id, close_reason=close_reason, reduce_only=reduce_only,
    )


def make_fill(
    order: Order,
    qty_contracts: float,
    price: float,
    ts_ms: int,
    *,
    fill_id: str | None = None,
    fee_usd: float | None = None,
) -> Fill:
    """Return a taker fill of ``order`` (fee 0.06% of notional unless given)."""
    qty_base = qty_contracts * order.contract_size
    return Fill(
        fill_id=fill_id or f"{order.client_order_id}-f",
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=order.side,
        price=price,
        qty_contracts=qty_contracts,
        qty_base=qty_base,
        fee_usd=0.0006 * price * qty_base if fee_usd is None else fee_usd,
        liquidity=LiquiditySide.TAKER,
        ts_ms=ts_ms,
        reduce_only=order.reduce_only,
    )


def trade(
    ledger: Ledger,
    client_order_id: str,
    side: OrderSide,
    qty_contracts: float,
    price: float,
    ts_ms: int,
    **order_kwargs,
) -> FillEffect:
    """Record, submit and completely fill one market order; return the fill's effect."""
    fee_usd = order_kwargs.pop("fee_usd", None)
    order = make_order(client_order_id, side, qty_contracts, ts_ms, **order_kwargs)
    with ledger.transaction():
        ledger.record_order(order)
        ledger.update_order_status(client_order_id, OrderStatus.SUBMITTED, ts_ms)
        return ledger.record_fill(make_fill(order, qty_contracts, price, ts_ms + 1, fee_usd=fee_usd))


def write_cycle(ledger: Ledger, i: int, *, prefix: str = "c") -> None:
    """Write cycle ``i`` as one transaction (see the module docstring)."""
    ts_ms = 1_700_000_000_000 + i * 60_000
    side = OrderSide.BUY if i % 3 != 2 else OrderSide.SELL
    price = 60_000.0 + 50.0 * ((i * 7) % 11) - 250.0
    with ledger.transaction():
        trade(ledger, f"{prefix}{i}", side, 1 + i % 4, price, ts_ms)
        position = ledger.position(SYMBOL)
        if position is not None and not position.is_flat:
            ledger.record_funding(FundingPayment(SYMBOL, -0.01 * (1 + i % 3), ts_ms + 2))
        ledger.record_decisions(
            [
                {"ts_ms": ts_ms, "symbol": SYMBOL, "strategy": f"s{k}", "outcome": k % 2, "reason_code": k,
                 "detail": {"cycle": i}}
                for k in range(DECISIONS_PER_CYCLE)
            ]
        )
        ledger.record_equity(ts_ms + 3, {SYMBOL: price})


def _main(argv: list[str]) -> None:
    mode, db = argv[0], argv[1]
    ledger = Ledger.open(db, starting_cash_usd=STARTING_CASH_USD)
    if mode == "commit-then-hang":
        n = int(argv[2])
        for i in range(n):
            write_cycle(ledger, i)
        with ledger.transaction():
            for i in range(n, n + 10):
                write_cycle(ledger, i, prefix="uncommitted-")
            print("IN_TXN", flush=True)
            time.sleep(120)
    elif mode == "loop":
        i = 0
        while True:
            write_cycle(ledger, i)
            i += 1
    elif mode == "hold":
        n = int(argv[2])
        for i in range(n):
            write_cycle(ledger, i)
        with ledger.transaction():
            write_cycle(ledger, n)
            print("IN_TXN", flush=True)
            sys.stdin.readline()
        print("COMMITTED", flush=True)
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    _main(sys.argv[1:])
