"""The review's tearsheet: benchmarks, daily and monthly returns, rolling Sharpe, drawdowns, trade distribution.

What a quant reads beside the headline metrics (after quantstats' tearsheet),
computed from a review window (:class:`botcore.reports.review.ReviewData`)
and the market store the run traded:

- :func:`benchmark_equity`: buy-and-hold BTC and the equal-weight universe
  over the same window, scaled to the bot's starting equity, from the store's
  1m closes (daily closes, UTC); :func:`excess_returns` the bot's return
  minus each benchmark's.
- :func:`daily_pnl`, :func:`monthly_returns`: the P&L of each UTC day (USD)
  and the compounded return of each month (a year x month table).
- :func:`rolling_sharpe`: annualised Sharpe of daily returns over a rolling
  window, only where the window is full (NaN before: never a made-up value).
- :func:`worst_drawdowns`: the deepest peak-to-trough falls with their dates,
  length and recovery.
- figures (matplotlib, no pyplot state) of each, and :func:`human_columns`
  to rename report columns (``net_pnl_usd`` -> ``Net P&L (USD)``).

Sign convention everywhere: a gain is positive, a loss and a drawdown negative.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from botcore.analytics.metrics import daily_equity, drawdown_series, equity_frame
from botcore.clock import DAY_MS, utc
from botcore.market.store import Store
from botcore.reports.format import human_name

__all__ = ["BTC", "benchmark_equity", "excess_returns", "daily_pnl", "monthly_returns", "rolling_sharpe",
           "worst_drawdowns", "trade_pnl_stats", "run_store", "human_columns", "benchmark_figure",
           "daily_pnl_figure", "monthly_heatmap_figure", "rolling_sharpe_figure", "underwater_figure",
           "trade_distribution_figure"]

BTC = "BTC/USDT:USDT"
PERIODS_PER_YEAR = 365


def human_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with report column names a person reads (:func:`botcore.reports.format.human_name`)."""
    return frame.rename(columns=human_name)


def _monthly_closes(closes: pd.Series) -> pd.Series:
    days = closes.iloc[1:]  # the first value is the starting equity, labelled the day before the window
    return days.groupby([days.index.year, days.index.month]).last()


def run_store(meta: Mapping[str, Any], ledger_path: str | os.PathLike) -> Path | None:
    """Return the market store the run traded: a replay's ``data``, else a live run's ``<ledger>.market``, else None."""
    replay = meta.get("replay")
    if isinstance(replay, Mapping) and replay.get("data") and Path(replay["data"]).is_dir():
        return Path(replay["data"])
    recorded = Path(f"{os.fspath(ledger_path)}.market")
    return recorded if recorded.is_dir() else None


def _daily_closes(store: Any, symbol: str, start_ms: int, end_ms: int) -> pd.Series:
    bars = store.candles(symbol, "1m", start_ms - DAY_MS, end_ms)
    if not len(bars):
        return pd.Series(dtype=float)
    t = bars["ts"].to_numpy(dtype=np.int64) + 60_000  # a bar's close time
    close = pd.Series(bars["close"].to_numpy(dtype=float), index=t)
    before = close[close.index <= start_ms]
    inside = close[(close.index > start_ms) & (close.index <= end_ms)]
    if not len(before) or not len(inside):
        return pd.Series(dtype=float)
    days = pd.to_datetime(inside.index // DAY_MS * DAY_MS, unit="ms")
    out = inside.groupby(days).last()
    first = pd.Series([before.iloc[-1]], index=[out.index[0] - pd.Timedelta(days=1)])
    return pd.concat([first, out])


def benchmark_equity(store: Any, symbols: Sequence[str], start_ms: int, end_ms: int, starting_equity_usd: float,
                     *, btc: str = BTC) -> pd.DataFrame:
    """Return the daily equity (USD) of buying and holding BTC and the equal-weight universe over the window.

    Both start with ``starting_equity_usd`` at ``start_ms`` (the close before
    it) and are marked at each UTC day's last close; the equal-weight universe
    splits the equity evenly across the ``symbols`` the store holds for the
    whole window and never rebalances. No fees or funding are charged (a
    benchmark's upper bound). Columns ``buy-and-hold BTC`` and
    ``equal-weight universe (N)``, either absent when the store lacks its data.
    """
    store = store if hasattr(store, "candles") else Store(store)
    closes = {s: _daily_closes(store, s, start_ms, end_ms) for s in dict.fromkeys([btc, *symbols])}
    closes = {s: c for s, c in closes.items() if len(c)}
    out = pd.DataFrame()
    if btc in closes:
        c = closes[btc]
        out["buy-and-hold BTC"] = starting_equity_usd * c / c.iloc[0]
    universe = [s for s in symbols if s in closes]
    if universe:
        panel = pd.DataFrame({s: closes[s] for s in universe}).ffill()
        full = panel.columns[panel.iloc[0].notna()]
        growth = panel[full] / panel[full].iloc[0]
        out[f"equal-weight universe ({len(full)})"] = starting_equity_usd * growth.mean(axis=1)
    out.index.name = "day"
    return out


def excess_returns(equity: pd.DataFrame, starting_equity_usd: float, benchmarks: pd.DataFrame) -> pd.DataFrame:
    """Return the window's total return of the bot and each benchmark, and the bot's excess over each (fractions)."""
    closes = daily_equity(equity, starting_equity_usd)
    bot = float(closes.iloc[-1] / starting_equity_usd - 1.0)
    rows = [{"series": "bot", "return": bot, "excess return of the bot": math.nan}]
    for column in benchmarks.columns:
        b = benchmarks[column].dropna()
        r = float(b.iloc[-1] / b.iloc[0] - 1.0) if len(b) else math.nan
        rows.append({"series": column, "return": r, "excess return of the bot": bot - r})
    return pd.DataFrame(rows).set_index("series")


def daily_pnl(equity: pd.DataFrame, starting_equity_usd: float) -> pd.Series:
    """Return the P&L of each UTC day (USD): the change of its closing equity, unrealised P&L included."""
    closes = daily_equity(equity, starting_equity_usd)
    return closes.diff().iloc[1:].rename("pnl_usd")


def monthly_returns(equity: pd.DataFrame, starting_equity_usd: float) -> pd.DataFrame:
    """Return the compounded return of each calendar month (fractions), years as rows and months as columns."""
    closes = daily_equity(equity, starting_equity_usd)
    monthly = _monthly_closes(closes)
    first = pd.Series([closes.iloc[0]])
    values = pd.concat([first, pd.Series(monthly.to_numpy())]).to_numpy()
    rets = values[1:] / values[:-1] - 1.0
    frame = pd.DataFrame({"year": [y for y, _ in monthly.index], "month": [m for _, m in monthly.index],
                          "return": rets})
    table = frame.pivot(index="year", columns="month", values="return")
    table.columns = [pd.Timestamp(2000, m, 1).strftime("%b") for m in table.columns]
    return table


def rolling_sharpe(equity: pd.DataFrame, starting_equity_usd: float, window_days: int = 30) -> pd.Series:
    """Return the annualised Sharpe of daily returns over the last ``window_days`` (NaN until the window is full)."""
    closes = daily_equity(equity, starting_equity_usd)
    rets = (closes / closes.shift(1) - 1.0).iloc[1:]
    mean = rets.rolling(window_days, min_periods=window_days).mean()
    std = rets.rolling(window_days, min_periods=window_days).std(ddof=1)
    return (mean / std.where(std > 0) * math.sqrt(PERIODS_PER_YEAR)).rename(f"Sharpe ({window_days}-day rolling)")


def worst_drawdowns(equity: pd.DataFrame, starting_equity_usd: float, n: int = 5) -> pd.DataFrame:
    """Return the ``n`` deepest drawdowns: peak, trough and recovery (UTC), depth (%, negative) and lengths (days).

    A drawdown runs from a running peak until the equity regains it
    (``recovered`` is "not yet" when it has not by the end of the window).
    """
    eq = equity_frame(equity)
    columns = ["peak", "trough", "recovered", "depth (%)", "peak to trough (days)", "length (days)"]
    if eq.empty:
        return pd.DataFrame(columns=columns)
    dd = drawdown_series(eq, starting_equity_usd).to_numpy()
    t = eq.index.to_numpy(dtype=np.int64)
    rows, i = [], 0
    while i < len(dd):
        if dd[i] >= 0:
            i += 1
            continue
        j = i
        while j < len(dd) and dd[j] < 0:
            j += 1
        k = i + int(np.argmin(dd[i:j]))
        peak_t = t[i - 1] if i > 0 else t[i]
        end_t = t[j] if j < len(dd) else None
        rows.append({"peak": utc(int(peak_t)), "trough": utc(int(t[k])),
                     "recovered": utc(int(end_t)) if end_t is not None else "not yet",
                     "depth (%)": 100.0 * float(dd[k]), "peak to trough (days)": (t[k] - peak_t) / DAY_MS,
                     "length (days)": ((end_t if end_t is not None else t[-1]) - peak_t) / DAY_MS})
        i = j
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("depth (%)").head(n).reset_index(drop=True)


def trade_pnl_stats(trades: pd.DataFrame) -> pd.DataFrame:
    """Return the distribution of closed trades' net P&L (USD): count, mean, median, spread, tails, best and worst."""
    net = trades["net_pnl_usd"].to_numpy(dtype=float) if len(trades) else np.empty(0)
    if not len(net):
        return pd.DataFrame({"value": []})
    stats = {"trades": len(net), "mean (USD)": net.mean(), "median (USD)": float(np.median(net)),
             "standard deviation (USD)": net.std(ddof=1) if len(net) > 1 else math.nan,
             "5th percentile (USD)": float(np.percentile(net, 5)), "95th percentile (USD)": float(np.percentile(net, 95)),
             "worst (USD)": net.min(), "best (USD)": net.max(),
             "skew": float(pd.Series(net).skew()) if len(net) > 2 else math.nan}
    return pd.DataFrame({"value": pd.Series(stats, dtype=object)})


# ============================================================================ figures


def _empty_figure(text: str, size: tuple[float, float] = (10, 2.5)) -> Figure:
    fig = Figure(figsize=size, layout="constrained")
    ax = fig.subplots()
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()
    return fig


def benchmark_figure(equity: pd.DataFrame, starting_equity_usd: float, benchmarks: pd.DataFrame) -> Figure:
    """Return the bot's daily equity against the benchmarks (USD, same starting equity)."""
    closes = daily_equity(equity, starting_equity_usd)
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(closes.index, closes.to_numpy(), lw=2, color="tab:blue", label="bot")
    for column, color in zip(benchmarks.columns, ("tab:orange", "tab:grey")):
        ax.plot(benchmarks.index, benchmarks[column].to_numpy(), lw=1.3, color=color, label=column)
    ax.axhline(starting_equity_usd, color="black", lw=0.6, ls=":")
    ax.set_ylabel("equity (USD)")
    ax.set_title("The bot against buy-and-hold benchmarks (daily closes, UTC)")
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return fig


def daily_pnl_figure(pnl: pd.Series) -> Figure:
    """Return the daily P&L as bars (green gains, red losses)."""
    if not len(pnl):
        return _empty_figure("no full day in the window")
    fig = Figure(figsize=(10, 3), layout="constrained")
    ax = fig.subplots()
    ax.bar(pnl.index, pnl.to_numpy(), width=0.8, color=["tab:green" if v >= 0 else "tab:red" for v in pnl])
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel("P&L (USD)")
    ax.set_title("Daily P&L (UTC days, unrealised included)")
    ax.grid(axis="y", alpha=0.3)
    fig.autofmt_xdate()
    return fig


def monthly_heatmap_figure(table: pd.DataFrame) -> Figure:
    """Return the monthly returns as a heatmap (green gains, red losses, the value in each cell)."""
    if table.empty:
        return _empty_figure("no month in the window")
    values = table.to_numpy(dtype=float) * 100
    fig = Figure(figsize=(min(12, 1.2 + 0.9 * table.shape[1]), 0.7 + 0.6 * table.shape[0]), layout="constrained")
    ax = fig.subplots()
    bound = max(1e-9, float(np.nanmax(np.abs(values)))) if np.isfinite(values).any() else 1.0
    ax.imshow(values, cmap="RdYlGn", norm=TwoSlopeNorm(0.0, -bound, bound), aspect="auto")
    ax.set_xticks(range(table.shape[1]), table.columns)
    ax.set_yticks(range(table.shape[0]), [str(y) for y in table.index])
    for (r, c), v in np.ndenumerate(values):
        if math.isfinite(v):
            ax.text(c, r, f"{v:+.2f}%", ha="center", va="center", fontsize=9)
    ax.set_title("Monthly returns (%)")
    return fig


def rolling_sharpe_figure(sharpe: pd.Series) -> Figure:
    """Return the rolling Sharpe over time, or a note when no window is full yet."""
    valid = sharpe.dropna()
    if not len(valid):
        return _empty_figure(f"{sharpe.name}: not enough days yet ({len(sharpe)} daily returns)")
    fig = Figure(figsize=(10, 3), layout="constrained")
    ax = fig.subplots()
    ax.plot(valid.index, valid.to_numpy(), color="tab:purple")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_title(str(sharpe.name))
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return fig


def underwater_figure(equity: pd.DataFrame, starting_equity_usd: float) -> Figure:
    """Return the underwater plot: the drawdown from the running peak over time (%, negative)."""
    eq = equity_frame(equity)
    if eq.empty:
        return _empty_figure("no equity snapshots in the window")
    dd = drawdown_series(eq, starting_equity_usd).to_numpy() * 100
    t = pd.to_datetime(eq.index.to_numpy(dtype=np.int64), unit="ms")
    fig = Figure(figsize=(10, 2.8), layout="constrained")
    ax = fig.subplots()
    ax.fill_between(t, dd, 0, color="tab:red", alpha=0.45, step="post")
    ax.set_ylabel("drawdown (%)")
    ax.set_title("Underwater: fall from the running peak")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return fig


def trade_distribution_figure(trades: pd.DataFrame) -> Figure:
    """Return the histogram of closed trades' net P&L (USD) with the zero line and the mean."""
    net = trades["net_pnl_usd"].to_numpy(dtype=float) if len(trades) else np.empty(0)
    if not len(net):
        return _empty_figure("no closed trade in the window")
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    ax = fig.subplots()
    bins = max(5, min(40, int(math.sqrt(len(net))) * 2))
    ax.hist(net[net < 0], bins=bins, color="tab:red", alpha=0.7, label=f"losses ({int((net < 0).sum())})")
    ax.hist(net[net >= 0], bins=bins, color="tab:green", alpha=0.7, label=f"wins ({int((net > 0).sum())})")
    ax.axvline(0, color="black", lw=0.8)
    ax.axvline(net.mean(), color="tab:blue", lw=1.2, ls="--", label=f"mean {net.mean():+,.2f} USD")
    ax.set_xlabel("net P&L per trade (USD, after fees and funding)")
    ax.set_ylabel("trades")
    ax.set_title(f"Distribution of trade P&L (n={len(net)})")
    ax.legend(loc="best")
    return fig
