"""Bar rows: built from a store window (backtest) and from replayed cycles (paper loop) they are identical."""

from __future__ import annotations

import numpy as np
import pytest

from botcore.config import load_settings
from botcore.engine.enums import RowScalars
from botcore.engine.inputs import cycle_times, load_rows, row_from_cycle
from botcore.engine.testing import store_with_outages
from botcore.errors import DataError
from botcore.market.replay import ReplayFeed
from botcore.market.sample import DEFAULT_START_MS, generate_sample_market
from tests.conftest import CONFIG_DIR

SETTINGS = load_settings(CONFIG_DIR)
SYMBOLS = [a.symbol for a in SETTINGS.universe.enabled]
HOUR = 3_600_000
T0 = DEFAULT_START_MS + 6 * HOUR  # outages start here


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    generate_sample_market(root / "clean", 0.5, 11, SETTINGS)
    holed = store_with_outages(root / "clean", root / "holed", SYMBOLS, T0)
    return holed


def _replay_rows(store, first, last):
    feed = ReplayFeed(store, SYMBOLS, first, last, staleness=SETTINGS, lookback_bars=2)
    return [row_from_cycle(c.arrays(lookback_bars=1)) for c in feed]


def test_store_rows_equal_replayed_rows_bar_by_bar_through_outages(stores):
    first, last = T0 - 5 * 60_000, T0 + 75 * 60_000
    rows = load_rows(stores, SYMBOLS, first, last, SETTINGS)
    replayed = _replay_rows(stores, first, last)
    assert len(replayed) == len(rows) == 81
    for k, r in enumerate(replayed):
        assert r.t_ms == rows.ts_ms[k]
        np.testing.assert_array_equal(r.ohlcv, rows.ohlcv[k], err_msg=f"ohlcv at bar {k}")
        np.testing.assert_array_equal(r.book, rows.book[k], err_msg=f"book at bar {k}")
        np.testing.assert_array_equal(r.scalars, rows.scalars[k], err_msg=f"scalars at bar {k}")


def test_outages_become_missing_values_never_made_up_ones(stores):
    m = 60_000
    rows = load_rows(stores, SYMBOLS, T0 + m, T0 + 40 * m, SETTINGS)
    k = {int(t): i for i, t in enumerate(rows.ts_ms)}
    # book: the last row before the hole (stamped T0 - 1m) holds for the staleness limit (120 s), then missing
    assert np.isfinite(rows.book[k[T0 + m], 0]).all()
    assert np.isnan(rows.book[k[T0 + 2 * m], 0]).all()
    assert np.isfinite(rows.book[k[T0 + 2 * m], 1]).all()
    # per-bar inputs are never carried forward: the bars opened at T0+3m..T0+7m are absent
    assert np.isnan(rows.ohlcv[k[T0 + 4 * m], 1]).all() and np.isnan(rows.ohlcv[k[T0 + 8 * m], 1]).all()
    assert np.isfinite(rows.ohlcv[k[T0 + 9 * m], 1]).all()
    assert np.isnan(rows.scalars[k[T0 + 5 * m], 1, RowScalars.taker_buy_base])
    # a NaN mark is missing (no fallback to an older one); a NaN in a liquidation pair drops the pair
    assert np.isnan(rows.scalars[k[T0 + 22 * m], 2, RowScalars.mark_price])
    assert np.isnan(rows.scalars[k[T0 + 31 * m], 2, [RowScalars.long_liq_usd, RowScalars.short_liq_usd]]).all()
    assert np.isfinite(rows.scalars[k[T0 + 32 * m], 2, RowScalars.long_liq_usd])


def test_cycle_times_must_sit_on_whole_minutes():
    with pytest.raises(DataError, match="whole minute"):
        cycle_times(T0 + 1, T0 + 60_000)
    assert list(cycle_times(T0, T0 + 120_000)) == [T0, T0 + 60_000, T0 + 120_000]
