"""The signal face: as-of alignment without look-ahead, loading the sample market, end to end."""

from __future__ import annotations

import numpy as np
import pytest

from botcore.generic import nb
from botcore.signals.engine import aggregate, compute_signals, load_inputs
from botcore.signals.enums import N_SIGNALS, SignalIds
from botcore.signals.enums import SignalStatuses as S

MIN = 60_000


def test_asof_takes_the_last_valid_value_not_older_than_the_limit():
    src_ts = np.array([0, 60_000, 120_000, 600_000], dtype=np.int64)
    src = np.array([1.0, np.nan, 3.0, 4.0])
    grid = np.array([-1, 0, 59_999, 60_000, 120_000, 300_000, 599_999, 600_000], dtype=np.int64)
    got = nb.asof_1d_nb(src_ts, src, grid, 180_000)
    np.testing.assert_array_equal(got, [np.nan, 1.0, 1.0, 1.0, 3.0, 3.0, np.nan, 4.0])


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    sample = pytest.importorskip("botcore.market.sample")
    from botcore.config import load_settings
    from botcore.market.store import Store
    from tests.conftest import CONFIG_DIR

    out = tmp_path_factory.mktemp("sample_signals")
    market = sample.generate_sample_market(out, 3, 11, load_settings(CONFIG_DIR))
    return market, Store(out)


def test_sample_market_loads_and_every_candle_signal_runs(sample, settings):
    market, store = sample
    symbols = settings.universe.symbols[:4]
    grid, inputs = load_inputs(store, symbols, market.start_ms, market.end_ms, settings.signals)
    assert grid.shape == (3 * 1440,) and inputs.close.shape == (3 * 1440, 4)
    assert inputs.bid_sz.shape == (3 * 1440, 4, 10) and inputs.fear_greed.shape == (3 * 1440, 1)
    out = compute_signals(inputs)
    assert out.score.shape == (3 * 1440, 4, N_SIGNALS)
    late = out.status[-60:]
    for k in (SignalIds.order_flow_imbalance, SignalIds.trend, SignalIds.breakout, SignalIds.taker_ratio, SignalIds.fear_greed):
        assert (late[:, :, k] == S.ok).all(), k
    agg = aggregate(out, settings.signals)
    assert agg.conviction.shape == (3 * 1440, 4) and agg.n_live[-1].min() >= 5


def test_loading_has_no_look_ahead(sample, settings):
    market, store = sample
    symbols = settings.universe.symbols[:2]
    cut = market.start_ms + 1440 * MIN + 7 * MIN
    _, short = load_inputs(store, symbols, market.start_ms, cut, settings.signals)
    _, full = load_inputs(store, symbols, market.start_ms, market.end_ms, settings.signals)
    n = short.close.shape[0]
    for name, a in short._asdict().items():
        np.testing.assert_array_equal(a, np.asarray(getattr(full, name))[:n], err_msg=name)
