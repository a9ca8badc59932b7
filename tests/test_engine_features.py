"""The engine's feature kernels (volatility, volume ratio, multi-timeframe trend) against their pandas reference."""

from __future__ import annotations

import numpy as np
import pytest

from botcore.engine.features_nb import (
    FEATURE_STATE_LEN,
    FeatureParams,
    features_nb,
    features_new_state_nb,
    features_update_nb,
)
from botcore.engine.reference import features_reference

SMALL = FeatureParams(vol_span_bars=60, vol_min_periods=30, volume_span_bars=20, volume_min_periods=10, tf1_bars=2,
                      tf2_bars=3, tf3_bars=5, fast_tf_bars=3, slow_tf_bars=7)


def _market(n: int, m: int, seed: int, nan_share: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    drift = np.linspace(-0.002, 0.002, m)
    close = 100.0 * np.exp(np.cumsum(rng.normal(drift, 0.003, (n, m)), axis=0))
    volume = rng.exponential(5.0, (n, m))
    volume[rng.random((n, m)) < 0.02] = 0.0
    close[rng.random((n, m)) < nan_share] = np.nan
    volume[rng.random((n, m)) < nan_share] = np.nan
    return close, volume


@pytest.mark.parametrize("nan_share", [0.0, 0.05, 0.3])
@pytest.mark.parametrize("params", [FeatureParams(), SMALL], ids=["default", "small"])
def test_feature_kernels_agree_with_the_pandas_reference(nan_share, params):
    close, volume = _market(3_000, 4, seed=int(nan_share * 100), nan_share=nan_share)
    vol, ratio, trend = features_nb(close, volume, *params)
    ref_vol, ref_ratio, ref_trend = features_reference(close, volume, params)
    np.testing.assert_allclose(vol, ref_vol, rtol=1e-10, atol=0.0)  # NaN where the reference has NaN
    np.testing.assert_allclose(ratio, ref_ratio, rtol=1e-10, atol=0.0)
    np.testing.assert_array_equal(trend, ref_trend)
    assert np.isfinite(vol[-1]).all() or nan_share > 0


def test_volatility_is_missing_until_enough_returns_then_scales_with_the_day():
    rng = np.random.default_rng(1)
    sigma = 0.001
    close = 100 * np.exp(np.cumsum(rng.normal(0, sigma, (20_000, 1)), axis=0))
    vol, _ratio, _trend = features_nb(close, np.ones_like(close))
    assert np.isnan(vol[: FeatureParams().vol_min_periods]).all()
    assert vol[-1, 0] == pytest.approx(sigma * np.sqrt(1440), rel=0.15)


def test_missing_bar_gives_no_volume_ratio_and_the_trend_needs_a_full_slow_span():
    close = np.full((2_000, 1), 100.0) * np.exp(np.arange(2_000)[:, None] * 1e-4)  # steady rise
    volume = np.full_like(close, 2.0)
    volume[1_000] = np.nan
    _vol, ratio, trend = features_nb(close, volume)
    assert np.isnan(ratio[1_000, 0]) and ratio[1_001, 0] == pytest.approx(1.0)
    p = FeatureParams()
    assert (trend[: p.slow_tf_bars * p.tf1_bars - 1, 0, 0] == 0).all()
    assert trend[-1, 0].tolist() == [1, 1, 1]


def test_step_form_equals_the_batch_kernel_bit_for_bit():
    close, volume = _market(1_500, 3, seed=5, nan_share=0.1)
    vol, ratio, trend = features_nb(close, volume)
    st = features_new_state_nb(3)
    assert st.shape == (3, FEATURE_STATE_LEN)
    v, r, d = np.empty(3), np.empty(3), np.zeros((3, 3), dtype=np.int8)
    for t in range(close.shape[0]):
        features_update_nb(st, close[t], volume[t], v, r, d, *FeatureParams())
        np.testing.assert_array_equal(v, vol[t])
        np.testing.assert_array_equal(r, ratio[t])
        np.testing.assert_array_equal(d, trend[t])
