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

    garch_alpha: float = 0.06  # weight of the last squared standardized return
    garch_beta: float = 0.92  # persistence of the conditional variance
    imb_rho: float = 0.85  # AR(1) coefficient of the latent taker imbalance
    imb_sigma: float = 0.35  # innovation scale of the latent taker imbalance
    flow_alpha: float = 0.35  # EMA weight of the taker imbalance that drives the next returns
    flow_kappa: float = 0.45  # drift per unit EMA imbalance, in units of sigma (the lead)
    impact_gamma: float = 0.15  # same-minute price impact per unit imbalance, in units of sigma
    liq_base: float = 2e-6  # background liquidations per minute, fraction of open interest
    liq_z: float = 2.5  # |standardized return| above which a liquidation cascade starts
    liq_frac: float = 1.5e-3  # cascade liquidations per unit excess^1.5, fraction of open interest
    cascade_feedback: float = 0.6  # next-minute drift per unit cascade, in units of sigma
    cascade_decay: float = 0.5  # per-minute decay of the cascade drift
    oi_mean_reversion: float = 2e-4  # pull of log open interest back to its level
    oi_flow: float = 4e-4  # log-OI change per unit (|imbalance| - 0.3): aggressive flow opens positions
    oi_noise: float = 3e-4  # log-OI noise per minute


class Paths(NamedTuple):
    """Outputs of :func:`simulate_paths_nb`, each (n_minutes, n_symbols)."""

    log_return: np.ndarray
    sigma: np.ndarray
    imbalance: np.ndarray
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
    imb_noise: np.ndarray,
    oi_noise: np.ndarray,
    liq_noise_long: np.ndarray,
    liq_noise_short: np.ndarray,
    oi0_usd: float,
    p: PathParams,
    out_ret: np.ndarray,
    out_sigma: np.ndarray,
    out_imb: np.ndarray,
    out_long: np.ndarray,
    out_short: np.ndarray,
    out_oi: np.ndarray,
) -> None:
    """Simulate one symbol minute by minute, writing into the ``out_*`` arrays.

    The log return is ``sigma * (x + kappa * flow + gamma * imb) + cascade``:
    ``x`` is the unit-variance (fractional Gaussian) innovation, ``sigma`` is
    ``vol_base`` times a GARCH(1,1) factor with mean 1, ``flow`` is an EMA of
    the taker imbalance up to the PREVIOUS minute (so imbalance leads returns)
    and ``cascade`` is the decaying drift that liquidations of the previous
    minute add in their direction (long liquidations sell). Open interest
    follows price, grows with aggressive flow and drops by the liquidations.
    """
    h = 1.0
    latent = 0.0
    flow = 0.0
    cascade = 0.0
    dev = 0.0
    price_factor = 1.0
    oi = oi0_usd
    omega = 1.0 - p.garch_alpha - p.garch_beta
    for t in range(x.shape[0]):
        latent = p.imb_rho * latent + p.imb_sigma * imb_noise[t]
        imb = np.tanh(latent)
        sig = vol_base[t] * np.sqrt(h)
        r = sig * (x[t] + p.flow_kappa * flow + p.impact_gamma * imb) + cascade
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
        cascade = p.cascade_decay * cascade - p.cascade_feedback * sig * max(-3.0, min(3.0, push))
        price_factor *= np.exp(r)
        dev = (
            dev * (1.0 - p.oi_mean_reversion)
            + p.oi_flow * (abs(imb) - 0.3)
            + p.oi_noise * oi_noise[t]
            - (long_liq + short_liq) / oi
        )
        oi = oi0_usd * price_factor * np.exp(dev)
        h = omega + p.garch_alpha * min(z * z, 25.0) * h + p.garch_beta * h
        flow = (1.0 - p.flow_alpha) * flow + p.flow_alpha * imb
        out_ret[t] = r
        out_sigma[t] = sig
        out_imb[t] = imb
        out_long[t] = long_liq
        out_short[t] = short_liq
        out_oi[t] = oi


@njit(cache=True)
def simulate_paths_nb(
    x: np.ndarray,
    vol_base: np.ndarray,
    imb_noise: np.ndarray,
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
    imb = np.empty((n, k))
    long_liq = np.empty((n, k))
    short_liq = np.empty((n, k))
    oi = np.empty((n, k))
    for j in range(k):
        simulate_paths_1d_nb(
            x[:, j], vol_base[:, j], imb_noise[:, j], oi_noise[:, j], liq_noise_long[:, j], liq_noise_short[:, j],
            oi0_usd[j], p, ret[:, j], sigma[:, j], imb[:, j], long_liq[:, j], short_liq[:, j], oi[:, j],
        )
    return Paths(ret, sigma, imb, long_liq, short_liq, oi)


@njit(cache=True)
def ema_1d_nb(x: np.ndarray, alpha: float) -> np.ndarray:
    """Return the EMA ``y[t] = (1 - alpha) * y[t-1] + alpha * x[t]`` with ``y[-1] = 0``."""
    out = np.empty_like(x)
    y = 0.0
    for t in range(x.shape[0]):
        y = (1.0 - alpha) * y + alpha * x[t]
        out[t] = y
    return out
