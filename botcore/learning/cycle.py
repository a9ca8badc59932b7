"""The continuous learning cycle (every ``schedules.learning_hours``): reweight signals, tune thresholds.

:func:`run_learning_cycle` reads the latest closed trades of the ledger,
gives each the signal scores at its entry (:func:`botcore.learning.outcomes.trade_contexts`:
the outcome log, else the decision trail, else recomputed from the market
store), attributes outcomes to signals and steps the weights and the
conviction thresholds by the bounded rules of :mod:`botcore.learning.rules`.
When something moved it stores a NEW version of the ``learning`` parameters,
active, with every reason and the window's metrics; before the first learned
version it stores the configured prior as a version of its own, so that
``botcore params rollback learning`` can always return to it. A cycle that
moves nothing writes no version, only ``meta learning:last_cycle``.

The body of a ``learning`` version::

    {"weights": {signal: weight},                      # all ten, SIGNAL_NAMES keys
     "strategy_overrides": {"min_conviction.<strategy>": value},  # build_params keys
     "reasons": [...], "metrics": {...}, "attribution": {signal: {...}},
     "thresholds": {strategy: {...}}, "window": {...}, "based_on": version or None}

The engine reads the active version with :func:`active_overrides`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from botcore.analytics.metrics import expectancy, profit_factor, summary, win_rate
from botcore.analytics.trail import binding_gates
from botcore.clock import DAY_MS
from botcore.config.models import SIGNAL_NAMES, STRATEGY_NAMES, Settings
from botcore.learning import calibration
from botcore.learning.config import LearningConfig
from botcore.learning.outcomes import SCORE_COLUMNS, trade_contexts
from botcore.learning.rules import WeightUpdate, signal_edges, tune_thresholds, update_weights
from botcore.ledger import Ledger
from botcore.ledger import now_ms as wall_now_ms

logger = logging.getLogger(__name__)

__all__ = [
    "KIND",
    "LAST_CYCLE_META",
    "CycleReport",
    "active_overrides",
    "current_learning",
    "learning_due",
    "prior_body",
    "run_learning_cycle",
]

#: Parameter kind of the learning cycle's versions.
KIND = "learning"
#: ``meta`` key with the outcome of the last (non dry-run) cycle.
LAST_CYCLE_META = "learning:last_cycle"
def _clean(x: Any) -> Any:
    """Return ``x`` JSON-safe: non-finite floats become None, NumPy scalars Python ones."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def prior_body(settings: Settings) -> dict[str, Any]:
    """Return the body of the configured prior: config weights, no overrides."""
    return {
        "weights": {name: float(settings.signals.weights[name]) for name in SIGNAL_NAMES},
        "strategy_overrides": {},
        "reasons": ["prior: weights of config/signals.yaml, thresholds of config/strategies.yaml"],
        "metrics": {}, "attribution": {}, "thresholds": {}, "window": {}, "based_on": None,
    }


def configured_thresholds(settings: Settings) -> dict[str, float]:
    """Return the configured ``min_conviction`` of each enabled strategy."""
    return {name: float(st.min_conviction) for name, st in settings.strategies.strategies.items()
            if st.enabled and name in STRATEGY_NAMES}


def current_learning(ledger: Ledger, settings: Settings) -> tuple[np.ndarray, dict[str, Any], int | None]:
    """Return the active learning state: ``(weights (K,), strategy overrides, version or None)``.

    Without an active ``learning`` version: the configured prior and no overrides.
    """
    from botcore.signals.engine import weights_array

    active = ledger.active_params(KIND)
    if active is None:
        return weights_array(settings.signals), {}, None
    stored = active.body.get("weights", {})
    unknown = set(stored) - set(SIGNAL_NAMES)
    if unknown:
        raise ValueError(f"parameters learning v{active.version}: unknown signals {sorted(unknown)}")
    values = [float(stored.get(name, settings.signals.weights[name])) for name in SIGNAL_NAMES]
    try:
        weights = weights_array(settings.signals, values)
    except ValueError as exc:
        raise ValueError(f"parameters learning v{active.version}: {exc}") from None
    return weights, dict(active.body.get("strategy_overrides", {})), active.version


def active_overrides(ledger: Ledger, settings: Settings, *, capital: bool = True,
                     patterns: bool = True) -> tuple[np.ndarray, dict[str, Any]]:
    """Return what ``decide`` must use now: ``(signal weights (K,), build_params overrides)``.

    - weights: the active ``learning`` version's (else the configured prior),
      in SIGNAL_NAMES order, for ``weights_array(settings.signals, weights)``
      / the engine's ``EngineConfig.weights``;
    - overrides for :func:`botcore.strategy.build_params`: the active
      ``learning`` version's thresholds, the ``regime_allowed`` of an ACTIVE
      (human-approved) ``patterns`` version when ``patterns``, and when
      ``capital`` the autonomy controller's sizing scale
      (:func:`botcore.learning.autonomy.sizing_overrides` of the active
      capital multiplier; computed from the configuration, so applying it
      again gives the same values).

    The overrides are checked with ``build_params`` here, so a bad version
    raises ``ValueError`` naming it before the engine uses it.
    """
    from botcore.learning.autonomy import active_capital_multiplier, sizing_overrides
    from botcore.learning.patterns import active_pattern_overrides
    from botcore.strategy.params import build_params

    weights, overrides, version = current_learning(ledger, settings)
    if patterns:
        overrides.update(active_pattern_overrides(ledger, settings))
    if capital:
        overrides.update(sizing_overrides(settings, active_capital_multiplier(ledger)))
    try:
        build_params(settings, overrides)
    except ValueError as exc:
        raise ValueError(f"active learning overrides (learning v{version}): {exc}") from None
    return weights, overrides


def learning_due(ledger: Ledger, now_ms: int, hours: float) -> bool:
    """Return True when no learning cycle ran in the last ``hours`` (``schedules.learning_hours``)."""
    last = ledger.get_meta(LAST_CYCLE_META)
    return not isinstance(last, dict) or int(now_ms) - int(last.get("ts_ms", 0)) >= hours * 3_600_000


@dataclass
class CycleReport:
    """What a learning cycle saw, decided and wrote."""

    ts_ms: int
    dry_run: bool
    n_trades: int
    n_with_context: int
    sources: dict[str, int]
    weights_before: np.ndarray
    weights: np.ndarray
    weight_table: pd.DataFrame
    thresholds_before: dict[str, float]
    thresholds: dict[str, float]
    threshold_table: pd.DataFrame
    reasons: list[str]
    metrics: dict[str, Any]
    body: dict[str, Any]
    changed: bool
    version: int | None = None
    prior_version: int | None = None
    based_on: int | None = None
    contexts: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    @property
    def reason(self) -> str:
        """The one-line reason stored with the version."""
        return "learning cycle: " + "; ".join(self.reasons)

    def weights_frame(self) -> pd.DataFrame:
        """Return before / after weights per signal with the attribution."""
        return self.weight_table

    def to_dict(self) -> dict[str, Any]:
        return _clean({
            "ts_ms": self.ts_ms, "dry_run": self.dry_run, "n_trades": self.n_trades,
            "n_with_context": self.n_with_context, "sources": self.sources, "changed": self.changed,
            "version": self.version, "prior_version": self.prior_version, "based_on": self.based_on,
            "weights_before": dict(zip(SIGNAL_NAMES, self.weights_before.tolist())),
            "weights": dict(zip(SIGNAL_NAMES, self.weights.tolist())),
            "thresholds_before": self.thresholds_before, "thresholds": self.thresholds,
            "reasons": self.reasons, "metrics": self.metrics,
        })


def _window_metrics(ledger: Ledger, trades: pd.DataFrame, now_ms: int) -> dict[str, Any]:

    if trades.empty:
        return {"n_trades": 0}
    start = int(pd.to_numeric(trades["entry_ts_ms"], errors="coerce").min())
    equity = ledger.equity(since_ms=start)
    equity = equity[equity["ts_ms"] <= now_ms]
    before = ledger.equity()
    before = before[before["ts_ms"] < start]
    try:
        starting = float(before["equity_usd"].iloc[-1]) if len(before) else ledger.starting_cash()
        s = summary(trades, equity, starting, start_ms=start, end_ms=max(int(now_ms), start + 1))
    except Exception as exc:  # noqa: BLE001 - metrics must not stop the learning; fall back to trade-only ones
        logger.warning("learning metrics: summary failed (%s); trade metrics only", exc)

        pnl = trades["net_pnl_usd"].to_numpy(dtype=np.float64)
        s = {"n_trades": int(pnl.size), "win_rate": win_rate(pnl), "profit_factor": profit_factor(pnl),
             "expectancy_usd": expectancy(pnl), "net_pnl_usd": float(pnl.sum())}
    keep = ("start_ms", "end_ms", "days", "n_trades", "win_rate", "profit_factor", "verdict", "expectancy_usd",
            "net_pnl_usd", "payoff_ratio", "max_drawdown_pct", "fees_usd", "funding_usd", "trades_per_day", "sharpe")
    return _clean({k: s[k] for k in keep if k in s})


def refit_calibrations(ctx: pd.DataFrame, strategies: Any) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Refit each strategy's Kelly calibration from its trades in the window (entry conviction, net return).

    Returns ``(overrides, evidence, reasons)``: the ``calib_*`` overrides of
    every strategy with a fit (at least :data:`calibration.MIN_TRADES` trades
    with a recorded conviction, wins and losses), and per strategy the knots,
    the payoff, the win rate with its Wilson interval and the walk-forward
    folds (fitted in sample, scored on later trades only) as evidence.
    """
    overrides: dict[str, Any] = {}
    evidence: dict[str, Any] = {}
    reasons: list[str] = []
    if ctx is None or not len(ctx) or "strategy_id" not in ctx.columns:
        return overrides, evidence, reasons
    for strategy in strategies:
        mine = ctx[(ctx["strategy_id"] == strategy) & ctx["conviction"].notna()]
        cal = calibration.fit_calibration(mine["conviction"], mine["net_return"])
        if cal is None:
            continue
        folds = calibration.walk_forward(mine)
        skill, skill_lo, skill_hi = calibration.brier_skill_interval(folds)
        wins = int(round(cal.win_rate * cal.n_trades))
        lo, hi = calibration.wilson_interval(wins, cal.n_trades)
        overrides.update(calibration.calibration_overrides(strategy, cal))
        evidence[strategy] = {**cal.to_dict(), "win_rate_ci": [lo, hi], "brier_skill": skill,
                              "brier_skill_ci": [skill_lo, skill_hi], "folds": folds.to_dict("records")}
        reasons.append(f"calibration.{strategy} refitted on {cal.n_trades} trades: win rate {cal.win_rate:.0%} "
                       f"[{lo:.0%}, {hi:.0%}], payoff {cal.payoff:.2f}, win probability {cal.win_prob[0]:.0%} at "
                       f"conviction {cal.conviction[0]:.2f} to {cal.win_prob[-1]:.0%} at {cal.conviction[-1]:.2f}; "
                       f"out-of-sample Brier gain over the prior {skill:+.4f} over {len(folds)} folds")
    return overrides, evidence, reasons


def run_learning_cycle(
    ledger: Ledger,
    settings: Settings,
    *,
    cfg: LearningConfig | None = None,
    store: Any = None,
    now_ms: int | None = None,
    dry_run: bool = False,
    activate: bool = True,
) -> CycleReport:
    """Run one learning cycle; store a new ``learning`` version when something moved.

    Parameters
    ----------
    ledger : Ledger
        A writer (a read-only ledger works with ``dry_run``).
    settings : Settings
        The configuration: prior weights, configured thresholds, enabled strategies.
    cfg : LearningConfig, optional
        The learning knobs (defaults of :mod:`botcore.learning.config`).
    store : Store, optional
        A market store: recompute the entry signals of trades the log and the trail lack.
    now_ms : int, optional
        The cycle time (default the wall clock); trades closed after it are ignored.
    dry_run : bool
        Compute and report, write nothing.
    activate : bool
        Activate the new version (False: store it as a proposal).
    """
    cfg = cfg or LearningConfig()
    now = int(wall_now_ms() if now_ms is None else now_ms)
    trades = ledger.trades()
    trades = trades[trades["exit_ts_ms"] <= now]
    if "adopted" in trades.columns:
        trades = trades[(trades["adopted"] == 0) & trades["entry_ts_ms"].notna()]
    window = trades.tail(cfg.weights.window_trades).reset_index(drop=True)
    ctx = trade_contexts(ledger, settings, store=store, trades=window, record=not dry_run and not ledger.readonly)
    has_ctx = (ctx["context_source"] != "none").to_numpy() if len(ctx) else np.zeros(0, bool)
    sources = ctx["context_source"].value_counts().to_dict() if len(ctx) else {}
    scores = ctx[list(SCORE_COLUMNS)].to_numpy(dtype=np.float64) if len(ctx) else np.empty((0, len(SIGNAL_NAMES)))
    edges = signal_edges(scores[has_ctx], ctx["side"].to_numpy(dtype=np.float64)[has_ctx] if len(ctx) else np.empty(0),
                         ctx["net_return"].to_numpy(dtype=np.float64)[has_ctx] if len(ctx) else np.empty(0),
                         cfg.weights.min_abs_score)

    from botcore.signals.engine import weights_array

    prior = weights_array(settings.signals)
    weights_before, overrides_before, active_version = current_learning(ledger, settings)
    wu = update_weights(prior, weights_before, edges, int(has_ctx.sum()), cfg.weights)

    configured = configured_thresholds(settings)
    thresholds_before = {s: float(overrides_before.get(f"min_conviction.{s}", v)) for s, v in configured.items()}
    if not cfg.thresholds.enabled:
        thresholds, th_table, th_reasons = dict(thresholds_before), pd.DataFrame(), []
    elif len(window) < cfg.weights.burn_in_trades:
        thresholds, th_table = dict(thresholds_before), pd.DataFrame()
        th_reasons = [f"burn-in: {len(window)} closed trades < {cfg.weights.burn_in_trades}; no threshold moves"]
    else:
        since = now - int(cfg.thresholds.rate_window_days * DAY_MS)
        decisions = ledger.decisions(since)
        decisions = decisions[decisions["ts_ms"] <= now]
        binding = binding_gates(decisions, by_strategy=True) if len(decisions) else None
        thresholds, th_table, th_reasons = tune_thresholds(window, thresholds_before, configured, now, cfg.thresholds,
                                                           binding=binding)

    active = ledger.active_params(KIND)
    last_seen = (active.body.get("window") or {}).get("last_exit_ms") if active is not None else None
    newest = int(window["exit_ts_ms"].max()) if len(window) else None
    if last_seen is not None and (newest is None or newest <= int(last_seen)):
        # no closed trade since the active version learned: the same evidence must not move anything again
        table = wu.table.copy()
        table["new"], table["step"], table["status"] = table["current"], 0.0, "no new trades"
        wu = WeightUpdate(weights_before.copy(), table,
                          [f"no closed trade since learning v{active_version} learned (last exit {int(last_seen)} ms); "
                           "the same evidence moves nothing again"])
        thresholds, th_reasons = dict(thresholds_before), []
    overrides = {k: v for k, v in overrides_before.items() if not k.startswith("min_conviction.")}
    overrides.update({f"min_conviction.{s}": v for s, v in thresholds.items() if v != configured[s]})
    calib_overrides, calibration, calib_reasons = ({}, {}, []) if not cfg.thresholds.enabled or (
        last_seen is not None and (newest is None or newest <= int(last_seen))) else refit_calibrations(ctx, configured)
    overrides.update(calib_overrides)
    weights_changed = bool(np.any(wu.weights != weights_before))
    changed = weights_changed or thresholds != thresholds_before or any(
        overrides_before.get(k) != v for k, v in calib_overrides.items())
    reasons = list(wu.reasons) + list(th_reasons) + calib_reasons
    if changed:
        reasons = [r for r in reasons if not r.startswith(("every eligible", "no signal was live"))] or reasons
    metrics = _window_metrics(ledger, window, now)
    metrics.update({"n_with_context": int(has_ctx.sum()), "context_sources": sources})
    body = _clean({
        "weights": dict(zip(SIGNAL_NAMES, wu.weights.tolist())),
        "strategy_overrides": overrides,
        "reasons": reasons,
        "metrics": metrics,
        "attribution": {name: {c: wu.table.loc[name, c] for c in ("n", "ic", "t_stat", "ic_shrunk", "target", "status")}
                        for name in SIGNAL_NAMES},
        "thresholds": {s: {"before": thresholds_before[s], "after": thresholds[s], "configured": configured[s]}
                       for s in configured},
        "calibration": calibration,
        "window": {"ts_ms": now, "n_trades": len(window),
                   "first_exit_ms": int(window["exit_ts_ms"].min()) if len(window) else None,
                   "last_exit_ms": int(window["exit_ts_ms"].max()) if len(window) else None},
        "based_on": active_version,
    })
    report = CycleReport(
        ts_ms=now, dry_run=dry_run, n_trades=len(window), n_with_context=int(has_ctx.sum()), sources=sources,
        weights_before=weights_before, weights=wu.weights, weight_table=wu.table, thresholds_before=thresholds_before,
        thresholds=thresholds, threshold_table=th_table, reasons=reasons, metrics=metrics, body=body,
        changed=changed, based_on=active_version, contexts=ctx,
    )
    if dry_run:
        logger.info("learning cycle (dry run): %s", report.reason)
        return report
    with ledger.transaction():
        if changed:
            if active_version is None:
                report.prior_version = ledger.put_params(KIND, prior_body(settings), activate=True, ts_ms=now,
                                                         reason="prior: the configured weights and thresholds "
                                                                "(baseline before the first learned version)")
            report.version = ledger.put_params(KIND, body, reason=report.reason, activate=activate, ts_ms=now)
        ledger.set_meta(LAST_CYCLE_META, _clean({"ts_ms": now, "version": report.version, "changed": changed,
                                                 "n_trades": len(window), "reasons": reasons}))
    logger.info("learning cycle: %s%s", report.reason,
                f" -> learning v{report.version}" if report.version is not None else " (no new version)")
    return report
