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
