"""The signals computed from candles (trend, breakout, mean reversion).

- :mod:`botcore.signals.price.nb`: their Numba kernels.
"""
