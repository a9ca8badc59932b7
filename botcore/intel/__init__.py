"""Market intelligence: CoinGlass (open interest, liquidations, taker ratio, funding),
Alternative.me (fear & greed) and CryptoCompare (social activity).

:class:`IntelFeeds` is the facade the live loop calls; :mod:`botcore.intel.parse`
turns provider JSON into DataFrames in the market store's schema. Keys come
only from ``COINGLASS_API_KEY`` and ``CRYPTOCOMPARE_API_KEY``; an outage is a
``DATA_OUTAGE`` status with a reason, never a made-up value.
"""

from botcore.intel.clients import AlternativeMeClient, CoinGlassClient, CryptoCompareClient, MissingApiKey
from botcore.intel.enums import (
    COLUMNS,
    FEAR_GREED,
    FUNDING,
    LIQUIDATIONS,
    MARKET,
    MARKET_KINDS,
    OPEN_INTEREST,
    SOCIAL,
    SYMBOL_KINDS,
    TAKER_RATIO,
    FeedStatus,
    FeedValue,
    OutageKind,
)
from botcore.intel.feeds import IntelFeeds, IntelOptions
from botcore.intel.http import TTLCache
from botcore.intel.symbols import base_coin, coinglass_pair

__all__ = [
    "AlternativeMeClient", "CoinGlassClient", "CryptoCompareClient", "MissingApiKey",
    "COLUMNS", "FEAR_GREED", "FUNDING", "LIQUIDATIONS", "MARKET", "MARKET_KINDS", "OPEN_INTEREST", "SOCIAL",
    "SYMBOL_KINDS", "TAKER_RATIO", "FeedStatus", "FeedValue", "OutageKind",
    "IntelFeeds", "IntelOptions", "TTLCache", "base_coin", "coinglass_pair",
]
