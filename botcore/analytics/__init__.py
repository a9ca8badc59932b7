"""Analytics over the ledger: performance metrics, the decision trail, red flags (reports: :mod:`botcore.reports`).

The metrics in :mod:`botcore.analytics.metrics` are the only implementation
of return, profit factor, win rate, expectancy, Sharpe, Sortino, drawdown,
fees, funding, exposure and trades per day: the backtest summary, the 7-day
review and the learning cycle all call :func:`summary`, so their numbers
agree by construction.

Modules
-------
``metrics``  pure metric functions, :func:`summary`, :func:`verdict`, :func:`breakdown`
``trail``    decision rows read back: gate blocks, entry context of trades, Kelly calibration
``flags``    red flags of a window (Kelly zero, heartbeats, invariant, breakers, kill switch, reconciliation, outages)
``ledger_index``  indexed read-only look-ups (window bounds, cycles) so reports read only their window
``kelly``    Kelly fraction from trade memory with bootstrap confidence intervals
``plots``    matplotlib figures of the reports
``demo``     a SYNTHETIC demo ledger for notebooks and tests
"""

from botcore.analytics.metrics import (
    breakdown,
    daily_returns,
    expectancy,
    exposure,
    max_drawdown,
    profit_factor,
    sharpe_ratio,
    sortino_ratio,
    summary,
    trades_per_day,
    verdict,
    win_rate,
)

__all__ = [
    "breakdown", "daily_returns", "expectancy", "exposure", "max_drawdown", "profit_factor", "sharpe_ratio",
    "sortino_ratio", "summary", "trades_per_day", "verdict", "win_rate",
]
