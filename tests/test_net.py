"""The shared network helper: the retry policy, its tenacity retriers and redaction."""

from __future__ import annotations

import asyncio
import logging

import pytest
from tenacity import wait_none

from botcore.net import RetryPolicy, backoff, redact, retrying, retrying_sync


class Flaky:
    """Raises ``errors`` in turn, then returns the number of calls."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors, self.calls = list(errors), 0

    def __call__(self) -> int:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.calls


FAST = RetryPolicy(attempts=3, wait=wait_none())


def test_redact_masks_every_secret_longest_first_and_skips_empty_ones():
    assert redact("key abcdef123 and abcdef", ["abcdef", None, "", "abcdef123"]) == "key *** and ***"
    assert redact("nothing to hide", []) == "nothing to hide"


def test_sync_retrier_retries_only_the_named_types_and_stops_after_the_attempts():
    assert retrying_sync(FAST, TimeoutError)(Flaky(TimeoutError(), TimeoutError())) == 3
    flaky = Flaky(TimeoutError(), TimeoutError(), TimeoutError())
    with pytest.raises(TimeoutError):
        retrying_sync(FAST, TimeoutError)(flaky)
    assert flaky.calls == 3
    flaky = Flaky(ValueError("not temporary"))
    with pytest.raises(ValueError):
        retrying_sync(FAST, (TimeoutError, ConnectionError))(flaky)
    assert flaky.calls == 1


def test_async_retrier_logs_each_retry_with_the_secrets_redacted(caplog):
    flaky = Flaky(ConnectionError("refused for key s3cret-key"))

    async def run() -> int:
        async for attempt in retrying(FAST, ConnectionError, what="provider /path", logger=logging.getLogger("t"),
                                      secrets=("s3cret-key",)):
            with attempt:
                return flaky()
        raise AssertionError("unreachable")

    with caplog.at_level(logging.WARNING, logger="t"):
        assert asyncio.run(run()) == 2
    assert "provider /path: attempt 1 of 3 failed (refused for key ***)" in caplog.text
    assert "s3cret-key" not in caplog.text


def test_backoff_doubles_from_the_minimum_to_the_cap_and_the_policy_refuses_nonsense():
    wait = backoff(0.5, 8.0)
    waits = [wait(type("State", (), {"attempt_number": n})()) for n in range(1, 7)]
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    with pytest.raises(ValueError, match="min_s <= max_s"):
        backoff(2.0, 1.0)
    with pytest.raises(ValueError, match="attempts must be >= 1"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="timeout_s must be > 0"):
        RetryPolicy(timeout_s=0)
