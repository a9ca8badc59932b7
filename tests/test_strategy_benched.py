"""The ``benched`` gate of the decision kernel: a benched symbol's entries are held back, its exits still run."""

from __future__ import annotations

import numpy as np
import pytest

from botcore.strategy.enums import Reason
from botcore.strategy.reference import decide_reference
from botcore.strategy.state import decide
from botcore.strategy.testing import random_case
from tests._strategy_world import bit, make_world
from tests.test_strategy_reference import SETTINGS, assert_records_equal


def test_a_benched_flat_symbol_is_held_back_with_its_direction_conviction_and_sizing_kept(settings):
    free = make_world(settings).decide()
    assert free.trail[0]["outcome"] == Reason.entered
    world = make_world(settings)
    world.positions["benched"][0] = 1
    decision = world.decide()
    row = decision.trail[0]
    assert len(decision.intents) == 0
    assert row["outcome"] == Reason.skipped and row["reason"] == Reason.benched
    # every other gate passed: the benched bit alone marks an entry the kernel would have made
    assert int(row["gate_mask"]) == bit(Reason.benched)
    assert row["direction"] == 1 and row["conviction"] == pytest.approx(0.8)
    assert row["strategy_id"] == free.trail[0]["strategy_id"]
    assert row["win_prob"] == pytest.approx(free.trail[0]["win_prob"])
    assert row["expected_roi"] == pytest.approx(free.trail[0]["expected_roi"])


def test_a_benched_symbol_keeps_its_other_failing_gates_in_the_mask(settings):
    world = make_world(settings)
    world.positions["benched"][0] = 1
    world.signals.conviction[0] = 0.01
    row = world.row()
    assert row["reason"] == Reason.benched
    assert int(row["gate_mask"]) & bit(Reason.conviction_below_threshold)
    assert int(row["gate_mask"]) != bit(Reason.benched)


def test_a_portfolio_gate_still_decides_before_the_bench(settings):
    world = make_world(settings)
    world.positions["benched"][0] = 1
    world.portfolio[0]["kill_switch"] = 1
    row = world.row()
    assert row["reason"] == Reason.kill_switch
    assert int(row["gate_mask"]) & bit(Reason.benched)


def test_a_benched_symbol_with_an_open_position_still_exits(settings):
    world = make_world(settings)
    world.open(0, 1.0, 500.0, age_ms=10 * 24 * 60 * 60_000)  # past the maximum hold: time exit
    world.positions["benched"][0] = 1
    decision = world.decide()
    (intent,) = decision.intents
    assert intent["reduce_only"] and intent["symbol_idx"] == 0 and intent["side"] == -1
    assert decision.trail[0]["outcome"] == Reason.exited
    world.apply(decision)
    assert world.positions[0]["qty_base"] == 0.0
    assert world.positions[0]["benched"] == 1, "a fill must not clear the bench"


def test_a_benched_symbol_frees_its_risk_budget_for_the_next_candidate(settings):
    world = make_world(settings, overrides={"max_positions": 1})
    world.signals.direction[1] = 1
    world.signals.conviction[1] = 0.7  # less convinced than symbol 0: blocked by max_positions while 0 enters
    assert world.decide().trail[1]["reason"] == Reason.max_positions
    world.positions["benched"][0] = 1
    decision = world.decide()
    assert [int(i) for i in decision.intents["symbol_idx"]] == [1]
    assert decision.trail[1]["outcome"] == Reason.entered


def test_kernel_and_reference_agree_when_many_symbols_are_benched():
    rng = np.random.default_rng(99)
    seen: set[int] = set()
    benched_exits = 0
    for _ in range(400):
        case = random_case(rng, SETTINGS)
        case.positions["benched"] = rng.random(len(case.positions)) < 0.5
        a, b = case.copy(), case.copy()
        dk, dr = decide(*a), decide_reference(*b)
        assert_records_equal(dk.trail, dr.trail, "trail")
        assert_records_equal(dk.intents, dr.intents, "intents")
        bench = case.positions["benched"] != 0
        entries = dk.intents[~dk.intents["reduce_only"]]
        assert not bench[entries["symbol_idx"]].any(), "a benched symbol entered"
        exits = dk.intents[dk.intents["reduce_only"]]
        benched_exits += int(bench[exits["symbol_idx"]].sum())
        flat_benched = bench & (case.positions["qty_base"] == 0)
        assert np.all(dk.trail["gate_mask"][flat_benched] & bit(Reason.benched))
        seen.update(dk.trail["reason"][flat_benched].tolist())
    assert Reason.benched in seen and benched_exits > 0
