"""Parity: the backtest and ``botcore run --mode paper --feed replay`` over one window make the same trades.

Same times, sides, sizes, prices, fees and funding, because both clocks run
the one compiled step on the same bar rows and both venues run the same
fill-model kernels. Compared: the ledgers' orders, fills, trades, funding,
positions and equity tables, row for row and bit for bit.

On the sample market the shipped thresholds trade about once a day across 15
symbols (see ``botcore.engine.testing.ACTIVE_OVERRIDES`` for why), so these
tests lower ``min_conviction`` and the Kelly conviction pivot with documented
overrides to get dozens of trades in a few hours of bars.
"""

from __future__ import annotations

import math

import pytest

from botcore.config import load_settings
from botcore.engine.backtest import fresh_ledger, run_backtest
from botcore.engine.loop import replay_loop
from botcore.engine.testing import (
    ACTIVE_OVERRIDES,
    MONEY_TABLES,
    diff_ledgers,
    ledger_tables,
    real_candle_store,
    with_signals,
)
from botcore.ledger import Ledger
from botcore.market.sample import DEFAULT_START_MS, generate_sample_market
from tests.conftest import CONFIG_DIR

SETTINGS = load_settings(CONFIG_DIR)
MIN = 60_000
DAY = 86_400_000
SEED = 7


def _both(store, settings, out, start, end, overrides, symbols=None):
    bt = run_backtest(store, settings, out / "backtest", start_ms=start, end_ms=end, run_seed=SEED,
                      params_overrides=overrides, symbols=symbols)
    led = fresh_ledger(out / "replay.sqlite", float(settings.venue.starting_equity_usd), "paper")
    try:
        loop, window = replay_loop(store, settings, led, start_ms=start, end_ms=end, run_seed=SEED,
                                   params_overrides=overrides, symbols=symbols)
        report = loop.run()
        loop.close()
        invariant = led.check_invariant()
    finally:
        led.close()
    return bt, window, report, invariant, out / "replay.sqlite"


@pytest.fixture(scope="module")
def sample_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity")
    generate_sample_market(root / "market", 3.4, SEED, SETTINGS)
    start = DEFAULT_START_MS + 3 * DAY + MIN  # after the 3-day warm-up
    end = start + 510 * MIN  # through the 08:00 UTC funding time
    return _both(root / "market", SETTINGS, root, start, end, ACTIVE_OVERRIDES)


def test_backtest_and_paper_replay_make_identical_trades_on_the_sample_market(sample_runs):
    bt, window, report, _inv, replay_path = sample_runs
    assert report.cycles == window.n_bars == 511
    trades = ledger_tables(bt.ledger_path, ["trades"])["trades"]
    assert len(trades) >= 20, "parity needs a meaningful number of trades"
    assert trades["symbol"].nunique() >= 5
    assert diff_ledgers(bt.ledger_path, replay_path, (*MONEY_TABLES, "decisions")) == {}  # the full trail too
    replay_trades = ledger_tables(replay_path, ["trades"])["trades"]
    cols = ["symbol", "side", "entry_ts_ms", "exit_ts_ms", "qty_contracts", "entry_price", "exit_price", "fees_usd",
            "funding_usd", "net_pnl_usd", "close_reason"]
    assert trades[cols].to_dict("records") == replay_trades[cols].to_dict("records")


def test_funding_is_charged_identically_at_the_funding_time(sample_runs):
    bt, _window, _report, _inv, replay_path = sample_runs
    a = ledger_tables(bt.ledger_path, ["funding"])["funding"]
    b = ledger_tables(replay_path, ["funding"])["funding"]
    assert len(a) >= 3
    assert set(a["ts_ms"] % (8 * 3_600_000)) == {0}  # 00:00 / 08:00 / 16:00 UTC
    assert a.equals(b)
    assert (a["amount_usd"] != 0).all()


def test_ledger_invariant_is_exact_after_both_runs(sample_runs):
    bt, _window, _report, invariant, _replay = sample_runs
    assert bt.summary["invariant_ok"]
    with Ledger.open(bt.ledger_path, readonly=True) as led:
        report = led.check_invariant(tol=1e-9)
        assert report.ok and abs(report.cash_usd - (report.starting_cash_usd + report.realized_pnl_usd
                                                   - report.fees_usd + report.funding_usd)) < 1e-9
    assert invariant.ok


def test_backtest_summary_equals_the_metrics_of_the_replay_ledger(sample_runs):
    from botcore.engine.report import ledger_summary

    bt, window, _report, _inv, replay_path = sample_runs
    with Ledger.open(replay_path, readonly=True) as led:
        replay = ledger_summary(led, start_ms=window.start_ms, end_ms=window.end_ms)
    for key in ("n_trades", "net_pnl_usd", "profit_factor", "win_rate", "fees_usd", "funding_usd", "max_drawdown_pct",
                "sharpe", "exposure"):
        a, b = bt.summary[key], replay[key]
        assert a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)), key


def test_parity_on_real_ftx_candles(real_data, tmp_path):
    """Real FTX BTC-PERP 1m candles (January 2022), two days after a three-day warm-up.

    The file has candles only. The test store adds a documented overlay (a
    symmetric 10-level book at each close and a flat funding rate;
    ``real_candle_store``) so orders can fill and funding is charged; only the
    candle signals (trend, breakout, mean reversion) carry information. So the
    test sets ``min_live_signals`` to 3 with no required signal, weights the two
    overlay signals (order flow, funding) 0, lets every strategy trade in every
    regime (the sentiment strategy has no inputs here) and lowers the conviction
    thresholds, to get a handful of trades on one symbol.
    """
    csv = real_data / "perp-1m" / "FTX_BTC-PERP_1m_2022-01.csv"
    if not csv.exists():
        pytest.skip(f"{csv} not found")
    store = real_candle_store(tmp_path / "ftx", csv)
    weights = {**SETTINGS.signals.weights, "order_flow_imbalance": 0.0, "funding_rate": 0.0}
    settings = with_signals(SETTINGS, min_live_signals=3, required_signals=(), weights=weights)
    every = {r: ("sentiment_fusion", "trend_conservative", "breakout_aggressive")
             for r in ("trending", "mean_reverting", "random")}
    settings = settings.model_copy(update={"regime": settings.regime.model_copy(update={"allowed": every})})
    overrides = {**{f"min_conviction.{s}": 0.05 for s in ("sentiment_fusion", "trend_conservative",
                                                          "breakout_aggressive")}, "kelly_conviction_pivot": 0.0}
    first = int(store.read("candles_1m", "BTC/USDT:USDT", columns=["ts"])["ts"].iloc[0]) + MIN
    start = first + 3 * DAY
    start -= start % MIN
    end = start + 2 * 1_440 * MIN
    bt, _window, report, invariant, replay_path = _both(store, settings, tmp_path, start, end, overrides,
                                                        symbols=["BTC/USDT:USDT"])
    assert report.cycles == 2 * 1_440 + 1
    trades = ledger_tables(bt.ledger_path, ["trades"])["trades"]
    assert len(trades) >= 4
    assert len(ledger_tables(bt.ledger_path, ["funding"])["funding"]) >= 1
    assert diff_ledgers(bt.ledger_path, replay_path) == {}
    assert bt.summary["invariant_ok"] and invariant.ok
