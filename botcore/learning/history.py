"""Weights and benchings over time, from the ledger's parameter versions (for the review and the dashboard).

:func:`weights_history` gives one row per ``learning`` version (its signal
weights, thresholds and reason); :func:`bench_history` one row per symbol
benched or returned, read by comparing successive ``benched_symbols``
versions; :func:`held_back` counts, per benched symbol, the cycles the
engine held its entries back and the entries it would have made (decision
rows with reason ``benched``).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from botcore.config.models import SIGNAL_NAMES
from botcore.ledger import Ledger

__all__ = ["bench_history", "held_back", "weights_history"]

_BENCHED = 39  # botcore.strategy.enums.Reason.benched


def _body(text: Any) -> dict:
    return json.loads(text) if isinstance(text, str) else dict(text or {})


def weights_history(ledger: Ledger) -> pd.DataFrame:
    """Return one row per ``learning`` version: ``version, ts_ms, active, reason``, a column per signal, ``thresholds``."""
    versions = ledger.list_params("learning")
    rows = []
    for r in versions.itertuples(index=False):
        body = _body(r.body)
        weights = body.get("weights", {})
        rows.append({"version": int(r.version), "ts_ms": int(r.created_ts_ms), "active": bool(r.active),
                     "reason": r.reason, **{s: float(weights[s]) if s in weights else np.nan for s in SIGNAL_NAMES},
                     "thresholds": dict(body.get("strategy_overrides", {}))})
    return pd.DataFrame(rows, columns=["version", "ts_ms", "active", "reason", *SIGNAL_NAMES, "thresholds"])


def bench_history(ledger: Ledger) -> pd.DataFrame:
    """Return the benchings and returns: ``version, ts_ms, symbol, event`` (``benched``/``returned``), ``reason``.

    A version that adds a symbol benches it (at its ``since_ms``); one that
    drops it returns it (at the version's time, with the ``returned`` record's
    reason when there is one). Versions are read in order, so a rollback shows
    as the change it makes.
    """
    versions = ledger.list_params("benched_symbols")
    rows = []
    before: dict[str, Any] = {}
    for r in versions.itertuples(index=False):
        body = _body(r.body)
        now = body.get("symbols", {})
        now = {s: {} for s in now} if isinstance(now, list) else dict(now)
        returned = body.get("returned", {})
        for s in sorted(set(now) - set(before)):
            info = now[s] if isinstance(now[s], dict) else {}
            rows.append({"version": int(r.version), "ts_ms": int(info.get("since_ms", r.created_ts_ms)), "symbol": s,
                         "event": "benched", "reason": str(info.get("reason", r.reason))})
        for s in sorted(set(before) - set(now)):
            info = returned.get(s, {}) if isinstance(returned, dict) else {}
            rows.append({"version": int(r.version), "ts_ms": int(info.get("ts_ms", r.created_ts_ms)), "symbol": s,
                         "event": "returned", "reason": str(info.get("reason", r.reason))})
        before = now
    return pd.DataFrame(rows, columns=["version", "ts_ms", "symbol", "event", "reason"])


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
