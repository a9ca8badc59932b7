"""Python face of the regime kernels: calibration, configuration, pandas wrapping.

No maths here beyond preparing arguments: the estimator and the classifier
live in :mod:`botcore.regime.nb`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from botcore.config.models import REGIME_NAMES, STRATEGY_NAMES, Regime
from botcore.regime import nb
from botcore.regime.enums import ClassifierParams, HurstParams
from botcore.regime.fgn import fgn

__all__ = ["Calibration", "rs_al_calibration", "allowed_matrix", "RegimeResult", "compute_regime", "hurst_params", "classifier_params", "rolling_hurst"]

CALIBRATION_GRID = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


class Calibration(NamedTuple):
    """Piecewise-linear map from raw R/S-AL estimates to true H (both ascending)."""

    raw: np.ndarray
    true: np.ndarray


@lru_cache(maxsize=16)
def rs_al_calibration(
    window_bars: int = 256, min_chunk_bars: int = 8, ddof: int = 0, n_series: int = 400, seed: int = 20240601
) -> Calibration:
    """Return the small-window bias correction of the R/S-AL estimator.

    Simulates ``n_series`` exact fGn windows (Davies-Harte) at each H of
    :data:`CALIBRATION_GRID`, estimates them with the same window and chunk
    sizes, and pairs the mean raw estimate with the true H. Deterministic for
    a seed; cached per argument set (about a tenth of a second).
    """
    sizes = nb.chunk_sizes_nb(window_bars, min_chunk_bars)
    rng = np.random.default_rng(seed)
    raw = np.empty(len(CALIBRATION_GRID))
    for i, h in enumerate(CALIBRATION_GRID):
        x = fgn(window_bars, h, n_series=n_series, rng=rng)
        raw[i] = np.mean(nb.hurst_rs_rows_nb(x, sizes, ddof, True))
    true = np.asarray(CALIBRATION_GRID, dtype=np.float64)
    if np.any(np.diff(raw) <= 0):
        raise ArithmeticError(f"R/S-AL calibration not monotone for window {window_bars}: {raw}")
    return Calibration(raw, true)


def hurst_params(regime: Regime, **overrides: Any) -> HurstParams:
    """Return the kernel parameters for ``settings.regime`` (window from config)."""
    return HurstParams(window_bars=regime.window)._replace(**overrides)


def classifier_params(regime: Regime, **overrides: Any) -> ClassifierParams:
    """Return the classifier parameters for ``settings.regime`` (thresholds and hysteresis from config)."""
    return ClassifierParams(regime.trending_above, regime.mean_reverting_below, regime.hysteresis)._replace(**overrides)


def allowed_matrix(regime: Regime) -> np.ndarray:
    """Return a boolean ``(len(REGIME_NAMES), len(STRATEGY_NAMES))`` matrix: regime code x strategy allowed.

    Rows follow the regime codes (trending 0, mean_reverting 1, random 2),
    columns :data:`~botcore.config.models.STRATEGY_NAMES`. The unknown regime
    (-1) allows nothing and has no row.
    """
    out = np.zeros((len(REGIME_NAMES), len(STRATEGY_NAMES)), dtype=bool)
    for i, name in enumerate(REGIME_NAMES):
        for strategy in regime.allowed.get(name, ()):
            out[i, STRATEGY_NAMES.index(strategy)] = True
    return out


def rolling_hurst(values: np.ndarray, params: HurstParams, n_threads: int = 2) -> np.ndarray:
    """Run :func:`botcore.regime.nb.rolling_hurst_nb` on a ``(n, m)`` close array, columns split over ``n_threads`` threads."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    cal = rs_al_calibration(params.window_bars, params.min_chunk_bars, params.ddof)
    m = values.shape[1]
    if n_threads <= 1 or m < 2:
        return nb.rolling_hurst_nb(values, cal.raw, cal.true, *params)
    bounds = np.linspace(0, m, min(n_threads, m) + 1).astype(int)
    out = np.empty(values.shape, dtype=np.float64)

    def run(a: int, b: int) -> None:
        out[:, a:b] = nb.rolling_hurst_nb(np.ascontiguousarray(values[:, a:b]), cal.raw, cal.true, *params)

    with ThreadPoolExecutor(max_workers=len(bounds) - 1) as pool:
        list(pool.map(run, bounds[:-1], bounds[1:]))
    return out


class RegimeResult(NamedTuple):
    hurst: pd.DataFrame         # calibrated H, NaN while warming up
    hurst_smooth: pd.DataFrame  # the EMA of H the classifier reads
    regime: pd.DataFrame        # int8 regime codes (-1 unknown)


def compute_regime(
    close: pd.DataFrame,
    regime: Regime,
    params: HurstParams | None = None,
    classifier: ClassifierParams | None = None,
    bar_ms: int = 60_000,
    n_threads: int = 2,
) -> RegimeResult:
    """Run the rolling Hurst and the classifier over a close panel (index ts in ms, one column per symbol).

    The update phase is aligned to the clock (``offset_bars`` from the first
    ``ts``) so a backtest and a live state started at different bars update on
    the same bars.
    """
    p = params or hurst_params(regime)
    values = np.ascontiguousarray(close.to_numpy(dtype=np.float64))
    if values.ndim != 2:
        raise ValueError("close: expected a 2-D panel (bars x symbols)")
    if len(close.index):
        p = p._replace(offset_bars=int((int(close.index[0]) // bar_ms) % p.stride_bars))
    h = rolling_hurst(values, p, n_threads)
    smooth, codes = nb.classify_regime_nb(h, *(classifier or classifier_params(regime)))
    wrap = lambda a: pd.DataFrame(a, index=close.index, columns=close.columns)  # noqa: E731
    return RegimeResult(wrap(h), wrap(smooth), wrap(codes))
