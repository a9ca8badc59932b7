"""The burn-in cannot deadlock: on a sample market every strategy whose setups occur reaches 30 trades in days.

Before a strategy has ``min_trades_for_stats`` (30) trades, setups that pass
every other gate trade at the minimum size; Kelly's bootstrap prior (no edge)
does not gate them. The shipped configuration, the compiled backtest, a
SYNTHETIC sample market.
"""

from __future__ import annotations

from botcore.config import load_settings
from botcore.engine.backtest import run_backtest
from botcore.ledger import Ledger
from botcore.market.sample import DEFAULT_START_MS, generate_sample_market
from tests.conftest import CONFIG_DIR

SETTINGS = load_settings(CONFIG_DIR)
DAY = 86_400_000
BURN_IN_DAYS = 4  # the fixed budget: 30 trades per strategy within 4 sample-market days
SEED = 202


def test_burn_in_completes_within_days_on_the_sample_market(tmp_path):
    generate_sample_market(tmp_path / "market", 3 + BURN_IN_DAYS, SEED, SETTINGS)
    start = DEFAULT_START_MS + 3 * DAY + 60_000
    result = run_backtest(tmp_path / "market", SETTINGS, tmp_path / "bt", start_ms=start,
                          end_ms=start + BURN_IN_DAYS * DAY - 60_000, run_seed=SEED, trail="changes")
    with Ledger.open(result.ledger_path, readonly=True) as led:
        trades = led.trades()
    n = SETTINGS.sizing.min_trades_for_stats
    first = trades.sort_values("entry_ts_ms").groupby("strategy_id").head(n)
    stake = first["entry_price"] * first["qty_base"]
    counts = trades["strategy_id"].value_counts()
    for strategy in ("sentiment_fusion", "trend_conservative"):
        assert counts.get(strategy, 0) >= n, f"{strategy}: {counts.get(strategy, 0)} trades in {BURN_IN_DAYS} days"
    # burn-in entries are minimum-size: the fewest contracts worth $200 (one contract less is below it)
    min_usd = SETTINGS.sizing.min_usd
    per_contract = stake / first["qty_contracts"]
    assert (stake >= 0.99 * min_usd).all() and (stake - per_contract < min_usd).all(), stake.describe()
