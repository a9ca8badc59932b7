"""The decision kernel: strategies, gates, Kelly sizing, risk limits, exits, breakers, bandit.

One compiled function, :func:`botcore.strategy.decide.nb.decide_nb`, decides a cycle
for all symbols; the backtest calls it every bar, the live loop every cycle.
See ``botcore/strategy/README.md`` for the calling contract, the gate order,
the sizing rule (including how conviction gives bootstrap Kelly its edge) and
the reason codes; :mod:`botcore.strategy.enums` for layouts,
:mod:`botcore.strategy.params` for parameters and
:mod:`botcore.strategy.reference` for the slow, readable reference.
"""

from botcore.strategy.enums import (
    Breaker,
    Features,
    KillSwitch,
    OrderType,
    Reason,
    Side,
    SignalsIn,
    StrategyId,
    explain,
    intent_dt,
    mask_names,
    memory_dt,
    params_dt,
    portfolio_dt,
    position_dt,
    reason_name,
    trail_dt,
)
from botcore.strategy.params import build_params
from botcore.strategy.state import (
    Decision,
    decide,
    decision_rows,
    engage_kill_switch,
    new_features,
    new_memory,
    new_portfolio,
    new_positions,
    new_signals,
    positions_for,
    release_kill_switch,
    trail_frame,
)

__all__ = [
    "Breaker", "Decision", "Features", "KillSwitch", "OrderType", "Reason", "Side", "SignalsIn",
    "StrategyId", "build_params", "decide", "decision_rows", "engage_kill_switch", "explain", "intent_dt", "mask_names",
    "memory_dt", "new_features", "new_memory", "new_portfolio", "new_positions", "new_signals", "portfolio_dt",
    "params_dt", "position_dt", "positions_for", "reason_name", "release_kill_switch", "trail_dt", "trail_frame",
]
