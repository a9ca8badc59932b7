"""Constructors of the kernel's state and inputs, and the Python face of ``decide``.

The backtest and live loop preallocate with these helpers and call
:func:`botcore.strategy.decide.nb.decide_nb` directly (from njit code or Python);
:func:`decide` is the convenience face that allocates the outputs and returns
them trimmed, and :func:`trail_frame` renders a trail for people.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from botcore.config.models import SECTORS, STRATEGY_NAMES, Settings
from botcore.strategy.decide.nb import decide_nb
from botcore.strategy.enums import (
    N_SIGNALS,
    N_STRATEGIES,
    Features,
    KillSwitch,
    SignalsIn,
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


def new_positions(sector_ids: Sequence[int]) -> np.ndarray:
    """Return a flat book: one ``position_dt`` row per symbol with its sector id."""
    positions = np.zeros(len(sector_ids), dtype=position_dt)
    positions["sector_id"] = np.asarray(sector_ids, dtype=np.int64)
    for name in ("entry_price", "stop_price", "high_water_price", "low_water_price"):
        positions[name] = np.nan
    positions["entry_ts_ms"] = -1
    positions["strategy_id"] = -1
    return positions


def positions_for(settings: Settings) -> np.ndarray:
    """Return a flat book for the enabled symbols of the universe, in ``universe.symbols`` order."""
    return new_positions([SECTORS.index(a.sector) for a in settings.universe.enabled])


def new_portfolio(equity_usd: float, now_ms: int = -1) -> np.ndarray:
    """Return a ``portfolio_dt[1]`` with all references at ``equity_usd`` (session starting now)."""
    portfolio = np.zeros(1, dtype=portfolio_dt)
    for name in ("equity_usd", "cash_usd", "peak_equity_usd", "session_start_equity_usd", "day_start_equity_usd"):
        portfolio[name] = equity_usd
    portfolio["day_start_ts_ms"] = (now_ms // 86_400_000) * 86_400_000 if now_ms >= 0 else -1
    portfolio["breaker_until_ms"] = -1
    portfolio["last_entry_ts_ms"] = -1
    return portfolio


def new_memory(params: np.ndarray) -> np.ndarray:
    """Return an empty ``memory_dt[S]`` with the bandit at its prior."""
    memory = np.zeros(N_STRATEGIES, dtype=memory_dt)
    memory["bandit_alpha"] = params[0]["prior_alpha"]
    memory["bandit_beta"] = params[0]["prior_beta"]
    return memory


def new_features(n: int, n_timeframes: int = 3) -> Features:
    """Return all-missing features for ``n`` symbols (NaN, trend 0)."""
    nan = lambda: np.full(n, np.nan)  # noqa: E731
    return Features(
        price=nan(), mark_price=nan(), best_bid=nan(), best_ask=nan(), volatility_daily=nan(),
        funding_rate=nan(), volume_ratio=nan(), trend_dir=np.zeros((n, n_timeframes), dtype=np.int8),
        contract_size=nan(), min_contracts=nan(), contract_step=nan(),
    )


def features_contracts_from(settings: Settings, features: Features) -> Features:
    """Fill the contract specs of ``features`` from the universe (in place) and return it."""
    assets = settings.universe.enabled
    features.contract_size[:] = [a.contract_size for a in assets]
    features.min_contracts[:] = [a.min_contracts for a in assets]
    features.contract_step[:] = [a.contract_step for a in assets]
    return features


def new_signals(n: int) -> SignalsIn:
    """Return signals for ``n`` symbols with every signal in DATA_OUTAGE and no direction."""
    return SignalsIn(
        score=np.zeros((n, N_SIGNALS)), confidence=np.zeros((n, N_SIGNALS)),
        status=np.full((n, N_SIGNALS), 2, dtype=np.int8), conviction=np.zeros(n),
        direction=np.zeros(n, dtype=np.int8), tradable=np.zeros(n, dtype=np.bool_),
        n_live=np.zeros(n, dtype=np.int64),
    )


def engage_kill_switch(portfolio: np.ndarray, params: np.ndarray, action: int | None = None) -> None:
    """Engage the kill switch with ``action`` (default: the configured one)."""
    portfolio["kill_switch"] = params[0]["kill_switch_action"] if action is None else action


def release_kill_switch(portfolio: np.ndarray) -> None:
    """Release the kill switch."""
    portfolio["kill_switch"] = KillSwitch.off


_FLOAT_FEATURES = tuple(f for f in Features._fields if f != "trend_dir")


def check_inputs(positions: np.ndarray, portfolio: np.ndarray, memory: np.ndarray, features: Features,
                 signals: SignalsIn, regime: np.ndarray, params: np.ndarray) -> None:
    """Validate the kernel's inputs (the kernel itself does no bounds checks).

    Cheap enough to run every live cycle (tens of microseconds); a backtest
    checks its arrays once before its compiled loop.

    Raises
    ------
    ValueError
        Naming the field whose dtype or shape is wrong.
    """
    for name, arr, dt in zip(("positions", "portfolio", "memory", "params"), (positions, portfolio, memory, params),
                             (position_dt, portfolio_dt, memory_dt, params_dt)):
        if not isinstance(arr, np.ndarray) or (arr.dtype is not dt and arr.dtype != dt) or arr.ndim != 1:
            raise ValueError(f"decide input {name}: must be a 1-D {name} record array ({dt})")
    n = positions.shape[0]
    if portfolio.shape[0] != 1 or params.shape[0] != 1:
        raise ValueError("decide input portfolio/params: must have shape (1,)")
    if memory.shape[0] != N_STRATEGIES:
        raise ValueError(f"decide input memory: must have shape ({N_STRATEGIES},)")
    if not isinstance(features, Features) or not isinstance(signals, SignalsIn):
        raise ValueError("decide input features/signals: must be Features and SignalsIn NamedTuples")
    for name in _FLOAT_FEATURES:
        arr = getattr(features, name)
        if not isinstance(arr, np.ndarray) or arr.shape != (n,) or arr.dtype.kind != "f":
            raise ValueError(f"decide input features.{name}: must be a float array of shape ({n},)")
    trend = features.trend_dir
    if not isinstance(trend, np.ndarray) or trend.ndim != 2 or trend.shape[0] != n or trend.dtype.kind != "i":
        raise ValueError(f"decide input features.trend_dir: must be an int array of shape ({n}, T)")
    for name in ("score", "confidence", "status"):
        arr = getattr(signals, name)
        if not isinstance(arr, np.ndarray) or arr.shape != (n, N_SIGNALS):
            raise ValueError(f"decide input signals.{name}: must have shape ({n}, {N_SIGNALS})")
    for name in ("conviction", "direction", "tradable", "n_live"):
        arr = getattr(signals, name)
        if not isinstance(arr, np.ndarray) or arr.shape != (n,):
            raise ValueError(f"decide input signals.{name}: must have shape ({n},)")
    if signals.status.dtype.kind not in "iu" or signals.direction.dtype.kind != "i" or (
        signals.n_live.dtype.kind not in "iu"
    ):
        raise ValueError("decide input signals.status/direction/n_live: must be integer arrays")
    if signals.tradable.dtype != np.bool_:
        raise ValueError("decide input signals.tradable: must be a bool array")
    if not isinstance(regime, np.ndarray) or regime.shape != (n,) or regime.dtype.kind != "i":
        raise ValueError(f"decide input regime: must be an integer array of shape ({n},)")


class Decision(NamedTuple):
    """One cycle's decision: intents (trimmed), the per-symbol trail and the tilted allocations."""

    intents: np.ndarray
    trail: np.ndarray
    allocations: np.ndarray


def decide(now_ms: int, positions: np.ndarray, portfolio: np.ndarray, memory: np.ndarray, features: Features,
           signals: SignalsIn, regime: np.ndarray, params: np.ndarray, rng_seed: int) -> Decision:
    """Allocate outputs, run :func:`~botcore.strategy.decide.nb.decide_nb` and return a :class:`Decision`.

    ``positions`` and ``portfolio`` are updated in place exactly as by the kernel.
    """
    check_inputs(positions, portfolio, memory, features, signals, regime, params)
    n = positions.shape[0]
    intents = np.zeros(n, dtype=intent_dt)
    trail = np.zeros(n, dtype=trail_dt)
    allocations = np.zeros(N_STRATEGIES)
    k = decide_nb(int(now_ms), positions, portfolio, memory, features, signals, regime, params, int(rng_seed),
                  intents, trail, allocations)
    return Decision(intents[:k].copy(), trail, allocations)


def trail_frame(trail: np.ndarray, symbols: Sequence[str]) -> pd.DataFrame:
    """Render a trail as a DataFrame indexed by symbol with readable reasons."""
    df = pd.DataFrame(trail)
    df.index = pd.Index([symbols[i] for i in trail["symbol_idx"]], name="symbol")
    df["outcome_name"] = [reason_name(c) for c in trail["outcome"]]
    df["reason_name"] = [reason_name(c) for c in trail["reason"]]
    df["gates"] = [mask_names(m) for m in trail["gate_mask"]]
    df["strategy"] = [STRATEGY_NAMES[s] if 0 <= s < N_STRATEGIES else "" for s in trail["strategy_id"]]
    df["explanation"] = [
        explain(r["outcome"], r["reason"], r["gate_mask"], symbols[r["symbol_idx"]], r["strategy_id"]) for r in trail
    ]
    return df


def decision_rows(trail: np.ndarray, ts_ms: int, symbols: Sequence[str]) -> pd.DataFrame:
    """Turn a trail into rows of the ledger's ``decisions`` table.

    Columns ``ts_ms, symbol, strategy, outcome, reason_code, reason_mask, detail``
    (``strategy`` is ``""`` when none applies; ``detail`` holds direction,
    conviction, Kelly inputs, expected ROI and size, NaN as None).
    """
    def num(x: float) -> float | None:
        return None if not np.isfinite(x) else float(x)

    return pd.DataFrame(
        {
            "ts_ms": int(ts_ms),
            "symbol": [symbols[i] for i in trail["symbol_idx"]],
            "strategy": [STRATEGY_NAMES[s] if 0 <= s < N_STRATEGIES else "" for s in trail["strategy_id"]],
            "outcome": trail["outcome"].astype(np.int64),
            "reason_code": trail["reason"].astype(np.int64),
            "reason_mask": trail["gate_mask"].astype(np.int64),
            "detail": [
                {"direction": int(r["direction"]), "conviction": num(r["conviction"]), "win_prob": num(r["win_prob"]),
                 "kelly_f": num(r["kelly_f"]), "expected_roi": num(r["expected_roi"]), "size_usd": num(r["size_usd"])}
                for r in trail
            ],
        }
    )
