"""The review read from a ledger: window, breakdowns, gates, Kelly calibration, parameter changes, red flags, cycle."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from botcore.analytics import flags as fl
from botcore.analytics import kelly, trail
from botcore.analytics.metrics import summary
from botcore.ledger import Ledger
from botcore.reports.cycle import load_cycle
from botcore.reports.review import ledger_summary, load_review, param_changes, review_ledger
from botcore.strategy.enums import Reason
from tests._review_ledger import DAY, HOUR, START_CASH, T0, demo_ledger, hand_ledger


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    return hand_ledger(tmp_path_factory.mktemp("hand") / "ledger.db")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_ledger(tmp_path_factory.mktemp("demo") / "ledger.db", days=3.0)


def same(a: dict, b: dict) -> bool:
    """Dict equality where NaN equals NaN."""
    return a.keys() == b.keys() and all(
        (isinstance(a[k], float) and isinstance(b[k], float) and math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k]
        for k in a)


# --------------------------------------------------------------------------- the window


def test_review_window_ends_at_the_last_snapshot_and_starts_from_the_equity_before_it(hand):
    data = load_review(hand.path, days=7)
    assert data.end_ms == hand.end_ms and data.start_ms == hand.end_ms - 7 * DAY
    assert data.starting_equity_usd == hand.equity_before_last_week
    assert data.trades["net_pnl_usd"].tolist() == pytest.approx([hand.net_pnl[-1]])
    s = build = review_ledger(hand.path, days=7).summary
    assert build["n_trades"] == 1 and s["net_pnl_usd"] == pytest.approx(29.2)
    assert s["final_equity_usd"] == pytest.approx(hand.final_equity)
    assert s["total_return"] == pytest.approx(hand.final_equity / hand.equity_before_last_week - 1)
    assert s["funding_usd"] == pytest.approx(-0.2) and s["fees_usd"] == pytest.approx(0.6)
    assert s["days"] == 7.0


def _numbers(s: dict) -> dict:
    """The summary without the review's burn-in sentence (a review knows the ledger's burn-in, a summary not)."""
    return {k: v for k, v in s.items() if k != "evidence_missing"}


def test_review_covering_the_whole_ledger_equals_the_ledger_summary(hand, demo):
    for path in (hand.path, demo):
        r = review_ledger(path, days=365)
        assert same(_numbers(r.summary), _numbers(ledger_summary(path)))
    with Ledger.open(hand.path, readonly=True) as ledger:
        direct = summary(ledger.trades(), ledger.equity(), START_CASH)
    s = review_ledger(hand.path, days=30).summary
    assert same(_numbers(s), _numbers(direct))
    assert s["n_trades"] == 3 and s["net_pnl_usd"] == pytest.approx(sum(hand.net_pnl))
    assert s["win_rate"] == pytest.approx(2 / 3)
    assert s["profit_factor"] == pytest.approx((9 + 29.2) / 52)
    assert s["profit_factor_verdict"] == "reassess the strategy"  # 0.73 < 0.8
    assert s["verdict"] == "insufficient evidence"  # 3 trades
    assert s["evidence_missing"] == ("3 closed trades of the 30 a verdict needs; burn-in: 3 closed trades in the "
                                     "whole ledger of the 30 before statistics count")
    assert s["max_drawdown_pct"] == pytest.approx(52 / 10_009)


def test_a_review_of_fewer_than_30_trades_says_insufficient_evidence_and_shows_no_annualised_ratio(hand):
    from botcore.reports import format as report

    r = review_ledger(hand.path, days=30)
    table = report.summary_table(r.summary)["value"]
    verdict = table.filter(like="Verdict").iloc[0]
    assert verdict.startswith("insufficient evidence: 3 closed trades of the 30")
    assert table.filter(like="Sharpe").iloc[0].startswith("not shown: 11 daily returns")
    assert table.filter(like="Sortino").iloc[0].startswith("not shown")
    assert "95% CI" in table.filter(like="Profit factor").iloc[0] and "n = 3 trades" in table.filter(like="Win rate").iloc[0]
    assert review_ledger(hand.path, days=30, min_trades=3).summary["evidence_missing"].startswith("burn-in")


def test_review_breakdowns_of_the_hand_ledger(hand):
    r = review_ledger(hand.path, days=30)
    assert r.by_strategy.loc["breakout_aggressive", "net_pnl_usd"] == pytest.approx(-52.0)
    assert r.by_sector.loc["mega", "trades"] == 2 and r.by_sector.loc["l1", "trades"] == 1
    assert set(r.by_close_reason.index) == {"take_profit", "stop_loss", "signal"}
    # regimes come from the entry decisions: code 0, the name "random", code 1
    assert set(r.by_regime.index) == {"trending", "random", "mean_reverting"}
    assert r.by_signal is None  # no signal scores recorded
    assert r.kelly["by_strategy"].loc["all", "predicted"] == pytest.approx((0.6 + 0.55 + 0.5) / 3)
    assert r.kelly["by_strategy"].loc["all", "realised"] == pytest.approx(2 / 3)
    assert r.gates.loc["mtf_not_confirmed", "blocked"] == 1
    assert r.gates.loc["roi_below_minimum", "also_failing"] == 1
    assert r.gates.loc["conviction_below_threshold", "share"] == pytest.approx(0.5)
    json.dumps(r.to_dict())


def test_review_of_the_demo_ledger_finds_the_planted_incidents(demo):
    r = review_ledger(demo, days=7)
    raised = {f.name for f in r.raised_flags}
    assert raised == {"missed_heartbeats", "circuit_breaker_trips"}
    assert r.by_signal is not None and r.by_regime is not None and r.kelly is not None
    changed = r.params_changed.set_index("kind")
    # the learning cycle, a bench, then a proposal
    assert list(changed.index) == ["learning", "benched_symbols", "sizing"]
    assert "weights.trend: 1.0 -> 1.25" in changed.loc["learning", "changes"]
    assert changed.loc["learning", "active"] and changed.loc["benched_symbols", "active"]
    assert not changed.loc["sizing", "active"]


def test_missing_ledger_is_a_clear_error(tmp_path):
    from botcore.errors import LedgerError

    with pytest.raises(LedgerError, match="does not exist"):
        load_review(tmp_path / "nope.db")
    with pytest.raises(ValueError, match="days"):
        load_review(tmp_path / "nope.db", days=0)


# --------------------------------------------------------------------------- trail


def decisions(rows):
    base = {"strategy": "trend_conservative", "reason_mask": 0, "detail": None}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_gate_blocks_count_deciding_and_also_failing_gates():
    d = decisions([
        {"ts_ms": 1, "symbol": "A", "outcome": Reason.skipped, "reason_code": Reason.kelly_no_edge,
         "reason_mask": 1 << Reason.kelly_no_edge | 1 << Reason.mtf_not_confirmed},
        {"ts_ms": 1, "symbol": "B", "outcome": Reason.skipped, "reason_code": Reason.mtf_not_confirmed,
         "reason_mask": 1 << Reason.mtf_not_confirmed},
        {"ts_ms": 1, "symbol": "C", "outcome": Reason.entered, "reason_code": Reason.entered,
         "reason_mask": 1 << Reason.entered | 1 << Reason.total_exposure},
        {"ts_ms": 1, "symbol": "D", "outcome": Reason.held, "reason_code": Reason.held},
    ])
    g = trail.gate_blocks(d)
    assert g.loc["mtf_not_confirmed", ["blocked", "also_failing"]].tolist() == [1, 1]
    assert g.loc["kelly_no_edge", "share"] == pytest.approx(0.5)
    assert g.loc["total_exposure", "clamped"] == 1
    assert "held" not in g.index and "entered" not in g.index


def test_entry_context_ties_a_trade_to_the_latest_entry_decision_within_tolerance():
    d = decisions([
        {"ts_ms": T0, "symbol": "A", "outcome": Reason.entered, "reason_code": Reason.entered,
         "detail": json.dumps({"win_prob": 0.7, "regime": 0, "signals": {"trend": 0.5}})},
        {"ts_ms": T0 + 10 * HOUR, "symbol": "A", "outcome": Reason.entered, "reason_code": Reason.entered,
         "detail": {"win_prob": 0.4}},
    ])
    trades = pd.DataFrame({"symbol": ["A", "A", "B"], "side": [1, -1, 1], "strategy_id": ["s"] * 3,
                           "entry_ts_ms": [T0 + 1000, T0 + 5 * HOUR, T0 + 1000], "net_pnl_usd": [1.0, -1.0, 2.0]})
    ctx = trail.attach_entry_context(trades, d)
    assert ctx["entry_win_prob"].tolist()[0] == 0.7
    assert math.isnan(ctx["entry_win_prob"].iloc[1])  # 5 h after the decision: beyond the tolerance
    assert math.isnan(ctx["entry_win_prob"].iloc[2])  # no decision for B
    assert ctx["regime"].tolist() == ["trending", None, None]
    sig = trail.signal_breakdown(ctx)
    assert sig.loc["trend", "trades"] == 1 and sig.loc["trend", "net_pnl_usd"] == 1.0


# --------------------------------------------------------------------------- red flags


def test_missed_heartbeats_flag_a_silence_but_not_a_clean_stop():
    beats = [(T0 + i * 20_000, "ok") for i in range(10)]
    beats += [(T0 + 10 * 20_000 + 90_000, "ok")]  # 110 s of silence > 3 x 20 s
    hb = pd.DataFrame({"ts_ms": [t for t, _ in beats], "component": "engine", "status": [s for _, s in beats]})
    flag = fl.heartbeat_flag(hb, 20, 3, None, None)
    assert flag.raised and flag.count == 1
    stopped = hb.copy()
    stopped.loc[9, "status"] = "stopped"
    assert not fl.heartbeat_flag(stopped, 20, 3, None, None).raised
    assert not fl.heartbeat_flag(hb.iloc[:10], 20, 3, None, None).raised
    assert not fl.heartbeat_flag(hb.iloc[:0], 20, 3, None, None).raised  # a backtest has none


def test_breaker_trips_count_runs_of_cycles():
    rows = []
    for i, tripped in enumerate([0, 1, 1, 0, 1, 0]):
        code = Reason.circuit_breaker_daily if tripped else Reason.conviction_below_threshold
        rows.append({"ts_ms": i, "symbol": "A", "outcome": Reason.skipped, "reason_code": code, "reason_mask": 1 << code})
    flag = fl.breaker_flag(decisions(rows), pd.DataFrame())
    assert flag.raised and flag.count == 2


def test_kelly_zero_for_every_strategy_is_a_red_flag():
    d = decisions([
        {"ts_ms": 1, "symbol": "A", "strategy": s, "outcome": Reason.skipped, "reason_code": Reason.kelly_no_edge}
        for s in ("sentiment_fusion", "trend_conservative")
    ])
    assert fl.kelly_flag(d).raised
    entered = decisions([{"ts_ms": 2, "symbol": "B", "strategy": "trend_conservative", "outcome": Reason.entered,
                          "reason_code": Reason.entered, "detail": {"kelly_f": 0.1}}])
    assert not fl.kelly_flag(pd.concat([d, entered])).raised


def test_invariant_kill_switch_reconciliation_and_outage_flags():
    report = {"ok": False, "cash_diff_usd": 2.5, "checks": [{"name": "cash", "diff": 2.5, "unit": "USD"}]}
    assert fl.invariant_flag(report).raised
    assert not fl.invariant_flag({"ok": False, "checks": [{"name": "cash", "diff": 0.5, "unit": "USD"}]}).raised
    empty = pd.DataFrame(columns=["ts_ms", "symbol", "strategy", "outcome", "reason_code", "reason_mask"])
    assert fl.kill_switch_flag(empty, pd.DataFrame(), {"flag:kill_switch": True}).raised
    assert not fl.kill_switch_flag(empty, pd.DataFrame(), {}).raised
    bad = {"reconcile:last": {"ts_ms": 5, "ok": False, "problems": ["BTC: venue 3 contracts, ledger 2"]}}
    flag = fl.reconcile_flag(pd.DataFrame(), pd.DataFrame(), bad, 0, 10)
    assert flag.raised and "venue 3 contracts" in flag.detail
    assert not fl.reconcile_flag(pd.DataFrame(), pd.DataFrame(), bad, 6, 10).raised  # before the window
    hb = pd.DataFrame({"ts_ms": [1, 2, 3], "component": "feed", "status": ["degraded", "ok", "stalled"]})
    assert not fl.outage_flag(empty, hb).raised  # two outages
    hb3 = pd.concat([hb, pd.DataFrame({"ts_ms": [4], "component": "feed", "status": ["outage"]})])
    assert fl.outage_flag(empty, hb3).raised
    names = [f.name for f in fl.red_flags(empty, hb3, pd.DataFrame())]
    assert names == list(fl.FLAG_NAMES)


# --------------------------------------------------------------------------- parameters and Kelly


def test_param_changes_list_what_changed_against_the_parent():
    params = pd.DataFrame([
        {"version": 1, "kind": "sizing", "created_ts_ms": 10, "parent_version": None, "active": 0,
         "body": json.dumps({"kelly_fraction": 0.3, "bounds": {"min": 200}}), "reason": "config"},
        {"version": 2, "kind": "sizing", "created_ts_ms": 20, "parent_version": 1, "active": 1,
         "body": json.dumps({"kelly_fraction": 0.25, "bounds": {"min": 200}}), "reason": "proposal"},
    ])
    out = param_changes(params, 15, 30)
    assert out["version"].tolist() == [2]
    assert out["changes"].iloc[0] == "kelly_fraction: 0.3 -> 0.25"
    assert param_changes(params)["changes"].iloc[0] == "(new)"


def test_kelly_inputs_and_bootstrap_by_hand():
    r = np.array([0.02, -0.01, 0.03, -0.01, 0.01])
    p, b = kelly.kelly_inputs(r)
    assert p == pytest.approx(0.6) and b == pytest.approx(0.02 / 0.01)
    est = kelly.bootstrap_kelly(r, n_boot=500, seed=1)
    assert est["kelly_f"] == pytest.approx(0.6 - 0.4 / 2.0)
    assert est["kelly_f_lo"] <= est["kelly_f"] <= est["kelly_f_hi"]
    assert 0 < est["shrinkage"] < 1
    assert kelly.bootstrap_kelly(r, n_boot=500, seed=1) == est  # deterministic for a seed
    no_edge = kelly.bootstrap_kelly(np.array([-0.01, -0.02, 0.005]), n_boot=200)
    assert no_edge["kelly_f"] < 0 and no_edge["shrinkage"] == 0.0


def test_kelly_table_and_proposal_never_exceed_the_current_fraction(demo):
    with Ledger.open(demo, readonly=True) as ledger:
        trades = ledger.trades()
    table = kelly.kelly_table(trades, n_boot=300, kelly_fraction=0.3)
    assert set(table.index) <= {"sentiment_fusion", "trend_conservative", "breakout_aggressive"}
    assert (table["fraction_to_use"] <= 0.3).all()
    assert (table.loc[table["kelly_f"] <= 0, "fraction_to_use"] == 0).all()
    assert 0.05 <= kelly.proposed_kelly_fraction(table, 0.3) <= 0.3


# --------------------------------------------------------------------------- cycle


def test_cycle_report_explains_the_latest_cycle(hand, demo):
    c = load_cycle(hand.path)
    assert c.ts_ms == T0 + 9 * DAY + HOUR and c.n_cycles == 3
    rows = c.rows.set_index("symbol")
    assert rows.loc["BTC/USDT:USDT", "gate"] == "conviction_below_threshold"
    assert rows.loc["SOL/USDT:USDT", "outcome_name"] == "entered" and rows.loc["SOL/USDT:USDT", "gate"] == ""
    assert "conviction below the strategy's threshold" in rows.loc["BTC/USDT:USDT", "explanation"]
    assert len(c.fills) == 2  # the SOL entry and exit booked before the next cycle (none)
    d = load_cycle(demo)
    assert len(d.rows) == 15 and d.outcomes.sum() == 15
    with pytest.raises(LookupError, match="no cycle at"):
        load_cycle(hand.path, 12345)


def test_gate_blocks_weight_compressed_trail_rows_by_their_bars():
    d = decisions([
        {"ts_ms": 1, "symbol": "A", "outcome": Reason.skipped, "reason_code": Reason.no_signal,
         "reason_mask": 1 << Reason.no_signal, "detail": json.dumps({"bars": 30})},
        {"ts_ms": 31, "symbol": "A", "outcome": Reason.skipped, "reason_code": Reason.roi_below_minimum,
         "reason_mask": 1 << Reason.roi_below_minimum, "detail": None},
    ])
    g = trail.gate_blocks(d)
    assert g.loc["no_signal", "blocked"] == 30 and g.loc["roi_below_minimum", "blocked"] == 1
    assert g.loc["no_signal", "share"] == pytest.approx(30 / 31)
    assert trail.gate_blocks_by_strategy(d).loc["no_signal", "trend_conservative"] == 30


def test_a_data_outage_of_some_symbols_is_not_a_market_wide_outage():
    d = decisions([
        {"ts_ms": 1, "symbol": "A", "outcome": Reason.skipped, "reason_code": Reason.no_signal},
        {"ts_ms": 1, "symbol": "B", "outcome": Reason.skipped, "reason_code": Reason.no_signal},
        {"ts_ms": 2, "symbol": "A", "outcome": Reason.skipped, "reason_code": Reason.data_outage},  # B unchanged
        {"ts_ms": 3, "symbol": "A", "outcome": Reason.skipped, "reason_code": Reason.data_outage},
        {"ts_ms": 3, "symbol": "B", "outcome": Reason.skipped, "reason_code": Reason.data_outage},
    ])
    assert trail.data_outage_cycles(d).to_dict() == {1: False, 2: False, 3: True}


def test_p_and_l_by_signal_of_a_backtest_comes_from_the_recorded_entry_scores(tmp_path):
    from botcore.config import load_settings
    from botcore.engine.backtest import restrict_settings, run_backtest
    from botcore.engine.testing import ACTIVE_OVERRIDES
    from botcore.market.sample import DEFAULT_START_MS, generate_sample_market
    from tests.conftest import CONFIG_DIR

    settings = restrict_settings(load_settings(CONFIG_DIR), ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"])
    generate_sample_market(tmp_path / "market", 1.5, 11, settings)
    start = DEFAULT_START_MS + DAY
    bt = run_backtest(tmp_path / "market", settings, tmp_path / "bt", start_ms=start, end_ms=start + 600 * 60_000,
                      run_seed=4, params_overrides=ACTIVE_OVERRIDES, warmup_bars=1_440)
    r = review_ledger(bt.ledger_path, days=30, settings=settings)
    n = r.summary["n_trades"]
    assert n >= 3, "the window must trade"
    assert r.trades_ctx["signals"].map(lambda s: isinstance(s, dict)).sum() == n  # every trade has its entry scores
    by_signal = r.by_signal
    assert by_signal is not None and len(by_signal) >= 3
    assert (by_signal["trades"] + by_signal["against_trades"] <= n).all()
    with Ledger.open(bt.ledger_path, readonly=True) as led:
        entries = led.table("signal_outcomes").query("event == 'entry'")
    first = r.trades_ctx.iloc[0]
    recorded = json.loads(entries[(entries["symbol"] == first["symbol"])
                                  & (entries["ts_ms"] == int(first["entry_ts_ms"]))]["scores"].iloc[0])
    assert first["signals"] == recorded
