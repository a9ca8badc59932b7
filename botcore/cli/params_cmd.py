"""``botcore params``: list, show, activate and roll back the ledger's versioned parameters.

Kinds written by the learning system: ``learning`` (signal weights and
conviction thresholds), ``benched_symbols``, ``autonomy`` (capital
multiplier) and ``patterns`` (proposals, stored inactive). Every version has
a parent (the version of its kind active when it was stored) and a reason.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import typer
from rich.console import Console
from rich.json import JSON
from rich.table import Table

from botcore.errors import LedgerError

app = typer.Typer(
    help="Versioned parameters in the ledger: list, show (body and reasons), activate, rollback.",
    no_args_is_help=True,
)

EXIT_NOT_FOUND = 1
EXIT_UNUSABLE = 2

LEDGER_OPTION = typer.Option(..., "--ledger", help="The ledger's SQLite file.")


def default_who() -> str:
    """``user@host (pid N)``: who changed the parameters."""
    from botcore.ops.killswitch import default_who as who

    return who()


def _console() -> Console:
    return Console(width=160, soft_wrap=False)


def _open(path: Path, *, readonly: bool):
    from botcore.ledger import Ledger

    try:
        return Ledger.open(path, readonly=readonly, create=False)
    except LedgerError as exc:
        typer.secho(f"ledger unusable: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(EXIT_UNUSABLE) from None


def _utc(ms: Any) -> str:
    try:
        return pd.Timestamp(int(ms), unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return "?"


def _short(text: str, n: int = 90) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


@app.command("list")
def list_versions(
    ledger: Path = LEDGER_OPTION,
    kind: str = typer.Option(None, "--kind", help="Only this kind (learning, benched_symbols, autonomy, patterns, ...)."),
    full: bool = typer.Option(False, "--full", help="Print whole reasons instead of the first 90 characters."),
) -> None:
    """List every stored version (oldest first): kind, time, parent, state and reason."""
    with _open(ledger, readonly=True) as book:
        frame = book.list_params(kind)
    table = Table(title=f"parameters in {ledger}" + (f" (kind {kind})" if kind else ""))
    for col in ("version", "kind", "created (UTC)", "parent", "state", "reason"):
        table.add_column(col, overflow="fold" if col == "reason" else "ellipsis")
    for r in frame.itertuples(index=False):
        parent = "" if r.parent_version is None or (isinstance(r.parent_version, float) and math.isnan(r.parent_version)) \
            else str(int(r.parent_version))
        state = "[bold green]active[/]" if r.active else ("proposed" if r.kind == "patterns" else "inactive")
        table.add_row(str(r.version), r.kind, _utc(r.created_ts_ms), parent, state,
                      str(r.reason) if full else _short(r.reason))
    console = _console()
    if frame.empty:
        console.print("no parameter versions" + (f" of kind {kind}" if kind else ""))
        return
    console.print(table)


def _weights_diff(body: dict, parent: dict | None) -> Table | None:
    weights = body.get("weights")
    if not isinstance(weights, dict):
        return None
    before = (parent or {}).get("weights", {}) if isinstance(parent, dict) else {}
    table = Table(title="signal weights")
    for col in ("signal", "parent", "this version", "change"):
        table.add_column(col, justify="right" if col != "signal" else "left")
    from botcore.config.models import SIGNAL_NAMES

    order = [n for n in SIGNAL_NAMES if n in weights] + sorted(set(weights) - set(SIGNAL_NAMES))
    for name in order:
        value = weights[name]
        old = before.get(name)
        change = "" if old is None or value is None else f"{value - old:+.6f}"
        table.add_row(name, "" if old is None else f"{old:.6f}", "" if value is None else f"{value:.6f}", change)
    return table


@app.command("show")
def show(
    version: int = typer.Argument(None, help="Version number; omit it and give --kind for the active version."),
    ledger: Path = LEDGER_OPTION,
    kind: str = typer.Option(None, "--kind", help="Show the active version of this kind."),
) -> None:
    """Show one version: its header, its reasons and its JSON body (weights against the parent's)."""
    from botcore.ledger import RecordNotFound

    with _open(ledger, readonly=True) as book:
        try:
            if version is None:
                if not kind:
                    typer.secho("give a VERSION or --kind KIND", fg=typer.colors.RED, err=True)
                    raise typer.Exit(EXIT_NOT_FOUND)
                params = book.active_params(kind)
                if params is None:
                    typer.secho(f"no active version of kind {kind}", fg=typer.colors.RED, err=True)
                    raise typer.Exit(EXIT_NOT_FOUND)
            else:
                params = book.get_params(version)
        except RecordNotFound as exc:
            typer.secho(str(exc), fg=typer.colors.RED, err=True)
            raise typer.Exit(EXIT_NOT_FOUND) from None
        parent = book.get_params(params.parent_version).body if params.parent_version is not None else None
    console = _console()
    state = "active" if params.active else ("proposed (inactive)" if params.kind == "patterns" else "inactive")
    console.print(f"[bold]{params.kind} v{params.version}[/] ({state}), created {_utc(params.created_ts_ms)} UTC, "
                  f"parent {params.parent_version if params.parent_version is not None else 'none'}")
    console.print("[bold]reason[/]")
    console.print(params.reason, markup=False)
    reasons = params.body.get("reasons") if isinstance(params.body, dict) else None
    if isinstance(reasons, list) and reasons:
        console.print("[bold]reasons[/]")
        for r in reasons:
            console.print(f"  - {r}", markup=False)
    diff = _weights_diff(params.body, parent)
    if diff is not None:
        console.print(diff)
    console.print("[bold]body[/]")
    console.print(JSON(json.dumps(params.body, sort_keys=True, default=str)))


@app.command("activate")
def activate(
    version: int = typer.Argument(..., help="The version to make active (its kind's active one is replaced)."),
    ledger: Path = LEDGER_OPTION,
    reason: str = typer.Option("activated by hand", "--reason", help="Why (kept in the ledger's activation log)."),
) -> None:
    """Make VERSION the active one of its kind (e.g. approve a ``patterns`` proposal)."""
    from botcore.ledger import RecordNotFound

    with _open(ledger, readonly=False) as book:
        try:
            target = book.get_params(version)
        except RecordNotFound as exc:
            typer.secho(str(exc), fg=typer.colors.RED, err=True)
            raise typer.Exit(EXIT_NOT_FOUND) from None
        before = book.active_params(target.kind)
        book.activate(version, reason=f"{reason} ({default_who()})")
    was = f"v{before.version}" if before is not None else "none"
    _console().print(f"{target.kind}: v{version} active (was {was}); a running bot applies it at its next cycle")


@app.command("rollback")
def rollback(
    kind: str = typer.Argument(..., help="The kind to roll back (learning, benched_symbols, autonomy, patterns, ...)."),
    ledger: Path = LEDGER_OPTION,
    reason: str = typer.Option("rolled back by hand", "--reason", help="Why (kept in the ledger's activation log)."),
) -> None:
    """Re-activate the parent of KIND's active version (exactly its stored body)."""
    from botcore.ledger import RecordNotFound

    with _open(ledger, readonly=False) as book:
        current = book.active_params(kind)
        try:
            restored = book.rollback(kind, reason=f"{reason} ({default_who()})")
        except RecordNotFound as exc:
            typer.secho(str(exc), fg=typer.colors.RED, err=True)
            raise typer.Exit(EXIT_NOT_FOUND) from None
    _console().print(f"{kind}: rolled back v{current.version} -> v{restored.version} "
                     f"({_short(restored.reason, 120)})", markup=False)


@app.command("history")
def history(
    ledger: Path = LEDGER_OPTION,
    kind: str = typer.Option(None, "--kind", help="Only this kind."),
) -> None:
    """Every activation and rollback, oldest first: when, kind, from and to version, and why."""
    with _open(ledger, readonly=True) as book:
        frame = book.params_history(kind)
    console = _console()
    if frame.empty:
        console.print("no activations or rollbacks recorded" + (f" of kind {kind}" if kind else ""))
        return
    table = Table(title=f"parameter activations in {ledger}" + (f" (kind {kind})" if kind else ""))
    for col in ("when (UTC)", "kind", "action", "from", "to", "reason"):
        table.add_column(col, overflow="fold" if col == "reason" else "ellipsis")
    for r in frame.itertuples(index=False):
        was = "" if r.from_version is None or r.from_version != r.from_version else f"v{int(r.from_version)}"
        table.add_row(_utc(r.ts_ms), r.kind, r.action, was, f"v{int(r.to_version)}", str(r.reason))
    console.print(table)
