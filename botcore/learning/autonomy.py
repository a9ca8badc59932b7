"""The autonomy controller: a health score that scales capital at risk, and drift detection.

Health
------
Seven components, each in [0, 1] or ``None`` when there is no data for it
(a missing component is left out and the weights renormalised over the
others; it is never replaced by a made-up neutral value):

operations
    ``heartbeats``: 1 - share of the window spent in heartbeat gaps (a gap is
    longer than ``missed_heartbeats`` beats of the engine component);
    ``outages``: 1 - (share of cycles where every symbol was held back by a
    data outage) / ``outage_tolerance``;
    ``reconciliation``: 1 when the ledger invariant holds and the last venue
    reconciliation (``meta reconcile:last``) was ok, 0.5 for a small
    discrepancy or a reconciliation problem, 0 for a red flag (money off by
    more than $1).
performance (after ``min_trades`` closed trades, the burn-in)
    ``drawdown``: 1 - current drawdown from the equity peak / ``drawdown_limit_pct``;
    ``expectancy``: ``0.5 + t / 4`` of the t-statistic of the mean net P&L of
    the last ``expectancy_trades`` trades (0 at t <= -2, 1 at t >= 2);
    ``backtest``: live mean net return against the backtest's over the same
    period, ``1 + (live - backtest) / (backtest_tolerance x standard error)``.
drift
    ``signal_drift``: 1 while no signal's distribution shifted past
    ``psi_alert`` (confirmed by a KS test), falling linearly to 0 at ``psi_limit``.

The health score is their weighted mean. The capital multiplier is
``min_multiplier + (max_multiplier - min_multiplier) x health``, times
``shrink_factor`` when a drift (of signals or of live results against the
backtest) is past its limit. It is a pure function of the current inputs:
when the inputs recover, so does the multiplier.

Drift
-----
Per signal: the population stability index (PSI, bins at the reference's
quantiles) and the two-sample Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``)
between a reference window (a backtest, or the days before) and the recent
window. A signal is ``alert`` when PSI >= ``psi_alert`` and KS p < ``ks_alpha``,
``limit`` when PSI >= ``psi_limit`` as well. The same tests compare live
trade returns with the backtest's trades of the same period.

Persistence
-----------
:func:`evaluate_autonomy` stores a new active ``autonomy`` parameter version
(health, components, drift, multiplier, reasons) whenever the multiplier or
the set of alerts changes; :func:`active_capital_multiplier` reads it back
(1.0 when none was ever stored) and :func:`sizing_overrides` turns it into
``build_params`` overrides (``kelly_fraction`` and ``max_usd`` scaled).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from botcore.analytics.trail import data_outage_cycles
from botcore.clock import DAY_MS, HOUR_MS
from botcore.config.models import SIGNAL_NAMES, Settings
from botcore.errors import ConfigError
from botcore.learning.config import AutonomyConfig, DriftConfig, LearningConfig
from botcore.ledger import Ledger
from botcore.ledger import now_ms as wall_now_ms

logger = logging.getLogger(__name__)

__all__ = [
    "KIND",
    "AutonomyReport",
    "DriftReport",
    "HealthReport",
    "active_capital_multiplier",
    "assess_health",
    "capital_multiplier",
    "drift_report",
    "evaluate_autonomy",
    "health_score",
    "psi",
    "results_drift",
    "signal_drift",
    "signal_samples",
    "sizing_overrides",
]

#: Parameter kind of the autonomy controller's versions.
KIND = "autonomy"
COMPONENTS = ("heartbeats", "outages", "reconciliation", "drawdown", "expectancy", "backtest", "signal_drift")
_EPS = 1e-4


# =========================================================================== drift


def psi(reference: np.ndarray, recent: np.ndarray, bins: int = 10) -> float:
    """Return the population stability index of ``recent`` against ``reference`` (NaN ignored).

    Bins are the reference's quantiles (ties merged); both shares are floored
    at 1e-4 so an empty bin gives a large but finite term.
    ``PSI = sum((q - p) ln(q / p))`` over bins with reference share ``p`` and
    recent share ``q``. NaN when either side has no finite value.
    """
    ref = np.asarray(reference, dtype=np.float64).ravel()
    new = np.asarray(recent, dtype=np.float64).ravel()
    ref, new = ref[np.isfinite(ref)], new[np.isfinite(new)]
    if not ref.size or not new.size:
        return math.nan
    edges = np.unique(np.quantile(ref, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    p = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1) / ref.size
    q = np.bincount(np.searchsorted(edges, new, side="right"), minlength=edges.size + 1) / new.size
    p, q = np.maximum(p, _EPS), np.maximum(q, _EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def _status(value_psi: float, ks_p: float, n_ref: int, n_new: int, cfg: DriftConfig) -> str:
    if n_ref < cfg.min_samples or n_new < cfg.min_samples or not math.isfinite(value_psi):
        return "insufficient"
    if ks_p < cfg.ks_alpha and value_psi >= cfg.psi_limit:
        return "limit"
    if ks_p < cfg.ks_alpha and value_psi >= cfg.psi_alert:
        return "alert"
    return "ok"


def signal_drift(reference: np.ndarray, recent: np.ndarray, cfg: DriftConfig = DriftConfig()) -> pd.DataFrame:
    """Return per-signal drift between a reference and a recent sample of scores.

    ``reference`` and ``recent`` are ``(n, K)`` scores in SIGNAL_NAMES order
    (NaN: not live; e.g. :func:`signal_samples`). Columns: ``n_reference``,
    ``n_recent``, ``psi``, ``ks_stat``, ``ks_p``, ``mean_reference``,
    ``mean_recent``, ``status`` (``ok``, ``alert``, ``limit``, ``insufficient``).
    """
    ref = np.asarray(reference, dtype=np.float64)
    new = np.asarray(recent, dtype=np.float64)
    k = len(SIGNAL_NAMES)
    if ref.ndim != 2 or new.ndim != 2 or ref.shape[1] != k or new.shape[1] != k:
        raise ValueError(f"reference, recent: expected (n, {k}) score samples, got {ref.shape}, {new.shape}")
    rows = []
    for j, name in enumerate(SIGNAL_NAMES):
        a, b = ref[:, j][np.isfinite(ref[:, j])], new[:, j][np.isfinite(new[:, j])]
        value = psi(a, b, cfg.psi_bins) if a.size and b.size else math.nan
        ks_stat, ks_p = (math.nan, math.nan)
        if a.size and b.size:
            res = stats.ks_2samp(a, b, method="asymp")
            ks_stat, ks_p = float(res.statistic), float(res.pvalue)
        rows.append({"signal": name, "n_reference": int(a.size), "n_recent": int(b.size), "psi": value,
                     "ks_stat": ks_stat, "ks_p": ks_p, "mean_reference": float(a.mean()) if a.size else math.nan,
                     "mean_recent": float(b.mean()) if b.size else math.nan,
                     "status": _status(value, ks_p, a.size, b.size, cfg)})
    return pd.DataFrame(rows).set_index("signal")


def results_drift(live_returns: Sequence[float] | np.ndarray, backtest_returns: Sequence[float] | np.ndarray,
                  cfg: DriftConfig = DriftConfig()) -> dict[str, Any]:
    """Compare live trade returns with the backtest's of the same period (PSI, KS, means).

    Returns ``n_live, n_backtest, psi, ks_stat, ks_p, mean_live, mean_backtest,
    se_live, status`` (status ``insufficient`` below ``results_min_trades``
    trades on either side).
    """
    a = np.asarray(backtest_returns, dtype=np.float64)
    b = np.asarray(live_returns, dtype=np.float64)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    out: dict[str, Any] = {"n_live": int(b.size), "n_backtest": int(a.size), "psi": math.nan, "ks_stat": math.nan,
                           "ks_p": math.nan, "mean_live": float(b.mean()) if b.size else math.nan,
                           "mean_backtest": float(a.mean()) if a.size else math.nan,
                           "se_live": float(b.std(ddof=1) / math.sqrt(b.size)) if b.size > 1 else math.nan,
                           "status": "insufficient"}
    if a.size < cfg.results_min_trades or b.size < cfg.results_min_trades:
        return out
    res = stats.ks_2samp(b, a, method="asymp")
    out.update(psi=psi(a, b, min(cfg.psi_bins, max(2, int(min(a.size, b.size) // 5)))),
               ks_stat=float(res.statistic), ks_p=float(res.pvalue))
    worse = out["mean_live"] < out["mean_backtest"]
    if out["ks_p"] < cfg.ks_alpha and out["psi"] >= cfg.psi_limit and worse:
        out["status"] = "limit"
    elif out["ks_p"] < cfg.ks_alpha and out["psi"] >= cfg.psi_alert:
        out["status"] = "alert"
    else:
        out["status"] = "ok"
    return out


@dataclass(frozen=True)
class DriftReport:
    """Drift of the signal distributions and of live results against the backtest."""

    signals: pd.DataFrame                     # signal_drift() (may be empty)
    results: dict[str, Any] | None            # results_drift() or None
    alerts: list[str]
    past_limit: bool

    @property
    def max_psi(self) -> float:
        """Largest PSI among the signals with enough samples (0 when none)."""
        if self.signals.empty:
            return 0.0
        tested = self.signals[self.signals["status"] != "insufficient"]
        return float(tested["psi"].max()) if len(tested) else 0.0

    def to_dict(self) -> dict[str, Any]:
        sig = {} if self.signals.empty else {
            name: {c: _f(v) for c, v in row.items()} for name, row in self.signals.to_dict("index").items()}
        return {"signals": sig, "results": None if self.results is None else {k: _f(v) for k, v in self.results.items()},
                "alerts": list(self.alerts), "past_limit": bool(self.past_limit)}


def _f(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def drift_report(reference_scores: np.ndarray | None = None, recent_scores: np.ndarray | None = None,
                 live_returns: Sequence[float] | np.ndarray | None = None,
                 backtest_returns: Sequence[float] | np.ndarray | None = None,
                 cfg: DriftConfig = DriftConfig()) -> DriftReport:
    """Return the drift of signals (when both samples are given) and of results (when both return sets are)."""
    alerts: list[str] = []
    past = False
    sig = pd.DataFrame()
    if reference_scores is not None and recent_scores is not None:
        sig = signal_drift(reference_scores, recent_scores, cfg)
        for name, row in sig.iterrows():
            if row["status"] in ("alert", "limit"):
                alerts.append(f"signal {name} drifted: PSI {row['psi']:.3f}, KS p {row['ks_p']:.2g}, mean "
                              f"{row['mean_reference']:+.3f} -> {row['mean_recent']:+.3f}"
                              + (" (past the limit)" if row["status"] == "limit" else ""))
                past = past or row["status"] == "limit"
    res = None
    if live_returns is not None and backtest_returns is not None:
        res = results_drift(live_returns, backtest_returns, cfg)
        if res["status"] in ("alert", "limit"):
            alerts.append(f"live results drifted from the backtest: mean {res['mean_live']:+.4f} vs "
                          f"{res['mean_backtest']:+.4f}, PSI {res['psi']:.3f}, KS p {res['ks_p']:.2g}"
                          + (" (past the limit)" if res["status"] == "limit" else ""))
            past = past or res["status"] == "limit"
    return DriftReport(sig, res, alerts, past)


def signal_samples(store: Any, settings: Settings, start_ms: int, end_ms: int,
                   symbols: Sequence[str] | None = None, warmup_ms: int = 80 * HOUR_MS) -> np.ndarray:
    """Return ``(bars x symbols, K)`` signal scores over ``[start_ms, end_ms)`` from a market store (NaN: not OK).

    The signals run from ``warmup_ms`` earlier so they are live in the window.
    """
    from botcore.signals.engine import compute_signals, load_inputs

    bar = 60_000
    syms = list(symbols) if symbols is not None else [s for s in settings.universe.symbols
                                                       if s in set(store.symbols("candles_1m"))]
    if not syms:
        return np.empty((0, len(SIGNAL_NAMES)))
    lo = (int(start_ms) - int(warmup_ms)) // bar * bar
    hi = -(-int(end_ms) // bar) * bar
    grid, inputs = load_inputs(store, syms, lo, hi, settings.signals)
    out = compute_signals(inputs)
    score = np.where(np.asarray(out.status) == 0, np.asarray(out.score), np.nan)
    keep = grid >= start_ms
    return score[keep].reshape(-1, len(SIGNAL_NAMES))


# =========================================================================== health


@dataclass(frozen=True)
class HealthReport:
    """The health score, its components (None: no data) and a sentence per component."""

    score: float
    components: dict[str, float | None]
    details: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"score": _f(self.score), "components": {k: _f(v) for k, v in self.components.items()},
                "details": dict(self.details)}


def health_score(components: Mapping[str, float | None], cfg: AutonomyConfig = AutonomyConfig()) -> float:
    """Return the weighted mean of the components that have data (1.0 when none has)."""
    total = weight = 0.0
    for name, value in components.items():
        if value is None or not math.isfinite(value):
            continue
        w = float(cfg.weights.get(name, 0.0))
        total += w * float(np.clip(value, 0.0, 1.0))
        weight += w
    return total / weight if weight > 0 else 1.0


def capital_multiplier(health: HealthReport | float, cfg: AutonomyConfig = AutonomyConfig(),
                       drift: DriftReport | None = None, drift_cfg: DriftConfig = DriftConfig()) -> float:
    """Return the capital multiplier: bounds interpolated by health, shrunk past a drift limit."""
    h = health.score if isinstance(health, HealthReport) else float(health)
    h = float(np.clip(h, 0.0, 1.0)) if math.isfinite(h) else 0.0
    m = cfg.min_multiplier + (cfg.max_multiplier - cfg.min_multiplier) * h
    if drift is not None and drift.past_limit:
        m *= drift_cfg.shrink_factor
    return float(round(max(m, 0.0), 6))


def _heartbeat_score(beats: pd.DataFrame, start: int, end: int, cfg: AutonomyConfig) -> tuple[float | None, str]:
    mine = beats[beats["component"] == cfg.heartbeat_component] if len(beats) else beats
    if mine.empty:
        return None, f"no {cfg.heartbeat_component} heartbeats recorded"
    ts = np.sort(mine["ts_ms"].to_numpy(dtype=np.int64))
    first_ever = int(ts[0])
    lo = max(start, first_ever)
    if end <= lo:
        return None, "window before the first heartbeat"
    inside = ts[(ts >= lo) & (ts <= end)]
    if cfg.missed_heartbeats is None or cfg.heartbeat_seconds is None:
        raise ConfigError("autonomy: missed_heartbeats and heartbeat_seconds unset; pass AutonomyConfig.resolved(settings)")
    allowed = cfg.missed_heartbeats * cfg.heartbeat_seconds * 1000
    points = np.concatenate([[lo], inside, [end]])
    gaps = np.diff(points)
    down = float(gaps[gaps > allowed].sum())
    score = 1.0 - down / (end - lo)
    return score, f"{down / 60_000:.1f} min of heartbeat gaps over {(end - lo) / HOUR_MS:.1f} h"


def _outage_score(decisions: pd.DataFrame, cfg: AutonomyConfig) -> tuple[float | None, str]:

    if decisions.empty:
        return None, "no decisions in the window"
    cycles = data_outage_cycles(decisions)
    share = float(cycles.mean()) if len(cycles) else 0.0
    return 1.0 - share / cfg.outage_tolerance, f"{int(cycles.sum())} of {len(cycles)} cycles held back by outages"


def _reconcile_score(ledger: Ledger) -> tuple[float | None, str]:
    report = ledger.check_invariant()
    last = ledger.get_meta("reconcile:last")
    venue_ok = not isinstance(last, Mapping) or bool(last.get("ok", True))
    if report.red_flag:
        return 0.0, "ledger invariant broken by more than $1 (red flag)"
    if not report.ok or not venue_ok:
        return 0.5, ("ledger invariant discrepancy" if not report.ok else "last venue reconciliation not ok")
    return 1.0, "ledger invariant holds" + ("; last reconciliation ok" if isinstance(last, Mapping) else "")


def _drawdown_score(equity: pd.DataFrame, starting_cash: float, cfg: AutonomyConfig) -> tuple[float | None, str]:
    if equity.empty:
        return None, "no equity snapshots"
    values = equity["equity_usd"].to_numpy(dtype=np.float64)
    peak = max(float(np.max(values)), starting_cash)
    dd = max(0.0, 1.0 - float(values[-1]) / peak)
    if cfg.drawdown_limit_pct is None:
        raise ConfigError("autonomy: drawdown_limit_pct unset; pass AutonomyConfig.resolved(settings)")
    return 1.0 - dd / cfg.drawdown_limit_pct, f"drawdown {100 * dd:.2f}% of the peak (limit {100 * cfg.drawdown_limit_pct:.0f}%)"


def _expectancy_score(trades: pd.DataFrame, cfg: AutonomyConfig) -> tuple[float | None, str]:
    if len(trades) < cfg.min_trades:
        return None, f"{len(trades)} trades < {cfg.min_trades} (burn-in)"
    pnl = trades["net_pnl_usd"].to_numpy(dtype=np.float64)[-cfg.expectancy_trades:]
    sd = float(pnl.std(ddof=1)) if pnl.size > 1 else 0.0
    t = float(pnl.mean()) / (sd / math.sqrt(pnl.size)) if sd > 0 else (math.copysign(4.0, pnl.mean()) if pnl.mean() else 0.0)
    return 0.5 + t / 4.0, f"expectancy {pnl.mean():+.2f} USD/trade over the last {pnl.size} trades (t {t:+.2f})"


def _trade_returns(trades: pd.DataFrame) -> np.ndarray:
    notional = trades["entry_price"].to_numpy(dtype=np.float64) * trades["qty_base"].to_numpy(dtype=np.float64)
    pnl = trades["net_pnl_usd"].to_numpy(dtype=np.float64)
    return np.where(notional > 0, pnl / np.where(notional > 0, notional, 1.0), np.nan)


def _backtest_score(live: np.ndarray, backtest: np.ndarray | None, cfg: AutonomyConfig,
                    dcfg: DriftConfig) -> tuple[float | None, str]:
    if backtest is None:
        return None, "no backtest of the period given"
    live, backtest = live[np.isfinite(live)], backtest[np.isfinite(backtest)]
    if live.size < max(cfg.min_trades, 2) or backtest.size < dcfg.results_min_trades:
        return None, f"{live.size} live / {backtest.size} backtest trades: too few to compare"
    se = float(live.std(ddof=1) / math.sqrt(live.size))
    gap = float(live.mean() - backtest.mean())
    z = gap / se if se > 0 else (0.0 if gap >= 0 else -np.inf)
    return 1.0 + z / cfg.backtest_tolerance, (f"live mean return {live.mean():+.4%} vs backtest {backtest.mean():+.4%} "
                                             f"({z:+.2f} standard errors)")


def _drift_score(drift: DriftReport | None, dcfg: DriftConfig) -> tuple[float | None, str]:
    if drift is None or drift.signals.empty:
        return None, "no signal samples compared"
    s = drift.signals
    tested = s[s["status"] != "insufficient"]
    if tested.empty:
        return None, "too few signal samples to compare"
    flagged = tested[tested["status"].isin(["alert", "limit"])]
    if flagged.empty:
        return 1.0, f"{len(tested)} signals stable (max PSI {tested['psi'].max():.3f})"
    worst = float(flagged["psi"].max())
    score = 1.0 - (worst - dcfg.psi_alert) / max(dcfg.psi_limit - dcfg.psi_alert, 1e-12)
    return score, f"drift in {', '.join(flagged.index)} (max PSI {worst:.3f})"


def assess_health(ledger: Ledger, *, now_ms: int | None = None, cfg: AutonomyConfig = AutonomyConfig(),
                  drift: DriftReport | None = None, drift_cfg: DriftConfig = DriftConfig(),
                  backtest_trades: pd.DataFrame | None = None, settings: Settings | None = None) -> HealthReport:
    """Compute the health components from the ledger (and a drift report, a backtest's trades) at ``now_ms``.

    Knobs left None in ``cfg`` come from ``settings`` (heartbeat cadence, drawdown limit).
    """
    cfg = cfg.resolved(settings)
    now = int(wall_now_ms() if now_ms is None else now_ms)
    start = now - int(cfg.window_hours * HOUR_MS)
    comps: dict[str, float | None] = {}
    details: dict[str, str] = {}
    beats = ledger.heartbeats(since_ms=start - DAY_MS)
    comps["heartbeats"], details["heartbeats"] = _heartbeat_score(beats[beats["ts_ms"] <= now], start, now, cfg)
    decisions = ledger.decisions(since_ms=start)
    comps["outages"], details["outages"] = _outage_score(decisions[decisions["ts_ms"] <= now], cfg)
    comps["reconciliation"], details["reconciliation"] = _reconcile_score(ledger)
    equity = ledger.equity()
    equity = equity[equity["ts_ms"] <= now]
    try:
        starting = ledger.starting_cash()
    except Exception:  # noqa: BLE001 - a ledger without an account has no drawdown to score
        starting = float(equity["equity_usd"].iloc[0]) if len(equity) else 0.0
    comps["drawdown"], details["drawdown"] = _drawdown_score(equity, starting, cfg)
    trades = ledger.trades()
    trades = trades[trades["exit_ts_ms"] <= now]
    comps["expectancy"], details["expectancy"] = _expectancy_score(trades, cfg)
    bt = None
    live = _trade_returns(trades)
    if backtest_trades is not None:
        first = int(trades["entry_ts_ms"].min()) if len(trades) and trades["entry_ts_ms"].notna().any() else now
        same = backtest_trades[(backtest_trades["exit_ts_ms"] >= first) & (backtest_trades["exit_ts_ms"] <= now)]
        bt = _trade_returns(same)
    comps["backtest"], details["backtest"] = _backtest_score(live, bt, cfg, drift_cfg)
    comps["signal_drift"], details["signal_drift"] = _drift_score(drift, drift_cfg)
    comps = {k: (None if v is None else float(np.clip(v, 0.0, 1.0))) for k, v in comps.items()}
    return HealthReport(health_score(comps, cfg), comps, details)


# =========================================================================== persistence and sizing


def active_capital_multiplier(ledger: Ledger) -> float:
    """Return the capital multiplier of the active ``autonomy`` version (1.0 when none is active)."""
    active = ledger.active_params(KIND)
    if active is None:
        return 1.0
    value = float(active.body.get("multiplier", 1.0))
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"parameters autonomy v{active.version}: multiplier must be finite and > 0, got {value!r}")
    return value


def sizing_overrides(settings: Settings, multiplier: float) -> dict[str, float]:
    """Return ``build_params`` overrides scaling capital at risk by ``multiplier`` (empty at 1.0).

    ``kelly_fraction`` is scaled (capped at 1) and ``max_usd`` too (never below
    ``min_usd``, so the $200 floor and the bounds stay valid). Computed from
    the configuration, so it is idempotent.
    """
    m = float(multiplier)
    if not math.isfinite(m) or m <= 0:
        raise ValueError(f"multiplier must be finite and > 0, got {multiplier!r}")
    if m == 1.0:
        return {}
    sizing = settings.sizing
    return {"kelly_fraction": float(min(1.0, sizing.kelly_fraction * m)),
            "max_usd": float(max(sizing.min_usd, sizing.max_usd * m))}


@dataclass
class AutonomyReport:
    """One evaluation of the autonomy controller."""

    ts_ms: int
    health: HealthReport
    drift: DriftReport
    multiplier: float
    previous_multiplier: float
    reasons: list[str]
    version: int | None = None
    body: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"ts_ms": self.ts_ms, "health": self.health.to_dict(), "drift": self.drift.to_dict(),
                "multiplier": self.multiplier, "previous_multiplier": self.previous_multiplier,
                "reasons": list(self.reasons), "version": self.version}


def evaluate_autonomy(
    ledger: Ledger,
    settings: Settings | None = None,
    *,
    cfg: LearningConfig | None = None,
    now_ms: int | None = None,
    store: Any = None,
    reference_scores: np.ndarray | None = None,
    recent_scores: np.ndarray | None = None,
    backtest_trades: pd.DataFrame | None = None,
    dry_run: bool = False,
) -> AutonomyReport:
    """Score health, detect drift, set the capital multiplier; store an ``autonomy`` version when it changes.

    Signal samples: ``reference_scores`` / ``recent_scores`` when given (e.g.
    a backtest's signals as the reference), else, with a market ``store``,
    the ``drift.reference_days`` before the ``drift.recent_days`` ending at
    ``now_ms``. ``backtest_trades`` (a backtest ledger's trades over the same
    period) enable the live-against-backtest score and results drift.
    """
    cfg = cfg or LearningConfig()
    now = int(wall_now_ms() if now_ms is None else now_ms)
    dcfg = cfg.drift
    if (reference_scores is None or recent_scores is None) and store is not None and settings is not None:
        recent_start = now - int(dcfg.recent_days * DAY_MS)
        reference_scores = signal_samples(store, settings, recent_start - int(dcfg.reference_days * DAY_MS),
                                          recent_start)
        recent_scores = signal_samples(store, settings, recent_start, now)
    live_ret = bt_ret = None
    if backtest_trades is not None:
        trades = ledger.trades()
        trades = trades[trades["exit_ts_ms"] <= now]
        live_ret = _trade_returns(trades)
        first = int(trades["entry_ts_ms"].min()) if len(trades) and trades["entry_ts_ms"].notna().any() else now
        bt_ret = _trade_returns(backtest_trades[(backtest_trades["exit_ts_ms"] >= first)
                                                & (backtest_trades["exit_ts_ms"] <= now)])
    drift = drift_report(reference_scores, recent_scores, live_ret, bt_ret, dcfg)
    health = assess_health(ledger, now_ms=now, cfg=cfg.autonomy, drift=drift, drift_cfg=dcfg,
                           backtest_trades=backtest_trades, settings=settings)
    multiplier = capital_multiplier(health, cfg.autonomy, drift, dcfg)
    previous = active_capital_multiplier(ledger)
    active = ledger.active_params(KIND)
    previous_alerts = list(active.body.get("alerts", [])) if active is not None else []
    reasons = [f"health {health.score:.3f} -> capital multiplier {multiplier:.3f} "
               f"(bounds {cfg.autonomy.min_multiplier:g}-{cfg.autonomy.max_multiplier:g})"]
    weak = [f"{k} {v:.2f} ({health.details[k]})" for k, v in health.components.items() if v is not None and v < 1.0]
    reasons += weak
    if drift.past_limit:
        reasons.append(f"drift past its limit: risk shrunk x{dcfg.shrink_factor:g}")
    reasons += drift.alerts
    for alert in drift.alerts:
        logger.warning("drift alert: %s", alert)
    body = {"multiplier": multiplier, "health": health.to_dict(), "drift": drift.to_dict(),
            "alerts": list(drift.alerts), "reasons": reasons, "ts_ms": now}
    report = AutonomyReport(now, health, drift, multiplier, previous, reasons, None, body)
    changed = (active is None or abs(multiplier - previous) >= cfg.autonomy.min_change
               or sorted(drift.alerts) != sorted(previous_alerts))
    if not dry_run and changed:
        report.version = ledger.put_params(KIND, body, activate=True, ts_ms=now,
                                           reason=f"autonomy: capital multiplier {previous:.3f} -> {multiplier:.3f}; "
                                                  + "; ".join(reasons))
    logger.info("autonomy: health %.3f, multiplier %.3f%s", health.score, multiplier,
                f" (stored autonomy v{report.version})" if report.version else "")
    return report
