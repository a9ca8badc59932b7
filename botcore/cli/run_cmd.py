"""``botcore run``: the bot, cycle by cycle. Today: paper mode over a replayed store.

``botcore run --mode paper --feed replay --data DIR --ledger PATH`` runs
:class:`botcore.engine.loop.TradingLoop` over the stored market: the same
compiled step as ``botcore backtest``, the paper venue, one ledger
transaction per cycle. ``--mode demo|live`` and ``--feed live`` are refused
until the live loop lands; live trading will in any case need both
``mode: live`` in ``config/venue.yaml`` and ``--confirm-live``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Optional

import typer

logger = logging.getLogger(__name__)

NOISY_LOGGERS = ("botcore.ledger", "botcore.venues", "botcore.market", "botcore.engine", "numba")


def quiet_logs() -> None:
    """Keep the per-order INFO lines of the ledger and venues out of a progress bar (unless --verbose)."""
    if logging.getLogger().level <= logging.DEBUG:
        return
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def parse_time(text: Optional[str], name: str) -> Optional[int]:
    """Parse ``YYYY-MM-DD[ HH:MM]`` (UTC) or integer milliseconds into ms UTC; None stays None."""
    if text is None or text == "":
        return None
    import pandas as pd

    try:
        if text.strip().isdigit():
            return int(text)
        ts = pd.Timestamp(text)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        return int(ts.value // 1_000_000)
    except (ValueError, TypeError) as exc:
        raise typer.BadParameter(f"{name} {text!r}: not a UTC time like 2024-01-04 or 2024-01-04 12:00 ({exc})") from None


def load_config(config: Optional[Path]):
    """Load and validate the configuration, or exit 1 naming the file and key."""
    from botcore.config import load_settings
    from botcore.errors import ConfigError

    try:
        return load_settings(config)
    except ConfigError as exc:
        typer.secho(f"configuration invalid:\n{exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None


def split_symbols(symbols: Optional[str]) -> Optional[list[str]]:
    if not symbols:
        return None
    return [s.strip() for s in symbols.split(",") if s.strip()]


def when(ts_ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts_ms / 1000))


def run(
    mode: str = typer.Option("paper", "--mode", help="paper (default) | demo | live."),
    feed: str = typer.Option("replay", "--feed", help="replay (a stored market) | live (not yet)."),
    data: Optional[Path] = typer.Option(None, "--data", help="Store directory to replay (--feed replay)."),
    start: Optional[str] = typer.Option(None, "--start", help="First cycle, UTC (default: the data's start + warm-up)."),
    end: Optional[str] = typer.Option(None, "--end", help="Last cycle, UTC (default: the data's end)."),
    cycles: Optional[int] = typer.Option(None, "--cycles", min=1, help="Stop after this many cycles."),
    ledger: Path = typer.Option(..., "--ledger", help="The ledger's SQLite file (created; an existing run in it is resumed)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Configuration directory (default: $BOTCORE_CONFIG or ./config)."),
    symbols: Optional[str] = typer.Option(None, "--symbols", help="Comma-separated subset of the universe."),
    seed: int = typer.Option(0, "--seed", help="Run seed of the bandit (rng = seed ^ cycle time); as in the backtest."),
    warmup_bars: int = typer.Option(4320, "--warmup-bars", min=0, help="1m bars of history fed to the signals first."),
    speed: Optional[float] = typer.Option(None, "--speed", min=0.001, help="Replay at SPEED x real time (default: as fast as possible)."),
    confirm_live: bool = typer.Option(False, "--confirm-live", help="Second opt-in for live trading (with mode: live in venue.yaml)."),
    override: Optional[list[str]] = typer.Option(None, "--override", help="Decision-parameter override KEY=VALUE (repeatable; see botcore.strategy.build_params)."),
    fresh: bool = typer.Option(False, "--fresh", help="Refuse to resume: the ledger must hold no run yet."),
) -> None:
    """Run the bot cycle by cycle: feed, decide, venue, ledger (paper over a replayed store today).

    Every cycle is one ledger transaction (orders, fills, funding, decisions,
    equity, heartbeat). The same window run by `botcore backtest` gives the
    same trades. Ctrl-C stops after the current cycle.
    """
    from rich.console import Console

    settings = load_config(config)
    console = Console(width=120)
    if mode not in ("paper", "demo", "live"):
        raise typer.BadParameter(f"--mode {mode!r}: use paper, demo or live")
    if mode == "live" and not (settings.venue.mode == "live" and confirm_live):
        typer.secho("live trading needs both `mode: live` in config/venue.yaml and --confirm-live; refused.",
                    fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    if mode in ("demo", "live"):
        typer.secho(f"--mode {mode}: not yet: needs the live loop (BloFin venue, live feed, reconciliation). "
                    "Use --mode paper --feed replay today.", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    if feed != "replay":
        typer.secho(f"--feed {feed}: not yet: needs the live loop (live public data feed). Use --feed replay --data DIR.",
                    fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    if data is None:
        raise typer.BadParameter("--feed replay needs --data DIR (a store, e.g. from `botcore data sample`)")
    from botcore.ops.logs import configure_logging
    from botcore.ops.paths import default_log_dir

    try:
        configure_logging(default_log_dir())
    except OSError as exc:
        typer.secho(f"logging to {default_log_dir()}: {exc} (console only)", fg=typer.colors.YELLOW, err=True)
    quiet_logs()
    from botcore.engine.loop import replay_loop
    from botcore.ops.heartbeat import Heartbeat
    from botcore.errors import BotcoreError
    from botcore.ledger import Ledger
    from botcore.market.store import Store

    store = Store(data)
    if not store.root.is_dir():
        typer.secho(f"--data {data}: no such directory", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    try:
        led = Ledger.open(ledger, starting_cash_usd=settings.venue.starting_equity_usd, mode="paper")
    except BotcoreError as exc:
        typer.secho(f"--ledger {ledger}: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    overrides = parse_overrides(override)
    cycle_s = float(settings.schedules.cycle_seconds)
    heartbeat = Heartbeat(ledger, interval_s=float(settings.schedules.heartbeat_seconds),
                          stall_after_s=3 * cycle_s).start()
    try:
        loop, window = replay_loop(store, settings, led, start_ms=parse_time(start, "--start"),
                                   end_ms=parse_time(end, "--end"), symbols=split_symbols(symbols),
                                   warmup_bars=warmup_bars, run_seed=seed, speed=speed,
                                   params_overrides=overrides or None, resume=not fresh)
        install_stop_handlers(loop)
        total = window.n_bars if cycles is None else min(cycles, window.n_bars)
        if store.synthetic:
            console.print("[bold yellow]Replaying a SYNTHETIC market[/] (generated, not recorded from any venue).")
        console.print(f"paper replay of {len(loop.symbols)} symbols, {when(window.start_ms)} .. {when(window.end_ms)} UTC "
                      f"({total:,} cycles, {window.warmup_bars:,} warm-up bars) -> {ledger}")
        report = run_with_progress(loop, total, cycles, console, heartbeat)
    except BotcoreError as exc:
        typer.secho(f"run failed: {exc}", fg=typer.colors.RED, err=True)
        heartbeat.stop(final_status="failed")
        led.close()
        raise typer.Exit(1) from None
    except BaseException:
        heartbeat.stop(final_status="failed")
        raise
    heartbeat.stop()
    from botcore.engine.report import ledger_summary, summary_table

    summary = ledger_summary(led, reason_counts=loop.engine.state.reason_counts)
    console.print(summary_table(summary, title=f"paper replay: {report.cycles:,} cycles ({report.stopped})"))
    ok = summary["invariant_ok"]
    loop.close()
    led.close()
    raise typer.Exit(0 if ok else 1)


def parse_overrides(items: Optional[list[str]]) -> dict:
    """Parse ``KEY=VALUE`` overrides (VALUE as a number when it parses as one)."""
    out: dict = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"--override {item!r}: use KEY=VALUE")
        try:
            out[key.strip()] = float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            out[key.strip()] = value
    return out


def install_stop_handlers(loop) -> None:
    """SIGTERM (and SIGINT) ask the loop to stop after the current step; a second one interrupts at once."""
    import signal

    def on_signal(signum, _frame):
        if loop._stop:
            raise KeyboardInterrupt
        logger.warning("signal %d: stopping after the current cycle", signum)
        loop.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)


def run_with_progress(loop, total: int, cycles: Optional[int], console, heartbeat=None):
    """Run ``loop`` with a rich progress bar (simulated time, equity, fills); return its RunReport."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    fills = 0
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console, transient=False) as progress:
        task = progress.add_task("replay", total=total)

        def on_step(rep, n: int) -> None:
            nonlocal fills
            fills += rep.n_fills
            if heartbeat is not None:
                heartbeat.tick(cycle_ts_ms=rep.t_ms, status="ok", positions=rep.n_positions,
                               compute_ms=round(rep.seconds * 1000, 3))
            if n % 30 == 0 or n == total or rep.n_fills:
                progress.update(task, completed=n, description=(
                    f"{when(rep.t_ms)} UTC  equity {rep.equity_usd:,.2f}  positions {rep.n_positions}  fills {fills}"))

        return loop.run(cycles=cycles, progress=on_step)


def register(root: typer.Typer) -> None:
    """Add ``botcore run`` to the root app."""
    root.command("run")(run)
