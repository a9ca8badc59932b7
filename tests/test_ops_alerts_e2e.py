"""Red flags end to end: a real replay loop whose feed loses order books mails the operator through real SMTP.

The loop is built by :func:`botcore.engine.loop.replay_loop` with its default
monitor (``RedFlagMonitor(Notifier.from_env(ledger=ledger))``) while the
environment points ``SMTP_*`` at a local aiosmtpd server that requires
STARTTLS and AUTH. Two of the three symbols lose their order book three times
for ten minutes: each gap is a streak of DATA_OUTAGE cycles long enough to
raise ``repeated_outages`` (5 cycles in a row with half the symbols held back),
so the run raises the flag three times in a few wall-clock seconds. One mail
must arrive, with the flag's subject, and the other two must be suppressed by
the rate limit and recorded as such.
"""

from __future__ import annotations

import time

import pytest

pytest.importorskip("aiosmtpd")
pytest.importorskip("cryptography")

from botcore.config import load_settings  # noqa: E402
from botcore.engine.backtest import fresh_ledger, restrict_settings  # noqa: E402
from botcore.engine.loop import replay_loop  # noqa: E402
from botcore.ledger import Ledger  # noqa: E402
from botcore.market.sample import DEFAULT_START_MS, generate_sample_market  # noqa: E402
from botcore.market.store import Store  # noqa: E402
from botcore.ops.notify import alert_log  # noqa: E402
from botcore.ops.redflags import RedFlagMonitor  # noqa: E402
from botcore.ops.testing import LocalSmtpServer  # noqa: E402
from botcore.strategy.enums import Reason  # noqa: E402
from tests.conftest import CONFIG_DIR  # noqa: E402

MIN = 60_000
DAY = 86_400_000
SEED = 3
SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT")
BOOKLESS = SYMBOLS[:2]  # two of three: over the monitor's 50% share
START = DEFAULT_START_MS + DAY + MIN
CYCLES = 90
END = START + (CYCLES - 1) * MIN
GAPS = [(START + a * MIN, START + (a + 10) * MIN) for a in (10, 35, 60)]  # ten minutes without a book, three times
WARMUP = 1440  # a full day: with less, daily volatility is not yet known and every symbol is held back as an outage
SUBJECT = "[botcore] RED FLAG repeated_outages: data outage for 5 cycles in a row"


@pytest.fixture(scope="module")
def settings():
    return restrict_settings(load_settings(CONFIG_DIR), SYMBOLS)


@pytest.fixture(scope="module")
def market(tmp_path_factory, settings):
    root = tmp_path_factory.mktemp("alerts_e2e") / "market"
    generate_sample_market(root, 1.1, SEED, settings)
    store = Store(root)
    for symbol in BOOKLESS:
        book = store.read("book", symbol)
        keep = ~book["ts"].between(GAPS[0][0], GAPS[0][1] - 1)
        for lo, hi in GAPS[1:]:
            keep &= ~book["ts"].between(lo, hi - 1)
        store.path("book", symbol).unlink()
        store.write("book", symbol, book[keep])
    return root


@pytest.fixture
def smtp():
    with LocalSmtpServer() as server:
        yield server


def test_repeated_book_outages_in_a_replay_mail_one_red_flag_over_starttls(market, settings, smtp, tmp_path,
                                                                           monkeypatch):
    for name, value in smtp.env(to="ops@example.com").items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "ledger.db"
    led = fresh_ledger(path, float(settings.venue.starting_equity_usd), "paper")
    loop, _window = replay_loop(market, settings, led, start_ms=START, end_ms=END, run_seed=SEED,
                                warmup_bars=WARMUP)
    try:
        assert isinstance(loop.monitor, RedFlagMonitor) and loop.monitor.notifier.enabled
        streaks = []
        for cycle in loop.feed:
            loop.step_cycle(cycle)
            streaks.append(loop.monitor.outage_streak)
        decisions = led.decisions()
    finally:
        loop.close()
        led.close()

    assert len(streaks) == CYCLES
    # the outages really happened, to the symbols without a book and only inside the gaps
    outage = decisions[(decisions["reason_code"] == int(Reason.data_outage))]
    assert set(outage["symbol"]) == set(BOOKLESS)
    assert all(any(lo <= t < hi + 3 * MIN for lo, hi in GAPS) for t in outage["ts_ms"])
    assert max(streaks) >= 5 and sum(1 for a, b in zip(streaks, streaks[1:]) if b == 5 and a == 4) == 3

    (mail,) = smtp.wait_for(1)
    assert mail.subject == SUBJECT
    assert mail.encrypted and mail.login == smtp.user
    assert mail.rcpt_tos == ("ops@example.com",)
    assert mail.message["X-Botcore-Kind"] == "repeated_outages"
    body = mail.text()
    assert "held back by DATA_OUTAGE" in body and all(s in body for s in BOOKLESS) and SYMBOLS[2] not in body
    assert str(path) in body

    time.sleep(0.5)  # a second message, had one been sent, would have arrived by now
    assert len(smtp.messages) == 1, [m.subject for m in smtp.messages]
    with Ledger.open(path, readonly=True) as book:
        log = [e for e in alert_log(book) if e["kind"] == "repeated_outages"]
    assert [(e["sent"], e["suppressed"]) for e in log] == [(True, False), (False, True), (False, True)]
    assert all(e["email"] and e["error"] is None for e in log)
