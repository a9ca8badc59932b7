"""Parameters from the configuration, their validation, and the reason codes' Python face."""

from __future__ import annotations

import json

import numpy as np
import pytest

from botcore.config.models import STRATEGY_NAMES
from botcore.strategy import explain, mask_names, reason_name, trail_frame
from botcore.strategy.enums import N_REASONS, PARAM_FIELDS, REASON_NAMES, Reason, params_dt
from botcore.strategy.params import EXTRA_DEFAULTS, build_params, params_to_dict, validate_params
from botcore.strategy.state import check_inputs, decision_rows
from tests._strategy_world import has, make_world


def test_params_carry_the_configuration(settings):
    params = build_params(settings)
    p = params[0]
    assert params.dtype == params_dt and params.shape == (1,)
    assert list(p["allocation"]) == [0.45, 0.35, 0.20]
    assert p["min_usd"] == 200 and p["max_usd"] == 2000 and p["kelly_fraction"] == 0.3
    assert p["max_positions"] == 10 and p["max_positions_per_sector"] == 2
    assert p["taker_fee"] == 0.0006 and p["maker_fee"] == 0.0002
    assert p["breaker_cooldown_ms"] == settings.risk.circuit_breaker.cooldown_minutes * 60_000
    assert p["min_hold_ms"] == 15 * 60_000 and p["max_hold_ms"] == 720 * 60_000
    # regime rows: unknown, trending, mean_reverting, random; columns in STRATEGY_NAMES order
    assert p["regime_allowed"].tolist() == [[0, 0, 0], [1, 1, 1], [1, 0, 0], [1, 0, 0]]
    assert p["required_signal"].tolist() == [1] + [0] * 9
    assert list(p["require_mtf"]) == [0, 1, 1]
    for name, extra in EXTRA_DEFAULTS.items():
        assert p[name] == extra.default


def test_overrides_by_name_and_per_strategy(settings):
    params = build_params(settings, {"kelly_conviction_slope": 0.4, "min_conviction.trend_conservative": 0.33})
    assert params[0]["kelly_conviction_slope"] == 0.4
    assert params[0]["min_conviction"][STRATEGY_NAMES.index("trend_conservative")] == 0.33
    assert params_to_dict(params)["min_conviction"][1] == 0.33
    json.dumps(params_to_dict(params))  # storable as a versioned parameter record


@pytest.mark.parametrize("overrides, field", [
    ({"no_such_thing": 1}, "no_such_thing"),
    ({"min_conviction.no_such_strategy": 0.5}, "no_such_strategy"),
    ({"min_usd.trend_conservative": 5}, "min_usd"),
    ({"min_usd": 3000.0}, "min_usd"),
    ({"kelly_fraction": 0.0}, "kelly_fraction"),
    ({"kelly_fraction": 1.5}, "kelly_fraction"),
    ({"max_tilt": 1.5}, "max_tilt"),
    ({"trade_memory": 500}, "trade_memory"),
    ({"max_positions": 2.5}, "max_positions"),
    ({"stop_loss_pct": float("nan")}, "stop_loss_pct"),
    ({"allocation.sentiment_fusion": 0.9}, "allocation"),
    ({"kelly_max_win_rate": 1.2}, "kelly_max_win_rate"),
    ({"entry_post_only": 2}, "entry_post_only"),
    ({"regime_allowed": [[1, 1]]}, "regime_allowed"),
    ({"vol_scale_min": 2.0}, "vol_scale_min"),
])
def test_bad_parameters_raise_value_error_naming_the_field(settings, overrides, field):
    with pytest.raises(ValueError, match=field):
        build_params(settings, overrides)


def test_validate_rejects_a_foreign_array():
    with pytest.raises(ValueError, match="params"):
        validate_params(np.zeros(3))


def test_every_param_field_is_validated_or_bounded():
    assert set(EXTRA_DEFAULTS) <= set(PARAM_FIELDS)


# --------------------------------------------------------------------------- reason codes


def test_reason_codes_are_unique_small_and_named():
    codes = list(Reason)
    assert codes == list(range(N_REASONS)) and max(codes) < 63
    assert reason_name(Reason.kelly_no_edge) == "kelly_no_edge"
    assert reason_name(99) == "unknown_99"
    for name in ("entered", "exited", "held", "skipped", "regime_blocks_strategy", "no_signal", "data_outage",
                 "min_live_signals", "conviction_below_threshold", "mtf_not_confirmed", "roi_below_minimum",
                 "win_rate_below_threshold", "streak_paused", "kelly_no_edge", "size_below_minimum",
                 "max_positions", "symbol_exposure", "total_exposure", "sector_limit", "leverage_cap",
                 "circuit_breaker_session", "circuit_breaker_daily", "circuit_breaker_drawdown", "kill_switch",
                 "stop_loss", "take_profit", "trailing_stop", "profit_lock", "time_exit", "min_hold",
                 "hold_breaker"):
        assert name in REASON_NAMES.values()


def test_explain_reads_like_a_sentence():
    mask = 1 << Reason.roi_below_minimum | 1 << Reason.mtf_not_confirmed
    text = explain(Reason.skipped, Reason.roi_below_minimum, mask, "BTC/USDT:USDT", 1)
    assert text.startswith("BTC/USDT:USDT: skipped [trend_conservative] — expected return net of fees")
    assert text.endswith("(also: mtf_not_confirmed)")
    assert mask_names(mask) == ["mtf_not_confirmed", "roi_below_minimum"]
    clamped = explain(Reason.entered, Reason.entered, 1 << Reason.symbol_exposure)
    assert clamped == "entered (clamped by: symbol_exposure)"


def test_trail_frame_and_ledger_rows(settings):
    world = make_world(settings)
    world.regime[1] = 2
    decision = world.decide()
    symbols = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT"]
    frame = trail_frame(decision.trail, symbols)
    assert list(frame.index) == symbols
    assert frame.loc["BTC/USDT:USDT", "outcome_name"] == "entered"
    assert frame.loc["ETH/USDT:USDT", "reason_name"] == "no_signal"
    assert frame.loc["ETH/USDT:USDT", "explanation"] == "ETH/USDT:USDT: skipped — aggregated signal has no direction"
    rows = decision_rows(decision.trail, world.now_ms, symbols)
    assert list(rows.columns) == ["ts_ms", "symbol", "strategy", "outcome", "reason_code", "reason_mask", "detail"]
    assert rows.loc[0, "strategy"] == "sentiment_fusion" and rows.loc[1, "strategy"] == ""
    assert rows.loc[0, "detail"]["size_usd"] > 0 and rows.loc[1, "detail"]["kelly_f"] is None
    json.dumps(rows["detail"].tolist())


def test_inputs_of_the_wrong_shape_are_rejected(settings):
    world = make_world(settings, n=3)
    bad = world.features._replace(price=np.ones(4))
    with pytest.raises(ValueError, match="features.price"):
        check_inputs(world.positions, world.portfolio, world.memory, bad, world.signals, world.regime,
                     world.params)
    with pytest.raises(ValueError, match="regime"):
        check_inputs(world.positions, world.portfolio, world.memory, world.features, world.signals,
                     world.regime.astype(float), world.params)
    world.signals = world.signals._replace(status=np.zeros((3, 9), dtype=np.int8))
    with pytest.raises(ValueError, match="signals.status"):
        world.decide()


def test_same_inputs_same_decision(settings):
    a, b = make_world(settings), make_world(settings)
    da, db = a.decide(), b.decide()
    for x, y in ((da.intents, db.intents), (da.trail, db.trail)):
        for name in x.dtype.names:
            assert np.array_equal(x[name], y[name], equal_nan=True), name
    assert not has(da.trail[0], Reason.kill_switch)


def test_cached_kernels_were_compiled_with_the_current_enums():
    from botcore.signals.enums import SignalIds, SignalStatuses
    from botcore.strategy.enums import N_SECTOR_BUCKETS, Breaker, KillSwitch, OrderType, StrategyId
    from botcore.strategy.nb import compiled_constants_nb

    expected = (
        Reason.no_strategy_enabled, Reason.benched, Reason.kill_switch, Reason.stop_loss, Reason.size_below_minimum,
        Breaker.drawdown, KillSwitch.flatten, OrderType.limit, StrategyId.breakout_aggressive, N_SECTOR_BUCKETS,
        SignalIds.trend, SignalIds.breakout, SignalIds.open_interest_velocity, SignalIds.social_sentiment,
        SignalStatuses.ok,
    )
    assert compiled_constants_nb() == expected, "stale Numba cache: remove botcore/strategy/__pycache__"
