"""Numba kernels of the paper fill model: book walks, limit fills, funding, liquidation.

One fill model serves the backtest (called from inside a compiled loop) and the
paper venue (called from Python each cycle), so both produce the same fills bit
for bit. Every kernel is a pure ``@njit(cache=True)`` function: scalars and
arrays in, a :class:`~botcore.fills.enums.FillResult` (or a scalar / array)
out; no I/O, clock, randomness, logging or global state, no ``fastmath`` and a
fixed summation order, so the same inputs always give the same bits.

Contract
--------
Units
    Prices in USDT per base unit. Quantities in base units (``*_base``) or in
    contracts (``*_contracts``), with ``qty_base = qty_contracts *
    contract_size``. Money in USDT (``*_usd``). Fee, funding and margin rates as
    fractions (0.0006 = 0.06 %). Timestamps int64 milliseconds since the Unix
    epoch, UTC. ``side`` is +1 (buy) or -1 (sell); a position is a signed
    ``position_qty_base`` (> 0 long, < 0 short).
Book
    Four 1-D float64 arrays per snapshot, ``bid_px``, ``bid_sz``, ``ask_px``,
    ``ask_sz``, of one common length (10 in the snapshot; any length works),
    best level first (bids descending, asks ascending), sizes in base units
    (already converted from contracts). A level is *absent* when its price or
    size is NaN, infinite or <= 0; absent levels are skipped wherever they are.
    A side with no present level is a missing book: NO_LIQUIDITY. The kernels
    do not check the ordering; the snapshot boundary and
    :mod:`botcore.fills.model` do.
Contract rounding
    ``n_steps = floor(qty_base / (contract_size * contract_step) + 1e-9)``,
    ``qty_contracts = n_steps * contract_step``, ``qty_base = qty_contracts *
    contract_size``. The 1e-9 step tolerance (``QTY_EPS_STEPS``) only absorbs
    binary rounding (0.3 / 0.1); it never rounds up a real shortfall. A
    quantity with ``qty_contracts < min_contracts`` (or 0 steps) is
    BELOW_MINIMUM and does not trade.
Market orders (:func:`fill_market_order_nb`)
    A buy consumes asks from the best level, a sell consumes bids. The fill
    price is the volume-weighted average of the levels consumed: ``price =
    sum(px_i * take_i) / sum(take_i)``; ``notional_usd = price * qty_base``;
    ``fee_usd = notional_usd * taker_fee``; ``slippage_frac = side * (price -
    touch) / touch`` with ``touch`` the best present level. When the book
    holds fewer whole contract steps than the order: exhaust rule PARTIAL
    (default) fills the whole steps the book holds, status PARTIAL (or
    NO_LIQUIDITY when that is zero steps); exhaust rule PENALTY fills the rest
    (``beyond_book_base``) at ``last_level_px * (1 + side * penalty_frac)``,
    status FILLED.
Limit orders (:func:`fill_limit_order_nb`)
    Checked against each bar that opens after submission (the caller passes
    that bar's high and low; it re-checks every later bar while the order
    rests). A buy at ``L`` fills when ``bar_low < L`` (traded through); a
    sell when ``bar_high > L``. A touch (``bar_low == L`` / ``bar_high == L``,
    exact: prices sit on the tick grid) fills when ``queue_draw_nb(queue_key,
    bar_ts) < queue_fill_fraction``, a deterministic uniform draw, so that
    fraction of touches fill and both clocks agree on which ones. All or
    nothing, at ``L``, maker fee. A NaN bound needed by the check is NO_DATA.
Funding (:func:`next_funding_ts_nb`, :func:`funding_times_nb`, :func:`funding_payment_nb`)
    Funding times are the grid ``anchor_ts + k * interval_ms`` (default anchor
    0 and 8 h: 00:00, 08:00, 16:00 UTC; when the data gives
    ``next_funding_ts``, pass it as the anchor). The events settled when the
    clock moves from ``last_ts`` to ``now_ts`` are those in the half-open
    window ``(last_ts, now_ts]``. Ordering rule for both clocks: at time
    ``now``, settle funding for ``(last, now]`` on the position held *before*
    any fill at ``now``; so a position opened exactly at a funding time does
    not pay it, and one closed exactly at a funding time does.
    ``payment_usd = -position_qty_base * mark_price * funding_rate`` (> 0
    received, < 0 paid: longs pay a positive rate, shorts receive it). NaN
    mark or rate gives NaN (missing data is not made up); a flat position
    gives 0.
Liquidation (:func:`liquidation_price_nb`, :func:`liquidation_check_nb`)
    With ``q = |position_qty_base|``, initial margin ``q * entry / leverage``
    and maintenance margin ``q * entry * mmr`` (on the entry notional), the
    position is liquidated when its loss eats its margin buffer down to the
    maintenance margin::

        isolated long : liq = entry * (1 - 1/leverage + mmr)
        isolated short: liq = entry * (1 + 1/leverage - mmr)
        cross long    : liq = entry * (1 - 1/leverage + mmr) - free_equity_usd / q
        cross short   : liq = entry * (1 + 1/leverage - mmr) + free_equity_usd / q

    where ``free_equity_usd`` is the account equity not committed as initial
    margin to any position (the caller recomputes it, and so the cross
    liquidation price, every bar). A long liquidation price below 0 is
    clamped to 0 (never liquidated). The check triggers when the bar's
    traded extreme or the mark reaches the price (long: ``bar_low <= liq`` or
    ``mark <= liq``; short: ``bar_high >= liq`` or ``mark >= liq``; NaN inputs
    are ignored, all NaN is NO_DATA) and closes the whole position at the
    liquidation price with the taker fee, reason LIQUIDATION.
Records
    :func:`write_fill_record_nb` stores a ``FillResult`` (plus id, symbol
    column and time) in a ``fill_dt`` array; :func:`write_funding_record_nb`
    charges one funding event into a ``funding_dt`` array and returns the
    payment. Both dtypes live in :mod:`botcore.fills.enums`.
Codes
    The integer codes used below are written as literals in this module and
    checked against :mod:`botcore.fills.enums` at import (Numba's cache would
    otherwise keep stale constants when only ``enums.py`` changes).
Bad input
    Kernels raise ``ValueError`` naming the argument for invalid parameters
    (side not +-1, non-positive contract size, NaN quantity, mismatched
    book lengths, fee or fraction out of range). Expected outcomes are status
    codes in :data:`~botcore.fills.enums.FillStatuses`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from botcore.fills.enums import (
    QTY_EPS_STEPS,
    ExhaustRules,
    FillReasons,
    FillResult,
    FillStatuses,
    Liquidities,
    MarginModes,
    RoundedQty,
)

# The codes are literals on purpose: Numba's cache keys on this file's source,
# not on the modules it imports, so a code changed only in enums.py would keep
# running stale cached kernels. The check below makes such a change fail at
# import until this file (and with it the cache) is updated too.
_FILLED = 0
_PARTIAL = 1
_NO_LIQUIDITY = 2
_BELOW_MINIMUM = 3
_NOT_FILLED = 4
_NO_DATA = 5
_MARKET = 0
_LIMIT = 1
_LIQUIDATION = 2
_MAKER = 0
_TAKER = 1
_EXHAUST_PARTIAL = 0
_EXHAUST_PENALTY = 1
_ISOLATED = 0
_CROSS = 1
_KERNEL_CODES = (
    (_FILLED, _PARTIAL, _NO_LIQUIDITY, _BELOW_MINIMUM, _NOT_FILLED, _NO_DATA),
    (_MARKET, _LIMIT, _LIQUIDATION),
    (_MAKER, _TAKER),
    (_EXHAUST_PARTIAL, _EXHAUST_PENALTY),
    (_ISOLATED, _CROSS),
    QTY_EPS_STEPS,
)
if _KERNEL_CODES != (
    tuple(FillStatuses), tuple(FillReasons), tuple(Liquidities), tuple(ExhaustRules), tuple(MarginModes), 1e-9
):
    raise ImportError("botcore.fills.nb: kernel codes disagree with botcore.fills.enums; update both")

# --------------------------------------------------------------------------- helpers


@njit(cache=True)
def _no_fill_nb(
    status: int, reason: int, side: int, liquidity: int, requested_contracts: float, fee_rate: float, touch: float
) -> FillResult:
    """Build the result of an attempt that filled nothing."""
    return FillResult(
        status, reason, side, liquidity, requested_contracts,
        0.0, 0.0, np.nan, 0.0, 0.0, fee_rate, touch, np.nan, 0, 0.0,
    )


@njit(cache=True)
def _check_contract_spec_nb(contract_size: float, contract_step: float, min_contracts: float) -> None:
    if not (np.isfinite(contract_size) and contract_size > 0.0):
        raise ValueError("contract_size must be finite and > 0")
    if not (np.isfinite(contract_step) and contract_step > 0.0):
        raise ValueError("contract_step must be finite and > 0")
    if not (np.isfinite(min_contracts) and min_contracts >= 0.0):
        raise ValueError("min_contracts must be finite and >= 0")


@njit(cache=True)
def _check_side_nb(side: int) -> None:
    if side != 1 and side != -1:
        raise ValueError("side must be +1 (buy) or -1 (sell)")


@njit(cache=True)
def _check_rate_nb(rate: float) -> None:
    if not (np.isfinite(rate) and 0.0 <= rate < 1.0):
        raise ValueError("fee rate must be in [0, 1)")


@njit(cache=True)
def _level_present_nb(px: float, sz: float) -> bool:
    return np.isfinite(px) and px > 0.0 and np.isfinite(sz) and sz > 0.0


@njit(cache=True)
def _n_steps_nb(qty_base: float, contract_size: float, contract_step: float) -> float:
    """Whole contract steps in ``qty_base``, rounded down (with the binary-rounding tolerance)."""
    return np.floor(qty_base / (contract_size * contract_step) + QTY_EPS_STEPS)


# --------------------------------------------------------------------------- contract rounding


@njit(cache=True)
def round_contracts_nb(
    qty_base: float, contract_size: float, contract_step: float, min_contracts: float
) -> RoundedQty:
    """Round a base quantity down to whole contract steps and enforce the minimum.

    Parameters
    ----------
    qty_base : float
        Wanted quantity in base units, finite and >= 0.
    contract_size : float
        Base units per contract.
    contract_step : float
        Order size increment, in contracts.
    min_contracts : float
        Smallest order, in contracts.

    Returns
    -------
    RoundedQty
        Status FILLED with the rounded quantity, or BELOW_MINIMUM with zeros.
    """
    _check_contract_spec_nb(contract_size, contract_step, min_contracts)
    if not (np.isfinite(qty_base) and qty_base >= 0.0):
        raise ValueError("qty_base must be finite and >= 0")
    n_steps = _n_steps_nb(qty_base, contract_size, contract_step)
    qty_contracts = n_steps * contract_step
    if n_steps < 1.0 or qty_contracts < min_contracts - QTY_EPS_STEPS * contract_step:
        return RoundedQty(_BELOW_MINIMUM, 0.0, 0.0)
    return RoundedQty(_FILLED, qty_contracts, qty_contracts * contract_size)


# --------------------------------------------------------------------------- market orders


@njit(cache=True)
def book_depth_1d_nb(px: np.ndarray, sz: np.ndarray) -> float:
    """Sum the sizes (base units) of the present levels of one book side."""
    if px.shape[0] != sz.shape[0]:
        raise ValueError("book price and size arrays must have the same length")
    depth = 0.0
    for i in range(px.shape[0]):
        if _level_present_nb(px[i], sz[i]):
            depth += sz[i]
    return depth


@njit(cache=True)
def fill_market_order_nb(
    side: int,
    qty_base: float,
    bid_px: np.ndarray,
    bid_sz: np.ndarray,
    ask_px: np.ndarray,
    ask_sz: np.ndarray,
    contract_size: float,
    contract_step: float,
    min_contracts: float,
    taker_fee: float,
    exhaust_rule: int,
    exhaust_penalty_frac: float,
) -> FillResult:
    """Fill a market order by walking the order book.

    Parameters
    ----------
    side : int
        +1 buy (consumes asks), -1 sell (consumes bids).
    qty_base : float
        Wanted quantity in base units (finite, >= 0); rounded down to the contract step.
    bid_px, bid_sz, ask_px, ask_sz : np.ndarray
        1-D book levels, best first, sizes in base units; NaN levels are absent.
    contract_size, contract_step, min_contracts : float
        The market's contract specification (see :func:`round_contracts_nb`).
    taker_fee : float
        Fee rate on notional, e.g. 0.0006.
    exhaust_rule : int
        An :data:`~botcore.fills.enums.ExhaustRules` code.
    exhaust_penalty_frac : float
        Price penalty for the quantity filled past the book (rule PENALTY), in [0, 1).

    Returns
    -------
    FillResult
        FILLED, PARTIAL, NO_LIQUIDITY or BELOW_MINIMUM; reason MARKET; taker.
    """
    _check_side_nb(side)
    _check_rate_nb(taker_fee)
    if exhaust_rule != _EXHAUST_PARTIAL and exhaust_rule != _EXHAUST_PENALTY:
        raise ValueError("exhaust_rule must be an ExhaustRules code")
    if not (np.isfinite(exhaust_penalty_frac) and 0.0 <= exhaust_penalty_frac < 1.0):
        raise ValueError("exhaust_penalty_frac must be in [0, 1)")
    if bid_px.shape[0] != bid_sz.shape[0]:
        raise ValueError("bid_px and bid_sz must have the same length")
    if ask_px.shape[0] != ask_sz.shape[0]:
        raise ValueError("ask_px and ask_sz must have the same length")

    rounded = round_contracts_nb(qty_base, contract_size, contract_step, min_contracts)
    if rounded.status != _FILLED:
        return _no_fill_nb(_BELOW_MINIMUM, _MARKET, side, _TAKER, 0.0, taker_fee, np.nan)
    requested_contracts = rounded.qty_contracts
    if side == 1:
        px = ask_px
        sz = ask_sz
    else:
        px = bid_px
        sz = bid_sz

    # Depth and touch of the consumed side.
    depth_base = 0.0
    touch = np.nan
    for i in range(px.shape[0]):
        if _level_present_nb(px[i], sz[i]):
            depth_base += sz[i]
            if np.isnan(touch):
                touch = px[i]
    if depth_base == 0.0:
        return _no_fill_nb(_NO_LIQUIDITY, _MARKET, side, _TAKER, requested_contracts, taker_fee, np.nan)

    req_steps = _n_steps_nb(qty_base, contract_size, contract_step)
    depth_steps = _n_steps_nb(depth_base, contract_size, contract_step)
    past_book = False
    status = _FILLED
    fill_steps = req_steps
    if depth_steps < req_steps:
        if exhaust_rule == _EXHAUST_PENALTY:
            past_book = True
        else:
            fill_steps = depth_steps
            status = _PARTIAL
            if fill_steps < 1.0:
                return _no_fill_nb(_NO_LIQUIDITY, _MARKET, side, _TAKER, requested_contracts, taker_fee, touch)
    fill_contracts = fill_steps * contract_step
    fill_base = fill_contracts * contract_size

    # Walk the levels, best first.
    eps_base = QTY_EPS_STEPS * contract_size * contract_step
    remaining = fill_base
    cost = 0.0
    walked = 0.0
    levels_used = 0
    last_px = np.nan
    for i in range(px.shape[0]):
        if remaining <= eps_base:
            break
        if not _level_present_nb(px[i], sz[i]):
            continue
        take = min(sz[i], remaining)
        cost += px[i] * take
        walked += take
        remaining -= take
        levels_used += 1
        last_px = px[i]

    beyond_base = 0.0
    if past_book:
        beyond_base = fill_base - walked
        cost += last_px * (1.0 + side * exhaust_penalty_frac) * beyond_base
        walked += beyond_base
    price = cost / walked
    notional = price * fill_base
    return FillResult(
        status, _MARKET, side, _TAKER, requested_contracts,
        fill_contracts, fill_base, price, notional, notional * taker_fee, taker_fee,
        touch, side * (price - touch) / touch, levels_used, beyond_base,
    )


# --------------------------------------------------------------------------- limit orders


@njit(cache=True)
def _splitmix64_nb(x: np.uint64) -> np.uint64:
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def queue_draw_nb(queue_key: int, bar_ts: int) -> float:
    """Return a deterministic uniform draw in [0, 1) for one resting order on one bar.

    ``u = (splitmix64(splitmix64(queue_key) ^ bar_ts) >> 11) * 2**-53`` on
    unsigned 64-bit integers (two's complement for negatives). Use a key
    both clocks derive from the same inputs (e.g. :func:`queue_key_nb` of the
    symbol column and the submission time), never a random order id.
    """
    h = _splitmix64_nb(_splitmix64_nb(np.uint64(np.int64(queue_key))) ^ np.uint64(np.int64(bar_ts)))
    return float(h >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def queue_key_nb(col: int, submit_ts: int) -> np.int64:
    """Derive a queue key from the symbol column and the order's submission time (ms)."""
    h = _splitmix64_nb(np.uint64(np.int64(col)) ^ _splitmix64_nb(np.uint64(np.int64(submit_ts))))
    return np.int64(h >> np.uint64(1))


@njit(cache=True)
def fill_limit_order_nb(
    side: int,
    qty_base: float,
    limit_price: float,
    bar_high: float,
    bar_low: float,
    contract_size: float,
    contract_step: float,
    min_contracts: float,
    maker_fee: float,
    queue_fill_fraction: float,
    queue_key: int,
    bar_ts: int,
) -> FillResult:
    """Fill a resting limit order against one bar that opened after it was submitted.

    Parameters
    ----------
    side : int
        +1 buy, -1 sell.
    qty_base : float
        Order quantity in base units; rounded down to the contract step.
    limit_price : float
        Limit price, finite and > 0.
    bar_high, bar_low : float
        The bar's traded high and low; only the bound the side needs must be present.
    contract_size, contract_step, min_contracts : float
        The market's contract specification.
    maker_fee : float
        Fee rate on notional, e.g. 0.0002.
    queue_fill_fraction : float
        Share of touches (price equals the limit) that fill, in [0, 1].
    queue_key : int
        Identifies the order for the touch draw (see :func:`queue_draw_nb`).
    bar_ts : int
        The bar's open time, ms since epoch.

    Returns
    -------
    FillResult
        FILLED, NOT_FILLED, NO_DATA or BELOW_MINIMUM; reason LIMIT; maker.
    """
    _check_side_nb(side)
    _check_rate_nb(maker_fee)
    if not (np.isfinite(limit_price) and limit_price > 0.0):
        raise ValueError("limit_price must be finite and > 0")
    if not (0.0 <= queue_fill_fraction <= 1.0):
        raise ValueError("queue_fill_fraction must be in [0, 1]")
    rounded = round_contracts_nb(qty_base, contract_size, contract_step, min_contracts)
    if rounded.status != _FILLED:
        return _no_fill_nb(_BELOW_MINIMUM, _LIMIT, side, _MAKER, 0.0, maker_fee, limit_price)
    bound = bar_low if side == 1 else bar_high
    if np.isnan(bound):
        return _no_fill_nb(_NO_DATA, _LIMIT, side, _MAKER, rounded.qty_contracts, maker_fee, limit_price)
    through = bound < limit_price if side == 1 else bound > limit_price
    filled = through
    if not through and bound == limit_price:
        filled = queue_draw_nb(queue_key, bar_ts) < queue_fill_fraction
    if not filled:
        return _no_fill_nb(_NOT_FILLED, _LIMIT, side, _MAKER, rounded.qty_contracts, maker_fee, limit_price)
    notional = limit_price * rounded.qty_base
    return FillResult(
        _FILLED, _LIMIT, side, _MAKER, rounded.qty_contracts,
        rounded.qty_contracts, rounded.qty_base, limit_price, notional, notional * maker_fee, maker_fee,
        limit_price, 0.0, 0, 0.0,
    )


# --------------------------------------------------------------------------- funding


@njit(cache=True)
def next_funding_ts_nb(after_ts: int, anchor_ts: int, interval_ms: int) -> int:
    """Return the first funding time strictly after ``after_ts`` on the grid ``anchor_ts + k * interval_ms``."""
    if interval_ms <= 0:
        raise ValueError("interval_ms must be > 0")
    k = (after_ts - anchor_ts) // interval_ms + 1   # floor division, also for times before the anchor
    return anchor_ts + k * interval_ms


@njit(cache=True)
def funding_times_nb(last_ts: int, now_ts: int, anchor_ts: int, interval_ms: int) -> np.ndarray:
    """Return the funding times in ``(last_ts, now_ts]``, ascending, as int64 ms.

    The compiled loop may instead step :func:`next_funding_ts_nb` by
    ``interval_ms`` while it is ``<= now_ts``; both give the same events.
    """
    if now_ts < last_ts:
        raise ValueError("now_ts must be >= last_ts")
    first = next_funding_ts_nb(last_ts, anchor_ts, interval_ms)
    if first > now_ts:
        return np.empty(0, dtype=np.int64)
    n = (now_ts - first) // interval_ms + 1
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        out[i] = first + i * interval_ms
    return out


@njit(cache=True)
def funding_payment_nb(position_qty_base: float, mark_price: float, funding_rate: float) -> float:
    """Return the funding cash flow of one event: ``-position_qty_base * mark_price * funding_rate``.

    Positive is received, negative paid. 0 for a flat position; NaN when the
    mark or the rate is missing.
    """
    if position_qty_base == 0.0:
        return 0.0
    return -position_qty_base * mark_price * funding_rate + 0.0   # + 0.0 turns -0.0 into 0.0


# --------------------------------------------------------------------------- liquidation


@njit(cache=True)
def liquidation_price_nb(
    position_qty_base: float,
    entry_price: float,
    leverage: float,
    maintenance_margin_rate: float,
    margin_mode: int,
    free_equity_usd: float,
) -> float:
    """Return the liquidation price of a position (formulas in the module docstring).

    Parameters
    ----------
    position_qty_base : float
        Signed position, > 0 long, < 0 short; NaN result when 0.
    entry_price : float
        Average entry price, finite and > 0.
    leverage : float
        Configured leverage, >= 1.
    maintenance_margin_rate : float
        Maintenance margin as a fraction of the entry notional, in [0, 1).
    margin_mode : int
        A :data:`~botcore.fills.enums.MarginModes` code.
    free_equity_usd : float
        Cross only: account equity not committed as initial margin (ignored for isolated).
    """
    if not (np.isfinite(entry_price) and entry_price > 0.0):
        raise ValueError("entry_price must be finite and > 0")
    if not (np.isfinite(leverage) and leverage >= 1.0):
        raise ValueError("leverage must be finite and >= 1")
    if not (np.isfinite(maintenance_margin_rate) and 0.0 <= maintenance_margin_rate < 1.0):
        raise ValueError("maintenance_margin_rate must be in [0, 1)")
    if margin_mode != _ISOLATED and margin_mode != _CROSS:
        raise ValueError("margin_mode must be a MarginModes code")
    if not np.isfinite(position_qty_base):
        raise ValueError("position_qty_base must be finite")
    if position_qty_base == 0.0:
        return np.nan
    extra = 0.0
    if margin_mode == _CROSS:
        if not np.isfinite(free_equity_usd):
            raise ValueError("free_equity_usd must be finite in cross margin")
        extra = free_equity_usd / abs(position_qty_base)
    if position_qty_base > 0.0:
        liq = entry_price * (1.0 - 1.0 / leverage + maintenance_margin_rate) - extra
        return liq if liq > 0.0 else 0.0
    return entry_price * (1.0 + 1.0 / leverage - maintenance_margin_rate) + extra


@njit(cache=True)
def liquidation_check_nb(
    position_qty_base: float,
    liq_price: float,
    bar_low: float,
    bar_high: float,
    mark_price: float,
    contract_size: float,
    taker_fee: float,
) -> FillResult:
    """Check one bar for liquidation and return the liquidation fill, if any.

    A long is liquidated when ``bar_low <= liq_price`` or ``mark_price <=
    liq_price``; a short when ``bar_high >= liq_price`` or ``mark_price >=
    liq_price``. The fill closes the whole position at ``liq_price`` with
    the taker fee, reason LIQUIDATION. NOT_FILLED when flat, when
    ``liq_price`` is NaN or when not reached; NO_DATA when the bar bound and
    the mark are both NaN.
    """
    _check_rate_nb(taker_fee)
    if not (np.isfinite(contract_size) and contract_size > 0.0):
        raise ValueError("contract_size must be finite and > 0")
    if position_qty_base == 0.0 or np.isnan(position_qty_base) or np.isnan(liq_price):
        return _no_fill_nb(_NOT_FILLED, _LIQUIDATION, 0, _TAKER, 0.0, taker_fee, liq_price)
    side = -1 if position_qty_base > 0.0 else 1
    qty_base = abs(position_qty_base)
    qty_contracts = qty_base / contract_size
    if side == -1:
        bound = bar_low
        hit = bar_low <= liq_price or mark_price <= liq_price
    else:
        bound = bar_high
        hit = bar_high >= liq_price or mark_price >= liq_price
    if not hit:
        status = _NO_DATA if (np.isnan(bound) and np.isnan(mark_price)) else _NOT_FILLED
        return _no_fill_nb(status, _LIQUIDATION, side, _TAKER, qty_contracts, taker_fee, liq_price)
    notional = liq_price * qty_base
    return FillResult(
        _FILLED, _LIQUIDATION, side, _TAKER, qty_contracts,
        qty_contracts, qty_base, liq_price, notional, notional * taker_fee, taker_fee,
        liq_price, 0.0, 0, 0.0,
    )


# --------------------------------------------------------------------------- records


@njit(cache=True)
def write_fill_record_nb(records: np.ndarray, idx: int, fill_id: int, col: int, ts: int, fill: FillResult) -> None:
    """Write ``fill`` into ``records[idx]`` (a :data:`~botcore.fills.enums.fill_dt` array)."""
    rec = records[idx]
    rec["id"] = fill_id
    rec["col"] = col
    rec["ts"] = ts
    rec["status"] = fill.status
    rec["reason"] = fill.reason
    rec["side"] = fill.side
    rec["liquidity"] = fill.liquidity
    rec["requested_contracts"] = fill.requested_contracts
    rec["qty_contracts"] = fill.qty_contracts
    rec["qty_base"] = fill.qty_base
    rec["price"] = fill.price
    rec["notional_usd"] = fill.notional_usd
    rec["fee_usd"] = fill.fee_usd
    rec["fee_rate"] = fill.fee_rate
    rec["touch_price"] = fill.touch_price
    rec["slippage_frac"] = fill.slippage_frac
    rec["levels_used"] = fill.levels_used
    rec["beyond_book_base"] = fill.beyond_book_base


@njit(cache=True)
def write_funding_record_nb(
    records: np.ndarray,
    idx: int,
    funding_id: int,
    col: int,
    ts: int,
    position_qty_base: float,
    mark_price: float,
    funding_rate: float,
) -> float:
    """Charge one funding event into ``records[idx]`` (a ``funding_dt`` array); return ``payment_usd``."""
    payment = funding_payment_nb(position_qty_base, mark_price, funding_rate)
    rec = records[idx]
    rec["id"] = funding_id
    rec["col"] = col
    rec["ts"] = ts
    rec["position_qty_base"] = position_qty_base
    rec["mark_price"] = mark_price
    rec["funding_rate"] = funding_rate
    rec["notional_usd"] = abs(position_qty_base) * mark_price
    rec["payment_usd"] = payment
    return payment
