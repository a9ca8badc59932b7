"""The look-ahead audit: a leaky loader and a leaky signal are caught; the real loader, step and signals pass."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from botcore.cli import app
from botcore.config import load_settings
from botcore.engine.inputs import BAR_MS, load_rows
from botcore.engine.testing import ACTIVE_OVERRIDES
from botcore.market.sample import DEFAULT_START_MS, generate_sample_market
from botcore.market.store import Store
from botcore.research.lookahead import audit_lookahead, audit_signal_fn, batch_signals_fn
from botcore.signals.engine import load_inputs
from tests.conftest import CONFIG_DIR

SETTINGS = load_settings(CONFIG_DIR)
DAY = 86_400_000
runner = CliRunner()


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    root = tmp_path_factory.mktemp("lookahead") / "market"
    generate_sample_market(root, 1.5, 5, SETTINGS)
    return root


def _one_bar_early(store, symbols, first_ms, last_ms, settings):
    """A leaky loader: each cycle gets the rows of the next one (the 1m bar still open at ``t``)."""
    rows = load_rows(store, symbols, first_ms + BAR_MS, last_ms + BAR_MS, settings)
    return type(rows)(rows.ts_ms - BAR_MS, *rows[1:])


def test_the_real_loader_signals_regime_features_and_decisions_pass_over_every_bar_of_15_symbols(market):
    report = audit_lookahead(market, SETTINGS, bars=300, warmup_bars=1_440, params_overrides=ACTIVE_OVERRIDES)
    assert report.n_bars == 300 and len(report.symbols) == 15
    assert report.n_checked == 300 * 15 * len(report.fields)
    assert report.ok, report.by_field().to_string()


def test_a_loader_that_reads_one_bar_early_is_caught_at_the_first_bar(market):
    report = audit_lookahead(market, SETTINGS, bars=20, warmup_bars=600, loader=_one_bar_early)
    assert not report.ok
    table = report.table()
    assert table["bar"].min().value // 1_000_000 == report.start_ms
    assert {"input.close", "signal.trend.score", "feature.price"} <= set(table["field"])
    assert set(table["symbol"]) == set(report.symbols)


def test_the_batch_signals_pass_and_a_signal_reading_the_next_close_is_caught(market):
    syms = [a.symbol for a in SETTINGS.universe.enabled][:3]
    start = DEFAULT_START_MS
    end = start + 900 * BAR_MS
    grid, inputs = load_inputs(Store(market), syms, start, end, SETTINGS.signals)
    real = audit_signal_fn(batch_signals_fn(SETTINGS), inputs, syms, grid, first=840)
    assert real.ok and real.n_bars == 60, real.by_field().to_string()

    def leaky(inp):
        nxt = np.full_like(inp.close, np.nan)
        nxt[:-1] = inp.close[1:]
        return {"signal.next_close_momentum.score": np.sign(nxt - inp.close)}

    caught = audit_signal_fn(leaky, inputs, syms, grid, first=840)
    assert not caught.ok
    assert set(caught.by_field()["field"]) == {"signal.next_close_momentum.score"}
    assert caught.by_field()["first_bar"].min().value // 1_000_000 == int(grid[840])


def test_audit_command_prints_the_verdict_and_fails_on_violations(market, tmp_path):
    args = ["audit", "lookahead", "--data", str(market), "--config", str(CONFIG_DIR), "--bars", "15",
            "--symbols", "BTC/USDT:USDT,ETH/USDT:USDT", "--warmup-bars", "300", "--out", str(tmp_path / "a.csv")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "no look-ahead" in result.output and "15 bars" in result.output
    assert (tmp_path / "a.csv").exists()
