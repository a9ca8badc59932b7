"""Preflight: every check passes on a healthy setup and fails for its own reason."""

from __future__ import annotations

import json
import os
import sqlite3

import numpy as np
import pytest
from typer.testing import CliRunner

from botcore.cli import app
from botcore.config.models import STRATEGY_NAMES, CircuitBreaker
from botcore.engine import preflight as pf
from botcore.engine.preflight import Status
from botcore.ledger import Ledger
from botcore.model import OrderSide
from botcore.ops.killswitch import engage
from botcore.ops.status import record_breaker_state
from botcore.strategy import build_params, decide, new_memory
from botcore.venues import VenueBalance, VenuePosition
from tests._ledger_helpers import CONTRACT_SIZE, STARTING_CASH_USD, SYMBOL, trade


class FakeVenue:
    """A venue port reduced to what preflight asks: positions and balance."""

    name = "fake"

    def __init__(self, positions: dict[str, float], cash_usd: float) -> None:
        self._positions = positions
        self._cash = cash_usd

    async def positions(self) -> list[VenuePosition]:
        return [VenuePosition(s, q, CONTRACT_SIZE, 60_000.0) for s, q in self._positions.items()]

    async def balance(self) -> VenueBalance:
        return VenueBalance(cash_usd=self._cash, equity_usd=self._cash, available_usd=self._cash, frozen_usd=0.0,
                            unrealized_pnl_usd=0.0, ts_ms=0)


@pytest.fixture
def ledger_path(tmp_path):
    path = tmp_path / "ledger.db"
    with Ledger.open(path, starting_cash_usd=STARTING_CASH_USD, mode="paper") as book:
        trade(book, "o1", OrderSide.BUY, 3, 60_000.0, 1_700_000_000_000)
    return path


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory, settings):
    from botcore.market.sample import generate_sample_market
    from botcore.market.store import Store

    root = tmp_path_factory.mktemp("preflight_sample")
    generate_sample_market(root, 1, 5, settings)
    return Store(root)


def open_ledger(path):
    return Ledger.open(path, readonly=True)


# ---------------------------------------------------------------- 1. Kelly bootstrap


def test_kelly_bootstrap_sizes_a_high_conviction_setup(settings):
    result = pf.check_kelly_bootstrap(settings)
    assert result.status == Status.PASS, result.detail
    sizes = [r["size_usd"] for r in result.data["strategies"].values()]
    assert len(sizes) == 3 and all(200.0 <= s <= 2_000.0 for s in sizes)


def test_kelly_bootstrap_fails_when_defaults_leave_no_edge(settings):
    params = build_params(settings, {"default_win_rate": 0.2})
    result = pf.check_kelly_bootstrap(settings, params=params)
    assert result.status == Status.FAIL
    assert "Kelly size calculated as 0.0 for every strategy" in result.detail


def test_kelly_bootstrap_warns_when_one_strategy_memory_has_no_edge(settings):
    params = build_params(settings)
    memory = new_memory(params)
    losing = STRATEGY_NAMES.index("breakout_aggressive")
    memory[losing]["returns"][:50] = [0.01 if k % 5 == 0 else -0.01 for k in range(50)]  # 10 wins in 50
    memory[losing]["n_trades"], memory[losing]["head"] = 50, 50
    result = pf.check_kelly_bootstrap(settings, params=params, memory=memory)
    assert result.status == Status.WARN, result.detail
    assert result.detail.startswith("Kelly size 0 for breakout_aggressive ")
    sizes = {s: r["size_usd"] for s, r in result.data["strategies"].items()}
    assert sizes["breakout_aggressive"] == 0.0 and sizes["trend_conservative"] > 0 and sizes["sentiment_fusion"] > 0


def test_kelly_bootstrap_fails_when_no_strategy_is_enabled(settings):
    params = build_params(settings)
    params[0]["strategy_enabled"][:] = 0
    result = pf.check_kelly_bootstrap(settings, params=params)
    assert result.status == Status.FAIL and result.detail == "no strategy is enabled"


# ---------------------------------------------------------------- 2. positions and sectors


def test_positions_and_sectors_agree_with_the_venue(settings, ledger_path):
    with open_ledger(ledger_path) as book:
        result = pf.check_positions_sectors(settings, book, FakeVenue({SYMBOL: 3.0}, STARTING_CASH_USD))
    assert result.status == Status.PASS, result.detail
    assert result.data["ledger_sectors"] == result.data["venue_sectors"] == {"mega": 1}
    assert "1 positions across 1 sectors" in result.detail


def test_positions_disagreeing_with_the_venue_fail(settings, ledger_path):
    venue = FakeVenue({SYMBOL: 2.0, "ETH/USDT:USDT": 1.0}, STARTING_CASH_USD)
    with open_ledger(ledger_path) as book:
        result = pf.check_positions_sectors(settings, book, venue)
    assert result.status == Status.FAIL
    assert f"{SYMBOL}: ledger 3, venue 2" in result.detail and "ETH/USDT:USDT: ledger 0, venue 1" in result.detail


def test_a_default_paper_venue_holds_no_state_so_a_difference_only_warns(settings, ledger_path):
    with open_ledger(ledger_path) as book:
        result = pf.check_positions_sectors(settings, book)
    assert result.status == Status.WARN and "holds no state" in result.detail


def test_positions_over_the_sector_limit_warn_even_when_the_venue_agrees(settings, ledger_path):
    with Ledger.open(ledger_path) as book:  # BTC is held; ETH makes two "mega", one over a limit of one
        trade(book, "o2", OrderSide.BUY, 2, 3_000.0, 1_700_000_060_000, symbol="ETH/USDT:USDT", contract_size=0.01)
    tight = settings.model_copy(update={"risk": settings.risk.model_copy(update={"max_positions_per_sector": 1})})
    venue = FakeVenue({SYMBOL: 3.0, "ETH/USDT:USDT": 2.0}, STARTING_CASH_USD)
    with open_ledger(ledger_path) as book:
        result = pf.check_positions_sectors(tight, book, venue)
        fine = pf.check_positions_sectors(settings, book, venue)
    assert result.status == Status.WARN, result.detail
    assert "venue agrees; mega holds 2 (limit 1)" in result.detail
    assert fine.status == Status.PASS, fine.detail


def test_positions_over_max_positions_or_outside_the_universe_warn(settings, ledger_path):
    with Ledger.open(ledger_path) as book:
        trade(book, "o2", OrderSide.BUY, 1, 1.0, 1_700_000_060_000, symbol="XYZ/USDT:USDT", contract_size=1.0)
    one = settings.model_copy(update={"risk": settings.risk.model_copy(update={"max_positions": 1})})
    venue = FakeVenue({SYMBOL: 3.0, "XYZ/USDT:USDT": 1.0}, STARTING_CASH_USD)
    with open_ledger(ledger_path) as book:
        result = pf.check_positions_sectors(one, book, venue)
    assert result.status == Status.WARN, result.detail
    assert "2 open positions exceed max_positions 1" in result.detail
    assert "symbols outside the universe (sector unknown): XYZ/USDT:USDT" in result.detail


# ---------------------------------------------------------------- 3. signal engine


def test_signal_engine_produces_live_signals_on_the_last_bars(settings, sample_store):
    result = pf.check_signal_engine(settings, sample_store)
    assert result.status == Status.PASS, result.detail
    assert result.data["min_live"] >= settings.signals.min_live_signals
    assert result.data["tradable"] > 0


def test_signal_engine_fails_without_data(settings, tmp_path):
    from botcore.market.store import Store

    result = pf.check_signal_engine(settings, Store(tmp_path / "empty"))
    assert result.status == Status.FAIL and "no 1m candles" in result.detail


def test_signal_engine_fails_when_history_is_too_short_to_warm_up(settings, tmp_path):
    from botcore.market.sample import generate_sample_market
    from botcore.market.store import Store

    generate_sample_market(tmp_path / "short", 0.05, 1, settings)
    result = pf.check_signal_engine(settings, Store(tmp_path / "short"))
    assert result.status == Status.FAIL and "no symbol has 5 live signals" in result.detail


def _copy_store(src, dst):
    import shutil

    from botcore.market.store import Store

    shutil.copytree(src.root, dst)
    return Store(dst)


def test_signal_engine_warns_when_a_symbol_has_no_candles(settings, sample_store, tmp_path):
    store = _copy_store(sample_store, tmp_path / "holed")
    store.path("candles_1m", "SOL/USDT:USDT").unlink()
    result = pf.check_signal_engine(settings, store)
    assert result.status == Status.WARN, result.detail
    assert "no candles for SOL/USDT:USDT" in result.detail
    assert result.data["symbols_without_candles"] == ["SOL/USDT:USDT"]


def test_signal_engine_warns_when_recorded_data_is_old(settings, sample_store, tmp_path):
    store = _copy_store(sample_store, tmp_path / "recorded")
    (store.root / "SYNTHETIC").unlink()  # as if recorded from the venue
    last = max(store.last_ts("candles_1m", a.symbol) for a in settings.universe.enabled)
    fresh = pf.check_signal_engine(settings, store, now_ms=last + 2 * 60_000)
    old = pf.check_signal_engine(settings, store, now_ms=last + 6 * 3_600_000)
    assert fresh.status == Status.PASS, fresh.detail
    assert old.status == Status.WARN and "the data ends 6.0 h ago (candles older than 180 s are stale)" in old.detail


# ---------------------------------------------------------------- 4. data outage


def test_a_missing_order_book_blocks_the_entry(settings):
    result = pf.check_data_outage(settings)
    assert result.status == Status.PASS, result.detail
    assert result.data["control"].startswith("entered")
    assert result.data["outage"] == "skipped/data_outage"


def test_outage_check_fails_when_the_book_is_not_a_required_signal(settings):
    lax = settings.model_copy(update={"signals": settings.signals.model_copy(update={"required_signals": ()})})
    result = pf.check_data_outage(lax)
    assert result.status == Status.FAIL
    assert "NOT blocked when the order book is unavailable" in result.detail


def test_outage_check_fails_when_missing_data_is_faked_as_neutral(settings):
    """The prototype's bug: an unavailable book replaced by a neutral one, so trading went on."""

    def decide_with_fake_book(now_ms, positions, portfolio, memory, features, signals, regime, params, seed):
        features.best_bid[:] = np.where(np.isnan(features.best_bid), features.price, features.best_bid)
        features.best_ask[:] = np.where(np.isnan(features.best_ask), features.price, features.best_ask)
        signals.status[:] = 0
        signals.tradable[:] = True
        signals.n_live[:] = signals.status.shape[1]
        return decide(now_ms, positions, portfolio, memory, features, signals, regime, params, seed)

    result = pf.check_data_outage(settings, decide_fn=decide_with_fake_book)
    assert result.status == Status.FAIL


def test_outage_check_fails_when_the_outage_is_held_back_by_another_gate(settings):
    """Blocked, but not by DATA_OUTAGE: the check cannot claim the protection works."""

    def decide_frozen(now_ms, positions, portfolio, *rest):
        portfolio["kill_switch"] = 1  # freeze: every entry is held back by the kill switch first
        return decide(now_ms, positions, portfolio, *rest)

    result = pf.check_data_outage(settings, decide_fn=decide_frozen)
    assert result.status == Status.FAIL
    assert "was not recognised as DATA_OUTAGE: skipped/kill_switch" in result.detail


def test_outage_check_warns_when_the_control_setup_does_not_enter(settings):
    params = build_params(settings, {"bandit_enabled": 0, "default_win_rate": 0.3,  # no edge: nothing enters
                                     "burn_in_min_size": 0})  # (Kelly gates from the first trade)
    result = pf.check_data_outage(settings, params=params)
    assert result.status == Status.WARN, result.detail
    assert "the control setup with a book did not enter (skipped/kelly_no_edge)" in result.detail
    assert result.data["outage"].startswith("skipped/data_outage")


# ---------------------------------------------------------------- 5. aged positions


def test_a_position_with_unknown_entry_time_exits(settings):
    result = pf.check_aged_exit(settings)
    assert result.status == Status.PASS, result.detail
    assert "entry_time_unknown" in result.data["trail"]


def test_aged_exit_fails_when_unknown_entry_times_are_treated_as_fresh(settings):
    """The prototype's zombie positions: a null timestamp made a position immortal."""

    def decide_treating_unknown_as_now(now_ms, positions, *rest):
        positions["entry_ts_ms"] = np.where(positions["entry_ts_ms"] < 0, now_ms, positions["entry_ts_ms"])
        return decide(now_ms, positions, *rest)

    result = pf.check_aged_exit(settings, decide_fn=decide_treating_unknown_as_now)
    assert result.status == Status.FAIL and "does not exit" in result.detail


# ---------------------------------------------------------------- 6. financial integrity


def test_financial_integrity_passes_on_a_reconciled_ledger(ledger_path):
    with open_ledger(ledger_path) as book:
        cash = book.cash()
        result = pf.check_financial_integrity(book, FakeVenue({SYMBOL: 3.0}, cash + 0.5))
    assert result.status == Status.PASS, result.detail


def test_a_wallet_discrepancy_over_one_dollar_fails(ledger_path):
    with open_ledger(ledger_path) as book:
        result = pf.check_financial_integrity(book, FakeVenue({SYMBOL: 3.0}, book.cash() - 1.25))
    assert result.status == Status.FAIL and "wallet discrepancy +1.25 USD" in result.detail


def test_a_broken_ledger_invariant_fails(ledger_path):
    con = sqlite3.connect(ledger_path)
    con.execute("UPDATE account SET cash_usd = cash_usd + 5 WHERE id = 1")
    con.commit()
    con.close()
    with open_ledger(ledger_path) as book:
        result = pf.check_financial_integrity(book)
    assert result.status == Status.FAIL and "off by +5.00 USD" in result.detail


def test_a_failed_reconciliation_on_record_fails(ledger_path):
    with Ledger.open(ledger_path) as book:
        book.set_meta("reconcile:last", {"ts_ms": 1, "ok": False, "cash_diff_usd": -3.4, "problems": ["cash"]})
        result = pf.check_financial_integrity(book)
    assert result.status == Status.FAIL and "last reconciliation: -3.40 USD" in result.detail


def test_an_invariant_discrepancy_under_one_dollar_warns(ledger_path):
    con = sqlite3.connect(ledger_path)
    con.execute("UPDATE account SET cash_usd = cash_usd + 0.4 WHERE id = 1")
    con.commit()
    con.close()
    with open_ledger(ledger_path) as book:
        result = pf.check_financial_integrity(book)
    assert result.status == Status.WARN and "1 invariant discrepancies under $1" in result.detail


def test_financial_integrity_without_a_ledger_warns():
    result = pf.check_financial_integrity(None)
    assert result.status == Status.WARN and "no ledger yet" in result.detail


# ---------------------------------------------------------------- 7. operational health


def test_operational_health_passes_with_gates_open(settings, ledger_path):
    with open_ledger(ledger_path) as book:
        result = pf.check_operational_health(settings, ledger_path, book)
    assert result.status == Status.PASS, result.detail
    assert "all gates open" in result.detail and "circuit breaker armed" in result.detail


def test_operational_health_fails_when_the_disk_is_full(settings, ledger_path):
    with open_ledger(ledger_path) as book:
        result = pf.check_operational_health(settings, ledger_path, book, min_free_mb=1e12)
    assert result.status == Status.FAIL and "MB free on the ledger's disk" in result.detail


def test_operational_health_warns_while_the_kill_switch_is_engaged(settings, ledger_path):
    engage(ledger_path, "freeze", who="ops", why="drill")
    with open_ledger(ledger_path) as book:
        result = pf.check_operational_health(settings, ledger_path, book)
    assert result.status == Status.WARN and "kill switch engaged (freeze) by ops: drill" in result.detail


def test_operational_health_warns_about_a_bot_that_went_silent(settings, ledger_path):
    with Ledger.open(ledger_path) as book:
        book.record_heartbeat("engine", ts_ms=1_000, detail={"pid": 1})
    with open_ledger(ledger_path) as book:
        result = pf.check_operational_health(settings, ledger_path, book)
    assert result.status == Status.WARN and "crashed or hung" in result.detail


def test_operational_health_passes_while_the_bot_beats_and_after_a_clean_stop(settings, ledger_path):
    now_ms = 1_767_225_600_000
    with Ledger.open(ledger_path) as book:
        book.record_heartbeat("engine", ts_ms=now_ms - 5_000, detail={"pid": 1})
    with open_ledger(ledger_path) as book:
        running = pf.check_operational_health(settings, ledger_path, book, now_ms=now_ms)
    with Ledger.open(ledger_path) as book:
        book.record_heartbeat("engine", ts_ms=now_ms - 3_000, status="stopped", detail={"pid": 1})
    with open_ledger(ledger_path) as book:
        stopped = pf.check_operational_health(settings, ledger_path, book, now_ms=now_ms + 3_600_000)
    assert running.status == Status.PASS and "bot running (heartbeat 5 s ago)" in running.detail
    assert stopped.status == Status.PASS and "bot stopped cleanly" in stopped.detail


def test_operational_health_fails_when_the_ledger_directory_is_a_file(settings, tmp_path):
    blocker = tmp_path / "data"
    blocker.write_text("#!/bin/sh\n")
    blocker.chmod(0o755)  # executable: os.access(W_OK | X_OK) alone says yes to root
    result = pf.check_operational_health(settings, blocker / "ledger.db")
    assert result.status == Status.FAIL, result.detail
    assert f"ledger {blocker / 'ledger.db'} (or its directory) is not writable" in result.detail
    assert result.data["ledger_writable"] is False


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file modes")
def test_operational_health_fails_when_the_ledger_is_read_only(settings, ledger_path):
    ledger_path.chmod(0o444)
    try:
        with open_ledger(ledger_path) as book:
            result = pf.check_operational_health(settings, ledger_path, book)
    finally:
        ledger_path.chmod(0o644)
    assert result.status == Status.FAIL and "(or its directory) is not writable" in result.detail


def test_operational_health_fails_when_no_strategy_is_enabled(settings, ledger_path):
    strategies = {name: cfg.model_copy(update={"enabled": False})
                  for name, cfg in settings.strategies.strategies.items()}
    off = settings.model_copy(update={"strategies": settings.strategies.model_copy(update={"strategies": strategies})})
    with open_ledger(ledger_path) as book:
        result = pf.check_operational_health(off, ledger_path, book)
    assert result.status == Status.FAIL, result.detail
    assert result.detail.startswith("no strategy enabled") and result.data["strategies_enabled"] == []


def test_operational_health_fails_when_no_position_is_allowed(settings, ledger_path):
    none = settings.model_copy(update={"risk": settings.risk.model_copy(update={"max_positions": 0})})
    with open_ledger(ledger_path) as book:
        result = pf.check_operational_health(none, ledger_path, book)
    assert result.status == Status.FAIL and result.detail.startswith("risk.max_positions allows no position")


def test_operational_health_warns_when_the_circuit_breaker_is_not_armed(settings, ledger_path):
    """A limit of 100% passes config validation but can never trip."""
    cb = CircuitBreaker.model_validate({**settings.risk.circuit_breaker.model_dump(), "daily_loss_pct": 1.0})
    lax = settings.model_copy(update={"risk": settings.risk.model_copy(update={"circuit_breaker": cb})})
    with open_ledger(ledger_path) as book:
        result = pf.check_operational_health(lax, ledger_path, book)
    assert result.status == Status.WARN, result.detail
    assert result.detail.startswith("circuit breaker limits not armed: daily_loss_pct")


def test_operational_health_warns_while_a_recorded_breaker_is_tripped(settings, ledger_path):
    now_ms = 1_767_225_600_000
    with Ledger.open(ledger_path) as book:
        record_breaker_state(book, 2, now_ms + 3_600_000, now_ms=now_ms)
    with open_ledger(ledger_path) as book:
        tripped = pf.check_operational_health(settings, ledger_path, book, now_ms=now_ms)
        expired = pf.check_operational_health(settings, ledger_path, book, now_ms=now_ms + 3_600_001)
    assert tripped.status == Status.WARN, tripped.detail
    assert "circuit breaker daily tripped until 2026-01-01 01:00 UTC (from the ledger meta" in tripped.detail
    assert expired.status == Status.PASS, expired.detail


def test_operational_health_sees_a_breaker_tripped_in_the_loops_persisted_state(settings, ledger_path):
    """The loop persists its portfolio (breaker code and cool-down end) every cycle; nothing else need record it."""
    from botcore.engine.recovery import save_engine_state
    from botcore.engine.state import Engine

    now_ms = 1_767_225_600_000
    engine = Engine(settings)
    engine.state.portfolio[0]["breaker_code"] = 3
    engine.state.portfolio[0]["breaker_until_ms"] = now_ms + 1_800_000
    with Ledger.open(ledger_path) as book:
        save_engine_state(book, engine, now_ms - 60_000)
    with open_ledger(ledger_path) as book:
        result = pf.check_operational_health(settings, ledger_path, book, now_ms=now_ms)
    assert result.status == Status.WARN, result.detail
    assert "circuit breaker drawdown tripped until 2026-01-01 00:30 UTC (from the persisted engine state)" \
        in result.detail


def test_operational_health_warns_when_the_disk_runs_low(settings, ledger_path):
    with open_ledger(ledger_path) as book:
        result = pf.check_operational_health(settings, ledger_path, book, warn_free_mb=1e12)
    assert result.status == Status.WARN and "MB free on the ledger's disk" in result.detail


def test_operational_health_warns_when_the_log_directory_is_not_writable(settings, ledger_path, tmp_path):
    blocker = tmp_path / "logs-file"
    blocker.write_text("x")
    blocker.chmod(0o644)
    with open_ledger(ledger_path) as book:
        result = pf.check_operational_health(settings, ledger_path, book, log_dir=blocker / "botcore")
        fine = pf.check_operational_health(settings, ledger_path, book, log_dir=tmp_path / "logs")
    assert result.status == Status.WARN and "is not writable" in result.detail
    assert fine.status == Status.PASS, fine.detail


# ---------------------------------------------------------------- the command


def test_preflight_command_prints_json_records_and_exits_by_outcome(settings, ledger_path, sample_store):
    runner = CliRunner()
    args = ["preflight", "--ledger", str(ledger_path), "--data", str(sample_store.root), "--json"]

    ok = runner.invoke(app, args)
    failed = runner.invoke(app, args + ["--min-free-mb", "1e12"])

    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.stdout)
    assert [r["name"] for r in report["results"]] == list(pf.CHECKS)
    assert report["ok"] and report["recorded"]
    assert failed.exit_code == 1
    assert json.loads(failed.stdout)["counts"]["FAIL"] == 1
    with Ledger.open(ledger_path, readonly=True) as book:
        stored = book.get_meta("preflight")
    assert stored["ok"] is False and stored["counts"]["FAIL"] == 1


def test_preflight_table_names_every_check(ledger_path, sample_store):
    result = CliRunner().invoke(app, ["preflight", "--ledger", str(ledger_path), "--data", str(sample_store.root),
                                      "--check", "kelly_bootstrap", "--check", "aged_exit", "--no-record"])
    assert result.exit_code == 0, result.output
    assert "Kelly sizing bootstrap" in result.stdout and "Aged / zombie position exit" in result.stdout
    assert "GREEN LIGHT" in result.stdout


def test_a_check_that_raises_is_a_failure(settings, ledger_path, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("kernel exploded")

    monkeypatch.setattr(pf, "check_kelly_bootstrap", boom)
    report = pf.run_preflight(settings, ledger_path, checks=("kelly_bootstrap",))
    assert not report.ok
    assert report.result("kelly_bootstrap").detail == "check raised RuntimeError: kernel exploded"
