"""The sentiment signals (fear & greed, social sentiment).

- :mod:`botcore.signals.sentiment.nb`: their Numba kernels.
"""
