"""``decide_nb`` inside a compiled bar loop (the backtest's way) equals the Python face cycle by cycle (the live way)."""

from __future__ import annotations

import numpy as np
from numba import njit

from botcore.config import load_settings
from botcore.strategy.decide.nb import apply_fill_nb, decide_nb, mark_to_market_nb
from botcore.strategy.enums import N_SIGNALS, N_STRATEGIES, Features, SignalsIn, intent_dt, trail_dt
from botcore.strategy.params import build_params
from botcore.strategy.state import decide, new_memory, new_portfolio, positions_for
from tests.conftest import CONFIG_DIR

SETTINGS = load_settings(CONFIG_DIR)
FEE = SETTINGS.fees.taker


@njit(cache=False)
def backtest_nb(ts, price, vol, funding, volume_ratio, trend, contract_size, min_contracts, step, score, conf, status,
                conviction, direction, tradable, n_live, regime, positions, portfolio, memory, params, run_seed, fee,
                outcome_out, reason_out, mask_out):
    n = price.shape[1]
    intents = np.zeros(n, dtype=intent_dt)
    trail = np.zeros(n, dtype=trail_dt)
    allocation = np.zeros(N_STRATEGIES)
    n_trades = 0
    for t in range(ts.shape[0]):
        mark_to_market_nb(positions, portfolio, price[t])
        features = Features(price[t], price[t], price[t], price[t], vol[t], funding[t], volume_ratio[t], trend[t],
                            contract_size, min_contracts, step)
        signals = SignalsIn(score[t], conf[t], status[t], conviction[t], direction[t], tradable[t], n_live[t])
        k = decide_nb(ts[t], positions, portfolio, memory, features, signals, regime[t], params, run_seed ^ ts[t],
                      intents, trail, allocation)
        for j in range(k):
            px = price[t, intents[j].symbol_idx]
            apply_fill_nb(positions, portfolio, memory, intents[j], px, intents[j].qty_base * px * fee, ts[t], params)
            n_trades += 1
        for i in range(n):
            outcome_out[t, i] = trail[i].outcome
            reason_out[t, i] = trail[i].reason
            mask_out[t, i] = trail[i].gate_mask
    return n_trades


def market(n_bars: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    assets = SETTINGS.universe.enabled
    n = len(assets)
    base = np.array([60_000, 3_000, 150, 30, 0.5, 1, 2, 15, 8, 100, 0.15, 1e-5, 600, 0.6, 80], dtype=float)[:n]
    price = base * np.exp(np.cumsum(rng.normal(0, 0.004, (n_bars, n)), axis=0))
    direction = np.where(rng.random((n_bars, n)) < 0.5, -1, 1).astype(np.int8)
    status = np.where(rng.random((n_bars, n, N_SIGNALS)) < 0.95, 0, 2).astype(np.int8)
    return dict(
        ts=1_767_225_600_000 + 60_000 * np.arange(n_bars, dtype=np.int64),
        price=price,
        vol=rng.uniform(0.01, 0.08, (n_bars, n)),
        funding=rng.normal(1e-4, 3e-4, (n_bars, n)),
        volume_ratio=rng.exponential(1.5, (n_bars, n)),
        trend=np.repeat(direction[:, :, None], 3, axis=2),
        contract_size=np.array([a.contract_size for a in assets]),
        min_contracts=np.array([a.min_contracts for a in assets]),
        step=np.array([a.contract_step for a in assets]),
        score=np.clip(direction[:, :, None] * rng.uniform(-0.2, 1.0, (n_bars, n, N_SIGNALS)), -1, 1),
        conf=rng.uniform(0.3, 1.0, (n_bars, n, N_SIGNALS)),
        status=status,
        conviction=rng.uniform(0.3, 1.0, (n_bars, n)),
        direction=direction,
        tradable=np.ones((n_bars, n), dtype=np.bool_),
        n_live=(status == 0).sum(axis=2).astype(np.int64),
        regime=rng.choice(np.array([0, 0, 1, 2], dtype=np.int8), (n_bars, n)),
    )


def test_compiled_bar_loop_equals_the_python_cycle_loop():
    params = build_params(SETTINGS)
    m = market(600)
    n_bars, n = m["price"].shape
    run_seed = 42

    # backtest: one compiled loop
    positions_b, portfolio_b, memory_b = positions_for(SETTINGS), new_portfolio(10_000.0, int(m["ts"][0])), new_memory(params)
    outcome_b = np.zeros((n_bars, n), np.int64)
    reason_b = np.zeros((n_bars, n), np.int64)
    mask_b = np.zeros((n_bars, n), np.int64)
    trades_b = backtest_nb(*m.values(), positions_b, portfolio_b, memory_b, params, run_seed, FEE, outcome_b, reason_b,
                           mask_b)

    # live: the Python face, one cycle at a time
    positions, portfolio, memory = positions_for(SETTINGS), new_portfolio(10_000.0, int(m["ts"][0])), new_memory(params)
    trades = 0
    for t in range(n_bars):
        mark_to_market_nb(positions, portfolio, m["price"][t])
        p = m["price"][t]
        features = Features(p, p, p, p, m["vol"][t], m["funding"][t], m["volume_ratio"][t], m["trend"][t],
                            m["contract_size"], m["min_contracts"], m["step"])
        signals = SignalsIn(m["score"][t], m["conf"][t], m["status"][t], m["conviction"][t], m["direction"][t],
                            m["tradable"][t], m["n_live"][t])
        ts = int(m["ts"][t])
        decision = decide(ts, positions, portfolio, memory, features, signals, m["regime"][t], params, run_seed ^ ts)
        for it in decision.intents:
            px = p[it["symbol_idx"]]
            apply_fill_nb(positions, portfolio, memory, it, px, it["qty_base"] * px * FEE, ts, params)
            trades += 1
        assert np.array_equal(decision.trail["outcome"], outcome_b[t]), t
        assert np.array_equal(decision.trail["reason"], reason_b[t]), t
        assert np.array_equal(decision.trail["gate_mask"], mask_b[t]), t

    assert trades == trades_b and trades > 20
    assert portfolio["cash_usd"][0] == portfolio_b["cash_usd"][0]
    assert np.array_equal(memory["returns"], memory_b["returns"])
    for name in ("qty_base", "entry_price", "entry_ts_ms", "strategy_id"):
        assert np.array_equal(positions[name], positions_b[name], equal_nan=True)
