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

Private endpoints (the account, orders, fills, positions, leverage, margin and
position mode that ccxt's ``blofin`` class calls) check every signed request
the way BloFin does: ``ACCESS-KEY``, ``ACCESS-PASSPHRASE``, a millisecond
``ACCESS-TIMESTAMP`` within 60 s, a fresh ``ACCESS-NONCE`` and ``ACCESS-SIGN =
base64(hex(hmac_sha256(secret, path_with_query + METHOD + timestamp + nonce +
body)))``; a mismatch answers BloFin's code (152401 key, 152408 passphrase,
152405 / 152410 timestamp, 152407 nonce, 152409 signature). The account
simulates contract sizes (sizes are contracts), lot and tick checks, market
orders filled against the recorded price (in ``market_chunk_contracts`` pieces),
limit orders that rest until they cross or :meth:`FakeBlofin.fill_order`
fills them (partial fills), fees (taker 0.06 %, maker 0.02 %), margin checks
(code 1 ``All operations failed`` with inner 103003), position mode (inner
102089 on a mismatch), reduce-only (102022), duplicate client ids (102002).
:meth:`FakeBlofin.delay_next` answers a path only after sleeping (a client
timeout) while the request still takes effect, like a slow venue.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import threading
import time
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


def instrument(inst_id: str, contract_value: str, tick_size: str = "0.1", max_leverage: str = "100",
               lot_size: str = "1", min_size: str = "1") -> dict:
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
        "minSize": min_size,
        "lotSize": lot_size,
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
    # as BloFin lists LTC (ccxt's recorded answers trade it): contract value 1, fractional lots
    instrument("LTC-USDT", "1", tick_size="0.01", max_leverage="50", lot_size="0.01", min_size="0.01"),
)
BASE_PRICE = {"BTC-USDT": 60_000.0, "ETH-USDT": 3_000.0, "XRP-USDT": 0.6, "LTC-USDT": 68.0}
#: BloFin's REST limits ("Rate Limits"): trading endpoints 30 requests / 10 s per user; 500 / minute per IP.
TRADE_LIMIT = (30, 10.0)
IP_LIMIT = (500, 60.0)
#: ccxt's default brokerId (what a client that does not remove it sends)
CCXT_BROKER_ID = "ec6dd3a7dd982d0b"

#: credentials of the simulated account (tests export them as BLOFIN_API_KEY / _SECRET / _PASSPHRASE)
TEST_API_KEY = "fake-api-key-7f3a"
TEST_API_SECRET = "fake-api-secret-9c1e44"
TEST_PASSPHRASE = "fake-passphrase-2b8d"
TAKER_FEE = 0.0006
MAKER_FEE = 0.0002
_CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_]{1,32}$")


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
class Delay:
    """Sleep ``seconds`` before answering the next ``count`` requests to ``path`` (the request still takes effect)."""

    path: str
    seconds: float
    count: int = 1


@dataclass
class Request:
    """One private request as the fake received it."""

    method: str
    path: str
    raw_path: str
    params: dict
    headers: dict[str, str]
    body: str


@dataclass
class FakeBlofin:
    """BloFin's public REST market data, served on 127.0.0.1 (use as a context manager).

    Parameters
    ----------
    start_ms, now_ms : the span of recorded history; ``now_ms`` is the venue's clock.
    instruments : ``market/instruments`` records.
    gaps : (start_ms, end_ms) ranges without candles (venue downtime).
    funding_interval_ms : spacing of funding settlements.
    trends : instId -> (from_ms, log-return per minute): a steady drift of the price from ``from_ms`` on
        (a market shaped so that the decision kernel sees a setup; the default is the plain daily cycle).
    """

    start_ms: int = START_MS
    now_ms: int = NOW_MS
    instruments: tuple[dict, ...] = DEFAULT_INSTRUMENTS
    gaps: tuple[tuple[int, int], ...] = ()
    funding_interval_ms: int = 8 * HOUR_MS
    max_candles: int = 1440
    max_funding: int = 100
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    log: list[Request] = field(default_factory=list)   # every request with method, headers and body
    faults: list[Fault] = field(default_factory=list)
    book_calls: int = 0
    # ---- the private account
    api_key: str = TEST_API_KEY
    api_secret: str = TEST_API_SECRET
    passphrase: str = TEST_PASSPHRASE
    balance_usdt: float = 10_000.0
    position_mode: str = "net_mode"
    margin_mode: str = "cross"
    default_leverage: int = 3
    market_chunk_contracts: float = 1e12
    max_page: int = 100
    delays: list[Delay] = field(default_factory=list)
    # ---- the key and the host
    key_type: str = "transaction"          # "transaction" (refuses any brokerId: 152011) or "broker"
    broker_id: str | None = None           # the broker a "broker" key is bound to (152012 missing, 152013 other)
    key_expired: bool = False              # 152402 to every private request
    demo: bool = False                     # the demo-trading host (serves asset/demo-apply-money)
    trade_limit: tuple[int, float] | None = TRADE_LIMIT
    ip_limit: tuple[int, float] | None = None   # IP_LIMIT enforces BloFin's 500 / minute per IP (clients at 1 ms spacing pass it)
    wall_clock: bool = False               # now_ms follows ``clock`` (whole-process tests)
    clock: Callable[[], float] = time.time  # seconds: signatures' 60 s window and ``wall_clock``
    maker_fee: float = MAKER_FEE           # < 0: a maker rebate
    trends: dict[str, tuple[int, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._routes: dict[str, Callable[[dict[str, str]], tuple[int, object]]] = {
            "/api/v1/market/instruments": self._instruments,
            "/api/v1/market/candles": self._candles,
            "/api/v1/market/history-candles": self._candles,
            "/api/v1/market/mark-price-candles": self._candles,
            "/api/v1/market/funding-rate-history": self._funding_history,
            "/api/v1/market/funding-rate": self._funding_rate,
            "/api/v1/market/books": self._books,
        }
        self._private_routes: dict[tuple[str, str], Callable[[Request], tuple[int, object]]] = {
            ("GET", "/api/v1/account/balance"): self._balance,
            ("GET", "/api/v1/asset/balances"): self._asset_balances,
            ("GET", "/api/v1/account/positions"): self._positions,
            ("GET", "/api/v1/account/position-mode"): self._get_position_mode,
            ("POST", "/api/v1/account/set-position-mode"): self._set_position_mode,
            ("GET", "/api/v1/account/margin-mode"): self._get_margin_mode,
            ("POST", "/api/v1/account/set-margin-mode"): self._set_margin_mode,
            ("GET", "/api/v1/account/leverage-info"): self._get_leverage,
            ("POST", "/api/v1/account/set-leverage"): self._set_leverage,
            ("POST", "/api/v1/asset/demo-apply-money"): self._demo_apply_money,
            ("GET", "/api/v1/asset/currencies"): self._currencies,
            ("POST", "/api/v1/trade/order"): self._place_order,
            ("POST", "/api/v1/trade/cancel-order"): self._cancel_order,
            ("GET", "/api/v1/trade/order-detail"): self._order_detail,
            ("GET", "/api/v1/trade/orders-pending"): self._orders_pending,
            ("GET", "/api/v1/trade/orders-history"): self._orders_history,
            ("GET", "/api/v1/trade/fills-history"): self._fills_history,
        }
        self.orders: dict[str, dict] = {}        # orderId -> order record (BloFin's fields, numbers as floats)
        self.trades: list[dict] = []             # fills, oldest first
        self.positions: dict[tuple[str, str], dict] = {}   # (instId, positionSide) -> {qty, avg}
        self.leverages: dict[tuple[str, str], int] = {}    # (instId, marginMode) -> leverage
        self.funding: list[dict] = []
        self.clock_ms = self.now_ms              # the account's clock: +1 ms per order event
        self.rejects: list[tuple[str, str, str]] = []      # queued (code, msg, where) for the next orders
        self.partial_next: list[float] = []       # fraction of the next market orders to fill
        self._nonces: dict[str, float] = {}
        self._hits: dict[str, list[float]] = {"ip": [], "trade": []}
        self.rate_limited = 0                    # requests answered 429 for passing BloFin's limits
        self._settled_ms = self.now_ms           # funding settled on positions up to here
        self._order_seq = 1000
        self._trade_seq = 5000
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

    def start(self) -> FakeBlofin:
        """Serve in a daemon thread on a random free port of 127.0.0.1."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                fake._respond(
                    self, split.path, dict(parse_qsl(split.query)),
                    method=self.command, raw_path=self.path, headers=dict(self.headers.items()), body=body,
                )

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

    def __enter__(self) -> FakeBlofin:
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

    def delay_next(self, path: str, seconds: float, count: int = 1) -> None:
        """Answer the next ``count`` private requests to a path ending in ``path`` only after ``seconds``."""
        with self._lock:
            self.delays.append(Delay(path, seconds, count))

    def calls(self, path: str) -> list[dict[str, str]]:
        """Return the query parameters of every request made to a path ending in ``path``."""
        return [params for p, params in self.requests if p.endswith(path)]

    # ------------------------------------------------------------------ dispatch

    def _respond(
        self,
        handler: BaseHTTPRequestHandler,
        path: str,
        params: dict[str, str],
        *,
        method: str = "GET",
        raw_path: str = "",
        headers: dict[str, str] | None = None,
        body: str = "",
    ) -> None:
        private = self._private_routes.get((method, path))
        if private is not None and body:
            try:
                parsed = json.loads(body)
                params = parsed if isinstance(parsed, dict) else {"_list": parsed}
            except ValueError:
                params = {"_raw": body}
        with self._lock:
            if self.wall_clock:
                self.now_ms = int(self.clock() * 1000)
            self.requests.append((path, params))
            self.log.append(Request(method, path, raw_path or path, params, headers or {}, body))
            limited = self._rate_limited(path)
            fault = next((f for f in self.faults if path.endswith(f.path) and f.count > 0), None)
            if fault is not None and fault.after > 0:
                fault.after -= 1
                fault = None
            elif fault is not None:
                fault.count -= 1
        if limited:
            self._send(handler, 429, json.dumps({"code": "429", "msg": "Rate limit reached. Please refer to API "
                                                 "documentation and throttle requests accordingly"}), "application/json")
            return
        if fault is not None:
            if fault.status == 429:
                self._send(handler, 429, json.dumps({"code": "429", "msg": "Too Many Requests"}), "application/json")
            else:
                page = f"<html><body><h1>{fault.status} Service Temporarily Unavailable</h1></body></html>"
                self._send(handler, fault.status, page, "text/html")
            return
        if private is not None:
            request = Request(method, path, raw_path or path, params, headers or {}, body)
            with self._lock:
                denied = self._authenticate(request)
                if denied is None:
                    self._settle_funding()
                status, answer = denied if denied is not None else private(request)
                delay = next((d for d in self.delays if path.endswith(d.path) and d.count > 0), None)
                if delay is not None:
                    delay.count -= 1
            if delay is not None:
                time.sleep(delay.seconds)  # the client has given up by now; the request took effect anyway
            self._send(handler, status, json.dumps(answer), "application/json")
            return
        route = self._routes.get(path)
        if route is None:
            self._send(handler, 404, json.dumps({"code": "404", "msg": "Not Found"}), "application/json")
            return
        status, body = route(params)
        self._send(handler, status, json.dumps(body), "application/json")

    def _rate_limited(self, path: str) -> bool:
        """Count the request against BloFin's documented limits; True when it passes one (answer 429)."""
        now = time.monotonic()
        over = False
        for key, limit in (("ip", self.ip_limit), ("trade", self.trade_limit if "/trade/" in path else None)):
            if limit is None:
                continue
            count, window = limit
            hits = self._hits[key] = [t for t in self._hits[key] if now - t < window]
            if len(hits) >= count:
                over = True
            hits.append(now)
        if over:
            self.rate_limited += 1
        return over

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: str, content_type: str) -> None:
        raw = body.encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(raw)))
            handler.end_headers()
            handler.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out and hung up
            pass

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
        from_ms, per_min = self.trends.get(inst_id, (ts_ms, 0.0))
        drift = per_min * max(0, ts_ms - from_ms) / MINUTE_MS
        return round(base * math.exp(cycle + noise + drift), 6)

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

    def _funding_rate(self, params: dict[str, str]) -> tuple[int, object]:
        """``market/funding-rate``: the next settlement after ``now_ms`` and its rate."""
        rows = []
        nxt = (self.now_ms // self.funding_interval_ms + 1) * self.funding_interval_ms
        for inst in self.instruments:
            if params.get("instId") in (None, inst["instId"]):
                rows.append({"instId": inst["instId"], "fundingRate": f"{self.funding_rate(inst['instId'], nxt):.8f}",
                             "fundingTime": str(nxt)})
        return self.ok(rows) if rows else self.error("152014", "Instrument ID does not exist")

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

    # ================================================================== private: authentication

    def sign(self, raw_path: str, method: str, timestamp: str, nonce: str, body: str, secret: str | None = None) -> str:
        """BloFin's signature: base64 of the HEX digest of HMAC-SHA256 over path+method+timestamp+nonce+body."""
        prehash = f"{raw_path}{method}{timestamp}{nonce}{body}"
        digest = hmac.new((secret or self.api_secret).encode(), prehash.encode(), hashlib.sha256).hexdigest()
        return base64.b64encode(digest.encode()).decode()

    def _authenticate(self, request: Request) -> tuple[int, object] | None:
        """Return BloFin's error answer when the request is not signed right, else None."""
        h = {k.upper(): v for k, v in request.headers.items()}
        if h.get("ACCESS-KEY") != self.api_key:
            return self.error("152401", "Access key does not exist, Please go to the API Management page and check if "
                              "it exists and is in an active state.")
        if self.key_expired:
            return self.error("152402", "Access key has expired, Please go to the API Management page and check if it "
                              "exists and is in an active state.")
        if h.get("ACCESS-PASSPHRASE") != self.passphrase:
            return self.error("152408", "Passphrase error")
        timestamp = h.get("ACCESS-TIMESTAMP", "")
        if not timestamp.isdigit():
            return self.error("152410", "The value of ACCESS-TIMESTAMP needs to be a millisecond timestamp")
        if abs(self.clock() * 1000 - int(timestamp)) > 60_000:
            return self.error("152405", "Timestamp in header or signature has expired, need to be within 60s")
        nonce = h.get("ACCESS-NONCE", "")
        expected = self.sign(request.raw_path, request.method, timestamp, nonce, request.body)
        if not hmac.compare_digest(h.get("ACCESS-SIGN", ""), expected):
            return self.error("152409", "Signature verification failed")
        now = time.time()
        self._nonces = {n: t for n, t in self._nonces.items() if now - t < 60}
        if nonce in self._nonces:
            return self.error("152407", "Repeated nonce, Reusing within 60 seconds is not allowed.")
        self._nonces[nonce] = now
        return None

    # ================================================================== private: helpers for tests

    def private_calls(self, path: str, method: str | None = None) -> list[dict]:
        """Return the parameters (query or JSON body) of every request to a path ending in ``path``."""
        return [params for p, params in self.requests if p.endswith(path)]

    def reject_next(self, code: str, msg: str, count: int = 1) -> None:
        """Refuse the next ``count`` order placements with BloFin's ``code`` (inside an ``All operations failed``)."""
        with self._lock:
            self.rejects.extend([(code, msg, "inner")] * count)

    def fill_order(self, order_ref: str, qty_contracts: float, price: float | None = None) -> dict:
        """Fill ``qty_contracts`` of a resting order (by orderId or clientOrderId) as a maker; return the trade."""
        with self._lock:
            order = self._find_order(order_ref)
            if order is None or order["state"] not in ("live", "partially_filled"):
                raise KeyError(f"no resting order {order_ref}")
            fill_price = order["price"] if price is None else price
            return self._execute(order, qty_contracts, fill_price, self.maker_fee)

    def seed_position(self, inst_id: str, qty_contracts: float, avg_price: float, position_side: str = "net") -> None:
        """Put a position on the account that no order of the bot made (a manual trade, an old session)."""
        with self._lock:
            self.positions[(inst_id, position_side)] = {"qty": float(qty_contracts), "avg": float(avg_price)}

    def _settle_funding(self) -> None:
        """Settle every funding time passed since the last request on the positions then held (BloFin's rule).

        Each position pays ``contracts x contractValue x mark x rate`` at the settlement
        (a long pays a positive rate), the mark being the open of the 1m mark-price
        candle at it and the rate the one ``market/funding-rate-history`` lists.
        """
        step = self.funding_interval_ms
        for t in range(self._settled_ms // step * step + step, self.now_ms + 1, step):
            for (inst_id, side), pos in sorted(self.positions.items()):
                inst = self._inst(inst_id)
                signed = -abs(pos["qty"]) if side == "short" else abs(pos["qty"]) if side == "long" else pos["qty"]
                amount = -signed * float(inst["contractValue"]) * self.price(inst_id, t) * self.funding_rate(inst_id, t)
                self.balance_usdt += amount
                self.funding.append({"instId": inst_id, "positionSide": side, "amount": amount, "ts": t,
                                     "rate": self.funding_rate(inst_id, t)})
        self._settled_ms = max(self._settled_ms, self.now_ms)

    def settle_funding(self) -> None:
        """Settle the funding times up to ``now_ms`` now (as the next private request would)."""
        with self._lock:
            self._settle_funding()

    def order_by_client_id(self, client_order_id: str) -> dict | None:
        """Return the stored order record with that client id (or None)."""
        with self._lock:
            return self._find_order(client_order_id)

    # ================================================================== private: account state

    def _tick(self) -> int:
        self.clock_ms = max(self.clock_ms + 1, self.now_ms)  # the venue's clock never runs behind its data
        return self.clock_ms

    def _inst(self, inst_id: object) -> dict | None:
        return next((i for i in self.instruments if i["instId"] == inst_id), None)

    def _quote(self, inst: dict) -> tuple[float, float]:
        """Best bid and ask at the account's clock."""
        tick = float(inst["tickSize"])
        mid = self.price(inst["instId"], self.clock_ms)
        bid = math.floor(mid / tick) * tick
        return round(bid, 10), round(bid + tick, 10)

    def mark(self, inst_id: str) -> float:
        """The mark price at the account's clock."""
        inst = self._inst(inst_id)
        return self.price(inst_id, self.clock_ms) if inst else 0.0

    def _lev(self, inst_id: str, margin_mode: str) -> int:
        return self.leverages.get((inst_id, margin_mode), self.default_leverage)

    def _used_margin(self) -> float:
        used = 0.0
        for (inst_id, _side), pos in self.positions.items():
            cv = float(self._inst(inst_id)["contractValue"])
            used += abs(pos["qty"]) * cv * pos["avg"] / self._lev(inst_id, self.margin_mode)
        for order in self.orders.values():
            if order["state"] in ("live", "partially_filled") and order["reduceOnly"] != "true":
                inst = self._inst(order["instId"])
                left = order["size"] - order["filledSize"]
                used += left * float(inst["contractValue"]) * order["price"] / self._lev(order["instId"], order["marginMode"])
        return used

    def _upnl(self) -> float:
        total = 0.0
        for (inst_id, side), pos in self.positions.items():
            cv = float(self._inst(inst_id)["contractValue"])
            sign = -1.0 if side == "short" else 1.0
            total += (self.mark(inst_id) - pos["avg"]) * pos["qty"] * sign * cv
        return total

    def _find_order(self, ref: object) -> dict | None:
        if ref in self.orders:
            return self.orders[ref]
        return next((o for o in self.orders.values() if ref and o["clientOrderId"] == ref), None)

    def _order_json(self, order: dict) -> dict:
        def num(x: float) -> str:
            return f"{x:.18f}".rstrip("0").rstrip(".") if x else "0"
        return {
            "orderId": order["orderId"], "clientOrderId": order["clientOrderId"], "instId": order["instId"],
            "marginMode": order["marginMode"], "positionSide": order["positionSide"], "side": order["side"],
            "orderType": order["orderType"], "price": num(order["price"]), "size": num(order["size"]),
            "reduceOnly": order["reduceOnly"], "leverage": str(self._lev(order["instId"], order["marginMode"])),
            "state": order["state"], "filledSize": num(order["filledSize"]),
            "averagePrice": num(order["averagePrice"]) if order["filledSize"] else "",
            "fee": num(order["fee"]), "pnl": num(order["pnl"]), "createTime": str(order["createTime"]),
            "updateTime": str(order["updateTime"]), "orderCategory": "normal",
            "tpTriggerPrice": None, "tpOrderPrice": None, "slTriggerPrice": None, "slOrderPrice": None,
            "cancelSource": order["cancelSource"], "cancelSourceReason": order["cancelSourceReason"],
            "algoClientOrderId": "", "algoId": "", "brokerId": order["brokerId"],
        }

    def _apply_to_position(self, inst: dict, position_side: str, side: str, qty: float, price: float) -> float:
        """Move the position by one fill; return the realised P&L."""
        cv = float(inst["contractValue"])
        key = (inst["instId"], position_side)
        pos = self.positions.get(key, {"qty": 0.0, "avg": 0.0})
        if position_side == "net":
            signed = qty if side == "buy" else -qty
            held = pos["qty"]
            if held == 0 or (held > 0) == (signed > 0):
                total = abs(held) + qty
                pos = {"qty": held + signed, "avg": (pos["avg"] * abs(held) + price * qty) / total}
                realized = 0.0
            else:
                closed = min(qty, abs(held))
                realized = (price - pos["avg"]) * closed * cv * (1 if held > 0 else -1)
                rest = held + signed
                if abs(rest) < 1e-12:
                    pos = {"qty": 0.0, "avg": 0.0}
                elif (rest > 0) == (held > 0):
                    pos = {"qty": rest, "avg": pos["avg"]}
                else:
                    pos = {"qty": rest, "avg": price}
        else:
            opening = (position_side == "long") == (side == "buy")
            if opening:
                total = pos["qty"] + qty
                pos = {"qty": total, "avg": (pos["avg"] * pos["qty"] + price * qty) / total}
                realized = 0.0
            else:
                closed = min(qty, pos["qty"])
                realized = (price - pos["avg"]) * closed * cv * (1 if position_side == "long" else -1)
                rest = pos["qty"] - closed
                pos = {"qty": rest, "avg": pos["avg"] if rest > 1e-12 else 0.0}
        if abs(pos["qty"]) < 1e-12:
            self.positions.pop(key, None)
        else:
            self.positions[key] = pos
        return realized

    def _execute(self, order: dict, qty: float, price: float, fee_rate: float) -> dict:
        """One trade of ``qty`` contracts of ``order`` at ``price``: update order, position and balance."""
        inst = self._inst(order["instId"])
        cv = float(inst["contractValue"])
        if order["reduceOnly"] == "true":
            held = self.positions.get((order["instId"], order["positionSide"]), {"qty": 0.0})["qty"]
            qty = min(qty, abs(held))
        fee = qty * cv * price * fee_rate
        realized = self._apply_to_position(inst, order["positionSide"], order["side"], qty, price)
        self.balance_usdt += realized - fee
        filled = order["filledSize"] + qty
        order["averagePrice"] = (order["averagePrice"] * order["filledSize"] + price * qty) / filled
        order["filledSize"] = filled
        order["fee"] += fee
        order["pnl"] += realized
        ts = self._tick()
        order["updateTime"] = ts
        order["state"] = "filled" if filled >= order["size"] - 1e-12 else "partially_filled"
        self._trade_seq += 1
        trade = {
            "instId": order["instId"], "tradeId": str(self._trade_seq), "orderId": order["orderId"],
            "fillPrice": f"{price:.10f}", "fillSize": f"{qty:.10f}", "fillPnl": f"{realized:.10f}",
            "positionSide": order["positionSide"], "side": order["side"], "fee": f"{fee:.12f}",
            "ts": str(ts), "brokerId": "",
        }
        self.trades.append(trade)
        return trade

    @staticmethod
    def _failed(client_order_id: str, code: str, msg: str) -> tuple[int, dict]:
        """BloFin's answer to an order that was not placed: code 1 with the reason inside."""
        return 200, {"code": "1", "msg": "All operations failed",
                     "data": [{"orderId": None, "clientOrderId": client_order_id, "msg": msg, "code": code}]}

    # ================================================================== private: endpoints

    def _balance(self, req: Request) -> tuple[int, object]:
        upnl = self._upnl()
        used = self._used_margin()
        ts = str(self.clock_ms)
        detail = {
            "currency": "USDT", "equity": f"{self.balance_usdt + upnl:.10f}", "balance": f"{self.balance_usdt:.10f}",
            "ts": ts, "isolatedEquity": "0", "available": f"{self.balance_usdt - used:.10f}",
            "availableEquity": f"{self.balance_usdt + upnl - used:.10f}", "frozen": f"{used:.10f}",
            "orderFrozen": "0", "equityUsd": f"{self.balance_usdt + upnl:.10f}",
            "isolatedUnrealizedPnl": f"{upnl:.10f}", "bonus": "0",
        }
        return 200, {"code": "0", "msg": "success", "data": {
            "ts": ts, "totalEquity": detail["equity"], "isolatedEquity": "0", "details": [detail]}}

    def _asset_balances(self, req: Request) -> tuple[int, object]:
        return self.ok([{"currency": "USDT", "balance": f"{self.balance_usdt:.10f}",
                         "available": f"{self.balance_usdt:.10f}", "frozen": "0", "bonus": "0"}])

    def _positions(self, req: Request) -> tuple[int, object]:
        rows = []
        for (inst_id, side), pos in sorted(self.positions.items()):
            if req.params.get("instId") not in (None, inst_id):
                continue
            inst = self._inst(inst_id)
            cv = float(inst["contractValue"])
            mark = self.mark(inst_id)
            sign = -1.0 if side == "short" else 1.0
            upnl = (mark - pos["avg"]) * pos["qty"] * sign * cv
            lev = self._lev(inst_id, self.margin_mode)
            margin = abs(pos["qty"]) * cv * pos["avg"] / lev
            rows.append({
                "instType": "SWAP", "instId": inst_id, "marginMode": self.margin_mode, "positionId": str(abs(hash(inst_id)) % 10**6),
                "positionSide": side, "positions": f"{pos['qty']:.10f}", "availablePositions": f"{pos['qty']:.10f}",
                "averagePrice": f"{pos['avg']:.10f}", "unrealizedPnl": f"{upnl:.10f}",
                "unrealizedPnlRatio": f"{upnl / margin if margin else 0:.10f}", "leverage": str(lev),
                "liquidationPrice": "0", "markPrice": f"{mark:.10f}", "initialMargin": f"{margin:.10f}", "margin": "",
                "marginRatio": "10", "maintenanceMargin": f"{margin * 0.05:.10f}", "adl": "1",
                "createTime": str(self.now_ms), "updateTime": str(self.clock_ms),
            })
        return self.ok(rows)

    def _get_position_mode(self, req: Request) -> tuple[int, object]:
        return 200, {"code": "0", "msg": "success", "data": {"positionMode": self.position_mode}}

    def _set_position_mode(self, req: Request) -> tuple[int, object]:
        mode = req.params.get("positionMode")
        if mode not in ("net_mode", "long_short_mode"):
            return self.error("152002", "Parameter positionMode error.")
        if self.positions or any(o["state"] in ("live", "partially_filled") for o in self.orders.values()):
            return self.error("110019", "Setting failed. Cancel any open orders, and close positions first.")
        self.position_mode = mode
        return 200, {"code": "0", "msg": "success", "data": {"positionMode": mode}}

    def _get_margin_mode(self, req: Request) -> tuple[int, object]:
        return 200, {"code": "0", "msg": "success", "data": {"marginMode": self.margin_mode}}

    def _set_margin_mode(self, req: Request) -> tuple[int, object]:
        mode = req.params.get("marginMode")
        if mode not in ("cross", "isolated"):
            return self.error("152002", "Parameter marginMode error.")
        if mode != self.margin_mode and self.positions:
            return self.error("110019", "Setting failed. Cancel any open orders, and close positions first.")
        self.margin_mode = mode
        return 200, {"code": "0", "msg": "success", "data": {"marginMode": mode}}

    def _get_leverage(self, req: Request) -> tuple[int, object]:
        inst_id, mode = req.params.get("instId"), req.params.get("marginMode", "cross")
        if self._inst(inst_id) is None:
            return self.error("152014", "Instrument ID does not exist")
        return 200, {"code": "0", "msg": "success", "data": {
            "leverage": str(self._lev(inst_id, mode)), "marginMode": mode, "instId": inst_id}}

    def _set_leverage(self, req: Request) -> tuple[int, object]:
        p = req.params
        inst = self._inst(p.get("instId"))
        if inst is None:
            return self.error("152014", "Instrument ID does not exist")
        try:
            leverage = int(p.get("leverage"))
        except (TypeError, ValueError):
            return self.error("152002", "Parameter leverage error.")
        if not 1 <= leverage <= int(inst["maxLeverage"]) or p.get("marginMode") not in ("cross", "isolated"):
            return self.error("152002", "Parameter leverage error.")
        self.leverages[(inst["instId"], p["marginMode"])] = leverage
        data = {"leverage": str(leverage), "marginMode": p["marginMode"], "instId": inst["instId"]}
        if p.get("positionSide"):
            data["positionSide"] = p["positionSide"]
        return 200, {"code": "0", "msg": "success", "data": data}

    def _currencies(self, req: Request) -> tuple[int, object]:
        """``asset/currencies`` ("GET Currencies", the funding account's coins; ccxt reads it on production)."""
        return self.ok([{"currency": "USDT", "chain": "TRC20", "depositMinAmount": "1", "depositUnsafeConfirmation": 1,
                         "depositConfirmation": 20, "withdrawMinAmount": "10", "withdrawFee": "1",
                         "withdrawPrecision": 8, "supportMemo": 0, "isDepositAvailable": 1, "isWithdrawAvailable": 1,
                         "recoveryEtaDeposit": 0, "recoveryEtaWithdraw": 0, "logo": ""}])

    def _demo_apply_money(self, req: Request) -> tuple[int, object]:
        """``asset/demo-apply-money`` ("Request Demo Trading Funds"): the demo host only."""
        if not self.demo:
            return 404, {"code": "404", "msg": "Not Found"}
        p = req.params
        rows = p.get("demoApplyMoney")
        if not p.get("accountType") or not isinstance(rows, list) or not rows:
            return self.error("152001", "Parameter accountType or demoApplyMoney cannot be empty.")
        for row in rows:
            if row.get("currency") == "USDT":
                amount = float(row.get("amountStr") or 0)
                self.balance_usdt += -amount if p.get("adjustType") == 1 else amount
        return self.ok([])

    def _place_order(self, req: Request) -> tuple[int, object]:
        p = req.params
        cid = p.get("clientOrderId") or ""
        required = ["instId", "marginMode", "positionSide", "side", "orderType", "size"]
        if p.get("orderType") != "market":
            required.append("price")
        empty = next((name for name in required if p.get(name) in (None, "")), None)
        if empty is not None:  # "Place Order": each of these is required
            return self.error("152001", f"Parameter {empty} cannot be empty.")
        if any(not isinstance(p.get(name), str) for name in ("size", "price", "reduceOnly") if name in p):
            return self.error("152002", "Parameter size, price or reduceOnly error: send strings.")
        if p.get("reduceOnly", "false") not in ("true", "false"):
            return self.error("152002", "Parameter reduceOnly error.")
        broker = p.get("brokerId")
        if self.key_type == "transaction" and broker is not None:
            return self.error("152011", "Transaction API Key does not support brokerId")
        if self.key_type == "broker" and not broker:
            return self.error("152012", "BrokerId is required")
        if self.key_type == "broker" and broker != self.broker_id:
            return self.error("152013", "Unmatched brokerId, please check your API key's bound broker")
        inst = self._inst(p.get("instId"))
        if inst is None:
            return self.error("152014", "Instrument ID does not exist")
        if p.get("side") not in ("buy", "sell") or p.get("orderType") not in ("market", "limit", "post_only", "ioc", "fok"):
            return self.error("152002", "Parameter side or orderType error.")
        if p.get("marginMode") not in ("cross", "isolated"):
            return self.error("152001", "Parameter marginMode cannot be empty.")
        if cid and not _CLIENT_ID_RE.match(cid):
            return self.error("152009", "clientOrderId must be a combination of numbers, letters, or underscores, and the maximum length of characters is 32")
        try:
            size = float(p.get("size"))
        except (TypeError, ValueError):
            return self.error("152002", "Parameter size error.")
        lot, min_size = float(inst["lotSize"]), float(inst["minSize"])
        steps = size / lot
        if size < min_size or abs(steps - round(steps)) > 1e-9:
            return self.error("152002", "Parameter size error.")
        limit = p["orderType"] != "market"
        price = 0.0
        if limit:
            try:
                price = float(p.get("price"))
            except (TypeError, ValueError):
                return self.error("152001", "Parameter price cannot be empty.")
            ticks = price / float(inst["tickSize"])
            if price <= 0 or abs(ticks - round(ticks)) > 1e-6:
                return self.error("152002", "Parameter price error.")
        if cid and self._find_order(cid) is not None:
            return self._failed(cid, "102002", "Duplicate customized order ID")
        if self.rejects:
            code, msg, _ = self.rejects.pop(0)
            return self._failed(cid, code, msg)
        position_side = p.get("positionSide") or "net"
        hedged = self.position_mode == "long_short_mode"
        if hedged != (position_side in ("long", "short")):
            return self._failed(cid, "102089", "Position mode mismatch")
        reduce_only = p.get("reduceOnly", "false") == "true"
        held = self.positions.get((inst["instId"], position_side), {"qty": 0.0})["qty"]
        if reduce_only:
            closing = (held > 0 and p["side"] == "sell") or (held < 0 and p["side"] == "buy") if position_side == "net" \
                else held > 0 and ((position_side == "long") != (p["side"] == "buy"))
            if not closing:
                return self._failed(cid, "102022", "Failed to place order. You don't have any positions of this contract. Turn off Reduce-only to continue.")
        bid, ask = self._quote(inst)
        ref_price = price if limit else (ask if p["side"] == "buy" else bid)
        if not reduce_only:
            need = size * float(inst["contractValue"]) * ref_price / self._lev(inst["instId"], p["marginMode"])
            if need * (1 + TAKER_FEE) > self.balance_usdt - self._used_margin():
                return self._failed(cid, "103003", "Order failed. Insufficient USDT margin in account")
        self._order_seq += 1
        ts = self._tick()
        order = {
            "orderId": str(self._order_seq), "clientOrderId": cid, "instId": inst["instId"], "marginMode": p["marginMode"],
            "positionSide": position_side, "side": p["side"], "orderType": p["orderType"], "price": price,
            "size": size, "reduceOnly": "true" if reduce_only else "false", "state": "live", "filledSize": 0.0,
            "averagePrice": 0.0, "fee": 0.0, "pnl": 0.0, "createTime": ts, "updateTime": ts,
            "cancelSource": "not_canceled", "cancelSourceReason": None, "brokerId": p.get("brokerId", ""),
        }
        self.orders[order["orderId"]] = order
        crosses = limit and ((p["side"] == "buy" and price >= ask) or (p["side"] == "sell" and price <= bid))
        if crosses and p["orderType"] == "post_only":  # a post-only order that would take is cancelled, never filled
            order["state"] = "canceled"
            order["cancelSource"], order["cancelSourceReason"] = "system_canceled", "Post only order would take liquidity"
            order["updateTime"] = self._tick()
        elif not limit or crosses:
            fraction = self.partial_next.pop(0) if (self.partial_next and not limit) else 1.0
            to_fill = math.floor(size * fraction / lot + 1e-9) * lot
            level, tick = 0, float(inst["tickSize"])
            while to_fill > 1e-12:
                chunk = min(to_fill, self.market_chunk_contracts)
                px = (ask + level * tick) if p["side"] == "buy" else (bid - level * tick)
                self._execute(order, chunk, round(px, 10), TAKER_FEE)
                to_fill -= chunk
                level += 1
            if not limit and order["state"] != "filled":
                order["state"] = "partially_canceled" if order["filledSize"] else "canceled"
                order["cancelSource"], order["cancelSourceReason"] = "system_canceled", "Market order not fully filled"
                order["updateTime"] = self._tick()
        return 200, {"code": "0", "msg": "", "data": [
            {"orderId": order["orderId"], "clientOrderId": cid, "msg": "", "code": "0"}]}

    def _cancel_order(self, req: Request) -> tuple[int, object]:
        if not req.params.get("orderId"):  # "Cancel Order": orderId is required
            return self.error("152001", "Parameter orderId cannot be empty.")
        order = self._find_order(req.params["orderId"])
        if order is not None and req.params.get("instId") not in (None, order["instId"]):
            order = None
        if order is None or order["state"] not in ("live", "partially_filled"):
            return self.error("102068", "Cancel failed as the order has been filled, triggered, canceled or does not exist.")
        order["state"] = "partially_canceled" if order["filledSize"] else "canceled"
        order["cancelSource"], order["cancelSourceReason"] = "user_canceled", "Order canceled by user"
        order["updateTime"] = self._tick()
        return self.ok([{"orderId": order["orderId"], "clientOrderId": order["clientOrderId"], "code": "0", "msg": ""}])

    def _order_detail(self, req: Request) -> tuple[int, object]:
        p = req.params
        if not p.get("instId"):  # "GET Order Detail": instId is required
            return self.error("152001", "Parameter instId cannot be empty.")
        if not (p.get("orderId") or p.get("clientOrderId")):
            return self.error("152003", "Either parameter orderId or clientOrderId is required.")
        order = self._find_order(p.get("orderId") or p.get("clientOrderId"))
        if order is None or p.get("instId") != order["instId"]:
            return self.ok([])
        return 200, {"code": "0", "msg": "success", "data": self._order_json(order)}

    def _list_orders(self, req: Request, states: tuple[str, ...]) -> tuple[int, object]:
        p = req.params
        limit = int(p.get("limit", 20))
        if not 1 <= limit <= 100:
            return self.error("152002", "Parameter limit error.")
        rows = [o for o in self.orders.values() if o["state"] in states and p.get("instId") in (None, o["instId"])
                and ("after" not in p or int(o["orderId"]) < int(p["after"]))
                and ("begin" not in p or o["updateTime"] >= int(p["begin"]))]
        rows.sort(key=lambda o: int(o["orderId"]), reverse=True)
        return self.ok([self._order_json(o) for o in rows[: min(limit, self.max_page)]])

    def _orders_pending(self, req: Request) -> tuple[int, object]:
        return self._list_orders(req, ("live", "partially_filled"))

    def _orders_history(self, req: Request) -> tuple[int, object]:
        return self._list_orders(req, ("filled", "canceled", "partially_canceled", "order_failed"))

    def _fills_history(self, req: Request) -> tuple[int, object]:
        p = req.params
        limit = int(p.get("limit", 20))
        if not 1 <= limit <= 100:
            return self.error("152002", "Parameter limit error.")
        rows = [t for t in self.trades
                if p.get("instId") in (None, t["instId"]) and p.get("orderId") in (None, t["orderId"])
                and ("begin" not in p or int(t["ts"]) >= int(p["begin"])) and ("end" not in p or int(t["ts"]) <= int(p["end"]))
                and ("after" not in p or int(t["tradeId"]) < int(p["after"]))]
        rows.sort(key=lambda t: int(t["tradeId"]), reverse=True)
        return self.ok(rows[: min(limit, self.max_page)])
