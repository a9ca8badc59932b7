"""End to end on a running paper replay: the dashboard in headless Chromium shows its numbers on its own clock.

The other end-to-end module drives a hand-built ledger with planted incidents;
this one opens the dashboard on what ``botcore run --mode paper --feed replay``
actually writes (a few hours of the SYNTHETIC sample market, with the
documented ``ACTIVE_OVERRIDES`` so that there are trades to show). The first
hours are replayed in the test process; then ``botcore run`` resumes the
replay at 60x real time in a subprocess, so the dashboard watches a *running*
replay: healthy (``/health`` 200), ages judged on the simulated clock (not the
years between the data and today), the price chart with the bot's entries and
exits. It checks that every section's numbers equal the ledger's, that the
kill-switch button engages the switch after confirmation, that the console
stays clean, and writes screenshots at 1,600 px and 400 px to ``artifacts/``.
"""

from __future__ import annotations

import json
import sys
import time

import pytest

from botcore.config import load_settings
from botcore.dashboard.views import usd
from botcore.engine.backtest import fresh_ledger
from botcore.engine.loop import replay_loop
from botcore.engine.testing import ACTIVE_OVERRIDES
from botcore.market.sample import DEFAULT_START_MS, generate_sample_market
from tests.conftest import CONFIG_DIR
from tests.test_dashboard_e2e import (  # noqa: F401
    ARTIFACTS,
    browser,
    free_port,
    get,
    kpi,
    launch,
    screenshot,
    sql,
    stop,
    wait_kpi,
    wait_up,
)

SETTINGS = load_settings(CONFIG_DIR)
MIN, DAY = 60_000, 86_400_000
START = DEFAULT_START_MS + 3 * DAY + MIN
#: the replay run by the test process; the subprocess resumes it up to RESUMED_END
FIRST_END = START + 420 * MIN
RESUMED_END = START + 700 * MIN


@pytest.fixture(scope="module")
def replay_ledger(tmp_path_factory):
    root = tmp_path_factory.mktemp("replay-dashboard")
    generate_sample_market(root / "market", 3.5, 7, SETTINGS)
    path = root / "ledger.sqlite"
    ledger = fresh_ledger(path, float(SETTINGS.venue.starting_equity_usd), "paper")
    try:
        loop, _window = replay_loop(root / "market", SETTINGS, ledger, start_ms=START, end_ms=RESUMED_END,
                                    run_seed=7, params_overrides=ACTIVE_OVERRIDES)
        loop.run(cycles=(FIRST_END - START) // MIN)
        loop.close()
    finally:
        ledger.close()
    return path


@pytest.fixture(scope="module")
def running_replay(replay_ledger):
    """``botcore run`` resuming the replay (to RESUMED_END) at 60x real time, a cycle a second, while the dashboard watches."""
    log = replay_ledger.parent / "run.log"
    overrides = [a for k, v in ACTIVE_OVERRIDES.items() for a in ("--override", f"{k}={v}")]
    proc = launch([sys.executable, "-m", "botcore", "run", "--config", str(CONFIG_DIR), "--data",
                   str(replay_ledger.parent / "market"), "--ledger", str(replay_ledger), "--seed", "7",
                   "--speed", "60",
                   *overrides], log)
    deadline = time.monotonic() + 240
    first = sql(replay_ledger, "SELECT MAX(ts_ms) FROM decisions")
    while sql(replay_ledger, "SELECT MAX(ts_ms) FROM decisions") <= first:  # the resumed run's first cycle
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise AssertionError(f"the resumed replay did not run a cycle:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    yield proc
    stop(proc)


@pytest.fixture(scope="module")
def replay_page(replay_ledger, running_replay, browser, tmp_path):  # noqa: F811  (ledger first: the replay runs its own event loop)
    port = free_port()
    log = tmp_path / "dashboard.log"
    proc = launch([sys.executable, "-m", "botcore", "dashboard", "--ledger", str(replay_ledger), "--port", str(port),
                   "--refresh", "1"], log)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_up(proc, f"{url}/health", log)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
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


def test_a_running_replay_is_healthy_on_its_own_clock(replay_page, replay_ledger, running_replay):
    page = replay_page
    status, body = get(page.url.rstrip("/") + "/health")
    health = json.loads(body)
    assert status == 200 and health["status"] != "down", health
    assert health["clock"] == "simulated"
    assert FIRST_END < health["run_now_ts_ms"] <= RESUMED_END  # the replay's time, not today's
    assert health["heartbeat_age_s"] < 60 and health["heartbeats"]["engine"]["healthy"], health
    assert 0 <= health["last_cycle_age_s"] <= 120  # simulated seconds since the last cycle, not years
    assert "REPLAY" in kpi(page, "clock") and "2024-01-04" in kpi(page, "clock")
    assert kpi(page, "status") in ("OK", "DEGRADED")
    age = kpi(page, "heartbeat-age")
    assert age.endswith("s ago") and "d" not in age, age
    assert "(simulated)" in page.locator(".bc-kpi:has([data-kpi='change-today']) .bc-label").inner_text().lower()
    ages = page.locator(".tabulator-cell[tabulator-field='age']").all_inner_texts()
    assert all("d" not in a for a in ages), ages  # open positions a few hours old on the replay's clock
    assert page.console_problems == []


def test_the_price_chart_marks_the_bots_entries_and_exits(replay_page, replay_ledger):
    page = replay_page
    marks = page.locator("[data-kpi='price-marks']")
    marks.wait_for(timeout=20_000)
    traded = sql(replay_ledger, "SELECT symbol FROM fills ORDER BY ts_ms LIMIT 1")
    assert traded is not None
    entries, exits = int(marks.get_attribute("data-entries")), int(marks.get_attribute("data-exits"))
    stops = int(marks.get_attribute("data-stops"))
    assert entries >= 1 and entries + exits + stops >= 1
    assert "prices from" in marks.inner_text()
    assert page.locator(".bk-Canvas, canvas").count() > 0


def test_the_refresh_keeps_the_readers_scroll(replay_page, replay_ledger):
    page = replay_page
    main = "document.querySelector('#main')"
    page.evaluate(f"() => {main}.scrollTo(0, 900)")
    before = sql(replay_ledger, "SELECT MAX(ts_ms) FROM decisions")
    page.wait_for_timeout(4000)  # four refreshes while the replay writes new cycles
    assert sql(replay_ledger, "SELECT MAX(ts_ms) FROM decisions") > before, "the replay should still be running"
    assert abs(page.evaluate(f"() => {main}.scrollTop") - 900) < 5
    page.evaluate(f"() => {main}.scrollTo(0, 0)")


def test_the_kill_switch_confirmation_buttons_show_their_whole_text(replay_page):
    page = replay_page
    page.get_by_role("button", name="Engage kill switch…").click()
    for name in ("Confirm: engage kill switch", "Cancel"):
        button = page.get_by_role("button", name=name)
        button.wait_for(timeout=10_000)
        assert button.evaluate("b => b.scrollWidth <= b.clientWidth + 1"), f"{name!r} is cut off"
    page.get_by_role("button", name="Cancel").click()


def test_screenshots_at_desktop_and_phone_width(replay_page):
    page = replay_page
    ARTIFACTS.mkdir(exist_ok=True)
    for width in (1600, 400):
        page.set_viewport_size({"width": width, "height": 1000})
        page.wait_for_timeout(1500)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 20, f"the page is {overflow} px wider than a {width} px screen"
        height = page.evaluate("() => { const m = document.querySelector('#main');"
                               " return Math.max(m ? m.scrollHeight + 90 : 0, document.body.scrollHeight); }")
        page.set_viewport_size({"width": width, "height": min(int(height), 12_000)})
        page.wait_for_timeout(1500)
        path = ARTIFACTS / f"dashboard_replay_{width}px.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000
    page.set_viewport_size({"width": 1600, "height": 1000})
    assert page.console_problems == []


def test_dashboard_shows_the_numbers_of_a_paper_replay_ledger(replay_page, replay_ledger, running_replay):
    page, p = replay_page, replay_ledger
    stop(running_replay)  # the numbers stop moving: compare them with the ledger
    wait_kpi(page, "equity", usd(sql(p, "SELECT equity_usd FROM equity ORDER BY ts_ms DESC, seq DESC LIMIT 1")),
             timeout_s=20)
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
