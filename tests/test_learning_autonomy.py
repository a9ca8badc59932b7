"""The autonomy controller: drift on the sample market lowers health and capital; removing it restores them."""

from __future__ import annotations

import numpy as np
import pytest

from botcore.config.models import SIGNAL_NAMES, Universe
from botcore.learning import active_overrides
from botcore.learning.autonomy import (
    KIND,
    active_capital_multiplier,
    assess_health,
    capital_multiplier,
    evaluate_autonomy,
    psi,
    results_drift,
    signal_samples,
    sizing_overrides,
)
from botcore.learning.config import AutonomyConfig, DriftConfig, LearningConfig
from botcore.learning.synthetic import SyntheticSpec, write_synthetic_history
from botcore.ledger import Ledger
from botcore.strategy.params import build_params

DAY = 86_400_000
START = 1_704_067_200_000
TREND = SIGNAL_NAMES.index("trend")


@pytest.fixture(scope="module")
def sample_scores(tmp_path_factory, settings):
    """Signal scores of day 4 of a 2-symbol SYNTHETIC sample market, split into even and odd bars (no drift)."""
    from botcore.market.sample import generate_sample_market
    from botcore.market.store import Store

    small = settings.model_copy(update={"universe": Universe(assets=settings.universe.assets[:2])})
    root = tmp_path_factory.mktemp("sample")
    generate_sample_market(root, days=4, seed=3, settings=small)
    scores = signal_samples(Store(root), small, START + 3 * DAY, START + 4 * DAY)
    by_bar = scores.reshape(-1, 2, len(SIGNAL_NAMES))
    return by_bar[0::2].reshape(-1, len(SIGNAL_NAMES)), by_bar[1::2].reshape(-1, len(SIGNAL_NAMES))


@pytest.fixture()
def healthy_ledger(tmp_path):
    """A profitable synthetic history with a steady engine heartbeat over its last hour."""
    with Ledger.open(tmp_path / "l.db", starting_cash_usd=10_000.0) as ledger:
        history = write_synthetic_history(ledger, SyntheticSpec(n_trades=80, base_return=0.004, seed=2))
        end = history.end_ms
        with ledger.transaction():
            for t in range(end - 2 * 3_600_000, end + 1, 20_000):
                ledger.record_heartbeat("engine", ts_ms=t)
        ledger.record_equity(end, {})
        yield ledger, end


def test_psi_is_zero_for_one_distribution_and_grows_with_the_shift():
    rng = np.random.default_rng(0)
    x = rng.normal(size=5000)
    assert psi(x, x) == pytest.approx(0.0, abs=1e-12)
    values = [psi(x, rng.normal(loc=shift, size=5000)) for shift in (0.0, 0.2, 0.5, 1.0)]
    assert values[0] < 0.02 and all(a < b for a, b in zip(values, values[1:])) and values[-1] > 0.25
    assert np.isnan(psi(np.full(10, np.nan), x))
    assert psi(np.append(x, np.nan), x) == pytest.approx(0.0, abs=1e-12)  # NaN (not live) is ignored


def test_injected_drift_is_detected_lowers_health_and_capital_and_removing_it_restores_them(
        sample_scores, healthy_ledger, settings):
    ledger, now = healthy_ledger
    reference, recent = sample_scores
    cfg = LearningConfig(autonomy=AutonomyConfig(window_hours=1.0))

    baseline = evaluate_autonomy(ledger, settings, cfg=cfg, now_ms=now, reference_scores=reference,
                                 recent_scores=recent)
    assert baseline.drift.alerts == [] and not baseline.drift.past_limit
    assert set(baseline.drift.signals["status"]) <= {"ok"}
    assert baseline.health.components["signal_drift"] == 1.0
    assert baseline.health.components["heartbeats"] == 1.0 and baseline.health.components["reconciliation"] == 1.0

    drifted = recent.copy()
    drifted[:, TREND] = np.clip(drifted[:, TREND] + 0.5, -1.0, 1.0)  # the trend signal's distribution shifts
    shifted = evaluate_autonomy(ledger, settings, cfg=cfg, now_ms=now, reference_scores=reference,
                                recent_scores=drifted)
    assert shifted.drift.signals.loc["trend", "status"] == "limit"
    assert (shifted.drift.signals.drop("trend")["status"] == "ok").all()
    assert shifted.drift.past_limit and any(a.startswith("signal trend drifted") for a in shifted.drift.alerts)
    assert shifted.health.score < baseline.health.score
    assert shifted.multiplier < baseline.multiplier
    assert shifted.multiplier <= cfg.drift.shrink_factor * baseline.multiplier + 1e-9
    assert shifted.version is not None and "signal trend drifted" in ledger.get_params(shifted.version).reason
    assert active_capital_multiplier(ledger) == shifted.multiplier
    _, overrides = active_overrides(ledger, settings)
    assert overrides["kelly_fraction"] == pytest.approx(settings.sizing.kelly_fraction * shifted.multiplier)

    restored = evaluate_autonomy(ledger, settings, cfg=cfg, now_ms=now, reference_scores=reference,
                                 recent_scores=recent)
    assert restored.drift.alerts == []
    assert restored.health.score == baseline.health.score and restored.multiplier == baseline.multiplier
    assert active_capital_multiplier(ledger) == baseline.multiplier
    assert ledger.active_params(KIND).body["alerts"] == []


def test_a_heartbeat_gap_lowers_the_health_score(healthy_ledger, settings):
    ledger, now = healthy_ledger
    cfg = AutonomyConfig(window_hours=1.0)
    before = assess_health(ledger, now_ms=now, cfg=cfg)
    later = now + 3_600_000
    with ledger.transaction():
        for t in range(now + 20_000, now + 1_800_000, 20_000):  # beats for 30 minutes, then silence
            ledger.record_heartbeat("engine", ts_ms=t)
    after = assess_health(ledger, now_ms=later, cfg=cfg)
    assert before.components["heartbeats"] == 1.0
    assert after.components["heartbeats"] == pytest.approx(0.5, abs=0.02)
    assert after.score < before.score
    assert capital_multiplier(after, cfg) < capital_multiplier(before, cfg)


def test_live_results_below_the_backtest_of_the_same_period_lower_health(tmp_path, settings):
    with Ledger.open(tmp_path / "bt.db", starting_cash_usd=10_000.0) as bt:
        write_synthetic_history(bt, SyntheticSpec(n_trades=120, base_return=0.008, seed=5))
        backtest = bt.trades()
    with Ledger.open(tmp_path / "live.db", starting_cash_usd=10_000.0) as live:
        history = write_synthetic_history(live, SyntheticSpec(n_trades=120, base_return=-0.004, seed=6))
        report = evaluate_autonomy(live, settings, now_ms=history.end_ms, backtest_trades=backtest, dry_run=True)
        assert report.health.components["backtest"] == 0.0
        assert report.drift.results["status"] == "limit" and report.drift.past_limit
        same = evaluate_autonomy(live, settings, now_ms=history.end_ms, backtest_trades=live.trades(), dry_run=True)
        assert same.health.components["backtest"] == 1.0 and same.drift.results["status"] == "ok"
        assert report.multiplier < same.multiplier
        assert live.list_params(KIND).empty  # dry run


def test_results_drift_needs_enough_trades_on_both_sides():
    cfg = DriftConfig(results_min_trades=30)
    assert results_drift(np.zeros(10), np.zeros(100), cfg)["status"] == "insufficient"


def test_capital_multiplier_stays_within_its_bounds():
    cfg = AutonomyConfig(min_multiplier=0.25, max_multiplier=1.0)
    assert capital_multiplier(0.0, cfg) == 0.25 and capital_multiplier(1.0, cfg) == 1.0
    assert capital_multiplier(0.5, cfg) == pytest.approx(0.625)
    assert capital_multiplier(float("nan"), cfg) == 0.25  # unknown health is no health
    assert capital_multiplier(7.0, cfg) == 1.0


def test_sizing_overrides_scale_capital_at_risk_and_stay_valid(settings):
    assert sizing_overrides(settings, 1.0) == {}
    half = sizing_overrides(settings, 0.5)
    assert half["kelly_fraction"] == pytest.approx(settings.sizing.kelly_fraction / 2)
    assert half["max_usd"] == pytest.approx(settings.sizing.max_usd / 2)
    assert sizing_overrides(settings, 0.01)["max_usd"] == settings.sizing.min_usd  # never below the $200 floor
    for m in (0.01, 0.5, 1.5, 3.0):
        params = build_params(settings, sizing_overrides(settings, m))
        assert params[0]["kelly_fraction"] <= 1.0
    assert sizing_overrides(settings, 0.5) == half  # from the configuration: applying twice changes nothing
    with pytest.raises(ValueError, match="multiplier"):
        sizing_overrides(settings, 0.0)
