"""Red flags from the loop's state: Kelly zero, breaker trips, repeated outages, reconciliation, invariant."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from botcore.engine.preflight import _world
from botcore.ops.notify import Notifier
from botcore.ops.redflags import RedFlagMonitor, kelly_sizes
from botcore.strategy import Reason, build_params, decide, new_memory


@pytest.fixture
def monitor():
    return RedFlagMonitor(Notifier(None), outage_cycles=3)


def kinds(results):
    return [r.kind for r in results]


def test_kelly_zero_for_every_strategy_is_raised_once_per_episode(monitor, settings):
    world = _world(settings, None)
    trail = world.decide(decide).trail
    assert kinds(monitor.after_cycle(trail, world.portfolio, world.memory, world.params)) == []

    losing = world.memory.copy()
    for mem in losing:  # 50 trades, 10 wins: no edge
        mem["returns"][:50] = [0.01 if k % 5 == 0 else -0.01 for k in range(50)]
        mem["n_trades"], mem["head"] = 50, 50
    sizes = kelly_sizes(world.params, losing, 10_000.0)
    assert all(v["size_usd"] == 0.0 for v in sizes.values())
    assert kinds(monitor.after_cycle(trail, world.portfolio, losing, world.params)) == ["kelly_zero"]
    assert kinds(monitor.after_cycle(trail, world.portfolio, losing, world.params)) == []  # still the same episode


def test_a_breaker_trip_is_raised_on_the_transition(monitor, settings):
    world = _world(settings, None)
    trail = world.decide(decide).trail
    world.portfolio["breaker_code"] = 2
    world.portfolio["breaker_until_ms"] = world.now_ms + 7_200_000
    (alert,) = monitor.after_cycle(trail, world.portfolio, world.memory, world.params)
    assert alert.kind == "circuit_breaker"
    assert kinds(monitor.after_cycle(trail, world.portfolio, world.memory, world.params)) == []


def test_repeated_outages_need_consecutive_outage_cycles(monitor, settings):
    params = build_params(settings)
    memory = new_memory(params)
    world = _world(settings, params)
    n = world.positions.shape[0]
    outage = np.zeros(n, dtype=world.decide(decide).trail.dtype)
    outage["symbol_idx"] = np.arange(n)
    outage["reason"] = Reason.data_outage
    fine = outage.copy()
    fine["reason"] = Reason.skipped

    seen = [kinds(monitor.after_cycle(t, world.portfolio, memory, params))
            for t in (outage, outage, fine, outage, outage, outage)]
    assert seen == [[], [], [], [], [], ["repeated_outages"]]


def test_reconciliation_and_invariant_flags(monitor):
    bad = SimpleNamespace(ok=False, problems=("BTC/USDT:USDT: position 3 in the ledger, 2 on the venue",),
                          cash_diff_usd=-2.5, ledger_cash_usd=9_997.5, venue_cash_usd=10_000.0)
    good = SimpleNamespace(ok=True, problems=(), cash_diff_usd=0.2, ledger_cash_usd=1.0, venue_cash_usd=0.8)
    assert kinds(monitor.after_reconcile(bad)) == ["wallet_discrepancy", "reconciliation_mismatch"]
    assert monitor.after_reconcile(good) == []
    broken = SimpleNamespace(red_flag=True, cash_diff_usd=5.0, summary=lambda: "cash off")
    assert kinds(monitor.after_invariant(broken)) == ["wallet_discrepancy"]
    assert monitor.after_invariant(SimpleNamespace(red_flag=False)) == []
