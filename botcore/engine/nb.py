"""The one compiled step shared by every clock: advance the state with a bar, decide, apply fills.

Contract
--------
State, configuration and per-cycle scratch are NamedTuples of arrays built by
:mod:`botcore.engine.state` (``EngineState``, ``EngineConfig``, ``Scratch``);
one bar of market data is the row of :mod:`botcore.engine.enums` (``ohlcv``
``(n, 5)``, ``book`` ``(n, 4, L)``, ``scalars`` ``(n, S)``, NaN = missing).
Units: prices USDT per base unit, sizes in contracts and base units, money
USD, times int64 ms UTC. No I/O, clock, logging or global state.

One cycle at time ``t`` (the close of the 1m bar ``[t - 1m, t)``):

1. **venue events** — what the venue reports since the last cycle, on the
   position held *before* any fill at ``t``: funding events in
   ``(last, t]`` and liquidations (:func:`venue_update_nb`, the compiled
   twin of :meth:`botcore.venues.PaperVenue.update_market`; the live loop
   applies what its venue reports with :func:`apply_funding_nb` and
   :func:`apply_fill_nb` instead);
2. **advance** (:func:`advance_nb`) — the bar is fed to the ten signal step
   functions (:mod:`botcore.signals.nb`, :mod:`botcore.signals.price.nb`,
   :mod:`botcore.signals.sentiment.nb`), the aggregator, the rolling Hurst
   regime (:mod:`botcore.regime.nb`) and the feature steps
   (:mod:`botcore.engine.features_nb`); the scratch then holds this cycle's
   ``Features``, ``SignalsIn`` and regime;
3. **decide** (:func:`decide_step_nb`) — positions and equity
   (cash + exactly-rounded sum of unrealised P&L at the valuation prices,
   the ledger's ``record_equity`` arithmetic) are handed to
   :func:`botcore.strategy.decide.nb.decide_nb` with ``rng_seed = run_seed ^ t``;
   it returns the intents (exits first, then entries);
4. **execute** — the backtest fills each intent with
   :func:`venue_submit_nb` (the compiled twin of ``PaperVenue.submit``:
   the same rounding, reduce-only clamp, margin check and
   :func:`botcore.fills.nb.fill_market_order_nb` book walk against the book
   known at ``t``); the live loop submits to its venue. Either way each fill
   goes through :func:`apply_fill_nb`, a replica of
   :meth:`botcore.model.Position.apply_fill` (average cost, pro-rata fees)
   that keeps cash and the round trip bit-identical to the ledger's and
   calls :func:`botcore.strategy.decide.nb.record_trade_nb` on every close with the
   ledger's net return ``(gross - fees + funding) / entry notional``.

:func:`run_bars_nb` is the backtest's compiled loop over a chunk of bars:
warm-up bars only advance the state; trading bars run the whole cycle and
write order, fill, funding, equity and trail records into preallocated
buffers (the trail either full or compressed to changes, see
:func:`trail_write_nb`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from botcore.engine import enums as _enums
from botcore.engine.features_nb import features_update_nb
from botcore.fills.nb import (
    fill_market_order_nb,
    funding_payment_nb,
    liquidation_check_nb,
    liquidation_price_nb,
    next_funding_ts_nb,
    round_contracts_nb,
    write_fill_record_nb,
    write_funding_record_nb,
)
from botcore.regime.nb import regime_update_nb
from botcore.signals import nb as sig
from botcore.signals.price import nb as price_nb
from botcore.signals.sentiment import nb as sentiment_nb
from botcore.strategy.decide.nb import begin_position_nb, decide_nb, record_trade_nb, reset_position_nb

# Literal codes: Numba's cache keys on this file only (see botcore.fills.nb). Checked against the enums below.
_QTY = 0
_AVG = 1
_OPENED = 2
_ENTRY_NOTIONAL = 3
_EXIT_QTY = 4
_EXIT_NOTIONAL = 5
_REALIZED = 6
_FEES = 7
_FUNDING = 8
_C_LAST = 0
_C_BARS = 1
_C_SEQ = 2
_C_CYCLES = 3
_R_MARK = 0
_R_FUNDING = 1
_R_NEXT_FUNDING = 2
_R_OI = 3
_R_LONG_LIQ = 4
_R_SHORT_LIQ = 5
_R_TAKER_BUY = 6
_R_TAKER_SELL = 7
_R_FEAR_GREED = 8
_R_MENTIONS = 9
_R_TONE = 10
_FILLED = 4
_CANCELED = 5
_REJECTED = 6
_V_NONE = 0
_V_BELOW_MINIMUM = 1
_V_INSUFFICIENT_MARGIN = 3
_V_REDUCE_ONLY = 5
_V_NO_LIQUIDITY = 6
_V_BOOK_EXHAUSTED = 10
_K_ENTRY = 0
_K_EXIT = 1
_K_LIQUIDATION = 2
_TRAIL_FULL = 0
_FS_FILLED = 0
_FS_PARTIAL = 1
_FS_NO_LIQUIDITY = 2
_OUTCOME_ENTERED = 2
_OUTCOME_EXITED = 3
_REASON_BENCHED = 39
_QTY_REL_TOL = 1e-9
_QTY_ABS_TOL = 1e-12

_EXPECTED = (
    tuple(_enums.Acct), tuple(_enums.Clock), tuple(_enums.RowScalars),
    (_enums.ORDER_STATUS_FILLED, _enums.ORDER_STATUS_CANCELED, _enums.ORDER_STATUS_REJECTED),
    (_enums.VENUE_NONE, _enums.VENUE_BELOW_MINIMUM, _enums.VENUE_INSUFFICIENT_MARGIN,
     _enums.VENUE_REDUCE_ONLY_NO_POSITION, _enums.VENUE_NO_LIQUIDITY, _enums.VENUE_BOOK_EXHAUSTED),
    (_enums.KIND_ENTRY, _enums.KIND_EXIT, _enums.KIND_LIQUIDATION), _enums.TRAIL_FULL, _enums.Reason.benched,
)
_LITERALS = (
    (_QTY, _AVG, _OPENED, _ENTRY_NOTIONAL, _EXIT_QTY, _EXIT_NOTIONAL, _REALIZED, _FEES, _FUNDING),
    (_C_LAST, _C_BARS, _C_SEQ, _C_CYCLES),
    (_R_MARK, _R_FUNDING, _R_NEXT_FUNDING, _R_OI, _R_LONG_LIQ, _R_SHORT_LIQ, _R_TAKER_BUY, _R_TAKER_SELL,
     _R_FEAR_GREED, _R_MENTIONS, _R_TONE),
    (_FILLED, _CANCELED, _REJECTED),
    (_V_NONE, _V_BELOW_MINIMUM, _V_INSUFFICIENT_MARGIN, _V_REDUCE_ONLY, _V_NO_LIQUIDITY, _V_BOOK_EXHAUSTED),
    (_K_ENTRY, _K_EXIT, _K_LIQUIDATION), _TRAIL_FULL, _REASON_BENCHED,
)
if _EXPECTED != _LITERALS:
    raise ImportError("botcore.engine.nb: literal codes disagree with botcore.engine.enums; update both")


# --------------------------------------------------------------------------- small helpers


@njit(cache=True)
def fsum_nb(values, n):
    """Correctly rounded sum of ``values[:n]`` (CPython's ``math.fsum`` algorithm, finite inputs)."""
    partials = np.empty(n + 1)
    m = 0
    for k in range(n):
        x = values[k]
        i = 0
        for j in range(m):
            y = partials[j]
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            lo = y - (hi - x)
            if lo != 0.0:
                partials[i] = lo
                i += 1
            x = hi
        partials[i] = x
        m = i + 1
    hi = 0.0
    if m > 0:
        m -= 1
        hi = partials[m]
        lo = 0.0
        while m > 0:
            x = hi
            m -= 1
            y = partials[m]
            hi = x + y
            yr = hi - x
            lo = y - yr
            if lo != 0.0:
                break
        if m > 0 and ((lo < 0.0 and partials[m - 1] < 0.0) or (lo > 0.0 and partials[m - 1] > 0.0)):
            y = lo * 2.0
            x = hi + y
            yr = x - hi
            if y == yr:
                hi = x
    return hi


@njit(cache=True)
def qty_equal_nb(a, b):
    """``math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)``: the model's contract-quantity equality."""
    if a == b:
        return True
    diff = abs(a - b)
    return diff <= abs(_QTY_REL_TOL * b) or diff <= abs(_QTY_REL_TOL * a) or diff <= _QTY_ABS_TOL


@njit(cache=True)
def is_pos_nb(x):
    return math.isfinite(x) and x > 0.0


@njit(cache=True)
def touch_nb(px, sz):
    """Best present price of one book side (the paper venue's ``_touch``), NaN when none."""
    for k in range(px.shape[0]):
        if px[k] > 0.0 and sz[k] > 0.0:
            return px[k]
    return np.nan


@njit(cache=True)
def venue_mark_nb(acct, i, mark):
    """The price the paper venue values symbol ``i`` at: the mark when finite, else the average entry."""
    return mark if math.isfinite(mark) else acct[i, _AVG]


@njit(cache=True)
def free_margin_nb(acct, cash, marks, contract_size, leverage):
    """The paper venue's ``_free_margin_usd``: equity at its marks minus the initial margin in use.

    ``marks`` are the marks the venue holds (``st.venue_mark``: the last one
    handed to it per symbol, NaN before the first), summed in column order.
    """
    upnl = 0.0
    for i in range(acct.shape[0]):
        q = acct[i, _QTY]
        if q != 0.0:
            upnl += (venue_mark_nb(acct, i, marks[i]) - acct[i, _AVG]) * (q * contract_size[i])
        else:
            upnl += 0.0
    used = 0.0
    for i in range(acct.shape[0]):
        q = acct[i, _QTY]
        if q != 0.0:
            used += abs(q * contract_size[i]) * venue_mark_nb(acct, i, marks[i]) / leverage[i]
    return (cash + upnl) - used


# --------------------------------------------------------------------------- applying venue events to the state


@njit(cache=True)
def apply_fill_nb(st, cfg, params, i, side, qty_contracts, price, fee_usd, strategy_id, t_ms):
    """Apply one fill of symbol ``i`` to the state, as :meth:`botcore.model.Position.apply_fill` does.

    Opens or grows (average cost) in the fill's direction, or reduces and
    realises ``(price - avg_entry) * close_base * sign`` with the pro-rata fee;
    a fill that crosses zero closes the round trip and opens the rest at the
    fill price. Cash moves by ``realised - fee``. On every close the trade's
    net return (``(gross - fees + funding) / entry notional``, the ledger's
    ``ClosedTrade.net_return``) goes to ``record_trade_nb``. The decision
    record ``positions[i]`` follows: fresh tracking fields on an open.

    Returns
    -------
    (realized_pnl_usd, closed)
    """
    acct = st.acct
    cs = cfg.contract_size[i]
    port = st.portfolio[0]
    pos = st.positions[i]
    q = acct[i, _QTY]
    held = abs(q)
    sign = 1.0 if q > 0.0 else -1.0
    reducing = held > 0.0 and side != sign
    realized = 0.0
    closed = False
    open_qty = qty_contracts
    open_fee = fee_usd
    if reducing:
        closes = qty_equal_nb(qty_contracts, held) or qty_contracts > held
        close_qty = held if closes else qty_contracts
        open_qty = qty_contracts - held if (closes and not qty_equal_nb(qty_contracts, held)) else 0.0
        close_fee = fee_usd * (close_qty / qty_contracts)
        close_base = close_qty * cs
        realized = (price - acct[i, _AVG]) * close_base * sign
        acct[i, _REALIZED] += realized
        acct[i, _FEES] += close_fee
        acct[i, _EXIT_QTY] += close_qty
        acct[i, _EXIT_NOTIONAL] += price * close_base
        open_fee = fee_usd - close_fee
        if closes:
            opened_base = acct[i, _OPENED] * cs
            entry_price = acct[i, _ENTRY_NOTIONAL] / opened_base
            net = acct[i, _REALIZED] - acct[i, _FEES] + acct[i, _FUNDING]
            record_trade_nb(st.memory, pos.strategy_id, net / (entry_price * opened_base), t_ms, params)
            for k in range(acct.shape[1]):
                acct[i, k] = 0.0
            reset_position_nb(pos)
            closed = True
        else:
            acct[i, _QTY] = q - sign * close_qty
            pos.qty_contracts = acct[i, _QTY]
            pos.qty_base = acct[i, _QTY] * cs
            pos.fees_paid_usd = acct[i, _FEES]
    if open_qty > 0.0:
        held = abs(acct[i, _QTY])
        if held == 0.0:
            begin_position_nb(pos, strategy_id, t_ms, price)
        total = held + open_qty
        acct[i, _AVG] = (acct[i, _AVG] * held + price * open_qty) / total
        acct[i, _QTY] = side * total
        acct[i, _OPENED] += open_qty
        acct[i, _ENTRY_NOTIONAL] += price * open_qty * cs
        acct[i, _FEES] += open_fee
        pos.qty_contracts = acct[i, _QTY]
        pos.qty_base = acct[i, _QTY] * cs
        pos.entry_price = acct[i, _AVG]
        pos.fees_paid_usd = acct[i, _FEES]
    port.cash_usd += realized - fee_usd
    return realized, closed


@njit(cache=True)
def apply_funding_nb(st, i, amount_usd):
    """Apply one funding payment (> 0 received) of symbol ``i``: cash, and the open round trip."""
    if st.acct[i, _QTY] != 0.0:
        st.acct[i, _FUNDING] += amount_usd
    st.portfolio[0].cash_usd += amount_usd


# --------------------------------------------------------------------------- advance: signals, regime, features


@njit(cache=True)
def _put_signal(sc, k, out):
    s, c, stt = out
    for i in range(s.shape[0]):
        sc.score[i, k] = s[i]
        sc.conf[i, k] = c[i]
        sc.status[i, k] = stt[i]


@njit(cache=True)
def advance_nb(t_ms, ohlcv, book, scal, st, cfg, sc):
    """Feed the bar at cycle time ``t_ms`` to every signal, regime and feature state; fill the scratch.

    After the call ``sc`` holds the cycle's signal outputs, aggregate,
    regime, decision features and valuation prices.
    """
    n = ohlcv.shape[0]
    for i in range(n):
        sc.close[i] = ohlcv[i, 3]
        sc.high[i] = ohlcv[i, 1]
        sc.low[i] = ohlcv[i, 2]
        sc.volume[i] = ohlcv[i, 4]
        for k in range(book.shape[2]):
            sc.bid_sz[i, k] = book[i, 1, k]
            sc.ask_sz[i, k] = book[i, 3, k]
        for k in range(scal.shape[1]):
            sc.col[k, i] = scal[i, k]
    p = cfg.sp
    ofi = p.order_flow_imbalance
    imbalance = sig.book_imbalance_1d_nb(sc.bid_sz, sc.ask_sz, ofi.level_decay)
    _put_signal(sc, 0, sig.ofi_update_nb(st.sig_ofi, imbalance, ofi.span_fast_bars, ofi.span_slow_bars,
                                         ofi.change_weight, ofi.gain))
    f = p.funding_rate
    _put_signal(sc, 1, sig.funding_update_nb(st.sig_funding, sc.col[_R_FUNDING], f.window_bars, f.min_periods_bars,
                                             f.z_entry, f.z_full, f.min_std))
    o = p.open_interest_velocity
    _put_signal(sc, 2, sig.oi_update_nb(st.sig_oi, sc.col[_R_OI], sc.close, o.lag_bars, o.window_bars,
                                        o.min_periods_bars, o.oi_scale, o.price_scale))
    lq = p.liquidation_cascade
    _put_signal(sc, 3, sig.liq_update_nb(st.sig_liq, sc.col[_R_LONG_LIQ], sc.col[_R_SHORT_LIQ], lq.burst_bars,
                                         lq.window_bars, lq.min_periods_bars, lq.burst_ratio))
    tk = p.taker_ratio
    _put_signal(sc, 4, sig.taker_update_nb(st.sig_taker, sc.col[_R_TAKER_BUY], sc.col[_R_TAKER_SELL], tk.flow_bars,
                                           tk.window_bars, tk.min_periods_bars, tk.z_scale, tk.min_std))
    tr = p.trend
    _put_signal(sc, 5, price_nb.trend_update_nb(st.sig_trend, sc.close, tr.span_short_bars, tr.span_mid_bars,
                                                tr.span_long_bars, tr.slow_factor, tr.vol_span_bars, tr.scale))
    bo = p.breakout
    _put_signal(sc, 6, price_nb.breakout_update_nb(st.sig_breakout, sc.high, sc.low, sc.close, bo.channel_bars,
                                                   bo.atr_span_bars, bo.range_mult, bo.scale))
    mr = p.mean_reversion
    _put_signal(sc, 7, price_nb.mr_update_nb(st.sig_mr, sc.close, mr.window_bars, mr.vol_short_bars, mr.vol_long_bars,
                                             mr.min_periods_bars, mr.z_scale, mr.max_vol_ratio))
    fg = p.fear_greed
    _put_signal(sc, 8, sentiment_nb.fear_greed_update_nb(sc.col[_R_FEAR_GREED], fg.fear_below, fg.greed_above))
    so = p.social_sentiment
    _put_signal(sc, 9, sentiment_nb.social_update_nb(st.sig_social, sc.col[_R_MENTIONS], sc.col[_R_TONE], so.span_fast_bars,
                                                     so.span_slow_bars, so.tone_gain, so.mention_gain))
    k_sig = sc.score.shape[1]
    conv, dirn, trad, live = sig.aggregate_nb(
        sc.score.reshape((1, n, k_sig)), sc.conf.reshape((1, n, k_sig)), sc.status.reshape((1, n, k_sig)),
        cfg.weights, cfg.required, cfg.min_live_signals,
    )
    for i in range(n):
        sc.conviction[i] = conv[0, i]
        sc.direction[i] = dirn[0, i]
        sc.tradable[i] = trad[0, i]
        sc.n_live[i] = live[0, i]
    h = cfg.hp
    hurst, _smooth, codes = regime_update_nb(
        st.hurst, st.hurst_cls, sc.close, cfg.hurst_sizes, cfg.calib_raw, cfg.calib_true, h.window_bars,
        h.stride_bars, h.offset_bars, h.min_coverage, h.ddof, cfg.cp.trending_above, cfg.cp.mean_reverting_below,
        cfg.cp.hysteresis, cfg.cp.smooth_span_bars,
    )
    fp = cfg.fp
    features_update_nb(st.feat, sc.close, sc.volume, sc.vol, sc.volume_ratio, sc.trend, fp.vol_span_bars,
                       fp.vol_min_periods, fp.volume_span_bars, fp.volume_min_periods, fp.tf1_bars, fp.tf2_bars,
                       fp.tf3_bars, fp.fast_tf_bars, fp.slow_tf_bars, fp.trend_deadband)
    for i in range(n):
        sc.regime[i] = codes[i]
        sc.hurst[i] = hurst[i]
        close = sc.close[i]
        mark = sc.col[_R_MARK, i]
        sc.price[i] = close
        sc.mark[i] = mark
        sc.best_bid[i] = book[i, 0, 0]
        sc.best_ask[i] = book[i, 2, 0]
        sc.funding[i] = sc.col[_R_FUNDING, i]
        if is_pos_nb(mark):
            sc.valuation[i] = mark
        elif is_pos_nb(close):
            sc.valuation[i] = close
        else:
            sc.valuation[i] = np.nan  # filled with the entry price where a position needs it
    st.clock[_C_BARS] += 1


# --------------------------------------------------------------------------- equity and decide


@njit(cache=True)
def equity_nb(st, cfg, sc):
    """Mark to market as the ledger's ``record_equity``: cash + fsum(unrealised), exposure = fsum(notional).

    Valuation price: the mark, else the bar's close, else the average entry
    (written back into ``sc.valuation``). Return
    ``(equity, unrealized, exposure, n_positions)`` and set ``portfolio.equity_usd``.
    """
    acct = st.acct
    n = acct.shape[0]
    for i in range(n):
        if acct[i, _QTY] != 0.0 and not is_pos_nb(sc.valuation[i]):
            sc.valuation[i] = acct[i, _AVG]
    m = 0
    for i in range(n):
        q = acct[i, _QTY]
        if q != 0.0:
            qb = q * cfg.contract_size[i]
            sc.upnl_buf[m] = (sc.valuation[i] - acct[i, _AVG]) * qb
            sc.notional_buf[m] = abs(qb) * sc.valuation[i]
            m += 1
    cash = st.portfolio[0].cash_usd
    unrealized = fsum_nb(sc.upnl_buf, m)
    exposure = fsum_nb(sc.notional_buf, m)
    equity = cash + unrealized
    st.portfolio[0].equity_usd = equity
    return equity, unrealized, exposure, m


@njit(cache=True)
def decide_step_nb(t_ms, st, cfg, sc, params, run_seed):
    """Mark to market and run ``decide_nb``; return the number of intents in ``sc.intents``."""
    equity_nb(st, cfg, sc)
    seed = np.int64(run_seed) ^ np.int64(t_ms)
    return decide_nb(t_ms, st.positions, st.portfolio, st.memory, sc.features, sc.signals, sc.regime, params,
                     seed, sc.intents, sc.trail, sc.allocation)


@njit(cache=True)
def cycle_nb(t_ms, ohlcv, book, scal, st, cfg, sc, params, run_seed):
    """The live loop's compiled part of a cycle: advance the state with the bar and decide. Return n_intents."""
    advance_nb(t_ms, ohlcv, book, scal, st, cfg, sc)
    return decide_step_nb(t_ms, st, cfg, sc, params, run_seed)


# --------------------------------------------------------------------------- the compiled paper venue (backtest)


@njit(cache=True)
def _write_order(orders, k, seq, t_ms, i, kind, side, qty_contracts, strategy_id, exit_reason, reduce_only):
    o = orders[k]
    o.seq = seq
    o.ts = t_ms
    o.col = i
    o.kind = kind
    o.side = side
    o.order_type = 0
    o.qty_contracts = qty_contracts
    o.ordered_contracts = 0.0
    o.ordered_base = 0.0
    o.limit_price = np.nan
    o.reduce_only = reduce_only
    o.strategy_id = strategy_id
    o.exit_reason = exit_reason
    o.status = _REJECTED
    o.venue_reason = _V_NONE
    o.updated_ts = t_ms
    o.filled_contracts = 0.0
    o.filled_base = 0.0
    o.avg_price = np.nan
    o.fee_usd = 0.0


@njit(cache=True)
def _record_fill_nb(st, cfg, params, out, o, seq, t_ms, i, side, strategy_id, fr):
    """Book a venue fill ``fr`` of order record ``o``: its filled part on the order, a fill record, the state.

    The order's status and venue reason are the caller's (a liquidation, a
    full fill and a book-exhausted partial differ there).
    """
    o.filled_contracts = fr.qty_contracts
    o.filled_base = fr.qty_base
    o.avg_price = fr.price
    o.fee_usd = fr.fee_usd
    kf = out.counts[1]
    write_fill_record_nb(out.fills, kf, seq, i, t_ms, fr)
    out.counts[1] = kf + 1
    apply_fill_nb(st, cfg, params, i, side, fr.qty_contracts, fr.price, fr.fee_usd, strategy_id, t_ms)


@njit(cache=True)
def venue_update_nb(t_ms, ohlcv, scal, st, cfg, params, out):
    """Settle what the paper venue settles when the market moves to ``t_ms``, symbol by symbol.

    For each symbol in column order (``PaperVenue.update_market``): funding
    events in ``(last, t]`` on the grid anchored at the row's next funding
    time (else ``cfg.funding_anchor_ts``), paid on the position held before
    any fill at ``t`` at the row's mark and rate (skipped when either is
    missing); then the liquidation check against the bar's range and the mark.
    Records go to ``out`` (``EngineOutputs``); counts in ``out.counts``.
    """
    acct = st.acct
    last = st.clock[_C_LAST]
    n = acct.shape[0]
    for i in range(n):
        q = acct[i, _QTY]
        rate = scal[i, _R_FUNDING]
        if last >= 0 and q != 0.0 and math.isfinite(rate):
            nxt = scal[i, _R_NEXT_FUNDING]
            anchor = np.int64(nxt) if math.isfinite(nxt) else cfg.funding_anchor_ts
            ev = next_funding_ts_nb(last, anchor, cfg.funding_interval_ms)
            mark = scal[i, _R_MARK]
            while ev <= t_ms:
                qb = acct[i, _QTY] * cfg.contract_size[i]
                amount = funding_payment_nb(qb, mark, rate)
                if math.isfinite(amount):
                    k = out.counts[2]
                    write_funding_record_nb(out.funding, k, st.clock[_C_SEQ], i, ev, qb, mark, rate)
                    out.counts[2] = k + 1
                    st.clock[_C_SEQ] += 1
                    apply_funding_nb(st, i, amount)
                ev += cfg.funding_interval_ms
        st.venue_mark[i] = scal[i, _R_MARK]
        q = acct[i, _QTY]
        if q != 0.0:
            free = 0.0
            if cfg.margin_mode == 1:
                free = free_margin_nb(acct, st.portfolio[0].cash_usd, st.venue_mark, cfg.contract_size, cfg.leverage)
            qb = q * cfg.contract_size[i]
            liq = liquidation_price_nb(qb, acct[i, _AVG], cfg.leverage[i], cfg.maintenance_margin_rate,
                                       cfg.margin_mode, free)
            fr = liquidation_check_nb(qb, liq, ohlcv[i, 2], ohlcv[i, 1], scal[i, _R_MARK], cfg.contract_size[i],
                                      cfg.taker_fee)
            if fr.status == _FS_FILLED:
                seq = st.clock[_C_SEQ]
                st.clock[_C_SEQ] += 1
                side = np.int64(fr.side)
                strategy = st.positions[i].strategy_id
                ko = out.counts[0]
                _write_order(out.orders, ko, seq, t_ms, i, _K_LIQUIDATION, side, fr.qty_contracts, strategy,
                             np.int64(-1), True)
                o = out.orders[ko]
                o.ordered_contracts = fr.qty_contracts
                o.ordered_base = fr.qty_base
                o.status = _FILLED
                out.counts[0] = ko + 1
                _record_fill_nb(st, cfg, params, out, o, seq, t_ms, i, side, strategy, fr)
    st.clock[_C_LAST] = t_ms


@njit(cache=True)
def venue_submit_nb(t_ms, it, book, scal, st, cfg, params, out):
    """Place one market intent on the compiled paper venue (``PaperVenue.submit``) and apply its fill.

    The request carries ``it.qty_contracts``; the venue rounds it down to the
    contract step (below the minimum: REJECTED), clamps a reduce-only order to
    the position (none or same side: REJECTED), refuses an order whose margin
    and fee exceed the free margin (with ``cfg.check_margin``), then walks the
    book known at ``t``: FILLED, CANCELED with the book's part filled
    (book exhausted), or REJECTED (no liquidity). Writes an order record and,
    when something filled, a fill record; returns the filled contracts.
    """
    i = it.symbol_idx
    side = np.int64(it.side)
    cs = cfg.contract_size[i]
    seq = st.clock[_C_SEQ]
    st.clock[_C_SEQ] += 1
    kind = _K_EXIT if it.reduce_only else _K_ENTRY
    ko = out.counts[0]
    _write_order(out.orders, ko, seq, t_ms, i, kind, side, it.qty_contracts, it.strategy_id, it.exit_reason,
                 it.reduce_only)
    out.counts[0] = ko + 1
    o = out.orders[ko]
    rounded = round_contracts_nb(it.qty_contracts * cs, cs, cfg.contract_step[i], cfg.min_contracts[i])
    if rounded.status != 0:
        o.venue_reason = _V_BELOW_MINIMUM
        return 0.0
    qc = rounded.qty_contracts
    qb = rounded.qty_base
    q = st.acct[i, _QTY]
    pos_side = 1 if q > 0.0 else (-1 if q < 0.0 else 0)
    if it.reduce_only:
        if q == 0.0 or pos_side == side:
            o.venue_reason = _V_REDUCE_ONLY
            return 0.0
        if qc > abs(q):
            qc = abs(q)
            qb = qc * cs
    o.ordered_contracts = qc
    o.ordered_base = qb
    bid_px = book[i, 0]
    bid_sz = book[i, 1]
    ask_px = book[i, 2]
    ask_sz = book[i, 3]
    if cfg.check_margin and not it.reduce_only:
        ref = touch_nb(ask_px, ask_sz) if side > 0 else touch_nb(bid_px, bid_sz)
        if q == 0.0 or pos_side == side:
            growth = qb
        else:
            growth = max(qb - abs(q * cs), 0.0)
        need = growth * ref / cfg.leverage[i] + qb * ref * cfg.taker_fee
        if math.isfinite(need) and need > free_margin_nb(st.acct, st.portfolio[0].cash_usd, st.venue_mark,
                                                         cfg.contract_size, cfg.leverage):
            o.venue_reason = _V_INSUFFICIENT_MARGIN
            return 0.0
    fr = fill_market_order_nb(side, qb, bid_px, bid_sz, ask_px, ask_sz, cs, cfg.contract_step[i],
                              cfg.min_contracts[i], cfg.taker_fee, cfg.exhaust_rule, cfg.exhaust_penalty_frac)
    has_qty = (fr.status == _FS_FILLED or fr.status == _FS_PARTIAL) and fr.qty_contracts > 0.0
    if fr.status == _FS_FILLED or (fr.status == _FS_PARTIAL and has_qty):
        o.status = _FILLED if fr.status == _FS_FILLED else _CANCELED
        o.venue_reason = _V_NONE if fr.status == _FS_FILLED else _V_BOOK_EXHAUSTED
        _record_fill_nb(st, cfg, params, out, o, seq, t_ms, i, side, it.strategy_id, fr)
        return fr.qty_contracts
    o.venue_reason = _V_NO_LIQUIDITY if (fr.status == _FS_NO_LIQUIDITY or fr.status == _FS_PARTIAL) \
        else _V_BELOW_MINIMUM
    return 0.0


# --------------------------------------------------------------------------- trail and equity records


@njit(cache=True)
def _copy_trail(dst, src, t_ms, regime):
    dst.ts = t_ms
    dst.symbol_idx = src.symbol_idx
    dst.outcome = src.outcome
    dst.reason = src.reason
    dst.gate_mask = src.gate_mask
    dst.strategy_id = src.strategy_id
    dst.direction = src.direction
    dst.regime = regime
    dst.conviction = src.conviction
    dst.win_prob = src.win_prob
    dst.kelly_f = src.kelly_f
    dst.expected_roi = src.expected_roi
    dst.size_usd = src.size_usd
    dst.bars = 1


@njit(cache=True)
def trail_write_nb(t_ms, st, sc, out, policy, every_bars):
    """Count the cycle's trail and write it to ``out.trail``.

    ``policy`` TRAIL_FULL writes every row. TRAIL_CHANGES keeps one open row
    per symbol in ``st.trail_open`` and emits it (with ``bars`` = the bars it
    stands for) when the symbol's (outcome, deciding reason, strategy)
    changes, on every entry or exit, or after ``every_bars`` bars (the row's
    gate mask and numbers are those of its first bar; a benched symbol's rows
    also split when the gate mask changes, so a would-be entry, the
    ``benched`` bit alone, keeps a row of its own); open rows
    are emitted at the end of a run (:func:`trail_flush_nb`). The exact
    per-reason counts of every symbol-bar accumulate in ``st.reason_counts``
    (rows: outcome code; columns: reason code).
    """
    n = sc.trail.shape[0]
    for i in range(n):
        row = sc.trail[i]
        st.reason_counts[row.outcome, row.reason] += 1
        if policy == _TRAIL_FULL:
            k = out.counts[4]
            _copy_trail(out.trail[k], row, t_ms, sc.regime[i])
            out.counts[4] = k + 1
            continue
        op = st.trail_open[i]
        same = (op.bars > 0 and op.outcome == row.outcome and op.reason == row.reason
                and op.strategy_id == row.strategy_id and row.outcome != _OUTCOME_ENTERED
                and row.outcome != _OUTCOME_EXITED and op.bars < every_bars
                and (row.reason != _REASON_BENCHED or op.gate_mask == row.gate_mask))
        if same:
            op.bars += 1
            continue
        if op.bars > 0:
            k = out.counts[4]
            out.trail[k] = op
            out.counts[4] = k + 1
        _copy_trail(op, row, t_ms, sc.regime[i])


@njit(cache=True)
def trail_flush_nb(st, out):
    """Emit the open compressed trail rows (end of a run)."""
    for i in range(st.trail_open.shape[0]):
        op = st.trail_open[i]
        if op.bars > 0:
            k = out.counts[4]
            out.trail[k] = op
            out.counts[4] = k + 1
            op.bars = 0


@njit(cache=True)
def entry_signal_write_nb(rec, t_ms, i, side, strategy_id, sc):
    """Write what the signals said about symbol ``i`` this cycle into one ``entry_signal_rec_dt`` record."""
    rec.ts = t_ms
    rec.col = i
    rec.side = side
    rec.strategy_id = strategy_id
    rec.regime = sc.regime[i]
    rec.conviction = sc.conviction[i]
    for k in range(sc.score.shape[1]):
        rec.score[k] = sc.score[i, k]
        rec.confidence[k] = sc.conf[i, k]
        rec.status[k] = sc.status[i, k]


# --------------------------------------------------------------------------- the backtest loop


@njit(cache=True, nogil=True)
def run_bars_nb(ts, ohlcv, book, scal, lo, hi, trading, st, cfg, sc, params, run_seed, policy, every_bars, out):
    """Run bars ``lo:hi`` of a chunk; with ``trading`` the whole cycle, else only :func:`advance_nb` (warm-up).

    Trading cycle: :func:`venue_update_nb`, :func:`advance_nb`,
    :func:`decide_step_nb`, :func:`venue_submit_nb` for each intent in order
    (an entry that filled also writes what the signals said,
    :func:`entry_signal_write_nb`), then the equity and trail records. Record
    counts accumulate in ``out.counts`` (orders, fills, funding, equity,
    trail, entry signals); a buffer that could overflow stops the chunk
    early: return the first bar not run.
    """
    for k in range(lo, hi):
        t_ms = ts[k]
        if not trading:
            advance_nb(t_ms, ohlcv[k], book[k], scal[k], st, cfg, sc)
            continue
        n = ohlcv.shape[1]
        if (out.counts[0] + 2 * n > out.orders.shape[0] or out.counts[1] + 2 * n > out.fills.shape[0]
                or out.counts[2] + 4 * n > out.funding.shape[0] or out.counts[3] + 1 > out.equity.shape[0]
                or out.counts[4] + 2 * n > out.trail.shape[0] or out.counts[5] + n > out.signals.shape[0]):
            return k
        venue_update_nb(t_ms, ohlcv[k], scal[k], st, cfg, params, out)
        advance_nb(t_ms, ohlcv[k], book[k], scal[k], st, cfg, sc)
        n_intents = decide_step_nb(t_ms, st, cfg, sc, params, run_seed)
        for j in range(n_intents):
            it = sc.intents[j]
            filled = venue_submit_nb(t_ms, it, book[k], scal[k], st, cfg, params, out)
            if filled > 0.0 and not it.reduce_only:
                entry_signal_write_nb(out.signals[out.counts[5]], t_ms, it.symbol_idx, np.int64(it.side),
                                      it.strategy_id, sc)
                out.counts[5] += 1
        equity, unrealized, exposure, n_pos = equity_nb(st, cfg, sc)
        e = out.equity[out.counts[3]]
        e.ts = t_ms
        e.equity_usd = equity
        e.cash_usd = st.portfolio[0].cash_usd
        e.unrealized_pnl_usd = unrealized
        e.exposure_usd = exposure
        e.n_positions = n_pos
        out.counts[3] += 1
        trail_write_nb(t_ms, st, sc, out, policy, every_bars)
        st.clock[_C_CYCLES] += 1
    return hi


# --------------------------------------------------------------------------- stale-cache guard

_DEPENDENCIES = (
    "botcore/generic/nb.py", "botcore/signals/nb.py", "botcore/signals/price/nb.py", "botcore/signals/sentiment/nb.py",
    "botcore/signals/enums.py", "botcore/regime/nb.py", "botcore/strategy/nb.py", "botcore/strategy/decide/nb.py",
    "botcore/strategy/enums.py", "botcore/fills/nb.py", "botcore/fills/enums.py", "botcore/engine/features_nb.py",
    "botcore/engine/enums.py",
)


def _guard_stale_cache() -> None:
    """Drop this module's Numba cache when a kernel it compiles in has changed.

    Numba keys a cached function on its own file only, but the machine code it
    stores includes the callees it was compiled with (the signal steps,
    ``decide_nb``, the fill model). A stamp of those sources next to the cache
    makes an edit of any of them recompile this module instead of running the
    old code.
    """
    import hashlib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha1()
    for rel in _DEPENDENCIES:
        p = root / rel
        digest.update(p.read_bytes() if p.is_file() else rel.encode())
    try:
        # numba's private cache locator: no typed API names it (absent without the JIT, caught below)
        cache_dir = Path(advance_nb._cache._cache_path)  # type: ignore[attr-defined]
    except AttributeError:  # no cache locator (e.g. NUMBA_DISABLE_JIT)
        return
    stamp = cache_dir / "nb.dependencies.sha1"
    try:
        if stamp.is_file() and stamp.read_text() == digest.hexdigest():
            return
        for f in list(cache_dir.glob("nb.*.nbi")) + list(cache_dir.glob("nb.*.nbc")):
            f.unlink(missing_ok=True)
        cache_dir.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest.hexdigest())
    except OSError:  # a read-only cache: Numba will not write either
        pass


_guard_stale_cache()

__all__ = [
    "advance_nb", "apply_fill_nb", "apply_funding_nb", "cycle_nb", "decide_step_nb", "entry_signal_write_nb",
    "equity_nb", "free_margin_nb",
    "fsum_nb", "qty_equal_nb", "run_bars_nb", "trail_flush_nb", "trail_write_nb", "venue_submit_nb",
    "venue_update_nb",
]
