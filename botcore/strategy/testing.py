"""Random decision cases for tests and benchmarks (kernel vs reference, properties, timing).

:func:`random_case` draws one complete input of ``decide_nb`` from a seeded
NumPy generator, deliberately visiting the edges: missing data, tripped or
near-tripping breakers, kill switches, positions at their exit thresholds,
unknown entry times, full sectors, long trade memories, benched symbols and parameter variants.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from botcore.clock import DAY_MS
from botcore.config.models import STRATEGY_NAMES, Settings
from botcore.strategy.enums import (
    MEMORY_CAPACITY,
    N_CALIB_KNOTS,
    N_SECTORS,
    N_SIGNALS,
    N_STRATEGIES,
    Features,
    SignalsIn,
)
from botcore.strategy.params import build_params
from botcore.strategy.state import new_memory, new_portfolio, new_positions

NOW_MS = 1_767_225_600_000  # 2026-01-01 00:00 UTC


class Case(NamedTuple):
    now_ms: int
    positions: np.ndarray
    portfolio: np.ndarray
    memory: np.ndarray
    features: Features
    signals: SignalsIn
    regime: np.ndarray
    params: np.ndarray
    rng_seed: int

    def copy(self) -> Case:
        """Deep copy of the mutable state (positions, portfolio, memory)."""
        return self._replace(positions=self.positions.copy(), portfolio=self.portfolio.copy(),
                             memory=self.memory.copy())


def random_params(rng: np.random.Generator, settings: Settings) -> np.ndarray:
    """Configured parameters with a random selection of variants."""
    overrides: dict[str, object] = {}
    if rng.random() < 0.2:
        overrides["entry_post_only"] = 1
    if rng.random() < 0.15:
        overrides["bandit_enabled"] = 0
    if rng.random() < 0.15:
        overrides["min_size_kelly_multiple"] = float("inf")
    if rng.random() < 0.2:
        overrides["unknown_entry_time_exit"] = 0
    if rng.random() < 0.2:
        overrides["kelly_conviction_slope"] = float(rng.uniform(0.0, 0.6))
    if rng.random() < 0.2:
        overrides["max_total_exposure_pct"] = float(rng.uniform(0.1, 1.5))
        overrides["max_leverage"] = float(rng.uniform(1.0, 2.0))
    if rng.random() < 0.15:
        overrides["min_usd"] = float(rng.uniform(20.0, 300.0))
    if rng.random() < 0.1:
        overrides["mtf_min_agree"] = int(rng.integers(0, 4))
        overrides["mtf_max_oppose"] = int(rng.integers(0, 2))
    if rng.random() < 0.1:  # one strategy disabled, its allocation moved to another
        s = int(rng.integers(N_STRATEGIES))
        names = ("sentiment_fusion", "trend_conservative", "breakout_aggressive")
        alloc = [settings.strategies.strategies[n].allocation for n in names]
        other = (s + 1) % N_STRATEGIES
        alloc[other] += alloc[s]
        alloc[s] = 0.0
        overrides[f"strategy_enabled.{names[s]}"] = 0
        for k, name in enumerate(names):
            overrides[f"allocation.{name}"] = alloc[k]
    if rng.random() < 0.5:
        overrides["burn_in_min_size"] = 0
    if rng.random() < 0.2:
        overrides["max_entries_per_day"] = int(rng.integers(0, 4))
    for name in STRATEGY_NAMES:
        if rng.random() < 0.3:  # a Kelly calibration: monotone knots, some setups without edge
            m = int(rng.integers(1, N_CALIB_KNOTS + 1))
            overrides[f"calib_conviction.{name}"] = np.sort(rng.choice(np.linspace(0.0, 1.0, 41), m, replace=False))
            overrides[f"calib_win_prob.{name}"] = np.sort(rng.uniform(0.2, 0.8, m))
            overrides[f"calib_payoff.{name}"] = float(rng.uniform(0.5, 2.5))
    return build_params(settings, overrides)


def random_case(rng: np.random.Generator, settings: Settings, n: int = 15, params: np.ndarray | None = None,
                n_timeframes: int = 3) -> Case:
    """Draw one random but plausible (and often edge-case) input of ``decide_nb``."""
    if params is None:
        params = random_params(rng, settings)
    p = params[0]
    now_ms = NOW_MS + int(rng.integers(0, 30 * DAY_MS))

    # features
    price = np.exp(rng.uniform(np.log(1e-5), np.log(1e5), n))
    contract_size = 10.0 ** rng.integers(-3, 7, n).astype(float)
    contract_size = np.where(price * contract_size > 5_000, 10.0 ** np.floor(np.log10(500 / price)), contract_size)
    spread = price * rng.uniform(0.0, 0.002, n)
    features = Features(
        price=price.copy(),
        mark_price=price * (1 + rng.normal(0, 0.0005, n)),
        best_bid=price - spread / 2,
        best_ask=price + spread / 2,
        volatility_daily=rng.uniform(0.0, 0.12, n),
        funding_rate=rng.normal(0.0001, 0.0004, n),
        volume_ratio=rng.exponential(1.2, n),
        trend_dir=rng.integers(-1, 2, (n, n_timeframes)).astype(np.int8),
        contract_size=contract_size,
        min_contracts=rng.choice([1.0, 1.0, 2.0, 0.1], n),
        contract_step=rng.choice([1.0, 1.0, 0.1, 0.01], n),
    )
    for name in ("price", "mark_price", "best_bid", "volatility_daily", "funding_rate", "volume_ratio",
                 "contract_size"):
        arr = getattr(features, name)
        arr[rng.random(n) < 0.03] = np.nan

    # signals
    direction = rng.choice(np.array([-1, 0, 1], dtype=np.int8), n, p=[0.42, 0.16, 0.42])
    status = rng.choice(np.array([0, 1, 2], dtype=np.int8), (n, N_SIGNALS), p=[0.8, 0.08, 0.12])
    score = np.clip(direction[:, None] * rng.uniform(-0.4, 1.0, (n, N_SIGNALS)), -1, 1)
    conviction = rng.uniform(0.0, 1.0, n)
    conviction[rng.random(n) < 0.03] = np.nan
    n_live = (status == 0).sum(axis=1).astype(np.int64)
    signals = SignalsIn(
        score=score,
        confidence=rng.uniform(0.0, 1.0, (n, N_SIGNALS)),
        status=status,
        conviction=conviction,
        direction=direction,
        tradable=rng.random(n) < 0.95,
        n_live=n_live,
    )
    regime = rng.choice(np.array([-1, 0, 1, 2, 5], dtype=np.int8), n, p=[0.08, 0.5, 0.2, 0.2, 0.02])

    # positions
    positions = new_positions(rng.integers(-1, N_SECTORS, n) if rng.random() < 0.1 else rng.integers(0, N_SECTORS, n))
    open_share = (0.0, 0.3, 0.7)[int(rng.integers(3))]
    is_open = rng.random(n) < open_share
    side = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    ref = np.where(np.isfinite(features.price), features.price, 1.0)
    cs = np.where(np.isfinite(features.contract_size), features.contract_size, 1.0)
    contracts = rng.integers(1, 20, n).astype(float)
    # entry near the exit thresholds: stop, take profit, trailing activation, profit-lock floor, flat
    thresholds = np.array([-p["stop_loss_pct"], p["take_profit_pct"], p["trailing_activation_pct"],
                           p["profit_lock_floor_pct"], 0.0])
    move = thresholds[rng.integers(0, 5, n)] + rng.normal(0, 0.002, n)
    entry = ref / (1 + side * move)
    young = rng.integers(0, p["min_hold_ms"] + 1, n)
    any_age = rng.integers(0, 2 * p["max_hold_ms"], n)
    age = np.where(rng.random(n) < 0.5, young, any_age)
    entry_ts = np.where(rng.random(n) < 0.1, -1, now_ms - age)
    hw = np.maximum(ref, entry) * (1 + np.abs(rng.normal(0, 0.01, n)))
    lw = np.minimum(ref, entry) * (1 - np.abs(rng.normal(0, 0.01, n)))
    has_water = rng.random(n) < 0.5
    stop = entry * (1 - side * rng.uniform(0.0, 0.03, n))
    has_stop = rng.random(n) < 0.2
    idx = np.flatnonzero(is_open)
    positions["qty_base"][idx] = (side * contracts * cs)[idx]
    positions["qty_contracts"][idx] = (side * contracts)[idx]
    positions["entry_price"][idx] = entry[idx]
    positions["entry_ts_ms"][idx] = entry_ts[idx]
    positions["strategy_id"][idx] = rng.integers(-1, N_STRATEGIES, n)[idx]
    positions["high_water_price"][idx] = np.where(has_water, hw, np.nan)[idx]
    positions["low_water_price"][idx] = np.where(has_water, lw, np.nan)[idx]
    positions["stop_price"][idx] = np.where(has_stop, stop, np.nan)[idx]
    positions["profit_lock_armed"][idx] = (rng.random(n) < 0.2)[idx]
    if rng.random() < 0.02:
        positions[int(rng.integers(n))]["qty_base"] = np.nan

    # portfolio
    equity = float(rng.uniform(500, 5_000) if rng.random() < 0.5 else rng.uniform(5_000, 50_000))
    portfolio = new_portfolio(equity, now_ms)
    port = portfolio[0]
    port["peak_equity_usd"] = equity * (1 + abs(rng.normal(0, 0.04)))
    port["session_start_equity_usd"] = equity * (1 + rng.normal(0, 0.015))
    port["day_start_equity_usd"] = equity * (1 + rng.normal(0, 0.025))
    if rng.random() < 0.2:
        port["day_start_ts_ms"] = (now_ms // DAY_MS - 1) * DAY_MS
    if rng.random() < 0.15:
        port["breaker_code"] = int(rng.integers(1, 4))
        port["breaker_until_ms"] = now_ms + int(rng.integers(-3_600_000, 3_600_000))
    if rng.random() < 0.1:
        port["kill_switch"] = int(rng.integers(1, 3))
    if rng.random() < 0.02:
        port["equity_usd"] = (np.nan, 0.0, -100.0)[int(rng.integers(3))]
    if rng.random() < 0.05:
        port["peak_equity_usd"] = np.nan
    if rng.random() < 0.3:  # the day's entry budget nearly or fully used
        port["day_entries"] = int(rng.integers(0, p["max_entries_per_day"] + 1))
    if rng.random() < 0.5:  # a stretch without an entry: the conviction thresholds relax after 12 h
        port["last_entry_ts_ms"] = now_ms - rng.integers(0, 30 * 3_600_000, N_STRATEGIES)

    # trade memory
    memory = new_memory(params)
    for s in range(N_STRATEGIES):
        mem = memory[s]
        n_trades = (0, int(rng.integers(1, 30)), int(rng.integers(30, 3 * MEMORY_CAPACITY)))[int(rng.integers(3))]
        edge = rng.normal(0.0, 0.004)
        mem["returns"][:] = rng.normal(edge, 0.01, MEMORY_CAPACITY)
        mem["n_trades"] = n_trades
        mem["head"] = n_trades % MEMORY_CAPACITY
        mem["consecutive_losses"] = int(rng.integers(0, 4))
        mem["pause_until_ms"] = now_ms + int(rng.integers(-3_600_000, 3_600_000)) if rng.random() < 0.15 else 0
        wins = int((mem["returns"][: min(n_trades, MEMORY_CAPACITY)] > 0).sum())
        mem["bandit_alpha"] = p["prior_alpha"] + wins
        mem["bandit_beta"] = p["prior_beta"] + min(n_trades, MEMORY_CAPACITY) - wins
        if rng.random() < 0.03:
            mem["bandit_alpha"] = (0.0, -1.0, np.nan)[int(rng.integers(3))]
    rng_seed = int(rng.integers(0, 2**62))
    # benched symbols (learning): flat ones must hold their entries back, open ones keep exiting
    if rng.random() < 0.3:
        positions["benched"] = rng.random(n) < 0.3
    return Case(now_ms, positions, portfolio, memory, features, signals, regime, params, rng_seed)
