"""More of BloFin's public REST API on :class:`tests.fakes.blofin_server.FakeBlofin`, for the live feed.

:func:`install` registers, through ``FakeBlofin.route``:

- ``/api/v1/market/mark-price``: ``[{"instId", "indexPrice", "markPrice", "ts"}]`` (numbers as strings);
- ``/api/v1/market/funding-rate``: ``[{"instId", "fundingRate", "fundingTime"}]``, the rate of the
  next settlement and its time; both answer every instrument when ``instId`` is left out (BloFin
  documents it optional);
- ``/api/v1/market/books`` answered the same for every call (the server's own books move with
  the call count, so a test could not know which answer a symbol got), stamped ``now_ms``.

and returns a :class:`PublicFaults` handle that makes a path hang (a client timeout) or makes
every public endpoint fail for one instrument.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.fakes.blofin_server import FakeBlofin

Handler = Callable[[dict[str, str]], tuple[int, object]]


def mark_price(fake: FakeBlofin, inst_id: str) -> float:
    """The mark price the fake reports at its clock: the recorded price 0.01 % above the trade price."""
    return round(fake.price(inst_id, fake.now_ms) * 1.0001, 6)


def next_funding_ms(fake: FakeBlofin) -> int:
    """The next settlement after the fake's clock."""
    step = fake.funding_interval_ms
    return (fake.now_ms // step + 1) * step


def book(fake: FakeBlofin, inst_id: str, size: int) -> tuple[list[list[str]], list[list[str]], int]:
    """Bids, asks and ts the stable books answer: the server's first book, stamped ``now_ms``."""
    inst = next(i for i in fake.instruments if i["instId"] == inst_id)
    bids, asks, _ = fake.book_levels(inst, 0, size)
    return bids, asks, fake.now_ms


@dataclass
class PublicFaults:
    """Faults of the public endpoints: ``hang[path] = seconds`` delays answers; ``down`` fails instruments (HTTP 500)."""

    hang: dict[str, float] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)

    def wrap(self, path: str, handler: Handler) -> Handler:
        def serve(params: dict[str, str]) -> tuple[int, object]:
            if params.get("instId") in self.down:
                return 500, {"code": "500", "msg": "Internal Server Error"}
            seconds = self.hang.get(path)
            if seconds:
                time.sleep(seconds)
            return handler(params)

        return serve


def install(fake: FakeBlofin) -> PublicFaults:
    """Add the live feed's public endpoints to a started or not yet started fake; return its fault handle."""
    faults = PublicFaults()

    def _inst(params: dict[str, str]) -> dict | None:
        return next((i for i in fake.instruments if i["instId"] == params.get("instId")), None)

    def every(handler: Handler) -> Handler:
        """Without ``instId`` BloFin answers for every instrument (one row each; a ``down`` one is left out)."""
        def serve(params: dict[str, str]) -> tuple[int, object]:
            if "instId" in params:
                return handler(params)
            rows = []
            for inst in fake.instruments:
                if inst["instId"] not in faults.down:
                    rows += handler({**params, "instId": inst["instId"]})[1]["data"]
            return fake.ok(rows)

        return serve

    def mark(params: dict[str, str]) -> tuple[int, object]:
        inst = _inst(params)
        if inst is None:
            return fake.error("152014", "Instrument ID does not exist")
        px = mark_price(fake, inst["instId"])
        return fake.ok([{"instId": inst["instId"], "indexPrice": f"{fake.price(inst['instId'], fake.now_ms):.6f}",
                         "markPrice": f"{px:.6f}", "ts": str(fake.now_ms)}])

    def funding(params: dict[str, str]) -> tuple[int, object]:
        inst = _inst(params)
        if inst is None:
            return fake.error("152014", "Instrument ID does not exist")
        nxt = next_funding_ms(fake)
        return fake.ok([{"instId": inst["instId"], "fundingRate": f"{fake.funding_rate(inst['instId'], nxt):.8f}",
                         "fundingTime": str(nxt)}])

    def books(params: dict[str, str]) -> tuple[int, object]:
        inst = _inst(params)
        if inst is None:
            return fake.error("152014", "Instrument ID does not exist")
        size = int(params.get("size", 1))
        if not 1 <= size <= 100:
            return fake.error("152002", "Parameter size error.")
        bids, asks, ts = book(fake, inst["instId"], size)
        return fake.ok([{"asks": asks, "bids": bids, "ts": str(ts)}])

    candles = fake._candles
    for path, handler in (("/api/v1/market/mark-price", every(mark)), ("/api/v1/market/funding-rate", every(funding)),
                          ("/api/v1/market/books", books), ("/api/v1/market/candles", candles)):
        fake.route(path, faults.wrap(path, handler))
    return faults
