"""``botcore dashboard``: serve the Panel dashboard over the ledger (localhost:5000 by default)."""

from __future__ import annotations

from pathlib import Path

import typer


def dashboard(
    ledger: Path | None = typer.Option(
        None, "--ledger", help="The ledger's SQLite file (default: $BOTCORE_LEDGER, else data/ledger.db, as every command)."),
    port: int = typer.Option(5000, "--port", help="TCP port."),
    address: str = typer.Option("127.0.0.1", "--address", help="Interface to bind; beyond localhost needs auth."),
    config_dir: Path | None = typer.Option(None, "--config", help="Configuration directory (default: config/)."),
    refresh_s: float = typer.Option(5.0, "--refresh", min=0.5, help="Seconds between refreshes of the views."),
    basic_auth: str | None = typer.Option(
        None, "--basic-auth", envvar="BOTCORE_DASHBOARD_BASIC_AUTH",
        help="Panel basic auth: a password, or a JSON file mapping users to passwords."),
    cookie_secret: str | None = typer.Option(
        None, "--cookie-secret", envvar="BOTCORE_DASHBOARD_COOKIE_SECRET", help="Secret signing the login cookie."),
    oauth_provider: str | None = typer.Option(
        None, "--oauth-provider", help="Panel OAuth provider (key and secret from PANEL_OAUTH_KEY/_SECRET)."),
    websocket_origin: list[str] | None = typer.Option(
        None, "--allow-websocket-origin", help="HOST:PORT browsers use to reach a non-local dashboard (repeatable)."),
    show: bool = typer.Option(False, "--show", help="Open a browser tab."),
) -> None:
    """Serve the dashboard: P&L, positions, why-not-trading, strategies, health and the kill switch.

    Opens the ledger read-only (the kill-switch button is its only write) and
    serves http://ADDRESS:PORT/ plus a JSON health endpoint at /health for
    external monitors (HTTP 503 when the bot is down). Binding beyond localhost
    is refused unless basic auth or OAuth is configured.
    """
    from botcore.dashboard.app import DashboardConfigError, check_bind, serve
    from botcore.dashboard.store import default_ledger_path

    path = ledger if ledger is not None else default_ledger_path()
    try:
        check_bind(address, basic_auth=basic_auth, oauth_provider=oauth_provider, websocket_origin=websocket_origin)
    except DashboardConfigError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    if not path.exists():
        typer.secho(f"ledger {path} does not exist yet; the dashboard will show it once the bot creates it",
                    fg=typer.colors.YELLOW, err=True)
    typer.echo(f"botcore dashboard: http://{address}:{port}/  (health: http://{address}:{port}/health)  ledger {path}")
    serve(path, port=port, address=address, config_dir=None if config_dir is None else str(config_dir),
          refresh_s=refresh_s, basic_auth=basic_auth, cookie_secret=cookie_secret, oauth_provider=oauth_provider,
          websocket_origin=websocket_origin, show=show)


def register(root: typer.Typer) -> None:
    """Add ``botcore dashboard`` to the root app."""
    root.command("dashboard")(dashboard)
