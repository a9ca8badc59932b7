"""The engine: one compiled decision step driven by three clocks (backtest, paper replay, live).

Work in progress: see :mod:`botcore.engine.nb` (the step), :mod:`botcore.engine.state`
(:class:`~botcore.engine.state.Engine`), :mod:`botcore.engine.inputs` (bar rows).
"""
