"""What ``botcore run`` checks before it writes a ledger: the path, one writer, integrity, unchanged resume arguments.

:func:`take_ledger` refuses a ``--ledger`` that is a directory or cannot be
created, takes the writer lock (:class:`botcore.ledger.lock.WriterLock`; a
second writer exits 2 naming the holder's pid and start time) and refuses a
damaged, empty, foreign or newer ledger (:func:`botcore.ledger.integrity.check_integrity`).
:func:`check_resume` compares a resumed run's arguments with those recorded
in the ledger (``meta['replay']`` or ``meta['live']``): a changed seed,
override or data directory would change decisions, so it is refused, naming
each difference, unless ``--resume-with-changes`` (recorded in meta
``resume:changes``, and applied); the symbols and the replay window cannot
change in a resumed run at all.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from botcore.errors import DataError, LedgerError
from botcore.ledger.integrity import check_integrity
from botcore.ledger.lock import LedgerLocked, WriterLock
from botcore.ops.killswitch import default_who

#: Ledger meta holding every accepted change of a resumed run's arguments.
CHANGES_META_KEY = "resume:changes"


def _fail(message: str, code: int) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def take_ledger(ledger: Path, ctx: typer.Context | None = None) -> WriterLock:
    """Check ``--ledger`` and take its writer lock (held until the process ends); exit 1 or 2 with the reason."""
    if ledger.is_dir():
        raise _fail(f"--ledger {ledger} is a directory; pass the ledger's file, e.g. --ledger {ledger / 'ledger.db'}", 2)
    try:
        ledger.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _fail(f"--ledger {ledger}: cannot create its directory {ledger.parent} ({exc.strerror})", 1) from None
    lock = WriterLock(ledger)
    try:
        lock.acquire()
    except LedgerLocked as exc:
        raise _fail(f"refused: {exc}", 2) from None
    except LedgerError as exc:
        raise _fail(f"--ledger {ledger}: {exc}", 1) from None
    if ctx is not None:  # released however the command ends (the kernel releases it when the process ends)
        ctx.call_on_close(lock.release)
    report = check_integrity(ledger)
    if report.exists and not report.ok:
        lock.release()
        raise _fail("refused to run on this ledger:\n" + "\n".join(f"  {p}" for p in report.problems), 1)
    return lock


def check_store(store, symbols: list[str]) -> None:
    """Refuse (exit 1) a replay whose store lacks a symbol's 1m candles or holds an implausible or unreadable file."""
    missing = [str(store.path("candles_1m", s)) for s in symbols if not store.exists("candles_1m", s)]
    if missing:
        raise _fail(f"--data {store.root}: no 1m candles for {len(missing)} of the run's symbols (missing "
                    f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}); import or download them, or "
                    f"choose the symbols with --symbols", 1)
    try:
        for kind in store.kinds():
            for symbol in symbols:
                store.verify(kind, symbol)
    except DataError as exc:
        raise _fail(f"--data {store.root}: {exc}", 1) from None


def _same_number(a: Any, b: Any) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return a == b


def _resolved(path: Any) -> str:
    try:
        return str(Path(str(path)).resolve())
    except OSError:
        return str(path)


def resume_differences(prior: dict, *, seed: int, overrides: dict, data: Path | None = None,
                       symbols: list[str] | None = None, start_ms: int | None = None,
                       end_ms: int | None = None) -> tuple[list[str], list[str]]:
    """Return (changes that ``--resume-with-changes`` may apply, changes never allowed) against ``prior``."""
    allowed: list[str] = []
    never: list[str] = []
    if int(prior.get("run_seed", 0)) != int(seed):
        allowed.append(f"--seed {seed} (the run uses {prior.get('run_seed')})")
    before = dict(prior.get("params_overrides") or {})
    for key in sorted(set(before) | set(overrides)):
        if key not in overrides:
            allowed.append(f"--override {key}: dropped (the run uses {key}={before[key]!r})")
        elif key not in before:
            allowed.append(f"--override {key}={overrides[key]!r}: new (the run has none)")
        elif not _same_number(before[key], overrides[key]):
            allowed.append(f"--override {key}={overrides[key]!r} (the run uses {before[key]!r})")
    if data is not None and prior.get("data") is not None and _resolved(data) != _resolved(prior["data"]):
        allowed.append(f"--data {data} (the run replays {prior['data']})")
    if symbols is not None and list(symbols) != list(prior.get("symbols") or []):
        never.append(f"--symbols {','.join(symbols)} (the run trades {','.join(prior.get('symbols') or [])})")
    for flag, value, key in (("--start", start_ms, "start_ms"), ("--end", end_ms, "end_ms")):
        if value is not None and key in prior and int(value) != int(prior[key]):
            never.append(f"{flag} {_utc(value)} (the run's is {_utc(int(prior[key]))})")
    return allowed, never


def _utc(ts_ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(int(ts_ms) / 1000))


def check_resume(led, meta_key: str, *, seed: int, overrides: dict, with_changes: bool,
                 data: Path | None = None, symbols: list[str] | None = None,
                 start_ms: int | None = None, end_ms: int | None = None) -> list[str]:
    """Refuse (exit 2) a resume whose arguments differ from the ledger's record, or apply and record the changes.

    Returns the accepted changes (empty for a new run or an unchanged resume).
    """
    prior = led.get_meta(meta_key)
    if prior is None:
        return []
    allowed, never = resume_differences(prior, seed=seed, overrides=overrides, data=data, symbols=symbols,
                                        start_ms=start_ms, end_ms=end_ms)
    if never:
        led.close()
        raise _fail(f"refused to resume the run in {led.path}: these cannot change in a resumed run:\n"
                    + "\n".join(f"  {d}" for d in never + allowed)
                    + "\nStart a new run with another --ledger.", 2)
    if allowed and not with_changes:
        led.close()
        raise _fail(f"refused to resume the run in {led.path} with changed arguments that would change its "
                    f"decisions:\n" + "\n".join(f"  {d}" for d in allowed)
                    + "\nRerun with the run's arguments, or add --resume-with-changes to apply them (recorded in "
                      "the ledger).", 2)
    if allowed:
        updated = {**prior, "run_seed": int(seed), "params_overrides": dict(overrides)}
        if data is not None and "data" in prior:
            updated["data"] = str(data)
        log = list(led.get_meta(CHANGES_META_KEY, []) or [])
        log.append({"ts_ms": time.time_ns() // 1_000_000, "who": default_who(), "changes": allowed,
                    "before": {k: prior.get(k) for k in ("run_seed", "params_overrides", "data")}})
        with led.transaction():
            led.set_meta(meta_key, updated)
            led.set_meta(CHANGES_META_KEY, log)
        typer.secho("resuming with changed arguments (recorded in the ledger):\n"
                    + "\n".join(f"  {d}" for d in allowed), fg=typer.colors.YELLOW, err=True)
    return allowed
