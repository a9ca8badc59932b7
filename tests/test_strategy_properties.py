"""Risk limits hold over randomised sequences of 10,000 decisions with fills applied in between."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from botcore.config import load_settings
from botcore.config.models import SECTORS
from botcore.strategy.decide.nb import apply_fill_nb, decide_nb, mark_to_market_nb
from botcore.strategy.enums import (
    N_SIGNALS,
    N_STRATEGIES,
    Features,
    KillSwitch,
    Reason,
    SignalsIn,
    intent_dt,
    trail_dt,
)
from botcore.strategy.params import build_params
from botcore.strategy.state import new_memory, new_portfolio, positions_for
from tests.conftest import CONFIG_DIR

SETTINGS = load_settings(CONFIG_DIR)
ASSETS = SETTINGS.universe.enabled
N = len(ASSETS)
BASE_PRICES = {"BTC": 60_000, "ETH": 3_000, "SOL": 150, "AVAX": 30, "ADA": 0.5, "ARB": 1.0, "OP": 2.0,
               "LINK": 15, "UNI": 8, "AAVE": 100, "DOGE": 0.15, "PEPE": 1e-5, "BNB": 600, "XRP": 0.6, "LTC": 80}
STEPS = 1_000
EXAMPLES = 10  # x STEPS = 10,000 decisions
MINUTE_MS = 60_000
TAKER = SETTINGS.fees.taker
TOL = 1e-9


def run_sequence(seed: int, params: np.ndarray) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    p = params[0]
    positions = positions_for(SETTINGS)
    sector_of = positions["sector_id"].copy()
    now_ms = 1_767_225_600_000
    portfolio = new_portfolio(10_000.0, now_ms)
    memory = new_memory(params)
    price = np.array([BASE_PRICES[a.base] for a in ASSETS], dtype=float)
    features = Features(
        price=price, mark_price=price.copy(), best_bid=price.copy(), best_ask=price.copy(),
        volatility_daily=np.full(N, 0.03), funding_rate=np.zeros(N), volume_ratio=np.ones(N),
        trend_dir=np.zeros((N, 3), dtype=np.int8),
        contract_size=np.array([a.contract_size for a in ASSETS]),
        min_contracts=np.array([a.min_contracts for a in ASSETS]),
        contract_step=np.array([a.contract_step for a in ASSETS]),
    )
    signals = SignalsIn(
        score=np.zeros((N, N_SIGNALS)), confidence=np.zeros((N, N_SIGNALS)),
        status=np.zeros((N, N_SIGNALS), dtype=np.int8), conviction=np.zeros(N),
        direction=np.zeros(N, dtype=np.int8), tradable=np.ones(N, dtype=np.bool_),
        n_live=np.full(N, N_SIGNALS, dtype=np.int64),
    )
    regime = np.zeros(N, dtype=np.int8)
    intents = np.zeros(N, dtype=intent_dt)
    trail = np.zeros(N, dtype=trail_dt)
    allocation = np.zeros(N_STRATEGIES)
    counts = {"entries": 0, "exits": 0, "sector_blocks": 0, "exposure_blocks": 0, "position_blocks": 0}

    for step in range(STEPS):
        now_ms += MINUTE_MS
        # the market moves
        price *= np.exp(rng.normal(0.0, 0.004, N))
        features.mark_price[:] = price * (1 + rng.normal(0, 2e-4, N))
        half_spread = price * rng.uniform(0, 3e-4, N)
        features.best_bid[:] = price - half_spread
        features.best_ask[:] = price + half_spread
        features.volatility_daily[:] = rng.uniform(0.01, 0.08, N)
        features.funding_rate[:] = rng.normal(0.0001, 0.0003, N)
        features.volume_ratio[:] = rng.exponential(1.5, N)
        # signals: mostly strong, sometimes missing
        direction = np.where(rng.random(N) < 0.5, -1, 1).astype(np.int8)
        direction[rng.random(N) < 0.1] = 0
        signals.direction[:] = direction
        signals.conviction[:] = rng.uniform(0.3, 1.0, N)
        signals.score[:] = np.clip(direction[:, None] * rng.uniform(-0.2, 1.0, (N, N_SIGNALS)), -1, 1)
        signals.confidence[:] = rng.uniform(0.3, 1.0, (N, N_SIGNALS))
        signals.status[:] = np.where(rng.random((N, N_SIGNALS)) < 0.93, 0, 2)
        signals.n_live[:] = (signals.status == 0).sum(axis=1)
        features.trend_dir[:] = np.where(rng.random((N, 3)) < 0.8, direction[:, None], 0)
        regime[:] = rng.choice(np.array([0, 0, 0, 1, 2, -1], dtype=np.int8), N)
        if step % 250 == 100:
            portfolio[0]["kill_switch"] = KillSwitch.freeze if rng.random() < 0.5 else KillSwitch.flatten
        elif step % 250 == 110:
            portfolio[0]["kill_switch"] = KillSwitch.off
        mark_to_market_nb(positions, portfolio, features.mark_price)
        equity = float(portfolio[0]["equity_usd"])
        was_open = positions["qty_base"] != 0.0
        before = positions.copy()
        kill = int(portfolio[0]["kill_switch"])

        k = decide_nb(now_ms, positions, portfolio, memory, features, signals, regime, params,
                      seed * 100_003 + step, intents, trail, allocation)
        made = intents[:k]

        # ------------------------------------------------ one intent per symbol, coherent with the trail
        assert len(set(made["symbol_idx"].tolist())) == k
        for it in made:
            i = int(it["symbol_idx"])
            row = trail[i]
            if it["reduce_only"]:
                assert was_open[i] and row["outcome"] == Reason.exited
                assert it["side"] == -np.sign(before[i]["qty_base"])
                assert abs(it["qty_base"] - abs(before[i]["qty_base"])) <= TOL * abs(before[i]["qty_base"])
            else:
                assert not was_open[i] and row["outcome"] == Reason.entered
                assert kill == KillSwitch.off and portfolio[0]["breaker_code"] == 0
                # sizes within bounds and on the contract grid
                assert p["min_usd"] * (1 - TOL) <= it["size_usd"] <= p["max_usd"] * (1 + TOL)
                steps = it["qty_contracts"] / features.contract_step[i]
                assert abs(steps - round(steps)) < 1e-6 and it["qty_contracts"] >= features.min_contracts[i]
                assert it["size_usd"] <= p["max_symbol_exposure_pct"] * equity * (1 + TOL)
        if kill == KillSwitch.flatten:
            assert set(made["symbol_idx"].tolist()) == set(np.flatnonzero(was_open).tolist())
        for i in np.flatnonzero(trail["outcome"] == Reason.skipped):
            reason = int(trail[i]["reason"])
            counts["sector_blocks"] += reason == Reason.sector_limit
            counts["exposure_blocks"] += reason in (Reason.total_exposure, Reason.symbol_exposure,
                                                    Reason.strategy_allocation)
            counts["position_blocks"] += reason == Reason.max_positions

        # ------------------------------------------------ limits after the entries, at decision prices
        entries = made[~made["reduce_only"]]
        if len(entries):
            value = np.where(np.isfinite(features.mark_price), features.mark_price, price)
            held = np.abs(before["qty_base"]) * value
            after_total = held.sum() + entries["size_usd"].sum()
            assert after_total <= p["max_total_exposure_pct"] * equity * (1 + TOL)
            assert after_total <= p["max_leverage"] * equity * (1 + TOL)
            for s in range(N_STRATEGIES):
                mine = held[before["strategy_id"] == s].sum() + entries["size_usd"][entries["strategy_id"] == s].sum()
                if (entries["strategy_id"] == s).any():
                    assert mine <= allocation[s] * p["max_total_exposure_pct"] * equity * (1 + TOL)
            open_after = was_open.copy()
            open_after[entries["symbol_idx"]] = True
            assert open_after.sum() <= p["max_positions"]
            per_sector = np.bincount(sector_of[open_after], minlength=len(SECTORS))
            assert per_sector.max() <= p["max_positions_per_sector"]

        # ------------------------------------------------ fills
        for it in made:
            i = int(it["symbol_idx"])
            fill = price[i]
            apply_fill_nb(positions, portfolio, memory, it, fill, it["qty_base"] * fill * TAKER, now_ms, params)
            counts["exits" if it["reduce_only"] else "entries"] += 1
        open_now = positions["qty_base"] != 0.0
        assert open_now.sum() <= p["max_positions"]
        assert np.bincount(sector_of[open_now], minlength=len(SECTORS)).max(initial=0) <= p["max_positions_per_sector"]
    return counts


@given(seed=st.integers(0, 2**31 - 1), tight=st.booleans())
@hyp_settings(max_examples=EXAMPLES, deadline=None, database=None)
def test_sector_guard_and_exposure_limits_hold_over_random_sequences(seed, tight):
    overrides = {"max_total_exposure_pct": 0.3, "max_positions": 6} if tight else {}
    # the day's entry budget would end a one-day sequence early (test_strategy_gates pins it)
    counts = run_sequence(seed, build_params(SETTINGS, {**overrides, "max_entries_per_day": 0}))
    assert counts["entries"] > 20 and counts["exits"] > 10
    assert counts["sector_blocks"] + counts["exposure_blocks"] + counts["position_blocks"] > 0
