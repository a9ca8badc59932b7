"""Ledgers for the review, pipeline and notebook tests, written through the Ledger API.

- :func:`hand_ledger`: three trades, a funding payment, equity snapshots and
  decision rows at known times, with the numbers a person can check by hand
  (returned as :class:`HandLedger`);
- :func:`demo_ledger`: the SYNTHETIC demo week of :mod:`botcore.analytics.demo`
  (realistic trades on 15 symbols, decisions with reason codes, funding,
  heartbeats, parameter versions, planted incidents).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from botcore.analytics.demo import DEMO_START_MS, write_demo_ledger
from botcore.ledger import Ledger
from botcore.model import FundingPayment, OrderSide, TradeCloseReason
from botcore.strategy.enums import Reason
from tests._ledger_helpers import trade

T0 = DEMO_START_MS  # 2024-01-01 00:00 UTC
HOUR = 3_600_000
DAY = 24 * HOUR
START_CASH = 10_000.0


class HandLedger(NamedTuple):
    path: Path
    end_ms: int
    net_pnl: tuple[float, ...]  # per trade, by exit time
    equity_before_last_week: float
    final_equity: float


def hand_ledger(path: Path) -> HandLedger:
    """Write the hand-checkable ledger described in the module docstring; return what it holds.

    Trades (fees as given, no slippage):

    A. BTC long 10 contracts x 0.001 @ 40,000 -> 41,000, day 0, fees 0.5 + 0.5: net +9.00
    B. ETH short 100 x 0.01 @ 2,000 -> 2,050, day 2, fees 1 + 1: net -52.00
    C. SOL long 10 x 1 @ 100 -> 103, day 9, fees 0.3 + 0.3, funding paid 0.2: net +29.20

    Equity snapshots (flat each time): T0 10,000; T0+12h 10,009; T0+2d12h 9,957;
    T0+9d12h 9,986.2; T0+10d 9,986.2 (the end).
    """
    with Ledger.open(path, starting_cash_usd=START_CASH, mode="paper") as ledger:
        ledger.record_equity(T0, {})
        trade(ledger, "a-open", OrderSide.BUY, 10, 40_000.0, T0 + 1 * HOUR, fee_usd=0.5, strategy_id="trend_conservative")
        trade(ledger, "a-close", OrderSide.SELL, 10, 41_000.0, T0 + 5 * HOUR, fee_usd=0.5, reduce_only=True,
              strategy_id="trend_conservative", close_reason=TradeCloseReason.TAKE_PROFIT)
        ledger.record_equity(T0 + 12 * HOUR, {})
        eth = {"symbol": "ETH/USDT:USDT", "contract_size": 0.01, "strategy_id": "breakout_aggressive"}
        trade(ledger, "b-open", OrderSide.SELL, 100, 2_000.0, T0 + 2 * DAY + HOUR, fee_usd=1.0, **eth)
        trade(ledger, "b-close", OrderSide.BUY, 100, 2_050.0, T0 + 2 * DAY + 3 * HOUR, fee_usd=1.0, reduce_only=True,
              close_reason=TradeCloseReason.STOP_LOSS, **eth)
        ledger.record_equity(T0 + 2 * DAY + 12 * HOUR, {})
        sol = {"symbol": "SOL/USDT:USDT", "contract_size": 1.0, "strategy_id": "sentiment_fusion"}
        trade(ledger, "c-open", OrderSide.BUY, 10, 100.0, T0 + 9 * DAY + HOUR, fee_usd=0.3, **sol)
        ledger.record_funding(FundingPayment("SOL/USDT:USDT", -0.2, T0 + 9 * DAY + 2 * HOUR))
        trade(ledger, "c-close", OrderSide.SELL, 10, 103.0, T0 + 9 * DAY + 4 * HOUR, fee_usd=0.3, reduce_only=True,
              close_reason=TradeCloseReason.SIGNAL, **sol)
        ledger.record_equity(T0 + 9 * DAY + 12 * HOUR, {})
        ledger.record_equity(T0 + 10 * DAY, {})
        ledger.record_decisions([
            {"ts_ms": T0 + 1 * HOUR, "symbol": "BTC/USDT:USDT", "strategy": "trend_conservative",
             "outcome": Reason.entered, "reason_code": Reason.entered, "reason_mask": 1 << Reason.entered,
             "detail": {"direction": 1, "win_prob": 0.6, "kelly_f": 0.2, "regime": 0}},
            {"ts_ms": T0 + 1 * HOUR, "symbol": "ETH/USDT:USDT", "strategy": "breakout_aggressive",
             "outcome": Reason.skipped, "reason_code": Reason.mtf_not_confirmed,
             "reason_mask": 1 << Reason.mtf_not_confirmed | 1 << Reason.roi_below_minimum},
            {"ts_ms": T0 + 2 * DAY + HOUR, "symbol": "ETH/USDT:USDT", "strategy": "breakout_aggressive",
             "outcome": Reason.entered, "reason_code": Reason.entered, "reason_mask": 1 << Reason.entered,
             "detail": {"direction": -1, "win_prob": 0.55, "kelly_f": 0.1, "regime": "random"}},
            {"ts_ms": T0 + 9 * DAY + HOUR, "symbol": "SOL/USDT:USDT", "strategy": "sentiment_fusion",
             "outcome": Reason.entered, "reason_code": Reason.entered, "reason_mask": 1 << Reason.entered,
             "detail": {"direction": 1, "win_prob": 0.5, "kelly_f": 0.05, "regime": 1}},
            {"ts_ms": T0 + 9 * DAY + HOUR, "symbol": "BTC/USDT:USDT", "strategy": "trend_conservative",
             "outcome": Reason.skipped, "reason_code": Reason.conviction_below_threshold,
             "reason_mask": 1 << Reason.conviction_below_threshold},
        ])
    return HandLedger(path, T0 + 10 * DAY, (9.0, -52.0, 29.2), 9_957.0, 9_986.2)


def demo_ledger(path: Path, days: float = 3.0, seed: int = 11) -> Path:
    """Write a SYNTHETIC demo ledger of ``days`` (see :func:`botcore.analytics.demo.write_demo_ledger`)."""
    return write_demo_ledger(path, days=days, seed=seed)
