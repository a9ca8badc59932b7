"""Fault test: 1,000 replay cycles with ~20% of venue submits failing in varied ways.

The paper venue is wrapped so that about one submit in five fails: it raises
:class:`botcore.errors.TemporaryError`, raises a ``ConnectionError``, answers
with a REJECTED update, or hangs past the loop's submit budget (cut by
``asyncio.wait_for``). The loop must not crash, no cycle may exceed its budget,
every order must end FILLED, REJECTED or CANCELED in the ledger (none left NEW
or SUBMITTED) and the ledger invariant must hold exactly.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from botcore.config import load_settings
from botcore.engine.backtest import fresh_ledger
from botcore.engine.loop import replay_loop
from botcore.engine.testing import ACTIVE_OVERRIDES
from botcore.errors import TemporaryError
from botcore.market.sample import DEFAULT_START_MS, generate_sample_market
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
    """A venue whose submits fail ~``rate`` of the time, in varied ways; everything else is the inner venue's."""

    def __init__(self, inner, rate: float = 0.2, seed: int = 1) -> None:
        self.inner = inner
        self.rate = rate
        self.rng = random.Random(seed)
        self.faults: Counter[str] = Counter()
        self.submits = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def submit(self, request):
        self.submits += 1
        if self.rng.random() >= self.rate:
            return await self.inner.submit(request)
        kind = self.rng.choice(("temporary", "connection", "rejected", "timeout"))
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
        await asyncio.sleep(5.0)  # hangs: the loop's wait_for cancels it before the inner venue sees it
        return await self.inner.submit(request)


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    generate_sample_market(root / "market", 2.0, SEED, SETTINGS)
    return root


def test_thousand_cycles_with_failing_submits(market):
    path = market / "faults.sqlite"
    led = fresh_ledger(path, float(SETTINGS.venue.starting_equity_usd), "paper")
    symbols = [a.symbol for a in SETTINGS.universe.enabled][:10]
    try:
        loop, window = replay_loop(market / "market", SETTINGS, led, start_ms=START, end_ms=END, run_seed=SEED,
                                   warmup_bars=600, params_overrides=dict(ACTIVE_OVERRIDES), symbols=symbols)
        flaky = FlakyVenue(loop.venue, 0.2, seed=SEED)
        loop.venue = flaky
        loop.submit_timeout_s = SUBMIT_BUDGET_S
        worst = 0.0
        n = 0

        def on_step(rep, k):
            nonlocal worst, n
            worst = max(worst, rep.seconds)
            n = k

        report = loop.run(progress=on_step)
        loop.close()
        assert report.cycles == window.n_bars == CYCLES
        assert worst < CYCLE_BUDGET_S, worst
        orders = led.orders()
        statuses = Counter(OrderStatus(int(s)).name for s in orders["status"])
        assert set(statuses) <= {"FILLED", "REJECTED", "CANCELED"}, statuses
        assert sum(flaky.faults.values()) >= 8 and len(flaky.faults) >= 3, flaky.faults
        assert statuses["FILLED"] >= 10 and statuses["REJECTED"] >= sum(flaky.faults.values()), statuses
        rejected = orders[orders["status"] == int(OrderStatus.REJECTED)]
        assert rejected["status_reason"].fillna("").str.len().gt(0).all()
        inv = led.check_invariant()
        assert inv.ok, inv
        print(f"{report.cycles} cycles, {flaky.submits} submits, faults {dict(flaky.faults)}, statuses "
              f"{dict(statuses)}, worst cycle {worst * 1000:.1f} ms")
    finally:
        led.close()
