"""Numba kernels of the ten signals and their aggregator.

Contract
--------
- Inputs are float64 arrays on one bar grid (the 1m base timeframe): 2-D
  ``(n_bars, n_symbols)``, one row a bar, one column a symbol, rows in time
  order. Book sizes are 3-D ``(n_bars, n_symbols, n_levels)`` in base units.
  Kernels ending in ``_1d_nb`` take one column; ``*_nb`` take all columns.
- Every signal kernel returns ``(score, confidence, status)``, each shaped like
  one input column set: ``score`` float64 in [-1, 1], ``confidence`` float64 in
  [0, 1], ``status`` int8 per :class:`botcore.signals.enums.SignalStatus`.
- NaN marks a missing (or stale: the face aligns inputs with a staleness limit)
  input. A bar with any missing input of a signal is ``DATA_OUTAGE`` with score
  0 and confidence 0; nothing is filled in. A bar whose inputs are present but
  whose history is still too short (or holds too many gaps) is
  ``WARMING_UP``, score 0, confidence 0. Only ``OK`` bars carry a score.
- Rolling windows count bars, not valid observations: a missing bar occupies
  its slot in the window and is left out of the sums (pandas ``rolling`` with
  ``min_periods``). EMAs skip missing bars (pandas ``ewm(adjust=False,
  ignore_na=True)``) and are seeded with the first valid value.
- Units: prices in quote currency, sizes and taker volumes in base units,
  open interest and liquidations in USD, funding as a fraction per 8h
  interval, fear & greed in [0, 100], social tone in [-1, 1], mentions a
  count per period. All windows and spans are in bars.

Each signal is written once as a step function
``<name>_step_nb(state, j, <inputs of one bar>, <params>) -> (score, confidence, status)``
that consumes one bar of symbol ``j`` and updates row ``j`` of a float64 state
matrix ``(n_symbols, state_len)`` in O(1) (amortised O(1) for the breakout's
channel deque); ``<name>_new_state_nb`` builds a fresh one. The 2-D batch
kernels loop bars outside and symbols inside over that matrix (row-major
inputs are read contiguously), the ``_1d`` kernels run it on one column, and
:mod:`botcore.signals.incremental` calls the ``*_update_nb`` kernels once per
new bar, so all three give the same numbers bit for bit. Rolling sums are
rebuilt from their ring buffer each time it wraps (amortised O(1)) so that
they do not drift, are kept relative to an anchor value so that a window of
prices does not lose precision to cancellation, and are exactly zero over a
window of equal values. ``tanh`` is computed from one ``exp`` (absolute error
below 3e-16).

Parameters (windows, thresholds) are explicit trailing arguments with their
defaults in the NamedTuples of :mod:`botcore.signals.enums`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from botcore.generic.nb import (
    borrowed_nb,
    deque_evict_nb,
    deque_front_nb,
    deque_init_nb,
    deque_len,
    deque_push_max_nb,
    keep_alive_nb,
    ring_init_nb,
    ring_lag_nb,
    ring_len,
    ring_push_nb,
    roll_count_nb,
    roll_init_nb,
    roll_len,
    roll_mean_nb,
    roll_push_nb,
    roll_rms_nb,
    roll_std_nb,
    roll_sum_nb,
)

BLOCK_BARS = 512  # 2-D kernels walk time in blocks, one symbol at a time per block: state and inputs stay in cache

OK = np.int8(0)
WARMING_UP = np.int8(1)
DATA_OUTAGE = np.int8(2)


# --------------------------------------------------------------------------- small helpers


@njit(cache=True, inline="always")
def _alpha(span):
    """EMA weight ``2 / (span + 1)``."""
    return 2.0 / (span + 1.0)


@njit(cache=True, inline="always")
def _tanh(x):
    """tanh via one exp: ``(1 - e) / (1 + e)`` with ``e = exp(-2|x|)``; absolute error below 3e-16, twice as fast as libm."""
    e = math.exp(-2.0 * abs(x))
    t = (1.0 - e) / (1.0 + e)
    return t if x >= 0.0 else -t


@njit(cache=True, inline="always")
def _clip01(x):
    """``x`` clipped to [0, 1]."""
    return 0.0 if x < 0.0 else (1.0 if x > 1.0 else x)


@njit(cache=True, inline="always")
def _sign(x):
    """Sign of ``x`` as float (0 at 0)."""
    return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)


@njit(cache=True)
def _new_outputs(n):
    """Score, confidence and status arrays of ``n`` bars."""
    return np.zeros(n, dtype=np.float64), np.zeros(n, dtype=np.float64), np.empty(n, dtype=np.int8)


@njit(cache=True)
def _new_outputs_2d(n, m):
    """Score, confidence and status arrays of ``(n, m)`` bars x symbols (uninitialised)."""
    return np.empty((n, m), dtype=np.float64), np.empty((n, m), dtype=np.float64), np.empty((n, m), dtype=np.int8)


# =========================================================================== 1. order-flow imbalance


@njit(cache=True, inline="always")
def _imbalance_nb(bid_row, ask_row, level_decay):
    """Depth-weighted imbalance of one book (see :func:`book_imbalance_1d_nb`); NaN when a level is missing."""
    num = 0.0
    den = 0.0
    w = 1.0
    for k in range(bid_row.shape[0]):
        b = bid_row[k]
        a = ask_row[k]
        if not (b >= 0.0 and a >= 0.0):  # NaN or negative: the book is missing
            return np.nan
        num += w * (b - a)
        den += w * (b + a)
        w *= level_decay
    return num / den if den > 0.0 else np.nan


@njit(cache=True)
def book_imbalance_1d_nb(bid_sz, ask_sz, level_decay=0.7):
    """Depth-weighted book imbalance of one book per row.

    Parameters
    ----------
    bid_sz, ask_sz : (n, n_levels) float64
        Sizes in base units, level 1 first.
    level_decay : float
        Weight of level k (1-based) is ``level_decay**(k-1)``.

    Returns
    -------
    (n,) float64
        ``sum_k w_k (bid_k - ask_k) / sum_k w_k (bid_k + ask_k)`` in [-1, 1];
        NaN when any used level is missing or negative, or the weighted depth is not positive.
    """
    n = bid_sz.shape[0]
    out = np.empty(n, dtype=np.float64)
    for t in range(n):
        out[t] = _imbalance_nb(bid_sz[t], ask_sz[t], level_decay)
    return out


@njit(cache=True, nogil=True)
def book_imbalance_nb(bid_sz, ask_sz, level_decay=0.7):
    """2-D form of :func:`book_imbalance_1d_nb`: ``(n, m, n_levels)`` sizes -> ``(n, m)`` imbalance.

    Loops bars outside and symbols inside (each bar's books are contiguous).
    """
    n, m, _ = bid_sz.shape
    out = np.empty((n, m), dtype=np.float64)
    for t in range(n):
        for j in range(m):
            out[t, j] = _imbalance_nb(bid_sz[t, j], ask_sz[t, j], level_decay)
    return out


@njit(cache=True)
def ofi_state_len(span_fast_bars=5, span_slow_bars=30):
    """Width of one order-flow imbalance state row."""
    return 3  # n_valid, fast, slow


@njit(cache=True)
def ofi_init_nb(st, j, span_fast_bars=5, span_slow_bars=30):
    """Reset row ``j`` of a order-flow imbalance state."""
    st[j, 0] = 0.0
    st[j, 1] = np.nan
    st[j, 2] = np.nan


@njit(cache=True)
def ofi_step_nb(st, j, imbalance, span_fast_bars=5, span_slow_bars=30, change_weight=1.0, gain=2.0):
    """Consume one bar of symbol ``j`` (updates state row ``j``); return ``(score, confidence, status)`` as :func:`order_flow_imbalance_1d_nb`."""
    if math.isnan(imbalance):
        return 0.0, 0.0, DATA_OUTAGE
    if st[j, 0] == 0.0:
        st[j, 1] = imbalance
        st[j, 2] = imbalance
    else:
        st[j, 1] += _alpha(span_fast_bars) * (imbalance - st[j, 1])
        st[j, 2] += _alpha(span_slow_bars) * (imbalance - st[j, 2])
    st[j, 0] += 1.0
    if st[j, 0] < span_slow_bars:
        return 0.0, 0.0, WARMING_UP
    fast = st[j, 1]
    change = fast - st[j, 2]
    score = _tanh(gain * (fast + change_weight * change))
    conf = 1.0 if fast * change > 0.0 else 0.5
    return score, conf, OK


_ofi_step_inline_nb = njit(inline="always")(ofi_step_nb.py_func)  # the same step, inlined into the 2-D kernels


@njit(cache=True)
def order_flow_imbalance_1d_nb(imbalance, span_fast_bars=5, span_slow_bars=30, change_weight=1.0, gain=2.0):
    """Order-flow imbalance signal of one symbol from its book imbalance (see :func:`book_imbalance_1d_nb`).

    Score ``tanh(gain * (fast + change_weight * (fast - slow)))`` with ``fast``
    and ``slow`` EMAs of the imbalance (level plus its change); confidence 1
    when level and change agree in sign, else 0.5. Warm-up: ``span_slow_bars``
    valid bars.
    """
    n = imbalance.shape[0]
    score, conf, status = _new_outputs(n)
    st = np.empty((1, ofi_state_len(span_fast_bars, span_slow_bars)))
    ofi_init_nb(st, 0, span_fast_bars, span_slow_bars)
    for t in range(n):
        score[t], conf[t], status[t] = ofi_step_nb(st, 0, imbalance[t], span_fast_bars, span_slow_bars, change_weight, gain)
    return score, conf, status


@njit(cache=True, nogil=True)
def order_flow_imbalance_nb(imbalance, span_fast_bars=5, span_slow_bars=30, change_weight=1.0, gain=2.0):
    """2-D form of :func:`order_flow_imbalance_1d_nb`: ``(n, m)`` -> three ``(n, m)`` arrays (bars outside, symbols inside, one state row per symbol)."""
    n, m = imbalance.shape
    score, conf, status = _new_outputs_2d(n, m)
    owner = ofi_new_state_nb(m, span_fast_bars, span_slow_bars)
    state = borrowed_nb(owner)
    for t0 in range(0, n, BLOCK_BARS):
        t1 = min(t0 + BLOCK_BARS, n)
        for j in range(m):
            for t in range(t0, t1):
                score[t, j], conf[t, j], status[t, j] = _ofi_step_inline_nb(state, j, imbalance[t, j], span_fast_bars, span_slow_bars, change_weight, gain)
    keep_alive_nb(owner)
    return score, conf, status


# =========================================================================== 2. funding-rate extremes


@njit(cache=True)
def funding_state_len(window_bars=10_080):
    """Width of one funding-rate state row."""
    return roll_len(window_bars)


@njit(cache=True)
def funding_init_nb(st, j, window_bars=10_080):
    """Reset row ``j`` of a funding-rate state."""
    roll_init_nb(st, j, 0, window_bars, True)


@njit(cache=True)
def funding_step_nb(st, j, rate, window_bars=10_080, min_periods_bars=4_320, z_entry=1.0, z_full=3.0, min_std=1e-5):
    """Consume one bar of symbol ``j`` (updates state row ``j``); return ``(score, confidence, status)`` as :func:`funding_rate_1d_nb`."""
    roll_push_nb(st, j, 0, window_bars, rate, True)
    if math.isnan(rate):
        return 0.0, 0.0, DATA_OUTAGE
    count = roll_count_nb(st, j, 0)
    if count < min_periods_bars:
        return 0.0, 0.0, WARMING_UP
    z = (rate - roll_mean_nb(st, j, 0)) / max(roll_std_nb(st, j, 0), min_std)
    strength = _clip01((abs(z) - z_entry) / (z_full - z_entry))
    return -_sign(z) * strength, count / window_bars, OK


_funding_step_inline_nb = njit(inline="always")(funding_step_nb.py_func)  # the same step, inlined into the 2-D kernels


@njit(cache=True)
def funding_rate_1d_nb(rate, window_bars=10_080, min_periods_bars=4_320, z_entry=1.0, z_full=3.0, min_std=1e-5):
    """Funding-rate extremes of one symbol, contrarian at crowding.

    ``z = (rate - mean) / max(std, min_std)`` over the last ``window_bars``
    bars (ddof=0); score ``-sign(z) * clip((|z| - z_entry) / (z_full - z_entry), 0, 1)``
    (crowded longs paying high funding score short); confidence = share of
    the window with data. Warm-up: ``min_periods_bars`` observations.
    """
    n = rate.shape[0]
    score, conf, status = _new_outputs(n)
    st = np.empty((1, funding_state_len(window_bars)))
    funding_init_nb(st, 0, window_bars)
    for t in range(n):
        score[t], conf[t], status[t] = funding_step_nb(st, 0, rate[t], window_bars, min_periods_bars, z_entry, z_full, min_std)
    return score, conf, status


@njit(cache=True, nogil=True)
def funding_rate_nb(rate, window_bars=10_080, min_periods_bars=4_320, z_entry=1.0, z_full=3.0, min_std=1e-5):
    """2-D form of :func:`funding_rate_1d_nb` (bars outside, symbols inside, one state row per symbol)."""
    n, m = rate.shape
    score, conf, status = _new_outputs_2d(n, m)
    owner = funding_new_state_nb(m, window_bars)
    state = borrowed_nb(owner)
    for t0 in range(0, n, BLOCK_BARS):
        t1 = min(t0 + BLOCK_BARS, n)
        for j in range(m):
            for t in range(t0, t1):
                score[t, j], conf[t, j], status[t, j] = _funding_step_inline_nb(state, j, rate[t, j], window_bars, min_periods_bars, z_entry, z_full, min_std)
    keep_alive_nb(owner)
    return score, conf, status


# =========================================================================== 3. open-interest velocity


@njit(cache=True)
def oi_state_len(lag_bars=15, window_bars=1_440):
    """Width of one open-interest velocity state row."""
    return 2 * ring_len(lag_bars + 1) + 2 * roll_len(window_bars)


@njit(cache=True)
def oi_init_nb(st, j, lag_bars=15, window_bars=1_440):
    """Reset row ``j`` of a open-interest velocity state."""
    lw = ring_len(lag_bars + 1)
    ring_init_nb(st, j, 0, lag_bars + 1)
    ring_init_nb(st, j, lw, lag_bars + 1)
    roll_init_nb(st, j, 2 * lw, window_bars, False)
    roll_init_nb(st, j, 2 * lw + roll_len(window_bars), window_bars, False)


@njit(cache=True)
def oi_step_nb(st, j, oi_usd, close, lag_bars=15, window_bars=1_440, min_periods_bars=720, oi_scale=1.0, price_scale=1.0):
    """Consume one bar of symbol ``j`` (updates state row ``j``); return ``(score, confidence, status)`` as :func:`open_interest_velocity_1d_nb`."""
    lw = ring_len(lag_bars + 1)
    o_oi, o_px, o_v, o_p = 0, lw, 2 * lw, 2 * lw + roll_len(window_bars)
    oi = oi_usd if oi_usd > 0.0 else np.nan  # NaN or non-positive open interest is missing
    px = close if close > 0.0 else np.nan
    ring_push_nb(st, j, o_oi, lag_bars + 1, oi)
    ring_push_nb(st, j, o_px, lag_bars + 1, px)
    oi_lag = ring_lag_nb(st, j, o_oi, lag_bars + 1, lag_bars)
    px_lag = ring_lag_nb(st, j, o_px, lag_bars + 1, lag_bars)
    v = math.log(oi / oi_lag)  # NaN propagates
    p = math.log(px / px_lag)
    roll_push_nb(st, j, o_v, window_bars, v, False)
    roll_push_nb(st, j, o_p, window_bars, p, False)
    if math.isnan(oi) or math.isnan(px):
        return 0.0, 0.0, DATA_OUTAGE
    count_v = roll_count_nb(st, j, o_v)
    if math.isnan(v) or math.isnan(p) or count_v < min_periods_bars or roll_count_nb(st, j, o_p) < min_periods_bars:
        return 0.0, 0.0, WARMING_UP
    rms_v = roll_rms_nb(st, j, o_v)
    rms_p = roll_rms_nb(st, j, o_p)
    z_v = v / rms_v if rms_v > 0.0 else 0.0
    z_p = p / rms_p if rms_p > 0.0 else 0.0
    return _tanh(z_v / oi_scale) * _tanh(z_p / price_scale), count_v / window_bars, OK


_oi_step_inline_nb = njit(inline="always")(oi_step_nb.py_func)  # the same step, inlined into the 2-D kernels


@njit(cache=True)
def open_interest_velocity_1d_nb(
    oi_usd, close, lag_bars=15, window_bars=1_440, min_periods_bars=720, oi_scale=1.0, price_scale=1.0
):
    """Open-interest velocity with price direction, one symbol.

    ``v = log(oi_t / oi_{t-lag})`` and ``p = log(close_t / close_{t-lag})``,
    each divided by its RMS over ``window_bars``; score
    ``tanh(z_v / oi_scale) * tanh(z_p / price_scale)``: rising OI with the
    price move confirms it (new positions), falling OI fades it (covering,
    liquidation). Confidence = share of the window with a velocity.
    Non-positive OI or close counts as missing.
    """
    n = oi_usd.shape[0]
    score, conf, status = _new_outputs(n)
    st = np.empty((1, oi_state_len(lag_bars, window_bars)))
    oi_init_nb(st, 0, lag_bars, window_bars)
    for t in range(n):
        score[t], conf[t], status[t] = oi_step_nb(st, 0, oi_usd[t], close[t], lag_bars, window_bars, min_periods_bars, oi_scale, price_scale
        )
    return score, conf, status


@njit(cache=True, nogil=True)
def open_interest_velocity_nb(
    oi_usd, close, lag_bars=15, window_bars=1_440, min_periods_bars=720, oi_scale=1.0, price_scale=1.0
):
    """2-D form of :func:`open_interest_velocity_1d_nb` (bars outside, symbols inside, one state row per symbol)."""
    n, m = oi_usd.shape
    score, conf, status = _new_outputs_2d(n, m)
    owner = oi_new_state_nb(m, lag_bars, window_bars)
    state = borrowed_nb(owner)
    for t0 in range(0, n, BLOCK_BARS):
        t1 = min(t0 + BLOCK_BARS, n)
        for j in range(m):
            for t in range(t0, t1):
                score[t, j], conf[t, j], status[t, j] = _oi_step_inline_nb(state, j, oi_usd[t, j], close[t, j], lag_bars, window_bars, min_periods_bars, oi_scale, price_scale)
    keep_alive_nb(owner)
    return score, conf, status


# =========================================================================== 4. liquidation cascade


@njit(cache=True)
def liq_state_len(burst_bars=5, window_bars=1_440):
    """Width of one liquidation cascade state row."""
    return 2 * roll_len(burst_bars) + roll_len(window_bars)


@njit(cache=True)
def liq_init_nb(st, j, burst_bars=5, window_bars=1_440):
    """Reset row ``j`` of a liquidation cascade state."""
    bw = roll_len(burst_bars)
    roll_init_nb(st, j, 0, burst_bars, False)
    roll_init_nb(st, j, bw, burst_bars, False)
    roll_init_nb(st, j, 2 * bw, window_bars, False)


@njit(cache=True)
def liq_step_nb(st, j, long_liq_usd, short_liq_usd, burst_bars=5, window_bars=1_440, min_periods_bars=720, burst_ratio=5.0):
    """Consume one bar of symbol ``j`` (updates state row ``j``); return ``(score, confidence, status)`` as :func:`liquidation_cascade_1d_nb`."""
    bw = roll_len(burst_bars)
    total = long_liq_usd + short_liq_usd
    roll_push_nb(st, j, 0, burst_bars, long_liq_usd, False)
    roll_push_nb(st, j, bw, burst_bars, short_liq_usd, False)
    roll_push_nb(st, j, 2 * bw, window_bars, total, False)
    if math.isnan(total):
        return 0.0, 0.0, DATA_OUTAGE
    count = roll_count_nb(st, j, 2 * bw)
    if count < min_periods_bars or roll_count_nb(st, j, 0) < burst_bars or roll_count_nb(st, j, bw) < burst_bars:
        return 0.0, 0.0, WARMING_UP
    conf = count / window_bars
    burst_long = roll_sum_nb(st, j, 0)
    burst_short = roll_sum_nb(st, j, bw)
    burst = burst_long + burst_short
    if burst <= 0.0:
        return 0.0, conf, OK
    expected = burst_bars * roll_mean_nb(st, j, 2 * bw)
    intensity = _clip01((burst / expected - 1.0) / (burst_ratio - 1.0)) if expected > 0.0 else 1.0
    return intensity * (burst_short - burst_long) / burst, conf, OK


_liq_step_inline_nb = njit(inline="always")(liq_step_nb.py_func)  # the same step, inlined into the 2-D kernels


@njit(cache=True)
def liquidation_cascade_1d_nb(long_liq_usd, short_liq_usd, burst_bars=5, window_bars=1_440, min_periods_bars=720, burst_ratio=5.0):
    """Liquidation cascade of one symbol: bursts of one-sided liquidations.

    Over the last ``burst_bars`` bars, ``L`` and ``S`` are the long and short
    liquidations (USD); intensity ``clip(((L+S) / (burst_bars * mean) - 1) / (burst_ratio - 1), 0, 1)``
    against the mean per bar over ``window_bars``; score
    ``intensity * (S - L) / (S + L)``: a cascade of forced sells (longs
    liquidated) scores short, of forced buys scores long; 0 without
    liquidations. Confidence = share of the baseline window with data.
    """
    n = long_liq_usd.shape[0]
    score, conf, status = _new_outputs(n)
    st = np.empty((1, liq_state_len(burst_bars, window_bars)))
    liq_init_nb(st, 0, burst_bars, window_bars)
    for t in range(n):
        score[t], conf[t], status[t] = liq_step_nb(st, 0, long_liq_usd[t], short_liq_usd[t], burst_bars, window_bars, min_periods_bars, burst_ratio
        )
    return score, conf, status


@njit(cache=True, nogil=True)
def liquidation_cascade_nb(long_liq_usd, short_liq_usd, burst_bars=5, window_bars=1_440, min_periods_bars=720, burst_ratio=5.0):
    """2-D form of :func:`liquidation_cascade_1d_nb` (bars outside, symbols inside, one state row per symbol)."""
    n, m = long_liq_usd.shape
    score, conf, status = _new_outputs_2d(n, m)
    owner = liq_new_state_nb(m, burst_bars, window_bars)
    state = borrowed_nb(owner)
    for t0 in range(0, n, BLOCK_BARS):
        t1 = min(t0 + BLOCK_BARS, n)
        for j in range(m):
            for t in range(t0, t1):
                score[t, j], conf[t, j], status[t, j] = _liq_step_inline_nb(state, j, long_liq_usd[t, j], short_liq_usd[t, j], burst_bars, window_bars, min_periods_bars, burst_ratio)
    keep_alive_nb(owner)
    return score, conf, status


# =========================================================================== 5. taker buy/sell ratio


@njit(cache=True)
def taker_state_len(flow_bars=15, window_bars=1_440):
    """Width of one taker ratio state row."""
    return 2 * roll_len(flow_bars) + roll_len(window_bars)


@njit(cache=True)
def taker_init_nb(st, j, flow_bars=15, window_bars=1_440):
    """Reset row ``j`` of a taker ratio state."""
    fw = roll_len(flow_bars)
    roll_init_nb(st, j, 0, flow_bars, False)
    roll_init_nb(st, j, fw, flow_bars, False)
    roll_init_nb(st, j, 2 * fw, window_bars, True)


@njit(cache=True)
def taker_step_nb(st, j, taker_buy_base, taker_sell_base, flow_bars=15, window_bars=1_440, min_periods_bars=720, z_scale=2.0, min_std=1e-3):
    """Consume one bar of symbol ``j`` (updates state row ``j``); return ``(score, confidence, status)`` as :func:`taker_ratio_1d_nb`."""
    fw = roll_len(flow_bars)
    missing = math.isnan(taker_buy_base) or math.isnan(taker_sell_base)
    roll_push_nb(st, j, 0, flow_bars, np.nan if missing else taker_buy_base, False)
    roll_push_nb(st, j, fw, flow_bars, np.nan if missing else taker_sell_base, False)
    x = np.nan
    if not missing and roll_count_nb(st, j, 0) >= flow_bars:
        buy = roll_sum_nb(st, j, 0)
        sell = roll_sum_nb(st, j, fw)
        x = (buy - sell) / (buy + sell) if buy + sell > 0.0 else 0.0
    roll_push_nb(st, j, 2 * fw, window_bars, x, True)
    if missing:
        return 0.0, 0.0, DATA_OUTAGE
    count = roll_count_nb(st, j, 2 * fw)
    if math.isnan(x) or count < min_periods_bars:
        return 0.0, 0.0, WARMING_UP
    z = (x - roll_mean_nb(st, j, 2 * fw)) / max(roll_std_nb(st, j, 2 * fw), min_std)
    return _tanh(z / z_scale), count / window_bars, OK


_taker_step_inline_nb = njit(inline="always")(taker_step_nb.py_func)  # the same step, inlined into the 2-D kernels


@njit(cache=True)
def taker_ratio_1d_nb(taker_buy_base, taker_sell_base, flow_bars=15, window_bars=1_440, min_periods_bars=720, z_scale=2.0, min_std=1e-3):
    """Taker buy/sell imbalance of one symbol.

    ``x = (B - S) / (B + S)`` of taker volumes summed over the last
    ``flow_bars`` bars (all must have data; 0 when no volume traded);
    score ``tanh(z / z_scale)`` of its z-score over ``window_bars``
    (ddof=0, std floored at ``min_std``); confidence = share of the window with
    a value.
    """
    n = taker_buy_base.shape[0]
    score, conf, status = _new_outputs(n)
    st = np.empty((1, taker_state_len(flow_bars, window_bars)))
    taker_init_nb(st, 0, flow_bars, window_bars)
    for t in range(n):
        score[t], conf[t], status[t] = taker_step_nb(st, 0, taker_buy_base[t], taker_sell_base[t], flow_bars, window_bars, min_periods_bars, z_scale, min_std
        )
    return score, conf, status


@njit(cache=True, nogil=True)
def taker_ratio_nb(taker_buy_base, taker_sell_base, flow_bars=15, window_bars=1_440, min_periods_bars=720, z_scale=2.0, min_std=1e-3):
    """2-D form of :func:`taker_ratio_1d_nb` (bars outside, symbols inside, one state row per symbol)."""
    n, m = taker_buy_base.shape
    score, conf, status = _new_outputs_2d(n, m)
    owner = taker_new_state_nb(m, flow_bars, window_bars)
    state = borrowed_nb(owner)
    for t0 in range(0, n, BLOCK_BARS):
        t1 = min(t0 + BLOCK_BARS, n)
        for j in range(m):
            for t in range(t0, t1):
                score[t, j], conf[t, j], status[t, j] = _taker_step_inline_nb(state, j, taker_buy_base[t, j], taker_sell_base[t, j], flow_bars, window_bars, min_periods_bars, z_scale, min_std)
    keep_alive_nb(owner)
    return score, conf, status


# =========================================================================== 6. multi-timeframe trend
# state: n_valid, prev_close, var_ret, n_ret, ema fast x3, ema slow x3


@njit(cache=True)
def trend_state_len():
    """Width of one trend state row."""
    return 10


@njit(cache=True)
def trend_init_nb(st, j):
    """Reset row ``j`` of a trend state."""
    st[j, 0] = 0.0
    st[j, 1] = np.nan
    st[j, 2] = np.nan
    st[j, 3] = 0.0
    for k in range(4, 10):
        st[j, k] = np.nan


@njit(cache=True)
def trend_step_nb(st, j, close, span_short_bars=5, span_mid_bars=15, span_long_bars=60, slow_factor=4, vol_span_bars=240, scale=1.0):
    """Consume one bar of symbol ``j`` (updates state row ``j``); return ``(score, confidence, status)`` as :func:`trend_1d_nb`."""
    if not close > 0.0:  # NaN or non-positive
        st[j, 1] = np.nan
        return 0.0, 0.0, DATA_OUTAGE
    spans = (span_short_bars, span_mid_bars, span_long_bars)
    if st[j, 0] == 0.0:
        for h in range(3):
            st[j, 4 + h] = close
            st[j, 7 + h] = close
    else:
        for h in range(3):
            st[j, 4 + h] += _alpha(spans[h]) * (close - st[j, 4 + h])
            st[j, 7 + h] += _alpha(slow_factor * spans[h]) * (close - st[j, 7 + h])
    st[j, 0] += 1.0
    prev = st[j, 1]
    if not math.isnan(prev):
        r = math.log(close / prev)
        if st[j, 3] == 0.0:
            st[j, 2] = r * r
        else:
            st[j, 2] += _alpha(vol_span_bars) * (r * r - st[j, 2])
        st[j, 3] += 1.0
    st[j, 1] = close
    if st[j, 0] < slow_factor * span_long_bars or st[j, 3] < vol_span_bars:
        return 0.0, 0.0, WARMING_UP
    sigma = math.sqrt(st[j, 2])
    total = 0.0
    votes = 0.0
    for h in range(3):
        d = (st[j, 4 + h] - st[j, 7 + h]) / st[j, 7 + h]
        d = d / (sigma * math.sqrt(spans[h])) if sigma > 0.0 else 0.0
        total += _tanh(d / scale)
        votes += _sign(d)
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
    score, conf, status = _new_outputs(n)
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
    score, conf, status = _new_outputs_2d(n, m)
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


@njit(cache=True)
def breakout_state_len(channel_bars=60):
    """Width of one breakout state row."""
    return 4 + 2 * deque_len(channel_bars + 1)


@njit(cache=True)
def breakout_init_nb(st, j, channel_bars=60):
    """Reset row ``j`` of a breakout state."""
    st[j, 0] = 0.0
    st[j, 1] = 0.0
    st[j, 2] = np.nan
    st[j, 3] = np.nan
    deque_init_nb(st, j, 4, channel_bars + 1)
    deque_init_nb(st, j, 4 + deque_len(channel_bars + 1), channel_bars + 1)


@njit(cache=True)
def breakout_step_nb(st, j, high, low, close, channel_bars=60, atr_span_bars=30, range_mult=1.5, scale=1.0):
    """Consume one bar of symbol ``j`` (updates state row ``j``); return ``(score, confidence, status)`` as :func:`breakout_1d_nb`."""
    cap = channel_bars + 1
    o_hi = 4
    o_lo = 4 + deque_len(cap)
    t = st[j, 0]
    st[j, 0] = t + 1.0
    deque_evict_nb(st, j, o_hi, cap, t - channel_bars)
    deque_evict_nb(st, j, o_lo, cap, t - channel_bars)
    if math.isnan(high) or math.isnan(low) or math.isnan(close):
        st[j, 2] = np.nan
        return 0.0, 0.0, DATA_OUTAGE
    upper = deque_front_nb(st, j, o_hi, cap)
    lower = -deque_front_nb(st, j, o_lo, cap)
    n_prior = st[j, 1]
    atr_prev = st[j, 3]
    prev = st[j, 2]
    true_range = high - low
    if not math.isnan(prev):
        true_range = max(true_range, abs(high - prev), abs(low - prev))
    st[j, 3] = true_range if math.isnan(atr_prev) else atr_prev + _alpha(atr_span_bars) * (true_range - atr_prev)
    st[j, 2] = close
    st[j, 1] = n_prior + 1.0
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
    return _tanh(excess / scale), _clip01(true_range / (range_mult * atr)), OK


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
    score, conf, status = _new_outputs(n)
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
    score, conf, status = _new_outputs_2d(n, m)
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


@njit(cache=True)
def mr_state_len(window_bars=60, vol_short_bars=60, vol_long_bars=1_440):
    """Width of one mean-reversion state row."""
    return 1 + roll_len(window_bars) + roll_len(vol_short_bars) + roll_len(vol_long_bars)


@njit(cache=True)
def mr_init_nb(st, j, window_bars=60, vol_short_bars=60, vol_long_bars=1_440):
    """Reset row ``j`` of a mean-reversion state."""
    st[j, 0] = np.nan
    roll_init_nb(st, j, 1, window_bars, True)
    roll_init_nb(st, j, 1 + roll_len(window_bars), vol_short_bars, False)
    roll_init_nb(st, j, 1 + roll_len(window_bars) + roll_len(vol_short_bars), vol_long_bars, False)


@njit(cache=True)
def mr_step_nb(st, j, close, window_bars=60, vol_short_bars=60, vol_long_bars=1_440, min_periods_bars=720, z_scale=2.0, max_vol_ratio=2.0):
    """Consume one bar of symbol ``j`` (updates state row ``j``); return ``(score, confidence, status)`` as :func:`mean_reversion_1d_nb`."""
    o_c = 1
    o_s = 1 + roll_len(window_bars)
    o_l = o_s + roll_len(vol_short_bars)
    px = close if close > 0.0 else np.nan
    r = math.log(px / st[j, 0])  # NaN when either is missing
    st[j, 0] = px
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
    return -_tanh(z / z_scale), _clip01((max_vol_ratio - ratio) / (max_vol_ratio - 1.0)), OK


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
    score, conf, status = _new_outputs(n)
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
    score, conf, status = _new_outputs_2d(n, m)
    owner = mr_new_state_nb(m, window_bars, vol_short_bars, vol_long_bars)
    state = borrowed_nb(owner)
    for t0 in range(0, n, BLOCK_BARS):
        t1 = min(t0 + BLOCK_BARS, n)
        for j in range(m):
            for t in range(t0, t1):
                score[t, j], conf[t, j], status[t, j] = _mr_step_inline_nb(state, j, close[t, j], window_bars, vol_short_bars, vol_long_bars, min_periods_bars, z_scale, max_vol_ratio)
    keep_alive_nb(owner)
    return score, conf, status


# =========================================================================== 9. fear & greed (stateless)


@njit(cache=True)
def fear_greed_step_nb(value, fear_below=25.0, greed_above=75.0):
    """Consume one bar of symbol ``j`` (updates state row ``j``); return ``(score, confidence, status)`` as :func:`fear_greed_1d_nb`."""
    if math.isnan(value) or value < 0.0 or value > 100.0:
        return 0.0, 0.0, DATA_OUTAGE
    if value < fear_below:
        return (fear_below - value) / fear_below, 1.0, OK
    if value > greed_above:
        return -(value - greed_above) / (100.0 - greed_above), 1.0, OK
    return 0.0, 1.0, OK


_fear_greed_step_inline_nb = njit(inline="always")(fear_greed_step_nb.py_func)  # the same step, inlined into the 2-D kernels


@njit(cache=True)
def fear_greed_1d_nb(value, fear_below=25.0, greed_above=75.0):
    """Fear & greed index, contrarian at extremes.

    Score ``(fear_below - v) / fear_below`` below ``fear_below`` (extreme fear:
    long), ``-(v - greed_above) / (100 - greed_above)`` above ``greed_above``,
    0 between; confidence 1. Values outside [0, 100] count as missing. No
    warm-up.
    """
    n = value.shape[0]
    score, conf, status = _new_outputs(n)
    for t in range(n):
        score[t], conf[t], status[t] = fear_greed_step_nb(value[t], fear_below, greed_above)
    return score, conf, status


@njit(cache=True, nogil=True)
def fear_greed_nb(value, fear_below=25.0, greed_above=75.0):
    """2-D form of :func:`fear_greed_1d_nb`; a market-wide series is one column, the face broadcasts it."""
    n, m = value.shape
    score, conf, status = _new_outputs_2d(n, m)
    for t0 in range(0, n, BLOCK_BARS):
        t1 = min(t0 + BLOCK_BARS, n)
        for j in range(m):
            for t in range(t0, t1):
                score[t, j], conf[t, j], status[t, j] = _fear_greed_step_inline_nb(value[t, j], fear_below, greed_above)
    return score, conf, status


# =========================================================================== 10. social sentiment
# state: n_valid, mentions fast, mentions slow, tone fast, tone slow


@njit(cache=True)
def social_state_len():
    """Width of one social sentiment state row."""
    return 5


@njit(cache=True)
def social_init_nb(st, j):
    """Reset row ``j`` of a social sentiment state."""
    st[j, 0] = 0.0
    for k in range(1, 5):
        st[j, k] = np.nan


@njit(cache=True)
def social_step_nb(st, j, mentions, tone, span_fast_bars=360, span_slow_bars=1_440, tone_gain=4.0, mention_gain=1.0):
    """Consume one bar of symbol ``j`` (updates state row ``j``); return ``(score, confidence, status)`` as :func:`social_sentiment_1d_nb`."""
    if math.isnan(mentions) or math.isnan(tone) or mentions < 0.0 or abs(tone) > 1.0:
        return 0.0, 0.0, DATA_OUTAGE
    if st[j, 0] == 0.0:
        st[j, 1] = mentions
        st[j, 2] = mentions
        st[j, 3] = tone
        st[j, 4] = tone
    else:
        af = _alpha(span_fast_bars)
        aslow = _alpha(span_slow_bars)
        st[j, 1] += af * (mentions - st[j, 1])
        st[j, 2] += aslow * (mentions - st[j, 2])
        st[j, 3] += af * (tone - st[j, 3])
        st[j, 4] += aslow * (tone - st[j, 4])
    st[j, 0] += 1.0
    if st[j, 0] < span_slow_bars:
        return 0.0, 0.0, WARMING_UP
    attention = math.log((st[j, 1] + 1.0) / (st[j, 2] + 1.0))
    score = _tanh(tone_gain * (st[j, 3] - st[j, 4]) + mention_gain * attention * st[j, 3])
    return score, min(1.0, (st[j, 1] + 1.0) / (st[j, 2] + 1.0)), OK


_social_step_inline_nb = njit(inline="always")(social_step_nb.py_func)  # the same step, inlined into the 2-D kernels


@njit(cache=True)
def social_sentiment_1d_nb(mentions, tone, span_fast_bars=360, span_slow_bars=1_440, tone_gain=4.0, mention_gain=1.0):
    """Social sentiment momentum.

    With fast/slow EMAs of mentions ``m`` and tone ``u``:
    ``attention = log((m_fast + 1) / (m_slow + 1))``, score
    ``tanh(tone_gain * (u_fast - u_slow) + mention_gain * attention * u_fast)``
    (improving tone, and rising attention in the direction of the tone);
    confidence ``min(1, (m_fast + 1) / (m_slow + 1))`` (fading attention is
    less trusted). Negative mentions or |tone| > 1 count as missing. Warm-up:
    ``span_slow_bars`` valid bars.
    """
    n = mentions.shape[0]
    score, conf, status = _new_outputs(n)
    st = np.empty((1, social_state_len()))
    social_init_nb(st, 0)
    for t in range(n):
        score[t], conf[t], status[t] = social_step_nb(st, 0, mentions[t], tone[t], span_fast_bars, span_slow_bars, tone_gain, mention_gain
        )
    return score, conf, status


@njit(cache=True, nogil=True)
def social_sentiment_nb(mentions, tone, span_fast_bars=360, span_slow_bars=1_440, tone_gain=4.0, mention_gain=1.0):
    """2-D form of :func:`social_sentiment_1d_nb` (bars outside, symbols inside, one state row per symbol)."""
    n, m = mentions.shape
    score, conf, status = _new_outputs_2d(n, m)
    owner = social_new_state_nb(m)
    state = borrowed_nb(owner)
    for t0 in range(0, n, BLOCK_BARS):
        t1 = min(t0 + BLOCK_BARS, n)
        for j in range(m):
            for t in range(t0, t1):
                score[t, j], conf[t, j], status[t, j] = _social_step_inline_nb(state, j, mentions[t, j], tone[t, j], span_fast_bars, span_slow_bars, tone_gain, mention_gain)
    keep_alive_nb(owner)
    return score, conf, status


# =========================================================================== aggregator


@njit(cache=True, inline="always")
def _aggregate_at_nb(score, conf, status, t, j, weights, required, min_live_signals):
    """Aggregate the signals of symbol ``j`` at bar ``t`` (see :func:`aggregate_nb`)."""
    num = 0.0
    den = 0.0
    n_live = 0
    required_ok = True
    for k in range(score.shape[2]):
        if status[t, j, k] == OK:
            n_live += 1
            num += weights[k] * conf[t, j, k] * score[t, j, k]
            den += weights[k]
        elif required[k]:
            required_ok = False
    value = num / den if den > 0.0 else 0.0
    conviction = min(abs(value), 1.0)
    direction = np.int8(1) if value > 0.0 else (np.int8(-1) if value < 0.0 else np.int8(0))
    return conviction, direction, required_ok and n_live >= min_live_signals, n_live


@njit(cache=True, nogil=True)
def aggregate_nb(score, conf, status, weights, required, min_live_signals=5):
    """Weighted conviction and direction from the live signals.

    Parameters
    ----------
    score, conf : (n, m, n_signals) float64
        Signal outputs, signals in :data:`~botcore.config.models.SIGNAL_NAMES` order.
    status : (n, m, n_signals) int8
    weights : (n_signals,) float64
        Non-negative weights (versioned by the learning cycle).
    required : (n_signals,) bool
        Signals whose non-OK status blocks trading.
    min_live_signals : int
        Signals with status OK needed for trading.

    Returns
    -------
    conviction : (n, m) float64
        ``|sum_k w_k c_k s_k| / sum_k w_k`` over signals with status OK
        (weights renormalised over them), in [0, 1]; 0 when none is live.
    direction : (n, m) int8
        Sign of the weighted sum: -1, 0, +1.
    tradable : (n, m) bool
        At least ``min_live_signals`` live and every required signal live.
    n_live : (n, m) int64
        Signals with status OK.
    """
    n, m, _ = score.shape
    conviction = np.zeros((n, m), dtype=np.float64)
    direction = np.zeros((n, m), dtype=np.int8)
    tradable = np.zeros((n, m), dtype=np.bool_)
    n_live = np.zeros((n, m), dtype=np.int64)
    for t in range(n):
        for j in range(m):
            conviction[t, j], direction[t, j], tradable[t, j], n_live[t, j] = _aggregate_at_nb(
                score, conf, status, t, j, weights, required, min_live_signals
            )
    return conviction, direction, tradable, n_live


# =========================================================================== incremental form
# ``*_new_state_nb(n_symbols, ...)`` returns a ``(n_symbols, state_len)``
# float64 state; ``*_update_nb(state, <one bar per symbol>, ...)`` consumes one
# bar of every symbol in O(1) per symbol (amortised for the breakout channel)
# and returns three ``(n_symbols,)`` arrays, the same numbers the batch kernel
# gives at that bar. Wrapped by :mod:`botcore.signals.incremental`.


@njit(cache=True)
def ofi_new_state_nb(n_symbols, span_fast_bars=5, span_slow_bars=30):
    """Fresh order-flow imbalance state of ``n_symbols`` rows."""
    state = np.empty((n_symbols, ofi_state_len(span_fast_bars, span_slow_bars)))
    for j in range(n_symbols):
        ofi_init_nb(state, j, span_fast_bars, span_slow_bars)
    return state


@njit(cache=True)
def ofi_update_nb(state, imbalance, span_fast_bars=5, span_slow_bars=30, change_weight=1.0, gain=2.0):
    """Consume one bar of every symbol (updates ``state``); three ``(n_symbols,)`` arrays as :func:`order_flow_imbalance_1d_nb`."""
    m = imbalance.shape[0]
    score, conf, status = _new_outputs(m)
    st = borrowed_nb(state)
    for j in range(m):
        score[j], conf[j], status[j] = _ofi_step_inline_nb(st, j, imbalance[j], span_fast_bars, span_slow_bars, change_weight, gain)
    keep_alive_nb(state)
    return score, conf, status


@njit(cache=True)
def funding_new_state_nb(n_symbols, window_bars=10_080):
    """Fresh funding-rate state of ``n_symbols`` rows."""
    state = np.empty((n_symbols, funding_state_len(window_bars)))
    for j in range(n_symbols):
        funding_init_nb(state, j, window_bars)
    return state


@njit(cache=True)
def funding_update_nb(state, rate, window_bars=10_080, min_periods_bars=4_320, z_entry=1.0, z_full=3.0, min_std=1e-5):
    """Consume one bar of every symbol (updates ``state``); three ``(n_symbols,)`` arrays as :func:`funding_rate_1d_nb`."""
    m = rate.shape[0]
    score, conf, status = _new_outputs(m)
    st = borrowed_nb(state)
    for j in range(m):
        score[j], conf[j], status[j] = _funding_step_inline_nb(st, j, rate[j], window_bars, min_periods_bars, z_entry, z_full, min_std)
    keep_alive_nb(state)
    return score, conf, status


@njit(cache=True)
def oi_new_state_nb(n_symbols, lag_bars=15, window_bars=1_440):
    """Fresh open-interest velocity state of ``n_symbols`` rows."""
    state = np.empty((n_symbols, oi_state_len(lag_bars, window_bars)))
    for j in range(n_symbols):
        oi_init_nb(state, j, lag_bars, window_bars)
    return state


@njit(cache=True)
def oi_update_nb(state, oi_usd, close, lag_bars=15, window_bars=1_440, min_periods_bars=720, oi_scale=1.0, price_scale=1.0):
    """Consume one bar of every symbol (updates ``state``); three ``(n_symbols,)`` arrays as :func:`open_interest_velocity_1d_nb`."""
    m = oi_usd.shape[0]
    score, conf, status = _new_outputs(m)
    st = borrowed_nb(state)
    for j in range(m):
        score[j], conf[j], status[j] = _oi_step_inline_nb(st, j, oi_usd[j], close[j], lag_bars, window_bars, min_periods_bars, oi_scale, price_scale
        )
    keep_alive_nb(state)
    return score, conf, status


@njit(cache=True)
def liq_new_state_nb(n_symbols, burst_bars=5, window_bars=1_440):
    """Fresh liquidation cascade state of ``n_symbols`` rows."""
    state = np.empty((n_symbols, liq_state_len(burst_bars, window_bars)))
    for j in range(n_symbols):
        liq_init_nb(state, j, burst_bars, window_bars)
    return state


@njit(cache=True)
def liq_update_nb(state, long_liq_usd, short_liq_usd, burst_bars=5, window_bars=1_440, min_periods_bars=720, burst_ratio=5.0):
    """Consume one bar of every symbol (updates ``state``); three ``(n_symbols,)`` arrays as :func:`liquidation_cascade_1d_nb`."""
    m = long_liq_usd.shape[0]
    score, conf, status = _new_outputs(m)
    st = borrowed_nb(state)
    for j in range(m):
        score[j], conf[j], status[j] = _liq_step_inline_nb(st, j, long_liq_usd[j], short_liq_usd[j], burst_bars, window_bars, min_periods_bars, burst_ratio
        )
    keep_alive_nb(state)
    return score, conf, status


@njit(cache=True)
def taker_new_state_nb(n_symbols, flow_bars=15, window_bars=1_440):
    """Fresh taker ratio state of ``n_symbols`` rows."""
    state = np.empty((n_symbols, taker_state_len(flow_bars, window_bars)))
    for j in range(n_symbols):
        taker_init_nb(state, j, flow_bars, window_bars)
    return state


@njit(cache=True)
def taker_update_nb(state, taker_buy_base, taker_sell_base, flow_bars=15, window_bars=1_440, min_periods_bars=720, z_scale=2.0, min_std=1e-3):
    """Consume one bar of every symbol (updates ``state``); three ``(n_symbols,)`` arrays as :func:`taker_ratio_1d_nb`."""
    m = taker_buy_base.shape[0]
    score, conf, status = _new_outputs(m)
    st = borrowed_nb(state)
    for j in range(m):
        score[j], conf[j], status[j] = _taker_step_inline_nb(st, j, taker_buy_base[j], taker_sell_base[j], flow_bars, window_bars, min_periods_bars, z_scale, min_std
        )
    keep_alive_nb(state)
    return score, conf, status


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
    score, conf, status = _new_outputs(m)
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
    score, conf, status = _new_outputs(m)
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
    score, conf, status = _new_outputs(m)
    st = borrowed_nb(state)
    for j in range(m):
        score[j], conf[j], status[j] = _mr_step_inline_nb(st, j, close[j], window_bars, vol_short_bars, vol_long_bars, min_periods_bars, z_scale, max_vol_ratio
        )
    keep_alive_nb(state)
    return score, conf, status


@njit(cache=True)
def fear_greed_update_nb(value, fear_below=25.0, greed_above=75.0):
    """One bar of every symbol (stateless); three ``(n_symbols,)`` arrays as :func:`fear_greed_1d_nb`."""
    m = value.shape[0]
    score, conf, status = _new_outputs(m)
    for j in range(m):
        score[j], conf[j], status[j] = fear_greed_step_nb(value[j], fear_below, greed_above)
    return score, conf, status


@njit(cache=True)
def social_new_state_nb(n_symbols):
    """Fresh social sentiment state of ``n_symbols`` rows."""
    state = np.empty((n_symbols, social_state_len()))
    for j in range(n_symbols):
        social_init_nb(state, j)
    return state


@njit(cache=True)
def social_update_nb(state, mentions, tone, span_fast_bars=360, span_slow_bars=1_440, tone_gain=4.0, mention_gain=1.0):
    """Consume one bar of every symbol (updates ``state``); three ``(n_symbols,)`` arrays as :func:`social_sentiment_1d_nb`."""
    m = mentions.shape[0]
    score, conf, status = _new_outputs(m)
    st = borrowed_nb(state)
    for j in range(m):
        score[j], conf[j], status[j] = _social_step_inline_nb(st, j, mentions[j], tone[j], span_fast_bars, span_slow_bars, tone_gain, mention_gain
        )
    keep_alive_nb(state)
    return score, conf, status


# =========================================================================== stacking


@njit(cache=True, nogil=True)
def stack_signals_nb(scores, confs, statuses, n_symbols):
    """Stack per-signal ``(n, m)`` outputs into ``(n, n_symbols, n_signals)`` arrays in one pass.

    ``scores``/``confs`` are tuples of float64 ``(n, m_k)`` arrays, ``statuses``
    of int8 ones, one per signal; a one-column array (a market-wide signal)
    is broadcast to every symbol.
    """
    k_n = len(scores)
    n = scores[0].shape[0]
    score = np.empty((n, n_symbols, k_n), dtype=np.float64)
    conf = np.empty((n, n_symbols, k_n), dtype=np.float64)
    status = np.empty((n, n_symbols, k_n), dtype=np.int8)
    for t in range(n):
        for j in range(n_symbols):
            for k in range(k_n):
                jj = j if scores[k].shape[1] > 1 else 0
                score[t, j, k] = scores[k][t, jj]
                conf[t, j, k] = confs[k][t, jj]
                status[t, j, k] = statuses[k][t, jj]
    return score, conf, status
