"""Hurst estimator: recovery on exact fGn, agreement with references and third-party packages.

Tolerances: kernel vs NumPy reference 1e-10; vs ``nolds.hurst_rs`` (same
estimator, window reversed, least-squares fit) 1e-9; vs ``hurst.compute_Hc``
(uncorrected R/S, its own chunk sizes, ddof=1) 1e-9; recovery of H within
+-0.05 (mean over 100 series) after the calibrated small-window correction.
"""

from __future__ import annotations

import numpy as np
import pytest

from botcore.regime import nb
from botcore.regime import reference as ref
from botcore.regime.engine import rs_al_calibration
from botcore.regime.fgn import fgn, fgn_autocovariance


@pytest.mark.parametrize("window", [256, 1000])
@pytest.mark.parametrize("hurst", [0.3, 0.5, 0.7])
def test_estimator_recovers_h_of_fractional_gaussian_noise(window, hurst):
    cal = rs_al_calibration(window)
    sizes = nb.chunk_sizes_nb(window, 8)
    x = fgn(window, hurst, n_series=100, rng=1000 + int(hurst * 10) + window)  # seeds unlike the calibration's
    raw = nb.hurst_rs_rows_nb(x, sizes, 0, True)
    est = np.array([nb.calibrate_nb(h, cal.raw, cal.true) for h in raw])
    assert abs(est.mean() - hurst) <= 0.05, est.mean()


def test_uncorrected_small_window_bias_is_what_the_calibration_removes():
    """Without the calibration, R/S-AL on 256 returns reads H=0.7 well below 0.7 (the bias being corrected)."""
    sizes = nb.chunk_sizes_nb(256, 8)
    raw = nb.hurst_rs_rows_nb(fgn(256, 0.7, n_series=100, rng=3), sizes, 0, True)
    assert raw.mean() < 0.66


def test_kernel_agrees_with_numpy_reference_and_nolds():
    rng = np.random.default_rng(0)
    sizes = nb.chunk_sizes_nb(256, 8)
    for _ in range(5):
        x = rng.standard_normal(256) * 1e-3
        h = nb.hurst_rs_1d_nb(x, sizes, 0, True)
        assert h == pytest.approx(ref.hurst_rs_ref(x, sizes, 0, True), abs=1e-10)
        assert h == pytest.approx(ref.hurst_rs_nolds(x, sizes, 0), abs=1e-9)
        assert nb.hurst_rs_1d_nb(x, sizes, 1, True) == pytest.approx(ref.hurst_rs_nolds(x, sizes, 1), abs=1e-9)


def test_kernel_on_the_hurst_package_settings_matches_compute_hc():
    rng = np.random.default_rng(1)
    for n in (256, 1000):
        x = rng.standard_normal(n)
        sizes = ref.hurst_package_sizes(n)
        h = nb.hurst_rs_1d_nb(np.ascontiguousarray(x[::-1]), sizes, 1, False)
        assert h == pytest.approx(ref.hurst_package_hc(x), abs=1e-9)


def test_expected_rs_matches_nolds():
    nolds = ref.nolds_measures()
    for n in (8, 16, 100, 340, 341, 512):
        assert nb.expected_rs_nb(n) == pytest.approx(nolds.expected_rs(n), rel=1e-12)
        assert nb.expected_rs_nb(n) == pytest.approx(ref.expected_rs_ref(n), rel=1e-12)


def test_rolling_kernel_agrees_with_plain_loop_on_prices_with_gaps():
    rng = np.random.default_rng(2)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 1e-3, (1500, 2)), axis=0))
    close[rng.random(close.shape) < 0.01] = np.nan
    close[700:760, 1] = np.nan  # long gap: windows below coverage give NaN
    cal = rs_al_calibration(64)
    args = (cal.raw, cal.true, 64, 8, 4, 1, 0.9, 0)
    got = nb.rolling_hurst_nb(np.ascontiguousarray(close), *args)
    for j in range(2):
        want = ref.rolling_hurst_ref(close[:, j], *args)
        np.testing.assert_allclose(got[:, j], want, rtol=0, atol=1e-10)
    assert np.isnan(got[:64]).all() and np.isfinite(got[100:700, 0]).mean() > 0.9
    assert np.isnan(got[740, 1])


def test_fgn_has_the_exact_autocovariance():
    x = fgn(32, 0.7, n_series=20_000, rng=4)
    sample = [np.mean(x[:, 10] * x[:, 10 + k]) for k in range(4)]
    np.testing.assert_allclose(sample, fgn_autocovariance(np.arange(4), 0.7), atol=0.03)
    assert fgn(10, 0.3, rng=5).shape == (10,)
    np.testing.assert_array_equal(fgn(10, 0.3, rng=5), fgn(10, 0.3, rng=5))
    with pytest.raises(ValueError, match="hurst"):
        fgn(10, 1.0)
