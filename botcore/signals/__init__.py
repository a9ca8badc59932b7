"""The ten signals and their aggregator.

- :mod:`botcore.signals.nb`: Numba kernels (batch 2-D/1-D, per-bar update, aggregator, as-of alignment).
- :mod:`botcore.signals.enums`: status codes, signal ids, parameter NamedTuples, input/output containers.
- :mod:`botcore.signals.engine`: batch face (load and align inputs from the store, compute, aggregate).
- :mod:`botcore.signals.incremental`: live face, one bar per symbol in O(1) per signal.
- :mod:`botcore.signals.reference`: slow pandas references (tests, benchmarks).
- :mod:`botcore.signals.analysis`: forward returns and information coefficients (research).
"""
