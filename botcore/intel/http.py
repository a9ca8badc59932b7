"""The HTTP plumbing the intel clients share: one GET with retries, a TTL cache.

A GET is tried ``RetryPolicy.attempts`` times (3 by default; the policy and
the retrier are :mod:`botcore.net`'s) with exponential backoff, retrying only
:class:`~botcore.errors.TemporaryError`: timeouts, connection errors, HTTP
408/425/429/5xx and bodies that are not JSON. HTTP 401/403 and other 4xx raise
:class:`~botcore.errors.OperationalError` at once. Secrets (API keys) never
reach a log line or an exception message: they travel only in headers and
every message built here passes through :func:`botcore.net.redact`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from typing import Any, TypeVar

import aiohttp

from botcore.errors import DataError, OperationalError, TemporaryError
from botcore.net import RetryPolicy, redact, retrying

logger = logging.getLogger(__name__)

T = TypeVar("T")
_TEMPORARY_STATUS = {408, 425, 429}


async def _get_once(
    session: aiohttp.ClientSession, url: str, what: str, params: Mapping[str, Any], headers: Mapping[str, str], timeout_s: float
) -> Any:
    try:
        async with session.get(url, params=params, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
            status = resp.status
            body = await resp.read()
    except TimeoutError:
        raise TemporaryError(f"{what}: timed out after {timeout_s:g} s") from None
    except aiohttp.ClientError as exc:
        raise TemporaryError(f"{what}: {type(exc).__name__}: {exc}") from None
    if status in _TEMPORARY_STATUS or status >= 500:
        raise TemporaryError(f"{what}: HTTP {status}")
    if status in (401, 403):
        raise OperationalError(f"{what}: HTTP {status}: the API key was rejected")
    if status >= 400:
        raise OperationalError(f"{what}: HTTP {status}: {body[:200].decode('utf-8', 'replace')}")
    try:
        return json.loads(body)
    except ValueError:
        raise TemporaryError(f"{what}: malformed JSON ({len(body)} bytes)") from None


async def get_json(
    session: aiohttp.ClientSession,
    base_url: str,
    path: str,
    *,
    provider: str,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    policy: RetryPolicy = RetryPolicy(),
    secrets: Iterable[str | None] = (),
    parse: Callable[[Any], T] = lambda payload: payload,
) -> T:
    """GET ``base_url + path`` and return ``parse(json)``, retrying temporary failures.

    ``parse`` runs inside the retries, so an error envelope it classifies as
    temporary (a rate limit reported in a 200 body) is retried too.

    Raises
    ------
    TemporaryError
        Still failing after ``policy.attempts`` tries.
    OperationalError
        Auth rejected or another 4xx (never retried).
    DataError
        ``parse`` found the answer malformed (never retried).
    """
    secrets = tuple(secrets)
    what = f"{provider} {path}"
    try:
        async for attempt in retrying(policy, TemporaryError, what=what, logger=logger, secrets=secrets):
            with attempt:
                url = base_url.rstrip("/") + path
                return parse(await _get_once(session, url, what, params or {}, headers or {}, policy.timeout_s))
    except TemporaryError as exc:
        raise TemporaryError(redact(f"{exc} (after {policy.attempts} attempts)", secrets)) from None
    except (OperationalError, DataError) as exc:
        raise type(exc)(redact(str(exc), secrets)) from None
    raise AssertionError("unreachable")  # pragma: no cover


class TTLCache:
    """A small per-key cache with a time to live, judged on ``clock`` (monotonic seconds).

    Concurrent callers of one key share a single fetch; a failed fetch is not
    cached. The cached object is returned as fetched: data keep their own
    timestamps, so a cached value ages like the data it holds.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._locks: dict[Hashable, asyncio.Lock] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    async def get(self, key: Hashable, ttl_s: float, fetch: Callable[[], Awaitable[T]]) -> T:
        """Return the cached value of ``key`` if younger than ``ttl_s``, else ``await fetch()`` and cache it."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            hit = self._entries.get(key)
            if hit is not None and self._clock() < hit[0]:
                return hit[1]
            value = await fetch()
            now = self._clock()
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            self._entries[key] = (now + ttl_s, value)
            return value
