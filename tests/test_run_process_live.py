"""``botcore run --mode demo|live --feed live`` as processes, against local servers answering like BloFin.

The command a user types starts as a subprocess (``python -m botcore run ...``) on a
test configuration and talks to :class:`tests.fakes.blofin_server.FakeBlofin` (which
refuses what BloFin's docs refuse, checks every signature and settles funding) and
the intel fakes. Minutes are short: an accelerated clock (``tests/fakes/clock``)
runs the process, the fakes and the cycle scheduler at ``SPEED`` x real time, so a
one-minute cycle takes a fraction of a second and the feed keeps BloFin's 1m grid.

A brand-new demo ledger on an account that already holds positions (a day-one
account: a manual trade) runs at least five cycles, adopts the positions at its
first reconciliation, books the funding BloFin settles on them per position and
settlement, is SIGKILLed mid-cycle, restarts, reconciles, and ends with the ledger
invariant exact and the venue's positions equal to the ledger's. Live mode runs
the same with ``mode: live`` and ``--confirm-live``. These short runs (240 warm-up
bars, a handful of cycles) stay on the kernel's data-outage gate: the required
order-flow signal needs 30 books and BloFin has no book history, and 240 bars
leave fewer than ``min_live_signals`` signals out of their warm-up.

A brand-new demo ledger with a day of warm-up on a fake market with a steady
trend runs past the order-flow warm-up and its own decision opens a position:
the entry order as BloFin documents it, the fill and the funding settled on it
booked. (Cancels and rebates are asserted in ``tests/test_venue_blofin.py``.)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from botcore.ledger import Ledger
from botcore.strategy.enums import Reason
from tests.conftest import CONFIG_DIR
from tests.fakes import blofin_public
from tests.fakes.blofin_server import TEST_API_KEY, TEST_API_SECRET, TEST_PASSPHRASE, FakeBlofin
from tests.fakes.clock import DIRECTORY as CLOCK_DIR
from tests.fakes.clock import make_clock
from tests.fakes.intel_servers import FakeIntelServer

REPO = Path(__file__).resolve().parents[1]
MIN = 60_000
SPEED = 30.0                     # one minute of the run in two real seconds
FUNDING_MS = MIN                 # the fake settles every (run) minute: the adopting cycle's time is a settlement
SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT"]
ENV = {"BLOFIN_API_KEY": TEST_API_KEY, "BLOFIN_API_SECRET": TEST_API_SECRET, "BLOFIN_PASSPHRASE": TEST_PASSPHRASE}
#: decision parameters that make the bot trade on the fake's market (the replay tests' ACTIVE_OVERRIDES, looser)
OVERRIDES = {"min_conviction.sentiment_fusion": 0.0, "min_conviction.trend_conservative": 0.0,
             "min_conviction.breakout_aggressive": 0.0, "kelly_conviction_pivot": 0.0}
ORDER_FIELDS = {"instId", "marginMode", "positionSide", "side", "orderType", "size", "reduceOnly", "clientOrderId"}


@pytest.fixture
def world(tmp_path, request):
    """Fakes on an accelerated clock and a configuration of the mode's run; yields (fake, env, config dir).

    Parametrised indirectly, the parameter is the clock's speed (default :data:`SPEED`).
    """
    now = int(time.time() * 1000) // MIN * MIN
    clock, clock_env = make_clock(now, getattr(request, "param", SPEED))
    fake = FakeBlofin(start_ms=now - 2 * 86_400_000, now_ms=now, wall_clock=True, clock=clock,
                      funding_interval_ms=FUNDING_MS, balance_usdt=5_000.0)
    blofin_public.install(fake)
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    edit(config / "schedules.yaml", heartbeat_seconds=30)  # one real second on the accelerated clock
    edit(config / "venue.yaml", rate_limit_ms=5, reconcile_every_cycles=2, request_timeout_ms=5_000)
    stop = threading.Event()
    with fake, FakeIntelServer(hang_s=0.5) as intel:
        def follow() -> None:  # the intel fakes' clock is the run's
            while not stop.is_set():
                intel.now_ms = int(clock() * 1000)
                stop.wait(0.01)

        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        env = {**os.environ, **ENV, **intel.env, "BOTCORE_TEST_CLOCK": clock_env,
               "PYTHONPATH": os.pathsep.join([str(CLOCK_DIR), str(REPO)]), "BOTCORE_LOG_DIR": str(tmp_path / "logs")}
        args = ["--venue-url", fake.url]
        for provider, url in intel.base_urls.items():
            args += ["--intel-url", f"{provider}={url}"]
        yield fake, env, config, args
        stop.set()
        follower.join(2)


def edit(path: Path, **values) -> None:
    data = yaml.safe_load(path.read_text())
    data.update(values)
    path.write_text(yaml.safe_dump(data))


def command(mode: str, ledger: Path, config: Path, args: list[str], cycles: int | None,
            warmup_bars: int = 240) -> list[str]:
    cmd = [sys.executable, "-m", "botcore", "run", "--mode", mode, "--feed", "live", "--ledger", str(ledger),
           "--config", str(config), "--symbols", ",".join(SYMBOLS), "--warmup-bars", str(warmup_bars), *args]
    for key, value in OVERRIDES.items():
        cmd += ["--override", f"{key}={value}"]
    if cycles is not None:
        cmd += ["--cycles", str(cycles)]
    if mode == "live":
        cmd.append("--confirm-live")
    return cmd


def committed(ledger: Path) -> int:
    if not ledger.exists():
        return 0
    try:
        with Ledger.open(ledger, readonly=True) as led:
            return len(led.equity())
    except Exception:  # noqa: BLE001 - the file is being created
        return 0


def venue_positions(fake: FakeBlofin) -> dict[str, float]:
    ids = {"BTC-USDT": SYMBOLS[0], "ETH-USDT": SYMBOLS[1]}
    with fake._lock:
        return {ids[i]: round(p["qty"], 9) for (i, _), p in fake.positions.items() if abs(p["qty"]) > 1e-12}


@pytest.mark.parametrize("mode", ["demo", "live"])
def test_a_run_started_as_a_user_starts_it_trades_is_killed_restarts_and_reconciles(world, tmp_path, mode):
    fake, env, config, args = world
    if mode == "live":
        edit(config / "venue.yaml", mode="live")
    ledger = tmp_path / f"{mode}.sqlite"
    out = tmp_path / "first.out"
    fake.seed_position("BTC-USDT", 30.0, fake.price("BTC-USDT", fake.now_ms))     # long 0.03 BTC
    fake.seed_position("ETH-USDT", -40.0, fake.price("ETH-USDT", fake.now_ms))    # short 0.4 ETH
    with out.open("w") as sink:
        proc = subprocess.Popen(command(mode, ledger, config, args, None), env=env, cwd=tmp_path, stdout=sink,
                                stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 90
            while committed(ledger) < 5 and proc.poll() is None and time.time() < deadline:
                time.sleep(0.05)
            assert proc.poll() is None, out.read_text()[-3000:]
            assert committed(ledger) >= 5, out.read_text()[-3000:]
            time.sleep(0.6)  # mid-cycle: a cycle is one run minute, 2 s of real time
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
    first = out.read_text()
    hosts = f"market data from {fake.url}; orders on {fake.url}"
    assert hosts in first, first[-3000:]
    with Ledger.open(ledger, readonly=True) as led:
        before = len(led.equity())
        assert led.get_meta("live")["mode"] == mode

    # restart: resumes the run, reconciles with the venue, runs to the end
    again = subprocess.run(command(mode, ledger, config, args, 5), env=env, cwd=tmp_path, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    with Ledger.open(ledger, readonly=True) as led:
        inv = led.check_invariant()
        assert inv.ok, inv
        assert len(led.equity()) >= before + 5
        recon = led.get_meta("reconcile:last")
        assert recon is not None and recon["ok"], recon
        fills, funding = led.fills(), led.funding()
        held = {s: round(p.qty_contracts, 9) for s, p in led.open_positions().items()}
        cash = led.cash()
    assert venue_positions(fake) == {s: q for s, q in held.items() if q}
    with fake._lock:
        assert abs(cash - fake.balance_usdt) <= 1.0  # BloFin's balance, within the reconciliation's tolerance

    # the adopted positions were closed by the bot's own orders, sent as BloFin documents them: no broker id
    # (an ordinary key refuses one: 152011), sizes and flags as strings
    orders = fake.private_calls("/api/v1/trade/order")
    assert orders and all(set(o) == ORDER_FIELDS for o in orders), orders[:3]
    assert {(o["instId"], o["side"], o["size"], o["reduceOnly"]) for o in orders} >= {
        ("BTC-USDT", "sell", "30", "true"), ("ETH-USDT", "buy", "40", "true")}
    assert len(fills) >= 2 and set(fills["client_order_id"]) <= {o["clientOrderId"] for o in orders}
    assert {f["fill_id"] for _, f in fills.iterrows()} <= {t["tradeId"] for t in fake.trades}
    assert not any(p.endswith("/account/funding-fees") for p, _ in fake.requests)  # not in BloFin's docs
    # funding BloFin settled on the positions is in the ledger, per position and settlement
    charged = {(f["instId"].replace("-", "/") + ":USDT", f["ts"]): f["amount"] for f in fake.funding}
    booked = {(r["symbol"], int(r["ts_ms"])): r["amount_usd"] for _, r in funding.iterrows()}
    assert charged, "no position was held over a settlement"
    assert booked and set(booked) <= set(charged)
    for key, amount in booked.items():
        assert amount == pytest.approx(charged[key], abs=1e-9)
    # the demo/live banner names the hosts it reads and trades on
    assert hosts in again.stdout
    assert fake.rate_limited == 0  # the client kept under BloFin's trading limit


def test_botcore_supervise_restarts_a_killed_demo_run_which_resumes_and_reconciles(world, tmp_path):
    """`botcore supervise -- run --mode demo --feed live ...`: the bot SIGKILLed mid-cycle is restarted and resumes."""
    import psutil

    fake, env, config, args = world
    fake.seed_position("ETH-USDT", 25.0, fake.price("ETH-USDT", fake.now_ms))
    ledger = tmp_path / "supervised.sqlite"
    run_args = command("demo", ledger, config, args, 4)[4:]  # after `python -m botcore run`
    cmd = [sys.executable, "-m", "botcore", "supervise", "--backoff", "0.2", "--startup-grace", "3000",
           "--max-restarts", "2", "--", *run_args]
    out = tmp_path / "supervise.out"
    with out.open("w") as sink:
        proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 90
        while committed(ledger) < 2 and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert committed(ledger) >= 2, out.read_text()[-3000:]
        with Ledger.open(ledger, readonly=True) as led:
            victim = (led.get_meta("supervisor", {}) or {}).get("child_pid")
        assert victim in [c.pid for c in psutil.Process(proc.pid).children()]
        time.sleep(0.6)
        os.kill(victim, signal.SIGKILL)
        killed_at = committed(ledger)
        proc.wait(150)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    log = out.read_text()
    assert proc.returncode == 0, log[-3000:]
    with Ledger.open(ledger, readonly=True) as led:
        assert len(led.equity()) >= killed_at + 4  # the restarted bot ran its own four cycles
        assert led.check_invariant().ok
        assert led.get_meta("reconcile:last")["ok"]
        held = {s: round(p.qty_contracts, 9) for s, p in led.open_positions().items()}
        assert (led.get_meta("supervisor", {}) or {}).get("restarts", 0) >= 1 or "restart" in log
    assert venue_positions(fake) == {s: q for s, q in held.items() if q}


@pytest.mark.parametrize("world", [60.0], indirect=True)  # a cycle in one real second
def test_a_brand_new_demo_ledger_opens_a_position_of_its_own_decision(world, tmp_path):
    """A new ledger, a flat account: the run's own decision enters once its inputs are out of their warm-up.

    A day of warm-up (every signal but funding out of its warm-up: at least ``min_live_signals``);
    the order-flow signal, required, warms up on 30 live books (BloFin has no book history), so the
    first decisions are held by the data-outage gate. The fake's ETH falls (BTC rises) steadily from the start.
    """
    fake, env, config, args = world
    start = fake.now_ms
    fake.trends["ETH-USDT"] = (start, -0.004)  # -0.4% a minute: a setup that clears the ROI minimum twice over
    fake.trends["BTC-USDT"] = (start, 0.004)
    ledger = tmp_path / "new.sqlite"
    run = subprocess.run(command("demo", ledger, config, args, 40, warmup_bars=1_440), env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    with Ledger.open(ledger, readonly=True) as led:
        assert led.check_invariant().ok
        decisions, fills, funding = led.decisions(), led.fills(), led.funding()
        held = {s: round(p.qty_contracts, 9) for s, p in led.open_positions().items()}
    # the required order-flow signal was warming up: the first cycles were held by the data-outage gate
    first = decisions.loc[decisions["ts_ms"] == decisions["ts_ms"].min()]
    assert (first["reason_code"] == Reason.data_outage).all(), first
    entered = decisions.loc[decisions["outcome"] == Reason.entered]
    assert len(entered), decisions.tail(6).to_string()
    assert not (entered["reason_mask"] & (1 << Reason.data_outage)).any()

    # the entry order as BloFin documents it (no brokerId, strings), filled and booked
    orders = fake.private_calls("/api/v1/trade/order")
    entries = [o for o in orders if o["reduceOnly"] == "false"]
    assert entries and all(set(o) == ORDER_FIELDS for o in entries), orders
    assert all(o["marginMode"] == "isolated" and o["positionSide"] == "net" and float(o["size"]) > 0 for o in entries)
    assert {(o["instId"], o["side"]) for o in entries} >= {("ETH-USDT", "sell")}
    ids = {o["clientOrderId"] for o in entries}
    ours = fills.loc[fills["client_order_id"].isin(ids)]
    assert len(ours), fills
    assert set(ours["fill_id"]) <= {t["tradeId"] for t in fake.trades}
    assert SYMBOLS[1] in set(ours["symbol"])  # short ETH (it may have been closed since: the venue agrees)
    assert venue_positions(fake) == {s: q for s, q in held.items() if q}
    # funding BloFin settled on the bot's own position is booked, per position and settlement
    charged = {(f["instId"].replace("-", "/") + ":USDT", f["ts"]): f["amount"] for f in fake.funding}
    booked = {(r["symbol"], int(r["ts_ms"])): r["amount_usd"] for _, r in funding.iterrows()}
    assert any(s == SYMBOLS[1] for s, _ in booked), (charged, booked)
    assert set(booked) <= set(charged)
    for key, amount in booked.items():
        assert amount == pytest.approx(charged[key], abs=1e-9)
