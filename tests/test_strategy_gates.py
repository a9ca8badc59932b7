"""Entry gates of the decision kernel, each driven to both sides of its threshold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from botcore.signals.enums import SignalIds, SignalStatuses
from botcore.strategy.enums import Reason, StrategyId
from tests._strategy_world import fill_memory, has, make_world, only

SF, TC, BA = "sentiment_fusion", "trend_conservative", "breakout_aggressive"


def entered(row) -> bool:
    return row["outcome"] == Reason.entered and row["reason"] == Reason.entered


def test_clean_setup_enters_long_with_a_market_order(settings):
    world = make_world(settings)
    decision = world.decide()
    assert entered(decision.trail[0])
    (intent,) = decision.intents
    assert intent["symbol_idx"] == 0 and intent["side"] == 1 and not intent["reduce_only"]
    assert intent["reason"] == Reason.entered and intent["exit_reason"] == -1
    assert intent["qty_contracts"] == pytest.approx(intent["qty_base"] / 0.01)
    assert intent["stop_price"] == pytest.approx(100.0 * (1 - settings.exits.stop_loss_pct))
    assert all(decision.trail[i]["reason"] == Reason.no_signal for i in (1, 2, 3))


def test_short_setup_enters_short(settings):
    world = make_world(settings)
    world.signals.direction[0] = -1
    world.signals.score[0] *= -1
    world.features.trend_dir[0] = -1
    decision = world.decide()
    assert entered(decision.trail[0])
    assert decision.intents[0]["side"] == -1
    assert decision.intents[0]["stop_price"] > 100.0


# --------------------------------------------------------------------------- symbol gates


@pytest.mark.parametrize("field", ["price", "volatility_daily", "funding_rate", "contract_size", "min_contracts"])
def test_missing_feature_is_a_data_outage(settings, field):
    world = make_world(settings)
    getattr(world.features, field)[0] = np.nan
    row = world.row()
    assert row["outcome"] == Reason.skipped and row["reason"] == Reason.data_outage


def test_required_signal_outage_blocks_but_optional_outage_does_not(settings):
    world = make_world(settings)
    world.signals.status[0, SignalIds.fear_greed] = SignalStatuses.data_outage
    world.signals.n_live[0] = 9
    assert entered(world.row())
    world.signals.status[0, SignalIds.order_flow_imbalance] = SignalStatuses.data_outage
    world.signals.n_live[0] = 8
    assert world.row()["reason"] == Reason.data_outage


def test_min_live_signals_threshold(settings):
    world = make_world(settings)
    world.signals.n_live[0] = settings.signals.min_live_signals
    assert entered(world.row())
    world.signals.n_live[0] = settings.signals.min_live_signals - 1
    assert world.row()["reason"] == Reason.min_live_signals


def test_aggregator_not_tradable_is_an_outage(settings):
    world = make_world(settings)
    world.signals.tradable[0] = False
    assert world.row()["reason"] == Reason.data_outage


@pytest.mark.parametrize("direction, conviction", [(0, 0.8), (1, 0.0), (1, np.nan)])
def test_no_direction_or_conviction_is_no_signal(settings, direction, conviction):
    world = make_world(settings)
    world.signals.direction[0] = direction
    world.signals.conviction[0] = conviction
    assert world.row()["reason"] == Reason.no_signal


# --------------------------------------------------------------------------- strategy gates


def test_regime_matrix_gates_each_strategy(settings):
    world = make_world(settings, overrides=only(TC))
    world.regime[0] = 0  # trending allows trend_conservative
    assert entered(world.row())
    for regime in (1, 2, -1):  # mean reverting, random, unknown
        world.regime[0] = regime
        assert world.row()["reason"] == Reason.regime_blocks_strategy
    world = make_world(settings, overrides=only(SF))
    world.regime[0] = 2  # random allows sentiment_fusion
    assert entered(world.row())


def test_streak_pause_until_its_time(settings):
    world = make_world(settings, overrides=only(SF))
    world.memory[StrategyId.sentiment_fusion]["pause_until_ms"] = world.now_ms + 1
    assert world.row()["reason"] == Reason.streak_paused
    world.memory[StrategyId.sentiment_fusion]["pause_until_ms"] = world.now_ms
    assert entered(world.row())


def test_win_rate_gate_after_burn_in_only(settings):
    min_wr = settings.strategies.strategies[SF].min_win_rate  # 0.40
    world = make_world(settings, overrides=only(SF))
    fill_memory(world, 0, [0.03] * 11 + [-0.01] * 19)  # 11/30 < 0.40
    assert world.row()["reason"] == Reason.win_rate_below_threshold
    world = make_world(settings, overrides=only(SF))
    fill_memory(world, 0, [0.03] * 12 + [-0.01] * 18)  # 12/30 == 0.40
    assert 12 / 30 >= min_wr
    assert entered(world.row())
    world = make_world(settings, overrides=only(SF))
    fill_memory(world, 0, [0.03] * 2 + [-0.01] * 27)  # 29 trades: still burning in, defaults apply
    row = world.row()
    assert not has(row, Reason.win_rate_below_threshold)
    assert row["win_prob"] == pytest.approx(settings.sizing.default_win_rate + 0.25 * (0.8 - 0.5))


@pytest.mark.parametrize("name", [SF, TC, BA])
def test_conviction_threshold(settings, name):
    threshold = settings.strategies.strategies[name].min_conviction
    world = make_world(settings, overrides=only(name, kelly_conviction_pivot=0.0))
    world.features.volatility_daily[0] = 0.2  # keep the ROI gate open at low conviction
    world.signals.conviction[0] = threshold
    assert entered(world.row())
    world.signals.conviction[0] = math.nextafter(threshold, 0.0)
    assert world.row()["reason"] == Reason.conviction_below_threshold


def test_sentiment_fusion_needs_agreeing_live_sentiment(settings):
    world = make_world(settings, overrides=only(SF))
    sentiment = [SignalIds.order_flow_imbalance, SignalIds.funding_rate, SignalIds.taker_ratio,
                 SignalIds.fear_greed, SignalIds.social_sentiment]
    world.signals.score[0, sentiment] = -0.6  # sentiment disagrees with the aggregate direction
    assert world.row()["reason"] == Reason.sentiment_not_confirmed
    world.signals.score[0, sentiment] = 0.6
    world.signals.status[0, sentiment[1:]] = SignalStatuses.warming_up  # only OFI live: 1 < 2
    assert world.row()["reason"] == Reason.sentiment_not_confirmed
    world.signals.status[0, sentiment[1]] = SignalStatuses.ok  # two live
    assert entered(world.row())


def test_trend_conservative_needs_the_trend_signal(settings):
    world = make_world(settings, overrides=only(TC))
    world.signals.score[0, SignalIds.trend] = 0.2  # == tc_min_trend_score
    assert entered(world.row())
    world.signals.score[0, SignalIds.trend] = 0.19
    assert world.row()["reason"] == Reason.trend_not_confirmed
    world.signals.score[0, SignalIds.trend] = 0.9
    world.signals.status[0, SignalIds.trend] = SignalStatuses.data_outage
    assert world.row()["reason"] == Reason.trend_not_confirmed


def test_breakout_needs_open_interest_or_volume_confirmation(settings):
    world = make_world(settings, overrides=only(BA))
    k_b, k_oi = SignalIds.breakout, SignalIds.open_interest_velocity
    world.signals.score[0, k_b] = 0.29
    assert world.row()["reason"] == Reason.breakout_not_confirmed
    world.signals.score[0, k_b] = 0.3
    world.signals.score[0, k_oi] = 0.0
    world.features.volume_ratio[0] = 1.49
    assert world.row()["reason"] == Reason.breakout_not_confirmed
    world.features.volume_ratio[0] = 1.5
    assert entered(world.row())
    world.features.volume_ratio[0] = np.nan  # missing volume is no confirmation, OI can still confirm
    world.signals.score[0, k_oi] = 0.1
    assert entered(world.row())


@pytest.mark.parametrize("dirs, ok", [([1, 1, 1], True), ([1, 1, 0], True), ([1, 0, 0], False),
                                      ([1, 1, -1], False), ([-1, -1, -1], False)])
def test_multi_timeframe_confirmation(settings, dirs, ok):
    world = make_world(settings, overrides=only(TC))
    world.features.trend_dir[0] = dirs
    row = world.row()
    assert entered(row) if ok else row["reason"] == Reason.mtf_not_confirmed


def test_mtf_not_required_for_sentiment_fusion(settings):
    world = make_world(settings, overrides=only(SF))
    world.features.trend_dir[0] = -1
    assert entered(world.row())


def roi_threshold_vol(world, name, settings) -> float:
    """Daily volatility at which the expected net ROI equals the strategy's minimum."""
    st = settings.strategies.strategies[name]
    conviction = float(world.signals.conviction[0])
    half_spread = 1e-5
    slip = max(settings.fees.expected_slippage, half_spread)
    costs = 2 * settings.fees.taker + 2 * slip
    funding = float(world.features.funding_rate[0]) * st.expected_hold_minutes / 480
    return (st.min_expected_roi + costs + funding) / (conviction * math.sqrt(st.expected_hold_minutes / 1440))


@pytest.mark.parametrize("name", [SF, TC, BA])
def test_expected_roi_net_of_fees_slippage_and_funding(settings, name):
    world = make_world(settings, overrides=only(name))
    vol = roi_threshold_vol(world, name, settings)
    world.features.volatility_daily[0] = vol * 1.001
    row = world.row()
    assert entered(row) and row["expected_roi"] >= settings.strategies.strategies[name].min_expected_roi
    world.features.volatility_daily[0] = vol * 0.999
    assert world.row()["reason"] == Reason.roi_below_minimum


def test_funding_counts_against_longs_and_for_shorts(settings):
    world = make_world(settings, overrides=only(SF))
    world.features.volatility_daily[0] = roi_threshold_vol(world, SF, settings) * 1.001
    world.features.funding_rate[0] = 0.002  # longs pay 0.2% per 8 h
    assert world.row()["reason"] == Reason.roi_below_minimum
    world.signals.direction[0] = -1
    world.signals.score[0] *= -1
    world.features.trend_dir[0] = -1
    assert entered(world.row())  # shorts receive it


def test_wide_spread_raises_expected_slippage(settings):
    world = make_world(settings, overrides=only(SF))
    world.features.volatility_daily[0] = roi_threshold_vol(world, SF, settings) * 1.05
    assert entered(world.row())
    world.features.best_bid[0], world.features.best_ask[0] = 99.9, 100.1  # half spread 0.1% > 0.02%
    assert world.row()["reason"] == Reason.roi_below_minimum


def test_post_only_entries_pay_maker_and_quote_the_touch(settings):
    world = make_world(settings, overrides=only(SF, entry_post_only=1))
    decision = world.decide()
    (intent,) = decision.intents
    assert intent["order_type"] == 1 and intent["limit_price"] == world.features.best_bid[0]


# --------------------------------------------------------------------------- the trail


def test_trail_lists_every_failing_gate_and_the_first_decides(settings):
    world = make_world(settings, overrides=only(TC))
    world.regime[0] = 2
    world.features.trend_dir[0] = 0
    world.signals.conviction[0] = 0.1
    row = world.row()
    assert row["reason"] == Reason.regime_blocks_strategy
    for code in (Reason.regime_blocks_strategy, Reason.conviction_below_threshold, Reason.mtf_not_confirmed,
                 Reason.kelly_no_edge):
        assert has(row, code)


def test_reported_strategy_is_the_one_nearest_to_entering(settings):
    world = make_world(settings)  # all three strategies, no bandit
    world.regime[0] = 2  # random: only sentiment_fusion allowed
    world.signals.score[0, [0, 1, 4, 8, 9]] = -0.5  # ...and its sentiment disagrees
    row = world.row()  # one failing gate each: the furthest stage (sentiment_fusion's rule) is reported
    assert row["strategy_id"] == StrategyId.sentiment_fusion
    assert row["reason"] == Reason.sentiment_not_confirmed
    assert int(row["gate_mask"]) == 1 << Reason.sentiment_not_confirmed  # the other strategies' gates are not listed
    world.regime[0] = 0  # trending: trend_conservative is allowed and passes; it is the row's strategy
    assert world.row()["strategy_id"] == StrategyId.trend_conservative


# --------------------------------------------------------------------------- burn-in


def test_burn_in_trades_the_minimum_where_kelly_finds_no_edge(settings):
    world = make_world(settings, overrides=only(TC, burn_in_min_size=1))
    world.signals.conviction[0] = 0.5  # bootstrap p=0.45, b=1.2: f* < 0
    decision = world.decide()
    row = decision.trail[0]
    assert entered(row) and row["kelly_f"] < 0  # Kelly is reported, not a gate
    assert decision.intents[0]["size_usd"] == pytest.approx(settings.sizing.min_usd)
    world.signals.conviction[0] = 0.7  # Kelly would stake $250: the burn-in still stakes the minimum
    assert world.decide().intents[0]["size_usd"] == pytest.approx(settings.sizing.min_usd)
    world.signals.conviction[0] = 0.2  # every other gate still decides
    assert world.row()["reason"] == Reason.conviction_below_threshold


def test_burn_in_ends_at_min_trades_for_stats(settings):
    n_stats = settings.sizing.min_trades_for_stats
    world = make_world(settings, overrides=only(TC, burn_in_min_size=1))
    world.signals.conviction[0] = 0.5
    fill_memory(world, StrategyId.trend_conservative, [0.01] * 13 + [-0.02] * (n_stats - 14))  # one short
    assert entered(world.row())
    fill_memory(world, StrategyId.trend_conservative, [-0.02])  # p = 13/30, b = 0.5: no edge, Kelly gates again
    row = world.row()
    assert row["reason"] == Reason.kelly_no_edge and int(row["gate_mask"]) == 1 << Reason.kelly_no_edge
    world = make_world(settings, overrides=only(TC, burn_in_min_size=0))  # off: Kelly gates from the first trade
    world.signals.conviction[0] = 0.5
    assert world.row()["reason"] == Reason.kelly_no_edge


def test_open_position_is_not_entered_again(settings):
    world = make_world(settings)
    world.open(0, 1.0, 300.0, age_ms=60_000 * 60)
    world.signals.direction[0] = 1
    decision = world.decide()
    assert decision.trail[0]["outcome"] == Reason.held and len(decision.intents) == 0


# --------------------------------------------------------------------------- a stall relaxes the conviction thresholds


def test_a_stall_without_entries_relaxes_the_conviction_threshold_down_to_its_floor(settings):
    threshold = settings.strategies.strategies[TC].min_conviction  # 0.30
    world = make_world(settings, overrides=only(TC, kelly_conviction_pivot=0.0))
    world.features.volatility_daily[0] = 0.2  # keep the ROI gate open at low conviction
    world.signals.conviction[0] = 0.7 * threshold
    port = world.portfolio[0]
    tc = StrategyId.trend_conservative
    port["last_entry_ts_ms"] = world.now_ms  # the other strategies' clocks do not matter
    port["last_entry_ts_ms"][tc] = world.now_ms - 11 * 3_600_000  # 11 h: below the 12 h start, the threshold holds
    assert world.row()["reason"] == Reason.conviction_below_threshold
    port["last_entry_ts_ms"][tc] = world.now_ms - 16 * 3_600_000  # 16 h: halfway to 20 h, threshold x 0.75
    assert world.row()["reason"] == Reason.conviction_below_threshold
    port["last_entry_ts_ms"][tc] = world.now_ms - 17 * 3_600_000  # 17 h: x 0.6875 < 0.7: enters
    decision = world.decide()
    assert entered(decision.trail[0]) and port["last_entry_ts_ms"][tc] == world.now_ms  # the entry resets its clock
    world.signals.conviction[0] = 0.45 * threshold  # below the floor (x 0.5) even at a long stall
    port["last_entry_ts_ms"][tc] = world.now_ms - 48 * 3_600_000
    assert world.row()["reason"] == Reason.conviction_below_threshold


def test_a_new_portfolio_starts_its_entry_clock_at_the_first_cycle(settings):
    world = make_world(settings, overrides=only(TC))
    world.signals.conviction[0] = 0.0 + 0.01  # nothing enters
    world.portfolio[0]["last_entry_ts_ms"] = -1
    world.decide()
    assert (world.portfolio[0]["last_entry_ts_ms"] == world.now_ms).all()


def test_the_days_entry_budget_caps_entries_and_resets_at_midnight(settings):
    world = make_world(settings, overrides=only(TC, max_entries_per_day=2))
    port = world.portfolio[0]
    port["day_entries"] = 1
    decision = world.decide()
    assert entered(decision.trail[0]) and port["day_entries"] == 2
    world.positions[0]["qty_base"] = 0.0  # flat again: the budget is used up
    row = world.row()
    assert row["reason"] == Reason.daily_entry_limit and int(row["gate_mask"]) == 1 << Reason.daily_entry_limit
    world.now_ms += 86_400_000  # the next UTC day
    assert entered(world.row()) and port["day_entries"] == 1
