"""Weights, benchings and the capital multiplier over time, from the ledger's parameter versions.

For the review (:mod:`botcore.reports.review`) and the dashboard.

:func:`weights_history` gives one row per ``learning`` version (its signal
weights, thresholds and reason); :func:`bench_history` one row per symbol
benched or returned, each version read against its parent;
:func:`autonomy_history` one row per ``autonomy`` version (capital
multiplier, health); :func:`held_back` counts, per benched symbol, the
cycles the engine held its entries back and the entries it would have made
(decision rows with reason ``benched``); :func:`bench_periods` pairs each
benching with its return and counts what it held back.

Every function takes a :class:`~botcore.ledger.Ledger` or the frame of
:meth:`Ledger.list_params` (``body`` as JSON text), so a reader that already
holds one snapshot of the ledger does not read it again.

Status of a version
-------------------
The ledger records which version of a kind is active, and each version's
parent (the version active when it was stored), not when an activation or
a rollback happened. :func:`version_status` reads the line from the active
version back through its parents: ``active``; ``superseded`` (an ancestor
of the active one); ``rolled back or not activated`` (off that line: a
rollback moved away from it, or it was stored as a proposal).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from botcore.config.models import SIGNAL_NAMES
from botcore.ledger import Ledger

__all__ = [
    "ACTIVE",
    "OFF_LINE",
    "SUPERSEDED",
    "autonomy_history",
    "bench_history",
    "bench_periods",
    "held_back",
    "version_status",
    "weights_history",
]

_BENCHED = 39  # botcore.strategy.enums.Reason.benched

#: Status of the active version of a kind.
ACTIVE = "active"
#: Status of an ancestor of the active version (it was in force before a later version replaced it).
SUPERSEDED = "superseded"
#: Status of a version off the active line (rolled back, or stored without activation).
OFF_LINE = "rolled back or not activated"


def _body(text: Any) -> dict:
    """Return a stored JSON body as a dict ({} for None/NaN, e.g. a decision row without detail)."""
    if isinstance(text, str):
        text = json.loads(text)
    return dict(text) if isinstance(text, Mapping) else {}


def _versions(source: Ledger | pd.DataFrame, kind: str) -> pd.DataFrame:
    """Return the versions of ``kind`` oldest first, from a ledger or a :meth:`Ledger.list_params` frame."""
    if isinstance(source, Ledger):
        return source.list_params(kind)
    if source is None or source.empty:
        return pd.DataFrame(columns=["version", "kind", "created_ts_ms", "parent_version", "active", "body", "reason"])
    return source[source["kind"] == kind].sort_values("version").reset_index(drop=True)


def _parent(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def version_status(versions: pd.DataFrame) -> dict[int, str]:
    """Return ``{version: status}`` for the versions of one kind (see the module docstring)."""
    parents = {int(r.version): _parent(r.parent_version) for r in versions.itertuples(index=False)}
    active = [int(r.version) for r in versions.itertuples(index=False) if bool(r.active)]
    line: set[int] = set()
    v = active[-1] if active else None
    while v is not None and v not in line:
        line.add(v)
        v = parents.get(v)
    return {v: ACTIVE if active and v == active[-1] else SUPERSEDED if v in line else OFF_LINE for v in parents}


def weights_history(source: Ledger | pd.DataFrame) -> pd.DataFrame:
    """Return one row per ``learning`` version.

    Columns ``version, ts_ms, active, reason``, a column per signal (NaN where
    the version has no weight for it), ``thresholds`` (its ``strategy_overrides``),
    ``parent_version`` and ``status``.
    """
    versions = _versions(source, "learning")
    status = version_status(versions)
    rows = []
    for r in versions.itertuples(index=False):
        body = _body(r.body)
        weights = body.get("weights", {})
        rows.append({"version": int(r.version), "ts_ms": int(r.created_ts_ms), "active": bool(r.active),
                     "reason": r.reason, **{s: float(weights[s]) if s in weights else np.nan for s in SIGNAL_NAMES},
                     "thresholds": dict(body.get("strategy_overrides", {})),
                     "parent_version": _parent(r.parent_version), "status": status[int(r.version)]})
    return pd.DataFrame(rows, columns=["version", "ts_ms", "active", "reason", *SIGNAL_NAMES, "thresholds",
                                       "parent_version", "status"])


def _bench_state(body: dict) -> tuple[dict[str, dict], dict[str, Any]]:
    """Return ``(benched {symbol: record}, returned)`` of a body in any of the layouts the dashboard reads.

    ``{"symbols": {symbol: record}, "returned": ...}`` (benching.py), ``{"symbols": [symbol, ...]}`` or
    ``{symbol: record}``.
    """
    now = body.get("symbols", {} if "returned" in body else body)
    now = {s: {} for s in now} if isinstance(now, list) else dict(now)
    returned = body.get("returned", {})
    return {s: (i if isinstance(i, dict) else {}) for s, i in now.items()}, returned if isinstance(returned, dict) else {}


def bench_history(source: Ledger | pd.DataFrame) -> pd.DataFrame:
    """Return the benchings and returns.

    Columns ``version, ts_ms, symbol, event`` (``benched``/``returned``),
    ``reason``, ``until_ms`` (end of the probation of a benching, NaN for a
    return) and ``status`` (of the version that made the change).

    Each version is read against its parent (the version active when it was
    stored): one that adds a symbol benches it (at its ``since_ms``), one that
    drops it returns it (at the ``returned`` record's time and reason, else
    the version's). A rolled-back version keeps its events, with its status.
    """
    versions = _versions(source, "benched_symbols")
    status = version_status(versions)
    states = {int(r.version): _bench_state(_body(r.body))[0] for r in versions.itertuples(index=False)}
    rows = []
    for r in versions.itertuples(index=False):
        v = int(r.version)
        now, returned = _bench_state(_body(r.body))
        parent = _parent(r.parent_version)
        before = states.get(parent, {}) if parent is not None else {}
        for s in sorted(set(now) - set(before)):
            info = now[s]
            until = info.get("until_ms")
            rows.append({"version": v, "ts_ms": int(info.get("since_ms", r.created_ts_ms)), "symbol": s,
                         "event": "benched", "reason": str(info.get("reason", r.reason)),
                         "until_ms": float(until) if until is not None else np.nan, "status": status[v]})
        for s in sorted(set(before) - set(now)):
            info = returned.get(s, {}) if isinstance(returned.get(s), dict) else {}
            rows.append({"version": v, "ts_ms": int(info.get("ts_ms", r.created_ts_ms)), "symbol": s,
                         "event": "returned", "reason": str(info.get("reason", r.reason)), "until_ms": np.nan,
                         "status": status[v]})
    return pd.DataFrame(rows, columns=["version", "ts_ms", "symbol", "event", "reason", "until_ms", "status"])


def autonomy_history(source: Ledger | pd.DataFrame) -> pd.DataFrame:
    """Return one row per ``autonomy`` version: ``version, ts_ms, active, multiplier, health, reason, status``."""
    versions = _versions(source, "autonomy")
    status = version_status(versions)
    rows = []
    for r in versions.itertuples(index=False):
        body = _body(r.body)
        health = body.get("health", {})
        score = health.get("score") if isinstance(health, dict) else health
        rows.append({"version": int(r.version), "ts_ms": int(r.created_ts_ms), "active": bool(r.active),
                     "multiplier": float(body["multiplier"]) if body.get("multiplier") is not None else np.nan,
                     "health": float(score) if score is not None else np.nan, "reason": r.reason,
                     "status": status[int(r.version)]})
    return pd.DataFrame(rows, columns=["version", "ts_ms", "active", "multiplier", "health", "reason", "status"])


def held_back(decisions: pd.DataFrame) -> pd.DataFrame:
    """Return per symbol the cycles held back by the bench and the would-be entries among them.

    ``decisions`` is :meth:`Ledger.decisions` (a compressed trail's ``detail.bars``
    weighs each row). Columns ``symbol, cycles, would_be_entries, first_ts_ms, last_ts_ms``.
    """
    cols = ["symbol", "cycles", "would_be_entries", "first_ts_ms", "last_ts_ms"]
    if decisions.empty:
        return pd.DataFrame(columns=cols)
    d = decisions[decisions["reason_code"] == _BENCHED]
    if d.empty:
        return pd.DataFrame(columns=cols)
    bars = np.array([int(_body(x).get("bars") or 1) for x in d["detail"]], dtype=np.int64)
    d = d.assign(bars=bars, would=(d["reason_mask"] == 1 << _BENCHED).astype(np.int64) * bars)
    out = d.groupby("symbol").agg(cycles=("bars", "sum"), would_be_entries=("would", "sum"),
                                  first_ts_ms=("ts_ms", "min"), last_ts_ms=("ts_ms", "max")).reset_index()
    return out[cols]


def bench_periods(history: pd.DataFrame, decisions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Pair each benching of :func:`bench_history` with the return that ended it; count what it held back.

    Columns ``symbol, since_ms, until_ms`` (end of the probation),
    ``returned_ms`` (NaN: still on the bench), ``reason``, ``return_reason``,
    ``version``, ``status`` (of the benching version), ``cycles`` and
    ``would_be_entries`` (:func:`held_back` over the ``decisions`` of the
    symbol from ``since_ms`` to its return; 0 without decisions). Oldest first.
    """
    cols = ["symbol", "since_ms", "until_ms", "returned_ms", "reason", "return_reason", "version", "status",
            "cycles", "would_be_entries"]
    periods: list[dict[str, Any]] = []
    open_: dict[str, dict[str, Any]] = {}
    for r in history.sort_values(["ts_ms", "version"], kind="stable").itertuples(index=False):
        if r.event == "benched":
            if r.symbol in open_:  # benched again on another line (a rollback): the earlier stays open-ended
                continue
            open_[r.symbol] = {"symbol": r.symbol, "since_ms": int(r.ts_ms), "until_ms": r.until_ms,
                               "returned_ms": np.nan, "reason": r.reason, "return_reason": "",
                               "version": int(r.version), "status": r.status}
            periods.append(open_[r.symbol])
        elif r.symbol in open_:
            p = open_.pop(r.symbol)
            p["returned_ms"], p["return_reason"] = float(r.ts_ms), r.reason
    for p in periods:
        cycles = would = 0
        if decisions is not None and not decisions.empty:
            end = p["returned_ms"] if not pd.isna(p["returned_ms"]) else np.inf
            mine = decisions[(decisions["symbol"] == p["symbol"]) & (decisions["ts_ms"] >= p["since_ms"])
                             & (decisions["ts_ms"] <= end)]
            h = held_back(mine)
            if len(h):
                cycles, would = int(h["cycles"].iloc[0]), int(h["would_be_entries"].iloc[0])
        p["cycles"], p["would_be_entries"] = cycles, would
    return pd.DataFrame(periods, columns=cols)
