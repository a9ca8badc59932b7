"""Market orders: book walk, slippage from depth, exhaustion, fees, contract rounding.

Every expected number is computed by hand in the comments. The book used by
most cases (contract_size 0.001 base per contract, as BTC):

    asks: 100.0 x 1.0 | 100.5 x 2.0 | 101.0 x 3.0 | NaN ...   (depth 6.0)
    bids:  99.5 x 1.0 |  99.0 x 2.0 |  98.0 x 3.0 | NaN ...   (depth 6.0)
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botcore.fills import nb
from botcore.fills.enums import ExhaustRules, FillReasons, FillStatuses, Liquidities

NAN = np.nan
TAKER = 0.0006
BTC = (0.001, 1.0, 1.0)  # contract_size, contract_step, min_contracts


def pad(values, n=10):
    return np.array(list(values) + [NAN] * (n - len(values)), dtype=np.float64)


ASK_PX = pad([100.0, 100.5, 101.0])
ASK_SZ = pad([1.0, 2.0, 3.0])
BID_PX = pad([99.5, 99.0, 98.0])
BID_SZ = pad([1.0, 2.0, 3.0])


def market(side, qty, *, book=(BID_PX, BID_SZ, ASK_PX, ASK_SZ), spec=BTC, rule=ExhaustRules.partial, penalty=0.0):
    return nb.fill_market_order_nb(side, float(qty), *book, *spec, TAKER, rule, penalty)


# --------------------------------------------------------------------------- depth


def test_buy_within_the_best_level_fills_at_the_touch_without_slippage():
    # 0.6 @ 100.0 = 60.0 notional; fee 60.0 * 0.0006 = 0.036; 0.6 / 0.001 = 600 contracts
    r = market(1, 0.6)
    assert r.status == FillStatuses.filled
    assert r.reason == FillReasons.market and r.liquidity == Liquidities.taker
    assert r.qty_contracts == 600 and r.qty_base == pytest.approx(0.6, rel=1e-15)
    assert r.price == 100.0
    assert r.notional_usd == pytest.approx(60.0, rel=1e-14)
    assert r.fee_usd == pytest.approx(0.036, rel=1e-14)
    assert r.slippage_frac == 0.0 and r.levels_used == 1 and r.touch_price == 100.0


def test_buy_across_two_levels_pays_the_volume_weighted_price():
    # 1.0 @ 100.0 + 1.0 @ 100.5 = 200.5; vwap 200.5 / 2 = 100.25
    # fee 200.5 * 0.0006 = 0.1203; slippage (100.25 - 100) / 100 = 0.0025
    r = market(1, 2.0)
    assert r.status == FillStatuses.filled and r.qty_contracts == 2000
    assert r.price == pytest.approx(100.25, rel=1e-15)
    assert r.notional_usd == pytest.approx(200.5, rel=1e-14)
    assert r.fee_usd == pytest.approx(0.1203, rel=1e-13)
    assert r.slippage_frac == pytest.approx(0.0025, rel=1e-12)
    assert r.levels_used == 2


def test_buy_across_three_levels_pays_the_volume_weighted_price():
    # 1.0 @ 100 + 2.0 @ 100.5 + 1.5 @ 101 = 100 + 201 + 151.5 = 452.5; vwap 452.5 / 4.5 = 100.5555...
    # fee 452.5 * 0.0006 = 0.2715; slippage 0.5555... / 100 = 0.005555...
    r = market(1, 4.5)
    assert r.status == FillStatuses.filled and r.qty_contracts == 4500
    assert r.price == pytest.approx(452.5 / 4.5, rel=1e-14)
    assert r.notional_usd == pytest.approx(452.5, rel=1e-14)
    assert r.fee_usd == pytest.approx(0.2715, rel=1e-13)
    assert r.slippage_frac == pytest.approx((452.5 / 4.5 - 100.0) / 100.0, rel=1e-12)
    assert r.levels_used == 3


def test_sell_consumes_bids_from_the_best_level():
    # 1.0 @ 99.5 + 2.0 @ 99.0 + 2.0 @ 98.0 = 99.5 + 198 + 196 = 493.5; vwap 493.5 / 5 = 98.7
    # slippage = -1 * (98.7 - 99.5) / 99.5 = 0.8 / 99.5; fee 493.5 * 0.0006 = 0.2961
    r = market(-1, 5.0)
    assert r.status == FillStatuses.filled and r.side == -1 and r.qty_contracts == 5000
    assert r.price == pytest.approx(98.7, rel=1e-14)
    assert r.slippage_frac == pytest.approx(0.8 / 99.5, rel=1e-12)
    assert r.fee_usd == pytest.approx(0.2961, rel=1e-13)
    assert r.touch_price == 99.5 and r.levels_used == 3


def test_slippage_grows_with_size_on_the_same_book():
    prices = [market(1, q).price for q in (0.5, 1.5, 3.0, 6.0)]
    assert prices == sorted(prices) and prices[0] < prices[-1]


# --------------------------------------------------------------------------- exhaustion


def test_book_exhaustion_fills_partially_by_default():
    # buy 7.0 against 6.0 of asks: 100 + 201 + 303 = 604 for 6.0; vwap 604 / 6 = 100.6666...
    r = market(1, 7.0)
    assert r.status == FillStatuses.partial
    assert r.requested_contracts == 7000 and r.qty_contracts == 6000
    assert r.qty_base == pytest.approx(6.0, rel=1e-15)
    assert r.price == pytest.approx(604.0 / 6.0, rel=1e-14)
    assert r.fee_usd == pytest.approx(604.0 * 0.0006, rel=1e-13)
    assert r.beyond_book_base == 0.0 and r.levels_used == 3


def test_book_exhaustion_with_penalty_fills_the_rest_past_the_last_level():
    # buy 7.0, penalty 1 %: 604 for the book's 6.0, then 1.0 @ 101 * 1.01 = 102.01
    # total 706.01 / 7 = 100.858571...; status FILLED, 1.0 base beyond the book
    r = market(1, 7.0, rule=ExhaustRules.penalty, penalty=0.01)
    assert r.status == FillStatuses.filled and r.qty_contracts == 7000
    assert r.price == pytest.approx(706.01 / 7.0, rel=1e-14)
    assert r.fee_usd == pytest.approx(706.01 * 0.0006, rel=1e-13)
    assert r.beyond_book_base == pytest.approx(1.0, rel=1e-12)


def test_sell_penalty_lowers_the_price_past_the_last_bid():
    # sell 8.0, penalty 1 %: 99.5 + 198 + 294 = 591.5 for 6.0, then 2.0 @ 98 * 0.99 = 97.02 -> 194.04
    # total 785.54 / 8 = 98.1925
    r = market(-1, 8.0, rule=ExhaustRules.penalty, penalty=0.01)
    assert r.status == FillStatuses.filled
    assert r.price == pytest.approx(98.1925, rel=1e-14)
    assert r.beyond_book_base == pytest.approx(2.0, rel=1e-12)


def test_partial_fill_is_rounded_down_to_whole_contracts():
    # contract_size 1: asks 10.0 x 2.5 -> only 2 whole contracts can fill; 2 @ 10 = 20
    book = (pad([9.0]), pad([5.0]), pad([10.0]), pad([2.5]))
    r = market(1, 5.0, book=book, spec=(1.0, 1.0, 1.0))
    assert r.status == FillStatuses.partial and r.qty_contracts == 2 and r.qty_base == 2.0
    assert r.price == 10.0 and r.notional_usd == 20.0


def test_book_thinner_than_one_contract_is_no_liquidity():
    book = (pad([9.0]), pad([5.0]), pad([10.0]), pad([0.5]))
    r = market(1, 5.0, book=book, spec=(1.0, 1.0, 1.0))
    assert r.status == FillStatuses.no_liquidity and r.qty_contracts == 0 and r.fee_usd == 0.0


# --------------------------------------------------------------------------- missing data


def test_missing_book_is_no_liquidity_and_fills_nothing():
    empty = pad([])
    for rule in (ExhaustRules.partial, ExhaustRules.penalty):
        r = market(1, 1.0, book=(empty, empty, empty, empty), rule=rule, penalty=0.01)
        assert r.status == FillStatuses.no_liquidity
        assert r.qty_contracts == 0 and r.qty_base == 0 and r.fee_usd == 0 and r.notional_usd == 0
        assert math.isnan(r.price) and math.isnan(r.touch_price)
        assert r.requested_contracts == 1000


def test_missing_ask_side_blocks_buys_but_not_sells():
    empty = pad([])
    book = (BID_PX, BID_SZ, empty, empty)
    assert market(1, 1.0, book=book).status == FillStatuses.no_liquidity
    assert market(-1, 1.0, book=book).status == FillStatuses.filled


def test_nan_and_empty_levels_are_skipped_wherever_they_are():
    # level 0 has a NaN price, level 2 a NaN size, level 3 size 0: present are 100 x 1 and 101 x 1
    # buy 2.0 -> 100 + 101 = 201, vwap 100.5, touch 100
    ask_px = pad([NAN, 100.0, 100.5, 100.7, 101.0])
    ask_sz = pad([5.0, 1.0, NAN, 0.0, 1.0])
    r = market(1, 2.0, book=(BID_PX, BID_SZ, ask_px, ask_sz))
    assert r.status == FillStatuses.filled
    assert r.price == pytest.approx(100.5, rel=1e-15) and r.touch_price == 100.0 and r.levels_used == 2


# --------------------------------------------------------------------------- rounding and bad input


def test_quantity_is_rounded_down_to_the_contract_step():
    # 0.0123 BTC / 0.001 = 12.3 contracts -> 12 contracts = 0.012 BTC; 0.012 @ 100 = 1.2
    r = market(1, 0.0123)
    assert r.requested_contracts == 12 and r.qty_contracts == 12
    assert r.qty_base == pytest.approx(0.012, rel=1e-15)
    assert r.notional_usd == pytest.approx(1.2, rel=1e-14)


def test_order_below_the_minimum_is_not_sent_to_the_book():
    # 0.0009 BTC = 0.9 contracts -> 0 whole contracts; and 4 contracts under a 5-contract minimum
    r = market(1, 0.0009)
    assert r.status == FillStatuses.below_minimum and r.qty_contracts == 0 and r.fee_usd == 0
    r = market(1, 0.004, spec=(0.001, 1.0, 5.0))
    assert r.status == FillStatuses.below_minimum


def test_round_contracts_absorbs_binary_rounding_but_never_rounds_up():
    # 0.3 / 0.1 = 2.9999999999999996 in binary: that is 3 contracts, not 2
    r = nb.round_contracts_nb(0.3, 0.1, 1.0, 1.0)
    assert r.status == FillStatuses.filled and r.qty_contracts == 3
    # 0.2999 / 0.1 = 2.999: 2 contracts
    assert nb.round_contracts_nb(0.2999, 0.1, 1.0, 1.0).qty_contracts == 2
    # step 0.1 contract, min 0.5: 0.77 base / (1 * 0.1) = 7.7 steps -> 7 steps = 0.7 contracts
    r = nb.round_contracts_nb(0.77, 1.0, 0.1, 0.5)
    assert r.status == FillStatuses.filled and r.qty_contracts == pytest.approx(0.7, rel=1e-15)
    # 0.37 -> 3 steps = 0.3 contracts < 0.5 minimum
    assert nb.round_contracts_nb(0.37, 1.0, 0.1, 0.5).status == FillStatuses.below_minimum
    # exactly the minimum passes
    assert nb.round_contracts_nb(0.5, 1.0, 0.1, 0.5).status == FillStatuses.filled


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"side": 0}, "side"),
        ({"qty": NAN}, "qty_base"),
        ({"qty": -1.0}, "qty_base"),
        ({"spec": (0.0, 1.0, 1.0)}, "contract_size"),
        ({"penalty": 1.5}, "exhaust_penalty_frac"),
        ({"rule": 7}, "exhaust_rule"),
    ],
)
def test_bad_parameters_raise_naming_the_argument(kwargs, message):
    args = {"side": 1, "qty": 1.0, "spec": BTC, "rule": ExhaustRules.partial, "penalty": 0.0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        market(args["side"], args["qty"], spec=args["spec"], rule=args["rule"], penalty=args["penalty"])


def test_mismatched_book_lengths_raise():
    with pytest.raises(ValueError, match="ask_px and ask_sz"):
        market(1, 1.0, book=(BID_PX, BID_SZ, ASK_PX, ASK_SZ[:5].copy()))


# --------------------------------------------------------------------------- reference


def reference_market_order(side, qty_base, bid_px, bid_sz, ask_px, ask_sz, size, step, min_c, fee, rule, penalty):
    """Slow, obvious book walk in exact fractions, following the nb.py contract line by line."""
    eps = 1e-9
    req_steps = math.floor(qty_base / (size * step) + eps)
    if req_steps < 1 or req_steps * step < min_c - eps * step:
        return {"status": FillStatuses.below_minimum, "qty_contracts": 0.0}
    px, sz = (ask_px, ask_sz) if side == 1 else (bid_px, bid_sz)
    levels = [
        (float(p), float(s)) for p, s in zip(px, sz) if math.isfinite(p) and p > 0 and math.isfinite(s) and s > 0
    ]
    if not levels:
        return {"status": FillStatuses.no_liquidity, "qty_contracts": 0.0}
    depth = 0.0
    for _, s in levels:
        depth += s
    depth_steps = math.floor(depth / (size * step) + eps)
    status, fill_steps, past_book = FillStatuses.filled, req_steps, False
    if depth_steps < req_steps:
        if rule == ExhaustRules.penalty:
            past_book = True
        else:
            status, fill_steps = FillStatuses.partial, depth_steps
            if fill_steps < 1:
                return {"status": FillStatuses.no_liquidity, "qty_contracts": 0.0}
    fill_contracts = fill_steps * step
    fill_base = fill_contracts * size
    remaining, cost, used, last = Fraction(fill_base), Fraction(0), 0, None
    tolerance = Fraction(eps * size * step)
    for p, s in levels:
        if remaining <= tolerance:
            break
        take = min(Fraction(s), remaining)
        cost += Fraction(p) * take
        remaining -= take
        used += 1
        last = p
    walked = Fraction(fill_base) - remaining
    beyond = Fraction(0)
    if past_book:
        beyond = remaining
        cost += Fraction(last) * (1 + side * Fraction(penalty)) * beyond
        walked += beyond
    price = float(cost / walked)
    return {
        "status": status,
        "qty_contracts": fill_contracts,
        "qty_base": fill_base,
        "price": price,
        "fee_usd": price * fill_base * fee,
        "levels_used": used,
        "beyond_book_base": float(beyond),
        "touch_price": levels[0][0],
    }


@st.composite
def books(draw):
    size = draw(st.sampled_from([0.001, 0.01, 0.1, 1.0, 10.0, 1000.0]))
    step = draw(st.sampled_from([1.0, 1.0, 0.1]))
    n = draw(st.integers(1, 10))
    mid = draw(st.floats(0.01, 100_000.0))
    tick = mid * draw(st.sampled_from([1e-5, 1e-4, 1e-3]))

    def side_levels(sign):
        gaps = draw(st.lists(st.integers(1, 20), min_size=n, max_size=n))
        px = [mid + sign * tick * sum(gaps[: i + 1]) for i in range(n)]
        contracts = draw(st.lists(st.integers(1, 60), min_size=n, max_size=n))
        sz = [c * size * (step if draw(st.booleans()) else 1.0) for c in contracts]
        holes = draw(st.lists(st.sampled_from(["ok", "ok", "ok", "nan_px", "nan_sz", "zero"]), min_size=n, max_size=n))
        for i, h in enumerate(holes):
            if h == "nan_px":
                px[i] = NAN
            elif h == "nan_sz":
                sz[i] = NAN
            elif h == "zero":
                sz[i] = 0.0
        return pad(px), pad(sz)

    bid_px, bid_sz = side_levels(-1)
    ask_px, ask_sz = side_levels(1)
    return size, step, bid_px, bid_sz, ask_px, ask_sz


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    book=books(),
    side=st.sampled_from([1, -1]),
    contracts=st.one_of(st.floats(1.0, 60.0), st.floats(0.0, 400.0)),
    rule=st.sampled_from([ExhaustRules.partial, ExhaustRules.penalty]),
    penalty=st.sampled_from([0.0, 0.001, 0.05]),
    min_c=st.sampled_from([0.1, 1.0, 3.0]),
)
def test_book_walk_agrees_with_the_reference_on_random_books(book, side, contracts, rule, penalty, min_c):
    size, step, bid_px, bid_sz, ask_px, ask_sz = book
    qty_base = contracts * size
    got = nb.fill_market_order_nb(side, qty_base, bid_px, bid_sz, ask_px, ask_sz, size, step, min_c, TAKER, rule, penalty)
    want = reference_market_order(side, qty_base, bid_px, bid_sz, ask_px, ask_sz, size, step, min_c, TAKER, rule, penalty)
    assert got.status == want["status"]
    assert got.qty_contracts == want["qty_contracts"]
    if want["status"] in (FillStatuses.filled, FillStatuses.partial):
        assert got.qty_base == want["qty_base"]
        assert got.price == pytest.approx(want["price"], rel=1e-12)
        assert got.fee_usd == pytest.approx(want["fee_usd"], rel=1e-12)
        assert got.levels_used == want["levels_used"]
        assert got.beyond_book_base == pytest.approx(want["beyond_book_base"], rel=1e-9, abs=1e-12 * size)
        assert got.touch_price == want["touch_price"]
        assert got.slippage_frac >= -1e-12   # best-first books never fill better than the touch
        assert got.notional_usd == got.price * got.qty_base
    else:
        assert got.qty_base == 0.0 and got.fee_usd == 0.0 and math.isnan(got.price)
