"""Fault test: 1,000 replay cycles with ~20% of venue and feed calls failing in varied ways.

The paper venue is wrapped so that about one call in five fails:

- ``submit`` raises :class:`botcore.errors.TemporaryError` or ``ConnectionError``,
  answers REJECTED, hangs past the loop's budget (cut by ``asyncio.wait_for``), or
  executes the order and then loses the answer (the loop must find it by its
  client order id and book the fill rather than a rejection);
- ``fetch_order`` (the look-up after a failed submit) fails: the outcome stays
  unknown, the order is pending and looked up again next cycle, and no new entry
  of that symbol is sent meanwhile;
- ``funding_since`` fails (read again from the same point next cycle) and the
  reconciliation reads (``positions``, ``balance``) fail (reconciliation skipped).

The feed is wrapped so that about one symbol-cycle in five loses a source the way
a live feed does when a call fails: the order book, the candles, funding, the
market-intelligence inputs, or the whole symbol.

The loop must not crash, no cycle may exceed its budget, every order must end
FILLED, REJECTED or CANCELED (none left open), the kernel's cash must equal the
ledger's after every cycle (the loop checks), and the invariant must hold exactly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections import Counter

import pytest

from botcore.config import load_settings
from botcore.engine.backtest import fresh_ledger
from botcore.engine.loop import replay_loop
from botcore.engine.testing import ACTIVE_OVERRIDES
from botcore.errors import TemporaryError
from botcore.market.replay import Cycle
from botcore.market.sample import DEFAULT_START_MS, generate_sample_market
from botcore.market.snapshot import MarketSnapshot
from botcore.model import OrderStatus
from botcore.venues.base import OrderUpdate, VenueReason
from tests.conftest import CONFIG_DIR

SETTINGS = load_settings(CONFIG_DIR)
MIN = 60_000
DAY = 86_400_000
SEED = 11
START = DEFAULT_START_MS + DAY + MIN
CYCLES = 1000
END = START + (CYCLES - 1) * MIN
SUBMIT_BUDGET_S = 0.05
CYCLE_BUDGET_S = 2.0


class FlakyVenue:
    """A venue whose calls fail ~``rate`` of the time, in varied ways; everything else is the inner venue's."""

    def __init__(self, inner, rate: float = 0.2, seed: int = 1) -> None:
        self.inner = inner
        self.rate = rate
        self.rng = random.Random(seed)
        self.faults: Counter[str] = Counter()
        self.submits = 0
        self.lost_answers: set[str] = set()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def _fails(self) -> bool:
        return self.rng.random() < self.rate

    async def submit(self, request):
        self.submits += 1
        if not self._fails():
            return await self.inner.submit(request)
        kind = self.rng.choice(("temporary", "connection", "rejected", "timeout", "lost_answer"))
        self.faults[kind] += 1
        if kind == "temporary":
            raise TemporaryError("HTTP 503 from the venue (injected)")
        if kind == "connection":
            raise ConnectionError("connection reset by peer (injected)")
        if kind == "rejected":
            return OrderUpdate(request.client_order_id, request.symbol, request.side, request.order_type,
                               OrderStatus.REJECTED, 0, float(request.qty_contracts), 0.0,
                               reduce_only=request.reduce_only, reason_code=VenueReason.VENUE_REJECTED,
                               reason="rate limit exceeded (injected)")
        if kind == "lost_answer":
            await self.inner.submit(request)  # the venue executes it, the answer never arrives
            self.lost_answers.add(request.client_order_id)
            raise ConnectionError("connection closed before the response (injected)")
        await asyncio.sleep(5.0)  # hangs: the loop's wait_for cancels it before the inner venue sees it
        return await self.inner.submit(request)

    async def fetch_order(self, client_order_id, *, symbol=None):
        if self._fails():
            self.faults["fetch_order"] += 1
            raise TemporaryError("HTTP 502 on order lookup (injected)")
        return await self.inner.fetch_order(client_order_id, symbol=symbol)

    async def funding_since(self, ts_ms):
        if self._fails():
            self.faults["funding_since"] += 1
            raise ConnectionError("funding history: connection reset (injected)")
        return await self.inner.funding_since(ts_ms)

    async def positions(self):
        if self._fails():
            self.faults["positions"] += 1
            raise TemporaryError("positions: HTTP 500 (injected)")
        return await self.inner.positions()

    async def balance(self):
        if self._fails():
            self.faults["balance"] += 1
            raise TimeoutError()
        return await self.inner.balance()


#: What a failed live-feed call leaves missing in a snapshot, per source.
DROPS = {
    "book": {"book": None},
    "candles": {"candles": {}},
    "funding": {"funding_rate": None, "funding_ts_ms": None, "next_funding_ts_ms": None},
    "intel": {"oi_usd": None, "oi_ts_ms": None, "oi_history": None, "long_liq_usd": None, "short_liq_usd": None,
              "liquidations_ts_ms": None, "liquidations_history": None, "taker_buy_base": None,
              "taker_sell_base": None, "taker_ts_ms": None, "taker_history": None},
}


class FlakyFeed:
    """A replay feed whose per-source calls fail ~``rate`` of the time, leaving that source missing.

    A snapshot is four calls (book, candles, funding, intel); each fails on its own, so sometimes all
    four do (the whole symbol missing). Candle calls fail only for the ``candle_fault_symbols``; the other
    symbols' three calls fail at ``rate * 4 / 3``, so a fifth of all calls still fail. Why: a missing 1m
    bar leaves a gap in the Hurst window, and a regime needs 95% coverage, so a symbol losing a fifth of
    its bars never trades (the safe outcome); the other half keeps trading and exercises the venue faults.
    """

    def __init__(self, inner, candle_fault_symbols, rate: float = 0.2, seed: int = 2) -> None:
        self.inner = inner
        self.rate = rate
        self.candle_fault_symbols = frozenset(candle_fault_symbols)
        self.rng = random.Random(seed)
        self.faults: Counter[str] = Counter()
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def _damage(self, snap: MarketSnapshot) -> MarketSnapshot:
        sources = DROPS if snap.symbol in self.candle_fault_symbols else [k for k in DROPS if k != "candles"]
        rate = self.rate * len(DROPS) / len(sources)
        failed = [k for k in sources if self.rng.random() < rate]
        self.calls += len(DROPS)
        if not failed:
            return snap
        self.faults.update(failed)
        if len(failed) == len(DROPS):
            self.faults["symbol"] += 1
        return dataclasses.replace(snap, **{k: v for source in failed for k, v in DROPS[source].items()})

    def __iter__(self):
        for cycle in self.inner:
            yield Cycle(cycle.t_ms, {s: self._damage(snap) for s, snap in cycle.snapshots.items()})


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    generate_sample_market(root / "market", 2.0, SEED, SETTINGS)
    return root


def test_thousand_cycles_with_failing_venue_and_feed_calls(market):
    path = market / "faults.sqlite"
    led = fresh_ledger(path, float(SETTINGS.venue.starting_equity_usd), "paper")
    symbols = [a.symbol for a in SETTINGS.universe.enabled][:10]
    try:
        loop, window = replay_loop(market / "market", SETTINGS, led, start_ms=START, end_ms=END, run_seed=SEED,
                                   warmup_bars=600, params_overrides=dict(ACTIVE_OVERRIDES), symbols=symbols)
        flaky = FlakyVenue(loop.venue, 0.2, seed=SEED)
        outage_symbols = symbols[::2]
        feed = FlakyFeed(loop.feed, outage_symbols, 0.2, seed=SEED + 1)
        loop.venue, loop.feed = flaky, feed
        loop.submit_timeout_s = SUBMIT_BUDGET_S
        worst, held, pending_seen = 0.0, 0, 0
        missing_feeds: Counter[str] = Counter()

        def on_step(rep, k):
            nonlocal worst, held, pending_seen
            worst = max(worst, rep.seconds)
            missing_feeds.update(name for name, age in rep.feed_age_s.items() if age is None)
            held += rep.n_held
            pending_seen = max(pending_seen, rep.n_pending)

        report = loop.run(progress=on_step)
        loop.close()
        assert report.cycles == window.n_bars == CYCLES
        assert worst < CYCLE_BUDGET_S, worst
        orders = led.orders()
        statuses = Counter(OrderStatus(int(s)).name for s in orders["status"])
        assert set(statuses) <= {"FILLED", "REJECTED", "CANCELED"}, statuses
        assert not loop.pending
        submit_faults = {"temporary", "connection", "rejected", "timeout", "lost_answer"}
        assert set(flaky.faults) >= submit_faults | {"fetch_order", "funding_since"}, flaky.faults
        # what the heartbeat reports: a feed missing for any symbol in a cycle has no age (status: degraded)
        assert missing_feeds["book"] > 0.5 * CYCLES and missing_feeds["candles"] > 0.5 * CYCLES, missing_feeds
        failed_calls = sum(feed.faults[k] for k in DROPS)
        assert set(feed.faults) == {*DROPS, "symbol"} and 0.18 < failed_calls / feed.calls < 0.22, feed.faults
        # symbols losing a fifth of their bars are held by the data-outage and regime gates; the rest trade
        traded = set(orders["symbol"])
        assert traded and not traded & set(outage_symbols), traded
        assert statuses["FILLED"] >= 10, statuses
        rejected = orders[orders["status"] == int(OrderStatus.REJECTED)]
        assert rejected["status_reason"].fillna("").str.len().gt(0).all()
        # an order the venue executed without answering is booked from the venue's record, never as a rejection
        lost = orders[orders["client_order_id"].isin(flaky.lost_answers)]
        assert len(lost) == len(flaky.lost_answers) > 0
        assert (lost["status"] == int(OrderStatus.FILLED)).all(), lost[["client_order_id", "status", "status_reason"]]
        # every fill on the venue is in the ledger, once
        venue_fills = {f.fill_id for o in flaky.inner._orders.values() for f in o.update().fills}
        assert set(led.fills()["fill_id"]) == venue_fills
        assert loop.reconciliations >= 50 and loop.halted is None
        # the breaker as the kernel holds it is in the ledger for botcore status
        port = loop.engine.state.portfolio[0]
        assert led.get_meta("circuit_breaker")["code"] == int(port["breaker_code"])
        assert led.get_meta("circuit_breaker")["until_ms"] == int(port["breaker_until_ms"])
        inv = led.check_invariant()
        assert inv.ok, inv
        print(f"{report.cycles} cycles, {flaky.submits} submits, venue faults {dict(flaky.faults)}, feed faults "
              f"{dict(feed.faults)}, statuses {dict(statuses)}, entries held back {held}, most pending "
              f"{pending_seen}, worst cycle {worst * 1000:.1f} ms")
    finally:
        led.close()
