"""End to end: ``botcore dashboard`` in a subprocess, opened in headless Chromium (Debian's, never downloaded).

Checks that every section shows the ledger's numbers, the console stays clean,
the trade filters work in the browser, ``/health`` answers the right JSON, the
kill switch engages only after the confirming click, and ``panel serve
dashboards/app.py`` serves the same app and endpoint. Screenshots go to
``artifacts/`` (git-ignored). Skips without Chromium or Playwright; fails
instead under ``CI=true``, where ``scripts/_setup.sh`` installs Chromium.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from botcore.dashboard.views import clock, usd
from botcore.ledger import Ledger, now_ms
from tests._dashboard_ledger import ADOPTED, OPEN_LONG, OPEN_SHORT, OUTAGE, copy_ledger, shared_ledger

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IN_CI = os.environ.get("CI") == "true"
HEALTH_TOKEN = "monitor-token-for-tests"


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}: CI installs it (scripts/_setup.sh install_chromium), so this must run")
    pytest.skip(reason)


def chromium_path() -> str | None:
    """Return Debian's Chromium ($BOTCORE_CHROMIUM, ``chromium`` on PATH or /usr/bin/chromium), or None."""
    for candidate in (os.environ.get("BOTCORE_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed")
    path = chromium_path()
    if path is None:
        _unavailable("chromium not found (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def launch(cmd: list[str], log: Path, **env: str) -> subprocess.Popen:
    """Start a server process logging to ``log``."""
    return subprocess.Popen(cmd, cwd=REPO, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            env=dict(os.environ, PYTHONUNBUFFERED="1", **env))


def wait_up(proc: subprocess.Popen, url: str, log: Path) -> subprocess.Popen:
    """Wait until ``url`` answers (60 s at most); fail with the server's log otherwise."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            get(url, timeout=2)
            return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise AssertionError(f"server did not answer {url} within 60 s:\n{log.read_text()}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def sql(path: Path, query: str, *args):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute(query, args).fetchone()[0]
    finally:
        con.close()


def fresh_heartbeats(path: Path) -> None:
    """Beat as a running bot would right before the dashboard opens (so the status is deterministic)."""
    with Ledger.open(path) as ledger:
        ts = now_ms()
        ledger.record_heartbeat("engine", ts_ms=ts, detail={"cycle_ms": 14.0})
        ledger.record_heartbeat("feed:blofin", ts_ms=ts)
        ledger.record_heartbeat("feed:coinglass", ts_ms=ts, status="degraded", detail={"stale": [OUTAGE]})


@pytest.fixture(scope="module")
def ledger_path(tmp_path_factory) -> Path:
    path = copy_ledger(shared_ledger(), tmp_path_factory.mktemp("e2e") / "ledger.sqlite").path
    fresh_heartbeats(path)
    return path


@pytest.fixture(scope="module")
def servers(ledger_path, tmp_path_factory):
    """Start ``botcore dashboard`` and ``panel serve dashboards/app.py`` side by side; yield their URLs and logs."""
    logs = tmp_path_factory.mktemp("e2e-logs")
    ports = free_port(), free_port(), free_port()
    cli = launch([sys.executable, "-m", "botcore", "dashboard", "--ledger", str(ledger_path), "--port",
                  str(ports[0]), "--refresh", "1"], logs / "dashboard.log")
    panel = launch([sys.executable, "-m", "panel", "serve", "dashboards/app.py", "--address", "127.0.0.1",
                    "--port", str(ports[1]), "--allow-websocket-origin", f"127.0.0.1:{ports[1]}",
                    "--plugins", "botcore.dashboard.app", "--args", "--ledger", str(ledger_path)],
                   logs / "panel.log")
    auth = launch([sys.executable, "-m", "botcore", "dashboard", "--ledger", str(ledger_path), "--port",
                   str(ports[2]), "--basic-auth", "correct-horse-battery", "--cookie-secret", "c" * 32],
                  logs / "auth.log", BOTCORE_HEALTH_TOKEN=HEALTH_TOKEN)
    try:
        yield {"cli": (cli, f"http://127.0.0.1:{ports[0]}", logs / "dashboard.log"),
               "panel": (panel, f"http://127.0.0.1:{ports[1]}", logs / "panel.log"),
               "auth": (auth, f"http://127.0.0.1:{ports[2]}", logs / "auth.log")}
    finally:
        for proc in (cli, panel, auth):
            stop(proc)


@pytest.fixture(scope="module")
def server(servers) -> str:
    proc, url, log = servers["cli"]
    wait_up(proc, f"{url}/health", log)
    return url


@pytest.fixture(scope="module")
def page(browser, server):
    page = browser.new_page(viewport={"width": 1680, "height": 1050})
    page.console_problems = []  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type == "error" and page.console_problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: page.console_problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: page.console_problems.append(f"request failed: {r.url}"))
    page.goto(server + "/", wait_until="domcontentloaded")
    page.locator("[data-kpi=equity]").wait_for(timeout=45_000)
    yield page
    page.close()


def kpi(page, key: str) -> str:
    return page.locator(f"[data-kpi='{key}']").first.inner_text().strip()


def wait_kpi(page, key: str, expected: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if kpi(page, key) == expected:
            return
        time.sleep(0.2)
    assert kpi(page, key) == expected


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    height = page.evaluate("() => { const m = document.querySelector('#main');"
                           " return Math.max(m ? m.scrollHeight + 90 : 0, document.body.scrollHeight); }")
    page.set_viewport_size({"width": 1680, "height": int(height)})
    page.wait_for_timeout(800)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1680, "height": 1050})
    print(f"\ndashboard screenshot: {path}")
    return path


def test_every_section_shows_the_ledgers_numbers(page, ledger_path):
    p = ledger_path
    # banner and P&L
    assert kpi(page, "mode").startswith("PAPER TRADING")
    fresh_heartbeats(p)  # a slow machine may have let the fixture's beats age past the limit
    wait_kpi(page, "status", "DEGRADED")  # an unhealthy feed and an ongoing outage, not down
    assert kpi(page, "equity") == usd(sql(p, "SELECT equity_usd FROM equity ORDER BY ts_ms DESC, seq DESC LIMIT 1"))
    assert kpi(page, "realized-since-start") == usd(sql(p, "SELECT SUM(realized_pnl_usd) FROM fills"), signed=True)
    assert kpi(page, "fees-since-start") == usd(-sql(p, "SELECT SUM(fee_usd) FROM fills"), signed=True)
    assert kpi(page, "funding-since-start") == usd(sql(p, "SELECT SUM(amount_usd) FROM funding"), signed=True)
    assert kpi(page, "closed-trades") == kpi(page, "trades-since-start") == str(sql(p, "SELECT COUNT(*) FROM trades"))
    # positions
    assert kpi(page, "open-positions") == "3"
    for symbol in (OPEN_LONG, OPEN_SHORT, ADOPTED):
        assert page.locator(".tabulator-cell", has_text=symbol).count() >= 1
    assert page.locator(".tabulator-cell", has_text="aged/unknown").count() == 1
    # why not trading
    assert kpi(page, "last-cycle") == clock(sql(p, "SELECT MAX(ts_ms) FROM decisions"))
    assert page.locator(".tabulator-cell", has_text="data_outage").count() >= 1
    assert kpi(page, "outages") == "2"
    # strategies and signals
    assert kpi(page, "weights-version") == "v3"
    assert kpi(page, "benched") == "none"
    assert "sentiment_fusion" in kpi(page, "strategies")
    # closed trades: the newest trade's net P&L, formatted in the browser
    assert kpi(page, "filtered-trades") == "40"
    newest = sql(p, "SELECT net_pnl_usd FROM trades ORDER BY exit_ts_ms DESC, trade_id DESC LIMIT 1")
    assert page.locator(".tabulator-cell", has_text=usd(newest, signed=True)).count() >= 1
    # health
    assert "engine" in kpi(page, "heartbeats")
    assert kpi(page, "burn-in") == "past burn-in"
    assert kpi(page, "preflight") == "not run"
    assert kpi(page, "kill-switch") == "OFF"
    wait_kpi(page, "invariant", "ok")  # checked in the background after the first load
    screenshot(page, "dashboard_e2e.png")
    assert page.console_problems == []


def test_trade_filters_work_in_the_browser(page, ledger_path):
    longs = sql(ledger_path, "SELECT COUNT(*) FROM trades WHERE side = 1")
    side = page.locator("select", has=page.locator("option", has_text="short")).first  # the trades' side filter
    side.select_option("long")
    wait_kpi(page, "filtered-trades", str(longs))
    side.select_option("all")
    wait_kpi(page, "filtered-trades", "40")
    assert page.console_problems == []


def test_the_page_follows_the_ledger_on_its_own(page, ledger_path):
    with Ledger.open(ledger_path) as ledger:  # what `botcore preflight` records
        ledger.set_meta("preflight", {"ts_ms": now_ms(), "results": [
            {"check": "kelly_nonzero", "status": "PASS", "detail": "size 412.50 USD"},
            {"check": "wallet_discrepancy", "status": "WARN", "detail": "0.40 USD"}]})
    wait_kpi(page, "preflight", "WARN", timeout_s=20)  # periodic refresh (1 s) through the cache (5 s TTL)
    assert page.locator("td", has_text="wallet_discrepancy").count() == 1
    assert page.console_problems == []


def live_health(url: str, ledger_path: Path, headers: dict | None = None) -> tuple[int, dict]:
    """Beat like a live bot, then return /health once the server's cache shows the beat (10 s at most)."""
    fresh_heartbeats(ledger_path)
    deadline = time.monotonic() + 10
    while True:
        request = urllib.request.Request(url + "/health", headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        if status != 503 or time.monotonic() > deadline:
            return status, json.loads(body)
        time.sleep(0.5)


def test_health_endpoint_answers_the_monitor_json(server, ledger_path):
    status, health = live_health(server, ledger_path)
    assert status == 200 and health["status"] == "degraded"
    assert health["mode"] == "paper"
    assert health["open_positions"] == 3
    assert health["closed_trades"] == 40
    assert health["equity_usd"] == pytest.approx(
        sql(ledger_path, "SELECT equity_usd FROM equity ORDER BY ts_ms DESC, seq DESC LIMIT 1"), abs=1e-5)
    assert health["last_cycle_ts_ms"] == sql(ledger_path, "SELECT MAX(ts_ms) FROM decisions")
    assert 0 <= health["heartbeat_age_s"] < 120
    assert health["breakers"] == [] and health["kill_switch"] is False
    assert set(health["heartbeats"]) == {"engine", "feed:blofin", "feed:coinglass"}


def test_the_kill_switch_engages_after_confirmation_only(page, server, ledger_path):
    page.get_by_role("button", name="Engage kill switch…").click()
    confirm = page.get_by_role("button", name="Confirm: engage kill switch")
    confirm.wait_for(timeout=10_000)
    time.sleep(1.0)
    with Ledger.open(ledger_path, readonly=True) as ledger:
        assert ledger.get_flag("kill_switch") is False  # the first click only asks
    confirm.click()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with Ledger.open(ledger_path, readonly=True) as ledger:
            if ledger.get_flag("kill_switch"):
                break
        time.sleep(0.2)
    with Ledger.open(ledger_path, readonly=True) as ledger:
        assert ledger.get_flag("kill_switch") is True
    wait_kpi(page, "kill-switch", "ENGAGED")
    assert json.loads(get(server + "/health")[1])["kill_switch"] is True
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard_e2e_kill_switch.png"))
    assert page.console_problems == []


def test_panel_serve_runs_the_same_app_with_the_health_plugin(servers):
    proc, url, log = servers["panel"]
    wait_up(proc, f"{url}/health", log)
    status, body = get(url + "/health")
    assert status == 200 and json.loads(body)["closed_trades"] == 40
    status, body = get(url + "/app", timeout=60)  # runs dashboards/app.py for a new session
    assert status == 200 and b"botcore" in body and b"PAPER" in body, log.read_text()


def test_with_authentication_the_page_and_health_need_credentials(servers, ledger_path):
    proc, url, log = servers["auth"]
    wait_up(proc, f"{url}/health", log)
    status, body = get(url + "/health")
    assert status == 401 and "authentication required" in json.loads(body)["error"]
    status, health = live_health(url, ledger_path, {"Authorization": f"Bearer {HEALTH_TOKEN}"})
    assert status == 200 and health["closed_trades"] == 40

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        urllib.request.build_opener(NoRedirect).open(url + "/", timeout=30)
        raise AssertionError("the page was served without logging in")
    except urllib.error.HTTPError as exc:
        assert exc.code == 302 and "/login" in exc.headers["Location"]
