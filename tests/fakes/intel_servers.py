"""A local HTTP server answering like CoinGlass v4, Alternative.me and CryptoCompare.

One aiohttp app on ``127.0.0.1`` at a random port, run in a background
thread, serves all three services (their paths do not overlap), so
:class:`botcore.intel.IntelFeeds` can point every base URL at it::

    with FakeIntelServer() as fake:
        feeds = IntelFeeds(settings, base_urls=fake.base_urls, env=fake.env)

Answers are recorded-style and deterministic for :attr:`FakeIntelServer.now_ms`:

- CoinGlass: ``{"code": "0", "msg": "success", "data": [...]}``, numbers as
  strings, bars newest last, stamped at their OPEN time, the bar still forming
  at ``now_ms`` included; funding in percent; the key in ``CG-API-KEY``
  (a wrong key gets HTTP 401 whose body echoes the key, as careless servers do).
- Alternative.me: ``{"name": ..., "data": [...], "metadata": {"error": null}}``,
  newest first, ``timestamp`` in seconds at 00:00 UTC.
- CryptoCompare: ``{"Response": "Success", "Type": 100, "Data": ...}``, errors
  as HTTP 200 with ``"Response": "Error"`` (``Type`` 1: auth, 99: rate limit);
  the key in ``authorization: Apikey KEY``.

Plans: CoinGlass serves ``/api/user/account/subscription`` (``{"code": "0", "data": {"level": plan}}``)
and refuses bars finer than :attr:`FakeIntelServer.min_interval` with a non-zero code (as a plan limit;
the message text is illustrative). CryptoCompare's hourly history honours ``toTs`` (seconds).

Faults: :meth:`FakeIntelServer.fail` makes the next ``times`` requests whose
path contains a fragment answer with one of :data:`FAULTS`. Every request is
recorded in :attr:`FakeIntelServer.requests`.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
#: 2024-03-10 12:34:30 UTC: mid-bar for every interval
NOW_MS = 1_710_074_070_000
COINGLASS_KEY = "cg-test-key-6f1d2c"
CRYPTOCOMPARE_KEY = "cc-test-key-9a8b7c"
COIN_IDS = {"BTC": 1182, "ETH": 7605, "SOL": 934443, "PEPE": 953245}
INTERVAL_MS = {"1m": MINUTE_MS, "3m": 3 * MINUTE_MS, "5m": 5 * MINUTE_MS, "15m": 15 * MINUTE_MS, "30m": 30 * MINUTE_MS,
               "1h": HOUR_MS, "4h": 4 * HOUR_MS, "8h": 8 * HOUR_MS, "1d": DAY_MS}
#: fault name -> what the server answers
FAULTS = (
    "timeout",  # hangs for hang_s before answering normally
    "429",  # HTTP 429 with a CoinGlass-style body
    "500",  # HTTP 500 HTML page
    "malformed",  # HTTP 200, truncated JSON
    "auth",  # HTTP 401 (CoinGlass) / Response Error Type 1 (CryptoCompare)
    "cc_rate_limit",  # HTTP 200, CryptoCompare Response Error Type 99
    "schema",  # HTTP 200, valid envelope but rows missing their fields
)


@dataclass
class Recorded:
    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class _Fault:
    fragment: str
    fault: str
    times: int


def oi_close_usd(pair: str, open_ms: int) -> float:
    """Open interest (USD) the fake reports at the close of the bar opened at ``open_ms``."""
    return 1e9 + (sum(map(ord, pair)) % 97) * 1e6 + (open_ms // MINUTE_MS % 10_000) * 1_000.0


def liq_usd(pair: str, open_ms: int) -> tuple[float, float]:
    """(long, short) liquidations in USD over the bar opened at ``open_ms``."""
    k = open_ms // MINUTE_MS % 1_000
    return 10_000.0 + 7.0 * k, 5_000.0 + 3.0 * k


def taker_usd(pair: str, open_ms: int) -> tuple[float, float]:
    """(buy, sell) taker volume in USD over the bar opened at ``open_ms``."""
    k = open_ms // MINUTE_MS % 1_000
    return 2_000_000.0 + 1_000.0 * k, 1_000_000.0 + 500.0 * k


def funding_pct(pair: str, open_ms: int) -> float:
    """Funding rate in PERCENT (CoinGlass's unit) at the close of the bar."""
    return 0.01 + (open_ms // HOUR_MS % 5) * 0.001


def fear_greed_value(day_ms: int) -> int:
    return 20 + (day_ms // DAY_MS) % 60


def social_row(coin_id: int, hour_ms: int) -> dict[str, Any]:
    """One hourly CryptoCompare social-stats row (cumulative counters and per-hour rates)."""
    h = hour_ms // HOUR_MS
    wave = (h % 24) / 24.0
    return {
        "time": hour_ms // 1000,
        "comments": 600_000 + 3 * h % 1_000_000, "posts": 90_000 + h % 1_000_000, "followers": 113_000,
        "points": 22_000_000, "overview_page_views": 1, "analysis_page_views": 1, "markets_page_views": 1,
        "charts_page_views": 1, "trades_page_views": 1, "forum_page_views": 1, "influence_page_views": 1,
        "total_page_views": 74_000_000, "fb_likes": 0, "fb_talking_about": 0, "twitter_followers": 8_000_000,
        "twitter_following": 0, "twitter_lists": 0, "twitter_favourites": 0, "twitter_statuses": 29_000,
        "reddit_subscribers": 8_000_000, "reddit_active_users": 10_000,
        "reddit_posts_per_hour": round(5.0 + 10.0 * wave, 3), "reddit_posts_per_day": 140.0,
        "reddit_comments_per_hour": round(200.0 + 300.0 * wave, 3), "reddit_comments_per_day": 6000.0,
        "code_repo_stars": 85_000, "code_repo_forks": 37_000, "code_repo_subscribers": 4_000,
        "code_repo_open_pull_issues": 300, "code_repo_closed_pull_issues": 20_000, "code_repo_open_issues": 600,
        "code_repo_closed_issues": 7_000, "code_repo_contributors": 1_200,
    }


@dataclass
class FakeIntelServer:
    """The three services on one local port; see the module docstring."""

    now_ms: int = NOW_MS
    coinglass_key: str = COINGLASS_KEY
    cryptocompare_key: str = CRYPTOCOMPARE_KEY
    hang_s: float = 1.0
    plan: str = "STANDARD"
    min_interval: str = "1m"  # bars finer than this are refused, as a plan limit
    requests: list[Recorded] = field(default_factory=list)
    _faults: list[_Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    # ------------------------------------------------------------------ control

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_urls(self) -> dict[str, str]:
        return {"coinglass": self.url, "alternative_me": self.url, "cryptocompare": self.url}

    @property
    def env(self) -> dict[str, str]:
        return {"COINGLASS_API_KEY": self.coinglass_key, "CRYPTOCOMPARE_API_KEY": self.cryptocompare_key}

    def fail(self, fragment: str, fault: str, times: int = 1_000) -> None:
        """Answer the next ``times`` requests whose path contains ``fragment`` with ``fault``."""
        if fault not in FAULTS:
            raise ValueError(f"fault: {fault!r} not in {FAULTS}")
        with self._lock:
            self._faults.append(_Fault(fragment, fault, times))

    def count(self, fragment: str = "") -> int:
        """Requests so far whose path contains ``fragment``."""
        with self._lock:
            return sum(fragment in r.path for r in self.requests)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._faults.clear()
        self.now_ms = NOW_MS

    def _take_fault(self, path: str) -> str | None:
        with self._lock:
            for f in self._faults:
                if f.fragment in path and f.times > 0:
                    f.times -= 1
                    return f.fault
        return None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> FakeIntelServer:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-intel", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, shutdown_timeout=0.1)
        await site.start()
        self.port = self._runner.addresses[0][1]

    # ------------------------------------------------------------------ answers

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path, params = request.path, dict(request.query)
        with self._lock:
            self.requests.append(Recorded(path, params, dict(request.headers)))
        fault = self._take_fault(path)
        coinglass = path.startswith("/api/")
        if fault == "timeout":
            await asyncio.sleep(self.hang_s)
        elif fault == "429":
            return web.json_response({"code": "429", "msg": "Too Many Requests"}, status=429)
        elif fault == "500":
            return web.Response(status=500, text="<html><body>500 Internal Server Error</body></html>",
                                content_type="text/html")
        elif fault == "malformed":
            return web.Response(status=200, text='{"code": "0", "data": [{"time": 17', content_type="application/json")
        elif fault == "cc_rate_limit":
            return web.json_response({"Response": "Error", "Message": "You are over your rate limit please upgrade your account!",
                                      "HasWarning": False, "Type": 99, "RateLimit": {}, "Data": {}})
        elif fault == "schema":
            if coinglass:
                return web.json_response({"code": "0", "msg": "success", "data": [{"time": self.now_ms}]})
            return web.json_response({"Response": "Success", "Type": 100, "Data": [{"time": self.now_ms // 1000}]})
        if coinglass:
            if fault == "auth" or request.headers.get("CG-API-KEY") != self.coinglass_key:
                sent = request.headers.get("CG-API-KEY", "")
                return web.json_response({"code": "401", "msg": f"API key {sent} is invalid"}, status=401)
            return web.json_response(self._coinglass(path, params))
        if path.startswith("/fng"):
            return web.json_response(self._fear_greed(params))
        if path.startswith("/data/"):
            if fault == "auth" or request.headers.get("authorization") != f"Apikey {self.cryptocompare_key}":
                return web.json_response({"Response": "Error", "HasWarning": False, "Type": 1, "RateLimit": {}, "Data": {},
                                          "Message": "You need a valid auth key or api key to access this endpoint"})
            return web.json_response(self._cryptocompare(path, params))
        return web.json_response({"code": "404", "msg": "Not Found"}, status=404)

    def _coinglass(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        if path == "/api/user/account/subscription":
            return {"code": "0", "data": {"level": self.plan, "expire_time": self.now_ms + 30 * DAY_MS, "expired": False}}
        pair, interval = params.get("symbol", ""), params.get("interval", "")
        if not params.get("exchange") or not pair or interval not in INTERVAL_MS:
            return {"code": "400", "msg": "exchange, symbol and interval are required"}
        if INTERVAL_MS[interval] < INTERVAL_MS[self.min_interval]:
            return {"code": "400", "msg": f"interval {interval} is not available on the {self.plan} plan"}
        step = INTERVAL_MS[interval]
        limit = min(int(params.get("limit", 1000)), 1000)
        last_open = self.now_ms // step * step  # the bar still forming
        end_open = min(last_open, int(params["end_time"]) // step * step) if "end_time" in params else last_open
        opens = [end_open - i * step for i in range(limit - 1, -1, -1)]
        if "start_time" in params:
            opens = [t for t in opens if t >= int(params["start_time"])]
        rows: list[dict[str, Any]] = []
        for t in opens:
            if path.endswith("/open-interest/history"):
                c = oi_close_usd(pair, t)
                rows.append({"time": t, "open": str(c - 500.0), "high": str(c + 1000.0), "low": str(c - 1000.0), "close": str(c)})
            elif path.endswith("/liquidation/history"):
                lg, sh = liq_usd(pair, t)
                rows.append({"time": t, "long_liquidation_usd": str(lg), "short_liquidation_usd": str(sh)})
            elif path.endswith("/taker-buy-sell-volume/history"):
                b, s = taker_usd(pair, t)
                rows.append({"time": t, "taker_buy_volume_usd": str(b), "taker_sell_volume_usd": str(s)})
            elif path.endswith("/funding-rate/history"):
                f = funding_pct(pair, t)
                rows.append({"time": t, "open": str(f), "high": str(f + 0.002), "low": str(f - 0.002), "close": str(f)})
            else:
                return {"code": "404", "msg": f"unknown endpoint {path}"}
        return {"code": "0", "msg": "success", "data": rows}

    def _fear_greed(self, params: dict[str, str]) -> dict[str, Any]:
        limit = int(params.get("limit", 1)) or 30
        today = self.now_ms // DAY_MS * DAY_MS
        data = []
        for i in range(limit):
            day = today - i * DAY_MS
            value = fear_greed_value(day)
            label = "Fear" if value < 45 else ("Neutral" if value <= 55 else "Greed")
            row = {"value": str(value), "value_classification": label, "timestamp": str(day // 1000)}
            if i == 0:
                row["time_until_update"] = str((today + DAY_MS - self.now_ms) // 1000)
            data.append(row)
        return {"name": "Fear and Greed Index", "data": data, "metadata": {"error": None}}

    def _cryptocompare(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        ok = {"Response": "Success", "Message": "", "HasWarning": False, "Type": 100, "RateLimit": {}}
        if path == "/data/all/coinlist":
            coin = params.get("fsym", "")
            if coin not in COIN_IDS:
                return {"Response": "Error", "Message": f"There is no data for the symbol {coin} .", "Type": 2, "Data": {}}
            return {**ok, "Data": {coin: {"Id": str(COIN_IDS[coin]), "Symbol": coin, "CoinName": coin}}}
        if path == "/data/social/coin/histo/hour":
            ids = set(COIN_IDS.values())
            if not params.get("coinId", "").isdigit() or int(params["coinId"]) not in ids:
                return {"Response": "Error", "Message": "coinId param is invalid", "Type": 2, "Data": {}}
            limit = int(params.get("limit", 168))
            last = self.now_ms // HOUR_MS * HOUR_MS
            if params.get("toTs", "").isdigit():
                last = min(last, int(params["toTs"]) * 1000 // HOUR_MS * HOUR_MS)
            return {**ok, "Data": [social_row(int(params["coinId"]), last - i * HOUR_MS) for i in range(limit, -1, -1)]}
        return {"Response": "Error", "Message": f"path {path} does not exist", "Type": 2, "Data": {}}
