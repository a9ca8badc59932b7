"""``botcore audit lookahead`` and ``botcore sweep``: the research commands over the production kernels."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from botcore.cli.run_cmd import load_config, parse_time, quiet_logs, split_symbols, when

audit_app = typer.Typer(help="Audits of the research results' fidelity (look-ahead).", no_args_is_help=True)


@audit_app.command("lookahead")
def lookahead(
    data: Path = typer.Option(..., "--data", help="Store directory."),
    start: Optional[str] = typer.Option(None, "--start", help="First audited cycle, UTC (default: the data's start + warm-up)."),
    end: Optional[str] = typer.Option(None, "--end", help="Last audited cycle, UTC."),
    symbols: Optional[str] = typer.Option(None, "--symbols", help="Comma-separated subset of the universe."),
    bars: Optional[int] = typer.Option(None, "--bars", min=1, help="Audit at most N bars from the start."),
    warmup_bars: int = typer.Option(1440, "--warmup-bars", min=0, help="1m bars of history before the start."),
    config: Optional[Path] = typer.Option(None, "--config", help="Configuration directory."),
    seed: int = typer.Option(0, "--seed", help="Run seed of the bandit."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the violations as CSV here."),
) -> None:
    """Recompute every bar with the data truncated at that bar; list any input, signal, feature or decision that changes."""
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
                                     warmup_bars=warmup_bars, run_seed=seed,
                                     progress=lambda done, total: bar.update(task, completed=done, total=total))
    except BotcoreError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    head = (f"{report.n_bars} bars x {len(report.symbols)} symbols x {len(report.fields)} fields "
            f"({when(report.start_ms)} .. {when(report.end_ms)} UTC): {report.n_checked:,} values compared")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        report.table().to_csv(out, index=False)
    if report.ok:
        console.print(f"[green]no look-ahead[/green]: {head}")
        return
    table = Table(title=f"look-ahead violations: {len(report.violations)} (first 40)")
    for c in ("bar", "symbol", "field", "full", "truncated"):
        table.add_column(c)
    for v in report.violations[:40]:
        table.add_row(when(v.ts_ms), v.symbol, v.field, f"{v.full:.10g}", f"{v.truncated:.10g}")
    console.print(table)
    console.print(f"[red]LOOK-AHEAD[/red]: {head}")
    raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    """Add ``botcore audit ...`` and ``botcore sweep`` to the root app."""
    root.add_typer(audit_app, name="audit")
