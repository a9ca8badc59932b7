"""A local HTTP server that answers BloFin's public REST API the way BloFin does.

It serves deterministic, recorded-style market data (the same request always
gets the same answer) on ``127.0.0.1`` at a random port, so ccxt's own
``blofin`` class can run against it offline::

    with FakeBlofin() as fake:
        exchange = ccxt.blofin({"enableRateLimit": True})
        exchange.urls["api"] = {"rest": fake.url}
        exchange.fetch_ohlcv("BTC/USDT:USDT", "1m", since=fake.start_ms, limit=100)

Behaviour copied from the venue (see ccxt's ``blofin.py`` and BloFin's docs):

- every answer is ``{"code": "0", "msg": "success", "data": [...]}``; numbers are strings;
- paginated endpoints take ``after`` (records strictly earlier than it) and
  ``before`` (records strictly later), return the NEWEST ``limit`` records of
  that range, newest first; ``limit`` above the endpoint's maximum is an error;
- candles are ``[ts, o, h, l, c, vol_contracts, vol_base, vol_quote, confirm]``,
  the bar still forming at ``now_ms`` has ``confirm == "0"``;
- order-book sizes are in CONTRACTS (``contractValue`` base units each).

Faults: :meth:`FakeBlofin.fail_next` makes the next N requests to a path answer
HTTP 429 (rate limit, JSON body code ``429``) or a 5xx gateway page (HTML).
Extend with :meth:`FakeBlofin.route` (e.g. private endpoints); every request is
logged in :attr:`FakeBlofin.requests`.
"""

from __future__ import annotations

import json
import math
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
BAR_MS = {"1m": MINUTE_MS, "5m": 5 * MINUTE_MS, "15m": 15 * MINUTE_MS, "1H": HOUR_MS, "4H": 4 * HOUR_MS}

#: default clock of the recorded data: 2024-03-01 00:00 UTC start, 'now' 10 days and 30 s later
START_MS = 1_709_251_200_000
NOW_MS = START_MS + 10 * 24 * HOUR_MS + 30_000


def instrument(inst_id: str, contract_value: str, tick_size: str = "0.1", max_leverage: str = "100") -> dict:
    """Return one ``market/instruments`` record of a linear USDT swap, as BloFin lists it."""
    base, quote = inst_id.split("-")
    return {
        "instId": inst_id,
        "baseCurrency": base,
        "quoteCurrency": quote,
        "contractValue": contract_value,
        "listTime": "1609459200000",
        "expireTime": "4102444800000",
        "maxLeverage": max_leverage,
        "minSize": "1",
        "lotSize": "1",
        "tickSize": tick_size,
        "instType": "SWAP",
        "contractType": "linear",
        "maxLimitSize": "100000",
        "maxMarketSize": "20000",
        "state": "live",
        "settleCurrency": quote,
    }


DEFAULT_INSTRUMENTS = (
    instrument("BTC-USDT", "0.001"),
    instrument("ETH-USDT", "0.01", tick_size="0.01"),
    instrument("XRP-USDT", "10", tick_size="0.0001", max_leverage="50"),
)
BASE_PRICE = {"BTC-USDT": 60_000.0, "ETH-USDT": 3_000.0, "XRP-USDT": 0.6}


def _unit(*keys: object) -> float:
    """Deterministic pseudo-random number in [0, 1) from ``keys``."""
    return zlib.crc32(repr(keys).encode()) / 2**32


@dataclass
class Fault:
    """An injected failure: let ``after`` matching requests pass, then answer ``status`` to the next ``count``."""

    path: str
    status: int
    count: int = 1
    after: int = 0


@dataclass
class FakeBlofin:
    """BloFin's public REST market data, served on 127.0.0.1 (use as a context manager).

    Parameters
    ----------
    start_ms, now_ms : the span of recorded history; ``now_ms`` is the venue's clock.
    instruments : ``market/instruments`` records.
    gaps : (start_ms, end_ms) ranges without candles (venue downtime).
    funding_interval_ms : spacing of funding settlements.
    """

    start_ms: int = START_MS
    now_ms: int = NOW_MS
    instruments: tuple[dict, ...] = DEFAULT_INSTRUMENTS
    gaps: tuple[tuple[int, int], ...] = ()
    funding_interval_ms: int = 8 * HOUR_MS
    max_candles: int = 1440
    max_funding: int = 100
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    book_calls: int = 0

    def __post_init__(self) -> None:
        self._routes: dict[str, Callable[[dict[str, str]], tuple[int, object]]] = {
            "/api/v1/market/instruments": self._instruments,
            "/api/v1/market/candles": self._candles,
            "/api/v1/market/history-candles": self._candles,
            "/api/v1/market/mark-price-candles": self._candles,
            "/api/v1/market/funding-rate-history": self._funding_history,
            "/api/v1/market/books": self._books,
        }
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """Base URL to put in ``exchange.urls['api']['rest']``."""
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeBlofin":
        """Serve in a daemon thread on a random free port of 127.0.0.1."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                split = urlsplit(self.path)
                fake._respond(self, split.path, dict(parse_qsl(split.query)))

            do_POST = do_GET

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-blofin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeBlofin":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ extension points

    def route(self, path: str, handler: Callable[[dict[str, str]], tuple[int, object]]) -> None:
        """Serve ``path`` with ``handler(params) -> (http_status, json_body)``."""
        self._routes[path] = handler

    def fail_next(self, path: str, status: int = 429, count: int = 1, after: int = 0) -> None:
        """Make ``count`` requests to a path ending in ``path`` fail with ``status`` (429 or 5xx), after ``after`` succeed."""
        with self._lock:
            self.faults.append(Fault(path, status, count, after))

    def calls(self, path: str) -> list[dict[str, str]]:
        """Return the query parameters of every request made to a path ending in ``path``."""
        return [params for p, params in self.requests if p.endswith(path)]

    # ------------------------------------------------------------------ dispatch

    def _respond(self, handler: BaseHTTPRequestHandler, path: str, params: dict[str, str]) -> None:
        with self._lock:
            self.requests.append((path, params))
            fault = next((f for f in self.faults if path.endswith(f.path) and f.count > 0), None)
            if fault is not None and fault.after > 0:
                fault.after -= 1
                fault = None
            elif fault is not None:
                fault.count -= 1
        if fault is not None:
            if fault.status == 429:
                self._send(handler, 429, json.dumps({"code": "429", "msg": "Too Many Requests"}), "application/json")
            else:
                page = f"<html><body><h1>{fault.status} Service Temporarily Unavailable</h1></body></html>"
                self._send(handler, fault.status, page, "text/html")
            return
        route = self._routes.get(path)
        if route is None:
            self._send(handler, 404, json.dumps({"code": "404", "msg": "Not Found"}), "application/json")
            return
        status, body = route(params)
        self._send(handler, status, json.dumps(body), "application/json")

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: str, content_type: str) -> None:
        raw = body.encode()
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(raw)))
        handler.end_headers()
        handler.wfile.write(raw)

    @staticmethod
    def ok(data: list) -> tuple[int, dict]:
        """BloFin's success envelope."""
        return 200, {"code": "0", "msg": "success", "data": data}

    @staticmethod
    def error(code: str, msg: str) -> tuple[int, dict]:
        """BloFin's error envelope (HTTP 200 with a non-zero code)."""
        return 200, {"code": code, "msg": msg, "data": []}

    def _instrument(self, params: dict[str, str]) -> dict | None:
        return next((i for i in self.instruments if i["instId"] == params.get("instId")), None)

    def _page(self, times: range | list[int], params: dict[str, str], default: int, maximum: int) -> list[int] | str:
        """Apply BloFin's after/before/limit: the newest ``limit`` times in (before, after), newest first."""
        try:
            limit = int(params.get("limit", default))
            after = int(params["after"]) if "after" in params else None
            before = int(params["before"]) if "before" in params else None
        except ValueError:
            return "Parameter error: wrong or empty"
        if not 1 <= limit <= maximum:
            return f"Parameter limit error: max {maximum}"
        chosen = [t for t in times if (after is None or t < after) and (before is None or t > before)]
        return sorted(chosen, reverse=True)[:limit]

    # ------------------------------------------------------------------ market data

    def _instruments(self, params: dict[str, str]) -> tuple[int, object]:
        return self.ok(list(self.instruments))

    def price(self, inst_id: str, ts_ms: int) -> float:
        """The recorded trade price of ``inst_id`` at ``ts_ms`` (a smooth daily cycle plus noise)."""
        base = BASE_PRICE.get(inst_id, 100.0)
        cycle = 0.03 * math.sin(2 * math.pi * ts_ms / (24 * HOUR_MS))
        noise = 0.002 * (_unit(inst_id, ts_ms) - 0.5)
        return round(base * math.exp(cycle + noise), 6)

    def candle(self, inst: dict, bar_ms: int, ts_ms: int) -> list[str]:
        """One candle row as BloFin sends it (contracts, base and quote volume, confirm flag)."""
        inst_id = inst["instId"]
        o, c = self.price(inst_id, ts_ms), self.price(inst_id, ts_ms + bar_ms)
        h = max(o, c) * (1 + 0.001 * _unit(inst_id, ts_ms, "h"))
        low = min(o, c) * (1 - 0.001 * _unit(inst_id, ts_ms, "l"))
        contracts = 1 + int(1000 * _unit(inst_id, ts_ms, "v"))
        base_volume = contracts * float(inst["contractValue"])
        confirm = "1" if ts_ms + bar_ms <= self.now_ms else "0"
        return [str(ts_ms), f"{o:.6f}", f"{h:.6f}", f"{low:.6f}", f"{c:.6f}", str(contracts), f"{base_volume:.6f}", f"{base_volume * c:.6f}", confirm]

    def candle_times(self, bar_ms: int) -> list[int]:
        """Open times of every stored bar up to the one forming at ``now_ms``."""
        first = -(-self.start_ms // bar_ms) * bar_ms
        return [t for t in range(first, self.now_ms, bar_ms) if not any(lo <= t < hi for lo, hi in self.gaps)]

    def _candles(self, params: dict[str, str]) -> tuple[int, object]:
        inst = self._instrument(params)
        if inst is None:
            return self.error("152014", "Instrument ID does not exist")
        bar_ms = BAR_MS.get(params.get("bar", "1m"))
        if bar_ms is None:
            return self.error("152002", "Parameter bar error.")
        page = self._page(self.candle_times(bar_ms), params, 500, self.max_candles)
        if isinstance(page, str):
            return self.error("152002", page)
        return self.ok([self.candle(inst, bar_ms, t) for t in page])

    def funding_rate(self, inst_id: str, ts_ms: int) -> float:
        """The recorded funding rate settled at ``ts_ms``."""
        return round(0.0001 + 0.0004 * (_unit(inst_id, ts_ms, "f") - 0.4), 8)

    def funding_times(self) -> list[int]:
        """Settlement times up to ``now_ms``."""
        step = self.funding_interval_ms
        return list(range(-(-self.start_ms // step) * step, self.now_ms + 1, step))

    def _funding_history(self, params: dict[str, str]) -> tuple[int, object]:
        inst = self._instrument(params)
        if inst is None:
            return self.error("152014", "Instrument ID does not exist")
        page = self._page(self.funding_times(), params, 100, self.max_funding)
        if isinstance(page, str):
            return self.error("152002", page)
        rows = [{"instId": inst["instId"], "fundingRate": f"{self.funding_rate(inst['instId'], t):.8f}", "fundingTime": str(t)} for t in page]
        return self.ok(rows)

    def book_levels(self, inst: dict, call: int, size: int) -> tuple[list[list[str]], list[list[str]], int]:
        """Bids, asks (``[price, contracts]``, best first) and ts of the ``call``-th book request."""
        ts_ms = self.now_ms + call * 1_000
        mid = self.price(inst["instId"], ts_ms)
        tick = float(inst["tickSize"])
        best_bid = math.floor(mid / tick) * tick
        bids = [[f"{best_bid - i * tick:.6f}", str(1 + int(50 * _unit(inst["instId"], call, "b", i)))] for i in range(size)]
        asks = [[f"{best_bid + (i + 1) * tick:.6f}", str(1 + int(50 * _unit(inst["instId"], call, "a", i)))] for i in range(size)]
        return bids, asks, ts_ms

    def _books(self, params: dict[str, str]) -> tuple[int, object]:
        inst = self._instrument(params)
        if inst is None:
            return self.error("152014", "Instrument ID does not exist")
        size = int(params.get("size", 1))
        if not 1 <= size <= 100:
            return self.error("152002", "Parameter size error.")
        with self._lock:
            call = self.book_calls
            self.book_calls += 1
        bids, asks, ts_ms = self.book_levels(inst, call, size)
        return self.ok([{"asks": asks, "bids": bids, "ts": str(ts_ms)}])
