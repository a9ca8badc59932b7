"""Research helpers: forward returns and information coefficients."""

from __future__ import annotations

import numpy as np

from botcore.signals.analysis import forward_log_returns, information_coefficients
from botcore.signals.enums import N_SIGNALS


def test_forward_returns_look_ahead_by_the_horizon_only():
    close = np.array([[1.0], [2.0], [4.0], [np.nan]])
    np.testing.assert_allclose(forward_log_returns(close, 1)[:, 0], [np.log(2), np.log(2), np.nan, np.nan])


def test_a_signal_equal_to_the_future_return_has_ic_one_and_outage_is_ignored():
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (500, 2)), axis=0))
    score = np.zeros((500, 2, N_SIGNALS))
    status = np.zeros((500, 2, N_SIGNALS), dtype=np.int8)
    score[:, :, 0] = np.nan_to_num(forward_log_returns(close, 5))
    status[:, :, 1] = 2  # all outage: no IC
    table = information_coefficients(score, status, close, [5, 10])
    assert table.iloc[0][5] > 0.999 and np.isnan(table.iloc[1][5]) and table.iloc[1]["n_ok"] == 0
