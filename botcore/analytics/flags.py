"""Red flags of a review window, from the ledger's trail, heartbeats, trades, invariant and meta.

Each check returns a :class:`Flag` whether raised or not, so a report can
show what was checked and what was clean:

``kelly_zero_all_strategies``
    every strategy in the trail was sized to zero by Kelly (no edge left);
``missed_heartbeats``
    a component's heartbeats stopped (without a ``stopped`` beat) for longer than
    ``missed_after * heartbeat_seconds`` (3 x 20 s by default; for a component
    beating more slowly by design, ``missed_after`` of its median intervals)
    inside the window;
``invariant_discrepancy``
    the ledger invariant is off by more than $1 (the report of
    :meth:`botcore.ledger.Ledger.check_invariant`);
``circuit_breaker_trips``
    a circuit breaker held trading back (each run of consecutive cycles is one
    trip), or closed a position;
``kill_switch``
    the kill switch held trading back or closed a position in the window, or
    is engaged now;
``reconciliation_mismatch``
    a reconciliation with the venue found differences it could not explain
    (``meta['reconcile:last']`` or a ``reconcile`` heartbeat not ``ok``), or
    adopted a position;
``repeated_outages``
    three or more outages: heartbeats reporting trouble (``degraded``,
    ``stalled``, ``outage``, ... anything but ``ok``, ``idle``, ``starting``
    and ``stopped``) and runs of cycles where every symbol was held back by
    missing data.

Pure functions of frames and dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from botcore.analytics.trail import data_outage_cycles, kelly_zero_strategies
from botcore.model.enums import TradeCloseReason
from botcore.strategy.enums import Reason

__all__ = ["Flag", "FLAG_NAMES", "red_flags", "flags_frame"]

FLAG_NAMES = (
    "kelly_zero_all_strategies",
    "missed_heartbeats",
    "invariant_discrepancy",
    "circuit_breaker_trips",
    "kill_switch",
    "reconciliation_mismatch",
    "repeated_outages",
)
#: A money discrepancy of the invariant above this is a red flag (as in botcore.ledger.invariant).
INVARIANT_RED_FLAG_USD = 1.0
#: Outages in a window from which they count as repeated.
REPEATED_OUTAGES = 3
#: Heartbeat statuses that are not outages (as botcore.ops.heartbeat writes them; "stopped" is a clean stop).
FINE_STATUSES = frozenset({"ok", "idle", "starting", "stopped"})
BREAKER_CODES = (Reason.circuit_breaker_session, Reason.circuit_breaker_daily, Reason.circuit_breaker_drawdown)


class Flag(NamedTuple):
    """One red-flag check: its name, whether it is raised, how many events, and what was seen."""

    name: str
    raised: bool
    count: int  # type: ignore[assignment]  # the field shadows tuple.count; renaming it would change the public API
    detail: str


def _runs(active: pd.Series) -> int:
    """Return how many runs of True a boolean series (in time order) holds."""
    a = active.to_numpy(dtype=bool)
    if not a.size:
        return 0
    return int(a[0]) + int(np.sum(a[1:] & ~a[:-1]))


def _cycles_with(decisions: pd.DataFrame, codes: tuple[int, ...]) -> pd.Series:
    if decisions.empty:
        return pd.Series([], dtype=bool)
    hit = decisions["reason_code"].isin(codes) | decisions["reason_mask"].map(
        lambda m: any(int(m) >> c & 1 for c in codes))
    return hit.groupby(decisions["ts_ms"]).any().sort_index()


def _closed_by(trades: pd.DataFrame, reason: TradeCloseReason) -> int:
    if trades.empty or "close_reason" not in trades.columns:
        return 0
    return int((trades["close_reason"] == int(reason)).sum())


def kelly_flag(decisions: pd.DataFrame) -> Flag:
    table = kelly_zero_strategies(decisions)
    if table.empty:
        return Flag("kelly_zero_all_strategies", False, 0, "no strategy decisions in the window")
    zero = table.index[table["kelly_zero"]].tolist()
    raised = len(zero) == len(table)
    detail = ("Kelly size 0 for every strategy: " + ", ".join(zero)) if raised else (
        f"Kelly size 0 for {len(zero)} of {len(table)} strategies" + (f" ({', '.join(zero)})" if zero else ""))
    return Flag("kelly_zero_all_strategies", raised, len(zero), detail)


def heartbeat_gaps(heartbeats: pd.DataFrame, max_gap_ms: int, start_ms: int | None = None,
                   end_ms: int | None = None, missed_after: int | None = None) -> pd.DataFrame:
    """Return the gaps between consecutive heartbeats of each component longer than its limit.

    The limit is ``max_gap_ms``, or, for a component that beats more slowly
    than that by design, ``missed_after`` times its median interval. A gap
    after a ``stopped`` beat (a clean shutdown) does not count. Columns
    ``component, from_ts_ms, to_ts_ms, gap_s, limit_s``. With ``end_ms``, the
    silence from a component's last heartbeat to ``end_ms`` counts too.
    """
    columns = ["component", "from_ts_ms", "to_ts_ms", "gap_s", "limit_s"]
    rows: list[dict[str, Any]] = []
    if heartbeats.empty:
        return pd.DataFrame(rows, columns=columns)
    for component, g in heartbeats.sort_values("ts_ms", kind="stable").groupby("component", sort=True):
        keep = np.ones(len(g), dtype=bool)
        if start_ms is not None:
            keep &= g["ts_ms"].to_numpy() >= start_ms
        if end_ms is not None:
            keep &= g["ts_ms"].to_numpy() <= end_ms
        ts = g["ts_ms"].to_numpy(dtype=np.int64)[keep]
        stopped = (g["status"].to_numpy(dtype=object)[keep] == "stopped") if "status" in g.columns else (
            np.zeros(ts.size, dtype=bool))
        limit = max_gap_ms
        if missed_after is not None and ts.size > 2:
            limit = max(limit, int(missed_after * np.median(np.diff(ts))))
        if end_ms is not None and ts.size:
            ts = np.append(ts, end_ms)
            stopped = np.append(stopped, False)
        gaps = np.diff(ts)
        for i in np.flatnonzero((gaps > limit) & ~stopped[:-1]):
            rows.append({"component": component, "from_ts_ms": int(ts[i]), "to_ts_ms": int(ts[i + 1]),
                         "gap_s": gaps[i] / 1000.0, "limit_s": limit / 1000.0})
    return pd.DataFrame(rows, columns=columns)


def heartbeat_flag(heartbeats: pd.DataFrame, heartbeat_seconds: float, missed_after: int,
                   start_ms: int | None, end_ms: int | None) -> Flag:
    if heartbeats.empty:
        return Flag("missed_heartbeats", False, 0, "no heartbeats recorded (a backtest ledger has none)")
    max_gap_ms = int(missed_after * heartbeat_seconds * 1000)
    gaps = heartbeat_gaps(heartbeats, max_gap_ms, start_ms, end_ms, missed_after)
    if gaps.empty:
        return Flag("missed_heartbeats", False, 0,
                    f"no component silent for more than {missed_after} of its heartbeat intervals")
    worst = gaps.loc[gaps["gap_s"].idxmax()]
    detail = (f"{len(gaps)} silences over {missed_after} heartbeat intervals "
              f"({', '.join(sorted(gaps['component'].unique()))}); longest {worst['gap_s']:.0f} s "
              f"({worst['component']}, from {pd.Timestamp(int(worst['from_ts_ms']), unit='ms'):%Y-%m-%d %H:%M} UTC)")
    return Flag("missed_heartbeats", True, len(gaps), detail)


def invariant_flag(invariant: Any) -> Flag:
    """Flag from an :class:`~botcore.ledger.InvariantReport` or its ``to_dict()`` (None: not checked)."""
    if invariant is None:
        return Flag("invariant_discrepancy", False, 0, "not checked")
    report = invariant.to_dict() if hasattr(invariant, "to_dict") else dict(invariant)
    bad = [c for c in report.get("checks", []) if c.get("unit") == "USD" and abs(c.get("diff", 0.0)) > INVARIANT_RED_FLAG_USD]
    if bad:
        worst = max(bad, key=lambda c: abs(c["diff"]))
        return Flag("invariant_discrepancy", True, len(bad),
                    f"{len(bad)} money checks off by more than $1; worst {worst['name']} {worst['diff']:+.2f} USD")
    cash = report.get("cash_diff_usd", 0.0)
    state = "OK" if report.get("ok", True) else "broken by less than $1"
    return Flag("invariant_discrepancy", False, 0, f"invariant {state} (cash diff {cash:+.6f} USD)")


def breaker_flag(decisions: pd.DataFrame, trades: pd.DataFrame) -> Flag:
    cycles = _cycles_with(decisions, BREAKER_CODES)
    trips = _runs(cycles)
    closed = _closed_by(trades, TradeCloseReason.CIRCUIT_BREAKER)
    if not trips and not closed:
        return Flag("circuit_breaker_trips", False, 0, "no circuit breaker tripped")
    kinds = []
    if not decisions.empty:
        codes = decisions.loc[decisions["reason_code"].isin(BREAKER_CODES), "reason_code"].unique()
        kinds = sorted(Reason._fields[int(c)] for c in codes)
    detail = f"{trips} trips over {int(cycles.sum())} cycles" + (f" ({', '.join(kinds)})" if kinds else "")
    if closed:
        detail += f"; {closed} positions closed by a breaker"
    return Flag("circuit_breaker_trips", True, max(trips, 1), detail)


def kill_switch_flag(decisions: pd.DataFrame, trades: pd.DataFrame, meta: Mapping[str, Any]) -> Flag:
    cycles = _cycles_with(decisions, (Reason.kill_switch,))
    engaged = _runs(cycles)
    closed = _closed_by(trades, TradeCloseReason.KILL_SWITCH)
    on_now = bool(meta.get("flag:kill_switch", False))
    if not engaged and not closed and not on_now:
        return Flag("kill_switch", False, 0, "kill switch not engaged")
    parts = []
    if engaged:
        parts.append(f"held trading back in {int(cycles.sum())} cycles ({engaged} episodes)")
    if closed:
        parts.append(f"closed {closed} positions")
    if on_now:
        parts.append("engaged now")
    return Flag("kill_switch", True, max(engaged, closed, int(on_now)), "; ".join(parts))


def reconcile_flag(heartbeats: pd.DataFrame, trades: pd.DataFrame, meta: Mapping[str, Any],
                   start_ms: int | None, end_ms: int | None) -> Flag:
    problems: list[str] = []
    last = meta.get("reconcile:last")
    if isinstance(last, Mapping) and not last.get("ok", True):
        ts = last.get("ts_ms")
        if ts is None or ((start_ms is None or ts >= start_ms) and (end_ms is None or ts <= end_ms)):
            problems.extend(str(p) for p in last.get("problems", []) or ["last reconciliation not ok"])
    n_bad_beats = 0
    if not heartbeats.empty:
        rec = heartbeats[heartbeats["component"].str.startswith("reconcil") & (heartbeats["status"] != "ok")]
        n_bad_beats = len(rec)
    adopted = _closed_by(trades, TradeCloseReason.RECONCILE) + (
        int(trades["adopted"].sum()) if "adopted" in trades.columns and not trades.empty else 0)
    count = len(problems) + n_bad_beats
    if not count and not adopted:
        return Flag("reconciliation_mismatch", False, 0, "no reconciliation mismatch recorded")
    parts = []
    if problems:
        parts.append("unexplained: " + "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else ""))
    if n_bad_beats:
        parts.append(f"{n_bad_beats} reconciliation heartbeats not ok")
    if adopted:
        parts.append(f"{adopted} trades from positions adopted or closed by reconciliation")
    return Flag("reconciliation_mismatch", True, max(count, adopted), "; ".join(parts))


def outage_flag(decisions: pd.DataFrame, heartbeats: pd.DataFrame, repeated: int = REPEATED_OUTAGES) -> Flag:
    cycles = data_outage_cycles(decisions).sort_index()
    market_outages = _runs(cycles)
    bad = heartbeats[~heartbeats["status"].isin(FINE_STATUSES)] if not heartbeats.empty else heartbeats
    bad = bad[~bad["component"].str.startswith("reconcil")] if not bad.empty else bad
    count = market_outages + len(bad)
    parts = []
    if market_outages:
        parts.append(f"{market_outages} market-wide data outages ({int(cycles.sum())} cycles)")
    if len(bad):
        by = bad.groupby("component")["status"].agg(lambda s: ", ".join(sorted(set(s))))
        parts.append(f"{len(bad)} heartbeats reporting trouble: " + "; ".join(f"{c} ({s})" for c, s in by.items()))
    if not parts:
        return Flag("repeated_outages", False, 0, "no outage recorded")
    return Flag("repeated_outages", count >= repeated, count, "; ".join(parts))


def red_flags(
    decisions: pd.DataFrame,
    heartbeats: pd.DataFrame,
    trades: pd.DataFrame,
    *,
    invariant: Any = None,
    meta: Mapping[str, Any] | None = None,
    heartbeat_seconds: float = 20.0,
    missed_after: int = 3,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> list[Flag]:
    """Run every red-flag check over a window; return one :class:`Flag` per name in :data:`FLAG_NAMES`.

    ``decisions``, ``heartbeats`` and ``trades`` are the ledger tables
    restricted to the window; ``invariant`` the invariant report (or its
    dict); ``meta`` the ledger's meta values (``flag:kill_switch``,
    ``reconcile:last``); the heartbeat cadence comes from ``config/schedules.yaml``.
    """
    meta = dict(meta or {})
    return [
        kelly_flag(decisions),
        heartbeat_flag(heartbeats, heartbeat_seconds, missed_after, start_ms, end_ms),
        invariant_flag(invariant),
        breaker_flag(decisions, trades),
        kill_switch_flag(decisions, trades, meta),
        reconcile_flag(heartbeats, trades, meta, start_ms, end_ms),
        outage_flag(decisions, heartbeats),
    ]


def flags_frame(flags: list[Flag]) -> pd.DataFrame:
    """Return the flags as a table indexed by name (raised first)."""
    df = pd.DataFrame(flags, columns=list(Flag._fields)).set_index("name")
    return df.sort_values("raised", ascending=False, kind="stable")
