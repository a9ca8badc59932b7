"""Numba kernels of the synthetic sample market.

Contract: float64 arrays in, arrays out; 2-D arrays are (time, symbol) with one
column per symbol and one row per 1-minute step; no I/O, clock, logging or
random draws inside a kernel (all noise is drawn by the caller from one seeded
generator, so a seed fixes the market). Returns are log returns per minute;
money amounts are USD; no NaN is produced or accepted.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit


class PathParams(NamedTuple):
    """Parameters of :func:`simulate_paths_nb` (all per 1-minute step)."""

    garch_alpha: float = 0.05  # weight of the last squared standardized return
    garch_beta: float = 0.90  # persistence of the conditional variance
    liq_base: float = 2e-6  # background liquidations per minute, fraction of open interest
    liq_z: float = 3.0  # |standardized return| above which a liquidation cascade starts
    liq_frac: float = 1.5e-3  # cascade liquidations per unit excess^1.5, fraction of open interest
    cascade_feedback: float = 0.25  # next-minute drift per unit cascade, in units of sigma
    cascade_decay: float = 0.3  # per-minute decay of the cascade drift
    oi_mean_reversion: float = 2e-4  # pull of log open interest back to its level
    oi_flow: float = 4e-4  # log-OI change per unit (|imbalance| - 0.3): aggressive flow opens positions
    oi_noise: float = 3e-4  # log-OI noise per minute


class Paths(NamedTuple):
    """Outputs of :func:`simulate_paths_nb`, each (n_minutes, n_symbols)."""

    log_return: np.ndarray
    sigma: np.ndarray
    long_liq_usd: np.ndarray
    short_liq_usd: np.ndarray
    oi_usd: np.ndarray


@njit(cache=True)
def ar1_1d_nb(noise: np.ndarray, phi: float) -> np.ndarray:
    """Return y with ``y[t] = phi * y[t-1] + noise[t]`` and ``y[-1] = 0``."""
    out = np.empty_like(noise)
    y = 0.0
    for t in range(noise.shape[0]):
        y = phi * y + noise[t]
        out[t] = y
    return out


@njit(cache=True)
def ar1_nb(noise: np.ndarray, phi: float) -> np.ndarray:
    """2-D :func:`ar1_1d_nb`, column by column."""
    out = np.empty_like(noise)
    for j in range(noise.shape[1]):
        out[:, j] = ar1_1d_nb(noise[:, j], phi)
    return out


@njit(cache=True)
def fgn_autocov_1d_nb(hurst: float, n: int) -> np.ndarray:
    """Return the autocovariance of unit-variance fractional Gaussian noise at lags 0..n-1."""
    out = np.empty(n)
    h2 = 2.0 * hurst
    for k in range(n):
        out[k] = 0.5 * (abs(k + 1.0) ** h2 - 2.0 * abs(float(k)) ** h2 + abs(k - 1.0) ** h2)
    return out


@njit(cache=True)
def simulate_paths_1d_nb(
    x: np.ndarray,
    vol_base: np.ndarray,
    imbalance: np.ndarray,
    oi_noise: np.ndarray,
    liq_noise_long: np.ndarray,
    liq_noise_short: np.ndarray,
    oi0_usd: float,
    p: PathParams,
    out_ret: np.ndarray,
    out_sigma: np.ndarray,
    out_long: np.ndarray,
    out_short: np.ndarray,
    out_oi: np.ndarray,
) -> None:
    """Simulate one symbol minute by minute, writing into the ``out_*`` arrays.

    The log return is ``sigma * x + cascade``: ``x`` is the unit-variance
    (fractional Gaussian) innovation, ``sigma`` is ``vol_base`` times a
    GARCH(1,1) factor with mean 1, and ``cascade`` is the decaying drift that
    the previous minutes' liquidation cascades add in their direction (long
    liquidations sell). Liquidations grow with the size of the move against
    each side; open interest follows price, grows with aggressive taker flow
    (``|imbalance|``) and drops by the liquidations.
    """
    h = 1.0
    cascade = 0.0
    dev = 0.0
    price_factor = 1.0
    oi = oi0_usd
    omega = 1.0 - p.garch_alpha - p.garch_beta
    for t in range(x.shape[0]):
        sig = vol_base[t] * np.sqrt(h)
        r = sig * x[t] + cascade
        z = r / sig
        long_liq = oi * p.liq_base * liq_noise_long[t] * (1.0 + max(0.0, -z)) ** 2
        short_liq = oi * p.liq_base * liq_noise_short[t] * (1.0 + max(0.0, z)) ** 2
        if z < -p.liq_z:
            long_liq += oi * p.liq_frac * (-z - p.liq_z) ** 1.5
        if z > p.liq_z:
            short_liq += oi * p.liq_frac * (z - p.liq_z) ** 1.5
        long_liq = min(long_liq, 0.05 * oi)
        short_liq = min(short_liq, 0.05 * oi)
        push = (long_liq - short_liq) / (oi * p.liq_frac)
        cascade = p.cascade_decay * cascade - p.cascade_feedback * sig * max(-2.0, min(2.0, push))
        price_factor *= np.exp(r)
        dev = (
            dev * (1.0 - p.oi_mean_reversion)
            + p.oi_flow * (abs(imbalance[t]) - 0.3)
            + p.oi_noise * oi_noise[t]
            - (long_liq + short_liq) / oi
        )
        oi = oi0_usd * price_factor * np.exp(dev)
        h = omega + p.garch_alpha * min(z * z, 16.0) * h + p.garch_beta * h
        out_ret[t] = r
        out_sigma[t] = sig
        out_long[t] = long_liq
        out_short[t] = short_liq
        out_oi[t] = oi


@njit(cache=True)
def simulate_paths_nb(
    x: np.ndarray,
    vol_base: np.ndarray,
    imbalance: np.ndarray,
    oi_noise: np.ndarray,
    liq_noise_long: np.ndarray,
    liq_noise_short: np.ndarray,
    oi0_usd: np.ndarray,
    p: PathParams,
) -> Paths:
    """2-D :func:`simulate_paths_1d_nb`: inputs (n_minutes, n_symbols), ``oi0_usd`` (n_symbols,)."""
    n, k = x.shape
    ret = np.empty((n, k))
    sigma = np.empty((n, k))
    long_liq = np.empty((n, k))
    short_liq = np.empty((n, k))
    oi = np.empty((n, k))
    for j in range(k):
        simulate_paths_1d_nb(
            x[:, j], vol_base[:, j], imbalance[:, j], oi_noise[:, j], liq_noise_long[:, j], liq_noise_short[:, j],
            oi0_usd[j], p, ret[:, j], sigma[:, j], long_liq[:, j], short_liq[:, j], oi[:, j],
        )
    return Paths(ret, sigma, long_liq, short_liq, oi)


@njit(cache=True)
def lead_1d_nb(x: np.ndarray, horizon: int, decay: float) -> np.ndarray:
    """Return ``sum_{i=1..horizon} decay^(i-1) x[t+i]`` normalised to unit variance for white ``x``.

    Terms past the end are taken as 0. This is what an informed taker "knows"
    at minute t about the next ``horizon`` innovations.
    """
    n = x.shape[0]
    out = np.zeros(n)
    norm = 0.0
    for i in range(horizon):
        norm += decay ** (2 * i)
    norm = np.sqrt(norm)
    for t in range(n):
        acc = 0.0
        w = 1.0
        for i in range(1, horizon + 1):
            if t + i < n:
                acc += w * x[t + i]
            w *= decay
        out[t] = acc / norm
    return out


@njit(cache=True)
def lead_nb(x: np.ndarray, horizon: int, decay: float) -> np.ndarray:
    """2-D :func:`lead_1d_nb`, column by column."""
    out = np.empty_like(x)
    for j in range(x.shape[1]):
        out[:, j] = lead_1d_nb(x[:, j], horizon, decay)
    return out


@njit(cache=True)
def ema_1d_nb(x: np.ndarray, alpha: float) -> np.ndarray:
    """Return the EMA ``y[t] = (1 - alpha) * y[t-1] + alpha * x[t]`` with ``y[-1] = 0``."""
    out = np.empty_like(x)
    y = 0.0
    for t in range(x.shape[0]):
        y = (1.0 - alpha) * y + alpha * x[t]
        out[t] = y
    return out
