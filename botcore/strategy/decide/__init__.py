"""One decision cycle and the state updates after fills.

- :mod:`botcore.strategy.decide.nb`: their Numba kernels (``decide_nb``, ``apply_fill_nb``, ...).
"""
