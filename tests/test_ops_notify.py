"""Notifications against a real SMTP server on localhost (aiosmtpd, STARTTLS with a self-signed certificate, AUTH)."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("aiosmtpd")
pytest.importorskip("cryptography")

from botcore.ledger import Ledger  # noqa: E402
from botcore.ops import notify  # noqa: E402
from botcore.ops.notify import Notifier, RedFlag, SmtpConfig, alert_log  # noqa: E402
from botcore.ops.testing import LocalSmtpServer  # noqa: E402


class FakeClock:
    def __init__(self, t: float = 1_767_225_600.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def smtp():
    with LocalSmtpServer() as server:
        yield server


@pytest.fixture
def ledger_path(tmp_path):
    path = tmp_path / "ledger.db"
    Ledger.open(path, starting_cash_usd=10_000.0).close()
    return path


def test_alert_arrives_over_starttls_with_subject_recipients_and_body(smtp, ledger_path):
    env = smtp.env(to="ops@example.com, risk@example.com")
    notifier = Notifier.from_env(env, ledger=ledger_path)

    result = notifier.alert(RedFlag.CIRCUIT_BREAKER, "daily loss limit reached",
                            "Equity fell 5.2% since 00:00 UTC; new entries paused for 120 minutes.")

    assert result.sent and not result.suppressed and result.error is None
    (mail,) = smtp.wait_for(1)
    assert mail.subject == "[botcore] RED FLAG circuit_breaker: daily loss limit reached"
    assert mail.rcpt_tos == ("ops@example.com", "risk@example.com")
    assert mail.mail_from == "bot@example.com"
    assert mail.encrypted, "the message must travel after STARTTLS"
    assert mail.login == "bot@example.com"
    assert mail.message["X-Botcore-Kind"] == "circuit_breaker"
    body = mail.text()
    assert "Equity fell 5.2% since 00:00 UTC" in body
    assert str(ledger_path) in body
    with Ledger.open(ledger_path, readonly=True) as book:
        (entry,) = alert_log(book)
    assert entry["kind"] == "circuit_breaker" and entry["sent"] and not entry["suppressed"]


def test_a_storm_sends_one_message_and_the_next_counts_the_suppressed(smtp, ledger_path):
    clock = FakeClock()
    notifier = Notifier.from_env(smtp.env(), ledger=ledger_path, window_s=900, clock=clock)

    results = []
    for _ in range(50):
        results.append(notifier.alert(RedFlag.REPEATED_OUTAGES, "order book feed down", "BTC book: 3 retries failed"))
        clock.t += 5  # 50 alerts in about four minutes
    other = notifier.alert(RedFlag.WALLET_DISCREPANCY, "cash off by $3.10", "ledger 9,900.00 venue 9,896.90")

    assert [r.sent for r in results] == [True] + [False] * 49
    assert other.sent, "another kind has its own window"
    assert len(smtp.wait_for(2)) == 2

    clock.t += 900
    later = notifier.alert(RedFlag.REPEATED_OUTAGES, "order book feed down", "still down")
    assert later.sent and later.suppressed_before == 49
    mails = smtp.wait_for(3)
    assert len(mails) == 3
    assert mails[-1].subject == "[botcore] RED FLAG repeated_outages: order book feed down (+49 suppressed)"
    assert "49 similar alerts (repeated_outages) were suppressed since" in mails[-1].text()
    with Ledger.open(ledger_path, readonly=True) as book:
        log = alert_log(book)
    assert len(log) == 52
    assert sum(e["sent"] for e in log) == 3
    assert sum(e["suppressed"] for e in log) == 49


def test_the_rate_limit_is_shared_by_every_process_on_the_ledger(smtp, ledger_path):
    clock = FakeClock()
    supervisor_side = Notifier.from_env(smtp.env(), ledger=ledger_path, clock=clock)
    restarted_bot = Notifier.from_env(smtp.env(), ledger=Ledger.open(ledger_path), clock=clock)

    assert supervisor_side.alert(RedFlag.BOT_CRASHED, "bot restarted: exit code 1").sent
    clock.t += 30
    assert not restarted_bot.alert(RedFlag.BOT_CRASHED, "bot restarted: exit code 1").sent
    restarted_bot.ledger.close()
    assert len(smtp.wait_for(1, timeout_s=0.5)) == 1


def test_report_is_html_with_attachments(smtp, ledger_path, tmp_path):
    csv = tmp_path / "trades.csv"
    csv.write_text("symbol,net_pnl_usd\nBTC/USDT:USDT,12.5\n")
    notifier = Notifier.from_env(smtp.env(), ledger=ledger_path)

    sent = notifier.send_report("7-day review 2026-01-01..07", "<h1>Profit factor 1.31</h1><p>PASS</p>",
                                [csv, ("equity.png", b"\x89PNG fake")])

    assert sent
    (mail,) = smtp.wait_for(1)
    assert mail.subject == "[botcore] 7-day review 2026-01-01..07"
    html = mail.message.get_body(preferencelist=("html",)).get_content()
    assert "<h1>Profit factor 1.31</h1>" in html
    names = {part.get_filename(): part.get_content() for part in mail.message.iter_attachments()}
    assert set(names) == {"trades.csv", "equity.png"}
    assert "BTC/USDT:USDT,12.5" in names["trades.csv"]
    with Ledger.open(ledger_path, readonly=True) as book:
        (entry,) = book.get_meta(notify.REPORTS_KEY)
    assert entry["sent"] and entry["attachments"] == ["trades.csv", "equity.png"]


def test_missing_settings_disable_email_with_one_log_line_and_no_crash(ledger_path, caplog, monkeypatch):
    monkeypatch.setattr(notify, "_disabled_logged", False)
    caplog.set_level(logging.WARNING, logger="botcore.ops.notify")
    env = {"SMTP_HOST": "smtp.example.com", "SMTP_USER": "bot"}  # no password, no recipient

    assert SmtpConfig.from_env(env) is None
    notifier = Notifier.from_env(env, ledger=ledger_path)
    result = notifier.alert(RedFlag.KELLY_ZERO, "Kelly size 0 for every strategy")
    Notifier.from_env(env).send_report("daily report", "<p>x</p>")

    assert not notifier.enabled and not result.sent and result.error is None
    disabled = [r for r in caplog.records if "notifications disabled" in r.getMessage()]
    assert len(disabled) == 1
    assert "SMTP_PASS, REPORT_TO_EMAIL not set" in disabled[0].getMessage()
    with Ledger.open(ledger_path, readonly=True) as book:
        (entry,) = alert_log(book)
    assert entry["kind"] == "kelly_zero" and entry["email"] is False


def test_wrong_password_is_reported_and_retried_not_raised(smtp, ledger_path, caplog):
    notifier = Notifier.from_env(smtp.env(password="wrong-password-123"), ledger=ledger_path)

    first = notifier.alert(RedFlag.RECONCILIATION_MISMATCH, "BTC position differs")
    second = notifier.alert(RedFlag.RECONCILIATION_MISMATCH, "BTC position differs")

    assert not first.sent and "SMTPAuthenticationError" in first.error
    assert not second.suppressed, "a failed send must not hold the window closed"
    assert smtp.messages == []
    assert smtp.logins and not any(ok for _, ok in smtp.logins)
    assert "wrong-password-123" not in caplog.text


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_server_without_starttls_never_sees_the_password():
    with LocalSmtpServer(starttls=False) as plain:
        notifier = Notifier.from_env(plain.env())
        result = notifier.alert(RedFlag.KILL_SWITCH, "kill switch engaged (freeze)")
        assert not result.sent and "STARTTLS" in result.error
        assert plain.logins == [] and plain.messages == []


def test_config_repr_hides_the_password(smtp):
    config = SmtpConfig.from_env(smtp.env())
    assert config.port == smtp.port and config.host == "127.0.0.1"
    assert smtp.password not in repr(config)
