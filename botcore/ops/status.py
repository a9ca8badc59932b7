"""``botcore status``: the bot's health, read from the ledger (read-only) and the process table.

:func:`collect_status` answers the operator's questions in one JSON-able dict:
is the process alive (the pid of the last heartbeat) and how much memory does
it use, is the ledger writable and the disk not full, are heartbeats fresh
(fewer than ``missed_heartbeats_for_restart`` missed), when did the last cycle
run, are the feeds fresh, which positions are open, is the kill switch engaged,
is a circuit breaker tripped, what did the supervisor, the last reconciliation
and the last preflight say, and the latest alerts.

``healthy`` is False (exit code 1) when the ledger is unusable, heartbeats are
stale, the process is gone, the invariant is broken by more than $1 or the last
reconciliation failed; ``attention`` lists states that are not failures but
need a human (kill switch engaged, breaker tripped, feeds stale, preflight
failed).

The loop records its circuit-breaker state for this view (and the dashboard)
with :func:`record_breaker_state` whenever it changes.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil

from botcore.errors import LedgerError
from botcore.ledger import Ledger
from botcore.ledger.integrity import check_integrity
from botcore.ledger.lock import describe_holder, writer_active
from botcore.ops.heartbeat import COMPONENT, LIVE_STATUSES, beat_wall_ms, ledger_access
from botcore.ops.killswitch import kill_file_state, kill_switch_state
from botcore.ops.notify import alert_log

logger = logging.getLogger(__name__)

BREAKER_META_KEY = "circuit_breaker"
BREAKER_NAMES = {0: "none", 1: "session", 2: "daily", 3: "drawdown"}
RECONCILE_META_KEY = "reconcile:last"
PREFLIGHT_META_KEY = "preflight"
SUPERVISOR_META_KEY = "supervisor"


def record_breaker_state(ledger: Ledger, code: int, until_ms: int, *, now_ms: int | None = None) -> None:
    """Record the circuit breaker (``portfolio["breaker_code"]``, ``["breaker_until_ms"]``) in meta ``circuit_breaker``."""
    ledger.set_meta(BREAKER_META_KEY, {
        "code": int(code), "name": BREAKER_NAMES.get(int(code), f"code_{int(code)}"), "until_ms": int(until_ms),
        "updated_ms": time.time_ns() // 1_000_000 if now_ms is None else int(now_ms),
    })


def _json_detail(value: Any) -> dict:
    import json

    if value is None or (isinstance(value, float) and value != value):
        return {}
    if isinstance(value, dict):
        return value
    try:
        out = json.loads(value)
        return out if isinstance(out, dict) else {}
    except (TypeError, ValueError):
        return {}


def _last_decision(ledger: Ledger) -> int | None:
    """Return the time of the ledger's latest decision row (its last cycle), or None."""
    row = ledger._con.execute("SELECT MAX(ts_ms) FROM decisions").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _process(pid: int | None) -> dict[str, Any]:
    if pid is None:
        return {"pid": None, "alive": False, "rss_mb": None}
    try:
        proc = psutil.Process(int(pid))
        alive = proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
        rss = round(proc.memory_info().rss / 2**20, 2) if alive else None
        return {"pid": int(pid), "alive": bool(alive), "rss_mb": rss, "started_ms": int(proc.create_time() * 1000)}
    except psutil.Error:
        return {"pid": int(pid), "alive": False, "rss_mb": None}


def collect_status(
    ledger_path: str | os.PathLike[str],
    *,
    heartbeat_s: float = 20.0,
    missed_beats: int = 3,
    feed_staleness_s: Mapping[str, float] | None = None,
    component: str = COMPONENT,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """Return the health of the bot that writes ``ledger_path`` (see the module docstring).

    Parameters
    ----------
    ledger_path : path
        The ledger (opened read-only).
    heartbeat_s, missed_beats : float, int
        ``schedules.heartbeat_seconds`` and ``schedules.missed_heartbeats_for_restart``.
    feed_staleness_s : mapping, optional
        Largest acceptable age per feed (``signals.max_staleness_seconds``).
    component : str
        The loop's heartbeat component.
    now_ms : int, optional
        The time to judge against (default now).
    """
    now_ms = time.time_ns() // 1_000_000 if now_ms is None else int(now_ms)
    path = Path(ledger_path)
    status: dict[str, Any] = {"ts_ms": now_ms, "healthy": False, "problems": [], "attention": []}
    problems = status["problems"]
    status["ledger"] = {"path": str(path), "exists": path.exists(), **ledger_access(path)}
    if not path.exists():
        problems.append(f"ledger {path} does not exist (has the bot ever run with this --ledger?)")
        status["kill_switch"] = kill_switch_state(path).to_dict()
        return status
    integrity = check_integrity(path)
    status["integrity"] = integrity.to_dict()
    if not integrity.ok:
        problems.extend(f"ledger unusable: {p}" for p in integrity.problems)
        status["kill_switch"] = kill_file_state(path).to_dict()
        return status
    holder = writer_active(path)
    status["writer"] = holder
    try:
        ledger = Ledger.open(path, readonly=True)
    except LedgerError as exc:
        problems.append(f"ledger unusable: {exc}")
        return status
    if holder is not None:
        status["ledger"]["writer"] = describe_holder(holder)
    try:
        with ledger:
            _collect(status, ledger, now_ms, heartbeat_s, missed_beats, feed_staleness_s, component)
    except LedgerError as exc:  # a record a damaged page garbled: reported, never raised
        problems.append(f"ledger unusable: {exc}")
    status["healthy"] = not problems
    return status


def _collect(status: dict[str, Any], ledger: Ledger, now_ms: int, heartbeat_s: float, missed_beats: int,
             feed_staleness_s: Mapping[str, float] | None, component: str) -> None:
    """Fill ``status`` from an open, sound ledger (the body of :func:`collect_status`)."""
    problems, attention = status["problems"], status["attention"]
    status["ledger"].update({"schema_version": ledger.schema_version, "mode": ledger.get_meta("mode")})
    if not status["ledger"]["ledger_writable"]:
        problems.append("ledger is not writable")
    free = status["ledger"].get("disk_free_mb")
    if free is not None and free < 500:
        attention.append(f"disk space low: {free:.0f} MB free")

    # heartbeats and the process
    last = ledger.last_heartbeats()
    beats = last[last["component"] == component] if not last.empty else last
    hb: dict[str, Any] = {"component": component, "interval_s": heartbeat_s, "last_ts_ms": None,
                          "last_status": None, "age_s": None, "last_live_ts_ms": None, "missed": None,
                          "fresh": False}
    detail: dict = {}
    if not beats.empty:
        row = beats.iloc[0]
        detail = _json_detail(row["detail"])
        wall_ms = beat_wall_ms(int(row["ts_ms"]), detail)
        hb.update(last_ts_ms=wall_ms, last_status=row["status"], age_s=round((now_ms - wall_ms) / 1000, 3))
        last_live: int | None = wall_ms if row["status"] in LIVE_STATUSES else None
        if last_live is None:  # stalled or stopped now: when was it last alive?
            window = ledger.heartbeats(since_ms=now_ms - int(max(3600, 10 * heartbeat_s) * 1000))
            live = window[(window["component"] == component) & window["status"].isin(LIVE_STATUSES)] \
                if not window.empty else window
            if not live.empty:
                last_live = int(live["ts_ms"].max())
        if last_live is not None:
            missed = max(0, int((now_ms - last_live) // (heartbeat_s * 1000)))
            hb.update(last_live_ts_ms=last_live, missed=missed, fresh=missed < missed_beats)
    status["heartbeat"] = hb
    if hb["last_ts_ms"] is None:
        problems.append("no heartbeat recorded: the bot has not run against this ledger")
    elif hb["last_status"] == "stopped":
        problems.append("the bot stopped (its last heartbeat says so)")
    elif not hb["fresh"]:
        last_live_ms = hb["last_live_ts_ms"]
        when = "never (recently)" if last_live_ms is None else f"{(now_ms - last_live_ms) / 1000:.0f} s ago"
        problems.append(f"heartbeats stale: last live beat {when} "
                        f"(interval {heartbeat_s:g} s, restart after {missed_beats} missed)")
    process = _process(detail.get("pid"))
    process["rss_mb_at_last_beat"] = detail.get("rss_mb")
    status["process"] = process
    if hb["last_ts_ms"] is not None and process["pid"] is None:
        attention.append("the last heartbeat carries no pid: process health unknown (write beats with "
                         "botcore.ops.Heartbeat)")
    elif hb["last_ts_ms"] is not None and hb["last_status"] != "stopped" and not process["alive"]:
        problems.append(f"process {process['pid']} of the last heartbeat is not running")
    last_cycle = detail.get("last_cycle_ts_ms")
    if last_cycle is None:  # the loop's own beat (stamped with the cycle time) or no tick yet: the trail says
        last_cycle = _last_decision(ledger)
    simulated = ledger.get_meta("replay") is not None
    # a replay's cycles carry simulated times: how long ago is judged by the wall time of its last beat
    age_s = (None if last_cycle is None else hb["age_s"] if simulated
             else round((now_ms - int(last_cycle)) / 1000, 3))
    status["last_cycle"] = {"ts_ms": last_cycle, "age_s": age_s, "cycles": detail.get("cycles", detail.get("cycle")),
                            "clock": "simulated" if simulated else "wall"}

    # feeds
    feeds = {}
    for name, age in (detail.get("feed_age_s") or {}).items():
        limit = (feed_staleness_s or {}).get(name)
        fresh = None if age is None or limit is None else bool(age <= limit)
        if age is None:
            fresh = False
        feeds[name] = {"age_s": age, "max_age_s": limit, "fresh": fresh}
        if fresh is False:
            attention.append(f"feed {name} stale ({'no data' if age is None else f'{age:.0f} s old'})")
    for _, row in (last[last["component"] != component].iterrows() if not last.empty else ()):
        if str(row["component"]).startswith("feed:"):
            age_s = round((now_ms - int(row["ts_ms"])) / 1000, 3)
            feeds[str(row["component"])[5:]] = {"age_s": age_s, "status": row["status"],
                                                "fresh": row["status"] in LIVE_STATUSES}
    status["feeds"] = feeds

    # positions, kill switch, breakers, reconciliation, invariant
    positions = ledger.positions()
    status["positions"] = {
        "count": int(len(positions)),
        "open": [
            {"symbol": r["symbol"], "qty_contracts": float(r["qty_contracts"]),
             "avg_entry_price": float(r["avg_entry_price"]),
             "entry_ts_ms": None if r["entry_ts_ms"] != r["entry_ts_ms"] or r["entry_ts_ms"] is None
             else int(r["entry_ts_ms"]),
             "strategy": r["strategy_id"], "adopted": bool(r["adopted"])}
            for _, r in positions.iterrows()
        ],
    }
    ks = kill_switch_state(ledger)
    status["kill_switch"] = ks.to_dict()
    if ks.engaged:
        attention.append(f"kill switch engaged ({ks.action}) by {ks.who}: {ks.why or 'no reason given'}")
    breaker = ledger.get_meta(BREAKER_META_KEY)
    status["circuit_breaker"] = breaker or {"code": 0, "name": "none", "until_ms": -1}
    if breaker and int(breaker.get("code", 0)) != 0 and int(breaker.get("until_ms", -1)) > now_ms:
        attention.append(f"circuit breaker {breaker.get('name')} tripped until "
                         f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(int(breaker['until_ms']) / 1000))}")
    reconcile = ledger.get_meta(RECONCILE_META_KEY)
    status["reconcile"] = reconcile
    if reconcile is not None and not reconcile.get("ok", True):
        problems.append("last reconciliation with the venue left problems unexplained")
    try:
        report = ledger.check_invariant()
        status["invariant"] = {"ok": report.ok, "red_flag": report.red_flag,
                               "cash_diff_usd": report.cash_diff_usd}
        if report.red_flag:
            problems.append(f"ledger invariant broken: cash off by {report.cash_diff_usd:+.2f} USD")
        elif not report.ok:
            attention.append("ledger invariant has small discrepancies (under $1)")
    except LedgerError as exc:
        status["invariant"] = {"ok": None, "error": str(exc)}
        problems.append(f"ledger invariant not checkable: {exc}")

    supervisor = status["supervisor"] = ledger.get_meta(SUPERVISOR_META_KEY)
    if supervisor and supervisor.get("state") == "gave_up":
        problems.append("the supervisor gave up after its restart budget: the bot is not running")
    elif supervisor and supervisor.get("state") in ("exited", "stopped"):
        attention.append(f"the supervisor {supervisor['state']}: the bot is not supervised now")
    preflight = ledger.get_meta(PREFLIGHT_META_KEY)
    status["preflight"] = None if preflight is None else {
        k: preflight.get(k) for k in ("ts_ms", "ok", "counts")
    }
    if preflight is not None and not preflight.get("ok", True):
        attention.append("last preflight failed")
    status["alerts"] = alert_log(ledger, 5)
