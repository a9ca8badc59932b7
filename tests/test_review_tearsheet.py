"""The review's tearsheet: benchmarks from the market store, daily and monthly returns, drawdowns, trade distribution.

The functions are checked against hand computations on small series; the review
pipeline is run with papermill on a three-week demo ledger and a store of three
symbols over the same weeks, and its output must hold the benchmark lines with
excess returns, the monthly heatmap, the underwater plot with the worst
drawdowns and the trade distribution.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from botcore.analytics.demo import DEMO_START_MS, demo_ledger
from botcore.market.store import Store
from botcore.reports import tearsheet
from pipelines import render_html

REPO = Path(__file__).resolve().parents[1]
PAPERMILL = Path(sys.executable).with_name("papermill")
DAY, MIN = 86_400_000, 60_000
SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]


def write_closes(root: Path, closes: dict[str, np.ndarray], start_ms: int) -> Store:
    store = Store(root)
    for symbol, close in closes.items():
        ts = start_ms + MIN * np.arange(len(close), dtype=np.int64)
        store.write("candles_1m", symbol, pd.DataFrame({"ts": ts, "open": close, "high": close, "low": close,
                                                         "close": close, "volume": np.ones(len(close))}))
    return store


def test_benchmarks_buy_and_hold_btc_and_the_equal_weight_universe(tmp_path):
    start = DEMO_START_MS
    n = 3 * 1440 + 1
    line = np.linspace(0.0, 1.0, n)
    store = write_closes(tmp_path, {"BTC/USDT:USDT": 100 * (1 + line), "ETH/USDT:USDT": 10 * (1 - 0.5 * line)},
                         start - MIN)
    bench = tearsheet.benchmark_equity(store, SYMBOLS, start, start + 3 * DAY, 1_000.0)
    assert list(bench.columns) == ["buy-and-hold BTC", "equal-weight universe (2)"]  # SOL is not in the store
    assert bench["buy-and-hold BTC"].iloc[0] == pytest.approx(1_000.0)
    assert bench["buy-and-hold BTC"].iloc[-1] == pytest.approx(2_000.0, rel=1e-3)  # BTC doubled
    assert bench["equal-weight universe (2)"].iloc[-1] == pytest.approx(1_000 * (2.0 + 0.5) / 2, rel=1e-3)
    equity = pd.DataFrame({"ts_ms": [start + DAY, start + 3 * DAY - MIN], "equity_usd": [1_050.0, 1_100.0]})
    excess = tearsheet.excess_returns(equity, 1_000.0, bench)
    assert excess.loc["bot", "return"] == pytest.approx(0.10)
    assert excess.loc["buy-and-hold BTC", "excess return of the bot"] == pytest.approx(0.10 - 1.0, rel=1e-3)


def test_daily_and_monthly_returns_compound_the_closes():
    t0 = pd.Timestamp("2024-01-30", tz="UTC").value // 1_000_000
    equity = pd.DataFrame({"ts_ms": [t0 + 1, t0 + DAY + 1, t0 + 2 * DAY + 1, t0 + 3 * DAY + 1],
                           "equity_usd": [1_010.0, 1_030.0, 1_020.0, 1_071.0]})
    pnl = tearsheet.daily_pnl(equity, 1_000.0)
    assert pnl.tolist() == pytest.approx([10.0, 20.0, -10.0, 51.0])
    months = tearsheet.monthly_returns(equity, 1_000.0)
    assert months.loc[2024, "Jan"] == pytest.approx(0.03)
    assert months.loc[2024, "Feb"] == pytest.approx(1_071.0 / 1_030.0 - 1)


def test_rolling_sharpe_is_missing_until_its_window_is_full():
    t0 = DEMO_START_MS
    values = 1_000 * np.cumprod(1 + np.tile([0.01, -0.005], 10))
    equity = pd.DataFrame({"ts_ms": t0 + DAY * np.arange(20) + 1, "equity_usd": values})
    sharpe = tearsheet.rolling_sharpe(equity, 1_000.0, window_days=10)
    assert sharpe.iloc[:9].isna().all() and sharpe.iloc[9:].notna().all()
    rets = pd.Series(np.tile([0.01, -0.005], 10))[-10:]
    assert sharpe.iloc[-1] == pytest.approx(rets.mean() / rets.std() * math.sqrt(365))


def test_worst_drawdowns_have_dates_depth_and_recovery():
    t0 = DEMO_START_MS
    equity = pd.DataFrame({"ts_ms": t0 + DAY * np.arange(7),
                           "equity_usd": [1_000, 900, 1_000, 1_100, 1_045, 990, 1_050]})
    worst = tearsheet.worst_drawdowns(equity, 1_000.0)
    assert worst["depth (%)"].tolist() == pytest.approx([-10.0, -10.0])
    assert worst.loc[0, "recovered"] == "2024-01-03 00:00 UTC" and worst.loc[1, "recovered"] == "not yet"
    assert worst.loc[1, "peak"] == "2024-01-04 00:00 UTC" and worst.loc[1, "trough"] == "2024-01-06 00:00 UTC"


@pytest.mark.timeout(400)
def test_the_review_of_a_three_week_ledger_shows_the_tearsheet(tmp_path):
    ledger = demo_ledger(days=21.0, seed=3, cache_dir=tmp_path / "demo")
    rng = np.random.default_rng(1)
    n = 22 * 1440
    closes = {s: p * np.exp(np.cumsum(rng.normal(0, 5e-4, n))) for s, p in zip(SYMBOLS, (42_000, 2_300, 100))}
    write_closes(tmp_path / "market", closes, DEMO_START_MS - DAY)
    out = tmp_path / "review.ipynb"
    done = subprocess.run(
        [str(PAPERMILL), str(REPO / "notebooks" / "pipelines" / "review.ipynb"), str(out), "-p", "ledger_path",
         str(ledger), "-p", "days", "21", "-p", "data_dir", str(tmp_path / "market"), "-p", "rolling_days", "7"],
        capture_output=True, text=True, timeout=380, check=False, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Unable to parse" not in done.stderr
    cells = nbformat.read(out, as_version=4).cells
    text = json.dumps([c.get("outputs", []) for c in cells])
    for expected in ("buy-and-hold BTC", "equal-weight universe (3)", "excess return of the bot", "peak to trough",
                     "image/png", "median (USD)"):
        assert expected in text, expected
    images = sum(1 for c in cells for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
    assert images >= 9  # the review's own figures plus benchmark, daily bars, heatmap, Sharpe, underwater, histogram
    assert "1704" not in "".join(o.get("data", {}).get("text/html", "") for c in cells for o in c.get("outputs", [])
                                 if "tearsheet" in c.get("id", ""))  # no epoch ms in the tearsheet's tables
    screenshot_review(render_html(out, tmp_path / "review.html"))


def screenshot_review(html: Path) -> None:
    """Write the rendered review at 1,600 px and 400 px to ``artifacts/`` (needs Chromium and Playwright)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright not installed: review rendered, screenshots not taken")
    from tests.test_dashboard_e2e import ARTIFACTS, CHROMIUM_ARGS, chromium_path

    chromium = chromium_path()
    if chromium is None:
        pytest.skip("chromium not found: review rendered, screenshots not taken")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            for width in (1600, 400):
                page = browser.new_page(viewport={"width": width, "height": 1000})
                page.goto(html.as_uri())
                shot = ARTIFACTS / f"review_{width}px.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
                page.close()
        finally:
            browser.close()
