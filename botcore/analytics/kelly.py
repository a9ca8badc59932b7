"""Kelly calibration from the trade memory, with bootstrap confidence intervals.

For each strategy, over its last ``memory`` closed trades (the sizing
``trade_memory``), estimate what the kernel's Kelly sizing estimates
(:func:`botcore.strategy.nb.kelly_inputs_nb`): the win rate ``p`` and the
payoff ``b = mean win / mean loss`` of the net returns (clipped to
``[min_payoff, max_payoff]``), and the full Kelly fraction
``f* = p - (1 - p) / b`` (:func:`botcore.strategy.nb.kelly_f_nb`).

The uncertainty comes from a bootstrap of those trades: percentile intervals
of ``p``, ``b`` and ``f*``, and the share of resamples with an edge
(``f* > 0``). The fraction of full Kelly to use given that uncertainty is
the shrinkage ``f*^2 / (f*^2 + var(f*))`` (Baker & McHale, 2013: with an
estimated edge, betting the point estimate overbets; scaling by the share
of the estimate's second moment that is signal maximises expected log
growth to first order), capped by the configured ``kelly_fraction``; no
edge (``f* <= 0``) means 0.

A trade's net return is ``net_pnl_usd / (entry_price * qty_base)``, the
quantity the kernel's trade memory holds.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from botcore.strategy.nb import kelly_f_nb

__all__ = ["trade_returns", "kelly_inputs", "bootstrap_samples", "bootstrap_kelly", "kelly_table", "proposed_kelly_fraction"]

MIN_PAYOFF = 0.1   # as the kernel's kelly_min_payoff default
MAX_PAYOFF = 5.0   # as the kernel's kelly_max_payoff default


def trade_returns(trades: pd.DataFrame) -> pd.Series:
    """Return each trade's net return as a fraction of its entry notional."""
    notional = (trades["entry_price"] * trades["qty_base"]).abs()
    return (trades["net_pnl_usd"] / notional.where(notional > 0)).rename("net_return")


def kelly_inputs(returns: np.ndarray, min_payoff: float = MIN_PAYOFF, max_payoff: float = MAX_PAYOFF) -> tuple[float, float]:
    """Return ``(p, b)`` of a sample of net returns, with the kernel's rules for all-win or all-loss samples."""
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    if not r.size:
        return math.nan, math.nan
    wins, losses = r[r > 0], r[r <= 0]
    p = wins.size / r.size
    mean_loss = -float(losses.mean()) if losses.size else 0.0
    if not wins.size:
        b = min_payoff
    elif not losses.size or not mean_loss > 0:
        b = max_payoff
    else:
        b = float(wins.mean()) / mean_loss
    return p, min(max(b, min_payoff), max_payoff)


def _kelly(p: float, b: float) -> float:
    return float(kelly_f_nb(p, b)) if math.isfinite(p) and math.isfinite(b) else math.nan


def bootstrap_samples(returns: np.ndarray, n_boot: int = 2000, seed: int = 0, min_payoff: float = MIN_PAYOFF,
                      max_payoff: float = MAX_PAYOFF) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``n_boot`` bootstrap resamples' ``(p, b, f*)`` of a sample of net returns (same rules as :func:`kelly_inputs`)."""
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    n = r.size
    if n == 0:
        empty = np.empty(0)
        return empty, empty, empty
    rng = np.random.default_rng(seed)
    samples = r[rng.integers(0, n, size=(n_boot, n))]
    wins = samples > 0
    n_win = wins.sum(axis=1)
    ps = n_win / n
    sum_win = np.where(wins, samples, 0.0).sum(axis=1)
    sum_loss = -np.where(~wins, samples, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_win = sum_win / n_win
        mean_loss = sum_loss / (n - n_win)
        bs = np.where(n_win == 0, min_payoff,
                      np.where((n_win == n) | ~(mean_loss > 0), max_payoff, mean_win / mean_loss))
    bs = np.clip(bs, min_payoff, max_payoff)
    return ps, bs, ps - (1 - ps) / bs


def bootstrap_kelly(returns: np.ndarray, n_boot: int = 2000, ci: float = 0.90, seed: int = 0,
                    min_payoff: float = MIN_PAYOFF, max_payoff: float = MAX_PAYOFF) -> dict[str, float]:
    """Return point estimates and bootstrap intervals of ``p``, ``b`` and ``f*`` for one sample.

    Keys: ``n, win_rate, win_rate_lo, win_rate_hi, payoff, payoff_lo, payoff_hi,
    kelly_f, kelly_f_lo, kelly_f_hi, kelly_f_sd, p_edge`` (share of resamples
    with ``f* > 0``) and ``shrinkage`` (``f*^2 / (f*^2 + sd^2)``, 0 without an edge).
    """
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    n = int(r.size)
    p, b = kelly_inputs(r, min_payoff, max_payoff)
    f = _kelly(p, b)
    out = {"n": n, "win_rate": p, "payoff": b, "kelly_f": f}
    lo_q, hi_q = (1 - ci) / 2, 1 - (1 - ci) / 2
    if n < 2:
        out.update({k: math.nan for k in ("win_rate_lo", "win_rate_hi", "payoff_lo", "payoff_hi", "kelly_f_lo",
                                          "kelly_f_hi", "kelly_f_sd", "p_edge")})
        out["shrinkage"] = 0.0
        return out
    ps, bs, fs = bootstrap_samples(r, n_boot, seed, min_payoff, max_payoff)
    sd = float(np.std(fs, ddof=1))
    out.update({
        "win_rate_lo": float(np.quantile(ps, lo_q)), "win_rate_hi": float(np.quantile(ps, hi_q)),
        "payoff_lo": float(np.quantile(bs, lo_q)), "payoff_hi": float(np.quantile(bs, hi_q)),
        "kelly_f_lo": float(np.quantile(fs, lo_q)), "kelly_f_hi": float(np.quantile(fs, hi_q)),
        "kelly_f_sd": sd, "p_edge": float(np.mean(fs > 0)),
        "shrinkage": float(f * f / (f * f + sd * sd)) if f > 0 and (f * f + sd * sd) > 0 else 0.0,
    })
    return out


def kelly_table(trades: pd.DataFrame, by: str = "strategy_id", memory: int = 50, n_boot: int = 2000,
                ci: float = 0.90, seed: int = 0, kelly_fraction: float = 0.3) -> pd.DataFrame:
    """Return the bootstrap Kelly estimates per group over each group's last ``memory`` trades.

    Adds ``fraction_to_use`` = ``min(kelly_fraction, shrinkage)`` (the multiplier
    of full Kelly the uncertainty allows) and ``size_fraction`` = that times
    ``f*`` (the share of equity it implies before the other scalings), both
    0 without an edge.
    """
    rows = {}
    t = trades.sort_values("exit_ts_ms", kind="stable")
    returns = trade_returns(t)
    for i, (label, idx) in enumerate(t.groupby(by, sort=True).groups.items()):
        r = returns.loc[idx].to_numpy()[-memory:]
        est = bootstrap_kelly(r, n_boot=n_boot, ci=ci, seed=seed + i)
        use = min(kelly_fraction, est["shrinkage"]) if est["kelly_f"] > 0 else 0.0
        est["fraction_to_use"] = use
        est["size_fraction"] = use * est["kelly_f"] if est["kelly_f"] > 0 else 0.0
        rows[label] = est
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "strategy" if by == "strategy_id" else by
    return out


def proposed_kelly_fraction(table: pd.DataFrame, current: float, floor: float = 0.05) -> float:
    """Return one global ``kelly_fraction`` for the sizing parameters from :func:`kelly_table`.

    The trade-weighted mean of ``fraction_to_use`` over the strategies with an
    edge, never above ``current`` and never below ``floor`` (Kelly already
    sizes a no-edge strategy to zero on its own). ``current`` when no strategy
    has an edge or no trades.
    """
    edge = table[(table["kelly_f"] > 0) & (table["n"] > 0)]
    if edge.empty:
        return float(current)
    value = float(np.average(edge["fraction_to_use"], weights=edge["n"]))
    return float(min(current, max(floor, round(value, 3))))
