"""Slow, obvious pandas references of the engine's feature kernels (:mod:`botcore.engine.features_nb`).

Tests compare the kernels against these; nothing in the engine calls them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from botcore.engine.features_nb import BARS_PER_DAY, FeatureParams


def _ewm(x: pd.Series, span: float) -> pd.Series:
    return x.ewm(span=span, adjust=False, ignore_na=True).mean()


def features_reference(close: np.ndarray, volume: np.ndarray, params: FeatureParams = FeatureParams()):
    """Return ``(volatility_daily, volume_ratio, trend_dir)`` for ``(n_bars, n_symbols)`` inputs (see the kernels)."""
    p = params
    nb_, m = close.shape
    vol = np.full((nb_, m), np.nan)
    ratio = np.full((nb_, m), np.nan)
    trend = np.zeros((nb_, m, 3), dtype=np.int8)
    for j in range(m):
        c = pd.Series(close[:, j])
        c = c.where(np.isfinite(c) & (c > 0))
        r = np.log(c / c.ffill().shift(1))  # against the last present close
        r2 = r * r
        ema = _ewm(r2, p.vol_span_bars)
        seen = r2.notna().cumsum()
        vol[:, j] = np.where(seen >= p.vol_min_periods, np.sqrt(ema * BARS_PER_DAY), np.nan)

        v = pd.Series(volume[:, j])
        v = v.where(np.isfinite(v) & (v >= 0))
        base = _ewm(v, p.volume_span_bars).shift(1)
        seen_v = v.notna().cumsum().shift(1, fill_value=0)
        ok = v.notna() & (seen_v >= p.volume_min_periods) & (base > 0)
        ratio[:, j] = np.where(ok, v / base, np.nan)

        seen_c = c.notna().cumsum()
        for k, tf in enumerate((p.tf1_bars, p.tf2_bars, p.tf3_bars)):
            gap = _ewm(c, p.fast_tf_bars * tf) / _ewm(c, p.slow_tf_bars * tf) - 1.0
            d = np.where(gap > p.trend_deadband, 1, np.where(gap < -p.trend_deadband, -1, 0))
            trend[:, j, k] = np.where(seen_c >= p.slow_tf_bars * tf, d, 0)
    return vol, ratio, trend


__all__ = ["features_reference"]
