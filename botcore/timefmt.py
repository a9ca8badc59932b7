"""Times and durations as a person reads them: UTC dates, never epoch milliseconds.

Every message, table and report formats a time with :func:`utc` and a
duration with :func:`duration`; parsing a person's time goes through
:func:`parse_utc`. This module imports nothing of botcore, so any layer may use it.
"""

from __future__ import annotations

import math
import time
from typing import Any

import pandas as pd

#: how a missing time or duration is shown
MISSING = "—"


def utc(ts: Any, *, seconds: bool = False, suffix: bool = True) -> str:
    """Format a time as ``2024-01-04 07:12 UTC``.

    Parameters
    ----------
    ts : int, float, pandas.Timestamp, datetime or None
        Epoch milliseconds (UTC) or a timestamp (naive ones are taken as UTC).
    seconds : bool
        Show the seconds (``07:12:05``).
    suffix : bool
        Append `` UTC`` (off in table columns whose title already says UTC).
    """
    if ts is None or ts is pd.NaT or (isinstance(ts, float) and not math.isfinite(ts)):
        return MISSING
    if isinstance(ts, (int, float)) and not isinstance(ts, bool):
        text = time.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M", time.gmtime(int(ts) / 1000))
    else:
        stamp = pd.Timestamp(ts)
        if pd.isna(stamp):
            return MISSING
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        text = stamp.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{text} UTC" if suffix else text


def utc_span(start: Any, end: Any) -> str:
    """Format a window as ``2024-01-01 00:01 .. 2024-01-04 00:00 UTC``."""
    return f"{utc(start, suffix=False)} .. {utc(end)}"


def duration(ms: float | None) -> str:
    """Format a duration as ``2d 3h``, ``3h 12m``, ``4m 5s`` or ``12s``; missing as an em dash."""
    if ms is None or not math.isfinite(ms):
        return MISSING
    s = max(0, int(ms // 1000))
    d, h, m = s // 86_400, s % 86_400 // 3600, s % 3600 // 60
    if d:
        return f"{d}d {h}h"
    if h:
        return f"{h}h {m}m"
    if m:
        return f"{m}m {s % 60}s"
    return f"{s}s"


def parse_utc(text: str | int, name: str) -> int:
    """Return epoch milliseconds of a UTC time (``2024-01-04 07:12``, ISO 8601, or epoch ms digits).

    Raises
    ------
    ValueError
        Naming ``name`` (the option or field) and the accepted forms.
    """
    if isinstance(text, int) or str(text).strip().lstrip("-").isdigit():
        return int(text)
    try:
        stamp = pd.Timestamp(str(text).strip())
    except (ValueError, TypeError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise ValueError(f"{name} {text!r}: not a time; use a UTC date such as 2024-01-04 or 2024-01-04 07:12")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value // 1_000_000)


__all__ = ["MISSING", "duration", "parse_utc", "utc", "utc_span"]
