"""Ledger writes and reads: orders, fills, positions, trades, funding, equity, decisions, parameters, flags."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from botcore.errors import DataError, DuplicateFill, IllegalTransition, LedgerError
from botcore.ledger import DuplicateOrder, Ledger, RecordNotFound
from botcore.model import FundingPayment, OrderSide, OrderStatus, Position, TradeCloseReason
from tests._ledger_helpers import CONTRACT_SIZE, STARTING_CASH_USD, SYMBOL, make_fill, make_order, trade

BUY, SELL = OrderSide.BUY, OrderSide.SELL


@pytest.fixture()
def ledger(tmp_path):
    with Ledger.open(tmp_path / "ledger.db", starting_cash_usd=STARTING_CASH_USD, mode="paper") as ledger:
        yield ledger


def counts(ledger: Ledger) -> dict[str, int]:
    return {t: len(ledger.table(t)) for t in ("orders", "fills", "trades", "funding", "positions")}


def test_new_ledger_is_in_wal_mode_with_starting_cash(ledger):
    assert ledger._con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert ledger.cash() == STARTING_CASH_USD == ledger.starting_cash()
    assert ledger.get_meta("mode") == "paper"
    assert ledger.check_invariant().ok


def test_round_trip_writes_fills_position_trade_and_cash(ledger):
    trade(ledger, "o1", BUY, 10, 60_000.0, 1_000, fee_usd=0.36)
    position = ledger.position(SYMBOL)
    assert position.qty_contracts == 10 and position.avg_entry_price == 60_000.0
    assert ledger.positions()["qty_contracts"].tolist() == [10.0]
    trade(ledger, "o2", SELL, 10, 61_000.0, 2_000, fee_usd=0.366, close_reason=TradeCloseReason.TAKE_PROFIT)
    trades = ledger.trades()
    assert len(trades) == 1
    row = trades.iloc[0]
    assert row["gross_pnl_usd"] == pytest.approx(10.0)  # 1000 USD * 0.01 BTC
    assert row["fees_usd"] == pytest.approx(0.726)
    assert row["net_pnl_usd"] == pytest.approx(9.274)
    assert row["close_reason"] == TradeCloseReason.TAKE_PROFIT
    assert row["entry_ts_ms"] == 1_001 and row["exit_ts_ms"] == 2_001
    assert ledger.cash() == pytest.approx(STARTING_CASH_USD + 9.274)
    assert ledger.positions().empty and len(ledger.positions(include_flat=True)) == 1
    assert ledger.orders()["status"].tolist() == [OrderStatus.FILLED, OrderStatus.FILLED]
    assert ledger.check_invariant().ok


def test_duplicate_client_order_id_is_rejected(ledger):
    ledger.record_order(make_order("o1", BUY, 1, 0))
    with pytest.raises(DuplicateOrder, match="o1"):
        ledger.record_order(make_order("o1", SELL, 2, 5))
    assert len(ledger.orders()) == 1 and ledger.order("o1").side == BUY


def test_duplicate_fill_id_is_rejected_and_changes_nothing(ledger):
    trade(ledger, "o1", BUY, 2, 100.0, 0)
    order = make_order("o2", BUY, 2, 10)
    ledger.record_order(order)
    ledger.update_order_status("o2", OrderStatus.SUBMITTED, 11)
    before_cash, before = ledger.cash(), counts(ledger)
    with pytest.raises(DuplicateFill, match="o1-f"):
        ledger.record_fill(make_fill(order, 2, 100.0, 12, fill_id="o1-f"))
    assert ledger.cash() == before_cash and counts(ledger) == before
    assert ledger.order("o2").status == OrderStatus.SUBMITTED


def test_fill_for_unknown_order_is_rejected(ledger):
    with pytest.raises(RecordNotFound, match="ghost"):
        ledger.record_fill(make_fill(make_order("ghost", BUY, 1, 0), 1, 100.0, 1))
    assert ledger.fills().empty


def test_fill_on_unsubmitted_order_raises_illegal_transition_and_writes_nothing(ledger):
    order = make_order("o1", BUY, 1, 0)
    ledger.record_order(order)
    with pytest.raises(IllegalTransition, match="NEW -> FILLED"):
        ledger.record_fill(make_fill(order, 1, 100.0, 1))
    assert ledger.fills().empty and ledger.cash() == STARTING_CASH_USD


def test_illegal_status_update_raises_and_keeps_the_row(ledger):
    ledger.record_order(make_order("o1", BUY, 1, 0))
    ledger.update_order_status("o1", OrderStatus.CANCELED, 5, reason="stale")
    with pytest.raises(IllegalTransition, match="CANCELED -> SUBMITTED"):
        ledger.update_order_status("o1", OrderStatus.SUBMITTED, 6)
    order = ledger.order("o1")
    assert order.status == OrderStatus.CANCELED and order.status_reason == "stale" and order.updated_ts_ms == 5
    with pytest.raises(ValueError, match="record_fill"):
        ledger.update_order_status("o1", OrderStatus.FILLED, 7)


def test_open_orders_lists_only_live_ones(ledger):
    ledger.record_order(make_order("a", BUY, 1, 0))
    ledger.record_order(make_order("b", BUY, 1, 1))
    ledger.update_order_status("b", OrderStatus.REJECTED, 2, reason="margin")
    assert [o.client_order_id for o in ledger.open_orders()] == ["a"]
    assert ledger.orders(open_only=True)["client_order_id"].tolist() == ["a"]


def test_partial_fills_update_order_and_position(ledger):
    order = make_order("o1", BUY, 10, 0)
    ledger.record_order(order)
    ledger.update_order_status("o1", OrderStatus.SUBMITTED, 1)
    ledger.update_order_status("o1", OrderStatus.ACCEPTED, 2, venue_order_id="V1")
    ledger.record_fill(make_fill(order, 4, 100.0, 3, fill_id="a"))
    assert ledger.order("o1").status == OrderStatus.PARTIALLY_FILLED
    ledger.record_fill(make_fill(order, 6, 101.0, 4, fill_id="b"))
    stored = ledger.order("o1")
    assert stored.status == OrderStatus.FILLED and stored.venue_order_id == "V1"
    assert stored.avg_fill_price == pytest.approx(100.6)
    assert ledger.position(SYMBOL).avg_entry_price == pytest.approx(100.6)


def test_flip_writes_a_trade_and_opens_the_other_side(ledger):
    trade(ledger, "o1", BUY, 2, 100.0, 0, fee_usd=0.2)
    effect = trade(ledger, "o2", SELL, 5, 110.0, 10, fee_usd=0.5)
    assert effect.realized_pnl_usd == pytest.approx(20 * CONTRACT_SIZE)
    assert ledger.trades()["close_reason"].tolist() == [TradeCloseReason.FLIP]
    position = ledger.position(SYMBOL)
    assert position.qty_contracts == -3 and position.fees_usd == pytest.approx(0.3)
    assert ledger.check_invariant().ok


def test_position_survives_reopen_and_closes_in_a_later_session(tmp_path):
    path = tmp_path / "l.db"
    with Ledger.open(path, starting_cash_usd=1_000.0) as ledger:
        trade(ledger, "o1", SELL, 4, 200.0, 0, fee_usd=0.1, contract_size=1.0, symbol="ETH/USDT:USDT")
        ledger.record_funding(FundingPayment("ETH/USDT:USDT", 0.25, 5))
    with Ledger.open(path, starting_cash_usd=1_000.0) as ledger:
        assert ledger.open_positions()["ETH/USDT:USDT"].qty_contracts == -4
        trade(ledger, "o2", BUY, 4, 190.0, 10, fee_usd=0.1, contract_size=1.0, symbol="ETH/USDT:USDT")
        row = ledger.trades().iloc[0]
        assert row["gross_pnl_usd"] == pytest.approx(40.0)
        assert row["funding_usd"] == pytest.approx(0.25)
        assert row["net_pnl_usd"] == pytest.approx(40.0 - 0.2 + 0.25)
        assert ledger.cash() == pytest.approx(1_000.0 + 40.05)
        assert ledger.check_invariant().ok


def test_funding_on_flat_symbol_moves_only_cash(ledger):
    ledger.record_funding(FundingPayment(SYMBOL, -0.5, 100))
    assert ledger.cash() == pytest.approx(STARTING_CASH_USD - 0.5)
    assert ledger.funding()["attributed"].tolist() == [0]
    assert ledger.check_invariant().ok
    with pytest.raises(DataError, match="already recorded"):
        ledger.record_funding(FundingPayment(SYMBOL, -0.5, 100))


def test_adopted_position_closes_into_a_trade_without_entry_time(ledger):
    ledger.adopt_position(Position.adopted_from_venue(SYMBOL, CONTRACT_SIZE, 5, 100.0, 50))
    assert ledger.open_positions()[SYMBOL].entry_ts_ms is None
    with pytest.raises(DataError, match="already holds"):
        ledger.adopt_position(Position.adopted_from_venue(SYMBOL, CONTRACT_SIZE, 1, 100.0, 60))
    trade(ledger, "o1", SELL, 5, 110.0, 100, fee_usd=0.01, close_reason=TradeCloseReason.RECONCILE)
    row = ledger.trades().iloc[0]
    assert pd.isna(row["entry_ts_ms"]) and row["adopted"] == 1
    assert row["gross_pnl_usd"] == pytest.approx(10 * 5 * CONTRACT_SIZE)
    report = ledger.check_invariant()
    assert report.ok, report.summary()


def test_record_equity_marks_open_positions(ledger):
    trade(ledger, "o1", BUY, 10, 100.0, 0, fee_usd=0.0, contract_size=1.0)
    snap = ledger.record_equity(1_000, {SYMBOL: 103.0})
    assert snap.unrealized_pnl_usd == pytest.approx(30.0)
    assert snap.equity_usd == pytest.approx(STARTING_CASH_USD + 30.0)
    assert snap.exposure_usd == pytest.approx(1_030.0) and snap.n_positions == 1
    assert ledger.equity()["equity_usd"].tolist() == [pytest.approx(STARTING_CASH_USD + 30.0)]
    with pytest.raises(DataError, match=r"mark_prices\['BTC/USDT:USDT'\]"):
        ledger.record_equity(2_000, {})


def test_record_decisions_in_bulk_and_read_them_back(ledger):
    n = 20_000
    frame = pd.DataFrame(
        {
            "ts_ms": np.repeat(np.arange(n // 4, dtype=np.int64) * 60_000, 4),
            "symbol": np.tile(["A/USDT:USDT", "B/USDT:USDT", "C/USDT:USDT", "D/USDT:USDT"], n // 4),
            "strategy": "trend_conservative",
            "outcome": np.int64(1),
            "reason_code": np.arange(n, dtype=np.int64) % 7,
            "reason_mask": np.int64(0b101),
        }
    )
    assert ledger.record_decisions(frame) == n
    assert ledger.record_decisions([{"ts_ms": np.int64(1), "symbol": "A/USDT:USDT", "strategy": "x",
                                     "outcome": 0, "reason_code": 3, "detail": {"gate": "mtf"}}]) == 1
    back = ledger.decisions(since_ms=60_000 * (n // 4 - 1))
    assert len(back) == 4 and back["reason_code"].dtype.kind == "i"
    one = ledger.decisions(since_ms=1, symbol="A/USDT:USDT").iloc[0]
    assert one["detail"] == '{"gate": "mtf"}' and one["reason_code"] == 3


def test_decision_rows_without_timestamp_are_rejected(ledger):
    with pytest.raises(DataError, match="ts_ms"):
        ledger.record_decisions([{"ts_ms": None, "symbol": "A", "strategy": "x", "outcome": 0, "reason_code": 1}])
    with pytest.raises(DataError, match="reason_code"):
        ledger.record_decisions(pd.DataFrame({"ts_ms": [1], "symbol": ["A"], "strategy": ["x"], "outcome": [0]}))
    assert ledger.decisions().empty


def test_parameters_are_versioned_with_parents_and_roll_back(ledger):
    v1 = ledger.put_params("signal_weights", {"trend": 1.0}, reason="prior", activate=True, ts_ms=1)
    v2 = ledger.put_params("signal_weights", {"trend": 1.4}, reason="learning cycle", ts_ms=2)
    assert ledger.active_params("signal_weights").version == v1  # stored, not active yet
    ledger.activate(v2)
    active = ledger.active_params("signal_weights")
    assert (active.version, active.parent_version, active.body) == (v2, v1, {"trend": 1.4})
    assert ledger.rollback("signal_weights").version == v1
    assert ledger.active_params("signal_weights").body == {"trend": 1.0}
    assert ledger.list_params("signal_weights")["active"].tolist() == [1, 0]
    with pytest.raises(RecordNotFound, match="no earlier version"):
        ledger.rollback("signal_weights")
    assert ledger.active_params("other") is None


def test_only_one_active_version_per_kind_is_possible(ledger):
    ledger.put_params("k", {}, reason="a", activate=True)
    with pytest.raises(sqlite3.IntegrityError):
        ledger._con.execute("INSERT INTO parameters (kind, created_ts_ms, active, body, reason) VALUES ('k', 1, 1, '{}', 'x')")


def test_kill_switch_flag_persists_across_reopen(tmp_path):
    path = tmp_path / "l.db"
    with Ledger.open(path, starting_cash_usd=1.0) as ledger:
        assert ledger.get_flag("kill_switch") is False
        ledger.set_flag("kill_switch", True)
    with Ledger.open(path, readonly=True) as reader:
        assert reader.get_flag("kill_switch") is True


def test_heartbeats_keep_the_latest_per_component(ledger):
    for ts in (1, 2, 3):
        ledger.record_heartbeat("engine", ts_ms=ts)
    ledger.record_heartbeat("feed", ts_ms=2, status="degraded", detail={"stale": ["BTC"]})
    last = ledger.last_heartbeats()
    assert last[["component", "ts_ms", "status"]].values.tolist() == [["engine", 3, "ok"], ["feed", 2, "degraded"]]


def test_failed_transaction_writes_nothing(ledger):
    with pytest.raises(RuntimeError):
        with ledger.transaction():
            trade(ledger, "o1", BUY, 1, 100.0, 0)
            ledger.record_heartbeat("engine", ts_ms=1)
            raise RuntimeError("crash mid-cycle")
    assert counts(ledger) == {"orders": 0, "fills": 0, "trades": 0, "funding": 0, "positions": 0}
    assert ledger.heartbeats().empty and ledger.cash() == STARTING_CASH_USD


def test_nested_transaction_failure_rolls_back_only_the_inner_block(ledger):
    with ledger.transaction():
        trade(ledger, "o1", BUY, 1, 100.0, 0)
        with pytest.raises(DuplicateFill):
            with ledger.transaction():
                ledger.record_order(make_order("o2", BUY, 1, 5))
                ledger.update_order_status("o2", OrderStatus.SUBMITTED, 6)
                ledger.record_fill(make_fill(ledger.order("o2"), 1, 100.0, 7, fill_id="o1-f"))
    assert ledger.orders()["client_order_id"].tolist() == ["o1"]
    assert ledger.check_invariant().ok


def test_uncommitted_writes_are_invisible_to_a_reader(ledger):
    with Ledger.open(ledger.path, readonly=True) as reader:
        with ledger.transaction():
            trade(ledger, "o1", BUY, 1, 100.0, 0)
            assert reader.fills().empty and reader.cash() == STARTING_CASH_USD
        assert len(reader.fills()) == 1


def test_read_only_ledger_refuses_writes(ledger):
    with Ledger.open(ledger.path, readonly=True) as reader:
        with pytest.raises(LedgerError, match="read-only"):
            reader.record_heartbeat("x")
        with pytest.raises(LedgerError, match="read-only"):
            reader.set_flag("kill_switch", True)


def test_read_only_ledger_can_be_shared_by_threads(ledger):
    from concurrent.futures import ThreadPoolExecutor

    for i in range(5):
        trade(ledger, f"o{i}", BUY if i % 2 == 0 else SELL, 1, 100.0 + i, i * 10)
    with Ledger.open(ledger.path, readonly=True) as reader:
        with ThreadPoolExecutor(max_workers=4) as pool:
            reports = list(pool.map(lambda _: reader.check_invariant(), range(40)))
    assert all(r.ok and r.n_fills == 5 for r in reports)
