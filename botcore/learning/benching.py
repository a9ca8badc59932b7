"""Symbol benching: bench a losing symbol, keep evaluating it on paper, return it after probation.

Rules (knobs in :class:`~botcore.learning.config.BenchingConfig`)
----------------------------------------------------------------
- **bench**: a trading symbol with at least ``min_trades`` live trades (since
  it last returned from the bench) whose profit factor over its last
  ``window_trades`` trades is below ``min_profit_factor``;
- **on the bench**: the engine skips its entries (:func:`benched_mask`), but
  it is still evaluated on paper: its would-be trades are the shadow
  outcomes of the log (``signal_outcomes`` with ``shadow = 1``) and, with a
  market store, the entries the kernel wanted while it was benched (decision
  rows of the symbol with ``detail.benched`` true, or outcome ``entered``),
  closed on the store's 1m candles by the configured stop loss, take profit
  or hold time, net of taker fees and slippage both ways
  (:func:`paper_trades`); those are logged as shadow outcomes;
- **return**: after ``probation_hours`` on the bench, with at least
  ``recover_min_trades`` would-be trades since benching and a paper profit
  factor of at least ``recover_profit_factor``. Its live record restarts then
  (the trades that benched it do not bench it again).

State
-----
The active ``benched_symbols`` parameter version (the kind the dashboard
reads)::

    {"symbols": {symbol: {"reason", "since_ms", "until_ms", "profit_factor", "n_trades"}},
     "returned": {symbol: {"ts_ms", "reason", "paper_profit_factor", "paper_trades"}}}

A new version, active, is stored whenever a symbol is benched or returns,
with the reason; ``botcore params rollback benched_symbols`` undoes it.

The engine's contract
---------------------
``benched_mask(ledger, symbols, now_ms)`` is True for a symbol to skip. The
engine sets it as the decision kernel's per-symbol ``benched`` flag
(:class:`botcore.engine.learning_link.LearningLink`, both clocks): the
kernel still runs every gate of the symbol but holds its entry back with
the ``benched`` gate (reason code 39); its trail row has outcome
``skipped``, reason ``benched``, the direction and conviction the kernel
computed, and a gate mask of the ``benched`` bit alone when every other gate
passed — an entry it would have made, which :func:`would_be_entries` reads
to evaluate the symbol on paper. Exits of an open position still run.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from botcore.analytics.metrics import profit_factor
from botcore.clock import BAR_MS, HOUR_MS
from botcore.config.models import Settings
from botcore.learning.config import BenchingConfig, LearningConfig
from botcore.learning.outcomes import close_row, entry_row, read_signal_outcomes, record_signal_outcomes
from botcore.ledger import Ledger
from botcore.ledger import now_ms as wall_now_ms

logger = logging.getLogger(__name__)

__all__ = [
    "BENCHED_DETAIL_KEY",
    "KIND",
    "BenchingReport",
    "benched_mask",
    "benched_symbols",
    "evaluate_benching",
    "paper_trades",
    "would_be_entries",
]

#: Parameter kind of the benching state (read by the dashboard too).
KIND = "benched_symbols"
#: ``detail`` key the engine sets on the trail row of an entry it skipped because the symbol is benched.
BENCHED_DETAIL_KEY = "benched"
_ENTERED = 2  # botcore.strategy.enums.Reason.entered
_BENCHED = 39  # botcore.strategy.enums.Reason.benched: the kernel's gate for a benched symbol


def _state(ledger: Ledger) -> tuple[dict[str, dict], dict[str, dict], int | None]:
    active = ledger.active_params(KIND)
    if active is None:
        return {}, {}, None
    body = active.body
    symbols = body.get("symbols", {})
    if isinstance(symbols, list):  # {"symbols": [...]} also accepted (the dashboard's other layout)
        symbols = {s: {} for s in symbols}
    return dict(symbols), dict(body.get("returned", {})), active.version


def benched_symbols(ledger: Ledger, now_ms: int | None = None) -> dict[str, dict]:
    """Return the benched symbols with their record (benched at or before ``now_ms`` when given)."""
    symbols, _, _ = _state(ledger)
    if now_ms is None:
        return symbols
    return {s: info for s, info in symbols.items() if int(info.get("since_ms", 0)) <= int(now_ms)}


def benched_mask(ledger: Ledger, symbols: Sequence[str], now_ms: int | None = None) -> np.ndarray:
    """Return a ``(len(symbols),)`` bool array: True where the symbol is benched (skip its entries)."""
    benched = benched_symbols(ledger, now_ms)
    return np.array([s in benched for s in symbols], dtype=bool)


# --------------------------------------------------------------------------- paper evaluation


def would_be_entries(decisions: pd.DataFrame, symbol: str, since_ms: int, until_ms: int | None = None) -> pd.DataFrame:
    """Return the entries the kernel wanted for ``symbol`` while benched: ``ts_ms, symbol, strategy, side``.

    A decision row counts when its direction is long or short and either the
    kernel held back an entry it would have made — reason ``benched`` and no
    other gate in its mask (the engine's ``benched`` gate,
    :class:`botcore.engine.learning_link.LearningLink`) — or its ``detail``
    says ``benched``, or its outcome is ``entered``.
    """
    cols = ["ts_ms", "symbol", "strategy", "side"]
    if decisions.empty:
        return pd.DataFrame(columns=cols)
    d = decisions[(decisions["symbol"] == symbol) & (decisions["ts_ms"] >= since_ms)]
    if until_ms is not None:
        d = d[d["ts_ms"] <= until_ms]
    rows = []
    codes = d["reason_code"] if "reason_code" in d.columns else [-1] * len(d)
    masks = d["reason_mask"] if "reason_mask" in d.columns else [0] * len(d)
    for ts, strategy, outcome, detail, code, mask in zip(d["ts_ms"], d["strategy"], d["outcome"], d["detail"],
                                                          codes, masks):
        try:
            det = json.loads(detail) if isinstance(detail, str) else (detail or {})
        except ValueError:
            det = {}
        direction = int(det.get("direction") or 0) if isinstance(det, dict) else 0
        held_back = int(code) == _BENCHED and int(mask) == 1 << _BENCHED
        flagged = held_back or (isinstance(det, dict) and bool(det.get(BENCHED_DETAIL_KEY)))
        if direction in (-1, 1) and (flagged or int(outcome) == _ENTERED):
            rows.append({"ts_ms": int(ts), "symbol": symbol, "strategy": strategy, "side": direction})
    return pd.DataFrame(rows, columns=cols)


def paper_trades(entries: pd.DataFrame, store: Any, settings: Settings, cfg: BenchingConfig = BenchingConfig(),
                 end_ms: int | None = None) -> pd.DataFrame:
    """Close would-be entries on a store's 1m candles; return one row per closed paper trade.

    Entry at the close of the 1m bar that closed at or before the entry time;
    exit at the first bar whose low/high crosses the stop loss (checked first)
    or the take profit of ``config/exits.yaml``, else at the close of the bar
    ending the hold (``paper_hold_minutes``, else the strategy's expected
    hold, capped at the maximum hold). One would-be position per symbol at a
    time: an entry while one is open is ignored. Net return = side x price
    change - 2 x (taker fee + expected slippage). Entries that could not be
    closed by ``end_ms`` (or the end of the data) are left out.

    Columns: ``entry_key, symbol, strategy, side, entry_ts_ms, exit_ts_ms,
    entry_price, exit_price, net_return, exit_reason``.
    """
    cols = ["entry_key", "symbol", "strategy", "side", "entry_ts_ms", "exit_ts_ms", "entry_price", "exit_price",
            "net_return", "exit_reason"]
    if entries.empty:
        return pd.DataFrame(columns=cols)
    ex, fees = settings.exits, settings.fees
    cost = 2.0 * (fees.taker + fees.expected_slippage)
    strategies = settings.strategies.strategies
    rows = []
    for symbol, group in entries.sort_values("ts_ms", kind="stable").groupby("symbol", sort=True):
        holds = [cfg.paper_hold_minutes or (strategies[s].expected_hold_minutes if s in strategies else 60)
                 for s in group["strategy"]]
        first = int(group["ts_ms"].min()) // BAR_MS * BAR_MS - BAR_MS
        last = int(group["ts_ms"].max()) + min(max(holds), ex.max_hold_minutes) * BAR_MS + BAR_MS
        if end_ms is not None:
            last = min(last, int(end_ms))
        candles = store.read("candles_1m", symbol, first, last)
        if candles.empty:
            continue
        ts = candles["ts"].to_numpy(dtype=np.int64)
        high, low, close = (candles[c].to_numpy(dtype=np.float64) for c in ("high", "low", "close"))
        busy_until = -1
        for (t, strategy, side), hold in zip(group[["ts_ms", "strategy", "side"]].itertuples(index=False), holds):
            t, side = int(t), int(side)
            if t < busy_until:
                continue
            bar_open = t // BAR_MS * BAR_MS - BAR_MS
            i = int(np.searchsorted(ts, bar_open))
            if i >= len(ts) or ts[i] != bar_open:
                continue
            entry = close[i]
            stop = entry * (1 - side * ex.stop_loss_pct)
            target = entry * (1 + side * ex.take_profit_pct)
            deadline = bar_open + BAR_MS + min(int(hold), ex.max_hold_minutes) * BAR_MS
            exit_px, exit_ts, why = math.nan, -1, ""
            for j in range(i + 1, len(ts)):
                if ts[j] + BAR_MS > (last if end_ms is None else min(last, int(end_ms))):
                    break
                if (side > 0 and low[j] <= stop) or (side < 0 and high[j] >= stop):
                    exit_px, exit_ts, why = stop, int(ts[j]) + BAR_MS, "stop_loss"
                    break
                if (side > 0 and high[j] >= target) or (side < 0 and low[j] <= target):
                    exit_px, exit_ts, why = target, int(ts[j]) + BAR_MS, "take_profit"
                    break
                if ts[j] + BAR_MS >= deadline:
                    exit_px, exit_ts, why = close[j], int(ts[j]) + BAR_MS, "time_exit"
                    break
            if exit_ts < 0:
                continue
            busy_until = exit_ts
            rows.append({"entry_key": f"shadow:{symbol}:{t}", "symbol": symbol, "strategy": strategy, "side": side,
                         "entry_ts_ms": t, "exit_ts_ms": exit_ts, "entry_price": float(entry),
                         "exit_price": float(exit_px), "net_return": float(side * (exit_px / entry - 1.0) - cost),
                         "exit_reason": why})
    return pd.DataFrame(rows, columns=cols)


def _paper_outcomes(ledger: Ledger, settings: Settings, symbol: str, since_ms: int, now_ms: int, store: Any,
                    cfg: BenchingConfig, record: bool) -> pd.DataFrame:
    """Return the symbol's closed would-be trades since ``since_ms`` (log first, then trail + store)."""
    log = read_signal_outcomes(ledger, since_ms=since_ms, shadow=True)
    log = log[(log["symbol"] == symbol) & (log["entry_ts_ms"] <= now_ms)]
    closed = log[log["exit_ts_ms"].notna() & (log["exit_ts_ms"] <= now_ms)]
    out = pd.DataFrame({"entry_key": closed["entry_key"], "entry_ts_ms": closed["entry_ts_ms"],
                        "exit_ts_ms": closed["exit_ts_ms"].astype(np.int64), "net_return": closed["net_return"],
                        "source": "log"})
    if store is None:
        return out.reset_index(drop=True)
    open_entries = log[log["exit_ts_ms"].isna()]
    trail = would_be_entries(ledger.decisions(since_ms=since_ms, symbol=symbol), symbol, since_ms, now_ms)
    logged_keys = set(log["entry_key"])
    candidates = pd.concat([
        pd.DataFrame({"ts_ms": open_entries["entry_ts_ms"], "symbol": symbol, "strategy": open_entries["strategy"],
                      "side": open_entries["side"], "key": open_entries["entry_key"]}),
        trail.assign(key=[f"shadow:{symbol}:{t}" for t in trail["ts_ms"]]),
    ], ignore_index=True)
    candidates = candidates[~candidates["key"].isin(set(closed["entry_key"]))]
    candidates = candidates.drop_duplicates("ts_ms").sort_values("ts_ms", kind="stable")
    if candidates.empty:
        return out.reset_index(drop=True)
    sim = paper_trades(candidates[["ts_ms", "symbol", "strategy", "side"]], store, settings, cfg, end_ms=now_ms)
    if sim.empty:
        return out.reset_index(drop=True)
    key_of = dict(zip(candidates["ts_ms"].astype(np.int64), candidates["key"]))
    sim["entry_key"] = [key_of.get(int(t), k) for t, k in zip(sim["entry_ts_ms"], sim["entry_key"])]
    if record and not ledger.readonly:
        rows = []
        for r in sim.itertuples(index=False):
            if r.entry_key not in logged_keys:
                rows.append(entry_row(r.entry_key, r.entry_ts_ms, symbol, r.strategy, r.side, None, shadow=True))
            rows.append(close_row(r.entry_key, r.exit_ts_ms, net_return=r.net_return))
        for row in rows:
            row["shadow"] = True
        record_signal_outcomes(ledger, rows)
    sim_out = pd.DataFrame({"entry_key": sim["entry_key"], "entry_ts_ms": sim["entry_ts_ms"],
                            "exit_ts_ms": sim["exit_ts_ms"], "net_return": sim["net_return"], "source": "paper"})
    return pd.concat([out, sim_out], ignore_index=True).sort_values("entry_ts_ms", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- evaluation


@dataclass
class BenchingReport:
    """One benching evaluation: per-symbol table, changes and the stored version."""

    ts_ms: int
    table: pd.DataFrame
    benched: list[str]
    returned: list[str]
    reasons: list[str]
    state: dict[str, Any]
    version: int | None = None
    paper: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    @property
    def changed(self) -> bool:
        return bool(self.benched or self.returned)


def evaluate_benching(ledger: Ledger, settings: Settings, *, cfg: LearningConfig | None = None,
                      now_ms: int | None = None, store: Any = None, dry_run: bool = False,
                      symbols: Sequence[str] | None = None) -> BenchingReport:
    """Bench losing symbols, evaluate benched ones on paper, return recovered ones; store the state when it changes.

    ``symbols`` default: the enabled universe plus every symbol with trades.
    """
    cfg = cfg or LearningConfig()
    bcfg = cfg.benching
    now = int(wall_now_ms() if now_ms is None else now_ms)
    on_bench, returned, version = _state(ledger)
    trades = ledger.trades()
    trades = trades[trades["exit_ts_ms"] <= now]
    universe = list(symbols) if symbols is not None else sorted(
        set(settings.universe.symbols) | set(trades["symbol"]) | set(on_bench))
    new_bench, new_returned = dict(on_bench), dict(returned)
    benched_now, returned_now, reasons, rows, paper = [], [], [], [], {}
    for symbol in universe:
        if symbol in on_bench:
            info = on_bench[symbol]
            since, until = int(info.get("since_ms", now)), int(info.get("until_ms", now))
            p = _paper_outcomes(ledger, settings, symbol, since, now, store, bcfg, record=not dry_run)
            paper[symbol] = p
            ret = p["net_return"].to_numpy(dtype=np.float64)
            pf = profit_factor(ret) if ret.size else math.nan
            status = "benched"
            if now >= until and ret.size >= bcfg.recover_min_trades and pf >= bcfg.recover_profit_factor:
                why = (f"{symbol} returns: paper profit factor {pf:.2f} over {ret.size} would-be trades since "
                       f"benching >= {bcfg.recover_profit_factor:g}, probation of {bcfg.probation_hours:g} h served")
                new_bench.pop(symbol)
                new_returned[symbol] = {"ts_ms": now, "reason": why, "paper_profit_factor": _finite(pf),
                                        "paper_trades": int(ret.size)}
                returned_now.append(symbol)
                reasons.append(why)
                status = "returned"
            rows.append({"symbol": symbol, "status": status, "live_trades": math.nan, "profit_factor": math.nan,
                         "paper_trades": int(ret.size), "paper_profit_factor": pf, "since_ms": since,
                         "until_ms": until})
            continue
        since_return = int(returned.get(symbol, {}).get("ts_ms", -1))
        mine = trades[(trades["symbol"] == symbol) & (trades["exit_ts_ms"] > since_return)]
        pnl = mine["net_pnl_usd"].to_numpy(dtype=np.float64)
        pf = profit_factor(pnl[-bcfg.window_trades:]) if pnl.size else math.nan
        status = "trading"
        if pnl.size >= bcfg.min_trades and pf < bcfg.min_profit_factor:
            why = (f"{symbol} benched: profit factor {pf:.2f} over its last {min(pnl.size, bcfg.window_trades)} "
                   f"trades < {bcfg.min_profit_factor:g}")
            new_bench[symbol] = {"reason": why, "since_ms": now, "until_ms": now + int(bcfg.probation_hours * HOUR_MS),
                                 "profit_factor": _finite(pf), "n_trades": int(pnl.size)}
            benched_now.append(symbol)
            reasons.append(why)
            status = "benched now"
        fresh = new_bench.get(symbol, {})
        rows.append({"symbol": symbol, "status": status, "live_trades": int(pnl.size), "profit_factor": pf,
                     "paper_trades": math.nan, "paper_profit_factor": math.nan,
                     "since_ms": fresh.get("since_ms", math.nan), "until_ms": fresh.get("until_ms", math.nan)})
    table = pd.DataFrame(rows, columns=["symbol", "status", "live_trades", "profit_factor", "paper_trades",
                                        "paper_profit_factor", "since_ms", "until_ms"]).set_index("symbol")
    state = {"symbols": new_bench, "returned": new_returned}
    report = BenchingReport(now, table, benched_now, returned_now, reasons, state, None, paper)
    if report.changed and not dry_run:
        report.version = ledger.put_params(KIND, state, activate=True, ts_ms=now, reason="benching: " + "; ".join(reasons))
    for why in reasons:
        logger.warning("%s", why)
    return report


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None
