"""Generic Numba primitives (rolling blocks, ring buffers, deques, as-of alignment) under the signal kernels.

- :mod:`botcore.generic.nb`: the kernels; nothing of botcore is imported.
"""
