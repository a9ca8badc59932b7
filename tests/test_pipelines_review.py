"""``botcore review`` and ``botcore cycle-report`` end to end: notebooks run, HTML rendered, numbers equal ``summary()``."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

from botcore.cli import app
from botcore.ledger import Ledger
from botcore.reports import format as report
from botcore.reports.review import ledger_summary
from tests._review_ledger import T0, demo_ledger

PAPERMILL = Path(sys.executable).with_name("papermill")
REPO = Path(__file__).resolve().parents[1]


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        (isinstance(a[k], float) and math.isnan(a[k]) and isinstance(b[k], float) and math.isnan(b[k])) or a[k] == b[k]
        for k in a)


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    """Run ``botcore review`` once on a 3-day demo ledger; return (ledger, CLI output, run directory)."""
    root = tmp_path_factory.mktemp("review")
    ledger = demo_ledger(root / "ledger.db", days=3.0)
    result = CliRunner().invoke(app, ["review", "--ledger", str(ledger), "--out", str(root / "out"), "--no-email"])
    assert result.exit_code == 0, result.output
    (run_dir,) = (root / "out" / "review").iterdir()
    return ledger, result.output, run_dir


def test_review_numbers_equal_the_summary_of_the_ledger(reviewed):
    ledger, output, run_dir = reviewed
    rendered = json.loads((run_dir / "summary.json").read_text())
    expected = ledger_summary(ledger)  # the window (7 days) covers the whole 3-day ledger
    # the review also knows the ledger's burn-in (from the configuration): only that sentence may differ
    assert same({k: v for k, v in rendered.items() if k != "evidence_missing"},
                {k: v for k, v in expected.items() if k != "evidence_missing"})
    assert rendered["verdict"] == "insufficient evidence" and "burn-in" in rendered["evidence_missing"]
    html = (run_dir / "review.html").read_text()
    for key, fmt in (("profit_factor", report.fmt_ratio), ("win_rate", report.fmt_pct),
                     ("expectancy_usd", report.fmt_money), ("sharpe", report.fmt_ratio),
                     ("max_drawdown_pct", report.fmt_pct), ("exposure", report.fmt_pct)):
        assert fmt(expected[key]) in html, key
    assert f"Verdict: {expected['verdict'].upper()}" in html
    assert f"{expected['n_trades']} trades" in output and expected["verdict"] in output
    assert f"HTML: {run_dir / 'review.html'}" in output


def test_review_html_has_every_section_and_no_code(reviewed):
    _, output, run_dir = reviewed
    html = (run_dir / "review.html").read_text()
    for section in ("Equity and drawdown", "By strategy", "By symbol", "By sector", "By regime at entry",
                    "By signal", "Gates", "Kelly calibration", "Parameter changes in the window",
                    "Learning: weights, benchings and capital", "Red flags"):
        assert section in html, section
    # the demo ledger's learning cycle (mid-window) and its bench (two thirds in) are in the learning section
    assert "No learning changes in this window" not in html
    assert "trend attributed +" in html and "profit factor 0.62" in html
    assert html.count("data:image/png;base64") >= 4  # equity/drawdown, two bar charts, calibration
    assert "RED FLAG" in html and "missed_heartbeats" in html and "circuit_breaker_trips" in html
    assert "review_ledger(" not in html  # code hidden from readers
    assert "red flags: missed_heartbeats, circuit_breaker_trips" in output
    executed = nbformat.read(run_dir / "review.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["ok"] and record["parameters"]["days"] == 7.0


def test_review_html_opens_in_a_headless_browser_without_errors(reviewed):
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium on this machine (scripts/test.sh installs it)")
    _, _, run_dir = reviewed
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
        page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
        page.goto((run_dir / "review.html").as_uri(), wait_until="load")
        heading = page.locator("h1").first
        assert heading.is_visible() and "7-day review" in heading.inner_text()
        assert page.get_by_text("Verdict:").first.is_visible()
        assert page.locator("img").count() >= 4
        assert all(img.evaluate("i => i.naturalWidth > 0") for img in page.locator("img").all())
        browser.close()
    assert not errors, errors


def test_email_hook_calls_the_notifier_when_it_exists(tmp_path, monkeypatch):
    import botcore.ops
    from botcore.cli import review_cmd

    sent = []

    class FakeNotify:
        @staticmethod
        def send_report(subject, html, attachments=(), *, text=None):
            sent.append((subject, html, list(attachments), text))
            return True

    monkeypatch.setattr(botcore.ops, "notify", FakeNotify, raising=False)
    page = tmp_path / "review.html"
    page.write_text("<h1>review</h1>")
    assert review_cmd.send_report_email("review x: success", page, "summary text")
    assert sent == [("review x: success", "<h1>review</h1>", [page], "summary text")]


def test_email_hook_without_smtp_settings_does_not_send(tmp_path, monkeypatch, caplog):
    from botcore.cli import review_cmd

    for name in ("SMTP_HOST", "SMTP_USER", "SMTP_PASS", "REPORT_TO_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    page = tmp_path / "review.html"
    page.write_text("<p>x</p>")
    with caplog.at_level("INFO"):
        assert review_cmd.send_report_email("s", page, "t") is False
    assert any("not configured" in r.getMessage() or "disabled" in r.getMessage() for r in caplog.records)


def test_unusable_ledger_exits_2_without_running(tmp_path):
    result = CliRunner().invoke(app, ["review", "--ledger", str(tmp_path / "missing.db"), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "ledger unusable" in result.output
    assert not (tmp_path / "review").exists()


def test_cycle_report_of_a_ledger_without_cycles_fails_keeping_the_partial_notebook(tmp_path):
    with Ledger.open(tmp_path / "empty.db", starting_cash_usd=1000.0):
        pass
    result = CliRunner().invoke(app, ["cycle-report", "--ledger", str(tmp_path / "empty.db"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert "LookupError" in result.output and "has no decisions" in result.output
    (run_dir,) = (tmp_path / "out" / "cycle_report").iterdir()
    assert f"partial notebook: {run_dir / 'cycle_report.ipynb'}" in result.output
    assert "has no decisions" in (run_dir / "cycle_report.html").read_text()


def test_plain_papermill_runs_the_cycle_report_with_a_market_store(tmp_path, settings):
    from botcore.market.sample import generate_sample_market

    store = tmp_path / "market"
    generate_sample_market(store, 1.5, 5, settings, start_ms=T0)
    ledger = demo_ledger(tmp_path / "ledger.db", days=1.0, seed=5)
    out = tmp_path / "cycle.ipynb"
    done = subprocess.run(
        [str(PAPERMILL), str(REPO / "notebooks" / "pipelines" / "cycle_report.ipynb"), str(out),
         "-p", "ledger_path", str(ledger), "-p", "data_dir", str(store), "-p", "lookback_hours", "12",
         "-p", "out_dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Unable to parse" not in done.stderr  # every parameter of the cell is understood
    executed = nbformat.read(out, as_version=4)
    text = json.dumps([c.get("outputs", []) for c in executed.cells])
    for expected in ("BTC/USDT:USDT", "Snapshot", "Signal scores", "hurst_smooth", "matches the recorded decision"):
        assert expected in text, expected
    record = json.loads((tmp_path / "cycle.json").read_text())
    assert len(record["rows"]) == 15 and sum(record["outcomes"].values()) == 15
