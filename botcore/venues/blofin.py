"""The BloFin venue: ccxt's async ``blofin`` class behind the :class:`~botcore.venues.base.Venue` port.

``mode="demo"`` trades on BloFin's demo endpoint (ccxt's sandbox mode),
``mode="live"`` on production; ``api_url`` points every REST call elsewhere
(a local test server). Credentials come only from the environment
(``BLOFIN_API_KEY``, ``BLOFIN_API_SECRET``, ``BLOFIN_PASSPHRASE``); they are
handed to ccxt, never logged (ccxt's own debug log goes through a redacting
logger) and never put in an exception message.

What it handles
---------------
Contract sizes
    BloFin sizes are contracts of ``contractValue`` base units. A request in
    base units is converted and rounded DOWN to the lot step with the fill
    model's rounding; under ``minSize`` it is refused (``BELOW_MINIMUM``) before
    any request. Fills and positions come back in contracts and base units.
Prices
    Limit prices are rounded to the tick, down for a buy and up for a sell.
Leverage, margin and position mode
    :meth:`BlofinVenue.set_leverage` sets the account margin mode and the
    symbol's leverage. :meth:`BlofinVenue.load_markets` reads the account's
    position mode (``net_mode`` / ``long_short_mode``); a mismatch with the
    configured one is logged as an error, reported in :attr:`BlofinVenue.account`
    and every order is refused with ``POSITION_MODE_MISMATCH`` until fixed.
    Orders carry ``positionSide`` (``net``; or ``long``/``short`` in long/short mode).
Errors
    BloFin answers a refused order with code 1 ("All operations failed") and the
    reason inside ``data``; the codes are read from either place. Insufficient
    margin, position-mode mismatch, reduce-only without a position, price limits
    and size limits become REJECTED updates with a :class:`VenueReason`. HTTP 429,
    5xx, timeouts, network errors (and BloFin 500 / 103013) are retried with
    exponential backoff (tenacity), then raise :class:`TemporaryError`. Key,
    passphrase, signature or permission failures raise :class:`OperationalError`.
Requests as BloFin documents them
    Orders and cancels are sent in BloFin's documented fields through ccxt's
    signed endpoints (``privatePostTradeOrder``): ccxt's ``create_order`` adds
    its default ``brokerId``, which an ordinary (transaction) key refuses with
    152011, and in the installed ccxt neither an empty option nor
    ``params={'brokerId': None}`` removes it (the latter sends ``null``). A
    broker id goes out only when ``venue.broker_id`` is set. Cancel sends
    ``orderId`` (required) with the client id; order detail always ``instId``.
    Post-only limits are ``orderType: post_only``. Key, broker-id and permission
    codes (152011-152013, 1524xx) are named in the error with their fix.
Instruments
    :meth:`BlofinVenue.load_markets` takes contract value, lot, minimum size,
    tick and maximum leverage from BloFin; a configured value that differs is a
    warning naming both (:attr:`BlofinVenue.differences`), an unlisted symbol an error.
Fees and funding
    A negative fee is a rebate (money received). Funding is built per position
    from BloFin's documented data (:meth:`BlofinVenue.funding_since`).
Idempotent submit
    The client order id goes to BloFin as ``clientOrderId``. After a temporary
    failure the order is looked up by that id before it is sent again, and a
    "duplicate client order id" answer returns the existing order, so a retried
    submit never places an order twice.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

import ccxt
import ccxt.async_support as ccxt_async

from botcore.errors import ConfigError, DataError, OperationalError, TemporaryError
from botcore.fills import FillStatuses
from botcore.model import Fill, FundingPayment, LiquiditySide, OrderSide, OrderStatus, OrderType
from botcore.net import RetryPolicy, backoff, redact, retrying
from botcore.venues.base import (
    AccountConfig,
    LeverageSetting,
    MarketSpec,
    OrderRequest,
    OrderUpdate,
    VenueBalance,
    VenuePosition,
    VenueReason,
    check_client_order_id,
    rejected_update,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

ENV_API_KEY = "BLOFIN_API_KEY"
ENV_API_SECRET = "BLOFIN_API_SECRET"
ENV_PASSPHRASE = "BLOFIN_PASSPHRASE"
CREDENTIAL_ENV = (ENV_API_KEY, ENV_API_SECRET, ENV_PASSPHRASE)

#: BloFin's REST hosts (docs "General Info" and "Demo Trading").
LIVE_REST_URL = "https://openapi.blofin.com"
DEMO_REST_URL = "https://demo-trading-openapi.blofin.com"
REST_URLS = {"live": LIVE_REST_URL, "demo": DEMO_REST_URL}
#: the venue's retries of temporary failures: 4 tries, waits 0.5, 1, 2 s (capped at 8 s)
VENUE_RETRY = RetryPolicy(attempts=4, wait=backoff(0.5, 8.0))

#: BloFin codes, from ccxt's ``describe()['exceptions']`` and BloFin's error table.
TEMPORARY_CODES = frozenset({"429", "500", "103013"})
AUTH_CODES = frozenset({"401", "152401", "152402", "152404", "152406", "152408", "152409", "152011", "152012",
                        "152013"})
#: What a user does about a refusal that no retry fixes (BloFin's error table names the codes).
CODE_FIXES = {
    "152011": ("Transaction API Key does not support brokerId",
               "the key is an ordinary (transaction) key: remove `broker_id` from config/venue.yaml"),
    "152012": ("BrokerId is required",
               "the key is bound to a broker: set `broker_id` in config/venue.yaml to that broker's id"),
    "152013": ("Unmatched brokerId",
               "`broker_id` in config/venue.yaml is not the broker the key is bound to: correct it or remove it"),
    "152401": ("Access key does not exist", "check BLOFIN_API_KEY and that the key is active on BloFin's API page "
               "(a demo key works only in demo mode, a live key only in live mode)"),
    "152402": ("Access key has expired", "create a new key on BloFin's API page (keys not bound to an IP expire "
               "after 90 days) and export it as BLOFIN_API_KEY / BLOFIN_API_SECRET / BLOFIN_PASSPHRASE"),
    "152404": ("This operation is not supported", "give the key the TRADE permission"),
    "152406": ("IP not in the key's whitelist", "add this machine's IP to the key on BloFin's API page"),
    "152408": ("Passphrase error", "check BLOFIN_PASSPHRASE"),
    "152409": ("Signature verification failed", "check BLOFIN_API_SECRET (and the machine's clock)"),
    "152014": ("Instrument ID does not exist", "remove the symbol from config/universe.yaml or enable another"),
}
INSUFFICIENT_CODES = frozenset({"103003", "150004", "152028"})
POSITION_MODE_CODES = frozenset({"102089"})
REDUCE_ONLY_CODES = frozenset({"102022", "102005"})
DUPLICATE_ID_CODES = frozenset({"102002", "150003", "152030"})
PRICE_LIMIT_CODES = frozenset({"102064", "102065"})
SIZE_LIMIT_CODES = frozenset({"542", "102014", "102015"})
CANCEL_FAILED_CODES = frozenset({"102068", "102067", "1000"})

#: BloFin order ``state`` -> our status (``partially_canceled``: cancelled with some fills).
STATES = {
    "live": OrderStatus.ACCEPTED,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "partially_canceled": OrderStatus.CANCELED,
    "order_failed": OrderStatus.REJECTED,
    "effective": OrderStatus.FILLED,
}
POSITION_MODES = {"net_mode": "net", "long_short_mode": "long_short"}


class VenueRejection(OperationalError):
    """BloFin refused a request for a reason retrying cannot fix (carries its codes).

    Order calls turn it into a REJECTED :class:`OrderUpdate`; elsewhere it propagates
    as the operational error it is.
    """

    def __init__(self, message: str, codes: frozenset[str], venue_message: str, kind: str) -> None:
        super().__init__(message)
        self.codes = codes
        self.venue_message = venue_message
        self.kind = kind


class _RedactingLogger(logging.LoggerAdapter):
    """ccxt's logger: formats each record and removes the credentials before it is emitted."""

    def __init__(self, logger_: logging.Logger, secrets: Callable[[], Iterable[str | None]]) -> None:
        super().__init__(logger_, {})
        self._secrets = secrets

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            try:
                text = str(msg) % args if args else str(msg)
            except (TypeError, ValueError):
                text = " ".join(str(a) for a in (msg, *args))
            kwargs.pop("exc_info", None)
            self.logger.log(level, "%s", redact(text, self._secrets()), **kwargs)


def _body_codes(exc: BaseException) -> tuple[frozenset[str], str]:
    """Return BloFin's codes (outer and inside ``data``) and messages from a ccxt exception ``'blofin {json}'``."""
    text = str(exc)
    _, _, body = text.partition(" ")
    try:
        payload = json.loads(body)
    except ValueError:
        return frozenset(), text
    if not isinstance(payload, dict):
        return frozenset(), text
    codes, messages = set(), []
    items = [payload]
    data = payload.get("data")
    items += data if isinstance(data, list) else [data] if isinstance(data, dict) else []
    for item in items:
        if isinstance(item, dict) and item.get("code") not in (None, "", "0", 0):
            codes.add(str(item["code"]))
            if item.get("msg"):
                messages.append(f"{item['msg']} ({item['code']})")
    return frozenset(codes), "; ".join(messages) or text


def explain_codes(codes: Iterable[str]) -> str:
    """Return BloFin's name and the fix of each code of :data:`CODE_FIXES` among ``codes`` ('' if none)."""
    return "; ".join(f"BloFin {c} {CODE_FIXES[c][0]}: {CODE_FIXES[c][1]}" for c in sorted(codes) if c in CODE_FIXES)


def _num(value: object) -> float | None:
    """Return a BloFin number string as a float; None for None, '' and non-numbers."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _utc(ts_ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts_ms / 1000))


def _decimal(value: float) -> str:
    """A size or price as BloFin's string, without float noise (``0.30000000000000004`` -> ``0.3``)."""
    return format(Decimal(repr(float(value))).normalize(), "f")


def _rows(response: object) -> list[dict]:
    """Return ``data`` as a list of dicts, whether BloFin sent a list, one object or nothing."""
    data = response.get("data") if isinstance(response, dict) else None
    if isinstance(data, dict):
        return [data] if data else []
    return [row for row in data if isinstance(row, dict)] if isinstance(data, list) else []


class BlofinVenue:
    """BloFin through ccxt's async ``blofin`` class (see the module docstring).

    Parameters
    ----------
    mode : {"demo", "live"}
        Demo trading (ccxt sandbox mode) or production.
    api_url : str, optional
        Replace every REST base URL (tests point it at a local server).
    assets : iterable of Asset, optional
        The configured universe; :meth:`load_markets` raises OperationalError for an
        asset BloFin does not list and warns (naming both values) where BloFin's
        instrument differs from the configuration: BloFin's values are used.
    position_mode : {"net", "long_short"}
        The position mode the bot trades in.
    margin_mode : {"isolated", "cross"}
        Margin mode sent with every order (changed per symbol by :meth:`set_leverage`).
    timeout_ms : int
        Per-request timeout.
    rate_limit_ms : int, optional
        ccxt's spacing of requests (BloFin's default 200 ms when None).
    retry : RetryPolicy
        Bounded retries of temporary failures.
    env : mapping, optional
        Where to read the credentials (``os.environ`` by default).
    broker_id : str, optional
        Sent as ``brokerId`` with every order only when given: an ordinary
        (transaction) key refuses any broker id (152011), a broker-bound key needs
        its own (152012 / 152013). ccxt's default broker id is never sent.
    """

    name = "blofin"
    simulated = False

    def __init__(
        self,
        mode: str = "demo",
        *,
        api_url: str | None = None,
        assets: Iterable[Any] = (),
        position_mode: str = "net",
        margin_mode: str = "isolated",
        timeout_ms: int = 10_000,
        rate_limit_ms: int | None = None,
        retry: RetryPolicy = VENUE_RETRY,
        env: Mapping[str, str] | None = None,
        broker_id: str | None = None,
    ) -> None:
        if mode not in ("demo", "live"):
            raise ConfigError(f"venue.mode: BlofinVenue trades 'demo' or 'live', got {mode!r} (paper uses PaperVenue)")
        if position_mode not in ("net", "long_short"):
            raise ConfigError(f"venue.position_mode must be 'net' or 'long_short', got {position_mode!r}")
        if margin_mode not in ("isolated", "cross"):
            raise ConfigError(f"risk.margin_mode must be 'isolated' or 'cross', got {margin_mode!r}")
        source = os.environ if env is None else env
        missing = [name for name in CREDENTIAL_ENV if not source.get(name)]
        if missing:
            raise OperationalError(
                f"BloFin {mode} trading needs credentials in the environment: {', '.join(missing)} not set"
            )
        config: dict[str, Any] = {
            "apiKey": source[ENV_API_KEY],
            "secret": source[ENV_API_SECRET],
            "password": source[ENV_PASSPHRASE],
            "enableRateLimit": True,
            "timeout": int(timeout_ms),
        }
        if rate_limit_ms is not None:
            config["rateLimit"] = rate_limit_ms
        exchange = ccxt_async.blofin(config)
        exchange.logger = _RedactingLogger(logging.getLogger(f"{__name__}.ccxt"), self._secrets)
        if mode == "demo":
            exchange.set_sandbox_mode(True)
        if api_url is not None:
            api = exchange.urls["api"]
            exchange.urls["api"] = {k: api_url for k in api} if isinstance(api, dict) else api_url
        self._ex = exchange
        self.broker_id = broker_id or None
        self.mode = mode
        self.position_mode = position_mode
        self.default_margin_mode = margin_mode
        self.retry = retry
        self._assets = {a.symbol: a for a in assets}
        self._markets: dict[str, MarketSpec] = {}
        self._by_venue_id: dict[str, str] = {}
        self._margin_mode: dict[str, str] = {}
        self._symbol_by_cid: dict[str, str] = {}
        self._cid_by_oid: dict[str, str] = {}
        self._reduce_only_by_oid: dict[str, bool] = {}
        self._type_by_oid: dict[str, OrderType] = {}
        self.account: AccountConfig | None = None
        self.differences: list[str] = []
        self._funding_next: dict[str, int] = {}   # symbol -> next settlement time BloFin announced
        self._funding_done: dict[str, int] = {}   # symbol -> last settlement read
        logger.info("BloFin venue (%s) at %s", mode, exchange.urls["api"]["rest"] if isinstance(exchange.urls["api"], dict) else exchange.urls["api"])

    @classmethod
    def from_settings(cls, settings: Any, *, mode: str | None = None, **kwargs: Any) -> BlofinVenue:
        """Build the venue from :class:`botcore.config.models.Settings`.

        Takes the mode, position mode, request timeout, request spacing and broker id from
        ``settings.venue``, the margin mode from ``settings.risk`` and the assets to check
        from ``settings.universe``; ``kwargs`` (``api_url``, ``retry``, ``rate_limit_ms``,
        ``broker_id``, ``env``) pass through and win.
        """
        return cls(
            mode or settings.venue.mode,
            assets=settings.universe.enabled,
            position_mode=settings.venue.position_mode,
            margin_mode=settings.risk.margin_mode,
            timeout_ms=settings.venue.request_timeout_ms,
            **{"rate_limit_ms": settings.venue.rate_limit_ms, "broker_id": settings.venue.broker_id, **kwargs},
        )

    # ------------------------------------------------------------------ plumbing

    @property
    def rest_url(self) -> str:
        """The REST base URL requests go to."""
        api = self._ex.urls["api"]
        return api["rest"] if isinstance(api, dict) else api

    def _secrets(self) -> tuple[str | None, ...]:
        ex = getattr(self, "_ex", None)
        return (ex.apiKey, ex.secret, ex.password) if ex is not None else ()

    def _translate(self, exc: ccxt.BaseError, what: str) -> Exception:
        """Map a ccxt exception to TemporaryError, OperationalError or VenueRejection (text redacted)."""
        codes, venue_message = _body_codes(exc)
        venue_message = redact(venue_message, self._secrets())
        kind = type(exc).__name__
        if isinstance(exc, (ccxt.NetworkError, ccxt.BadResponse)) or codes & TEMPORARY_CODES:
            return TemporaryError(f"BloFin {what}: {kind}: {venue_message}"[:500])
        if isinstance(exc, ccxt.AuthenticationError) or codes & AUTH_CODES:
            fix = explain_codes(codes)
            return OperationalError(
                f"BloFin {what}: credentials or permissions refused: {fix}" if fix else
                f"BloFin {what}: credentials or permissions refused ({kind}: {venue_message})"[:500]
            )
        return VenueRejection(f"BloFin {what}: {kind}: {venue_message}"[:500], codes, venue_message, kind)

    async def _once(self, what: str, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        try:
            return await fn(*args, **kwargs)
        except ccxt.BaseError as exc:
            raise self._translate(exc, what) from None

    async def _call(self, what: str, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Call ccxt with bounded retries of temporary failures."""
        try:
            async for attempt in retrying(self.retry, TemporaryError, what=f"BloFin {what}", logger=logger):
                with attempt:
                    return await self._once(what, fn, *args, **kwargs)
        except TemporaryError as exc:
            raise TemporaryError(f"{exc} (gave up after {self.retry.attempts} attempts)") from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        """Close ccxt's HTTP session."""
        await self._ex.close()

    async def __aenter__(self) -> BlofinVenue:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ markets and account

    async def load_markets(self) -> dict[str, MarketSpec]:
        """Load BloFin's USDT swaps (the source of truth for sizes), check the configured assets, read the position mode.

        Each spec comes from BloFin's instrument record (``contractValue``,
        ``lotSize``, ``minSize``, ``tickSize``, ``maxLeverage``, ``maxLimitSize``,
        ``maxMarketSize``); where the configuration says otherwise a warning names
        both values (:attr:`differences`) and BloFin's is used.

        Raises
        ------
        OperationalError
            When a configured asset is not a live USDT swap on BloFin, or the credentials are refused.
        TemporaryError
            When BloFin cannot be reached after the retries.
        """
        markets = await self._call("load markets", self._ex.load_markets, True)
        specs: dict[str, MarketSpec] = {}
        for symbol, m in markets.items():
            info = m.get("info") or {}
            if not (m.get("swap") and m.get("linear") and m.get("settle") == "USDT" and _num(info.get("contractValue"))):
                continue
            specs[symbol] = MarketSpec(
                symbol=symbol,
                contract_size=float(info["contractValue"]),
                contract_step=_num(info.get("lotSize")) or float(m["precision"]["amount"] or 1.0),
                min_contracts=_num(info.get("minSize")) or _num(info.get("lotSize")) or 1.0,
                tick_size=_num(info.get("tickSize")) or _num(m["precision"]["price"]),
                max_leverage=_num(info.get("maxLeverage")) or float((m["limits"]["leverage"] or {}).get("max") or 1.0),
                max_limit_contracts=_num(info.get("maxLimitSize")),
                max_market_contracts=_num(info.get("maxMarketSize")),
                venue_id=m["id"],
            )
        self.differences = self._check_assets(specs)
        self._markets = specs
        self._by_venue_id = {spec.venue_id: symbol for symbol, spec in specs.items()}
        self.account = await self.account_config()
        return dict(specs)

    def restrict_assets(self, symbols: Iterable[str]) -> None:
        """Check and trade only ``symbols`` of the configured assets (a run of a subset of the universe)."""
        wanted = set(symbols)
        self._assets = {s: a for s, a in self._assets.items() if s in wanted}

    def _check_assets(self, specs: Mapping[str, MarketSpec]) -> list[str]:
        """Raise for a configured asset BloFin does not list; return (and log) each value BloFin gives otherwise."""
        missing = [s for s in self._assets if s not in specs]
        if missing:
            raise OperationalError(
                "universe: " + ", ".join(missing) + " not listed as a USDT swap on BloFin "
                f"({self.rest_url}/api/v1/market/instruments; BloFin 152014 Instrument ID does not exist): "
                "disable it in config/universe.yaml"
            )
        out = []
        for symbol, asset in self._assets.items():
            spec = specs[symbol]
            for name, venue_name, venue_value in (
                ("contract_size", "contractValue", spec.contract_size), ("contract_step", "lotSize", spec.contract_step),
                ("min_contracts", "minSize", spec.min_contracts), ("max_leverage", "maxLeverage", spec.max_leverage),
            ):
                mine = getattr(asset, name, None)
                if mine is not None and not math.isclose(float(mine), venue_value, rel_tol=1e-9):
                    out.append(f"{symbol}: config/universe.yaml {name} {float(mine):g}, BloFin {venue_name} "
                               f"{venue_value:g}; using BloFin's")
        for line in out:
            logger.warning("%s", line)
        return out

    def market(self, symbol: str) -> MarketSpec:
        """Return the spec of ``symbol``.

        Raises
        ------
        DataError
            When markets are not loaded or ``symbol`` is not a BloFin USDT swap.
        """
        try:
            return self._markets[symbol]
        except KeyError:
            hint = "" if self._markets else " (call load_markets() first)"
            raise DataError(f"symbol: {symbol!r} is not a BloFin USDT swap{hint}") from None

    async def account_config(self) -> AccountConfig:
        """Read the account's position and margin mode and compare them with the configuration."""
        raw_mode = await self._call("position mode", self._ex.privateGetAccountPositionMode)
        raw_margin = await self._call("margin mode", self._ex.privateGetAccountMarginMode)
        venue_mode = (raw_mode.get("data") or {}).get("positionMode", "")
        margin = (raw_margin.get("data") or {}).get("marginMode")
        mode = POSITION_MODES.get(venue_mode, venue_mode)
        ok = mode == self.position_mode
        reason = "" if ok else (
            f"BloFin account is in {venue_mode or 'an unknown'} position mode but venue.position_mode is "
            f"{self.position_mode!r}: orders are refused until the account is switched (set_position_mode) "
            f"or the configuration changed"
        )
        if not ok:
            logger.error("position mode mismatch: %s", reason)
        return AccountConfig(position_mode=mode, expected_position_mode=self.position_mode, margin_mode=margin,
                             position_mode_ok=ok, reason=reason)

    async def set_position_mode(self, position_mode: str) -> AccountConfig:
        """Switch the account to ``position_mode`` (BloFin refuses while positions or orders are open)."""
        venue_mode = {v: k for k, v in POSITION_MODES.items()}[position_mode]
        try:
            await self._call("set position mode", self._ex.privatePostAccountSetPositionMode, {"positionMode": venue_mode})
        except VenueRejection as exc:
            logger.error("cannot switch position mode: %s", exc.venue_message)
        self.account = await self.account_config()
        return self.account

    async def set_leverage(self, symbol: str, leverage: float, margin_mode: str) -> LeverageSetting:
        """Set the account's margin mode and ``symbol``'s leverage; refusals come back as ``ok=False``.

        Raises
        ------
        DataError
            When ``leverage`` is not a whole number between 1 and the market's maximum,
            or ``margin_mode`` is neither ``isolated`` nor ``cross``.
        """
        spec = self.market(symbol)
        if margin_mode not in ("isolated", "cross"):
            raise DataError(f"margin_mode must be 'isolated' or 'cross', got {margin_mode!r}")
        if not (float(leverage).is_integer() and 1 <= leverage <= spec.max_leverage):
            raise DataError(f"leverage for {symbol} must be a whole number in [1, {spec.max_leverage:g}], got {leverage!r}")
        try:
            current = (await self._call("margin mode", self._ex.privateGetAccountMarginMode)).get("data") or {}
            if current.get("marginMode") != margin_mode:
                await self._call("set margin mode", self._ex.set_margin_mode, margin_mode)
            sides = ["long", "short"] if (self.position_mode == "long_short" and margin_mode == "isolated") else [None]
            for side in sides:
                params: dict[str, Any] = {"marginMode": margin_mode}
                if side:
                    params["positionSide"] = side
                await self._call(f"set leverage {symbol}", self._ex.set_leverage, int(leverage), symbol, params)
        except VenueRejection as exc:
            logger.warning("set leverage %s x%s %s refused: %s", symbol, leverage, margin_mode, exc.venue_message)
            return LeverageSetting(symbol, float(leverage), margin_mode, False, exc.venue_message)
        self._margin_mode[symbol] = margin_mode
        logger.info("leverage %s: x%g %s", symbol, leverage, margin_mode)
        return LeverageSetting(symbol, float(leverage), margin_mode, True)

    # ------------------------------------------------------------------ orders

    def _position_side(self, request: OrderRequest) -> str:
        if self.position_mode == "net":
            return "net"
        opens_long = request.side == OrderSide.BUY
        return ("short" if opens_long else "long") if request.reduce_only else ("long" if opens_long else "short")

    async def submit(self, request: OrderRequest) -> OrderUpdate:
        """Place ``request`` once, however many times it is retried (see the module docstring).

        Returns the order's state after placement (a market order usually FILLED,
        with its fills), or a REJECTED update with the reason.

        Raises
        ------
        DataError
            When the symbol is unknown or the client order id breaks BloFin's limits.
        TemporaryError
            When BloFin stays unreachable (the order may or may not exist: call
            :meth:`fetch_order` with the same id before trying again).
        OperationalError
            When the credentials are refused.
        """
        cid = check_client_order_id(request.client_order_id)
        spec = self.market(request.symbol)
        now = self._ex.milliseconds()
        rounded = spec.round_contracts(request.qty_contracts) if request.qty_contracts is not None else spec.round_base(request.qty_base)
        if rounded.status == FillStatuses.below_minimum:
            asked = request.qty_contracts if request.qty_contracts is not None else request.qty_base / spec.contract_size
            return rejected_update(
                request, now, VenueReason.BELOW_MINIMUM,
                f"{asked:g} contracts rounds below BloFin's minimum {spec.min_contracts:g} (lot {spec.contract_step:g})",
            )
        qty = rounded.qty_contracts
        if request.qty_contracts is not None and qty != request.qty_contracts:
            logger.warning("order %s: %g contracts rounded down to the lot step: %g", cid, request.qty_contracts, qty)
        limit = spec.max_market_contracts if request.order_type == OrderType.MARKET else spec.max_limit_contracts
        price = spec.round_price(request.price, request.side) if request.order_type == OrderType.LIMIT else None
        if limit is not None and qty > limit:
            return rejected_update(request, now, VenueReason.ABOVE_MAXIMUM,
                                   f"{qty:g} contracts exceeds BloFin's maximum {limit:g}",
                                   qty_contracts=qty, qty_base=rounded.qty_base, price=price)
        if self.account is not None and not self.account.position_mode_ok:
            return rejected_update(request, now, VenueReason.POSITION_MODE_MISMATCH, self.account.reason,
                                   qty_contracts=qty, qty_base=rounded.qty_base, price=price)
        order_type = ("market" if request.order_type == OrderType.MARKET else
                      "post_only" if request.post_only else "limit")
        side = "buy" if request.side == OrderSide.BUY else "sell"
        body: dict[str, Any] = {  # BloFin's "Place Order" fields; ccxt's create_order would add its own brokerId
            "instId": spec.venue_id,
            "marginMode": self._margin_mode.get(request.symbol, self.default_margin_mode),
            "positionSide": self._position_side(request),
            "side": side,
            "orderType": order_type,
            "size": _decimal(qty),
            "reduceOnly": "true" if request.reduce_only else "false",
            "clientOrderId": cid,
        }
        if price is not None:
            body["price"] = _decimal(price)
        if self.broker_id:
            body["brokerId"] = self.broker_id
        self._symbol_by_cid[cid] = request.symbol
        placed: dict | None = None
        try:
            async for attempt in retrying(self.retry, TemporaryError, what=f"BloFin order {cid}", logger=logger):
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        try:
                            found = await self._lookup(cid, request.symbol)
                        except VenueRejection as exc:  # cannot tell whether the order exists: stop, do not guess
                            raise OperationalError(
                                f"submit {cid}: the order may exist but looking it up failed: {exc.venue_message}"
                            ) from None
                        if found is not None:
                            logger.warning("order %s: found on BloFin after an uncertain submit; not sending it again", cid)
                            return await self._with_fills(found)
                    placed = await self._once(f"submit {cid}", self._ex.privatePostTradeOrder, dict(body))
        except TemporaryError as exc:
            raise TemporaryError(f"{exc} (gave up after {self.retry.attempts} attempts; order {cid} may exist)") from None
        except VenueRejection as exc:
            if exc.codes & DUPLICATE_ID_CODES or exc.kind == "DuplicateOrderId":
                found = await self._call(f"look up {cid}", self._lookup, cid, request.symbol)
                if found is not None:
                    logger.warning("order %s: BloFin already has it (duplicate client id); returning it", cid)
                    return await self._with_fills(found)
                return rejected_update(request, now, VenueReason.DUPLICATE_CLIENT_ORDER_ID, exc.venue_message,
                                       qty_contracts=qty, qty_base=rounded.qty_base, price=price)
            reason = self._reason(exc)
            logger.warning("order %s (%s) refused by BloFin: %s (%s)", cid, request.symbol, exc.venue_message, reason.name)
            return rejected_update(request, now, reason, exc.venue_message,
                                   qty_contracts=qty, qty_base=rounded.qty_base, price=price)
        venue_order_id = str(next(iter(_rows(placed)), {}).get("orderId") or "")
        if venue_order_id:
            self._remember(venue_order_id, cid, request.reduce_only, request.order_type)
        logger.info("order %s placed on BloFin as %s: %s %g contracts %s%s", cid, venue_order_id or "?", side, qty,
                    request.symbol, f" @ {price}" if price is not None else "")
        try:
            update = await self.fetch_order(cid, symbol=request.symbol)
        except (TemporaryError, VenueRejection) as exc:
            logger.warning("order %s placed but its state could not be read yet: %s", cid, exc)
            update = None
        if update is not None:
            return update
        return OrderUpdate(
            client_order_id=cid, symbol=request.symbol, side=request.side, order_type=request.order_type,
            status=OrderStatus.ACCEPTED, ts_ms=now, qty_contracts=qty, qty_base=rounded.qty_base, price=price,
            reduce_only=request.reduce_only, venue_order_id=venue_order_id or None,
            reason="placed; state not read yet",
        )

    @staticmethod
    def _reason(exc: VenueRejection) -> VenueReason:
        codes = exc.codes
        if codes & INSUFFICIENT_CODES or exc.kind == "InsufficientFunds":
            return VenueReason.INSUFFICIENT_MARGIN
        if codes & POSITION_MODE_CODES:
            return VenueReason.POSITION_MODE_MISMATCH
        if codes & REDUCE_ONLY_CODES:
            return VenueReason.REDUCE_ONLY_NO_POSITION
        if codes & PRICE_LIMIT_CODES:
            return VenueReason.PRICE_OUT_OF_RANGE
        if codes & SIZE_LIMIT_CODES:
            return VenueReason.ABOVE_MAXIMUM
        return VenueReason.VENUE_REJECTED

    def _remember(self, venue_order_id: str, cid: str, reduce_only: bool, order_type: OrderType) -> None:
        self._cid_by_oid[venue_order_id] = cid
        self._reduce_only_by_oid[venue_order_id] = reduce_only
        self._type_by_oid[venue_order_id] = order_type

    async def _lookup_raw(self, cid: str, symbol: str | None) -> dict | None:
        """One attempt at BloFin's record of ``cid``: order detail (``instId`` is required), then the order lists."""
        history: dict[str, Any] = {"limit": 100}
        if symbol is not None:
            inst_id = history["instId"] = self.market(symbol).venue_id
            params = {"instId": inst_id, "clientOrderId": cid}
            try:
                rows = _rows(await self._once(f"order detail {cid}", self._ex.privateGetTradeOrderDetail, params))
            except VenueRejection as exc:
                if not (exc.codes & CANCEL_FAILED_CODES or exc.kind == "OrderNotFound"):
                    raise
                rows = []
            match = next((r for r in rows if r.get("clientOrderId") == cid), None)
            if match is not None:
                return match
        for method in (self._ex.privateGetTradeOrdersPending, self._ex.privateGetTradeOrdersHistory):
            rows = _rows(await self._once(f"order search {cid}", method, dict(history)))
            match = next((r for r in rows if r.get("clientOrderId") == cid), None)
            if match is not None:
                return match
        return None

    async def _lookup(self, cid: str, symbol: str | None) -> OrderUpdate | None:
        raw = await self._lookup_raw(cid, symbol)
        return None if raw is None else self._parse_order(raw)

    async def _with_fills(self, update: OrderUpdate) -> OrderUpdate:
        """Return ``update`` with its fills attached when it has traded."""
        if update.filled_qty_contracts <= 0 or update.venue_order_id is None:
            return update
        rows = await self._call(
            f"fills of {update.client_order_id}", self._ex.privateGetTradeFillsHistory,
            {"instId": self.market(update.symbol).venue_id, "orderId": update.venue_order_id, "limit": 100},
        )
        fills = sorted((self._parse_fill(r) for r in _rows(rows)), key=lambda f: (f.ts_ms, f.fill_id))
        return _replace_fills(update, tuple(f for f in fills if f is not None))

    async def fetch_order(self, client_order_id: str, *, symbol: str | None = None) -> OrderUpdate | None:
        """Return the order with its fills, or None when BloFin has no order with that client id."""
        symbol = symbol or self._symbol_by_cid.get(client_order_id)
        update = await self._call(f"look up {client_order_id}", self._lookup, client_order_id, symbol)
        return None if update is None else await self._with_fills(update)

    async def cancel(self, client_order_id: str, *, symbol: str | None = None) -> OrderUpdate | None:
        """Cancel a resting order; return its final state (FILLED if it filled first) or None if unknown."""
        symbol = symbol or self._symbol_by_cid.get(client_order_id)
        oid = next((o for o, c in self._cid_by_oid.items() if c == client_order_id), None)
        if symbol is None or oid is None:  # BloFin's cancel needs the orderId: read it first
            found = await self.fetch_order(client_order_id, symbol=symbol)
            if found is None or not found.is_open:
                return found
            symbol, oid = found.symbol, found.venue_order_id
        body = {"instId": self.market(symbol).venue_id, "orderId": oid, "clientOrderId": client_order_id}
        try:
            await self._call(f"cancel {client_order_id}", self._ex.privatePostTradeCancelOrder, body)
        except VenueRejection as exc:
            if not exc.codes & CANCEL_FAILED_CODES and exc.kind != "OrderNotFound":
                raise
            logger.info("cancel %s: BloFin says %s", client_order_id, exc.venue_message)
        else:
            logger.info("order %s cancelled", client_order_id)
        return await self.fetch_order(client_order_id, symbol=symbol)

    async def open_orders(self) -> list[OrderUpdate]:
        """Return every resting order (BloFin's pending list walked page by page), oldest first."""
        out: dict[str, OrderUpdate] = {}
        params: dict[str, Any] = {"limit": 100}
        for _ in range(1000):
            rows = _rows(await self._call("open orders", self._ex.privateGetTradeOrdersPending, dict(params)))
            fresh = [r for r in rows if (r.get("clientOrderId") or f"ext{r.get('orderId')}") not in out]
            for row in fresh:
                update = self._parse_order(row)
                out[update.client_order_id] = update
            if not fresh:  # an empty page, or a venue that ignored ``after``
                break
            params["after"] = min(int(r["orderId"]) for r in rows)
        return sorted(out.values(), key=lambda u: (u.ts_ms, u.client_order_id))

    # ------------------------------------------------------------------ account

    async def positions(self) -> list[VenuePosition]:
        """Return the open positions (signed contracts; long/short mode gives one row per side)."""
        rows = _rows(await self._call("positions", self._ex.privateGetAccountPositions, {}))
        out = []
        for row in rows:
            symbol = self._symbol_of(row.get("instId"))
            qty = _num(row.get("positions")) or 0.0
            if symbol is None or qty == 0:
                continue
            side = row.get("positionSide") or "net"
            signed = -abs(qty) if side == "short" else abs(qty) if side == "long" else qty
            out.append(VenuePosition(
                symbol=symbol, qty_contracts=signed, contract_size=self.market(symbol).contract_size,
                avg_entry_price=_num(row.get("averagePrice")) or 0.0, mark_price=_num(row.get("markPrice")),
                unrealized_pnl_usd=_num(row.get("unrealizedPnl")) or 0.0, leverage=_num(row.get("leverage")),
                margin_mode=row.get("marginMode"), position_side=side,
                liquidation_price=_num(row.get("liquidationPrice")) or None,
                ts_ms=int(_num(row.get("updateTime")) or 0),
            ))
        return out

    async def balance(self) -> VenueBalance:
        """Return the futures account's USDT balance.

        Raises
        ------
        OperationalError
            When the answer has no USDT row.
        """
        response = await self._call("balance", self._ex.privateGetAccountBalance, {})
        data = response.get("data") or {}
        details = data.get("details") or []
        usdt = next((d for d in details if d.get("currency") == "USDT"), None)
        if usdt is None:
            raise OperationalError("BloFin balance: no USDT in the futures account")
        cash = _num(usdt.get("balance")) or 0.0
        equity = _num(usdt.get("equity"))
        equity = cash if equity is None else equity
        return VenueBalance(
            cash_usd=cash, equity_usd=equity,
            available_usd=_num(usdt.get("available")) or _num(usdt.get("availableEquity")) or 0.0,
            frozen_usd=_num(usdt.get("frozen")) or 0.0, unrealized_pnl_usd=equity - cash,
            ts_ms=int(_num(usdt.get("ts")) or _num(data.get("ts")) or 0),
        )

    async def fills_since(self, ts_ms: int) -> list[Fill]:
        """Return the fills at or after ``ts_ms`` (BloFin's fills history, walked page by page), oldest first."""
        params: dict[str, Any] = {"begin": int(ts_ms), "limit": 100}
        fills: dict[str, Fill] = {}
        seen: set[str] = set()
        for _ in range(1000):
            rows = _rows(await self._call("fills", self._ex.privateGetTradeFillsHistory, dict(params)))
            fresh = [r for r in rows if str(r.get("tradeId")) not in seen]
            seen.update(str(r.get("tradeId")) for r in fresh)
            for row in fresh:
                await self._resolve_cid(row)
                fill = self._parse_fill(row)
                if fill is not None:
                    fills[fill.fill_id] = fill
            if not fresh:  # an empty page, or a venue that ignored ``after``
                break
            params["after"] = min(int(r["tradeId"]) for r in rows)
        return sorted(fills.values(), key=lambda f: (f.ts_ms, f.fill_id))

    async def funding_since(self, ts_ms: int) -> list[FundingPayment]:
        """Return the funding settled on the account's positions at or after ``ts_ms``, one payment per position.

        BloFin's REST docs list no per-account funding record (``account/funding-fees``
        is not documented), so each settlement is built from documented answers:
        the settlement's time and actual rate (``market/funding-rate-history``), the
        position held at that time (``account/positions`` now, less the fills after
        it, ``trade/fills-history``) and the mark price at it (the open of the 1m
        ``market/mark-price-candles`` bar at the settlement): ``amount = -contracts
        x contractValue x mark x rate`` (a long pays a positive rate). The
        reconciliation compares the result with BloFin's balance. A settlement whose
        rate or mark price is not published yet is read at a later call; the ids
        (``symbol:fundingTime``) make a payment booked once.
        """
        now = int(self._ex.milliseconds())
        symbols = list(self._assets) or list(self._markets)
        due = [s for s in symbols if self._funding_next.get(s, 0) <= now]
        if not due:
            return []
        held: dict[str, float] = {}
        for p in await self.positions():
            held[p.symbol] = held.get(p.symbol, 0.0) + p.qty_contracts
        out: list[FundingPayment] = []
        for symbol in due:
            spec = self.market(symbol)
            start = min(int(ts_ms), self._funding_done.get(symbol, int(ts_ms)) + 1)
            rows = _rows(await self._call(f"funding rate history {symbol}", self._ex.publicGetMarketFundingRateHistory,
                                          {"instId": spec.venue_id, "limit": 100}))
            settled = sorted((int(t), r) for r, t in ((_num(r.get("fundingRate")), _num(r.get("fundingTime")))
                                                      for r in rows) if r is not None and t is not None and start <= t <= now)
            complete = True
            for t, rate in settled:
                qty = held.get(symbol, 0.0) - await self._net_fills_after(spec, t)
                if abs(qty) < 1e-12:
                    self._funding_done[symbol] = t
                    continue
                mark = await self._mark_at(spec, t)
                if mark is None:
                    logger.warning("funding %s %s UTC: BloFin has no mark price for the settlement yet; read again "
                                   "next cycle", symbol, _utc(t))
                    complete = False
                    break
                amount = -qty * spec.contract_size * mark * rate
                out.append(FundingPayment(symbol=symbol, amount_usd=amount, ts_ms=t, rate=rate))
                self._funding_done[symbol] = t
            if complete:
                nxt = _rows(await self._call(f"funding rate {symbol}", self._ex.publicGetMarketFundingRate,
                                             {"instId": spec.venue_id}))
                next_t = _num(nxt[0].get("fundingTime")) if nxt else None
                self._funding_next[symbol] = int(next_t) if next_t is not None and next_t > now else now
        return sorted(out, key=lambda p: (p.ts_ms, p.symbol))

    async def _net_fills_after(self, spec: MarketSpec, t: int) -> float:
        """Signed contracts the account traded in ``spec``'s instrument after ``t`` (fills history, every page)."""
        params: dict[str, Any] = {"instId": spec.venue_id, "begin": int(t) + 1, "limit": 100}
        seen: set[str] = set()
        net = 0.0
        for _ in range(1000):
            rows = _rows(await self._call("fills after a settlement", self._ex.privateGetTradeFillsHistory, dict(params)))
            fresh = [r for r in rows if str(r.get("tradeId")) not in seen and (_num(r.get("ts")) or 0) > t]
            if not fresh:
                break
            for r in fresh:
                seen.add(str(r.get("tradeId")))
                qty = _num(r.get("fillSize")) or 0.0
                net += qty if r.get("side") == "buy" else -qty
            params["after"] = min(int(r["tradeId"]) for r in rows)
        return net

    async def _mark_at(self, spec: MarketSpec, t: int) -> float | None:
        """BloFin's mark price at ``t``: the open of the 1m mark-price candle starting at ``t`` (None when absent)."""
        rows = (await self._call(f"mark price {spec.symbol}", self._ex.publicGetMarketMarkPriceCandles,
                                 {"instId": spec.venue_id, "bar": "1m", "after": int(t) + 1, "limit": 1})).get("data") or []
        row = rows[0] if rows and isinstance(rows[0], list) else None
        if row is None or int(row[0]) != int(t) // 60_000 * 60_000:
            return None
        return _num(row[1])

    # ------------------------------------------------------------------ parsing

    def _symbol_of(self, venue_id: object) -> str | None:
        symbol = self._by_venue_id.get(str(venue_id))
        if symbol is None:
            logger.warning("BloFin instrument %s is not among the loaded markets", venue_id)
        return symbol

    async def _resolve_cid(self, row: dict) -> None:
        """Learn the client id of a fill's order (one order-detail request per unknown order)."""
        oid = str(row.get("orderId") or "")
        if not oid or oid in self._cid_by_oid:
            return
        symbol = self._symbol_of(row.get("instId"))
        params: dict[str, Any] = {"orderId": oid}
        if symbol is not None:
            params["instId"] = self.market(symbol).venue_id
        try:
            detail = _rows(await self._call(f"order detail {oid}", self._ex.privateGetTradeOrderDetail, params))
        except VenueRejection:
            detail = []
        if detail:
            self._parse_order(detail[0])  # remembers the client id, reduce-only flag and type
        else:
            self._cid_by_oid[oid] = f"ext{oid}"

    def _parse_order(self, row: dict) -> OrderUpdate:
        symbol = self._symbol_of(row.get("instId"))
        if symbol is None:
            raise OperationalError(f"BloFin order {row.get('orderId')} is for unknown instrument {row.get('instId')!r}")
        spec = self.market(symbol)
        oid = str(row.get("orderId") or "") or None
        cid = row.get("clientOrderId") or (f"ext{oid}" if oid else "")
        state = row.get("state") or ""
        status = STATES.get(state)
        if status is None:
            logger.warning("BloFin order %s has unknown state %r; treating it as open", cid, state)
            status = OrderStatus.ACCEPTED
        qty = _num(row.get("size")) or 0.0
        filled = _num(row.get("filledSize")) or 0.0
        avg = _num(row.get("averagePrice"))
        order_type = OrderType.MARKET if row.get("orderType") == "market" else OrderType.LIMIT
        reduce_only = str(row.get("reduceOnly")).lower() == "true"
        if oid:
            self._remember(oid, cid, reduce_only, order_type)
            self._symbol_by_cid.setdefault(cid, symbol)
        reason_text = row.get("cancelSourceReason") or (
            row.get("cancelSource") if row.get("cancelSource") not in (None, "", "not_canceled") else "")
        reason_code = VenueReason.NONE
        if status == OrderStatus.CANCELED:
            reason_code = VenueReason.CANCELED
        elif status == OrderStatus.REJECTED:
            reason_code = VenueReason.VENUE_REJECTED
        ts = _num(row.get("updateTime")) or _num(row.get("createTime")) or 0
        price = _num(row.get("price"))
        return OrderUpdate(
            client_order_id=cid, symbol=symbol,
            side=OrderSide.BUY if row.get("side") == "buy" else OrderSide.SELL,
            order_type=order_type, status=status, ts_ms=int(ts),
            qty_contracts=qty, qty_base=qty * spec.contract_size,
            filled_qty_contracts=filled, filled_qty_base=filled * spec.contract_size,
            avg_fill_price=avg if (avg and filled > 0) else None,
            fee_usd=_num(row.get("fee")) or 0.0,  # < 0: a rebate
            price=price if (order_type == OrderType.LIMIT and price) else None,
            reduce_only=reduce_only, venue_order_id=oid, reason_code=reason_code, reason=reason_text or "",
        )

    def _parse_fill(self, row: dict) -> Fill | None:
        symbol = self._symbol_of(row.get("instId"))
        price, qty = _num(row.get("fillPrice")), _num(row.get("fillSize"))
        if symbol is None or not price or not qty:
            return None
        spec = self.market(symbol)
        oid = str(row.get("orderId") or "")
        fee = _num(row.get("fee")) or 0.0  # < 0: a rebate (maker)
        order_type = self._type_by_oid.get(oid)
        if order_type == OrderType.MARKET:
            liquidity = LiquiditySide.TAKER
        else:  # BloFin's fill record does not say; the fee rate does
            rate = fee / (price * qty * spec.contract_size)
            liquidity = LiquiditySide.MAKER if abs(rate - 0.0002) < abs(rate - 0.0006) else LiquiditySide.TAKER
        return Fill.from_contracts(
            fill_id=str(row.get("tradeId")),
            client_order_id=self._cid_by_oid.get(oid) or f"ext{oid}",
            symbol=symbol,
            side=OrderSide.BUY if row.get("side") == "buy" else OrderSide.SELL,
            price=price, qty_contracts=qty, contract_size=spec.contract_size, fee_usd=fee,
            liquidity=liquidity, ts_ms=int(_num(row.get("ts")) or 0),
            reduce_only=self._reduce_only_by_oid.get(oid, False),
        )


def _replace_fills(update: OrderUpdate, fills: tuple[Fill, ...]) -> OrderUpdate:
    from dataclasses import replace

    return replace(update, fills=fills)
