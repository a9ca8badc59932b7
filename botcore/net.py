"""The network helper every client shares: one retry policy, its tenacity retrier and redaction.

The venue (:mod:`botcore.venues.blofin`), the intel clients
(:mod:`botcore.intel.http`), the downloader and the live feed
(:mod:`botcore.market.download`, :mod:`botcore.market.live`) retry their
temporary failures through :func:`retrying` (``async for``) or
:func:`retrying_sync` with a :class:`RetryPolicy`; each caller names the
exception types it retries and keeps its own defaults (a module constant).
Secrets never reach a log line or a message: text built from an error passes
through :func:`redact`. This module imports nothing of botcore.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_base, wait_exponential, wait_exponential_jitter

MASK = "***"

ExceptionTypes = type[BaseException] | tuple[type[BaseException], ...]


def backoff(min_s: float, max_s: float) -> wait_base:
    """Exponential waits ``min_s, 2 min_s, 4 min_s, ...`` capped at ``max_s`` (no jitter)."""
    if not 0 <= min_s <= max_s:
        raise ValueError(f"backoff waits must satisfy 0 <= min_s <= max_s, got {min_s}, {max_s}")
    return wait_exponential(multiplier=min_s, min=min_s, max=max_s)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How one request is retried.

    Attributes
    ----------
    attempts : int
        Tries in total, the first included (>= 1).
    wait : tenacity wait strategy
        Backoff between tries: by default exponential with jitter (~0.5 s, ~1 s, capped
        at 4 s); :func:`backoff` gives plain exponential waits; tests pass ``wait_none()``.
    timeout_s : float
        Total time allowed for one try, for callers that time their own tries (the intel
        GET); a ccxt client keeps its own ``timeout``.
    """

    attempts: int = 3
    wait: wait_base = field(default_factory=lambda: wait_exponential_jitter(initial=0.5, max=4.0, jitter=0.25))
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be >= 1, got {self.attempts}")
        if self.timeout_s <= 0:
            raise ValueError(f"RetryPolicy.timeout_s must be > 0, got {self.timeout_s}")


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Return ``text`` with every non-empty secret replaced by ``***`` (longest first, so no part of one survives)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _options(policy: RetryPolicy, retry_on: ExceptionTypes, what: str, logger: logging.Logger | None,
             secrets: Iterable[str | None]) -> dict[str, Any]:
    secrets = tuple(secrets)

    def log_retry(state: RetryCallState) -> None:
        if logger is None:
            return
        exc = state.outcome.exception() if state.outcome else None
        wait_s = state.next_action.sleep if state.next_action else 0.0
        logger.warning("%s: attempt %d of %d failed (%s); retrying in %.2f s",
                       what, state.attempt_number, policy.attempts, redact(str(exc), secrets), wait_s)

    return {"retry": retry_if_exception_type(retry_on), "stop": stop_after_attempt(policy.attempts),
            "wait": policy.wait, "before_sleep": log_retry, "reraise": True}


def retrying(policy: RetryPolicy, retry_on: ExceptionTypes, *, what: str = "request",
             logger: logging.Logger | None = None, secrets: Iterable[str | None] = ()) -> AsyncRetrying:
    """Return an ``AsyncRetrying`` for ``policy`` that retries ``retry_on`` and re-raises the last error.

    With ``logger``, each retry logs a warning naming ``what``, the attempt and
    the error (``secrets`` redacted).
    """
    return AsyncRetrying(**_options(policy, retry_on, what, logger, secrets))


def retrying_sync(policy: RetryPolicy, retry_on: ExceptionTypes, *, what: str = "request",
                  logger: logging.Logger | None = None, secrets: Iterable[str | None] = ()) -> Retrying:
    """The synchronous :func:`retrying` (a ``tenacity.Retrying``)."""
    return Retrying(**_options(policy, retry_on, what, logger, secrets))


__all__ = ["MASK", "RetryPolicy", "backoff", "redact", "retrying", "retrying_sync"]
