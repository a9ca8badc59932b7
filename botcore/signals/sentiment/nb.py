"""Numba kernels of the two sentiment signals: fear & greed (stateless) and social sentiment.

The contract (inputs, NaN rules, statuses, the step/state/1-D/2-D/update
forms and their bit-for-bit agreement) is that of :mod:`botcore.signals.nb`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from botcore.generic.nb import (
    borrowed_nb,
    ema_alpha_nb,
    guard_stale_cache,
    keep_alive_nb,
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

# =========================================================================== 9. fear & greed (stateless)


@njit(cache=True)
def fear_greed_step_nb(value, fear_below=25.0, greed_above=75.0):
    """Score one value (stateless); return ``(score, confidence, status)`` as :func:`fear_greed_1d_nb`."""
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
    score, conf, status = new_outputs_nb(n)
    for t in range(n):
        score[t], conf[t], status[t] = fear_greed_step_nb(value[t], fear_below, greed_above)
    return score, conf, status


@njit(cache=True, nogil=True)
def fear_greed_nb(value, fear_below=25.0, greed_above=75.0):
    """2-D form of :func:`fear_greed_1d_nb`; a market-wide series is one column, the face broadcasts it."""
    n, m = value.shape
    score, conf, status = new_outputs_2d_nb(n, m)
    for t0 in range(0, n, BLOCK_BARS):
        t1 = min(t0 + BLOCK_BARS, n)
        for j in range(m):
            for t in range(t0, t1):
                score[t, j], conf[t, j], status[t, j] = _fear_greed_step_inline_nb(value[t, j], fear_below, greed_above)
    return score, conf, status


# =========================================================================== 10. social sentiment
# state: n_valid, mentions fast, mentions slow, tone fast, tone slow


SOCIAL_N_VALID = 0  # valid bars seen
SOCIAL_MENTIONS_FAST = 1  # fast EMA of mentions
SOCIAL_MENTIONS_SLOW = 2  # slow EMA of mentions
SOCIAL_TONE_FAST = 3  # fast EMA of tone
SOCIAL_TONE_SLOW = 4  # slow EMA of tone


@njit(cache=True)
def social_state_len():
    """Width of one social sentiment state row."""
    return 5


@njit(cache=True)
def social_init_nb(st, j):
    """Reset row ``j`` of a social sentiment state."""
    st[j, SOCIAL_N_VALID] = 0.0
    for k in range(SOCIAL_MENTIONS_FAST, SOCIAL_TONE_SLOW + 1):
        st[j, k] = np.nan


@njit(cache=True)
def social_step_nb(st, j, mentions, tone, span_fast_bars=360, span_slow_bars=1_440, tone_gain=4.0, mention_gain=1.0):
    """Consume one bar of symbol ``j`` (updates state row ``j``); return ``(score, confidence, status)`` as :func:`social_sentiment_1d_nb`."""
    if math.isnan(mentions) or math.isnan(tone) or mentions < 0.0 or abs(tone) > 1.0:
        return 0.0, 0.0, DATA_OUTAGE
    if st[j, SOCIAL_N_VALID] == 0.0:
        st[j, SOCIAL_MENTIONS_FAST] = mentions
        st[j, SOCIAL_MENTIONS_SLOW] = mentions
        st[j, SOCIAL_TONE_FAST] = tone
        st[j, SOCIAL_TONE_SLOW] = tone
    else:
        af = ema_alpha_nb(span_fast_bars)
        aslow = ema_alpha_nb(span_slow_bars)
        st[j, SOCIAL_MENTIONS_FAST] += af * (mentions - st[j, SOCIAL_MENTIONS_FAST])
        st[j, SOCIAL_MENTIONS_SLOW] += aslow * (mentions - st[j, SOCIAL_MENTIONS_SLOW])
        st[j, SOCIAL_TONE_FAST] += af * (tone - st[j, SOCIAL_TONE_FAST])
        st[j, SOCIAL_TONE_SLOW] += aslow * (tone - st[j, SOCIAL_TONE_SLOW])
    st[j, SOCIAL_N_VALID] += 1.0
    if st[j, SOCIAL_N_VALID] < span_slow_bars:
        return 0.0, 0.0, WARMING_UP
    attention = math.log((st[j, SOCIAL_MENTIONS_FAST] + 1.0) / (st[j, SOCIAL_MENTIONS_SLOW] + 1.0))
    score = tanh_nb(tone_gain * (st[j, SOCIAL_TONE_FAST] - st[j, SOCIAL_TONE_SLOW]) + mention_gain * attention * st[j, SOCIAL_TONE_FAST])
    return score, min(1.0, (st[j, SOCIAL_MENTIONS_FAST] + 1.0) / (st[j, SOCIAL_MENTIONS_SLOW] + 1.0)), OK


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
    score, conf, status = new_outputs_nb(n)
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
    score, conf, status = new_outputs_2d_nb(n, m)
    owner = social_new_state_nb(m)
    state = borrowed_nb(owner)
    for t0 in range(0, n, BLOCK_BARS):
        t1 = min(t0 + BLOCK_BARS, n)
        for j in range(m):
            for t in range(t0, t1):
                score[t, j], conf[t, j], status[t, j] = _social_step_inline_nb(state, j, mentions[t, j], tone[t, j], span_fast_bars, span_slow_bars, tone_gain, mention_gain)
    keep_alive_nb(owner)
    return score, conf, status

# =========================================================================== incremental form
# ``*_new_state_nb(n_symbols, ...)`` returns a ``(n_symbols, state_len)``
# float64 state; ``*_update_nb(state, <one bar per symbol>, ...)`` consumes one
# bar of every symbol in O(1) per symbol (amortised for the breakout channel)
# and returns three ``(n_symbols,)`` arrays, the same numbers the batch kernel
# gives at that bar. Wrapped by :mod:`botcore.signals.incremental`.


@njit(cache=True)
def fear_greed_update_nb(value, fear_below=25.0, greed_above=75.0):
    """One bar of every symbol (stateless); three ``(n_symbols,)`` arrays as :func:`fear_greed_1d_nb`."""
    m = value.shape[0]
    score, conf, status = new_outputs_nb(m)
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
    score, conf, status = new_outputs_nb(m)
    st = borrowed_nb(state)
    for j in range(m):
        score[j], conf[j], status[j] = _social_step_inline_nb(st, j, mentions[j], tone[j], span_fast_bars, span_slow_bars, tone_gain, mention_gain
        )
    keep_alive_nb(state)
    return score, conf, status


guard_stale_cache(social_sentiment_nb, ("botcore/generic/nb.py", "botcore/signals/nb.py"))  # kernels here compile in the primitives of these files
