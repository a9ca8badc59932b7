"""Research tools over the production kernels: the vectorbt bridge, the look-ahead audit, sweeps and walk-forward.

- :mod:`botcore.research.vbt` — a backtest ledger as a vectorbt ``Portfolio``; a
  signal strategy through both vectorbt and the botcore fill kernel, trade for trade;
- :mod:`botcore.research.lookahead` — recompute every bar with the input data
  truncated at that bar and flag anything that changes;
- :mod:`botcore.research.sweep` — parameter grids and walk-forward folds as
  independent backtest tasks on Dask.

Modules are imported on use (vectorbt and dask are heavy).
"""
