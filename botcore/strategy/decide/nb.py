"""Numba kernels of one decision cycle and of the state updates after fills.

``decide_nb`` (the contract is in :mod:`botcore.strategy.nb`) runs the exits,
the portfolio, symbol and strategy gates, sizing and the entries for all
symbols, with the building blocks of :mod:`botcore.strategy.nb`;
``apply_fill_nb``, ``record_trade_nb``, ``begin_position_nb``,
``reset_position_nb`` and ``mark_to_market_nb`` keep positions, portfolio and
trade memory up to date after fills and marks.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from botcore.generic.nb import guard_stale_cache
from botcore.signals.enums import SignalStatuses
from botcore.strategy.enums import (
    N_SECTOR_BUCKETS,
    Breaker,
    KillSwitch,
    OrderType,
    Reason,
)
from botcore.strategy.nb import (
    STAGE_PASSED,
    add_reason_nb,
    bandit_allocations_nb,
    breaker_reason_nb,
    burn_in_nb,
    is_pos_finite_nb,
    manage_position_nb,
    popcount_nb,
    position_notional_nb,
    risk_size_nb,
    sector_bucket_nb,
    stall_scale_nb,
    strategy_gates_nb,
    update_portfolio_nb,
    valuation_price_nb,
)

_STATUS_OK = SignalStatuses.ok


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


guard_stale_cache(decide_nb, (  # kernels here compile in the building blocks and constants of these files
    "botcore/strategy/nb.py", "botcore/strategy/enums.py", "botcore/signals/enums.py",
))
