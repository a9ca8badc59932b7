"""``botcore run``: the bot, cycle by cycle, in paper, demo or live mode, on a replayed or the live market.

``--feed replay --data DIR`` runs :class:`botcore.engine.loop.TradingLoop` over
a stored market with the paper venue (:func:`botcore.engine.loop.replay_loop`);
``--feed live`` runs it on the wall clock over BloFin's public data and the
intel feeds (:func:`botcore.engine.live.live_loop`) with the paper venue
(``--mode paper``) or BloFin (``demo``; ``live`` needs ``mode: live`` in
``config/venue.yaml`` and ``--confirm-live``). A run already in the ledger is
resumed.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import time
from pathlib import Path

import typer

from botcore.cli.overrides import overrides_or_exit
from botcore.cli.run_guard import check_resume, check_store, take_ledger
from botcore.clock import duration, utc
from botcore.ops.guard import InvariantGuard

logger = logging.getLogger(__name__)

INTEL_PROVIDERS = ("coinglass", "alternative_me", "cryptocompare")
NOISY_LOGGERS = ("botcore.ledger", "botcore.venues", "botcore.market", "botcore.engine", "numba")


def quiet_logs() -> None:
    """Keep the per-order INFO lines of the ledger and venues out of a progress bar (unless --verbose)."""
    if logging.getLogger().level <= logging.DEBUG:
        return
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def parse_time(text: str | None, name: str) -> int | None:
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
    except (ValueError, TypeError, OverflowError) as exc:
        raise typer.BadParameter(f"{name} {text!r}: not a UTC time like 2024-01-04 or 2024-01-04 12:00 ({exc})") from None


def load_config(config: Path | None):
    """Load and validate the configuration, or exit 1 naming the file and key."""
    from botcore.config import load_settings
    from botcore.errors import ConfigError

    try:
        return load_settings(config)
    except ConfigError as exc:
        typer.secho(f"configuration invalid:\n{exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None


def split_symbols(symbols: str | None) -> list[str] | None:
    if not symbols:
        return None
    return [s.strip() for s in symbols.split(",") if s.strip()]


#: seconds between progress lines when the output is not a terminal (a file, a pipe, a service log)
PROGRESS_EVERY_S = 30.0


def when(ts_ms: int) -> str:
    return utc(ts_ms, suffix=False)


def run(
    ctx: typer.Context,
    mode: str = typer.Option("paper", "--mode", help="paper (default: simulated fills) | demo (BloFin demo trading) | live (real money)."),
    feed: str = typer.Option("replay", "--feed", help="replay (a stored market, --data) | live (BloFin public data + intel feeds, wall clock)."),
    data: Path | None = typer.Option(None, "--data", help="Store directory to replay (--feed replay)."),
    start: str | None = typer.Option(None, "--start", help="First cycle, UTC (replay; default: the data's start + warm-up)."),
    end: str | None = typer.Option(None, "--end", help="Last cycle, UTC (replay; default: the data's end)."),
    cycles: int | None = typer.Option(None, "--cycles", min=1, help="Stop after this many cycles (default: replay to the end; live forever)."),
    ledger: Path = typer.Option(..., "--ledger", help="The ledger's SQLite file (created; an existing run in it is resumed)."),
    config: Path | None = typer.Option(None, "--config", help="Configuration directory (default: $BOTCORE_CONFIG or ./config)."),
    symbols: str | None = typer.Option(None, "--symbols", help="Comma-separated subset of the universe."),
    seed: int = typer.Option(0, "--seed", help="Run seed of the bandit (rng = seed ^ cycle time); as in the backtest."),
    warmup_bars: int = typer.Option(4320, "--warmup-bars", min=0, help="1m bars of history fed to the signals first (live: downloaded)."),
    speed: float | None = typer.Option(None, "--speed", min=0.001, help="Replay at SPEED x real time (default: as fast as possible)."),
    confirm_live: bool = typer.Option(False, "--confirm-live", help="Second opt-in for live trading (with mode: live in venue.yaml)."),
    override: list[str] | None = typer.Option(None, "--override", help="Decision-parameter override KEY=VALUE (repeatable; see botcore.strategy.build_params)."),
    fresh: bool = typer.Option(False, "--fresh", help="Refuse to resume: the ledger must hold no run yet."),
    resume_with_changes: bool = typer.Option(False, "--resume-with-changes", help="Resume even though --seed, --override or --data differ from the run's (the changes are applied and recorded)."),
    invariant_every: int = typer.Option(60, "--invariant-every", min=0, help="Check the ledger invariant every N cycles (and at start); a broken one freezes entries (0: only at start)."),
    venue_url: str | None = typer.Option(None, "--venue-url", help="BloFin REST base URL (default: ccxt's; a proxy or a local test server)."),
    reports_dir: Path | None = typer.Option(None, "--reports-dir", help="Render and email the daily report (schedules.daily_report_utc) and the review (every schedules.review_days) into DIR (live runs: default <ledger>.reports; replays: only with this option)."),
    intel_url: list[str] | None = typer.Option(None, "--intel-url", help="PROVIDER=URL base URL of coinglass, alternative_me or cryptocompare (a proxy or a local test server; repeatable)."),
) -> None:
    """Run the bot cycle by cycle: feed, decide, venue, ledger.

    Every cycle is one ledger transaction (orders, fills, funding, decisions,
    equity, heartbeat); orders are written to the ledger before they are sent.
    `--feed replay` replays a stored market (the same window run by
    `botcore backtest` gives the same trades); `--feed live` runs on the wall
    clock every `cycle_seconds` (config/schedules.yaml) on BloFin's public data.
    `--mode demo|live` trade on BloFin with credentials from the environment
    (BLOFIN_API_KEY, BLOFIN_API_SECRET, BLOFIN_PASSPHRASE); live also needs
    `mode: live` in config/venue.yaml and --confirm-live. An existing run in
    the ledger is resumed (orders left open are looked up by client order id,
    then the ledger is reconciled with the venue). SIGTERM or Ctrl-C stop after
    the current cycle.
    """
    from rich.console import Console

    from botcore.engine.live import check_mode
    from botcore.errors import BotcoreError, ConfigError

    settings = load_config(config)
    console = Console(width=120)
    try:
        check_mode(settings, mode, confirm_live)
    except ConfigError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    if feed not in ("replay", "live"):
        raise typer.BadParameter(f"--feed {feed!r}: use replay or live")
    if feed == "replay" and mode != "paper":
        typer.secho(f"--mode {mode} trades on BloFin and needs --feed live (a replayed market cannot be traded on a "
                    "real venue).", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    if feed == "replay" and data is None:
        raise typer.BadParameter("--feed replay needs --data DIR (a store, e.g. from `botcore data sample`)")
    if feed == "live" and (data is not None or start or end or speed):
        raise typer.BadParameter("--data, --start, --end and --speed are for --feed replay; --feed live runs now")
    from botcore.ops.logs import configure_logging
    from botcore.ops.paths import default_log_dir

    try:
        configure_logging(default_log_dir())
    except OSError as exc:
        typer.secho(f"logging to {default_log_dir()}: {exc} (console only)", fg=typer.colors.YELLOW, err=True)
    quiet_logs()
    from botcore.ledger import Ledger
    from botcore.ops.heartbeat import Heartbeat

    overrides = overrides_or_exit(settings, override)
    intel_urls = parse_urls(intel_url)
    writer_lock = take_ledger(ledger, ctx)  # one writer per ledger, held until the command ends
    starting_cash = settings.venue.starting_equity_usd
    venue = aio = None
    if feed == "live" and mode != "paper":
        import asyncio

        venue = open_live_venue(settings, mode, venue_url)
        aio = asyncio.new_event_loop()  # the run's event loop: ccxt's client and throttler stay bound to it
        starting_cash = venue_starting_cash(venue, aio)
    try:
        led = Ledger.open(ledger, starting_cash_usd=starting_cash, mode=mode)
    except BotcoreError as exc:
        typer.secho(f"--ledger {ledger}: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    if fresh and (len(led.orders()) or led.get_meta("engine:state")):
        typer.secho(f"--fresh: ledger {ledger} already holds a run", fg=typer.colors.RED, err=True)
        led.close()
        raise typer.Exit(1)
    if not fresh:
        check_resume(led, "replay" if feed == "replay" else "live", seed=seed, overrides=overrides,
                     with_changes=resume_with_changes, data=data, symbols=split_symbols(symbols),
                     start_ms=parse_time(start, "--start"), end_ms=parse_time(end, "--end"))
    guard = InvariantGuard(led, every=invariant_every)
    guard.check(when="at start")
    cycle_s = float(settings.schedules.cycle_seconds)
    heartbeat = Heartbeat(ledger, interval_s=float(settings.schedules.heartbeat_seconds),
                          stall_after_s=3 * cycle_s).start()
    loop = None
    try:
        if feed == "replay":
            loop, total, title = start_replay(console, settings, led, ledger, data, start, end, symbols, warmup_bars,
                                              seed, speed, overrides, fresh)
        else:
            loop, total, title = start_live(console, settings, led, ledger, mode, venue, symbols, warmup_bars, seed,
                                            overrides, cycles, venue_url, intel_urls, aio=aio)
        install_stop_handlers(loop)
        reports = None
        if feed == "live" or reports_dir is not None:
            from botcore.ops.reports import ScheduledReports
            from pipelines import run_review

            reports = loop.reports = ScheduledReports.from_settings(
                ledger, settings, reports_dir or Path(f"{ledger}.reports"), run_pipeline=run_review,
                config_dir=str(config) if config else None)
        learner = None
        if feed == "live":
            from botcore.engine.live import LearningRunner

            learner = LearningRunner(led, settings.schedules.learning_hours, config_dir=config)
        report = run_with_progress(loop, total, cycles, console, heartbeat,
                                   after=(lambda rep: learner.poll(rep.t_ms)) if learner else None, guard=guard)
        if learner is not None:
            learner.stop()
        if reports is not None:
            reports.close()
    except BotcoreError as exc:
        typer.secho(f"run failed: {exc}", fg=typer.colors.RED, err=True)
        heartbeat.stop(final_status="failed")
        if loop is not None:
            close_quietly(loop)
        else:
            close_venue(venue, aio)
        led.close()
        raise typer.Exit(1) from None
    except (sqlite3.Error, OSError) as exc:  # disk full, I/O error: the cycle in flight was rolled back whole
        stop_on_storage_fault(exc, ledger, led, heartbeat)
    except BaseException:
        heartbeat.stop(final_status="failed")
        raise
    heartbeat.stop()
    from botcore.engine.report import ledger_summary, summary_table

    assert loop is not None  # set in the try block above, which re-raises on failure
    summary = ledger_summary(led, reason_counts=loop.engine.state.reason_counts)
    console.print(summary_table(summary, title=f"{title}: {report.cycles:,} cycles ({report.stopped})"))
    ok = summary["invariant_ok"]
    close_quietly(loop)
    led.close()
    writer_lock.release()
    raise typer.Exit(0 if ok else 1)


def open_live_venue(settings, mode: str, venue_url: str | None):
    """Open the BloFin venue of ``mode`` or exit 2 with the reason (missing credentials, bad configuration)."""
    from botcore.engine.live import open_venue
    from botcore.errors import BotcoreError

    try:
        return open_venue(settings, mode, api_url=venue_url)
    except BotcoreError as exc:
        typer.secho(f"--mode {mode}: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


def close_venue(venue, aio) -> None:
    """Close a real venue's client on the run's event loop after a failed start (errors only logged)."""
    if venue is None or aio is None or aio.is_closed():
        return
    try:
        aio.run_until_complete(venue.close())
    except Exception:  # noqa: BLE001
        logger.exception("closing the venue")


def venue_starting_cash(venue, aio=None) -> float:
    """The venue's wallet balance: a new demo/live ledger starts from what the account holds.

    Read on ``aio``, the event loop the run goes on using (ccxt binds its session and
    throttler to the loop of their first request); without one, on a loop of its own
    after which the venue is closed (usable again only on a new loop).
    """
    import asyncio

    from botcore.errors import BotcoreError

    own = aio is None
    aio = asyncio.new_event_loop() if own else aio

    async def read() -> float:
        try:
            return float((await venue.balance()).cash_usd)
        finally:
            if own:
                await venue.close()

    try:
        return aio.run_until_complete(read())
    except BotcoreError as exc:
        typer.secho(f"the venue's balance could not be read: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    finally:
        if own:
            aio.close()


def start_replay(console, settings, led, ledger, data, start, end, symbols, warmup_bars, seed, speed, overrides, fresh):
    """Build the paper replay loop; return (loop, cycles to run, title)."""
    from botcore.engine.loop import replay_loop
    from botcore.market.store import Store

    store = Store(data)
    if not store.root.is_dir():
        raise typer.BadParameter(f"--data {data}: no such directory")
    prior = None if fresh else led.get_meta("replay")
    check_store(store, (prior or {}).get("symbols") or split_symbols(symbols)
                or [a.symbol for a in settings.universe.enabled])
    loop, window = replay_loop(store, settings, led, start_ms=parse_time(start, "--start"),
                               end_ms=parse_time(end, "--end"), symbols=split_symbols(symbols),
                               warmup_bars=warmup_bars, run_seed=seed, speed=speed,
                               params_overrides=overrides or None, resume=not fresh)
    if store.synthetic:
        console.print("[bold yellow]Replaying a SYNTHETIC market[/] (generated, not recorded from any venue).")
    console.print(f"paper replay of {len(loop.symbols)} symbols, {when(window.start_ms)} .. {when(window.end_ms)} UTC "
                  f"({window.n_bars:,} cycles, {window.warmup_bars:,} warm-up bars) -> {ledger}")
    return loop, window.n_bars, "paper replay"


def parse_urls(items: list[str] | None) -> dict[str, str]:
    """Parse ``PROVIDER=URL`` items of --intel-url."""
    out = {}
    for item in items or ():
        name, sep, url = item.partition("=")
        if not sep or not name.strip() or not url.strip():
            raise typer.BadParameter(f"--intel-url {item!r}: use PROVIDER=URL")
        if name.strip() not in INTEL_PROVIDERS:
            raise typer.BadParameter(f"--intel-url {item!r}: PROVIDER is one of {', '.join(INTEL_PROVIDERS)}")
        out[name.strip()] = url.strip()
    return out


def start_live(console, settings, led, ledger, mode, venue, symbols, warmup_bars, seed, overrides, cycles, venue_url,
               intel_urls=None, aio=None):
    """Build the live loop (live feed on the wall clock; paper, demo or live venue); return (loop, cycles, title)."""
    from botcore.clock import Scheduler
    from botcore.engine.live import META_KEY, live_loop, open_venue, rest_hosts
    from botcore.intel import IntelFeeds
    from botcore.market.live import SETTLE_MS, LiveFeed, live_intel_options, public_exchange

    prior = led.get_meta(META_KEY)
    run_symbols = (prior["symbols"] if prior is not None else
                   split_symbols(symbols) or [a.symbol for a in settings.universe.enabled])
    period_ms = int(settings.schedules.cycle_seconds * 1000)
    scheduler = Scheduler(period_ms, cycles=cycles, delay_ms=SETTLE_MS)
    data_host, trade_host = rest_hosts(mode, venue_url)
    live_feed = LiveFeed(run_symbols, exchange=public_exchange(data_host, rate_limit_ms=settings.venue.rate_limit_ms),
                         staleness=settings, lookback_bars=2,
                         intel=IntelFeeds(settings, base_urls=intel_urls or None, options=live_intel_options(period_ms)),
                         scheduler=scheduler)
    venue = venue if venue is not None else open_venue(settings, mode)
    console.print(f"[bold]{mode}[/] trading of {len(run_symbols)} symbols on the live BloFin feed, a cycle every "
                  f"{period_ms / 1000:g} s -> {ledger}" + (" ([bold red]REAL MONEY[/])" if mode == "live" else ""))
    console.print(f"market data from {data_host}; orders "
                  + (f"on {trade_host}" if trade_host else "simulated by the paper venue (no exchange)")
                  + (" (BloFin demo trading)" if mode == "demo" else ""))
    if warmup_bars:
        console.print(f"warm-up: downloading the last {warmup_bars:,} minutes of history ...")
    loop = live_loop(settings, led, live_feed, venue, mode=mode, symbols=run_symbols, warmup_bars=warmup_bars,
                     run_seed=seed, params_overrides=overrides or None, warm_up_kwargs={"api_url": data_host}, aio=aio)
    for line in getattr(venue, "differences", ()):
        console.print(f"[yellow]{line}[/]")
    return loop, cycles, f"{mode} (live feed)"


def close_quietly(loop) -> None:
    """Close the loop, its live feed and a real venue's client (errors only logged: the run is over)."""
    import asyncio

    feed_close = getattr(loop.feed, "close", None)  # a live feed's clients and event loop; a replay has none
    if feed_close is not None:
        try:
            feed_close()
        except Exception:  # noqa: BLE001
            logger.exception("closing the feed")
    venue_close = getattr(loop.venue, "close", None)
    if venue_close is not None and asyncio.iscoroutinefunction(venue_close):
        try:
            loop._aio.run_until_complete(venue_close())
        except Exception:  # noqa: BLE001
            logger.exception("closing the venue")
    loop.close()


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


def run_with_progress(loop, total: int | None, cycles: int | None, console, heartbeat=None, after=None,
                      guard=None):
    """Run ``loop`` with a rich progress bar (cycle time, equity, fills; ``after(report)`` per cycle); return its RunReport.

    ``guard`` (an :class:`botcore.ops.guard.InvariantGuard`) checks the ledger invariant every N committed cycles.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    fills = 0
    started, printed = time.monotonic(), [-math.inf]

    def on_step(rep, n: int, progress=None, task=None) -> None:
        nonlocal fills
        fills += rep.n_fills
        if heartbeat is not None:
            missing = any(age is None for age in rep.feed_age_s.values())
            heartbeat.tick(cycle_ts_ms=rep.t_ms, status="degraded" if missing else "ok",
                           positions=rep.n_positions, compute_ms=round(rep.seconds * 1000, 3),
                           feed_age_s=rep.feed_age_s)
        line = f"{when(rep.t_ms)} UTC  equity {rep.equity_usd:,.2f}  positions {rep.n_positions}  fills {fills}"
        if progress is not None:
            if total is None or n % 30 == 0 or n == total or rep.n_fills:
                progress.update(task, completed=n, description=line)
        elif n == 1 or n == total or time.monotonic() - printed[0] >= PROGRESS_EVERY_S:
            printed[0] = time.monotonic()  # output to a file or a pipe: a plain line every PROGRESS_EVERY_S
            done = f"cycle {n:,}" + (f"/{total:,} ({100 * n / total:.0f}%)" if total else "")
            console.print(f"{done}  {line}  [{duration((time.monotonic() - started) * 1000)} elapsed]",
                          soft_wrap=True, highlight=False)
        if guard is not None:
            guard.after_cycle(rep.t_ms, n)
        if after is not None:
            after(rep)

    if not console.is_terminal:
        return loop.run(cycles=cycles, progress=on_step)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console, transient=False) as progress:
        task = progress.add_task("cycles", total=total)
        return loop.run(cycles=cycles, progress=lambda rep, n: on_step(rep, n, progress, task))


def stop_on_storage_fault(exc: BaseException, ledger: Path, led, heartbeat) -> None:
    """A ledger write failed (disk full, I/O error): name the last committed cycle, alert, exit 1 without a traceback."""
    from botcore.ops.notify import Notifier, RedFlag

    try:
        last = led.equity()["ts_ms"].max() if led is not None else None
        last_text = f"after the last committed cycle {when(int(last))} UTC" if last == last and last is not None \
            else "before its first cycle was committed"
    except Exception:  # noqa: BLE001 - the ledger may be unreadable too
        last_text = "(the last committed cycle could not be read)"
    full = "full" in str(exc).lower() or getattr(exc, "errno", None) == 28
    reason = "the disk is full" if full else "the disk refused the write (no space, a size limit or a failing disk)"
    message = (f"run stopped: writing the ledger {ledger} failed ({type(exc).__name__}: {exc}): {reason}. The cycle in "
               f"flight was rolled back whole, so the run stopped cleanly {last_text}. Free space (or fix the disk) "
               f"and rerun the same command to resume.")
    typer.secho(message, fg=typer.colors.RED, err=True)
    for action in (lambda: heartbeat.stop(final_status="failed"),
                   lambda: Notifier.from_env(ledger=None).alert(RedFlag.OPERATIONAL_ERROR, "bot stopped: ledger write "
                                                                "failed", message),
                   led.close):
        try:
            action()
        except Exception as err:  # noqa: BLE001 - best effort on a failing disk
            logger.error("after the ledger write failure: %s", err)
    raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    """Add ``botcore run`` to the root app."""
    root.command("run")(run)
