"""Boundary checks shared by the model's value objects; each names the field it rejects."""

from __future__ import annotations

import math
from numbers import Integral, Real

from botcore.errors import DataError

#: Relative tolerance under which two quantities in contracts count as equal.
QTY_REL_TOL = 1e-9
#: Absolute tolerance under which a quantity in contracts counts as zero.
QTY_ABS_TOL = 1e-12


def ts_ms(owner: str, field: str, value: object) -> int:
    """Return ``value`` as an int of milliseconds since the epoch, or raise DataError."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise DataError(f"{owner}.{field} must be an integer of milliseconds UTC, got {value!r}")
    if int(value) < 0:
        raise DataError(f"{owner}.{field} must be >= 0 ms, got {value!r}")
    return int(value)


def finite(owner: str, field: str, value: object) -> float:
    """Return ``value`` as a finite float, or raise DataError."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise DataError(f"{owner}.{field} must be a finite number, got {value!r}")
    return float(value)


def positive(owner: str, field: str, value: object) -> float:
    """Return ``value`` as a finite float > 0, or raise DataError."""
    number = finite(owner, field, value)
    if number <= 0:
        raise DataError(f"{owner}.{field} must be > 0, got {value!r}")
    return number


def text(owner: str, field: str, value: object) -> str:
    """Return ``value`` as a non-empty str, or raise DataError."""
    if not isinstance(value, str) or not value:
        raise DataError(f"{owner}.{field} must be a non-empty string, got {value!r}")
    return value


def qty_equal(a: float, b: float) -> bool:
    """Return True when two quantities in contracts are equal within the model's tolerance."""
    return math.isclose(a, b, rel_tol=QTY_REL_TOL, abs_tol=QTY_ABS_TOL)
