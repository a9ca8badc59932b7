"""Reports that send themselves: the daily report and the periodic review, rendered and emailed by the running bot.

:class:`ScheduledReports` is told the time of every finished cycle
(:meth:`ScheduledReports.after_cycle`, called by the loop on the run's own
clock: a replay's simulated time, a live run's wall clock) and decides what is
due:

- the **daily report** once a UTC day, at ``schedules.daily_report_utc``
  (``HH:MM``): the review pipeline over the day that just ended;
- the **review** every ``schedules.review_days`` since the run's first cycle
  (or the last review): the same pipeline over that many days.

Both go through the pipeline of ``botcore review`` (``notebooks/pipelines/review.ipynb``
run by :func:`pipelines.run_review`, passed in as ``run_pipeline``: the executed
notebook and its HTML kept under ``out_dir``) and are emailed with :meth:`botcore.ops.notify.Notifier.send_report`.
A due report is queued and the cycle goes on: a worker thread renders and
sends it, retrying the email with a growing wait when SMTP fails (the SMTP
settings are re-read from the environment at every attempt). Every step is
recorded in the ledger: meta ``reports:schedule`` (what was last due, so a
restart neither repeats nor skips a report), ``reports:runs`` (each report:
kind, window, HTML, attempts, sent or the last error) and the notifier's
``reports:log`` (each email).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botcore.clock import DAY_MS, utc
from botcore.ledger import Ledger
from botcore.ops.notify import Notifier

logger = logging.getLogger(__name__)

SCHEDULE_KEY = "reports:schedule"
RUNS_KEY = "reports:runs"
RUNS_LIMIT = 100


@dataclass
class DueReport:
    """One report to render and send: ``kind`` (``daily`` or ``review``), its window and its attempts."""

    kind: str
    start_ms: int
    end_ms: int
    attempts: int = 0
    html: str | None = None
    summary: dict = field(default_factory=dict)

    @property
    def days(self) -> float:
        return (self.end_ms - self.start_ms) / DAY_MS


def parse_hhmm(text: str) -> int:
    """Return ``HH:MM`` (UTC) as milliseconds after midnight; ValueError naming the value otherwise."""
    try:
        hours, minutes = (int(x) for x in str(text).split(":"))
        if not (0 <= hours < 24 and 0 <= minutes < 60):
            raise ValueError
    except ValueError:
        raise ValueError(f"daily_report_utc {text!r}: use HH:MM (UTC), e.g. 00:05") from None
    return (hours * 60 + minutes) * 60_000


class ScheduledReports:
    """Queue the daily report and the review when due on the run's clock; render and email them in a worker thread.

    Parameters
    ----------
    ledger_path : path
        The run's ledger (read by the pipeline; the schedule and outcomes are recorded in its meta).
    out_dir : path
        Root of the report runs (``<out_dir>/review/<UTC stamp>/``).
    daily_at : str
        ``HH:MM`` UTC of the daily report (``schedules.daily_report_utc``); None: no daily report.
    review_every_ms : int
        Interval of the review (``schedules.review_days``); 0: no review.
    config_dir : str, optional
        Configuration directory passed to the pipeline.
    retry_attempts, retry_wait_s : int, float
        Email attempts per report and the first wait between them (doubling each time).
    run_pipeline : callable
        ``(ledger_path, days, end_ms, runs_root, config_dir) -> RunResult`` with ``run_dir`` and
        ``html``: :func:`pipelines.run_review` (the pipelines sit above botcore, so the caller passes it).
    notifier_factory : callable, optional
        Returns the Notifier of an attempt (default ``Notifier.from_env(ledger=ledger_path)``).
    """

    def __init__(self, ledger_path: str | os.PathLike, out_dir: str | os.PathLike, *,
                 run_pipeline: Callable[..., Any], daily_at: str | None = "00:05",
                 review_every_ms: int = 7 * DAY_MS, config_dir: str | None = None, retry_attempts: int = 5,
                 retry_wait_s: float = 30.0, notifier_factory: Callable[[], Notifier] | None = None) -> None:
        self.ledger_path = str(ledger_path)
        self.out_dir = Path(out_dir)
        self.daily_ms = None if daily_at is None else parse_hhmm(daily_at)
        self.review_every_ms = int(review_every_ms)
        self.config_dir = config_dir
        self.retry_attempts = int(retry_attempts)
        self.retry_wait_s = float(retry_wait_s)
        self.run_pipeline = run_pipeline
        self.notifier_factory = notifier_factory or (lambda: Notifier.from_env(ledger=self.ledger_path))
        self._queue: queue.Queue[DueReport | None] = queue.Queue()
        self._stop = threading.Event()
        self._state: dict[str, int] | None = None
        self._thread = threading.Thread(target=self._work, name="scheduled-reports", daemon=True)
        self._thread.start()

    @classmethod
    def from_settings(cls, ledger_path: str | os.PathLike, settings: Any, out_dir: str | os.PathLike,
                      **kwargs: Any) -> ScheduledReports:
        """Build from ``settings.schedules`` (``daily_report_utc``, ``review_days``)."""
        schedules = settings.schedules
        return cls(ledger_path, out_dir, daily_at=getattr(schedules, "daily_report_utc", "00:05"),
                   review_every_ms=int(schedules.review_days) * DAY_MS, **kwargs)

    # ------------------------------------------------------------------ the loop's side

    def after_cycle(self, t_ms: int, ledger: Ledger | None = None) -> list[DueReport]:
        """Queue the reports due at cycle time ``t_ms`` and return them; never raises, never waits for a report."""
        try:
            due = self.due(int(t_ms), ledger)
        except Exception:  # noqa: BLE001 - a report must never stop trading
            logger.exception("scheduled reports: cannot decide what is due at %s", utc(t_ms))
            return []
        for report in due:
            logger.info("scheduled %s report due: %s .. %s", report.kind, utc(report.start_ms, suffix=False),
                        utc(report.end_ms))
            self._queue.put(report)
        return due

    def due(self, t_ms: int, ledger: Ledger | None = None) -> list[DueReport]:
        """Return the reports due at ``t_ms`` and record them as due in the ledger (meta ``reports:schedule``)."""
        state = self._load_state(ledger)
        out: list[DueReport] = []
        if self.daily_ms is not None:
            at = t_ms - t_ms % DAY_MS + self.daily_ms
            if at > t_ms:
                at -= DAY_MS
            last = state.get("daily_ms")
            if last is None:
                state["daily_ms"] = at  # the first cycle: the next daily time is the first report
            elif at > last:
                out.append(DueReport("daily", at - DAY_MS, at))
                state["daily_ms"] = at
        if self.review_every_ms > 0:
            last = state.get("review_ms")
            if last is None:
                state["review_ms"] = t_ms
            elif t_ms - last >= self.review_every_ms:
                out.append(DueReport("review", t_ms - self.review_every_ms, t_ms))
                state["review_ms"] = t_ms
        if out or self._state is None or state != self._state:
            self._save_state(state, ledger)
        self._state = dict(state)
        return out

    def _load_state(self, ledger: Ledger | None) -> dict[str, int]:
        if self._state is not None:
            return dict(self._state)
        if ledger is not None:
            value = ledger.get_meta(SCHEDULE_KEY)
        else:
            with Ledger.open(self.ledger_path, readonly=True) as led:
                value = led.get_meta(SCHEDULE_KEY)
        return {k: int(v) for k, v in (value or {}).items() if v is not None}

    def _save_state(self, state: dict[str, int], ledger: Ledger | None) -> None:
        if ledger is not None:
            ledger.set_meta(SCHEDULE_KEY, state)
            return
        with Ledger.open(self.ledger_path) as led:
            led.set_meta(SCHEDULE_KEY, state)

    # ------------------------------------------------------------------ the worker

    def _work(self) -> None:
        while True:
            report = self._queue.get()
            try:
                if report is None:
                    return
                self._render_and_send(report)
            except Exception:  # noqa: BLE001 - logged and recorded; the next report still goes
                logger.exception("scheduled %s report failed", report.kind if report else "?")
            finally:
                self._queue.task_done()

    def _render_and_send(self, report: DueReport) -> None:
        try:
            result = self.run_pipeline(self.ledger_path, report.days, report.end_ms, self.out_dir, self.config_dir)
        except Exception as exc:  # noqa: BLE001 - PipelineError keeps the partial notebook
            self._record(report, sent=False, error=f"pipeline failed: {exc}")
            return
        report.html = str(result.html)
        summary_path = Path(result.run_dir) / "summary.json"
        report.summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
        subject, text = self.subject(report)
        html = Path(report.html).read_text(encoding="utf-8")
        wait = self.retry_wait_s
        error = None
        for attempt in range(1, self.retry_attempts + 1):
            report.attempts = attempt
            notifier = self.notifier_factory()
            if not notifier.enabled:
                error = "email not configured (SMTP_HOST, SMTP_USER, SMTP_PASS, REPORT_TO_EMAIL)"
                break
            if notifier.send_report(subject, html, [report.html], text=text):
                self._record(report, sent=True)
                return
            error = "SMTP failed (see reports:log)"
            self._record(report, sent=False, error=f"attempt {attempt} of {self.retry_attempts}: {error}")
            if attempt < self.retry_attempts and self._stop.wait(wait):
                break
            wait *= 2
        self._record(report, sent=False, error=error)

    def subject(self, report: DueReport) -> tuple[str, str]:
        """Return the email's subject and plain-text summary."""
        s = report.summary
        span = f"{report.days:g}-day" if report.days >= 1 else f"{report.days * 24:g}-hour"
        name = "daily report" if report.kind == "daily" else f"{span} review"
        window = f"{utc(report.start_ms, suffix=False)} .. {utc(report.end_ms)}"
        if s:
            headline = (f"{s.get('n_trades', 0)} trades, net {s.get('net_pnl_usd', 0.0):+,.2f} USD, "
                        f"verdict {s.get('verdict', '?')}")
        else:
            headline = "rendered"
        return f"{name} {window}: {headline}", f"{name} of {self.ledger_path}, {window}: {headline}. HTML attached."

    def _record(self, report: DueReport, *, sent: bool, error: str | None = None) -> None:
        entry = {"ts_ms": time.time_ns() // 1_000_000, "kind": report.kind, "start_ms": report.start_ms,
                 "end_ms": report.end_ms, "html": report.html, "attempts": report.attempts, "sent": sent,
                 "error": error}
        (logger.info if sent else logger.warning)("scheduled %s report %s: %s", report.kind,
                                                  "sent" if sent else "not sent", error or report.html)
        try:
            with Ledger.open(self.ledger_path, timeout_s=30.0) as led:
                with led.transaction():
                    runs = led.get_meta(RUNS_KEY) or []
                    led.set_meta(RUNS_KEY, (runs + [entry])[-RUNS_LIMIT:])
        except Exception:  # noqa: BLE001
            logger.exception("scheduled reports: cannot record the outcome in %s", self.ledger_path)

    # ------------------------------------------------------------------ lifecycle

    def wait_idle(self, timeout_s: float = 300.0) -> bool:
        """Block until every queued report is done (tests, shutdown); return False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.05)
        return False

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the worker after the report in hand (at most ``timeout_s``); queued reports are dropped, logged."""
        pending = self._queue.qsize()
        if pending:
            logger.warning("scheduled reports: %d report(s) still queued at shutdown are not sent", pending)
        self._stop.set()
        self._queue.put(None)
        self._thread.join(timeout_s)


def report_runs(ledger: Ledger) -> list[dict]:
    """Return the scheduled reports recorded in the ledger (meta ``reports:runs``), oldest first."""
    return list(ledger.get_meta(RUNS_KEY) or [])


__all__ = ["DueReport", "ScheduledReports", "parse_hhmm", "report_runs"]
