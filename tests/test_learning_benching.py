"""Symbol benching: a losing symbol stops trading, is evaluated on paper, and returns after recovering."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from botcore.learning import benched_mask, evaluate_benching, read_signal_outcomes
from botcore.learning.benching import KIND, paper_trades, would_be_entries
from botcore.learning.config import BenchingConfig, LearningConfig
from botcore.learning.outcomes import close_row, entry_row, record_signal_outcomes
from botcore.learning.synthetic import SyntheticSpec, write_synthetic_history
from botcore.ledger import Ledger
from botcore.market.store import Store
from botcore.strategy.enums import Reason

GOOD, BAD = "BTC/USDT:USDT", "DOGE/USDT:USDT"
SYMBOLS = (GOOD, BAD)
HOUR = 3_600_000


def write_candles(store: Store, symbol: str, start_ms: int, hours: float, drift_per_minute: float) -> None:
    n = int(hours * 60)
    ts = start_ms // 60_000 * 60_000 + np.arange(n, dtype=np.int64) * 60_000  # 1m bars open on the minute
    close = 100.0 * np.exp(drift_per_minute * np.arange(1, n + 1))
    open_ = np.concatenate([[100.0], close[:-1]])
    store.write("candles_1m", symbol, pd.DataFrame({
        "ts": ts, "open": open_, "high": np.maximum(open_, close) * 1.0001, "low": np.minimum(open_, close) * 0.9999,
        "close": close, "volume": np.full(n, 10.0)}))


def benched_trail(symbol: str, start_ms: int, hours: int, every_hours: int = 2) -> list[dict]:
    """Decision rows the engine writes for a benched symbol whose entry it skipped (long, conviction 0.6)."""
    return [{"ts_ms": start_ms + h * HOUR, "symbol": symbol, "strategy": "trend_conservative",
             "outcome": Reason.skipped, "reason_code": Reason.skipped,
             "detail": {"direction": 1, "conviction": 0.6, "benched": True}} for h in range(1, hours, every_hours)]


@pytest.fixture()
def benched(tmp_path, settings):
    """A ledger where DOGE loses and BTC wins, evaluated once: DOGE is benched at ``now``."""
    ledger = Ledger.open(tmp_path / "l.db", starting_cash_usd=10_000.0)
    history = write_synthetic_history(ledger, SyntheticSpec(n_trades=80, symbols=SYMBOLS, losing_symbols=(BAD,),
                                                            base_return=0.004, edge=0.0, seed=3))
    now = history.end_ms
    report = evaluate_benching(ledger, settings, now_ms=now)
    yield ledger, now, report
    ledger.close()


def test_a_losing_symbol_is_benched_and_masked(benched, settings):
    ledger, now, report = benched
    assert report.benched == [BAD] and report.version is not None
    assert benched_mask(ledger, SYMBOLS, now).tolist() == [False, True]
    assert benched_mask(ledger, SYMBOLS, now - 1).tolist() == [False, False]  # not before it was benched
    state = ledger.active_params(KIND)
    info = state.body["symbols"][BAD]
    assert info["since_ms"] == now and info["until_ms"] == now + 72 * HOUR and info["profit_factor"] < 0.8
    assert "profit factor" in info["reason"] and BAD in state.reason
    # nothing changes on a second evaluation with no news
    again = evaluate_benching(ledger, settings, now_ms=now + HOUR)
    assert not again.changed and again.version is None


def test_no_bench_before_enough_trades(tmp_path, settings):
    with Ledger.open(tmp_path / "l.db", starting_cash_usd=10_000.0) as ledger:
        history = write_synthetic_history(ledger, SyntheticSpec(n_trades=30, symbols=SYMBOLS, losing_symbols=(BAD,),
                                                                base_return=0.004, edge=0.0, seed=3))
        cfg = LearningConfig(benching=BenchingConfig(min_trades=20, window_trades=20))
        losers = (ledger.trades()["symbol"] == BAD).sum()
        assert losers < 20
        report = evaluate_benching(ledger, settings, cfg=cfg, now_ms=history.end_ms)
        assert report.benched == [] and not benched_mask(ledger, SYMBOLS, history.end_ms).any()


def test_benched_symbol_is_evaluated_on_paper_and_returns_after_recovering(benched, settings, tmp_path):
    ledger, now, _ = benched
    store = Store(tmp_path / "store")
    write_candles(store, BAD, now - HOUR, hours=100, drift_per_minute=0.0002)  # DOGE recovers: +1.2% an hour
    ledger.record_decisions(benched_trail(BAD, now, hours=90))

    during = evaluate_benching(ledger, settings, now_ms=now + 24 * HOUR, store=store)
    assert during.returned == [] and benched_mask(ledger, SYMBOLS, now + 24 * HOUR).tolist() == [False, True]
    paper = during.paper[BAD]
    assert len(paper) >= 5 and (paper["net_return"] > 0).all()  # evaluated on paper while benched
    shadow = read_signal_outcomes(ledger, shadow=True)
    assert len(shadow) == len(paper) and shadow["net_return"].notna().all() and (shadow["symbol"] == BAD).all()

    after = evaluate_benching(ledger, settings, now_ms=now + 80 * HOUR, store=store)
    assert after.returned == [BAD] and after.version is not None
    assert benched_mask(ledger, SYMBOLS, now + 80 * HOUR).tolist() == [False, False]
    state = ledger.active_params(KIND)
    assert BAD not in state.body["symbols"] and "returns: paper profit factor" in state.reason
    assert state.body["returned"][BAD]["paper_trades"] >= BenchingConfig().recover_min_trades
    # its old losing trades do not bench it again: its live record restarts
    later = evaluate_benching(ledger, settings, now_ms=now + 81 * HOUR, store=store)
    assert later.benched == [] and not benched_mask(ledger, SYMBOLS, now + 81 * HOUR).any()
    # and rolling back the return benches it again, exactly as before
    ledger.rollback(KIND)
    assert benched_mask(ledger, SYMBOLS, now + 81 * HOUR).tolist() == [False, True]


def test_benched_symbol_that_keeps_losing_on_paper_stays_benched(benched, settings, tmp_path):
    ledger, now, _ = benched
    store = Store(tmp_path / "store")
    write_candles(store, BAD, now - HOUR, hours=100, drift_per_minute=-0.0002)
    ledger.record_decisions(benched_trail(BAD, now, hours=90))
    report = evaluate_benching(ledger, settings, now_ms=now + 90 * HOUR, store=store)
    assert report.returned == [] and len(report.paper[BAD]) >= 10 and report.paper[BAD]["net_return"].lt(0).all()
    assert benched_mask(ledger, SYMBOLS, now + 90 * HOUR).tolist() == [False, True]


def test_shadow_outcomes_logged_by_the_engine_count_as_paper_trades(benched, settings):
    ledger, now, _ = benched
    rows = []
    for i in range(12):
        t = now + (2 * i + 1) * HOUR
        rows += [entry_row(f"shadow-{i}", t, BAD, "trend_conservative", 1, None, shadow=True),
                 close_row(f"shadow-{i}", t + HOUR, net_return=0.01 if i % 4 else -0.004)]
    record_signal_outcomes(ledger, rows)
    too_early = evaluate_benching(ledger, settings, now_ms=now + 30 * HOUR)
    assert too_early.returned == []  # recovered, but the probation is not served yet
    report = evaluate_benching(ledger, settings, now_ms=now + 73 * HOUR)
    assert report.returned == [BAD] and len(report.paper[BAD]) == 12


def test_paper_trades_exit_by_stop_take_profit_or_time(settings, tmp_path):
    store = Store(tmp_path / "store")
    start = 1_704_067_200_000
    write_candles(store, BAD, start, hours=30, drift_per_minute=0.0005)  # +3% in 60 minutes
    entries = pd.DataFrame({"ts_ms": [start + HOUR, start + HOUR + 60_000, start + 10 * HOUR],
                            "symbol": BAD, "strategy": "trend_conservative", "side": [1, 1, -1]})
    paper = paper_trades(entries, store, settings)
    assert paper["exit_reason"].tolist() == ["take_profit", "stop_loss"]  # the second entry overlapped the first
    cost = 2 * (settings.fees.taker + settings.fees.expected_slippage)
    assert paper["net_return"].iloc[0] == pytest.approx(settings.exits.take_profit_pct - cost)
    assert paper["net_return"].iloc[1] == pytest.approx(-settings.exits.stop_loss_pct - cost)
    held = paper_trades(entries.iloc[:1], store, settings, BenchingConfig(paper_hold_minutes=30))
    assert held["exit_reason"].tolist() == ["time_exit"]
    assert held["exit_ts_ms"].iloc[0] == start + HOUR + 30 * 60_000


def test_would_be_entries_read_the_benched_trail_rows():
    rows = pd.DataFrame(benched_trail(BAD, 0, hours=6))
    rows["reason_mask"] = 0
    rows["detail"] = [None, '{"direction": -1, "benched": true}', '{"direction": 0, "benched": true}']
    found = would_be_entries(rows, BAD, since_ms=0)
    assert found["side"].tolist() == [-1]
