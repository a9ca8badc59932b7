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
