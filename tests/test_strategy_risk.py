"""Risk limits, circuit breakers and the kill switch of the decision kernel."""

from __future__ import annotations

import numpy as np
import pytest

from botcore.strategy.enums import Breaker, KillSwitch, Reason, StrategyId
from botcore.strategy.state import engage_kill_switch, release_kill_switch
from tests._strategy_world import MINUTE_MS, has, make_world, only


def entered(row) -> bool:
    return row["outcome"] == Reason.entered


# --------------------------------------------------------------------------- position count and sectors


def test_max_positions(settings):
    n = 12
    world = make_world(settings, n=n, sectors=[i % 7 for i in range(n)])  # sectors spread so only the count binds
    for i in range(1, 10):
        world.open(i, 1.0, 200.0)
    world.set_equity(100_000.0)
    assert entered(world.row())  # 9 open -> the 10th fits
    world.open(10, 1.0, 200.0)
    row = world.row()
    assert row["reason"] == Reason.max_positions and row["outcome"] == Reason.skipped


def test_max_positions_counts_entries_of_the_same_cycle(settings):
    world = make_world(settings, n=4, overrides={"max_positions": 2})
    world.signals.direction[:] = 1
    world.signals.conviction[:] = [0.80, 0.90, 0.85, 0.70]
    decision = world.decide()
    assert [int(r["outcome"]) for r in decision.trail] == [Reason.skipped, Reason.entered, Reason.entered,
                                                          Reason.skipped]
    assert decision.trail[0]["reason"] == Reason.max_positions  # most convinced first
    assert list(decision.intents["symbol_idx"]) == [1, 2]


def test_sector_guard_allows_two_per_sector(settings):
    world = make_world(settings, n=4, sectors=[3, 3, 3, 4])
    world.open(1, 1.0, 200.0)
    assert entered(world.row())  # one in the sector -> a second fits
    world.open(2, -1.0, 200.0)
    row = world.row()
    assert row["reason"] == Reason.sector_limit
    world.positions[2]["sector_id"] = 4
    assert entered(world.row())


def test_unknown_sector_ids_share_one_bucket(settings):
    world = make_world(settings, n=3, sectors=[-1, -1, -1])
    world.open(1, 1.0, 200.0)
    world.open(2, 1.0, 200.0)
    assert world.row()["reason"] == Reason.sector_limit


# --------------------------------------------------------------------------- exposure


def test_symbol_exposure_clamps_then_blocks(settings):
    world = make_world(settings, overrides={"kelly_conviction_pivot": 0.0})
    world.signals.conviction[0] = 0.95
    world.set_equity(5_000.0)  # Kelly size > 10% of equity = $500
    decision = world.decide()
    row = decision.trail[0]
    assert entered(row) and has(row, Reason.symbol_exposure)
    assert decision.intents[0]["size_usd"] <= 500.0 + 1e-9
    world.set_equity(1_999.0)  # 10% = $199.9 < min_usd $200
    row = world.row()
    assert row["reason"] == Reason.symbol_exposure and row["outcome"] == Reason.skipped
    world.set_equity(2_000.0)
    assert entered(world.row())


def total_exposure_world(settings, open_usd: float):
    world = make_world(settings, n=8, sectors=list(range(8)))
    per = open_usd / 6
    for i in range(1, 7):
        world.open(i, 1.0, per, strategy_id=-1)
    return world


def test_total_exposure_both_sides(settings):
    limit = settings.risk.max_total_exposure_pct * 10_000.0
    world = total_exposure_world(settings, limit - 199.0)  # headroom $199 < $200
    row = world.row()
    assert row["reason"] == Reason.total_exposure and row["outcome"] == Reason.skipped
    world = total_exposure_world(settings, limit - 250.0)  # headroom $250: clamped entry
    decision = world.decide()
    assert entered(decision.trail[0]) and has(decision.trail[0], Reason.total_exposure)
    assert decision.intents[0]["size_usd"] <= 250.0 + 1e-9


def test_strategy_allocation_budget(settings):
    # sentiment_fusion's budget: 45% of the 60% exposure limit of $10,000 = $2,700
    world = make_world(settings, n=6, sectors=list(range(6)), overrides=only("sentiment_fusion", **{
        "allocation.sentiment_fusion": 0.45, "allocation.trend_conservative": 0.55,
        "strategy_enabled.trend_conservative": 1, "max_total_exposure_pct": 1.0,
        "regime_allowed": np.array([[0, 0, 0], [1, 0, 1], [1, 0, 0], [1, 0, 0]]),
    }))
    budget = 0.45 * 1.0 * 10_000.0
    for i in range(1, 5):
        world.open(i, 1.0, (budget - 150.0) / 4, strategy_id=StrategyId.sentiment_fusion)
    row = world.row()
    assert row["reason"] == Reason.strategy_allocation
    world.positions[4]["strategy_id"] = StrategyId.trend_conservative  # frees budget
    assert entered(world.row())


def test_allocation_exhausted_falls_back_to_the_next_strategy(settings):
    world = make_world(settings, n=3, sectors=[0, 1, 2])
    world.open(1, 1.0, 0.45 * 0.6 * 10_000.0 - 100.0, strategy_id=StrategyId.sentiment_fusion)
    decision = world.decide()
    assert entered(decision.trail[0])
    assert decision.intents[0]["strategy_id"] != StrategyId.sentiment_fusion


def test_leverage_cap(settings):
    overrides = {"max_total_exposure_pct": 5.0, "max_leverage": 1.0}
    world = make_world(settings, n=3, sectors=[0, 1, 2], overrides=overrides)
    world.open(1, 1.0, 9_850.0, strategy_id=-1)  # leverage headroom $150
    assert world.row()["reason"] == Reason.leverage_cap
    world = make_world(settings, n=3, sectors=[0, 1, 2], overrides=overrides)
    world.open(1, 1.0, 9_700.0, strategy_id=-1)  # headroom $300
    assert entered(world.row())


def test_invalid_equity_blocks_entries_but_not_exits(settings):
    world = make_world(settings, n=2)
    world.open(1, 1.0, 300.0, age_ms=60 * MINUTE_MS)
    world.move_price(1, 90.0)  # stop loss
    world.portfolio[0]["equity_usd"] = np.nan
    decision = world.decide()
    assert decision.trail[0]["reason"] == Reason.equity_invalid
    assert decision.trail[1]["outcome"] == Reason.exited


# --------------------------------------------------------------------------- circuit breakers


@pytest.mark.parametrize("field, pct, reason", [
    ("session_start_equity_usd", "session_loss_pct", Reason.circuit_breaker_session),
    ("day_start_equity_usd", "daily_loss_pct", Reason.circuit_breaker_daily),
    ("peak_equity_usd", "max_drawdown_pct", Reason.circuit_breaker_drawdown),
])
def test_circuit_breaker_trips_at_its_loss(settings, field, pct, reason):
    limit = float(getattr(settings.risk.circuit_breaker, pct))
    world = make_world(settings)
    world.portfolio[0][field] = 10_000.0 / (1 - limit) * (1 - 1e-6)  # loss just under the limit
    assert entered(world.row())
    world = make_world(settings)
    world.portfolio[0][field] = 10_000.0 / (1 - limit) * (1 + 1e-6)  # just over
    row = world.row()
    assert row["reason"] == reason and row["outcome"] == Reason.skipped


def test_circuit_breaker_cools_down_and_recovers(settings):
    cooldown_ms = settings.risk.circuit_breaker.cooldown_minutes * MINUTE_MS
    world = make_world(settings)
    world.portfolio[0]["day_start_equity_usd"] = 10_600.0  # 5.7% daily loss
    t0 = world.now_ms
    assert world.row()["reason"] == Reason.circuit_breaker_daily
    assert world.portfolio[0]["breaker_code"] == Breaker.daily
    assert world.portfolio[0]["breaker_until_ms"] == t0 + cooldown_ms
    world.now_ms = t0 + cooldown_ms - 1
    assert world.row()["reason"] == Reason.circuit_breaker_daily
    world.now_ms = t0 + cooldown_ms  # recovers on its own and re-bases the day's reference
    assert entered(world.row())
    assert world.portfolio[0]["breaker_code"] == Breaker.none
    assert world.portfolio[0]["day_start_equity_usd"] == 10_000.0


def test_breaker_does_not_stop_exits(settings):
    world = make_world(settings, n=2)
    world.open(1, 1.0, 300.0)
    world.move_price(1, 97.0)
    world.portfolio[0]["peak_equity_usd"] = 20_000.0
    decision = world.decide()
    assert decision.trail[0]["reason"] == Reason.circuit_breaker_drawdown
    assert decision.trail[1]["outcome"] == Reason.exited and decision.trail[1]["reason"] == Reason.stop_loss


def test_new_utc_day_resets_the_daily_reference(settings):
    world = make_world(settings)
    world.portfolio[0]["day_start_equity_usd"] = 12_000.0
    world.portfolio[0]["day_start_ts_ms"] = world.now_ms // 86_400_000 * 86_400_000 - 86_400_000  # yesterday
    assert entered(world.row())
    assert world.portfolio[0]["day_start_equity_usd"] == 10_000.0


def test_peak_equity_follows_new_highs(settings):
    world = make_world(settings)
    world.portfolio[0]["equity_usd"] = 10_500.0
    world.decide()
    assert world.portfolio[0]["peak_equity_usd"] == 10_500.0


# --------------------------------------------------------------------------- kill switch


def test_kill_switch_freeze_blocks_entries_and_keeps_positions(settings):
    world = make_world(settings, n=2)
    world.open(1, 1.0, 300.0, age_ms=MINUTE_MS)  # young, no exit rule fires
    engage_kill_switch(world.portfolio, world.params, KillSwitch.freeze)
    decision = world.decide()
    assert decision.trail[0]["reason"] == Reason.kill_switch
    assert decision.trail[1]["outcome"] == Reason.held
    assert len(decision.intents) == 0


def test_kill_switch_freeze_still_lets_stops_work(settings):
    world = make_world(settings, n=2)
    world.open(1, 1.0, 300.0)
    world.move_price(1, 97.0)
    engage_kill_switch(world.portfolio, world.params, KillSwitch.freeze)
    decision = world.decide()
    assert decision.trail[1]["reason"] == Reason.stop_loss


def test_kill_switch_flatten_exits_everything_at_once(settings):
    world = make_world(settings, n=4)
    world.open(1, 1.0, 300.0, age_ms=0)  # inside the minimum hold
    world.open(2, -1.0, 300.0)
    world.move_price(3, np.nan)
    world.open(3, 1.0, 300.0, entry_price=100.0)  # no price at all
    engage_kill_switch(world.portfolio, world.params, KillSwitch.flatten)
    decision = world.decide()
    assert decision.trail[0]["reason"] == Reason.kill_switch
    exits = {int(it["symbol_idx"]): it for it in decision.intents}
    assert set(exits) == {1, 2, 3}
    for i, side in ((1, -1), (2, 1), (3, -1)):
        it = exits[i]
        assert it["reduce_only"] and it["side"] == side and it["exit_reason"] == Reason.kill_switch
        assert it["qty_base"] == pytest.approx(abs(world.positions[i]["qty_base"]))
    release_kill_switch(world.portfolio)
    assert world.portfolio[0]["kill_switch"] == KillSwitch.off


def test_configured_kill_switch_action(settings):
    world = make_world(settings, overrides={"kill_switch_action": KillSwitch.flatten})
    engage_kill_switch(world.portfolio, world.params)
    assert world.portfolio[0]["kill_switch"] == KillSwitch.flatten
