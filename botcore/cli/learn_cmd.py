"""``botcore learn``: one learning run (weights, thresholds, benching, autonomy, daily patterns).

By default the run goes through ``notebooks/pipelines/learning.ipynb`` with
papermill into ``<out>/learning/<UTC timestamp>/`` (the executed notebook is
the audit record, with its HTML, ``run.json`` and ``learning_run.json``);
``--no-notebook`` runs the same functions in process.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Literal, cast

import typer

from botcore.errors import LedgerError

logger = logging.getLogger(__name__)

EXIT_FAILED = 1
EXIT_UNUSABLE = 2


def _print_summary(summary: dict) -> None:
    cycle = summary["cycle"]
    typer.echo(f"learning cycle: {cycle['n_trades']} trades ({cycle['n_with_context']} with signal context)"
               + (" [dry run: nothing written]" if summary["dry_run"] else ""))
    for reason in cycle["reasons"]:
        typer.echo(f"  - {reason}")
    bench = summary["benching"]
    for reason in bench["reasons"]:
        typer.echo(f"  - {reason}")
    if bench["on_bench"]:
        typer.echo(f"  on the bench: {', '.join(bench['on_bench'])}")
    auto = summary["autonomy"]
    typer.echo(f"autonomy: health {auto['health']['score']:.3f}, capital multiplier {auto['multiplier']:.3f}")
    for alert in auto["drift"]["alerts"]:
        typer.secho(f"  drift: {alert}", fg=typer.colors.YELLOW)
    if summary["patterns"] is not None:
        for reason in summary["patterns"]["reasons"][:5]:
            typer.echo(f"patterns: {reason}")
    if summary["versions"]:
        typer.echo(f"parameter versions stored: {', '.join(f'v{v}' for v in summary['versions'])} "
                   "(botcore params show V; botcore params rollback KIND)")
    else:
        typer.echo("no parameter version stored")


def learn(
    ledger: Path = typer.Option(..., "--ledger", help="The ledger's SQLite file (opened as a writer unless --dry-run)."),
    data: Path = typer.Option(None, "--data", help="Market store root: recompute missing entry signals, signal drift, paper trades of benched symbols."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Compute and report everything, write nothing to the ledger."),
    out: Path = typer.Option(Path("runs"), "--out", help="Root of the run directories (OUT/learning/<UTC timestamp>/)."),
    config: Path = typer.Option(None, "--config", help="Configuration directory; default config/."),
    learning_config: Path = typer.Option(None, "--learning-config", help="YAML of learning knobs (botcore.learning.config); default CONFIG/learning.yaml when present, else the built-in defaults."),
    backtest_ledger: Path = typer.Option(None, "--backtest-ledger", help="Ledger of a backtest of the same period: live against backtest."),
    now: int = typer.Option(0, "--now", help="Cycle time in ms UTC; default the wall clock."),
    patterns: str = typer.Option("due", "--patterns", help="Pattern learner: due (once a day), always, never."),
    notebook: bool = typer.Option(True, "--notebook/--no-notebook", help="Run through the papermill notebook (the audit record) or in process."),
) -> None:
    """Run the learning system once on a ledger and store every change as a new parameter version.

    Signal weights move one bounded, smoothed step toward their attributed edge
    (nothing before 30 closed trades); conviction thresholds step toward 5-20
    trades a day at positive expectancy; losing symbols are benched and benched
    ones evaluated on paper; the autonomy controller sets the capital multiplier
    from health and drift; once a day the pattern learner records FDR-validated
    proposals (inactive). Exit codes: 0 done, 1 the notebook failed (the partial
    notebook is kept), 2 the ledger is unusable.
    """
    from botcore.ledger import Ledger

    if patterns not in ("due", "always", "never"):
        raise typer.BadParameter("--patterns must be due, always or never")
    pattern_mode = cast(Literal["due", "always", "never"], patterns)  # checked just above
    try:
        with Ledger.open(ledger, readonly=dry_run, create=False):
            pass
    except LedgerError as exc:
        typer.secho(f"ledger unusable: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(EXIT_UNUSABLE) from None
    if notebook:
        from botcore.learning.pipeline import run_learning_notebook
        from pipelines import PipelineError

        try:
            result = run_learning_notebook(ledger, out=out, data_dir=data, config_dir=config,
                                           learning_config=learning_config, backtest_ledger=backtest_ledger,
                                           now_ms=now, dry_run=dry_run, patterns=pattern_mode)
        except PipelineError as exc:
            typer.secho(str(exc), fg=typer.colors.RED, err=True)
            if exc.result is not None:
                typer.echo(f"partial notebook: {exc.result.executed}")
            raise typer.Exit(EXIT_FAILED) from None
        summary_path = result.run_dir / "learning_run.json"
        if summary_path.exists():
            _print_summary(json.loads(summary_path.read_text()))
        typer.echo(f"notebook: {result.executed}")
        typer.echo(f"HTML: {result.html}")
        return
    from botcore.config import load_settings
    from botcore.config.loader import default_config_dir
    from botcore.learning.config import load_learning_config
    from botcore.learning.pipeline import run_learning
    from botcore.market.store import Store

    settings = load_settings(config or default_config_dir())
    cfg = load_learning_config(learning_config or config or default_config_dir())
    backtest_trades = None
    if backtest_ledger is not None:
        with Ledger.open(backtest_ledger, readonly=True) as bt:
            backtest_trades = bt.trades()
    with Ledger.open(ledger, readonly=dry_run, create=False) as book:
        run = run_learning(book, settings, cfg=cfg, store=Store(data) if data else None, now_ms=now or None,
                           dry_run=dry_run, patterns=pattern_mode, backtest_trades=backtest_trades)
    _print_summary(json.loads(json.dumps(run.summary(), default=str)))


def register(root: typer.Typer) -> None:
    """Add ``learn`` to the root command."""
    root.command("learn")(learn)
