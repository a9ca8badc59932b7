"""Kinds, statuses and the result record of the market-intelligence feeds.

A feed never invents a value: a field it cannot fetch, parse or trust is a
:class:`FeedValue` with status ``DATA_OUTAGE``, no values and a reason.
Timestamps are int64 milliseconds since the epoch (UTC), the data's own time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType

#: key of the market-wide kinds in :meth:`IntelFeeds.fetch_all` (the store's ``MARKET`` key)
MARKET = "MARKET"

OPEN_INTEREST = "open_interest"
LIQUIDATIONS = "liquidations"
TAKER_RATIO = "taker_ratio"
FUNDING = "funding"
FEAR_GREED = "fear_greed"
SOCIAL = "social"

#: per-symbol kinds (CoinGlass) and market-wide kinds (Alternative.me, CryptoCompare)
SYMBOL_KINDS = (OPEN_INTEREST, LIQUIDATIONS, TAKER_RATIO, FUNDING)
MARKET_KINDS = (FEAR_GREED, SOCIAL)

#: value columns of each kind's DataFrame (besides ``ts``), in the store's schema
COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        OPEN_INTEREST: ("oi_usd",),
        LIQUIDATIONS: ("long_liq_usd", "short_liq_usd"),
        TAKER_RATIO: ("buy_sell_ratio",),
        FUNDING: ("rate",),
        FEAR_GREED: ("value",),
        SOCIAL: ("mentions", "tone"),
    }
)

#: key of each kind in ``settings.signals.max_staleness_seconds``
STALENESS_KEY: Mapping[str, str] = MappingProxyType(
    {
        OPEN_INTEREST: "open_interest",
        LIQUIDATIONS: "liquidations",
        TAKER_RATIO: "taker",
        FUNDING: "funding",
        FEAR_GREED: "fear_greed",
        SOCIAL: "social",
    }
)


class FeedStatus(str, Enum):
    """Whether a feed value may be used."""

    OK = "OK"
    DATA_OUTAGE = "DATA_OUTAGE"


class OutageKind(str, Enum):
    """Why a value is missing; ``OPERATIONAL`` and ``NO_API_KEY`` want an operator."""

    TEMPORARY = "temporary"  # network, timeout, 429, 5xx: still failing after the retries
    OPERATIONAL = "operational"  # auth rejected, bad request, schema mismatch
    NO_API_KEY = "no_api_key"  # the environment holds no key for the provider
    NO_DATA = "no_data"  # the provider answered, but with nothing usable at or before now
    STALE = "stale"  # the newest value is older than the configured staleness limit


@dataclass(frozen=True)
class FeedValue:
    """The latest value of one kind for one symbol (or ``MARKET``).

    Attributes
    ----------
    kind, symbol : str
        What this is about (``symbol`` is ccxt-unified or :data:`MARKET`).
    status : FeedStatus
        ``OK`` only when ``values`` hold real, fresh data.
    ts_ms : int or None
        The data's own time (for bars: the bar's close), None in an outage
        without data.
    values : mapping of str to float
        Column -> value, as in :data:`COLUMNS` plus extra detail columns;
        empty in an outage.
    reason : str
        Empty when OK; otherwise why (never contains a secret).
    outage : OutageKind or None
    source : str
        Provider and venue, e.g. ``coinglass:Binance``.
    """

    kind: str
    symbol: str
    status: FeedStatus
    ts_ms: int | None = None
    values: Mapping[str, float] = field(default_factory=dict)
    reason: str = ""
    outage: OutageKind | None = None
    source: str = ""

    @property
    def ok(self) -> bool:
        return self.status is FeedStatus.OK

    @classmethod
    def outage_of(
        cls, kind: str, symbol: str, outage: OutageKind, reason: str, source: str = "", ts_ms: int | None = None
    ) -> FeedValue:
        """Return a ``DATA_OUTAGE`` value (no numbers, only the reason)."""
        return cls(kind, symbol, FeedStatus.DATA_OUTAGE, ts_ms, {}, reason, outage, source)
