"""The kill switch: a ledger flag and a file that stop new entries (freeze) or close everything (flatten).

Two places hold it, and either one engages it:

- the ledger: flag ``kill_switch`` (``Ledger.set_flag``) and meta ``kill_switch``
  (``{"action", "since_ms", "who", "why"}``), written in one transaction;
- the kill file ``<ledger>.KILL`` (JSON with the same fields), which works when
  the ledger cannot be written (locked, disk full) and can be created by hand
  (``touch data/ledger.db.KILL`` engages a freeze).

The loop calls :func:`kill_switch_state` at the start of every cycle and copies
``state.code`` (a :data:`botcore.strategy.KillSwitch` value) into
``portfolio["kill_switch"]``, so the switch is obeyed within one cycle:
``freeze`` blocks new entries while exits keep working, ``flatten`` also closes
every position at market. Engaging again with ``flatten`` upgrades a freeze; a
downgrade needs a release. :func:`release` clears both places and refuses to run
without ``confirm=True``. Every engage and release is appended to meta
``kill_switch:history`` (last :data:`HISTORY_LIMIT`).

A kill file that cannot be parsed engages a freeze (fail safe).
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from botcore.errors import BotcoreError
from botcore.ledger import Ledger
from botcore.ops.notify import Notifier, RedFlag
from botcore.ops.paths import kill_file_path

logger = logging.getLogger(__name__)

FLAG = "kill_switch"
META_KEY = "kill_switch"
HISTORY_KEY = "kill_switch:history"
HISTORY_LIMIT = 200
#: Actions, weakest first; the values match :data:`botcore.strategy.KillSwitch`.
ACTION_CODES = {"off": 0, "freeze": 1, "flatten": 2}


class KillSwitchError(BotcoreError, ValueError):
    """A kill-switch request was refused (unknown action, release without confirmation)."""


@dataclass(frozen=True, slots=True)
class KillSwitchState:
    """Whether the kill switch is engaged, how, since when, by whom and why.

    Attributes
    ----------
    engaged : bool
        True when the ledger flag or the kill file says so.
    action : str
        ``off``, ``freeze`` or ``flatten`` (the stronger of the two sources).
    since_ms : int or None
        When it was engaged (the earlier of the two sources).
    who, why : str or None
        Who engaged it and the reason they gave.
    source : str
        ``none``, ``ledger``, ``file`` or ``ledger+file``.
    """

    engaged: bool
    action: str
    since_ms: int | None
    who: str | None
    why: str | None
    source: str

    @property
    def code(self) -> int:
        """Return the :data:`botcore.strategy.KillSwitch` code for ``portfolio["kill_switch"]``."""
        return ACTION_CODES[self.action]

    def to_dict(self) -> dict:
        """Return the state as JSON-able data."""
        return asdict(self)


OFF = KillSwitchState(False, "off", None, None, None, "none")


def default_who() -> str:
    """Return ``user@host (pid N)`` for the record of who engaged or released the switch."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()} (pid {os.getpid()})"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _check_action(action: str) -> str:
    if action not in ("freeze", "flatten"):
        raise KillSwitchError(f"action: must be 'freeze' or 'flatten', got {action!r}")
    return action


@contextmanager
def _writer(ledger: Ledger | str | os.PathLike[str]) -> Iterator[Ledger]:
    if isinstance(ledger, Ledger):
        yield ledger
        return
    with Ledger.open(ledger, create=False, timeout_s=5.0) as opened:  # a kill switch never creates a ledger
        yield opened


def _ledger_path(ledger: Ledger | str | os.PathLike[str]) -> Path:
    return ledger.path if isinstance(ledger, Ledger) else Path(ledger)


def _read_file(path: Path) -> dict | None:
    """Return the kill file's record, None when absent; a corrupt file engages a freeze."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        return {"action": "freeze", "since_ms": None, "who": None, "why": f"kill file unreadable ({exc.strerror})"}
    if not text.strip():
        since = int(path.stat().st_mtime * 1000) if path.exists() else None
        return {"action": "freeze", "since_ms": since, "who": None, "why": "kill file present (empty)"}
    try:
        record = json.loads(text)
        action = record.get("action", "freeze")
        if action not in ("freeze", "flatten"):
            raise ValueError(action)
        return {"action": action, "since_ms": record.get("since_ms"), "who": record.get("who"),
                "why": record.get("why")}
    except (ValueError, AttributeError):
        return {"action": "freeze", "since_ms": None, "who": None, "why": "kill file present (not valid JSON)"}


def _write_file(path: Path, record: dict) -> None:
    """Write the kill file atomically (temporary file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(record, fh, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _stronger(a: str, b: str) -> str:
    return a if ACTION_CODES[a] >= ACTION_CODES[b] else b


def _append_history(ledger: Ledger, event: dict) -> None:
    history = list(ledger.get_meta(HISTORY_KEY, []) or [])
    history.append(event)
    ledger.set_meta(HISTORY_KEY, history[-HISTORY_LIMIT:])


def _from_ledger(ledger: Ledger) -> dict | None:
    if not ledger.get_flag(FLAG):
        return None
    record = ledger.get_meta(META_KEY) or {}
    if record.get("action") not in ("freeze", "flatten"):  # flag set by another writer (e.g. Ledger.set_flag alone)
        return {"action": "freeze", "since_ms": None, "who": None, "why": "ledger flag kill_switch set"}
    return {"action": record["action"], "since_ms": record.get("since_ms"), "who": record.get("who"),
            "why": record.get("why")}


def _combine(in_ledger: dict | None, in_file: dict | None) -> KillSwitchState:
    if in_ledger is None and in_file is None:
        return OFF
    records = [r for r in (in_ledger, in_file) if r is not None]
    action = "freeze"
    for r in records:
        action = _stronger(action, r["action"])
    times = [int(r["since_ms"]) for r in records if r.get("since_ms") is not None]
    main = in_ledger if in_ledger is not None else in_file
    assert main is not None  # one of the two is set (checked above)
    source = "ledger+file" if len(records) == 2 else ("ledger" if in_ledger is not None else "file")
    return KillSwitchState(True, action, min(times) if times else None, main.get("who"), main.get("why"), source)


def kill_switch_state(ledger: Ledger | str | os.PathLike[str]) -> KillSwitchState:
    """Return the kill switch's state from the ledger flag and the kill file.

    Parameters
    ----------
    ledger : Ledger or path
        An open ledger (the loop's, read or write) or a ledger path (opened
        read-only; a missing ledger counts as not engaged, the kill file still counts).

    Returns
    -------
    KillSwitchState
        Cheap enough for every cycle: one meta read and one file stat.
    """
    path = _ledger_path(ledger)
    in_file = _read_file(kill_file_path(path))
    in_ledger = None
    if isinstance(ledger, Ledger):
        in_ledger = _from_ledger(ledger)
    elif path.exists():
        with Ledger.open(path, readonly=True) as reader:
            in_ledger = _from_ledger(reader)
    return _combine(in_ledger, in_file)


def kill_file_state(ledger_path: str | os.PathLike[str]) -> KillSwitchState:
    """Return the kill switch as the kill file alone says (when the ledger cannot be read)."""
    return _combine(None, _read_file(kill_file_path(ledger_path)))


def engage(
    ledger: Ledger | str | os.PathLike[str],
    action: str = "freeze",
    *,
    who: str | None = None,
    why: str = "",
    write_file: bool = True,
    now_ms: int | None = None,
) -> KillSwitchState:
    """Engage the kill switch (``freeze`` or ``flatten``) in the ledger and, by default, the kill file.

    Engaging an engaged switch keeps its start time and upgrades freeze to
    flatten (never the reverse). If the ledger cannot be written the kill file
    alone engages it and the error is logged; if neither can be written the
    error is raised.

    Returns
    -------
    KillSwitchState
        The state after engaging.
    """
    action = _check_action(action)
    who = who or default_who()
    ts_ms = _now_ms() if now_ms is None else int(now_ms)
    path = _ledger_path(ledger)
    current = _read_file(kill_file_path(path)) if write_file else None
    ledger_error: Exception | None = None
    try:
        with _writer(ledger) as book, book.transaction():
            previous = _from_ledger(book)
            base = previous or current
            record = {
                "action": _stronger(base["action"], action) if base else action,
                "since_ms": (base or {}).get("since_ms") or ts_ms,
                "who": who,
                "why": why,
            }
            book.set_meta(META_KEY, record)
            book.set_flag(FLAG, True)
            _append_history(book, {"event": "engage", "ts_ms": ts_ms, **record})
    except Exception as exc:  # noqa: BLE001 - the file is the fallback for any ledger failure
        ledger_error = exc
        record = {"action": _stronger(current["action"], action) if current else action,
                  "since_ms": (current or {}).get("since_ms") or ts_ms, "who": who, "why": why}
        logger.error("kill switch: cannot write the ledger %s (%s); relying on the kill file", path, exc)
    if write_file:
        try:
            _write_file(kill_file_path(path), record)
        except OSError as exc:
            if ledger_error is not None:
                raise KillSwitchError(f"kill switch: could write neither the ledger ({ledger_error}) nor the kill "
                                      f"file {kill_file_path(path)} ({exc})") from exc
            logger.error("kill switch: cannot write the kill file %s: %s", kill_file_path(path), exc)
    elif ledger_error is not None:
        raise KillSwitchError(f"kill switch: cannot write the ledger {path}: {ledger_error}") from ledger_error
    logger.warning("KILL SWITCH ENGAGED (%s) by %s: %s", record["action"], who, why or "no reason given")
    return kill_switch_state(ledger) if ledger_error is None else _combine(None, record)


def engage_and_alert(
    ledger: Ledger | str | os.PathLike[str],
    action: str = "freeze",
    *,
    who: str | None = None,
    why: str = "",
    write_file: bool = True,
    notifier: Notifier | None = None,
) -> KillSwitchState:
    """Engage the kill switch (:func:`engage`) and raise the ``kill_switch`` alert: what ``botcore kill`` and the
    dashboard's button both do (who, why, since, history, the kill file fallback, the alert)."""
    state = engage(ledger, action, who=who, why=why, write_file=write_file)
    notifier = notifier or Notifier.from_env(ledger=ledger)
    try:  # freeze and flatten rate limited apart: escalation always mails
        notifier.alert(
            f"{RedFlag.KILL_SWITCH}:{state.action}", f"kill switch engaged ({state.action})",
            f"Engaged by {state.who}: {why or 'no reason given'}.\n"
            + ("Every position is being closed at market; no new entries." if state.action == "flatten"
               else "No new entries; exits keep working.")
            + "\nRelease with: botcore kill --release --confirm",
            detail=state.to_dict())
    except Exception as exc:  # noqa: BLE001 - the switch is engaged; a failed alert must not hide that
        logger.error("kill switch engaged but the alert failed: %s", exc)
    return state


def release(
    ledger: Ledger | str | os.PathLike[str],
    *,
    confirm: bool,
    who: str | None = None,
    why: str = "",
    now_ms: int | None = None,
) -> KillSwitchState:
    """Release the kill switch: clear the ledger flag and delete the kill file.

    Raises
    ------
    KillSwitchError
        When ``confirm`` is not True (releasing re-enables trading, so it is never implicit).
    """
    if confirm is not True:
        raise KillSwitchError("releasing the kill switch re-enables trading: confirm explicitly (--release --confirm)")
    who = who or default_who()
    ts_ms = _now_ms() if now_ms is None else int(now_ms)
    path = _ledger_path(ledger)
    with _writer(ledger) as book, book.transaction():
        before = _from_ledger(book)
        book.set_flag(FLAG, False)
        book.set_meta(META_KEY, {"action": "off", "since_ms": ts_ms, "who": who, "why": why})
        _append_history(book, {"event": "release", "ts_ms": ts_ms, "action": "off", "who": who, "why": why,
                               "was": before["action"] if before else "off"})
    try:
        kill_file_path(path).unlink()
    except FileNotFoundError:
        pass
    logger.warning("kill switch released by %s: %s", who, why or "no reason given")
    return kill_switch_state(ledger)


def kill_switch_history(ledger: Ledger) -> list[dict]:
    """Return the engage and release events, oldest first."""
    return list(ledger.get_meta(HISTORY_KEY, []) or [])
