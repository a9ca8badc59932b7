"""The accelerated clock of whole-process tests (see ``sitecustomize.py`` beside this file)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent


def make_clock(fake0_ms: int, speed: float) -> tuple[Callable[[], float], str]:
    """Return (clock in seconds, the ``BOTCORE_TEST_CLOCK`` value) of a clock at ``fake0_ms`` now, ``speed`` x real time."""
    real0 = time.time()

    def clock() -> float:
        return fake0_ms / 1000.0 + (time.time() - real0) * speed

    return clock, f"{fake0_ms},{real0!r},{speed!r}"
