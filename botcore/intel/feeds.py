"""The facade the live loop calls once a cycle: :class:`IntelFeeds`.

``await feeds.fetch_all(symbols, now_ms)`` returns, for every symbol, the
latest open interest, liquidations, taker buy/sell ratio and funding
(CoinGlass), and under :data:`~botcore.intel.enums.MARKET` the market-wide
fear & greed (Alternative.me) and social activity (CryptoCompare), each a
:class:`~botcore.intel.enums.FeedValue` with its own timestamp and a status.
Nothing raises out of ``fetch_all``: a missing key, a provider still failing
after the retries, a malformed answer or a stale value is ``DATA_OUTAGE``
with a reason, never a made-up neutral value.

Responses are cached per (endpoint, symbol) for a per-kind time to live
(:attr:`IntelOptions.ttl_s`), so a 60-second loop over 15 symbols makes about
25 CoinGlass requests a minute with the defaults; a cached value keeps its
own timestamp and is judged stale on it
(``settings.signals.max_staleness_seconds``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import aiohttp
import pandas as pd
from tenacity.wait import wait_base

from botcore.config.models import Settings
from botcore.errors import OperationalError, TemporaryError
from botcore.intel import parse
from botcore.intel.clients import (
    ALTERNATIVE_ME_URL,
    COINGLASS_URL,
    CRYPTOCOMPARE_URL,
    AlternativeMeClient,
    CoinGlassClient,
    CryptoCompareClient,
)
from botcore.intel.enums import (
    FEAR_GREED,
    FUNDING,
    LIQUIDATIONS,
    MARKET,
    MARKET_KINDS,
    OPEN_INTEREST,
    SOCIAL,
    STALENESS_KEY,
    SYMBOL_KINDS,
    TAKER_RATIO,
    FeedStatus,
    FeedValue,
    OutageKind,
)
from botcore.intel.http import TTLCache
from botcore.intel.symbols import coinglass_pair
from botcore.net import RetryPolicy, redact

logger = logging.getLogger(__name__)

#: environment variables holding the keys
KEY_ENV = MappingProxyType({"coinglass": "COINGLASS_API_KEY", "cryptocompare": "CRYPTOCOMPARE_API_KEY"})
#: provider of each kind
PROVIDER = MappingProxyType(
    {OPEN_INTEREST: "coinglass", LIQUIDATIONS: "coinglass", TAKER_RATIO: "coinglass", FUNDING: "coinglass",
     FEAR_GREED: "alternative_me", SOCIAL: "cryptocompare"}
)
DEFAULT_TTL_S = MappingProxyType(
    {OPEN_INTEREST: 120.0, LIQUIDATIONS: 120.0, TAKER_RATIO: 120.0, FUNDING: 600.0, FEAR_GREED: 3600.0, SOCIAL: 900.0}
)


@dataclass(frozen=True)
class IntelOptions:
    """Knobs of :class:`IntelFeeds` (the defaults suit a 60 s loop over 15 symbols).

    Attributes
    ----------
    exchange : str
        CoinGlass exchange whose pair data are read (``Binance``, ``Bybit``, ``OKX``).
    interval, funding_interval : str
        CoinGlass bar length for OI / liquidations / taker, and for funding.
        Below 30m CoinGlass needs its Standard plan or above.
    bars : int
        Bars requested per fetch of the latest values.
    social_coins : tuple of str
        Coins whose CryptoCompare activity makes up the market-wide ``social``.
    social_hours, social_baseline_hours : int
        Hours fetched, and hours in the tone's baseline (see :func:`parse.social_frame`).
    ttl_s : mapping
        Cache time to live per kind, seconds.
    attempts, wait, timeout_s :
        Retry policy of every GET (``wait=None``: exponential backoff with jitter;
        ``timeout_s=None``: ``settings.venue.request_timeout_ms``).
    max_concurrency : int
        Requests in flight per provider.
    pair_overrides, coin_ids, coinglass_paths : mapping
        ccxt symbol -> CoinGlass pair; coin -> CryptoCompare id; endpoint path overrides.
    """

    exchange: str = "Binance"
    interval: str = "1m"
    funding_interval: str = "1h"
    bars: int = 10
    social_coins: tuple[str, ...] = ("BTC",)
    social_hours: int = 48
    social_baseline_hours: int = 24
    ttl_s: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TTL_S))
    attempts: int = 3
    wait: wait_base | None = None
    timeout_s: float | None = None
    max_concurrency: int = 8
    pair_overrides: Mapping[str, str] = field(default_factory=dict)
    coin_ids: Mapping[str, int] = field(default_factory=dict)
    coinglass_paths: Mapping[str, str] = field(default_factory=dict)


class IntelFeeds:
    """Market-intelligence feeds with retries, caching and honest outages.

    Parameters
    ----------
    settings : Settings or None
        Supplies the staleness limits (``signals.max_staleness_seconds``) and
        the request timeout (``venue.request_timeout_ms``).
    session : aiohttp.ClientSession, optional
        Shared session; when omitted one is created and closed by :meth:`aclose`.
    base_urls : mapping, optional
        Overrides of ``coinglass``, ``alternative_me``, ``cryptocompare`` (tests, proxies).
    options : IntelOptions, optional
    env : mapping, optional
        Where the API keys are read (default ``os.environ``).
    clock : callable
        Monotonic seconds for the cache (tests inject a fake).
    """

    def __init__(
        self,
        settings: Settings | None,
        *,
        session: aiohttp.ClientSession | None = None,
        base_urls: Mapping[str, str] | None = None,
        options: IntelOptions | None = None,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = opts = options or IntelOptions()
        defaults = {"coinglass": COINGLASS_URL, "alternative_me": ALTERNATIVE_ME_URL, "cryptocompare": CRYPTOCOMPARE_URL}
        unknown = sorted(set(base_urls or {}) - set(defaults))
        if unknown:
            raise ValueError(f"base_urls: unknown provider {unknown[0]!r}; known: {sorted(defaults)}")
        self.base_urls = {**defaults, **(base_urls or {})}
        env = os.environ if env is None else env
        self._keys: dict[str, str | None] = {p: (env.get(var) or None) for p, var in KEY_ENV.items()}
        staleness = dict(settings.signals.max_staleness_seconds) if settings is not None else {}
        self._max_age_s = {kind: staleness.get(key) for kind, key in STALENESS_KEY.items()}
        timeout_s = opts.timeout_s or (settings.venue.request_timeout_ms / 1000.0 if settings is not None else 10.0)
        self._policy = RetryPolicy(attempts=opts.attempts, timeout_s=timeout_s) if opts.wait is None else \
            RetryPolicy(attempts=opts.attempts, wait=opts.wait, timeout_s=timeout_s)
        self._session, self._owns_session = session, session is None
        self._cache = TTLCache(clock)
        self._clients: tuple[CoinGlassClient, AlternativeMeClient, CryptoCompareClient] | None = None
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._last_status: dict[tuple[str, str], FeedStatus] = {}
        for provider, var in KEY_ENV.items():
            if not self._keys[provider]:
                kinds = ", ".join(k for k, p in PROVIDER.items() if p == provider)
                logger.warning("%s is not set: %s report DATA_OUTAGE (no API key)", var, kinds)

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> IntelFeeds:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session if this object created it."""
        if not self._owns_session:
            return
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session, self._clients = None, None

    def _api(self) -> tuple[CoinGlassClient, AlternativeMeClient, CryptoCompareClient]:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        if self._clients is None:
            p, o = self._policy, self.options
            self._clients = (
                CoinGlassClient(self._session, self._keys["coinglass"], base_url=self.base_urls["coinglass"],
                                policy=p, paths=o.coinglass_paths),
                AlternativeMeClient(self._session, base_url=self.base_urls["alternative_me"], policy=p),
                CryptoCompareClient(self._session, self._keys["cryptocompare"], base_url=self.base_urls["cryptocompare"],
                                    policy=p, coin_ids=o.coin_ids),
            )
        return self._clients

    # ------------------------------------------------------------------ fetching

    async def _limited(self, provider: str, coro: Any) -> Any:
        sem = self._limits.setdefault(provider, asyncio.Semaphore(self.options.max_concurrency))
        async with sem:
            return await coro

    async def _fetch(self, kind: str, symbol: str, now_ms: int, *, limit: int | None = None, start_ms: int | None = None,
                     end_ms: int | None = None) -> pd.DataFrame:
        """One uncached fetch of ``kind`` in the store schema: rows stamped at or before ``now_ms`` only.

        A bar still forming at ``now_ms`` is dropped *before* caching, so a cached
        frame never turns a partial bar into a closed one as time passes.
        """
        cg, fng, cc = self._api()
        o = self.options
        if kind in SYMBOL_KINDS:
            pair = coinglass_pair(symbol, o.exchange, o.pair_overrides)
            window: dict[str, Any] = {"exchange": o.exchange, "limit": limit, "start_ms": start_ms, "end_ms": end_ms, "now_ms": now_ms}
            if kind == OPEN_INTEREST:
                return await cg.open_interest(pair, interval=o.interval, **window)
            if kind == LIQUIDATIONS:
                return await cg.liquidations(pair, interval=o.interval, **window)
            if kind == TAKER_RATIO:
                return parse.taker_ratio_frame(await cg.taker_volume(pair, interval=o.interval, **window))
            return await cg.funding(pair, interval=o.funding_interval, **window)
        if kind == FEAR_GREED:
            return parse.complete(await fng.fear_greed(limit=2 if limit is None else limit), now_ms)
        if kind == SOCIAL:
            hours = o.social_hours if limit is None else limit
            per_coin = await asyncio.gather(*(cc.social_mentions(c, hours=hours) for c in o.social_coins))
            return parse.complete(parse.social_frame(per_coin, o.social_baseline_hours), now_ms)
        raise ValueError(f"kind: {kind!r} is not one of {SYMBOL_KINDS + MARKET_KINDS}")

    async def _recent(self, kind: str, symbol: str, now_ms: int) -> pd.DataFrame:
        o = self.options
        if kind in SYMBOL_KINDS:
            interval = o.funding_interval if kind == FUNDING else o.interval
            key: tuple[Any, ...] = (kind, o.exchange, coinglass_pair(symbol, o.exchange, o.pair_overrides), interval)
        else:
            key = (kind, o.social_coins) if kind == SOCIAL else (kind,)
        limit = o.bars if kind in SYMBOL_KINDS else None
        fetch = lambda: self._limited(PROVIDER[kind], self._fetch(kind, symbol, now_ms, limit=limit))  # noqa: E731
        return await self._cache.get(key, o.ttl_s.get(kind, DEFAULT_TTL_S[kind]), fetch)

    def _source(self, kind: str) -> str:
        provider = PROVIDER[kind]
        return f"coinglass:{self.options.exchange}" if provider == "coinglass" else provider

    async def latest(self, kind: str, symbol: str, now_ms: int) -> FeedValue:
        """Return the latest value of ``kind`` for ``symbol`` (:data:`MARKET` for market-wide kinds); never raises."""
        source, provider = self._source(kind), PROVIDER[kind]
        if provider in self._keys and not self._keys[provider]:
            value = FeedValue.outage_of(kind, symbol, OutageKind.NO_API_KEY, "no API key", source)
            self._note(value)
            return value
        try:
            frame = await self._recent(kind, symbol, now_ms)
        except TemporaryError as exc:
            value = FeedValue.outage_of(kind, symbol, OutageKind.TEMPORARY, self._clean(exc), source)
        except (OperationalError, ValueError) as exc:  # auth, 4xx, schema mismatch (DataError), unknown pair
            value = FeedValue.outage_of(kind, symbol, OutageKind.OPERATIONAL, self._clean(exc), source)
        except Exception as exc:  # a defect must not stop the loop: report it loudly, as an outage
            logger.error("%s %s: unexpected %s", kind, symbol, type(exc).__name__, exc_info=True)
            value = FeedValue.outage_of(kind, symbol, OutageKind.OPERATIONAL, self._clean(exc), source)
        else:
            value = parse.latest(kind, symbol, frame, now_ms, self._max_age_s.get(kind), source)
        self._note(value)
        return value

    async def fetch_all(self, symbols: Iterable[str], now_ms: int) -> dict[str, dict[str, FeedValue]]:
        """Fetch every kind concurrently; return ``{symbol: {kind: FeedValue}}`` plus ``{MARKET: {...}}``.

        Per symbol: ``open_interest``, ``liquidations``, ``taker_ratio``, ``funding``;
        under :data:`MARKET`: ``fear_greed``, ``social``.
        """
        jobs = [(s, k) for s in dict.fromkeys(symbols) for k in SYMBOL_KINDS] + [(MARKET, k) for k in MARKET_KINDS]
        values = await asyncio.gather(*(self.latest(k, s, now_ms) for s, k in jobs))
        out: dict[str, dict[str, FeedValue]] = {}
        for (symbol, kind), value in zip(jobs, values):
            out.setdefault(symbol, {})[kind] = value
        return out

    async def recent(self, kind: str, symbol: str, now_ms: int) -> pd.DataFrame:
        """Return the cached recent rows of ``kind`` stamped at or before ``now_ms`` (store schema).

        Raises like the clients (TemporaryError, OperationalError, DataError): for writing
        the live cycle's data to the store, not for deciding.
        """
        return parse.complete(await self._recent(kind, symbol, now_ms), now_ms)

    async def history(self, kind: str, symbol: str = MARKET, *, now_ms: int, start_ms: int | None = None,
                      end_ms: int | None = None, limit: int | None = None) -> pd.DataFrame:
        """Fetch a window of history, uncached, in the store schema, closed bars only.

        ``limit`` counts bars (CoinGlass, at most 1000), days (fear & greed, 0 = all)
        or hours (social, at most 2000). Raises like the clients.
        """
        if kind == FEAR_GREED and limit is None:
            limit = 0
        return await self._fetch(kind, symbol, now_ms, limit=limit, start_ms=start_ms, end_ms=end_ms)

    # ------------------------------------------------------------------ reporting

    def _clean(self, exc: BaseException) -> str:
        return redact(str(exc) or type(exc).__name__, self._keys.values())

    def _note(self, value: FeedValue) -> None:
        """Log a status change once (not every cycle); the missing-key case was logged at start."""
        key = (value.kind, value.symbol)
        previous = self._last_status.get(key)
        self._last_status[key] = value.status
        if value.status is previous:
            return
        if value.ok:
            if previous is FeedStatus.DATA_OUTAGE:
                logger.info("%s %s: data back (%s)", value.kind, value.symbol, value.source)
        elif value.outage is not OutageKind.NO_API_KEY:
            level = logging.ERROR if value.outage is OutageKind.OPERATIONAL else logging.WARNING
            logger.log(level, "DATA_OUTAGE %s %s: %s", value.kind, value.symbol, value.reason)
