"""Crash safety and concurrency across processes: SIGKILL mid-transaction, a reader beside a writer."""

from __future__ import annotations

import os
import random
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from botcore.ledger import Ledger
from tests._ledger_helpers import DECISIONS_PER_CYCLE

REPO = Path(__file__).resolve().parents[1]
WRITER = REPO / "tests" / "_ledger_helpers.py"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")


def start_writer(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WRITER), *args],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_line(proc: subprocess.Popen, expected: str, timeout_s: float = 60.0) -> None:
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if selector.select(timeout=0.5):
            line = proc.stdout.readline()
            if line.strip() == expected:
                return
            if not line:
                break
    proc.kill()
    raise AssertionError(f"writer never printed {expected!r}; stderr:\n{proc.stderr.read()}")


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def wait_for_fills(path: Path, n_fills: int, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        if path.exists():
            try:
                with Ledger.open(path, readonly=True) as reader:
                    if len(reader.fills()) >= n_fills:
                        return
            except Exception:  # the writer may still be creating the schema
                pass
        time.sleep(0.05)
    raise AssertionError(f"writer did not reach {n_fills} fills")


def assert_cycles_whole(ledger: Ledger) -> int:
    """Every cycle is all or nothing: one order, one fill, N decisions and one equity row each."""
    orders, fills, decisions, equity = ledger.orders(), ledger.fills(), ledger.decisions(), ledger.equity()
    per_cycle = decisions.groupby("ts_ms").size()
    assert (per_cycle == DECISIONS_PER_CYCLE).all()
    assert len(orders) == len(fills) == len(per_cycle) == len(equity)
    assert set(fills["client_order_id"]) == set(orders["client_order_id"])
    return len(orders)


def test_writer_killed_mid_transaction_leaves_a_consistent_ledger(tmp_path):
    path = tmp_path / "ledger.db"
    proc = start_writer("commit-then-hang", str(path), "20")
    try:
        wait_for_line(proc, "IN_TXN")
        assert (tmp_path / "ledger.db-wal").exists()
    finally:
        kill(proc)
    assert proc.returncode == -signal.SIGKILL
    with Ledger.open(path) as ledger:
        report = ledger.check_invariant()
        assert report.ok, report.summary()
        assert assert_cycles_whole(ledger) == 20
        assert not ledger.orders()["client_order_id"].str.startswith("uncommitted-").any()


def test_writer_killed_at_a_random_moment_leaves_whole_cycles(tmp_path):
    path = tmp_path / "ledger.db"
    proc = start_writer("loop", str(path))
    try:
        wait_for_fills(path, 30, proc)
        time.sleep(random.uniform(0.0, 0.3))
    finally:
        kill(proc)
    with Ledger.open(path) as ledger:
        report = ledger.check_invariant()
        assert report.ok, report.summary()
        assert assert_cycles_whole(ledger) >= 30


def test_reader_keeps_its_snapshot_while_a_writer_commits(tmp_path):
    path = tmp_path / "ledger.db"
    proc = start_writer("hold", str(path), "10")
    try:
        wait_for_line(proc, "IN_TXN")  # the writer holds an open transaction with one more cycle
        with Ledger.open(path, readonly=True) as reader:
            started = time.monotonic()
            with reader.snapshot():
                assert len(reader.fills()) == 10  # committed state only, and no waiting on the writer's lock
                assert reader.check_invariant().ok
                proc.stdin.write("commit\n")
                proc.stdin.flush()
                wait_for_line(proc, "COMMITTED")
                assert len(reader.fills()) == 10  # the snapshot does not move under the reader
                assert len(reader.orders()) == 10
            assert len(reader.fills()) == 11  # a new snapshot sees the commit
            assert reader.check_invariant().ok
            assert time.monotonic() - started < 30
    finally:
        kill(proc)


def test_reader_sees_a_consistent_ledger_throughout_concurrent_writes(tmp_path):
    path = tmp_path / "ledger.db"
    proc = start_writer("loop", str(path))
    seen = []
    try:
        wait_for_fills(path, 5, proc)
        with Ledger.open(path, readonly=True) as reader:
            deadline = time.monotonic() + 2.5
            while time.monotonic() < deadline:
                report = reader.check_invariant()
                assert report.ok, report.summary()
                with reader.snapshot():
                    assert_cycles_whole(reader)
                seen.append(report.n_fills)
    finally:
        kill(proc)
    assert len(seen) >= 5
    assert len(set(seen)) > 1, "the writer made no progress while the reader read"
    assert seen == sorted(seen)
