"""Numba kernels of the decision: gates, sizing, risk, exits, breakers, bandit.

Contract
--------
``decide_nb(now_ms, positions, portfolio, memory, features, signals, regime,
params, rng_seed, intents_out, trail_out, allocation_out) -> n_intents`` decides
one cycle for all ``n`` symbols. Layouts are in :mod:`botcore.strategy.enums`.

- Inputs are arrays only; NaN marks a missing value and is never replaced by
  a made-up one: a missing price, volatility, funding rate or contract spec
  closes the entry with ``data_outage``; a missing mark falls back to the price.
- Units: prices in quote (USDT) per base unit, sizes in base units, contracts
  or USD (``size_usd``), returns and percentages as fractions, times in ms.
- The kernel writes only (a) the outputs ``intents_out[:n_intents]``,
  ``trail_out[:n]`` and ``allocation_out[:S]``, (b) the tracking fields of
  ``positions`` (``stop_price``, water marks, ``profit_lock_armed``) and
  (c) the bookkeeping of ``portfolio[0]`` (peak, session and day start
  equity, circuit breaker). Everything else is read only.
- Deterministic: the bandit draws from a counter-based generator seeded by
  ``rng_seed`` (no global random state). Pass the same seed for the same bar
  in backtest and replay (e.g. ``run_seed ^ bar_ts_ms``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from botcore.signals.enums import SignalIds, SignalStatuses
from botcore.strategy.enums import (
    N_SECTOR_BUCKETS,
    Breaker,
    KillSwitch,
    OrderType,
    Reason,
    StrategyId,
)

MS_PER_MINUTE = 60_000
MS_PER_DAY = 86_400_000
MINUTES_PER_DAY = 1440.0
ROUND_EPS = 1e-9  # relative slack when rounding sizes to contract steps
STAGE_PASSED = 9  # stage a strategy reaches when all its gates pass

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_SH30 = np.uint64(30)
_SH27 = np.uint64(27)
_SH31 = np.uint64(31)
_SH11 = np.uint64(11)
_TWO_POW_M53 = 1.0 / 9007199254740992.0
_SENTIMENT_SIGNALS = (
    SignalIds.order_flow_imbalance,
    SignalIds.funding_rate,
    SignalIds.taker_ratio,
    SignalIds.fear_greed,
    SignalIds.social_sentiment,
)
_STATUS_OK = SignalStatuses.ok


# --------------------------------------------------------------------------- cache guard


@njit(cache=True)
def compiled_constants_nb():
    """The enum constants as compiled into the cached kernels.

    Numba's cache is keyed on this file only: after an edit of ``enums.py`` or
    ``botcore/signals/enums.py`` the cached kernels keep the old constants. A
    test compares this tuple with the Python values (clear
    ``botcore/strategy/__pycache__`` if it differs).
    """
    return (
        Reason.no_strategy_enabled, Reason.benched, Reason.kill_switch, Reason.stop_loss, Reason.size_below_minimum,
        Breaker.drawdown, KillSwitch.flatten, OrderType.limit, StrategyId.breakout_aggressive, N_SECTOR_BUCKETS,
        SignalIds.trend, SignalIds.breakout, SignalIds.open_interest_velocity, _SENTIMENT_SIGNALS[4], _STATUS_OK,
    )


# --------------------------------------------------------------------------- random numbers


@njit(cache=True)
def splitmix64_nb(state):
    """Advance a splitmix64 state; return ``(state, output)`` as uint64.

    The state is cast to uint64 into a new variable: mixing int64 and uint64
    in Numba promotes to float64 and would silently break the stream.
    """
    advanced = np.uint64(state) + _GOLDEN
    z = advanced
    z = (z ^ (z >> _SH30)) * _MIX1
    z = (z ^ (z >> _SH27)) * _MIX2
    return advanced, z ^ (z >> _SH31)


@njit(cache=True)
def uniform_nb(state):
    """Draw a float in (0, 1); return ``(state, u)``."""
    state, z = splitmix64_nb(state)
    return state, (float(z >> _SH11) + 0.5) * _TWO_POW_M53


@njit(cache=True)
def normal_nb(state):
    """Draw a standard normal (Box-Muller, cosine branch); return ``(state, x)``."""
    state, u1 = uniform_nb(state)
    state, u2 = uniform_nb(state)
    return state, math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True)
def gamma_nb(state, shape):
    """Draw Gamma(shape, 1) by Marsaglia-Tsang (boosted for shape < 1); return ``(state, x)``."""
    boost = 1.0
    if shape < 1.0:
        state, u = uniform_nb(state)
        boost = u ** (1.0 / shape)
        shape = shape + 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    for _ in range(100):
        state, x = normal_nb(state)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        state, u = uniform_nb(state)
        if math.log(u) < 0.5 * x * x + d - d * v + d * math.log(v):
            return state, d * v * boost
    return state, d * boost


@njit(cache=True)
def beta_nb(state, alpha, beta):
    """Draw Beta(alpha, beta) as X / (X + Y) of two gamma draws; return ``(state, x)``."""
    s = np.uint64(state)
    s, x = gamma_nb(s, alpha)
    s, y = gamma_nb(s, beta)
    total = x + y
    if total <= 0.0:
        return s, 0.5
    return s, x / total


# --------------------------------------------------------------------------- helpers


@njit(cache=True)
def is_pos_finite_nb(x):
    """Return True if x is finite and > 0."""
    return math.isfinite(x) and x > 0.0


@njit(cache=True)
def clip_nb(x, lo, hi):
    """Clip a scalar to [lo, hi]."""
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


@njit(cache=True)
def popcount_nb(mask):
    """Number of bits set in a non-negative int64 mask."""
    count = 0
    while mask != 0:
        mask &= mask - 1
        count += 1
    return count


@njit(cache=True)
def add_reason_nb(mask, first, code):
    """Set bit ``code`` in ``mask``; keep the first code seen. Return ``(mask, first)``."""
    mask |= np.int64(1) << np.int64(code)
    if first < 0:
        first = code
    return mask, first


@njit(cache=True)
def valuation_price_nb(mark_price, price):
    """Price that values an open position: the mark if valid, else the last price, else NaN."""
    if is_pos_finite_nb(mark_price):
        return mark_price
    if is_pos_finite_nb(price):
        return price
    return np.nan


@njit(cache=True)
def position_notional_nb(qty_base, px, entry_price, equity, p):
    """Absolute notional (USD) of a position; an unknown value counts as the per-symbol cap."""
    if math.isfinite(qty_base):
        if not math.isfinite(px):
            px = entry_price
        if is_pos_finite_nb(px):
            return abs(qty_base) * px
    return p.max_symbol_exposure_pct * equity if math.isfinite(equity) else 0.0


@njit(cache=True)
def sector_bucket_nb(sector_id):
    """Map a sector id to its bucket (unknown ids share the last bucket)."""
    if 0 <= sector_id < N_SECTOR_BUCKETS - 1:
        return sector_id
    return N_SECTOR_BUCKETS - 1


# --------------------------------------------------------------------------- portfolio and breakers


@njit(cache=True)
def update_portfolio_nb(port, now_ms, p):
    """Update peak, session and day references and the circuit breaker of ``port`` (a record).

    An unset last entry time of a strategy (``last_entry_ts_ms[s] <= 0``) starts at ``now_ms``.

    A tripped breaker recovers once ``now_ms >= breaker_until_ms``; recovery
    re-bases the tripped breaker's reference to the current equity (a new
    session; the day's reference; the drawdown peak) so it does not trip again
    on the same loss. Trips are checked in order drawdown, daily, session.
    Return ``(equity_ok, breaker_code)``.
    """
    equity = port.equity_usd
    equity_ok = is_pos_finite_nb(equity)
    if equity_ok:
        if not is_pos_finite_nb(port.peak_equity_usd) or equity > port.peak_equity_usd:
            port.peak_equity_usd = equity
        if not is_pos_finite_nb(port.session_start_equity_usd):
            port.session_start_equity_usd = equity
        for s in range(port.last_entry_ts_ms.shape[0]):
            if port.last_entry_ts_ms[s] <= 0:
                port.last_entry_ts_ms[s] = now_ms
        day_ms = (now_ms // MS_PER_DAY) * MS_PER_DAY
        if port.day_start_ts_ms != day_ms or not is_pos_finite_nb(port.day_start_equity_usd):
            if port.day_start_ts_ms != day_ms:
                port.day_entries = 0
            port.day_start_ts_ms = day_ms
            port.day_start_equity_usd = equity
    code = np.int64(port.breaker_code)
    if code != Breaker.none and now_ms >= port.breaker_until_ms and equity_ok:
        if code == Breaker.session:
            port.session_start_equity_usd = equity
        elif code == Breaker.daily:
            port.day_start_equity_usd = equity
        else:
            port.peak_equity_usd = equity
        code = np.int64(Breaker.none)
        port.breaker_code = 0
        port.breaker_until_ms = -1
    if code == Breaker.none and equity_ok:
        if 1.0 - equity / port.peak_equity_usd >= p.max_drawdown_pct:
            code = np.int64(Breaker.drawdown)
        elif 1.0 - equity / port.day_start_equity_usd >= p.daily_loss_pct:
            code = np.int64(Breaker.daily)
        elif 1.0 - equity / port.session_start_equity_usd >= p.session_loss_pct:
            code = np.int64(Breaker.session)
        if code != Breaker.none:
            port.breaker_code = code
            port.breaker_until_ms = now_ms + p.breaker_cooldown_ms
    return equity_ok, code


@njit(cache=True)
def breaker_reason_nb(code):
    """Reason code of a breaker code (-1 for none)."""
    if code == Breaker.session:
        return Reason.circuit_breaker_session
    if code == Breaker.daily:
        return Reason.circuit_breaker_daily
    if code == Breaker.drawdown:
        return Reason.circuit_breaker_drawdown
    return -1


# --------------------------------------------------------------------------- bandit


@njit(cache=True)
def bandit_allocations_nb(memory, p, rng_seed, allocation_out):
    """Tilt the configured allocations by Thompson sampling.

    Each strategy draws ``theta ~ Beta(bandit_alpha, bandit_beta)`` (a value
    that is not finite and > 0 falls back to the prior, then to 1). Its
    allocation becomes ``allocation * clip(theta / mean_theta, 1 - max_tilt,
    1 + max_tilt)`` with ``mean_theta`` weighted by the configured allocations
    of the enabled strategies. Disabled strategies get 0; bandit disabled: the
    configured allocations.
    """
    n_strat = allocation_out.shape[0]
    for s in range(n_strat):
        allocation_out[s] = p.allocation[s] if p.strategy_enabled[s] != 0 else 0.0
    if p.bandit_enabled == 0:
        return
    state, _ = splitmix64_nb(rng_seed)
    theta = np.empty(n_strat)
    for s in range(n_strat):
        a = memory[s].bandit_alpha
        b = memory[s].bandit_beta
        if not is_pos_finite_nb(a):
            a = p.prior_alpha if is_pos_finite_nb(p.prior_alpha) else 1.0
        if not is_pos_finite_nb(b):
            b = p.prior_beta if is_pos_finite_nb(p.prior_beta) else 1.0
        state, theta[s] = beta_nb(state, a, b)
    num = 0.0
    den = 0.0
    for s in range(n_strat):
        if p.strategy_enabled[s] != 0:
            num += p.allocation[s] * theta[s]
            den += p.allocation[s]
    if den <= 0.0 or num <= 0.0:
        return
    mean_theta = num / den
    for s in range(n_strat):
        if p.strategy_enabled[s] != 0:
            allocation_out[s] = p.allocation[s] * clip_nb(theta[s] / mean_theta, 1.0 - p.max_tilt, 1.0 + p.max_tilt)


# --------------------------------------------------------------------------- trade memory and Kelly


@njit(cache=True)
def memory_stats_nb(mem, window):
    """Stats of the last ``window`` returns in one strategy's ring.

    Return ``(n, wins, mean_win, mean_loss_abs, mean_return)``; means are NaN
    when empty. A win is a return > 0.
    """
    capacity = mem.returns.shape[0]
    n = min(mem.n_trades, window, capacity)
    wins = 0
    sum_win = 0.0
    sum_loss = 0.0
    total = 0.0
    for k in range(n):
        r = mem.returns[(mem.head - 1 - k) % capacity]
        total += r
        if r > 0.0:
            wins += 1
            sum_win += r
        else:
            sum_loss -= r
    mean_win = sum_win / wins if wins > 0 else np.nan
    mean_loss = sum_loss / (n - wins) if n > wins else np.nan
    mean_ret = total / n if n > 0 else np.nan
    return n, wins, mean_win, mean_loss, mean_ret


@njit(cache=True)
def kelly_inputs_nb(mem, p):
    """Win probability ``p`` and payoff ratio ``b`` for Kelly.

    Under ``min_trades_for_stats`` trades: the configured defaults. Otherwise
    over the last ``trade_memory`` trades ``p = wins / n`` and ``b = mean win /
    mean loss`` (no losses: ``kelly_max_payoff``; no wins: ``kelly_min_payoff``),
    ``b`` clipped to ``[kelly_min_payoff, kelly_max_payoff]``.
    """
    n, wins, mean_win, mean_loss, _ = memory_stats_nb(mem, p.trade_memory)
    if n < p.min_trades_for_stats:
        return p.default_win_rate, p.default_payoff
    if wins == 0:
        b = p.kelly_min_payoff
    elif n == wins or not mean_loss > 0.0:
        b = p.kelly_max_payoff
    else:
        b = mean_win / mean_loss
    return wins / n, clip_nb(b, p.kelly_min_payoff, p.kelly_max_payoff)


@njit(cache=True)
def stall_scale_nb(now_ms, last_entry_ts_ms, p):
    """Factor on a strategy's conviction threshold after a stretch without an entry of that strategy.

    1 until ``stall_relax_after_minutes`` without an entry, then linearly down
    to ``stall_relax_floor`` at ``stall_relax_full_minutes``: the thresholds
    follow the market's conviction down in a quiet market so that a day does
    not pass without an entry; every other gate (ROI net of costs, Kelly,
    risk) still decides. An unset last entry (<= 0) gives 1.
    """
    if last_entry_ts_ms <= 0:
        return 1.0
    stall = (now_ms - last_entry_ts_ms) / MS_PER_MINUTE
    span = p.stall_relax_full_minutes - p.stall_relax_after_minutes
    frac = clip_nb((stall - p.stall_relax_after_minutes) / span, 0.0, 1.0)
    return 1.0 - (1.0 - p.stall_relax_floor) * frac


@njit(cache=True)
def burn_in_nb(mem, p):
    """True while a strategy burns in: fewer than ``min_trades_for_stats`` trades and ``burn_in_min_size`` on.

    A burning-in strategy's entries that pass every other gate trade
    ``min_usd``; Kelly does not gate them, so the first trades accumulate.
    """
    return p.burn_in_min_size != 0 and min(mem.n_trades, p.trade_memory, mem.returns.shape[0]) < p.min_trades_for_stats


@njit(cache=True)
def conviction_win_prob_nb(win_rate, conviction, p):
    """Conviction-adjusted win probability used by Kelly.

    ``clip(win_rate + kelly_conviction_slope * (conviction - kelly_conviction_pivot),
    0, kelly_max_win_rate)``: the memory's (or default) win rate holds at the
    pivot conviction; stronger setups win more often, weaker ones less.
    """
    return clip_nb(
        win_rate + p.kelly_conviction_slope * (conviction - p.kelly_conviction_pivot), 0.0, p.kelly_max_win_rate
    )


@njit(cache=True)
def calibrated_win_prob_nb(s, conviction, p):
    """Strategy ``s``'s calibrated win probability at ``conviction``: linear between its knots, flat beyond them.

    The knots (``calib_conviction``, ``calib_win_prob``, the first
    ``calib_n[s]``) are a monotone map fitted on trades net of fees and
    funding (:mod:`botcore.learning.calibration`); the result is capped at
    ``kelly_max_win_rate``.
    """
    n = p.calib_n[s]
    x = p.calib_conviction[s]
    y = p.calib_win_prob[s]
    if conviction <= x[0]:
        q = y[0]
    elif conviction >= x[n - 1]:
        q = y[n - 1]
    else:
        k = 1
        while x[k] < conviction:
            k += 1
        q = y[k - 1] + (y[k] - y[k - 1]) * (conviction - x[k - 1]) / (x[k] - x[k - 1])
    return clip_nb(q, 0.0, p.kelly_max_win_rate)


@njit(cache=True)
def kelly_f_nb(win_prob, payoff):
    """Full Kelly fraction ``f* = p - (1 - p) / b`` (negative: no edge)."""
    return win_prob - (1.0 - win_prob) / payoff


@njit(cache=True)
def vol_scale_nb(volatility_daily, p):
    """Predictive-sizing scale ``clip(volatility_target / volatility_daily, vol_scale_min, vol_scale_max)``."""
    if volatility_daily <= 0.0:
        return p.vol_scale_max
    return clip_nb(p.volatility_target / volatility_daily, p.vol_scale_min, p.vol_scale_max)


@njit(cache=True)
def profit_scale_nb(mem, p):
    """Profit-seeking scale from the mean of the last ``profit_seeking_window`` returns.

    ``clip(1 + profit_seeking_gain * mean_return / stop_loss_pct, profit_scale_min,
    profit_scale_max)``; without trades ``clip(1, ...)``.
    """
    n, _, _, _, mean_ret = memory_stats_nb(mem, p.profit_seeking_window)
    raw = 1.0
    if n > 0:
        raw = 1.0 + p.profit_seeking_gain * mean_ret / p.stop_loss_pct
    return clip_nb(raw, p.profit_scale_min, p.profit_scale_max)


@njit(cache=True)
def kelly_size_usd_nb(equity_usd, kelly_f, vol_scale, profit_scale, p):
    """Size in USD before the risk limits, or 0.

    Fractional Kelly ``kelly_fraction * f*``, scaled by volatility (predictive
    sizing) and capped at ``predictive_kelly_cap * f*`` (half-Kelly by
    default), then scaled by the profit-seeking factor:
    ``equity * min(kelly_fraction * vol_scale, predictive_kelly_cap) * f* * profit_scale``,
    capped at ``max_usd``. Below ``min_usd`` it is raised to ``min_usd`` only
    while ``min_usd <= min_size_kelly_multiple * f* * equity`` (never stake
    more than that multiple of full Kelly), else 0. ``f* <= 0`` gives 0.
    """
    if not kelly_f > 0.0:
        return 0.0
    multiple = min(p.kelly_fraction * vol_scale, p.predictive_kelly_cap)
    size = equity_usd * multiple * kelly_f * profit_scale
    if size > p.max_usd:
        size = p.max_usd
    if size < p.min_usd:
        if p.min_usd <= p.min_size_kelly_multiple * kelly_f * equity_usd:
            return p.min_usd
        return 0.0
    return size


@njit(cache=True)
def round_contracts_nb(size_usd, bump_cap_usd, price, contract_size, min_contracts, contract_step, min_usd):
    """Contracts for a target size in USD.

    Round down to a multiple of ``contract_step``. If that is below
    ``min_contracts`` or ``min_usd``, take instead the smallest multiple that
    meets both, provided its notional is at most ``bump_cap_usd``; else 0.
    """
    per_contract = price * contract_size
    if not (per_contract > 0.0 and contract_step > 0.0):
        return 0.0
    contracts = math.floor(size_usd / per_contract / contract_step + ROUND_EPS) * contract_step
    if contracts > 0.0 and contracts >= min_contracts * (1.0 - ROUND_EPS) and (
        contracts * per_contract >= min_usd * (1.0 - ROUND_EPS)
    ):
        return contracts
    need = max(min_contracts, min_usd / per_contract)
    contracts = math.ceil(need / contract_step - ROUND_EPS) * contract_step
    if contracts > 0.0 and contracts * per_contract <= bump_cap_usd * (1.0 + ROUND_EPS):
        return contracts
    return 0.0


# --------------------------------------------------------------------------- entry rules and gates


@njit(cache=True)
def mtf_confirmed_nb(trend_dir_row, direction, p):
    """At least ``mtf_min_agree`` timeframes agree with ``direction`` and at most ``mtf_max_oppose`` oppose."""
    agree = 0
    oppose = 0
    for t in range(trend_dir_row.shape[0]):
        d = trend_dir_row[t]
        if d == direction:
            agree += 1
        elif d == -direction:
            oppose += 1
    return agree >= p.mtf_min_agree and oppose <= p.mtf_max_oppose


@njit(cache=True)
def entry_rule_nb(strategy_id, score_row, confidence_row, status_row, volume_ratio, direction, p):
    """Strategy-specific confirmation; return -1 if met, else its reason code.

    - sentiment_fusion: at least ``sf_min_sentiment_live`` of the sentiment
      signals (OFI, funding, taker, fear & greed, social) are OK and their
      confidence-weighted mean score times ``direction`` is at least
      ``sf_min_sentiment_score``.
    - trend_conservative: the trend signal is OK and ``direction * score >=
      tc_min_trend_score``.
    - breakout_aggressive: the breakout signal is OK with ``direction * score
      >= ba_min_breakout_score``, confirmed by open-interest velocity (OK and
      ``direction * score >= ba_min_oi_score``) or ``volume_ratio >=
      ba_min_volume_ratio``.
    """
    if strategy_id == StrategyId.sentiment_fusion:
        n_ok = 0
        weighted = 0.0
        weight = 0.0
        for k in _SENTIMENT_SIGNALS:
            if status_row[k] == _STATUS_OK:
                n_ok += 1
                weighted += confidence_row[k] * score_row[k]
                weight += confidence_row[k]
        if n_ok >= p.sf_min_sentiment_live and weight > 0.0 and direction * weighted / weight >= p.sf_min_sentiment_score:
            return -1
        return Reason.sentiment_not_confirmed
    if strategy_id == StrategyId.trend_conservative:
        k = SignalIds.trend
        if status_row[k] == _STATUS_OK and direction * score_row[k] >= p.tc_min_trend_score:
            return -1
        return Reason.trend_not_confirmed
    if strategy_id == StrategyId.breakout_aggressive:
        k = SignalIds.breakout
        if not (status_row[k] == _STATUS_OK and direction * score_row[k] >= p.ba_min_breakout_score):
            return Reason.breakout_not_confirmed
        k = SignalIds.open_interest_velocity
        if status_row[k] == _STATUS_OK and direction * score_row[k] >= p.ba_min_oi_score:
            return -1
        if volume_ratio >= p.ba_min_volume_ratio:
            return -1
        return Reason.breakout_not_confirmed
    return Reason.no_strategy_enabled


@njit(cache=True)
def expected_net_roi_nb(conviction, direction, volatility_daily, funding_rate, best_bid, best_ask, hold_minutes, p):
    """Expected return of an entry net of round-trip fees, slippage and funding.

    ``gross = roi_move_scale * conviction * volatility_daily * sqrt(hold / 1 day)``.
    Costs: taker fee on both legs (maker on entry with post-only entries and a
    valid book); slippage ``max(expected_slippage, half spread / mid)`` per
    market leg; funding ``direction * funding_rate * hold / funding_interval``
    (longs pay positive funding, shorts receive it).
    """
    gross = p.roi_move_scale * conviction * volatility_daily * math.sqrt(hold_minutes / MINUTES_PER_DAY)
    slip = p.expected_slippage
    book_ok = is_pos_finite_nb(best_bid) and is_pos_finite_nb(best_ask) and best_ask >= best_bid
    if book_ok:
        half_spread = (best_ask - best_bid) / (best_ask + best_bid)
        if half_spread > slip:
            slip = half_spread
    if p.entry_post_only != 0 and book_ok:
        costs = p.maker_fee + p.taker_fee + slip
    else:
        costs = 2.0 * p.taker_fee + 2.0 * slip
    funding = direction * funding_rate * hold_minutes / p.funding_interval_minutes
    return gross - costs - funding


@njit(cache=True)
def strategy_gates_nb(s, now_ms, mem, score_row, confidence_row, status_row, trend_dir_row, conviction, direction,
                      volatility_daily, funding_rate, best_bid, best_ask, volume_ratio, regime_row, equity,
                      equity_ok, threshold_scale, p):
    """Evaluate strategy ``s``'s gates for one flat symbol whose data and signal are valid.

    Gates in order (stage index): regime (0), streak pause (1), win rate after
    burn-in (2), conviction (3), the strategy's entry rule (4), multi-timeframe
    confirmation (5), net expected ROI (6), Kelly edge (7), minimum size (8).
    Every gate is evaluated so that the mask lists all that fail. The
    conviction threshold is ``min_conviction * threshold_scale``
    (:func:`stall_scale_nb`). During the
    burn-in (fewer than ``min_trades_for_stats`` trades, ``burn_in_min_size``
    on) Kelly does not gate: the size is ``min_usd`` (``kelly_f`` is still
    reported).
    Return ``(stage, mask, first_reason, expected_roi, win_prob, kelly_f, size_usd)``
    with ``stage == STAGE_PASSED`` when all pass.
    """
    mask = np.int64(0)
    first = -1
    stage = STAGE_PASSED
    if p.regime_allowed[regime_row, s] == 0:
        mask, first = add_reason_nb(mask, first, Reason.regime_blocks_strategy)
        stage = min(stage, 0)
    if now_ms < mem.pause_until_ms:
        mask, first = add_reason_nb(mask, first, Reason.streak_paused)
        stage = min(stage, 1)
    n_mem, wins, _, _, _ = memory_stats_nb(mem, p.trade_memory)
    if n_mem >= p.min_trades_for_stats and wins / n_mem < p.min_win_rate[s]:
        mask, first = add_reason_nb(mask, first, Reason.win_rate_below_threshold)
        stage = min(stage, 2)
    if conviction < p.min_conviction[s] * threshold_scale:
        mask, first = add_reason_nb(mask, first, Reason.conviction_below_threshold)
        stage = min(stage, 3)
    rule = entry_rule_nb(s, score_row, confidence_row, status_row, volume_ratio, direction, p)
    if rule >= 0:
        mask, first = add_reason_nb(mask, first, rule)
        stage = min(stage, 4)
    if p.require_mtf[s] != 0 and not mtf_confirmed_nb(trend_dir_row, direction, p):
        mask, first = add_reason_nb(mask, first, Reason.mtf_not_confirmed)
        stage = min(stage, 5)
    roi = expected_net_roi_nb(
        conviction, direction, volatility_daily, funding_rate, best_bid, best_ask, p.expected_hold_minutes[s], p
    )
    if roi < p.min_expected_roi[s]:
        mask, first = add_reason_nb(mask, first, Reason.roi_below_minimum)
        stage = min(stage, 6)
    if p.calib_n[s] > 0:  # a calibration from research or the learning cycle replaces the prior and the memory
        win_prob = calibrated_win_prob_nb(s, conviction, p)
        payoff = clip_nb(p.calib_payoff[s], p.kelly_min_payoff, p.kelly_max_payoff)
    else:
        win_rate, payoff = kelly_inputs_nb(mem, p)
        win_prob = conviction_win_prob_nb(win_rate, conviction, p)
    f = kelly_f_nb(win_prob, payoff)
    size = 0.0
    if burn_in_nb(mem, p):
        if equity_ok:
            size = p.min_usd
    elif not f > 0.0:
        mask, first = add_reason_nb(mask, first, Reason.kelly_no_edge)
        stage = min(stage, 7)
    elif equity_ok:
        size = kelly_size_usd_nb(equity, f, vol_scale_nb(volatility_daily, p), profit_scale_nb(mem, p), p)
        if size <= 0.0:
            mask, first = add_reason_nb(mask, first, Reason.size_below_minimum)
            stage = min(stage, 8)
    return stage, mask, first, roi, win_prob, f, size


@njit(cache=True)
def risk_size_nb(size_usd, kelly_bound_usd, equity, total_notional, strat_notional, allocation, price, contract_size,
                 min_contracts, contract_step, p):
    """Apply the exposure limits and contract rounding to one entry.

    Caps in USD, in order: per symbol ``max_symbol_exposure_pct * equity``;
    total ``max_total_exposure_pct * equity - total_notional``; the strategy's
    ``allocation * max_total_exposure_pct * equity - strat_notional``; leverage
    ``max_leverage * equity - total_notional``. A cap below the Kelly size
    clamps it (its bit is set); a cap below ``min_usd`` blocks (the first such
    is the reason). Contracts are then rounded down to the step; one step up
    is allowed to reach ``min_usd`` or the minimum contracts when it stays
    within every cap, ``max_usd`` and ``kelly_bound_usd`` (``min_size_kelly_multiple``
    x the full-Kelly stake; ``max_usd`` during the burn-in) (``size_below_minimum``
    if nothing fits).
    Return ``(contracts, mask, first_reason)``; ``contracts == 0`` when blocked.
    """
    mask = np.int64(0)
    first = -1
    caps = (
        p.max_symbol_exposure_pct * equity,
        p.max_total_exposure_pct * equity - total_notional,
        allocation * p.max_total_exposure_pct * equity - strat_notional,
        p.max_leverage * equity - total_notional,
    )
    codes = (Reason.symbol_exposure, Reason.total_exposure, Reason.strategy_allocation, Reason.leverage_cap)
    target = size_usd
    hard_cap = p.max_usd
    for k in range(4):
        hard_cap = min(hard_cap, caps[k])
        if caps[k] < size_usd:
            mask |= np.int64(1) << np.int64(codes[k])
            target = min(target, caps[k])
            if caps[k] < p.min_usd and first < 0:
                first = codes[k]
    if first >= 0:
        return 0.0, mask, first
    bump_cap = min(hard_cap, kelly_bound_usd)
    contracts = round_contracts_nb(target, bump_cap, price, contract_size, min_contracts, contract_step, p.min_usd)
    if contracts <= 0.0:
        mask, first = add_reason_nb(mask, first, Reason.size_below_minimum)
    return contracts, mask, first


# --------------------------------------------------------------------------- exits


@njit(cache=True)
def manage_position_nb(pos, px, now_ms, drawdown, kill_switch, p):
    """Exit rules for one open position (``pos`` is a record; ``px`` its valuation price).

    Updates the tracking fields (water marks, ``stop_price`` if unset,
    ``profit_lock_armed``), then checks in order: kill-switch flatten (ignores
    the minimum hold), stop loss, profit lock, trailing stop, take profit, time
    exit. An exit before ``min_hold`` is held back unless the portfolio
    drawdown exceeds ``hold_breaker_drawdown_pct`` or the position's loss
    exceeds ``hold_breaker_loss_pct``. An unknown entry time counts as aged:
    past the minimum hold, and past the maximum hold too unless
    ``unknown_entry_time_exit`` is 0.
    Return ``(outcome, reason, mask, exit_reason)``.
    """
    mask = np.int64(0)
    first = -1
    qty = pos.qty_base
    if not math.isfinite(qty):
        mask, first = add_reason_nb(mask, first, Reason.state_invalid)
        return Reason.held, Reason.state_invalid, mask, -1
    side = 1.0 if qty > 0.0 else -1.0
    entry = pos.entry_price
    if math.isfinite(px):
        if not math.isfinite(pos.high_water_price):
            pos.high_water_price = entry if is_pos_finite_nb(entry) else px
        if not math.isfinite(pos.low_water_price):
            pos.low_water_price = entry if is_pos_finite_nb(entry) else px
        if px > pos.high_water_price:
            pos.high_water_price = px
        if px < pos.low_water_price:
            pos.low_water_price = px
    if not math.isfinite(pos.stop_price) and is_pos_finite_nb(entry):
        pos.stop_price = entry * (1.0 - side * p.stop_loss_pct)
    aged = pos.entry_ts_ms < 0
    age_ms = now_ms - pos.entry_ts_ms
    if aged:
        mask |= np.int64(1) << np.int64(Reason.entry_time_unknown)
    if kill_switch == KillSwitch.flatten:
        mask, first = add_reason_nb(mask, first, Reason.kill_switch)
        return Reason.exited, Reason.kill_switch, mask, Reason.kill_switch
    if not math.isfinite(px):
        mask, first = add_reason_nb(mask, first, Reason.data_outage)
        return Reason.held, Reason.data_outage, mask, -1
    ret = side * (px / entry - 1.0)
    water = pos.high_water_price if side > 0.0 else pos.low_water_price
    best = side * (water / entry - 1.0)
    if best >= p.profit_lock_trigger_pct:
        pos.profit_lock_armed = 1
    if side * (px - pos.stop_price) <= 0.0:
        mask, first = add_reason_nb(mask, first, Reason.stop_loss)
    if pos.profit_lock_armed != 0 and ret <= p.profit_lock_floor_pct:
        mask, first = add_reason_nb(mask, first, Reason.profit_lock)
    if best >= p.trailing_activation_pct and side * (px - water * (1.0 - side * p.trailing_distance_pct)) <= 0.0:
        mask, first = add_reason_nb(mask, first, Reason.trailing_stop)
    if ret >= p.take_profit_pct:
        mask, first = add_reason_nb(mask, first, Reason.take_profit)
    if (aged and p.unknown_entry_time_exit != 0) or (not aged and age_ms >= p.max_hold_ms):
        mask, first = add_reason_nb(mask, first, Reason.time_exit)
    if first < 0:
        return Reason.held, Reason.held, mask, -1
    if not aged and age_ms < p.min_hold_ms:
        if drawdown > p.hold_breaker_drawdown_pct or ret < -p.hold_breaker_loss_pct:
            mask |= np.int64(1) << np.int64(Reason.hold_breaker)
        else:
            mask |= np.int64(1) << np.int64(Reason.min_hold)
            return Reason.held, Reason.min_hold, mask, -1
    return Reason.exited, first, mask, first


# --------------------------------------------------------------------------- decide


@njit(cache=True)
def reset_trail_row_nb(row, i):
    """Blank one trail record for symbol ``i``."""
    row.symbol_idx = i
    row.outcome = Reason.skipped
    row.reason = Reason.skipped
    row.gate_mask = 0
    row.strategy_id = -1
    row.direction = 0
    row.conviction = np.nan
    row.win_prob = np.nan
    row.kelly_f = np.nan
    row.expected_roi = np.nan
    row.size_usd = np.nan


@njit(cache=True)
def write_intent_nb(it, i, side, qty_base, qty_contracts, order_type, limit_price, reduce_only, strategy_id, reason,
                    exit_reason, price, size_usd, stop_price):
    """Fill one intent record (pass int64 codes so one specialisation serves all callers)."""
    it.symbol_idx = i
    it.side = side
    it.qty_base = qty_base
    it.qty_contracts = qty_contracts
    it.order_type = order_type
    it.limit_price = limit_price
    it.reduce_only = reduce_only
    it.strategy_id = strategy_id
    it.reason = reason
    it.exit_reason = exit_reason
    it.price = price
    it.size_usd = size_usd
    it.stop_price = stop_price


@njit(cache=True)
def book_exposure_nb(positions, features, equity, p, sector_count, strat_notional):
    """Count open positions per sector and sum notionals (total and per strategy).

    Fills ``sector_count`` and ``strat_notional``; return ``(n_open, total_notional)``.
    """
    sector_count[:] = 0
    strat_notional[:] = 0.0
    n_open = 0
    total_notional = 0.0
    for i in range(positions.shape[0]):
        pos = positions[i]
        if pos.qty_base != 0.0:
            n_open += 1
            sector_count[sector_bucket_nb(pos.sector_id)] += 1
            px = valuation_price_nb(features.mark_price[i], features.price[i])
            notional = position_notional_nb(pos.qty_base, px, pos.entry_price, equity, p)
            total_notional += notional
            if 0 <= pos.strategy_id < strat_notional.shape[0]:
                strat_notional[pos.strategy_id] += notional
    return n_open, total_notional


@njit(cache=True)
def exits_nb(now_ms, positions, features, drawdown, kill_switch, p, intents_out, trail_out):
    """Reset the trail and run the exit rules on every open position; return the number of exit intents."""
    n_intents = 0
    for i in range(positions.shape[0]):
        row = trail_out[i]
        reset_trail_row_nb(row, i)
        pos = positions[i]
        qty = pos.qty_base
        if qty == 0.0:
            continue
        px = valuation_price_nb(features.mark_price[i], features.price[i])
        outcome, reason, mask, exit_reason = manage_position_nb(pos, px, now_ms, drawdown, kill_switch, p)
        row.outcome = outcome
        row.reason = reason
        row.gate_mask = mask
        row.strategy_id = pos.strategy_id
        if math.isfinite(qty):
            side = np.int64(1) if qty > 0.0 else np.int64(-1)
            row.direction = side
            row.size_usd = abs(qty) * px
            if outcome == Reason.exited:
                write_intent_nb(
                    intents_out[n_intents], np.int64(i), -side, abs(qty), abs(pos.qty_contracts),
                    np.int64(OrderType.market), np.nan, True, pos.strategy_id, np.int64(Reason.exited),
                    np.int64(exit_reason), px, abs(qty) * px, np.nan,
                )
                n_intents += 1
    return n_intents


@njit(cache=True)
def portfolio_gates_nb(equity_ok, kill_switch, breaker, p):
    """Gates shared by every flat symbol: equity, kill switch, circuit breaker, enabled strategies.

    Return ``(mask, first_reason)``.
    """
    mask = np.int64(0)
    first = -1
    if not equity_ok:
        mask, first = add_reason_nb(mask, first, Reason.equity_invalid)
    if kill_switch != KillSwitch.off:
        mask, first = add_reason_nb(mask, first, Reason.kill_switch)
    if breaker != Breaker.none:
        mask, first = add_reason_nb(mask, first, breaker_reason_nb(breaker))
    any_enabled = False
    for s in range(p.strategy_enabled.shape[0]):
        if p.strategy_enabled[s] != 0:
            any_enabled = True
    if not any_enabled:
        mask, first = add_reason_nb(mask, first, Reason.no_strategy_enabled)
    return mask, first


@njit(cache=True)
def symbol_gates_nb(price, volatility_daily, funding_rate, contract_size, min_contracts, contract_step, status_row,
                    n_live, tradable, direction, conviction, p):
    """Data-outage, live-signal and no-signal gates of one flat symbol.

    Data outage: a missing price, volatility, funding rate or contract spec, a
    required signal that is not OK, or the aggregator's ``tradable`` False
    with enough live signals. Return ``(mask, first_reason, data_ok, signal_ok)``.
    """
    mask = np.int64(0)
    first = -1
    data_ok = (
        is_pos_finite_nb(price)
        and math.isfinite(volatility_daily)
        and volatility_daily >= 0.0
        and math.isfinite(funding_rate)
        and is_pos_finite_nb(contract_size)
        and is_pos_finite_nb(min_contracts)
        and is_pos_finite_nb(contract_step)
    )
    for k in range(p.required_signal.shape[0]):
        if p.required_signal[k] != 0 and status_row[k] != _STATUS_OK:
            data_ok = False
    if not data_ok:
        mask, first = add_reason_nb(mask, first, Reason.data_outage)
    if n_live < p.min_live_signals:
        mask, first = add_reason_nb(mask, first, Reason.min_live_signals)
    elif not tradable:
        mask, first = add_reason_nb(mask, first, Reason.data_outage)
    signal_ok = direction != 0 and math.isfinite(conviction) and conviction > 0.0
    if not signal_ok:
        mask, first = add_reason_nb(mask, first, Reason.no_signal)
    return mask, first, data_ok, signal_ok


@njit(cache=True)
def entry_gates_nb(now_ms, positions, memory, features, signals, regime, equity, equity_ok, port_mask, port_first,
                   allocation, last_entry, p, trail_out, passed, size_pre, win_prob, kelly_f, exp_roi, candidate):
    """Run the portfolio, symbol and strategy gates of every flat symbol.

    Fills the per ``(symbol, strategy)`` scratch arrays and ``candidate``
    (all gates passed for at least one strategy); writes the trail rows of the
    flat symbols. The row's strategy is the one nearest to entering: the
    fewest failing gates, ties to the furthest stage, then to the larger
    tilted allocation. Its mask is the failing portfolio and symbol gates plus
    that strategy's failing gates (so a mask with one gate names the gate that
    alone held an entry back); its reason is the first failing portfolio or
    symbol gate, else that strategy's first failing gate. A benched symbol (``positions[i].benched``) is the
    first symbol gate: its row says ``benched`` (unless a portfolio gate
    decided) with every other failing gate in the mask; when nothing but the
    bench holds it back (no portfolio or symbol gate, a strategy passed all
    its gates) the mask is the ``benched`` bit alone, like an entered row's
    mask drops the other strategies' gates: an entry the kernel would have
    made (before the risk limits). Return the number of candidates.
    """
    n_strat = allocation.shape[0]
    n_cand = 0
    for i in range(positions.shape[0]):
        candidate[i] = False
        for s in range(n_strat):
            passed[i, s] = False
            size_pre[i, s] = 0.0
            win_prob[i, s] = np.nan
            kelly_f[i, s] = np.nan
            exp_roi[i, s] = np.nan
        if positions[i].qty_base != 0.0:
            continue
        row = trail_out[i]
        direction = np.int64(signals.direction[i])
        conviction = np.float64(signals.conviction[i])
        row.direction = direction
        row.conviction = conviction
        status_row = signals.status[i]
        smask, sfirst, data_ok, signal_ok = symbol_gates_nb(
            features.price[i], features.volatility_daily[i], features.funding_rate[i], features.contract_size[i],
            features.min_contracts[i], features.contract_step[i], status_row, np.int64(signals.n_live[i]),
            bool(signals.tradable[i]), direction, conviction, p,
        )
        benched = positions[i].benched != 0
        # a benched symbol that nothing else holds back: the entry it would make (its row's mask: the bench alone)
        only_bench = benched and port_mask == 0 and smask == 0
        if benched:  # benched (learning): every gate still runs; the entry is held back
            smask |= np.int64(1) << np.int64(Reason.benched)
            sfirst = Reason.benched
        mask = port_mask | smask
        first = port_first if port_first >= 0 else sfirst
        best_s = -1
        best_stage = -1
        best_reason = -1
        best_mask = np.int64(0)
        best_fails = 1 << 30
        if data_ok and signal_ok:
            reg = np.int64(regime[i])
            regime_row = reg + 1 if -1 <= reg <= 2 else 0
            for s in range(n_strat):
                if p.strategy_enabled[s] == 0:
                    continue
                stage, gmask, gfirst, roi, wp, f, size = strategy_gates_nb(
                    s, now_ms, memory[s], signals.score[i], signals.confidence[i], status_row,
                    features.trend_dir[i], conviction, direction, features.volatility_daily[i],
                    features.funding_rate[i], features.best_bid[i], features.best_ask[i], features.volume_ratio[i],
                    regime_row, equity, equity_ok, stall_scale_nb(now_ms, last_entry[s], p), p,
                )
                exp_roi[i, s] = roi
                win_prob[i, s] = wp
                kelly_f[i, s] = f
                size_pre[i, s] = size
                passed[i, s] = stage == STAGE_PASSED
                fails = popcount_nb(gmask)
                if fails < best_fails or (fails == best_fails and (
                        stage > best_stage or (stage == best_stage and allocation[s] > allocation[best_s]))):
                    best_fails = fails
                    best_stage = stage
                    best_s = s
                    best_reason = gfirst
                    best_mask = gmask
        mask |= best_mask
        if best_s >= 0:
            row.strategy_id = best_s
            row.win_prob = win_prob[i, best_s]
            row.kelly_f = kelly_f[i, best_s]
            row.expected_roi = exp_roi[i, best_s]
            if size_pre[i, best_s] > 0.0:
                row.size_usd = size_pre[i, best_s]
        if first < 0 and best_stage == STAGE_PASSED:
            candidate[i] = True
            n_cand += 1
        elif only_bench and best_stage == STAGE_PASSED:
            mask = np.int64(1) << np.int64(Reason.benched)
        elif first < 0:
            first = best_reason
        row.gate_mask = mask
        row.reason = first if first >= 0 else Reason.skipped
    return n_cand


@njit(cache=True)
def entries_nb(now_ms, positions, port, features, signals, equity, allocation, p, passed, size_pre, win_prob,
               kelly_f, exp_roi, burn_in, last_entry, candidate, n_cand, sector_count, strat_notional, n_open, total_notional,
               intents_out, n_intents, trail_out):
    """Apply the risk limits to the candidates by decreasing conviction and write the entry intents.

    Position count, sector guard and the day's entry budget first (they
    block every strategy; an entry counts in ``port.day_entries``), then
    for each passing strategy in order of tilted allocation the exposure caps
    and contract rounding (``risk_size_nb``); the first strategy that fits
    enters. Entries consume the limits for the candidates after them.
    Return the total number of intents.
    """
    n_strat = allocation.shape[0]
    order = np.empty(n_cand, dtype=np.int64)
    keys = np.empty(n_cand)
    j = 0
    for i in range(positions.shape[0]):
        if candidate[i]:
            order[j] = i
            keys[j] = -signals.conviction[i]
            j += 1
    sort_idx = np.argsort(keys, kind="mergesort")
    tried = np.zeros(n_strat, dtype=np.bool_)
    for rank in range(n_cand):
        i = order[sort_idx[rank]]
        row = trail_out[i]
        direction = np.int64(signals.direction[i])
        bucket = sector_bucket_nb(positions[i].sector_id)
        price = features.price[i]
        mask = row.gate_mask
        first = -1
        if n_open >= p.max_positions:
            mask, first = add_reason_nb(mask, first, Reason.max_positions)
        if sector_count[bucket] >= p.max_positions_per_sector:
            mask, first = add_reason_nb(mask, first, Reason.sector_limit)
        if p.max_entries_per_day > 0 and port.day_entries >= p.max_entries_per_day:
            mask, first = add_reason_nb(mask, first, Reason.daily_entry_limit)
        entered = False
        tried[:] = False
        for _attempt in range(n_strat if first < 0 else 0):
            s = -1  # the untried passing strategy with the largest tilted allocation
            for t in range(n_strat):
                if passed[i, t] and not tried[t] and (s < 0 or allocation[t] > allocation[s]):
                    s = t
            if s < 0:
                break
            tried[s] = True
            kelly_bound = p.max_usd if burn_in[s] else p.min_size_kelly_multiple * kelly_f[i, s] * equity
            contracts, smask, sfirst = risk_size_nb(
                size_pre[i, s], kelly_bound, equity, total_notional, strat_notional[s], allocation[s], price,
                features.contract_size[i], features.min_contracts[i], features.contract_step[i], p,
            )
            if sfirst >= 0:
                mask |= smask
                if first < 0:
                    first = sfirst
                continue
            qty_base = contracts * features.contract_size[i]
            notional = qty_base * price
            order_type = np.int64(OrderType.market)
            limit_price = np.nan
            if p.entry_post_only != 0 and is_pos_finite_nb(features.best_bid[i]) and is_pos_finite_nb(
                features.best_ask[i]
            ):
                order_type = np.int64(OrderType.limit)
                limit_price = features.best_bid[i] if direction > 0 else features.best_ask[i]
            write_intent_nb(
                intents_out[n_intents], np.int64(i), direction, qty_base, contracts, order_type, limit_price, False,
                np.int64(s), np.int64(Reason.entered), np.int64(-1), price, notional,
                price * (1.0 - direction * p.stop_loss_pct),
            )
            n_intents += 1
            n_open += 1
            port.day_entries += 1
            last_entry[s] = now_ms
            sector_count[bucket] += 1
            total_notional += notional
            strat_notional[s] += notional
            row.outcome = Reason.entered
            row.reason = Reason.entered
            row.gate_mask = smask
            row.strategy_id = s
            row.win_prob = win_prob[i, s]
            row.kelly_f = kelly_f[i, s]
            row.expected_roi = exp_roi[i, s]
            row.size_usd = notional
            entered = True
            break
        if not entered:
            row.gate_mask = mask
            row.reason = first if first >= 0 else Reason.skipped
    return n_intents


@njit(cache=True)
def decide_nb(now_ms, positions, portfolio, memory, features, signals, regime, params, rng_seed, intents_out,
              trail_out, allocation_out):
    """Decide one cycle for all symbols: exits, entries, sizes and the reason trail.

    Parameters
    ----------
    now_ms : int
        Decision time (bar close), epoch ms UTC.
    positions : position_dt[n]
        One row per symbol; tracking fields are updated in place.
    portfolio : portfolio_dt[1]
        ``equity_usd`` must be the current mark-to-market equity; bookkeeping
        fields are updated in place.
    memory : memory_dt[S]
        Per-strategy trade memory (read only here; see ``record_trade_nb``).
    features : Features
    signals : SignalsIn
    regime : int array[n]
        Regime code per symbol (-1 unknown, 0 trending, 1 mean reverting, 2 random).
    params : params_dt[1]
    rng_seed : int
        Seed of this cycle's bandit draws.
    intents_out : intent_dt[>= n]
    trail_out : trail_dt[>= n]
    allocation_out : float64[S]
        Receives the bandit-tilted allocations.

    Returns
    -------
    int
        Number of intents written to ``intents_out``: exits in symbol order,
        then entries by decreasing conviction.
    """
    p = params[0]
    n = positions.shape[0]
    n_strat = allocation_out.shape[0]
    port = portfolio[0]
    equity_ok, breaker = update_portfolio_nb(port, now_ms, p)
    equity = port.equity_usd
    drawdown = 1.0 - equity / port.peak_equity_usd if equity_ok else np.nan
    kill_switch = np.int64(port.kill_switch)
    bandit_allocations_nb(memory, p, rng_seed, allocation_out)
    sector_count = np.zeros(N_SECTOR_BUCKETS, dtype=np.int64)
    strat_notional = np.zeros(n_strat)
    n_open, total_notional = book_exposure_nb(positions, features, equity, p, sector_count, strat_notional)
    n_intents = exits_nb(now_ms, positions, features, drawdown, kill_switch, p, intents_out, trail_out)
    port_mask, port_first = portfolio_gates_nb(equity_ok, kill_switch, breaker, p)
    passed = np.zeros((n, n_strat), dtype=np.bool_)
    size_pre = np.zeros((n, n_strat))
    win_prob = np.empty((n, n_strat))
    kelly_f = np.empty((n, n_strat))
    exp_roi = np.empty((n, n_strat))
    candidate = np.zeros(n, dtype=np.bool_)
    n_cand = entry_gates_nb(
        now_ms, positions, memory, features, signals, regime, equity, equity_ok, port_mask, port_first,
        allocation_out, port.last_entry_ts_ms, p, trail_out, passed, size_pre, win_prob, kelly_f, exp_roi, candidate,
    )
    burn_in = np.zeros(n_strat, dtype=np.bool_)
    for s in range(n_strat):
        burn_in[s] = burn_in_nb(memory[s], p)
    return entries_nb(
        now_ms, positions, port, features, signals, equity, allocation_out, p, passed, size_pre, win_prob, kelly_f,
        exp_roi, burn_in, port.last_entry_ts_ms, candidate, n_cand, sector_count, strat_notional, n_open,
        total_notional, intents_out, n_intents, trail_out,
    )


# --------------------------------------------------------------------------- state updates after fills


@njit(cache=True)
def record_trade_nb(memory, strategy_id, return_frac, now_ms, params):
    """Record one closed trade's net return (fraction of entry notional) in its strategy's memory.

    Pushes the return into the ring, updates the bandit posterior (a win, a
    return > 0, adds 1 to alpha; otherwise 1 to beta) and the loss streak; on
    ``max_consecutive_losses`` losses in a row the strategy pauses for
    ``streak_pause_ms`` and the streak count restarts. Unknown strategy ids and
    non-finite returns are ignored. Return True if recorded.
    """
    p = params[0]
    if not (0 <= strategy_id < memory.shape[0]) or not math.isfinite(return_frac):
        return False
    mem = memory[strategy_id]
    capacity = mem.returns.shape[0]
    mem.returns[mem.head % capacity] = return_frac
    mem.head = (mem.head + 1) % capacity
    mem.n_trades += 1
    if not is_pos_finite_nb(mem.bandit_alpha):
        mem.bandit_alpha = p.prior_alpha
    if not is_pos_finite_nb(mem.bandit_beta):
        mem.bandit_beta = p.prior_beta
    if return_frac > 0.0:
        mem.consecutive_losses = 0
        mem.bandit_alpha += 1.0
    else:
        mem.consecutive_losses += 1
        mem.bandit_beta += 1.0
        if mem.consecutive_losses >= p.max_consecutive_losses[strategy_id]:
            mem.pause_until_ms = now_ms + p.streak_pause_ms[strategy_id]
            mem.consecutive_losses = 0
    return True


@njit(cache=True)
def begin_position_nb(pos, strategy_id, now_ms, price):
    """Stamp a position record that opens at ``price``: entry time, strategy and fresh tracking fields.

    No stop yet, both water marks at ``price``, profit lock disarmed. Sizes,
    entry price and fees are the caller's (they differ between a one-shot
    entry and an average-cost book).
    """
    pos.entry_ts_ms = now_ms
    pos.strategy_id = strategy_id
    pos.stop_price = np.nan
    pos.high_water_price = price
    pos.low_water_price = price
    pos.profit_lock_armed = 0


@njit(cache=True)
def reset_position_nb(pos):
    """Blank a position record to flat: no size, no entry, no strategy, no tracking fields, no fees."""
    pos.qty_base = 0.0
    pos.qty_contracts = 0.0
    pos.entry_price = np.nan
    pos.entry_ts_ms = -1
    pos.strategy_id = -1
    pos.stop_price = np.nan
    pos.high_water_price = np.nan
    pos.low_water_price = np.nan
    pos.profit_lock_armed = 0
    pos.fees_paid_usd = 0.0


@njit(cache=True)
def apply_fill_nb(positions, portfolio, memory, intent, fill_price, fee_usd, now_ms, params):
    """Apply a complete fill of one intent to a simple book (paper helper).

    An entry opens the position (the symbol must be flat) with fresh tracking
    fields; a reduce-only fill closes it, adds the P&L to ``cash_usd`` and
    records the trade's net return (P&L after entry and exit fees over the
    entry notional) in the strategy memory. Fees are taken from cash. The
    ledger stays the source of truth in the live loop; this serves tests,
    research and simple simulations. Return the realised gross P&L (0 for entries).
    """
    i = intent.symbol_idx
    pos = positions[i]
    port = portfolio[0]
    port.cash_usd -= fee_usd
    if not intent.reduce_only:
        pos.qty_base = intent.side * intent.qty_base
        pos.qty_contracts = intent.side * intent.qty_contracts
        pos.entry_price = fill_price
        begin_position_nb(pos, intent.strategy_id, now_ms, fill_price)
        pos.fees_paid_usd = fee_usd
        return 0.0
    qty = pos.qty_base
    pnl = qty * (fill_price - pos.entry_price)
    port.cash_usd += pnl
    entry_notional = abs(qty) * pos.entry_price
    if entry_notional > 0.0:
        record_trade_nb(memory, pos.strategy_id, (pnl - pos.fees_paid_usd - fee_usd) / entry_notional, now_ms, params)
    reset_position_nb(pos)
    return pnl


@njit(cache=True)
def mark_to_market_nb(positions, portfolio, mark_price):
    """Set ``equity_usd = cash_usd + unrealised P&L`` at ``mark_price`` (invalid marks use the entry price)."""
    port = portfolio[0]
    equity = port.cash_usd
    for i in range(positions.shape[0]):
        qty = positions[i].qty_base
        if qty != 0.0 and math.isfinite(qty):
            px = mark_price[i]
            if not is_pos_finite_nb(px):
                px = positions[i].entry_price
            equity += qty * (px - positions[i].entry_price)
    port.equity_usd = equity
    return equity
