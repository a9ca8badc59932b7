"""The performance metrics against numbers computed by hand, and the verdict on both sides of its thresholds."""

from __future__ import annotations

import json
import math
import statistics

import numpy as np
import pandas as pd
import pytest

from botcore.analytics import metrics
from botcore.analytics.metrics import (
    breakdown,
    daily_equity,
    daily_returns,
    expectancy,
    exposure,
    max_drawdown,
    payoff_ratio,
    profit_factor,
    sharpe_ratio,
    sortino_ratio,
    summary,
    trades_per_day,
    verdict,
    win_rate,
)

H = 3_600_000
D = 24 * H
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def trades_frame(net, fees=None, funding=None, strategy=None, symbol=None, entry=None, exit_=None, notional=None):
    n = len(net)
    entry = entry if entry is not None else [T0 + i * H for i in range(n)]
    exit_ = exit_ if exit_ is not None else [t + H // 2 for t in entry]
    notional = notional if notional is not None else [1000.0] * n
    fees = fees if fees is not None else [1.0] * n
    funding = funding if funding is not None else [0.0] * n
    return pd.DataFrame({
        "symbol": symbol or ["BTC/USDT:USDT"] * n, "side": [1] * n, "strategy_id": strategy or ["s"] * n,
        "entry_ts_ms": entry, "exit_ts_ms": exit_, "entry_price": [100.0] * n,
        "qty_base": [x / 100.0 for x in notional], "gross_pnl_usd": [a + b - c for a, b, c in zip(net, fees, funding)],
        "fees_usd": fees, "funding_usd": funding, "net_pnl_usd": net, "close_reason": [1] * n,
    })


# --------------------------------------------------------------------------- per-trade metrics

PNL = [10.0, -5.0, 20.0, -10.0, 0.0]


def test_win_rate_counts_only_positive_net_pnl_as_wins():
    assert win_rate(PNL) == pytest.approx(2 / 5)  # 10 and 20 win; 0 is not a win


def test_profit_factor_is_gross_profit_over_gross_loss():
    assert profit_factor(PNL) == pytest.approx(30 / 15)


def test_profit_factor_without_losses_is_infinite_and_without_trades_undefined():
    assert profit_factor([5.0, 1.0]) == math.inf
    assert math.isnan(profit_factor([]))
    assert math.isnan(profit_factor([0.0, 0.0]))
    assert profit_factor([-1.0]) == 0.0


def test_expectancy_is_mean_net_pnl_per_trade():
    assert expectancy(PNL) == pytest.approx(15 / 5)
    assert math.isnan(expectancy([]))


def test_payoff_is_mean_win_over_mean_loss():
    # wins 10, 20 -> 15; losses (<= 0) -5, -10, 0 -> 5
    assert payoff_ratio(PNL) == pytest.approx(15 / 5)


# --------------------------------------------------------------------------- verdict


@pytest.mark.parametrize(
    ("pf", "expected"),
    [
        (1.2, "continue"),  # the threshold itself is not above 1.2
        (1.2 + 1e-9, "success"),
        (1.19999, "continue"),
        (3.0, "success"),
        (math.inf, "success"),
        (0.8, "continue"),  # the threshold itself is not below 0.8
        (0.8 - 1e-9, "reassess the strategy"),
        (0.80001, "continue"),
        (1.0, "continue"),
        (0.0, "reassess the strategy"),
        (math.nan, "no trades"),
    ],
)
def test_verdict_thresholds_on_both_sides(pf, expected):
    assert verdict(pf) == expected


def test_verdict_thresholds_are_parameters():
    assert verdict(1.1, success_above=1.0) == "success"
    assert verdict(0.9, reassess_below=1.0) == "reassess the strategy"


def test_summary_verdict_follows_profit_factor_from_the_minimum_sample():
    none = pd.Series(dtype=float)
    assert summary(trades_frame([13.0, -10.0] * 15), none, 1000.0)["verdict"] == "success"  # 1.3 over 30
    assert summary(trades_frame([12.0, -10.0] * 15), none, 1000.0)["verdict"] == "continue"  # 1.2
    assert summary(trades_frame([7.0, -10.0] * 15), none, 1000.0)["verdict"] == "reassess the strategy"
    assert summary(trades_frame([13.0, -10.0]), none, 1000.0, min_trades=2)["verdict"] == "success"  # configurable


def test_below_30_trades_or_in_the_burn_in_the_verdict_is_insufficient_evidence_saying_what_is_missing():
    none = pd.Series(dtype=float)
    s = summary(trades_frame([13.0, -10.0, 5.0, 2.0]), none, 1000.0)
    assert s["verdict"] == "insufficient evidence" and s["profit_factor_verdict"] == "success"
    assert s["evidence_missing"] == "4 closed trades of the 30 a verdict needs"
    burn = summary(trades_frame([13.0, -10.0] * 20), none, 1000.0, lifetime_trades=40, burn_in_trades=50)
    assert burn["verdict"] == "insufficient evidence"
    assert "burn-in: 40 closed trades in the whole ledger of the 50" in burn["evidence_missing"]
    assert summary(trades_frame([]), none, 1000.0)["verdict"] == "no trades"
    assert verdict(3.0, n_trades=29) == "insufficient evidence" and verdict(3.0, n_trades=30) == "success"


def test_no_annualised_ratio_from_fewer_than_30_daily_returns_and_the_reason_instead():
    eq = equity_series([(T0 + d * D + H, 1000.0 + 7 * d + (d % 3) * 5) for d in range(8)])
    s = summary(trades_frame([1.0]), eq, 1000.0)
    assert s["n_days_returns"] == 8
    assert math.isnan(s["sharpe"]) and math.isnan(s["sortino"]) and math.isnan(s["psr"])
    assert math.isnan(s["sharpe_ci_low"]) and math.isnan(s["sharpe_ci_high"])
    assert s["annualised_note"].startswith("not shown: 8 daily returns, an annualised ratio needs 30")
    rng = np.random.default_rng(3)
    long = equity_series([(T0 + d * D + H, v) for d, v in enumerate(1000.0 * np.cumprod(1 + rng.normal(0.002, 0.01, 40)))])
    full = summary(trades_frame([1.0]), long, 1000.0)
    assert full["n_days_returns"] == 40 and full["annualised_note"] == ""
    assert full["sharpe"] == pytest.approx(sharpe_ratio(daily_returns(long, 1000.0)))
    assert full["sharpe_ci_low"] < full["sharpe"] < full["sharpe_ci_high"]
    assert 0.5 < full["psr"] < 1.0


def test_every_headline_ratio_has_its_bootstrap_interval_around_it():
    rng = np.random.default_rng(7)
    pnl = list(np.round(rng.normal(2.0, 10.0, 60), 2))
    s = summary(trades_frame(pnl), pd.Series(dtype=float), 1000.0)
    for key, ci in (("profit_factor", "profit_factor"), ("win_rate", "win_rate"), ("expectancy_usd", "expectancy_usd")):
        assert s[f"{ci}_ci_low"] <= s[key] <= s[f"{ci}_ci_high"], key
        assert s[f"{ci}_ci_low"] < s[f"{ci}_ci_high"], key
    assert s["ci_level"] == 0.95
    json.dumps(s)


def test_bootstrap_interval_agrees_with_scipy_percentile_bootstrap():
    from scipy.stats import bootstrap

    rng = np.random.default_rng(11)
    x = rng.normal(1.0, 5.0, 80)
    lo, hi = metrics.bootstrap_ci(x, "expectancy", n_resamples=4000, seed=1)
    ref = bootstrap((x,), np.mean, n_resamples=4000, method="percentile", random_state=2).confidence_interval
    assert lo == pytest.approx(ref.low, abs=0.15) and hi == pytest.approx(ref.high, abs=0.15)
    wins_only = metrics.bootstrap_ci([1.0, 2.0, 3.0, -0.5] * 3, "profit_factor")
    assert wins_only[1] == math.inf and math.isfinite(wins_only[0])  # resamples without a loss stay inf


def test_probabilistic_sharpe_ratio_agrees_with_vectorbt_returns_statistics():
    import vectorbt as vbt
    from scipy import stats
    from vectorbt.returns import metrics as vbt_metrics

    rng = np.random.default_rng(5)
    r = rng.standard_t(5, 90) * 0.01 + 0.001
    idx = pd.date_range("2024-01-01", periods=90, freq="D")
    acc = pd.Series(r, index=idx).vbt.returns(freq="1D", year_freq="365D")
    assert sharpe_ratio(r) == pytest.approx(acc.sharpe_ratio(), rel=1e-9)
    sr = r.mean() / r.std(ddof=1)
    # vectorbt's DSR is the PSR against the expected maximum Sharpe of N trials: with that benchmark they agree
    sr0 = vbt_metrics.approx_exp_max_sharpe(0.0, 0.04 ** 2, 10)
    dsr = vbt_metrics.deflated_sharpe_ratio(est_sharpe=np.array([sr]), var_sharpe=0.04 ** 2, nb_trials=10,
                                            backtest_horizon=90, skew=np.array([stats.skew(r)]),
                                            kurtosis=np.array([stats.kurtosis(r, fisher=False)]))[0]
    assert metrics.probabilistic_sharpe_ratio(r, sr0) == pytest.approx(dsr, rel=1e-12)
    assert metrics.probabilistic_sharpe_ratio(r) > metrics.probabilistic_sharpe_ratio(r, sr0)
    assert vbt.__name__ == "vectorbt"


def test_one_sign_convention_for_fees_and_funding_in_summary_breakdowns_and_the_report():
    from botcore.reports import format as report

    t = trades_frame([10.0, -5.0, 4.0], fees=[1.0, 2.0, 0.5], funding=[0.3, -0.1, 0.0], strategy=["a", "b", "a"])
    s = summary(t, pd.Series(dtype=float), 1000.0)
    by = breakdown(t, "strategy_id")
    assert s["fees_usd"] == pytest.approx(by["fees_usd"].sum()) == pytest.approx(3.5)  # paid: > 0
    assert s["funding_usd"] == pytest.approx(by["funding_usd"].sum()) == pytest.approx(0.2)  # received: > 0
    assert (t["gross_pnl_usd"] - t["fees_usd"] + t["funding_usd"]).tolist() == pytest.approx(t["net_pnl_usd"].tolist())
    shown = report.summary_table(s)["value"]
    assert shown.filter(like="Fees").iloc[0].startswith("+3.50")  # the same sign as the tables' fees column


# --------------------------------------------------------------------------- equity metrics


def equity_series(points):
    ts, values = zip(*points)
    return pd.Series(values, index=pd.Index(ts, dtype=np.int64))


def test_daily_equity_takes_last_snapshot_of_each_utc_day_and_carries_gaps():
    eq = equity_series([(T0 + H, 1005.0), (T0 + 20 * H, 1010.0), (T0 + D + 5 * H, 1000.0), (T0 + 3 * D + H, 1030.0)])
    closes = daily_equity(eq, 1000.0)
    assert closes.tolist() == [1000.0, 1010.0, 1000.0, 1000.0, 1030.0]  # start, day0, day1, day2 (carried), day3


def test_sharpe_and_sortino_by_hand():
    eq = equity_series([(T0 + 20 * H, 1010.0), (T0 + D + 20 * H, 1000.0), (T0 + 2 * D + 20 * H, 1030.0),
                        (T0 + 3 * D + 20 * H, 1020.0)])
    r = [1010 / 1000 - 1, 1000 / 1010 - 1, 1030 / 1000 - 1, 1020 / 1030 - 1]
    assert daily_returns(eq, 1000.0).tolist() == pytest.approx(r)
    mean = sum(r) / 4
    sharpe = mean / statistics.stdev(r) * math.sqrt(365)
    downside = math.sqrt(sum(min(x, 0.0) ** 2 for x in r) / 4)
    s = summary(trades_frame([]), eq, 1000.0, min_daily_returns=2)
    assert s["sharpe"] == pytest.approx(sharpe)
    assert s["sortino"] == pytest.approx(mean / downside * math.sqrt(365))
    assert s["n_days_returns"] == 4


def test_sharpe_needs_two_returns_and_spread():
    assert math.isnan(sharpe_ratio([0.01]))
    assert math.isnan(sharpe_ratio([0.01, 0.01]))
    assert math.isnan(sortino_ratio([0.01]))
    assert sortino_ratio([0.01, 0.02]) == math.inf


def test_max_drawdown_from_running_peak_including_start():
    eq = equity_series([(T0 + i * H, v) for i, v in enumerate([1100.0, 935.0, 1050.0, 1200.0, 1080.0])])
    dd = max_drawdown(eq, 1000.0)
    assert dd["pct"] == pytest.approx(165 / 1100)
    assert dd["usd"] == pytest.approx(165.0)
    assert (dd["peak_ts_ms"], dd["trough_ts_ms"]) == (T0, T0 + H)
    below_start = max_drawdown(equity_series([(T0, 900.0)]), 1000.0)
    assert below_start["pct"] == pytest.approx(0.1) and below_start["peak_ts_ms"] == -1
    assert max_drawdown(equity_series([(T0, 1001.0), (T0 + H, 1002.0)]), 1000.0)["pct"] == 0.0


def test_exposure_is_time_weighted_notional_over_equity():
    eq = pd.DataFrame({"ts_ms": [T0, T0 + H, T0 + 3 * H], "equity_usd": [1000.0, 1000.0, 1000.0],
                       "exposure_usd": [500.0, 0.0, 1000.0]})
    # 0.5 for 1 h, 0 for 2 h, 1.0 for the last hour to the window end
    assert exposure(eq, end_ms=T0 + 4 * H) == pytest.approx((0.5 * 1 + 0 * 2 + 1.0 * 1) / 4)
    assert exposure(eq.iloc[:1]) == pytest.approx(0.5)  # one snapshot: its value


def test_exposure_without_a_notional_column_is_rebuilt_from_trades():
    eq = equity_series([(T0, 1000.0), (T0 + H, 1000.0), (T0 + 2 * H, 1000.0)])
    t = trades_frame([1.0], entry=[T0 + H], exit_=[T0 + 2 * H], notional=[400.0])
    # open only during the middle hour: 0 for 1 h, 0.4 for 1 h
    assert exposure(eq, t) == pytest.approx(0.2)
    assert math.isnan(exposure(eq))


def test_trades_per_day():
    assert trades_per_day(6, 2.0) == 3.0
    assert math.isnan(trades_per_day(3, 0.0))


# --------------------------------------------------------------------------- summary


def test_summary_by_hand():
    t = trades_frame([10.0, -5.0, 20.0, -10.0, 0.0], fees=[1.0, 2.0, 0.5, 0.5, 1.0], funding=[0.1, -0.3, 0.0, 0.0, 0.2])
    eq = pd.DataFrame({"ts_ms": [T0, T0 + D, T0 + 2 * D], "equity_usd": [1000.0, 1010.0, 1015.0],
                       "exposure_usd": [0.0, 500.0, 0.0]})
    s = summary(t, eq, 1000.0)
    assert s["n_trades"] == 5 and s["n_wins"] == 2 and s["n_losses"] == 3
    assert s["win_rate"] == pytest.approx(0.4)
    assert s["profit_factor"] == pytest.approx(2.0) and s["profit_factor_verdict"] == "success"
    assert s["verdict"] == "insufficient evidence"  # 5 trades
    assert s["expectancy_usd"] == pytest.approx(3.0)
    assert s["net_pnl_usd"] == pytest.approx(15.0)
    assert s["fees_usd"] == pytest.approx(5.0)
    assert s["funding_usd"] == pytest.approx(0.0)
    assert s["total_return"] == pytest.approx(0.015)
    assert s["final_equity_usd"] == 1015.0
    assert s["days"] == 2.0 and s["trades_per_day"] == pytest.approx(2.5)
    assert s["exposure"] == pytest.approx(500 / 1010 / 2)  # 0 for a day, 500 / 1010 for a day
    assert s["max_drawdown_pct"] == 0.0
    assert s["avg_win_usd"] == pytest.approx(15.0) and s["avg_loss_usd"] == pytest.approx(-5.0)
    json.dumps(s)  # JSON-able as the backtest writes it


def test_summary_accepts_the_equity_as_a_datetime_series():
    t = trades_frame([1.0, -2.0])
    frame = pd.DataFrame({"ts_ms": [T0, T0 + D, T0 + 2 * D], "equity_usd": [1000.0, 990.0, 1005.0]})
    series = pd.Series(frame["equity_usd"].to_numpy(), index=pd.to_datetime(frame["ts_ms"], unit="ms", utc=True))
    a, b = summary(t, frame, 1000.0), summary(t, series, 1000.0)
    assert {k: v for k, v in a.items() if k != "exposure"} == {k: v for k, v in b.items() if k != "exposure"}


def test_summary_without_equity_uses_trades_for_window_and_final_equity():
    t = trades_frame([10.0, -4.0], entry=[T0, T0 + D], exit_=[T0 + H, T0 + 2 * D])
    s = summary(t, pd.Series(dtype=float), 1000.0)
    assert s["start_ms"] == T0 and s["end_ms"] == T0 + 2 * D
    assert s["final_equity_usd"] == pytest.approx(1006.0)
    assert s["trades_per_day"] == pytest.approx(1.0)
    assert math.isnan(s["sharpe"]) and math.isnan(s["exposure"])


def test_summary_rejects_bad_input_naming_the_field():
    with pytest.raises(ValueError, match="starting_cash"):
        summary(trades_frame([1.0]), pd.Series(dtype=float), 0.0)
    with pytest.raises(ValueError, match="net_pnl_usd"):
        summary(pd.DataFrame({"fees_usd": [1.0]}), pd.Series(dtype=float), 100.0)
    with pytest.raises(ValueError, match="equity_usd"):
        summary(trades_frame([1.0]), pd.DataFrame({"ts_ms": [T0], "equity_usd": [math.nan]}), 100.0)


# --------------------------------------------------------------------------- breakdowns


def test_breakdown_by_strategy_uses_the_same_metrics():
    t = trades_frame([10.0, -5.0, 4.0, -8.0], strategy=["a", "a", "b", "b"])
    out = breakdown(t, "strategy_id", name="strategy", min_trades=2)
    assert list(out.index) == ["a", "b"]  # best net P&L first
    assert out.loc["a", "trades"] == 2 and out.loc["a", "wins"] == 1
    assert out.loc["a", "profit_factor"] == pytest.approx(2.0) and out.loc["a", "verdict"] == "success"
    assert out.loc["b", "profit_factor"] == pytest.approx(0.5) and out.loc["b", "verdict"] == "reassess the strategy"
    assert out.loc["b", "net_pnl_usd"] == pytest.approx(-4.0)
    assert set(breakdown(t, "strategy_id")["verdict"]) == {"insufficient evidence"}  # 2 trades each, 30 needed


def test_sector_labels_mark_unknown_symbols():
    assert metrics.sector_labels(["BTC/USDT:USDT", "ZZZ/USDT:USDT"], {"BTC/USDT:USDT": "mega"}) == ["mega", "unknown"]
