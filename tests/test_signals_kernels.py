"""Signal kernels against their pandas references, edge cases and properties.

Tolerance: statuses equal exactly; scores and confidences within 1e-9
absolute (observed differences are below 1e-10: pandas' rolling variance and
the kernels' anchored running sums round differently).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from botcore.generic import nb as generic_nb
from botcore.signals import nb
from botcore.signals import reference as ref
from botcore.signals.enums import SignalStatuses as S
from botcore.signals.price import nb as price_nb
from botcore.signals.sentiment import nb as sentiment_nb
from tests._signal_cases import CASES, SMALL, column_inputs, random_inputs

ATOL = 1e-9


@pytest.fixture(scope="module")
def market():
    return random_inputs(n=3000, m=2, seed=11)


@pytest.mark.parametrize("name", list(CASES))
def test_kernel_agrees_with_reference_on_data_with_gaps(market, name):
    kernel, reference, fields, params = CASES[name]
    for j in range(2):
        args = column_inputs(market, fields, j)
        score, conf, status = kernel(*args, *params)
        r_score, r_conf, r_status = reference(*args, *params)
        np.testing.assert_array_equal(status, r_status)
        np.testing.assert_allclose(score, r_score, rtol=0, atol=ATOL)
        np.testing.assert_allclose(conf, r_conf, rtol=0, atol=ATOL)
        assert (status == S.ok).sum() > 300, "the case must exercise OK bars"
        assert (status == S.data_outage).any()


def test_book_imbalance_agrees_with_reference(market):
    bid, ask = np.ascontiguousarray(market.bid_sz[:, 0]), np.ascontiguousarray(market.ask_sz[:, 0])
    np.testing.assert_allclose(nb.book_imbalance_1d_nb(bid, ask, 0.7), ref.book_imbalance_ref(bid, ask, 0.7), atol=1e-15, equal_nan=True)
    both = nb.book_imbalance_nb(market.bid_sz, market.ask_sz, 0.7)
    np.testing.assert_array_equal(both[:, 0], nb.book_imbalance_1d_nb(bid, ask, 0.7))


def test_book_imbalance_is_plus_one_with_only_bids():
    bid = np.ones((3, 4))
    ask = np.zeros((3, 4))
    ask[2] = np.nan
    np.testing.assert_array_equal(nb.book_imbalance_1d_nb(bid, ask, 0.5), [1.0, 1.0, np.nan])


def test_2d_kernels_equal_their_1d_kernel_per_column(market):
    two_d = {
        "funding_rate": nb.funding_rate_nb(market.funding_rate, *SMALL.funding_rate),
        "breakout": price_nb.breakout_nb(market.high, market.low, market.close, *SMALL.breakout),
        "social_sentiment": sentiment_nb.social_sentiment_nb(market.mentions, market.tone, *SMALL.social_sentiment),
    }
    for name, out in two_d.items():
        kernel, _, fields, params = CASES[name]
        for j in range(out[0].shape[1]):
            for got, want in zip(out, kernel(*column_inputs(market, fields, j), *params)):
                np.testing.assert_array_equal(got[:, j], want)


def test_all_missing_input_is_data_outage_everywhere():
    nan = np.full(500, np.nan)
    for name, (kernel, _, fields, params) in CASES.items():
        score, conf, status = kernel(*([nan] * len(fields)), *params)
        assert (status == S.data_outage).all(), name
        assert not score.any() and not conf.any(), name


def test_flat_funding_scores_zero_not_nan():
    score, conf, status = nb.funding_rate_1d_nb(np.full(1000, 1e-4), *SMALL.funding_rate)
    assert (status[-10:] == S.ok).all()
    assert (score == 0).all() and not np.isnan(conf).any()


def test_flat_price_mean_reversion_is_neutral_not_nan():
    score, conf, status = price_nb.mean_reversion_1d_nb(np.full(1000, 42.0), *SMALL.mean_reversion)
    assert (status[-10:] == S.ok).all()
    assert (score == 0).all() and (conf[-10:] == 1.0).all()


def test_funding_extreme_is_contrarian():
    rate = np.full(1000, 1e-4) + np.random.default_rng(0).normal(0, 2e-5, 1000)
    rate[-1] = 2e-3  # crowded longs pay a lot
    score, _, status = nb.funding_rate_1d_nb(rate, *SMALL.funding_rate)
    assert status[-1] == S.ok and score[-1] == -1.0


def test_breakout_above_channel_scores_long_and_below_short():
    close = np.full(200, 100.0)
    high, low = close + 0.5, close - 0.5
    up = close.copy()
    up[-1] = 103.0
    s_up, _, st_up = price_nb.breakout_1d_nb(np.maximum(high, up), low, up, *SMALL.breakout)
    down = close.copy()
    down[-1] = 97.0
    s_dn, _, _ = price_nb.breakout_1d_nb(high, np.minimum(low, down), down, *SMALL.breakout)
    assert st_up[-1] == S.ok and s_up[-1] > 0.9 and s_dn[-1] < -0.9
    assert (s_up[100:-1] == 0).all()


def test_liquidation_burst_of_longs_scores_short():
    long_liq = np.full(600, 10.0)
    short_liq = np.full(600, 10.0)
    long_liq[-3:] = 5_000.0
    score, conf, status = nb.liquidation_cascade_1d_nb(long_liq, short_liq, *SMALL.liquidation_cascade)
    assert status[-1] == S.ok and score[-1] < -0.9
    assert abs(score[-10]) < 1e-12


def test_fear_greed_is_contrarian_at_extremes_and_flat_between():
    score, _, status = sentiment_nb.fear_greed_1d_nb(np.array([0.0, 10.0, 50.0, 90.0, 100.0, 101.0]))
    np.testing.assert_allclose(score, [1.0, 0.6, 0.0, -0.6, -1.0, 0.0])
    assert status[-1] == S.data_outage


# --------------------------------------------------------------------------- properties

finite_or_nan = st.one_of(st.floats(-1e3, 1e3, allow_nan=False), st.just(float("nan")))
positive_or_nan = st.one_of(st.floats(1e-3, 1e4, allow_nan=False), st.just(float("nan")))
SHORT = dict(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def signal_case(draw):
    name = draw(st.sampled_from(list(CASES)))
    _, _, fields, _ = CASES[name]
    n = draw(st.integers(1, 400))
    elements = finite_or_nan if name in ("fear_greed", "social_sentiment", "order_flow_imbalance") else positive_or_nan
    arrays = [draw(hnp.arrays(np.float64, n, elements=elements)) for _ in fields]
    if name == "social_sentiment":
        arrays[1] = np.clip(arrays[1] / 1e3, -1, 1)
    if name == "order_flow_imbalance":
        arrays[0] = np.clip(arrays[0] / 1e3, -1, 1)
    return name, arrays


@settings(**SHORT)
@given(signal_case())
def test_property_scores_bounded_and_missing_input_is_outage(case):
    name, arrays = case
    kernel, _, _, params = CASES[name]
    score, conf, status = kernel(*arrays, *params)
    assert np.all(np.abs(score) <= 1.0) and np.all((conf >= 0) & (conf <= 1.0))
    assert not np.isnan(score).any() and not np.isnan(conf).any()
    missing = np.zeros(len(score), dtype=bool)
    for a in arrays:
        missing |= np.isnan(a)
    assert (status[missing] == S.data_outage).all()
    not_ok = status != S.ok
    assert not score[not_ok].any() and not conf[not_ok].any()


@settings(**SHORT)
@given(st.sampled_from([k for k in CASES if k != "fear_greed"]), st.integers(2, 25))
def test_property_confidence_is_zero_while_warming_up(name, n):
    kernel, _, fields, params = CASES[name]
    rng = np.random.default_rng(n)
    arrays = [np.abs(rng.normal(1.0, 0.1, n)) if f != "tone" else rng.uniform(-1, 1, n) for f in fields]
    if name == "order_flow_imbalance":
        arrays = [rng.uniform(-1, 1, n)]
    score, conf, status = kernel(*arrays, *params)
    assert (status == S.warming_up).all()  # every window here is longer than 25 bars
    assert not conf.any() and not score.any()


# --------------------------------------------------------------------------- rolling primitives


@pytest.mark.parametrize("window,min_periods", [(1, 1), (7, 3), (60, 60)])
def test_rolling_primitives_match_pandas(window, min_periods):
    import pandas as pd

    rng = np.random.default_rng(window)
    x = 1000 + np.cumsum(rng.normal(0, 1, (800, 2)), axis=0)
    x[rng.random(x.shape) < 0.05] = np.nan
    frame = pd.DataFrame(x)
    mean, std = generic_nb.rolling_mean_std_nb(x, window, min_periods)
    roll = frame.rolling(window, min_periods=min_periods)
    np.testing.assert_allclose(mean, roll.mean(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(std, roll.std(ddof=0), rtol=0, atol=1e-6)  # prices ~1000: relative 1e-9
    np.testing.assert_allclose(generic_nb.ema_nb(x, window), frame.ewm(span=window, adjust=False, ignore_na=True).mean(), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(generic_nb.rolling_max_nb(x, window), frame.rolling(window, min_periods=1).max())
