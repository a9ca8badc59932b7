"""Record dtypes, NamedTuples and codes of the decision kernel.

Layouts (``n`` symbols, ``S`` = 3 strategies, ``K`` = 10 signals, ``T`` timeframes):

- ``positions``: ``position_dt[n]``, one row per symbol of the universe (flat rows
  have ``qty_base == 0``); ``sector_id`` is filled for every row.
- ``portfolio``: ``portfolio_dt[1]``.
- ``memory``: ``memory_dt[S]``, one row per strategy in :data:`STRATEGY_NAMES` order.
- ``features``: :class:`Features`, NamedTuple of per-symbol arrays.
- ``signals``: :class:`SignalsIn`, NamedTuple of per-symbol arrays (columns of
  2-D arrays in :data:`~botcore.config.models.SIGNAL_NAMES` order).
- outputs: ``intent_dt[n]`` (at most one intent per symbol per cycle) and
  ``trail_dt[n]`` (one row per symbol per cycle).

Reason codes are small integers (< 63) so that a set of them fits a 64-bit
``gate_mask`` (bit ``1 << code``). Codes 0-3 are the outcomes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from botcore.config.models import SECTORS, SIGNAL_NAMES, STRATEGY_NAMES

# --------------------------------------------------------------------------- sizes

N_STRATEGIES = len(STRATEGY_NAMES)
N_SIGNALS = len(SIGNAL_NAMES)
N_SECTORS = len(SECTORS)
#: sector buckets: the known sectors plus one bucket for ``sector_id == -1`` (unknown)
N_SECTOR_BUCKETS = N_SECTORS + 1
#: capacity of each strategy's ring buffer of closed-trade returns (``sizing.trade_memory`` <= this)
MEMORY_CAPACITY = 200
#: knots of a strategy's Kelly calibration (conviction -> win probability), see params ``calib_*``
N_CALIB_KNOTS = 8
#: number of regime rows in ``params.regime_allowed``: unknown (-1), trending, mean_reverting, random
N_REGIME_ROWS = 4


# --------------------------------------------------------------------------- small enums


class StrategyIdT(NamedTuple):
    sentiment_fusion: int = 0
    trend_conservative: int = 1
    breakout_aggressive: int = 2


StrategyId = StrategyIdT()
assert tuple(StrategyIdT._fields) == STRATEGY_NAMES


class SideT(NamedTuple):
    buy: int = 1
    sell: int = -1


Side = SideT()


class OrderTypeT(NamedTuple):
    market: int = 0
    limit: int = 1  # post-only at the touch


OrderType = OrderTypeT()


class KillSwitchT(NamedTuple):
    off: int = 0
    freeze: int = 1  # no new entries; exits keep working
    flatten: int = 2  # no new entries and close every position at market


KillSwitch = KillSwitchT()


class BreakerT(NamedTuple):
    none: int = 0
    session: int = 1
    daily: int = 2
    drawdown: int = 3


Breaker = BreakerT()


class ReasonT(NamedTuple):
    """Reason codes. 0-3 are outcomes; the rest are gates, limits and exit rules."""

    # outcomes
    skipped: int = 0
    held: int = 1
    entered: int = 2
    exited: int = 3
    # portfolio gates
    equity_invalid: int = 4
    kill_switch: int = 5
    circuit_breaker_session: int = 6
    circuit_breaker_daily: int = 7
    circuit_breaker_drawdown: int = 8
    # symbol gates
    data_outage: int = 9
    min_live_signals: int = 10
    no_signal: int = 11
    # strategy gates (evaluated in this order)
    regime_blocks_strategy: int = 12
    streak_paused: int = 13
    win_rate_below_threshold: int = 14
    conviction_below_threshold: int = 15
    sentiment_not_confirmed: int = 16
    trend_not_confirmed: int = 17
    breakout_not_confirmed: int = 18
    mtf_not_confirmed: int = 19
    roi_below_minimum: int = 20
    kelly_no_edge: int = 21
    size_below_minimum: int = 22
    # risk limits (on an entered row the bit means "size clamped by this limit")
    max_positions: int = 23
    sector_limit: int = 24
    symbol_exposure: int = 25
    total_exposure: int = 26
    strategy_allocation: int = 27
    leverage_cap: int = 28
    # exits
    stop_loss: int = 29
    take_profit: int = 30
    trailing_stop: int = 31
    profit_lock: int = 32
    time_exit: int = 33
    min_hold: int = 34
    hold_breaker: int = 35
    entry_time_unknown: int = 36
    state_invalid: int = 37
    no_strategy_enabled: int = 38
    # symbol gate set by the learning system (last code: adding it kept the earlier codes)
    benched: int = 39
    daily_entry_limit: int = 40


Reason = ReasonT()
N_REASONS = len(ReasonT._fields)
assert N_REASONS < 63
assert list(Reason) == list(range(N_REASONS))

REASON_NAMES: dict[int, str] = {code: name for name, code in Reason._asdict().items()}

REASON_TEXT: dict[int, str] = {
    Reason.skipped: "no entry this cycle",
    Reason.held: "position kept open",
    Reason.entered: "entry order issued",
    Reason.exited: "exit order issued",
    Reason.equity_invalid: "account equity is missing or not positive",
    Reason.kill_switch: "kill switch engaged",
    Reason.circuit_breaker_session: "circuit breaker: session loss limit reached (cooling down)",
    Reason.circuit_breaker_daily: "circuit breaker: daily loss limit reached (cooling down)",
    Reason.circuit_breaker_drawdown: "circuit breaker: drawdown limit reached (cooling down)",
    Reason.data_outage: "market data or a required signal is missing or stale",
    Reason.min_live_signals: "too few signals have data",
    Reason.no_signal: "aggregated signal has no direction",
    Reason.regime_blocks_strategy: "market regime does not allow the strategy",
    Reason.streak_paused: "strategy paused after consecutive losses",
    Reason.win_rate_below_threshold: "strategy win rate below its threshold",
    Reason.conviction_below_threshold: "conviction below the strategy's threshold",
    Reason.sentiment_not_confirmed: "sentiment signals (funding, OFI, taker, fear & greed, social) do not agree",
    Reason.trend_not_confirmed: "trend signal does not agree",
    Reason.breakout_not_confirmed: "no breakout with open-interest or volume confirmation",
    Reason.mtf_not_confirmed: "higher timeframes do not confirm the direction",
    Reason.roi_below_minimum: "expected return net of fees, slippage and funding below the minimum",
    Reason.kelly_no_edge: "Kelly finds no edge (size 0)",
    Reason.size_below_minimum: "size below the minimum order (USD or contracts)",
    Reason.max_positions: "maximum number of open positions reached",
    Reason.sector_limit: "maximum positions in this sector reached",
    Reason.symbol_exposure: "per-symbol exposure limit",
    Reason.total_exposure: "total exposure limit",
    Reason.strategy_allocation: "strategy's capital allocation used up",
    Reason.leverage_cap: "leverage cap",
    Reason.stop_loss: "stop loss hit",
    Reason.take_profit: "take profit hit",
    Reason.trailing_stop: "trailing stop hit",
    Reason.profit_lock: "profit lock hit",
    Reason.time_exit: "maximum hold time reached",
    Reason.min_hold: "exit wanted but the minimum hold time has not passed",
    Reason.hold_breaker: "minimum hold bypassed (portfolio drawdown or position loss past the breaker)",
    Reason.entry_time_unknown: "entry time unknown: position counts as aged",
    Reason.state_invalid: "position record is inconsistent (quantity not finite)",
    Reason.no_strategy_enabled: "no strategy is enabled",
    Reason.benched: "symbol benched by the learning system: no new entries, evaluated on paper",
    Reason.daily_entry_limit: "the day's entry budget (max_entries_per_day) is used up",
}
assert set(REASON_TEXT) == set(REASON_NAMES)

OUTCOME_CODES = (Reason.skipped, Reason.held, Reason.entered, Reason.exited)


def reason_name(code: int) -> str:
    """Return the snake_case name of a reason code (``'unknown_<code>'`` if undefined)."""
    return REASON_NAMES.get(int(code), f"unknown_{int(code)}")


def mask_codes(gate_mask: int) -> list[int]:
    """Return the reason codes set in a gate bitmask, in code order."""
    m = int(gate_mask)
    return [c for c in range(N_REASONS) if m >> c & 1]


def mask_names(gate_mask: int) -> list[str]:
    """Return the names of the reason codes set in a gate bitmask."""
    return [REASON_NAMES[c] for c in mask_codes(gate_mask)]


def explain(outcome: int, reason: int, gate_mask: int = 0, symbol: str | None = None,
            strategy_id: int = -1) -> str:
    """Turn one trail row's codes into a readable sentence.

    Examples
    --------
    >>> explain(Reason.skipped, Reason.roi_below_minimum,
    ...         1 << Reason.roi_below_minimum | 1 << Reason.mtf_not_confirmed, "BTC/USDT:USDT")
    'BTC/USDT:USDT: skipped — expected return net of fees, slippage and funding below the minimum (also: mtf_not_confirmed)'
    """
    head = f"{symbol}: " if symbol else ""
    text = f"{head}{reason_name(outcome)}"
    if 0 <= strategy_id < N_STRATEGIES:
        text += f" [{STRATEGY_NAMES[strategy_id]}]"
    if int(reason) not in OUTCOME_CODES:
        text += f" — {REASON_TEXT.get(int(reason), reason_name(reason))}"
    others = [n for c, n in zip(mask_codes(gate_mask), mask_names(gate_mask)) if c != int(reason)]
    if others:
        label = "clamped by" if outcome == Reason.entered else "also"
        text += f" ({label}: {', '.join(others)})"
    return text


# --------------------------------------------------------------------------- record dtypes

position_dt = np.dtype(
    [
        ("qty_base", np.float64),  # signed: > 0 long, < 0 short, 0 flat
        ("qty_contracts", np.float64),  # signed like qty_base
        ("entry_price", np.float64),  # average entry price (quote per base)
        ("entry_ts_ms", np.int64),  # -1: unknown (adopted) -> counts as aged
        ("strategy_id", np.int64),  # -1: unknown / adopted
        ("sector_id", np.int64),  # index into SECTORS; -1 unknown (own bucket)
        ("stop_price", np.float64),  # NaN: decide sets it from entry_price and stop_loss_pct
        ("high_water_price", np.float64),  # highest price since entry (NaN: start from entry)
        ("low_water_price", np.float64),  # lowest price since entry
        ("profit_lock_armed", np.int8),  # 1 once the best return reached profit_lock_trigger_pct
        ("benched", np.int8),  # 1: the symbol is benched (learning): no new entries; exits still run
        ("fees_paid_usd", np.float64),  # fees paid on the open position so far
    ],
    align=True,
)
"""Per-symbol position state. ``decide_nb`` writes ``stop_price``, the water marks and ``profit_lock_armed``.

``benched`` is an input the caller sets (``Engine.set_benched`` from
:func:`botcore.learning.benched_mask`): a flat benched symbol is still
evaluated by every gate but its entry is held back with the ``benched``
gate; an open position of it exits as usual. A fill never changes it.
"""

portfolio_dt = np.dtype(
    [
        ("equity_usd", np.float64),  # mark-to-market equity, set by the caller each cycle
        ("cash_usd", np.float64),
        ("peak_equity_usd", np.float64),  # NaN: decide starts it at equity
        ("session_start_equity_usd", np.float64),
        ("day_start_equity_usd", np.float64),
        ("day_start_ts_ms", np.int64),  # 00:00 UTC of the current day; -1: unset
        ("breaker_code", np.int8),  # Breaker.*
        ("breaker_until_ms", np.int64),
        ("kill_switch", np.int8),  # KillSwitch.*
        ("day_entries", np.int64),  # entries opened since 00:00 UTC (reset with the day reference)
        ("last_entry_ts_ms", np.int64, (N_STRATEGIES,)),  # each strategy's last entry; <= 0: unset (starts now)
    ],
    align=True,
)
"""Portfolio scalars (shape ``(1,)``). ``decide_nb`` writes peak, day start, session start (if unset), breaker
fields and the last entry time."""

memory_dt = np.dtype(
    [
        ("returns", np.float64, (MEMORY_CAPACITY,)),  # ring buffer of closed-trade net returns (fraction)
        ("n_trades", np.int64),  # closed trades recorded ever (ring holds the last min(n, capacity))
        ("head", np.int64),  # next write index in the ring
        ("consecutive_losses", np.int64),
        ("pause_until_ms", np.int64),  # streak filter: paused while now < this
        ("bandit_alpha", np.float64),  # Beta posterior: prior + wins
        ("bandit_beta", np.float64),  # Beta posterior: prior + losses
    ],
    align=True,
)
"""Per-strategy trade memory; only ``record_trade_nb`` writes it."""

intent_dt = np.dtype(
    [
        ("symbol_idx", np.int64),
        ("side", np.int8),  # Side.buy / Side.sell
        ("qty_base", np.float64),  # > 0
        ("qty_contracts", np.float64),  # > 0, a multiple of the contract step
        ("order_type", np.int8),  # OrderType.*
        ("limit_price", np.float64),  # NaN for market orders
        ("reduce_only", np.bool_),
        ("strategy_id", np.int64),
        ("reason", np.int64),  # Reason.entered or Reason.exited
        ("exit_reason", np.int64),  # exit rule code, -1 for entries
        ("price", np.float64),  # decision price used for sizing / valuation
        ("size_usd", np.float64),  # notional at ``price``
        ("stop_price", np.float64),  # initial stop for entries, NaN for exits
    ],
    align=True,
)

trail_dt = np.dtype(
    [
        ("symbol_idx", np.int64),
        ("outcome", np.int64),  # Reason.skipped / held / entered / exited
        ("reason", np.int64),  # the deciding code (the outcome itself when nothing blocked)
        ("gate_mask", np.int64),  # bit 1 << code for every gate that decided it
        ("strategy_id", np.int64),  # chosen / furthest-progressing strategy, or the position's; -1 none
        ("direction", np.int8),
        ("conviction", np.float64),
        ("win_prob", np.float64),  # Kelly p after the conviction adjustment
        ("kelly_f", np.float64),  # full Kelly fraction f*
        ("expected_roi", np.float64),  # expected return net of costs
        ("size_usd", np.float64),  # intent notional, or the Kelly size that was blocked
    ],
    align=True,
)


# --------------------------------------------------------------------------- per-cycle inputs


class Features(NamedTuple):
    """Market features of one cycle, one entry per symbol (NaN = missing).

    ``trend_dir`` is ``(n, T)`` int8 in {-1, 0, 1}, one column per timeframe
    (0 = flat or unknown). ``funding_rate`` is per funding interval (8 h at
    BloFin); ``volatility_daily`` is the realised daily volatility as a fraction;
    ``volume_ratio`` is the bar volume over its recent average.
    """

    price: np.ndarray
    mark_price: np.ndarray
    best_bid: np.ndarray
    best_ask: np.ndarray
    volatility_daily: np.ndarray
    funding_rate: np.ndarray
    volume_ratio: np.ndarray
    trend_dir: np.ndarray
    contract_size: np.ndarray
    min_contracts: np.ndarray
    contract_step: np.ndarray


class SignalsIn(NamedTuple):
    """Signal-engine output for one cycle.

    ``score``/``confidence``/``status`` are ``(n, K)``; the aggregator's
    ``conviction`` (float64), ``direction`` (int8), ``tradable`` (bool) and
    ``n_live`` (int64) are ``(n,)``.
    """

    score: np.ndarray
    confidence: np.ndarray
    status: np.ndarray
    conviction: np.ndarray
    direction: np.ndarray
    tradable: np.ndarray
    n_live: np.ndarray


params_dt = np.dtype(
    [
        # strategies (one entry per strategy; flags are uint8 0/1)
        ("strategy_enabled", np.uint8, (N_STRATEGIES,)),
        ("allocation", np.float64, (N_STRATEGIES,)),
        ("min_conviction", np.float64, (N_STRATEGIES,)),
        ("min_win_rate", np.float64, (N_STRATEGIES,)),
        ("max_consecutive_losses", np.int64, (N_STRATEGIES,)),
        ("streak_pause_ms", np.int64, (N_STRATEGIES,)),
        ("min_expected_roi", np.float64, (N_STRATEGIES,)),
        ("expected_hold_minutes", np.float64, (N_STRATEGIES,)),
        ("require_mtf", np.uint8, (N_STRATEGIES,)),
        ("regime_allowed", np.uint8, (N_REGIME_ROWS, N_STRATEGIES)),  # rows: unknown, trending, mean_rev, random
        # bandit
        ("bandit_enabled", np.uint8),
        ("prior_alpha", np.float64),
        ("prior_beta", np.float64),
        ("max_tilt", np.float64),
        # signals
        ("min_live_signals", np.int64),
        ("required_signal", np.uint8, (N_SIGNALS,)),
        # risk
        ("max_positions", np.int64),
        ("max_symbol_exposure_pct", np.float64),
        ("max_total_exposure_pct", np.float64),
        ("max_positions_per_sector", np.int64),
        ("max_leverage", np.float64),
        ("session_loss_pct", np.float64),
        ("daily_loss_pct", np.float64),
        ("max_drawdown_pct", np.float64),
        ("breaker_cooldown_ms", np.int64),
        # sizing
        ("min_usd", np.float64),
        ("max_usd", np.float64),
        ("kelly_fraction", np.float64),
        ("default_win_rate", np.float64),
        ("default_payoff", np.float64),
        ("min_trades_for_stats", np.int64),
        ("trade_memory", np.int64),
        ("volatility_target", np.float64),
        ("vol_scale_min", np.float64),
        ("vol_scale_max", np.float64),
        ("profit_scale_min", np.float64),
        ("profit_scale_max", np.float64),
        ("kelly_conviction_pivot", np.float64),
        ("kelly_conviction_slope", np.float64),
        ("kelly_max_win_rate", np.float64),
        ("kelly_min_payoff", np.float64),
        ("kelly_max_payoff", np.float64),
        ("min_size_kelly_multiple", np.float64),
        ("predictive_kelly_cap", np.float64),
        ("stall_relax_after_minutes", np.float64),  # no entry for this long: conviction thresholds start to relax
        ("stall_relax_full_minutes", np.float64),  # ... and reach stall_relax_floor x their value here
        ("stall_relax_floor", np.float64),
        ("burn_in_min_size", np.uint8),
        ("max_entries_per_day", np.int64),  # entries a UTC day may open; 0: no limit
        # Kelly calibration per strategy (research / ``botcore learn``): win probability at conviction knots
        ("calib_n", np.int64, (N_STRATEGIES,)),  # knots in use; 0: no calibration (the prior and memory apply)
        ("calib_conviction", np.float64, (N_STRATEGIES, N_CALIB_KNOTS)),  # increasing
        ("calib_win_prob", np.float64, (N_STRATEGIES, N_CALIB_KNOTS)),  # non-decreasing, net of fees and funding
        ("calib_payoff", np.float64, (N_STRATEGIES,)),  # mean win / mean loss of the fitted trades  # 1: under min_trades_for_stats trades, entries passing every other gate trade min_usd
        ("profit_seeking_gain", np.float64),
        ("profit_seeking_window", np.int64),
        # exits
        ("stop_loss_pct", np.float64),
        ("take_profit_pct", np.float64),
        ("trailing_activation_pct", np.float64),
        ("trailing_distance_pct", np.float64),
        ("profit_lock_trigger_pct", np.float64),
        ("profit_lock_floor_pct", np.float64),
        ("max_hold_ms", np.int64),
        ("min_hold_ms", np.int64),
        ("hold_breaker_drawdown_pct", np.float64),
        ("hold_breaker_loss_pct", np.float64),
        ("unknown_entry_time_exit", np.uint8),  # 1: unknown entry time is past max hold (time exit at once)
        # costs
        ("maker_fee", np.float64),
        ("taker_fee", np.float64),
        ("expected_slippage", np.float64),
        ("entry_post_only", np.uint8),
        ("funding_interval_minutes", np.float64),
        ("roi_move_scale", np.float64),
        # entry rules
        ("mtf_min_agree", np.int64),
        ("mtf_max_oppose", np.int64),
        ("sf_min_sentiment_live", np.int64),
        ("sf_min_sentiment_score", np.float64),
        ("tc_min_trend_score", np.float64),
        ("ba_min_breakout_score", np.float64),
        ("ba_min_oi_score", np.float64),
        ("ba_min_volume_ratio", np.float64),
        # kill switch
        ("kill_switch_action", np.int64),  # KillSwitch.freeze or .flatten: what engaging it means
    ],
    align=True,
)
"""Kernel parameters, shape ``(1,)``; build with :func:`botcore.strategy.params.build_params`.

A record (not a NamedTuple) because Numba passes it by reference: it compiles
several times faster than a NamedTuple of ~80 fields.
"""
PARAM_FIELDS: tuple[str, ...] = tuple(params_dt.names)
