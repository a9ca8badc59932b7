"""Numba kernels of the decision features the signals do not provide.

``decide`` needs, per symbol and cycle (see :class:`botcore.strategy.enums.Features`):

- ``volatility_daily``: realised daily volatility, fraction. An EMA (span
  ``vol_span_bars``) of squared 1-bar log returns of the close, times the
  bars in a day, square-rooted. A return is taken between consecutive present
  closes (a missing bar is skipped, not filled). NaN until
  ``vol_min_periods`` returns have been seen.
- ``volume_ratio``: this bar's volume over the EMA (span ``volume_span_bars``)
  of the volumes of the bars before it. NaN when the bar's volume is missing,
  the EMA has seen fewer than ``volume_min_periods`` volumes, or it is 0.
- ``trend_dir`` ``(n, 3)`` int8: the direction of three higher timeframes
  (``tf_bars`` = 5m, 15m, 1h on 1m bars): the sign of the relative gap
  between a fast and a slow EMA of the close with spans ``fast_tf_bars`` and
  ``slow_tf_bars`` bars *of that timeframe* (so ``fast_tf_bars * tf`` 1m bars),
  0 inside ``trend_deadband`` or while fewer than the slow span of closes
  have been seen.

Contract (as :mod:`botcore.signals.nb`): float64 inputs on the 1m grid,
``*_1d`` forms none here; each feature is one step function
:func:`features_step_nb` over a flat float64 state row, shared by the batch
kernel :func:`features_nb` and the engine's per-cycle step, so both give the
same bits. EMAs skip missing values (pandas ``ewm(adjust=False,
ignore_na=True)``) and are seeded with the first value. No I/O, no clock.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

N_TREND_TF = 3
BARS_PER_DAY = 1440.0


class FeatureParams(NamedTuple):
    """Parameters of the feature kernels (windows in 1m bars)."""

    vol_span_bars: int = 1_440  # EMA span of squared 1-bar log returns
    vol_min_periods: int = 720  # returns seen before the volatility is defined
    volume_span_bars: int = 60  # EMA span of the volume baseline
    volume_min_periods: int = 30
    tf1_bars: int = 5  # the three trend timeframes, in 1m bars
    tf2_bars: int = 15
    tf3_bars: int = 60
    fast_tf_bars: int = 8  # fast EMA span in bars of the timeframe
    slow_tf_bars: int = 21  # slow EMA span in bars of the timeframe
    trend_deadband: float = 1e-4  # |fast / slow - 1| below this: direction 0


# state layout (one row per symbol)
_LAST_CLOSE = 0
_VOL_EMA = 1
_VOL_N = 2
_VOLUME_EMA = 3
_VOLUME_N = 4
_CLOSE_N = 5
_FAST = 6  # 3 fast EMAs, then 3 slow EMAs
_SLOW = _FAST + N_TREND_TF
FEATURE_STATE_LEN = _SLOW + N_TREND_TF


@njit(cache=True)
def features_init_nb(st, j):
    """Reset row ``j`` of a feature state."""
    for k in range(FEATURE_STATE_LEN):
        st[j, k] = 0.0
    st[j, _LAST_CLOSE] = np.nan
    st[j, _VOL_EMA] = np.nan
    st[j, _VOLUME_EMA] = np.nan
    for k in range(N_TREND_TF):
        st[j, _FAST + k] = np.nan
        st[j, _SLOW + k] = np.nan


@njit(cache=True)
def features_new_state_nb(n_symbols):
    """Return a fresh ``(n_symbols, FEATURE_STATE_LEN)`` feature state."""
    st = np.empty((n_symbols, FEATURE_STATE_LEN))
    for j in range(n_symbols):
        features_init_nb(st, j)
    return st


@njit(cache=True, inline="always")
def _ema_push(st, j, k, x, span):
    if math.isnan(st[j, k]):
        st[j, k] = x
    else:
        st[j, k] += 2.0 / (span + 1.0) * (x - st[j, k])


@njit(cache=True)
def features_step_nb(st, j, close, volume, trend_out, vol_span_bars=1_440, vol_min_periods=720, volume_span_bars=60,
                     volume_min_periods=30, tf1_bars=5, tf2_bars=15, tf3_bars=60, fast_tf_bars=8, slow_tf_bars=21,
                     trend_deadband=1e-4):
    """Consume one bar of symbol ``j``; return ``(volatility_daily, volume_ratio)`` and write ``trend_out[:3]``."""
    present = math.isfinite(close) and close > 0.0
    if present:
        last = st[j, _LAST_CLOSE]
        if not math.isnan(last):
            r = math.log(close / last)
            _ema_push(st, j, _VOL_EMA, r * r, vol_span_bars)
            st[j, _VOL_N] += 1.0
        st[j, _LAST_CLOSE] = close
    vol = np.nan
    if st[j, _VOL_N] >= vol_min_periods:
        vol = math.sqrt(st[j, _VOL_EMA] * BARS_PER_DAY)

    ratio = np.nan
    if math.isfinite(volume) and volume >= 0.0:
        base = st[j, _VOLUME_EMA]
        if st[j, _VOLUME_N] >= volume_min_periods and base > 0.0:
            ratio = volume / base
        _ema_push(st, j, _VOLUME_EMA, volume, volume_span_bars)
        st[j, _VOLUME_N] += 1.0

    if present:
        st[j, _CLOSE_N] += 1.0
    for k in range(N_TREND_TF):
        tf = tf1_bars if k == 0 else (tf2_bars if k == 1 else tf3_bars)
        slow_span = slow_tf_bars * tf
        if present:
            _ema_push(st, j, _FAST + k, close, fast_tf_bars * tf)
            _ema_push(st, j, _SLOW + k, close, slow_span)
        d = 0
        if st[j, _CLOSE_N] >= slow_span:
            gap = st[j, _FAST + k] / st[j, _SLOW + k] - 1.0
            if gap > trend_deadband:
                d = 1
            elif gap < -trend_deadband:
                d = -1
        trend_out[k] = d
    return vol, ratio


@njit(cache=True)
def features_update_nb(st, close, volume, vol_out, ratio_out, trend_out, vol_span_bars=1_440, vol_min_periods=720,
                       volume_span_bars=60, volume_min_periods=30, tf1_bars=5, tf2_bars=15, tf3_bars=60,
                       fast_tf_bars=8, slow_tf_bars=21, trend_deadband=1e-4):
    """Consume one bar of every symbol (``(n,)`` close and volume); write ``vol_out``, ``ratio_out`` (n,), ``trend_out`` (n, 3)."""
    for j in range(close.shape[0]):
        vol_out[j], ratio_out[j] = features_step_nb(
            st, j, close[j], volume[j], trend_out[j], vol_span_bars, vol_min_periods, volume_span_bars,
            volume_min_periods, tf1_bars, tf2_bars, tf3_bars, fast_tf_bars, slow_tf_bars, trend_deadband,
        )


@njit(cache=True)
def features_nb(close, volume, vol_span_bars=1_440, vol_min_periods=720, volume_span_bars=60, volume_min_periods=30,
                tf1_bars=5, tf2_bars=15, tf3_bars=60, fast_tf_bars=8, slow_tf_bars=21, trend_deadband=1e-4):
    """Batch form over ``(n_bars, n_symbols)`` close and volume.

    Returns ``volatility_daily`` (nb, n) float64, ``volume_ratio`` (nb, n)
    float64 and ``trend_dir`` (nb, n, 3) int8, bar by bar the same as the step.
    """
    nb_, m = close.shape
    st = features_new_state_nb(m)
    vol = np.empty((nb_, m))
    ratio = np.empty((nb_, m))
    trend = np.zeros((nb_, m, N_TREND_TF), dtype=np.int8)
    for t in range(nb_):
        features_update_nb(st, close[t], volume[t], vol[t], ratio[t], trend[t], vol_span_bars, vol_min_periods,
                           volume_span_bars, volume_min_periods, tf1_bars, tf2_bars, tf3_bars, fast_tf_bars,
                           slow_tf_bars, trend_deadband)
    return vol, ratio, trend


__all__ = [
    "FEATURE_STATE_LEN", "FeatureParams", "N_TREND_TF", "features_init_nb", "features_nb", "features_new_state_nb",
    "features_step_nb", "features_update_nb",
]
