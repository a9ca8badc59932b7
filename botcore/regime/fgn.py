"""Exact fractional Gaussian noise by circulant embedding (Davies-Harte).

Fractional Gaussian noise (fGn) with Hurst exponent ``H`` is the stationary
Gaussian sequence with autocovariance

    gamma(k) = sigma**2 / 2 * (|k + 1|**(2H) - 2 |k|**(2H) + |k - 1|**(2H)).

Its cumulative sum is fractional Brownian motion (fBm). ``H = 0.5`` is white
noise, ``H > 0.5`` is persistent (trending), ``H < 0.5`` anti-persistent
(mean-reverting).

Davies & Harte (1987): embed the ``n x n`` Toeplitz covariance in a circulant
matrix of size ``2n``, whose eigenvalues are the FFT of its first row. For fGn
they are non-negative for every ``H`` in (0, 1) (Craigmile 2003), so the
method is exact, not an approximation, and costs O(n log n).

Used by the regime tests, the sample market and the research notebooks.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fgn_autocovariance", "fgn", "fbm"]


def fgn_autocovariance(lags: np.ndarray, hurst: float, sigma: float = 1.0) -> np.ndarray:
    """Return the autocovariance of fGn at integer ``lags``."""
    k = np.abs(np.asarray(lags, dtype=np.float64))
    two_h = 2.0 * hurst
    return 0.5 * sigma**2 * (np.abs(k + 1.0) ** two_h - 2.0 * k**two_h + np.abs(k - 1.0) ** two_h)


def fgn(
    n: int,
    hurst: float,
    n_series: int | None = None,
    sigma: float = 1.0,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Draw exact fractional Gaussian noise.

    Parameters
    ----------
    n : int
        Points per series (>= 1).
    hurst : float
        Hurst exponent in (0, 1).
    n_series : int, optional
        Independent series to draw; ``None`` returns one 1-D series.
    sigma : float
        Standard deviation of each increment.
    rng : numpy Generator or seed, optional
        Source of randomness (deterministic for a seed).

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)`` or ``(n_series, n)``.
    """
    if n < 1:
        raise ValueError(f"n: must be >= 1, got {n}")
    if not 0.0 < hurst < 1.0:
        raise ValueError(f"hurst: must lie in (0, 1), got {hurst}")
    if sigma < 0:
        raise ValueError(f"sigma: must be >= 0, got {sigma}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    count = 1 if n_series is None else int(n_series)
    # first row of the 2n circulant: gamma(0..n), gamma(n-1..1)
    gamma = fgn_autocovariance(np.arange(n + 1), hurst, 1.0)
    row = np.concatenate([gamma, gamma[-2:0:-1]])
    m = row.size  # 2n
    eig = np.fft.fft(row).real
    if eig.min() < -1e-10 * eig.max():
        raise ArithmeticError(f"circulant embedding not non-negative for H={hurst}, n={n}")
    eig = np.clip(eig, 0.0, None)
    z = gen.standard_normal((count, m)) + 1j * gen.standard_normal((count, m))
    x = np.fft.fft(np.sqrt(eig / m) * z, axis=1).real[:, :n]
    x *= sigma
    return x[0] if n_series is None else x


def fbm(
    n: int,
    hurst: float,
    n_series: int | None = None,
    sigma: float = 1.0,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Draw fractional Brownian motion: the cumulative sum of :func:`fgn` (starting after the first step)."""
    return np.cumsum(fgn(n, hurst, n_series, sigma, rng), axis=-1)
