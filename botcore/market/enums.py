"""Indices of the array form of market snapshots (see :func:`botcore.market.snapshot.to_arrays`)."""

from __future__ import annotations

from typing import NamedTuple

TIMEFRAMES: tuple[str, ...] = ("1m", "5m", "15m", "1h", "4h")


class InputId(NamedTuple):
    """Column of each snapshot input in ``SnapshotArrays.missing`` / ``known_ms``."""

    candles_1m: int = 0
    candles_5m: int = 1
    candles_15m: int = 2
    candles_1h: int = 3
    candles_4h: int = 4
    book: int = 5
    mark: int = 6
    funding: int = 7
    open_interest: int = 8
    liquidations: int = 9
    taker: int = 10
    fear_greed: int = 11
    social: int = 12


Inputs = InputId()
INPUT_NAMES: tuple[str, ...] = InputId._fields
N_INPUTS = len(INPUT_NAMES)

#: staleness key of ``settings.signals.max_staleness_seconds`` for each input (mark ages like candles)
STALENESS_KEY: dict[str, str] = {
    **{f"candles_{tf}": "candles" for tf in TIMEFRAMES},
    "book": "book",
    "mark": "candles",
    "funding": "funding",
    "open_interest": "open_interest",
    "liquidations": "liquidations",
    "taker": "taker",
    "fear_greed": "fear_greed",
    "social": "social",
}


class SnapFieldId(NamedTuple):
    """Column of each scalar in ``SnapshotArrays.values`` (NaN when its input is missing)."""

    mark_price: int = 0
    best_bid: int = 1
    best_ask: int = 2
    mid_price: int = 3
    spread_bps: int = 4
    funding_rate: int = 5
    next_funding_ts_ms: int = 6
    oi_usd: int = 7
    long_liq_usd: int = 8
    short_liq_usd: int = 9
    taker_buy_base: int = 10
    taker_sell_base: int = 11
    fear_greed: int = 12
    social_mentions: int = 13
    social_tone: int = 14


SnapFields = SnapFieldId()
N_SNAP_FIELDS = len(SnapFieldId._fields)


class OhlcvId(NamedTuple):
    """Last axis of ``SnapshotArrays.candles``."""

    open: int = 0
    high: int = 1
    low: int = 2
    close: int = 3
    volume: int = 4


Ohlcv = OhlcvId()


class BookRowId(NamedTuple):
    """Second axis of ``SnapshotArrays.book`` (levels along the last axis)."""

    bid_px: int = 0
    bid_sz: int = 1
    ask_px: int = 2
    ask_sz: int = 3


BookRows = BookRowId()
