"""Safe defaults: secrets never reach logs, the ledger, reports or exports; logs rotate."""

from __future__ import annotations

import base64
import logging
import os

import pytest
from typer.testing import CliRunner

from botcore.cli import app
from botcore.cli.run_cmd import NOISY_LOGGERS
from botcore.ledger import Ledger
from botcore.model import OrderSide
from botcore.ops.heartbeat import Heartbeat
from botcore.ops.logs import configure_logging
from botcore.ops.notify import Notifier, RedFlag
from botcore.ops.secrets import RedactSecrets, redact_text, scan_for_secrets, secrets_from_env
from tests._ledger_helpers import STARTING_CASH_USD, trade

FAKE_CREDENTIALS = {
    "BLOFIN_API_KEY": "fake-blofin-key-9f8e7d6c",
    "BLOFIN_API_SECRET": "fake-blofin-secret-ABCDEF123456",
    "BLOFIN_PASSPHRASE": "fake-passphrase-xyz-777",
    "COINGLASS_API_KEY": "fake-coinglass-key-2468",
    "CRYPTOCOMPARE_API_KEY": "fake-cryptocompare-key-13579",
}
SMTP_PASSWORD = "fake-smtp-pass-Qw3rty!"


@pytest.fixture
def root_log(tmp_path):
    """Log to a rotating file under tmp_path/logs for the test, then detach it."""
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    # An in-process CLI run earlier in the session (botcore demo/run) may have quietened botcore's loggers.
    quietened = {name: logging.getLogger(name).level for name in ("botcore", "botcore.ops", *NOISY_LOGGERS)}
    for name in quietened:
        logging.getLogger(name).setLevel(logging.NOTSET)
    yield tmp_path / "logs"
    for name, old_level in quietened.items():
        logging.getLogger(name).setLevel(old_level)
    for handler in list(root.handlers):
        if handler not in before:
            root.removeHandler(handler)
            handler.close()
    for handler in root.handlers:
        handler.filters = [f for f in handler.filters if not isinstance(f, RedactSecrets)]
    root.setLevel(level)


def test_no_secret_reaches_logs_ledger_reports_or_exports_after_a_run(tmp_path, monkeypatch, root_log):
    smtp_mod = pytest.importorskip("botcore.ops.testing")
    pytest.importorskip("aiosmtpd")
    with smtp_mod.LocalSmtpServer(password=SMTP_PASSWORD) as smtp:
        for name, value in {**FAKE_CREDENTIALS, **smtp.env()}.items():
            monkeypatch.setenv(name, value)
        secrets = secrets_from_env()
        assert set(FAKE_CREDENTIALS) | {"SMTP_PASS"} <= set(secrets)

        configure_logging(root_log, max_bytes=1_000_000, backups=2)
        ledger_path = tmp_path / "data" / "ledger.db"
        with Ledger.open(ledger_path, starting_cash_usd=STARTING_CASH_USD, mode="paper") as book:
            trade(book, "o1", OrderSide.BUY, 2, 60_000.0, 1_700_000_000_000)
        from botcore.config import load_settings
        from botcore.market.sample import generate_sample_market

        store = tmp_path / "store"
        generate_sample_market(store, 0.05, 3, load_settings(None))

        runner = CliRunner()
        with Heartbeat(ledger_path, interval_s=0.05):
            for args in (
                ["preflight", "--ledger", str(ledger_path), "--data", str(store), "--log-dir", str(root_log)],
                ["status", "--ledger", str(ledger_path), "--json"],
                ["kill", "--ledger", str(ledger_path), "--why", "secrets drill"],
                ["kill", "--release", "--confirm", "--ledger", str(ledger_path)],
                ["ledger", "export", str(ledger_path), "--out", str(tmp_path / "exports")],
            ):
                result = runner.invoke(app, args)
                assert result.exit_code in (0, 1), (args, result.output)
                assert not scan_for_secrets([], secrets) and all(v not in result.output for v in secrets.values())

        notifier = Notifier.from_env(ledger=ledger_path)
        assert notifier.alert(RedFlag.WALLET_DISCREPANCY, "cash off by $2.00", "ledger 9,998 venue 10,000").sent
        reports = tmp_path / "reports"
        reports.mkdir()
        (reports / "daily.html").write_text("<h1>Daily report</h1><p>P&amp;L +12.50 USD</p>")
        assert notifier.send_report("daily report", (reports / "daily.html").read_text(), [reports / "daily.html"])
        assert len(smtp.wait_for(4)) == 4 and all(ok for _, ok in smtp.logins)  # kill, release, alert, report

        # a careless log line: the filter masks it
        logging.getLogger("botcore.careless").error("BloFin login failed for key %s secret %s",
                                                    os.environ["BLOFIN_API_KEY"], os.environ["BLOFIN_API_SECRET"])
        for handler in logging.getLogger().handlers:
            handler.flush()

    log_text = (root_log / "botcore.log").read_text()
    assert "BloFin login failed for key *** secret ***" in log_text
    assert "RED FLAG wallet_discrepancy" in log_text and "preflight kelly_bootstrap" in log_text
    findings = scan_for_secrets([root_log, ledger_path.parent, reports, tmp_path / "exports"], secrets)
    assert findings == [], [str(f) for f in findings]


def test_the_scan_finds_secrets_in_every_form_and_names_only_the_variable(tmp_path):
    secret = "fake-blofin-secret-ABCDEF123456"
    (tmp_path / "plain.log").write_text(f"header\nkey={secret}\n")
    (tmp_path / "b64.txt").write_bytes(base64.b64encode(f"user:{secret}".encode()[5:]))
    (tmp_path / "clean.txt").write_text("nothing to see")
    ledger_path = tmp_path / "db" / "ledger.db"
    with Ledger.open(ledger_path, starting_cash_usd=1.0) as book:
        book.set_meta("oops", {"api_secret": secret})

    findings = scan_for_secrets([tmp_path], {"BLOFIN_API_SECRET": secret})

    where = {os.path.basename(f.path): f.form for f in findings}
    assert where["plain.log"] == "plain" and where["b64.txt"] == "base64"
    assert any(name.startswith("ledger.db") for name in where)
    assert "clean.txt" not in where
    assert all(secret not in str(f) for f in findings)


def test_redaction_masks_values_not_names():
    secrets = {"SMTP_PASS": "hunter2-long", "BLOFIN_API_KEY": "abcdef123456"}
    assert redact_text("SMTP_PASS=hunter2-long key abcdef123456", secrets) == "SMTP_PASS=*** key ***"
    assert secrets_from_env({"SMTP_PASS": "hunter2-long", "SMTP_HOST": "mail.example.com", "X_TOKEN": "t0k3n-val",
                             "SHORT_KEY": "abc"}) == {"SMTP_PASS": "hunter2-long", "X_TOKEN": "t0k3n-val"}


def test_logs_rotate_and_stay_bounded(tmp_path):
    logger = logging.getLogger("botcore.test.rotation")
    logger.propagate = False
    handler = configure_logging(tmp_path, max_bytes=4_096, backups=2, logger=logger)
    try:
        again = configure_logging(tmp_path, max_bytes=4_096, backups=2, logger=logger)
        assert logger.handlers == [again], "configuring twice must not duplicate the handler"
        for i in range(2_000):
            logger.info("cycle %05d: nothing to do, heartbeat ok", i)
    finally:
        for h in list(logger.handlers):
            logger.removeHandler(h)
            h.close()
        logger.propagate = True
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["botcore.log", "botcore.log.1", "botcore.log.2"]
    assert all((tmp_path / f).stat().st_size <= 4_096 for f in files)
    assert "cycle 01999" in (tmp_path / "botcore.log").read_text()
    assert handler.baseFilename == str((tmp_path / "botcore.log").resolve())
