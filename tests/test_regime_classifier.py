"""Regime classifier: hysteresis, reference agreement, configuration, incremental form, sample market."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from botcore.config.models import STRATEGY_NAMES
from botcore.regime import nb
from botcore.regime import reference as ref
from botcore.regime.engine import allowed_matrix, classifier_params, compute_regime
from botcore.regime.enums import HurstParams, Regimes
from botcore.regime.incremental import IncrementalRegime


def _flips(codes: np.ndarray) -> int:
    return int((np.diff(codes.astype(int)) != 0).sum())


def test_hysteresis_prevents_flapping_around_a_threshold():
    t = np.arange(2000)
    hurst = 0.55 + 0.015 * np.sin(t / 7.0)  # wobbles across trending_above = 0.55
    _, plain = nb.classify_regime_1d_nb(hurst, 0.55, 0.45, 0.0, 1)
    _, steady = nb.classify_regime_1d_nb(hurst, 0.55, 0.45, 0.02, 1)
    assert _flips(plain) > 80
    assert _flips(steady) == 0


def test_hysteresis_still_follows_a_real_change():
    hurst = np.concatenate([np.full(100, 0.7), np.full(100, 0.5), np.full(100, 0.3), np.full(100, 0.62)])
    _, codes = nb.classify_regime_1d_nb(hurst, 0.55, 0.45, 0.02, 1)
    assert list(codes[[99, 199, 299, 399]]) == [Regimes.trending, Regimes.random, Regimes.mean_reverting, Regimes.trending]


def test_missing_hurst_is_unknown_and_resets():
    _, codes = nb.classify_regime_1d_nb(np.array([0.7, np.nan, 0.52]), 0.55, 0.45, 0.02, 1)
    assert list(codes) == [Regimes.trending, Regimes.unknown, Regimes.random]


def test_classifier_agrees_with_plain_loop():
    rng = np.random.default_rng(0)
    hurst = np.clip(0.5 + np.cumsum(rng.normal(0, 0.01, 3000)), 0.05, 0.95)
    hurst[rng.random(3000) < 0.01] = np.nan
    for span in (1, 50):
        smooth, codes = nb.classify_regime_1d_nb(hurst, 0.55, 0.45, 0.02, span)
        r_smooth, r_codes = ref.classify_regime_ref(hurst, 0.55, 0.45, 0.02, span)
        np.testing.assert_array_equal(codes, r_codes)
        np.testing.assert_allclose(smooth, r_smooth, rtol=0, atol=1e-12)
        assert len(set(codes.tolist())) == 4


def test_allowed_strategies_come_from_config(settings):
    allowed = allowed_matrix(settings.regime)
    assert allowed.shape == (3, len(STRATEGY_NAMES))
    for regime, names in settings.regime.allowed.items():
        row = allowed[getattr(Regimes, regime)]
        assert {STRATEGY_NAMES[k] for k in np.flatnonzero(row)} == set(names)


def test_incremental_regime_equals_batch(settings):
    rng = np.random.default_rng(3)
    n, m = 3000, 2
    ts0 = 1_700_000_040_000  # not aligned to the stride: the phase comes from the clock
    close = pd.DataFrame(20 * np.exp(np.cumsum(rng.normal(0, 1e-3, (n, m)), axis=0)), index=ts0 + 60_000 * np.arange(n))
    close.iloc[rng.random((n, m)) < 0.005] = np.nan
    params = HurstParams(window_bars=128)
    cls = classifier_params(settings.regime, smooth_span_bars=100)
    batch = compute_regime(close, settings.regime, params, cls)
    live = IncrementalRegime(m, settings.regime, first_ts_ms=ts0, params=params, classifier=cls)
    for t in range(n):
        h, smooth, codes = live.update(close.to_numpy()[t])
        np.testing.assert_allclose(h, batch.hurst.to_numpy()[t], rtol=0, atol=1e-9, equal_nan=True)
        np.testing.assert_allclose(smooth, batch.hurst_smooth.to_numpy()[t], rtol=0, atol=1e-9, equal_nan=True)
        np.testing.assert_array_equal(codes, batch.regime.to_numpy()[t])
    assert (batch.regime.to_numpy()[-1] >= 0).all()


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory):
    sample = pytest.importorskip("botcore.market.sample")
    from botcore.config import load_settings
    from tests.conftest import CONFIG_DIR

    out = tmp_path_factory.mktemp("sample_regime")
    sample.generate_sample_market(out, 30, 7, load_settings(CONFIG_DIR))
    from botcore.market.store import Store

    return Store(out)


def test_classifier_labels_sample_market_regimes_at_least_80_percent(sample_store, settings):
    symbols = settings.universe.symbols
    close = sample_store.read_panel("candles_1m", symbols, "close")
    truth = sample_store.read_panel("regime_truth", symbols, "regime").to_numpy()
    codes = compute_regime(close, settings.regime).regime.to_numpy()
    warm = settings.regime.window + 256  # the first window plus a few smoothing spans' worth of updates
    accuracy = (codes[warm:] == truth[warm:]).mean()
    assert accuracy >= 0.80, accuracy
