"""Operations commands at the root: ``botcore kill``, ``botcore supervise``, ``botcore status``, ``botcore preflight``.

Each reads the ledger given by ``--ledger`` (default ``$BOTCORE_LEDGER`` or
``data/ledger.db``) and the configuration from ``--config`` (default
``$BOTCORE_CONFIG`` or ``./config``). Credentials only ever come from the
environment; nothing here prints or stores them.
"""

from __future__ import annotations

import json
import logging
import signal
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from botcore.clock import duration, utc
from botcore.errors import ConfigError, LedgerError

logger = logging.getLogger(__name__)

_STATUS_STYLE = {"PASS": "bold green", "WARN": "bold yellow", "FAIL": "bold red"}


def _console() -> Console:
    return Console(width=160)


def _ledger(path: Path | None) -> Path:
    from botcore.ops.paths import default_ledger_path

    return path if path is not None else default_ledger_path()


def _require_ledger(path: Path, flag: str) -> None:
    """Exit 2 unless ``path`` is an existing ledger file (commands other than ``run`` never create one)."""
    if path.is_dir():
        typer.secho(f"{flag} {path} is a directory; pass the ledger's file, e.g. {path / 'ledger.db'}",
                    fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    if not path.exists():
        typer.secho(f"no ledger at {path}: nothing reads a switch there. Pass the running bot's {flag} (default "
                    f"$BOTCORE_LEDGER or data/ledger.db; `botcore run` creates it).", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)


def _settings(config: Path | None, *, required: bool) -> Any:
    """Load the settings; when not required, fall back to the defaults of config/ with a warning."""
    from botcore.config import load_settings

    try:
        return load_settings(config)
    except ConfigError as exc:
        if required:
            typer.secho(f"configuration invalid:\n{exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None
        logger.warning("configuration unusable (%s); using built-in defaults", exc)
        return None


def _when(ts_ms: int | None) -> str:
    return utc(None if ts_ms is None else int(ts_ms), seconds=True)


# =========================================================================== kill


def kill(
    flatten: bool = typer.Option(False, "--flatten", help="Also close every position at market (default: freeze, "
                                 "no new entries while exits keep working)."),
    release: bool = typer.Option(False, "--release", help="Release the kill switch (needs --confirm)."),
    confirm: bool = typer.Option(False, "--confirm", help="Confirm --release: trading resumes at the next cycle."),
    ledger: Path = typer.Option(None, "--ledger", help="The ledger (default $BOTCORE_LEDGER or data/ledger.db)."),
    why: str = typer.Option("", "--why", help="Reason, recorded with who engaged or released it."),
    no_file: bool = typer.Option(False, "--no-file", help="Do not write the <ledger>.KILL file (ledger flag only)."),
    as_json: bool = typer.Option(False, "--json", help="Print the resulting state as JSON."),
) -> None:
    """Engage the kill switch (freeze, or --flatten) or release it (--release --confirm).

    The running bot checks the switch at the start of every cycle, so it is
    obeyed within one cycle. It is held in the ledger (flag kill_switch) and in
    the file <ledger>.KILL, which also works when the ledger is locked; either
    one engages it. Releasing clears both and must be confirmed explicitly.
    """
    from botcore.ops import killswitch
    from botcore.ops.notify import Notifier

    path = _ledger(ledger)
    _require_ledger(path, "--ledger")
    try:
        if release:
            if not confirm:
                typer.secho("refused: releasing the kill switch re-enables trading. Re-run with --release --confirm.",
                            fg=typer.colors.RED, err=True)
                raise typer.Exit(2)
            if flatten:
                typer.secho("--flatten and --release exclude each other", fg=typer.colors.RED, err=True)
                raise typer.Exit(2)
            state = killswitch.release(path, confirm=True, why=why)
            Notifier.from_env(ledger=path).alert("kill_switch_released", "kill switch released",
                                                 f"Released by {killswitch.default_who()}: {why or 'no reason given'}. "
                                                 "Trading resumes at the next cycle.", severity="notice")
        else:
            state = killswitch.engage_and_alert(path, "flatten" if flatten else "freeze", why=why,
                                                write_file=not no_file)
    except (killswitch.KillSwitchError, LedgerError) as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(state.to_dict(), indent=2))
        return
    if state.engaged:
        typer.secho(f"KILL SWITCH ENGAGED: {state.action} (since {_when(state.since_ms)}, by {state.who}; "
                    f"source {state.source})", fg=typer.colors.RED, bold=True)
        typer.echo("The bot obeys it at its next cycle. Release: botcore kill --release --confirm")
    else:
        typer.secho("kill switch released: trading resumes at the next cycle", fg=typer.colors.GREEN)


# =========================================================================== supervise


def supervise(
    ctx: typer.Context,
    run_args: list[str] = typer.Argument(None, help="Arguments of `botcore run`, after --."),
    ledger: Path = typer.Option(None, "--ledger", help="Ledger the bot writes heartbeats to (default: the run "
                                "arguments' --ledger, $BOTCORE_LEDGER or data/ledger.db)."),
    config: Path = typer.Option(None, "--config", help="Configuration directory (heartbeat schedule) when the run "
                                "arguments have no --config (it is then passed to the bot); default $BOTCORE_CONFIG "
                                "or ./config."),
    max_restarts: int = typer.Option(5, "--max-restarts", min=0, help="Restarts allowed within --budget-window."),
    budget_window: float = typer.Option(3600.0, "--budget-window", min=0.0,
                                        help="Seconds over which restarts are counted (0: for ever)."),
    heartbeat_seconds: float = typer.Option(None, "--heartbeat-seconds", min=0.01,
                                            help="Override schedules.heartbeat_seconds."),
    missed_beats: int = typer.Option(None, "--missed-beats", min=1,
                                     help="Override schedules.missed_heartbeats_for_restart."),
    startup_grace: float = typer.Option(180.0, "--startup-grace", min=0.0,
                                        help="Seconds a new bot has to write its first heartbeat."),
    backoff: float = typer.Option(2.0, "--backoff", min=0.0, help="First restart delay, doubling up to --backoff-max."),
    backoff_max: float = typer.Option(300.0, "--backoff-max", min=0.0, help="Longest restart delay, seconds."),
    term_timeout: float = typer.Option(15.0, "--term-timeout", min=0.0,
                                       help="Seconds a bot has to exit after SIGTERM before it is killed (SIGKILL)."),
    exec_command: bool = typer.Option(False, "--exec", help="Treat the arguments as a whole command instead of "
                                      "`botcore run` arguments."),
    log_dir: Path = typer.Option(None, "--log-dir", help="Also log to a rotating file in this directory."),
) -> None:
    """Run the bot (`botcore run <args>`) as a child process and keep it alive.

    Restarts it when it crashes or when its heartbeats stop (three missed in a
    row by default), with exponential backoff and a restart budget; alerts by
    email on each restart and when the budget is spent (then exits with code 3).
    A quiet market is not a failure: only heartbeat freshness counts. A bot
    that exits with code 0 is not restarted. SIGTERM or Ctrl-C stops the bot
    cleanly, then the supervisor.

    Example: botcore supervise -- --mode paper --feed replay --ledger data/ledger.db
    """
    from botcore.ops.logs import configure_logging
    from botcore.ops.notify import Notifier
    from botcore.ops.supervisor import Supervisor, SupervisorPolicy, child_command, config_from_args, ledger_from_args

    args = list(run_args or []) + list(ctx.args)
    if exec_command and not args:
        typer.secho("--exec needs a command after --", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    path = ledger if ledger is not None else (ledger_from_args(args) or _ledger(None))
    if not exec_command and ledger_from_args(args) is None:
        args += ["--ledger", str(path)]
    # the bot's heartbeat schedule is in the configuration the bot reads: the run's --config, else ours (passed on)
    run_config = None if exec_command else config_from_args(args)
    if run_config is not None:
        if config is not None and config.resolve() != run_config.resolve():
            logger.warning("supervisor: --config %s ignored; the bot runs with --config %s", config, run_config)
        config = run_config
    elif not exec_command and config is not None:
        args += ["--config", str(config)]
    argv = args if exec_command else child_command(args)
    if log_dir is not None:
        configure_logging(log_dir)
    settings = _settings(config, required=False)
    overrides: dict[str, Any] = {"heartbeat_s": heartbeat_seconds, "missed_beats": missed_beats, "max_restarts": max_restarts,
                 "budget_window_s": budget_window or None, "startup_grace_s": startup_grace,
                 "backoff_base_s": backoff, "backoff_max_s": backoff_max, "term_timeout_s": term_timeout}
    if settings is not None:
        policy = SupervisorPolicy.from_settings(settings, **overrides)
    else:
        policy = SupervisorPolicy(**{k: v for k, v in overrides.items() if v is not None})
    if budget_window == 0:
        policy = SupervisorPolicy(**{**policy.__dict__, "budget_window_s": None})
    sup = Supervisor(argv, path, policy=policy, notifier=Notifier.from_env(ledger=path))

    def _stop(signum: int, _frame: Any) -> None:
        logger.info("supervisor: %s received; stopping the bot", signal.Signals(signum).name)
        sup.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    result = sup.run()
    typer.echo(f"supervisor: {result.reason}; {result.starts} starts, {len(result.restarts)} restarts",
               err=True)
    raise typer.Exit(result.exit_code)


# =========================================================================== status


def status(
    ledger: Path = typer.Option(None, "--ledger", help="The ledger (default $BOTCORE_LEDGER or data/ledger.db)."),
    config: Path = typer.Option(None, "--config", help="Configuration directory (heartbeat schedule, staleness)."),
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Show the bot's health: process and memory, heartbeats, last cycle, feeds, positions, kill switch, breakers.

    Reads the ledger read-only (safe while the bot runs). Exit code 0 when
    healthy, 1 when not (stale heartbeats, process gone, ledger unusable,
    invariant off by more than $1, reconciliation failed).
    """
    from botcore.ops.status import collect_status

    settings = _settings(config, required=False)
    kwargs: dict[str, Any] = {}
    if settings is not None:
        kwargs = {"heartbeat_s": float(settings.schedules.heartbeat_seconds),
                  "missed_beats": int(settings.schedules.missed_heartbeats_for_restart),
                  "feed_staleness_s": dict(settings.signals.max_staleness_seconds)}
    report = collect_status(_ledger(ledger), **kwargs)
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
    else:
        _print_status(report)
    raise typer.Exit(0 if report["healthy"] else 1)


def _ago(age_s: float | None) -> str:
    """Return ``12s ago`` / ``3h 4m ago`` (:func:`botcore.clock.duration`), or ``age unknown``."""
    return "age unknown" if age_s is None else f"{duration(float(age_s) * 1000)} ago"


def _yes(value: Any, yes: str, no: str, unknown: str = "unknown") -> str:
    return unknown if value is None else (yes if value else no)


def _mb(value: Any) -> str:
    return "unknown" if value is None else f"{float(value):,.0f} MB"


def _print_status(report: dict) -> None:
    console = _console()
    verdict = "[bold green]HEALTHY[/]" if report["healthy"] else "[bold red]UNHEALTHY[/]"
    console.print(f"botcore status {verdict}  ledger {report['ledger']['path']}  ({_when(report['ts_ms'])})")
    table = Table(show_header=True, header_style="bold")
    table.add_column("item", style="cyan", no_wrap=True)
    table.add_column("state")
    led = report["ledger"]
    table.add_row("ledger", f"{_yes(led.get('exists'), 'exists', 'missing')}, "
                            f"{_yes(led.get('ledger_writable'), 'writable', 'NOT writable')}, "
                            f"disk {_mb(led.get('disk_free_mb'))} free, mode {led.get('mode') or 'not recorded'}")
    hb = report.get("heartbeat") or {}
    if hb:
        if hb.get("last_ts_ms") is None:
            table.add_row("heartbeat", "none recorded")
        else:
            missed = hb.get("missed")
            table.add_row("heartbeat", f"last {_when(hb.get('last_ts_ms'))} ({hb.get('last_status')}, "
                                       f"{_ago(hb.get('age_s'))}), "
                                       + ("no live beat recently" if missed is None else f"{missed} missed")
                                       + f", {'fresh' if hb.get('fresh') else 'STALE'}")
    proc = report.get("process") or {}
    if proc:
        if proc.get("pid") is None:
            table.add_row("process", "no pid recorded in the last heartbeat")
        else:
            at_beat = proc.get("rss_mb_at_last_beat")
            table.add_row("process", f"pid {proc['pid']}, {'running' if proc.get('alive') else 'NOT running'}"
                                     + (f", RSS {_mb(proc.get('rss_mb'))}" if proc.get("rss_mb") is not None else "")
                                     + (f" ({_mb(at_beat)} at the last beat)" if at_beat is not None else ""))
    cycle = report.get("last_cycle") or {}
    if cycle:
        if cycle.get("ts_ms") is None:
            table.add_row("last cycle", "none yet")
        else:
            clock = " (simulated clock)" if cycle.get("clock") == "simulated" else ""
            cycles = cycle.get("cycles")
            table.add_row("last cycle", f"{_when(cycle['ts_ms'])}{clock}, {_ago(cycle.get('age_s'))}"
                                        + (f", {int(cycles):,} cycles this run" if cycles is not None else ""))
    feeds = report.get("feeds") or {}
    if feeds:
        table.add_row("feeds", ", ".join(
            f"{k} {'no data' if v.get('age_s') is None else duration(float(v['age_s']) * 1000) + ' old'}"
            f"{'' if v.get('fresh') is not False else ' STALE'}" for k, v in feeds.items()))
    pos = report.get("positions")
    if pos is not None:
        table.add_row("positions", f"{pos['count']} open" + (": " + ", ".join(
            f"{p['symbol']} {p['qty_contracts']:g}{' (adopted)' if p['adopted'] else ''}" for p in pos["open"])
            if pos["open"] else ""))
    ks = report.get("kill_switch") or {}
    if ks:
        table.add_row("kill switch", f"[bold red]ENGAGED {ks['action']}[/] since {_when(ks.get('since_ms'))} by "
                                     f"{ks.get('who') or 'unknown'}: {ks.get('why') or 'no reason given'}"
                      if ks.get("engaged") else "off")
    cb = report.get("circuit_breaker")
    if cb is not None:
        table.add_row("circuit breaker", f"{cb.get('name')} until {_when(cb.get('until_ms'))}"
                      if cb.get("code") else "not tripped")
    inv = report.get("invariant")
    if inv:
        diff = inv.get("cash_diff_usd")
        table.add_row("invariant", f"not checked: {inv.get('error')}" if inv.get("ok") is None and inv.get("error")
                      else ("ok" if inv.get("ok") else "BROKEN") + ("" if diff is None else
                                                                    ", cash matches to the cent" if abs(float(diff)) < 0.005
                                                                    else f", cash off by {float(diff):+,.2f} USD"))
    sup = report.get("supervisor")
    if sup:
        table.add_row("supervisor", f"{sup.get('state')}"
                                    + (f", child pid {sup['child_pid']}" if sup.get("child_pid") is not None else "")
                                    + f", {int(sup.get('restarts') or 0)} restarts")
    pre = report.get("preflight")
    if pre:
        counts = pre.get("counts") or {}
        table.add_row("preflight", f"{'ok' if pre.get('ok') else 'FAILED'} at {_when(pre.get('ts_ms'))}"
                      + (": " + ", ".join(f"{v} {k}" for k, v in counts.items()) if isinstance(counts, dict) and counts
                         else ""))
    for alert in report.get("alerts") or []:
        table.add_row("alert", f"{_when(alert.get('ts_ms'))} {alert.get('kind')}: {alert.get('subject')}")
    console.print(table)
    for problem in report["problems"]:
        console.print(f"[bold red]problem:[/] {problem}")
    for item in report["attention"]:
        console.print(f"[bold yellow]attention:[/] {item}")


# =========================================================================== preflight


def preflight(
    ledger: Path = typer.Option(None, "--ledger", help="The ledger (default $BOTCORE_LEDGER or data/ledger.db)."),
    config: Path = typer.Option(None, "--config", help="Configuration directory (default $BOTCORE_CONFIG or ./config)."),
    data: Path = typer.Option(None, "--data", help="Market-data store for the signal check (default: a fresh "
                              "one-day SYNTHETIC sample market)."),
    check: list[str] = typer.Option(None, "--check", help="Run only this check (repeatable)."),
    log_dir: Path = typer.Option(None, "--log-dir", help="Log directory whose writability is checked."),
    min_free_mb: float = typer.Option(200.0, "--min-free-mb", help="Free disk below this fails."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    record: bool = typer.Option(True, "--record/--no-record", help="Store the report in the ledger (meta preflight)."),
) -> None:
    """Run the preflight checklist: the checks a trader runs before trusting the bot.

    Kelly bootstrap sizing, sector and position counts (ledger vs venue), the
    signal engine on current data, order-book outage protection, aged-position
    exits, financial integrity and operational health. Prints a PASS/WARN/FAIL
    table; exit code 1 when any check fails.
    """
    from botcore.engine.preflight import CHECKS, record_preflight, run_preflight

    settings = _settings(config, required=True)
    store = None
    if data is not None:
        from botcore.market.store import Store

        if not data.is_dir():
            typer.secho(f"--data {data}: not a directory", fg=typer.colors.RED, err=True)
            raise typer.Exit(2)
        store = Store(data)
    checks = tuple(check) if check else CHECKS
    unknown = sorted(set(checks) - set(CHECKS))
    if unknown:
        typer.secho(f"unknown checks {unknown}; known: {', '.join(CHECKS)}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    path = _ledger(ledger)
    report = run_preflight(settings, path, store=store, log_dir=log_dir, checks=checks, min_free_mb=min_free_mb)
    recorded = record_preflight(path, report) if record else False
    if as_json:
        typer.echo(json.dumps({**report.to_dict(), "ledger": str(path), "recorded": recorded}, indent=2))
    else:
        console = _console()
        table = Table(title=f"botcore preflight - {path}", show_header=True, header_style="bold", show_lines=True)
        table.add_column("#", justify="right")
        table.add_column("check", style="cyan", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("details")
        for i, r in enumerate(report.results, 1):
            style = _STATUS_STYLE[str(r.status)]
            table.add_row(str(i), r.title, f"[{style}]{r.status}[/]", r.detail)
        console.print(table)
        counts = report.counts
        verdict = "[bold green]GREEN LIGHT[/]" if report.ok else "[bold red]DO NOT TRADE[/]"
        console.print(f"{verdict}: {counts['PASS']} pass, {counts['WARN']} warn, {counts['FAIL']} fail"
                      + ("" if recorded or not record else " (not recorded: no ledger yet)"))
    raise typer.Exit(0 if report.ok else 1)


def register(root: typer.Typer) -> None:
    """Add ``kill``, ``supervise``, ``status`` and ``preflight`` to the root command."""
    root.command("kill")(kill)
    root.command(
        "supervise",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(supervise)
    root.command("status")(status)
    root.command("preflight")(preflight)


__all__ = ["register"]
