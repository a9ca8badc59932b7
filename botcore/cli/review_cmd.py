"""``botcore review`` and ``botcore cycle-report``: the report pipelines from the shell.

Both run a pipeline notebook of ``notebooks/pipelines/`` through papermill
(:func:`pipelines.run_notebook`) into ``<out>/<pipeline>/<UTC timestamp>/``:
the executed notebook (the audit record), its HTML and ``run.json``.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import typer

from botcore.clock import parse_utc
from botcore.errors import LedgerError

logger = logging.getLogger(__name__)

EXIT_FAILED = 1
EXIT_UNUSABLE = 2


def _check_ledger(path: Path) -> None:
    from botcore.ledger import Ledger
    from botcore.ledger.integrity import check_integrity

    integrity = check_integrity(path)
    if not integrity.exists or not integrity.ok:
        for problem in integrity.problems or (f"ledger {path} does not exist",):
            typer.secho(f"ledger unusable: {problem}", fg=typer.colors.RED, err=True)
        raise typer.Exit(EXIT_UNUSABLE)
    try:
        with Ledger.open(path, readonly=True):
            pass
    except LedgerError as exc:
        typer.secho(f"ledger unusable: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(EXIT_UNUSABLE) from None


def _run(name: str, parameters: dict[str, Any], out: Path) -> Any:
    from pipelines import PIPELINE_NOTEBOOKS, PipelineError, run_notebook

    try:
        return run_notebook(PIPELINE_NOTEBOOKS[name], parameters, runs_root=out)
    except PipelineError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        result = exc.result
        if result is not None:
            typer.echo(f"partial notebook: {result.executed}")
            if result.html is not None:
                typer.echo(f"partial HTML: {result.html}")
        raise typer.Exit(EXIT_FAILED) from None


def send_report_email(subject: str, html_path: Path, text: str, ledger_path: Path | None = None) -> bool:
    """Email a rendered report when notifications are configured; return True when it was sent.

    The hook into the operations package: ``botcore.ops.notify.send_report(...)``
    when the module offers that function, else ``Notifier.from_env(...).send_report(...)``
    (SMTP settings from the environment; the notifier logs when they are
    missing). Without ``botcore.ops.notify``, logs that email is not configured.
    """
    try:
        from botcore.ops import notify
    except ImportError:
        logger.info("email not configured: botcore.ops.notify is not available; report not emailed")
        return False
    html = html_path.read_text(encoding="utf-8")
    try:
        send_report = getattr(notify, "send_report", None)
        if callable(send_report):
            return bool(send_report(subject, html, [html_path], text=text))
        notifier = notify.Notifier.from_env(ledger=ledger_path) if ledger_path else notify.Notifier.from_env()
        if not notifier.enabled:
            logger.info("email not configured (SMTP settings missing); report not emailed")
            return False
        return bool(notifier.send_report(subject, html, [html_path], text=text))
    except Exception as exc:  # noqa: BLE001 - a failed email must not fail the review
        logger.error("report email failed: %s", exc)
        return False


def _fmt(x: Any, pct: bool = False) -> str:
    if isinstance(x, float) and math.isnan(x):
        return "n/a"
    return f"{100 * x:.2f}%" if pct else f"{x:.2f}"


def review(
    ledger: Path = typer.Option(..., "--ledger", help="The ledger's SQLite file (opened read-only)."),
    days: float = typer.Option(7.0, "--days", min=0.001, help="Length of the review window, days."),
    end: str = typer.Option("", "--end", help="Window end, UTC (e.g. '2024-01-08 00:00'); default the ledger's last equity snapshot."),
    out: Path = typer.Option(..., "--out", help="Root of the run directories; the run goes to OUT/review/<UTC timestamp>/."),
    config: Path = typer.Option(None, "--config", help="Configuration directory (sectors, heartbeat cadence); default config/."),
    email: bool = typer.Option(True, "--email/--no-email", help="Email the HTML when SMTP is configured."),
) -> None:
    """Render the periodic review of a ledger as a notebook and HTML; email it when SMTP is configured.

    Trades, win rate, profit factor with the verdict (above 1.2 success, below 0.8
    reassess the strategy, between: continue), expectancy, Sharpe, Sortino, max
    drawdown, fees, funding, exposure; equity and drawdown plots; P&L by strategy,
    symbol, sector, regime and signal; gate blocks; Kelly calibration; parameter
    changes; red flags. Prints where the HTML is. Exit codes: 0 rendered, 1 the
    notebook failed (the partial notebook and its HTML are kept), 2 the ledger is
    unusable.
    """
    _check_ledger(ledger)
    params = {"ledger_path": str(ledger.resolve()), "days": float(days), "end": end,
              "config_dir": str(config.resolve()) if config else ""}
    result = _run("review", params, out)
    summary_path = result.run_dir / "summary.json"
    s = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    typer.echo(f"review of {ledger}: {result.run_dir}")
    if s:
        typer.echo(f"  {s['n_trades']} trades, win rate {_fmt(s['win_rate'], True)}, profit factor "
                   f"{_fmt(s['profit_factor'])} -> {s['verdict']}; net P&L {s['net_pnl_usd']:+.2f} USD, "
                   f"max drawdown {_fmt(s['max_drawdown_pct'], True)}")
    review_json = result.run_dir / "review.json"
    if review_json.exists():
        raised = [f["name"] for f in json.loads(review_json.read_text())["flags"] if f["raised"]]
        if raised:
            typer.secho(f"  red flags: {', '.join(raised)}", fg=typer.colors.RED)
    typer.echo(f"HTML: {result.html}")
    if email:
        subject = f"review {ledger.name}: {s.get('verdict', 'rendered')}"
        text = (f"{s.get('n_trades', '?')} trades, profit factor {_fmt(s.get('profit_factor', math.nan))}, "
                f"verdict {s.get('verdict', '?')}. The report is attached as HTML.")
        if send_report_email(subject, Path(result.html), text, ledger.resolve()):
            typer.echo("emailed")
        else:
            typer.echo("not emailed (email not configured or sending failed; see the log)")


def cycle_report(
    ledger: Path = typer.Option(..., "--ledger", help="The ledger's SQLite file (opened read-only)."),
    data: Path = typer.Option(None, "--data", help="Market store root: rebuild the snapshot, signals and regime of the cycle."),
    cycle: str = typer.Option("", "--cycle", help="Decision time of the cycle, UTC (2024-01-04 07:12; epoch ms accepted); default the latest cycle."),
    lookback_hours: float = typer.Option(0.0, "--lookback-hours", min=0.0, help="History read from the store for signals and regime, hours; default (0) the longest signal window, bounded by the run's own history, so the decision reproduces."),
    out: Path = typer.Option(..., "--out", help="Root of the run directories; the run goes to OUT/cycle_report/<UTC timestamp>/."),
    config: Path = typer.Option(None, "--config", help="Configuration directory; default config/."),
) -> None:
    """Render one decision cycle: the snapshot, every signal, the regime, and why each symbol traded or not.

    The decision rows come from the ledger (the latest cycle unless --cycle); with
    --data the market store supplies the snapshot, signals and regime as known at
    that time. Prints where the HTML is. Exit codes as for `botcore review`.
    """
    _check_ledger(ledger)
    try:
        cycle_ts_ms = parse_utc(cycle, "--cycle") if cycle else 0
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    params = {"ledger_path": str(ledger.resolve()), "cycle_ts_ms": cycle_ts_ms,
              "data_dir": str(data.resolve()) if data else "", "lookback_hours": float(lookback_hours),
              "config_dir": str(config.resolve()) if config else ""}
    result = _run("cycle_report", params, out)
    typer.echo(f"cycle report of {ledger}: {result.run_dir}")
    typer.echo(f"HTML: {result.html}")


def register(root: typer.Typer) -> None:
    """Add ``review`` and ``cycle-report`` to the root command."""
    root.command("review")(review)
    root.command("cycle-report")(cycle_report)
