"""``botcore config``: validate and show the effective configuration."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml

from botcore.config import load_settings
from botcore.errors import ConfigError

app = typer.Typer(help="Validate and inspect the YAML configuration under config/.", no_args_is_help=True)


@app.command("check")
def check(
    config: Path = typer.Option(None, "--config", help="Configuration directory (default: $BOTCORE_CONFIG or ./config)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only report errors; print nothing on success."),
) -> None:
    """Validate every file of a configuration directory and print the effective configuration.

    Exits with code 1 and names the file, key and reason of each error.
    """
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        typer.secho(f"configuration invalid:\n{exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    from botcore.cli.overrides import OverrideError, check_overrides

    try:
        check_overrides(settings, {})  # what `botcore run` builds from it: the kernel's parameters
    except OverrideError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    if not quiet:
        typer.echo(yaml.safe_dump(settings.model_dump(mode="json"), sort_keys=False))
        enabled = settings.universe.enabled
        typer.secho(
            f"configuration OK: {len(enabled)} enabled symbols, mode {settings.venue.mode}",
            fg=typer.colors.GREEN,
        )
