"""The supervisor against small fake bots that write heartbeats to a real ledger.

Each fake bot is ``python -c CHILD mode ledger interval starts_file``; it
appends its pid to ``starts_file`` (so it knows which start it is) and beats
through :class:`botcore.ops.heartbeat.Heartbeat`, as the loop will. Heartbeats
every 0.2 s; three missed (0.6 s) is a hang.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from botcore.ledger import Ledger
from botcore.ops.heartbeat import Heartbeat
from botcore.ops.notify import Notifier, alert_log
from botcore.ops.supervisor import EXIT_BUDGET, Supervisor, SupervisorPolicy, liveness

REPO = Path(__file__).resolve().parents[1]
INTERVAL = 0.2

CHILD = r"""
import os, sys, time

mode, ledger, interval, starts_file = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
with open(starts_file, "a") as fh:
    fh.write(f"{os.getpid()}\n")
start = len(open(starts_file).read().split())
if mode == "always-crash":
    sys.exit(2)
from botcore.ops.heartbeat import Heartbeat

def run_idle(seconds, cycle_s):
    # a silent market: cycles find nothing to do, the heartbeat thread keeps beating
    hb = Heartbeat(ledger, interval_s=interval, stall_after_s=3 * cycle_s + interval).start()
    end = time.time() + seconds
    while time.time() < end:
        hb.tick(cycle_ts_ms=int(time.time() * 1000), status="idle", feed_age_s={"candles": 0.5}, trades=0)
        time.sleep(cycle_s)
    hb.stop()
    sys.exit(0)

if mode == "idle":
    run_idle(3.0, cycle_s=1.0)  # a cycle every 5 heartbeat intervals: the beats must not stop
if mode == "stuck-forever":  # every start hangs after its first beat
    hb = Heartbeat(ledger, interval_s=interval).start()
    time.sleep(3600)
if start > 1:
    run_idle(0.8, cycle_s=0.1)  # the restarted bot runs and stops cleanly
if mode == "crash":
    hb = Heartbeat(ledger, interval_s=interval).start()
    time.sleep(3 * interval)
    os._exit(1)  # a crash: no clean shutdown
if mode == "hang":
    hb = Heartbeat(ledger, interval_s=interval).start()
    hb.tick(cycle_ts_ms=int(time.time() * 1000))
    time.sleep(3 * interval)
    hb._stop.set()  # the whole process freezes: no more beats
    time.sleep(3600)
if mode == "busy-transaction":
    # the loop holds the ledger's write lock for ten beats (a first cycle that compiles, slow venue calls):
    # the heartbeat thread cannot write its rows, but its beat file keeps coming
    import sqlite3
    hb = Heartbeat(ledger, interval_s=interval, stall_after_s=None).start()
    time.sleep(3 * interval)  # the first beats reach the ledger
    con = sqlite3.connect(ledger, timeout=5, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    time.sleep(10 * interval)
    con.execute("COMMIT")
    hb.tick(cycle_ts_ms=int(time.time() * 1000))
    time.sleep(2 * interval)
    hb.stop()
    sys.exit(0)
if mode == "stuck-loop":
    # the heartbeat thread lives on, but the loop stops ticking: beats turn "stalled"
    hb = Heartbeat(ledger, interval_s=interval, stall_after_s=2 * interval).start()
    hb.tick(cycle_ts_ms=int(time.time() * 1000))
    time.sleep(3600)
"""


def fast_policy(**overrides) -> SupervisorPolicy:
    values = dict(heartbeat_s=INTERVAL, missed_beats=3, startup_grace_s=20.0, max_restarts=3, budget_window_s=60.0,
                  backoff_base_s=0.05, backoff_max_s=0.2, healthy_reset_s=60.0, term_timeout_s=2.0, poll_s=0.05)
    values.update(overrides)
    return SupervisorPolicy(**values)


@pytest.fixture
def ledger_path(tmp_path):
    path = tmp_path / "ledger.db"
    Ledger.open(path, starting_cash_usd=10_000.0, mode="paper").close()
    return path


def make_supervisor(mode: str, ledger_path: Path, tmp_path: Path, **policy) -> tuple[Supervisor, Path]:
    starts = tmp_path / "starts.txt"
    interval = policy.get("heartbeat_s", INTERVAL)
    argv = [sys.executable, "-c", CHILD, mode, str(ledger_path), str(interval), str(starts)]
    notifier = Notifier(None, ledger=ledger_path)  # alerts recorded in the ledger (email is tested elsewhere)
    sup = Supervisor(argv, ledger_path, policy=fast_policy(**policy), notifier=notifier, cwd=REPO)
    return sup, starts


def pids(starts: Path) -> list[int]:
    return [int(x) for x in starts.read_text().split()] if starts.exists() else []


def alerts(ledger_path: Path) -> list[dict]:
    with Ledger.open(ledger_path, readonly=True) as book:
        return alert_log(book)


def test_a_crashed_bot_is_restarted_and_alerted(ledger_path, tmp_path):
    sup, starts = make_supervisor("crash", ledger_path, tmp_path)

    result = sup.run()

    assert result.reason == "exited" and result.exit_code == 0
    assert result.starts == 2 and len(pids(starts)) == 2
    (restart,) = result.restarts
    assert restart.reason == "crash" and restart.exit_code == 1
    (alert,) = alerts(ledger_path)
    assert alert["kind"] == "bot_crashed" and "exit code 1" in alert["subject"]
    with Ledger.open(ledger_path, readonly=True) as book:
        assert book.get_meta("supervisor")["state"] == "exited"


@pytest.mark.parametrize("mode", ["hang", "stuck-loop"])
def test_a_hung_bot_is_killed_and_restarted(mode, ledger_path, tmp_path):
    sup, starts = make_supervisor(mode, ledger_path, tmp_path)

    t0 = time.monotonic()
    result = sup.run()

    assert result.reason == "exited" and result.starts == 2
    (restart,) = result.restarts
    assert restart.reason == "hang" and "missed" in restart.detail
    hung_pid = pids(starts)[0]
    assert not psutil.pid_exists(hung_pid) or psutil.Process(hung_pid).status() == psutil.STATUS_ZOMBIE
    assert time.monotonic() - t0 < 15
    (alert,) = alerts(ledger_path)
    assert alert["kind"] == "missed_heartbeats"


def test_a_bot_whose_market_is_silent_is_not_restarted(ledger_path, tmp_path):
    """Cycles find nothing to do for 3 s, one cycle per second: more than three heartbeat intervals (0.3 s)
    pass between cycles, yet the beats keep coming, so the bot is alive."""
    sup, starts = make_supervisor("idle", ledger_path, tmp_path, heartbeat_s=0.3)

    result = sup.run()

    assert result.reason == "exited" and result.starts == 1 and result.restarts == [], result
    assert len(pids(starts)) == 1
    assert alerts(ledger_path) == []
    with Ledger.open(ledger_path, readonly=True) as book:
        beats = book.heartbeats()
    statuses = set(beats["status"])
    assert "idle" in statuses and "stalled" not in statuses
    assert len(beats) >= 10


def test_a_bot_holding_the_ledger_lock_keeps_beating_through_its_beat_file(ledger_path, tmp_path):
    from botcore.ops.heartbeat import beat_file_path, read_beat_file

    sup, starts = make_supervisor("busy-transaction", ledger_path, tmp_path)

    result = sup.run()

    assert result.reason == "exited" and result.starts == 1 and result.restarts == [], result
    assert alerts(ledger_path) == []
    last = read_beat_file(beat_file_path(ledger_path))
    assert last.pid == pids(starts)[0] and last.status == "stopped" and last.seq >= 12
    with Ledger.open(ledger_path, readonly=True) as book:
        rows = len(book.heartbeats())
    assert rows < last.seq  # the rows written while the lock was held are missing: only the file proved life


def test_the_restart_budget_runs_out_then_the_supervisor_stops_and_alerts(ledger_path, tmp_path):
    sup, starts = make_supervisor("always-crash", ledger_path, tmp_path, max_restarts=2)

    result = sup.run()

    assert result.exit_code == EXIT_BUDGET and result.reason == "budget_exhausted"
    assert result.starts == 3 and len(result.restarts) == 2
    assert [r.backoff_s for r in result.restarts] == [0.05, 0.1]  # exponential backoff
    kinds = [a["kind"] for a in alerts(ledger_path)]
    assert kinds == ["bot_crashed", "bot_crashed", "restart_budget_exhausted"]
    with Ledger.open(ledger_path, readonly=True) as book:
        assert book.get_meta("supervisor")["state"] == "gave_up"


def test_stopping_the_supervisor_stops_the_bot(ledger_path, tmp_path):
    sup, starts = make_supervisor("stuck-loop", ledger_path, tmp_path, heartbeat_s=30.0)
    runner = threading.Thread(target=sup.run)
    runner.start()
    deadline = time.monotonic() + 10
    while not pids(starts) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = pids(starts)[0]

    sup.stop()
    runner.join(10)

    assert not runner.is_alive()
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE


def test_liveness_counts_missed_beats_not_one_late_beat():
    policy = fast_policy(heartbeat_s=20.0, startup_grace_s=120.0)
    start = 0
    assert liveness(100_000, start, None, policy)[1] is False  # still starting
    assert liveness(121_000, start, None, policy)[1] is True  # no first beat within the grace
    assert liveness(1_000_000, start, 1_000_000 - 39_000, policy)[:2] == (1, False)  # one late beat
    assert liveness(1_000_000, start, 1_000_000 - 59_000, policy)[:2] == (2, False)
    assert liveness(1_000_000, start, 1_000_000 - 60_000, policy)[:2] == (3, True)


def test_the_heartbeat_thread_records_process_health(ledger_path):
    with Heartbeat(ledger_path, interval_s=0.05, stall_after_s=10) as hb:
        hb.tick(cycle_ts_ms=123, feed_age_s={"book": 1.5}, open_positions=2)
        time.sleep(0.2)
    with Ledger.open(ledger_path, readonly=True) as book:
        beats = book.heartbeats()
    assert len(beats) >= 3
    assert beats["status"].iloc[-1] == "stopped"
    import json

    detail = json.loads(beats["detail"].iloc[-2])
    assert detail["pid"] > 0 and detail["rss_mb"] > 0 and detail["ledger_writable"] is True
    assert detail["last_cycle_ts_ms"] == 123 and detail["feed_age_s"] == {"book": 1.5}
    assert detail["open_positions"] == 2 and detail["cycles"] == 1


def test_beats_say_starting_until_the_first_tick_and_stall_on_their_own_allowances(ledger_path):
    now = [1_000.0]
    hb = Heartbeat(ledger_path, interval_s=20.0, stall_after_s=180.0, startup_stall_after_s=900.0,
                   clock=lambda: now[0])
    assert hb.beat() and latest_status(ledger_path) == "starting"
    now[0] += 600  # a cold start: compiling for ten minutes is starting, not stalled
    assert hb.beat() and latest_status(ledger_path) == "starting"
    now[0] += 301
    assert hb.beat() and latest_status(ledger_path) == "stalled"
    hb.tick(cycle_ts_ms=1)
    assert hb.beat() and latest_status(ledger_path) == "ok"
    now[0] += 181  # once cycling, the loop's own allowance applies
    assert hb.beat() and latest_status(ledger_path) == "stalled"
    hb._close_ledger()


def latest_status(ledger_path: Path) -> str:
    with Ledger.open(ledger_path, readonly=True) as book:
        return str(book.heartbeats()["status"].iloc[-1])


def test_the_heartbeat_also_runs_as_an_asyncio_task(ledger_path):
    import asyncio

    async def main() -> None:
        hb = Heartbeat(ledger_path, interval_s=0.05)
        task = asyncio.create_task(hb.run_async())
        for i in range(4):
            hb.tick(cycle_ts_ms=i)
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    with Ledger.open(ledger_path, readonly=True) as book:
        beats = book.heartbeats()
    assert len(beats) >= 3 and set(beats["status"]) == {"ok"}


def test_the_command_restarts_a_crash_and_stops_cleanly_on_sigterm(ledger_path, tmp_path):
    import signal
    import subprocess

    starts = tmp_path / "starts.txt"
    cmd = [sys.executable, "-m", "botcore", "supervise", "--ledger", str(ledger_path), "--heartbeat-seconds",
           str(INTERVAL), "--backoff", "0.05", "--startup-grace", "20", "--max-restarts", "50", "--exec", "--",
           sys.executable, "-c", CHILD, "stuck-forever", str(ledger_path), "30", str(starts)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while len(pids(starts)) < 2 and time.monotonic() < deadline:  # 30 s beats judged at 0.2 s: a hang
            time.sleep(0.05)
        assert len(pids(starts)) >= 2
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "supervisor: stopped" in out
    for pid in pids(starts):
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_run_arguments_get_the_supervised_ledger():
    from botcore.ops.supervisor import child_command, ledger_from_args

    assert ledger_from_args(["--mode", "paper", "--ledger", "x.db"]) == Path("x.db")
    assert ledger_from_args(["--ledger=y.db"]) == Path("y.db")
    assert ledger_from_args(["--mode", "paper"]) is None
    assert child_command(["--mode", "paper"], python="py") == ["py", "-m", "botcore", "run", "--mode", "paper"]


def test_run_arguments_give_their_config_the_last_one_winning():
    from botcore.ops.supervisor import config_from_args, option_from_args

    assert config_from_args(["--mode", "paper", "--config", "cfg"]) == Path("cfg")
    assert config_from_args(["--config=a", "--config", "b"]) == Path("b")
    assert config_from_args(["--ledger", "x.db"]) is None
    assert config_from_args(["--config"]) is None  # no value
    assert option_from_args(["--ledger", "x.db", "--ledger=y.db"], "--ledger") == "y.db"
    assert option_from_args(["--ledgerx=z"], "--ledger") is None


def config_dir(tmp_path: Path, name: str, heartbeat_seconds: int, missed: int) -> Path:
    """A copy of the repository's configuration with another heartbeat schedule."""
    import shutil

    out = tmp_path / name
    shutil.copytree(REPO / "config", out)
    text = (out / "schedules.yaml").read_text()
    text = text.replace("heartbeat_seconds: 20", f"heartbeat_seconds: {heartbeat_seconds}")
    text = text.replace("missed_heartbeats_for_restart: 3", f"missed_heartbeats_for_restart: {missed}")
    assert f"heartbeat_seconds: {heartbeat_seconds}" in text and f"restart: {missed}" in text
    (out / "schedules.yaml").write_text(text)
    return out


def supervise_a_bot_that_cannot_start(ledger_path: Path, supervisor_args: list[str], run_args: list[str]) -> dict:
    """Run `botcore supervise` (budget 0) on a `botcore run` that exits at once with a usage error; return its state."""
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "BOTCORE_CONFIG"}
    cmd = [sys.executable, "-m", "botcore", "supervise", "--ledger", str(ledger_path), "--max-restarts", "0",
           *supervisor_args, "--", *run_args, "--no-such-option"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == EXIT_BUDGET, proc.stdout + proc.stderr
    with Ledger.open(ledger_path, readonly=True) as book:
        return book.get_meta("supervisor")


def test_supervise_takes_the_heartbeat_schedule_from_the_runs_config(ledger_path, tmp_path):
    """The bot beats on its own configuration's schedule; judging it on another would miss hangs or invent them."""
    run_cfg = config_dir(tmp_path, "run-config", 7, 4)
    other = config_dir(tmp_path, "supervisor-config", 9, 5)

    alone = supervise_a_bot_that_cannot_start(ledger_path, [], ["--mode", "paper", "--config", str(run_cfg)])
    both = supervise_a_bot_that_cannot_start(ledger_path, ["--config", str(other), "--term-timeout", "3"],
                                             [f"--config={run_cfg}"])

    assert (alone["heartbeat_s"], alone["missed_beats"]) == (7.0, 4)
    assert alone["argv"].count("--config") == 1  # nothing added to the bot's arguments
    assert (both["heartbeat_s"], both["missed_beats"]) == (7.0, 4), "the run's --config wins over the supervisor's"
    assert both["term_timeout_s"] == 3.0
    assert both["state"] == "gave_up" and f"--config={run_cfg}" in both["argv"] and str(other) not in both["argv"]


def test_supervise_passes_its_own_config_to_a_run_without_one(ledger_path, tmp_path):
    own = config_dir(tmp_path, "supervisor-config", 9, 5)

    state = supervise_a_bot_that_cannot_start(ledger_path, ["--config", str(own)], ["--mode", "paper"])

    assert (state["heartbeat_s"], state["missed_beats"]) == (9.0, 5)
    argv = state["argv"]
    assert argv[argv.index("--config") + 1] == str(own)  # the bot beats on the schedule it is judged by
    assert state["term_timeout_s"] == 15.0
