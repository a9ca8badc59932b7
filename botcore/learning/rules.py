"""The learning rules as pure functions: attribution, the weight update, the threshold step.

Arrays in, arrays or frames out; no ledger, clock or I/O (the faces in
:mod:`botcore.learning.cycle` read and write). Signals are columns in
:data:`~botcore.config.models.SIGNAL_NAMES` order; NaN is a missing value
(the signal's status was not OK at the entry), never a neutral 0.

Attribution
-----------
A signal *agreed* with a trade when ``score x side > 0``. Its alignment at an
entry is ``score x side`` in [-1, 1]; its **edge** is the Spearman rank
correlation between alignment and the trade's net return over the trades
where it was live (a rank IC: robust to the fat tails of trade returns),
with ``t = ic sqrt((n - 2) / (1 - ic^2))``.

Weight update
-------------
Nothing moves before ``burn_in_trades`` trades with context, and a signal
moves only once it was live at ``burn_in_trades`` entries. For those:

1. shrink the edge toward 0 (the prior): ``ic_s = ic n / (n + shrinkage_trades)``;
2. raw target ``prior x exp(sensitivity x ic_s)``, rescaled so the eligible
   signals keep the prior's total weight (the aggregator normalises by the
   weight sum, so only relative weights matter: weight flows from signals
   without edge to signals with one), bounded to
   ``[min_ratio, max_ratio] x prior``;
3. move ``smoothing`` of the way from the current weight to the target,
   with ``|step| <= max_step x prior``.

Threshold step
--------------
Per enabled strategy with at least ``min_strategy_trades`` trades: raise its
``min_conviction`` by ``step`` when its expectancy (mean net P&L per trade)
is not positive or the bot trades more than ``max_trades_per_day``; lower it
when the bot trades fewer than ``min_trades_per_day`` and the expectancy is
positive; else hold. Thresholds stay within ``max_drift`` of the configured
value and in ``[floor, ceiling]``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from botcore.clock import DAY_MS
from botcore.config.models import SIGNAL_NAMES
from botcore.learning.config import ThresholdConfig, WeightConfig

__all__ = ["WeightUpdate", "signal_edges", "tune_thresholds", "update_weights"]

def signal_edges(scores: np.ndarray, side: np.ndarray, net_return: np.ndarray, min_abs_score: float = 0.0) -> pd.DataFrame:
    """Return each signal's attribution over closed trades.

    Parameters
    ----------
    scores : (n, K) float64
        Scores at entry, NaN where the signal was not live.
    side : (n,)
        +1 long, -1 short.
    net_return : (n,) float64
        Net return of each trade (NaN trades are ignored).
    min_abs_score : float
        A signal counts at an entry only when ``|score| > min_abs_score``.

    Returns
    -------
    DataFrame
        Index signal name; ``n`` (trades where live), ``ic``, ``t_stat``,
        ``n_agree``, ``agree_mean_return``, ``n_against``, ``against_mean_return``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    side = np.asarray(side, dtype=np.float64)
    ret = np.asarray(net_return, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] != len(SIGNAL_NAMES):
        raise ValueError(f"scores: expected (n, {len(SIGNAL_NAMES)}), got {scores.shape}")
    if side.shape != (scores.shape[0],) or ret.shape != (scores.shape[0],):
        raise ValueError("side, net_return: expected one value per trade")
    rows = []
    for k, name in enumerate(SIGNAL_NAMES):
        align = scores[:, k] * side
        live = np.isfinite(align) & np.isfinite(ret) & (np.abs(scores[:, k]) > min_abs_score)
        n = int(live.sum())
        a, r = align[live], ret[live]
        ic = math.nan
        if n >= 3 and np.ptp(a) > 0 and np.ptp(r) > 0:
            ic = float(stats.spearmanr(a, r).statistic)
        t = ic * math.sqrt((n - 2) / max(1e-12, 1.0 - ic * ic)) if math.isfinite(ic) else math.nan
        agree, against = a > 0, a < 0
        rows.append({
            "signal": name, "n": n, "ic": ic, "t_stat": t,
            "n_agree": int(agree.sum()), "agree_mean_return": float(r[agree].mean()) if agree.any() else math.nan,
            "n_against": int(against.sum()),
            "against_mean_return": float(r[against].mean()) if against.any() else math.nan,
        })
    return pd.DataFrame(rows).set_index("signal")


@dataclass(frozen=True)
class WeightUpdate:
    """Result of :func:`update_weights`."""

    weights: np.ndarray        # (K,) new weights
    table: pd.DataFrame        # per signal: prior, current, n, ic, ic_shrunk, target, step, new, status
    reasons: list[str]         # one sentence per weight that moved, or why nothing moved

    @property
    def changed(self) -> bool:
        return bool(np.any(self.table["new"].to_numpy() != self.table["current"].to_numpy()))


def update_weights(prior: np.ndarray, current: np.ndarray, edges: pd.DataFrame, n_trades: int,
                   cfg: WeightConfig = WeightConfig(), decimals: int = 6) -> WeightUpdate:
    """Move the signal weights one bounded, smoothed step toward their evidence-based targets.

    Parameters
    ----------
    prior : (K,) float64
        Configured prior weights (``config/signals.yaml``), the shrinkage anchor.
    current : (K,) float64
        The active weights the step starts from.
    edges : DataFrame
        :func:`signal_edges` output (``n``, ``ic``, ``t_stat`` per signal).
    n_trades : int
        Closed trades with signal context in the learning window (the burn-in count).
    cfg : WeightConfig
    decimals : int
        New weights are rounded to this many decimals (readable versions).
    """
    prior = np.asarray(prior, dtype=np.float64)
    current = np.asarray(current, dtype=np.float64)
    k = len(SIGNAL_NAMES)
    if prior.shape != (k,) or current.shape != (k,):
        raise ValueError(f"prior, current: expected ({k},) in SIGNAL_NAMES order")
    e = edges.reindex(list(SIGNAL_NAMES))
    n = e["n"].fillna(0).to_numpy(dtype=np.float64)
    ic = e["ic"].to_numpy(dtype=np.float64)
    table = pd.DataFrame({"prior": prior, "current": current, "n": n.astype(np.int64), "ic": ic,
                          "t_stat": e["t_stat"].to_numpy(dtype=np.float64)}, index=pd.Index(SIGNAL_NAMES, name="signal"))
    table["ic_shrunk"] = np.nan
    table["target"] = np.nan
    table["step"] = 0.0
    table["new"] = current
    table["status"] = "held"
    if n_trades < cfg.burn_in_trades:
        table["status"] = "burn-in"
        reason = (f"burn-in: {n_trades} closed trades with signal context < {cfg.burn_in_trades}; "
                  "no weight moves")
        return WeightUpdate(current.copy(), table, [reason])
    eligible = (n >= cfg.burn_in_trades) & np.isfinite(ic) & (prior > 0)
    table.loc[~eligible & (n < cfg.burn_in_trades), "status"] = "too few live entries"
    table.loc[~eligible & (prior <= 0), "status"] = "zero prior"
    if not eligible.any():
        return WeightUpdate(current.copy(), table,
                            [f"no signal was live at {cfg.burn_in_trades}+ entries with a defined edge; no weight moves"])
    ic_s = np.where(eligible, np.nan_to_num(ic) * n / (n + cfg.shrinkage_trades), np.nan)
    raw = np.where(eligible, prior * np.exp(cfg.sensitivity * np.nan_to_num(ic_s)), np.nan)
    target = np.full(k, np.nan)
    target[eligible] = raw[eligible] * prior[eligible].sum() / raw[eligible].sum()
    target = np.clip(target, prior * cfg.min_ratio, prior * cfg.max_ratio)
    step = cfg.smoothing * (target - current)
    cap = cfg.max_step * prior
    capped = np.abs(step) > cap
    step = np.clip(step, -cap, cap)
    new = current.copy()
    new[eligible] = np.clip(current[eligible] + step[eligible], prior[eligible] * cfg.min_ratio,
                            prior[eligible] * cfg.max_ratio)
    new = np.round(new, decimals)
    table["ic_shrunk"] = ic_s
    table["target"] = target
    table["step"] = np.where(eligible, new - current, 0.0)
    table["new"] = new
    table.loc[eligible, "status"] = np.where(capped[eligible], "moved (step capped)", "moved")
    table.loc[eligible & (new == current), "status"] = "at target"
    reasons = []
    for i, name in enumerate(SIGNAL_NAMES):
        if not eligible[i] or new[i] == current[i]:
            continue
        verb = "raised" if new[i] > current[i] else "lowered"
        reasons.append(
            f"{name} {verb} {current[i]:.4f} -> {new[i]:.4f}: rank IC {ic[i]:+.3f} over {int(n[i])} trades "
            f"(t {table['t_stat'].iloc[i]:+.2f}), shrunk {ic_s[i]:+.3f}, target {target[i]:.4f}"
            + (f", step capped at {cap[i]:.4f}" if capped[i] else ""))
    if not reasons:
        reasons.append("every eligible weight is at its target; no weight moves")
    return WeightUpdate(new, table, reasons)


#: the gate the threshold tuner moves
CONVICTION_GATE = "conviction_below_threshold"


def _binding_of(binding: pd.DataFrame | None, strategy: str) -> tuple[str | None, int, int]:
    """Return ``(gate, alone, single)`` of the gate that alone held back most of ``strategy``'s entries."""
    if binding is None or binding.empty or strategy not in binding.index.get_level_values(0):
        return None, 0, 0
    mine = binding.loc[strategy]
    mine = mine[mine["alone"] > 0]
    if mine.empty:
        return None, 0, 0
    top = mine.sort_values("alone", ascending=False, kind="stable")
    return str(top.index[0]), int(top["alone"].iloc[0]), int(top["single"].iloc[0])


def tune_thresholds(trades: pd.DataFrame, current: Mapping[str, float], configured: Mapping[str, float],
                    now_ms: int, cfg: ThresholdConfig = ThresholdConfig(),
                    decimals: int = 4, binding: pd.DataFrame | None = None,
                    ) -> tuple[dict[str, float], pd.DataFrame, list[str]]:
    """Step each enabled strategy's conviction threshold toward the trade-rate band at positive expectancy.

    Only a gate that binds is loosened: under the band a strategy's threshold
    is lowered only when ``conviction_below_threshold`` is the gate that alone
    held back most of its would-be entries in ``binding`` (the
    ``(strategy, gate)`` table of :func:`botcore.analytics.trail.binding_gates`
    over the rate window). When another gate binds the threshold holds and
    the reason names that gate. Without a trail (``binding`` None) the
    threshold moves on the rate alone.

    Parameters
    ----------
    trades : DataFrame
        Closed trades of the learning window (``strategy_id``, ``net_pnl_usd``,
        ``entry_ts_ms``, ``exit_ts_ms``).
    current : mapping
        Active threshold per enabled strategy (the keys are the strategies tuned).
    configured : mapping
        Configured threshold per strategy (``config/strategies.yaml``), the drift anchor.
    now_ms : int
        End of the rate window.

    Returns
    -------
    (new thresholds, per-strategy table, reasons)
    """
    start = now_ms - int(cfg.rate_window_days * DAY_MS)
    entries = pd.to_numeric(trades["entry_ts_ms"], errors="coerce") if len(trades) else pd.Series(dtype=float)
    first = float(entries.min()) if len(trades) and entries.notna().any() else math.nan
    days = (now_ms - max(start, first)) / DAY_MS if math.isfinite(first) else 0.0
    in_window = trades[trades["exit_ts_ms"] >= start] if len(trades) else trades
    rate = len(in_window) / days if days > 0 else math.nan
    rate_known = days >= cfg.min_rate_days
    new: dict[str, float] = {}
    rows, reasons = [], []
    for strategy, theta in current.items():
        mine = trades[trades["strategy_id"] == strategy] if len(trades) else trades
        n = len(mine)
        pnl = mine["net_pnl_usd"].to_numpy(dtype=np.float64) if n else np.empty(0)
        exp_usd = float(pnl.mean()) if n else math.nan
        direction, why = 0, ""
        if n < cfg.min_strategy_trades:
            why = f"{n} trades < {cfg.min_strategy_trades}"
        elif exp_usd <= 0:
            direction, why = 1, f"expectancy {exp_usd:+.2f} USD/trade over {n} trades is not positive"
        elif rate_known and rate > cfg.max_trades_per_day:
            direction, why = 1, f"{rate:.1f} trades/day > {cfg.max_trades_per_day:g}"
        elif rate_known and rate < cfg.min_trades_per_day:
            direction, why = -1, (f"{rate:.1f} trades/day < {cfg.min_trades_per_day:g} at expectancy "
                                  f"{exp_usd:+.2f} USD/trade")
            gate, alone, single = _binding_of(binding, strategy)
            if binding is not None and gate != CONVICTION_GATE:
                direction = 0
                why += (f", but {gate} binds (alone {alone:,} of {single:,} symbol-minutes held back by one gate); "
                        "min_conviction does not bind and holds" if gate else
                        ", but no would-be entry was held back by one gate alone; min_conviction holds")
            elif binding is not None:
                why += f"; conviction binds (alone {alone:,} of {single:,} symbol-minutes held back by one gate)"
        elif not rate_known:
            why = f"trade rate needs {cfg.min_rate_days:g} days of history"
        else:
            why = f"{rate:.1f} trades/day in [{cfg.min_trades_per_day:g}, {cfg.max_trades_per_day:g}] at positive expectancy"
        anchor = float(configured.get(strategy, theta))
        lo = max(cfg.floor, anchor - cfg.max_drift)
        hi = min(cfg.ceiling, anchor + cfg.max_drift)
        value = round(float(np.clip(theta + direction * cfg.step, lo, hi)), decimals) if direction else float(theta)
        new[strategy] = value
        status = "held" if value == theta else ("raised" if value > theta else "lowered")
        if direction and value == theta:
            why += f" (at its bound [{lo:.2f}, {hi:.2f}])"
        rows.append({"strategy": strategy, "trades": n, "expectancy_usd": exp_usd, "trades_per_day": rate,
                     "configured": anchor, "current": float(theta), "new": value, "status": status, "why": why})
        if value != theta:
            reasons.append(f"min_conviction.{strategy} {status} {theta:.4f} -> {value:.4f}: {why}")
    table = pd.DataFrame(rows, columns=["strategy", "trades", "expectancy_usd", "trades_per_day", "configured",
                                        "current", "new", "status", "why"]).set_index("strategy")
    return new, table, reasons
