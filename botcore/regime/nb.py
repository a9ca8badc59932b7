"""Numba kernels of the Hurst-exponent regime.

Contract
--------
- Input: closes, float64 ``(n_bars, n_symbols)`` (``*_1d_nb``: one column),
  one row a bar in time order; NaN or a non-positive close is missing.
- The estimator works on 1-bar log returns ``r_t = log(c_t / c_{t-1})`` (NaN
  when either close is missing).
- Output: ``hurst`` float64 ``(n, m)``, NaN while warming up or when the
  window holds too few returns; the classifier gives the smoothed H, float64
  ``(n, m)``, and ``regime`` int8 ``(n, m)`` with the codes of
  :class:`botcore.regime.enums.RegimeCode` (-1 unknown).

Estimator: rescaled range with the Anis-Lloyd-Peters correction (R/S-AL)
------------------------------------------------------------------------
For each chunk size ``n`` in ``min_chunk_bars * 2**k <= window_bars // 2``,
the window's returns (the valid ones, most recent last) are cut into
``floor(N / n)`` non-overlapping chunks counted back from the newest return;
per chunk ``R`` is the range of the cumulative deviations from the chunk mean
and ``S`` the standard deviation (``ddof``, default 0); chunks with ``R = 0``
or ``S = 0`` are skipped and ``(R/S)_n`` is the mean over chunks. The
Anis-Lloyd-Peters expected value for white noise,

    E[(R/S)_n] = (n - 1/2) / n * Gamma((n-1)/2) / (sqrt(pi) Gamma(n/2)) * sum_{i=1}^{n-1} sqrt((n-i)/i)

(with ``1 / sqrt(n pi / 2)`` for the Gamma ratio when ``n > 340``), is
subtracted in logs and ``H = 0.5 + slope`` of the least-squares line of
``log (R/S)_n - log E[(R/S)_n]`` on ``log n`` (Weron 2002, as
``nolds.hurst_rs(corrected=True, fit='poly')``). This removes the classical
R/S upward bias for white noise but still shrinks estimates towards 0.5 on
short windows (H = 0.7 reads ~0.61 on 256 returns); the remaining
small-window bias is corrected by a monotone piecewise-linear map from raw
to true H, ``calib_raw -> calib_true``, built by simulating exact fractional
Gaussian noise at the same window and chunk sizes
(:func:`botcore.regime.engine.rs_al_calibration`). Empty calibration arrays
mean no correction.

Rolling form: the estimate is recomputed every ``stride_bars`` bars (at bars
with ``(t + offset_bars) % stride_bars == 0``) from a ring buffer of the last
``window_bars`` returns, an O(window) update, and held in between; a window
with fewer than ``min_coverage * window_bars`` valid returns gives NaN.

Classifier with hysteresis: from ``unknown`` the plain thresholds apply
(``H > trending_above`` trending, ``H < mean_reverting_below`` mean-reverting,
else random). Once in a regime, leaving it needs ``H`` to cross its
threshold by ``hysteresis`` (trending ends below ``trending_above - h``,
mean-reverting ends above ``mean_reverting_below + h``), and entering
another regime needs ``H`` beyond that regime's threshold by ``h``. The
classifier reads an EMA of H (``smooth_span_bars``, default 720: the
estimates of overlapping windows are averaged, which cuts the variance of a
256-return estimate from about 0.09 to a level where random-walk segments
are recognised). A NaN ``H`` gives ``unknown`` and resets the state.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

UNKNOWN = np.int8(-1)
TRENDING = np.int8(0)
MEAN_REVERTING = np.int8(1)
RANDOM = np.int8(2)


@njit(cache=True)
def expected_rs_nb(n):
    """Anis-Lloyd-Peters expected rescaled range of ``n`` white-noise values."""
    total = 0.0
    for i in range(1, n):
        total += math.sqrt((n - i) / i)
    if n <= 340:
        middle = math.exp(math.lgamma((n - 1) * 0.5) - math.lgamma(n * 0.5)) / math.sqrt(math.pi)
    else:
        middle = 1.0 / math.sqrt(n * math.pi * 0.5)
    return (n - 0.5) / n * middle * total


@njit(cache=True)
def chunk_sizes_nb(window_bars=256, min_chunk_bars=8):
    """Chunk sizes ``min_chunk_bars * 2**k`` up to ``window_bars // 2``."""
    count = 0
    n = min_chunk_bars
    while n <= window_bars // 2:
        count += 1
        n *= 2
    sizes = np.empty(count, dtype=np.int64)
    n = min_chunk_bars
    for k in range(count):
        sizes[k] = n
        n *= 2
    return sizes


@njit(cache=True)
def hurst_rs_1d_nb(returns, sizes, ddof=0, corrected=True):
    """Hurst exponent of one window of returns (no NaN) by R/S, AL-corrected unless ``corrected=False``.

    Chunks are counted back from the newest value. Returns NaN when fewer
    than two chunk sizes give an ``(R/S)_n``. Uncorrected: the slope itself.
    Uses prefix sums of the values and their squares (one pass per chunk).
    """
    big_n = returns.shape[0]
    prefix = np.empty(big_n + 1)
    prefix_sq = np.empty(big_n + 1)
    prefix[0] = 0.0
    prefix_sq[0] = 0.0
    for i in range(big_n):
        prefix[i + 1] = prefix[i] + returns[i]
        prefix_sq[i + 1] = prefix_sq[i] + returns[i] * returns[i]
    k = sizes.shape[0]
    log_n = np.empty(k)
    log_rs = np.empty(k)
    used = 0
    for a in range(k):
        n = sizes[a]
        if n < 2 or n > big_n:
            continue
        acc = 0.0
        count = 0
        for q in range(big_n // n):
            end = big_n - q * n
            start = end - n
            base = prefix[start]
            mean = (prefix[end] - base) / n
            z_max = 0.0
            z_min = 0.0
            for i in range(1, n + 1):
                z = prefix[start + i] - base - i * mean
                z_max = max(z_max, z)
                z_min = min(z_min, z)
            r = z_max - z_min
            ss = (prefix_sq[end] - prefix_sq[start]) - n * mean * mean
            s = math.sqrt(ss / (n - ddof)) if ss > 0.0 else 0.0
            if r > 0.0 and s > 0.0:
                acc += r / s
                count += 1
        if count > 0:
            log_n[used] = math.log(n)
            log_rs[used] = math.log(acc / count)
            if corrected:
                log_rs[used] -= math.log(expected_rs_nb(n))
            used += 1
    if used < 2:
        return np.nan
    mx = 0.0
    my = 0.0
    for a in range(used):
        mx += log_n[a]
        my += log_rs[a]
    mx /= used
    my /= used
    sxy = 0.0
    sxx = 0.0
    for a in range(used):
        sxy += (log_n[a] - mx) * (log_rs[a] - my)
        sxx += (log_n[a] - mx) ** 2
    slope = sxy / sxx
    return slope + 0.5 if corrected else slope


@njit(cache=True)
def hurst_rs_rows_nb(returns, sizes, ddof=0, corrected=True):
    """:func:`hurst_rs_1d_nb` of each row of ``(n_series, n)`` returns -> ``(n_series,)``."""
    out = np.empty(returns.shape[0])
    for i in range(returns.shape[0]):
        out[i] = hurst_rs_1d_nb(returns[i], sizes, ddof, corrected)
    return out


@njit(cache=True)
def calibrate_nb(h_raw, calib_raw, calib_true):
    """Map a raw estimate through the piecewise-linear table (linear beyond its ends), clipped to [0.01, 0.99]."""
    k = calib_raw.shape[0]
    if k < 2 or math.isnan(h_raw):
        return h_raw
    a = 0
    if h_raw > calib_raw[k - 1]:
        a = k - 2
    else:
        while a < k - 2 and h_raw > calib_raw[a + 1]:
            a += 1
    x0 = calib_raw[a]
    x1 = calib_raw[a + 1]
    h = calib_true[a] + (h_raw - x0) * (calib_true[a + 1] - calib_true[a]) / (x1 - x0)
    return min(max(h, 0.01), 0.99)


# --------------------------------------------------------------------------- rolling Hurst
# state: [t, prev_close, held_h, pos, ring of window_bars returns]

HURST_HEADER = 4


@njit(cache=True)
def hurst_state_len(window_bars=256):
    return HURST_HEADER + window_bars


@njit(cache=True)
def hurst_init_nb(st, window_bars=256):
    st[0] = 0.0
    st[1] = np.nan
    st[2] = np.nan
    st[3] = 0.0
    for k in range(window_bars):
        st[HURST_HEADER + k] = np.nan


@njit(cache=True)
def hurst_step_nb(st, close, sizes, calib_raw, calib_true, window_bars=256, stride_bars=16, offset_bars=0, min_coverage=0.95, ddof=0):
    """Consume one close; return the (held) calibrated Hurst exponent. O(1), O(window) on update bars."""
    t = int(st[0])
    px = close if close > 0.0 else np.nan
    r = math.log(px / st[1])
    st[1] = px
    pos = int(st[3])
    st[HURST_HEADER + pos] = r
    pos += 1
    if pos == window_bars:
        pos = 0
    st[3] = float(pos)
    st[0] = t + 1.0
    if t >= window_bars and (t + offset_bars) % stride_bars == 0:
        buf = np.empty(window_bars)
        valid = 0
        for k in range(pos, pos + window_bars):  # oldest first: the ring from pos, then from its start
            v = st[HURST_HEADER + (k if k < window_bars else k - window_bars)]
            if not math.isnan(v):
                buf[valid] = v
                valid += 1
        if valid >= min_coverage * window_bars:
            st[2] = calibrate_nb(hurst_rs_1d_nb(buf[:valid], sizes, ddof, True), calib_raw, calib_true)
        else:
            st[2] = np.nan
    return st[2]


@njit(cache=True)
def rolling_hurst_1d_nb(close, calib_raw, calib_true, window_bars=256, min_chunk_bars=8, stride_bars=16, offset_bars=0, min_coverage=0.95, ddof=0):
    """Rolling calibrated R/S-AL Hurst exponent of one symbol's log returns: ``(n,)`` closes -> ``(n,)`` H."""
    n = close.shape[0]
    out = np.empty(n, dtype=np.float64)
    sizes = chunk_sizes_nb(window_bars, min_chunk_bars)
    st = np.empty(hurst_state_len(window_bars))
    hurst_init_nb(st, window_bars)
    for t in range(n):
        out[t] = hurst_step_nb(st, close[t], sizes, calib_raw, calib_true, window_bars, stride_bars, offset_bars, min_coverage, ddof)
    return out


@njit(cache=True, nogil=True)
def rolling_hurst_nb(close, calib_raw, calib_true, window_bars=256, min_chunk_bars=8, stride_bars=16, offset_bars=0, min_coverage=0.95, ddof=0):
    """2-D form of :func:`rolling_hurst_1d_nb`: ``(n, m)`` closes -> ``(n, m)`` H."""
    n, m = close.shape
    out = np.empty((n, m), dtype=np.float64)
    for j in range(m):
        col = rolling_hurst_1d_nb(
            np.ascontiguousarray(close[:, j]), calib_raw, calib_true, window_bars, min_chunk_bars, stride_bars, offset_bars, min_coverage, ddof
        )
        for t in range(n):
            out[t, j] = col[t]
    return out


# --------------------------------------------------------------------------- classifier


@njit(cache=True)
def regime_step_nb(previous, hurst, trending_above=0.55, mean_reverting_below=0.45, hysteresis=0.02):
    """Next regime code from the previous one and the current H (see the module docstring)."""
    if math.isnan(hurst):
        return UNKNOWN
    h = hysteresis
    if previous == UNKNOWN:
        if hurst > trending_above:
            return TRENDING
        if hurst < mean_reverting_below:
            return MEAN_REVERTING
        return RANDOM
    if previous == TRENDING:
        if hurst >= trending_above - h:
            return TRENDING
        return MEAN_REVERTING if hurst < mean_reverting_below - h else RANDOM
    if previous == MEAN_REVERTING:
        if hurst <= mean_reverting_below + h:
            return MEAN_REVERTING
        return TRENDING if hurst > trending_above + h else RANDOM
    if hurst > trending_above + h:
        return TRENDING
    if hurst < mean_reverting_below - h:
        return MEAN_REVERTING
    return RANDOM


@njit(cache=True)
def regime_smooth_step_nb(st, hurst, trending_above=0.55, mean_reverting_below=0.45, hysteresis=0.02, smooth_span_bars=720):
    """Consume one H; ``st = [ema of H, regime code]``. Return (smoothed H, regime code).

    The EMA (span ``smooth_span_bars``, 1 = none) averages the overlapping
    windows' estimates before classification; a NaN H resets it.
    """
    if math.isnan(hurst):
        st[0] = np.nan
        st[1] = UNKNOWN
        return np.nan, UNKNOWN
    if math.isnan(st[0]):
        st[0] = hurst
    else:
        st[0] += 2.0 / (smooth_span_bars + 1.0) * (hurst - st[0])
    code = regime_step_nb(np.int8(st[1]), st[0], trending_above, mean_reverting_below, hysteresis)
    st[1] = code
    return st[0], code


@njit(cache=True)
def classify_regime_1d_nb(hurst, trending_above=0.55, mean_reverting_below=0.45, hysteresis=0.02, smooth_span_bars=720):
    """Smoothed H and regime codes with hysteresis: ``(n,)`` H -> ``(n,)`` float64, ``(n,)`` int8."""
    n = hurst.shape[0]
    smooth = np.empty(n, dtype=np.float64)
    codes = np.empty(n, dtype=np.int8)
    st = np.array([np.nan, float(UNKNOWN)])
    for t in range(n):
        smooth[t], codes[t] = regime_smooth_step_nb(st, hurst[t], trending_above, mean_reverting_below, hysteresis, smooth_span_bars)
    return smooth, codes


@njit(cache=True, nogil=True)
def classify_regime_nb(hurst, trending_above=0.55, mean_reverting_below=0.45, hysteresis=0.02, smooth_span_bars=720):
    """2-D form of :func:`classify_regime_1d_nb`: ``(n, m)`` H -> ``(n, m)`` smoothed H, ``(n, m)`` int8 codes."""
    n, m = hurst.shape
    smooth = np.empty((n, m), dtype=np.float64)
    codes = np.empty((n, m), dtype=np.int8)
    for j in range(m):
        s_j, c_j = classify_regime_1d_nb(np.ascontiguousarray(hurst[:, j]), trending_above, mean_reverting_below, hysteresis, smooth_span_bars)
        for t in range(n):
            smooth[t, j] = s_j[t]
            codes[t, j] = c_j[t]
    return smooth, codes


# --------------------------------------------------------------------------- incremental form


@njit(cache=True)
def regime_new_state_nb(n_symbols, window_bars=256):
    """Return ``(hurst_state (m, HURST_HEADER + window), classifier_state (m, 2))`` for a fresh start."""
    state = np.empty((n_symbols, hurst_state_len(window_bars)))
    cstate = np.empty((n_symbols, 2))
    for j in range(n_symbols):
        hurst_init_nb(state[j], window_bars)
        cstate[j, 0] = np.nan
        cstate[j, 1] = UNKNOWN
    return state, cstate


@njit(cache=True)
def regime_update_nb(
    state, cstate, close, sizes, calib_raw, calib_true,
    window_bars=256, stride_bars=16, offset_bars=0, min_coverage=0.95, ddof=0,
    trending_above=0.55, mean_reverting_below=0.45, hysteresis=0.02, smooth_span_bars=720,
):
    """Consume one close per symbol; return ``(hurst, hurst_smooth, regime)``, each ``(m,)``.

    O(1) per bar except on update bars (every ``stride_bars``), which cost O(window).
    """
    m = close.shape[0]
    hurst = np.empty(m)
    smooth = np.empty(m)
    codes = np.empty(m, dtype=np.int8)
    for j in range(m):
        hurst[j] = hurst_step_nb(state[j], close[j], sizes, calib_raw, calib_true, window_bars, stride_bars, offset_bars, min_coverage, ddof)
        smooth[j], codes[j] = regime_smooth_step_nb(cstate[j], hurst[j], trending_above, mean_reverting_below, hysteresis, smooth_span_bars)
    return hurst, smooth, codes
