"""The supervisor: run the bot as a child process, restart it when it crashes or its heartbeats stop.

Liveness is heartbeat freshness, never trading activity: the loop writes a
heartbeat every ``schedules.heartbeat_seconds`` (20 s) even when the market
is silent, so a bot that trades nothing for twelve hours is healthy. The
supervisor reads the ledger's ``heartbeats`` table and restarts the child when

- it exits with a non-zero code or dies from a signal (a crash), or
- no live beat of its component (``ok``/``idle``/``degraded``/``starting``) has
  arrived for ``missed_beats`` (3) intervals in a row, counted from the child's
  last live beat (or from its start, after a ``startup_grace_s`` allowance for
  the first beat). One or two missed beats are only logged. After a ``stopped``
  beat (a clean shutdown under way) the child has ``shutdown_grace_s`` to exit. A beat is a new
  row (higher ``seq``) timed by the supervisor's clock when it sees it, so a
  replay that stamps beats with simulated time, or a skewed clock, cannot fool it.
  The heartbeat also writes each beat to its beat file (``<ledger>.engine.beat``,
  see :mod:`botcore.ops.heartbeat`), which never waits for the ledger's write
  lock; a new beat in either counts, so a bot busy inside a long ledger
  transaction is not taken for a hung one.

A hung child is sent SIGTERM (with SIGCONT, so a stopped process can act on
it), then SIGKILL after ``term_timeout_s`` (to its whole process group). Restarts wait an exponential backoff (``backoff_base_s``
doubling up to ``backoff_max_s``; reset after ``healthy_reset_s`` of healthy
running) and are limited to ``max_restarts`` within ``budget_window_s``; past the
budget the supervisor stops, alerts and exits with code 3. Every restart is
alerted through :class:`botcore.ops.notify.Notifier` (rate limited per kind)
and the supervisor's state is kept in ledger meta ``supervisor`` for
``botcore status``. A child that exits with code 0 (``--cycles N`` done, or a
clean stop after SIGTERM) is not restarted.

Stopping the supervisor (SIGTERM/SIGINT, or :meth:`Supervisor.stop`) stops the
child cleanly (SIGTERM, then SIGKILL) and exits 0.

For those who prefer systemd, an equivalent unit (restart on failure with a
rate limit; heartbeat checks stay with ``botcore supervise`` or a timer running
``botcore status`` whose non-zero exit means unhealthy)::

    [Unit]
    Description=botcore trading bot (paper)
    After=network-online.target
    Wants=network-online.target

    [Service]
    WorkingDirectory=/opt/botcore
    EnvironmentFile=/etc/botcore/env          # BLOFIN_*, SMTP_*, REPORT_TO_EMAIL; chmod 600
    ExecStart=/opt/botcore/.venv/bin/botcore supervise --ledger data/ledger.db -- --mode paper --ledger data/ledger.db
    KillSignal=SIGTERM
    TimeoutStopSec=60
    Restart=on-failure
    RestartSec=30
    StartLimitIntervalSec=3600
    StartLimitBurst=5
    MemoryMax=2G

    [Install]
    WantedBy=multi-user.target
"""

from __future__ import annotations

import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from botcore.ledger import Ledger
from botcore.ops.heartbeat import COMPONENT, LIVE_STATUSES, beat_file_path, latest_heartbeat, read_beat_file
from botcore.ops.notify import Notifier, RedFlag
from botcore.ops.secrets import redact_text

logger = logging.getLogger(__name__)

META_KEY = "supervisor"
EXIT_OK = 0
EXIT_BUDGET = 3


@dataclass(frozen=True)
class SupervisorPolicy:
    """How the supervisor judges liveness and paces restarts (times in seconds)."""

    heartbeat_s: float = 20.0
    missed_beats: int = 3
    startup_grace_s: float = 180.0
    max_restarts: int = 5
    budget_window_s: float | None = 3600.0
    backoff_base_s: float = 2.0
    backoff_max_s: float = 300.0
    healthy_reset_s: float = 600.0
    term_timeout_s: float = 15.0
    shutdown_grace_s: float = 60.0  # after a "stopped" beat, time to exit before it counts as hung
    poll_s: float | None = None  # default: heartbeat_s / 4, at most 1 s

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> SupervisorPolicy:
        """Take ``heartbeat_seconds`` and ``missed_heartbeats_for_restart`` from ``settings.schedules``."""
        s = settings.schedules
        values: dict[str, Any] = {"heartbeat_s": float(s.heartbeat_seconds),
                                  "missed_beats": int(s.missed_heartbeats_for_restart)}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def poll_interval_s(self) -> float:
        return self.poll_s if self.poll_s is not None else min(1.0, self.heartbeat_s / 4)

    def backoff(self, consecutive: int) -> float:
        """Return the wait before restart number ``consecutive`` (1-based) of a failure streak."""
        return min(self.backoff_max_s, self.backoff_base_s * 2 ** max(0, consecutive - 1))


@dataclass(frozen=True)
class RestartEvent:
    """One restart: why, when, the old child's pid and exit code, the wait before the new one."""

    ts_ms: int
    reason: str  # "crash" or "hang"
    pid: int
    exit_code: int | None
    detail: str
    backoff_s: float


@dataclass
class SupervisorResult:
    """What :meth:`Supervisor.run` ended with."""

    exit_code: int
    reason: str
    starts: int
    restarts: list[RestartEvent] = field(default_factory=list)
    last_child_exit: int | None = None


def liveness(
    now_ms: int, child_start_ms: int, last_live_ms: int | None, policy: SupervisorPolicy
) -> tuple[int, bool, str]:
    """Judge a child from its heartbeats: return ``(missed_beats, hung, detail)``.

    Before the first live beat the child has ``startup_grace_s`` to produce one;
    after it, ``missed_beats`` whole intervals without a live beat mean hung.
    """
    interval_ms = policy.heartbeat_s * 1000
    if last_live_ms is None:
        waited_s = (now_ms - child_start_ms) / 1000
        if waited_s > policy.startup_grace_s:
            return policy.missed_beats, True, f"no heartbeat {waited_s:.1f} s after start (grace {policy.startup_grace_s:g} s)"
        return 0, False, "starting"
    age_ms = now_ms - last_live_ms
    missed = int(math.floor(age_ms / interval_ms)) if age_ms > 0 else 0
    hung = missed >= policy.missed_beats
    detail = f"last live heartbeat {age_ms / 1000:.1f} s ago ({missed} missed at {policy.heartbeat_s:g} s)"
    return missed, hung, detail


def child_command(run_args: Sequence[str], *, python: str | None = None) -> list[str]:
    """Return the command that starts ``botcore run <run_args>`` with this interpreter."""
    return [python or sys.executable, "-m", "botcore", "run", *run_args]


def option_from_args(args: Sequence[str], option: str) -> str | None:
    """Return the value of ``option`` (``--name VALUE`` or ``--name=VALUE``) among command arguments, if any.

    The last occurrence wins, as it does for the command's own parser.
    """
    value = None
    for i, arg in enumerate(args):
        if arg == option and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(option + "="):
            value = arg.split("=", 1)[1]
    return value


def ledger_from_args(args: Sequence[str]) -> Path | None:
    """Return the ``--ledger`` value among ``botcore run`` arguments, if any."""
    value = option_from_args(args, "--ledger")
    return Path(value) if value is not None else None


def config_from_args(args: Sequence[str]) -> Path | None:
    """Return the ``--config`` value among ``botcore run`` arguments, if any (the bot's heartbeat schedule)."""
    value = option_from_args(args, "--config")
    return Path(value) if value is not None else None


class Supervisor:
    """Run ``argv`` as a child process and keep it alive (see the module docstring).

    Parameters
    ----------
    argv : sequence of str
        The child's command (:func:`child_command` for ``botcore run``).
    ledger_path : path
        The ledger the child writes its heartbeats to.
    policy : SupervisorPolicy
        Timing and budget.
    notifier : Notifier, optional
        Where restart alerts go (default: from the environment, recording in the ledger).
    component : str
        Heartbeat component of the child (``engine``).
    env, cwd :
        The child's environment and working directory (default: inherited).
    stdout, stderr :
        The child's output streams (default: inherited).
    """

    def __init__(
        self,
        argv: Sequence[str],
        ledger_path: str | os.PathLike[str],
        *,
        policy: SupervisorPolicy = SupervisorPolicy(),
        notifier: Notifier | None = None,
        component: str = COMPONENT,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        stdout: Any = None,
        stderr: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not argv:
            raise ValueError("argv: the child command is empty")
        self.argv = list(argv)
        self.ledger_path = Path(ledger_path)
        self.policy = policy
        self.notifier = notifier if notifier is not None else Notifier.from_env(ledger=self.ledger_path)
        self.component = component
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.stdout, self.stderr = stdout, stderr
        self.clock = clock
        self._stop = threading.Event()
        self._child: subprocess.Popen | None = None
        self._ledger: Ledger | None = None
        self.starts = 0
        self.restarts: list[RestartEvent] = []
        self._recent: deque[float] = deque()
        self._state: dict[str, Any] = {}

    # ------------------------------------------------------------------ control

    def stop(self) -> None:
        """Ask :meth:`run` to stop the child and return (thread- and signal-safe)."""
        self._stop.set()

    @property
    def child_pid(self) -> int | None:
        """Return the current child's pid (None between children)."""
        return self._child.pid if self._child is not None else None

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _open_ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger.open(self.ledger_path, timeout_s=10.0)
        return self._ledger

    def _save_state(self, **changes: Any) -> None:
        self._state.update(changes)
        self._state["updated_ms"] = self._now_ms()
        try:
            self._open_ledger().set_meta(META_KEY, self._state)
        except Exception as exc:  # noqa: BLE001 - the supervisor keeps supervising without the ledger
            logger.error("supervisor: cannot record state in %s: %s", self.ledger_path, exc)
            self._close_ledger()

    def _close_ledger(self) -> None:
        if self._ledger is not None:
            try:
                self._ledger.close()
            except Exception:  # noqa: BLE001
                pass
            self._ledger = None

    def _alert(self, kind: str, subject: str, body: str, detail: Mapping[str, Any]) -> None:
        try:
            self.notifier.alert(kind, subject, body, detail=detail)
        except Exception as exc:  # noqa: BLE001 - alerting must never stop the supervisor
            logger.error("supervisor: alert %s failed: %s", kind, exc)

    # ------------------------------------------------------------------ child process

    def _spawn(self) -> subprocess.Popen:
        self.starts += 1
        child = subprocess.Popen(
            self.argv, env=self.env, cwd=self.cwd, stdout=self.stdout, stderr=self.stderr,
            start_new_session=True,  # its own process group: stop it and its children together
        )
        logger.info("supervisor: started child pid %d (start %d)", child.pid, self.starts)
        self._save_state(state="running", child_pid=child.pid, child_started_ms=self._now_ms(), starts=self.starts)
        return child

    def _terminate(self, child: subprocess.Popen) -> int | None:
        """SIGTERM the child's process group, SIGKILL after ``term_timeout_s``; return its exit code."""
        if child.poll() is not None:
            return child.returncode
        for sig, wait_s in ((signal.SIGTERM, self.policy.term_timeout_s), (signal.SIGKILL, 10.0)):
            self._signal(child, sig)
            if sig == signal.SIGTERM:
                # a stopped child (SIGSTOP, Ctrl-Z, a frozen cgroup) acts on SIGTERM only once continued
                self._signal(child, signal.SIGCONT)
            try:
                return child.wait(wait_s)
            except subprocess.TimeoutExpired:
                logger.warning("supervisor: child %d ignored %s", child.pid, signal.Signals(sig).name)
        return child.poll()

    @staticmethod
    def _signal(child: subprocess.Popen, sig: int) -> None:
        """Send ``sig`` to the child's process group (to the child alone when the group is not ours)."""
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            child.send_signal(sig)

    def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` unless stopped; return True when stopped."""
        return self._stop.wait(max(0.0, seconds))

    # ------------------------------------------------------------------ main loop

    def run(self) -> SupervisorResult:
        """Supervise until the child exits cleanly, the budget is spent or :meth:`stop` is called."""
        policy = self.policy
        consecutive = 0
        self._state = {"pid": os.getpid(), "argv": [redact_text(a) for a in self.argv],
                       "heartbeat_s": policy.heartbeat_s, "missed_beats": policy.missed_beats,
                       "term_timeout_s": policy.term_timeout_s, "max_restarts": policy.max_restarts, "restarts": 0, "started_ms": self._now_ms()}
        logger.info("supervisor: heartbeat every %g s, restart after %d missed, budget %d restarts",
                    policy.heartbeat_s, policy.missed_beats, policy.max_restarts)
        try:
            while True:
                child = self._child = self._spawn()
                start_ms = self._now_ms()
                reason, detail, exit_code = self._watch(child, start_ms)
                self._child = None
                if reason == "stopped":
                    self._save_state(state="stopped", child_pid=None, last_exit=exit_code)
                    logger.info("supervisor: stopped; child exit code %s", exit_code)
                    return SupervisorResult(EXIT_OK, "stopped", self.starts, self.restarts, exit_code)
                if reason == "exited":
                    self._save_state(state="exited", child_pid=None, last_exit=exit_code)
                    logger.info("supervisor: child exited cleanly; not restarting")
                    return SupervisorResult(EXIT_OK, "exited", self.starts, self.restarts, exit_code)
                # a crash or a hang
                ran_s = (self._now_ms() - start_ms) / 1000
                consecutive = 1 if ran_s >= policy.healthy_reset_s else consecutive + 1
                now = self.clock()
                self._recent.append(now)
                if policy.budget_window_s is not None:
                    while self._recent and now - self._recent[0] > policy.budget_window_s:
                        self._recent.popleft()
                used = len(self._recent)
                if used > policy.max_restarts:
                    window = f"within {policy.budget_window_s:g} s" if policy.budget_window_s else "in total"
                    text = (f"the bot failed {used} times {window} (budget {policy.max_restarts} restarts); "
                            f"last failure: {reason} ({detail}). The supervisor has stopped; the bot is NOT running.")
                    logger.critical("supervisor: %s", text)
                    self._save_state(state="gave_up", child_pid=None, last_exit=exit_code, last_reason=reason,
                                     last_detail=detail)
                    self._alert(RedFlag.RESTART_BUDGET_EXHAUSTED, "restart budget exhausted: bot stopped", text,
                                {"failures": used, "last_reason": reason, "exit_code": exit_code})
                    return SupervisorResult(EXIT_BUDGET, "budget_exhausted", self.starts, self.restarts, exit_code)
                wait_s = policy.backoff(consecutive)
                event = RestartEvent(self._now_ms(), reason, child.pid, exit_code, detail, wait_s)
                self.restarts.append(event)
                kind = RedFlag.MISSED_HEARTBEATS if reason == "hang" else RedFlag.BOT_CRASHED
                subject = (f"bot restarted: heartbeats stopped ({detail})" if reason == "hang"
                           else f"bot restarted: crashed with exit code {exit_code}")
                self._alert(kind, subject,
                            f"{subject}. Restart {len(self.restarts)} (budget {policy.max_restarts}"
                            f"{f' per {policy.budget_window_s:g} s' if policy.budget_window_s else ''}); "
                            f"next start in {wait_s:g} s.",
                            asdict(event))
                self._save_state(state="backoff", child_pid=None, restarts=len(self.restarts),
                                 last_restart=asdict(event))
                logger.warning("supervisor: %s; restarting in %g s", subject, wait_s)
                if self._sleep(wait_s):
                    self._save_state(state="stopped")
                    return SupervisorResult(EXIT_OK, "stopped", self.starts, self.restarts, exit_code)
        finally:
            if self._child is not None:
                self._terminate(self._child)
                self._child = None
            self._close_ledger()

    def _latest(self) -> tuple[int, str] | None:
        try:
            return latest_heartbeat(self._open_ledger(), self.component)
        except Exception as exc:  # noqa: BLE001 - an unreadable ledger is judged as silence
            logger.error("supervisor: cannot read heartbeats from %s: %s", self.ledger_path, exc)
            self._close_ledger()
            return None

    def _watch(self, child: subprocess.Popen, start_ms: int) -> tuple[str, str, int | None]:
        """Poll the child and its heartbeats; return ``(reason, detail, exit_code)``.

        A beat counts when a new heartbeat row (a higher ``seq``) with a live
        status appears; its time is the supervisor's clock when it was seen,
        never the child's stamp.
        """
        policy = self.policy
        warned = 0
        last_live: int | None = None
        stopping_since: int | None = None
        baseline = self._latest()
        last_seq = baseline[0] if baseline is not None else 0
        beat_file = beat_file_path(self.ledger_path, self.component)
        file_beat = read_beat_file(beat_file)
        last_file = (file_beat.pid, file_beat.seq) if file_beat is not None else None
        while True:
            if self._stop.is_set():
                return "stopped", "supervisor stopped", self._terminate(child)
            code = child.poll()
            if code is not None:
                if code == 0:
                    return "exited", "exit code 0", 0
                return "crash", f"exit code {code}", code
            now_ms = self._now_ms()
            seen: list[str] = []  # statuses of the new beats, the ledger's then the file's (written first, so newer)
            latest = self._latest()
            if latest is not None and latest[0] > last_seq:
                last_seq = latest[0]
                seen.append(latest[1])
            file_beat = read_beat_file(beat_file)
            if file_beat is not None and (file_beat.pid, file_beat.seq) != last_file:
                last_file = (file_beat.pid, file_beat.seq)
                seen.append(file_beat.status)
            for status in seen:
                if status in LIVE_STATUSES:
                    last_live, stopping_since = now_ms, None
                elif status == "stopped" and stopping_since is None:
                    stopping_since = now_ms  # shutting down cleanly: give it time to exit
            if stopping_since is not None:
                waited_s = (now_ms - stopping_since) / 1000
                hung = waited_s > policy.shutdown_grace_s
                missed, detail = 0, f"wrote a 'stopped' heartbeat {waited_s:.1f} s ago but has not exited"
            else:
                missed, hung, detail = liveness(now_ms, start_ms, last_live, policy)
            if hung:
                logger.error("supervisor: child %d hung: %s; stopping it", child.pid, detail)
                return "hang", detail, self._terminate(child)
            if missed != warned:
                if missed > warned:  # one late beat is jitter; two in a row deserve a warning
                    logger.log(logging.WARNING if missed >= 2 else logging.DEBUG, "supervisor: child %d: %s",
                               child.pid, detail)
                warned = missed
            if self._sleep(policy.poll_interval_s):
                continue
