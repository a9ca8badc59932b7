"""Build realistic ledgers for the dashboard tests and benchmark with the Ledger API.

A simulated bot over the configured universe, cycle by cycle, ending at
``end_ms`` (default: now): entries and exits of round trips (an order
submitted, accepted and filled, entries in two partial fills), funding every
8 h on open positions, a rejected order now and then, the decision trail of
every symbol with real reason codes (gates with masks, held, entered, exited,
data outages), engine and feed heartbeats, equity snapshots at the cycle's
marks, signal-weight and allocation parameter versions, and at the end two
open positions (a long and a short) and one position adopted from the venue
(entry time unknown). Stands in for the engine's paper replay until it lands.

    python tests/_dashboard_ledger.py PATH [N_TRADES]   # writes a ledger to look at
"""

from __future__ import annotations

import atexit
import math
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from botcore.config import SIGNAL_NAMES, STRATEGY_NAMES, load_settings
from botcore.ledger import Ledger
from botcore.model import (
    Fill,
    FundingPayment,
    LiquiditySide,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    TradeCloseReason,
)
from botcore.strategy.enums import Reason

REPO = Path(__file__).resolve().parents[1]
STARTING_CASH_USD = 10_000.0
TAKER_FEE = 0.0006
FUNDING_EVERY_MS = 8 * 3_600_000
BASE_PRICES = {
    "BTC": 64_000.0, "ETH": 3_100.0, "SOL": 145.0, "AVAX": 28.0, "ADA": 0.45, "ARB": 0.8, "OP": 1.7,
    "LINK": 14.0, "UNI": 7.5, "AAVE": 95.0, "DOGE": 0.12, "PEPE": 0.0000095, "BNB": 580.0, "XRP": 0.52,
    "LTC": 72.0,
}
#: gates that block an entry, with the further gates their masks carry
SKIP_GATES = [
    (Reason.conviction_below_threshold, [Reason.mtf_not_confirmed]),
    (Reason.mtf_not_confirmed, []),
    (Reason.roi_below_minimum, [Reason.mtf_not_confirmed]),
    (Reason.kelly_no_edge, []),
    (Reason.regime_blocks_strategy, []),
    (Reason.no_signal, []),
    (Reason.trend_not_confirmed, [Reason.conviction_below_threshold]),
    (Reason.sector_limit, []),
]
#: exit rules, alternating winner and loser (a round trip closes by one of its own kind)
EXIT_REASONS = [
    (TradeCloseReason.TAKE_PROFIT, Reason.take_profit),
    (TradeCloseReason.STOP_LOSS, Reason.stop_loss),
    (TradeCloseReason.TRAILING_STOP, Reason.trailing_stop),
    (TradeCloseReason.TIME_EXIT, Reason.time_exit),
    (TradeCloseReason.PROFIT_LOCK, Reason.profit_lock),
    (TradeCloseReason.SIGNAL, Reason.hold_breaker),
]
OPEN_LONG, OPEN_SHORT, ADOPTED, OUTAGE, PAST_OUTAGE = (
    "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "PEPE/USDT:USDT", "DOGE/USDT:USDT",
)


@dataclass
class BuildInfo:
    """What the builder wrote (the tests re-derive every figure from the ledger itself)."""

    path: Path
    start_ms: int
    end_ms: int
    cycle_ms: int
    n_cycles: int
    n_trades: int
    symbols: list[str]
    open_symbols: list[str] = field(default_factory=list)
    adopted_symbol: str | None = None
    outage_symbol: str | None = None


_SHARED: dict[int, BuildInfo] = {}


def shared_ledger(n_trades: int = 40) -> BuildInfo:
    """Return a ledger built once per test process (copy it before writing to it)."""
    if n_trades not in _SHARED:
        root = Path(tempfile.mkdtemp(prefix="botcore-dashboard-tests-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        _SHARED[n_trades] = build_ledger(root / "ledger.sqlite", n_trades=n_trades)
    return _SHARED[n_trades]


def copy_ledger(info: BuildInfo, path: str | Path) -> BuildInfo:
    """Copy a built ledger (a closed WAL database) to ``path``; return its info pointing there."""
    shutil.copy(info.path, path)
    return replace(info, path=Path(path))


def build_ledger(
    path: str | Path,
    *,
    n_trades: int = 40,
    days: float = 3.0,
    cycle_s: int = 300,
    end_ms: int | None = None,
    seed: int = 7,
    open_positions: bool = True,
    outage: bool = True,
    decision_days: float | None = None,
    heartbeats: bool = True,
    weight_versions: int = 3,
    mode: str = "paper",
    config_dir: str | Path = REPO / "config",
) -> BuildInfo:
    """Write a simulated bot's ledger to ``path`` (a new file) and return what it holds.

    Parameters
    ----------
    n_trades : int
        Closed round trips, spread over the symbols and the three strategies.
    days, cycle_s : float, int
        Span of the run and cycle length.
    end_ms : int, optional
        Time of the last cycle (default: now), so "today" and ages are live.
    open_positions : bool
        End with a long, a short and an adopted position open.
    outage : bool
        A past data outage on DOGE and an ongoing one on PEPE.
    decision_days : float, optional
        Write the decision trail and heartbeats only for the last ``decision_days`` (default: all).
    """
    settings = load_settings(config_dir)
    assets = {a.symbol: a for a in settings.universe.enabled}
    symbols = list(assets)
    rng = np.random.default_rng(seed)
    cycle_ms = cycle_s * 1000
    end_ms = (int(time.time() * 1000) if end_ms is None else int(end_ms)) // 1000 * 1000
    n_cycles = max(int(days * 86_400 / cycle_s), 60)
    start_ms = end_ms - (n_cycles - 1) * cycle_ms
    ts = start_ms + cycle_ms * np.arange(n_cycles)
    steps = rng.normal(0.0, 0.004, size=(len(symbols), n_cycles))
    prices = {s: BASE_PRICES[s.split("/")[0]] * np.exp(np.cumsum(steps[i])) for i, s in enumerate(symbols)}

    # ------------------------------------------------------------------ schedule the round trips
    reserved = {OPEN_LONG, OPEN_SHORT, ADOPTED} if open_positions else set()
    tail = 40 if open_positions else 0  # last cycles kept free for the open positions
    events: dict[int, list[tuple]] = {}
    per_symbol = [n_trades // len(symbols) + (1 if i < n_trades % len(symbols) else 0) for i in range(len(symbols))]
    k = 0
    for i, symbol in enumerate(symbols):
        n = per_symbol[i]
        if not n:
            continue
        span = (n_cycles - 2 - (tail if symbol in reserved else 0)) // n
        if span < 2:
            raise ValueError(f"{n_trades} trades do not fit {n_cycles} cycles; raise days or lower cycle_s")
        for j in range(n):
            lo = 1 + j * span
            entry = lo + int(rng.integers(0, max(1, span // 3)))
            exit_ = min(lo + span - 1, entry + 1 + int(rng.integers(0, max(1, span - (entry - lo) - 1))))
            side = OrderSide.BUY if rng.random() < 0.55 else OrderSide.SELL
            strategy = STRATEGY_NAMES[k % len(STRATEGY_NAMES)]
            events.setdefault(entry, []).append(("open", symbol, side, strategy, k))
            events.setdefault(exit_, []).append(("close", symbol, side, strategy, k))
            k += 1
    if open_positions:
        events.setdefault(n_cycles - 30, []).append(("open", OPEN_LONG, OrderSide.BUY, "trend_conservative", k))
        events.setdefault(n_cycles - 12, []).append(("open", OPEN_SHORT, OrderSide.SELL, "sentiment_fusion", k + 1))
        events.setdefault(n_cycles - 20, []).append(("adopt", ADOPTED))
    reject_every = 17

    # ------------------------------------------------------------------ write, cycle by cycle
    decide_from = 0 if decision_days is None else max(0, n_cycles - int(decision_days * 86_400 / cycle_s))
    outage_now = range(n_cycles - 6, n_cycles) if outage else range(0)
    outage_past = range(max(0, n_cycles - 200), max(0, n_cycles - 185)) if outage else range(0)
    holding: dict[str, tuple[str, int]] = {}  # symbol -> (strategy, side)
    ledger = Ledger.open(path, starting_cash_usd=STARTING_CASH_USD, mode=mode, synchronous="OFF")
    try:
        with ledger.transaction():
            _write_params(ledger, settings, int(ts[0]) - 60_000, int(ts[-1]), weight_versions, rng)
            next_funding = (int(ts[0]) // FUNDING_EVERY_MS + 1) * FUNDING_EVERY_MS
            orders_written = 0
            for c in range(n_cycles):
                now = int(ts[c])
                marks = {s: float(prices[s][c]) for s in symbols}
                acted: dict[str, tuple[int, int]] = {}
                for ev in events.get(c, []):
                    kind, symbol = ev[0], ev[1]
                    asset = assets[symbol]
                    price = marks[symbol]
                    if kind == "adopt":
                        qty = max(1.0, round(600.0 / (price * asset.contract_size)))
                        ledger.adopt_position(Position.adopted_from_venue(
                            symbol, asset.contract_size, qty, price * 0.985, now))
                        acted[symbol] = (Reason.held, Reason.entry_time_unknown)
                        holding[symbol] = ("", 1)
                        continue
                    side, strategy, tid = ev[2], ev[3], ev[4]
                    if kind == "open":
                        qty = max(1.0, round(float(rng.uniform(300, 900)) / (price * asset.contract_size)))
                        order_id = f"bc-{tid:06d}-o"
                        _order(ledger, order_id, symbol, side, qty, asset.contract_size, now, strategy,
                               TradeCloseReason.UNSPECIFIED, price, split=qty >= 2)
                        holding[symbol] = (strategy, int(side))
                        acted[symbol] = (Reason.entered, Reason.entered)
                    else:
                        position = ledger.position(symbol)
                        winners, losers = EXIT_REASONS[::2], EXIT_REASONS[1::2]
                        pool = winners if position.unrealized_pnl_usd(price) > 0 else losers
                        close_reason, exit_code = pool[tid % len(pool)]
                        _order(ledger, f"bc-{tid:06d}-c", symbol, side.opposite, abs(position.qty_contracts),
                               asset.contract_size, now, strategy, close_reason, price, split=False,
                               reduce_only=True)
                        holding.pop(symbol, None)
                        acted[symbol] = (Reason.exited, exit_code)
                    orders_written += 1
                    if orders_written % reject_every == 0:
                        rejected = Order(f"bc-rej-{orders_written:06d}", symbol, side, OrderType.LIMIT, 1.0,
                                         asset.contract_size, now, price=price, strategy_id=strategy)
                        ledger.record_order(rejected)
                        ledger.update_order_status(rejected.client_order_id, OrderStatus.SUBMITTED, now)
                        ledger.update_order_status(rejected.client_order_id, OrderStatus.REJECTED, now + 40,
                                                   reason="post-only order would cross")
                while next_funding <= now:
                    for symbol, (_strategy, sign) in sorted(holding.items()):
                        position = ledger.position(symbol)
                        rate = float(rng.normal(0.0001, 0.00008))
                        notional = abs(position.qty_base) * marks[symbol]
                        ledger.record_funding(FundingPayment(symbol, -sign * rate * notional, next_funding, rate=rate))
                    next_funding += FUNDING_EVERY_MS
                if c >= decide_from:
                    ledger.record_decisions(_decisions(c, now, symbols, holding, acted, rng,
                                                       outage_now, outage_past))
                    if heartbeats:
                        ledger.record_heartbeat("engine", ts_ms=now + 900,
                                                detail={"cycle": c, "cycle_ms": round(float(rng.uniform(6, 40)), 1)})
                        ledger.record_heartbeat("feed:blofin", ts_ms=now + 200)
                        stale = [OUTAGE] if c in outage_now else []
                        ledger.record_heartbeat("feed:coinglass", ts_ms=now + 300,
                                                status="degraded" if stale else "ok",
                                                detail={"stale": stale} if stale else None)
                ledger.record_equity(now + 950, {s: marks[s] for s in ledger.open_positions()})
            ledger.set_meta("marks", {"ts_ms": int(ts[-1]), "prices": {s: float(prices[s][-1]) for s in symbols}})
    finally:
        ledger.close()
    return BuildInfo(
        path=Path(path), start_ms=int(ts[0]), end_ms=int(ts[-1]), cycle_ms=cycle_ms, n_cycles=n_cycles,
        n_trades=n_trades, symbols=symbols,
        open_symbols=[OPEN_LONG, OPEN_SHORT, ADOPTED] if open_positions else [],
        adopted_symbol=ADOPTED if open_positions else None, outage_symbol=OUTAGE if outage else None,
    )


def _order(ledger: Ledger, order_id: str, symbol: str, side: OrderSide, qty: float, contract_size: float, ts: int,
           strategy: str, close_reason: TradeCloseReason, price: float, *, split: bool, reduce_only: bool = False
           ) -> None:
    """Record a market order through SUBMITTED and ACCEPTED and fill it (in two parts when ``split``)."""
    ledger.record_order(Order(order_id, symbol, side, OrderType.MARKET, qty, contract_size, ts,
                              strategy_id=strategy, close_reason=close_reason, reduce_only=reduce_only))
    ledger.update_order_status(order_id, OrderStatus.SUBMITTED, ts + 5)
    ledger.update_order_status(order_id, OrderStatus.ACCEPTED, ts + 60, venue_order_id=f"v{order_id}")
    parts = [math.floor(qty / 2), qty - math.floor(qty / 2)] if split else [qty]
    slip = 1 + 0.0002 * int(side)
    for n, part in enumerate(parts):
        fill_price = price * slip * (1 + 0.0001 * n * int(side))
        base = part * contract_size
        ledger.record_fill(Fill(
            fill_id=f"{order_id}-f{n}", client_order_id=order_id, symbol=symbol, side=side, price=fill_price,
            qty_contracts=part, qty_base=base, fee_usd=TAKER_FEE * fill_price * base,
            liquidity=LiquiditySide.TAKER, ts_ms=ts + 120 + 30 * n, reduce_only=reduce_only,
        ))


def _decisions(c: int, now: int, symbols: list[str], holding: dict, acted: dict, rng: np.random.Generator,
               outage_now: range, outage_past: range) -> list[dict]:
    rows = []
    for i, symbol in enumerate(symbols):
        strategy = STRATEGY_NAMES[(c + i) % len(STRATEGY_NAMES)]
        conviction = float(rng.uniform(0.1, 0.9))
        detail = {"direction": int(rng.choice([-1, 1])), "conviction": round(conviction, 4),
                  "win_prob": round(0.45 + 0.1 * conviction, 4), "kelly_f": round(max(0.0, 0.2 * conviction - 0.05), 4),
                  "expected_roi": round(float(rng.normal(0.002, 0.002)), 5), "size_usd": None}
        if symbol in acted:
            outcome, reason = acted[symbol]
            mask = 0 if reason == outcome else 1 << reason
            strategy = holding.get(symbol, (strategy, 1))[0] if outcome != Reason.exited else strategy
            if outcome == Reason.entered:
                detail["size_usd"] = round(float(rng.uniform(300, 900)), 2)
        elif (symbol == OUTAGE and c in outage_now) or (symbol == PAST_OUTAGE and c in outage_past):
            held = symbol in holding
            outcome, reason, mask = Reason.held if held else Reason.skipped, Reason.data_outage, 1 << Reason.data_outage
            strategy = holding[symbol][0] if held else ""
            detail = {"direction": 0, "conviction": None, "win_prob": None, "kelly_f": None, "expected_roi": None,
                      "size_usd": None}
        elif symbol in holding:
            outcome, reason, mask = Reason.held, Reason.held, 0
            strategy = holding[symbol][0]
            if not strategy:
                reason, mask = Reason.entry_time_unknown, 1 << Reason.entry_time_unknown
        else:
            gate, others = SKIP_GATES[(c * 7 + i * 3) % len(SKIP_GATES)]
            outcome, reason = Reason.skipped, gate
            mask = 1 << gate
            for o in others:
                mask |= 1 << o
            detail["size_usd"] = round(float(rng.uniform(200, 800)), 2) if gate != Reason.kelly_no_edge else 0.0
        rows.append({"ts_ms": now, "symbol": symbol, "strategy": strategy, "outcome": int(outcome),
                     "reason_code": int(reason), "reason_mask": int(mask), "detail": detail})
    return rows


def _write_params(ledger: Ledger, settings, t0: int, t1: int, versions: int, rng: np.random.Generator) -> None:
    prior = dict(settings.signals.weights)
    if versions:
        ledger.put_params("signal_weights", prior, reason="config prior", activate=True, ts_ms=t0)
    weights = dict(prior)
    for v in range(1, versions):
        weights = {s: round(max(0.1, w * float(np.exp(rng.normal(0, 0.15)))), 4) for s, w in weights.items()}
        ledger.put_params("signal_weights", weights, reason=f"learning cycle {v}: 30+ trades attributed",
                          activate=True, ts_ms=t0 + (t1 - t0) * v // versions)
    alloc = {n: s.allocation for n, s in settings.strategies.strategies.items()}
    ledger.put_params("allocation", alloc, reason="config", activate=True, ts_ms=t0)
    assert set(prior) == set(SIGNAL_NAMES)


if __name__ == "__main__":
    target = Path(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    t = time.perf_counter()
    info = build_ledger(target, n_trades=n, days=max(3.0, n / 15 * 2 * 300 / 86_400 * 1.2))
    print(f"wrote {info.path}: {info.n_trades} trades, {info.n_cycles} cycles in {time.perf_counter() - t:.1f}s")
