"""The vectorbt bridge: the same signals agree trade for trade in botcore and vectorbt; a ledger reads as a Portfolio."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from botcore.config import load_settings
from botcore.engine.backtest import run_backtest
from botcore.engine.testing import ACTIVE_OVERRIDES
from botcore.ledger import Ledger
from botcore.market.sample import DEFAULT_START_MS, generate_sample_market
from botcore.market.store import Store
from botcore.research.vbt import (
    compare_trades,
    ema_cross_signals,
    ledger_orders,
    ledger_portfolio,
    run_signals_botcore,
    run_signals_vbt,
    vbt_trades,
)
from tests.conftest import CONFIG_DIR

SETTINGS = load_settings(CONFIG_DIR)
MIN = 60_000
DAY = 86_400_000
SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    root = tmp_path_factory.mktemp("vbt") / "market"
    generate_sample_market(root, 2.2, 11, SETTINGS)
    return root


@pytest.fixture(scope="module")
def closes(market):
    syms = [a.symbol for a in SETTINGS.universe.enabled][:5]
    panel = Store(market).read_panel("candles_1m", syms, "close")
    return panel


@pytest.mark.parametrize("direction", ["longonly", "shortonly"])
def test_ema_cross_on_the_sample_market_gives_the_same_trades_in_botcore_and_vectorbt(closes, direction):
    entries, exits = ema_cross_signals(closes, 15, 60)
    size = np.linspace(0.5, 2.5, closes.shape[1])
    ours = run_signals_botcore(closes, entries, exits, size_base=size, fee_rate=0.0006, direction=direction)
    theirs = vbt_trades(run_signals_vbt(closes, entries, exits, size_base=size, fee_rate=0.0006, direction=direction))
    assert len(ours) > 50 and (ours["status"] == 1).sum() > 40
    assert compare_trades(ours, theirs, atol=1e-9) == []


@pytest.fixture(scope="module")
def ohlc(market):
    syms = [a.symbol for a in SETTINGS.universe.enabled][:5]
    store = Store(market)
    return {c: store.read_panel("candles_1m", syms, c) for c in ("open", "high", "low", "close")}


EXITS = {
    "stop loss": dict(sl_stop=0.004),
    "take profit": dict(tp_stop=0.005),
    "trailing stop": dict(sl_stop=0.003, sl_trail=True),
    "all three, slippage and fees": dict(sl_stop=0.004, tp_stop=0.006, slippage=0.0005),
    "trailing, take profit, slippage": dict(sl_stop=0.002, sl_trail=True, tp_stop=0.008, slippage=0.0002),
}


@pytest.mark.parametrize("direction", ["longonly", "shortonly"])
@pytest.mark.parametrize("exits_name", list(EXITS))
def test_stops_trailing_slippage_and_fees_agree_trade_for_trade_with_vectorbt(ohlc, direction, exits_name):
    kw = dict(size_base=np.linspace(0.5, 2.5, ohlc["close"].shape[1]), fee_rate=0.0006, direction=direction,
              open=ohlc["open"], high=ohlc["high"], low=ohlc["low"], **EXITS[exits_name])
    entries, exits = ema_cross_signals(ohlc["close"], 15, 60)
    ours = run_signals_botcore(ohlc["close"], entries, exits, **kw)
    theirs = vbt_trades(run_signals_vbt(ohlc["close"], entries, exits, **kw))
    plain = run_signals_botcore(ohlc["close"], entries, exits, size_base=kw["size_base"], direction=direction)
    stopped = ~ours["exit_idx"].isin(np.flatnonzero(exits.to_numpy().any(axis=1))) & (ours["status"] == 1)
    assert len(ours) > 50 and stopped.sum() > 10, "the stops must fire"
    assert len(ours) != len(plain) or not np.allclose(ours["pnl"], plain["pnl"])  # the exits changed the trades
    assert compare_trades(ours, theirs, atol=1e-9) == []


def test_a_stop_that_gaps_past_its_level_fills_at_the_open_and_slippage_moves_it_against_the_order():
    close = pd.DataFrame({"a": [100.0, 101.0, 95.0, 96.0]})
    open_ = pd.DataFrame({"a": [100.0, 100.5, 97.0, 95.5]})  # bar 2 opens below the 1% stop (99.99)
    entries = pd.DataFrame({"a": [False, True, False, False]})
    exits = pd.DataFrame({"a": [False, False, False, False]})
    kw = dict(open=open_, high=np.maximum(open_, close) + 0.5, low=np.minimum(open_, close) - 0.5, sl_stop=0.01,
              slippage=0.001, fee_rate=0.0)
    ours = run_signals_botcore(close, entries, exits, **kw)
    assert ours.loc[0, "entry_price"] == pytest.approx(101.0 * 1.001)
    assert ours.loc[0, "exit_idx"] == 2 and ours.loc[0, "exit_price"] == pytest.approx(97.0 * 0.999)
    assert compare_trades(ours, vbt_trades(run_signals_vbt(close, entries, exits, **kw))) == []


@pytest.mark.parametrize("direction", ["longonly", "shortonly"])
def test_conflicting_repeated_and_nan_bars_are_handled_as_vectorbt_does(direction):
    rng = np.random.default_rng(3)
    close = pd.DataFrame(100 * np.exp(np.cumsum(rng.normal(0, 0.003, (2_000, 4)), axis=0)))
    close.iloc[rng.integers(0, 2_000, 40), 1] = np.nan
    entries = pd.DataFrame(rng.random((2_000, 4)) < 0.05)
    exits = pd.DataFrame(rng.random((2_000, 4)) < 0.05)  # overlapping entries and exits: conflicts are ignored
    ours = run_signals_botcore(close, entries, exits, size_base=1.5, fee_rate=0.0002, direction=direction)
    theirs = vbt_trades(run_signals_vbt(close, entries, exits, size_base=1.5, fee_rate=0.0002, direction=direction))
    assert len(ours) > 100
    assert compare_trades(ours, theirs, atol=1e-9) == []


def test_a_different_fee_is_seen_as_a_disagreement(closes):
    entries, exits = ema_cross_signals(closes, 15, 60)
    ours = run_signals_botcore(closes, entries, exits, fee_rate=0.0006)
    theirs = vbt_trades(run_signals_vbt(closes, entries, exits, fee_rate=0.0005))
    problems = compare_trades(ours, theirs)
    assert any(p.startswith("entry_fees") for p in problems) and any(p.startswith("pnl") for p in problems)


def test_bad_inputs_are_refused_naming_the_field(closes):
    entries, exits = ema_cross_signals(closes, 15, 60)
    with pytest.raises(ValueError, match="direction"):
        run_signals_botcore(closes, entries, exits, direction="both")
    with pytest.raises(ValueError, match="size_base"):
        run_signals_botcore(closes, entries, exits, size_base=0.0)
    with pytest.raises(ValueError, match="fast_bars"):
        ema_cross_signals(closes, 60, 15)


def test_a_backtest_ledger_reads_as_a_vectorbt_portfolio_with_the_same_fees_cash_and_round_trips(market, tmp_path):
    start = DEFAULT_START_MS + 1 * DAY
    result = run_backtest(market, SETTINGS, tmp_path, start_ms=start, end_ms=start + 600 * MIN, run_seed=4,
                          params_overrides=ACTIVE_OVERRIDES, warmup_bars=1_440)
    with Ledger.open(result.ledger_path, readonly=True) as led:
        fills, trades, equity = led.table("fills"), led.table("trades"), led.table("equity")
    assert len(trades) >= 5, "the window must trade"
    orders = ledger_orders(result.ledger_path)
    pf = ledger_portfolio(result.ledger_path)
    assert orders.size_base.ne(0).sum().sum() == fills.groupby(["ts_ms", "symbol"]).ngroups
    assert pf.orders.count() == orders.size_base.ne(0).sum().sum()
    assert pf.orders.values["fees"].sum() == pytest.approx(fills["fee_usd"].sum(), abs=1e-9)
    # vectorbt's cash = the ledger's margin cash without funding, less the cost basis of what is still open
    pos = pf.positions.values
    open_ = pos[pos["status"] == 0]
    basis = (np.where(open_["direction"] == 0, 1.0, -1.0) * open_["size"] * open_["entry_price"]).sum()
    assert float(pf.cash().iloc[-1]) + basis == pytest.approx(
        float(equity["cash_usd"].iloc[-1]) - orders.funding_usd, abs=1e-6)
    closed = pf.positions.values[pf.positions.values["status"] == 1]
    realised = (trades["gross_pnl_usd"] - trades["fees_usd"]).sum()
    assert closed["pnl"].sum() == pytest.approx(realised, abs=1e-6)
    assert len(closed) == len(trades)
