"""Aggregator: weighted conviction over live signals, the min-live and required rules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from botcore.config.models import SIGNAL_NAMES
from botcore.signals import nb
from botcore.signals.engine import aggregate, required_mask, weights_array
from botcore.signals.enums import N_SIGNALS, SignalIds, SignalOutputs
from botcore.signals.enums import SignalStatuses as S
from botcore.signals.reference import aggregate_ref

K = N_SIGNALS


def _one(score, conf, status, weights=None, required=None, min_live=1):
    w = np.ones(K) if weights is None else np.asarray(weights, float)
    req = np.zeros(K, bool) if required is None else np.asarray(required, bool)
    out = nb.aggregate_nb(
        np.asarray(score, float).reshape(1, 1, K), np.asarray(conf, float).reshape(1, 1, K),
        np.asarray(status, np.int8).reshape(1, 1, K), w, req, min_live,
    )
    return tuple(a[0, 0] for a in out)


def test_agrees_with_reference_on_random_signals():
    rng = np.random.default_rng(0)
    shape = (500, 4, K)
    score, conf = rng.uniform(-1, 1, shape), rng.uniform(0, 1, shape)
    status = rng.choice(np.array([0, 0, 0, 1, 2], np.int8), shape)
    weights, required = rng.uniform(0, 2, K), rng.random(K) < 0.2
    got = nb.aggregate_nb(score, conf, status, weights, required, 5)
    want = aggregate_ref(score, conf, status, weights, required, 5)
    np.testing.assert_allclose(got[0], want[0], rtol=0, atol=1e-12)
    for g, w in zip(got[1:], want[1:]):
        np.testing.assert_array_equal(g, w)


def test_outage_signals_are_left_out_and_weights_renormalised():
    score = np.zeros(K)
    conf = np.ones(K)
    status = np.full(K, S.data_outage)
    score[:2] = [1.0, 0.5]
    status[:2] = S.ok
    conviction, direction, tradable, n_live = _one(score, conf, status, min_live=2)
    assert conviction == pytest.approx(0.75) and direction == 1 and tradable and n_live == 2


def test_too_few_live_signals_block_trading():
    status = np.full(K, S.warming_up)
    status[:4] = S.ok
    *_, tradable, n_live = _one(np.ones(K), np.ones(K), status, min_live=5)
    assert not tradable and n_live == 4


def test_outage_of_a_required_signal_blocks_trading(settings):
    required = required_mask(settings.signals)
    assert required[SignalIds.order_flow_imbalance]
    status = np.zeros(K, np.int8)
    status[SignalIds.order_flow_imbalance] = S.data_outage
    *_, tradable, n_live = _one(np.ones(K), np.ones(K), status, required=required, min_live=5)
    assert not tradable and n_live == K - 1


def test_no_live_signal_gives_zero_conviction_and_no_direction():
    conviction, direction, tradable, n_live = _one(np.ones(K), np.ones(K), np.full(K, S.data_outage))
    assert conviction == 0 and direction == 0 and not tradable and n_live == 0


def test_weights_come_from_config_in_signal_order_and_can_be_overridden(settings):
    w = weights_array(settings.signals)
    assert w.shape == (K,) and w[SIGNAL_NAMES.index("fear_greed")] == settings.signals.weights["fear_greed"]
    np.testing.assert_array_equal(weights_array(settings.signals, np.arange(K)), np.arange(K))
    with pytest.raises(ValueError, match="weights"):
        weights_array(settings.signals, [1.0, 2.0])
    with pytest.raises(ValueError, match="weights"):
        weights_array(settings.signals, -np.ones(K))


def test_face_aggregates_one_bar_or_a_batch(settings):
    rng = np.random.default_rng(1)
    out = SignalOutputs(rng.uniform(-1, 1, (7, 3, K)), rng.uniform(0, 1, (7, 3, K)), np.zeros((7, 3, K), np.int8))
    batch = aggregate(out, settings.signals)
    one = aggregate(SignalOutputs(out.score[4], out.confidence[4], out.status[4]), settings.signals)
    assert batch.conviction.shape == (7, 3) and one.conviction.shape == (3,)
    np.testing.assert_array_equal(one.conviction, batch.conviction[4])


@hsettings(max_examples=50, deadline=None)
@given(
    hnp.arrays(np.float64, K, elements=st.floats(-1, 1)),
    hnp.arrays(np.float64, K, elements=st.floats(0, 1)),
    hnp.arrays(np.int8, K, elements=st.sampled_from([0, 1, 2])),
    hnp.arrays(np.float64, K, elements=st.floats(0, 10)),
)
def test_property_conviction_in_unit_interval_and_direction_signed(score, conf, status, weights):
    conviction, direction, _, n_live = _one(score, conf, status, weights)
    assert 0.0 <= conviction <= 1.0 and direction in (-1, 0, 1)
    assert n_live == (status == 0).sum()
    if conviction == 0:
        assert direction == 0
