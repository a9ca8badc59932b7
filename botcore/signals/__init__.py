"""The ten signals and their aggregator.

- :mod:`botcore.signals.nb`: Numba kernels (batch 2-D/1-D, per-bar update) of the five derivatives and order-flow
  signals, the aggregator and the stacking; :mod:`botcore.signals.price.nb` those of the three candle signals,
  :mod:`botcore.signals.sentiment.nb` those of the two sentiment signals (the rolling blocks under them and the
  as-of alignment are in :mod:`botcore.generic.nb`).
- :mod:`botcore.signals.enums`: status codes, signal ids, parameter NamedTuples, input/output containers.
- :mod:`botcore.signals.engine`: batch face (load and align inputs from the store, compute, aggregate).
- :mod:`botcore.signals.incremental`: live face, one bar per symbol in O(1) per signal.
- :mod:`botcore.signals.reference`: slow pandas references (tests, benchmarks).
- :mod:`botcore.signals.analysis`: forward returns and information coefficients (research).
"""
