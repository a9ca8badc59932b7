"""Research helpers over signal outputs: forward returns and information coefficients.

Plain pandas (not a kernel): used by ``notebooks/research/signals.ipynb``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from botcore.config.models import SIGNAL_NAMES
from botcore.signals.enums import SignalStatuses

__all__ = ["forward_log_returns", "information_coefficients"]


def forward_log_returns(close: np.ndarray, horizon_bars: int) -> np.ndarray:
    """Return ``log(close[t + h] / close[t])`` for ``(n, m)`` closes; NaN where the future is unknown or missing."""
    c = np.asarray(close, dtype=np.float64)
    out = np.full_like(c, np.nan)
    if horizon_bars < len(c):
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:-horizon_bars] = np.log(c[horizon_bars:] / c[:-horizon_bars])
    return out


def information_coefficients(
    score: np.ndarray,
    status: np.ndarray,
    close: np.ndarray,
    horizons_bars: Sequence[int],
    min_observations: int = 30,
) -> pd.DataFrame:
    """Spearman rank correlation of each signal's score with forward log returns, pooled over symbols.

    Only bars with status OK and a known forward return count; a cell with
    fewer than ``min_observations`` pairs (or a constant score) is NaN.

    Returns
    -------
    DataFrame
        Index the signal names, columns the horizons in bars, plus ``n_ok``
        (the OK bars of each signal).
    """
    table = pd.DataFrame(index=list(SIGNAL_NAMES), columns=list(horizons_bars), dtype=float)
    ok = np.asarray(status) == SignalStatuses.ok
    for h in horizons_bars:
        fwd = forward_log_returns(close, h)
        for k, name in enumerate(SIGNAL_NAMES):
            mask = ok[:, :, k] & np.isfinite(fwd)
            s, r = score[:, :, k][mask], fwd[mask]
            if len(s) >= min_observations and np.ptp(s) > 0:
                table.loc[name, h] = pd.Series(s).corr(pd.Series(r), method="spearman")
    table["n_ok"] = ok.sum(axis=(0, 1))
    return table
