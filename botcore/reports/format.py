"""Presentation helpers of the report notebooks: readable numbers and tables, no maths.

Every number shown comes from :mod:`botcore.analytics.metrics` (or the
trail functions); these helpers only format it.
"""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd

from botcore.analytics.flags import Flag

__all__ = ["fmt_money", "fmt_pct", "fmt_ratio", "summary_table", "flags_html", "banner_html", "table"]


#: report column -> what a person reads
HUMAN_NAMES: dict[str, str] = {
    "n_trades": "Trades", "trades": "Trades", "net_pnl_usd": "Net P&L (USD)", "gross_pnl_usd": "Gross P&L (USD)",
    "fees_usd": "Fees (USD)", "funding_usd": "Funding (USD, + received)", "win_rate": "Win rate",
    "profit_factor": "Profit factor", "expectancy_usd": "Expectancy per trade (USD)", "verdict": "Verdict",
    "return_pct": "Return (%)", "max_drawdown_pct": "Max drawdown (%)", "share": "Share",
    "blocked": "Blocked (decided)", "also_failing": "Also failing", "clamped": "Size clamped",
    "predicted": "Predicted win rate", "realised": "Realised win rate", "gap": "Gap",
    "against_net_pnl_usd": "Net P&L against the signal (USD)", "size_usd": "Size (USD)",
}


def human_name(column: Any) -> str:
    """Return a report column's name as a person reads it (``net_pnl_usd`` -> ``Net P&L (USD)``)."""
    name = HUMAN_NAMES.get(str(column))
    if name is None:
        words = str(column).replace("_", " ")
        name = words[:1].upper() + words[1:]
    return name


def _bad(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_money(x: Any) -> str:
    """``+1,234.56 USD`` style (``n/a`` for NaN)."""
    return "n/a" if _bad(x) else f"{x:+,.2f} USD"


def fmt_pct(x: Any, digits: int = 2) -> str:
    """A fraction as a percentage (``0.1234`` -> ``12.34%``)."""
    return "n/a" if _bad(x) else ("inf" if math.isinf(x) else f"{100 * x:.{digits}f}%")


def fmt_ratio(x: Any, digits: int = 2) -> str:
    """A plain ratio with ``digits`` decimals (``inf`` and ``n/a`` spelled out)."""
    if _bad(x):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}f}"


#: (summary key, label, formatter) in display order.
SUMMARY_ROWS = (
    ("n_trades", "Trades", lambda x: f"{x:d}"),
    ("win_rate", "Win rate", fmt_pct),
    ("profit_factor", "Profit factor", fmt_ratio),
    ("verdict", "Verdict (PF > 1.2 success, < 0.8 reassess; 30 trades needed)", str),
    ("expectancy_usd", "Expectancy per trade", fmt_money),
    ("payoff_ratio", "Payoff (avg win / avg loss)", fmt_ratio),
    ("net_pnl_usd", "Net P&L of closed trades", fmt_money),
    ("total_return", "Return (equity)", fmt_pct),
    ("sharpe", "Sharpe (daily, x sqrt 365)", fmt_ratio),
    ("sortino", "Sortino (daily, x sqrt 365)", fmt_ratio),
    ("max_drawdown_pct", "Max drawdown", fmt_pct),
    ("max_drawdown_usd", "Max drawdown (USD)", lambda x: fmt_money(-x)),
    ("fees_usd", "Fees paid (+ paid, - rebate)", fmt_money),
    ("funding_usd", "Funding (+ received, - paid)", fmt_money),
    ("exposure", "Exposure (time-weighted notional / equity)", fmt_pct),
    ("trades_per_day", "Trades per day", fmt_ratio),
    ("starting_equity_usd", "Equity at start", lambda x: f"{x:,.2f} USD"),
    ("final_equity_usd", "Equity at end", lambda x: f"{x:,.2f} USD"),
)


#: Headline keys whose value carries its bootstrap interval (``<key>_ci_low`` / ``<key>_ci_high``) and sample.
_WITH_CI = {"win_rate": "trades", "profit_factor": "trades", "expectancy_usd": "trades", "sharpe": "daily returns"}


def _with_evidence(summary: dict[str, Any], key: str, text: str, fmt: Any) -> str:
    if key == "verdict" and summary.get("evidence_missing"):
        return f"{text}: {summary['evidence_missing']}"
    if key in ("sharpe", "sortino") and summary.get("annualised_note"):
        return summary["annualised_note"]
    if key in _WITH_CI and f"{key}_ci_low" in summary:
        lo, hi = summary[f"{key}_ci_low"], summary[f"{key}_ci_high"]
        n = summary.get("n_trades") if _WITH_CI[key] == "trades" else summary.get("n_days_returns")
        level = f"{100 * summary.get('ci_level', 0.95):.0f}% CI"
        ci = "n/a" if _bad(lo) or _bad(hi) else f"{fmt(lo)} .. {fmt(hi)}"
        return f"{text} ({level} {ci}; n = {n} {_WITH_CI[key]})"
    return text


def summary_table(summary: dict[str, Any]) -> pd.DataFrame:
    """Return the headline metrics as a two-column table (metric, value) of formatted strings.

    Ratios carry their bootstrap interval and sample size; the verdict says what evidence is missing; an
    annualised ratio not computed for want of daily returns shows why.
    """
    rows = [(label, _with_evidence(summary, key, fmt(summary[key]), fmt)) for key, label, fmt in SUMMARY_ROWS
            if key in summary]
    if "psr" in summary:
        psr = summary["psr"]
        rows.append(("Probabilistic Sharpe ratio (P(true Sharpe > 0))",
                     summary.get("annualised_note") or f"{fmt_pct(psr)} (n = {summary.get('n_days_returns')} daily returns)"))
    return pd.DataFrame(rows, columns=["metric", "value"]).set_index("metric")


def table(df: pd.DataFrame | None, empty: str = "nothing recorded", money: tuple[str, ...] = (),
          pct: tuple[str, ...] = (), ratio: tuple[str, ...] = ()) -> Any:
    """Return a pandas Styler with formatted columns, or an HTML note when ``df`` is None or empty."""
    from IPython.display import HTML

    if df is None or df.empty:
        return HTML(f"<p><em>{html.escape(empty)}</em></p>")
    formats: dict[str, Any] = {c: "{:+,.2f}" for c in money if c in df.columns}
    formats.update({c: (lambda v: fmt_pct(v)) for c in pct if c in df.columns})
    formats.update({c: (lambda v: fmt_ratio(v)) for c in ratio if c in df.columns})
    if df.index.name is not None:  # one header row: the index becomes the first column
        df = df.reset_index()
    styler = df.style.format(formats, na_rep="n/a").hide(axis="index")
    return styler.relabel_index([human_name(c) for c in df.columns], axis="columns")


def flags_html(flags: list[Flag]) -> str:
    """Return the red flags as an HTML list: raised ones first, in red, then the clean checks."""
    items = []
    for f in sorted(flags, key=lambda f: not f.raised):
        mark, color = ("RED FLAG", "#b00020") if f.raised else ("ok", "#2e7d32")
        items.append(f'<li><b style="color:{color}">{mark}</b> <code>{html.escape(f.name)}</code>: '
                     f"{html.escape(f.detail)}</li>")
    raised = sum(f.raised for f in flags)
    head = f"<p><b>{raised} red flag{'s' if raised != 1 else ''}</b> of {len(flags)} checks.</p>"
    return head + "<ul>" + "".join(items) + "</ul>"


def banner_html(text: str, kind: str = "warning") -> str:
    """Return a coloured banner (``warning``, ``info`` or ``success``) for the top of a report."""
    colors = {"warning": ("#fff3cd", "#856404"), "info": ("#e7f1ff", "#0b3d91"), "success": ("#e6f4ea", "#1e4620"),
              "danger": ("#fdecea", "#8a1c1c")}
    bg, fg = colors.get(kind, colors["info"])
    return (f'<div style="background:{bg};color:{fg};padding:10px 14px;border-radius:6px;margin:8px 0">'
            f"{html.escape(text)}</div>")
