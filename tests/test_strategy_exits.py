"""Exit rules: stop loss, take profit, trailing stop, profit lock, time exit, minimum hold and its breaker."""

from __future__ import annotations

import numpy as np
import pytest

from botcore.strategy.enums import Reason
from tests._strategy_world import MINUTE_MS, has, make_world

ENTRY = 100.0


@pytest.fixture
def exits(settings):
    return settings.exits


def long_world(settings, age_minutes: float = 60.0, side: float = 1.0, **overrides):
    world = make_world(settings, n=2, overrides=overrides)
    world.open(1, side, 500.0, strategy_id=1, age_ms=int(age_minutes * MINUTE_MS), entry_price=ENTRY)
    world.signals.direction[0] = 0  # only the position under test acts
    return world


def outcome(world, i: int = 1):
    decision = world.decide()
    return decision.trail[i], decision.intents


def at(world, price: float, i: int = 1):
    world.move_price(i, price)
    return outcome(world, i)


@pytest.mark.parametrize("side", [1.0, -1.0])
def test_stop_loss(settings, exits, side):
    world = long_world(settings, side=side)
    row, intents = at(world, ENTRY * (1 - side * exits.stop_loss_pct * 0.99))
    assert row["outcome"] == Reason.held and row["reason"] == Reason.held and len(intents) == 0
    row, intents = at(world, ENTRY * (1 - side * exits.stop_loss_pct * 1.0001))
    assert row["outcome"] == Reason.exited and row["reason"] == Reason.stop_loss
    (intent,) = intents
    assert intent["reduce_only"] and intent["side"] == -side and intent["exit_reason"] == Reason.stop_loss
    assert intent["reason"] == Reason.exited and intent["strategy_id"] == 1
    assert intent["qty_base"] == pytest.approx(abs(world.positions[1]["qty_base"]))


def test_stop_price_is_set_from_entry_and_honoured_when_given(settings, exits):
    world = long_world(settings)
    world.decide()
    assert world.positions[1]["stop_price"] == pytest.approx(ENTRY * (1 - exits.stop_loss_pct))
    world.positions[1]["stop_price"] = 99.5  # a tighter stop placed by the operator
    row, _ = at(world, 99.4)
    assert row["reason"] == Reason.stop_loss


@pytest.mark.parametrize("side", [1.0, -1.0])
def test_take_profit(settings, exits, side):
    big = {"trailing_activation_pct": 1.0, "profit_lock_trigger_pct": 1.0}  # isolate the rule
    world = long_world(settings, side=side, **big)
    row, _ = at(world, ENTRY * (1 + side * exits.take_profit_pct * 0.999))
    assert row["outcome"] == Reason.held
    row, _ = at(world, ENTRY * (1 + side * exits.take_profit_pct * 1.0001))
    assert row["reason"] == Reason.take_profit


@pytest.mark.parametrize("side", [1.0, -1.0])
def test_trailing_stop_follows_the_high_water_mark(settings, exits, side):
    world = long_world(settings, side=side, profit_lock_trigger_pct=1.0)
    peak = ENTRY * (1 + side * (exits.trailing_activation_pct + 0.004))
    row, _ = at(world, peak)
    assert row["outcome"] == Reason.held
    water = "high_water_price" if side > 0 else "low_water_price"
    assert world.positions[1][water] == pytest.approx(peak)
    trail_price = peak * (1 - side * exits.trailing_distance_pct)
    row, _ = at(world, trail_price * (1 + side * 1e-6))
    assert row["outcome"] == Reason.held
    row, _ = at(world, trail_price * (1 - side * 1e-6))
    assert row["reason"] == Reason.trailing_stop


def test_trailing_stop_needs_activation(settings, exits):
    world = long_world(settings, profit_lock_trigger_pct=1.0)
    peak = ENTRY * (1 + exits.trailing_activation_pct * 0.9)  # never activated
    at(world, peak)
    row, _ = at(world, peak * (1 - 2 * exits.trailing_distance_pct))
    assert row["outcome"] == Reason.held


def test_profit_lock_arms_then_protects_the_floor(settings, exits):
    world = long_world(settings, trailing_activation_pct=1.0)  # isolate the rule
    at(world, ENTRY * (1 + exits.profit_lock_trigger_pct * 0.99))
    assert world.positions[1]["profit_lock_armed"] == 0
    at(world, ENTRY * (1 + exits.profit_lock_trigger_pct * 1.0001))
    assert world.positions[1]["profit_lock_armed"] == 1
    row, _ = at(world, ENTRY * (1 + exits.profit_lock_floor_pct * 1.01))
    assert row["outcome"] == Reason.held
    row, _ = at(world, ENTRY * (1 + exits.profit_lock_floor_pct * 0.99))
    assert row["reason"] == Reason.profit_lock


def test_time_exit(settings, exits):
    world = long_world(settings, age_minutes=exits.max_hold_minutes - 1e-3)
    row, _ = at(world, ENTRY)
    assert row["outcome"] == Reason.held
    world = long_world(settings, age_minutes=exits.max_hold_minutes)
    row, _ = at(world, ENTRY)
    assert row["reason"] == Reason.time_exit


def test_minimum_hold_holds_back_an_exit(settings, exits):
    young = exits.min_hold_minutes - 1
    world = long_world(settings, age_minutes=young)
    row, intents = at(world, ENTRY * (1 - exits.stop_loss_pct * 1.1))  # -1.65%: stop, but loss < 2%
    assert row["outcome"] == Reason.held and row["reason"] == Reason.min_hold
    assert has(row, Reason.stop_loss) and len(intents) == 0
    world = long_world(settings, age_minutes=exits.min_hold_minutes)
    row, _ = at(world, ENTRY * (1 - exits.stop_loss_pct * 1.1))
    assert row["reason"] == Reason.stop_loss


def test_hold_breaker_on_position_loss(settings, exits):
    world = long_world(settings, age_minutes=1)
    row, _ = at(world, ENTRY * (1 - exits.hold_breaker_position_loss_pct * 0.999))
    assert row["reason"] == Reason.min_hold
    row, _ = at(world, ENTRY * (1 - exits.hold_breaker_position_loss_pct * 1.001))
    assert row["outcome"] == Reason.exited and row["reason"] == Reason.stop_loss and has(row, Reason.hold_breaker)


def test_hold_breaker_on_portfolio_drawdown(settings, exits):
    limit = exits.hold_breaker_portfolio_drawdown_pct
    world = long_world(settings, age_minutes=1)
    world.move_price(1, ENTRY * (1 - exits.stop_loss_pct * 1.1))
    world.portfolio[0]["peak_equity_usd"] = 10_000.0 / (1 - limit * 0.99)
    row, _ = outcome(world)
    assert row["reason"] == Reason.min_hold
    world.portfolio[0]["peak_equity_usd"] = 10_000.0 / (1 - limit * 1.01)
    row, _ = outcome(world)
    assert row["outcome"] == Reason.exited and has(row, Reason.hold_breaker)


def test_unknown_entry_time_counts_as_aged(settings):
    world = long_world(settings)
    world.positions[1]["entry_ts_ms"] = -1  # adopted from the exchange at restart
    row, intents = at(world, ENTRY)
    assert row["outcome"] == Reason.exited and row["reason"] == Reason.time_exit
    assert has(row, Reason.entry_time_unknown) and len(intents) == 1
    row, _ = at(world, ENTRY * 0.984)  # a stop exits at once too: no minimum hold applies
    assert row["reason"] == Reason.stop_loss and not has(row, Reason.min_hold)


def test_unknown_entry_time_can_skip_only_the_minimum_hold(settings):
    world = long_world(settings, unknown_entry_time_exit=0)
    world.positions[1]["entry_ts_ms"] = -1
    row, intents = at(world, ENTRY)
    assert row["outcome"] == Reason.held and has(row, Reason.entry_time_unknown) and len(intents) == 0
    row, _ = at(world, ENTRY * 0.984)
    assert row["reason"] == Reason.stop_loss


def test_missing_price_holds_and_says_why(settings):
    world = long_world(settings, age_minutes=10_000)
    world.move_price(1, np.nan)
    row, intents = outcome(world)
    assert row["outcome"] == Reason.held and row["reason"] == Reason.data_outage and len(intents) == 0


def test_mark_price_values_the_position_when_present(settings, exits):
    world = long_world(settings)
    world.features.price[1] = ENTRY
    world.features.mark_price[1] = ENTRY * (1 - exits.stop_loss_pct * 1.01)
    row, _ = outcome(world)
    assert row["reason"] == Reason.stop_loss
    world.features.mark_price[1] = np.nan  # falls back to the last price
    world.positions[1]["stop_price"] = np.nan
    row, _ = outcome(world)
    assert row["outcome"] == Reason.held


def test_non_finite_quantity_is_flagged_not_traded(settings):
    world = long_world(settings)
    world.positions[1]["qty_base"] = np.nan
    row, intents = at(world, 50.0)
    assert row["reason"] == Reason.state_invalid and len(intents) == 0


def test_exit_then_no_reentry_in_the_same_cycle(settings, exits):
    world = long_world(settings)
    world.signals.direction[1] = 1
    row, intents = at(world, ENTRY * 0.98)
    assert row["outcome"] == Reason.exited
    assert [bool(it["reduce_only"]) for it in intents if it["symbol_idx"] == 1] == [True]
