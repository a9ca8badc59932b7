"""The signal outcome log (bounded, idempotent) and the signal context of trades (log, trail, market store)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from botcore.config.models import SIGNAL_NAMES
from botcore.errors import DataError
from botcore.learning import MAX_OUTCOME_ROWS, read_signal_outcomes, record_signal_outcomes, run_learning_cycle
from botcore.learning.outcomes import (
    SCORE_COLUMNS,
    close_row,
    entry_row,
    entry_rows,
    recompute_entry_signals,
    trade_contexts,
)
from botcore.learning.synthetic import SyntheticSpec, write_synthetic_history
from botcore.ledger import Ledger
from botcore.market.store import Store
from botcore.signals.engine import weights_array
from botcore.strategy.enums import Reason

SYMBOL = "BTC/USDT:USDT"
START = 1_704_067_200_000
HOUR = 3_600_000
TREND = SIGNAL_NAMES.index("trend")


@pytest.fixture()
def ledger(tmp_path):
    with Ledger.open(tmp_path / "l.db", starting_cash_usd=10_000.0) as book:
        yield book


def test_the_log_is_capped_oldest_first_and_idempotent(ledger):
    assert MAX_OUTCOME_ROWS == 50_000
    rows = [entry_row(f"k{i}", START + i, SYMBOL, "trend_conservative", 1, np.linspace(-1, 1, 10)) for i in range(160)]
    assert record_signal_outcomes(ledger, rows, cap=100) == 160
    log = ledger.table("signal_outcomes")
    assert len(log) == 100 and log["entry_key"].tolist() == [f"k{i}" for i in range(60, 160)]
    assert record_signal_outcomes(ledger, rows[-5:], cap=100) == 0  # already logged: skipped
    assert len(ledger.table("signal_outcomes")) == 100


def test_a_close_takes_its_entry_s_symbol_strategy_and_side(ledger):
    status = np.zeros(10, dtype=np.int8)
    status[3] = 2  # liquidation cascade in DATA_OUTAGE: logged as missing, never as a neutral 0
    record_signal_outcomes(ledger, [
        entry_row("o1", START, SYMBOL, "breakout_aggressive", -1, np.full(10, 0.5), np.full(10, 0.9), status,
                  regime="trending", conviction=0.42),
        close_row("o1", START + HOUR, net_pnl_usd=-3.5, net_return=-0.0035),
    ])
    out = read_signal_outcomes(ledger)
    row = out.iloc[0]
    assert (row["symbol"], row["strategy"], row["side"], row["regime"], row["conviction"]) == (
        SYMBOL, "breakout_aggressive", -1, 0.0, 0.42)
    assert np.isnan(row["score_liquidation_cascade"]) and row["score_trend"] == 0.5
    assert row["exit_ts_ms"] == START + HOUR and row["net_pnl_usd"] == -3.5
    with pytest.raises(DataError, match="needs symbol, strategy, side"):
        record_signal_outcomes(ledger, [close_row("unknown", START, net_pnl_usd=1.0)])
    with pytest.raises(DataError, match="10 values"):
        record_signal_outcomes(ledger, [entry_row("o2", START, SYMBOL, "trend_conservative", 1, np.zeros(3))])
    with pytest.raises(DataError, match="side"):
        record_signal_outcomes(ledger, [{"event": "entry", "entry_key": "o3", "ts_ms": START, "symbol": SYMBOL,
                                         "strategy": "x", "side": 0, "scores": {}}])


def test_trades_take_their_context_from_the_log(ledger):
    write_synthetic_history(ledger, SyntheticSpec(n_trades=10))
    ctx = trade_contexts(ledger)
    assert (ctx["context_source"] == "log").all() and ctx["score_trend"].notna().all()
    assert ctx["score_fear_greed"].isna().all()  # not live at entry: missing, not zero
    assert np.allclose(ctx["net_return"], ctx["net_pnl_usd"] / (ctx["entry_price"] * ctx["qty_base"]))


def test_without_the_log_the_decision_trail_supplies_the_signals_and_the_cycle_learns(ledger, settings):
    history = write_synthetic_history(ledger, SyntheticSpec(n_trades=60, log_outcomes=False, seed=9))
    ledger.record_decisions([
        {"ts_ms": t["ts_ms"], "symbol": t["symbol"], "strategy": t["strategy"], "outcome": Reason.entered,
         "reason_code": Reason.entered, "detail": {"direction": t["side"], "conviction": 0.5, "regime": t["regime"],
                                                   "signals": {k: v for k, v in t["scores"].items() if v is not None}}}
        for t in history.trades])
    ctx = trade_contexts(ledger)
    assert (ctx["context_source"] == "trail").all() and ctx["score_trend"].notna().all()
    report = run_learning_cycle(ledger, settings, now_ms=history.end_ms)
    assert report.sources == {"trail": 60}
    assert report.weights[TREND] > weights_array(settings.signals)[TREND]


def write_candles(store: Store, symbol: str, start_ms: int, hours: float, seed: int = 0,
                  crash_after_ms: int | None = None) -> None:
    rng = np.random.default_rng(seed)
    n = int(hours * 60)
    ts = start_ms + np.arange(n, dtype=np.int64) * 60_000
    close = 100.0 * np.exp(np.cumsum(0.001 * rng.standard_normal(n)))
    if crash_after_ms is not None:
        close = np.where(ts >= crash_after_ms, close * 0.5, close)
    open_ = np.concatenate([[close[0]], close[:-1]])
    store.write("candles_1m", symbol, pd.DataFrame({
        "ts": ts, "open": open_, "high": np.maximum(open_, close) * 1.0005, "low": np.minimum(open_, close) * 0.9995,
        "close": close, "volume": np.full(n, 5.0)}))


def test_signals_are_recomputed_from_the_store_with_data_known_at_entry_only(ledger, settings, tmp_path):
    history = write_synthetic_history(ledger, SyntheticSpec(n_trades=6, symbols=(SYMBOL,), log_outcomes=False))
    store = Store(tmp_path / "store")
    write_candles(store, SYMBOL, START - 90 * HOUR, hours=110)
    entries = [t["ts_ms"] for t in history.trades]
    scores = recompute_entry_signals(store, settings, [SYMBOL] * len(entries), entries)
    assert np.isfinite(scores[:, TREND]).all() and np.isfinite(scores[:, SIGNAL_NAMES.index("breakout")]).all()
    assert np.isnan(scores[:, SIGNAL_NAMES.index("funding_rate")]).all()  # no funding data in the store: missing
    # no look-ahead: the first entry's signals do not change when everything after it is rewritten
    future = Store(tmp_path / "future")
    write_candles(future, SYMBOL, START - 90 * HOUR, hours=110, crash_after_ms=entries[0] // 60_000 * 60_000)
    again = recompute_entry_signals(future, settings, [SYMBOL] * len(entries), entries)
    assert np.array_equal(again[0], scores[0], equal_nan=True)
    assert not np.allclose(again[1:, TREND], scores[1:, TREND])

    ctx = trade_contexts(ledger, settings, store=store, record=True)
    assert (ctx["context_source"] == "recomputed").all()
    assert np.allclose(ctx[list(SCORE_COLUMNS)].to_numpy(), scores, equal_nan=True)
    # logged: the next cycle reads them back instead of recomputing
    logged = read_signal_outcomes(ledger)
    assert (logged["source"] == "recomputed").all() and len(logged) == 6 and logged["exit_ts_ms"].notna().all()
    back = trade_contexts(ledger, settings, store=None)
    assert (back["context_source"] == "recomputed").all()
    assert np.allclose(back[list(SCORE_COLUMNS)].to_numpy(), scores, equal_nan=True)


def test_one_cycle_s_entries_are_logged_in_bulk_from_the_kernel_arrays(ledger):
    score = np.tile(np.linspace(-0.9, 0.9, 10), (3, 1))
    status = np.zeros((3, 10), dtype=np.int8)
    status[1, 0] = 1  # warming up
    rows = entry_rows(["c0", "c1", "c2"], START, [SYMBOL, "ETH/USDT:USDT", "SOL/USDT:USDT"],
                      ["trend_conservative"] * 3, [1, -1, 1], score, np.ones((3, 10)), status,
                      regime=[0, 1, 2], conviction=[0.5, 0.6, 0.7])
    assert record_signal_outcomes(ledger, rows) == 3
    out = read_signal_outcomes(ledger)
    assert out["side"].tolist() == [1, -1, 1] and out["regime"].tolist() == [0.0, 1.0, 2.0]
    assert np.isnan(out.loc[1, "score_order_flow_imbalance"]) and out.loc[0, "score_order_flow_imbalance"] == -0.9
