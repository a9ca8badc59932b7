"""Funding: sign of the payment, and exactly which funding times a window charges."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botcore.fills import nb
from botcore.fills.enums import FUNDING_ANCHOR_MS, FUNDING_INTERVAL_MS, funding_dt

H = 3_600_000
MIN = 60_000
DAY0 = 1_704_067_200_000   # 2024-01-01 00:00:00 UTC


def ms(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value // 1_000_000)


def times(last, now, anchor=FUNDING_ANCHOR_MS, interval=FUNDING_INTERVAL_MS):
    return [int(t) for t in nb.funding_times_nb(last, now, anchor, interval)]


# --------------------------------------------------------------------------- sign


def test_long_pays_a_positive_rate():
    # -(+2 BTC) * 60,000 * 0.0001 = -12.0 (paid)
    assert nb.funding_payment_nb(2.0, 60_000.0, 0.0001) == pytest.approx(-12.0, rel=1e-15)


def test_short_receives_a_positive_rate():
    # -(-2 BTC) * 60,000 * 0.0001 = +12.0 (received)
    assert nb.funding_payment_nb(-2.0, 60_000.0, 0.0001) == pytest.approx(12.0, rel=1e-15)


def test_negative_rate_pays_longs_and_charges_shorts():
    # long 1 @ mark 50,000, rate -0.0002: -(1) * 50,000 * -0.0002 = +10; short: -10
    assert nb.funding_payment_nb(1.0, 50_000.0, -0.0002) == pytest.approx(10.0, rel=1e-15)
    assert nb.funding_payment_nb(-1.0, 50_000.0, -0.0002) == pytest.approx(-10.0, rel=1e-15)


def test_funding_uses_the_mark_price_not_the_entry():
    # same 0.5 BTC long, rate 0.0001: at mark 40,000 pays 2.0, at mark 80,000 pays 4.0
    assert nb.funding_payment_nb(0.5, 40_000.0, 0.0001) == pytest.approx(-2.0, rel=1e-15)
    assert nb.funding_payment_nb(0.5, 80_000.0, 0.0001) == pytest.approx(-4.0, rel=1e-15)


def test_flat_position_pays_nothing_and_missing_inputs_are_nan():
    assert nb.funding_payment_nb(0.0, np.nan, 0.0001) == 0.0
    assert math.copysign(1.0, nb.funding_payment_nb(1.0, 100.0, 0.0)) == 1.0   # +0.0, not -0.0
    assert math.isnan(nb.funding_payment_nb(1.0, np.nan, 0.0001))
    assert math.isnan(nb.funding_payment_nb(1.0, 100.0, np.nan))


def test_funding_record_holds_the_event():
    records = np.zeros(1, dtype=funding_dt)
    paid = nb.write_funding_record_nb(records, 0, 3, 1, ms("2024-01-01 08:00"), -0.5, 40_000.0, 0.0001)
    # -(-0.5) * 40,000 * 0.0001 = +2.0; notional 0.5 * 40,000 = 20,000
    assert paid == pytest.approx(2.0, rel=1e-15)
    rec = records[0]
    assert (rec["id"], rec["col"], rec["ts"]) == (3, 1, ms("2024-01-01 08:00"))
    assert rec["notional_usd"] == 20_000.0 and rec["payment_usd"] == paid


# --------------------------------------------------------------------------- timing


def test_default_grid_is_00_08_16_utc():
    got = times(ms("2024-01-01 00:00"), ms("2024-01-02 00:00"))
    assert got == [ms("2024-01-01 08:00"), ms("2024-01-01 16:00"), ms("2024-01-02 00:00")]
    assert got[0] == DAY0 + 8 * H


def test_window_is_open_at_the_start_and_closed_at_the_end():
    t8 = ms("2024-01-01 08:00")
    assert times(t8 - MIN, t8) == [t8]        # (07:59, 08:00] holds 08:00
    assert times(t8, t8 + MIN) == []          # (08:00, 08:01] does not
    assert times(t8, t8) == []                # empty window


def test_one_minute_cycles_across_a_funding_time_charge_it_exactly_once():
    t8 = ms("2024-01-01 08:00")
    ticks = [t8 - 2 * MIN + 17_000 + i * MIN for i in range(5)]    # 07:58:17 ... 08:02:17
    charged = [t for a, b in zip(ticks, ticks[1:]) for t in times(a, b)]
    assert charged == [t8]


def test_position_opened_exactly_at_a_funding_time_does_not_pay_it():
    # opened 08:00 (settled before the fill: the position was flat at 08:00), held to 16:30:
    # the window since the open is (08:00, 16:30] -> only 16:00
    t_open, t_now = ms("2024-01-01 08:00"), ms("2024-01-01 16:30")
    assert times(t_open, t_now) == [ms("2024-01-01 16:00")]


def test_position_closed_exactly_at_a_funding_time_pays_it():
    # opened 09:00, closed 16:00: (09:00, 16:00] holds 16:00, settled before the closing fill
    assert times(ms("2024-01-01 09:00"), ms("2024-01-01 16:00")) == [ms("2024-01-01 16:00")]


def test_next_funding_ts_from_the_data_anchors_the_grid():
    # data says the next funding is 01:00: events at 01:00, 09:00, 17:00
    anchor = ms("2024-01-01 01:00")
    got = times(ms("2024-01-01 00:30"), ms("2024-01-01 23:59"), anchor=anchor)
    assert got == [ms("2024-01-01 01:00"), ms("2024-01-01 09:00"), ms("2024-01-01 17:00")]
    # a 4 h market
    got = times(ms("2024-01-01 00:00"), ms("2024-01-01 12:00"), anchor=anchor, interval=4 * H)
    assert got == [ms("2024-01-01 01:00"), ms("2024-01-01 05:00"), ms("2024-01-01 09:00")]


def test_next_funding_ts_is_strictly_after():
    t8 = ms("2024-01-01 08:00")
    assert nb.next_funding_ts_nb(t8, 0, FUNDING_INTERVAL_MS) == t8 + 8 * H
    assert nb.next_funding_ts_nb(t8 - 1, 0, FUNDING_INTERVAL_MS) == t8
    # before the anchor: floor division still lands on the grid
    assert nb.next_funding_ts_nb(-1, 0, FUNDING_INTERVAL_MS) == 0
    assert nb.next_funding_ts_nb(-8 * H - 1, 0, FUNDING_INTERVAL_MS) == -8 * H


def test_bad_windows_raise():
    with pytest.raises(ValueError, match="now_ts"):
        nb.funding_times_nb(10, 5, 0, FUNDING_INTERVAL_MS)
    with pytest.raises(ValueError, match="interval_ms"):
        nb.funding_times_nb(0, 5, 0, 0)


@settings(max_examples=200, deadline=None)
@given(
    start=st.integers(DAY0 - 30 * 24 * H, DAY0 + 30 * 24 * H),
    cuts=st.lists(st.integers(0, 5 * 24 * H), min_size=0, max_size=12),
    length=st.integers(0, 5 * 24 * H),
    anchor=st.integers(-10 * H, 10 * H),
    interval=st.sampled_from([H, 4 * H, 8 * H]),
)
def test_any_split_of_a_window_charges_each_event_exactly_once(start, cuts, length, anchor, interval):
    end = start + length
    bounds = [start] + sorted(start + c for c in cuts if c <= length) + [end]
    pieces = [t for a, b in zip(bounds, bounds[1:]) for t in times(a, b, anchor, interval)]
    whole = times(start, end, anchor, interval)
    assert pieces == whole
    # the reference: every grid time in (start, end], by brute force over the grid
    k0 = (start - anchor) // interval - 1
    grid = [anchor + k * interval for k in range(k0, k0 + length // interval + 4)]
    assert whole == [t for t in grid if start < t <= end]
    # stepping next_funding_ts (what a compiled loop does) gives the same events
    stepped, t = [], nb.next_funding_ts_nb(start, anchor, interval)
    while t <= end:
        stepped.append(t)
        t += interval
    assert stepped == whole
