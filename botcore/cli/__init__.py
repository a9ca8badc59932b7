"""The ``botcore`` command line.

Each concern contributes one module under ``botcore/cli/`` that defines either
``app`` (a :class:`typer.Typer` group, added as ``botcore <name> ...``) or
``register(root)`` (which adds plain commands to the root app). Add a module by
listing it in :data:`COMMAND_MODULES`.

Commands import their machinery (the engine, Numba kernels, pandas-heavy
reports) inside the command function: deferred for start-up time, so that
``botcore --help`` and the quick commands do not load what they do not use.
"""

from __future__ import annotations

import importlib
import logging

import typer

from botcore import __version__

#: (sub-command name or None for root-level commands, module path)
COMMAND_MODULES: list[tuple[str | None, str]] = [
    ("config", "botcore.cli.config_cmd"),
    ("data", "botcore.cli.data_cmd"),
    ("ledger", "botcore.cli.ledger_cmd"),
    (None, "botcore.cli.ops_cmd"),
    (None, "botcore.cli.dashboard_cmd"),
    (None, "botcore.cli.review_cmd"),
    (None, "botcore.cli.learn_cmd"),
    ("params", "botcore.cli.params_cmd"),
    (None, "botcore.cli.backtest_cmd"),
    (None, "botcore.cli.run_cmd"),
    (None, "botcore.cli.demo_cmd"),
    (None, "botcore.cli.research_cmd"),
]

app = typer.Typer(
    name="botcore",
    help=(
        "botcore: research platform and production kernel of a multi-strategy crypto "
        "perpetual-futures bot on BloFin. Paper mode is the default everywhere; live "
        "trading needs mode: live in config/venue.yaml and --confirm-live."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"botcore {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at DEBUG level."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


for _name, _module_path in COMMAND_MODULES:
    _module = importlib.import_module(_module_path)
    if _name is None:
        _module.register(app)
    else:
        app.add_typer(_module.app, name=_name)


def main() -> None:
    """Entry point of the ``botcore`` console script."""
    app()
