"""The cycle report reproduces the decision it explains: a paper replay's cycle recomputed from the store.

With the default look-back (the longest signal window, bounded by the run's
own history from its warm-up) the recomputed aggregate of every symbol equals
the direction and conviction the engine recorded; a look-back shorter than a
signal's window is reported as a mismatch with its reason. ``--cycle`` takes a
UTC time.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from botcore.cli import app
from botcore.clock import parse_utc, utc
from botcore.config import load_settings
from botcore.engine.backtest import fresh_ledger, restrict_settings
from botcore.engine.loop import replay_loop
from botcore.market.sample import DEFAULT_START_MS, generate_sample_market
from botcore.reports.cycle import (
    compare_with_record,
    default_lookback_hours,
    load_cycle,
    longest_warmup_bars,
    market_context,
)
from tests.conftest import CONFIG_DIR

SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "DOGE/USDT:USDT")
SETTINGS = restrict_settings(load_settings(CONFIG_DIR), SYMBOLS)
MIN, DAY = 60_000, 86_400_000


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    root = tmp_path_factory.mktemp("cycle-report")
    generate_sample_market(root / "market", 3.1, 11, SETTINGS)
    start = DEFAULT_START_MS + 3 * DAY + MIN
    path = root / "ledger.sqlite"
    ledger = fresh_ledger(path, float(SETTINGS.venue.starting_equity_usd), "paper")
    try:
        loop, _ = replay_loop(root / "market", SETTINGS, ledger, start_ms=start, end_ms=start + 20 * MIN, run_seed=3)
        loop.run()
        loop.close()
    finally:
        ledger.close()
    return root, path


def test_the_longest_signal_window_is_the_funding_z_score_week():
    assert longest_warmup_bars() == 10_080


def test_the_default_look_back_reproduces_every_recorded_decision(replayed):
    root, path = replayed
    cycle = load_cycle(path, settings=SETTINGS)
    hours = default_lookback_hours(cycle.ts_ms, cycle.meta, settings=SETTINGS)
    assert 72 < hours < 73  # the 3-day warm-up plus the cycles run: all the history the engine had
    ctx = market_context(root / "market", list(cycle.rows["symbol"]), cycle.ts_ms, settings=SETTINGS, meta=cycle.meta)
    compared = compare_with_record(ctx, cycle.rows)
    assert len(compared) == len(SYMBOLS)
    assert (compared["matches the recorded decision"] == "yes").all(), compared[compared["reason"] != ""]


def test_a_short_look_back_is_a_mismatch_that_names_the_warming_signal(replayed):
    root, path = replayed
    cycle = load_cycle(path, settings=SETTINGS)
    ctx = market_context(root / "market", list(cycle.rows["symbol"]), cycle.ts_ms, settings=SETTINGS, lookback_hours=48)
    compared = compare_with_record(ctx, cycle.rows)
    bad = compared[compared["matches the recorded decision"] == "no"]
    assert len(bad), "funding_rate needs 3 days: 48 h cannot reproduce every decision"
    assert bad["reason"].str.contains("funding_rate").all()
    assert bad["reason"].str.contains("--lookback-hours").all()


def test_cycle_option_takes_a_utc_time(replayed, tmp_path):
    root, path = replayed
    cycle = load_cycle(path, settings=SETTINGS)
    when = utc(cycle.ts_ms, suffix=False)
    assert parse_utc(when, "--cycle") == cycle.ts_ms
    result = CliRunner().invoke(app, ["cycle-report", "--ledger", str(path), "--cycle", "yesterday-ish",
                                      "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--cycle 'yesterday-ish'" in result.output and "UTC date" in result.output
