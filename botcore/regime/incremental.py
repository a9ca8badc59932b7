"""Incremental regime for the live loop: one close per symbol per bar.

A ring buffer of the last ``window_bars`` log returns per symbol; the R/S-AL
estimate is recomputed from it every ``stride_bars`` bars, an O(window)
update (O(1) on the other bars), and classified with the same hysteresis
state machine as the batch kernels, so the numbers equal
:func:`botcore.regime.engine.compute_regime` on the same bars when the
offset (clock phase) is the same.
"""

from __future__ import annotations

import numpy as np

from botcore.config.models import Regime
from botcore.regime import nb
from botcore.regime.engine import classifier_params, hurst_params, rs_al_calibration
from botcore.regime.enums import ClassifierParams, HurstParams

__all__ = ["IncrementalRegime"]


class IncrementalRegime:
    """Rolling Hurst and regime state for ``n_symbols`` symbols.

    ``first_ts_ms`` (the open of the first bar fed) sets the update phase
    exactly as :func:`~botcore.regime.engine.compute_regime` does.
    """

    def __init__(
        self,
        n_symbols: int,
        regime: Regime,
        first_ts_ms: int = 0,
        params: HurstParams | None = None,
        classifier: ClassifierParams | None = None,
        bar_ms: int = 60_000,
    ) -> None:
        p = params or hurst_params(regime)
        self.params = p._replace(offset_bars=int((first_ts_ms // bar_ms) % p.stride_bars))
        self.classifier = classifier or classifier_params(regime)
        self.sizes = nb.chunk_sizes_nb(p.window_bars, p.min_chunk_bars)
        self.calibration = rs_al_calibration(p.window_bars, p.min_chunk_bars, p.ddof)
        self.state, self.cstate = nb.regime_new_state_nb(n_symbols, p.window_bars)
        self.n_symbols = n_symbols

    def update(self, close: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Consume one close per symbol; return ``(hurst, hurst_smooth, regime)``, each ``(n_symbols,)``."""
        c = np.ascontiguousarray(close, dtype=np.float64)
        if c.shape != (self.n_symbols,):
            raise ValueError(f"close: expected ({self.n_symbols},), got {c.shape}")
        p = self.params
        return nb.regime_update_nb(
            self.state, self.cstate, c, self.sizes, self.calibration.raw, self.calibration.true,
            p.window_bars, p.stride_bars, p.offset_bars, p.min_coverage, p.ddof, *self.classifier,
        )
