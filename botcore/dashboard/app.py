"""The dashboard app: the views in a template, the ``/health`` endpoint, and :func:`serve`.

Two ways to run it, both bound to localhost unless authentication is configured::

    botcore dashboard --ledger var/ledger.sqlite            # http://127.0.0.1:5000/ and /health
    panel serve dashboards/app.py --port 5000 --plugins botcore.dashboard.app --args --ledger var/ledger.sqlite

``GET http://127.0.0.1:5000/health`` answers JSON for external monitors
(:func:`botcore.dashboard.data.health_payload`), HTTP 200 while the status is
``ok`` or ``degraded`` and 503 when ``down`` (no ledger, no heartbeat, or the
engine's beat older than ``missed_heartbeats_for_restart * heartbeat_seconds``)::

    {"status": "degraded", "problems": ["data outage on PEPE/USDT:USDT"],
     "mode": "paper", "ledger": "var/ledger.sqlite", "generated_ts_ms": 1717000000000,
     "last_cycle_ts_ms": 1716999960000, "last_cycle_age_s": 40.0, "heartbeat_age_s": 12.5,
     "heartbeats": {"engine": {"status": "ok", "age_s": 12.5, "healthy": true}, ...},
     "open_positions": 3, "equity_usd": 10122.19, "closed_trades": 40,
     "breakers": [], "kill_switch": false, "burn_in": "past burn-in", "invariant_ok": true}

``breakers`` lists the tripped circuit breakers (``session``, ``daily``,
``drawdown``); ``invariant_ok`` is null until the background check has run.
Without authentication configured the endpoint is open (the server listens on
localhost only); with it, a request needs a logged-in user or
``Authorization: Bearer $BOTCORE_HEALTH_TOKEN``.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import panel as pn
from tornado.web import RequestHandler

from botcore.dashboard.data import CACHE, health_payload
from botcore.dashboard.store import DataStore, default_ledger_path
from botcore.dashboard.views import (
    CSS,
    MODE_COLORS,
    HealthView,
    ModeBanner,
    PnLView,
    PositionsView,
    PriceChartView,
    StrategiesView,
    TradesView,
    WhyNotTradingView,
)
from botcore.errors import BotcoreError, LedgerError

logger = logging.getLogger(__name__)

LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}
HEALTH_TOKEN_ENV = "BOTCORE_HEALTH_TOKEN"


#: the template at a phone's width: main first, the health sidebar below it, one scrolling page
PHONE_CSS = """
@media (max-width: 700px) {
  #content { flex-direction: column; flex-wrap: nowrap; height: auto !important; overflow: visible !important; }
  #sidebar { max-width: 100% !important; width: 100% !important; height: auto; order: 2; border-right: none;
             padding: 6px; }
  #main { order: 1; overflow: visible !important; padding: 4px; flex: none; width: 100%; }
  .title { font-size: 1.1em !important; }
}
"""


class DashboardConfigError(BotcoreError, ValueError):
    """The dashboard was asked to do something unsafe (listen beyond localhost without authentication)."""


def is_loopback(address: str | None) -> bool:
    """Return True for ``localhost``, ``127.0.0.0/8`` and ``::1``."""
    if not address:
        return False
    if address in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(address: str, *, basic_auth: str | None = None, oauth_provider: str | None = None,
               websocket_origin: Sequence[str] | None = None) -> None:
    """Refuse to listen beyond localhost without authentication.

    Raises
    ------
    DashboardConfigError
        When ``address`` is not a loopback address and neither ``basic_auth`` nor
        an OAuth provider (argument or ``PANEL_OAUTH_PROVIDER``) is configured, or
        when it is a wildcard address without ``websocket_origin``.
    """
    if is_loopback(address):
        return
    if not (basic_auth or oauth_provider or os.environ.get("PANEL_OAUTH_PROVIDER")):
        raise DashboardConfigError(
            f"refusing to serve the dashboard on {address}: it shows the account and can engage the kill "
            "switch, so binding beyond localhost needs authentication. Configure Panel's basic auth "
            "(--basic-auth PASSWORD or a JSON file of users, with --cookie-secret) or OAuth "
            "(--oauth-provider / PANEL_OAUTH_PROVIDER, PANEL_OAUTH_KEY, PANEL_OAUTH_SECRET, PANEL_COOKIE_SECRET), "
            "or bind to 127.0.0.1 and use an SSH tunnel."
        )
    if address in ("0.0.0.0", "::") and not websocket_origin:
        raise DashboardConfigError(
            f"binding to {address} needs --allow-websocket-origin HOST:PORT (the address browsers use to reach it)"
        )


# ============================================================================ the app


def build_app(store: DataStore) -> pn.template.BootstrapTemplate:
    """Lay the views out in a template coloured by the mode; call ``.servable()`` on the result to serve it."""
    snap = store.snapshot
    if snap is None:
        raise LedgerError(f"dashboard: no snapshot of {store.ledger_path} loaded")
    color = MODE_COLORS.get(snap.mode, "#57606a")

    def card(title: str, *objects: Any, **kwargs: Any) -> pn.Card:
        return pn.Card(*objects, title=title, collapsible=False, sizing_mode="stretch_width",
                       header_background="#f6f8fa", margin=(6, 6), **kwargs)

    template = pn.template.BootstrapTemplate(
        title=f"botcore · {snap.mode.upper()}",
        header_background=color,
        sidebar_width=360,
        collapsed_sidebar=False,
        raw_css=[CSS, PHONE_CSS],
    )
    assert template.sidebar is not None and template.main is not None  # a BootstrapTemplate always has both
    template.sidebar.extend([
        card("Health", HealthView(store=store)),
    ])
    template.main.extend([
        pn.Column(ModeBanner(store=store), store, sizing_mode="stretch_width"),
        card("P&L", PnLView(store=store)),
        card("Open positions", PositionsView(store=store)),
        card("Price and trades", PriceChartView(store=store)),
        card("Why not trading", WhyNotTradingView(store=store)),
        card("Strategies and signals", StrategiesView(store=store)),
        card("Closed trades", TradesView(store=store)),
    ])
    return template


def app_from_args(argv: Sequence[str] | None = None, *, refresh_s: float = 5.0) -> pn.template.BootstrapTemplate:
    """Build the app for ``panel serve`` (``--args --ledger PATH [--config DIR]`` or ``$BOTCORE_LEDGER``)."""
    ledger, config_dir = parse_args(sys.argv[1:] if argv is None else argv)
    return build_app(DataStore(ledger_path=str(ledger), config_dir=config_dir, refresh_s=refresh_s))


def parse_args(argv: Sequence[str]) -> tuple[Path, str | None]:
    """Return (ledger, config dir) from ``--ledger PATH`` / ``--config DIR`` in ``argv`` (after ``--args`` if any)."""
    args = list(argv)
    if "--args" in args:
        args = args[args.index("--args") + 1:]
    found: dict[str, str] = {}
    for i, arg in enumerate(args):
        for name in ("--ledger", "--config"):
            if arg == name and i + 1 < len(args):
                found[name] = args[i + 1]
            elif arg.startswith(name + "="):
                found[name] = arg.split("=", 1)[1]
    ledger = Path(found["--ledger"]) if "--ledger" in found else default_ledger_path()
    return ledger, found.get("--config")


def may_view(remote_ip: str | None, user: str | None) -> bool:
    """Return True when a browser at ``remote_ip`` may see the dashboard: it is local or logged in."""
    return remote_ip is None or is_loopback(remote_ip) or bool(user)


def servable_app(argv: Sequence[str] | None = None) -> pn.viewable.Viewable | pn.template.BaseTemplate:
    """Return the app for the current ``panel serve`` session, or a refusal for a remote, anonymous browser."""
    doc = pn.state.curdoc
    context = doc.session_context if doc is not None else None
    request = getattr(context, "request", None)  # a served session's BokehSessionContext has it
    remote = getattr(request, "remote_ip", None)
    if not may_view(remote, pn.state.user):
        logger.warning("dashboard: refused %s (not localhost, no authentication configured)", remote)
        return refusal_page(str(remote))
    return app_from_args(argv)


def refusal_page(remote: str) -> pn.Column:
    """Return what a remote, unauthenticated browser gets instead of the dashboard."""
    return pn.Column(pn.pane.HTML(
        f"<h2>botcore dashboard</h2><p>Refused: {remote} is not localhost and no authentication is configured. "
        "Serve with basic auth or OAuth to allow remote access.</p>"))


# ============================================================================ /health


class HealthHandler(RequestHandler):
    """``GET /health``: the JSON of :func:`health_payload`; 503 when the status is ``down``."""

    def initialize(self, ledger_path: str | None = None, config_dir: str | None = None) -> None:
        if ledger_path is None:
            path, config = parse_args(sys.argv)
            ledger_path, config_dir = str(path), config_dir or config
        self.ledger_path = ledger_path
        self.config_dir = config_dir

    async def _authorised(self) -> bool:
        provider = getattr(self.application, "auth_provider", None)
        get_user = getattr(provider, "get_user", None)
        get_user_async = getattr(provider, "get_user_async", None)
        if get_user is None and get_user_async is None:
            return True  # no authentication configured: the server listens on localhost only
        token = os.environ.get(HEALTH_TOKEN_ENV)
        header = self.request.headers.get("Authorization", "")
        if token and hmac.compare_digest(header, f"Bearer {token}"):
            return True
        if get_user is not None:
            user = get_user(self)
        else:
            assert get_user_async is not None  # one of the two is set (checked above)
            user = await get_user_async(self)
        return bool(user)

    async def get(self) -> None:
        if not await self._authorised():
            self.set_status(401)
            self.finish({"error": f"authentication required (log in, or send Bearer ${HEALTH_TOKEN_ENV})"})
            return
        loop = asyncio.get_running_loop()
        snap = await loop.run_in_executor(None, CACHE.get, self.ledger_path, self.config_dir)
        payload = health_payload(snap)
        self.set_status(503 if payload["status"] == "down" else 200)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(payload))


#: ``panel serve ... --plugins botcore.dashboard.app`` adds these routes (the ledger from ``--args --ledger``)
ROUTES: list[tuple[str, type[RequestHandler], dict[str, Any]]] = [(r"/health", HealthHandler, {})]


def serve(
    ledger_path: str | Path,
    *,
    port: int = 5000,
    address: str = "127.0.0.1",
    config_dir: str | None = None,
    refresh_s: float = 5.0,
    basic_auth: str | None = None,
    cookie_secret: str | None = None,
    oauth_provider: str | None = None,
    websocket_origin: Sequence[str] | None = None,
    show: bool = False,
    start: bool = True,
    **kwargs: Any,
):
    """Serve the dashboard and ``/health`` with Panel; return the server (blocks while it runs when ``start``).

    Raises
    ------
    DashboardConfigError
        When asked to listen beyond localhost without authentication (see :func:`check_bind`).
    """
    check_bind(address, basic_auth=basic_auth, oauth_provider=oauth_provider, websocket_origin=websocket_origin)
    ledger_path = str(ledger_path)

    def session() -> pn.viewable.Viewable | pn.template.BaseTemplate:
        return build_app(DataStore(ledger_path=ledger_path, config_dir=config_dir, refresh_s=refresh_s))

    if websocket_origin is None and not is_loopback(address):
        websocket_origin = [f"{address}:{port}"]
    options: dict[str, Any] = dict(
        port=port, address=address, show=show, start=start, title="botcore dashboard",
        extra_patterns=[(r"/health", HealthHandler, {"ledger_path": ledger_path, "config_dir": config_dir})],
        websocket_origin=list(websocket_origin) if websocket_origin else None,
        **kwargs,
    )
    if basic_auth:
        options["basic_auth"] = basic_auth
    if oauth_provider:
        options["oauth_provider"] = oauth_provider
    if cookie_secret:
        options["cookie_secret"] = cookie_secret
    logger.info("dashboard on http://%s:%d/ (health: /health), ledger %s", address, port, ledger_path)
    return pn.serve({"/": session}, **options)
