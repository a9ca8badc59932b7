"""``botcore backtest``: every bar of every symbol through the compiled step, into a ledger and a summary."""

from __future__ import annotations

from pathlib import Path

import typer

from botcore.cli.run_cmd import load_config, parse_time, quiet_logs, split_symbols, when


def backtest(
    data: Path = typer.Option(..., "--data", help="Store directory (e.g. from `botcore data sample` or `botcore data import`)."),
    out: Path = typer.Option(..., "--out", help="Output directory: ledger.sqlite and summary.json."),
    start: str | None = typer.Option(None, "--start", help="First cycle, UTC (default: the data's start + warm-up)."),
    end: str | None = typer.Option(None, "--end", help="Last cycle, UTC (default: the data's end)."),
    symbols: str | None = typer.Option(None, "--symbols", help="Comma-separated subset of the universe."),
    config: Path | None = typer.Option(None, "--config", help="Configuration directory (default: $BOTCORE_CONFIG or ./config)."),
    seed: int = typer.Option(0, "--seed", help="Run seed of the bandit (rng = seed ^ cycle time)."),
    warmup_bars: int = typer.Option(4320, "--warmup-bars", min=0, help="1m bars of history fed to the signals before --start."),
    trail: str = typer.Option("auto", "--trail", help="Decision trail: full (a row per symbol per bar), changes, entries (entries and exits only), none, or auto."),
    trail_every: int = typer.Option(60, "--trail-every", min=1, help="With --trail changes: a row at least every N bars."),
    chunk_bars: int = typer.Option(10_080, "--chunk-bars", min=60, help="Bars per compiled call (memory, progress)."),
    params_from: Path | None = typer.Option(None, "--params-from", help="The bot's ledger: backtest with its ACTIVE learned parameters, benches and capital multiplier (copied into the run's ledger)."),
    override: list[str] | None = typer.Option(None, "--override", help="Decision-parameter override KEY=VALUE (repeatable; per-strategy keys as min_conviction.<strategy>)."),
    bench_from_start: bool = typer.Option(False, "--bench-from-start", help="With --params-from: apply benches from the window's start rather than from when they began."),
) -> None:
    """Backtest the configured bot on a stored market with the paper fill model.

    One compiled loop per chunk over all bars of all symbols (the same step as
    `botcore run`), its orders, fills, funding, equity and decision trail in a
    ledger of the live bot's schema (OUT/ledger.sqlite), and the summary —
    return, profit factor, win rate, expectancy, Sharpe, Sortino, max drawdown,
    fees, funding, exposure, trades per day — printed and in OUT/summary.json.
    Exit 1 when the ledger invariant does not hold exactly.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from botcore.cli.overrides import overrides_or_exit
    from botcore.engine.backtest import run_backtest
    from botcore.engine.report import summary_table
    from botcore.errors import BotcoreError

    settings = load_config(config)
    overrides = overrides_or_exit(settings, override)
    if trail not in ("auto", "full", "changes", "entries", "none"):
        raise typer.BadParameter(f"--trail {trail!r}: use auto, full, changes, entries or none")
    if not data.is_dir():
        typer.secho(f"--data {data}: no such directory", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    from botcore.cli.run_guard import check_store
    from botcore.market.store import Store

    check_store(Store(data), split_symbols(symbols) or [a.symbol for a in settings.universe.enabled])
    if params_from is not None and not params_from.is_file():
        typer.secho(f"--params-from {params_from}: no such ledger", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    if bench_from_start and params_from is None:
        raise typer.BadParameter("--bench-from-start needs --params-from LEDGER")
    quiet_logs()
    console = Console(width=120)
    with Progress(TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(), TextColumn("bars"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console) as progress:
        tasks: dict[str, TaskID] = {}

        def report(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(phase, total=total)
            progress.update(tasks[phase], completed=done, total=total)

        try:
            result = run_backtest(data, settings, out, start_ms=parse_time(start, "--start"),
                                  end_ms=parse_time(end, "--end"), symbols=split_symbols(symbols),
                                  warmup_bars=warmup_bars, run_seed=seed, trail=trail, trail_every=trail_every,
                                  chunk_bars=chunk_bars, progress=report, params_from=params_from,
                                  params_overrides=overrides or None,
                                  bench_from_start=bench_from_start)
        except BotcoreError as exc:
            progress.stop()
            typer.secho(f"backtest failed: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from None
        except OSError as exc:  # --out not a directory, not writable, disk full
            progress.stop()
            typer.secho(f"backtest failed: {exc.filename or out}: {exc.strerror or exc}", fg=typer.colors.RED,
                        err=True)
            raise typer.Exit(1) from None
    s = result.summary
    w = result.window
    if s.get("synthetic_data"):
        console.print("[bold yellow]SYNTHETIC market[/]: generated by botcore, not recorded from any venue.")
    title = (f"backtest: {len(result.symbols)} symbols, {when(w.start_ms)} .. {when(w.end_ms)} UTC, "
             f"{w.n_bars:,} bars (+{w.warmup_bars:,} warm-up)")
    console.print(summary_table(s, title=title))
    t = result.timings
    console.print(f"compute {t.get('compute', 0):.1f} s, data {t.get('load', 0):.1f} s, warm-up {t.get('warmup', 0):.1f} s, "
                  f"ledger {t.get('ledger', 0):.1f} s; decision trail: {s.get('trail')} ({s.get('decision_rows', 0):,} rows)")
    console.print(f"ledger  {result.ledger_path}\nsummary {result.out_dir / 'summary.json'}")
    console.print(f"next:   botcore dashboard --ledger {result.ledger_path}\n"
                  f"        botcore review --ledger {result.ledger_path} --days {max(1, round(s.get('days', 7)))} --out {result.out_dir}")
    raise typer.Exit(0 if s.get("invariant_ok") else 1)


def register(root: typer.Typer) -> None:
    """Add ``botcore backtest`` to the root app."""
    root.command("backtest")(backtest)
