"""``botcore ledger``: check the ledger invariant and export its tables."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from botcore.errors import LedgerError
from botcore.ledger import TABLES, Ledger, export_csv
from botcore.ledger.integrity import check_integrity

app = typer.Typer(
    help="Inspect the SQLite ledger (the single source of truth): invariant check, CSV export.",
    no_args_is_help=True,
)


@app.command("check")
def check(
    path: Path = typer.Argument(..., help="The ledger's SQLite file."),
    tol: float = typer.Option(1e-6, "--tol", help="Largest difference tolerated, USD or contracts."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Check the ledger's integrity (SQLite quick_check, schema) and invariant; print every check.

    The invariant: cash on the account row equals the starting cash plus realised
    P&L minus fees plus funding summed over the fills and funding tables; trades,
    open positions and orders must agree with the fills. The ledger is opened
    read-only, so it is safe to run while the bot writes. Exits with code 1 on any
    discrepancy (each printed with its amount) and 2 when the file is not a
    readable ledger of this schema.
    """
    integrity = check_integrity(path)
    if not integrity.exists:
        typer.secho(f"ledger unusable: {path} does not exist (check the path, or run `botcore run --ledger {path}` "
                    f"to create it)", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    if not integrity.ok:
        if as_json:
            typer.echo(json.dumps({"integrity": integrity.to_dict()}, indent=2))
        for problem in integrity.problems:
            typer.secho(f"ledger unusable: {problem}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    try:
        with Ledger.open(path, readonly=True) as ledger:
            report = ledger.check_invariant(tol=tol)
    except LedgerError as exc:
        typer.secho(f"ledger unusable: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps({**report.to_dict(), "integrity": integrity.to_dict()}, indent=2))
    else:
        typer.echo(f"ledger {path}")
        typer.echo("integrity: " + ", ".join(integrity.checks + integrity.warnings))
        typer.echo(report.summary())
    if not report.ok:
        if not as_json:
            typer.secho(
                f"{len(report.discrepancies)} discrepancies; cash off by {report.cash_diff_usd:+.6f} USD",
                fg=typer.colors.RED,
                err=True,
            )
        raise typer.Exit(1)


@app.command("export")
def export(
    path: Path = typer.Argument(..., help="The ledger's SQLite file."),
    out: Path = typer.Option(..., "--out", help="Directory for the CSV files (created if missing)."),
    table: list[str] = typer.Option(
        None, "--table", help=f"Export only this table (repeatable); default all of: {', '.join(TABLES)}."
    ),
) -> None:
    """Export the ledger's tables as CSV files, one per table, from one consistent snapshot.

    Files are named <table>.csv in --out. The ledger is opened read-only. CSV files
    are copies for analysis; the ledger stays the only state.
    """
    tables = tuple(table) if table else TABLES
    unknown = sorted(set(tables) - set(TABLES))
    if unknown:
        typer.secho(f"unknown tables {unknown}; known: {', '.join(TABLES)}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    integrity = check_integrity(path)
    if not integrity.exists or not integrity.ok:
        for problem in integrity.problems or (f"{path} does not exist",):
            typer.secho(f"ledger unusable: {problem}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    try:
        with Ledger.open(path, readonly=True) as ledger, typer.progressbar(
            length=len(tables), label="exporting", file=None
        ) as bar:
            counts: dict[str, int] = {}

            def _done(name: str, n_rows: int) -> None:
                counts[name] = n_rows
                bar.update(1)

            export_csv(ledger, out, tables=tables, on_table=_done)
    except LedgerError as exc:
        typer.secho(f"ledger unusable: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        typer.secho(f"--out {out}: {exc.strerror or exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    for name, n_rows in counts.items():
        typer.echo(f"{out / (name + '.csv')}: {n_rows} rows")
