"""The run summary: computed from the ledger with :func:`botcore.analytics.metrics.summary`.

The backtest, the replay and the demo all summarise their ledger with
:func:`ledger_summary`, which reads the ``trades`` and ``equity`` tables and
calls the one metrics implementation, so ``botcore review`` over the same
ledger and window reports the same numbers by construction. Gate-block
counts come from the kernel's exact per-reason counts when the run has them
(a compressed backtest trail stores fewer rows than symbol-bars) and from
the ``decisions`` table otherwise.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from botcore.analytics.metrics import summary as metrics_summary
from botcore.analytics.trail import binding_gate, binding_gates
from botcore.ledger import Ledger
from botcore.strategy.enums import OUTCOME_CODES, REASON_NAMES, Reason

#: the summary's headline rows: (key, label, format)
HEADLINE = (
    ("n_trades", "trades", "{:,.0f}"),
    ("net_pnl_usd", "P&L after fees and funding", "{:+,.2f} USD"),
    ("total_return", "return", "{:+.2%}"),
    ("profit_factor", "profit factor", "{:.2f}"),
    ("win_rate", "win rate", "{:.1%}"),
    ("expectancy_usd", "expectancy per trade", "{:+,.2f} USD"),
    ("sharpe", "Sharpe (daily, annualised)", "{:.2f}"),
    ("sortino", "Sortino (daily, annualised)", "{:.2f}"),
    ("max_drawdown_pct", "max drawdown", "{:.2%}"),
    ("fees_usd", "fees", "{:,.2f} USD"),
    ("funding_usd", "funding (+ received)", "{:+,.2f} USD"),
    ("exposure", "exposure (notional / equity)", "{:.1%}"),
    ("trades_per_day", "trades per day", "{:.2f}"),
    ("final_equity_usd", "final equity", "{:,.2f} USD"),
)


def gate_counts(reason_counts: np.ndarray) -> dict[str, dict[str, int]]:
    """Return ``{outcome: {reason: symbol-bars}}`` from the kernel's (outcome, reason) count matrix."""
    out: dict[str, dict[str, int]] = {}
    for outcome in OUTCOME_CODES:
        row = reason_counts[outcome]
        nz = np.nonzero(row)[0]
        if len(nz):
            out[REASON_NAMES[outcome]] = {REASON_NAMES[int(c)]: int(row[c]) for c in nz}
    return out


def gate_counts_from_ledger(ledger: Ledger, since_ms: int | None = None) -> dict[str, dict[str, int]]:
    """Return the same counts from the ``decisions`` table (each row weighted by its ``bars``)."""
    df = ledger.decisions(since_ms)
    if df.empty:
        return {}
    bars = df["detail"].map(lambda d: int(json.loads(d).get("bars", 1)) if isinstance(d, str) else 1)
    df = df.assign(bars=bars)
    out: dict[str, dict[str, int]] = {}
    for (outcome, reason), n in df.groupby(["outcome", "reason_code"])["bars"].sum().items():
        out.setdefault(REASON_NAMES.get(int(outcome), str(outcome)), {})[REASON_NAMES.get(int(reason), str(reason))] = int(n)
    return out


def entry_rate(decisions, start_ms: int | None = None, end_ms: int | None = None) -> dict[str, Any]:
    """Return entries per day and the longest stretch without an entry, from the trail's *entered* rows.

    The window is ``[start_ms, end_ms]`` (default: the trail's first and last
    cycle); the longest gap counts from the window's start to the first entry
    and from the last entry to its end. Keys: ``n``, ``days``, ``per_day``,
    ``longest_gap_hours``, ``longest_gap_from``/``_to`` (UTC) and ``by_day``
    (``{YYYY-MM-DD: entries}``).
    """
    if decisions.empty:
        return {"n": 0, "days": 0.0, "per_day": math.nan, "longest_gap_hours": math.nan, "by_day": {}}
    t0 = int(decisions["ts_ms"].min()) if start_ms is None else int(start_ms)
    t1 = int(decisions["ts_ms"].max()) if end_ms is None else int(end_ms)
    ts = np.sort(decisions.loc[decisions["outcome"] == Reason.entered, "ts_ms"].to_numpy(dtype=np.int64))
    edges = np.concatenate([[t0], ts, [t1]])
    gaps = np.diff(edges)
    k = int(np.argmax(gaps))
    days = max(t1 - t0, 1) / 86_400_000
    day_keys = [time.strftime("%Y-%m-%d", time.gmtime(x / 1000)) for x in ts]
    by_day = {d: day_keys.count(d) for d in sorted(set(day_keys))}
    return {"n": int(len(ts)), "days": days, "per_day": len(ts) / days, "longest_gap_hours": float(gaps[k]) / 3.6e6,
            "longest_gap_from": _utc(int(edges[k])), "longest_gap_to": _utc(int(edges[k + 1])), "by_day": by_day}


def _utc(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000))


def ledger_summary(ledger: Ledger, *, start_ms: int | None = None, end_ms: int | None = None,
                   reason_counts: np.ndarray | None = None, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the run summary of ``ledger`` (all of it, or the trades and equity in ``[start_ms, end_ms]``)."""
    trades = ledger.trades()
    equity = ledger.equity()
    if start_ms is not None:
        trades = trades[trades["exit_ts_ms"] >= start_ms]
        equity = equity[equity["ts_ms"] >= start_ms]
    if end_ms is not None:
        trades = trades[trades["exit_ts_ms"] <= end_ms]
        equity = equity[equity["ts_ms"] <= end_ms]
    starting = ledger.starting_cash()
    out = metrics_summary(trades.reset_index(drop=True), equity.reset_index(drop=True), starting,
                          start_ms=start_ms, end_ms=end_ms)
    out["gate_counts"] = gate_counts(reason_counts) if reason_counts is not None else gate_counts_from_ledger(ledger, start_ms)
    skipped = out["gate_counts"].get(REASON_NAMES[Reason.skipped], {})
    out["top_blocks"] = sorted(skipped.items(), key=lambda kv: -kv[1])[:5]
    decisions = ledger.decisions(start_ms)
    if end_ms is not None:
        decisions = decisions[decisions["ts_ms"] <= end_ms]
    out["binding"] = binding_gate(decisions)
    table = binding_gates(decisions).head(8)
    out["binding_gates"] = {g: {"alone": int(r.alone), "total": int(r.total), "decided": int(r.decided)}
                            for g, r in table.iterrows()}
    out["entries"] = entry_rate(decisions, start_ms, end_ms)
    out["invariant_ok"] = bool(ledger.check_invariant().ok)
    if extra:
        out.update(extra)
    return out


def _json_default(x: Any) -> Any:
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    return str(x)


def write_summary(summary: Mapping[str, Any], path: str | Path) -> Path:
    """Write ``summary`` as JSON (NaN and infinities as null / "inf")."""
    def clean(v: Any) -> Any:
        if isinstance(v, float):
            if math.isnan(v):
                return None
            if math.isinf(v):
                return "inf" if v > 0 else "-inf"
        if isinstance(v, Mapping):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(clean(dict(summary)), indent=2, default=_json_default) + "\n", encoding="utf-8")
    return path


def format_value(key: str, fmt: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf (no losing trade)" if key == "profit_factor" else "inf"
    return fmt.format(value)


def summary_table(summary: Mapping[str, Any], title: str = "Summary"):
    """Return a rich Table of the headline numbers."""
    from rich.table import Table

    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    for key, label, fmt in HEADLINE:
        table.add_row(label, format_value(key, fmt, summary.get(key)))
    if summary.get("top_blocks"):
        blocks = ", ".join(f"{name} {n:,}" for name, n in summary["top_blocks"][:3])
        table.add_row("most frequent gate blocks", blocks)
    entries = summary.get("entries") or {}
    if entries.get("n") is not None and entries.get("days"):
        table.add_row("entries per day", f"{entries['per_day']:.2f} ({entries['n']:,} in {entries['days']:.1f} days)")
        table.add_row("longest gap without an entry", f"{entries['longest_gap_hours']:.1f} h "
                                                      f"({entries['longest_gap_from']} .. {entries['longest_gap_to']} UTC)")
    if summary.get("binding"):
        table.add_row("binding gate", summary["binding"]["text"])
    table.add_row("ledger invariant", "exact" if summary.get("invariant_ok") else "BROKEN")
    return table


__all__ = ["HEADLINE", "entry_rate", "format_value", "gate_counts", "gate_counts_from_ledger", "ledger_summary", "summary_table",
           "write_summary"]
