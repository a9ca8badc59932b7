"""Signal identifiers and status codes shared by the signal kernels and ``decide``.

Signal arrays are laid out with one column per signal in :data:`SIGNAL_NAMES`
order (the same order as ``config/signals.yaml``'s weights).
"""

from __future__ import annotations

from typing import NamedTuple

from botcore.config.models import SIGNAL_NAMES


class SignalId(NamedTuple):
    order_flow_imbalance: int = 0
    funding_rate: int = 1
    open_interest_velocity: int = 2
    liquidation_cascade: int = 3
    taker_ratio: int = 4
    trend: int = 5
    breakout: int = 6
    mean_reversion: int = 7
    fear_greed: int = 8
    social_sentiment: int = 9


SignalIds = SignalId()
N_SIGNALS = len(SIGNAL_NAMES)
assert tuple(SignalId._fields) == SIGNAL_NAMES


class SignalStatus(NamedTuple):
    """Status of one signal value. Only OK values carry a score."""

    ok: int = 0
    warming_up: int = 1
    data_outage: int = 2


SignalStatuses = SignalStatus()
STATUS_NAMES = {v: k.upper() for k, v in SignalStatuses._asdict().items()}


# --------------------------------------------------------------------------- kernel parameters
# Windows and spans are in bars of the base timeframe (1m); each NamedTuple's
# field order is the order of the trailing arguments of its kernel in
# :mod:`botcore.signals.nb` (or its ``price``/``sentiment`` siblings), so ``kernel(*inputs, *params)`` works.


class OrderFlowParams(NamedTuple):
    level_decay: float = 0.7         # weight of book level k (1-based) is level_decay**(k-1)
    span_fast_bars: int = 5          # EMA span of the imbalance level
    span_slow_bars: int = 30         # EMA span of the imbalance baseline (change = fast - slow); also the warm-up
    change_weight: float = 1.0       # weight of the change against the level
    gain: float = 2.0                # score = tanh(gain * (fast + change_weight * (fast - slow)))


class FundingParams(NamedTuple):
    window_bars: int = 10_080        # 7 days of history for the z-score
    min_periods_bars: int = 4_320    # observations needed (3 days); below: warming up
    z_entry: float = 1.0             # |z| below this scores 0
    z_full: float = 3.0              # |z| at or above this scores -sign(z)
    min_std: float = 1e-5            # floor of the funding-rate std (per 8h), flat funding is not a signal


class OpenInterestParams(NamedTuple):
    lag_bars: int = 15               # velocity horizon: log(oi_t / oi_{t-lag})
    window_bars: int = 1_440         # RMS window normalising both velocities
    min_periods_bars: int = 720
    oi_scale: float = 1.0            # score = tanh(z_oi / oi_scale) * tanh(z_price / price_scale)
    price_scale: float = 1.0


class LiquidationParams(NamedTuple):
    burst_bars: int = 5              # bars summed into a burst
    window_bars: int = 1_440         # baseline of liquidations per bar
    min_periods_bars: int = 720
    burst_ratio: float = 5.0         # burst / baseline at which intensity reaches 1


class TakerParams(NamedTuple):
    flow_bars: int = 15              # bars summed into the buy/sell imbalance
    window_bars: int = 1_440         # z-score history of the imbalance
    min_periods_bars: int = 720
    z_scale: float = 2.0             # score = tanh(z / z_scale)
    min_std: float = 1e-3            # floor of the imbalance std


class TrendParams(NamedTuple):
    span_short_bars: int = 5         # 5m horizon on 1m bars
    span_mid_bars: int = 15          # 15m horizon
    span_long_bars: int = 60         # 1h horizon
    slow_factor: int = 4             # slow EMA span = slow_factor * fast span
    vol_span_bars: int = 240         # EMA span of squared 1-bar log returns
    scale: float = 1.0               # per-horizon score tanh(d / scale)


class BreakoutParams(NamedTuple):
    channel_bars: int = 60           # Donchian channel of the previous bars (current bar excluded)
    atr_span_bars: int = 30          # EMA span of the true range
    range_mult: float = 1.5          # confidence = clip(true_range / (range_mult * ATR), 0, 1)
    scale: float = 1.0               # score = tanh(excess_over_channel / ATR / scale)


class MeanReversionParams(NamedTuple):
    window_bars: int = 60            # z-score window of the close (must be full)
    vol_short_bars: int = 60         # RMS of 1-bar log returns, recent
    vol_long_bars: int = 1_440       # RMS of 1-bar log returns, baseline
    min_periods_bars: int = 720      # returns needed in the long window
    z_scale: float = 2.0             # score = -tanh(z / z_scale)
    max_vol_ratio: float = 2.0       # confidence 1 at short/long vol <= 1, 0 at >= max_vol_ratio


class FearGreedParams(NamedTuple):
    fear_below: float = 25.0         # index below this scores long, linearly to +1 at 0
    greed_above: float = 75.0        # index above this scores short, linearly to -1 at 100


class SocialParams(NamedTuple):
    span_fast_bars: int = 360        # 6h EMA of mentions and tone
    span_slow_bars: int = 1_440      # 24h EMA; also the warm-up
    tone_gain: float = 4.0           # score = tanh(tone_gain * (tone_fast - tone_slow)
    mention_gain: float = 1.0        #              + mention_gain * attention * tone_fast)


class SignalParams(NamedTuple):
    """Parameters of all ten signals, in :data:`SIGNAL_NAMES` order."""

    order_flow_imbalance: OrderFlowParams = OrderFlowParams()
    funding_rate: FundingParams = FundingParams()
    open_interest_velocity: OpenInterestParams = OpenInterestParams()
    liquidation_cascade: LiquidationParams = LiquidationParams()
    taker_ratio: TakerParams = TakerParams()
    trend: TrendParams = TrendParams()
    breakout: BreakoutParams = BreakoutParams()
    mean_reversion: MeanReversionParams = MeanReversionParams()
    fear_greed: FearGreedParams = FearGreedParams()
    social_sentiment: SocialParams = SocialParams()


assert tuple(SignalParams._fields) == SIGNAL_NAMES


class SignalInputs(NamedTuple):
    """Inputs of all ten signals on one bar grid.

    Batch: 2-D ``(n_bars, n_symbols)`` float64 (book sizes 3-D
    ``(n_bars, n_symbols, n_levels)``); one bar (incremental): 1-D
    ``(n_symbols,)`` (book ``(n_symbols, n_levels)``). NaN = missing or stale.
    The market-wide series (``fear_greed``, ``mentions``, ``tone``) may have
    a single column, broadcast to every symbol.
    """

    close: object
    high: object
    low: object
    bid_sz: object          # base units, level 1 first
    ask_sz: object
    funding_rate: object    # fraction per 8h
    oi_usd: object
    long_liq_usd: object    # per bar
    short_liq_usd: object
    taker_buy_base: object  # per bar
    taker_sell_base: object
    fear_greed: object      # 0..100
    mentions: object        # count per period
    tone: object            # -1..1


class SignalOutputs(NamedTuple):
    """Signal values, last axis the signal in :data:`SIGNAL_NAMES` order.

    Batch: ``(n_bars, n_symbols, N_SIGNALS)``; one bar: ``(n_symbols, N_SIGNALS)``.
    """

    score: object       # float64 in [-1, 1]
    confidence: object  # float64 in [0, 1]
    status: object      # int8 SignalStatus


class Aggregate(NamedTuple):
    """Aggregator output per (bar, symbol): shapes ``(n_bars, n_symbols)`` (or ``(n_symbols,)`` for one bar)."""

    conviction: object  # float64 in [0, 1]
    direction: object   # int8 -1 / 0 / +1
    tradable: object    # bool
    n_live: object      # int64 signals with status OK
