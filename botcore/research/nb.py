"""Compiled kernels of the research tools: the botcore signal simulator.

Contract
--------
``close``, ``entries``, ``exits``: 2-D ``(n_bars, n_cols)``, float64 / bool.
Every order is a market order of ``size_base`` base units filled by
:func:`botcore.fills.nb.fill_market_order_nb` against a one-level book at the
bar's close (so the price is the close and the fee the taker rate on the
notional), one position per column, no accumulation (vectorbt's
``from_signals`` with ``accumulate=False``). An entry opens a position when
flat, an exit closes it when open; a bar with both signals does nothing
(vectorbt's ``upon_long_conflict="ignore"``); a NaN close skips the bar's
signals. Units: prices USDT per base unit, sizes base units, money USD.

Trade records (:data:`sim_trade_dt`) follow vectorbt's trade records: a
position still open after the last bar is reported with ``status=0``, exit
at the last valid close, no exit fee, P&L marked to that close.

Exits and costs (vectorbt's ``from_signals`` rules with
``stop_entry_price="close"``, ``stop_exit_price="stopmarket"``): a stop loss
``sl_stop`` and a take profit ``tp_stop`` (fractions of the entry bar's
close; NaN: none) are checked from the bar after the entry, before that
bar's signals: the stop loss first at ``ref * (1 -/+ sl_stop)``, then the
take profit at ``entry close * (1 +/- tp_stop)``; a bar whose open is
already past the level exits at the open, else a bar whose low..high range
holds it exits at the level; a stop exit replaces the bar's signals. With
``sl_trail`` the stop loss's reference is the highest high (long) / lowest
low (short) of the bars since the entry, updated after each bar's check.
``slippage`` (a fraction) moves every fill against the order: buys at
``price * (1 + slippage)``, sells at ``price * (1 - slippage)``; the taker
fee is on the slipped notional. ``open``/``high``/``low`` NaN fall back to
the close (open) and to min/max(open, close).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from botcore.fills.nb import fill_market_order_nb

sim_trade_dt = np.dtype([
    ("col", np.int64), ("size", np.float64), ("entry_idx", np.int64), ("entry_price", np.float64),
    ("entry_fees", np.float64), ("exit_idx", np.int64), ("exit_price", np.float64), ("exit_fees", np.float64),
    ("pnl", np.float64), ("return_", np.float64), ("direction", np.int64), ("status", np.int64),
], align=True)

_EXHAUST_PARTIAL = 0
_FILLED = 0


@njit(cache=True)
def _fill_at_close_nb(side, size_base, close, fee_rate):
    """Fill ``size_base`` at the price ``close`` (a one-level book there) with the taker fee; the fill kernel's result."""
    px = np.array([close])
    sz = np.array([2.0 * size_base])  # one level deep enough for the order
    # contract = the whole order: the size is exact, never rounded
    fr = fill_market_order_nb(side, size_base, px, sz, px, sz, size_base, 1.0, 1.0, fee_rate, _EXHAUST_PARTIAL, 0.0)
    return fr.status, fr.qty_base, fr.price, fr.fee_usd


@njit(cache=True)
def _write_trade_nb(r, col, size, entry_idx, entry_price, entry_fees, exit_idx, exit_price, exit_fees, pnl,
                    direction, status):
    """Fill one :data:`sim_trade_dt` record ``r``; ``direction`` +1/-1 becomes vectorbt's 0 (long) / 1 (short).

    ``status`` 1 closed, 0 still open after the last bar. The return is
    ``pnl`` over the entry notional.
    """
    r["col"] = col
    r["size"] = size
    r["entry_idx"] = entry_idx
    r["entry_price"] = entry_price
    r["entry_fees"] = entry_fees
    r["exit_idx"] = exit_idx
    r["exit_price"] = exit_price
    r["exit_fees"] = exit_fees
    r["pnl"] = pnl
    r["return_"] = pnl / (entry_price * size)
    r["direction"] = 0 if direction == 1 else 1
    r["status"] = status


@njit(cache=True)
def stop_hit_price_nb(direction, ref_price, stop, open_, low, high, loss):
    """Return where a stop of ``stop`` (a fraction of ``ref_price``) fills this bar, else NaN (vectorbt's rule).

    ``loss``: a stop loss (below a long's reference, above a short's), else a take profit. A level the open
    is already past fills at the open; a level inside ``[low, high]`` fills at the level.
    """
    if (direction > 0) == loss:  # the level is below the reference: long stop loss, short take profit
        level = ref_price * (1.0 - stop)
        if open_ <= level:
            return open_
        if low <= level <= high:
            return level
        return np.nan
    level = ref_price * (1.0 + stop)
    if level <= open_:
        return open_
    if low <= level <= high:
        return level
    return np.nan


@njit(cache=True)
def simulate_signals_1d_nb(close, entries, exits, size_base, fee_rate, direction, col, out, k, open_, high, low,
                           sl_stop, tp_stop, sl_trail, slippage):
    """Simulate one column; write its trades into ``out`` from index ``k``; return the next free index.

    ``direction`` +1 long only, -1 short only; stops, trailing and slippage as in the module docstring.
    """
    if not (size_base > 0.0 and np.isfinite(size_base)):
        raise ValueError("size_base must be finite and > 0")
    in_pos = False
    entry_idx = -1
    entry_price = np.nan
    entry_fees = 0.0
    qty = 0.0
    sl_ref = np.nan
    tp_ref = np.nan
    last_valid = -1
    for i in range(close.shape[0]):
        c = close[i]
        if not np.isfinite(c):
            continue
        last_valid = i
        if in_pos and (np.isfinite(sl_stop) or np.isfinite(tp_stop)):
            o = open_[i] if np.isfinite(open_[i]) else c
            lo = low[i] if np.isfinite(low[i]) else min(o, c)
            hi = high[i] if np.isfinite(high[i]) else max(o, c)
            stop_px = np.nan
            if np.isfinite(sl_stop):
                stop_px = stop_hit_price_nb(direction, sl_ref, sl_stop, o, lo, hi, True)
            if np.isnan(stop_px) and np.isfinite(tp_stop):
                stop_px = stop_hit_price_nb(direction, tp_ref, tp_stop, o, lo, hi, False)
            if np.isfinite(sl_stop) and sl_trail:
                if direction > 0 and hi > sl_ref:
                    sl_ref = hi
                elif direction < 0 and lo < sl_ref:
                    sl_ref = lo
            if np.isfinite(stop_px):
                status, q, px, fee = _fill_at_close_nb(-direction, qty, stop_px * (1.0 - direction * slippage),
                                                       fee_rate)
                if status == _FILLED:
                    pnl = direction * (px - entry_price) * qty - entry_fees - fee
                    _write_trade_nb(out[k], col, qty, entry_idx, entry_price, entry_fees, i, px, fee, pnl, direction, 1)
                    k += 1
                    in_pos = False
                    continue
        if entries[i] and exits[i]:
            continue
        if not in_pos and entries[i]:
            status, q, px, fee = _fill_at_close_nb(direction, size_base, c * (1.0 + direction * slippage), fee_rate)
            if status == _FILLED:
                in_pos = True
                entry_idx = i
                entry_price = px
                entry_fees = fee
                qty = q
                sl_ref = c  # stops are set from the entry bar's close (vectorbt's stop_entry_price="close")
                tp_ref = c
        elif in_pos and exits[i]:
            status, q, px, fee = _fill_at_close_nb(-direction, qty, c * (1.0 - direction * slippage), fee_rate)
            if status == _FILLED:
                gross = direction * (px - entry_price) * qty
                pnl = gross - entry_fees - fee
                _write_trade_nb(out[k], col, qty, entry_idx, entry_price, entry_fees, i, px, fee, pnl, direction, 1)
                k += 1
                in_pos = False
    if in_pos:
        c = close[last_valid]
        pnl = direction * (c - entry_price) * qty - entry_fees
        _write_trade_nb(out[k], col, qty, entry_idx, entry_price, entry_fees, last_valid, c, 0.0, pnl, direction, 0)
        k += 1
    return k


@njit(cache=True)
def simulate_signals_nb(close, entries, exits, size_base, fee_rate, direction, open_, high, low, sl_stop, tp_stop,
                        sl_trail, slippage):
    """Simulate every column (2-D); return the trade records in column order.

    ``open_``/``high``/``low`` are 2-D like ``close`` (NaN where unknown); ``sl_stop``, ``tp_stop`` (NaN: none),
    ``sl_trail`` and ``slippage`` apply to every column.
    """
    if close.shape != entries.shape or close.shape != exits.shape:
        raise ValueError("close, entries and exits must have the same shape")
    if open_.shape != close.shape or high.shape != close.shape or low.shape != close.shape:
        raise ValueError("open, high and low must have the shape of close")
    if direction != 1 and direction != -1:
        raise ValueError("direction must be +1 (long only) or -1 (short only)")
    if sl_stop < 0.0 or tp_stop < 0.0 or not (0.0 <= slippage < 1.0):
        raise ValueError("sl_stop and tp_stop must be >= 0 (or NaN) and slippage in [0, 1)")
    n_bars, n_cols = close.shape
    out = np.zeros(n_bars // 2 * n_cols + n_cols, dtype=sim_trade_dt)
    k = 0
    for j in range(n_cols):
        k = simulate_signals_1d_nb(close[:, j], entries[:, j], exits[:, j], size_base[j], fee_rate, direction, j,
                                   out, k, open_[:, j], high[:, j], low[:, j], sl_stop, tp_stop, sl_trail, slippage)
    return out[:k]
