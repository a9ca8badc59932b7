"""``botcore audit lookahead`` and ``botcore sweep``: the research commands over the production kernels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from botcore.cli.run_cmd import load_config, parse_time, quiet_logs, split_symbols, when

audit_app = typer.Typer(help="Audits of the research results' fidelity (look-ahead).", no_args_is_help=True)


@audit_app.command("lookahead")
def lookahead(
    data: Path = typer.Option(..., "--data", help="Store directory."),
    start: str | None = typer.Option(None, "--start", help="First audited cycle, UTC (default: the data's start + warm-up)."),
    end: str | None = typer.Option(None, "--end", help="Last audited cycle, UTC."),
    symbols: str | None = typer.Option(None, "--symbols", help="Comma-separated subset of the universe."),
    bars: int | None = typer.Option(None, "--bars", min=1, help="Audit at most N bars from the start."),
    warmup_bars: int = typer.Option(1440, "--warmup-bars", min=0, help="1m bars of history before the start."),
    config: Path | None = typer.Option(None, "--config", help="Configuration directory."),
    seed: int = typer.Option(0, "--seed", help="Run seed of the bandit."),
    out: Path | None = typer.Option(None, "--out", help="Write the violations as CSV here."),
    batch: bool = typer.Option(True, "--batch/--no-batch", help="Also audit the batch signal path (compute_signals)."),
) -> None:
    """Recompute every bar with the data truncated at that bar (engine path and batch signals); list what changes."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from botcore.errors import BotcoreError
    from botcore.research.lookahead import audit_lookahead

    console = Console()
    settings = load_config(config)
    quiet_logs()
    try:
        with Progress(TextColumn("audit"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                      transient=True) as bar:
            task = bar.add_task("audit", total=None)
            report = audit_lookahead(data, settings, start_ms=parse_time(start, "--start"),
                                     end_ms=parse_time(end, "--end"), symbols=split_symbols(symbols), bars=bars,
                                     warmup_bars=warmup_bars, run_seed=seed, batch=batch,
                                     progress=lambda done, total: bar.update(task, completed=done, total=total))
    except BotcoreError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    paths = ", ".join(f"{name} {n}" for name, n in report.bars_run.items())
    head = (f"{report.n_bars} bars x {len(report.symbols)} symbols x {len(report.fields)} fields "
            f"({when(report.start_ms)} .. {when(report.end_ms)} UTC): {report.n_checked:,} values compared; "
            f"bars run the whole cycle: {paths}; {report.store_series} store series checked")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        report.table().to_csv(out, index=False)
    if report.ok:
        console.print(f"[green]no look-ahead[/green]: {head}")
        return
    table = Table(title=f"look-ahead violations: {len(report.violations)} (first 40)")
    for c in ("bar", "symbol", "field", "full", "truncated", "note"):
        table.add_column(c)
    for v in report.violations[:40]:
        table.add_row(when(v.ts_ms), v.symbol, v.field, f"{v.full:.10g}", f"{v.truncated:.10g}", v.note)
    console.print(table)
    console.print(f"[red]LOOK-AHEAD[/red]: {head}")
    raise typer.Exit(1)


def sweep(
    data: Path = typer.Option(..., "--data", help="Store directory."),
    grid: list[str] = typer.Option(..., "--grid", help="'key=v1,v2,...' (repeat for more keys); keys as build_params "
                                   "overrides: 'field' or 'field.strategy_name'."),
    out: Path = typer.Option(..., "--out", help="Output directory: results.csv, folds.csv, sweep.json, tasks/."),
    folds: int = typer.Option(0, "--folds", min=0, help="Walk-forward folds (0: the grid once over the window)."),
    train_days: float = typer.Option(1.0, "--train-days", help="Days of each fold's in-sample window."),
    test_days: float = typer.Option(0.5, "--test-days", help="Days of each fold's out-of-sample window."),
    metric: str = typer.Option("total_return", "--metric", help="What picks the best grid point in sample."),
    start: str | None = typer.Option(None, "--start", help="First cycle, UTC (default: the data's start + warm-up)."),
    end: str | None = typer.Option(None, "--end", help="Last cycle, UTC."),
    symbols: str | None = typer.Option(None, "--symbols", help="Comma-separated subset of the universe."),
    warmup_bars: int = typer.Option(1440, "--warmup-bars", min=0, help="1m bars of history before each task's start."),
    seed: int = typer.Option(0, "--seed", help="Run seed of the bandit (the same for every task)."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="Dask scheduler ADDRESS of an existing cluster "
                                            "(default: a LocalCluster of worker processes; 'serial' runs in this "
                                            "process)."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="LocalCluster worker processes "
                                          "(default: the machine's cores)."),
    config: Path | None = typer.Option(None, "--config", help="Configuration directory."),
    override: list[str] | None = typer.Option(None, "--override", help="Override KEY=VALUE held fixed at every grid point (repeatable)."),
) -> None:
    """Run a parameter grid (and walk-forward folds) as backtest tasks on Dask; report out of sample beside in sample."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from botcore.cli.overrides import overrides_or_exit
    from botcore.cli.run_guard import check_store
    from botcore.errors import BotcoreError
    from botcore.market.store import Store
    from botcore.research.sweep import parse_grid, run_sweep

    console = Console()
    settings = load_config(config)
    overrides = overrides_or_exit(settings, override)
    if data.is_dir():  # a missing store is run_sweep's own error
        check_store(Store(data), split_symbols(symbols) or [a.symbol for a in settings.universe.enabled])
    quiet_logs()
    try:
        sweep_grid: dict[str, list[Any]] | list[str] = grid
        if overrides:  # held fixed: one value per key, the grid's own keys win
            sweep_grid = {**{k: [v] for k, v in overrides.items()}, **parse_grid(grid)}
        with Progress(TextColumn("sweep tasks"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("sweep", total=None)
            result = run_sweep(data, settings, sweep_grid, out, folds=folds, train_days=train_days, test_days=test_days,
                               start_ms=parse_time(start, "--start"), end_ms=parse_time(end, "--end"),
                               symbols=split_symbols(symbols), warmup_bars=warmup_bars, run_seed=seed,
                               metric=metric, scheduler=scheduler, n_workers=workers,
                               progress=lambda done, total: bar.update(task, completed=done, total=total))
    except (BotcoreError, ValueError, OSError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    try:
        paths = result.write(out)
    except OSError as exc:
        console.print(f"[red]error:[/red] writing {out}: {exc}")
        raise typer.Exit(1) from None
    res = result.results
    table = Table(title=f"sweep: {len(res)} tasks ({metric})")
    for c in ("fold", "segment", "params", metric, "n_trades", "max_drawdown_pct"):
        table.add_column(c, justify="right" if c not in ("segment", "params") else "left")
    for r in res.itertuples(index=False):
        table.add_row(str(r.fold), r.segment, r.params, f"{getattr(r, metric):.4g}", f"{r.n_trades:.0f}",
                      f"{r.max_drawdown_pct:.2%}")
    console.print(table)
    if not result.folds.empty:
        f = result.folds
        wf = Table(title="walk-forward: best in sample, read out of sample")
        for c in ("fold", "params", "in sample", "out of sample", "OOS mean (all points)"):
            wf.add_column(c)
        for r in f.to_dict("records"):
            wf.add_row(str(r["fold"]), r["params"], f"{r[f'in_sample_{metric}']:.4g}",
                       f"{r[f'out_of_sample_{metric}']:.4g}", f"{r[f'out_of_sample_mean_{metric}']:.4g}")
        console.print(wf)
        gap = (f[f"in_sample_{metric}"] - f[f"out_of_sample_{metric}"]).mean()
        console.print(f"mean in-sample minus out-of-sample {metric}: {gap:.4g}")
    st = result.statistics
    if st:
        tie = f"; tied with {st['tied_with']} ({st['tie_break']})" if st["tied_with"] else ""
        dsr = (f"deflated Sharpe ratio {st['dsr_best']:.3f}" if st["dsr_note"] == ""
               else f"deflated Sharpe ratio not computed: {st['dsr_note']}")
        pbo = (f"probability of backtest overfitting {st['pbo']:.2f} ({st['n_combinations']} CSCV combinations)"
               if st["pbo_note"] == "" else f"PBO not computed: {st['pbo_note']}")
        console.print(f"best point {st['best_point']} {st['best_params']}{tie}; over {st['n_points']} points x "
                      f"{st['n_hours']} hourly returns ({st['basis']}): {dsr}; {pbo}")
    console.print(f"results: {paths['results']}  folds: {paths['folds']}  json: {paths['json']}")


def register(root: typer.Typer) -> None:
    """Add ``botcore audit ...`` and ``botcore sweep`` to the root app."""
    root.add_typer(audit_app, name="audit")
    root.command("sweep")(sweep)
