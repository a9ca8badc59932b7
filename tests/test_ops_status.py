"""``botcore status``: health from the ledger's heartbeats and the process table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from botcore.cli import app
from botcore.ledger import Ledger
from botcore.model import OrderSide
from botcore.ops.heartbeat import Heartbeat
from botcore.ops.killswitch import engage
from botcore.ops.status import collect_status, record_breaker_state
from tests._ledger_helpers import STARTING_CASH_USD, SYMBOL, trade


@pytest.fixture
def ledger_path(tmp_path):
    path = tmp_path / "ledger.db"
    with Ledger.open(path, starting_cash_usd=STARTING_CASH_USD, mode="paper") as book:
        trade(book, "o1", OrderSide.BUY, 2, 60_000.0, 1_700_000_000_000)
    return path


def test_a_running_bot_is_healthy_with_its_process_cycle_feeds_and_positions(ledger_path):
    with Heartbeat(ledger_path, interval_s=0.05) as hb:
        now_ms = int(time.time() * 1000)
        hb.tick(cycle_ts_ms=now_ms - 2_000, feed_age_s={"candles": 3.0, "book": 400.0})
        time.sleep(0.2)
        status = collect_status(ledger_path, heartbeat_s=0.05, missed_beats=3,
                                feed_staleness_s={"candles": 180, "book": 120})

    assert status["healthy"], status["problems"]
    assert status["process"]["pid"] == os.getpid() and status["process"]["alive"]
    assert status["process"]["rss_mb"] > 0
    assert status["heartbeat"]["fresh"] and status["heartbeat"]["missed"] < 3
    assert status["last_cycle"]["ts_ms"] == now_ms - 2_000
    assert status["feeds"]["candles"]["fresh"] is True and status["feeds"]["book"]["fresh"] is False
    assert any("feed book stale" in a for a in status["attention"])
    assert status["positions"]["count"] == 1 and status["positions"]["open"][0]["symbol"] == SYMBOL
    assert status["ledger"]["ledger_writable"] and status["ledger"]["mode"] == "paper"
    assert status["invariant"]["ok"] and not status["kill_switch"]["engaged"]


def test_stale_heartbeats_of_a_dead_process_are_unhealthy(ledger_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with Ledger.open(ledger_path) as book:
        book.record_heartbeat("engine", ts_ms=int(time.time() * 1000) - 600_000, detail={"pid": dead.pid})

    status = collect_status(ledger_path, heartbeat_s=20, missed_beats=3)

    assert not status["healthy"]
    assert status["heartbeat"]["missed"] >= 29
    assert any("heartbeats stale" in p for p in status["problems"])
    assert any(f"process {dead.pid} of the last heartbeat is not running" in p for p in status["problems"])


def test_kill_switch_and_breaker_need_attention(ledger_path):
    engage(ledger_path, "flatten", who="ops", why="drill")
    with Ledger.open(ledger_path) as book:
        record_breaker_state(book, 2, int(time.time() * 1000) + 3_600_000)

    status = collect_status(ledger_path)

    assert status["kill_switch"]["engaged"] and status["kill_switch"]["action"] == "flatten"
    assert status["circuit_breaker"]["name"] == "daily"
    assert any("kill switch engaged (flatten)" in a for a in status["attention"])
    assert any("circuit breaker daily tripped" in a for a in status["attention"])


def test_status_command_json_and_exit_codes(ledger_path, tmp_path):
    runner = CliRunner()
    missing = runner.invoke(app, ["status", "--ledger", str(tmp_path / "nope.db"), "--json"])
    assert missing.exit_code == 1
    assert not json.loads(missing.stdout)["healthy"]

    with Heartbeat(ledger_path, interval_s=0.05):
        time.sleep(0.15)
        healthy = runner.invoke(app, ["status", "--ledger", str(ledger_path), "--json"])
        table = runner.invoke(app, ["status", "--ledger", str(ledger_path)])
    assert healthy.exit_code == 0, healthy.output
    assert json.loads(healthy.stdout)["process"]["alive"]
    assert "HEALTHY" in table.stdout and "positions" in table.stdout


def test_a_replay_stamping_beats_with_simulated_time_is_judged_on_wall_time(ledger_path):
    with Ledger.open(ledger_path) as book:
        book.record_heartbeat("engine", ts_ms=1_704_067_200_000,  # 2024: the replayed cycle's time
                              detail={"pid": os.getpid(), "wall_ms": int(time.time() * 1000)})
    status = collect_status(ledger_path)
    assert status["heartbeat"]["fresh"] and status["healthy"], status["problems"]
