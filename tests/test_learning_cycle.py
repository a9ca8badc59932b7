"""The learning cycle: burn-in, bounded reweighting toward the informative signal, thresholds, rollback."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from botcore.config.models import SIGNAL_NAMES
from botcore.learning import active_overrides, run_learning_cycle
from botcore.learning.config import LearningConfig, ThresholdConfig, WeightConfig
from botcore.learning.cycle import KIND, LAST_CYCLE_META
from botcore.learning.rules import signal_edges, tune_thresholds, update_weights
from botcore.learning.synthetic import SyntheticSpec, write_synthetic_history
from botcore.ledger import Ledger
from botcore.signals.engine import weights_array
from botcore.strategy.params import build_params, params_to_dict

TREND = SIGNAL_NAMES.index("trend")
SOCIAL = SIGNAL_NAMES.index("social_sentiment")


@pytest.fixture()
def ledger(tmp_path):
    with Ledger.open(tmp_path / "ledger.db", starting_cash_usd=10_000.0) as book:
        yield book


def grow(ledger, n, state):
    """Append n synthetic trades (trend informative, social_sentiment noise) after the previous ones."""
    spec = SyntheticSpec(n_trades=n, start_ms=state["start"], seed=11)
    history = write_synthetic_history(ledger, spec, first_index=state["index"])
    state["start"], state["index"] = history.end_ms, state["index"] + n
    return history.end_ms


def test_nothing_moves_before_30_trades(ledger, settings):
    state = {"start": 1_704_067_200_000, "index": 0}
    end = grow(ledger, 29, state)
    report = run_learning_cycle(ledger, settings, now_ms=end)
    assert not report.changed and report.version is None
    assert np.array_equal(report.weights, weights_array(settings.signals))
    assert report.thresholds == report.thresholds_before
    assert any("burn-in: 29 closed trades" in r for r in report.reasons)
    assert ledger.list_params(KIND).empty
    assert ledger.get_meta(LAST_CYCLE_META)["changed"] is False
    weights, overrides = active_overrides(ledger, settings)
    assert np.array_equal(weights, weights_array(settings.signals)) and overrides == {}


def test_successive_cycles_raise_the_informative_weight_and_lower_the_noise(ledger, settings):
    cfg = LearningConfig()
    prior = weights_array(settings.signals)
    state = {"start": 1_704_067_200_000, "index": 0}
    trend, social, versions = [], [], []
    for n in (20, 25, 40, 40, 40, 40):
        end = grow(ledger, n, state)
        report = run_learning_cycle(ledger, settings, cfg=cfg, now_ms=end)
        weights, _ = active_overrides(ledger, settings, capital=False)
        trend.append(weights[TREND])
        social.append(weights[SOCIAL])
        versions.append(report.version)
    # 20 trades: burn-in; 45, 85, ...: every cycle moves both, in opposite directions
    assert versions[0] is None and trend[0] == prior[TREND] and social[0] == prior[SOCIAL]
    assert all(v is not None for v in versions[1:])
    assert np.all(np.diff(trend) > 0) and np.all(np.diff(social) < 0)
    # bounded: never more than max_step x prior per cycle, never past the ratio bounds
    assert np.all(np.abs(np.diff(trend)) <= cfg.weights.max_step * prior[TREND] + 1e-12)
    assert np.all(np.abs(np.diff(social)) <= cfg.weights.max_step * prior[SOCIAL] + 1e-12)
    assert social[-1] >= cfg.weights.min_ratio * prior[SOCIAL]
    # signals that were never live at entry keep their prior
    others = [k for k in range(len(SIGNAL_NAMES)) if k not in (TREND, SOCIAL)]
    assert np.array_equal(weights[others], prior[others])
    # every version carries its reasons, metrics and attribution
    body = ledger.active_params(KIND).body
    assert any(r.startswith("trend raised") for r in body["reasons"])
    assert any(r.startswith("social_sentiment lowered") for r in body["reasons"])
    assert body["metrics"]["n_trades"] == 205 and body["attribution"]["trend"]["ic"] > 0.3
    assert "trend raised" in ledger.active_params(KIND).reason


def test_a_cycle_without_new_trades_moves_nothing(ledger, settings):
    state = {"start": 1_704_067_200_000, "index": 0}
    end = grow(ledger, 60, state)
    first = run_learning_cycle(ledger, settings, now_ms=end)
    assert first.version is not None
    again = run_learning_cycle(ledger, settings, now_ms=end + 12 * 3_600_000)
    assert not again.changed and again.version is None
    assert np.array_equal(again.weights, first.weights)
    assert "moves nothing again" in again.reasons[0]


def test_dry_run_reports_the_change_but_writes_nothing(ledger, settings):
    state = {"start": 1_704_067_200_000, "index": 0}
    end = grow(ledger, 60, state)
    report = run_learning_cycle(ledger, settings, now_ms=end, dry_run=True)
    assert report.changed and report.weights[TREND] > weights_array(settings.signals)[TREND]
    assert ledger.list_params().empty and ledger.get_meta(LAST_CYCLE_META) is None


def test_rollback_restores_the_earlier_parameters_exactly(ledger, settings):
    state = {"start": 1_704_067_200_000, "index": 0}
    snapshots = {}
    for n in (40, 40, 40):
        end = grow(ledger, n, state)
        report = run_learning_cycle(ledger, settings, now_ms=end)
        weights, overrides = active_overrides(ledger, settings, capital=False)
        snapshots[report.version] = (weights.copy(), dict(overrides), build_params(settings, overrides).copy(),
                                     ledger.get_params(report.version).body)
    first, second, third = sorted(snapshots)
    assert ledger.active_params(KIND).version == third
    restored = ledger.rollback(KIND)
    assert restored.version == second
    weights, overrides = active_overrides(ledger, settings, capital=False)
    w2, o2, p2, b2 = snapshots[second]
    assert np.array_equal(weights, w2) and overrides == o2
    assert params_to_dict(build_params(settings, overrides)) == params_to_dict(p2)
    assert json.dumps(ledger.active_params(KIND).body, sort_keys=True) == json.dumps(b2, sort_keys=True)
    # back to the configured prior: the version stored before the first learned one
    ledger.rollback(KIND)
    ledger.rollback(KIND)
    weights, overrides = active_overrides(ledger, settings, capital=False)
    assert np.array_equal(weights, weights_array(settings.signals)) and overrides == {}
    assert ledger.active_params(KIND).reason.startswith("prior")


def test_thresholds_step_toward_the_trade_rate_band_at_positive_expectancy():
    day = 86_400_000
    now = 10 * day

    def trades(strategy, n, pnl, days=7.0):
        t = now - np.linspace(days * day, 0.01 * day, n)
        return pd.DataFrame({"strategy_id": strategy, "net_pnl_usd": pnl, "entry_ts_ms": t - 1, "exit_ts_ms": t})

    cfg = ThresholdConfig(min_strategy_trades=10)
    configured = {"a": 0.30, "b": 0.30}
    # 3 trades a day in total (< 5), both profitable: lower both
    few = pd.concat([trades("a", 11, 2.0), trades("b", 10, 1.0)])
    new, table, reasons = tune_thresholds(few, configured, configured, now, cfg)
    assert new == {"a": 0.28, "b": 0.28} and table.loc["a", "status"] == "lowered" and len(reasons) == 2
    # 30 a day (> 20): raise; a losing strategy is raised whatever the rate
    many = pd.concat([trades("a", 150, 2.0), trades("b", 60, -1.0)])
    new, table, _ = tune_thresholds(many, configured, configured, now, cfg)
    assert new == {"a": 0.32, "b": 0.32}
    assert "not positive" in table.loc["b", "why"] and "trades/day >" in table.loc["a", "why"]
    # in the band with positive expectancy: hold
    ok = pd.concat([trades("a", 50, 2.0), trades("b", 20, 1.0)])
    new, table, reasons = tune_thresholds(ok, configured, configured, now, cfg)
    assert new == configured and reasons == [] and set(table["status"]) == {"held"}
    # bounded: never further than max_drift from the configured value
    new, table, _ = tune_thresholds(many, {"a": 0.45, "b": 0.45}, configured, now, cfg)
    assert new == {"a": 0.45, "b": 0.45} and "at its bound" in table.loc["a", "why"]
    # too few trades of a strategy: its threshold does not move
    new, _, _ = tune_thresholds(trades("a", 9, -5.0), {"a": 0.3}, {"a": 0.3}, now, cfg)
    assert new == {"a": 0.3}


def test_weight_step_is_capped_shrunk_and_keeps_the_eligible_budget():
    rng = np.random.default_rng(0)
    prior = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5])
    cfg = WeightConfig()
    for _ in range(25):
        n = int(rng.integers(30, 400))
        scores = np.where(rng.random((n, 10)) < 0.3, np.nan, rng.uniform(-1, 1, (n, 10)))
        side = rng.choice([-1.0, 1.0], n)
        ret = 0.01 * np.nan_to_num(scores[:, 2]) * side + 0.01 * rng.standard_normal(n)
        current = prior * rng.uniform(0.5, 2.0, 10)
        upd = update_weights(prior, current, signal_edges(scores, side, ret), n, cfg)
        step = upd.weights - current
        assert np.all(np.abs(step) <= cfg.max_step * prior + 1e-6)
        assert np.all(upd.weights >= cfg.min_ratio * prior - 1e-6) and np.all(upd.weights <= cfg.max_ratio * prior + 1e-6)
        target = upd.table["target"].to_numpy()
        eligible = np.isfinite(target)
        assert np.all(np.sign(step[eligible]) * np.sign(target[eligible] - current[eligible]) >= 0)
    # the shrinkage: the same edge moves the target less on fewer trades
    small = update_weights(prior, prior, pd.DataFrame({"n": [30] * 10, "ic": [0.5] + [0.0] * 9,
                                                      "t_stat": [3.0] + [0.0] * 9}, index=list(SIGNAL_NAMES)), 30, cfg)
    large = update_weights(prior, prior, pd.DataFrame({"n": [3000] * 10, "ic": [0.5] + [0.0] * 9,
                                                      "t_stat": [30.0] + [0.0] * 9}, index=list(SIGNAL_NAMES)), 3000, cfg)
    assert 1.0 < small.table["target"].iloc[0] < large.table["target"].iloc[0]
    assert np.isclose(small.table["target"].sum(), prior.sum())  # weight flows between signals; the budget stays


def _trail(strategy: str, gates: dict[int, int], start_ms: int, end_ms: int) -> pd.DataFrame:
    """Skipped decision rows of one strategy, ``gates`` = {reason code: rows held back by that gate alone}."""
    codes = [c for c, n in gates.items() for _ in range(n)]
    ts = np.linspace(start_ms, end_ms, len(codes)).astype(np.int64)
    return pd.DataFrame({"ts_ms": ts, "symbol": "BTC-USDT", "strategy": strategy, "outcome": 0,
                         "reason_code": codes, "reason_mask": [1 << c for c in codes], "detail": None})


@pytest.mark.parametrize("binding_code, lowered", [(15, True), (21, False), (20, False)])
def test_the_learning_cycle_lowers_the_conviction_threshold_only_where_conviction_binds(ledger, settings,
                                                                                        binding_code, lowered):
    """Too few trades at positive expectancy: the threshold moves only when the conviction gate is the one that binds."""
    from botcore.strategy.enums import REASON_NAMES, Reason

    spec = SyntheticSpec(n_trades=120, trades_per_day=3.0, seed=11, strategies=("trend_conservative",))
    history = write_synthetic_history(ledger, spec)
    other = {Reason.conviction_below_threshold: 10, Reason.kelly_no_edge: 10, Reason.roi_below_minimum: 10}
    other[binding_code] = 500  # the binding gate: it alone held back most would-be entries
    ledger.record_decisions(_trail("trend_conservative", other, history.end_ms - 6 * 86_400_000, history.end_ms))
    report = run_learning_cycle(ledger, settings, now_ms=history.end_ms + 1)
    before = settings.strategies.strategies["trend_conservative"].min_conviction
    after = report.thresholds["trend_conservative"]
    why = report.threshold_table.loc["trend_conservative", "why"]

    if lowered:
        assert after == pytest.approx(before - 0.02) and "conviction binds" in why
    else:  # the binding gate is named; the conviction threshold, which does not bind, holds
        assert after == before and f"{REASON_NAMES[binding_code]} binds" in why


def test_the_learning_cycle_refits_the_kelly_calibration_from_its_own_trades(ledger, settings):
    from botcore.learning.calibration import MIN_TRADES

    spec = SyntheticSpec(n_trades=150, seed=11, strategies=("trend_conservative",))
    history = write_synthetic_history(ledger, spec)
    report = run_learning_cycle(ledger, settings, now_ms=history.end_ms + 1)
    ctx = report.contexts
    assert ctx["conviction"].notna().sum() >= MIN_TRADES, "the synthetic log records the entry conviction"
    evidence = report.body["calibration"]["trend_conservative"]
    overrides = report.body["strategy_overrides"]
    assert overrides["calib_conviction.trend_conservative"] == pytest.approx(evidence["conviction"], abs=1e-6)
    assert np.all(np.diff(overrides["calib_win_prob.trend_conservative"]) >= 0)
    folds = pd.DataFrame(evidence["folds"])
    assert len(folds) == 4 and (folds["fit_end_ms"] < folds["score_start_ms"]).all()
    lo, hi = evidence["win_rate_ci"]
    assert lo <= evidence["win_rate"] <= hi
    assert any(r.startswith("calibration.trend_conservative refitted") for r in report.reasons)
    params = build_params(settings, active_overrides(ledger, settings)[1])  # the engine applies the stored version
    assert params[0]["calib_n"][1] == len(evidence["conviction"])
