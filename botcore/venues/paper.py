"""The paper venue: the :class:`~botcore.venues.base.Venue` port over the shared paper fill model.

The engine hands it each cycle's market with :meth:`PaperVenue.update_market`
(the snapshot's order book in base units, the last closed bar's high and low,
the mark, optionally the funding rate); the venue then

- fills a market order at once against the latest book with
  :func:`botcore.fills.fill_market_order` (taker fee, the book walked level by
  level; a book too thin fills what it holds and cancels the rest, like an IOC);
- rests a limit order and checks it on every later bar (one that opens at or
  after the submission) with :func:`botcore.fills.fill_limit_order` (maker fee,
  all or nothing at the limit, touches decided by the model's deterministic
  queue draw keyed on the symbol's column and the submission time);
- settles funding on the grid of :func:`botcore.fills.funding_times` on the
  position held before the bar's fills (the model's ordering rule);
- liquidates a position whose bar range or mark reaches its liquidation price
  (:func:`botcore.fills.liquidation_check`, at the symbol's leverage and
  margin mode), as a reduce-only order ``make_client_order_id("bcliq", ts, column)``
  filled at that price with the taker fee;
- keeps cash, positions and fills derived only from its own fills, with
  :class:`botcore.model.Position` doing the arithmetic.

Everything is deterministic: the same market updates and requests give the
same fills, bit for bit, as the backtest's compiled loop calling the same
kernels. No decision logic lives here: what to trade is the engine's business.
Fill ids are ``"{client_order_id}:{n}"``, so a restarted engine that
resubmits the same order meets the ledger's duplicate-fill guard.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botcore.errors import DataError
from botcore.fills import (
    Book,
    FillParams,
    FillResult,
    FillStatuses,
    fill_limit_order,
    fill_market_order,
    funding_payment,
    funding_times,
    has_quantity,
    liquidation_check,
    liquidation_price,
    queue_key,
    to_model_fill,
    validate_book,
)
from botcore.model import Fill, FundingPayment, OrderSide, OrderStatus, OrderType, Position
from botcore.venues.base import (
    LeverageSetting,
    MarketSpec,
    OrderRequest,
    OrderUpdate,
    VenueBalance,
    VenuePosition,
    VenueReason,
    check_client_order_id,
    make_client_order_id,
    rejected_update,
)

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Market:
    """The latest market the engine handed over for one symbol."""

    book: Book
    bar_high: float
    bar_low: float
    bar_ts: int
    mark_price: float
    ts_ms: int


@dataclass(slots=True)
class _Order:
    """A paper order and its progress."""

    request: OrderRequest
    qty_contracts: float
    qty_base: float
    price: float | None
    submit_ts: int
    status: OrderStatus
    updated_ts: int
    queue_key: int = 0
    reason_code: VenueReason = VenueReason.NONE
    reason: str = ""
    fills: list[Fill] = field(default_factory=list)

    def update(self) -> OrderUpdate:
        filled = sum((f.qty_contracts for f in self.fills), 0.0)
        filled_base = sum((f.qty_base for f in self.fills), 0.0)
        avg = sum(f.price * f.qty_contracts for f in self.fills) / filled if filled else None
        r = self.request
        return OrderUpdate(
            client_order_id=r.client_order_id, symbol=r.symbol, side=r.side, order_type=r.order_type,
            status=self.status, ts_ms=self.updated_ts, qty_contracts=self.qty_contracts, qty_base=self.qty_base,
            filled_qty_contracts=filled, filled_qty_base=filled_base, avg_fill_price=avg,
            fee_usd=sum((f.fee_usd for f in self.fills), 0.0), price=self.price, reduce_only=r.reduce_only,
            venue_order_id=f"paper-{r.client_order_id}", reason_code=self.reason_code, reason=self.reason,
            fills=tuple(self.fills),
        )


class PaperVenue:
    """A simulated venue over the paper fill model (see the module docstring).

    Parameters
    ----------
    markets : iterable of Asset or MarketSpec
        The tradable markets; their order is the symbol column the fill model's
        queue key uses (give the same order as the backtest).
    starting_cash_usd : float
        Cash at the start.
    fill_params : FillParams
        Fees (taker 0.06 %, maker 0.02 % by default), the exhaust rule, the queue
        fill fraction, the default leverage and the funding grid.
    check_margin : bool
        Refuse orders that would grow exposure past the free margin
        (``INSUFFICIENT_MARGIN``), as BloFin does.
    """

    name = "paper"
    simulated = True

    def __init__(
        self,
        markets: Iterable[Any],
        *,
        starting_cash_usd: float = 10_000.0,
        fill_params: FillParams = FillParams(),
        check_margin: bool = True,
    ) -> None:
        specs = [m if isinstance(m, MarketSpec) else MarketSpec.from_asset(m) for m in markets]
        if not specs:
            raise DataError("markets: the paper venue needs at least one market")
        if not math.isfinite(starting_cash_usd) or starting_cash_usd < 0:
            raise DataError(f"starting_cash_usd must be a finite number >= 0, got {starting_cash_usd!r}")
        self._specs: dict[str, MarketSpec] = {s.symbol: s for s in specs}
        self._columns: dict[str, int] = {s.symbol: i for i, s in enumerate(specs)}
        self.params = fill_params
        self.check_margin = check_margin
        self.starting_cash_usd = float(starting_cash_usd)
        self._cash_usd = float(starting_cash_usd)
        self._market: dict[str, _Market] = {}
        self._orders: dict[str, _Order] = {}
        self._positions: dict[str, Position] = {s.symbol: Position(s.symbol, s.contract_size) for s in specs}
        self._leverage: dict[str, float] = {s.symbol: float(fill_params.leverage) for s in specs}
        self._margin_mode: dict[str, str] = {s.symbol: fill_params.margin_mode for s in specs}
        self._funding_rate: dict[str, tuple[float, int | None]] = {}
        self._fills: list[Fill] = []
        self._funding: list[FundingPayment] = []
        self._funding_seen: dict[str, int] = {}

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> PaperVenue:
        """Build the venue from :class:`botcore.config.models.Settings`.

        Markets are ``settings.universe.enabled`` in file order (the symbol columns),
        cash ``settings.venue.starting_equity_usd``, fees, leverage and margin mode
        through :meth:`botcore.fills.FillParams.from_settings`.
        """
        kwargs.setdefault("starting_cash_usd", settings.venue.starting_equity_usd)
        kwargs.setdefault("fill_params", FillParams.from_settings(settings))
        return cls(settings.universe.enabled, **kwargs)

    # ------------------------------------------------------------------ market data

    async def load_markets(self) -> dict[str, MarketSpec]:
        """Return the configured markets."""
        return dict(self._specs)

    def market(self, symbol: str) -> MarketSpec:
        """Return the spec of ``symbol`` (DataError when it is not one of the venue's markets)."""
        try:
            return self._specs[symbol]
        except KeyError:
            raise DataError(f"symbol: {symbol!r} is not a market of the paper venue") from None

    def update_market(
        self,
        symbol: str,
        bid_px: Any,
        bid_sz: Any,
        ask_px: Any,
        ask_sz: Any,
        bar_high: float,
        bar_low: float,
        mark_price: float,
        ts_ms: int,
        *,
        bar_ts: int | None = None,
        funding_rate: float = math.nan,
        next_funding_ts: int | None = None,
    ) -> list[Fill]:
        """Take the latest market of ``symbol``; settle funding and fill resting limit orders.

        Parameters
        ----------
        symbol : str
            One of the venue's markets.
        bid_px, bid_sz, ask_px, ask_sz : array-like
            The order book, best level first, sizes in base units (NaN = absent level).
        bar_high, bar_low : float
            The last closed bar's traded high and low (NaN when missing: limit orders wait).
        mark_price : float
            Mark price (funding and unrealised P&L).
        ts_ms : int
            Snapshot time; never earlier than the previous update of this symbol.
        bar_ts : int, optional
            The bar's open time (defaults to ``ts_ms``); a resting order is checked
            against bars with ``bar_ts >= `` its submission time.
        funding_rate : float
            Funding rate of the interval (NaN when unknown: no funding is charged).
        next_funding_ts : int, optional
            Anchors the funding grid when the data gives it.

        Returns
        -------
        list of Fill
            The fills this update caused (limit orders, then a liquidation), oldest first.

        Raises
        ------
        DataError
            When the book is malformed (see :func:`botcore.fills.validate_book`) or time runs backwards.
        """
        self.market(symbol)
        book = validate_book(bid_px, bid_sz, ask_px, ask_sz)
        ts_ms = int(ts_ms)
        previous = self._market.get(symbol)
        if previous is not None and ts_ms < previous.ts_ms:
            raise DataError(f"update_market {symbol}: ts_ms {ts_ms} is before the previous update {previous.ts_ms}")
        self._settle_funding(symbol, previous.ts_ms if previous else None, ts_ms, float(mark_price),
                             float(funding_rate), next_funding_ts)
        market = _Market(book, float(bar_high), float(bar_low), ts_ms if bar_ts is None else int(bar_ts),
                         float(mark_price), ts_ms)
        self._market[symbol] = market
        fills: list[Fill] = []
        for order in list(self._orders.values()):
            if order.request.symbol != symbol or not order.status.is_open or order.request.order_type != OrderType.LIMIT:
                continue
            if market.bar_ts < order.submit_ts:
                continue
            if order.price is None:
                raise DataError(f"paper order {order.request.client_order_id}: a resting LIMIT order has no price")
            result = fill_limit_order(
                int(order.request.side), order.qty_base, order.price, market.bar_high, market.bar_low,
                self._specs[symbol], self.params, queue_key=order.queue_key, bar_ts=market.bar_ts,
            )
            if result.status == FillStatuses.filled:
                fills.append(self._apply(order, result, ts_ms))
                order.status = OrderStatus.FILLED
                order.updated_ts = ts_ms
        liquidation = self._liquidate(symbol, market, ts_ms)
        if liquidation is not None:
            fills.append(liquidation)
        return fills

    def _liquidate(self, symbol: str, market: _Market, ts_ms: int) -> Fill | None:
        """Close the position of ``symbol`` at its liquidation price when the bar or the mark reaches it."""
        position = self._positions[symbol]
        if position.is_flat:
            return None
        params = self.params.model_copy(update={"leverage": self._leverage[symbol], "margin_mode": self._margin_mode[symbol]})
        free = self._free_margin_usd() if params.margin_mode == "cross" else 0.0
        liq = liquidation_price(position.qty_base, position.avg_entry_price, params, free_equity_usd=free)
        result = liquidation_check(position.qty_base, liq, market.bar_low, market.bar_high, market.mark_price,
                                   self._specs[symbol], self.params)
        if result.status != FillStatuses.filled:
            return None
        cid = make_client_order_id("bcliq", ts_ms, self._columns[symbol])
        request = OrderRequest(cid, symbol, OrderSide(result.side), OrderType.MARKET,
                               qty_contracts=result.qty_contracts, reduce_only=True)
        order = _Order(request, result.qty_contracts, result.qty_base, None, ts_ms, OrderStatus.SUBMITTED, ts_ms,
                       reason=f"liquidated at {liq:g}")
        self._orders[cid] = order
        fill = self._apply(order, result, ts_ms)
        order.status = OrderStatus.FILLED
        logger.warning("paper liquidation %s: %s %g contracts at %g", cid, symbol, result.qty_contracts, liq)
        return fill

    def _settle_funding(self, symbol: str, last_ts: int | None, now_ts: int, mark: float, rate: float,
                        next_funding_ts: int | None) -> None:
        position = self._positions[symbol]
        if last_ts is None or position.is_flat or not math.isfinite(rate):
            return
        for t in funding_times(last_ts, now_ts, self.params, next_funding_ts=next_funding_ts):
            amount = funding_payment(position.qty_base, mark, rate)
            if not math.isfinite(amount):
                continue
            payment = FundingPayment(symbol=symbol, amount_usd=amount, ts_ms=int(t), rate=rate)
            position.apply_funding(payment)
            self._cash_usd += amount
            self._funding.append(payment)
            logger.debug("paper funding %s: %+.6f USD at %d", symbol, amount, t)

    # ------------------------------------------------------------------ orders

    def _clock(self, symbol: str) -> int:
        market = self._market.get(symbol)
        if market is not None:
            return market.ts_ms
        return max((m.ts_ms for m in self._market.values()), default=0)

    def _free_margin_usd(self) -> float:
        equity = self._cash_usd + sum(self._upnl(s) for s in self._positions)
        used = sum(
            p.notional_usd(self._mark(s)) / self._leverage[s] for s, p in self._positions.items() if not p.is_flat
        )
        used += sum(
            (o.qty_base * (o.price or 0.0)) / self._leverage[o.request.symbol]
            for o in self._orders.values() if o.status.is_open and not o.request.reduce_only
        )
        return equity - used

    def _mark(self, symbol: str) -> float:
        market = self._market.get(symbol)
        position = self._positions[symbol]
        return market.mark_price if market and math.isfinite(market.mark_price) else position.avg_entry_price

    def _upnl(self, symbol: str) -> float:
        position = self._positions[symbol]
        return position.unrealized_pnl_usd(self._mark(symbol)) if not position.is_flat else 0.0

    async def submit(self, request: OrderRequest) -> OrderUpdate:
        """Place ``request``: a market order fills now, a limit order rests; resubmitting an id returns its state."""
        cid = check_client_order_id(request.client_order_id)
        spec = self.market(request.symbol)
        existing = self._orders.get(cid)
        if existing is not None:
            return existing.update()
        now = self._clock(request.symbol)
        side = int(request.side)
        if request.qty_base is not None:
            qty_base = request.qty_base
        elif request.qty_contracts is not None:
            qty_base = request.qty_contracts * spec.contract_size
        else:
            raise DataError(f"OrderRequest {cid}: give exactly one of qty_contracts and qty_base")
        rounded = spec.round_base(qty_base)
        if rounded.status == FillStatuses.below_minimum:
            return self._reject(request, now, VenueReason.BELOW_MINIMUM,
                                f"{qty_base / spec.contract_size:g} contracts rounds below the minimum {spec.min_contracts:g}")
        qty_contracts, qty_base = rounded.qty_contracts, rounded.qty_base
        position = self._positions[request.symbol]
        if request.reduce_only:
            if position.is_flat or int(position.side) == side:
                return self._reject(request, now, VenueReason.REDUCE_ONLY_NO_POSITION,
                                    f"reduce-only {request.side.name} with {position.qty_contracts:g} contracts held")
            if qty_contracts > abs(position.qty_contracts):  # BloFin closes the position and opens nothing
                qty_contracts = abs(position.qty_contracts)
                qty_base = qty_contracts * spec.contract_size
        price: float | None = None
        if request.order_type == OrderType.LIMIT:
            if request.price is None:
                raise DataError(f"OrderRequest {cid}: price must be > 0 for a LIMIT order, got None")
            price = spec.round_price(request.price, request.side)
        market = self._market.get(request.symbol)
        if request.order_type == OrderType.MARKET and market is None:
            return self._reject(request, now, VenueReason.NO_MARKET_DATA, f"no order book for {request.symbol} yet")
        if self.check_margin and not request.reduce_only:
            if price is not None:
                ref_price = price
            else:
                assert market is not None  # a MARKET order without market data was rejected above
                ref_price = _touch(market.book, side)
            growth = qty_base if position.is_flat or int(position.side) == side else max(qty_base - abs(position.qty_base), 0.0)
            fee_rate = self.params.taker_fee if price is None else self.params.maker_fee
            need = growth * ref_price / self._leverage[request.symbol] + qty_base * ref_price * fee_rate
            if math.isfinite(need) and need > self._free_margin_usd():
                return self._reject(request, now, VenueReason.INSUFFICIENT_MARGIN,
                                    f"needs {need:.2f} USD of margin, {self._free_margin_usd():.2f} USD free")
        order = _Order(request, qty_contracts, qty_base, price, now, OrderStatus.SUBMITTED, now)
        self._orders[cid] = order
        if request.order_type == OrderType.LIMIT:
            order.status = OrderStatus.ACCEPTED
            order.queue_key = queue_key(self._columns[request.symbol], now)
            logger.info("paper order %s resting: %s %g contracts %s @ %s", cid, request.side.name, qty_contracts,
                        request.symbol, price)
            return order.update()
        assert market is not None  # a MARKET order without market data was rejected above
        result = fill_market_order(side, qty_base, market.book, spec, self.params)
        if result.status == FillStatuses.filled:
            self._apply(order, result, now)
            order.status = OrderStatus.FILLED
        elif result.status == FillStatuses.partial and has_quantity(result):
            self._apply(order, result, now)
            order.status, order.reason_code = OrderStatus.CANCELED, VenueReason.BOOK_EXHAUSTED
            order.reason = f"book held {result.qty_contracts:g} of {qty_contracts:g} contracts; the rest was cancelled"
        else:
            code = VenueReason.NO_LIQUIDITY if result.status in (FillStatuses.no_liquidity, FillStatuses.partial) \
                else VenueReason.BELOW_MINIMUM
            order.status, order.reason_code = OrderStatus.REJECTED, code
            order.reason = f"no usable {'ask' if side > 0 else 'bid'} level in the book"
        order.updated_ts = now
        logger.info("paper order %s: %s %s (%s)", cid, order.status.name, request.symbol, order.reason or "ok")
        return order.update()

    def _reject(self, request: OrderRequest, ts_ms: int, code: VenueReason, reason: str) -> OrderUpdate:
        logger.info("paper order %s refused: %s (%s)", request.client_order_id, reason, code.name)
        return rejected_update(request, ts_ms, code, reason)

    def _apply(self, order: _Order, result: FillResult, ts_ms: int) -> Fill:
        fill = to_model_fill(
            result, fill_id=f"{order.request.client_order_id}:{len(order.fills)}",
            client_order_id=order.request.client_order_id, symbol=order.request.symbol, ts_ms=ts_ms,
            reduce_only=order.request.reduce_only,
        )
        effect = self._positions[fill.symbol].apply_fill(fill)
        self._cash_usd += effect.cash_delta_usd
        order.fills.append(fill)
        self._fills.append(fill)
        return fill

    async def cancel(self, client_order_id: str, *, symbol: str | None = None) -> OrderUpdate | None:
        """Cancel a resting order; return its final state, or None when the venue never saw it."""
        order = self._orders.get(client_order_id)
        if order is None:
            return None
        if order.status.is_open:
            order.status, order.reason_code, order.reason = OrderStatus.CANCELED, VenueReason.CANCELED, "cancelled"
            order.updated_ts = self._clock(order.request.symbol)
        return order.update()

    async def fetch_order(self, client_order_id: str, *, symbol: str | None = None) -> OrderUpdate | None:
        """Return the order's state and fills, or None when the venue never saw it."""
        order = self._orders.get(client_order_id)
        return None if order is None else order.update()

    async def open_orders(self) -> list[OrderUpdate]:
        """Return the resting orders, oldest first."""
        return [o.update() for o in self._orders.values() if o.status.is_open]

    # ------------------------------------------------------------------ account

    async def positions(self) -> list[VenuePosition]:
        """Return the open positions, derived from the venue's fills."""
        out = []
        for symbol, p in self._positions.items():
            if p.is_flat:
                continue
            out.append(VenuePosition(
                symbol=symbol, qty_contracts=p.qty_contracts, contract_size=p.contract_size,
                avg_entry_price=p.avg_entry_price, mark_price=self._mark(symbol),
                unrealized_pnl_usd=self._upnl(symbol), leverage=self._leverage[symbol],
                margin_mode=self._margin_mode[symbol], position_side="net", ts_ms=p.last_ts_ms or 0,
            ))
        return out

    async def balance(self) -> VenueBalance:
        """Return cash (start + realised P&L - fees + funding), equity at the marks and free margin."""
        upnl = sum(self._upnl(s) for s in self._positions)
        free = self._free_margin_usd()
        equity = self._cash_usd + upnl
        return VenueBalance(cash_usd=self._cash_usd, equity_usd=equity, available_usd=free,
                            frozen_usd=equity - free, unrealized_pnl_usd=upnl,
                            ts_ms=max((m.ts_ms for m in self._market.values()), default=0))

    async def fills_since(self, ts_ms: int) -> list[Fill]:
        """Return the fills at or after ``ts_ms``, oldest first."""
        return [f for f in self._fills if f.ts_ms >= ts_ms]

    async def funding_since(self, ts_ms: int) -> list[FundingPayment]:
        """Return the funding settled at or after ``ts_ms``, oldest first."""
        return [p for p in self._funding if p.ts_ms >= ts_ms]

    async def set_leverage(self, symbol: str, leverage: float, margin_mode: str) -> LeverageSetting:
        """Set the leverage the margin check uses for ``symbol``.

        Raises
        ------
        DataError
            When the leverage is outside [1, the market's maximum] or the margin mode unknown.
        """
        spec = self.market(symbol)
        if margin_mode not in ("isolated", "cross"):
            raise DataError(f"margin_mode must be 'isolated' or 'cross', got {margin_mode!r}")
        if not 1 <= leverage <= spec.max_leverage:
            raise DataError(f"leverage for {symbol} must be in [1, {spec.max_leverage:g}], got {leverage!r}")
        self._leverage[symbol] = float(leverage)
        self._margin_mode[symbol] = margin_mode
        return LeverageSetting(symbol, float(leverage), margin_mode, True)

    async def close(self) -> None:
        """Nothing to release."""


def _touch(book: Book, side: int) -> float:
    """Best present price on the side an order of ``side`` consumes (NaN when none)."""
    px, sz = (book.ask_px, book.ask_sz) if side > 0 else (book.bid_px, book.bid_sz)
    present = px[(px > 0) & (sz > 0)]
    return float(present[0]) if present.size else math.nan


__all__ = ["PaperVenue"]
