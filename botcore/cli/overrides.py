"""``--override KEY=VALUE`` of ``run``, ``backtest`` and ``sweep``: parsed and checked before anything runs.

Keys are :func:`botcore.strategy.build_params` overrides: a scalar parameter
(``kelly_conviction_pivot``) or a per-strategy one as
``<field>.<strategy>`` (``min_conviction.trend_conservative``). An unknown key
is refused with the closest known names, a per-strategy field without its
strategy with the keys to use, a value that is not a finite number with the
key, and a value out of bounds with the parameter's bounds (the same
validation as the kernel's parameters).
"""

from __future__ import annotations

import difflib
import math
from typing import Any

import typer

from botcore.config.models import STRATEGY_NAMES
from botcore.strategy.enums import PARAM_FIELDS, params_dt
from botcore.strategy.params import PER_STRATEGY_FIELDS, build_params


def override_keys() -> list[str]:
    """Return every key ``--override`` accepts: scalar fields and ``<field>.<strategy>`` for per-strategy ones."""
    keys = []
    for name in PARAM_FIELDS:
        if name in PER_STRATEGY_FIELDS:
            keys += [f"{name}.{s}" for s in STRATEGY_NAMES]
        elif params_dt[name].shape == ():
            keys.append(name)
    return keys


class OverrideError(ValueError):
    """An ``--override`` item is malformed, unknown or out of bounds; the message names it and the fix."""


def _key_error(item: str, key: str) -> OverrideError:
    keys = override_keys()
    if key in PER_STRATEGY_FIELDS:
        return OverrideError(f"--override {item!r}: {key} is set per strategy; use "
                             + ", ".join(f"{key}.{s}" for s in STRATEGY_NAMES))
    field, _, strategy = key.partition(".")
    if field in PER_STRATEGY_FIELDS and strategy:
        return OverrideError(f"--override {item!r}: unknown strategy {strategy!r}; use "
                             + ", ".join(f"{field}.{s}" for s in STRATEGY_NAMES))
    if field in PARAM_FIELDS and strategy:
        return OverrideError(f"--override {item!r}: {field} is not per strategy; use {field}=VALUE")
    if key in PARAM_FIELDS:
        return OverrideError(f"--override {item!r}: {key} is a vector parameter, not settable with --override")
    close = difflib.get_close_matches(key, keys, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    scalars = [k for k in keys if "." not in k]
    return OverrideError(f"--override {item!r}: unknown parameter {key!r}{hint} (known: {', '.join(scalars)}; per "
                         f"strategy: {', '.join(f'{f}.<strategy>' for f in PER_STRATEGY_FIELDS)} with <strategy> one "
                         f"of {', '.join(STRATEGY_NAMES)})")


def parse_override_items(items: list[str] | None) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` items into {key: number}; raise :class:`OverrideError` on a malformed, unknown or non-numeric one."""
    keys = set(override_keys())
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise OverrideError(f"--override {item!r}: use KEY=VALUE, e.g. min_conviction.trend_conservative=0.3")
        if key not in keys:
            raise _key_error(item, key)
        try:
            number: float | int = int(value)
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                raise OverrideError(f"--override {item!r}: {value!r} is not a number") from None
        if isinstance(number, float) and not math.isfinite(number) and key != "min_size_kelly_multiple":
            raise OverrideError(f"--override {item!r}: the value must be a finite number")
        out[key] = number
    return out


def check_overrides(settings: Any, overrides: dict[str, Any]) -> None:
    """Build the kernel parameters with ``overrides``; raise :class:`OverrideError` naming the bound a value breaks.

    Without overrides this still builds them: a configuration the kernel refuses is reported before anything runs.
    """
    try:
        build_params(settings, overrides or None)
    except ValueError as exc:
        if not overrides:
            raise OverrideError(f"configuration invalid: the decision parameters cannot be built: {exc}") from None
        given = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
        raise OverrideError(f"--override {given}: {exc}") from None


def overrides_or_exit(settings: Any, items: list[str] | None) -> dict[str, Any]:
    """Parse and check ``--override`` items for a command; exit 2 with the reason on any mistake."""
    try:
        overrides = parse_override_items(items)
        check_overrides(settings, overrides)
    except OverrideError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    return overrides
