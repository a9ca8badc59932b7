"""Slow, obvious references of the regime kernels, and the third-party estimators they are checked against.

- :func:`hurst_rs_ref`: R/S(-AL) with NumPy reshapes, chunks counted back from
  the newest value, as in :func:`botcore.regime.nb.hurst_rs_1d_nb`.
- :func:`hurst_rs_nolds`: ``nolds.hurst_rs`` on the same estimator. nolds
  cuts chunks from the *start* of the series, so it is given the window
  reversed (R/S of a chunk is invariant under reversal: the cumulative
  deviations of the reversed chunk are the negated, reversed ones, with the
  same range), least-squares fit (``fit='poly'``; nolds' default is RANSAC),
  ``corrected=True`` (its Anis-Lloyd-Peters ``expected_rs`` is the same
  formula) and ``unbiased=(ddof == 1)``.
- :func:`hurst_package_hc`: ``hurst.compute_Hc(kind='change', simplified=False)``.
  It is the *uncorrected* R/S (no Anis-Lloyd-Peters term), chunk sizes
  ``int(10**k)`` for ``k`` in ``arange(log10(10), log10(N - 1), 0.25)`` plus ``N``,
  chunks from the start and ``ddof=1``. :func:`hurst_package_sizes` returns
  those sizes so the kernel can be run on exactly that estimator
  (``corrected=False, ddof=1``, window reversed).
- :func:`rolling_hurst_ref` and :func:`classify_regime_ref`: plain loops.
"""

from __future__ import annotations

import math

import numpy as np

from botcore.regime.enums import Regimes

__all__ = [
    "expected_rs_ref",
    "hurst_rs_ref",
    "hurst_rs_nolds",
    "nolds_measures",
    "hurst_package_sizes",
    "hurst_package_hc",
    "rolling_hurst_ref",
    "classify_regime_ref",
]


def expected_rs_ref(n: int) -> float:
    """Anis-Lloyd-Peters expected (R/S)_n of white noise (Gamma functions up to n = 340)."""
    i = np.arange(1, n)
    back = np.sum(np.sqrt((n - i) / i))
    middle = math.gamma((n - 1) / 2) / (math.sqrt(math.pi) * math.gamma(n / 2)) if n <= 340 else 1 / math.sqrt(n * math.pi / 2)
    return (n - 0.5) / n * middle * back


def hurst_rs_ref(x: np.ndarray, sizes: np.ndarray, ddof: int = 0, corrected: bool = True) -> float:
    """R/S Hurst of one window, chunks counted back from the newest value."""
    x = np.asarray(x, dtype=float)
    log_n, log_rs = [], []
    for n in sizes:
        n = int(n)
        count = len(x) // n
        if n < 2 or count == 0:
            continue
        chunks = x[len(x) - count * n :].reshape(count, n)
        dev = np.cumsum(chunks - chunks.mean(axis=1, keepdims=True), axis=1)
        r = np.maximum(dev.max(axis=1), 0) - np.minimum(dev.min(axis=1), 0)
        s = chunks.std(axis=1, ddof=ddof)
        keep = (r > 0) & (s > 0)
        if keep.any():
            log_n.append(math.log(n))
            log_rs.append(math.log(np.mean(r[keep] / s[keep])) - (math.log(expected_rs_ref(n)) if corrected else 0.0))
    if len(log_n) < 2:
        return math.nan
    slope = np.polyfit(log_n, log_rs, 1)[0]
    return slope + 0.5 if corrected else slope


def nolds_measures():
    """Return ``nolds.measures``.

    nolds 0.6.3 fails to import as a package on Python 3.11 (its
    ``__init__`` loads bundled data sets through ``importlib.resources`` with
    a module that shadows its ``datasets`` folder), so the module holding the
    estimators is loaded from its file when the package import fails.
    """
    try:
        import nolds

        return nolds.measures
    except TypeError:
        import importlib.util
        import sys

        if "nolds_measures" in sys.modules:
            return sys.modules["nolds_measures"]
        spec = importlib.util.find_spec("nolds")
        path = spec.submodule_search_locations[0] + "/measures.py"  # type: ignore[union-attr,index]
        module_spec = importlib.util.spec_from_file_location("nolds_measures", path)
        module = importlib.util.module_from_spec(module_spec)  # type: ignore[arg-type]
        module_spec.loader.exec_module(module)  # type: ignore[union-attr]
        sys.modules["nolds_measures"] = module
        return module


def hurst_rs_nolds(x: np.ndarray, sizes: np.ndarray, ddof: int = 0) -> float:
    """``nolds.hurst_rs`` on the kernel's estimator (see the module docstring)."""
    return float(nolds_measures().hurst_rs(np.asarray(x)[::-1], nvals=list(int(n) for n in sizes), fit="poly", corrected=True, unbiased=ddof == 1))


def hurst_package_sizes(n: int, min_window: int = 10) -> np.ndarray:
    """The chunk sizes ``hurst.compute_Hc`` uses for a series of ``n`` values."""
    sizes = [int(10**k) for k in np.arange(math.log10(min_window), math.log10(n - 1), 0.25)]
    return np.array(sizes + [n], dtype=np.int64)


def hurst_package_hc(x: np.ndarray) -> float:
    """``hurst.compute_Hc(x, kind='change', simplified=False)`` (uncorrected R/S)."""
    import hurst

    return float(hurst.compute_Hc(np.asarray(x, dtype=float), kind="change", simplified=False)[0])


def rolling_hurst_ref(
    close: np.ndarray,
    calib_raw: np.ndarray,
    calib_true: np.ndarray,
    window_bars: int = 256,
    min_chunk_bars: int = 8,
    stride_bars: int = 16,
    offset_bars: int = 0,
    min_coverage: float = 0.95,
    ddof: int = 0,
) -> np.ndarray:
    """Plain-loop rolling Hurst of one column of closes (held between update bars)."""
    c = np.where(np.asarray(close, dtype=float) > 0, close, np.nan)
    r = np.full(len(c), np.nan)
    r[1:] = np.log(c[1:] / c[:-1])
    sizes = [min_chunk_bars * 2**k for k in range(64) if min_chunk_bars * 2**k <= window_bars // 2]
    out = np.full(len(c), np.nan)
    held = math.nan
    for t in range(len(c)):
        if t >= window_bars and (t + offset_bars) % stride_bars == 0:
            w = r[t - window_bars + 1 : t + 1]
            w = w[~np.isnan(w)]
            if len(w) >= min_coverage * window_bars:
                raw = hurst_rs_ref(w, np.array(sizes), ddof, True)
                if len(calib_raw) >= 2 and not math.isnan(raw):
                    # linear interpolation inside the table, the end segments' lines outside it
                    a = int(np.clip(np.searchsorted(calib_raw, raw) - 1, 0, len(calib_raw) - 2))
                    raw = calib_true[a] + (raw - calib_raw[a]) * (calib_true[a + 1] - calib_true[a]) / (calib_raw[a + 1] - calib_raw[a])
                    raw = min(max(raw, 0.01), 0.99)
                held = raw
            else:
                held = math.nan
        out[t] = held
    return out


def classify_regime_ref(
    hurst: np.ndarray, trending_above: float = 0.55, mean_reverting_below: float = 0.45, hysteresis: float = 0.02, smooth_span_bars: int = 720
) -> tuple[np.ndarray, np.ndarray]:
    """Plain-loop EMA smoothing and hysteresis classification of one column of H."""
    alpha = 2.0 / (smooth_span_bars + 1.0)
    smooth = np.full(len(hurst), np.nan)
    codes = np.full(len(hurst), Regimes.unknown, dtype=np.int8)
    ema, state = math.nan, Regimes.unknown
    # the band each regime keeps while H stays inside it, and the bar each must clear to be entered
    for t, h in enumerate(hurst):
        if math.isnan(h):
            ema, state = math.nan, Regimes.unknown
        else:
            ema = h if math.isnan(ema) else ema + alpha * (h - ema)
            margin = 0.0 if state == Regimes.unknown else hysteresis
            stays = (state == Regimes.trending and ema >= trending_above - hysteresis) or (
                state == Regimes.mean_reverting and ema <= mean_reverting_below + hysteresis
            )
            if not stays:
                if ema > trending_above + margin:
                    state = Regimes.trending
                elif ema < mean_reverting_below - margin:
                    state = Regimes.mean_reverting
                else:
                    state = Regimes.random
            smooth[t] = ema
        codes[t] = state
    return smooth, codes
