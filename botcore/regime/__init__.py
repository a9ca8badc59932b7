"""Hurst-exponent regime: rolling R/S-AL estimator, hysteresis classifier, strategy gating.

- :mod:`botcore.regime.nb`: Numba kernels (estimator, rolling form, classifier, per-bar update).
- :mod:`botcore.regime.enums`: regime codes and parameter NamedTuples.
- :mod:`botcore.regime.engine`: face (calibration, config, allowed matrix, pandas wrapping).
- :mod:`botcore.regime.incremental`: live face.
- :mod:`botcore.regime.fgn`: exact fractional Gaussian noise (Davies-Harte).
- :mod:`botcore.regime.reference`: slow references and the nolds / hurst packages.
"""
