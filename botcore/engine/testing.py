"""Helpers for the engine's tests and benchmarks: documented overrides, stores with outages, ledger comparison.

Nothing here runs in the bot. Each helper says what it makes up, so a test
that uses one states its assumptions.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from botcore.config.models import Settings
from botcore.ledger import Ledger
from botcore.market.importers import import_path
from botcore.market.store import BOOK_LEVELS, Store

#: Decision-parameter overrides that make the bot trade often on the sample market, for tests that need
#: many trades (parity). Why the shipped configuration trades rarely there: the aggregator's conviction is
#: a weight-normalised mean of confidence x score over all live signals; on the sample market the
#: contrarian signals (mean reversion, funding) oppose the momentum ones (trend, order flow, taker), so
#: conviction has a median of about 0.08 and a 99th percentile of about 0.29, under the strategies'
#: min_conviction (0.30-0.40); and bootstrap Kelly has no edge below the conviction pivot + 0.02 (0.52).
#: Lowering both (per-strategy ``min_conviction`` and ``kelly_conviction_pivot``, documented overrides of
#: :func:`botcore.strategy.build_params`) lets conviction 0.12+ trade.
ACTIVE_OVERRIDES: dict[str, Any] = {
    "min_conviction.sentiment_fusion": 0.12,
    "min_conviction.trend_conservative": 0.12,
    "min_conviction.breakout_aggressive": 0.12,
    "kelly_conviction_pivot": 0.1,
    "max_entries_per_day": 0,  # no daily entry budget: these tests want dozens of trades in hours
    "burn_in_min_size": 0,  # Kelly sizes from the first trade (the pivot above gives it an edge), as these tests pin
}

TABLE_KEYS = {
    "orders": ["client_order_id"],
    "fills": ["fill_id"],
    "trades": ["closing_fill_id"],
    "funding": ["funding_id"],
    "equity": ["ts_ms"],
    "positions": ["symbol"],
    "decisions": ["ts_ms", "symbol"],  # compare only full trails (a compressed backtest trail has fewer rows)
}


def with_signals(settings: Settings, **updates: Any) -> Settings:
    """Return ``settings`` with ``settings.signals`` fields replaced (e.g. ``min_live_signals=3``)."""
    return settings.model_copy(update={"signals": settings.signals.model_copy(update=updates)})


MONEY_TABLES = ("orders", "fills", "trades", "funding", "equity", "positions")


def ledger_tables(path: str | Path, tables: Sequence[str] = MONEY_TABLES) -> dict[str, pd.DataFrame]:
    """Return the given tables of a ledger without their autoincrement columns, sorted by their natural keys."""
    out = {}
    with Ledger.open(path, readonly=True) as led:
        for name in tables:
            df = led.table(name).drop(columns=[c for c in ("seq", "trade_id") if c in led.table(name).columns])
            out[name] = df.sort_values(TABLE_KEYS.get(name, list(df.columns)[:1])).reset_index(drop=True)
    return out


def diff_ledgers(a: str | Path, b: str | Path, tables: Sequence[str] = MONEY_TABLES) -> dict[str, str]:
    """Return ``{table: what differs}`` between two ledgers (empty when every table is identical)."""
    ta, tb = ledger_tables(a, tables), ledger_tables(b, tables)
    problems = {}
    for name in tables:
        x, y = ta[name], tb[name]
        if len(x) != len(y):
            problems[name] = f"{len(x)} rows vs {len(y)}"
            continue
        bad = [c for c in x.columns if not x[c].equals(y[c])]
        if bad:
            problems[name] = f"columns differ: {bad}"
    return problems


def store_with_outages(src: str | Path, dst: str | Path, symbols: Sequence[str], t0_ms: int) -> Store:
    """Copy a store and cut holes into it from ``t0_ms`` on, for the bar-row agreement tests.

    Symbol 0: no book for 10 minutes (stale after 2). Symbol 1: 1m candles and
    taker rows missing for 5 minutes. Symbol 2: NaN mark prices for 5 minutes
    and a liquidation row with a NaN. Market-wide: social tone NaN for one row.
    """
    src, dst = Path(src), Path(dst)
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    store = Store(dst)

    def rewrite(kind: str, symbol: str, edit) -> None:
        df = store.read(kind, symbol)
        df = edit(df)
        store.path(kind, symbol).unlink()
        store.write(kind, symbol, df)

    m = 60_000
    rewrite("book", symbols[0], lambda d: d[(d.ts < t0_ms) | (d.ts >= t0_ms + 10 * m)])
    rewrite("candles_1m", symbols[1], lambda d: d[(d.ts < t0_ms + 3 * m) | (d.ts >= t0_ms + 8 * m)])
    rewrite("taker", symbols[1], lambda d: d[(d.ts < t0_ms + 4 * m) | (d.ts >= t0_ms + 9 * m)])

    def nan_mark(d: pd.DataFrame) -> pd.DataFrame:
        d = d.copy()
        d.loc[(d.ts >= t0_ms + 20 * m) & (d.ts < t0_ms + 25 * m), "mark_price"] = np.nan
        return d

    def nan_liq(d: pd.DataFrame) -> pd.DataFrame:
        d = d.copy()
        d.loc[d.ts == t0_ms + 30 * m, "long_liq_usd"] = np.nan
        return d

    def nan_tone(d: pd.DataFrame) -> pd.DataFrame:
        d = d.copy()
        d.loc[(d.ts >= t0_ms) & (d.ts < t0_ms + 3_600_000), "tone"] = np.nan
        return d

    rewrite("mark", symbols[2], nan_mark)
    rewrite("liquidations", symbols[2], nan_liq)
    rewrite("social", "MARKET", nan_tone)
    return store


def real_candle_store(root: str | Path, candles_csv: str | Path, symbol: str = "BTC/USDT:USDT", *,
                      half_spread_bps: float = 0.5, level_step_bps: float = 1.0, level_size_base: float = 2.0,
                      funding_rate: float = 1e-4) -> Store:
    """Import real 1m candles and add a documented overlay of what the file lacks: book, mark and funding.

    The candles (e.g. FTX BTC-PERP 1m) are real. The overlay is made up: at
    each bar's close a 10-level book symmetric around the close
    (``half_spread_bps`` to the touch, ``level_step_bps`` between levels,
    ``level_size_base`` per level), a mark price equal to the close, and a
    constant ``funding_rate`` every 8 h (00:00/08:00/16:00 UTC). Only the candle-based signals (trend, breakout,
    mean reversion) carry information; the order-flow signal reads the
    symmetric book as 0 and funding is flat. Tests using it say so and lower
    ``min_live_signals`` accordingly.
    """
    store = Store(root)
    frames = import_path(candles_csv, symbol=symbol).frames
    candles = frames["candles_1m"]
    store.write("candles_1m", symbol, candles)
    ts = candles["ts"].to_numpy(np.int64) + 60_000
    close = candles["close"].to_numpy(np.float64)
    book: dict[str, Any] = {"ts": ts}
    for k in range(1, BOOK_LEVELS + 1):
        off = (half_spread_bps + (k - 1) * level_step_bps) * 1e-4
        book[f"bid_px_{k}"] = close * (1 - off)
        book[f"ask_px_{k}"] = close * (1 + off)
        book[f"bid_sz_{k}"] = np.full(len(ts), level_size_base)
        book[f"ask_sz_{k}"] = np.full(len(ts), level_size_base)
    store.write("book", symbol, pd.DataFrame(book))
    store.write("mark", symbol, pd.DataFrame({"ts": ts, "mark_price": close}))
    first, last = int(ts[0]), int(ts[-1])
    eight_h = 8 * 3_600_000
    fts = np.arange(first - first % eight_h, last + 1, eight_h, dtype=np.int64)
    store.write("funding", symbol, pd.DataFrame({"ts": fts, "rate": np.full(len(fts), funding_rate),
                                                 "next_funding_ts": (fts + eight_h).astype(np.float64)}))
    return store


__all__ = ["ACTIVE_OVERRIDES", "MONEY_TABLES", "diff_ledgers", "ledger_tables", "real_candle_store", "store_with_outages",
           "with_signals"]
