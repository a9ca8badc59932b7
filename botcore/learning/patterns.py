"""The daily intelligence learner: conditions with an edge, validated out of sample, FDR-corrected.

Search
------
A *condition* fixes one value on each of up to ``max_order`` dimensions
among regime at entry, strategy, symbol and hour of day (UTC, in buckets of
``hour_bucket_hours``), e.g. ``{regime: trending, strategy: trend_conservative}``.
Every condition with at least ``min_trades`` closed trades is tested; its
edge is the mean net return per trade (after fees and funding) of the trades
inside it: a condition with an edge makes money (``favor``) or loses it
(``avoid``) on its own, whatever the rest does. A missing regime is not a
value (it is left out).

Walk-forward validation
-----------------------
Trades are split in time into ``n_folds + 1`` blocks. In fold ``f`` the
direction of the edge is learned on blocks ``0..f-1`` only (the sign of the
condition's mean return there, given ``min_train_trades``) and tested on
block ``f``: the t statistic of the condition's mean return in the block,
signed by the training direction, turned into a normal score through its t
distribution. The fold scores are combined (Stouffer, weighted by the square
root of the test trades) into one out-of-sample z and a one-sided p-value:
small only when the direction chosen on the past keeps holding in the future.

Multiple comparisons
--------------------
The out-of-sample p-values of all tested conditions are corrected together
with ``statsmodels.stats.multitest.multipletests`` (``fdr_bh`` by default)
at ``fdr_alpha``. Only rejected hypotheses are *discoveries*; nothing else
may influence anything.

Proposals
---------
:func:`run_pattern_learner` stores the discoveries with their evidence as an
INACTIVE ``patterns`` parameter version (inactive = proposed). A proposal
can carry ``overrides``: a strategy x regime condition whose trades validate
as losing (``avoid``) becomes ``regime_allowed[regime,
strategy] = 0``. Only when a person activates the version
(``botcore params activate V``) does :func:`active_pattern_overrides` hand
those to ``decide`` (through :func:`botcore.learning.cycle.active_overrides`).
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special
from statsmodels.stats.multitest import multipletests

from botcore.clock import DAY_MS
from botcore.config.models import REGIME_NAMES, STRATEGY_NAMES, Settings
from botcore.learning.config import LearningConfig, PatternConfig
from botcore.ledger import Ledger
from botcore.ledger import now_ms as wall_now_ms

logger = logging.getLogger(__name__)

__all__ = [
    "KIND",
    "LAST_RUN_META",
    "PatternReport",
    "active_pattern_overrides",
    "condition_labels",
    "discover_patterns",
    "patterns_due",
    "run_pattern_learner",
]

#: Parameter kind of the learner's proposals.
KIND = "patterns"
LAST_RUN_META = "patterns:last_run"
def condition_labels(trades: pd.DataFrame, cfg: PatternConfig = PatternConfig()) -> pd.DataFrame:
    """Return one label column per searched dimension (None where unknown).

    Reads ``regime`` (a code of :data:`botcore.regime.enums.Regimes`, a name, or NaN),
    ``strategy_id``, ``symbol`` and ``entry_ts_ms`` (for the hour of day).
    """
    from botcore.regime.enums import REGIME_LABELS

    out = pd.DataFrame(index=trades.index)
    for dim in cfg.dimensions:
        if dim == "regime":
            values: list[str | None] = []
            for r in trades["regime"] if "regime" in trades.columns else [None] * len(trades):
                if r is None or (isinstance(r, float) and math.isnan(r)):
                    values.append(None)
                elif isinstance(r, str):
                    values.append(r if r in REGIME_NAMES else None)
                else:
                    name = REGIME_LABELS.get(int(r))
                    values.append(name if name in REGIME_NAMES else None)
            out["regime"] = pd.Series(values, index=trades.index, dtype=object)
        elif dim == "strategy":
            out["strategy"] = trades["strategy_id"].astype(object)
        elif dim == "symbol":
            out["symbol"] = trades["symbol"].astype(object)
        elif dim == "hour":
            b = cfg.hour_bucket_hours
            h = (pd.to_numeric(trades["entry_ts_ms"], errors="coerce") // 3_600_000 % 24 // b * b)
            out["hour"] = [None if not math.isfinite(x) else f"{int(x):02d}-{int(x) + b:02d}h" for x in h]
    return out


def _t_mean(x: np.ndarray) -> tuple[float, float, int]:
    """Return (mean, t statistic against 0, degrees of freedom); NaN when undefined."""
    if x.size < 2:
        return (float(x.mean()) if x.size else math.nan), math.nan, 0
    sd = float(x.std(ddof=1))
    m = float(x.mean())
    if sd <= 0:
        return m, math.nan, x.size - 1
    return m, m / (sd / math.sqrt(x.size)), x.size - 1


def _oos_test(ret: np.ndarray, inside: np.ndarray, blocks: list[np.ndarray], cfg: PatternConfig) -> dict[str, Any]:
    """Walk-forward test of one condition (trades in time order): does the sign learned on the past hold?"""
    zs, ws, agree, used = [], [], 0, 0
    for f in range(1, len(blocks)):
        train, test = blocks[f - 1], blocks[f]
        tin = ret[:train[-1] + 1][inside[:train[-1] + 1]]
        if tin.size < cfg.min_train_trades:
            continue
        sign = np.sign(tin.mean())
        if sign == 0:
            continue
        m, t, df = _t_mean(ret[test][inside[test]])
        if not math.isfinite(t):
            continue
        z = float(special.ndtri(np.clip(special.stdtr(df, sign * t), 1e-15, 1 - 1e-15)))
        zs.append(z)
        ws.append(math.sqrt(int(inside[test].sum())))
        agree += int(sign * m > 0)
        used += 1
    if not used:
        return {"oos_z": math.nan, "p_value": math.nan, "folds": 0, "folds_agree": 0}
    w = np.asarray(ws)
    z = float(np.dot(w, zs) / math.sqrt(np.dot(w, w)))
    return {"oos_z": z, "p_value": float(special.ndtr(-z)), "folds": used, "folds_agree": agree}


@dataclass
class PatternReport:
    """The search: every tested condition with its evidence, and the discoveries."""

    table: pd.DataFrame          # one row per tested condition
    discoveries: pd.DataFrame    # rows of ``table`` with ``discovery`` True
    n_trades: int
    alpha: float
    method: str
    reasons: list[str]
    proposal: dict[str, Any] = field(default_factory=dict)
    version: int | None = None

    @property
    def n_tested(self) -> int:
        return int(self.table["p_value"].notna().sum()) if len(self.table) else 0


_TABLE_COLUMNS = ["condition", "dims", "n", "mean_return", "rest_mean_return", "effect", "in_sample_p", "oos_z",
                  "p_value", "folds", "folds_agree", "q_value", "discovery", "direction"]


def discover_patterns(trades: pd.DataFrame, cfg: PatternConfig = PatternConfig()) -> PatternReport:
    """Search the conditions of ``trades`` for an edge; validate walk-forward; correct for multiple comparisons.

    ``trades`` needs ``net_return``, ``entry_ts_ms`` and the columns of
    :func:`condition_labels` (e.g. :func:`botcore.learning.outcomes.trade_contexts`).
    """
    t = trades[np.isfinite(pd.to_numeric(trades["net_return"], errors="coerce").to_numpy(dtype=np.float64))]
    t = t.sort_values("entry_ts_ms", kind="stable").reset_index(drop=True)
    n = len(t)
    empty = pd.DataFrame(columns=_TABLE_COLUMNS)
    if n < cfg.min_trades_total:
        why = f"{n} closed trades < {cfg.min_trades_total}: no pattern search"
        return PatternReport(empty, empty, n, cfg.fdr_alpha, cfg.fdr_method, [why])
    ret = t["net_return"].to_numpy(dtype=np.float64)
    labels = condition_labels(t, cfg)
    codes, names = {}, {}
    for dim in cfg.dimensions:
        col = labels[dim]
        values = col.where(col.notna(), None).to_numpy(dtype=object)
        known = np.array([v is not None for v in values])
        uniq = sorted({str(v) for v in values[known]})
        index = {v: i for i, v in enumerate(uniq)}
        codes[dim] = np.array([index[str(v)] if k else -1 for v, k in zip(values, known)], dtype=np.int64)
        names[dim] = uniq
    blocks = np.array_split(np.arange(n), cfg.n_folds + 1)
    rows = []
    for order in range(1, cfg.max_order + 1):
        for dims in itertools.combinations(cfg.dimensions, order):
            sub = np.column_stack([codes[d] for d in dims])
            known = np.asarray((sub >= 0).all(axis=1))
            if not known.any():
                continue
            cells, inverse, counts = np.unique(sub[known], axis=0, return_inverse=True, return_counts=True)
            known_rows = np.flatnonzero(known)
            for c, (cell, count) in enumerate(zip(cells, counts)):
                if count < cfg.min_trades:
                    continue
                inside = np.zeros(n, dtype=bool)
                inside[known_rows[inverse.ravel() == c]] = True
                m, tt, df = _t_mean(ret[inside])
                p_in = float(2 * special.stdtr(df, -abs(tt))) if math.isfinite(tt) else math.nan
                rows.append({
                    "condition": {d: names[d][int(v)] for d, v in zip(dims, cell)}, "dims": "x".join(dims),
                    "n": int(count), "mean_return": m, "rest_mean_return": float(ret[~inside].mean()),
                    "effect": m, "in_sample_p": p_in, **_oos_test(ret, inside, blocks, cfg),
                })
    table = pd.DataFrame(rows, columns=_TABLE_COLUMNS[:-3])
    table["q_value"] = np.nan
    table["discovery"] = False
    table["direction"] = np.where(table["effect"] > 0, "favor", "avoid") if len(table) else []
    tested = table["p_value"].notna().to_numpy() if len(table) else np.zeros(0, bool)
    if tested.any():
        reject, q, _, _ = multipletests(table.loc[tested, "p_value"].to_numpy(), alpha=cfg.fdr_alpha,
                                        method=cfg.fdr_method)
        table.loc[tested, "q_value"] = q
        table.loc[tested, "discovery"] = reject
    table = table.sort_values(["discovery", "p_value"], ascending=[False, True], kind="stable").reset_index(drop=True)
    found = table[table["discovery"]].reset_index(drop=True)
    reasons = [f"{int(tested.sum())} conditions tested on {n} trades ({cfg.n_folds} walk-forward folds), "
               f"{len(found)} discoveries at FDR {cfg.fdr_alpha:g} ({cfg.fdr_method})"]
    for r in found.itertuples(index=False):
        reasons.append(f"{r.direction} {_fmt_condition(r.condition)}: mean net return {r.mean_return:+.4%} over "
                       f"{r.n} trades ({r.rest_mean_return:+.4%} elsewhere), out-of-sample z {r.oos_z:+.2f} "
                       f"(p {r.p_value:.2g}, q {r.q_value:.2g}, {r.folds_agree}/{r.folds} folds agree)")
    return PatternReport(table, found, n, cfg.fdr_alpha, cfg.fdr_method, reasons)


def _fmt_condition(condition: dict[str, str]) -> str:
    return " & ".join(f"{k}={v}" for k, v in condition.items())


def _clean(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(float(v)) else None
    return v


def proposal_overrides(found: pd.DataFrame, settings: Settings) -> dict[str, Any]:
    """Return ``build_params`` overrides implied by the discoveries (``regime_allowed`` flips), or {}."""
    from botcore.strategy.params import build_params

    allowed = np.array(build_params(settings)[0]["regime_allowed"], dtype=np.int64)
    flipped = False
    for r in found.itertuples(index=False):
        cond = r.condition
        if set(cond) != {"strategy", "regime"} or r.direction != "avoid" or not r.mean_return < 0:
            continue
        if cond["strategy"] in STRATEGY_NAMES and cond["regime"] in REGIME_NAMES:
            row, col = REGIME_NAMES.index(cond["regime"]) + 1, STRATEGY_NAMES.index(cond["strategy"])
            flipped = flipped or bool(allowed[row, col])
            allowed[row, col] = 0
    return {"regime_allowed": allowed.tolist()} if flipped else {}


def patterns_due(ledger: Ledger, now_ms: int, hours: float = 24.0) -> bool:
    """Return True when the learner did not run in the last ``hours`` (daily by default)."""
    last = ledger.get_meta(LAST_RUN_META)
    return not isinstance(last, dict) or int(now_ms) - int(last.get("ts_ms", 0)) >= hours * 3_600_000


def run_pattern_learner(ledger: Ledger, settings: Settings, *, cfg: LearningConfig | None = None,
                        now_ms: int | None = None, store: Any = None, trades: pd.DataFrame | None = None,
                        dry_run: bool = False) -> PatternReport:
    """Search the ledger's recent trades for patterns; store discoveries as an INACTIVE ``patterns`` version.

    ``trades``: contexts to search (default :func:`~botcore.learning.outcomes.trade_contexts`
    of the trades closed in the last ``patterns.lookback_days``).
    """
    from botcore.learning.outcomes import trade_contexts

    cfg = cfg or LearningConfig()
    pcfg = cfg.patterns
    now = int(wall_now_ms() if now_ms is None else now_ms)
    if trades is None:
        since = now - int(pcfg.lookback_days * DAY_MS)
        trades = trade_contexts(ledger, settings, store=store, since_ms=since, record=False)
        trades = trades[trades["exit_ts_ms"] <= now]
    report = discover_patterns(trades, pcfg)
    if len(report.discoveries):
        overrides = proposal_overrides(report.discoveries, settings)
        report.proposal = _clean({
            "patterns": [{k: getattr(r, k) for k in ("condition", "direction", "n", "mean_return", "rest_mean_return",
                                                     "effect", "oos_z", "p_value", "q_value", "folds", "folds_agree")}
                         for r in report.discoveries.itertuples(index=False)],
            "overrides": overrides,
            "evidence": {"n_trades": report.n_trades, "n_tested": report.n_tested, "alpha": report.alpha,
                         "method": report.method, "n_folds": pcfg.n_folds, "max_order": pcfg.max_order,
                         "dimensions": list(pcfg.dimensions), "window_end_ms": now,
                         "lookback_days": pcfg.lookback_days},
            "reasons": report.reasons,
        })
    if dry_run:
        return report
    with ledger.transaction():
        if report.proposal:
            report.version = ledger.put_params(KIND, report.proposal, activate=False, ts_ms=now,
                                               reason="PROPOSED by the daily intelligence learner: "
                                                      + "; ".join(report.reasons))
        ledger.set_meta(LAST_RUN_META, _clean({"ts_ms": now, "version": report.version,
                                                "n_tested": report.n_tested,
                                                "n_discoveries": len(report.discoveries), "reasons": report.reasons}))
    return report


def active_pattern_overrides(ledger: Ledger, settings: Settings | None = None) -> dict[str, Any]:
    """Return the ``build_params`` overrides of the ACTIVE (approved) ``patterns`` version, or {}."""
    active = ledger.active_params(KIND)
    if active is None:
        return {}
    return dict(active.body.get("overrides", {}))
