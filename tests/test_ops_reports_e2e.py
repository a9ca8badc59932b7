"""Reports that send themselves: a replay on an accelerated clock mails its daily report and its review.

A paper replay of three symbols crosses the configured daily-report time
(01:00 UTC) and one review interval (an hour here, ``review_days`` in a real
run). :class:`botcore.ops.reports.ScheduledReports`, hooked into the loop,
queues both without holding up a cycle (the replay finishes while they are
still rendering), renders them through the review pipeline that ``botcore
review`` runs, and emails them over STARTTLS to a local aiosmtpd server. The
server is down at first: the first attempt fails, is recorded in the ledger,
and the retry delivers once the server is up.
"""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("aiosmtpd")
pytest.importorskip("cryptography")

from botcore.config import load_settings  # noqa: E402
from botcore.engine.backtest import fresh_ledger, restrict_settings  # noqa: E402
from botcore.engine.loop import replay_loop  # noqa: E402
from botcore.ledger import Ledger  # noqa: E402
from botcore.market.sample import DEFAULT_START_MS, generate_sample_market  # noqa: E402
from botcore.ops.reports import SCHEDULE_KEY, ScheduledReports, parse_hhmm, report_runs  # noqa: E402
from botcore.ops.testing import LocalSmtpServer  # noqa: E402
from pipelines import run_review  # noqa: E402
from tests.conftest import CONFIG_DIR  # noqa: E402

MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000
SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT")
START = DEFAULT_START_MS + DAY + MIN  # 2024-01-02 00:01 UTC
END = START + 75 * MIN                # 01:16: past the daily report (01:00) and one hour of review


@pytest.fixture(scope="module")
def settings():
    return restrict_settings(load_settings(CONFIG_DIR), SYMBOLS)


def test_daily_report_time_is_validated():
    assert parse_hhmm("01:30") == 90 * MIN
    with pytest.raises(ValueError, match="daily_report_utc '25:00'"):
        parse_hhmm("25:00")


def test_what_is_due_follows_the_runs_clock(tmp_path):
    path = tmp_path / "ledger.db"
    Ledger.open(path, starting_cash_usd=1000.0).close()
    def not_rendered(*args):
        raise RuntimeError("not rendered in this test")

    reports = ScheduledReports(path, tmp_path / "out", daily_at="01:00", review_every_ms=HOUR,
                               run_pipeline=not_rendered)
    try:
        assert reports.after_cycle(START) == []                  # the first cycle only sets the schedule
        assert reports.after_cycle(START + 58 * MIN) == []
        daily = reports.after_cycle(START + 59 * MIN)             # 01:00
        assert [(r.kind, r.start_ms, r.end_ms) for r in daily] == [("daily", START - MIN + HOUR - DAY, START - MIN + HOUR)]
        review = reports.after_cycle(START + 60 * MIN)
        assert [(r.kind, r.end_ms - r.start_ms) for r in review] == [("review", HOUR)]
        with Ledger.open(path, readonly=True) as led:           # a restart continues the schedule
            assert led.get_meta(SCHEDULE_KEY) == {"daily_ms": START - MIN + HOUR, "review_ms": START + 60 * MIN}
        again = ScheduledReports(path, tmp_path / "out", daily_at="01:00", review_every_ms=HOUR,
                                 run_pipeline=not_rendered)
        assert again.after_cycle(START + 61 * MIN) == []
        again.close()
        assert reports.wait_idle(30)
    finally:
        reports.close()
    with Ledger.open(path, readonly=True) as led:  # a failed rendering is recorded, not raised into the loop
        assert [(r["kind"], r["sent"]) for r in report_runs(led)] == [("daily", False), ("review", False)]
        assert all("not rendered in this test" in r["error"] for r in report_runs(led))


@pytest.mark.timeout(600)
def test_a_replay_mails_its_daily_report_and_review_retrying_when_smtp_is_down(settings, tmp_path, monkeypatch):
    generate_sample_market(tmp_path / "market", 1.1, 3, settings)
    server = LocalSmtpServer()  # its port is chosen, nothing listens yet: SMTP is down
    for name, value in server.env(to="ops@example.com").items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "ledger.db"
    led = fresh_ledger(path, float(settings.venue.starting_equity_usd), "paper")
    released = threading.Event()  # the renderings wait for it: a loop that waited for a report would never end

    def gated_review(*args, **kwargs):
        assert released.wait(300), "the replay did not finish while its reports were still rendering"
        return run_review(*args, **kwargs)

    reports = ScheduledReports(path, tmp_path / "reports", daily_at="01:00", review_every_ms=HOUR,
                               run_pipeline=gated_review, config_dir=str(CONFIG_DIR), retry_attempts=20,
                               retry_wait_s=0.5)
    try:
        loop, _ = replay_loop(tmp_path / "market", settings, led, start_ms=START, end_ms=END, run_seed=3,
                              warmup_bars=1440)
        loop.monitor = None  # red flags mail too: only the reports are under test
        loop.reports = reports
        loop.run()
        assert reports._queue.unfinished_tasks == 2, "both reports queued; the cycles did not wait for them"
        released.set()
        loop.close()
        deadline = time.monotonic() + 300
        while not any(not r["sent"] for r in report_runs(led)):  # the first attempt fails: no server
            assert time.monotonic() < deadline, "no failed attempt recorded"
            time.sleep(0.2)
        server.start()
        assert reports.wait_idle(300)
        mails = [m for m in server.wait_for(2, 30) if "review" in m.subject or "daily report" in m.subject]
    finally:
        reports.close()
        server.stop()
        led.close()
    subjects = sorted(m.subject for m in mails)
    assert len(mails) == 2, subjects
    assert any("1-hour review 2024-01-02 00:01 .. 2024-01-02 01:01 UTC" in s for s in subjects), subjects
    assert any("daily report 2024-01-01 01:00 .. 2024-01-02 01:00 UTC" in s for s in subjects), subjects
    assert all(m.encrypted and m.login == server.user for m in mails)
    for mail in mails:
        html = [p for p in mail.message.iter_attachments() if p.get_filename().endswith(".html")]
        assert html and "Against the market" in html[0].get_content()
    with Ledger.open(path, readonly=True) as ledger:
        runs = report_runs(ledger)
    sent = [r for r in runs if r["sent"]]
    assert sorted(r["kind"] for r in sent) == ["daily", "review"]
    assert any(r["attempts"] > 1 for r in sent), "one report needed the retry"
