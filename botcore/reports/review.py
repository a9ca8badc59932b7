"""The periodic review of a ledger: load a window, compute every table, flag what needs a look.

:func:`load_review` reads one consistent snapshot of a ledger (read-only, so
it is safe while the bot runs) restricted to a window; :func:`build_review`
turns it into a :class:`Review` (headline metrics from
:func:`botcore.analytics.metrics.summary`, breakdowns, gate blocks, Kelly
calibration, parameter changes, the learning system's changes, red flags).
The pipeline notebook
``notebooks/pipelines/review.ipynb`` shows a :class:`Review`; ``botcore
review`` runs that notebook.

The window
----------
``end_ms`` defaults to the ledger's last equity snapshot (else its last
trade, decision or heartbeat), not the wall clock, so a backtest ledger of
past data is reviewed where its data is. ``start_ms = end_ms - days``,
clamped to the first equity snapshot (else the first activity). The
starting equity is the last snapshot before the window, else the ledger's
starting cash. So a review whose window covers a whole backtest reports the
same numbers as ``summary(ledger.trades(), ledger.equity(), ledger.starting_cash())``,
which :func:`ledger_summary` returns.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from botcore.analytics import flags as _flags
from botcore.analytics import metrics, trail
from botcore.analytics.ledger_index import equity_before, ledger_bounds
from botcore.clock import DAY_MS
from botcore.config.models import SIGNAL_NAMES
from botcore.ledger import Ledger

if TYPE_CHECKING:
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

__all__ = ["ReviewData", "Review", "LearningChanges", "NO_LEARNING_CHANGES", "load_review", "build_review",
           "review_ledger", "ledger_summary", "param_changes", "learning_changes", "learning_figure",
           "alerts_in_window", "universe_sectors", "ms_to_utc", "with_recorded_signals"]

def ms_to_utc(ts_ms: int | float | None) -> str:
    """Return ``YYYY-MM-DD HH:MM UTC`` for a time in ms (``"-"`` for None/NaN/negative)."""
    if ts_ms is None or (isinstance(ts_ms, float) and math.isnan(ts_ms)) or ts_ms < 0:
        return "-"
    return pd.Timestamp(int(ts_ms), unit="ms").strftime("%Y-%m-%d %H:%M UTC")


def universe_sectors(settings: Any = None) -> dict[str, str]:
    """Return ``{symbol: sector}`` of the configured universe (every asset, enabled or not).

    ``settings`` is a :class:`botcore.config.Settings`, a config directory, or
    None for the default one; an unreadable configuration gives ``{}`` (sectors
    then show as ``unknown``) with a warning.
    """
    from botcore.config import load_settings
    from botcore.errors import ConfigError

    try:
        if settings is None or isinstance(settings, (str, os.PathLike)):
            settings = load_settings(os.fspath(settings)) if settings is not None else load_settings()
    except ConfigError as exc:
        logger.warning("sectors unavailable, configuration unreadable: %s", exc)
        return {}
    return {a.symbol: a.sector for a in settings.universe.assets}


def _flatten(body: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in body.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def param_changes(params: pd.DataFrame, start_ms: int | None = None, end_ms: int | None = None) -> pd.DataFrame:
    """Return the parameter versions created in the window with what changed against their parent.

    ``params`` is :meth:`Ledger.list_params` (``body`` as JSON text or dict).
    Columns: ``version, kind, created, active, parent_version, reason,
    changes`` (``"key: old -> new"`` per changed leaf, ``"(new)"`` without a parent).
    """
    columns = ["version", "kind", "created", "created_ts_ms", "active", "parent_version", "reason", "changes"]
    if params.empty:
        return pd.DataFrame(columns=columns)
    bodies = {int(r.version): (json.loads(r.body) if isinstance(r.body, str) else dict(r.body))
              for r in params.itertuples()}
    rows = []
    for r in params.sort_values("version").itertuples():
        ts = int(r.created_ts_ms)
        if (start_ms is not None and ts < start_ms) or (end_ms is not None and ts > end_ms):
            continue
        parent = None if pd.isna(r.parent_version) else int(r.parent_version)
        new, old = _flatten(bodies[int(r.version)]), _flatten(bodies.get(parent, {})) if parent else None
        if old is None:
            changes = "(new)"
        else:
            diffs = [f"{k}: {old.get(k, '(absent)')} -> {new.get(k, '(removed)')}"
                     for k in sorted(set(new) | set(old)) if new.get(k, "(removed)") != old.get(k, "(absent)")]
            changes = "; ".join(diffs) if diffs else "(no change)"
        rows.append({"version": int(r.version), "kind": r.kind, "created": ms_to_utc(ts), "created_ts_ms": ts,
                     "active": bool(r.active), "parent_version": parent, "reason": r.reason, "changes": changes})
    return pd.DataFrame(rows, columns=columns)


@dataclass
class ReviewData:
    """One window of a ledger, read from one snapshot."""

    ledger_path: str
    start_ms: int
    end_ms: int
    starting_equity_usd: float
    ledger_starting_cash_usd: float
    trades: pd.DataFrame
    equity: pd.DataFrame
    decisions: pd.DataFrame
    heartbeats: pd.DataFrame
    params: pd.DataFrame
    meta: dict[str, Any]
    invariant: dict[str, Any]
    sectors: dict[str, str] = field(default_factory=dict)
    lifetime_trades: int | None = None  # closed trades of the whole ledger up to the window's end
    min_trades: int = metrics.MIN_TRADES  # closed trades in the window a verdict needs
    burn_in_trades: int | None = None  # the sizing's min_trades_for_stats: the ledger's burn-in
    entry_signals: pd.DataFrame | None = None  # signal_outcomes entry events: symbol, ts_ms, scores (JSON)

    @property
    def days(self) -> float:
        return (self.end_ms - self.start_ms) / DAY_MS

    @property
    def mode(self) -> str:
        return str(self.meta.get("mode", "unknown"))


def _window(df: pd.DataFrame, col: str, start_ms: int, end_ms: int) -> pd.DataFrame:
    if df.empty:
        return df
    return df[(df[col] >= start_ms) & (df[col] <= end_ms)].reset_index(drop=True)


def load_review(ledger_path: str | os.PathLike, days: float = 7.0, end_ms: int | None = None, *,
                settings: Any = None, min_trades: int = metrics.MIN_TRADES) -> ReviewData:
    """Read the review window of a ledger (read-only, one snapshot); see the module docstring for the window.

    ``min_trades``: closed trades in the window below which the verdict is "insufficient evidence"; the
    burn-in is ``settings.sizing.min_trades_for_stats`` closed trades in the whole ledger (when ``settings``
    is a :class:`~botcore.config.Settings`).

    Raises
    ------
    botcore.errors.LedgerError
        When the file is missing or not a ledger of this schema.
    ValueError
        When ``days`` is not positive.
    """
    if not days > 0:
        raise ValueError(f"days: must be > 0, got {days!r}")
    with Ledger.open(ledger_path, readonly=True) as ledger:  # validates the file and its schema first
        bounds = ledger_bounds(ledger_path)
        if end_ms is None:
            end_ms = bounds.last_equity_ms if bounds.last_equity_ms is not None else bounds.last_any_ms
            if end_ms is None:
                end_ms = int(pd.Timestamp.now(tz="UTC").value // 1_000_000)
        end_ms = int(end_ms)
        start_ms = end_ms - int(round(days * DAY_MS))
        floor = bounds.first_equity_ms if bounds.first_equity_ms is not None else bounds.first_any_ms
        if floor is not None and floor <= end_ms:
            start_ms = max(start_ms, floor)
        with ledger.snapshot():  # only the window's rows are read, and the count of every closed trade
            lifetime = ledger.trades()
            trades = lifetime[lifetime["exit_ts_ms"] >= start_ms] if len(lifetime) else lifetime
            outcomes = ledger.table("signal_outcomes")
            equity = ledger.equity(since_ms=start_ms)
            decisions = ledger.decisions(since_ms=start_ms)
            heartbeats = ledger.heartbeats(since_ms=start_ms)
            params = ledger.list_params()
            meta_rows = ledger.table("meta")
            invariant = ledger.check_invariant().to_dict()
            starting_cash = ledger.starting_cash()
    meta = {r.key: json.loads(r.value) for r in meta_rows.itertuples()}
    before = equity_before(ledger_path, start_ms)
    starting_equity = before if before is not None else starting_cash
    return ReviewData(
        ledger_path=str(ledger_path), start_ms=start_ms, end_ms=end_ms, starting_equity_usd=starting_equity,
        ledger_starting_cash_usd=starting_cash,
        trades=_window(trades, "exit_ts_ms", start_ms, end_ms),
        equity=_window(equity, "ts_ms", start_ms, end_ms),
        decisions=_window(decisions, "ts_ms", start_ms, end_ms),
        heartbeats=_window(heartbeats, "ts_ms", start_ms, end_ms),
        params=params, meta=meta, invariant=invariant, sectors=universe_sectors(settings),
        lifetime_trades=int((lifetime["exit_ts_ms"] <= end_ms).sum()) if len(lifetime) else 0,
        min_trades=int(min_trades), burn_in_trades=_burn_in_trades(settings),
        entry_signals=_entry_signals(outcomes, end_ms),
    )


def _entry_signals(outcomes: pd.DataFrame, end_ms: int) -> pd.DataFrame:
    """The scores the signals gave at each real entry (``signal_outcomes`` entry events up to ``end_ms``)."""
    cols = ["symbol", "ts_ms", "scores"]
    if outcomes.empty:
        return pd.DataFrame(columns=cols)
    e = outcomes[(outcomes["event"] == "entry") & (outcomes["shadow"] == 0) & (outcomes["ts_ms"] <= end_ms)
                 & outcomes["scores"].notna()]
    return e[cols].reset_index(drop=True)


def with_recorded_signals(ctx: pd.DataFrame, entry_signals: pd.DataFrame | None) -> pd.DataFrame:
    """Fill ``ctx["signals"]`` where the entry decision carried none from the recorded entry scores.

    A trade matches the entry event of its symbol at its ``entry_ts_ms`` (the cycle its entry filled, which
    the engine records in paper, backtest and live runs: :mod:`botcore.engine.learning_link`).
    """
    if entry_signals is None or entry_signals.empty or ctx.empty or "entry_ts_ms" not in ctx.columns:
        return ctx
    scores = {(r.symbol, int(r.ts_ms)): json.loads(r.scores) if isinstance(r.scores, str) else r.scores
              for r in entry_signals.itertuples(index=False)}
    out = ctx.copy()
    values = out["signals"].to_numpy(dtype=object).copy()
    for i, (sym, ts) in enumerate(zip(out["symbol"], out["entry_ts_ms"])):
        if not isinstance(values[i], Mapping) and ts == ts and ts is not None:
            values[i] = scores.get((sym, int(ts)))
    out["signals"] = pd.Series(values, index=out.index, dtype=object)
    return out


def _burn_in_trades(settings: Any) -> int | None:
    sizing = getattr(settings, "sizing", None)
    return int(sizing.min_trades_for_stats) if sizing is not None else None


# --------------------------------------------------------------------------- the learning system's changes

#: What the review says when the learning system changed nothing in the window.
NO_LEARNING_CHANGES = "No learning changes in this window"


@dataclass
class LearningChanges:
    """The learning system's changes in a review window (see :mod:`botcore.learning.history`).

    ``weights``: the ``learning`` versions created in the window (a column per
    signal, ``created``, ``status``, ``reason``, ``changes`` against the parent);
    ``weights_before``: the last one created before the window (0 or 1 row,
    where the weights plot starts). ``benchings``: every bench that overlaps
    the window (``since``, ``until`` = end of the probation, ``returned``,
    reasons, and ``cycles_held_back`` / ``would_be_entries`` counted on the
    window's decisions). ``autonomy``: the ``autonomy`` versions created in
    the window (capital multiplier, health); ``autonomy_before`` likewise.
    ``notes``: sentences about rollbacks (the ledger records no time for one).
    """

    start_ms: int
    end_ms: int
    weights: pd.DataFrame
    weights_before: pd.DataFrame
    benchings: pd.DataFrame
    autonomy: pd.DataFrame
    autonomy_before: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Return True when a learning, benching or autonomy version was created, or a bench began or ended, in the window."""
        bench_events = self.benchings[["since_ms", "returned_ms"]].to_numpy(dtype=float).ravel() if len(
            self.benchings) else []
        return bool(len(self.weights) or len(self.autonomy)
                    or any(self.start_ms <= t <= self.end_ms for t in bench_events))

    @property
    def empty(self) -> bool:
        """Return True when there is nothing to show: no change in the window and no symbol on the bench in it."""
        return not self.changed and self.benchings.empty

    def to_dict(self) -> dict[str, Any]:
        """Return the changes as JSON-able data."""
        def records(df: pd.DataFrame) -> list[dict]:
            return json.loads(df.to_json(orient="records", default_handler=str))

        return {"changed": self.changed, "weights": records(self.weights), "benchings": records(self.benchings),
                "autonomy": records(self.autonomy), "notes": list(self.notes)}


def _fmt_weight(x: float) -> str:
    return "-" if pd.isna(x) else f"{x:.4g}"


def _weight_changes(row: pd.Series, parent: pd.Series | None) -> str:
    if parent is None:
        return "(first version)"
    diffs = [f"{s} {_fmt_weight(parent[s])} -> {_fmt_weight(row[s])}" for s in SIGNAL_NAMES
             if not (pd.isna(row[s]) and pd.isna(parent[s])) and row[s] != parent[s]]
    old, new = parent["thresholds"] or {}, row["thresholds"] or {}
    diffs += [f"{k} {old.get(k, '(config)')} -> {new.get(k, '(config)')}" for k in sorted(set(old) | set(new))
              if old.get(k) != new.get(k)]
    return "; ".join(diffs) if diffs else "(no change)"


def _rollback_notes(params: pd.DataFrame, kind: str, start_ms: int, end_ms: int) -> list[str]:
    from botcore.learning import history  # deferred for start-up time: importing botcore.learning takes seconds

    versions = params[params["kind"] == kind].sort_values("version") if len(params) else params
    if versions.empty:
        return []
    status = history.version_status(versions)
    off = [int(r.version) for r in versions.itertuples(index=False)
           if start_ms <= int(r.created_ts_ms) <= end_ms and status[int(r.version)] == history.OFF_LINE]
    if not off:
        return []
    active = [v for v, st in status.items() if st == history.ACTIVE]
    now = f"v{active[-1]} is active now" if active else "no version is active now"
    return [f"{kind}: " + ", ".join(f"v{v}" for v in off) + f" {history.OFF_LINE}; {now} "
            "(the ledger records no time for a rollback)"]


def learning_changes(params: pd.DataFrame, decisions: pd.DataFrame, start_ms: int, end_ms: int) -> LearningChanges:
    """Return the learning system's changes in ``[start_ms, end_ms]``.

    ``params`` is :meth:`Ledger.list_params` (every kind, every version: the
    parents and the benches begun before the window are needed); ``decisions``
    the window's decision rows (the entries each bench held back).
    """
    from botcore.learning import history  # importing botcore.learning takes seconds: only when a review is built

    weights = history.weights_history(params)
    inside = (weights["ts_ms"] >= start_ms) & (weights["ts_ms"] <= end_ms)
    by_version = weights.set_index("version", drop=False)
    changes = [_weight_changes(r, by_version.loc[r["parent_version"]] if r["parent_version"] in by_version.index
                               else None) for _, r in weights.iterrows()]
    weights = weights.assign(created=[ms_to_utc(t) for t in weights["ts_ms"]], changes=changes)
    before = weights[weights["ts_ms"] < start_ms].tail(1).reset_index(drop=True)
    in_window = weights[inside].reset_index(drop=True)

    periods = history.bench_periods(history.bench_history(params), decisions)
    overlap = (periods["since_ms"] <= end_ms) & (periods["returned_ms"].isna() | (periods["returned_ms"] >= start_ms))
    benchings = periods[overlap].reset_index(drop=True).rename(columns={"cycles": "cycles_held_back"})
    benchings.insert(1, "since", [ms_to_utc(t) for t in benchings["since_ms"]])
    benchings.insert(2, "until", [ms_to_utc(t) for t in benchings["until_ms"]])
    benchings.insert(3, "returned", [
        "-" if st == history.OFF_LINE and pd.isna(t) else "still benched" if pd.isna(t) or t > end_ms else ms_to_utc(t)
        for t, st in zip(benchings["returned_ms"], benchings["status"])])

    autonomy = history.autonomy_history(params)
    autonomy = autonomy.assign(created=[ms_to_utc(t) for t in autonomy["ts_ms"]])
    a_inside = (autonomy["ts_ms"] >= start_ms) & (autonomy["ts_ms"] <= end_ms)

    notes = [n for kind in ("learning", "benched_symbols", "autonomy")
             for n in _rollback_notes(params, kind, start_ms, end_ms)]
    return LearningChanges(start_ms=start_ms, end_ms=end_ms, weights=in_window, weights_before=before,
                           benchings=benchings, autonomy=autonomy[a_inside].reset_index(drop=True),
                           autonomy_before=autonomy[autonomy["ts_ms"] < start_ms].tail(1).reset_index(drop=True),
                           notes=notes)


def learning_figure(changes: LearningChanges) -> Figure:
    """Return the signal weights over the window (a step line per signal), and the capital multiplier when recorded.

    Each line starts at the window start with the version in force then (when
    one was created before) and steps at each version's creation; a dotted
    line marks each version, labelled in red when it is off the active line
    (rolled back or not activated). When the version active now is not the
    last one drawn (a rollback), markers at the window end show its weights.
    """
    from matplotlib.figure import Figure

    from botcore.learning.history import OFF_LINE  # deferred for start-up time

    has_autonomy = bool(len(changes.autonomy) or len(changes.autonomy_before))
    fig = Figure(figsize=(11, 6.5 if has_autonomy else 4.5), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1)) if has_autonomy else [fig.subplots()]
    ax = axes[0]
    start, end = pd.Timestamp(changes.start_ms, unit="ms"), pd.Timestamp(changes.end_ms, unit="ms")
    versions = pd.concat([changes.weights_before, changes.weights], ignore_index=True)
    if versions.empty:
        ax.text(0.5, 0.5, "no learning version in force in the window", ha="center", va="center",
                transform=ax.transAxes)
    else:
        t = [max(pd.Timestamp(int(ts), unit="ms"), start) for ts in versions["ts_ms"]] + [end]
        for i, signal in enumerate(SIGNAL_NAMES):
            y = versions[signal].to_numpy(dtype=float)
            ax.step(t, np.append(y, y[-1]), where="post", lw=1.6, color=f"C{i % 10}", label=signal)
        for r in changes.weights.itertuples(index=False):
            x = pd.Timestamp(int(r.ts_ms), unit="ms")
            off = r.status == OFF_LINE
            ax.axvline(x, color="tab:red" if off else "grey", lw=0.8, ls=":")
            ax.annotate(f"v{r.version}" + (" (rolled back or not activated)" if off else ""), (x, 1.0),
                        xycoords=("data", "axes fraction"), rotation=90, va="top", ha="right", fontsize=8,
                        color="tab:red" if off else "dimgrey")
        last = versions.iloc[-1]
        active = versions[versions["active"]]
        if len(active) and int(active["version"].iloc[-1]) != int(last["version"]):  # rolled back to it
            now = active.iloc[-1]
            for i, signal in enumerate(SIGNAL_NAMES):
                ax.plot([end], [now[signal]], marker="<", ms=7, color=f"C{i % 10}", clip_on=False)
            ax.annotate(f"v{int(now['version'])} active now", (end, 0.02), xycoords=("data", "axes fraction"),
                        ha="right", fontsize=8)
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    ax.set_ylabel("signal weight")
    ax.set_title("Signal weights over the window (learning versions)")
    ax.set_xlim(start, end)
    ax.grid(alpha=0.3)
    if has_autonomy:
        a = pd.concat([changes.autonomy_before, changes.autonomy], ignore_index=True)
        t = [max(pd.Timestamp(int(ts), unit="ms"), start) for ts in a["ts_ms"]] + [end]
        y = a["multiplier"].to_numpy(dtype=float)
        axes[1].step(t, np.append(y, y[-1]), where="post", lw=1.6, color="tab:purple")
        axes[1].plot(t[:-1], y, "o", color="tab:purple", ms=4)
        axes[1].set_ylabel("capital multiplier")
        axes[1].grid(alpha=0.3)
    fig.autofmt_xdate()
    return fig


@dataclass
class Review:
    """Everything the review report shows; tables are DataFrames, optional ones None when not recorded."""

    data: ReviewData
    summary: dict[str, Any]
    by_strategy: pd.DataFrame
    by_symbol: pd.DataFrame
    by_sector: pd.DataFrame
    by_close_reason: pd.DataFrame
    by_regime: pd.DataFrame | None
    by_signal: pd.DataFrame | None
    gates: pd.DataFrame
    gates_by_strategy: pd.DataFrame
    kelly: dict[str, pd.DataFrame] | None
    params_changed: pd.DataFrame
    flags: list[_flags.Flag]
    trades_ctx: pd.DataFrame
    alerts: pd.DataFrame
    learning: LearningChanges

    @property
    def raised_flags(self) -> list[_flags.Flag]:
        return [f for f in self.flags if f.raised]

    def to_dict(self) -> dict[str, Any]:
        """Return the review as JSON-able data (summary, flags and every table as records)."""
        def records(df: pd.DataFrame | None) -> list[dict] | None:
            if df is None:
                return None
            return json.loads(df.reset_index().to_json(orient="records", default_handler=str))

        return {
            "ledger": self.data.ledger_path, "mode": self.data.mode,
            "window": {"start_ms": self.data.start_ms, "end_ms": self.data.end_ms, "days": self.data.days,
                       "start": ms_to_utc(self.data.start_ms), "end": ms_to_utc(self.data.end_ms)},
            "summary": self.summary,
            "flags": [f._asdict() for f in self.flags],
            "by_strategy": records(self.by_strategy), "by_symbol": records(self.by_symbol),
            "by_sector": records(self.by_sector), "by_close_reason": records(self.by_close_reason),
            "by_regime": records(self.by_regime), "by_signal": records(self.by_signal),
            "gates": records(self.gates),
            "kelly": None if self.kelly is None else {k: records(v) for k, v in self.kelly.items()},
            "param_changes": records(self.params_changed),
            "alerts": records(self.alerts),
            "learning": self.learning.to_dict(),
        }


def build_review(data: ReviewData, *, heartbeat_seconds: float = 20.0, missed_after: int = 3) -> Review:
    """Compute every table of the review from a loaded window."""
    from botcore.model.enums import TradeCloseReason

    trades = data.trades
    summary = metrics.summary(trades, data.equity, data.starting_equity_usd, start_ms=data.start_ms,
                              end_ms=data.end_ms, min_trades=data.min_trades, lifetime_trades=data.lifetime_trades,
                              burn_in_trades=data.burn_in_trades)
    ctx = with_recorded_signals(trail.attach_entry_context(trades, data.decisions), data.entry_signals)
    if "regime" in trades.columns and trades["regime"].notna().any():  # trade rows that carry their own regime
        ctx["regime"] = trades["regime"].to_numpy(dtype=object)
    close_names = [TradeCloseReason(int(c)).name.lower() if int(c) in TradeCloseReason._value2member_map_
                   else f"code_{int(c)}" for c in trades.get("close_reason", pd.Series([], dtype=int))]
    return Review(
        data=data,
        summary=summary,
        by_strategy=metrics.breakdown(trades, "strategy_id", name="strategy", min_trades=data.min_trades),
        by_symbol=metrics.breakdown(trades, "symbol", min_trades=data.min_trades),
        by_sector=metrics.breakdown(trades, metrics.sector_labels(trades["symbol"], data.sectors), name="sector",
                                    min_trades=data.min_trades),
        by_close_reason=metrics.breakdown(trades, close_names, name="close_reason", min_trades=data.min_trades),
        by_regime=trail.regime_breakdown(ctx),
        by_signal=trail.signal_breakdown(ctx),
        gates=trail.gate_blocks(data.decisions),
        gates_by_strategy=trail.gate_blocks_by_strategy(data.decisions),
        kelly=trail.kelly_calibration(ctx),
        params_changed=param_changes(data.params, data.start_ms, data.end_ms),
        flags=_flags.red_flags(
            data.decisions, data.heartbeats, trades, invariant=data.invariant, meta=data.meta,
            heartbeat_seconds=heartbeat_seconds, missed_after=missed_after, start_ms=data.start_ms,
            end_ms=data.end_ms,
        ),
        trades_ctx=ctx,
        alerts=alerts_in_window(data.meta, data.start_ms, data.end_ms),
        learning=learning_changes(data.params, data.decisions, data.start_ms, data.end_ms),
    )


def alerts_in_window(meta: Mapping[str, Any], start_ms: int, end_ms: int) -> pd.DataFrame:
    """Return the alerts the notifier recorded (meta ``alerts:log``) in the window, oldest first."""
    columns = ["time", "kind", "subject", "sent", "suppressed", "error"]
    log = meta.get("alerts:log") or []
    rows = [
        {"time": ms_to_utc(e.get("ts_ms")), **{k: e.get(k) for k in columns[1:]}}
        for e in log if isinstance(e, Mapping) and start_ms <= int(e.get("ts_ms", -1)) <= end_ms
    ]
    return pd.DataFrame(rows, columns=columns)


def review_ledger(ledger_path: str | os.PathLike, days: float = 7.0, end_ms: int | None = None, *,
                  settings: Any = None, min_trades: int = metrics.MIN_TRADES) -> Review:
    """Load and build the review of a ledger in one call (heartbeat cadence from the configuration)."""
    heartbeat_seconds, missed_after = 20.0, 3
    try:
        from botcore.config import load_settings

        s = settings if settings is not None and not isinstance(settings, (str, os.PathLike)) else (
            load_settings(os.fspath(settings)) if settings is not None else load_settings())
        heartbeat_seconds, missed_after = s.schedules.heartbeat_seconds, s.schedules.missed_heartbeats_for_restart
        settings = s
    except Exception as exc:  # an unreadable config only costs the defaults
        logger.warning("using default heartbeat cadence: %s", exc)
    data = load_review(ledger_path, days, end_ms, settings=settings, min_trades=min_trades)
    return build_review(data, heartbeat_seconds=heartbeat_seconds, missed_after=missed_after)


def ledger_summary(ledger: Ledger | str | os.PathLike) -> dict[str, Any]:
    """Return :func:`~botcore.analytics.metrics.summary` of a whole ledger (every trade, every snapshot).

    The backtest's summary is this call on its ledger.
    """
    if isinstance(ledger, Ledger):
        with ledger.snapshot():
            return metrics.summary(ledger.trades(), ledger.equity(), ledger.starting_cash())
    with Ledger.open(ledger, readonly=True) as book:
        return ledger_summary(book)
