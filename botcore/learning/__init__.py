"""The learning system: the bot improves from its own outcomes, audited and reversible.

Every change it makes to itself is a NEW parameter version in the ledger,
with its reasons and evidence, and can be rolled back
(``botcore params rollback KIND``). Nothing moves before the burn-in (30
closed trades).

Modules
-------
``config``     :class:`LearningConfig`: every knob with its default (frozen pydantic)
``outcomes``   the bounded ``signal_outcomes`` log (:func:`record_signal_outcomes`) and the
               signal context of closed trades (log, else trail, else recomputed from the store)
``rules``      pure rules: signal attribution (rank IC), the bounded weight step, the threshold step
``cycle``      the 12-hour learning cycle (:func:`run_learning_cycle`, kind ``learning``) and
               :func:`active_overrides`, what ``decide`` must use now
``patterns``   the daily intelligence learner (walk-forward, FDR): proposals, kind ``patterns`` (inactive)
``benching``   symbol benching (kind ``benched_symbols``) and :func:`benched_mask`
``autonomy``   health score, drift (PSI, KS), capital multiplier (kind ``autonomy``)
``pipeline``   everything in order (:func:`run_learning`) and the papermill notebook run
``synthetic``  SYNTHETIC trade histories with planted truth (demo and tests)

``history``    weights and benchings over time (versions), cycles held back by the bench (trail)
The engine's side of the link (active versions and benchings per cycle, the outcome log of a step or of a
backtest batch) lives in the engine: :mod:`botcore.engine.learning_link`. Learning never imports the engine.

The engine's calls (see README.md)
----------------------------------
Each cycle, before it runs, and in its transaction after its fills::

    from botcore.engine.learning_link import LearningLink, record_step_outcomes
    link = LearningLink(ledger, settings, engine.symbols)     # once
    link.at_cycle(engine, t_ms)                               # re-applies versions when their ids change, benches
    record_step_outcomes(ledger, engine, t_ms)                # entry and close events of the cycle

Lower level: ``active_overrides(ledger, settings)`` -> ``engine.apply_parameters(weights, overrides)``;
``benched_mask(ledger, symbols, now_ms)`` -> ``engine.set_benched(mask)``.
"""

#: Where each public name lives: imported on first use (PEP 562), so importing one submodule (the review's
#: ``history``) does not load the engine and Numba through the others.
_EXPORTS = {
    "LearningConfig": "botcore.learning.config",
    "MAX_OUTCOME_ROWS": "botcore.learning.outcomes",
    "active_capital_multiplier": "botcore.learning.autonomy",
    "active_overrides": "botcore.learning.cycle",
    "assess_health": "botcore.learning.autonomy",
    "benched_mask": "botcore.learning.benching",
    "benched_symbols": "botcore.learning.benching",
    "capital_multiplier": "botcore.learning.autonomy",
    "close_row": "botcore.learning.outcomes",
    "discover_patterns": "botcore.learning.patterns",
    "drift_report": "botcore.learning.autonomy",
    "entry_row": "botcore.learning.outcomes",
    "entry_rows": "botcore.learning.outcomes",
    "evaluate_autonomy": "botcore.learning.autonomy",
    "evaluate_benching": "botcore.learning.benching",
    "learning_due": "botcore.learning.cycle",
    "load_learning_config": "botcore.learning.config",
    "psi": "botcore.learning.autonomy",
    "read_signal_outcomes": "botcore.learning.outcomes",
    "record_signal_outcomes": "botcore.learning.outcomes",
    "run_learning_cycle": "botcore.learning.cycle",
    "run_pattern_learner": "botcore.learning.patterns",
    "sizing_overrides": "botcore.learning.autonomy",
    "trade_contexts": "botcore.learning.outcomes",
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

__all__ = [
    "LearningConfig",
    "MAX_OUTCOME_ROWS",
    "active_capital_multiplier",
    "active_overrides",
    "assess_health",
    "benched_mask",
    "benched_symbols",
    "capital_multiplier",
    "close_row",
    "discover_patterns",
    "drift_report",
    "entry_row",
    "entry_rows",
    "evaluate_autonomy",
    "evaluate_benching",
    "learning_due",
    "load_learning_config",
    "psi",
    "read_signal_outcomes",
    "record_signal_outcomes",
    "run_learning_cycle",
    "run_pattern_learner",
    "sizing_overrides",
    "trade_contexts",
]
