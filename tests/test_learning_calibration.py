"""Kelly calibration: isotonic fit against two references, out-of-sample walk-forward, and the kernel's map."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from botcore.learning.calibration import (
    MIN_TRADES,
    calibration_overrides,
    fit_calibration,
    walk_forward,
    wilson_interval,
)


def pav_reference(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Pool adjacent violators, slowly: merge any decreasing neighbours until none is left."""
    blocks = [[float(v), float(wt), 1] for v, wt in zip(y, w)]
    merged = True
    while merged:
        merged = False
        for k in range(len(blocks) - 1):
            if blocks[k][0] > blocks[k + 1][0] + 1e-15:
                v0, w0, n0 = blocks[k]
                v1, w1, n1 = blocks[k + 1]
                blocks[k:k + 2] = [[(v0 * w0 + v1 * w1) / (w0 + w1), w0 + w1, n0 + n1]]
                merged = True
                break
    return np.concatenate([[v] * n for v, _, n in blocks])


def synthetic(n: int, seed: int, start_ms: int = 1_704_067_200_000) -> pd.DataFrame:
    """Trades whose win probability rises with conviction: 0.3 at 0.1 to 0.7 at 0.5; wins +1.5%, losses -1%."""
    rng = np.random.default_rng(seed)
    c = rng.uniform(0.1, 0.5, n)
    won = rng.random(n) < 0.3 + (c - 0.1)
    return pd.DataFrame({"entry_ts_ms": start_ms + np.arange(n) * 3_600_000, "conviction": c,
                         "net_return": np.where(won, 0.015, -0.01)})


def test_the_isotonic_fit_matches_a_slow_pav_and_sklearn():
    from sklearn.isotonic import IsotonicRegression

    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, 300)
    y = (rng.random(300) < x).astype(float)
    cal = fit_calibration(x, np.where(y > 0, 0.01, -0.01), n_knots=300)  # one knot per trade: the raw fit
    order = np.argsort(x)
    slow = pav_reference(y[order], np.ones(300))
    skl = IsotonicRegression(increasing=True).fit(x, y).predict(x[order])
    assert np.allclose(cal.win_prob, slow, atol=1e-12) and np.allclose(cal.win_prob, skl, atol=1e-12)
    assert cal.payoff == pytest.approx(1.0)


def test_the_compressed_map_is_monotone_and_recovers_the_planted_probability():
    t = synthetic(3000, 5)
    cal = fit_calibration(t["conviction"], t["net_return"])
    assert len(cal.conviction) == 8 and np.all(np.diff(cal.conviction) > 0) and np.all(np.diff(cal.win_prob) >= 0)
    truth = 0.3 + (cal.conviction - 0.1)
    assert np.max(np.abs(cal.win_prob - truth)) < 0.08
    assert cal.payoff == pytest.approx(1.5)
    assert fit_calibration(t["conviction"][: MIN_TRADES - 1], t["net_return"][: MIN_TRADES - 1]) is None
    assert fit_calibration(t["conviction"], np.abs(t["net_return"])) is None  # no loss: no payoff ratio


def test_walk_forward_scores_each_fit_on_later_trades_only():
    t = synthetic(600, 9)
    folds = walk_forward(t, n_folds=4)
    assert list(folds["fold"]) == [1, 2, 3, 4]
    assert (folds["fit_end_ms"] < folds["score_start_ms"]).all()
    assert folds["fit_trades"].tolist() == [120, 240, 360, 480] and (folds["score_trades"] == 120).all()
    # the calibration beats the uninformed prior out of sample, and each realised rate carries its interval
    assert (folds["brier"] < folds["brier_prior"]).all()
    assert ((folds["realised_lo"] <= folds["realised"]) & (folds["realised"] <= folds["realised_hi"])).all()
    assert ((folds["payoff_lo"] <= 1.5) & (1.5 <= folds["payoff_hi"])).all()
    # what happens later never changes an earlier fold's fit: scramble the last block's outcomes
    later = t.copy()
    later.loc[later.index[480:], "net_return"] *= -1
    again = walk_forward(later, n_folds=4)
    cols = ["predicted", "brier", "payoff_fit", "realised"]
    pd.testing.assert_frame_equal(again.loc[:2, cols], folds.loc[:2, cols])
    assert again.loc[3, "realised"] != folds.loc[3, "realised"]


def test_wilson_interval_and_overrides(settings):
    lo, hi = wilson_interval(45, 100)
    assert lo == pytest.approx(0.3561, abs=1e-3) and hi == pytest.approx(0.5475, abs=1e-3)
    from botcore.strategy.params import build_params

    cal = fit_calibration(*synthetic(400, 1)[["conviction", "net_return"]].to_numpy().T)
    params = build_params(settings, calibration_overrides("trend_conservative", cal))
    n = params[0]["calib_n"][1]
    assert n == len(cal.conviction) and np.allclose(params[0]["calib_win_prob"][1][:n], cal.win_prob, atol=1e-6)
