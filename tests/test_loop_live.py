"""The live loop end to end against local servers answering like BloFin and the intel providers (no internet).

- paper mode on the live feed: warm-up downloaded, cycles on the schedule's grid
  with one ledger transaction each, an overrun recorded, a restart resuming;
- demo mode on ccxt's BloFin class: restart recovery of an order written ahead and
  placed by a run that died before booking it (found by client order id, booked
  once, given to the kernel), a venue position the ledger does not know (adopted
  as aged at the first reconciliation), and an unexplained mismatch (entries
  frozen, an alert recorded) that clears when the venue is clean again.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from tenacity import wait_none

from botcore.cli.run_cmd import venue_starting_cash
from botcore.clock import Scheduler
from botcore.engine.backtest import restrict_settings
from botcore.engine.enums import KIND_ENTRY, Acct
from botcore.engine.live import META_KEY, OVERRUNS_KEY, live_loop, open_venue
from botcore.engine.loop import FREEZE
from botcore.engine.records import order_cid, order_for
from botcore.intel import IntelFeeds
from botcore.ledger import Ledger
from botcore.market.live import LiveFeed, live_intel_options, public_exchange
from botcore.model import OrderSide, OrderStatus, OrderType, TradeCloseReason
from botcore.net import RetryPolicy, backoff
from botcore.ops.notify import LOG_KEY
from botcore.ops.secrets import scan_for_secrets
from botcore.strategy.enums import Reason
from botcore.venues import BlofinVenue, OrderRequest
from tests.fakes import blofin_public
from tests.fakes.blofin_server import TEST_API_KEY, TEST_API_SECRET, TEST_PASSPHRASE, FakeBlofin
from tests.fakes.intel_servers import FakeIntelServer

MIN = 60_000
T = 1_710_072_000_000  # 2024-03-10 12:00 UTC
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
SYMBOLS = [BTC, ETH]
ENV = {"BLOFIN_API_KEY": TEST_API_KEY, "BLOFIN_API_SECRET": TEST_API_SECRET, "BLOFIN_PASSPHRASE": TEST_PASSPHRASE}
FAST = RetryPolicy(attempts=3, wait=backoff(0.01, 0.02))
WARMUP = 300


@pytest.fixture(scope="module")
def intel():
    with FakeIntelServer(hang_s=2.0) as srv:
        yield srv


@pytest.fixture
def servers(intel):
    intel.reset()
    fake = FakeBlofin(now_ms=T + 3_000)
    blofin_public.install(fake)
    with fake:
        yield fake, intel
    intel.reset()


def ticks(fake, intel, first_ms, n):
    """A scheduler stand-in: ``n`` grid times from ``first_ms``, the servers' clocks 3 s into each."""
    for k in range(n):
        t = first_ms + k * MIN
        fake.now_ms = intel.now_ms = t + 3_000
        yield t, 0


def make_feed(settings, fake, intel, scheduler) -> LiveFeed:
    feeds = IntelFeeds(settings, base_urls=intel.base_urls, env=intel.env,
                       options=live_intel_options(1, wait=wait_none(), timeout_s=0.5))  # cycles come faster than 60 s
    return LiveFeed(SYMBOLS, exchange=public_exchange(fake.url, rate_limit_ms=1), intel=feeds, staleness=settings,
                    lookback_bars=2, timeout_s=3.0, scheduler=scheduler)


def start(settings, led, fake, intel, scheduler, *, mode="paper", venue=None, **kw):
    feed = make_feed(settings, fake, intel, scheduler)
    venue = venue if venue is not None else open_venue(settings, "paper")
    return live_loop(settings, led, feed, venue, mode=mode, symbols=SYMBOLS, warmup_bars=WARMUP,
                     warm_up_kwargs={"api_url": fake.url, "end_ms": fake.now_ms}, submit_timeout_s=2.0, **kw)


def finish(loop):
    loop.feed.close()
    close = getattr(loop.venue, "close", None)
    if close is not None and asyncio.iscoroutinefunction(close):
        loop._aio.run_until_complete(close())
    loop.close()


def test_paper_on_the_live_feed_runs_on_the_grid_records_overruns_and_resumes(settings, servers, tmp_path):
    fake, intel = servers
    settings = restrict_settings(settings, SYMBOLS)
    path = tmp_path / "live.sqlite"
    led = Ledger.open(path, starting_cash_usd=10_000.0, mode="paper")
    loop = start(settings, led, fake, intel, ticks(fake, intel, T + MIN, 4))
    ages = []
    report = loop.run(progress=lambda rep, n: ages.append(rep.feed_age_s))
    finish(loop)
    assert report.cycles == 4
    # every feed answered: the 1m candle closed at the cycle time, the book was read at it, the per-minute intel
    # closed at it; a funding rate is reused for up to funding_refresh_ms (5 minutes)
    assert all(None not in a.values() and a["candles"] == a["book"] == a["taker"] == 0.0 and a["funding"] <= 300
               for a in ages), ages
    equity = led.equity()
    assert equity["ts_ms"].tolist() == [T + k * MIN for k in range(1, 5)]
    decisions = led.decisions()
    assert len(decisions) == 4 * len(SYMBOLS)
    beats = led.heartbeats()
    engine_beats = beats[beats["component"] == "engine"]
    assert len(engine_beats) == 4
    meta = led.get_meta(META_KEY)
    assert meta["mode"] == "paper" and meta["symbols"] == SYMBOLS
    # the warm-up store beside the ledger holds the downloaded minutes
    assert (tmp_path / "live.sqlite.market").is_dir()

    # a restart resumes the run (same ledger): the next cycles follow the last one; an overrun is recorded
    clock = {"now": T + 6 * MIN}

    def now_ms():
        return clock["now"]

    def sleep(seconds):
        clock["now"] += int(seconds * 1000)
        fake.now_ms = intel.now_ms = clock["now"] + 3_000

    sched = Scheduler(MIN, cycles=3, clock=now_ms, sleep=sleep)
    loop = start(settings, led, fake, intel, sched)
    assert loop._last_t == T + 4 * MIN

    def slow_step(rep, n):
        if n == 1:
            clock["now"] += 150_000  # this cycle's work took 2.5 minutes: two grid slots are missed

    report = loop.run(progress=slow_step)
    finish(loop)
    assert report.cycles == 3
    ts = led.equity()["ts_ms"].tolist()
    assert ts[:4] == [T + k * MIN for k in range(1, 5)] and len(ts) == 7
    assert all(b - a >= MIN and (b - T) % MIN == 0 for a, b in zip(ts, ts[1:]))
    overruns = led.get_meta(OVERRUNS_KEY)
    assert len(overruns) == 1 and overruns[0]["missed"] == 2, overruns
    inv = led.check_invariant()
    assert inv.ok, inv
    led.close()


def demo_venue(settings, fake):
    return BlofinVenue.from_settings(settings, mode="demo", api_url=fake.url, env=ENV, rate_limit_ms=1, retry=FAST)


def place_directly(settings, fake, cid, symbol, qty, **kw):
    """Place an order on the fake venue behind the bot's back (another client; the bot's ledger knows nothing)."""

    async def go():
        venue = demo_venue(settings, fake)
        try:
            await venue.load_markets()
            return await venue.submit(OrderRequest(cid, symbol, OrderSide.BUY, kw.pop("order_type", OrderType.MARKET),
                                                   qty_contracts=qty, **kw))
        finally:
            await venue.close()

    return asyncio.run(go())


def test_demo_restart_books_a_written_ahead_order_adopts_unknown_positions_and_freezes_on_a_mismatch(
        settings, servers, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    fake, intel = servers
    settings = restrict_settings(settings, SYMBOLS)
    path = tmp_path / "demo.sqlite"
    cash = venue_starting_cash(demo_venue(settings, fake))
    led = Ledger.open(path, starting_cash_usd=cash, mode="demo")
    loop = start(settings, led, fake, intel, ticks(fake, intel, T + MIN, 2), mode="demo", venue=demo_venue(settings, fake))
    assert loop.run().cycles == 2
    finish(loop)
    assert led.get_meta("reconcile:last")["ok"]

    # the run dies after writing an entry ahead and sending it: the venue filled it, the ledger says NEW
    t_crash = T + 3 * MIN
    cid = order_cid(t_crash, 0, KIND_ENTRY)
    led.record_order(order_for(cid, BTC, int(OrderSide.BUY), 2.0, 0.001, t_crash, 0, False, KIND_ENTRY, -1))
    fake.now_ms = t_crash + 3_000
    placed = place_directly(settings, fake, cid, BTC, 2.0)
    assert placed.status == OrderStatus.FILLED
    # and someone opened an ETH position on the account by hand
    place_directly(settings, fake, "byhand1", ETH, 1.0)

    loop = start(settings, led, fake, intel, ticks(fake, intel, T + 5 * MIN, 2), mode="demo",
                 venue=demo_venue(settings, fake))
    assert cid in loop.pending
    assert loop.run().cycles == 2
    finish(loop)
    order = led.order(cid)
    assert order.status == OrderStatus.FILLED and order.filled_qty_contracts == 2.0
    assert len(led.fills().query("client_order_id == @cid")) == 1
    held = led.open_positions()
    assert held[BTC].qty_contracts == 2.0
    assert loop.engine.state.acct[0, Acct.qty_contracts] == 2.0  # the recovered fill reached the kernel
    # the adopted ETH position (entry time unknown: aged) was closed by the kernel's exit rules on the next cycle
    assert ETH not in held
    eth = led.orders().query("symbol == @ETH")
    assert len(eth) == 1 and eth["reduce_only"].astype(bool).all(), eth
    assert eth["status"].tolist() == [int(OrderStatus.FILLED)]
    assert eth["close_reason"].tolist() == [int(TradeCloseReason.TIME_EXIT)]
    exits = led.decisions(symbol=ETH).query("outcome == @Reason.exited")
    assert exits["reason_code"].tolist() == [Reason.time_exit]  # adopted: entry time unknown, so aged
    assert loop.engine.state.acct[1, Acct.qty_contracts] == 0.0
    last = led.get_meta("reconcile:last")
    assert last["ok"] and any(c["kind"] == "POSITION_ADOPTED" and c["symbol"] == ETH for c in last["changes"])
    assert not any(o["client_order_id"] == cid for o in led.orders().to_dict("records")
                   if o["status"] == int(OrderStatus.REJECTED))

    # a resting order on the venue that the ledger does not know: unexplained -> entries frozen, alert recorded
    fake.now_ms = T + 8 * MIN
    place_directly(settings, fake, "stray1", BTC, 1.0, order_type=OrderType.LIMIT, price=1_000.0)
    loop = start(settings, led, fake, intel, ticks(fake, intel, T + 9 * MIN, 1), mode="demo",
                 venue=demo_venue(settings, fake))
    assert loop.run().cycles == 1
    assert loop.halted and any("stray1" in p for p in loop.halted)
    assert int(loop.engine.state.portfolio[0]["kill_switch"]) == FREEZE
    alerts = led.get_meta(LOG_KEY, [])
    assert any("reconciliation" in a.get("kind", "") for a in alerts), alerts
    # cancelled on the venue: the next reconciliation is clean and entries resume
    loop.reconcile_every = 1

    async def cancel():
        venue = demo_venue(settings, fake)
        try:
            await venue.load_markets()
            await venue.cancel("stray1", symbol=BTC)
        finally:
            await venue.close()

    asyncio.run(cancel())
    loop.feed.scheduler = ticks(fake, intel, T + 10 * MIN, 1)
    assert loop.run().cycles == 1
    finish(loop)
    assert loop.halted is None and int(loop.engine.state.portfolio[0]["kill_switch"]) == 0
    inv = led.check_invariant()
    assert inv.ok, inv
    led.close()
    # the credentials reached neither the ledger (nor its WAL), the warm-up store, nor any log record
    assert not scan_for_secrets([tmp_path], ENV), scan_for_secrets([tmp_path], ENV)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert len(caplog.records) > 20 and not any(v in logged for v in ENV.values())


def test_an_order_blofin_refuses_for_the_key_names_code_and_fix_freezes_entries_and_loses_nothing(
        settings, servers, tmp_path):
    fake, intel = servers
    settings = restrict_settings(settings, SYMBOLS)
    place_directly(settings, fake, "byhand2", ETH, 3.0)  # a position the bot will adopt and try to close
    path = tmp_path / "broker.sqlite"
    cash = venue_starting_cash(demo_venue(settings, fake))
    led = Ledger.open(path, starting_cash_usd=cash, mode="demo")
    # venue.yaml sets a broker id, but the key is an ordinary transaction key: BloFin answers 152011
    venue = BlofinVenue.from_settings(settings, mode="demo", api_url=fake.url, env=ENV, rate_limit_ms=1, retry=FAST,
                                      broker_id="abc123")
    loop = start(settings, led, fake, intel, ticks(fake, intel, T + MIN, 2), mode="demo", venue=venue)
    assert loop.run().cycles == 2
    finish(loop)
    refused = led.orders().query("symbol == @ETH")
    assert len(refused) >= 1 and (refused["status"] == int(OrderStatus.REJECTED)).all(), refused
    assert all("152011" in r and "remove `broker_id`" in r for r in refused["status_reason"]), refused["status_reason"].tolist()
    assert loop.halted and "152011" in loop.halted[0] and ETH in loop.halted[0]
    assert int(loop.engine.state.portfolio[0]["kill_switch"]) == FREEZE
    assert led.open_positions()[ETH].qty_contracts == 3.0 and fake.positions[("ETH-USDT", "net")]["qty"] == 3.0
    assert led.check_invariant().ok
    led.close()


def test_the_learning_runner_starts_botcore_learn_when_due_and_not_again_until_the_next_period(tmp_path):
    from botcore.engine.live import LearningRunner
    from botcore.learning import learning_due
    from tests.conftest import CONFIG_DIR

    led = Ledger.open(tmp_path / "bot.sqlite", starting_cash_usd=10_000.0, mode="paper")
    runner = LearningRunner(led, 12.0, config_dir=CONFIG_DIR, out_dir=tmp_path / "runs", extra_args=["--no-notebook"])
    now = int(time.time() * 1000)
    assert learning_due(led, now, 12.0)
    runner.poll(now)  # a ledger that never learned: not at start-up ...
    assert runner.proc is None
    now += 12 * 3_600_000
    runner.poll(now)  # ... but one period into the run
    assert runner.proc is not None
    runner.stop(timeout_s=120)
    assert runner.runs and runner.runs[0]["exit_code"] == 0, runner.runs
    assert not learning_due(led, now + 60_000, 12.0)  # the run recorded its cycle in the ledger
    runner.poll(now + 60_000)
    assert runner.proc is None and len(runner.runs) == 1
    led.close()


class _Ticks:
    """Stands in for the wall-clock Scheduler in ``botcore run``: grid times on the servers' clocks, no waiting."""

    def __init__(self, fake, intel, first_ms):
        self.fake, self.intel, self.first_ms = fake, intel, first_ms
        self.on_overrun = None
        self.stopped = False

    def __call__(self, period_ms, cycles=None, delay_ms=0, **_kw):
        self.period_ms, self.cycles = period_ms, cycles
        return self

    def __iter__(self):
        for k in range(self.cycles):
            if self.stopped:
                return
            t = self.first_ms + k * self.period_ms
            self.fake.now_ms = self.intel.now_ms = t + 3_000
            yield t, 0

    def stop(self):
        self.stopped = True


def test_botcore_run_feed_live_paper_end_to_end(intel, tmp_path, monkeypatch):
    """The command itself: `botcore run --mode paper --feed live` against the local servers, three cycles."""
    from typer.testing import CliRunner

    import botcore.clock as schedule
    from botcore.cli import app
    from tests.conftest import CONFIG_DIR

    now = (int(time.time() * 1000) // MIN) * MIN  # the warm-up reads up to the venue's clock: the servers run now
    intel.reset()
    intel.now_ms = now + 3_000
    for name, value in intel.env.items():
        monkeypatch.setenv(name, value)
    fake = FakeBlofin(start_ms=now - 3 * 86_400_000, now_ms=now + 3_000)
    blofin_public.install(fake)
    ticks = _Ticks(fake, intel, now + MIN)
    monkeypatch.setattr(schedule, "Scheduler", ticks)
    ledger = tmp_path / "live.sqlite"
    with fake:
        args = ["run", "--mode", "paper", "--feed", "live", "--ledger", str(ledger), "--config", str(CONFIG_DIR),
                "--symbols", ",".join(SYMBOLS), "--cycles", "3", "--warmup-bars", "120", "--venue-url", fake.url]
        for provider, url in intel.base_urls.items():
            args += ["--intel-url", f"{provider}={url}"]
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "paper trading of 2 symbols on the live BloFin feed" in result.output and "3 cycles" in result.output
    with Ledger.open(ledger, readonly=True) as led:
        assert led.equity()["ts_ms"].tolist() == [now + k * MIN for k in (1, 2, 3)]
        assert led.get_meta(META_KEY)["mode"] == "paper" and led.get_meta("mode") == "paper"
        beats = led.heartbeats()
        assert (beats["detail"].fillna("").str.contains('"feed_age_s"')).any()
        assert led.check_invariant().ok
    intel.reset()
