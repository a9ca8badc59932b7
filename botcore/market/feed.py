"""The Feed port: what the trading loop asks of a market feed (the replay feed and the live feed)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol, runtime_checkable

from botcore.market.replay import Cycle


@runtime_checkable
class Feed(Protocol):
    """A source of cycles on its own clock: a store replayed (:class:`~botcore.market.replay.ReplayFeed`) or the
    exchange read live (:class:`~botcore.market.live.LiveFeed`).

    ``last_faults`` names, per symbol, the inputs the latest cycle could not get and why (empty when none).
    """

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols of every cycle, in column order."""
        ...

    @property
    def last_faults(self) -> Mapping[str, Mapping[str, str]]:
        """Per symbol, the inputs the latest cycle could not get and why."""
        ...

    def at(self, t_ms: int) -> Cycle:
        """Return the cycle at ``t_ms``."""
        ...

    def __iter__(self) -> Iterator[Cycle]:
        """Yield the cycles on the feed's clock (simulated for a replay, the wall clock live)."""
        ...

    def stop(self) -> None:
        """Stop iterating (a live feed's scheduler stops waiting at once)."""
        ...


__all__ = ["Feed"]
