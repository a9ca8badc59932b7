"""Venues: where orders go. One port (:class:`Venue`), two adapters (BloFin through ccxt, paper).

See :mod:`botcore.venues.base` for the port and its outcome rules.
"""

from botcore.venues.base import (
    AccountConfig,
    LeverageSetting,
    MarketSpec,
    OrderRequest,
    OrderUpdate,
    RetryPolicy,
    Venue,
    VenueBalance,
    VenuePosition,
    VenueReason,
    check_client_order_id,
    make_client_order_id,
)
from botcore.venues.blofin import BlofinVenue

__all__ = [
    "AccountConfig",
    "BlofinVenue",
    "LeverageSetting",
    "MarketSpec",
    "OrderRequest",
    "OrderUpdate",
    "RetryPolicy",
    "Venue",
    "VenueBalance",
    "VenuePosition",
    "VenueReason",
    "check_client_order_id",
    "make_client_order_id",
]
