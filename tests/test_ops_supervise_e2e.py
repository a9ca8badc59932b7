"""``botcore supervise -- run ...`` end to end: the real command supervising the real paper replay.

The supervisor runs ``botcore run --mode paper --feed replay`` over a short
SYNTHETIC market (15 symbols, 241 cycles, the decision overrides of
:data:`botcore.engine.testing.ACTIVE_OVERRIDES` so it trades), paced with
``--speed`` so a run lasts a few seconds and can be hit mid-way. The
configuration is the repository's with ``heartbeat_seconds: 1`` (through
``$BOTCORE_CONFIG``, read by the supervisor and the bot alike), so three missed
beats are three seconds.

- A bot killed with SIGKILL (a crash) is restarted, resumes from the ledger,
  and ends with the ledger of an uninterrupted run of the same window, table by
  table (no lost or duplicated fill); the restart is in the supervisor's state
  and the alert log.
- A bot frozen with SIGSTOP (a hang: its heartbeats stop) is stopped and
  restarted after three missed beats, not one, and also ends with the
  uninterrupted run's ledger.
- A bot whose cycles are further apart than three heartbeat intervals (a quiet
  market: the loop waits for the next bar) keeps beating and is not restarted.

The supervisor finds nothing by process name: the test reads the child's pid
where ``botcore status`` does, the ``supervisor`` entry of the ledger meta,
and checks it is the supervisor's own child process.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml

from botcore.config import load_settings
from botcore.engine.testing import ledger_tables
from botcore.ledger import Ledger
from botcore.market.sample import DEFAULT_START_MS, generate_sample_market
from botcore.ops.notify import alert_log
from tests._replay_runs import committed_cycles, replay_run_args, uninterrupted_replay
from tests.conftest import CONFIG_DIR

REPO = Path(__file__).resolve().parents[1]
MIN = 60_000
DAY = 86_400_000
SEED = 7
START = DEFAULT_START_MS + DAY + MIN
END = START + 240 * MIN
N_CYCLES = 241
WARMUP = 600
HEARTBEAT_S = 1
SPEED = 2000.0  # 30 ms a cycle: about 7 s of replay after a start-up of a few seconds
TABLES = ("orders", "fills", "trades", "funding", "positions", "equity")
SUPERVISOR_ALERTS = {"bot_crashed", "missed_heartbeats", "restart_budget_exhausted"}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """A sample market and a configuration directory with one-second heartbeats."""
    root = tmp_path_factory.mktemp("supervise")
    config = root / "config"
    shutil.copytree(CONFIG_DIR, config)
    schedules = yaml.safe_load((config / "schedules.yaml").read_text())
    schedules["heartbeat_seconds"] = HEARTBEAT_S
    (config / "schedules.yaml").write_text(yaml.safe_dump(schedules))
    generate_sample_market(root / "market", 1.5, SEED, load_settings(config))
    return root


@pytest.fixture(scope="module")
def reference(world) -> Path:
    """The uninterrupted run of the window, in process (the replay_loop that `botcore run` builds)."""
    path = world / "reference.sqlite"
    assert uninterrupted_replay(world / "market", load_settings(world / "config"), path, START, END, SEED,
                                WARMUP) == N_CYCLES
    return path


def start_supervisor(world: Path, ledger: Path, *extra_run_args: str, speed: float = SPEED) -> tuple[subprocess.Popen, Path]:
    """Start ``botcore supervise -- <botcore run arguments>``; return the process and its output file."""
    run_args = replay_run_args(world / "market", ledger, START, END, SEED, WARMUP, "--speed", str(speed),
                               *extra_run_args)
    cmd = [sys.executable, "-m", "botcore", "supervise", "--backoff", "0.2", "--startup-grace", "60",
           "--max-restarts", "2", "--", *run_args]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "BLOFIN_", "REPORT_TO"))}
    env.update(BOTCORE_CONFIG=str(world / "config"), BOTCORE_LOG_DIR=str(ledger.parent / "logs"),
               PYTHONUNBUFFERED="1")
    out = ledger.with_suffix(".out")
    with out.open("w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=ledger.parent)
    return proc, out


def supervisor_state(path: Path) -> dict:
    try:
        with Ledger.open(path, readonly=True, timeout_s=1) as book:
            return book.get_meta("supervisor", {}) or {}
    except Exception:  # noqa: BLE001 - not created yet, or mid-migration
        return {}


def supervisor_alerts(path: Path) -> list[dict]:
    with Ledger.open(path, readonly=True) as book:
        return [a for a in alert_log(book) if a["kind"] in SUPERVISOR_ALERTS]


def wait_for_cycle(proc: subprocess.Popen, ledger: Path, cycle: int, out: Path, timeout_s: float = 180) -> int:
    """Wait until ``cycle`` cycles are committed; return the pid of the bot running then (the supervisor's child).

    A start takes a few seconds; the generous timeout absorbs a cold Numba cache (minutes of compilation).
    """
    deadline = time.monotonic() + timeout_s
    while committed_cycles(ledger) < cycle:
        assert proc.poll() is None, out.read_text()[-3000:]
        assert time.monotonic() < deadline, f"no cycle {cycle} after {timeout_s} s:\n{out.read_text()[-3000:]}"
        time.sleep(0.01)
    pid = supervisor_state(ledger).get("child_pid")
    assert pid is not None
    assert pid in [c.pid for c in psutil.Process(proc.pid).children()]
    assert "run" in psutil.Process(pid).cmdline()
    return pid


def finish(proc: subprocess.Popen, out: Path, timeout_s: float = 240) -> str:
    try:
        proc.wait(timeout_s)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    return out.read_text()


def gone(pid: int) -> bool:
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def assert_same_as_uninterrupted(reference: Path, ledger: Path) -> None:
    want, got = ledger_tables(reference, TABLES), ledger_tables(ledger, TABLES)
    for name in TABLES:
        pd.testing.assert_frame_equal(want[name], got[name], check_exact=True, obj=name)
    with Ledger.open(ledger, readonly=True) as book:
        inv = book.check_invariant()
        assert inv.ok, inv
        assert book.get_meta("engine:state")["t_ms"] == END


def fills_around(reference: Path, committed: int) -> tuple[int, int]:
    """Return the reference's fills in the first ``committed`` cycles and after them."""
    fills = ledger_tables(reference, ("fills",))["fills"]
    cut = START + committed * MIN
    return int((fills["ts_ms"] < cut).sum()), int((fills["ts_ms"] >= cut).sum())


def test_a_bot_killed_mid_run_is_restarted_and_resumes_without_losing_or_repeating_a_fill(world, reference, tmp_path):
    ledger = tmp_path / "ledger.db"
    proc, out = start_supervisor(world, ledger)
    try:
        victim = wait_for_cycle(proc, ledger, 130, out)
        os.kill(victim, signal.SIGKILL)
        killed_at = committed_cycles(ledger)
        log = finish(proc, out)
    finally:
        if proc.poll() is None:
            proc.kill()

    assert proc.returncode == 0, log[-3000:]
    assert 130 <= killed_at < N_CYCLES
    before, after = fills_around(reference, killed_at)
    assert before >= 1 and after >= 1, (before, after)  # the kill fell between fills, mid-trading
    assert_same_as_uninterrupted(reference, ledger)
    state = supervisor_state(ledger)
    assert state["state"] == "exited" and state["starts"] == 2 and state["restarts"] == 1, state
    restart = state["last_restart"]
    assert restart["reason"] == "crash" and restart["pid"] == victim and restart["exit_code"] == -signal.SIGKILL
    (alert,) = supervisor_alerts(ledger)
    assert alert["kind"] == "bot_crashed" and f"exit code {-signal.SIGKILL}" in alert["subject"]
    assert "supervisor: child exited cleanly; not restarting" in log
    assert gone(victim)


def test_a_frozen_bot_is_restarted_after_three_missed_beats_not_one(world, reference, tmp_path):
    ledger = tmp_path / "ledger.db"
    proc, out = start_supervisor(world, ledger)
    try:
        frozen = wait_for_cycle(proc, ledger, 150, out)
        os.kill(frozen, signal.SIGSTOP)  # the whole process stops: no cycles, no heartbeat thread
        stopped_ms = time.time() * 1000
        frozen_at = committed_cycles(ledger)
        deadline = time.monotonic() + 60
        while supervisor_state(ledger).get("restarts", 0) < 1 and time.monotonic() < deadline:
            assert proc.poll() is None, out.read_text()[-3000:]
            time.sleep(0.05)
        log = finish(proc, out)
    finally:
        if proc.poll() is None:
            proc.kill()
        if psutil.pid_exists(frozen):
            os.kill(frozen, signal.SIGCONT)

    assert proc.returncode == 0, log[-3000:]
    state = supervisor_state(ledger)
    assert state["state"] == "exited" and state["starts"] == 2 and state["restarts"] == 1, state
    restart = state["last_restart"]
    assert restart["reason"] == "hang" and restart["pid"] == frozen
    assert f"({3} missed at {HEARTBEAT_S:g} s)" in restart["detail"], restart
    waited_s = (restart["ts_ms"] - stopped_ms) / 1000
    # not restarted at the first or second missed beat; stopped without waiting out the SIGTERM timeout (15 s):
    # SIGCONT lets the frozen bot act on SIGTERM and finish its cycle
    assert 3 * HEARTBEAT_S - 0.5 <= waited_s < 3 * HEARTBEAT_S + 12, waited_s
    before, after = fills_around(reference, frozen_at)
    assert before >= 1 and after >= 1, (before, after)  # frozen mid-trading
    (alert,) = supervisor_alerts(ledger)
    assert alert["kind"] == "missed_heartbeats" and "heartbeats stopped" in alert["subject"]
    assert gone(frozen)
    assert_same_as_uninterrupted(reference, ledger)


def test_a_bot_in_a_quiet_market_keeps_beating_and_is_not_restarted(world, tmp_path):
    """Cycles 4 s apart (speed 15) with 1 s heartbeats: four intervals pass between cycles, the loop
    waiting for its next bar, yet the heartbeat thread keeps beating, so the bot is alive."""
    ledger = tmp_path / "ledger.db"
    proc, out = start_supervisor(world, ledger, "--cycles", "3", speed=15.0)
    log = finish(proc, out)

    assert proc.returncode == 0, log[-3000:]
    state = supervisor_state(ledger)
    assert state["state"] == "exited" and state["starts"] == 1 and state.get("restarts", 0) == 0, state
    with Ledger.open(ledger, readonly=True) as book:
        beats = book.heartbeats()
        alerts = [a for a in alert_log(book) if a["kind"] in SUPERVISOR_ALERTS]
    assert alerts == []
    assert committed_cycles(ledger) == 3
    import json

    details = [json.loads(d) for d in beats["detail"]]
    cycle_walls = sorted(d["wall_ms"] for d in details if "wall_ms" in d)  # the loop's own beat, one per cycle
    assert len(cycle_walls) == 3
    gaps_s = [(b - a) / 1000 for a, b in zip(cycle_walls, cycle_walls[1:])]
    # more than three beats' time between cycles (the replay is paced from its first cycle, so a slow first cycle
    # shortens the first gap: the longest gap is the one that counts)
    assert max(gaps_s) > 3 * HEARTBEAT_S, gaps_s
    thread_beats = [d for d in details if "since_tick_s" in d]
    assert len(thread_beats) >= 7, len(thread_beats)  # about one a second over ~8 s
    assert "stalled" not in set(beats["status"])
