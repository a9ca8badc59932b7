"""Performance metrics over closed trades and an equity curve: THE one implementation.

The backtest summary, the 7-day review, the learning cycle and the dashboard
all call these functions, so their numbers agree by construction.

Inputs
------
``trades``
    A DataFrame with the columns of the ledger's ``trades`` table
    (:meth:`botcore.ledger.Ledger.trades`); the metrics read ``net_pnl_usd``,
    ``fees_usd``, ``funding_usd`` and, for exposure without an equity
    ``exposure_usd`` column, ``entry_ts_ms``, ``exit_ts_ms``, ``entry_price``
    and ``qty_base``. Money in USD; ``funding_usd`` is positive when received.
``equity``
    The ledger's equity table (columns ``ts_ms``, ``equity_usd`` and
    optionally ``exposure_usd``), or a Series of equity in USD indexed by
    int milliseconds UTC or by a ``DatetimeIndex``. Snapshots may come every
    minute (backtest) or every cycle (live); see :func:`equity_frame`.
``starting_cash``
    Equity at the start of the window, USD (the ledger's starting cash for a
    whole run; the equity just before the window for a review).

Definitions
-----------
- A trade is a **win** when its net P&L (after fees and funding) is > 0;
  anything else (a loss or exactly zero) is not a win.
- **win rate** = wins / trades; **expectancy** = mean net P&L per trade (USD).
- **profit factor** = sum of positive net P&L / |sum of negative net P&L|:
  ``inf`` with profits and no losses, ``nan`` without trades or with neither.
- **verdict** (:func:`verdict`): profit factor strictly above 1.2 "success",
  strictly below 0.8 "reassess the strategy", from 0.8 to 1.2 inclusive
  "continue" — but "insufficient evidence" below :data:`MIN_TRADES` (30,
  configurable) closed trades or during the burn-in (fewer closed trades in
  the whole ledger than the sizing's ``min_trades_for_stats``); the summary's
  ``evidence_missing`` says what is missing.
- **Sharpe** and **Sortino** use daily returns: equity is resampled to UTC
  calendar days (the last snapshot of each day, carried forward over days
  without one), ``starting_cash`` is the value before the first day, and the
  ratios are annualised by ``sqrt(365)`` (crypto trades every day). Sharpe =
  mean / standard deviation (ddof 1); Sortino = mean / downside deviation,
  ``sqrt(mean(min(r, 0) ** 2))`` over all days (target return 0). The
  functions need at least two daily returns, else ``nan``; the summary shows
  no annualised ratio from fewer than :data:`MIN_DAILY_RETURNS` (30) daily
  returns (``nan`` with the reason in ``annualised_note``).
- **Confidence intervals** (``*_ci_low`` / ``*_ci_high``, level
  :data:`CI_LEVEL`): percentile bootstrap (:func:`bootstrap_ci`) over the
  closed trades (profit factor, win rate, expectancy) and over the daily
  returns (Sharpe, when it is shown); fixed seed, so a report is reproducible.
- **Probabilistic Sharpe ratio** (:func:`probabilistic_sharpe_ratio`, Bailey
  and López de Prado 2012): the probability that the true daily Sharpe
  exceeds 0 given the sample's length, skewness and kurtosis (from 30 daily
  returns, as the annualised ratios).
- **Sign convention** (every table, summary and report): ``fees_usd`` is the
  amount PAID (> 0 a cost, < 0 a rebate), ``funding_usd`` the amount RECEIVED
  (> 0 received, < 0 paid), as in the ledger; ``net = gross - fees + funding``.
- **max drawdown** is the largest fall from a running peak of the full
  resolution equity (``starting_cash`` first), as a fraction of that peak
  and in USD.
- **exposure** is the time-weighted mean of notional / equity: each snapshot
  holds until the next one (the last until the window end). Without an
  ``exposure_usd`` column, the notional is rebuilt from the trades (entry
  notional of every trade open at the snapshot).
- **trades per day** = closed trades / window length in days.
- **return** = final equity / ``starting_cash`` - 1.

All functions are pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from botcore.clock import DAY_MS

__all__ = [
    "CI_LEVEL",
    "DAY_MS",
    "MIN_DAILY_RETURNS",
    "MIN_TRADES",
    "PERIODS_PER_YEAR",
    "REASSESS_BELOW",
    "SUCCESS_ABOVE",
    "VERDICT_CONTINUE",
    "VERDICT_INSUFFICIENT",
    "VERDICT_NO_TRADES",
    "VERDICT_REASSESS",
    "VERDICT_SUCCESS",
    "bootstrap_ci",
    "breakdown",
    "daily_equity",
    "evidence",
    "daily_returns",
    "equity_frame",
    "expectancy",
    "exposure",
    "max_drawdown",
    "payoff_ratio",
    "probabilistic_sharpe_ratio",
    "profit_factor",
    "sharpe_ratio",
    "sortino_ratio",
    "summary",
    "trades_per_day",
    "verdict",
    "win_rate",
]

PERIODS_PER_YEAR = 365
#: Profit factor strictly above this is a success.
SUCCESS_ABOVE = 1.2
#: Profit factor strictly below this calls for reassessing the strategy.
REASSESS_BELOW = 0.8
VERDICT_SUCCESS = "success"
VERDICT_CONTINUE = "continue"
VERDICT_REASSESS = "reassess the strategy"
VERDICT_NO_TRADES = "no trades"
VERDICT_INSUFFICIENT = "insufficient evidence"
#: Closed trades below which a verdict is "insufficient evidence".
MIN_TRADES = 30
#: Daily returns below which no annualised ratio (Sharpe, Sortino) is shown.
MIN_DAILY_RETURNS = 30
#: Two-sided level of every confidence interval.
CI_LEVEL = 0.95
#: Bootstrap resamples of :func:`bootstrap_ci` in :func:`summary`.
N_RESAMPLES = 2_000
#: Cap on resamples x sample size of one interval (time and memory of a long backtest's summary).
MAX_DRAWS = 10_000_000

#: Columns a trades frame must carry for :func:`summary`.
TRADE_COLUMNS = ("net_pnl_usd", "fees_usd", "funding_usd")


# --------------------------------------------------------------------------- helpers


def _values(x: pd.Series | np.ndarray | Sequence[float]) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).ravel()


def _f(x: float | np.floating) -> float:
    """Return a plain Python float (JSON-able, NaN and inf kept)."""
    return float(x)


def _check_trades(trades: pd.DataFrame, columns: Sequence[str] = TRADE_COLUMNS) -> None:
    if not isinstance(trades, pd.DataFrame):
        raise TypeError(f"trades: expected a DataFrame of ledger trades, got {type(trades).__name__}")
    missing = [c for c in columns if c not in trades.columns]
    if missing:
        raise ValueError(f"trades: missing columns {missing} (expected the ledger's trades table)")


# --------------------------------------------------------------------------- per-trade metrics


def win_rate(net_pnl_usd: pd.Series | np.ndarray | Sequence[float]) -> float:
    """Return the share of trades with net P&L > 0 (``nan`` without trades)."""
    pnl = _values(net_pnl_usd)
    return _f(np.mean(pnl > 0)) if pnl.size else math.nan


def profit_factor(net_pnl_usd: pd.Series | np.ndarray | Sequence[float]) -> float:
    """Return gross profit / gross loss of net P&L (``inf`` without losses, ``nan`` without either)."""
    pnl = _values(net_pnl_usd)
    profit = math.fsum(pnl[pnl > 0])
    loss = -math.fsum(pnl[pnl < 0])
    if loss > 0:
        return profit / loss
    return math.inf if profit > 0 else math.nan


def expectancy(net_pnl_usd: pd.Series | np.ndarray | Sequence[float]) -> float:
    """Return the mean net P&L per trade, USD (``nan`` without trades)."""
    pnl = _values(net_pnl_usd)
    return math.fsum(pnl) / pnl.size if pnl.size else math.nan


def payoff_ratio(net_pnl_usd: pd.Series | np.ndarray | Sequence[float]) -> float:
    """Return mean win / |mean loss| (``nan`` when either side is missing)."""
    pnl = _values(net_pnl_usd)
    wins, losses = pnl[pnl > 0], pnl[pnl <= 0]
    if not wins.size or not losses.size:
        return math.nan
    mean_loss = -math.fsum(losses) / losses.size
    return (math.fsum(wins) / wins.size) / mean_loss if mean_loss > 0 else math.inf


def verdict(profit_factor: float, *, n_trades: int | None = None, min_trades: int = MIN_TRADES,
            success_above: float = SUCCESS_ABOVE, reassess_below: float = REASSESS_BELOW) -> str:
    """Return the review verdict for a profit factor over ``n_trades`` closed trades.

    Strictly above ``success_above`` (1.2): ``"success"``; strictly below
    ``reassess_below`` (0.8): ``"reassess the strategy"``; from 0.8 to 1.2
    inclusive: ``"continue"``; ``nan`` (no trades): ``"no trades"``. With
    ``n_trades`` below ``min_trades``: ``"insufficient evidence"`` (without
    ``n_trades``, the profit factor alone).
    """
    pf = float(profit_factor)
    if n_trades == 0 or (n_trades is None and math.isnan(pf)):
        return VERDICT_NO_TRADES
    if n_trades is not None and n_trades < min_trades:
        return VERDICT_INSUFFICIENT
    if math.isnan(pf):
        return VERDICT_NO_TRADES
    if pf > success_above:
        return VERDICT_SUCCESS
    if pf < reassess_below:
        return VERDICT_REASSESS
    return VERDICT_CONTINUE


# --------------------------------------------------------------------------- equity


def equity_frame(equity: pd.DataFrame | pd.Series) -> pd.DataFrame:
    """Normalise an equity input to a frame indexed by int64 ms with ``equity_usd`` and ``exposure_usd``.

    Accepts the ledger's equity table (``ts_ms`` column), a frame indexed by
    time with an ``equity_usd`` column, or a Series of equity. ``exposure_usd``
    is NaN when absent. Rows are sorted by time (stable); for duplicate times
    the last row wins.
    """
    if isinstance(equity, pd.Series):
        frame = equity.rename("equity_usd").to_frame()
    elif isinstance(equity, pd.DataFrame):
        if "equity_usd" not in equity.columns:
            raise ValueError("equity: needs an 'equity_usd' column (the ledger's equity table)")
        frame = equity.set_index("ts_ms") if "ts_ms" in equity.columns else equity
        frame = frame[[c for c in ("equity_usd", "exposure_usd") if c in frame.columns]]
    else:
        raise TypeError(f"equity: expected a DataFrame or Series, got {type(equity).__name__}")
    index = frame.index
    if isinstance(index, pd.DatetimeIndex):
        if index.tz is not None:
            index = index.tz_convert("UTC").tz_localize(None)
        ts = index.as_unit("ms").asi8
    else:
        ts = np.asarray(index, dtype=np.int64)
    out = pd.DataFrame(
        {
            "equity_usd": frame["equity_usd"].to_numpy(dtype=np.float64),
            "exposure_usd": frame["exposure_usd"].to_numpy(dtype=np.float64)
            if "exposure_usd" in frame.columns else np.full(len(frame), np.nan),
        },
        index=pd.Index(ts, name="ts_ms"),
    )
    out = out.iloc[np.argsort(out.index.to_numpy(), kind="stable")]
    out = out[~out.index.duplicated(keep="last")]
    if not np.all(np.isfinite(out["equity_usd"].to_numpy())):
        raise ValueError("equity: equity_usd has missing or infinite values")
    return out


def daily_equity(equity: pd.DataFrame | pd.Series, starting_cash: float) -> pd.Series:
    """Return the equity at the close of each UTC day, ``starting_cash`` first.

    The first element (labelled the day before the first snapshot) is
    ``starting_cash``; days without a snapshot carry the previous close.
    """
    eq = equity_frame(equity)["equity_usd"]
    if eq.empty:
        return pd.Series([float(starting_cash)], dtype=np.float64, name="equity_usd")
    days = pd.to_datetime(eq.index.to_numpy() // DAY_MS * DAY_MS, unit="ms")
    closes = eq.groupby(days).last()
    full = pd.date_range(closes.index[0], closes.index[-1], freq="D")
    closes = closes.reindex(full).ffill()
    before = closes.index[0] - pd.Timedelta(days=1)
    out = pd.concat([pd.Series([float(starting_cash)], index=[before]), closes])
    out.name = "equity_usd"
    return out


def daily_returns(equity: pd.DataFrame | pd.Series, starting_cash: float) -> pd.Series:
    """Return the simple daily returns of :func:`daily_equity` (one per UTC day with a close)."""
    closes = daily_equity(equity, starting_cash)
    return (closes / closes.shift(1) - 1.0).iloc[1:]


def sharpe_ratio(returns: pd.Series | np.ndarray | Sequence[float], periods_per_year: int = PERIODS_PER_YEAR) -> float:
    """Return mean / std (ddof 1) * sqrt(periods_per_year); ``nan`` for < 2 returns or zero spread."""
    r = _values(returns)
    if r.size < 2:
        return math.nan
    sd = float(np.std(r, ddof=1))
    if sd == 0 or not math.isfinite(sd):
        return math.nan
    return float(np.mean(r)) / sd * math.sqrt(periods_per_year)


def sortino_ratio(returns: pd.Series | np.ndarray | Sequence[float], periods_per_year: int = PERIODS_PER_YEAR) -> float:
    """Return mean / downside deviation * sqrt(periods_per_year), target 0.

    Downside deviation is ``sqrt(mean(min(r, 0) ** 2))`` over all returns.
    ``nan`` for < 2 returns; ``inf`` with a positive mean and no down day.
    """
    r = _values(returns)
    if r.size < 2:
        return math.nan
    mean = float(np.mean(r))
    downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    if downside == 0:
        return math.inf if mean > 0 else math.nan
    return mean / downside * math.sqrt(periods_per_year)


def _pf_axis(x: np.ndarray, axis: int = -1) -> np.ndarray:
    profit = np.where(x > 0, x, 0.0).sum(axis=axis)
    loss = -np.where(x < 0, x, 0.0).sum(axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(loss > 0, profit / np.where(loss > 0, loss, 1.0), np.where(profit > 0, np.inf, np.nan))


def _sharpe_axis(x: np.ndarray, axis: int = -1) -> np.ndarray:
    sd = np.std(x, axis=axis, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, np.mean(x, axis=axis) / sd, np.nan) * math.sqrt(PERIODS_PER_YEAR)


#: Statistics :func:`bootstrap_ci` knows by name (each reduces along ``axis``).
STATISTICS = {
    "profit_factor": _pf_axis,
    "win_rate": lambda x, axis=-1: np.mean(x > 0, axis=axis),
    "expectancy": lambda x, axis=-1: np.mean(x, axis=axis),
    "sharpe": _sharpe_axis,
}


def bootstrap_ci(values: pd.Series | np.ndarray | Sequence[float], statistic: str, *, level: float = CI_LEVEL,
                 n_resamples: int = N_RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """Return the percentile bootstrap interval ``(low, high)`` of a statistic of ``values`` (iid resamples).

    ``statistic``: a name of :data:`STATISTICS` (``profit_factor``, ``win_rate``, ``expectancy``, ``sharpe``
    — annualised daily). The quantiles are order statistics (``inverted_cdf``), so a profit factor's ``inf``
    resamples (no loss drawn) stay ``inf`` instead of turning NaN; otherwise the interval is
    ``scipy.stats.bootstrap(..., method="percentile")``'s (``tests/test_analytics_metrics.py``). ``(nan, nan)``
    for fewer than two values or a statistic undefined in more than half the resamples. Samples longer than
    ``MAX_DRAWS / n_resamples`` get fewer resamples (at least 200; their intervals are narrow anyway).
    """
    x = _values(values)
    if x.size < 2:
        return math.nan, math.nan
    fn = STATISTICS[statistic]
    rng = np.random.default_rng(seed)
    n_resamples = max(200, min(int(n_resamples), MAX_DRAWS // x.size))  # bounded time for long samples
    chunk = max(1, min(n_resamples, 4_000_000 // x.size))  # bounded memory
    res = np.concatenate([fn(x[rng.integers(0, x.size, size=(min(chunk, int(n_resamples) - i), x.size))], axis=1)
                          for i in range(0, int(n_resamples), chunk)])
    res = res[~np.isnan(res)]
    if res.size * 2 < n_resamples:
        return math.nan, math.nan
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(res, [alpha, 1.0 - alpha], method="inverted_cdf")
    return _f(lo), _f(hi)


def probabilistic_sharpe_ratio(returns: pd.Series | np.ndarray | Sequence[float], benchmark_sharpe: float = 0.0) -> float:
    """Return the probabilistic Sharpe ratio: P(true per-period Sharpe > ``benchmark_sharpe``).

    Bailey and López de Prado (2012): ``Phi((SR - SR*) sqrt(n - 1) / sqrt(1 - skew SR + (kurt - 1) / 4 SR^2))``
    with the per-period (not annualised) Sharpe ``SR`` (ddof 1), the sample skewness and the non-excess
    kurtosis (biased, as ``vectorbt.returns.metrics.deflated_sharpe_ratio``, which is this with the expected
    maximum Sharpe of N trials as ``SR*``). ``nan`` for fewer than 3 returns or no spread.
    """
    r = _values(returns)
    if r.size < 3:
        return math.nan
    sd = float(np.std(r, ddof=1))
    if not sd > 0:
        return math.nan
    sr = float(np.mean(r)) / sd
    skew = float(sps.skew(r, bias=True))
    kurt = float(sps.kurtosis(r, fisher=False, bias=True))
    var = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr
    if not var > 0:
        return math.nan
    return _f(sps.norm.cdf((sr - benchmark_sharpe) * math.sqrt(r.size - 1) / math.sqrt(var)))


def evidence(n_trades: int, n_daily_returns: int, *, min_trades: int = MIN_TRADES,
             min_daily_returns: int = MIN_DAILY_RETURNS, lifetime_trades: int | None = None,
             burn_in_trades: int | None = None) -> dict[str, str]:
    """Return what a sample lacks: ``{"verdict": reason or "", "annualised": reason or ""}``.

    ``verdict``: fewer than ``min_trades`` closed trades in the window, or the burn-in (``lifetime_trades``,
    the closed trades of the whole ledger, below ``burn_in_trades``). ``annualised``: fewer than
    ``min_daily_returns`` daily returns.
    """
    why = []
    if n_trades < min_trades:
        why.append(f"{n_trades} closed trades of the {min_trades} a verdict needs")
    if lifetime_trades is not None and burn_in_trades is not None and lifetime_trades < burn_in_trades:
        why.append(f"burn-in: {lifetime_trades} closed trades in the whole ledger of the {burn_in_trades} "
                   "before statistics count")
    annual = ""
    if n_daily_returns < min_daily_returns:
        annual = (f"not shown: {n_daily_returns} daily returns, an annualised ratio needs {min_daily_returns} "
                  f"(sqrt(365) x the mean of {n_daily_returns} days is noise)")
    return {"verdict": "; ".join(why), "annualised": annual}


def max_drawdown(equity: pd.DataFrame | pd.Series, starting_cash: float) -> dict[str, float]:
    """Return the largest fall from a running peak (``starting_cash`` first).

    Returns ``{"pct": fraction of the peak, "usd": amount, "peak_ts_ms", "trough_ts_ms"}``
    (times -1 when there is no drawdown).
    """
    eq = equity_frame(equity)["equity_usd"]
    values = np.concatenate([[float(starting_cash)], eq.to_numpy()])
    ts = np.concatenate([[-1], eq.index.to_numpy()])
    peaks = np.maximum.accumulate(values)
    falls = peaks - values
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(peaks > 0, falls / peaks, 0.0)
    i = int(np.argmax(pct))
    if pct[i] <= 0:
        return {"pct": 0.0, "usd": 0.0, "peak_ts_ms": -1, "trough_ts_ms": -1}
    peak_i = int(np.flatnonzero(values[: i + 1] == peaks[i])[-1])
    return {"pct": _f(pct[i]), "usd": _f(falls[i]), "peak_ts_ms": int(ts[peak_i]), "trough_ts_ms": int(ts[i])}


def drawdown_series(equity: pd.DataFrame | pd.Series, starting_cash: float) -> pd.Series:
    """Return the drawdown (fraction of the running peak, <= 0) at each snapshot, for plots."""
    eq = equity_frame(equity)["equity_usd"]
    peaks = np.maximum.accumulate(np.concatenate([[float(starting_cash)], eq.to_numpy()]))[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peaks > 0, eq.to_numpy() / peaks - 1.0, 0.0)
    return pd.Series(dd, index=eq.index, name="drawdown")


def open_notional(trades: pd.DataFrame, ts_ms: np.ndarray) -> np.ndarray:
    """Return, at each time, the summed entry notional (``qty_base * entry_price``) of the trades open then.

    A trade is open on ``[entry_ts_ms, exit_ts_ms)``; adopted trades (no
    entry time) are skipped.
    """
    _check_trades(trades, ("entry_ts_ms", "exit_ts_ms", "entry_price", "qty_base"))
    ts = np.asarray(ts_ms, dtype=np.int64)
    t = trades[trades["entry_ts_ms"].notna()]
    if t.empty:
        return np.zeros(ts.size)
    entry = t["entry_ts_ms"].to_numpy(dtype=np.int64)
    exit_ = t["exit_ts_ms"].to_numpy(dtype=np.int64)
    notional = np.abs(t["qty_base"].to_numpy(dtype=np.float64) * t["entry_price"].to_numpy(dtype=np.float64))
    times = np.concatenate([entry, exit_])
    deltas = np.concatenate([notional, -notional])
    order = np.argsort(times, kind="stable")
    times, cum = times[order], np.cumsum(deltas[order])
    # value after every event at or before ts
    idx = np.searchsorted(times, ts, side="right") - 1
    out = np.where(idx >= 0, cum[np.maximum(idx, 0)], 0.0)
    return np.maximum(out, 0.0)


def exposure(equity: pd.DataFrame | pd.Series, trades: pd.DataFrame | None = None, end_ms: int | None = None) -> float:
    """Return the time-weighted mean of notional / equity over the snapshots.

    Each snapshot holds until the next one, the last until ``end_ms`` (default:
    itself); with a single snapshot (or zero total time) the plain mean. The
    notional is the ``exposure_usd`` column, else rebuilt from ``trades``
    (:func:`open_notional`); ``nan`` when neither is available.
    """
    eq = equity_frame(equity)
    if eq.empty:
        return math.nan
    ts = eq.index.to_numpy()
    notional = eq["exposure_usd"].to_numpy()
    if np.isnan(notional).any():
        if trades is None:
            return math.nan
        notional = open_notional(trades, ts)
    equity_usd = eq["equity_usd"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(equity_usd > 0, notional / equity_usd, np.nan)
    end = int(ts[-1]) if end_ms is None else max(int(end_ms), int(ts[-1]))
    weights = np.diff(np.concatenate([ts, [end]])).astype(np.float64)
    ok = np.isfinite(ratio)
    if not ok.any():
        return math.nan
    if weights[ok].sum() <= 0:
        return _f(np.mean(ratio[ok]))
    return _f(np.sum(ratio[ok] * weights[ok]) / weights[ok].sum())


def trades_per_day(n_trades: int, days: float) -> float:
    """Return ``n_trades / days`` (``nan`` for an empty window)."""
    return n_trades / days if days > 0 else math.nan


# --------------------------------------------------------------------------- summary


def window_bounds(trades: pd.DataFrame, equity: pd.DataFrame | pd.Series, start_ms: int | None = None,
                  end_ms: int | None = None) -> tuple[int, int]:
    """Return the window ``(start_ms, end_ms)``: the given bounds, else the equity's span, else the trades'."""
    eq = equity_frame(equity)
    if start_ms is None:
        if len(eq):
            start_ms = int(eq.index[0])
        elif len(trades):
            entries = trades["entry_ts_ms"].dropna() if "entry_ts_ms" in trades.columns else pd.Series([], dtype=float)
            start_ms = int(min(entries.min() if len(entries) else math.inf, trades["exit_ts_ms"].min()))
        else:
            start_ms = 0
    if end_ms is None:
        if len(eq):
            end_ms = int(eq.index[-1])
        elif len(trades):
            end_ms = int(trades["exit_ts_ms"].max())
        else:
            end_ms = int(start_ms)
    return int(start_ms), int(end_ms)


def summary(trades: pd.DataFrame, equity: pd.DataFrame | pd.Series, starting_cash: float, *,
            start_ms: int | None = None, end_ms: int | None = None, min_trades: int = MIN_TRADES,
            min_daily_returns: int = MIN_DAILY_RETURNS, lifetime_trades: int | None = None,
            burn_in_trades: int | None = None, n_resamples: int = N_RESAMPLES, seed: int = 0) -> dict[str, Any]:
    """Return every headline metric of a run or a review window as a flat, JSON-able dict.

    Parameters
    ----------
    trades : DataFrame
        Closed trades (the ledger's trades table, restricted to the window).
    equity : DataFrame or Series
        Equity snapshots in the window (see :func:`equity_frame`).
    starting_cash : float
        Equity at the start of the window, USD.
    start_ms, end_ms : int, optional
        Window bounds in ms UTC; default the equity's first and last snapshot
        (else the trades' first entry and last exit).
    min_trades, min_daily_returns : int
        The evidence a verdict and an annualised ratio need (:func:`evidence`).
    lifetime_trades, burn_in_trades : int, optional
        Closed trades of the whole ledger and the burn-in (the verdict is
        "insufficient evidence" while the first is below the second).
    n_resamples, seed : int
        Of the bootstrap intervals.

    Returns
    -------
    dict
        ``start_ms, end_ms, days, starting_equity_usd, final_equity_usd,
        total_return, net_pnl_usd, n_trades, n_wins, n_losses, win_rate,
        gross_profit_usd, gross_loss_usd, profit_factor, verdict,
        profit_factor_verdict, evidence_missing, min_trades, expectancy_usd,
        avg_win_usd, avg_loss_usd, payoff_ratio, sharpe, sortino,
        annualised_note, psr, max_drawdown_pct, max_drawdown_usd, fees_usd,
        funding_usd, exposure, trades_per_day, n_days_returns, ci_level`` and
        ``{profit_factor,win_rate,expectancy_usd,sharpe}_ci_{low,high}`` —
        see the module docstring for each definition. Floats may be ``nan`` or
        ``inf`` where undefined (or not shown for want of evidence).
    """
    _check_trades(trades)
    starting_cash = float(starting_cash)
    if not math.isfinite(starting_cash) or starting_cash <= 0:
        raise ValueError(f"starting_cash: must be a finite amount > 0, got {starting_cash!r}")
    eq = equity_frame(equity)
    start, end = window_bounds(trades, eq, start_ms, end_ms)
    days = (end - start) / DAY_MS
    pnl = trades["net_pnl_usd"].to_numpy(dtype=np.float64)
    wins, losses = pnl[pnl > 0], pnl[pnl <= 0]
    final_equity = float(eq["equity_usd"].iloc[-1]) if len(eq) else starting_cash + math.fsum(pnl)
    rets = daily_returns(eq, starting_cash)
    dd = max_drawdown(eq, starting_cash)
    pf = profit_factor(pnl)
    missing = evidence(int(pnl.size), int(len(rets)), min_trades=min_trades, min_daily_returns=min_daily_returns,
                       lifetime_trades=lifetime_trades, burn_in_trades=burn_in_trades)
    annualised = not missing["annualised"]
    ci = {name: bootstrap_ci(pnl, name, n_resamples=n_resamples, seed=seed)
          for name in ("profit_factor", "win_rate", "expectancy")}
    ci["sharpe"] = (bootstrap_ci(rets, "sharpe", n_resamples=n_resamples, seed=seed) if annualised
                    else (math.nan, math.nan))
    if not pnl.size:
        final_verdict = VERDICT_NO_TRADES
    elif missing["verdict"]:
        final_verdict = VERDICT_INSUFFICIENT
    else:
        final_verdict = verdict(pf)
    has_exposure_inputs = not eq["exposure_usd"].isna().any() or {
        "entry_ts_ms", "exit_ts_ms", "entry_price", "qty_base"} <= set(trades.columns)
    return {
        "start_ms": start,
        "end_ms": end,
        "days": _f(days),
        "starting_equity_usd": starting_cash,
        "final_equity_usd": _f(final_equity),
        "total_return": _f(final_equity / starting_cash - 1.0),
        "net_pnl_usd": _f(math.fsum(pnl)),
        "n_trades": int(pnl.size),
        "n_wins": int(wins.size),
        "n_losses": int(losses.size),
        "win_rate": win_rate(pnl),
        "gross_profit_usd": _f(math.fsum(wins)),
        "gross_loss_usd": _f(-math.fsum(pnl[pnl < 0])),
        "profit_factor": pf,
        "profit_factor_ci_low": ci["profit_factor"][0],
        "profit_factor_ci_high": ci["profit_factor"][1],
        "verdict": final_verdict,
        "profit_factor_verdict": verdict(pf),
        "evidence_missing": missing["verdict"],
        "min_trades": int(min_trades),
        "win_rate_ci_low": ci["win_rate"][0],
        "win_rate_ci_high": ci["win_rate"][1],
        "expectancy_usd": expectancy(pnl),
        "expectancy_usd_ci_low": ci["expectancy"][0],
        "expectancy_usd_ci_high": ci["expectancy"][1],
        "avg_win_usd": _f(math.fsum(wins) / wins.size) if wins.size else math.nan,
        "avg_loss_usd": _f(math.fsum(losses) / losses.size) if losses.size else math.nan,
        "payoff_ratio": payoff_ratio(pnl),
        "sharpe": sharpe_ratio(rets) if annualised else math.nan,
        "sharpe_ci_low": ci["sharpe"][0],
        "sharpe_ci_high": ci["sharpe"][1],
        "sortino": sortino_ratio(rets) if annualised else math.nan,
        "annualised_note": missing["annualised"],
        "psr": probabilistic_sharpe_ratio(rets) if annualised else math.nan,
        "n_days_returns": int(len(rets)),
        "ci_level": CI_LEVEL,
        "max_drawdown_pct": dd["pct"],
        "max_drawdown_usd": dd["usd"],
        "fees_usd": _f(math.fsum(trades["fees_usd"].to_numpy(dtype=np.float64))),
        "funding_usd": _f(math.fsum(trades["funding_usd"].to_numpy(dtype=np.float64))),
        "exposure": exposure(eq, trades if has_exposure_inputs else None, end) if len(eq) else math.nan,
        "trades_per_day": trades_per_day(int(pnl.size), days),
    }


# --------------------------------------------------------------------------- breakdowns

BREAKDOWN_COLUMNS = ("trades", "wins", "win_rate", "net_pnl_usd", "gross_pnl_usd", "fees_usd", "funding_usd",
                     "profit_factor", "expectancy_usd", "verdict")


def breakdown(trades: pd.DataFrame, by: str | pd.Series | Sequence[Any], *, name: str | None = None,
              min_trades: int = MIN_TRADES) -> pd.DataFrame:
    """Return per-group trade metrics, one row per group, sorted by net P&L (best first).

    ``by`` is a column of ``trades`` or labels aligned with its rows. Columns:
    ``trades, wins, win_rate, net_pnl_usd, gross_pnl_usd, fees_usd,
    funding_usd, profit_factor, expectancy_usd, verdict`` (the same functions
    as :func:`summary`, applied per group; a group of fewer than ``min_trades``
    trades has the verdict "insufficient evidence").
    """
    _check_trades(trades)
    if isinstance(by, str):
        if by not in trades.columns:
            raise ValueError(f"breakdown: trades have no column {by!r}")
        labels = trades[by].to_numpy()
        name = name or by
    else:
        labels = np.asarray(by, dtype=object)
        if len(labels) != len(trades):
            raise ValueError(f"breakdown: {len(labels)} labels for {len(trades)} trades")
        name = name or getattr(by, "name", None) or "group"
    rows = {}
    gross = trades["gross_pnl_usd"] if "gross_pnl_usd" in trades.columns else pd.Series(np.nan, index=trades.index)
    for label in pd.unique(labels):
        mask = labels == label
        pnl = trades["net_pnl_usd"].to_numpy(dtype=np.float64)[mask]
        pf = profit_factor(pnl)
        rows[label] = {
            "trades": int(mask.sum()),
            "wins": int((pnl > 0).sum()),
            "win_rate": win_rate(pnl),
            "net_pnl_usd": math.fsum(pnl),
            "gross_pnl_usd": math.fsum(gross.to_numpy(dtype=np.float64)[mask]),
            "fees_usd": math.fsum(trades["fees_usd"].to_numpy(dtype=np.float64)[mask]),
            "funding_usd": math.fsum(trades["funding_usd"].to_numpy(dtype=np.float64)[mask]),
            "profit_factor": pf,
            "expectancy_usd": expectancy(pnl),
            "verdict": verdict(pf, n_trades=int(mask.sum()), min_trades=min_trades),
        }
    out = pd.DataFrame.from_dict(rows, orient="index", columns=list(BREAKDOWN_COLUMNS))
    out.index.name = name
    if len(out):
        out = out.sort_values("net_pnl_usd", ascending=False, kind="stable")
    return out


def sector_labels(symbols: Sequence[str] | pd.Series, sectors: Mapping[str, str]) -> list[str]:
    """Return the sector of each symbol (``"unknown"`` for a symbol outside the mapping)."""
    return [sectors.get(s, "unknown") for s in symbols]
