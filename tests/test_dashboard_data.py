"""The dashboard's snapshot: every figure equals the ledger's own sums (re-derived here in SQL)."""

from __future__ import annotations

import json
import math
import sqlite3
import time

import pandas as pd
import pytest

from botcore.config import load_settings
from botcore.dashboard.data import (
    DAY_MS,
    SnapshotCache,
    filter_trades,
    health_payload,
    load_snapshot,
    trade_summary,
)
from botcore.ledger import Ledger
from botcore.strategy.enums import Breaker, Reason, mask_names, reason_name
from tests._dashboard_ledger import ADOPTED, OPEN_LONG, OPEN_SHORT, OUTAGE, PAST_OUTAGE, shared_ledger
from tests.conftest import CONFIG_DIR


@pytest.fixture(scope="module")
def built():
    return shared_ledger()


@pytest.fixture(scope="module")
def cfg():
    return load_settings(CONFIG_DIR)


@pytest.fixture(scope="module")
def snap(built, cfg):
    return load_snapshot(built.path, cfg, now=built.end_ms + 5_000)


def sql(path, query, *args):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute(query, args).fetchall()
    finally:
        con.close()


def one(path, query, *args):
    return sql(path, query, *args)[0][0]


def test_pnl_since_start_equals_the_ledger_sums(built, snap):
    p = built.path
    assert snap.since_start.realized_usd == pytest.approx(one(p, "SELECT SUM(realized_pnl_usd) FROM fills"), abs=1e-9)
    assert snap.since_start.fees_usd == pytest.approx(one(p, "SELECT SUM(fee_usd) FROM fills"), abs=1e-9)
    assert snap.since_start.funding_usd == pytest.approx(one(p, "SELECT SUM(amount_usd) FROM funding"), abs=1e-9)
    assert snap.since_start.n_trades == one(p, "SELECT COUNT(*) FROM trades") == 40
    assert snap.since_start.n_wins == one(p, "SELECT COUNT(*) FROM trades WHERE net_pnl_usd > 0")
    last_equity, unrealized = sql(p, "SELECT equity_usd, unrealized_pnl_usd FROM equity ORDER BY ts_ms DESC, seq DESC "
                                     "LIMIT 1")[0]
    assert snap.equity_usd == pytest.approx(last_equity)
    assert snap.since_start.unrealized_usd == pytest.approx(unrealized)
    assert snap.since_start.change_usd == pytest.approx(last_equity - 10_000.0)
    s = snap.since_start
    assert s.net_realized_usd == pytest.approx(s.realized_usd - s.fees_usd + s.funding_usd)
    # the ledger's invariant: cash = start + realised - fees + funding
    assert snap.cash_usd == pytest.approx(10_000.0 + s.net_realized_usd, abs=1e-6)


def test_pnl_today_counts_only_since_midnight_utc(built, snap):
    p, day = built.path, (built.end_ms + 5_000) // DAY_MS * DAY_MS
    today = snap.today
    assert today.realized_usd == pytest.approx(
        one(p, "SELECT COALESCE(SUM(realized_pnl_usd), 0) FROM fills WHERE ts_ms >= ?", day), abs=1e-9)
    assert today.fees_usd == pytest.approx(one(p, "SELECT COALESCE(SUM(fee_usd), 0) FROM fills WHERE ts_ms >= ?", day),
                                           abs=1e-9)
    assert today.funding_usd == pytest.approx(
        one(p, "SELECT COALESCE(SUM(amount_usd), 0) FROM funding WHERE ts_ms >= ?", day), abs=1e-9)
    assert today.n_trades == one(p, "SELECT COUNT(*) FROM trades WHERE exit_ts_ms >= ?", day)
    before = sql(p, "SELECT equity_usd FROM equity WHERE ts_ms < ? ORDER BY ts_ms DESC, seq DESC LIMIT 1", day)
    opening = before[0][0] if before else 10_000.0
    assert today.change_usd == pytest.approx(snap.equity_usd - opening)


def test_drawdown_is_measured_from_the_running_peak(built, snap):
    peak, worst, last = 10_000.0, 0.0, 0.0
    for (equity,) in sql(built.path, "SELECT equity_usd FROM equity ORDER BY ts_ms, seq"):
        peak = max(peak, equity)
        last = equity / peak - 1
        worst = min(worst, last)
    assert snap.max_drawdown_pct == pytest.approx(100 * worst)
    assert snap.drawdown_pct == pytest.approx(100 * last)
    assert len(snap.curve) == one(built.path, "SELECT COUNT(*) FROM equity")


def test_open_positions_show_mark_unrealised_stops_and_age(built, snap, cfg):
    pos = snap.positions.set_index("symbol")
    assert sorted(pos.index) == sorted([OPEN_LONG, OPEN_SHORT, ADOPTED])
    marks = json.loads(one(built.path, "SELECT value FROM meta WHERE key = 'marks'"))["prices"]
    for symbol, qty, entry, cs in sql(built.path, "SELECT symbol, qty_contracts, avg_entry_price, contract_size "
                                                  "FROM positions WHERE qty_contracts != 0"):
        row = pos.loc[symbol]
        assert row["mark_price"] == pytest.approx(marks[symbol])
        assert row["unrealized_usd"] == pytest.approx((marks[symbol] - entry) * qty * cs)
        sign = 1 if qty > 0 else -1
        assert row["stop_price"] == pytest.approx(entry * (1 - sign * cfg.exits.stop_loss_pct))
        assert row["take_profit_price"] == pytest.approx(entry * (1 + sign * cfg.exits.take_profit_pct))
    assert pos.loc[OPEN_LONG, "side"] == "long" and pos.loc[OPEN_SHORT, "side"] == "short"
    assert pos.loc[ADOPTED, "age"] == "aged/unknown" and bool(pos.loc[ADOPTED, "adopted"])
    assert pos.loc[OPEN_LONG, "age"].endswith("m")  # opened 30 cycles of 5 min before the end: 2h 25m
    assert snap.since_start.unrealized_usd == pytest.approx(pos["unrealized_usd"].sum())


def test_trades_are_newest_first_with_readable_reasons(built, snap):
    trades = snap.trades
    assert trades["exit_time"].is_monotonic_decreasing
    assert set(trades["side"]) <= {"long", "short"}
    assert set(trades["close_reason"]) <= {"take_profit", "stop_loss", "trailing_stop", "time_exit", "profit_lock",
                                           "signal"}
    assert trades["net_pnl_usd"].sum() == pytest.approx(one(built.path, "SELECT SUM(net_pnl_usd) FROM trades"))


def test_trade_filters_combine(snap):
    trades = snap.trades
    some = trades["symbol"].iloc[0]
    only = filter_trades(trades, symbols=[some], side="long")
    assert len(only) == ((trades["symbol"] == some) & (trades["side"] == "long")).sum()
    day = trades["exit_time"].iloc[-1].date()
    on_day = filter_trades(trades, start=day, end=day)
    assert len(on_day) == (trades["exit_time"].dt.date == day).sum() > 0
    assert len(filter_trades(trades, strategy="trend_conservative")) == (trades["strategy"] == "trend_conservative").sum()
    summary = trade_summary(only)
    assert summary["trades"] == len(only)
    assert summary["net_pnl_usd"] == pytest.approx(only["net_pnl_usd"].sum())
    assert trade_summary(trades.iloc[:0])["trades"] == 0


def test_why_not_trading_names_the_deciding_gate_of_each_symbols_last_decision(built, snap, cfg):
    rows = sql(built.path, """SELECT d.symbol, d.outcome, d.reason_code, d.reason_mask FROM decisions d
                              JOIN (SELECT symbol, MAX(seq) seq FROM decisions GROUP BY symbol) l USING (seq)""")
    why = snap.why_not.set_index("symbol")
    assert list(snap.why_not["symbol"]) == list(cfg.universe.symbols)
    for symbol, outcome, reason, mask in rows:
        row = why.loc[symbol]
        assert row["outcome"] == reason_name(outcome)
        assert row["gate"] == ("" if reason == outcome else reason_name(reason))
        assert row["other_gates"] == ", ".join(n for n in mask_names(mask) if n != reason_name(reason))
    assert why.loc[OUTAGE, "gate"] == "data_outage"
    assert snap.last_cycle_ts_ms == one(built.path, "SELECT MAX(ts_ms) FROM decisions") == built.end_ms


def test_gate_counts_tally_the_days_skipped_decisions(built, snap):
    since = built.end_ms + 5_000 - DAY_MS
    expected = dict(sql(built.path, "SELECT reason_code, COUNT(*) FROM decisions WHERE ts_ms >= ? AND outcome = ? "
                                    "GROUP BY reason_code", since, int(Reason.skipped)))
    got = dict(zip(snap.gate_counts["gate"], snap.gate_counts["cycles"]))
    assert got == {reason_name(c): n for c, n in expected.items()}


def test_data_outages_are_runs_of_blocked_cycles(snap):
    outages = snap.outages.set_index("symbol")
    assert outages.loc[OUTAGE, "cycles"] == 6 and bool(outages.loc[OUTAGE, "ongoing"])
    assert not outages.loc[PAST_OUTAGE, "ongoing"].any()  # DOGE's outage 16 h ago ended


def test_strategies_signals_and_benched(built, snap, cfg):
    alloc = snap.allocation.set_index("strategy")
    for name, strategy in cfg.strategies.strategies.items():
        assert alloc.loc[name, "active"] == pytest.approx(strategy.allocation)
    assert set(alloc["source"]) == {"ledger params"}
    bandit = snap.bandit.set_index("strategy")
    for name, wins, n in sql(built.path, "SELECT strategy_id, SUM(net_pnl_usd > 0), COUNT(*) FROM trades "
                                         "GROUP BY strategy_id"):
        assert bandit.loc[name, "alpha"] == cfg.strategies.bandit.prior_alpha + wins
        assert bandit.loc[name, "beta"] == cfg.strategies.bandit.prior_beta + n - wins
    assert list(snap.weights["version"]) == [v for (v,) in sql(built.path, "SELECT version FROM parameters WHERE "
                                                                           "kind = 'signal_weights' ORDER BY version")]
    assert snap.weights["active"].tolist() == [False, False, True]
    assert set(snap.kelly["strategy"]) == set(cfg.strategies.strategies)
    assert snap.benched.empty


def test_health_figures(built, snap):
    hb = snap.heartbeats.set_index("component")
    assert set(hb.index) == {"engine", "feed:blofin", "feed:coinglass"}
    assert snap.heartbeat_age_s == pytest.approx((built.end_ms + 5_000 - (built.end_ms + 900)) / 1000)
    assert not hb.loc["feed:coinglass", "healthy"] and hb.loc["engine", "healthy"]
    assert snap.breakers["tripped"].sum() == 0 and not snap.kill_switch
    assert snap.preflight is None
    assert snap.burn_in_phase == "past burn-in" and snap.invariant_ok is True
    assert snap.status == "degraded"
    assert "data outage on PEPE/USDT:USDT" in snap.problems


def test_health_payload_is_plain_json_of_the_snapshot(built, snap):
    payload = health_payload(snap)
    assert json.loads(json.dumps(payload)) == payload
    assert payload["mode"] == "paper"
    assert payload["open_positions"] == 3
    assert payload["equity_usd"] == pytest.approx(snap.equity_usd)
    assert payload["last_cycle_ts_ms"] == built.end_ms
    assert payload["breakers"] == [] and payload["kill_switch"] is False
    assert {"status", "heartbeat_age_s", "heartbeats", "closed_trades", "burn_in", "invariant_ok"} <= set(payload)


def test_a_fresh_ledger_renders_empty_figures(tmp_path, cfg):
    Ledger.open(tmp_path / "fresh.sqlite", starting_cash_usd=5_000.0, mode="demo").close()
    snap = load_snapshot(tmp_path / "fresh.sqlite", cfg)
    assert snap.mode == "demo" and snap.error is None
    assert snap.equity_usd == 5_000.0 and snap.n_trades == 0 and snap.positions.empty and snap.trades.empty
    assert snap.curve.empty and snap.outages.empty and snap.kelly.empty and snap.heartbeats.empty
    assert list(snap.why_not["outcome"].unique()) == ["no decision yet"]
    assert snap.weights["reason"].tolist() == ["config prior"]
    assert snap.status == "down" and snap.problems == ("no heartbeat recorded",)
    assert snap.burn_in_phase == "burn-in 0/30"
    json.dumps(health_payload(snap))


def test_a_missing_ledger_is_reported_not_raised(tmp_path):
    snap = load_snapshot(tmp_path / "nowhere.sqlite", None)
    assert snap.error and "does not exist" in snap.error
    assert snap.status == "down" and snap.mode == "paper" and snap.trades.empty
    assert health_payload(snap)["status"] == "down"


def test_conventions_written_by_other_components_are_shown(tmp_path, cfg):
    path = tmp_path / "conv.sqlite"
    now = int(time.time() * 1000)
    with Ledger.open(path, starting_cash_usd=10_000.0, mode="live") as ledger:
        ledger.set_meta("preflight", {"ts_ms": now, "results": [
            {"check": "kelly_nonzero", "status": "PASS", "detail": ""},
            {"check": "wallet", "status": "FAIL", "detail": "off by $3.10"}]})
        ledger.set_meta("circuit_breaker", {"code": Breaker.daily, "until_ms": now + 3_600_000})
        ledger.put_params("benched_symbols", {"DOGE/USDT:USDT": {"reason": "profit factor 0.6 over 40 trades",
                                                                 "since_ms": now}}, reason="bench", activate=True)
        ledger.set_flag("benched:XRP/USDT:USDT", True)
        ledger.put_params("bandit", {"sentiment_fusion": {"alpha": 12, "beta": 8}}, reason="engine", activate=True)
        ledger.set_flag("kill_switch", True)
        ledger.record_heartbeat("engine", ts_ms=now)
    snap = load_snapshot(path, cfg, now=now + 1_000)
    assert snap.mode == "live"
    assert snap.preflight["status"].tolist() == ["PASS", "FAIL"]
    assert snap.active_breakers == ["daily"]
    assert sorted(snap.benched["symbol"]) == ["DOGE/USDT:USDT", "XRP/USDT:USDT"]
    bandit = snap.bandit.set_index("strategy")
    assert bandit.loc["sentiment_fusion", "mean"] == pytest.approx(0.6)
    assert bandit.loc["sentiment_fusion", "source"] == "ledger params"
    assert snap.kill_switch and snap.kill_switch_ts_ms is not None
    assert snap.status == "degraded"
    assert {"kill switch engaged", "circuit breaker daily tripped", "preflight failed"} <= set(snap.problems)
    expired = load_snapshot(path, cfg, now=now + 2 * 3_600_000)
    assert expired.active_breakers == []


def test_a_stopped_bots_last_day_of_decisions_is_shown(built, cfg):
    later = built.end_ms + 3 * DAY_MS
    snap = load_snapshot(built.path, cfg, now=later)
    assert snap.last_cycle_ts_ms == built.end_ms
    assert int(snap.gate_counts["cycles"].sum()) == one(
        built.path, "SELECT COUNT(*) FROM decisions WHERE ts_ms >= ? AND outcome = 0", built.end_ms - DAY_MS)
    assert snap.status == "down" and snap.today.n_trades == 0


def test_breakers_are_read_from_the_last_cycle_when_no_meta_says(tmp_path, cfg):
    path = tmp_path / "brk.sqlite"
    with Ledger.open(path, starting_cash_usd=10_000.0) as ledger:
        ledger.record_decisions([
            {"ts_ms": 1_000, "symbol": "BTC/USDT:USDT", "strategy": "", "outcome": Reason.skipped,
             "reason_code": Reason.circuit_breaker_drawdown, "reason_mask": 1 << Reason.circuit_breaker_drawdown},
            {"ts_ms": 2_000, "symbol": "BTC/USDT:USDT", "strategy": "", "outcome": Reason.skipped,
             "reason_code": Reason.circuit_breaker_session,
             "reason_mask": 1 << Reason.circuit_breaker_session | 1 << Reason.circuit_breaker_daily},
        ])
    assert load_snapshot(path, cfg, now=3_000).active_breakers == ["session", "daily"]


def test_the_cache_reuses_snapshots_within_the_ttl_and_checks_the_invariant_in_the_background(built):
    cache = SnapshotCache(ttl_s=60.0)
    first = cache.get(built.path)
    assert cache.get(built.path) is first
    cache.wait_idle()
    checked = cache.get(built.path)
    assert checked is not first and checked.invariant_ok is True
    assert cache.get(built.path, force=True) is not checked


def test_the_snapshot_reads_a_ledger_while_a_writer_holds_a_transaction(built, cfg, tmp_path):
    import shutil

    path = tmp_path / "busy.sqlite"
    shutil.copy(built.path, path)
    writer = Ledger.open(path)
    try:
        with writer.transaction():
            writer.record_heartbeat("engine")
            snap = load_snapshot(path, cfg)
        assert snap.error is None and snap.n_trades == 40
        assert not math.isnan(snap.equity_usd)
    finally:
        writer.close()


def test_time_columns_are_utc(snap):
    assert str(snap.trades["exit_time"].dt.tz) == "UTC"
    assert isinstance(snap.curve["time"].iloc[0], pd.Timestamp)


def test_a_replay_is_judged_on_its_simulated_clock_and_its_heartbeats_on_the_wall_clock(tmp_path, cfg):
    """A replay of 2024 data watched in the present: healthy, today is the replay's day, ages in simulated time."""
    path = tmp_path / "replay.sqlite"
    sim = pd.Timestamp("2024-01-04 07:00", tz="UTC").value // 1_000_000
    wall = sim + 1_000 * DAY_MS  # years later, on the wall clock
    with Ledger.open(path, starting_cash_usd=10_000.0, mode="paper") as ledger:
        ledger.set_meta("replay", {"data": str(tmp_path / "market"), "start_ms": sim - 7 * 3_600_000,
                                   "end_ms": sim + 3_600_000, "warmup_ms": sim - 4 * DAY_MS})
        ledger.record_equity(sim - DAY_MS, {})  # yesterday (simulated): the day opens at 10,000
        ledger.record_equity(sim, {})
        ledger.set_meta("marks", {"ts_ms": sim, "prices": {}})
        ledger.record_heartbeat("engine", ts_ms=sim, detail={"wall_ms": wall - 3_000})  # the loop's beat
    snap = load_snapshot(path, cfg, now=wall)
    assert snap.is_replay and snap.now_ms == sim and snap.generated_ms == wall
    assert snap.heartbeat_age_s == pytest.approx(3.0)
    assert snap.status == "ok", snap.problems
    assert snap.today.n_trades == 0 and snap.daily_pnl["day"].iloc[-1] == pd.Timestamp("2024-01-04")
    payload = health_payload(snap)
    assert payload["clock"] == "simulated" and payload["run_now_ts_ms"] == sim
    assert payload["heartbeats"]["engine"]["healthy"] and payload["heartbeats"]["engine"]["age_s"] == pytest.approx(3.0)
    dead = load_snapshot(path, cfg, now=wall + 10 * 60_000)  # the replay process stopped beating 10 minutes ago
    assert dead.status == "down" and "last heartbeat 10m 3s ago" in dead.problems[0]


def test_a_live_run_is_judged_on_the_wall_clock(tmp_path, cfg):
    path = tmp_path / "live.sqlite"
    now = int(time.time() * 1000)
    with Ledger.open(path, starting_cash_usd=10_000.0, mode="live") as ledger:
        ledger.record_equity(now - 60_000, {})
        ledger.record_heartbeat("engine", ts_ms=now - 5_000)
    snap = load_snapshot(path, cfg, now=now)
    assert not snap.is_replay and snap.now_ms == now and snap.heartbeat_age_s == pytest.approx(5.0)
