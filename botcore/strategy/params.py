"""Build and validate the decision kernel's parameters.

:func:`build_params` turns :class:`botcore.config.Settings` (plus an optional
versioned override mapping from the learning cycle) into a
``params_dt[1]`` record array that ``decide_nb`` accepts. Validation happens once, here: a bad value raises
``ValueError`` naming the field.

Parameters that the YAML configuration does not (yet) carry have documented
defaults in :data:`EXTRA_DEFAULTS`; override them by name::

    build_params(settings, {"kelly_conviction_slope": 0.3, "min_conviction.trend_conservative": 0.35})

A per-strategy field is overridden as ``"<field>.<strategy name>"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from botcore.config.models import REGIME_NAMES, SIGNAL_NAMES, STRATEGY_NAMES, Settings
from botcore.strategy.enums import MEMORY_CAPACITY, N_CALIB_KNOTS, N_SIGNALS, PARAM_FIELDS, KillSwitch, params_dt


class Extra(NamedTuple):
    default: float
    low: float
    high: float
    description: str


#: parameters with no YAML key yet: default, inclusive bounds, meaning
EXTRA_DEFAULTS: dict[str, Extra] = {
    # Kelly: conviction-adjusted win probability (see botcore.strategy docs)
    "kelly_conviction_pivot": Extra(0.5, 0.0, 1.0, "conviction at which the memory/default win rate holds"),
    "kelly_conviction_slope": Extra(
        0.25, 0.0, 2.0, "win-probability change per unit of conviction above/below the pivot"
    ),
    "kelly_max_win_rate": Extra(0.70, 0.0, 1.0, "cap on the conviction-adjusted win probability"),
    "kelly_min_payoff": Extra(0.1, 1e-6, 100.0, "floor of the payoff ratio b"),
    "kelly_max_payoff": Extra(5.0, 1e-6, 100.0, "cap of the payoff ratio b"),
    "min_size_kelly_multiple": Extra(
        1.0, 0.0, math.inf,
        "a stake below min_usd is raised to min_usd only while min_usd <= this x full-Kelly stake (inf: always)",
    ),
    "predictive_kelly_cap": Extra(
        0.5, 0.0, 1.0, "predictive sizing: kelly_fraction x volatility scale is capped at this multiple of f*"
    ),
    "stall_relax_after_minutes": Extra(
        720.0, 0.0, 100_000.0, "minutes without an entry (the 12 h stall warning) after which the conviction "
        "thresholds start to relax"
    ),
    "stall_relax_full_minutes": Extra(
        1200.0, 1.0, 100_000.0, "minutes without an entry at which the thresholds reach stall_relax_floor x their value"
    ),
    "stall_relax_floor": Extra(
        0.5, 0.0, 1.0, "fraction of each conviction threshold left at a full stall (1: thresholds never relax)"
    ),
    "max_entries_per_day": Extra(
        20, 0, 100_000, "entries a UTC day may open (the 5-20 a day target's upper end); 0: no limit"
    ),
    "burn_in_min_size": Extra(
        1, 0, 1, "1: while a strategy has fewer than min_trades_for_stats trades, a setup that passes every other "
        "gate trades min_usd and Kelly does not gate it (the burn-in cannot deadlock); 0: Kelly gates from the start"
    ),
    "profit_seeking_gain": Extra(1.0, 0.0, 100.0, "size scale per unit of (recent mean return / stop loss)"),
    "profit_seeking_window": Extra(10, 1, MEMORY_CAPACITY, "recent trades behind the profit-seeking scale"),
    # exits
    "unknown_entry_time_exit": Extra(
        1, 0, 1, "1: a position with unknown entry time is past the maximum hold (time exit at once); "
        "0: it only skips the minimum hold"
    ),
    # costs / ROI gate
    "entry_post_only": Extra(0, 0, 1, "1: enter with post-only limits at the touch (maker fee)"),
    "funding_interval_minutes": Extra(480.0, 1.0, 10_080.0, "minutes between funding payments"),
    "roi_move_scale": Extra(
        1.0, 0.0, 100.0, "expected move = this x conviction x daily vol x sqrt(hold / 1 day)"
    ),
    # entry rules
    "mtf_min_agree": Extra(2, 0, 16, "timeframes that must agree with the direction"),
    "mtf_max_oppose": Extra(0, 0, 16, "timeframes that may oppose it"),
    "sf_min_sentiment_live": Extra(2, 1, 5, "sentiment-fusion: sentiment signals that must be live"),
    "sf_min_sentiment_score": Extra(0.05, -1.0, 1.0, "sentiment-fusion: min direction x weighted sentiment"),
    "tc_min_trend_score": Extra(0.2, -1.0, 1.0, "trend-conservative: min direction x trend score"),
    "ba_min_breakout_score": Extra(0.3, -1.0, 1.0, "breakout-aggressive: min direction x breakout score"),
    "ba_min_oi_score": Extra(0.1, -1.0, 1.0, "breakout-aggressive: min direction x OI-velocity score"),
    "ba_min_volume_ratio": Extra(1.5, 0.0, 1_000.0, "breakout-aggressive: volume confirmation threshold"),
}
_PER_STRATEGY = (
    "strategy_enabled", "allocation", "min_conviction", "min_win_rate", "max_consecutive_losses",
    "streak_pause_ms", "min_expected_roi", "expected_hold_minutes", "require_mtf",
    "calib_n", "calib_conviction", "calib_win_prob", "calib_payoff",
)
#: Fields with one value per strategy: overridden as ``"<field>.<strategy name>"``.
PER_STRATEGY_FIELDS = _PER_STRATEGY
#: per-strategy knot lists: an override ``"calib_conviction.<strategy>": [...]`` sets ``calib_n`` to its length
_KNOT_FIELDS = ("calib_conviction", "calib_win_prob")
def build_params(settings: Settings, overrides: Mapping[str, Any] | None = None) -> np.ndarray:
    """Build validated kernel parameters from the configuration.

    Parameters
    ----------
    settings : Settings
        The loaded configuration.
    overrides : mapping, optional
        Versioned parameters replacing configured or extra values, keyed by
        ``params_dt`` field name (``"<field>.<strategy>"`` for
        per-strategy fields).

    Raises
    ------
    ValueError
        Naming the field, for unknown keys or values out of range.
    """
    strategies = settings.strategies
    per: dict[str, list[Any]] = {k: [] for k in _PER_STRATEGY}
    for name in STRATEGY_NAMES:
        st = strategies.strategies.get(name)
        enabled = st is not None and st.enabled
        per["strategy_enabled"].append(enabled)
        per["allocation"].append(st.allocation if enabled else 0.0)
        per["min_conviction"].append(st.min_conviction if st else 1.0)
        per["min_win_rate"].append(st.min_win_rate if st else 1.0)
        per["max_consecutive_losses"].append(st.max_consecutive_losses if st else 1)
        per["streak_pause_ms"].append(st.streak_pause_minutes * 60_000 if st else 0)
        per["min_expected_roi"].append(st.min_expected_roi if st else 0.0)
        per["expected_hold_minutes"].append(float(st.expected_hold_minutes) if st else 60.0)
        per["require_mtf"].append(st.require_mtf_confirmation if st else True)
        per["calib_n"].append(0)  # no calibration: the Kelly prior and the trade memory apply
        per["calib_conviction"].append([0.0] * N_CALIB_KNOTS)
        per["calib_win_prob"].append([0.0] * N_CALIB_KNOTS)
        per["calib_payoff"].append(1.0)
    allowed = np.zeros(params_dt["regime_allowed"].shape, dtype=np.bool_)
    for r, regime in enumerate(REGIME_NAMES):
        for name in settings.regime.allowed.get(regime, ()):
            allowed[r + 1, STRATEGY_NAMES.index(name)] = True
    required = np.array([name in settings.signals.required_signals for name in SIGNAL_NAMES], dtype=np.bool_)
    risk, sizing, exits, fees, bandit = settings.risk, settings.sizing, settings.exits, settings.fees, strategies.bandit
    values: dict[str, Any] = dict(
        per,
        regime_allowed=allowed,
        bandit_enabled=bandit.enabled,
        prior_alpha=bandit.prior_alpha,
        prior_beta=bandit.prior_beta,
        max_tilt=bandit.max_tilt,
        min_live_signals=settings.signals.min_live_signals,
        required_signal=required,
        max_positions=risk.max_positions,
        max_symbol_exposure_pct=risk.max_symbol_exposure_pct,
        max_total_exposure_pct=risk.max_total_exposure_pct,
        max_positions_per_sector=risk.max_positions_per_sector,
        max_leverage=risk.max_leverage,
        session_loss_pct=risk.circuit_breaker.session_loss_pct,
        daily_loss_pct=risk.circuit_breaker.daily_loss_pct,
        max_drawdown_pct=risk.circuit_breaker.max_drawdown_pct,
        breaker_cooldown_ms=risk.circuit_breaker.cooldown_minutes * 60_000,
        min_usd=sizing.min_usd,
        max_usd=sizing.max_usd,
        kelly_fraction=sizing.kelly_fraction,
        default_win_rate=sizing.default_win_rate,
        default_payoff=sizing.default_payoff,
        min_trades_for_stats=sizing.min_trades_for_stats,
        trade_memory=sizing.trade_memory,
        volatility_target=sizing.volatility_target,
        vol_scale_min=sizing.volatility_scale_bounds[0],
        vol_scale_max=sizing.volatility_scale_bounds[1],
        profit_scale_min=sizing.profit_seeking_bounds[0],
        profit_scale_max=sizing.profit_seeking_bounds[1],
        stop_loss_pct=exits.stop_loss_pct,
        take_profit_pct=exits.take_profit_pct,
        trailing_activation_pct=exits.trailing_activation_pct,
        trailing_distance_pct=exits.trailing_distance_pct,
        profit_lock_trigger_pct=exits.profit_lock_trigger_pct,
        profit_lock_floor_pct=exits.profit_lock_floor_pct,
        max_hold_ms=exits.max_hold_minutes * 60_000,
        min_hold_ms=exits.min_hold_minutes * 60_000,
        hold_breaker_drawdown_pct=exits.hold_breaker_portfolio_drawdown_pct,
        hold_breaker_loss_pct=exits.hold_breaker_position_loss_pct,
        maker_fee=fees.maker,
        taker_fee=fees.taker,
        expected_slippage=fees.expected_slippage,
        kill_switch_action=KillSwitch.flatten if risk.kill_switch_action == "flatten" else KillSwitch.freeze,
    )
    values.update({name: extra.default for name, extra in EXTRA_DEFAULTS.items()})
    for key, value in (overrides or {}).items():
        _apply_override(values, key, value)
    return make_params(**values)


def _apply_override(values: dict[str, Any], key: str, value: Any) -> None:
    field, _, strategy = key.partition(".")
    if field not in PARAM_FIELDS:
        raise ValueError(f"override {key!r}: unknown parameter (known: {', '.join(PARAM_FIELDS)})")
    if strategy:
        if field not in _PER_STRATEGY:
            raise ValueError(f"override {key!r}: {field} is not a per-strategy parameter")
        if strategy not in STRATEGY_NAMES:
            raise ValueError(f"override {key!r}: unknown strategy {strategy!r} (known: {list(STRATEGY_NAMES)})")
        seq = list(values[field])
        idx = STRATEGY_NAMES.index(strategy)
        if field in _KNOT_FIELDS:
            knots = [float(v) for v in np.atleast_1d(np.asarray(value, dtype=np.float64))]
            if not 1 <= len(knots) <= N_CALIB_KNOTS:
                raise ValueError(f"override {key!r}: {len(knots)} knots, expected 1 to {N_CALIB_KNOTS}")
            n = list(values["calib_n"])
            n[idx] = len(knots)
            values["calib_n"] = n
            value = knots + [knots[-1]] * (N_CALIB_KNOTS - len(knots))
        seq[idx] = value
        values[field] = seq
    else:
        values[field] = value


def make_params(**values: Any) -> np.ndarray:
    """Pack field values into a ``params_dt[1]`` record and validate it (ValueError naming the field)."""
    missing = set(PARAM_FIELDS) - set(values)
    if missing:
        raise ValueError(f"missing parameters: {sorted(missing)}")
    unknown = set(values) - set(PARAM_FIELDS)
    if unknown:
        raise ValueError(f"unknown parameters: {sorted(unknown)}")
    params = np.zeros(1, dtype=params_dt)
    for name in PARAM_FIELDS:
        field = params_dt[name]
        value = values[name]
        try:
            arr = np.asarray(value, dtype=np.float64)
            if field.subdtype is not None and arr.shape != field.shape:
                raise ValueError(f"shape {arr.shape}, expected {field.shape}")
            if field.subdtype is None and arr.shape != ():
                raise ValueError("expected a scalar")
            kind = field.base.kind
            if kind in "iu":
                finite = arr[np.isfinite(arr)]
                if np.any(finite != np.round(finite)) or not np.all(np.isfinite(arr)):
                    raise ValueError("must be integer-valued")
            if kind == "u" and np.any(arr < 0):
                raise ValueError("flags must be 0 or 1")
        except (TypeError, ValueError) as exc:
            raise ValueError(f"parameter {name}: cannot use {value!r}: {exc}") from None
        params[0][name] = arr.astype(field.base)
    validate_params(params)
    return params


def _check(ok: bool, name: str, why: str, value: Any) -> None:
    if not ok:
        raise ValueError(f"parameter {name}: {why}, got {value!r}")


def validate_params(params: np.ndarray) -> None:
    """Check every parameter's range; raise ValueError naming the first bad field."""
    if not isinstance(params, np.ndarray) or params.dtype != params_dt or params.shape != (1,):
        raise ValueError("params must be a params_dt[1] record array (use build_params)")
    p = _View(params[0])
    for name in PARAM_FIELDS:
        value = np.asarray(getattr(p, name))
        if value.dtype.kind == "f" and name != "min_size_kelly_multiple":
            _check(bool(np.all(np.isfinite(value))), name, "must be finite", getattr(p, name))
        if value.dtype.kind == "u":
            _check(bool(np.all(value <= 1)), name, "flags must be 0 or 1", getattr(p, name))
    _check(bool(np.all((p.allocation >= 0) & (p.allocation <= 1))), "allocation", "must lie in [0, 1]", p.allocation)
    enabled_total = float(p.allocation[p.strategy_enabled.astype(bool)].sum())
    _check(not p.strategy_enabled.any() or abs(enabled_total - 1.0) < 1e-6, "allocation",
           "enabled allocations must sum to 1", p.allocation)
    for name in ("min_conviction", "min_win_rate"):
        arr = getattr(p, name)
        _check(bool(np.all((arr >= 0) & (arr <= 1))), name, "must lie in [0, 1]", arr)
    _check(bool(np.all(p.max_consecutive_losses >= 1)), "max_consecutive_losses", "must be >= 1",
           p.max_consecutive_losses)
    _check(bool(np.all(p.streak_pause_ms >= 0)), "streak_pause_ms", "must be >= 0", p.streak_pause_ms)
    _check(bool(np.all(p.min_expected_roi >= 0)), "min_expected_roi", "must be >= 0", p.min_expected_roi)
    _check(bool(np.all(p.expected_hold_minutes > 0)), "expected_hold_minutes", "must be > 0",
           p.expected_hold_minutes)
    # bandit: Beta parameters must be > 0 (the prototype crashed on betavariate with a <= 0)
    _check(p.prior_alpha > 0, "prior_alpha", "Beta prior must be > 0", p.prior_alpha)
    _check(p.prior_beta > 0, "prior_beta", "Beta prior must be > 0", p.prior_beta)
    _check(0 <= p.max_tilt <= 1, "max_tilt", "must lie in [0, 1]", p.max_tilt)
    _check(1 <= p.min_live_signals <= N_SIGNALS, "min_live_signals", f"must lie in [1, {N_SIGNALS}]",
           p.min_live_signals)
    _check(p.max_positions >= 1, "max_positions", "must be >= 1", p.max_positions)
    _check(p.max_positions_per_sector >= 1, "max_positions_per_sector", "must be >= 1", p.max_positions_per_sector)
    for name in ("max_symbol_exposure_pct", "max_total_exposure_pct", "max_leverage", "session_loss_pct",
                 "daily_loss_pct", "max_drawdown_pct", "min_usd", "max_usd", "kelly_fraction", "default_payoff",
                 "volatility_target", "stop_loss_pct", "take_profit_pct", "trailing_distance_pct",
                 "hold_breaker_drawdown_pct", "hold_breaker_loss_pct"):
        _check(getattr(p, name) > 0, name, "must be > 0", getattr(p, name))
    _check(p.max_leverage >= 1, "max_leverage", "must be >= 1", p.max_leverage)
    _check(p.breaker_cooldown_ms >= 0, "breaker_cooldown_ms", "must be >= 0", p.breaker_cooldown_ms)
    _check(p.min_usd <= p.max_usd, "min_usd", f"must not exceed max_usd {p.max_usd}", p.min_usd)
    _check(p.kelly_fraction <= 1, "kelly_fraction", "must be <= 1", p.kelly_fraction)
    _check(0 < p.default_win_rate < 1, "default_win_rate", "must lie in (0, 1)", p.default_win_rate)
    _check(p.min_trades_for_stats >= 1, "min_trades_for_stats", "must be >= 1", p.min_trades_for_stats)
    _check(1 <= p.trade_memory <= MEMORY_CAPACITY, "trade_memory", f"must lie in [1, {MEMORY_CAPACITY}]",
           p.trade_memory)
    _check(0 < p.vol_scale_min <= p.vol_scale_max, "vol_scale_min", "need 0 < vol_scale_min <= vol_scale_max",
           (p.vol_scale_min, p.vol_scale_max))
    _check(0 < p.profit_scale_min <= p.profit_scale_max, "profit_scale_min",
           "need 0 < profit_scale_min <= profit_scale_max", (p.profit_scale_min, p.profit_scale_max))
    _check(p.stop_loss_pct < 1, "stop_loss_pct", "must be < 1", p.stop_loss_pct)
    _check(p.trailing_distance_pct < 1, "trailing_distance_pct", "must be < 1", p.trailing_distance_pct)
    for name in ("trailing_activation_pct", "profit_lock_trigger_pct", "profit_lock_floor_pct", "maker_fee",
                 "taker_fee", "expected_slippage"):
        _check(getattr(p, name) >= 0, name, "must be >= 0", getattr(p, name))
    _check(p.max_hold_ms > 0, "max_hold_ms", "must be > 0", p.max_hold_ms)
    _check(p.min_hold_ms >= 0, "min_hold_ms", "must be >= 0", p.min_hold_ms)
    _check(p.kill_switch_action in (KillSwitch.freeze, KillSwitch.flatten), "kill_switch_action",
           "must be KillSwitch.freeze or KillSwitch.flatten", p.kill_switch_action)
    for name, extra in EXTRA_DEFAULTS.items():
        value = getattr(p, name)
        _check(extra.low <= float(value) <= extra.high, name, f"must lie in [{extra.low}, {extra.high}]", value)
    _check(p.kelly_min_payoff <= p.kelly_max_payoff, "kelly_min_payoff", "must not exceed kelly_max_payoff",
           p.kelly_min_payoff)
    _check(p.min_size_kelly_multiple >= 0, "min_size_kelly_multiple", "must be >= 0", p.min_size_kelly_multiple)
    for s, name in enumerate(STRATEGY_NAMES):
        n = int(p.calib_n[s])
        _check(0 <= n <= N_CALIB_KNOTS, f"calib_n.{name}", f"must lie in [0, {N_CALIB_KNOTS}]", n)
        x, y = p.calib_conviction[s, :n], p.calib_win_prob[s, :n]
        _check(bool(np.all(np.diff(x) > 0)), f"calib_conviction.{name}", "knots must increase", x.tolist())
        _check(bool(np.all(np.diff(y) >= 0) and np.all((y >= 0) & (y <= 1))), f"calib_win_prob.{name}",
               "must be non-decreasing within [0, 1] (a monotone calibration)", y.tolist())
        _check(p.calib_payoff[s] > 0, f"calib_payoff.{name}", "must be > 0", float(p.calib_payoff[s]))
    _check(p.stall_relax_full_minutes > p.stall_relax_after_minutes, "stall_relax_full_minutes",
           "must exceed stall_relax_after_minutes", p.stall_relax_full_minutes)


class _View:
    """Attribute access to one params record (Python side)."""

    def __init__(self, record: np.void) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        value = self._record[name]
        return value.copy() if isinstance(value, np.ndarray) else value.item()


def params_to_dict(params: np.ndarray) -> dict[str, Any]:
    """Plain-Python view of the parameters (for the ledger's versioned parameter record)."""
    return {name: np.asarray(params[0][name]).tolist() for name in PARAM_FIELDS}


__all__ = ["EXTRA_DEFAULTS", "PER_STRATEGY_FIELDS", "build_params", "make_params", "params_to_dict", "validate_params"]
