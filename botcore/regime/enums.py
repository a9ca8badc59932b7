"""Regime codes shared by the regime kernels and ``decide``."""

from __future__ import annotations

from typing import NamedTuple

from botcore.config.models import REGIME_NAMES


class RegimeCode(NamedTuple):
    unknown: int = -1      # warming up or no data
    trending: int = 0
    mean_reverting: int = 1
    random: int = 2


Regimes = RegimeCode()
assert tuple(RegimeCode._fields[1:]) == REGIME_NAMES
REGIME_LABELS = {v: k for k, v in Regimes._asdict().items()}


class HurstParams(NamedTuple):
    """Trailing arguments of :func:`botcore.regime.nb.rolling_hurst_nb`, in order."""

    window_bars: int = 256       # returns in the rolling window (config: regime.window)
    min_chunk_bars: int = 8      # smallest R/S chunk; sizes double up to window_bars // 2
    stride_bars: int = 16        # recompute every stride_bars bars, hold in between
    offset_bars: int = 0         # update when (t + offset_bars) % stride_bars == 0
    min_coverage: float = 0.95   # share of valid returns the window needs
    ddof: int = 0                # R/S standard deviation ddof


class ClassifierParams(NamedTuple):
    """Trailing arguments of :func:`botcore.regime.nb.classify_regime_nb`, in order (thresholds from config)."""

    trending_above: float = 0.55
    mean_reverting_below: float = 0.45
    hysteresis: float = 0.02
    smooth_span_bars: int = 720   # EMA of H before classifying (1 = none)
