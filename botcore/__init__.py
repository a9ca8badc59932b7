"""botcore: the production kernel of a multi-strategy crypto perpetual-futures bot.

One decision kernel, three clocks (backtest, paper replay, live); one SQLite
ledger as the single source of truth. See README.md for the layout.
"""

__version__ = "0.1.0"
