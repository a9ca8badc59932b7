"""Operations: heartbeats and the supervisor, the kill switch, notifications, status, safe defaults.

Preflight assembles the engine's checks and lives above it: :mod:`botcore.engine.preflight`.

What the live loop calls
------------------------
``Heartbeat(ledger_path, interval_s=..., stall_after_s=...).start()`` / ``hb.tick(cycle_ts_ms=..., feed_age_s=...)`` / ``hb.stop()``
    Heartbeats every ``schedules.heartbeat_seconds`` from a thread (or ``await hb.run_async()``
    as an asyncio task), whatever the market does; ``tick`` once per cycle (:mod:`botcore.ops.heartbeat`).
``kill_switch_state(ledger) -> KillSwitchState``
    At the start of every cycle; copy ``state.code`` into ``portfolio["kill_switch"]`` (:mod:`botcore.ops.killswitch`).
``Notifier.from_env(ledger=path).alert(RedFlag.X, subject, body)``; ``send_report(subject, html, attachments)``
    Red flags (rate limited per kind) and reports by email, recorded in ledger meta (:mod:`botcore.ops.notify`).
``RedFlagMonitor(notifier).after_cycle(trail, portfolio, memory, params)``; ``after_reconcile(report)``; ``after_invariant(report)``
    Kelly size 0 for all strategies, breaker trips, repeated outages, reconciliation
    and wallet discrepancies, as alerts (:mod:`botcore.ops.redflags`).
``record_breaker_state(ledger, code, until_ms)``
    When the circuit breaker changes, for ``botcore status`` and the dashboard (:mod:`botcore.ops.status`).
``configure_logging(log_dir, max_bytes, backups)``
    Rotating log file with secrets masked (:mod:`botcore.ops.logs`).

Operator commands (``botcore/cli/ops_cmd.py``)
---------------------------------------------
``botcore kill [--flatten] [--release --confirm]``, ``botcore supervise -- <run args>``,
``botcore status [--json]``, ``botcore preflight [--json]``.

Ledger keys used (meta unless noted): ``flag:kill_switch``, ``kill_switch``,
``kill_switch:history``, ``alerts:state``, ``alerts:log``, ``reports:log``,
``supervisor``, ``preflight``, ``circuit_breaker``; the ``heartbeats`` table
(component ``engine``). The kill file is ``<ledger>.KILL``.
"""

from botcore.ops.heartbeat import LIVE_STATUSES, Heartbeat, process_health
from botcore.ops.killswitch import KillSwitchError, KillSwitchState, engage, kill_switch_state, release
from botcore.ops.logs import configure_logging
from botcore.ops.notify import AlertResult, Notifier, RedFlag, SmtpConfig
from botcore.ops.paths import default_ledger_path, kill_file_path
from botcore.ops.redflags import RedFlagMonitor, kelly_sizes
from botcore.ops.secrets import RedactSecrets, redact_text, scan_for_secrets, secrets_from_env
from botcore.ops.status import collect_status, record_breaker_state

__all__ = [
    "AlertResult", "Heartbeat", "KillSwitchError", "KillSwitchState", "LIVE_STATUSES", "Notifier", "RedFlag",
    "RedFlagMonitor", "kelly_sizes",
    "RedactSecrets", "SmtpConfig", "collect_status", "configure_logging", "default_ledger_path", "engage",
    "kill_file_path", "kill_switch_state", "process_health", "record_breaker_state", "redact_text", "release",
    "scan_for_secrets", "secrets_from_env",
]
