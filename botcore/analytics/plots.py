"""Matplotlib figures of the reports (no pyplot state: each function returns a new Figure).

In a notebook, show one with ``display(fig)``; in a script, ``fig.savefig(path)``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from botcore.analytics.metrics import drawdown_series, equity_frame

__all__ = ["equity_drawdown_figure", "bar_figure", "calibration_figure"]


def _times(ts_ms: np.ndarray) -> pd.DatetimeIndex:
    return pd.to_datetime(np.asarray(ts_ms, dtype=np.int64), unit="ms")


def equity_drawdown_figure(equity: pd.DataFrame | pd.Series, starting_cash: float, title: str = "Equity") -> Figure:
    """Return a two-panel figure: equity (USD) over time and its drawdown from the running peak (%)."""
    eq = equity_frame(equity)
    fig = Figure(figsize=(10, 5.5), layout="constrained")
    ax_eq, ax_dd = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    if eq.empty:
        ax_eq.text(0.5, 0.5, "no equity snapshots in the window", ha="center", va="center", transform=ax_eq.transAxes)
        return fig
    t = _times(eq.index.to_numpy())
    ax_eq.plot(t, eq["equity_usd"].to_numpy(), lw=1.2, color="tab:blue")
    ax_eq.axhline(starting_cash, color="grey", lw=0.8, ls="--", label=f"start {starting_cash:,.0f} USD")
    ax_eq.set_ylabel("equity (USD)")
    ax_eq.set_title(title)
    ax_eq.legend(loc="best")
    ax_eq.grid(alpha=0.3)
    dd = drawdown_series(eq, starting_cash).to_numpy() * 100
    ax_dd.fill_between(t, dd, 0, color="tab:red", alpha=0.4, step="post")
    ax_dd.set_ylabel("drawdown (%)")
    ax_dd.grid(alpha=0.3)
    fig.autofmt_xdate()
    return fig


def bar_figure(table: pd.DataFrame | None, column: str = "net_pnl_usd", title: str = "Net P&L (USD)") -> Figure:
    """Return a horizontal bar chart of one column of a breakdown (green gains, red losses)."""
    fig = Figure(figsize=(8, 0.35 * max(3, 0 if table is None else len(table)) + 1.2), layout="constrained")
    ax = fig.subplots()
    if table is None or table.empty:
        ax.text(0.5, 0.5, "nothing recorded", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    values = table[column].astype(float)[::-1]
    colors = ["tab:green" if v > 0 else "tab:red" for v in values]
    ax.barh([str(i) for i in values.index], values.to_numpy(), color=colors)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return fig


def calibration_figure(by_bucket: pd.DataFrame | None) -> Figure:
    """Return predicted against realised win rate per bucket, the diagonal being perfect calibration."""
    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=0.8, label="calibrated")
    if by_bucket is not None and not by_bucket.empty:
        sizes = 20 + 200 * by_bucket["trades"] / max(1, by_bucket["trades"].max())
        ax.scatter(by_bucket["predicted"], by_bucket["realised"], s=sizes, color="tab:blue", label="trades (size = n)")
        for _label, row in by_bucket.iterrows():
            if not math.isnan(row["realised"]):
                ax.annotate(f"n={int(row['trades'])}", (row["predicted"], row["realised"]), fontsize=8,
                            xytext=(4, 4), textcoords="offset points")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted win probability (Kelly p at entry)")
    ax.set_ylabel("realised win rate")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return fig
