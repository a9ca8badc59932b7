"""The vectorbt bridge: a backtest ledger as a vectorbt ``Portfolio``, and one signal strategy through both simulators.

Two directions:

- **ledger -> vectorbt**: :func:`ledger_orders` reads a ledger's fills into
  per-symbol order panels (signed base size, VWAP price, fee in USD per cycle
  time) and :func:`ledger_portfolio` builds ``vbt.Portfolio.from_orders`` over
  them with one shared cash pool of the starting cash (fees as
  ``fixed_fees``), so vectorbt's analytics (drawdowns, trade records,
  returns stats) read the backtest. Funding is not an order: it is reported
  beside (``LedgerOrders.funding_usd``), so vectorbt's cash equals the
  ledger's minus funding.
- **signals -> both simulators**: :func:`run_signals_botcore` runs entry/exit
  arrays through :func:`botcore.research.nb.simulate_signals_nb` (the
  botcore fill kernel, close-price fills, taker fee, stop loss, take profit,
  trailing stop, slippage) and :func:`run_signals_vbt` through
  ``vbt.Portfolio.from_signals`` with the same size, fee, direction, stops
  and slippage; :func:`compare_trades` says where they differ (nothing, for
  the same signals: ``tests/test_research_vbt.py``).

:func:`ema_cross_signals` makes a simple EMA-cross signal pair to feed them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from botcore.research.nb import sim_trade_dt, simulate_signals_nb

logger = logging.getLogger(__name__)

TRADE_COLUMNS = ["col", "size", "entry_idx", "entry_price", "entry_fees", "exit_idx", "exit_price", "exit_fees",
                 "pnl", "return_", "direction", "status"]
_DIRECTIONS = {"longonly": 1, "shortonly": -1}


# --------------------------------------------------------------------------- signals


def ema_cross_signals(close: pd.DataFrame, fast_bars: int = 20, slow_bars: int = 60) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(entries, exits)``: the fast EMA crossing above / below the slow one (no signal while either is warming up)."""
    if not 0 < fast_bars < slow_bars:
        raise ValueError(f"fast_bars/slow_bars: need 0 < fast < slow, got {fast_bars}, {slow_bars}")
    fast = close.ewm(span=fast_bars, adjust=False, min_periods=fast_bars).mean()
    slow = close.ewm(span=slow_bars, adjust=False, min_periods=slow_bars).mean()
    above = fast > slow
    prev = above.shift(1, fill_value=False).astype(bool)
    valid = slow.notna() & slow.shift(1).notna()
    entries = above & ~prev & valid
    exits = ~above & prev & valid
    return entries.astype(bool), exits.astype(bool)


def _panel(name: str, a: Any, like: pd.DataFrame | None = None) -> pd.DataFrame:
    if isinstance(a, pd.Series):
        a = a.to_frame()
    if isinstance(a, pd.DataFrame):
        return a
    arr = np.asarray(a)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name}: must be 1-D or 2-D, got shape {arr.shape}")
    if like is not None:
        return pd.DataFrame(arr, index=like.index, columns=like.columns)
    return pd.DataFrame(arr)


def _inputs(close: Any, entries: Any, exits: Any, size_base: float | Any) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    close_df = _panel("close", close)
    ent = _panel("entries", entries, close_df)
    ext = _panel("exits", exits, close_df)
    if ent.shape != close_df.shape or ext.shape != close_df.shape:
        raise ValueError(f"entries/exits: shape {ent.shape}/{ext.shape} differs from close {close_df.shape}")
    size = np.broadcast_to(np.asarray(size_base, dtype=np.float64), (close_df.shape[1],)).copy()
    if not (np.isfinite(size).all() and (size > 0).all()):
        raise ValueError("size_base: must be finite and > 0")
    return (close_df, np.ascontiguousarray(close_df.to_numpy(np.float64)),
            np.ascontiguousarray(ent.to_numpy(bool)), np.ascontiguousarray(ext.to_numpy(bool)), size)


def _direction(direction: str) -> int:
    if direction not in _DIRECTIONS:
        raise ValueError(f"direction: must be one of {sorted(_DIRECTIONS)}, got {direction!r}")
    return _DIRECTIONS[direction]


def _ohlc(close_df: pd.DataFrame, name: str, a: Any) -> np.ndarray:
    if a is None:
        return np.full(close_df.shape, np.nan)
    arr = _panel(name, a, close_df)
    if arr.shape != close_df.shape:
        raise ValueError(f"{name}: shape {arr.shape} differs from close {close_df.shape}")
    return np.ascontiguousarray(arr.to_numpy(np.float64))


def run_signals_botcore(close: Any, entries: Any, exits: Any, *, size_base: float | Any = 1.0, fee_rate: float = 0.0006,
                        direction: str = "longonly", open: Any = None, high: Any = None, low: Any = None,
                        sl_stop: float = np.nan, tp_stop: float = np.nan, sl_trail: bool = False,
                        slippage: float = 0.0) -> pd.DataFrame:
    """Run entry/exit signals through the botcore simulator; return its trades (:data:`TRADE_COLUMNS`).

    Stops (``sl_stop``, ``tp_stop`` as fractions, ``sl_trail``) read ``open``/``high``/``low``; ``slippage``
    moves every fill against the order (:mod:`botcore.research.nb`).
    """
    close_df, c, e, x, size = _inputs(close, entries, exits, size_base)
    recs = simulate_signals_nb(c, e, x, size, float(fee_rate), _direction(direction), _ohlc(close_df, "open", open),
                               _ohlc(close_df, "high", high), _ohlc(close_df, "low", low), float(sl_stop),
                               float(tp_stop), bool(sl_trail), float(slippage))
    return pd.DataFrame.from_records(recs, columns=list(sim_trade_dt.names or ()))[TRADE_COLUMNS]


def run_signals_vbt(close: Any, entries: Any, exits: Any, *, size_base: float | Any = 1.0, fee_rate: float = 0.0006,
                    direction: str = "longonly", init_cash: float = 1e12, open: Any = None, high: Any = None,
                    low: Any = None, sl_stop: float = np.nan, tp_stop: float = np.nan, sl_trail: bool = False,
                    slippage: float = 0.0) -> Any:
    """Run the same signals through ``vbt.Portfolio.from_signals`` (fixed base size, close fills, proportional fee,
    stops from the entry close filled as stop-market orders, slippage)."""
    import vectorbt as vbt

    close_df, c, e, x, size = _inputs(close, entries, exits, size_base)
    _direction(direction)

    def frame(a: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(a, index=close_df.index, columns=close_df.columns)

    return vbt.Portfolio.from_signals(
        frame(c), frame(e), frame(x),
        size=size[None, :], size_type="amount", fees=float(fee_rate), direction=direction, accumulate=False,
        init_cash=float(init_cash), freq="1min", open=frame(_ohlc(close_df, "open", open)),
        high=frame(_ohlc(close_df, "high", high)), low=frame(_ohlc(close_df, "low", low)), sl_stop=float(sl_stop),
        sl_trail=bool(sl_trail), tp_stop=float(tp_stop), slippage=float(slippage), stop_entry_price="close",
        stop_exit_price="stopmarket", upon_stop_exit="close",
    )


def vbt_trades(pf: Any) -> pd.DataFrame:
    """Return a vectorbt portfolio's trade records as :data:`TRADE_COLUMNS` (vectorbt's own numbers)."""
    rec = pf.trades.values
    df = pd.DataFrame({
        "col": rec["col"].astype(np.int64), "size": rec["size"], "entry_idx": rec["entry_idx"].astype(np.int64),
        "entry_price": rec["entry_price"], "entry_fees": rec["entry_fees"], "exit_idx": rec["exit_idx"].astype(np.int64),
        "exit_price": rec["exit_price"], "exit_fees": rec["exit_fees"], "pnl": rec["pnl"], "return_": rec["return"],
        "direction": rec["direction"].astype(np.int64), "status": rec["status"].astype(np.int64),
    })
    return df.sort_values(["col", "entry_idx"], kind="stable").reset_index(drop=True)


def compare_trades(a: pd.DataFrame, b: pd.DataFrame, atol: float = 1e-9, rtol: float = 1e-12) -> list[str]:
    """Return what differs between two trade tables (empty: the same trades, floats within ``atol + rtol*|x|``)."""
    a = a.sort_values(["col", "entry_idx"], kind="stable").reset_index(drop=True)
    b = b.sort_values(["col", "entry_idx"], kind="stable").reset_index(drop=True)
    if len(a) != len(b):
        return [f"{len(a)} trades vs {len(b)}"]
    problems = []
    for c in TRADE_COLUMNS:
        x, y = a[c].to_numpy(), b[c].to_numpy()
        if x.dtype.kind in "iub":
            bad = np.flatnonzero(x != y)
        else:
            bad = np.flatnonzero(~np.isclose(x, y, atol=atol, rtol=rtol, equal_nan=True))
        if len(bad):
            i = bad[0]
            problems.append(f"{c}: {len(bad)} trades differ (first: trade {i}, {x[i]!r} vs {y[i]!r})")
    return problems


# --------------------------------------------------------------------------- ledger -> vectorbt


@dataclass(frozen=True)
class LedgerOrders:
    """A ledger's fills as per-cycle order panels (index: cycle time UTC, columns: symbols)."""

    size_base: pd.DataFrame  # signed: > 0 bought, < 0 sold; 0 no fill
    price: pd.DataFrame  # VWAP of the cycle's fills; NaN no fill
    fees_usd: pd.DataFrame
    close: pd.DataFrame  # valuation price: the given closes, else the last fill price carried forward
    starting_cash_usd: float
    funding_usd: float
    equity: pd.DataFrame  # the ledger's equity table, indexed by cycle time


def ledger_orders(ledger_path: str | os.PathLike[str], close: pd.DataFrame | None = None) -> LedgerOrders:
    """Read a ledger's fills into :class:`LedgerOrders` (one order per symbol per cycle time)."""
    from botcore.ledger import Ledger

    with Ledger.open(ledger_path, readonly=True) as led:
        fills = led.table("fills")
        equity = led.table("equity")
        funding = led.table("funding")
        cash0 = float(led.get_meta("starting_cash_usd"))
    times = np.union1d(equity["ts_ms"].to_numpy(np.int64), fills["ts_ms"].to_numpy(np.int64))
    index = pd.to_datetime(times, unit="ms", utc=True)
    symbols = sorted(fills["symbol"].unique()) if close is None else list(close.columns)
    f = fills.assign(signed=fills["side"] * fills["qty_base"], notional=fills["price"] * fills["qty_base"])
    g = f.groupby(["ts_ms", "symbol"])
    agg = pd.DataFrame({"signed": g["signed"].sum(), "qty": g["qty_base"].sum(), "notional": g["notional"].sum(),
                        "fee": g["fee_usd"].sum()})
    if ((g["side"].nunique()) > 1).any():
        logger.warning("ledger: a cycle has fills on both sides of one symbol; netted into one order")

    def panel(values: pd.Series, fill: float) -> pd.DataFrame:
        p = values.unstack("symbol").reindex(index=times, columns=symbols)
        p.index = index
        return p.fillna(fill) if not np.isnan(fill) else p

    size = panel(agg["signed"], 0.0)
    price = panel(agg["notional"] / agg["qty"], np.nan)
    fees = panel(agg["fee"], 0.0)
    if close is None:
        valuation = price.ffill().bfill()
    else:
        valuation = close.reindex(index).ffill()
    eq = equity.set_index(pd.to_datetime(equity["ts_ms"], unit="ms", utc=True))
    return LedgerOrders(size, price, fees, valuation, cash0, float(funding["amount_usd"].sum()) if len(funding) else 0.0,
                        eq)


def ledger_portfolio(ledger_path: str | os.PathLike[str], close: pd.DataFrame | None = None, freq: str = "1min") -> Any:
    """Return a ledger's fills as one ``vbt.Portfolio`` (cash shared, fees as fixed fees, starting cash of the ledger)."""
    import vectorbt as vbt

    o = ledger_orders(ledger_path, close)
    if o.size_base.shape[1] == 0:
        raise ValueError(f"ledger: {ledger_path} has no fills")
    size = o.size_base.where(o.size_base != 0.0, np.nan)
    return vbt.Portfolio.from_orders(
        o.close, size=size, size_type="amount", price=o.price.fillna(o.close), fees=0.0, fixed_fees=o.fees_usd,
        direction="both", init_cash=o.starting_cash_usd, cash_sharing=True, group_by=True, freq=freq,
        lock_cash=False, allow_partial=False, raise_reject=True,
    )


__all__ = ["LedgerOrders", "TRADE_COLUMNS", "compare_trades", "ema_cross_signals", "ledger_orders", "ledger_portfolio",
           "run_signals_botcore", "run_signals_vbt", "vbt_trades"]
