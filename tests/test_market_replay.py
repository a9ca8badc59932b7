"""ReplayFeed: snapshots as a live feed would have seen them; no look-ahead; paced clock."""

from __future__ import annotations

import numpy as np
import pytest

from botcore.errors import DataError
from botcore.market.replay import ReplayFeed
from botcore.market.sample import DEFAULT_START_MS, generate_sample_market
from botcore.market.snapshot import snapshot_at
from botcore.market.store import TIMEFRAME_MS, Store

MIN = 60_000
HOUR = 3_600_000
SYMBOLS = ("BTC/USDT:USDT", "DOGE/USDT:USDT", "LINK/USDT:USDT")
CUT = DEFAULT_START_MS + 30 * HOUR + 17 * MIN + 30_000  # mid-minute, mid-bar on every timeframe above 1m


@pytest.fixture(scope="module")
def full(tmp_path_factory, settings) -> Store:
    return Store(generate_sample_market(tmp_path_factory.mktemp("replay"), 2.5, 21, settings).out_dir)


@pytest.fixture(scope="module")
def truncated(full, tmp_path_factory) -> Store:
    """The same market as if recording had stopped at CUT: every row with ts <= CUT, nothing after.

    It keeps the 1m bar that opened before CUT but had not closed, exactly as
    a live recorder would hold a bar still forming.
    """
    store = Store(tmp_path_factory.mktemp("truncated"))
    for kind in full.kinds():
        for sym in full.symbols(kind):
            df = full.read(kind, sym, end_ms=CUT)
            if len(df):
                store.write(kind, sym, df)
    assert store.read("candles_1m", "BTC/USDT:USDT")["ts"].iloc[-1] + MIN > CUT  # an unclosed bar is present
    return store


def test_a_snapshot_at_t_is_the_same_whether_the_store_ends_at_t_or_later(full, truncated, settings):
    times = [CUT - 3 * HOUR, CUT - 61 * MIN, CUT - 30_000, CUT]
    for sym in SYMBOLS:
        for t in times:
            assert snapshot_at(full, sym, t, settings) == snapshot_at(truncated, sym, t, settings), (sym, t)
    start = CUT - 40 * MIN
    a = ReplayFeed(full, SYMBOLS, start, CUT, staleness=settings)
    b = ReplayFeed(truncated, SYMBOLS, start, CUT, staleness=settings)
    n = 0
    for ca, cb in zip(a, b, strict=True):
        assert ca.t_ms == cb.t_ms
        assert ca.snapshots == cb.snapshots
        n += 1
    assert n == len(a) == 41
    # a replay of the full store that runs on past CUT agrees at every time up to CUT
    longer = ReplayFeed(full, SYMBOLS, start, CUT + 2 * HOUR, staleness=settings)
    for t in (start, CUT - 7 * MIN - 15_000, CUT):
        assert longer.at(t).snapshots == b.at(t).snapshots, t


def test_replay_uses_only_rows_known_by_the_cycle_time(full, settings):
    feed = ReplayFeed(full, SYMBOLS, CUT - 10 * MIN, CUT + 10 * MIN, cycle_ms=30_000, staleness=settings)
    for cycle in feed:
        t = cycle.t_ms
        for sym, snap in cycle.snapshots.items():
            assert snap.ts_ms == t and snap.symbol == sym
            for name in ("book", "mark", "open_interest", "liquidations", "taker", "funding", "fear_greed", "social"):
                known = snap.known_ms(name)
                assert known is not None and known <= t
            for tf, bars in snap.candles.items():
                assert bars.ts_ms[-1] + TIMEFRAME_MS[tf] <= t
                # the newest bar is the newest closed by t: the next one has not closed
                assert bars.ts_ms[-1] + 2 * TIMEFRAME_MS[tf] > t
            assert snap.taker_history.ts_ms[-1] + MIN <= t


def test_replay_equals_direct_snapshots_and_does_not_depend_on_its_start(full, settings):
    t = CUT - 5 * MIN
    early = ReplayFeed(full, SYMBOLS, t - 6 * HOUR, t + HOUR, staleness=settings)
    late = ReplayFeed(full, SYMBOLS, t, t, staleness=settings)
    assert early.at(t).snapshots == late.at(t).snapshots
    assert early.at(t).snapshots["DOGE/USDT:USDT"] == snapshot_at(full, "DOGE/USDT:USDT", t, settings)


def test_cycles_come_in_time_order_with_every_symbol_and_an_array_form(full, settings):
    start = DEFAULT_START_MS + 6 * HOUR
    feed = ReplayFeed(full, SYMBOLS, start, start + 5 * MIN, staleness=settings)
    cycles = list(feed)
    assert [c.t_ms for c in cycles] == list(range(start, start + 6 * MIN, MIN))
    assert all(tuple(c.snapshots) == SYMBOLS for c in cycles)
    assert all(not s.missing for c in cycles for s in c.snapshots.values())
    arrays = cycles[-1].arrays(lookback_bars=32)
    assert arrays.symbols == SYMBOLS and arrays.candles.shape == (5, 3, 32, 5)
    assert not np.isnan(arrays.values).any()


def test_speed_paces_cycles_against_the_wall_clock(full, settings):
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    start = DEFAULT_START_MS + 6 * HOUR
    feed = ReplayFeed(full, SYMBOLS[:1], start, start + 3 * MIN, speed=60.0, staleness=settings, clock=lambda: now[0], sleep=sleep)
    assert len(list(feed)) == 4
    assert slept == pytest.approx([1.0, 1.0, 1.0])  # one simulated minute per wall-clock second
    fast = ReplayFeed(full, SYMBOLS[:1], start, start + 3 * MIN, staleness=settings, clock=lambda: now[0], sleep=sleep)
    slept.clear()
    list(fast)
    assert slept == []


def test_bad_arguments_raise_naming_the_field(full, settings):
    with pytest.raises(DataError, match="end_ms"):
        ReplayFeed(full, SYMBOLS, CUT, CUT - 1, staleness=settings)
    with pytest.raises(DataError, match="speed"):
        ReplayFeed(full, SYMBOLS, CUT, CUT, speed=0, staleness=settings)
    with pytest.raises(DataError, match="cycle_ms"):
        ReplayFeed(full, SYMBOLS, CUT, CUT, cycle_ms=0, staleness=settings)
    with pytest.raises(DataError, match="t_ms"):
        ReplayFeed(full, SYMBOLS, CUT, CUT, staleness=settings).at(CUT + 1)
