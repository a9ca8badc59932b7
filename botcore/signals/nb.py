"""Numba kernels of the ten signals and their aggregator.

This module holds the contract below, the statuses, the five signals of
derivatives and order-flow data (order-flow imbalance, funding rate,
open-interest velocity, liquidation cascade, taker ratio), the aggregator and
the stacking of signal outputs; the candle signals (trend, breakout, mean
reversion) are in :mod:`botcore.signals.price.nb`, the sentiment signals
(fear & greed, social sentiment) in :mod:`botcore.signals.sentiment.nb`, and
the rolling blocks, ring buffers and deques under them in
:mod:`botcore.generic.nb`.

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
    clip01_nb,
    ema_alpha_nb,
    guard_stale_cache,
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
    sign_nb,
    tanh_nb,
)

BLOCK_BARS = 512  # 2-D kernels walk time in blocks, one symbol at a time per block: state and inputs stay in cache

OK = np.int8(0)
WARMING_UP = np.int8(1)
DATA_OUTAGE = np.int8(2)

# --------------------------------------------------------------------------- outputs


@njit(cache=True)
def new_outputs_nb(n):
    """Score, confidence and status arrays of ``n`` bars."""
    return np.zeros(n, dtype=np.float64), np.zeros(n, dtype=np.float64), np.empty(n, dtype=np.int8)


@njit(cache=True)
def new_outputs_2d_nb(n, m):
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


OFI_N_VALID = 0  # valid bars seen
OFI_FAST = 1  # fast EMA of the imbalance
OFI_SLOW = 2  # slow EMA of the imbalance


@njit(cache=True)
def ofi_state_len(span_fast_bars=5, span_slow_bars=30):
    """Width of one order-flow imbalance state row."""
    return 3


@njit(cache=True)
def ofi_init_nb(st, j, span_fast_bars=5, span_slow_bars=30):
    """Reset row ``j`` of a order-flow imbalance state."""
    st[j, OFI_N_VALID] = 0.0
    st[j, OFI_FAST] = np.nan
    st[j, OFI_SLOW] = np.nan


@njit(cache=True)
def ofi_step_nb(st, j, imbalance, span_fast_bars=5, span_slow_bars=30, change_weight=1.0, gain=2.0):
    """Consume one bar of symbol ``j`` (updates state row ``j``); return ``(score, confidence, status)`` as :func:`order_flow_imbalance_1d_nb`."""
    if math.isnan(imbalance):
        return 0.0, 0.0, DATA_OUTAGE
    if st[j, OFI_N_VALID] == 0.0:
        st[j, OFI_FAST] = imbalance
        st[j, OFI_SLOW] = imbalance
    else:
        st[j, OFI_FAST] += ema_alpha_nb(span_fast_bars) * (imbalance - st[j, OFI_FAST])
        st[j, OFI_SLOW] += ema_alpha_nb(span_slow_bars) * (imbalance - st[j, OFI_SLOW])
    st[j, OFI_N_VALID] += 1.0
    if st[j, OFI_N_VALID] < span_slow_bars:
        return 0.0, 0.0, WARMING_UP
    fast = st[j, OFI_FAST]
    change = fast - st[j, OFI_SLOW]
    score = tanh_nb(gain * (fast + change_weight * change))
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
    score, conf, status = new_outputs_nb(n)
    st = np.empty((1, ofi_state_len(span_fast_bars, span_slow_bars)))
    ofi_init_nb(st, 0, span_fast_bars, span_slow_bars)
    for t in range(n):
        score[t], conf[t], status[t] = ofi_step_nb(st, 0, imbalance[t], span_fast_bars, span_slow_bars, change_weight, gain)
    return score, conf, status


@njit(cache=True, nogil=True)
def order_flow_imbalance_nb(imbalance, span_fast_bars=5, span_slow_bars=30, change_weight=1.0, gain=2.0):
    """2-D form of :func:`order_flow_imbalance_1d_nb`: ``(n, m)`` -> three ``(n, m)`` arrays (bars outside, symbols inside, one state row per symbol)."""
    n, m = imbalance.shape
    score, conf, status = new_outputs_2d_nb(n, m)
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
    strength = clip01_nb((abs(z) - z_entry) / (z_full - z_entry))
    return -sign_nb(z) * strength, count / window_bars, OK


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
    score, conf, status = new_outputs_nb(n)
    st = np.empty((1, funding_state_len(window_bars)))
    funding_init_nb(st, 0, window_bars)
    for t in range(n):
        score[t], conf[t], status[t] = funding_step_nb(st, 0, rate[t], window_bars, min_periods_bars, z_entry, z_full, min_std)
    return score, conf, status


@njit(cache=True, nogil=True)
def funding_rate_nb(rate, window_bars=10_080, min_periods_bars=4_320, z_entry=1.0, z_full=3.0, min_std=1e-5):
    """2-D form of :func:`funding_rate_1d_nb` (bars outside, symbols inside, one state row per symbol)."""
    n, m = rate.shape
    score, conf, status = new_outputs_2d_nb(n, m)
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
    return tanh_nb(z_v / oi_scale) * tanh_nb(z_p / price_scale), count_v / window_bars, OK


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
    score, conf, status = new_outputs_nb(n)
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
    score, conf, status = new_outputs_2d_nb(n, m)
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
    intensity = clip01_nb((burst / expected - 1.0) / (burst_ratio - 1.0)) if expected > 0.0 else 1.0
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
    score, conf, status = new_outputs_nb(n)
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
    score, conf, status = new_outputs_2d_nb(n, m)
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
    return tanh_nb(z / z_scale), count / window_bars, OK


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
    score, conf, status = new_outputs_nb(n)
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
    score, conf, status = new_outputs_2d_nb(n, m)
    owner = taker_new_state_nb(m, flow_bars, window_bars)
    state = borrowed_nb(owner)
    for t0 in range(0, n, BLOCK_BARS):
        t1 = min(t0 + BLOCK_BARS, n)
        for j in range(m):
            for t in range(t0, t1):
                score[t, j], conf[t, j], status[t, j] = _taker_step_inline_nb(state, j, taker_buy_base[t, j], taker_sell_base[t, j], flow_bars, window_bars, min_periods_bars, z_scale, min_std)
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
    score, conf, status = new_outputs_nb(m)
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
    score, conf, status = new_outputs_nb(m)
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
    score, conf, status = new_outputs_nb(m)
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
    score, conf, status = new_outputs_nb(m)
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
    score, conf, status = new_outputs_nb(m)
    st = borrowed_nb(state)
    for j in range(m):
        score[j], conf[j], status[j] = _taker_step_inline_nb(st, j, taker_buy_base[j], taker_sell_base[j], flow_bars, window_bars, min_periods_bars, z_scale, min_std
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


guard_stale_cache(stack_signals_nb, ("botcore/generic/nb.py",))  # kernels here compile in the primitives of these files
