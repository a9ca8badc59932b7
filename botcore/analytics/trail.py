"""The decision trail read back: gate-block counts, entry context of trades, Kelly calibration.

Inputs are the ledger's ``decisions`` table (columns ``ts_ms, symbol,
strategy, outcome, reason_code, reason_mask, detail``; see
:func:`botcore.strategy.decision_rows`) and its ``trades`` table.

The ``detail`` JSON of a decision row holds what the kernel saw:
``direction, conviction, win_prob, kelly_f, expected_roi, size_usd``. Two
optional keys, when the engine records them, enable more of the review:

- ``regime``: the symbol's regime at the decision (a code of
  :data:`botcore.regime.enums.Regimes` or its name);
- ``signals``: ``{signal name: score}`` of the signals at the decision.

A trade is tied to the decision that opened it: the latest *entered* row of
the same symbol at or before the trade's entry time (within a tolerance).
All functions are pure: frames in, frames out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from botcore.analytics.metrics import breakdown, expectancy, profit_factor, verdict, win_rate
from botcore.config.models import SIGNAL_NAMES, STRATEGY_NAMES
from botcore.regime.enums import REGIME_LABELS
from botcore.strategy.enums import OUTCOME_CODES, REASON_NAMES, REASON_TEXT, Reason, explain, mask_codes

__all__ = [
    "DETAIL_FIELDS",
    "attach_entry_context",
    "binding_gate",
    "binding_gates",
    "decision_details",
    "explain_rows",
    "gate_blocks",
    "kelly_calibration",
    "kelly_zero_strategies",
    "regime_breakdown",
    "signal_breakdown",
]

#: Numeric fields of ``detail`` written by :func:`botcore.strategy.decision_rows`.
DETAIL_FIELDS = ("direction", "conviction", "win_prob", "kelly_f", "expected_roi", "size_usd")
DECISION_COLUMNS = ("ts_ms", "symbol", "strategy", "outcome", "reason_code", "reason_mask")
#: Default look-back from a trade's entry to the decision that opened it.
ENTRY_TOLERANCE_MS = 15 * 60_000


def _parse(detail: Any) -> dict:
    if detail is None or (isinstance(detail, float) and math.isnan(detail)):
        return {}
    if isinstance(detail, Mapping):
        return dict(detail)
    try:
        value = json.loads(detail)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _regime_name(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    return REGIME_LABELS.get(int(value), f"unknown_{int(value)}")


def _check_decisions(decisions: pd.DataFrame) -> None:
    missing = [c for c in DECISION_COLUMNS if c not in decisions.columns]
    if missing:
        raise ValueError(f"decisions: missing columns {missing} (expected the ledger's decisions table)")


def decision_details(decisions: pd.DataFrame) -> pd.DataFrame:
    """Return the decisions with ``detail`` unpacked into columns.

    Adds the :data:`DETAIL_FIELDS` (NaN when absent), ``regime`` (name or
    None), ``signals`` (dict or None), ``outcome_name`` and ``reason_name``.
    """
    _check_decisions(decisions)
    out = decisions.copy()
    parsed = [_parse(d) for d in (decisions["detail"] if "detail" in decisions.columns else [None] * len(decisions))]
    for name in DETAIL_FIELDS:
        out[name] = np.array([p.get(name) if p.get(name) is not None else np.nan for p in parsed], dtype=np.float64)
    out["regime"] = pd.Series([_regime_name(p.get("regime")) for p in parsed], index=out.index, dtype=object)
    out["signals"] = pd.Series([p.get("signals") if isinstance(p.get("signals"), Mapping) else None for p in parsed],
                               index=out.index, dtype=object)
    out["outcome_name"] = [REASON_NAMES.get(int(c), f"unknown_{int(c)}") for c in out["outcome"]]
    out["reason_name"] = [REASON_NAMES.get(int(c), f"unknown_{int(c)}") for c in out["reason_code"]]
    return out


def explain_rows(decisions: pd.DataFrame) -> list[str]:
    """Return one readable sentence per decision row (:func:`botcore.strategy.explain`)."""
    _check_decisions(decisions)
    strategy_ids = [STRATEGY_NAMES.index(s) if s in STRATEGY_NAMES else -1 for s in decisions["strategy"]]
    return [
        explain(int(o), int(r), int(m), s, sid)
        for o, r, m, s, sid in zip(decisions["outcome"], decisions["reason_code"], decisions["reason_mask"],
                                   decisions["symbol"], strategy_ids)
    ]


# --------------------------------------------------------------------------- gates


def row_bars(decisions: pd.DataFrame) -> np.ndarray:
    """Return how many symbol-bars each decision row stands for: ``detail.bars`` (a compressed backtest trail), else 1."""
    n = len(decisions)
    if "detail" not in decisions.columns or not n:
        return np.ones(n, dtype=np.int64)
    detail = decisions["detail"]
    has = detail.map(lambda d: isinstance(d, str) and '"bars"' in d).to_numpy(dtype=bool)
    bars = np.ones(n, dtype=np.int64)
    if has.any():
        bars[has] = [int(_parse(d).get("bars", 1) or 1) for d in detail.to_numpy()[has]]
    return bars


def gate_blocks(decisions: pd.DataFrame) -> pd.DataFrame:
    """Count how often each gate held a symbol back, over skipped decisions.

    Counts are symbol-bars: a row of a compressed backtest trail counts for
    its ``detail.bars``. Returns one row per reason code that appears (index:
    gate name) with ``code``, ``description``, ``blocked`` (skipped
    symbol-bars it decided), ``share`` (of all skipped ones), ``also_failing``
    (skipped where it failed too without deciding), ``clamped`` (entries
    it reduced) and ``alone`` (skipped where it was the only failing gate:
    the would-be entries it alone held back, :func:`binding_gates`), sorted
    by ``blocked``.
    """
    _check_decisions(decisions)
    outcome = decisions["outcome"].to_numpy(dtype=np.int64)
    reason = decisions["reason_code"].to_numpy(dtype=np.int64)
    mask = decisions["reason_mask"].to_numpy(dtype=np.int64)
    w = row_bars(decisions)
    skipped = outcome == Reason.skipped
    n_skipped = int(w[skipped].sum())
    rows = []
    for code in sorted(REASON_NAMES):
        if code in OUTCOME_CODES:
            continue
        bit = (mask >> code) & 1 == 1
        blocked = int(w[skipped & (reason == code)].sum())
        also = int(w[skipped & bit & (reason != code)].sum())
        clamped = int(w[(outcome == Reason.entered) & bit].sum())
        if blocked or also or clamped:
            rows.append({
                "gate": REASON_NAMES[code], "code": code, "description": REASON_TEXT[code], "blocked": blocked,
                "share": blocked / n_skipped if n_skipped else math.nan, "also_failing": also, "clamped": clamped,
            })
    out = pd.DataFrame(rows, columns=["gate", "code", "description", "blocked", "share", "also_failing", "clamped"])
    alone = binding_gates(decisions)["alone"]
    out["alone"] = [int(alone.get(g, 0)) for g in out["gate"]]
    return out.sort_values(["blocked", "also_failing"], ascending=False, kind="stable").set_index("gate")


def binding_gates(decisions: pd.DataFrame, by_strategy: bool = False) -> pd.DataFrame:
    """Count, per gate, the would-be entries it held back alone and in total.

    Over skipped symbol-bars (a compressed trail's row counts for its
    ``detail.bars``), each row's ``reason_mask`` lists the failing portfolio
    and symbol gates and the gates of the strategy nearest to entering. A gate
    holds a row back *alone* when it is the row's only failing gate: lift that
    gate and the entry happens (before the risk limits). Returns one row per
    gate that failed (index: gate name) with ``code``, ``alone``,
    ``alone_share`` (of the skipped symbol-bars held back by one gate only,
    ``single``), ``total`` (skipped symbol-bars where it failed),
    ``total_share`` (of all skipped, ``skipped``) and ``decided`` (where it was
    the first failing gate), sorted by ``alone`` then ``total``. With
    ``by_strategy`` the index is ``(strategy, gate)`` and the shares are within
    each strategy (``""`` for rows no strategy reached).
    """
    _check_decisions(decisions)
    cols = ["code", "alone", "alone_share", "single", "total", "total_share", "skipped", "decided"]
    skipped = decisions[decisions["outcome"] == Reason.skipped]
    mask = skipped["reason_mask"].to_numpy(dtype=np.int64)
    reason = skipped["reason_code"].to_numpy(dtype=np.int64)
    w = row_bars(skipped)
    codes = [c for c in sorted(REASON_NAMES) if c not in OUTCOME_CODES]
    bits = np.stack([(mask >> c) & 1 == 1 for c in codes], axis=1) if len(mask) else np.zeros((0, len(codes)), bool)
    single = bits.sum(axis=1) == 1
    groups = skipped["strategy"].to_numpy(dtype=object) if by_strategy else np.zeros(len(skipped), dtype=object)
    rows = []
    for group in sorted(set(groups.tolist())):
        g = groups == group
        n_skipped, n_single = int(w[g].sum()), int(w[g & single].sum())
        for k, code in enumerate(codes):
            total = int(w[g & bits[:, k]].sum())
            if not total:
                continue
            alone = int(w[g & single & bits[:, k]].sum())
            rows.append({
                "strategy": group, "gate": REASON_NAMES[code], "code": code, "alone": alone,
                "alone_share": alone / n_single if n_single else math.nan, "single": n_single, "total": total,
                "total_share": total / n_skipped if n_skipped else math.nan, "skipped": n_skipped,
                "decided": int(w[g & (reason == code)].sum()),
            })
    out = pd.DataFrame(rows, columns=["strategy", "gate", *cols])
    out = out.sort_values(["strategy", "alone", "total"], ascending=[True, False, False], kind="stable")
    return out.set_index(["strategy", "gate"]) if by_strategy else out.drop(columns="strategy").set_index("gate")


def binding_gate(decisions: pd.DataFrame) -> dict[str, Any] | None:
    """Return the gate that alone held back the most would-be entries, or None when no row was held back by one gate.

    Keys: ``gate``, ``description``, ``alone`` (symbol-bars it held back
    alone), ``single`` (symbol-bars held back by one gate only), ``share``
    (``alone / single``), ``total`` (symbol-bars where it failed),
    ``skipped`` (all skipped symbol-bars) and ``text``, one sentence with the
    share and its sample size.
    """
    table = binding_gates(decisions)
    table = table[table["alone"] > 0]
    if table.empty:
        return None
    name = str(table.index[0])
    r = table.iloc[0]
    out: dict[str, Any] = {"gate": name, "description": REASON_TEXT[int(r["code"])], "alone": int(r["alone"]),
           "single": int(r["single"]), "share": float(r["alone_share"]), "total": int(r["total"]),
           "skipped": int(r["skipped"])}
    out["text"] = (f"{name} alone held back {out['alone']:,} of the {out['single']:,} symbol-minutes one gate "
                   f"held back ({out['share']:.0%}); it failed in {out['total']:,} of {out['skipped']:,} skipped "
                   f"symbol-minutes ({out['total'] / out['skipped']:.0%})")
    return out


def gate_blocks_by_strategy(decisions: pd.DataFrame) -> pd.DataFrame:
    """Return a gate x strategy table of skipped symbol-bars each gate decided (strategy ``""`` shown as ``(none)``)."""
    _check_decisions(decisions)
    skipped = decisions[(decisions["outcome"] == Reason.skipped) & ~decisions["reason_code"].isin(OUTCOME_CODES)]
    if skipped.empty:
        return pd.DataFrame()
    table = pd.crosstab(
        skipped["reason_code"].map(lambda c: REASON_NAMES.get(int(c), f"unknown_{int(c)}")).rename("gate"),
        skipped["strategy"].replace("", "(none)").rename("strategy"),
        values=row_bars(skipped), aggfunc="sum",
    ).fillna(0).astype(int)
    return table.loc[table.sum(axis=1).sort_values(ascending=False, kind="stable").index]


def kelly_zero_strategies(decisions: pd.DataFrame) -> pd.DataFrame:
    """Return, per strategy seen in the trail, whether Kelly sized it to zero throughout.

    Columns: ``entered`` (entries issued), ``kelly_no_edge`` (rows held back by
    Kelly), ``max_kelly_f`` (over rows that recorded one, read only for a
    strategy without entries or Kelly blocks) and ``kelly_zero``:
    no entry, and either a ``kelly_no_edge`` block or every recorded Kelly
    fraction <= 0.
    """
    _check_decisions(decisions)
    d = decisions[decisions["strategy"].isin(STRATEGY_NAMES)]
    rows = {}
    for strategy, g in d.groupby("strategy", sort=True):
        entered = int((g["outcome"] == Reason.entered).sum())
        no_edge = int((g["reason_code"] == Reason.kelly_no_edge).sum())
        # the detail JSON is parsed only where the codes alone do not settle it (no entry, no Kelly block)
        kf = decision_details(g)["kelly_f"].dropna() if entered == 0 and no_edge == 0 else pd.Series([], dtype=float)
        max_kf = float(kf.max()) if len(kf) else math.nan
        rows[strategy] = {
            "entered": entered, "kelly_no_edge": no_edge, "max_kelly_f": max_kf,
            "kelly_zero": entered == 0 and (no_edge > 0 or (len(kf) > 0 and max_kf <= 0)),
        }
    out = pd.DataFrame.from_dict(rows, orient="index", columns=["entered", "kelly_no_edge", "max_kelly_f", "kelly_zero"])
    out.index.name = "strategy"
    return out


# --------------------------------------------------------------------------- trades x decisions


def attach_entry_context(trades: pd.DataFrame, decisions: pd.DataFrame,
                         tolerance_ms: int = ENTRY_TOLERANCE_MS) -> pd.DataFrame:
    """Return ``trades`` with the context of the decision that opened each one.

    Adds ``decision_ts_ms`` (NaN when no entered row of the symbol lies within
    ``tolerance_ms`` before the entry), the :data:`DETAIL_FIELDS` (prefixed
    ``entry_``: ``entry_win_prob``, ``entry_conviction`` ...), ``regime`` and
    ``signals``. Row order and index of ``trades`` are kept.
    """
    out = trades.copy()
    _check_decisions(decisions)
    d = decision_details(decisions[decisions["outcome"] == Reason.entered])
    cols = ["decision_ts_ms", *(f"entry_{f}" for f in DETAIL_FIELDS)]
    for c in cols:
        out[c] = np.nan
    out["regime"] = pd.Series([None] * len(out), index=out.index, dtype=object)
    out["signals"] = pd.Series([None] * len(out), index=out.index, dtype=object)
    if out.empty or d.empty or "entry_ts_ms" not in out.columns:
        return out
    left = out[out["entry_ts_ms"].notna()][["symbol", "entry_ts_ms"]].copy()
    left["_row"] = np.flatnonzero(out["entry_ts_ms"].notna().to_numpy())
    left["entry_ts_ms"] = left["entry_ts_ms"].astype(np.int64)
    right = d[["symbol", "ts_ms", *DETAIL_FIELDS, "regime", "signals"]].rename(
        columns={"ts_ms": "decision_ts_ms", **{f: f"entry_{f}" for f in DETAIL_FIELDS}})
    right["decision_ts_ms"] = right["decision_ts_ms"].astype(np.int64)
    merged = pd.merge_asof(
        left.sort_values("entry_ts_ms", kind="stable"), right.sort_values("decision_ts_ms", kind="stable"),
        left_on="entry_ts_ms", right_on="decision_ts_ms", by="symbol", direction="backward",
        tolerance=int(tolerance_ms),
    )
    rows = merged["_row"].to_numpy()
    for c in cols:
        values = out[c].to_numpy(dtype=np.float64).copy()
        values[rows] = merged[c].to_numpy(dtype=np.float64)
        out[c] = values
    for c in ("regime", "signals"):
        values = out[c].to_numpy(dtype=object).copy()
        values[rows] = merged[c].to_numpy(dtype=object)
        out[c] = pd.Series(values, index=out.index, dtype=object)
    out["regime"] = out["regime"].where(out["regime"].notna(), None)
    return out


def regime_breakdown(trades_ctx: pd.DataFrame) -> pd.DataFrame | None:
    """Return P&L by the regime at entry, or None when no trade has a recorded regime.

    Reads a ``regime`` column (from :func:`attach_entry_context` or carried
    by the trade rows themselves); trades without one count as ``"not recorded"``.
    """
    if "regime" not in trades_ctx.columns or trades_ctx["regime"].isna().all():
        return None
    labels = trades_ctx["regime"].map(lambda r: "not recorded" if r is None or r != r else _regime_name(r))
    return breakdown(trades_ctx, labels.to_numpy(dtype=object), name="regime")


def signal_breakdown(trades_ctx: pd.DataFrame, min_abs_score: float = 0.0) -> pd.DataFrame | None:
    """Return, per signal, the trades it agreed with (score sign = trade side) and their P&L.

    A trade counts for a signal when the signal's score at entry times the
    trade's side is > ``min_abs_score``. Columns: ``trades, wins, win_rate,
    net_pnl_usd, profit_factor, expectancy_usd, verdict`` over the trades it
    agreed with, plus ``against_trades`` and ``against_net_pnl_usd`` for the
    trades it opposed. None when no trade has recorded signals.
    """
    if "signals" not in trades_ctx.columns or not trades_ctx["signals"].map(lambda s: isinstance(s, Mapping)).any():
        return None
    side = trades_ctx["side"].to_numpy(dtype=np.float64)
    pnl = trades_ctx["net_pnl_usd"].to_numpy(dtype=np.float64)
    rows = []
    for name in SIGNAL_NAMES:
        score = np.array([float(s[name]) if isinstance(s, Mapping) and s.get(name) is not None else np.nan
                          for s in trades_ctx["signals"]])
        agree = score * side > min_abs_score
        against = score * side < -min_abs_score
        if not agree.any() and not against.any():
            continue
        pf = profit_factor(pnl[agree])
        rows.append({
            "signal": name, "trades": int(agree.sum()), "wins": int((pnl[agree] > 0).sum()),
            "win_rate": win_rate(pnl[agree]), "net_pnl_usd": math.fsum(pnl[agree]), "profit_factor": pf,
            "expectancy_usd": expectancy(pnl[agree]), "verdict": verdict(pf),
            "against_trades": int(against.sum()), "against_net_pnl_usd": math.fsum(pnl[against]),
        })
    if not rows:
        return None
    return pd.DataFrame(rows).set_index("signal").sort_values("net_pnl_usd", ascending=False, kind="stable")


def kelly_calibration(trades_ctx: pd.DataFrame, bins: Sequence[float] = (0.0, 0.4, 0.5, 0.55, 0.6, 0.7, 1.0)) -> dict[str, pd.DataFrame] | None:
    """Compare the win probability Kelly assumed at entry with the realised win rate.

    Uses ``entry_win_prob`` from :func:`attach_entry_context` (or a
    ``win_prob`` column). Returns ``{"by_strategy": ..., "by_bucket": ...}``:
    per strategy and per bucket of predicted probability, ``trades``,
    ``predicted`` (mean win probability), ``realised`` (win rate) and
    ``gap`` (realised - predicted); None when no trade recorded one.
    """
    col = "entry_win_prob" if "entry_win_prob" in trades_ctx.columns else "win_prob"
    if col not in trades_ctx.columns:
        return None
    t = trades_ctx[trades_ctx[col].notna()]
    if t.empty:
        return None

    def table(groups: pd.Series | np.ndarray, name: str) -> pd.DataFrame:
        rows = {}
        for label, g in t.groupby(groups, sort=True, observed=True):
            predicted = float(g[col].mean())
            realised = win_rate(g["net_pnl_usd"])
            rows[label] = {"trades": len(g), "predicted": predicted, "realised": realised,
                           "gap": realised - predicted}
        out = pd.DataFrame.from_dict(rows, orient="index", columns=["trades", "predicted", "realised", "gap"])
        out.index.name = name
        return out

    buckets = pd.cut(t[col], bins=list(bins), include_lowest=True)
    by_bucket = table(buckets.astype(str).to_numpy(), "predicted_win_prob")
    by_strategy = table(t["strategy_id"].to_numpy(), "strategy")
    total = table(np.array(["all"] * len(t)), "strategy")
    return {"by_strategy": pd.concat([by_strategy, total]), "by_bucket": by_bucket}


def data_outage_cycles(decisions: pd.DataFrame) -> pd.Series:
    """Return, per cycle time, True when every symbol was held back by a data outage.

    A cycle counts only when it has a row for every symbol seen in the trail
    (a compressed trail writes rows only where something changed).
    """
    _check_decisions(decisions)
    if decisions.empty:
        return pd.Series([], dtype=bool)
    outage = decisions["reason_code"].isin([Reason.data_outage, Reason.min_live_signals])
    by_ts = decisions.assign(_outage=outage).groupby("ts_ms")
    complete = by_ts["symbol"].nunique() == decisions["symbol"].nunique()
    return by_ts["_outage"].all() & complete


def mask_reason_names(mask: int) -> list[str]:
    """Return the names of the gates set in a reason mask, outcomes excluded."""
    return [REASON_NAMES[c] for c in mask_codes(int(mask)) if c not in OUTCOME_CODES]
