"""A SYNTHETIC demo ledger: realistic trades, decisions, equity, funding, heartbeats and parameters.

Written through the :class:`~botcore.ledger.Ledger` API only (orders, fills,
funding, equity snapshots, decision rows, heartbeats, parameter versions), so
it obeys the ledger invariant like a real one. The pipeline and research
notebooks use it when no ledger path is given, and the tests build their
review ledgers with it. Nothing here trades or decides: it is a random but
plausible week of a paper bot, with planted incidents for the red flags:

- a 5-minute silence of the ``engine`` heartbeat half-way (missed heartbeats);
- a daily-loss circuit breaker holding entries back for two hours at 35% of the window;
- one cycle where every symbol had a data outage at 20% of the window;
- a learning-cycle parameter version (kind ``learning``) activated mid-window, a
  symbol benched two thirds in (kind ``benched_symbols``), and a proposed
  (inactive) sizing version near the end.

Decision ``detail`` rows carry ``regime`` and ``signals`` so the regime and
signal breakdowns of the review have something to show.
"""

from __future__ import annotations

import logging
import math
import os
import sqlite3
from pathlib import Path
from typing import NamedTuple

import numpy as np

from botcore.clock import DAY_MS, HOUR_MS, MINUTE_MS
from botcore.config.models import SIGNAL_NAMES, STRATEGY_NAMES
from botcore.ledger import LATEST_VERSION, Ledger
from botcore.model.enums import LiquiditySide, OrderSide, OrderStatus, OrderType, TradeCloseReason
from botcore.model.fills import Fill, FundingPayment
from botcore.model.orders import Order
from botcore.regime.enums import Regimes
from botcore.strategy.enums import Reason

logger = logging.getLogger(__name__)

__all__ = ["DEMO_START_MS", "DemoAsset", "DEFAULT_ASSETS", "write_demo_ledger"]

#: 2024-01-01 00:00 UTC, the start of the bundled sample market.
DEMO_START_MS = 1_704_067_200_000
TAKER_FEE = 0.0006


class DemoAsset(NamedTuple):
    symbol: str
    sector: str
    contract_size: float
    price: float


DEFAULT_ASSETS = (
    DemoAsset("BTC/USDT:USDT", "mega", 0.001, 42_000.0),
    DemoAsset("ETH/USDT:USDT", "mega", 0.01, 2_300.0),
    DemoAsset("SOL/USDT:USDT", "l1", 1.0, 100.0),
    DemoAsset("AVAX/USDT:USDT", "l1", 1.0, 35.0),
    DemoAsset("ADA/USDT:USDT", "l1", 100.0, 0.6),
    DemoAsset("ARB/USDT:USDT", "l2", 10.0, 1.8),
    DemoAsset("OP/USDT:USDT", "l2", 1.0, 3.5),
    DemoAsset("LINK/USDT:USDT", "defi", 1.0, 15.0),
    DemoAsset("UNI/USDT:USDT", "defi", 1.0, 6.5),
    DemoAsset("AAVE/USDT:USDT", "defi", 0.1, 100.0),
    DemoAsset("DOGE/USDT:USDT", "meme", 1000.0, 0.09),
    DemoAsset("PEPE/USDT:USDT", "meme", 1_000_000.0, 0.0000015),
    DemoAsset("BNB/USDT:USDT", "exchange", 0.01, 310.0),
    DemoAsset("XRP/USDT:USDT", "payment", 10.0, 0.6),
    DemoAsset("LTC/USDT:USDT", "payment", 0.1, 70.0),
)

#: Per-strategy edge planted in the price path while a trade is open (drift per day, in the trade's favour).
STRATEGY_EDGE = {"sentiment_fusion": 0.01, "trend_conservative": 0.04, "breakout_aggressive": -0.02}
#: What the kernel would have predicted (mean win probability) per strategy.
STRATEGY_WIN_PROB = {"sentiment_fusion": 0.52, "trend_conservative": 0.56, "breakout_aggressive": 0.54}
#: Gates that hold a flat symbol back, with how often each decides.
SKIP_GATES = (
    (Reason.conviction_below_threshold, 0.38), (Reason.no_signal, 0.16), (Reason.mtf_not_confirmed, 0.12),
    (Reason.roi_below_minimum, 0.10), (Reason.regime_blocks_strategy, 0.09), (Reason.kelly_no_edge, 0.05),
    (Reason.sector_limit, 0.04), (Reason.win_rate_below_threshold, 0.03), (Reason.streak_paused, 0.02),
    (Reason.min_live_signals, 0.01),
)
REGIME_CODES = (Regimes.trending, Regimes.mean_reverting, Regimes.random)


class _Open(NamedTuple):
    strategy: str
    side: int
    qty_contracts: float
    entry_price: float
    entry_ts_ms: int
    max_hold_ms: int
    edge_per_cycle: float


def _fill(order: Order, price: float, ts_ms: int) -> Fill:
    qty_base = order.qty_contracts * order.contract_size
    return Fill(
        fill_id=f"{order.client_order_id}-f1", client_order_id=order.client_order_id, symbol=order.symbol,
        side=order.side, price=price, qty_contracts=order.qty_contracts, qty_base=qty_base,
        fee_usd=TAKER_FEE * price * qty_base, liquidity=LiquiditySide.TAKER, ts_ms=ts_ms,
        reduce_only=order.reduce_only,
    )


def _execute(ledger: Ledger, order: Order, price: float, ts_ms: int) -> None:
    ledger.record_order(order)
    ledger.update_order_status(order.client_order_id, OrderStatus.SUBMITTED, ts_ms, venue_order_id=f"v-{order.client_order_id}")
    ledger.record_fill(_fill(order, price, ts_ms + 400))


def write_demo_ledger(
    path: str | os.PathLike,
    *,
    days: float = 7.0,
    seed: int = 7,
    start_ms: int = DEMO_START_MS,
    cycle_minutes: int = 5,
    starting_cash_usd: float = 10_000.0,
    assets: tuple[DemoAsset, ...] = DEFAULT_ASSETS,
    entries_per_day: float = 14.0,
    heartbeat_seconds: int = 20,
    incidents: bool = True,
) -> Path:
    """Write a SYNTHETIC ledger of ``days`` of paper trading to ``path`` (which must not exist).

    Parameters
    ----------
    days : float
        Length of the simulated window.
    seed : int
        Seed of the only random generator: same seed, same ledger.
    start_ms : int
        Time of the first cycle (ms UTC).
    cycle_minutes : int
        Decision cadence; one decision row per symbol per cycle, one equity snapshot per cycle.
    entries_per_day : float
        Mean entries a day over all symbols.
    heartbeat_seconds : int
        Cadence of the ``engine`` heartbeat.
    incidents : bool
        Plant the incidents listed in the module docstring.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists; the demo ledger is written to a new file")
    rng = np.random.default_rng(seed)
    cycle_ms = cycle_minutes * MINUTE_MS
    n_cycles = int(days * DAY_MS // cycle_ms) + 1
    n = len(assets)
    cycles_per_day = DAY_MS / cycle_ms
    sigma = 0.035 / math.sqrt(cycles_per_day)
    p_entry = entries_per_day / (cycles_per_day * n)
    prices = np.array([a.price for a in assets], dtype=np.float64)
    regimes = rng.choice(REGIME_CODES, size=n)
    open_: dict[int, _Open] = {}
    # incidents at fixed fractions of the window, so a short demo has them all
    breaker_from = start_ms + int(0.35 * days * DAY_MS) // cycle_ms * cycle_ms
    breaker_to = breaker_from + 2 * HOUR_MS
    outage_at = start_ms + int(0.2 * days * DAY_MS) // cycle_ms * cycle_ms
    silence_from = start_ms + int(0.5 * days * DAY_MS) + 7 * MINUTE_MS
    silence_to = silence_from + 5 * MINUTE_MS
    gate_p = np.array([w for _, w in SKIP_GATES]) / sum(w for _, w in SKIP_GATES)
    order_ids = iter(range(1, 10**9))

    def _next_id() -> str:
        return f"demo-{next(order_ids)}"

    with Ledger.open(path, starting_cash_usd=starting_cash_usd, mode="paper", synchronous="OFF") as ledger:
        ledger.set_meta("demo", "SYNTHETIC demo ledger written by botcore.analytics.demo")
        weights = {name: 1.0 for name in SIGNAL_NAMES}
        ledger.put_params("learning", _learning_body(weights, ["prior: weights of config/signals.yaml"]),
                          reason="prior weights from config/signals.yaml", activate=True, ts_ms=start_ms - DAY_MS)
        ledger.put_params("sizing", {"kelly_fraction": 0.3, "min_usd": 200, "max_usd": 2000},
                          reason="config/sizing.yaml", activate=True, ts_ms=start_ms - DAY_MS)

        def step(i: int) -> None:
            t = start_ms + i * cycle_ms
            # ---- market: one step of every price; regimes switch now and then
            shocks = rng.normal(0.0, sigma, n)
            for j, held in open_.items():
                shocks[j] += held.side * held.edge_per_cycle
            prices[:] = prices * np.exp(shocks)
            switch = rng.random(n) < 1.0 / (1.5 * cycles_per_day)
            regimes[switch] = rng.choice(REGIME_CODES, size=int(switch.sum()))
            breaker = incidents and breaker_from <= t < breaker_to
            outage = incidents and t == outage_at
            rows = []
            # every random draw of the cycle at once (vectorised: the demo must build in seconds)
            scores = np.round(np.tanh(rng.normal(0.0, 0.6, (n, len(SIGNAL_NAMES)))), 4)
            convictions = np.round(np.abs(scores.mean(axis=1)), 4).tolist()
            strategies = rng.choice(len(STRATEGY_NAMES), size=n, p=[0.45, 0.35, 0.20])
            u_entry, u_side, u_lock, u_extra = rng.random((4, n))
            gates = rng.choice(len(SKIP_GATES), size=n, p=gate_p)
            extra_gates = rng.choice(len(SKIP_GATES), size=n)
            for j, asset in enumerate(assets):
                price = float(prices[j])
                signals = dict(zip(SIGNAL_NAMES, scores[j].tolist()))
                base = {"direction": 0, "conviction": convictions[j],
                        "win_prob": None, "kelly_f": None, "expected_roi": None, "size_usd": None,
                        "regime": int(regimes[j]), "signals": signals}
                row = {"ts_ms": t, "symbol": asset.symbol, "strategy": "", "reason_mask": 0, "detail": base}
                pos = open_.get(j)
                if outage:
                    row.update(outcome=Reason.held if pos else Reason.skipped, reason_code=Reason.data_outage,
                               reason_mask=1 << Reason.data_outage, strategy=pos.strategy if pos else "")
                    rows.append(row)
                    continue
                if pos is not None:
                    ret = pos.side * (price / pos.entry_price - 1.0)
                    held_ms = t - pos.entry_ts_ms
                    reason, close = None, None
                    if ret <= -0.02:
                        reason, close = Reason.stop_loss, TradeCloseReason.STOP_LOSS
                    elif ret >= 0.03:
                        reason, close = Reason.take_profit, TradeCloseReason.TAKE_PROFIT
                    elif held_ms >= pos.max_hold_ms:
                        reason, close = Reason.time_exit, TradeCloseReason.TIME_EXIT
                    elif ret > 0.012 and u_lock[j] < 0.02:
                        reason, close = Reason.profit_lock, TradeCloseReason.PROFIT_LOCK
                    row["strategy"] = pos.strategy
                    if reason is None or close is None:
                        row.update(outcome=Reason.held, reason_code=Reason.held)
                    else:
                        order = Order(_next_id(), asset.symbol, OrderSide(-pos.side), OrderType.MARKET,
                                      pos.qty_contracts, asset.contract_size, t, reduce_only=True,
                                      strategy_id=pos.strategy, close_reason=close)
                        _execute(ledger, order, price * (1 - pos.side * 0.0002), t)
                        del open_[j]
                        row.update(outcome=Reason.exited, reason_code=reason, reason_mask=1 << reason)
                    rows.append(row)
                    continue
                strategy = STRATEGY_NAMES[int(strategies[j])]
                row["strategy"] = strategy
                if breaker:
                    row.update(outcome=Reason.skipped, reason_code=Reason.circuit_breaker_daily,
                               reason_mask=1 << Reason.circuit_breaker_daily, strategy="")
                elif len(open_) < 10 and u_entry[j] < p_entry:
                    side = 1 if u_side[j] < 0.5 else -1
                    if strategy == "trend_conservative":  # the trend signal drove it
                        signals["trend"] = abs(signals["trend"]) * side
                    win_prob = float(np.clip(rng.normal(STRATEGY_WIN_PROB[strategy], 0.04), 0.35, 0.75))
                    payoff = 1.3
                    kelly_f = win_prob - (1 - win_prob) / payoff
                    size_usd = float(np.clip(rng.normal(900.0, 400.0), 200.0, 2000.0))
                    qty = max(1.0, round(size_usd / (price * asset.contract_size)))
                    order = Order(_next_id(), asset.symbol, OrderSide(side), OrderType.MARKET, qty,
                                  asset.contract_size, t, strategy_id=strategy)
                    fill_price = price * (1 + side * 0.0002)
                    _execute(ledger, order, fill_price, t)
                    open_[j] = _Open(strategy, side, qty, fill_price, t + 400,
                                     int(rng.uniform(3.0, 12.0) * HOUR_MS), STRATEGY_EDGE[strategy] / cycles_per_day)
                    clamp = (1 << Reason.symbol_exposure) if size_usd > 1500 else 0
                    base.update(direction=side, win_prob=round(win_prob, 4), kelly_f=round(kelly_f, 4),
                                expected_roi=round(float(rng.uniform(0.002, 0.01)), 5),
                                size_usd=round(qty * asset.contract_size * fill_price, 2))
                    row.update(outcome=Reason.entered, reason_code=Reason.entered,
                               reason_mask=(1 << Reason.entered) | clamp)
                else:
                    gate = int(SKIP_GATES[int(gates[j])][0])
                    mask = 1 << gate
                    if u_extra[j] < 0.3:
                        mask |= 1 << int(SKIP_GATES[int(extra_gates[j])][0])
                    row.update(outcome=Reason.skipped, reason_code=gate, reason_mask=mask)
                rows.append(row)
            ledger.record_decisions(rows)
            # ---- funding at 00:00, 08:00, 16:00 UTC on open positions (positive rate: longs pay)
            if t % (8 * HOUR_MS) == 0 and i > 0:
                for j, pos in open_.items():
                    rate = float(rng.normal(0.0001, 0.00008))
                    notional = pos.qty_contracts * assets[j].contract_size * float(prices[j])
                    ledger.record_funding(FundingPayment(assets[j].symbol, -pos.side * rate * notional, t + 100,
                                                         rate=rate, funding_id=f"fund-{assets[j].symbol}-{t}"))
            ledger.record_equity(t + 1000, {assets[j].symbol: float(prices[j]) for j in open_})
            # ---- heartbeats of the engine and the feed over the cycle
            for k in range(cycle_ms // (heartbeat_seconds * 1000)):
                hb = t + k * heartbeat_seconds * 1000
                if incidents and silence_from <= hb < silence_to:
                    continue
                ledger.record_heartbeat("engine", ts_ms=hb, status="ok", detail=None)
            ledger.record_heartbeat("feed", ts_ms=t, status="ok" if not outage else "outage",
                                    detail={"symbols": n})
            # ---- the learning cycle and a proposal
            if i == n_cycles // 2:
                why = "learning cycle: trend attributed +, social noise -"
                ledger.put_params("learning", _learning_body({**weights, "trend": 1.25, "social_sentiment": 0.35},
                                                             [why]), reason=why, activate=True, ts_ms=t)
            if i == (2 * n_cycles) // 3 and n > 1:
                symbol = assets[-1].symbol
                why = f"benching: {symbol} profit factor 0.62 over 31 trades < 0.8"
                ledger.put_params("benched_symbols", {"symbols": {symbol: {
                    "reason": why, "since_ms": t, "until_ms": t + DAY_MS, "profit_factor": 0.62, "n_trades": 31}},
                    "returned": {}}, reason=why, activate=True, ts_ms=t)
            if i == n_cycles - 2 and n_cycles > 2:
                ledger.put_params("sizing", {"kelly_fraction": 0.25, "min_usd": 200, "max_usd": 2000},
                                  reason="PROPOSED by the Kelly notebook: CI of win rate is wide", activate=False,
                                  ts_ms=t)

        per_tx = max(1, int(cycles_per_day))  # one transaction per simulated day
        for first in range(0, n_cycles, per_tx):
            with ledger.transaction():
                for i in range(first, min(first + per_tx, n_cycles)):
                    step(i)
    logger.info("demo ledger %s: %d cycles", path, n_cycles)
    return path


#: Bump when the demo ledger's content changes, so cached copies are rebuilt.
DEMO_VERSION = 2


def demo_cache_dir() -> Path:
    """Return where demo ledgers are cached: ``$BOTCORE_CACHE`` or ``~/.cache/botcore``."""
    env = os.environ.get("BOTCORE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "botcore"


def _learning_body(weights: dict[str, float], reasons: list[str]) -> dict:
    """A ``learning`` parameter version's body (the layout of :func:`botcore.learning.cycle.prior_body`)."""
    return {"weights": dict(weights), "strategy_overrides": {}, "reasons": reasons, "metrics": {}, "attribution": {},
            "thresholds": {}, "window": {}, "based_on": None}


def demo_ledger(days: float = 7.0, seed: int = 7, cache_dir: str | os.PathLike | None = None) -> Path:
    """Return the path of a cached SYNTHETIC demo ledger, writing it on first use.

    Treat it as read-only (copy it before writing, as the Kelly notebook does):
    every caller with the same arguments shares the file.
    """
    root = Path(cache_dir) if cache_dir is not None else demo_cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    # the ledger schema is in the name: a cached copy of an older schema is not opened read-only
    path = root / f"demo-ledger-v{DEMO_VERSION}-schema{LATEST_VERSION}-{days:g}d-seed{seed}.db"
    if not path.exists():
        tmp = root / f".{path.name}.{os.getpid()}.tmp"
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            leftover.unlink(missing_ok=True)
        write_demo_ledger(tmp, days=days, seed=seed)
        con = sqlite3.connect(tmp)  # one self-contained file: leave WAL mode before moving it
        try:
            con.execute("PRAGMA journal_mode = DELETE")
        finally:
            con.close()
        os.replace(tmp, path)
    return path
