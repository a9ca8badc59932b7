"""Layouts of the engine: the per-bar input row, the kernel state, and the output records.

One bar row (the market as known at cycle time ``t``, the close of the 1m bar
``[t - 1m, t)``) for ``n`` symbols is three float64 arrays:

- ``ohlcv`` ``(n, 5)``: that bar's open, high, low, close, volume (base units);
  NaN when the bar is absent. Per-bar inputs are never carried forward.
- ``book`` ``(n, 4, L)``: bid_px, bid_sz, ask_px, ask_sz (base units), best
  level first, the latest book known by ``t`` within its staleness limit;
  all NaN when missing.
- ``scalars`` ``(n, N_ROW_SCALARS)``: the columns of :data:`RowScalars` —
  instantaneous inputs (mark, funding rate and next funding time, open
  interest, fear & greed, social) as the latest value known by ``t`` within
  its staleness limit, per-minute sums (liquidations, taker volumes) of the
  bar ``[t - 1m, t)`` only. NaN = missing.

A backtest window stacks rows along a leading bar axis (:class:`BarRows`).

Record dtypes (the compiled loop's outputs): :data:`order_rec_dt` (one order
and its outcome), :data:`fills.enums.fill_dt` (one fill per filled order, ``id``
= the order's ``seq``), :data:`fills.enums.funding_dt` (one funding event,
``id`` = its ``seq``), :data:`equity_rec_dt` and :data:`trail_rec_dt` (the
decision trail, possibly compressed: ``bars`` says how many consecutive bars
of its symbol the row stands for). Orders and funding share one event sequence
``seq`` so that a writer replays them in the order they happened.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from botcore.model.enums import TradeCloseReason
from botcore.strategy.enums import N_SIGNALS, Reason

# --------------------------------------------------------------------------- the bar row


class RowScalarId(NamedTuple):
    mark_price: int = 0
    funding_rate: int = 1  # fraction per funding interval (8 h)
    next_funding_ts_ms: int = 2  # float ms (NaN: unknown)
    oi_usd: int = 3
    long_liq_usd: int = 4  # per-minute sum of the bar
    short_liq_usd: int = 5
    taker_buy_base: int = 6  # per-minute sum of the bar
    taker_sell_base: int = 7
    fear_greed: int = 8  # market-wide, 0..100
    social_mentions: int = 9  # market-wide
    social_tone: int = 10  # market-wide, -1..1


RowScalars = RowScalarId()
N_ROW_SCALARS = len(RowScalarId._fields)


class OhlcvCol(NamedTuple):
    open: int = 0
    high: int = 1
    low: int = 2
    close: int = 3
    volume: int = 4


Ohlcv = OhlcvCol()


class BarRows(NamedTuple):
    """Bar rows of a window: ``ts_ms`` (nb,) cycle times, ``ohlcv`` (nb, n, 5), ``book`` (nb, n, 4, L), ``scalars`` (nb, n, S)."""

    ts_ms: np.ndarray
    ohlcv: np.ndarray
    book: np.ndarray
    scalars: np.ndarray

    def row(self, k: int) -> BarRow:
        """Return bar ``k`` as a :class:`BarRow` (views)."""
        return BarRow(int(self.ts_ms[k]), self.ohlcv[k], self.book[k], self.scalars[k])

    def __len__(self) -> int:
        return int(self.ts_ms.shape[0])


class BarRow(NamedTuple):
    """One cycle's row: ``t_ms`` and the ``ohlcv`` (n, 5), ``book`` (n, 4, L), ``scalars`` (n, S) arrays."""

    t_ms: int
    ohlcv: np.ndarray
    book: np.ndarray
    scalars: np.ndarray


# --------------------------------------------------------------------------- the Position replica (kernel accounting)


class AcctId(NamedTuple):
    """Columns of the kernel's per-symbol accounting matrix ``acct`` (n, N_ACCT): a replica of
    :class:`botcore.model.Position` (average cost, round-trip totals), so the kernel's cash and
    trade returns equal the ledger's bit for bit."""

    qty_contracts: int = 0  # signed
    avg_entry_price: int = 1
    opened_qty_contracts: int = 2
    entry_notional_usd: int = 3
    exit_qty_contracts: int = 4
    exit_notional_usd: int = 5
    realized_pnl_usd: int = 6
    fees_usd: int = 7
    funding_usd: int = 8


Acct = AcctId()
N_ACCT = len(AcctId._fields)


class ClockId(NamedTuple):
    """Slots of the kernel's int64 ``clock`` array."""

    last_venue_ms: int = 0  # time of the last trading cycle (funding window start); -1 before the first
    bars_seen: int = 1  # bars fed to the signal states (warm-up included)
    seq: int = 2  # next event sequence number (orders and funding)
    cycles: int = 3  # trading cycles run


Clock = ClockId()
N_CLOCK = len(ClockId._fields)

# --------------------------------------------------------------------------- order outcome codes (mirror model/venues)

ORDER_STATUS_FILLED = 4  # OrderStatus.FILLED
ORDER_STATUS_CANCELED = 5  # OrderStatus.CANCELED (book exhausted: the rest cancelled)
ORDER_STATUS_REJECTED = 6  # OrderStatus.REJECTED
ORDER_STATUS_ACCEPTED = 2  # OrderStatus.ACCEPTED (a resting limit)
VENUE_NONE = 0
VENUE_BELOW_MINIMUM = 1
VENUE_INSUFFICIENT_MARGIN = 3
VENUE_REDUCE_ONLY_NO_POSITION = 5
VENUE_NO_LIQUIDITY = 6
VENUE_BOOK_EXHAUSTED = 10
VENUE_CANCELED = 11

#: order kinds: what made the engine place the order
KIND_ENTRY = 0
KIND_EXIT = 1
KIND_LIQUIDATION = 2

order_rec_dt = np.dtype(
    [
        ("seq", np.int64),  # event sequence (shared with funding)
        ("ts", np.int64),  # cycle time, ms UTC
        ("col", np.int64),  # symbol column
        ("kind", np.int64),  # KIND_*
        ("side", np.int64),  # +1 buy, -1 sell
        ("order_type", np.int64),  # 0 market, 1 limit
        ("qty_contracts", np.float64),  # requested (the intent's)
        ("ordered_contracts", np.float64),  # after the venue's rounding (0 when refused before rounding)
        ("ordered_base", np.float64),
        ("limit_price", np.float64),  # NaN for market orders
        ("reduce_only", np.bool_),
        ("strategy_id", np.int64),
        ("exit_reason", np.int64),  # strategy Reason code of an exit, -1 for entries
        ("status", np.int64),  # model OrderStatus code of the outcome
        ("venue_reason", np.int64),  # venues VenueReason code
        ("updated_ts", np.int64),  # time of the outcome
        ("filled_contracts", np.float64),
        ("filled_base", np.float64),
        ("avg_price", np.float64),
        ("fee_usd", np.float64),
    ],
    align=True,
)

equity_rec_dt = np.dtype(
    [
        ("ts", np.int64),
        ("equity_usd", np.float64),
        ("cash_usd", np.float64),
        ("unrealized_pnl_usd", np.float64),
        ("exposure_usd", np.float64),
        ("n_positions", np.int64),
    ],
    align=True,
)

trail_rec_dt = np.dtype(
    [
        ("ts", np.int64),
        ("symbol_idx", np.int64),
        ("outcome", np.int64),
        ("reason", np.int64),
        ("gate_mask", np.int64),
        ("strategy_id", np.int64),
        ("direction", np.int8),
        ("regime", np.int8),
        ("conviction", np.float64),
        ("win_prob", np.float64),
        ("kelly_f", np.float64),
        ("expected_roi", np.float64),
        ("size_usd", np.float64),
        ("bars", np.int64),  # consecutive bars of this symbol the row stands for (1 in a full trail)
    ],
    align=True,
)

#: What the signals said at a filled entry (the outcome log's ``entry`` event,
#: :mod:`botcore.engine.learning_link`): written by the backtest's compiled
#: loop after an entry order filled, built from the scratch by the live loop's hook.
entry_signal_rec_dt = np.dtype(
    [
        ("ts", np.int64),  # cycle time of the entry, ms UTC
        ("col", np.int64),  # symbol column
        ("side", np.int64),  # +1 long, -1 short
        ("strategy_id", np.int64),
        ("regime", np.int64),  # regime code at the entry (-1 unknown)
        ("conviction", np.float64),  # the aggregator's conviction
        ("score", np.float64, (N_SIGNALS,)),  # per signal, SIGNAL_NAMES order
        ("confidence", np.float64, (N_SIGNALS,)),
        ("status", np.int64, (N_SIGNALS,)),  # SignalStatuses code (0 OK)
    ],
    align=True,
)

#: trail policies of a backtest
TRAIL_FULL = 0  # one row per symbol per bar (the live loop's trail)
TRAIL_CHANGES = 1  # a row when (outcome, reason, gate_mask, strategy) changes, on every entry/exit, and every N bars

#: strategy exit Reason -> model TradeCloseReason of the closing order
EXIT_CLOSE_REASON: dict[int, TradeCloseReason] = {
    Reason.stop_loss: TradeCloseReason.STOP_LOSS,
    Reason.take_profit: TradeCloseReason.TAKE_PROFIT,
    Reason.trailing_stop: TradeCloseReason.TRAILING_STOP,
    Reason.profit_lock: TradeCloseReason.PROFIT_LOCK,
    Reason.time_exit: TradeCloseReason.TIME_EXIT,
    Reason.kill_switch: TradeCloseReason.KILL_SWITCH,
    Reason.hold_breaker: TradeCloseReason.HOLD_BREAKER,
}


def close_reason_of(kind: int, exit_reason: int) -> TradeCloseReason:
    """Return the ledger close reason of an order of ``kind`` with strategy ``exit_reason``."""
    if kind == KIND_LIQUIDATION:
        return TradeCloseReason.LIQUIDATION
    if kind == KIND_ENTRY:
        return TradeCloseReason.UNSPECIFIED
    return EXIT_CLOSE_REASON.get(int(exit_reason), TradeCloseReason.SIGNAL)


__all__ = [
    "Acct", "BarRow", "BarRows", "Clock", "EXIT_CLOSE_REASON", "KIND_ENTRY", "KIND_EXIT", "KIND_LIQUIDATION",
    "N_ACCT", "N_CLOCK", "N_ROW_SCALARS", "Ohlcv", "RowScalars", "TRAIL_CHANGES", "TRAIL_FULL", "close_reason_of",
    "entry_signal_rec_dt", "equity_rec_dt", "order_rec_dt", "trail_rec_dt",
]
