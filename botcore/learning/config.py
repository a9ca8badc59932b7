"""The learning system's knobs: one frozen, typed model with documented defaults.

Every model forbids unknown keys and is immutable (like
:mod:`botcore.config.models`). The defaults are the operating values; a
YAML file with the same layout may override them
(:func:`load_learning_config`), e.g. a future ``config/learning.yaml``::

    weights:
      burn_in_trades: 30
      max_step: 0.10
    patterns:
      fdr_alpha: 0.10
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from botcore.errors import ConfigError

__all__ = [
    "AutonomyConfig",
    "BenchingConfig",
    "DriftConfig",
    "LearningConfig",
    "PatternConfig",
    "ThresholdConfig",
    "WeightConfig",
    "load_learning_config",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WeightConfig(_Frozen):
    """Signal reweighting: bounded, smoothed, shrunk toward the prior, nothing before the burn-in."""

    burn_in_trades: int = Field(30, ge=1, description="closed trades with signal context needed before anything moves")
    window_trades: int = Field(500, ge=1, description="most recent closed trades a cycle learns from")
    shrinkage_trades: float = Field(
        50.0, ge=0, description="edge estimates are shrunk by n / (n + shrinkage_trades) toward 0 (the prior)")
    sensitivity: float = Field(2.0, ge=0, description="target weight = prior x exp(sensitivity x shrunk edge)")
    smoothing: float = Field(0.5, gt=0, le=1, description="a cycle moves this fraction of the way to the target")
    max_step: float = Field(0.10, gt=0, description="cap on |weight change| per cycle, as a fraction of the prior")
    min_ratio: float = Field(0.25, ge=0, description="a weight never falls below min_ratio x prior")
    max_ratio: float = Field(3.0, gt=0, description="a weight never rises above max_ratio x prior")
    min_abs_score: float = Field(
        0.0, ge=0, le=1, description="a signal counts at an entry when |score| > this (and its status was OK)")

    @model_validator(mode="after")
    def _ordered(self) -> WeightConfig:
        if self.min_ratio > 1.0 or self.max_ratio < 1.0:
            raise ValueError(f"need min_ratio <= 1 <= max_ratio, got {self.min_ratio}, {self.max_ratio}")
        return self


class ThresholdConfig(_Frozen):
    """Conviction thresholds tuned toward a trade rate at positive expectancy, in bounded steps."""

    enabled: bool = True
    min_trades_per_day: float = Field(5.0, ge=0, description="below this (all strategies), lower thresholds")
    max_trades_per_day: float = Field(20.0, gt=0, description="above this, raise thresholds")
    rate_window_days: float = Field(7.0, gt=0, description="trade rate measured over the last days of the window")
    min_rate_days: float = Field(1.0, gt=0, description="history needed before the trade rate moves a threshold")
    min_strategy_trades: int = Field(30, ge=1, description="closed trades of a strategy before its threshold moves")
    step: float = Field(0.02, gt=0, le=0.2, description="threshold change per cycle")
    max_drift: float = Field(0.15, gt=0, le=1, description="a threshold stays within this of its configured value")
    floor: float = Field(0.05, ge=0, le=1, description="lowest threshold ever proposed")
    ceiling: float = Field(0.90, ge=0, le=1, description="highest threshold ever proposed")

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdConfig:
        if self.min_trades_per_day > self.max_trades_per_day:
            raise ValueError("min_trades_per_day exceeds max_trades_per_day")
        if self.floor > self.ceiling:
            raise ValueError("floor exceeds ceiling")
        return self


class PatternConfig(_Frozen):
    """Daily intelligence learner: conditions with an edge, walk-forward validated, FDR-corrected."""

    dimensions: tuple[Literal["regime", "strategy", "symbol", "hour"], ...] = (
        "regime", "strategy", "symbol", "hour")
    max_order: int = Field(2, ge=1, le=4, description="largest number of dimensions combined in one condition")
    hour_bucket_hours: int = Field(3, ge=1, le=24, description="hours of day per bucket (24 must be a multiple)")
    min_trades: int = Field(30, ge=2, description="trades a condition needs over the whole sample to be tested")
    min_train_trades: int = Field(8, ge=2, description="trades a condition needs in a fold's training part")
    n_folds: int = Field(4, ge=1, le=20, description="walk-forward folds (expanding training window)")
    fdr_alpha: float = Field(0.10, gt=0, lt=1, description="false-discovery rate of the Benjamini-Hochberg correction")
    fdr_method: Literal["fdr_bh", "fdr_by"] = Field("fdr_bh", description="statsmodels multipletests method")
    min_trades_total: int = Field(100, ge=10, description="closed trades needed before the search runs at all")
    lookback_days: float = Field(60.0, gt=0, description="trades of the last days searched")

    @model_validator(mode="after")
    def _hours(self) -> PatternConfig:
        if 24 % self.hour_bucket_hours:
            raise ValueError(f"hour_bucket_hours {self.hour_bucket_hours} does not divide 24")
        if self.max_order > len(self.dimensions):
            raise ValueError("max_order exceeds the number of dimensions")
        return self


class BenchingConfig(_Frozen):
    """Symbol benching on a rolling profit factor, paper evaluation while benched, return after probation."""

    min_profit_factor: float = Field(0.8, gt=0, description="bench when the rolling profit factor falls below this")
    window_trades: int = Field(20, ge=2, description="trades in the rolling profit factor")
    min_trades: int = Field(20, ge=2, description="live trades needed before a symbol may be benched")
    probation_hours: float = Field(72.0, ge=0, description="a benched symbol is out at least this long")
    recover_profit_factor: float = Field(1.1, gt=0, description="paper profit factor needed to return")
    recover_min_trades: int = Field(10, ge=1, description="paper trades needed during probation to return")
    paper_hold_minutes: int | None = Field(
        None, ge=1, description="would-be trades exit after this hold; None: the strategy's expected hold")

    @model_validator(mode="after")
    def _hysteresis(self) -> BenchingConfig:
        if self.recover_profit_factor < self.min_profit_factor:
            raise ValueError("recover_profit_factor must not be below min_profit_factor (hysteresis)")
        if self.window_trades > self.min_trades:
            raise ValueError("window_trades must not exceed min_trades")
        return self


class DriftConfig(_Frozen):
    """Drift of signal distributions and of live results against the backtest of the same period."""

    psi_bins: int = Field(10, ge=2, le=100, description="quantile bins of the reference for the PSI")
    psi_alert: float = Field(0.10, gt=0, description="PSI at which drift is alerted")
    psi_limit: float = Field(0.25, gt=0, description="PSI past which risk is shrunk")
    ks_alpha: float = Field(0.01, gt=0, lt=1, description="two-sample KS p-value below which a shift is confirmed")
    min_samples: int = Field(100, ge=10, description="observations each side needs before testing")
    results_min_trades: int = Field(30, ge=5, description="live trades needed to compare with the backtest")
    shrink_factor: float = Field(0.5, gt=0, le=1, description="capital multiplier factor past a drift limit")
    reference_days: float = Field(7.0, gt=0, description="signal reference window (before the recent one), days")
    recent_days: float = Field(1.0, gt=0, description="recent signal window, days")

    @model_validator(mode="after")
    def _ordered(self) -> DriftConfig:
        if self.psi_alert > self.psi_limit:
            raise ValueError("psi_alert exceeds psi_limit")
        return self


class AutonomyConfig(_Frozen):
    """Health score in [0, 1] and the capital multiplier it sets within bounds."""

    min_multiplier: float = Field(0.25, gt=0, description="capital multiplier at health 0")
    max_multiplier: float = Field(1.0, gt=0, le=3, description="capital multiplier at health 1")
    min_change: float = Field(0.01, ge=0, description="a new multiplier is stored when it moves at least this much")
    window_hours: float = Field(24.0, gt=0, description="operations measured over the last hours")
    heartbeat_component: str = Field("engine", description="heartbeat component whose gaps count as downtime")
    heartbeat_seconds: int | None = Field(
        None, ge=1, description="expected heartbeat cadence; None: schedules.heartbeat_seconds (else 20)")
    missed_heartbeats: int | None = Field(
        None, ge=1, description="a gap longer than this many beats is downtime; None: "
                                "schedules.missed_heartbeats_for_restart (else 3)")
    outage_tolerance: float = Field(0.2, gt=0, le=1, description="share of outage cycles at which the score hits 0")
    drawdown_limit_pct: float | None = Field(
        None, gt=0, le=1, description="drawdown at which the drawdown score hits 0; None: the circuit breaker's "
                                      "max_drawdown_pct (else 0.10)")
    expectancy_trades: int = Field(50, ge=5, description="recent trades behind the expectancy score")
    min_trades: int = Field(30, ge=1, description="trades before performance scores count (burn-in)")
    backtest_tolerance: float = Field(
        1.0, gt=0, description="live-minus-backtest mean return, in standard errors, at which the score hits 0")
    weights: dict[str, float] = Field(
        default_factory=lambda: {"heartbeats": 1.0, "outages": 1.0, "reconciliation": 1.0, "drawdown": 1.0,
                                 "expectancy": 1.0, "backtest": 1.0, "signal_drift": 1.0},
        description="weight of each health component (renormalised over the components with data)")

    def resolved(self, settings: Any = None) -> AutonomyConfig:
        """Return a copy with the None knobs filled from ``settings`` (schedules, risk) or their fallbacks."""
        sched = getattr(settings, "schedules", None)
        risk = getattr(settings, "risk", None)
        return self.model_copy(update={
            "heartbeat_seconds": self.heartbeat_seconds or (sched.heartbeat_seconds if sched else 20),
            "missed_heartbeats": self.missed_heartbeats or (sched.missed_heartbeats_for_restart if sched else 3),
            "drawdown_limit_pct": self.drawdown_limit_pct or (risk.circuit_breaker.max_drawdown_pct if risk else 0.10),
        })

    @model_validator(mode="after")
    def _bounds(self) -> AutonomyConfig:
        if self.min_multiplier > self.max_multiplier:
            raise ValueError("min_multiplier exceeds max_multiplier")
        known = {"heartbeats", "outages", "reconciliation", "drawdown", "expectancy", "backtest", "signal_drift"}
        unknown = set(self.weights) - known
        if unknown:
            raise ValueError(f"unknown health components {sorted(unknown)}; known: {sorted(known)}")
        if any(w < 0 for w in self.weights.values()):
            raise ValueError("health component weights must be >= 0")
        return self


class LearningConfig(_Frozen):
    """All learning knobs."""

    weights: WeightConfig = WeightConfig()
    thresholds: ThresholdConfig = ThresholdConfig()
    patterns: PatternConfig = PatternConfig()
    benching: BenchingConfig = BenchingConfig()
    drift: DriftConfig = DriftConfig()
    autonomy: AutonomyConfig = AutonomyConfig()
    max_outcome_rows: int = Field(50_000, ge=100, description="cap of the signal_outcomes log (oldest dropped)")


def load_learning_config(path: str | os.PathLike | None = None) -> LearningConfig:
    """Return the learning configuration: the defaults, overridden by the YAML file ``path`` when given.

    A directory is read as ``<dir>/learning.yaml`` (defaults when that file is absent).

    Raises
    ------
    ConfigError
        Naming the file, key and reason of an invalid value or unknown key.
    """
    if path is None:
        return LearningConfig()
    p = Path(path)
    if p.is_dir():
        p = p / "learning.yaml"
        if not p.exists():
            return LearningConfig()
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping at the top level")
    try:
        return LearningConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"{p}: {key}: {first['msg']}") from None
