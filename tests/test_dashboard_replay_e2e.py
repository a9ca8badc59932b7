"""End to end on a ledger written by a paper replay: the dashboard in headless Chromium shows its numbers.

The other end-to-end module drives a hand-built ledger with planted incidents;
this one opens the dashboard on what ``botcore run --mode paper --feed replay``
actually writes (a few hours of the SYNTHETIC sample market, with the
documented ``ACTIVE_OVERRIDES`` so that there are trades to show), and checks
that every section's numbers equal the ledger's, that the kill-switch button
engages the switch after confirmation, and that the console stays clean.
"""

from __future__ import annotations

import sys

import pytest

from botcore.config import load_settings
from botcore.dashboard.views import usd
from botcore.engine.backtest import fresh_ledger
from botcore.engine.loop import replay_loop
from botcore.engine.testing import ACTIVE_OVERRIDES
from botcore.market.sample import DEFAULT_START_MS, generate_sample_market
from tests.conftest import CONFIG_DIR
from tests.test_dashboard_e2e import browser, free_port, fresh_heartbeats, kpi, launch, screenshot, sql, stop, wait_kpi, wait_up  # noqa: F401

SETTINGS = load_settings(CONFIG_DIR)
MIN, DAY = 60_000, 86_400_000


@pytest.fixture(scope="module")
def replay_ledger(tmp_path_factory):
    root = tmp_path_factory.mktemp("replay-dashboard")
    generate_sample_market(root / "market", 3.3, 7, SETTINGS)
    start = DEFAULT_START_MS + 3 * DAY + MIN
    path = root / "ledger.sqlite"
    ledger = fresh_ledger(path, float(SETTINGS.venue.starting_equity_usd), "paper")
    try:
        loop, _window = replay_loop(root / "market", SETTINGS, ledger, start_ms=start, end_ms=start + 420 * MIN,
                                    run_seed=7, params_overrides=ACTIVE_OVERRIDES)
        loop.run()
        loop.close()
    finally:
        ledger.close()
    fresh_heartbeats(path)
    return path


@pytest.fixture(scope="module")
def replay_page(replay_ledger, browser, tmp_path):  # noqa: F811  (ledger first: the replay runs its own event loop)
    port = free_port()
    log = tmp_path / "dashboard.log"
    proc = launch([sys.executable, "-m", "botcore", "dashboard", "--ledger", str(replay_ledger), "--port", str(port),
                   "--refresh", "1"], log)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_up(proc, f"{url}/health", log)
        page = browser.new_page(viewport={"width": 1680, "height": 1050})
        page.console_problems = []  # type: ignore[attr-defined]
        page.on("console", lambda m: m.type == "error" and page.console_problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: page.console_problems.append(f"page error: {e}"))
        page.goto(url + "/", wait_until="domcontentloaded")
        page.locator("[data-kpi=equity]").wait_for(timeout=45_000)
        yield page
        page.close()
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def tmp_path(tmp_path_factory):
    return tmp_path_factory.mktemp("replay-dashboard-logs")


def test_dashboard_shows_the_numbers_of_a_paper_replay_ledger(replay_page, replay_ledger):
    page, p = replay_page, replay_ledger
    n_trades = sql(p, "SELECT COUNT(*) FROM trades")
    assert n_trades > 0, "the replay window should trade with ACTIVE_OVERRIDES"
    assert kpi(page, "mode").startswith("PAPER TRADING")
    assert kpi(page, "equity") == usd(sql(p, "SELECT equity_usd FROM equity ORDER BY ts_ms DESC, seq DESC LIMIT 1"))
    assert kpi(page, "realized-since-start") == usd(sql(p, "SELECT SUM(realized_pnl_usd) FROM fills"), signed=True)
    assert kpi(page, "fees-since-start") == usd(-sql(p, "SELECT SUM(fee_usd) FROM fills"), signed=True)
    assert kpi(page, "closed-trades") == str(n_trades)
    open_positions = sql(p, "SELECT COUNT(*) FROM positions WHERE qty_contracts != 0")
    assert kpi(page, "open-positions") == str(open_positions)
    assert kpi(page, "kill-switch") == "OFF"
    wait_kpi(page, "invariant", "ok")
    screenshot(page, "dashboard_replay_e2e.png")
    assert page.console_problems == []


def test_kill_switch_button_engages_the_switch_in_a_replay_ledger(replay_page, replay_ledger):
    from botcore.ledger import Ledger

    page = replay_page
    page.get_by_role("button", name="Engage kill switch…").click()
    with Ledger.open(replay_ledger, readonly=True) as ledger:
        assert ledger.get_flag("kill_switch") is False  # the first click only asks for confirmation
    page.get_by_role("button", name="Confirm: engage kill switch").click()
    wait_kpi(page, "kill-switch", "ENGAGED", timeout_s=20)
    with Ledger.open(replay_ledger, readonly=True) as ledger:
        assert ledger.get_flag("kill_switch") is True
    assert page.console_problems == []
