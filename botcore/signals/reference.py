"""Slow, obvious pandas/NumPy references of the signal kernels (:mod:`botcore.signals.nb` and siblings).

Each function takes 1-D arrays of one symbol and the same parameters as the
``*_1d_nb`` kernel and returns ``(score, confidence, status)`` as NumPy
arrays. They are written with pandas ``rolling``/``ewm`` (not the kernels'
ring buffers), so agreement tests one implementation against another. Used
by the tests only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from botcore.signals.enums import SignalStatuses as S

__all__ = [
    "book_imbalance_ref",
    "order_flow_imbalance_ref",
    "funding_rate_ref",
    "open_interest_velocity_ref",
    "liquidation_cascade_ref",
    "taker_ratio_ref",
    "trend_ref",
    "breakout_ref",
    "mean_reversion_ref",
    "fear_greed_ref",
    "social_sentiment_ref",
    "aggregate_ref",
]


def _ema(x: pd.Series, span: float) -> pd.Series:
    return x.ewm(span=span, adjust=False, ignore_na=True).mean()


def _count(x: pd.Series, window: int) -> pd.Series:
    return x.notna().astype(float).rolling(window, min_periods=1).sum()


def _finish(score: pd.Series | np.ndarray, conf: pd.Series | np.ndarray, outage: np.ndarray, warming: np.ndarray):
    status = np.full(len(outage), S.ok, dtype=np.int8)
    status[np.asarray(warming, dtype=bool)] = S.warming_up
    status[np.asarray(outage, dtype=bool)] = S.data_outage
    ok = status == S.ok
    return (
        np.where(ok, np.asarray(score, dtype=float), 0.0),
        np.where(ok, np.asarray(conf, dtype=float), 0.0),
        status,
    )


def book_imbalance_ref(bid_sz: np.ndarray, ask_sz: np.ndarray, level_decay: float = 0.7) -> np.ndarray:
    """``(n, levels)`` sizes -> ``(n,)`` depth-weighted imbalance, NaN for a missing or empty book."""
    w = level_decay ** np.arange(bid_sz.shape[1])
    num = ((bid_sz - ask_sz) * w).sum(axis=1)
    den = ((bid_sz + ask_sz) * w).sum(axis=1)
    bad = np.isnan(bid_sz).any(axis=1) | np.isnan(ask_sz).any(axis=1) | (bid_sz < 0).any(axis=1) | (ask_sz < 0).any(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(bad | ~(den > 0), np.nan, num / den)


def order_flow_imbalance_ref(imbalance, span_fast_bars=5, span_slow_bars=30, change_weight=1.0, gain=2.0):
    x = pd.Series(imbalance, dtype=float)
    fast, slow = _ema(x, span_fast_bars), _ema(x, span_slow_bars)
    change = fast - slow
    score = np.tanh(gain * (fast + change_weight * change))
    conf = np.where(fast * change > 0, 1.0, 0.5)
    return _finish(score, conf, x.isna(), x.notna().cumsum() < span_slow_bars)


def funding_rate_ref(rate, window_bars=10_080, min_periods_bars=4_320, z_entry=1.0, z_full=3.0, min_std=1e-5):
    x = pd.Series(rate, dtype=float)
    roll = x.rolling(window_bars, min_periods=1)
    count = _count(x, window_bars)
    z = (x - roll.mean()) / np.maximum(roll.std(ddof=0).fillna(0.0), min_std)
    score = -np.sign(z) * np.clip((z.abs() - z_entry) / (z_full - z_entry), 0.0, 1.0)
    return _finish(score, count / window_bars, x.isna(), count < min_periods_bars)


def open_interest_velocity_ref(oi_usd, close, lag_bars=15, window_bars=1_440, min_periods_bars=720, oi_scale=1.0, price_scale=1.0):
    oi = pd.Series(oi_usd, dtype=float).where(lambda s: s > 0)
    px = pd.Series(close, dtype=float).where(lambda s: s > 0)
    v = np.log(oi / oi.shift(lag_bars))
    p = np.log(px / px.shift(lag_bars))
    rms_v = np.sqrt((v**2).rolling(window_bars, min_periods=1).mean())
    rms_p = np.sqrt((p**2).rolling(window_bars, min_periods=1).mean())
    z_v = (v / rms_v).where(rms_v > 0, 0.0)
    z_p = (p / rms_p).where(rms_p > 0, 0.0)
    count_v, count_p = _count(v, window_bars), _count(p, window_bars)
    score = np.tanh(z_v / oi_scale) * np.tanh(z_p / price_scale)
    warming = v.isna() | p.isna() | (count_v < min_periods_bars) | (count_p < min_periods_bars)
    return _finish(score, count_v / window_bars, oi.isna() | px.isna(), warming)


def liquidation_cascade_ref(long_liq_usd, short_liq_usd, burst_bars=5, window_bars=1_440, min_periods_bars=720, burst_ratio=5.0):
    long_, short = pd.Series(long_liq_usd, dtype=float), pd.Series(short_liq_usd, dtype=float)
    total = long_ + short
    burst_long = long_.rolling(burst_bars, min_periods=burst_bars).sum()
    burst_short = short.rolling(burst_bars, min_periods=burst_bars).sum()
    any_liq = ((long_ != 0) | (short != 0)).astype(float).rolling(burst_bars, min_periods=1).sum() > 0
    burst = burst_long + burst_short
    base_nonzero = (total.fillna(0) != 0).astype(float).rolling(window_bars, min_periods=1).sum() > 0
    expected = (burst_bars * total.rolling(window_bars, min_periods=1).mean()).where(base_nonzero, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        intensity = np.where(expected > 0, np.clip((burst / expected - 1.0) / (burst_ratio - 1.0), 0.0, 1.0), 1.0)
        score = np.where(any_liq & (burst > 0), intensity * (burst_short - burst_long) / burst, 0.0)
    count = _count(total, window_bars)
    warming = (count < min_periods_bars) | burst_long.isna() | burst_short.isna()
    return _finish(score, count / window_bars, total.isna(), warming)


def taker_ratio_ref(taker_buy_base, taker_sell_base, flow_bars=15, window_bars=1_440, min_periods_bars=720, z_scale=2.0, min_std=1e-3):
    buy, sell = pd.Series(taker_buy_base, dtype=float), pd.Series(taker_sell_base, dtype=float)
    missing = buy.isna() | sell.isna()
    flow_buy = buy.where(~missing).rolling(flow_bars, min_periods=flow_bars).sum()
    flow_sell = sell.where(~missing).rolling(flow_bars, min_periods=flow_bars).sum()
    total = flow_buy + flow_sell
    x = ((flow_buy - flow_sell) / total).where(total > 0, 0.0).where(total.notna() & ~missing)
    roll = x.rolling(window_bars, min_periods=1)
    z = (x - roll.mean()) / np.maximum(roll.std(ddof=0).fillna(0.0), min_std)
    count = _count(x, window_bars)
    return _finish(np.tanh(z / z_scale), count / window_bars, missing, x.isna() | (count < min_periods_bars))


def trend_ref(close, span_short_bars=5, span_mid_bars=15, span_long_bars=60, slow_factor=4, vol_span_bars=240, scale=1.0):
    c = pd.Series(close, dtype=float).where(lambda s: s > 0)
    r = np.log(c / c.shift(1))
    sigma = np.sqrt(_ema(r**2, vol_span_bars))
    parts, votes = [], []
    for span in (span_short_bars, span_mid_bars, span_long_bars):
        d = (_ema(c, span) / _ema(c, slow_factor * span) - 1.0) / (sigma * np.sqrt(span))
        d = d.where(sigma > 0, 0.0)
        parts.append(np.tanh(d / scale))
        votes.append(np.sign(d))
    score = sum(parts) / 3.0
    conf = np.abs(sum(votes)) / 3.0
    warming = (c.notna().cumsum() < slow_factor * span_long_bars) | (r.notna().cumsum() < vol_span_bars)
    return _finish(score, conf, c.isna(), warming)


def breakout_ref(high, low, close, channel_bars=60, atr_span_bars=30, range_mult=1.5, scale=1.0):
    h, lo, c = (pd.Series(a, dtype=float) for a in (high, low, close))
    valid = h.notna() & lo.notna() & c.notna()
    h, lo, c = h.where(valid), lo.where(valid), c.where(valid)
    upper = h.shift(1).rolling(channel_bars, min_periods=1).max()
    lower = lo.shift(1).rolling(channel_bars, min_periods=1).min()
    n_prior = valid.astype(int).cumsum().shift(1, fill_value=0)
    prev = c.shift(1)
    tr = pd.concat([h - lo, (h - prev).abs(), (lo - prev).abs()], axis=1).max(axis=1, skipna=True).where(valid)
    atr_prev = _ema(tr, atr_span_bars).where(valid).ffill().shift(1)
    atr = np.maximum(atr_prev, 1e-12 * c.abs())
    excess = np.where(c > upper, (c - upper) / atr, np.where(c < lower, (c - lower) / atr, 0.0))
    conf = np.clip(tr / (range_mult * atr), 0.0, 1.0)
    warming = (n_prior < channel_bars) | upper.isna() | atr_prev.isna()
    return _finish(np.tanh(excess / scale), conf, ~valid, warming)


def mean_reversion_ref(close, window_bars=60, vol_short_bars=60, vol_long_bars=1_440, min_periods_bars=720, z_scale=2.0, max_vol_ratio=2.0):
    px = pd.Series(close, dtype=float).where(lambda s: s > 0)
    r = np.log(px / px.shift(1))
    roll = px.rolling(window_bars, min_periods=1)
    mean, std = roll.mean(), roll.std(ddof=0).fillna(0.0)
    z = ((px - mean) / std).where(std > 1e-12 * mean, 0.0)
    vol_short = np.sqrt((r**2).rolling(vol_short_bars, min_periods=1).mean())
    vol_long = np.sqrt((r**2).rolling(vol_long_bars, min_periods=1).mean())
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(vol_long > 0, vol_short / vol_long, np.where(vol_short == 0, 1.0, np.inf))
    conf = np.clip((max_vol_ratio - ratio) / (max_vol_ratio - 1.0), 0.0, 1.0)
    warming = (
        (_count(px, window_bars) < window_bars)
        | (_count(r, vol_short_bars) < vol_short_bars // 2)
        | (_count(r, vol_long_bars) < min_periods_bars)
    )
    return _finish(-np.tanh(z / z_scale), conf, px.isna(), warming)


def fear_greed_ref(value, fear_below=25.0, greed_above=75.0):
    v = np.asarray(value, dtype=float)
    with np.errstate(invalid="ignore"):
        missing = np.isnan(v) | (v < 0) | (v > 100)
        score = np.select([v < fear_below, v > greed_above], [(fear_below - v) / fear_below, -(v - greed_above) / (100 - greed_above)], 0.0)
    return _finish(score, np.ones_like(v), missing, np.zeros_like(missing))


def social_sentiment_ref(mentions, tone, span_fast_bars=360, span_slow_bars=1_440, tone_gain=4.0, mention_gain=1.0):
    m, u = pd.Series(mentions, dtype=float), pd.Series(tone, dtype=float)
    missing = m.isna() | u.isna() | (m < 0) | (u.abs() > 1)
    m, u = m.where(~missing), u.where(~missing)
    m_fast, m_slow = _ema(m, span_fast_bars), _ema(m, span_slow_bars)
    u_fast, u_slow = _ema(u, span_fast_bars), _ema(u, span_slow_bars)
    attention = np.log((m_fast + 1) / (m_slow + 1))
    score = np.tanh(tone_gain * (u_fast - u_slow) + mention_gain * attention * u_fast)
    conf = np.minimum(1.0, (m_fast + 1) / (m_slow + 1))
    return _finish(score, conf, missing, (~missing).cumsum() < span_slow_bars)


def aggregate_ref(score, conf, status, weights, required, min_live_signals=5):
    """``(n, m, k)`` signal arrays -> conviction, direction, tradable, n_live (each ``(n, m)``)."""
    live = status == S.ok
    w = np.where(live, np.asarray(weights, dtype=float), 0.0)
    den = w.sum(axis=-1)
    num = (w * conf * score).sum(axis=-1)
    value = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    n_live = live.sum(axis=-1)
    required_ok = ~(~live & np.asarray(required, dtype=bool)).any(axis=-1)
    return np.minimum(np.abs(value), 1.0), np.sign(value).astype(np.int8), required_ok & (n_live >= min_live_signals), n_live
