"""SYNTHETIC trade histories with known truth, for the learning notebook's demo and the tests.

:func:`write_synthetic_history` books closed round trips into a ledger
through its public API (orders, fills: the ledger invariant holds) and logs
each one's signal context with :func:`~botcore.learning.outcomes.record_signal_outcomes`,
the way the engine does. The truth is planted:

- ``informative``: its score, signed by the trade's side, moves the trade's
  return (``edge x score x side``);
- ``noise``: a score drawn independently of everything;
- ``pattern``: an extra mean return in one condition (e.g. a strategy in a
  regime), for the pattern learner;
- ``losing_symbols``: symbols whose trades lose on average, for benching.

Nothing here is market data or trading results.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from botcore.clock import HOUR_MS
from botcore.config.models import REGIME_NAMES, SIGNAL_NAMES, STRATEGY_NAMES
from botcore.learning.outcomes import close_row, entry_row, record_signal_outcomes
from botcore.ledger import Ledger
from botcore.model.enums import LiquiditySide, OrderSide, OrderStatus, OrderType, TradeCloseReason
from botcore.model.fills import Fill
from botcore.model.orders import Order
from botcore.regime.enums import Regimes

__all__ = ["SyntheticHistory", "SyntheticSpec", "write_demo_learning_ledger", "write_synthetic_history"]

START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC
TAKER_FEE = 0.0006
DEFAULT_SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "LINK/USDT:USDT", "DOGE/USDT:USDT")


@dataclass(frozen=True)
class SyntheticSpec:
    """What to plant in a synthetic trade history."""

    n_trades: int = 200
    start_ms: int = START_MS
    trades_per_day: float = 12.0
    hold_minutes: int = 60
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    strategies: tuple[str, ...] = STRATEGY_NAMES
    informative: str | None = "trend"
    edge: float = 0.01                    # return per unit of informative alignment
    noise: str | None = "social_sentiment"
    live_signals: tuple[str, ...] | None = None  # extra signals logged as pure noise too (None: only the two)
    return_sd: float = 0.006              # idiosyncratic return noise per trade
    base_return: float = 0.0012           # mean gross return per trade (covers the taker fees)
    pattern: Mapping[str, str] | None = None  # condition {dim: value} with an extra mean return
    pattern_return: float = 0.006
    losing_symbols: tuple[str, ...] = ()
    losing_return: float = -0.008
    notional_usd: float = 1_000.0
    seed: int = 7
    log_outcomes: bool = True             # False: a ledger without signal context (fallbacks)
    regime_weights: tuple[float, ...] = (1 / 3, 1 / 3, 1 / 3)


@dataclass
class SyntheticHistory:
    """What was written: per trade, its planted inputs and outcome."""

    trades: list[dict[str, Any]] = field(default_factory=list)
    end_ms: int = 0


def _fill(order: Order, price: float, ts_ms: int) -> Fill:
    qty_base = order.qty_contracts * order.contract_size
    return Fill(fill_id=f"{order.client_order_id}-f", client_order_id=order.client_order_id, symbol=order.symbol,
                side=order.side, price=price, qty_contracts=order.qty_contracts, qty_base=qty_base,
                fee_usd=TAKER_FEE * price * qty_base, liquidity=LiquiditySide.TAKER, ts_ms=ts_ms,
                reduce_only=order.reduce_only)


def write_synthetic_history(ledger: Ledger, spec: SyntheticSpec = SyntheticSpec(), *,
                            first_index: int = 0) -> SyntheticHistory:
    """Book ``spec.n_trades`` SYNTHETIC round trips into ``ledger`` (one transaction); return what was planted.

    Trades follow each other in time (one open position at a time), every
    ``24 / trades_per_day`` hours from ``spec.start_ms``, each held
    ``hold_minutes``. ``first_index`` offsets ids and times, so successive
    calls extend one history (``start_ms`` of the next call = ``end_ms`` of the last).
    """
    rng = np.random.default_rng(spec.seed + first_index)
    spacing = int(24 * HOUR_MS / spec.trades_per_day)
    regime_codes = [getattr(Regimes, name) for name in REGIME_NAMES]
    history = SyntheticHistory()
    rows: list[dict[str, Any]] = []
    with ledger.transaction():
        for i in range(spec.n_trades):
            k = first_index + i
            t = spec.start_ms + i * spacing + int(rng.integers(0, 60)) * 1000
            symbol = spec.symbols[int(rng.integers(len(spec.symbols)))]
            strategy = spec.strategies[int(rng.integers(len(spec.strategies)))]
            side = 1 if rng.random() < 0.5 else -1
            regime = int(regime_codes[int(rng.choice(len(regime_codes), p=spec.regime_weights))])
            scores: dict[str, float | None] = {name: None for name in SIGNAL_NAMES}
            for name in spec.live_signals or ():
                scores[name] = float(np.round(rng.uniform(-1, 1), 6))
            if spec.noise:
                scores[spec.noise] = float(np.round(rng.uniform(-1, 1), 6))
            r = spec.base_return + spec.return_sd * float(rng.standard_normal())
            if spec.informative:
                s = float(np.round(rng.uniform(-1, 1), 6))
                scores[spec.informative] = s
                r += spec.edge * s * side
            hour = (t // HOUR_MS) % 24
            labels = {"regime": REGIME_NAMES[regime_codes.index(regime)], "strategy": strategy, "symbol": symbol,
                      "hour": hour}
            if spec.pattern and all(str(labels[d]) == str(v) for d, v in spec.pattern.items()):
                r += spec.pattern_return
            if symbol in spec.losing_symbols:
                r += spec.losing_return
            price = 100.0
            exit_price = price * (1.0 + side * r)
            qty = round(spec.notional_usd / price, 6)
            key = f"syn-{k}-in"
            entry = Order(key, symbol, OrderSide(side), OrderType.MARKET, qty, 1.0, t, strategy_id=strategy)
            ledger.record_order(entry)
            ledger.update_order_status(key, OrderStatus.SUBMITTED, t)
            ledger.record_fill(_fill(entry, price, t + 500))
            t_exit = t + spec.hold_minutes * 60_000
            exit_ = Order(f"syn-{k}-out", symbol, OrderSide(-side), OrderType.MARKET, qty, 1.0, t_exit,
                          reduce_only=True, strategy_id=strategy, close_reason=TradeCloseReason.TIME_EXIT)
            ledger.record_order(exit_)
            ledger.update_order_status(exit_.client_order_id, OrderStatus.SUBMITTED, t_exit)
            effect = ledger.record_fill(_fill(exit_, exit_price, t_exit + 500))
            net = effect.closed_trade.net_pnl_usd if effect.closed_trade is not None else math.nan
            if spec.log_outcomes:
                rows.append(entry_row(key, t, symbol, strategy, side, scores, regime=regime,
                                      conviction=float(rng.uniform(0.3, 0.8))))
                rows.append(close_row(key, t_exit + 500, net, net / (qty * price)))
            history.trades.append({"entry_key": key, "ts_ms": t, "symbol": symbol, "strategy": strategy, "side": side,
                                   "regime": regime, "scores": scores, "gross_return": r, "net_pnl_usd": net})
            history.end_ms = t_exit + 1000
        if rows:
            record_signal_outcomes(ledger, rows)
    return history


def symbols_of(history: SyntheticHistory) -> Sequence[str]:
    """Return the symbols a history traded."""
    return sorted({t["symbol"] for t in history.trades})


def write_demo_learning_ledger(path: str | Path, *, n_trades: int = 240, seed: int = 7) -> tuple[Path, int]:
    """Write a SYNTHETIC ledger for the learning notebook's demo; return ``(path, end of its history in ms)``.

    Planted: ``trend`` informative, ``social_sentiment`` noise, a
    trend-conservative edge in trending regimes, DOGE losing (to be benched).
    """
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists; the demo ledger is written to a new file")
    spec = SyntheticSpec(n_trades=n_trades, seed=seed, base_return=0.0025,
                         pattern={"regime": "trending", "strategy": "trend_conservative"},
                         losing_symbols=("DOGE/USDT:USDT",), live_signals=("order_flow_imbalance", "taker_ratio"))
    with Ledger.open(path, starting_cash_usd=10_000.0, mode="paper") as ledger:
        ledger.set_meta("demo", "SYNTHETIC learning demo ledger written by botcore.learning.synthetic")
        history = write_synthetic_history(ledger, spec)
    return path, history.end_ms
