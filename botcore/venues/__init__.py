"""Venues: where orders go. One port, two adapters, and the reconciliation that keeps the ledger honest.

Public API
----------
:class:`Venue` (:mod:`botcore.venues.base`)
    The async port: ``load_markets()``, ``market(symbol)``, ``submit(request) -> OrderUpdate``
    (idempotent by client order id), ``cancel(cid)``, ``fetch_order(cid)``, ``open_orders()``,
    ``positions()``, ``balance()``, ``fills_since(ts_ms)``, ``funding_since(ts_ms)``,
    ``set_leverage(symbol, leverage, margin_mode)``, ``close()``.
Values
    :class:`OrderRequest` (size in contracts or base units), :class:`OrderUpdate` (status,
    sizes in both units, fills, :class:`VenueReason` + text), :class:`VenuePosition`,
    :class:`VenueBalance`, :class:`MarketSpec` (contract size, lot, minimum, tick, rounding),
    :class:`LeverageSetting`, :class:`AccountConfig` (retries: :class:`botcore.net.RetryPolicy`).
Client order ids
    :func:`make_client_order_id` (deterministic, BloFin-valid), :func:`check_client_order_id`.
:class:`BlofinVenue` (:mod:`botcore.venues.blofin`)
    ccxt's async ``blofin``; ``mode="demo"`` (sandbox) or ``"live"``; credentials from
    ``BLOFIN_API_KEY`` / ``BLOFIN_API_SECRET`` / ``BLOFIN_PASSPHRASE`` only.
:class:`PaperVenue` (:mod:`botcore.venues.paper`)
    The shared fill model against the book the engine hands it with ``update_market(...)``.
Reconciliation (:mod:`botcore.venues.reconcile`)
    ``reconcile(ledger, venue_positions, venue_open_orders, venue_balance, now_ms, *, order_lookups)``
    -> :class:`ReconcileReport`; ``reconcile_with_venue(ledger, venue, now_ms)`` fetches and runs it;
    ``apply_order_update(ledger, update)`` books one venue update.

Outcomes: refusals are REJECTED updates with a reason; temporary failures raise
:class:`botcore.errors.TemporaryError` after bounded retries; credential, permission
and configuration failures raise :class:`botcore.errors.OperationalError`.
"""

from botcore.venues.base import (
    AccountConfig,
    LeverageSetting,
    MarketSpec,
    OrderRequest,
    OrderUpdate,
    SimulatedVenue,
    Venue,
    VenueBalance,
    VenuePosition,
    VenueReason,
    check_client_order_id,
    make_client_order_id,
)
from botcore.venues.blofin import BlofinVenue
from botcore.venues.paper import PaperVenue
from botcore.venues.reconcile import (
    ReconcileChange,
    ReconcileReport,
    apply_order_update,
    reconcile,
    reconcile_with_venue,
)

__all__ = [
    "AccountConfig",
    "BlofinVenue",
    "LeverageSetting",
    "MarketSpec",
    "OrderRequest",
    "OrderUpdate",
    "PaperVenue",
    "ReconcileChange",
    "ReconcileReport",
    "SimulatedVenue",
    "Venue",
    "VenueBalance",
    "VenuePosition",
    "VenueReason",
    "apply_order_update",
    "check_client_order_id",
    "make_client_order_id",
    "reconcile",
    "reconcile_with_venue",
]
