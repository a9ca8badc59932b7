"""Crash and restart: ``botcore run --mode paper --feed replay`` killed with SIGKILL at random points resumes exactly.

A run over a short replay (15 symbols, 241 cycles, documented decision
overrides so it trades) is killed with SIGKILL at random points — some during
start-up and warm-up, most after a random number of committed cycles plus a
random few milliseconds, i.e. anywhere inside a step — and restarted on the
same ledger each time, until it finishes. The final ledger must equal an
uninterrupted run's, table by table and bit for bit (orders, fills, trades,
funding, positions, equity): no lost or duplicated fill or order, and the
ledger invariant exact.

The number of kills is ``BOTCORE_CRASH_KILLS`` (default 6, to keep the suite inside CI's time; the issue's 50:
``BOTCORE_CRASH_KILLS=50 pytest tests/test_loop_crash.py``, about 9 minutes). Each restart pays
the process start-up (imports, Numba cache load, warm-up), a few seconds.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from botcore.config import load_settings
from botcore.engine.backtest import fresh_ledger
from botcore.engine.loop import replay_loop
from botcore.engine.testing import ACTIVE_OVERRIDES, ledger_tables
from botcore.ledger import Ledger
from botcore.market.sample import DEFAULT_START_MS, generate_sample_market
from tests._replay_runs import committed_cycles, replay_run_args, uninterrupted_replay
from tests.conftest import CONFIG_DIR

SETTINGS = load_settings(CONFIG_DIR)
MIN = 60_000
DAY = 86_400_000
SEED = 7
START = DEFAULT_START_MS + DAY + MIN
END = START + 240 * MIN
WARMUP = 600
KILLS = int(os.environ.get("BOTCORE_CRASH_KILLS", "6"))
TABLES = ("orders", "fills", "trades", "funding", "positions", "equity")


def _cmd(market, ledger):
    return [sys.executable, "-m", "botcore", "run",
            *replay_run_args(market, ledger, START, END, SEED, WARMUP, "--config", str(CONFIG_DIR))]


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    generate_sample_market(root / "market", 1.5, SEED, SETTINGS)
    return root


@pytest.fixture(scope="module")
def reference(market):
    """The uninterrupted run, in process (the same replay_loop the command builds)."""
    path = market / "reference.sqlite"
    assert uninterrupted_replay(market / "market", SETTINGS, path, START, END, SEED, WARMUP) == 241
    return path


def test_sigkill_at_random_points_then_restart_gives_the_uninterrupted_runs_ledger(market, reference):
    rng = random.Random(int(os.environ.get("BOTCORE_CRASH_SEED", "20240102")))
    path = market / "crashed.sqlite"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # kill targets: a committed-cycle count to wait for (0 = during start-up / warm-up), then a random delay
    targets = sorted(rng.randrange(0, 241) for _ in range(KILLS))
    kills, restarts, log = 0, 0, []
    for target in targets + [None]:
        proc = subprocess.Popen(_cmd(market / "market", path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=env, cwd=market)
        restarts += 1
        if target is None:
            _out, err = proc.communicate(timeout=180)
            assert proc.returncode == 0, err.decode()[-3000:]
            break
        if target == 0:
            time.sleep(rng.uniform(0.5, 4.0))
        else:
            deadline = time.monotonic() + 120
            while proc.poll() is None and committed_cycles(path) < target and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.03))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
        proc.stderr.close()
        log.append((target, committed_cycles(path)))
    assert kills >= min(KILLS, 10) - 2, log  # a target past the end of a fast run may find the process gone
    want, got = ledger_tables(reference, TABLES), ledger_tables(path, TABLES)
    assert len(want["trades"]) >= 3 and len(want["fills"]) >= 6
    for name in TABLES:
        pd.testing.assert_frame_equal(want[name], got[name], check_exact=True, obj=name)
    with Ledger.open(path, readonly=True) as led:
        inv = led.check_invariant()
        assert inv.ok, inv
        assert led.get_meta("engine:state")["t_ms"] == END
    print(f"{kills} SIGKILLs, {restarts} starts; (target, committed) = {log}")


class _Crash(BaseException):
    """The process dying: not an error the loop handles."""


def test_a_crash_between_writing_orders_ahead_and_booking_the_cycle_resumes_exactly(market, reference):
    """Deterministic: the process dies after the write-ahead commit, before anything is sent (the window a random
    SIGKILL rarely hits). The ledger then holds the cycle's NEW orders; the restart re-runs the cycle with the same
    client order ids, sends each once, and ends with the uninterrupted run's ledger."""
    path = market / "write_ahead.sqlite"
    led = fresh_ledger(path, float(SETTINGS.venue.starting_equity_usd), "paper")
    loop, _window = replay_loop(market / "market", SETTINGS, led, start_ms=START, end_ms=END, run_seed=SEED,
                                warmup_bars=WARMUP, params_overrides=dict(ACTIVE_OVERRIDES))
    venue = loop.venue
    sent = []

    async def dies_on_the_second_submit(request):
        if len(sent) == 1:
            raise _Crash()
        sent.append(request.client_order_id)
        return await type(venue).submit(venue, request)

    venue.submit = dies_on_the_second_submit
    with pytest.raises(_Crash):
        loop.run()
    loop.close()
    written_ahead = [o for o in led.open_orders()]
    crashed_at = int(led.get_meta("engine:state")["t_ms"]) + MIN
    led.close()
    # the crash left the cycle's orders NEW in the ledger, the cycle itself uncommitted
    assert written_ahead and {o.created_ts_ms for o in written_ahead} == {crashed_at}
    led = Ledger.open(path)
    try:
        loop, _window = replay_loop(market / "market", SETTINGS, led, resume=True)
        assert loop.run().cycles == (END - crashed_at) // MIN + 1
        loop.close()
    finally:
        led.close()
    want, got = ledger_tables(reference, TABLES), ledger_tables(path, TABLES)
    for name in TABLES:
        pd.testing.assert_frame_equal(want[name], got[name], check_exact=True, obj=name)
