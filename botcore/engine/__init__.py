"""The engine: one compiled decision step driven by three clocks (backtest, paper replay, live).

Public API
----------
:func:`run_backtest` (:mod:`botcore.engine.backtest`)
    Every bar of every symbol of a stored window through the compiled step and
    the compiled paper venue, into a ledger of the live schema and a summary.
:class:`TradingLoop`, :func:`replay_loop` (:mod:`botcore.engine.loop`)
    Cycle by cycle: feed → bar row → ``Engine.cycle`` → venue → one ledger
    transaction; ``replay_loop`` builds a paper replay warmed up like the backtest.
:class:`Engine` (:mod:`botcore.engine.state`)
    The compiled step with its configuration and state: ``warm_up``, ``cycle``
    (advance + decide → intents), ``apply_fill`` / ``apply_funding`` (the venue's
    reports), ``mark`` (equity as the ledger computes it).
:func:`load_rows`, :func:`row_from_cycle`, :func:`iter_chunks` (:mod:`botcore.engine.inputs`)
    The per-bar input row from a store window or from a replayed ``Cycle``; identical bar for bar.
:func:`ledger_summary`, :func:`summary_table`, :func:`write_summary` (:mod:`botcore.engine.report`)
    The run summary from the ledger through :func:`botcore.analytics.metrics.summary`.
:mod:`botcore.engine.nb`
    The kernels: ``advance_nb``, ``decide_step_nb``, ``cycle_nb``, ``apply_fill_nb``,
    ``apply_funding_nb``, ``venue_update_nb``, ``venue_submit_nb``, ``equity_nb``, ``run_bars_nb``.
:mod:`botcore.engine.features_nb`
    Feature step kernels (daily volatility, volume ratio, multi-timeframe trend) with
    a pandas reference in :mod:`botcore.engine.reference`.

How parity holds: both clocks feed the same bar rows (the store and the replay
feed apply one known-at and staleness rule) to the same compiled functions;
the paper venue and the compiled venue run the same fill-model kernels in the
same order; the kernel's accounting replicates :class:`botcore.model.Position`
so its cash and trade returns equal the ledger's bit for bit; both book their
records through the same ledger calls with deterministic client order ids.
"""

from botcore.clock import SimClock, WallClock
from botcore.engine.backtest import BacktestResult, Window, resolve_window, restrict_settings, run_backtest
from botcore.engine.inputs import iter_chunks, load_rows, row_from_cycle
from botcore.engine.loop import StepReport, TradingLoop, replay_loop
from botcore.engine.report import ledger_summary, summary_table, write_summary
from botcore.engine.state import Engine

__all__ = [
    "BacktestResult", "Engine", "SimClock", "StepReport", "TradingLoop", "WallClock", "Window", "iter_chunks",
    "ledger_summary", "load_rows", "replay_loop", "resolve_window", "restrict_settings", "row_from_cycle",
    "run_backtest", "summary_table", "write_summary",
]
