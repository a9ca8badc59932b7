"""The loop's operations hooks: kill switch within one cycle, marks meta, and `botcore run`'s heartbeat thread + SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from botcore.config import load_settings
from botcore.engine.backtest import fresh_ledger
from botcore.engine.loop import replay_loop
from botcore.engine.testing import ACTIVE_OVERRIDES
from botcore.ledger import Ledger
from botcore.market.sample import DEFAULT_START_MS, generate_sample_market
from botcore.ops import killswitch
from botcore.strategy.enums import Reason
from tests._replay_runs import committed_cycles, replay_run_args
from tests.conftest import CONFIG_DIR

SETTINGS = load_settings(CONFIG_DIR)
MIN = 60_000
DAY = 86_400_000
SEED = 7
START = DEFAULT_START_MS + DAY + MIN
END = START + 240 * MIN
WARMUP = 600


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    root = tmp_path_factory.mktemp("ops")
    generate_sample_market(root / "market", 1.5, SEED, SETTINGS)
    return root


def _loop(market, path):
    led = fresh_ledger(path, float(SETTINGS.venue.starting_equity_usd), "paper")
    loop, _window = replay_loop(market / "market", SETTINGS, led, start_ms=START, end_ms=END, run_seed=SEED,
                                warmup_bars=WARMUP, params_overrides=dict(ACTIVE_OVERRIDES))
    return loop, led


def _run_until_positions(loop, cycles, n=1):
    for cycle in cycles:
        rep = loop.step_cycle(cycle)
        if rep.n_positions >= n:
            return rep
    raise AssertionError("the replay never opened a position")


def test_flatten_engaged_between_cycles_closes_everything_next_cycle(market):
    path = market / "flatten.sqlite"
    loop, led = _loop(market, path)
    try:
        cycles = iter(loop.feed)
        rep = _run_until_positions(loop, cycles, 2)
        held = set(led.open_positions()["symbol"]) if hasattr(led.open_positions(), "columns") else None
        assert rep.n_positions >= 2
        killswitch.engage(led, "flatten", who="test", why="flatten test")
        rep2 = loop.step_cycle(next(cycles))
        assert rep2.n_positions == 0
        assert len(led.open_positions()) == 0
        dec = led.decisions(since_ms=rep2.t_ms)
        dec = dec[dec["ts_ms"] == rep2.t_ms]
        killed = dec[dec["reason_code"] == int(Reason.kill_switch)]
        assert len(killed) >= rep.n_positions
        if held is not None:
            assert held <= set(killed["symbol"])
        exits = led.orders()
        exits = exits[exits["created_ts_ms"] == rep2.t_ms]
        assert len(exits) >= rep.n_positions and exits["reduce_only"].astype(bool).all()
        assert (exits["status"] == 4).all()  # FILLED
        assert loop.engine.state.portfolio[0]["kill_switch"] == 2
        marks = led.get_meta("marks")
        assert marks["ts_ms"] == rep2.t_ms and len(marks["prices"]) == len(loop.symbols)
        # flatten stays engaged: no new entry afterwards
        for _ in range(20):
            loop.step_cycle(next(cycles))
        later = led.orders()
        assert not (later[later["created_ts_ms"] > rep2.t_ms]["reduce_only"].astype(bool) == False).any()  # noqa: E712
        assert led.check_invariant().ok
    finally:
        loop.close()
        led.close()


def test_freeze_blocks_new_entries_but_not_exits(market):
    path = market / "freeze.sqlite"
    loop, led = _loop(market, path)
    try:
        cycles = iter(loop.feed)
        _run_until_positions(loop, cycles, 1)
        killswitch.engage(path, "freeze", who="test", why="freeze test")  # by path, like `botcore kill`
        t_engaged = None
        n_after = 0
        for cycle in cycles:
            rep = loop.step_cycle(cycle)
            t_engaged = t_engaged or rep.t_ms
            n_after += 1
            if n_after >= 120:
                break
        orders = led.orders()
        after = orders[orders["created_ts_ms"] >= t_engaged]
        assert not (~after["reduce_only"].astype(bool)).any(), after
        dec = led.decisions(since_ms=t_engaged)
        assert (dec["reason_code"] == int(Reason.kill_switch)).any()
        assert loop.engine.state.portfolio[0]["kill_switch"] == 1
        assert led.check_invariant().ok
    finally:
        loop.close()
        led.close()


def test_botcore_run_heartbeat_thread_and_sigterm_stop_cleanly(market):
    path = market / "sigterm.sqlite"
    cmd = [sys.executable, "-m", "botcore", "run", *replay_run_args(market / "market", path, START, END, SEED, WARMUP,
                                                                     "--config", str(CONFIG_DIR), "--speed", "600")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=market,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 180
    while proc.poll() is None and committed_cycles(path) < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
    os.kill(proc.pid, signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()[-3000:]
    with Ledger.open(path, readonly=True) as led:
        inv = led.check_invariant()
        assert inv.ok, inv
        n = len(led.equity())
        assert 10 <= n < 241  # stopped mid-run, after the current step
        beats = led.table("heartbeats").sort_values("seq")
        assert beats.iloc[-1]["status"] == "stopped"
        assert (beats["status"] == "ok").any()
        assert led.get_meta("marks")["ts_ms"] == int(led.equity()["ts_ms"].max())
