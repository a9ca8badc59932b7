"""Kelly inputs from outcomes: per strategy, a monotone map conviction -> P(win) and the payoff ratio.

A trade *wins* when its net return (P&L after fees and funding over the entry
notional) is above 0. :func:`fit_calibration` fits the win probability as a
non-decreasing function of the entry conviction by isotonic regression
(:func:`scipy.optimize.isotonic_regression`, pool-adjacent-violators),
compresses it to at most :data:`~botcore.strategy.enums.N_CALIB_KNOTS` knots
(block means of the fitted curve, so the map stays monotone) and takes the
payoff ratio ``mean win / mean loss``. The kernel interpolates the knots
linearly (``calibrated_win_prob_nb``).

:func:`walk_forward` is the evidence: the trades in time order are cut into
consecutive blocks; fold ``k`` fits on the blocks before it and is scored on
block ``k`` only (Brier score of the calibration and of the Kelly prior,
realised win rate with its Wilson interval, realised payoff with a bootstrap
interval). :func:`calibration_overrides` turns a fit into the ``calib_*``
parameter overrides a parameter version stores.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import isotonic_regression

from botcore.strategy.enums import N_CALIB_KNOTS

__all__ = ["Calibration", "calibration_overrides", "fit_calibration", "prior_win_prob", "walk_forward",
           "wilson_interval"]

#: fewest trades a calibration is fitted on
MIN_TRADES = 30


@dataclass(frozen=True)
class Calibration:
    """A fitted calibration: knots (increasing conviction, non-decreasing win probability) and the payoff."""

    conviction: np.ndarray
    win_prob: np.ndarray
    payoff: float
    n_trades: int
    win_rate: float

    def predict(self, conviction: np.ndarray) -> np.ndarray:
        """Win probability at ``conviction`` (linear between knots, flat beyond), as the kernel computes it."""
        return np.interp(np.asarray(conviction, dtype=np.float64), self.conviction, self.win_prob)

    def to_dict(self) -> dict:
        return {"conviction": self.conviction.tolist(), "win_prob": self.win_prob.tolist(), "payoff": self.payoff,
                "n_trades": self.n_trades, "win_rate": self.win_rate}


def wilson_interval(wins: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a win rate (95% by default); ``(nan, nan)`` without trades."""
    if n <= 0:
        return math.nan, math.nan
    p = wins / n
    den = 1.0 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


def _payoff(returns: np.ndarray) -> float:
    wins, losses = returns[returns > 0], -returns[returns <= 0]
    if not len(wins) or not len(losses) or not losses.mean() > 0:
        return math.nan
    return float(wins.mean() / losses.mean())


def fit_calibration(conviction: np.ndarray, net_return: np.ndarray,
                    n_knots: int = N_CALIB_KNOTS) -> Calibration | None:
    """Fit P(net return > 0 | conviction) (non-decreasing) and the payoff; None with too few, all-win or all-loss trades.

    Rows with a missing conviction or return are dropped (never filled).
    """
    c = np.asarray(conviction, dtype=np.float64)
    r = np.asarray(net_return, dtype=np.float64)
    ok = np.isfinite(c) & np.isfinite(r)
    c, r = c[ok], r[ok]
    payoff = _payoff(r)
    if len(c) < MIN_TRADES or not math.isfinite(payoff):
        return None
    order = np.argsort(c, kind="stable")
    c, won = c[order], (r[order] > 0).astype(np.float64)
    ux, inv, counts = np.unique(c, return_inverse=True, return_counts=True)  # tied convictions pool first
    mean_won = np.bincount(inv, weights=won) / counts
    fitted = isotonic_regression(mean_won, weights=counts.astype(np.float64), increasing=True).x
    blocks = np.array_split(np.arange(len(ux)), min(n_knots, len(ux)))
    kx = np.array([np.average(ux[b], weights=counts[b]) for b in blocks])
    ky = np.array([np.average(fitted[b], weights=counts[b]) for b in blocks])
    keep = np.concatenate([[True], np.diff(kx) > 1e-5])  # knots stay distinct after rounding to 1e-6
    kx, ky = kx[keep], np.clip(np.maximum.accumulate(ky[keep]), 0.0, 1.0)
    return Calibration(kx, ky, payoff, int(len(c)), float(won.mean()))


def prior_win_prob(conviction: np.ndarray, default_win_rate: float = 0.45, slope: float = 0.25,
                   pivot: float = 0.5, cap: float = 0.70) -> np.ndarray:
    """The kernel's uncalibrated win probability (the bootstrap prior with the conviction adjustment)."""
    return np.clip(default_win_rate + slope * (np.asarray(conviction, dtype=np.float64) - pivot), 0.0, cap)


def _utc(ms: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000)) if math.isfinite(ms) else ""


def walk_forward(trades: pd.DataFrame, n_folds: int = 4, n_boot: int = 500, seed: int = 0,
                 prior: dict | None = None) -> pd.DataFrame:
    """Score calibrations out of sample: fit on the trades before each block, score on that block only.

    ``trades`` has ``entry_ts_ms``, ``conviction`` and ``net_return``. The
    trades in entry order are cut into ``n_folds + 1`` consecutive blocks;
    fold ``k`` (1..n_folds) fits on blocks ``0..k-1`` and scores on block
    ``k``. Columns: ``fit_trades``, ``fit_end`` / ``score_start`` /
    ``score_end`` (UTC) and their ``*_ms``, ``score_trades``, ``predicted``
    (mean calibrated win probability), ``realised`` (win rate) with
    ``realised_lo``/``_hi`` (Wilson 95%), ``brier`` (calibration) and
    ``brier_prior`` (the Kelly prior, ``prior`` keyword arguments of
    :func:`prior_win_prob`), ``payoff_fit``, ``payoff`` (realised) with
    ``payoff_lo``/``_hi`` (bootstrap 95%). A fold without a calibration
    (too few trades before it) has NaN scores.
    """
    t = trades[["entry_ts_ms", "conviction", "net_return"]].dropna().sort_values("entry_ts_ms", kind="stable")
    blocks = np.array_split(np.arange(len(t)), n_folds + 1)
    rng = np.random.default_rng(seed)
    ts = t["entry_ts_ms"].to_numpy(dtype=np.float64)
    c = t["conviction"].to_numpy(dtype=np.float64)
    r = t["net_return"].to_numpy(dtype=np.float64)
    rows = []
    for k in range(1, n_folds + 1):
        fit_idx = np.concatenate(blocks[:k])
        score_idx = blocks[k]
        if not len(score_idx) or not len(fit_idx):
            continue
        cal = fit_calibration(c[fit_idx], r[fit_idx])
        won = (r[score_idx] > 0).astype(np.float64)
        lo, hi = wilson_interval(int(won.sum()), len(won))
        row = {"fold": k, "fit_trades": len(fit_idx), "fit_end_ms": ts[fit_idx].max(), "fit_end": _utc(ts[fit_idx].max()),
               "score_start_ms": ts[score_idx].min(), "score_start": _utc(ts[score_idx].min()),
               "score_end_ms": ts[score_idx].max(), "score_end": _utc(ts[score_idx].max()),
               "score_trades": len(score_idx), "realised": float(won.mean()), "realised_lo": lo, "realised_hi": hi,
               "brier_prior": float(np.mean((prior_win_prob(c[score_idx], **(prior or {})) - won) ** 2)),
               "predicted": math.nan, "brier": math.nan, "payoff_fit": math.nan}
        if cal is not None:
            p = cal.predict(c[score_idx])
            row.update(predicted=float(p.mean()), brier=float(np.mean((p - won) ** 2)), payoff_fit=cal.payoff)
        boots = [_payoff(r[score_idx][rng.integers(0, len(score_idx), len(score_idx))]) for _ in range(n_boot)]
        boot = np.array([b for b in boots if math.isfinite(b)])
        row["payoff"] = _payoff(r[score_idx])
        row["payoff_lo"], row["payoff_hi"] = (float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))) \
            if len(boot) else (math.nan, math.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def brier_skill_interval(folds: pd.DataFrame) -> tuple[float, float, float]:
    """Mean out-of-sample Brier improvement over the prior (prior - calibrated, > 0 is better) with a 95% t-interval."""
    d = (folds["brier_prior"] - folds["brier"]).dropna().to_numpy(dtype=np.float64)
    if len(d) < 2:
        return (float(d.mean()) if len(d) else math.nan), math.nan, math.nan
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    return float(d.mean()), float(d.mean() - half), float(d.mean() + half)


def calibration_overrides(strategy: str, cal: Calibration) -> dict[str, object]:
    """The ``calib_*`` parameter overrides of one strategy's calibration (for a parameter version)."""
    return {f"calib_conviction.{strategy}": [round(float(x), 6) for x in cal.conviction],
            f"calib_win_prob.{strategy}": [round(float(y), 6) for y in cal.win_prob],
            f"calib_payoff.{strategy}": round(float(cal.payoff), 6)}
