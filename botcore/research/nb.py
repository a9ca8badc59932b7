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
def simulate_signals_1d_nb(close, entries, exits, size_base, fee_rate, direction, col, out, k):
    """Simulate one column; write its trades into ``out`` from index ``k``; return the next free index.

    ``direction`` +1 long only, -1 short only.
    """
    if not (size_base > 0.0 and np.isfinite(size_base)):
        raise ValueError("size_base must be finite and > 0")
    in_pos = False
    entry_idx = -1
    entry_price = np.nan
    entry_fees = 0.0
    qty = 0.0
    last_valid = -1
    for i in range(close.shape[0]):
        c = close[i]
        if not np.isfinite(c):
            continue
        last_valid = i
        if entries[i] and exits[i]:
            continue
        if not in_pos and entries[i]:
            status, q, px, fee = _fill_at_close_nb(direction, size_base, c, fee_rate)
            if status == _FILLED:
                in_pos = True
                entry_idx = i
                entry_price = px
                entry_fees = fee
                qty = q
        elif in_pos and exits[i]:
            status, q, px, fee = _fill_at_close_nb(-direction, qty, c, fee_rate)
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
def simulate_signals_nb(close, entries, exits, size_base, fee_rate, direction):
    """Simulate every column (2-D); return the trade records in column order."""
    if close.shape != entries.shape or close.shape != exits.shape:
        raise ValueError("close, entries and exits must have the same shape")
    if direction != 1 and direction != -1:
        raise ValueError("direction must be +1 (long only) or -1 (short only)")
    n_bars, n_cols = close.shape
    out = np.zeros(n_bars // 2 * n_cols + n_cols, dtype=sim_trade_dt)
    k = 0
    for j in range(n_cols):
        k = simulate_signals_1d_nb(close[:, j], entries[:, j], exits[:, j], size_base[j], fee_rate, direction, j,
                                   out, k)
    return out[:k]
