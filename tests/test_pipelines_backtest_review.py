"""The review of a backtest ledger and of a paper-replay ledger: both render, numbers equal the backtest summary.

The backtest (``botcore.engine.backtest.run_backtest``) and the paper replay
(``botcore.engine.loop.replay_loop``) run over the same sample-market window
with the documented ``ACTIVE_OVERRIDES`` (enough trades in a few hours of
bars); ``botcore review`` then renders each ledger, and the numbers it
writes (``summary.json``) must equal the backtest's summary exactly.
"""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from botcore.cli import app
from botcore.config import load_settings
from botcore.ledger import Ledger
from botcore.reports.review import review_ledger
from tests.conftest import CONFIG_DIR

engine_backtest = pytest.importorskip("botcore.engine.backtest")
engine_loop = pytest.importorskip("botcore.engine.loop")
engine_testing = pytest.importorskip("botcore.engine.testing")

SETTINGS = load_settings(CONFIG_DIR)
MIN = 60_000
DAY = 86_400_000
SEED = 3
SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "DOGE/USDT:USDT", "LINK/USDT:USDT", "XRP/USDT:USDT")
#: the summary keys that are metrics (the backtest adds run facts: symbols, timings, gate counts...)
METRIC_KEYS = (
    "start_ms", "end_ms", "days", "starting_equity_usd", "final_equity_usd", "total_return", "net_pnl_usd",
    "n_trades", "n_wins", "n_losses", "win_rate", "gross_profit_usd", "gross_loss_usd", "profit_factor", "verdict",
    "expectancy_usd", "avg_win_usd", "avg_loss_usd", "payoff_ratio", "sharpe", "sortino", "n_days_returns",
    "max_drawdown_pct", "max_drawdown_usd", "fees_usd", "funding_usd", "exposure", "trades_per_day",
)


def equal(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def from_json(v):
    """Undo the backtest's JSON encoding of NaN (null) and infinities ("inf")."""
    return {None: math.nan, "inf": math.inf, "-inf": -math.inf}.get(v, v) if v is None or isinstance(v, str) else v


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from botcore.market.sample import DEFAULT_START_MS, generate_sample_market

    root = tmp_path_factory.mktemp("bt-review")
    generate_sample_market(root / "market", 1.4, SEED, SETTINGS)
    start = DEFAULT_START_MS + DAY + MIN  # after a one-day warm-up
    end = start + 480 * MIN
    kw = dict(start_ms=start, end_ms=end, run_seed=SEED, params_overrides=engine_testing.ACTIVE_OVERRIDES,
              symbols=SYMBOLS, warmup_bars=1440)
    bt = engine_backtest.run_backtest(root / "market", SETTINGS, root / "backtest", **kw)
    replay = root / "replay.sqlite"
    ledger = engine_backtest.fresh_ledger(replay, float(SETTINGS.venue.starting_equity_usd), "paper")
    try:
        loop, _ = engine_loop.replay_loop(root / "market", SETTINGS, ledger, **kw)
        loop.run()
        loop.close()
    finally:
        ledger.close()
    return root, bt, replay


def test_the_window_trades_and_the_summary_has_every_metric(runs):
    _, bt, _ = runs
    assert bt.summary["n_trades"] >= 5, "the comparison needs trades"
    assert set(METRIC_KEYS) <= set(bt.summary)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["backtest", "replay"])
def test_review_renders_with_the_numbers_of_the_backtest_summary(runs, which):
    root, bt, replay = runs
    path = bt.ledger_path if which == "backtest" else replay
    out = root / f"review-{which}"
    result = CliRunner().invoke(app, ["review", "--ledger", str(path), "--days", "7", "--out", str(out), "--no-email"])
    assert result.exit_code == 0, result.output
    (run_dir,) = (out / "review").iterdir()
    rendered = json.loads((run_dir / "summary.json").read_text())
    written = json.loads((bt.out_dir / "summary.json").read_text())
    for key in METRIC_KEYS:
        assert equal(rendered[key], bt.summary[key]), (key, rendered[key], bt.summary[key])
        assert equal(rendered[key], from_json(written[key])), (key, rendered[key], written[key])
    html = (run_dir / "review.html").read_text()
    assert f"Verdict: {bt.summary['verdict'].upper()}" in html


def test_review_function_matches_the_backtest_summary_for_both_ledgers(runs):
    _, bt, replay = runs
    for path in (bt.ledger_path, replay):
        s = review_ledger(path, days=7).summary
        assert all(equal(s[k], bt.summary[k]) for k in METRIC_KEYS), path
        with Ledger.open(path, readonly=True) as ledger:
            assert ledger.check_invariant().ok
