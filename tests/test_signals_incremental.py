"""The incremental (live) form gives the batch kernels' numbers, bar by bar, to 1e-9."""

from __future__ import annotations

import numpy as np
import pytest

from botcore.signals.engine import aggregate, compute_signals
from botcore.signals.enums import N_SIGNALS, SignalInputs
from botcore.signals.incremental import IncrementalSignals
from tests._signal_cases import SMALL, random_inputs


@pytest.fixture(scope="module")
def market():
    return random_inputs(n=2000, m=3, seed=5)


def test_incremental_equals_batch_for_every_signal(market):
    batch = compute_signals(market, SMALL)
    live = IncrementalSignals(3, SMALL).run(market)
    np.testing.assert_array_equal(live.status, batch.status)
    np.testing.assert_allclose(live.score, batch.score, rtol=0, atol=1e-9)
    np.testing.assert_allclose(live.confidence, batch.confidence, rtol=0, atol=1e-9)
    assert batch.score.shape == (2000, 3, N_SIGNALS)
    for k in range(N_SIGNALS):
        assert (batch.status[:, :, k] == 0).any(), f"signal {k} never OK in the case"


def test_incremental_continues_from_a_warm_state(market, settings):
    """Warm on the first part, then one update per bar gives the batch values of the rest."""
    batch = compute_signals(market, SMALL)
    live = IncrementalSignals(3, SMALL)
    split = 1500
    live.run(SignalInputs(*(np.asarray(a)[:split] for a in market)))
    for t in range(split, split + 20):
        bar = SignalInputs(*(np.asarray(a)[t] for a in market))
        out = live.update(bar)
        np.testing.assert_array_equal(out.status, batch.status[t])
        np.testing.assert_allclose(out.score, batch.score[t], rtol=0, atol=1e-9)
        one = aggregate(out, settings.signals)
        full = aggregate(batch, settings.signals)
        assert one.conviction == pytest.approx(full.conviction[t], abs=1e-12)
        np.testing.assert_array_equal(one.tradable, full.tradable[t])


def test_update_rejects_a_bar_of_the_wrong_width(market):
    live = IncrementalSignals(3, SMALL)
    bar = SignalInputs(*(np.asarray(a)[0] for a in market))
    with pytest.raises(ValueError, match="close"):
        live.update(bar._replace(close=np.ones(2)))
