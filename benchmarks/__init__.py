"""Benchmarks: performance as ratios against peers, measured in one run.

Run one with ``python -m benchmarks NAME`` (``python -m benchmarks`` lists them).
Each benchmark is a module ``benchmarks/NAME.py`` with a ``main(argv)`` function.
Benchmarks are never timed assertions in the test suite.
"""
