"""Thin async clients for CoinGlass v4, Alternative.me and CryptoCompare.

Each method does one GET (with the retries of :func:`botcore.intel.http.get_json`)
and one pure parse (:mod:`botcore.intel.parse`), returning a DataFrame in the
store's schema. Keys come from the caller (the facade reads the environment);
a client built without its key raises :class:`MissingApiKey` before any request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TypeVar

import aiohttp
import pandas as pd

from botcore.errors import OperationalError
from botcore.intel import parse
from botcore.intel.http import get_json
from botcore.net import RetryPolicy

T = TypeVar("T")

COINGLASS_URL = "https://open-api-v4.coinglass.com"
ALTERNATIVE_ME_URL = "https://api.alternative.me"
CRYPTOCOMPARE_URL = "https://min-api.cryptocompare.com"

#: CoinGlass v4 pair-history endpoints (overridable: CoinGlass has moved paths between versions)
COINGLASS_PATHS: Mapping[str, str] = {
    "open_interest": "/api/futures/open-interest/history",
    "liquidations": "/api/futures/liquidation/history",
    "taker_volume": "/api/futures/v2/taker-buy-sell-volume/history",
    "funding": "/api/futures/funding-rate/history",
}
COINGLASS_PLAN_PATH = "/api/user/account/subscription"
FEAR_GREED_PATH = "/fng/"
CRYPTOCOMPARE_SOCIAL_PATH = "/data/social/coin/histo/hour"
CRYPTOCOMPARE_COINLIST_PATH = "/data/all/coinlist"


class MissingApiKey(OperationalError):
    """The environment holds no API key for a provider that needs one."""


class CoinGlassClient:
    """CoinGlass v4 pair histories: open interest, liquidations, taker volume, funding.

    Parameters
    ----------
    session : aiohttp.ClientSession
    api_key : str or None
        Sent as the ``CG-API-KEY`` header.
    base_url : str
    policy : RetryPolicy
    paths : mapping, optional
        Endpoint overrides, keys as in :data:`COINGLASS_PATHS`.
    """

    provider = "coinglass"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_key: str | None,
        *,
        base_url: str = COINGLASS_URL,
        policy: RetryPolicy = RetryPolicy(),
        paths: Mapping[str, str] | None = None,
    ) -> None:
        self._session, self._key, self.base_url, self.policy = session, api_key, base_url, policy
        self.paths = {**COINGLASS_PATHS, **(paths or {})}

    async def _get(self, endpoint: str, parser: Callable[[Any], pd.DataFrame], pair: str, exchange: str, interval: str,
                   limit: int | None, start_ms: int | None, end_ms: int | None, **extra: str) -> pd.DataFrame:
        if not self._key:
            raise MissingApiKey("coinglass: no API key (set COINGLASS_API_KEY)")
        params: dict[str, Any] = {"exchange": exchange, "symbol": pair, "interval": interval, **extra}
        for name, value in (("limit", limit), ("start_time", start_ms), ("end_time", end_ms)):
            if value is not None:
                params[name] = int(value)
        return await get_json(
            self._session, self.base_url, self.paths[endpoint], provider=self.provider, params=params,
            headers={"CG-API-KEY": self._key, "accept": "application/json"}, policy=self.policy, secrets=(self._key,),
            parse=parser,
        )

    async def plan(self) -> str:
        """Return the key's subscription level (``HOBBYIST``, ``STARTUP``, ``STANDARD``, ``PROFESSIONAL``)."""
        if not self._key:
            raise MissingApiKey("coinglass: no API key (set COINGLASS_API_KEY)")
        return await get_json(
            self._session, self.base_url, COINGLASS_PLAN_PATH, provider=self.provider,
            headers={"CG-API-KEY": self._key, "accept": "application/json"}, policy=self.policy, secrets=(self._key,),
            parse=parse.coinglass_plan,
        )

    async def open_interest(self, pair: str, *, exchange: str = "Binance", interval: str = "1m", limit: int | None = None,
                            start_ms: int | None = None, end_ms: int | None = None, now_ms: int | None = None) -> pd.DataFrame:
        """Return ts, oi_usd (close of each bar, stamped at the bar's close)."""
        parser = partial(parse.open_interest_frame, interval=interval, now_ms=now_ms)
        return await self._get("open_interest", parser, pair, exchange, interval, limit, start_ms, end_ms, unit="usd")

    async def liquidations(self, pair: str, *, exchange: str = "Binance", interval: str = "1m", limit: int | None = None,
                           start_ms: int | None = None, end_ms: int | None = None, now_ms: int | None = None) -> pd.DataFrame:
        """Return ts, long_liq_usd, short_liq_usd (sums over each bar)."""
        parser = partial(parse.liquidations_frame, interval=interval, now_ms=now_ms)
        return await self._get("liquidations", parser, pair, exchange, interval, limit, start_ms, end_ms)

    async def taker_volume(self, pair: str, *, exchange: str = "Binance", interval: str = "1m", limit: int | None = None,
                           start_ms: int | None = None, end_ms: int | None = None, now_ms: int | None = None) -> pd.DataFrame:
        """Return ts, taker_buy_usd, taker_sell_usd (sums over each bar)."""
        parser = partial(parse.taker_volume_frame, interval=interval, now_ms=now_ms)
        return await self._get("taker_volume", parser, pair, exchange, interval, limit, start_ms, end_ms)

    async def funding(self, pair: str, *, exchange: str = "Binance", interval: str = "1h", limit: int | None = None,
                      start_ms: int | None = None, end_ms: int | None = None, now_ms: int | None = None) -> pd.DataFrame:
        """Return ts, rate (fraction per funding interval; close of each bar)."""
        parser = partial(parse.funding_frame, interval=interval, now_ms=now_ms)
        return await self._get("funding", parser, pair, exchange, interval, limit, start_ms, end_ms)


class AlternativeMeClient:
    """Alternative.me's Crypto Fear & Greed Index (no key)."""

    provider = "alternative.me"

    def __init__(self, session: aiohttp.ClientSession, *, base_url: str = ALTERNATIVE_ME_URL,
                 policy: RetryPolicy = RetryPolicy()) -> None:
        self._session, self.base_url, self.policy = session, base_url, policy

    async def fear_greed(self, limit: int = 2) -> pd.DataFrame:
        """Return ts, value (0..100) for the newest ``limit`` days (0: all history)."""
        return await get_json(self._session, self.base_url, FEAR_GREED_PATH, provider=self.provider,
                              params={"limit": int(limit), "format": "json"}, policy=self.policy, parse=parse.fear_greed_frame)


class CryptoCompareClient:
    """CryptoCompare hourly social stats; key sent as ``authorization: Apikey KEY``.

    Coin ids are resolved once per coin through the coin list, unless given in
    ``coin_ids`` (coin -> id).
    """

    provider = "cryptocompare"

    def __init__(self, session: aiohttp.ClientSession, api_key: str | None, *, base_url: str = CRYPTOCOMPARE_URL,
                 policy: RetryPolicy = RetryPolicy(), coin_ids: Mapping[str, int] | None = None) -> None:
        self._session, self._key, self.base_url, self.policy = session, api_key, base_url, policy
        self._coin_ids: dict[str, int] = dict(coin_ids or {})

    async def _get(self, path: str, params: Mapping[str, Any], parser: Callable[[Any], T]) -> T:
        if not self._key:
            raise MissingApiKey("cryptocompare: no API key (set CRYPTOCOMPARE_API_KEY)")
        return await get_json(self._session, self.base_url, path, provider=self.provider, params=params,
                              headers={"authorization": f"Apikey {self._key}"}, policy=self.policy, secrets=(self._key,),
                              parse=parser)

    async def coin_id(self, coin: str) -> int:
        """Return CryptoCompare's numeric id of ``coin`` (``BTC`` -> 1182)."""
        if coin not in self._coin_ids:
            self._coin_ids[coin] = await self._get(CRYPTOCOMPARE_COINLIST_PATH, {"fsym": coin}, partial(parse.coin_id, coin=coin))
        return self._coin_ids[coin]

    async def social_mentions(self, coin: str, *, hours: int = 48, to_ms: int | None = None) -> pd.DataFrame:
        """Return ts, mentions per hour for ``coin`` over the ``hours`` hours up to ``to_ms`` (default: now)."""
        params = {"coinId": await self.coin_id(coin), "limit": int(hours)}
        if to_ms is not None:
            params["toTs"] = int(to_ms) // 1000
        return await self._get(CRYPTOCOMPARE_SOCIAL_PATH, params, parse.social_mentions_frame)
