"""Numba kernels of the three signals computed from candles: multi-timeframe trend, volatility breakout, mean reversion.

The contract (inputs, NaN rules, statuses, the step/state/1-D/2-D/update
forms and their bit-for-bit agreement) is that of :mod:`botcore.signals.nb`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from botcore.generic.nb import (
    borrowed_nb,
    clip01_nb,
    deque_evict_nb,
    deque_front_nb,
    deque_init_nb,
    deque_len,
    deque_push_max_nb,
    ema_alpha_nb,
    guard_stale_cache,
    keep_alive_nb,
    roll_count_nb,
    roll_init_nb,
    roll_len,
    roll_mean_nb,
    roll_push_nb,
    roll_rms_nb,
    roll_std_nb,
    sign_nb,
    tanh_nb,
)
from botcore.signals.nb import (
    BLOCK_BARS,
    DATA_OUTAGE,
    OK,
    WARMING_UP,
    new_outputs_2d_nb,
    new_outputs_nb,
)

# =========================================================================== 6. multi-timeframe trend
# state: n_valid, prev_close, var_ret, n_ret, ema fast x3, ema slow x3


TREND_N_VALID = 0  # valid closes seen
TREND_PREV_CLOSE = 1  # last valid close (NaN after a missing bar)
TREND_VAR_RET = 2  # EMA of squared 1-bar log returns
TREND_N_RET = 3  # returns seen
TREND_EMA_FAST = 4  # fast EMAs of the close, one per horizon (3)
TREND_EMA_SLOW = 7  # slow EMAs of the close, one per horizon (3)


@njit(cache=True)
def trend_state_len():
    """Width of one trend state row."""
    return 10


@njit(cache=True)
def trend_init_nb(st, j):
    """Reset row ``j`` of a trend state."""
    st[j, TREND_N_VALID] = 0.0
    st[j, TREND_PREV_CLOSE] = np.nan
    st[j, TREND_VAR_RET] = np.nan
    st[j, TREND_N_RET] = 0.0
    for k in range(TREND_EMA_FAST, TREND_EMA_SLOW + 3):
        st[j, k] = np.nan


@njit(cache=True)
def trend_step_nb(st, j, close, span_short_bars=5, span_mid_bars=15, span_long_bars=60, slow_factor=4, vol_span_bars=240, scale=1.0):
    """Consume one bar of symbol ``j`` (updates state row ``j``); return ``(score, confidence, status)`` as :func:`trend_1d_nb`."""
    if not close > 0.0:  # NaN or non-positive
        st[j, TREND_PREV_CLOSE] = np.nan
        return 0.0, 0.0, DATA_OUTAGE
    spans = (span_short_bars, span_mid_bars, span_long_bars)
    if st[j, TREND_N_VALID] == 0.0:
        for h in range(3):
            st[j, TREND_EMA_FAST + h] = close
            st[j, TREND_EMA_SLOW + h] = close
    else:
        for h in range(3):
            st[j, TREND_EMA_FAST + h] += ema_alpha_nb(spans[h]) * (close - st[j, TREND_EMA_FAST + h])
            st[j, TREND_EMA_SLOW + h] += ema_alpha_nb(slow_factor * spans[h]) * (close - st[j, TREND_EMA_SLOW + h])
    st[j, TREND_N_VALID] += 1.0
    prev = st[j, TREND_PREV_CLOSE]
    if not math.isnan(prev):
        r = math.log(close / prev)
        if st[j, TREND_N_RET] == 0.0:
            st[j, TREND_VAR_RET] = r * r
        else:
            st[j, TREND_VAR_RET] += ema_alpha_nb(vol_span_bars) * (r * r - st[j, TREND_VAR_RET])
        st[j, TREND_N_RET] += 1.0
    st[j, TREND_PREV_CLOSE] = close
    if st[j, TREND_N_VALID] < slow_factor * span_long_bars or st[j, TREND_N_RET] < vol_span_bars:
        return 0.0, 0.0, WARMING_UP
    sigma = math.sqrt(st[j, TREND_VAR_RET])
    total = 0.0
    votes = 0.0
    for h in range(3):
        d = (st[j, TREND_EMA_FAST + h] - st[j, TREND_EMA_SLOW + h]) / st[j, TREND_EMA_SLOW + h]
        d = d / (sigma * math.sqrt(spans[h])) if sigma > 0.0 else 0.0
        total += tanh_nb(d / scale)
        votes += sign_nb(d)
    return total / 3.0, abs(votes) / 3.0, OK


_trend_step_inline_nb = njit(inline="always")(trend_step_nb.py_func)  # the same step, inlined into the 2-D kernels


@njit(cache=True)
def trend_1d_nb(close, span_short_bars=5, span_mid_bars=15, span_long_bars=60, slow_factor=4, vol_span_bars=240, scale=1.0):
    """Multi-timeframe trend of one symbol from 1m closes.

    For each horizon ``h`` (5m, 15m, 1h as 1m spans) ``d_h = (EMA_h / EMA_{slow_factor*h} - 1) / (sigma * sqrt(h))``
    with ``sigma`` the EMA-RMS of 1-bar log returns (returns across a missing
    bar are skipped); score = mean of ``tanh(d_h / scale)``, confidence =
    |sum of signs| / 3 (agreement of the horizons). Warm-up:
    ``slow_factor * span_long_bars`` closes and ``vol_span_bars`` returns.
    """
    n = close.shape[0]
    score, conf, status = new_outputs_nb(n)
    st = np.empty((1, trend_state_len()))
    trend_init_nb(st, 0)
    for t in range(n):
        score[t], conf[t], status[t] = trend_step_nb(st, 0, close[t], span_short_bars, span_mid_bars, span_long_bars, slow_factor, vol_span_bars, scale
        )
    return score, conf, status


@njit(cache=True, nogil=True)
def trend_nb(close, span_short_bars=5, span_mid_bars=15, span_long_bars=60, slow_factor=4, vol_span_bars=240, scale=1.0):
    """2-D form of :func:`trend_1d_nb` (bars outside, symbols inside, one state row per symbol)."""
    n, m = close.shape
    score, conf, status = new_outputs_2d_nb(n, m)
    owner = trend_new_state_nb(m)
    state = borrowed_nb(owner)
    for t0 in range(0, n, BLOCK_BARS):
        t1 = min(t0 + BLOCK_BARS, n)
        for j in range(m):
            for t in range(t0, t1):
                score[t, j], conf[t, j], status[t, j] = _trend_step_inline_nb(state, j, close[t, j], span_short_bars, span_mid_bars, span_long_bars, slow_factor, vol_span_bars, scale)
    keep_alive_nb(owner)
    return score, conf, status


# =========================================================================== 7. volatility breakout
# state: t, n_valid, prev_close, atr, max-deque of highs, max-deque of -lows


BREAKOUT_T = 0  # bars seen (the deques' bar index)
BREAKOUT_N_VALID = 1  # valid bars seen
BREAKOUT_PREV_CLOSE = 2  # last valid close (NaN after a missing bar)
BREAKOUT_ATR = 3  # EMA of the true range
BREAKOUT_DEQUES = 4  # max-deque of highs, then max-deque of -lows


@njit(cache=True)
def breakout_state_len(channel_bars=60):
    """Width of one breakout state row."""
    return BREAKOUT_DEQUES + 2 * deque_len(channel_bars + 1)


@njit(cache=True)
def breakout_init_nb(st, j, channel_bars=60):
    """Reset row ``j`` of a breakout state."""
    st[j, BREAKOUT_T] = 0.0
    st[j, BREAKOUT_N_VALID] = 0.0
    st[j, BREAKOUT_PREV_CLOSE] = np.nan
    st[j, BREAKOUT_ATR] = np.nan
    deque_init_nb(st, j, BREAKOUT_DEQUES, channel_bars + 1)
    deque_init_nb(st, j, BREAKOUT_DEQUES + deque_len(channel_bars + 1), channel_bars + 1)


@njit(cache=True)
def breakout_step_nb(st, j, high, low, close, channel_bars=60, atr_span_bars=30, range_mult=1.5, scale=1.0):
    """Consume one bar of symbol ``j`` (updates state row ``j``); return ``(score, confidence, status)`` as :func:`breakout_1d_nb`."""
    cap = channel_bars + 1
    o_hi = BREAKOUT_DEQUES
    o_lo = BREAKOUT_DEQUES + deque_len(cap)
    t = st[j, BREAKOUT_T]
    st[j, BREAKOUT_T] = t + 1.0
    deque_evict_nb(st, j, o_hi, cap, t - channel_bars)
    deque_evict_nb(st, j, o_lo, cap, t - channel_bars)
    if math.isnan(high) or math.isnan(low) or math.isnan(close):
        st[j, BREAKOUT_PREV_CLOSE] = np.nan
        return 0.0, 0.0, DATA_OUTAGE
    upper = deque_front_nb(st, j, o_hi, cap)
    lower = -deque_front_nb(st, j, o_lo, cap)
    n_prior = st[j, BREAKOUT_N_VALID]
    atr_prev = st[j, BREAKOUT_ATR]
    prev = st[j, BREAKOUT_PREV_CLOSE]
    true_range = high - low
    if not math.isnan(prev):
        true_range = max(true_range, abs(high - prev), abs(low - prev))
    st[j, BREAKOUT_ATR] = true_range if math.isnan(atr_prev) else atr_prev + ema_alpha_nb(atr_span_bars) * (true_range - atr_prev)
    st[j, BREAKOUT_PREV_CLOSE] = close
    st[j, BREAKOUT_N_VALID] = n_prior + 1.0
    deque_push_max_nb(st, j, o_hi, cap, t, high)
    deque_push_max_nb(st, j, o_lo, cap, t, -low)
    if n_prior < channel_bars or math.isnan(upper) or math.isnan(atr_prev):
        return 0.0, 0.0, WARMING_UP
    atr = max(atr_prev, 1e-12 * abs(close))
    excess = 0.0
    if close > upper:
        excess = (close - upper) / atr
    elif close < lower:
        excess = (close - lower) / atr
    return tanh_nb(excess / scale), clip01_nb(true_range / (range_mult * atr)), OK


_breakout_step_inline_nb = njit(inline="always")(breakout_step_nb.py_func)  # the same step, inlined into the 2-D kernels


@njit(cache=True)
def breakout_1d_nb(high, low, close, channel_bars=60, atr_span_bars=30, range_mult=1.5, scale=1.0):
    """Volatility breakout of one symbol.

    Channel = highest high and lowest low of the previous ``channel_bars``
    bars (current bar excluded); ATR = EMA of the true range up to the previous
    bar. Score ``tanh(excess / scale)`` with ``excess`` the close's distance
    beyond the channel in ATRs (0 inside it); confidence
    ``clip(true_range / (range_mult * ATR), 0, 1)`` (range expansion). A bar is
    missing if any of high, low, close is. Warm-up: ``channel_bars`` valid
    bars before the current one.
    """
    n = high.shape[0]
    score, conf, status = new_outputs_nb(n)
    st = np.empty((1, breakout_state_len(channel_bars)))
    breakout_init_nb(st, 0, channel_bars)
    for t in range(n):
        score[t], conf[t], status[t] = breakout_step_nb(st, 0, high[t], low[t], close[t], channel_bars, atr_span_bars, range_mult, scale
        )
    return score, conf, status


@njit(cache=True, nogil=True)
def breakout_nb(high, low, close, channel_bars=60, atr_span_bars=30, range_mult=1.5, scale=1.0):
    """2-D form of :func:`breakout_1d_nb` (bars outside, symbols inside, one state row per symbol)."""
    n, m = high.shape
    score, conf, status = new_outputs_2d_nb(n, m)
    owner = breakout_new_state_nb(m, channel_bars)
    state = borrowed_nb(owner)
    for t0 in range(0, n, BLOCK_BARS):
        t1 = min(t0 + BLOCK_BARS, n)
        for j in range(m):
            for t in range(t0, t1):
                score[t, j], conf[t, j], status[t, j] = _breakout_step_inline_nb(state, j, high[t, j], low[t, j], close[t, j], channel_bars, atr_span_bars, range_mult, scale)
    keep_alive_nb(owner)
    return score, conf, status


# =========================================================================== 8. mean reversion
# state: prev_close, rolling close (anchored), rolling r short, rolling r long


MR_PREV_CLOSE = 0  # last close (NaN when missing)
MR_ROLLS = 1  # rolling close (anchored), rolling r short, rolling r long


@njit(cache=True)
def mr_state_len(window_bars=60, vol_short_bars=60, vol_long_bars=1_440):
    """Width of one mean-reversion state row."""
    return MR_ROLLS + roll_len(window_bars) + roll_len(vol_short_bars) + roll_len(vol_long_bars)


@njit(cache=True)
def mr_init_nb(st, j, window_bars=60, vol_short_bars=60, vol_long_bars=1_440):
    """Reset row ``j`` of a mean-reversion state."""
    st[j, MR_PREV_CLOSE] = np.nan
    roll_init_nb(st, j, MR_ROLLS, window_bars, True)
    roll_init_nb(st, j, MR_ROLLS + roll_len(window_bars), vol_short_bars, False)
    roll_init_nb(st, j, MR_ROLLS + roll_len(window_bars) + roll_len(vol_short_bars), vol_long_bars, False)


@njit(cache=True)
def mr_step_nb(st, j, close, window_bars=60, vol_short_bars=60, vol_long_bars=1_440, min_periods_bars=720, z_scale=2.0, max_vol_ratio=2.0):
    """Consume one bar of symbol ``j`` (updates state row ``j``); return ``(score, confidence, status)`` as :func:`mean_reversion_1d_nb`."""
    o_c = MR_ROLLS
    o_s = MR_ROLLS + roll_len(window_bars)
    o_l = o_s + roll_len(vol_short_bars)
    px = close if close > 0.0 else np.nan
    r = math.log(px / st[j, MR_PREV_CLOSE])  # NaN when either is missing
    st[j, MR_PREV_CLOSE] = px
    roll_push_nb(st, j, o_c, window_bars, px, True)
    roll_push_nb(st, j, o_s, vol_short_bars, r, False)
    roll_push_nb(st, j, o_l, vol_long_bars, r, False)
    if math.isnan(px):
        return 0.0, 0.0, DATA_OUTAGE
    if (
        roll_count_nb(st, j, o_c) < window_bars
        or roll_count_nb(st, j, o_s) < vol_short_bars // 2
        or roll_count_nb(st, j, o_l) < min_periods_bars
    ):
        return 0.0, 0.0, WARMING_UP
    mean = roll_mean_nb(st, j, o_c)
    std = roll_std_nb(st, j, o_c)
    z = (px - mean) / std if std > 1e-12 * mean else 0.0
    vol_long = roll_rms_nb(st, j, o_l)
    vol_short = roll_rms_nb(st, j, o_s)
    if vol_long > 0.0:
        ratio = vol_short / vol_long
    else:
        ratio = 1.0 if vol_short == 0.0 else np.inf
    return -tanh_nb(z / z_scale), clip01_nb((max_vol_ratio - ratio) / (max_vol_ratio - 1.0)), OK


_mr_step_inline_nb = njit(inline="always")(mr_step_nb.py_func)  # the same step, inlined into the 2-D kernels


@njit(cache=True)
def mean_reversion_1d_nb(close, window_bars=60, vol_short_bars=60, vol_long_bars=1_440, min_periods_bars=720, z_scale=2.0, max_vol_ratio=2.0):
    """Mean reversion of one symbol with a volatility filter.

    ``z = (close - mean) / std`` over the last ``window_bars`` closes (ddof=0,
    a full window needed); score ``-tanh(z / z_scale)``. Confidence is the
    volatility filter ``clip((max_vol_ratio - rho) / (max_vol_ratio - 1), 0, 1)``
    with ``rho`` the RMS of 1-bar log returns over ``vol_short_bars`` divided
    by that over ``vol_long_bars``: fading moves is trusted in calm markets,
    not when volatility expands.
    """
    n = close.shape[0]
    score, conf, status = new_outputs_nb(n)
    st = np.empty((1, mr_state_len(window_bars, vol_short_bars, vol_long_bars)))
    mr_init_nb(st, 0, window_bars, vol_short_bars, vol_long_bars)
    for t in range(n):
        score[t], conf[t], status[t] = mr_step_nb(st, 0, close[t], window_bars, vol_short_bars, vol_long_bars, min_periods_bars, z_scale, max_vol_ratio
        )
    return score, conf, status


@njit(cache=True, nogil=True)
def mean_reversion_nb(close, window_bars=60, vol_short_bars=60, vol_long_bars=1_440, min_periods_bars=720, z_scale=2.0, max_vol_ratio=2.0):
    """2-D form of :func:`mean_reversion_1d_nb` (bars outside, symbols inside, one state row per symbol)."""
    n, m = close.shape
    score, conf, status = new_outputs_2d_nb(n, m)
    owner = mr_new_state_nb(m, window_bars, vol_short_bars, vol_long_bars)
    state = borrowed_nb(owner)
    for t0 in range(0, n, BLOCK_BARS):
        t1 = min(t0 + BLOCK_BARS, n)
        for j in range(m):
            for t in range(t0, t1):
                score[t, j], conf[t, j], status[t, j] = _mr_step_inline_nb(state, j, close[t, j], window_bars, vol_short_bars, vol_long_bars, min_periods_bars, z_scale, max_vol_ratio)
    keep_alive_nb(owner)
    return score, conf, status

# =========================================================================== incremental form
# ``*_new_state_nb(n_symbols, ...)`` returns a ``(n_symbols, state_len)``
# float64 state; ``*_update_nb(state, <one bar per symbol>, ...)`` consumes one
# bar of every symbol in O(1) per symbol (amortised for the breakout channel)
# and returns three ``(n_symbols,)`` arrays, the same numbers the batch kernel
# gives at that bar. Wrapped by :mod:`botcore.signals.incremental`.


@njit(cache=True)
def trend_new_state_nb(n_symbols):
    """Fresh trend state of ``n_symbols`` rows."""
    state = np.empty((n_symbols, trend_state_len()))
    for j in range(n_symbols):
        trend_init_nb(state, j)
    return state


@njit(cache=True)
def trend_update_nb(state, close, span_short_bars=5, span_mid_bars=15, span_long_bars=60, slow_factor=4, vol_span_bars=240, scale=1.0):
    """Consume one bar of every symbol (updates ``state``); three ``(n_symbols,)`` arrays as :func:`trend_1d_nb`."""
    m = close.shape[0]
    score, conf, status = new_outputs_nb(m)
    st = borrowed_nb(state)
    for j in range(m):
        score[j], conf[j], status[j] = _trend_step_inline_nb(st, j, close[j], span_short_bars, span_mid_bars, span_long_bars, slow_factor, vol_span_bars, scale
        )
    keep_alive_nb(state)
    return score, conf, status


@njit(cache=True)
def breakout_new_state_nb(n_symbols, channel_bars=60):
    """Fresh breakout state of ``n_symbols`` rows."""
    state = np.empty((n_symbols, breakout_state_len(channel_bars)))
    for j in range(n_symbols):
        breakout_init_nb(state, j, channel_bars)
    return state


@njit(cache=True)
def breakout_update_nb(state, high, low, close, channel_bars=60, atr_span_bars=30, range_mult=1.5, scale=1.0):
    """Consume one bar of every symbol (updates ``state``); three ``(n_symbols,)`` arrays as :func:`breakout_1d_nb`."""
    m = close.shape[0]
    score, conf, status = new_outputs_nb(m)
    st = borrowed_nb(state)
    for j in range(m):
        score[j], conf[j], status[j] = _breakout_step_inline_nb(st, j, high[j], low[j], close[j], channel_bars, atr_span_bars, range_mult, scale
        )
    keep_alive_nb(state)
    return score, conf, status


@njit(cache=True)
def mr_new_state_nb(n_symbols, window_bars=60, vol_short_bars=60, vol_long_bars=1_440):
    """Fresh mean-reversion state of ``n_symbols`` rows."""
    state = np.empty((n_symbols, mr_state_len(window_bars, vol_short_bars, vol_long_bars)))
    for j in range(n_symbols):
        mr_init_nb(state, j, window_bars, vol_short_bars, vol_long_bars)
    return state


@njit(cache=True)
def mr_update_nb(state, close, window_bars=60, vol_short_bars=60, vol_long_bars=1_440, min_periods_bars=720, z_scale=2.0, max_vol_ratio=2.0):
    """Consume one bar of every symbol (updates ``state``); three ``(n_symbols,)`` arrays as :func:`mean_reversion_1d_nb`."""
    m = close.shape[0]
    score, conf, status = new_outputs_nb(m)
    st = borrowed_nb(state)
    for j in range(m):
        score[j], conf[j], status[j] = _mr_step_inline_nb(st, j, close[j], window_bars, vol_short_bars, vol_long_bars, min_periods_bars, z_scale, max_vol_ratio
        )
    keep_alive_nb(state)
    return score, conf, status


guard_stale_cache(trend_nb, ("botcore/generic/nb.py", "botcore/signals/nb.py"))  # kernels here compile in the primitives of these files
