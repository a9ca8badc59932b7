"""The ledger guards itself: one writer (a lock held by real processes), integrity at every door (damaged ledgers
fail `ledger check`, `preflight`, `status` and `run` with their reason, never a traceback)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from botcore.cli import app
from botcore.ledger import Ledger
from botcore.ledger.integrity import check_integrity
from botcore.ledger.lock import LedgerLocked, WriterLock, lock_path, writer_active
from botcore.ops.status import collect_status
from tests._ledger_helpers import STARTING_CASH_USD, write_cycle
from tests.conftest import CONFIG_DIR

runner = CliRunner()

HOLDER = textwrap.dedent("""
    import sys, time
    from botcore.ledger.lock import WriterLock
    lock = WriterLock(sys.argv[1]).acquire()
    print("LOCKED", flush=True)
    time.sleep(120)
""")


def _hold(path: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "LOCKED"
    return proc


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A ledger of 300 committed cycles, checkpointed into the main file (so damage to the file is damage)."""
    path = tmp_path_factory.mktemp("guards") / "base.db"
    with Ledger.open(path, starting_cash_usd=STARTING_CASH_USD) as led:
        for i in range(300):
            write_cycle(led, i)
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return path


def _overwrite_64k(p: Path) -> None:
    with open(p, "r+b") as fh:
        fh.seek(p.stat().st_size // 2 - 32_768)
        fh.write(os.urandom(65_536))


def _foreign(p: Path) -> None:
    p.unlink()
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE notes (a TEXT)")
    con.commit()
    con.close()


def _sql(*statements: str):
    def apply(p: Path) -> None:
        con = sqlite3.connect(p)
        for s in statements:
            con.execute(s)
        con.commit()
        con.close()
    return apply


DAMAGE = {
    "truncated": (lambda p: os.truncate(p, p.stat().st_size // 3), "damaged or truncated"),
    "garbage": (lambda p: p.write_bytes(os.urandom(5000)), "is not a SQLite database"),
    "overwritten_64k": (_overwrite_64k, "is damaged (SQLite quick_check"),
    "foreign_schema": (_foreign, "is not a botcore ledger"),
    "newer_schema": (_sql("INSERT INTO schema_version VALUES (99, 0, 'from the future')"), "newer than this botcore"),
    "dropped_fills": (_sql("PRAGMA foreign_keys = OFF", "DROP TABLE fills"), "lacks tables ['fills']"),
    "zero_bytes": (lambda p: os.truncate(p, 0), "empty file (0 bytes)"),
}


@pytest.fixture(params=sorted(DAMAGE))
def damaged(request, base, tmp_path) -> tuple[Path, str]:
    damage, message = DAMAGE[request.param]
    path = tmp_path / f"{request.param}.db"
    shutil.copy(base, path)
    damage(path)
    return path, message


# --------------------------------------------------------------------------- one writer


def test_a_second_writer_is_refused_naming_the_holder_and_a_killed_holders_lock_is_taken_over(base, tmp_path):
    path = tmp_path / "ledger.db"
    shutil.copy(base, path)
    holder = _hold(path)
    try:
        with pytest.raises(LedgerLocked) as refused:
            WriterLock(path).acquire()
        record = json.loads(lock_path(path).read_text())
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(record["started_ms"] / 1000))
        assert f"pid {holder.pid}" in str(refused.value) and started in str(refused.value)
        assert writer_active(path)["pid"] == holder.pid
        # readers are not affected while the writer holds the lock
        assert check_integrity(path).ok
        with Ledger.open(path, readonly=True) as reader:
            assert reader.check_invariant().ok
        assert runner.invoke(app, ["ledger", "check", str(path)]).exit_code == 0
        assert collect_status(path)["writer"]["pid"] == holder.pid
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    assert writer_active(path) is None  # the kernel released the killed holder's lock
    with WriterLock(path) as lock:
        assert lock.record["pid"] == os.getpid() and lock.record["took_over_from"]["pid"] == holder.pid
        assert json.loads(lock_path(path).read_text())["pid"] == os.getpid()
    assert not WriterLock(path).acquire().release()  # released: free for the next writer


def test_botcore_run_refuses_a_locked_ledger_with_exit_2_before_touching_it(base, tmp_path):
    path = tmp_path / "ledger.db"
    shutil.copy(base, path)
    before = path.read_bytes()
    holder = _hold(path)
    try:
        result = subprocess.run([sys.executable, "-m", "botcore", "run", "--data", str(tmp_path), "--ledger", str(path),
                                 "--config", str(CONFIG_DIR)], capture_output=True, text=True, timeout=120)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    assert result.returncode == 2, result.stderr
    assert f"pid {holder.pid}" in result.stderr and "UTC" in result.stderr and "Traceback" not in result.stderr
    assert path.read_bytes() == before


# --------------------------------------------------------------------------- integrity at every door


def test_integrity_finds_every_kind_of_damage(damaged):
    path, message = damaged
    report = check_integrity(path)
    assert not report.ok and message in report.summary()


def test_an_undamaged_ledger_passes_quick_check_and_the_schema_check(base):
    report = check_integrity(base)
    assert report.ok and report.checks == ("SQLite quick_check ok", "schema v2 ok (13 tables)")
    assert not check_integrity(base.parent / "absent.db").exists


def test_ledger_check_exits_2_with_the_reason(damaged):
    path, message = damaged
    result = runner.invoke(app, ["ledger", "check", str(path)])
    assert result.exit_code == 2 and message in result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output


def test_preflight_fails_every_damaged_ledger_without_a_traceback(damaged):
    path, message = damaged
    before = path.read_bytes()
    result = subprocess.run([sys.executable, "-m", "botcore", "preflight", "--ledger", str(path), "--config",
                             str(CONFIG_DIR), "--json", "--check", "ledger_integrity", "--check", "financial_integrity",
                             "--check", "positions_sectors", "--check", "operational_health"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr + result.stdout
    report = json.loads(result.stdout)
    status = {r["name"]: r for r in report["results"]}
    assert not report["ok"] and not report["recorded"]
    assert status["ledger_integrity"]["status"] == "FAIL" and message in status["ledger_integrity"]["detail"]
    assert status["financial_integrity"]["status"] == "FAIL"
    assert {r["status"] for r in report["results"]} <= {"PASS", "WARN", "FAIL"}
    assert path.read_bytes() == before  # never "repaired" by recording the report into it


def test_status_and_run_refuse_a_damaged_ledger(damaged, tmp_path):
    path, message = damaged
    report = collect_status(path)
    assert not report["healthy"] and any(message in p for p in report["problems"])
    before = path.read_bytes()
    result = runner.invoke(app, ["run", "--data", str(tmp_path), "--ledger", str(path), "--config", str(CONFIG_DIR)])
    assert result.exit_code == 1 and message in result.output, result.output
    assert path.read_bytes() == before  # a 0-byte file does not silently become a fresh ledger


def test_commands_refuse_a_ledger_that_is_a_directory_or_missing(tmp_path):
    for args in (["run", "--data", str(tmp_path)], ["kill"]):
        result = runner.invoke(app, [*args, "--ledger", str(tmp_path), "--config", str(CONFIG_DIR)]
                               if args[0] == "run" else [*args, "--ledger", str(tmp_path)])
        assert result.exit_code == 2 and "is a directory" in result.output, result.output
    missing = tmp_path / "nowhere" / "ledger.db"
    killed = runner.invoke(app, ["kill", "--ledger", str(missing), "--why", "drill"])
    assert killed.exit_code == 2 and "no ledger at" in killed.output
    assert not missing.exists() and not missing.parent.exists()
    checked = runner.invoke(app, ["ledger", "check", str(missing)])
    assert checked.exit_code == 2 and "does not exist" in checked.output


def test_the_invariant_guard_checks_every_n_cycles_and_freezes_once(base, tmp_path):
    from botcore.ops import killswitch
    from botcore.ops.guard import WHO, InvariantGuard
    from botcore.ops.notify import alert_log

    path = tmp_path / "ledger.db"
    shutil.copy(base, path)
    with Ledger.open(path) as led:
        guard = InvariantGuard(led, every=3)
        assert guard.check(when="at start").ok and not guard.frozen
        con = sqlite3.connect(path)
        with con:  # mid-run damage: $5 added to one fee
            con.execute("UPDATE fills SET fee_usd = fee_usd + 5 WHERE seq = 7")
        con.close()
        guard.after_cycle(1_704_067_200_000, 1)
        guard.after_cycle(1_704_067_260_000, 2)
        assert not killswitch.kill_switch_state(led).engaged  # not checked between the N-th cycles
        guard.after_cycle(1_704_067_320_000, 3)
        state = killswitch.kill_switch_state(led)
        assert guard.frozen and state.action == "freeze" and state.who == WHO
        assert "after cycle 2024-01-01 00:02 UTC:" in state.why and "off by +5.00 USD" in state.why
        guard.after_cycle(1_704_067_500_000, 6)
        assert [a["kind"] for a in alert_log(led)] == ["wallet_discrepancy"]  # one alert, not one per check
