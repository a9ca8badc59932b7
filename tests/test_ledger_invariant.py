"""The ledger invariant holds over random fills and funding, and breaks visibly, with the amount, when tampered with."""

from __future__ import annotations

import math
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botcore.ledger import Ledger
from botcore.model import FundingPayment, OrderSide, OrderStatus
from tests._ledger_helpers import make_fill, make_order, trade

START = 5_000.0
SYMBOLS = {"BTC/USDT:USDT": 0.001, "DOGE/USDT:USDT": 100.0}

fill_event = st.tuples(
    st.just("fill"),
    st.sampled_from(sorted(SYMBOLS)),
    st.sampled_from([OrderSide.BUY, OrderSide.SELL]),
    st.sampled_from([0.5, 1.0, 2.0, 3.0, 7.0]),
    st.floats(min_value=0.05, max_value=0.2),  # price in units of the symbol's scale
    st.floats(min_value=-0.01, max_value=0.5),  # fee, a rebate when negative
    st.booleans(),  # filled in two partial fills
)
funding_event = st.tuples(st.just("funding"), st.sampled_from(sorted(SYMBOLS)), st.floats(min_value=-2.0, max_value=2.0))
events_strategy = st.lists(st.one_of(fill_event, fill_event, fill_event, funding_event), min_size=1, max_size=25)
PRICE_SCALE = {"BTC/USDT:USDT": 500_000.0, "DOGE/USDT:USDT": 1.0}


def record_fill_event(ledger: Ledger, i: int, symbol: str, side: OrderSide, qty: float, price: float, fee: float,
                      split: bool, ts_ms: int) -> list[tuple[int, float, float, float]]:
    """Record one order filled in one or two fills; return (side, price, qty_base, fee) per fill."""
    order = make_order(f"o{i}", side, qty, ts_ms, symbol=symbol, contract_size=SYMBOLS[symbol])
    parts = [qty / 2, qty / 2] if split else [qty]
    flows = []
    with ledger.transaction():
        ledger.record_order(order)
        ledger.update_order_status(order.client_order_id, OrderStatus.SUBMITTED, ts_ms)
        for k, part in enumerate(parts):
            fill = make_fill(order, part, price, ts_ms + 1 + k, fill_id=f"o{i}-f{k}", fee_usd=fee / len(parts))
            ledger.record_fill(fill)
            flows.append((int(side), price, fill.qty_base, fill.fee_usd))
    return flows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=events_strategy)
def test_invariant_holds_over_random_fills_and_funding(events):
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger.open(Path(tmp) / "l.db", starting_cash_usd=START, synchronous="OFF")
        flows: dict[str, list] = {s: [] for s in SYMBOLS}
        funding_total = 0.0
        ts_ms = 1_000
        for i, event in enumerate(events):
            ts_ms += 1_000
            if event[0] == "fill":
                _, symbol, side, qty, price, fee, split = event
                flows[symbol] += record_fill_event(ledger, i, symbol, side, qty, price * PRICE_SCALE[symbol], fee,
                                                   split, ts_ms)
            else:
                _, symbol, amount = event
                ledger.record_funding(FundingPayment(symbol, amount, ts_ms))
                funding_total += amount
        report = ledger.check_invariant()
        assert report.ok, report.summary()

        # Flatten everything, then check against cash flows computed without average-cost accounting.
        for j, (symbol, position) in enumerate(ledger.open_positions().items()):
            side = OrderSide.SELL if position.qty_contracts > 0 else OrderSide.BUY
            ts_ms += 1_000
            flows[symbol] += record_fill_event(ledger, 10_000 + j, symbol, side, abs(position.qty_contracts),
                                               0.1 * PRICE_SCALE[symbol], 0.01, False, ts_ms)
        report = ledger.check_invariant()
        assert report.ok, report.summary()
        assert ledger.open_positions() == {}
        trades = ledger.trades()
        for symbol, rows in flows.items():
            cash_flow = math.fsum(-side * price * qty_base for side, price, qty_base, _ in rows)
            gross = math.fsum(trades.loc[trades["symbol"] == symbol, "gross_pnl_usd"])
            assert gross == pytest.approx(cash_flow, abs=1e-6)
        all_flows = [r for rows in flows.values() for r in rows]
        expected_cash = (START + math.fsum(-s * p * q for s, p, q, _ in all_flows)
                         - math.fsum(f for *_, f in all_flows) + funding_total)
        assert ledger.cash() == pytest.approx(expected_cash, abs=1e-6)
        unattributed = math.fsum(ledger.funding().query("attributed == 0")["amount_usd"])
        assert math.fsum(trades["net_pnl_usd"]) + unattributed == pytest.approx(ledger.cash() - START, abs=1e-6)
        ledger.close()


@pytest.fixture()
def busy_ledger(tmp_path) -> Ledger:
    """A ledger with two closed trades, one open position and funding."""
    ledger = Ledger.open(tmp_path / "l.db", starting_cash_usd=START)
    trade(ledger, "o1", OrderSide.BUY, 4, 100.0, 0, fee_usd=0.24, contract_size=1.0)
    trade(ledger, "o2", OrderSide.SELL, 4, 110.0, 10, fee_usd=0.264, contract_size=1.0)
    trade(ledger, "o3", OrderSide.SELL, 2, 120.0, 20, fee_usd=0.144, contract_size=1.0)
    ledger.record_funding(FundingPayment("BTC/USDT:USDT", 0.3, 25))
    trade(ledger, "o4", OrderSide.BUY, 1, 100.0, 30, fee_usd=0.06, contract_size=1.0)
    assert ledger.check_invariant().ok
    yield ledger
    ledger.close()


def test_deleting_a_fill_row_breaks_the_cash_check_by_that_fill(busy_ledger):
    fill = busy_ledger.fills().set_index("fill_id").loc["o4-f"]
    dropped_cash_usd = fill["realized_pnl_usd"] - fill["fee_usd"]  # +20 - 0.06
    raw = sqlite3.connect(busy_ledger.path)
    with raw:
        raw.execute("DELETE FROM fills WHERE fill_id = 'o4-f'")
    raw.close()
    report = busy_ledger.check_invariant()
    assert not report.ok
    assert report.cash_diff_usd == pytest.approx(dropped_cash_usd)
    assert report.red_flag
    names = {c.name for c in report.discrepancies}
    assert {"cash", "realized_pnl (trades + open positions vs fills)", "position_qty BTC/USDT:USDT"} <= names
    assert f"diff {dropped_cash_usd:+.6f}" in report.summary()


def test_a_bypassed_cash_update_breaks_the_invariant_by_the_fill_amount(busy_ledger, monkeypatch):
    monkeypatch.setattr(Ledger, "_move_cash", lambda self, delta_usd, ts_ms: None)
    effect = trade(busy_ledger, "o5", OrderSide.BUY, 1, 90.0, 40, fee_usd=0.054, contract_size=1.0)
    monkeypatch.undo()
    report = busy_ledger.check_invariant()
    assert [c.name for c in report.discrepancies] == ["cash"]
    assert report.cash_diff_usd == pytest.approx(-effect.cash_delta_usd)  # stored cash misses the fill
    assert report.cash_diff_usd == pytest.approx(-(30.0 - 0.054))


def test_a_missing_trade_row_breaks_the_realised_pnl_check(busy_ledger):
    gross = busy_ledger.trades().iloc[0]["gross_pnl_usd"]
    raw = sqlite3.connect(busy_ledger.path)
    with raw:
        raw.execute("DELETE FROM trades WHERE trade_id = (SELECT MIN(trade_id) FROM trades)")
    raw.close()
    report = busy_ledger.check_invariant()
    (bad,) = [c for c in report.discrepancies if c.name.startswith("realized_pnl")]
    assert bad.diff == pytest.approx(-gross)
    assert report.cash_diff_usd == pytest.approx(0.0)  # cash itself still agrees with the fills


def test_a_tampered_order_fill_quantity_is_reported(busy_ledger):
    raw = sqlite3.connect(busy_ledger.path)
    with raw:
        raw.execute("UPDATE orders SET filled_qty_contracts = 3 WHERE client_order_id = 'o1'")
    raw.close()
    report = busy_ledger.check_invariant()
    (bad,) = report.discrepancies
    assert bad.name == "order_filled_qty o1" and bad.diff == pytest.approx(-1.0)
