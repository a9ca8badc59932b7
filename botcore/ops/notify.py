"""Notifications: red-flag alerts and reports by email (SMTP with STARTTLS), recorded in the ledger.

Configuration comes from the environment only:

``SMTP_HOST``
    ``host`` or ``host:port`` (port 587 by default; 465 means implicit TLS).
``SMTP_USER``, ``SMTP_PASS``
    Login (after STARTTLS; the password is never logged or stored).
``REPORT_TO_EMAIL``
    Recipient(s), comma separated.
``SMTP_FROM`` (optional)
    Sender; default ``SMTP_USER`` when it is an address, else ``botcore@<host>``.
``SMTP_CA_FILE`` (optional)
    A CA bundle to trust besides the system's (a private relay's certificate).

When any of the four required variables is missing, notifications are
disabled: one log line says so, alerts are still logged and recorded, nothing
crashes. A server that does not offer STARTTLS is refused (credentials never
travel in clear).

Alerts (:meth:`Notifier.alert`) are rate limited per kind: the first alert of a
kind is sent, the next ones within ``window_s`` (15 minutes by default) are
counted, not sent, and the next message sent for that kind says how many were
suppressed and since when. With a ledger the limiter's state lives in meta
``alerts:state``, so the loop, the supervisor and a restarted bot share it (a
crash loop does not mail once per restart). Every alert is appended to meta
``alerts:log`` (the last :data:`ALERT_LOG_LIMIT`: time, kind, subject, body,
sent, suppressed, error) for the dashboard; reports to meta ``reports:log``.

Use from the loop: ``notifier = Notifier.from_env(ledger=ledger_path)`` once,
then ``notifier.alert(RedFlag.CIRCUIT_BREAKER, "daily loss limit", body)``.
Sending blocks for up to ``timeout_s``; from asyncio call it through
``asyncio.to_thread`` (given a ledger *path* the notifier opens its own
connection per call, so it is safe from any thread).
"""

from __future__ import annotations

import logging
import mimetypes
import os
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from enum import StrEnum
from pathlib import Path
from typing import Any

from botcore.ledger import Ledger

logger = logging.getLogger(__name__)

REQUIRED_ENV = ("SMTP_HOST", "SMTP_USER", "SMTP_PASS", "REPORT_TO_EMAIL")
DEFAULT_PORT = 587
DEFAULT_WINDOW_S = 900.0
STATE_KEY = "alerts:state"
LOG_KEY = "alerts:log"
REPORTS_KEY = "reports:log"
ALERT_LOG_LIMIT = 500
REPORT_LOG_LIMIT = 100
BODY_LIMIT = 4000


class RedFlag(StrEnum):
    """Kinds of red-flag alerts (the rate limiter's keys)."""

    KELLY_ZERO = "kelly_zero"  # Kelly size 0 for every enabled strategy
    MISSED_HEARTBEATS = "missed_heartbeats"
    WALLET_DISCREPANCY = "wallet_discrepancy"  # ledger invariant or wallet off by more than $1
    CIRCUIT_BREAKER = "circuit_breaker"
    KILL_SWITCH = "kill_switch"
    RECONCILIATION_MISMATCH = "reconciliation_mismatch"
    REPEATED_OUTAGES = "repeated_outages"
    BOT_CRASHED = "bot_crashed"
    RESTART_BUDGET_EXHAUSTED = "restart_budget_exhausted"
    PREFLIGHT_FAILED = "preflight_failed"
    OPERATIONAL_ERROR = "operational_error"


_disabled_logged = False
_disabled_lock = threading.Lock()


def _log_disabled_once(missing: list[str]) -> None:
    global _disabled_logged
    with _disabled_lock:
        if _disabled_logged:
            return
        _disabled_logged = True
    logger.warning("email notifications disabled: %s not set (alerts are still logged and recorded in the ledger)",
                   ", ".join(missing))


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send mail. Build it with :meth:`from_env`; the password never shows in ``repr``."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    to_addrs: tuple[str, ...]
    from_addr: str
    ca_file: str | None = None
    timeout_s: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SmtpConfig | None:
        """Read ``SMTP_HOST``, ``SMTP_USER``, ``SMTP_PASS``, ``REPORT_TO_EMAIL`` (and the optional ones).

        Returns None, after one log line naming what is missing, when notifications are not configured.
        """
        env = os.environ if env is None else env
        missing = [name for name in REQUIRED_ENV if not (env.get(name) or "").strip()]
        if missing:
            _log_disabled_once(missing)
            return None
        host_port = env["SMTP_HOST"].strip()
        host, _, port_text = host_port.rpartition(":") if ":" in host_port else (host_port, "", "")
        try:
            port = int(port_text) if port_text else DEFAULT_PORT
        except ValueError:
            logger.error("email notifications disabled: SMTP_HOST=%r has a port that is not a number", host_port)
            return None
        user = env["SMTP_USER"].strip()
        to_addrs = tuple(a.strip() for a in env["REPORT_TO_EMAIL"].split(",") if a.strip())
        from_addr = (env.get("SMTP_FROM") or "").strip() or (user if "@" in user else f"botcore@{socket.gethostname()}")
        return cls(host=host, port=port, user=user, password=env["SMTP_PASS"], to_addrs=to_addrs,
                   from_addr=from_addr, ca_file=(env.get("SMTP_CA_FILE") or None))


@dataclass(frozen=True, slots=True)
class AlertResult:
    """What :meth:`Notifier.alert` did: sent, suppressed by the rate limit, or failed (``error``)."""

    kind: str
    ts_ms: int
    sent: bool
    suppressed: bool
    suppressed_before: int  # repeats counted since the last message, reported in this one
    error: str | None = None


def _now_ms(clock: Callable[[], float]) -> int:
    return int(clock() * 1000)


def _iso(ts_ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts_ms / 1000))


class Notifier:
    """Send alerts and reports; rate limit alerts per kind; record both in the ledger.

    Parameters
    ----------
    config : SmtpConfig or None
        None disables email (alerts are still logged and recorded).
    ledger : Ledger, path or None
        Where alerts are recorded and the rate limiter's state lives. A
        :class:`Ledger` is used as is (same thread); a path is opened per call.
        Without one the state is in memory.
    window_s : float
        Rate-limit window per alert kind.
    ssl_context : ssl.SSLContext, optional
        For STARTTLS (default: the system's trust store plus ``config.ca_file``).
    clock : callable
        Wall clock in seconds (tests substitute a fake one).
    """

    def __init__(
        self,
        config: SmtpConfig | None,
        *,
        ledger: Ledger | str | os.PathLike[str] | None = None,
        window_s: float = DEFAULT_WINDOW_S,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.time,
        source: str | None = None,
    ) -> None:
        self.config = config
        self.ledger = ledger
        self.window_s = float(window_s)
        self._ssl_context = ssl_context
        self.clock = clock
        self.source = source or f"{socket.gethostname()} pid {os.getpid()}"
        self._state: dict[str, dict] = {}
        self._log: list[dict] = []
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **kwargs: Any) -> Notifier:
        """Return a notifier configured from the environment (disabled when it is not)."""
        return cls(SmtpConfig.from_env(env), **kwargs)

    @property
    def enabled(self) -> bool:
        """Return True when email is configured."""
        return self.config is not None

    # ------------------------------------------------------------------ ledger plumbing

    @contextmanager
    def _ledger(self) -> Iterator[Ledger | None]:
        if self.ledger is None:
            yield None
        elif isinstance(self.ledger, Ledger):
            yield self.ledger
        else:
            with Ledger.open(self.ledger, timeout_s=5.0) as opened:
                yield opened

    def _update_state(self, kind: str, ts_ms: int) -> tuple[bool, int, int | None]:
        """Decide send or suppress for ``kind`` at ``ts_ms``; return (send, suppressed_before, since_ms)."""

        def decide(state: dict) -> tuple[bool, int, int | None]:
            entry = dict(state.get(kind) or {})
            last = entry.get("last_sent_ms")
            if last is not None and ts_ms - int(last) < self.window_s * 1000:
                entry["suppressed"] = int(entry.get("suppressed", 0)) + 1
                entry.setdefault("first_suppressed_ms", ts_ms)
                if entry.get("first_suppressed_ms") is None:
                    entry["first_suppressed_ms"] = ts_ms
                state[kind] = entry
                return False, entry["suppressed"], entry["first_suppressed_ms"]
            before, since = int(entry.get("suppressed", 0)), entry.get("first_suppressed_ms")
            state[kind] = {"last_sent_ms": ts_ms, "suppressed": 0, "first_suppressed_ms": None,
                           "previous_sent_ms": last}
            return True, before, since

        try:
            with self._ledger() as book:
                if book is not None:
                    with book.transaction():
                        state = dict(book.get_meta(STATE_KEY, {}) or {})
                        out = decide(state)
                        book.set_meta(STATE_KEY, state)
                        return out
        except Exception as exc:  # noqa: BLE001 - an alert must go out even when the ledger is broken
            logger.error("alerts: ledger unavailable for the rate limiter (%s); using memory", exc)
        with self._lock:
            return decide(self._state)

    def _undo_send(self, kind: str, suppressed_before: int, since_ms: int | None) -> None:
        """After a failed send, restore the limiter so the next alert of ``kind`` tries again."""

        def undo(state: dict) -> None:
            entry = dict(state.get(kind) or {})
            entry["last_sent_ms"] = entry.pop("previous_sent_ms", None)
            entry["suppressed"] = suppressed_before + 1 + int(entry.get("suppressed", 0))
            entry["first_suppressed_ms"] = since_ms if since_ms is not None else entry.get("first_suppressed_ms")
            state[kind] = entry

        try:
            with self._ledger() as book:
                if book is not None:
                    with book.transaction():
                        state = dict(book.get_meta(STATE_KEY, {}) or {})
                        undo(state)
                        book.set_meta(STATE_KEY, state)
                        return
        except Exception as exc:  # noqa: BLE001
            logger.error("alerts: ledger unavailable for the rate limiter (%s)", exc)
        with self._lock:
            undo(self._state)

    def _record(self, key: str, limit: int, entry: dict) -> None:
        try:
            with self._ledger() as book:
                if book is not None:
                    with book.transaction():
                        log = list(book.get_meta(key, []) or [])
                        log.append(entry)
                        book.set_meta(key, log[-limit:])
                    return
        except Exception as exc:  # noqa: BLE001
            logger.error("alerts: cannot record in the ledger (%s)", exc)
        with self._lock:
            self._log.append(entry)
            del self._log[:-limit]

    # ------------------------------------------------------------------ alerts

    def alert(self, kind: str, subject: str, body: str = "", *, detail: Mapping[str, Any] | None = None,
              severity: str = "red_flag") -> AlertResult:
        """Raise a red flag: log it, record it, and email it unless rate limited.

        Parameters
        ----------
        kind : str
            A :class:`RedFlag` (or any short key): the rate limiter counts per kind.
        subject : str
            One line, what happened.
        body : str
            Details for the operator (no secrets: callers never pass credentials).
        detail : mapping, optional
            JSON-able facts recorded with the alert.
        severity : str
            ``red_flag`` (default) or ``notice`` (e.g. the kill switch released): the
            subject prefix and the log level.

        Returns
        -------
        AlertResult
        """
        kind = str(kind)
        ts_ms = _now_ms(self.clock)
        send, before, since_ms = self._update_state(kind, ts_ms)
        error = None
        label = "RED FLAG" if severity == "red_flag" else severity.upper()
        if send:
            logger.log(logging.ERROR if severity == "red_flag" else logging.WARNING, "%s %s: %s", label, kind, subject)
            if self.enabled:
                message = self._alert_message(kind, subject, body, ts_ms, before, since_ms, label)
                try:
                    self._send(message)
                except Exception as exc:  # noqa: BLE001 - any failure to mail is reported, never raised
                    error = f"{type(exc).__name__}: {exc}"
                    logger.error("alert %s: email not sent: %s", kind, error)
                    self._undo_send(kind, before, since_ms)
        else:
            logger.warning("%s %s (repeat %d within %.0f s, email suppressed): %s", label, kind, before,
                           self.window_s, subject)
        sent = send and self.enabled and error is None
        result = AlertResult(kind, ts_ms, sent, not send, before if send else 0, error)
        self._record(LOG_KEY, ALERT_LOG_LIMIT, {
            "ts_ms": ts_ms, "kind": kind, "subject": subject, "body": body[:BODY_LIMIT],
            "detail": dict(detail or {}), "sent": sent, "suppressed": not send,
            "suppressed_before": result.suppressed_before, "email": self.enabled, "error": error,
            "severity": severity, "source": self.source,
        })
        return result

    def _alert_message(self, kind: str, subject: str, body: str, ts_ms: int, before: int,
                       since_ms: int | None, label: str = "RED FLAG") -> EmailMessage:
        title = f"[botcore] {label} {kind}: {subject}"
        if before:
            title += f" (+{before} suppressed)"
        lines = [f"botcore {label.lower()}: {kind}", subject, ""]
        if body:
            lines += [body, ""]
        lines += [f"time: {_iso(ts_ms)}", f"source: {self.source}"]
        if self.ledger is not None:
            lines.append(f"ledger: {self.ledger.path if isinstance(self.ledger, Ledger) else self.ledger}")
        if before:
            lines.append(f"{before} similar alerts ({kind}) were suppressed since "
                         f"{_iso(since_ms) if since_ms else 'the last message'} "
                         f"(at most one message per kind every {self.window_s:.0f} s).")
        message = self._message(title)
        message["X-Botcore-Kind"] = kind
        message.set_content("\n".join(lines) + "\n")
        return message

    # ------------------------------------------------------------------ reports

    def send_report(
        self,
        subject: str,
        html: str,
        attachments: Iterable[str | os.PathLike[str] | tuple[str, bytes]] = (),
        *,
        text: str | None = None,
    ) -> bool:
        """Email a report (the daily report, the 7-day review): HTML with a text fallback, plus attachments.

        Parameters
        ----------
        subject : str
            Subject line (prefixed with ``[botcore]``).
        html : str
            The report.
        attachments : iterable
            File paths, or ``(filename, bytes)`` pairs.
        text : str, optional
            Plain-text alternative (default: a pointer to the HTML part).

        Returns
        -------
        bool
            True when sent; False when email is disabled or sending failed (logged and recorded).
        """
        ts_ms = _now_ms(self.clock)
        names: list[str] = []
        error = None
        if self.enabled:
            message = self._message(f"[botcore] {subject}")
            message.set_content(text or f"{subject}\n\nThis report is in HTML; open the HTML part or attachment.\n")
            message.add_alternative(html, subtype="html")
            try:
                for item in attachments:
                    if isinstance(item, tuple):
                        name, data = item
                    else:
                        path = Path(item)
                        name, data = path.name, path.read_bytes()
                    ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
                    maintype, subtype = ctype.split("/", 1)
                    message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
                    names.append(name)
                self._send(message)
            except Exception as exc:  # noqa: BLE001
                error = f"{type(exc).__name__}: {exc}"
                logger.error("report %r not sent: %s", subject, error)
        else:
            logger.info("report %r not emailed (notifications disabled)", subject)
        sent = self.enabled and error is None
        self._record(REPORTS_KEY, REPORT_LOG_LIMIT, {"ts_ms": ts_ms, "subject": subject, "attachments": names,
                                                     "sent": sent, "error": error})
        if sent and self.config is not None:
            logger.info("report %r sent to %d recipient(s)", subject, len(self.config.to_addrs))
        return sent

    # ------------------------------------------------------------------ SMTP

    def _message(self, subject: str) -> EmailMessage:
        assert self.config is not None
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = self.config.from_addr
        message["To"] = ", ".join(self.config.to_addrs)
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = make_msgid(domain="botcore.local")
        return message

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is not None:
            return self._ssl_context
        assert self.config is not None
        return ssl.create_default_context(cafile=self.config.ca_file)

    def _send(self, message: EmailMessage) -> None:
        """Deliver ``message``: connect, STARTTLS (or implicit TLS on 465), log in, send."""
        cfg = self.config
        assert cfg is not None
        context = self._context()
        if cfg.port == 465:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout_s, context=context)
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_s)
        with smtp:
            smtp.ehlo()
            if cfg.port != 465:
                if not smtp.has_extn("starttls"):
                    raise smtplib.SMTPNotSupportedError(
                        f"{cfg.host}:{cfg.port} does not offer STARTTLS; refusing to send credentials in clear")
                smtp.starttls(context=context)
                smtp.ehlo()
            smtp.login(cfg.user, cfg.password)
            smtp.send_message(message, from_addr=cfg.from_addr, to_addrs=list(cfg.to_addrs))


def alert_log(ledger: Ledger, limit: int | None = None) -> list[dict]:
    """Return the recorded alerts, oldest first (the last ``limit`` when given)."""
    log = list(ledger.get_meta(LOG_KEY, []) or [])
    return log[-limit:] if limit else log
