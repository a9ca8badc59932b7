"""Thompson-sampling allocation bandit and the strategy trade memory."""

from __future__ import annotations

import numpy as np
import pytest

from botcore.config import load_settings
from botcore.strategy.decide.nb import record_trade_nb
from botcore.strategy.enums import N_STRATEGIES, StrategyId
from botcore.strategy.nb import bandit_allocations_nb, beta_nb
from botcore.strategy.params import build_params
from botcore.strategy.reference import Rng
from botcore.strategy.state import new_memory
from tests.conftest import CONFIG_DIR

SETTINGS = load_settings(CONFIG_DIR)
PARAMS = build_params(SETTINGS)
BASE = np.array([0.45, 0.35, 0.20])
TILT = SETTINGS.strategies.bandit.max_tilt


def allocations(memory, seed, params=PARAMS):
    out = np.zeros(N_STRATEGIES)
    bandit_allocations_nb(memory, params[0], seed, out)
    return out


def test_same_seed_same_allocations_and_seeds_differ():
    memory = new_memory(PARAMS)
    a = allocations(memory, 123)
    assert np.array_equal(a, allocations(memory, 123))
    draws = {tuple(allocations(memory, seed)) for seed in range(20)}
    assert len(draws) == 20


def test_allocations_stay_within_the_configured_tilt():
    memory = new_memory(PARAMS)
    memory["bandit_alpha"] = [1.0, 50.0, 1.0]
    memory["bandit_beta"] = [50.0, 1.0, 1.0]
    for seed in range(500):
        a = allocations(memory, seed)
        assert np.all(a >= BASE * (1 - TILT) - 1e-12) and np.all(a <= BASE * (1 + TILT) + 1e-12)


def test_bandit_favours_the_strategy_that_wins():
    memory = new_memory(PARAMS)
    for _ in range(40):
        record_trade_nb(memory, StrategyId.breakout_aggressive, 0.01, 0, PARAMS)
        record_trade_nb(memory, StrategyId.sentiment_fusion, -0.01, 0, PARAMS)
    mean = np.mean([allocations(memory, seed) for seed in range(300)], axis=0)
    assert mean[StrategyId.breakout_aggressive] > BASE[StrategyId.breakout_aggressive] * 1.3
    assert mean[StrategyId.sentiment_fusion] < BASE[StrategyId.sentiment_fusion] * 0.8


def test_disabled_bandit_keeps_the_configured_allocations():
    params = build_params(SETTINGS, {"bandit_enabled": 0})
    assert np.allclose(allocations(new_memory(params), 5, params), BASE)


def test_disabled_strategy_gets_no_allocation():
    params = build_params(SETTINGS, {"strategy_enabled.breakout_aggressive": 0,
                                     "allocation.breakout_aggressive": 0.0, "allocation.trend_conservative": 0.55})
    a = allocations(new_memory(params), 9, params)
    assert a[StrategyId.breakout_aggressive] == 0.0 and a[StrategyId.trend_conservative] > 0


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf])
def test_kernel_guards_bad_beta_parameters(bad):
    memory = new_memory(PARAMS)
    memory["bandit_alpha"][0] = bad
    memory["bandit_beta"][1] = bad
    a = allocations(memory, 1)
    assert np.all(np.isfinite(a)) and np.all(a > 0)


@pytest.mark.parametrize("field", ["prior_alpha", "prior_beta"])
@pytest.mark.parametrize("bad", [0.0, -0.5])
def test_bad_beta_prior_is_a_value_error_naming_the_field(field, bad):
    with pytest.raises(ValueError, match=field):
        build_params(SETTINGS, {field: bad})


@pytest.mark.parametrize("a, b", [(2.0, 5.0), (0.5, 0.5), (30.0, 3.0)])
def test_beta_sampler_has_the_right_moments(a, b):
    state = np.uint64(11)
    draws = np.empty(20_000)
    for k in range(draws.size):
        state, draws[k] = beta_nb(np.uint64(state), a, b)
    mean = a / (a + b)
    var = a * b / ((a + b) ** 2 * (a + b + 1))
    assert draws.mean() == pytest.approx(mean, abs=4 * np.sqrt(var / draws.size))
    assert draws.var() == pytest.approx(var, rel=0.05)
    assert draws.min() >= 0.0 and draws.max() <= 1.0


def test_int64_state_is_treated_as_uint64():
    assert beta_nb(np.int64(12345), 2.0, 3.0)[1] == beta_nb(np.uint64(12345), 2.0, 3.0)[1]


def test_reference_sampler_is_bit_identical():
    state = np.uint64(2**40 + 17)
    rng = Rng(2**40 + 17)
    rng.state = 2**40 + 17  # align: the kernel's sampler here starts without the seeding step
    for a, b in [(1.0, 1.0), (0.3, 2.0), (7.0, 0.9)] * 50:
        state, x = beta_nb(np.uint64(state), a, b)
        assert x == rng.beta(a, b)


# --------------------------------------------------------------------------- trade memory


def test_record_trade_updates_ring_posterior_and_streak():
    memory = new_memory(PARAMS)
    p = SETTINGS.strategies.strategies["trend_conservative"]
    s = StrategyId.trend_conservative
    assert record_trade_nb(memory, s, 0.02, 1_000, PARAMS)
    for _k in range(p.max_consecutive_losses - 1):
        record_trade_nb(memory, s, -0.01, 2_000, PARAMS)
    mem = memory[s]
    assert mem["n_trades"] == p.max_consecutive_losses and mem["consecutive_losses"] == p.max_consecutive_losses - 1
    assert mem["pause_until_ms"] == 0
    assert mem["bandit_alpha"] == 2.0 and mem["bandit_beta"] == p.max_consecutive_losses
    record_trade_nb(memory, s, -0.01, 5_000, PARAMS)  # the Nth loss in a row pauses the strategy
    assert memory[s]["pause_until_ms"] == 5_000 + p.streak_pause_minutes * 60_000
    assert memory[s]["consecutive_losses"] == 0
    assert list(memory[s]["returns"][:4]) == [0.02, -0.01, -0.01, -0.01]


def test_a_win_resets_the_streak():
    memory = new_memory(PARAMS)
    for r in (-0.01, -0.01, 0.01, -0.01, -0.01):
        record_trade_nb(memory, 0, r, 0, PARAMS)
    assert memory[0]["consecutive_losses"] == 2 and memory[0]["pause_until_ms"] == 0


def test_record_trade_ignores_unknown_strategies_and_bad_returns():
    memory = new_memory(PARAMS)
    assert not record_trade_nb(memory, -1, 0.01, 0, PARAMS)
    assert not record_trade_nb(memory, 0, np.nan, 0, PARAMS)
    assert memory["n_trades"].sum() == 0


def test_streak_pause_blocks_entries_through_decide(settings):
    from botcore.strategy.enums import Reason
    from tests._strategy_world import make_world, only

    world = make_world(settings, overrides=only("breakout_aggressive"))
    for _ in range(settings.strategies.strategies["breakout_aggressive"].max_consecutive_losses):
        record_trade_nb(world.memory, StrategyId.breakout_aggressive, -0.01, world.now_ms, world.params)
    assert world.row()["reason"] == Reason.streak_paused
    world.now_ms += settings.strategies.strategies["breakout_aggressive"].streak_pause_minutes * 60_000
    assert world.row()["outcome"] == Reason.entered


@pytest.mark.parametrize("seed", [-1, -(2**63), 2**63 - 1, 0])
def test_extreme_seeds_agree_with_the_reference(seed):
    from botcore.strategy.reference import read_params, tilted_allocations

    memory = new_memory(PARAMS)
    memory["bandit_alpha"] = [3.0, 1.5, 8.0]
    assert np.allclose(allocations(memory, seed), tilted_allocations(memory, read_params(PARAMS), seed), rtol=0,
                       atol=0)
