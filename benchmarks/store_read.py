"""Reading 15 symbols x 30 days of 1m snapshots: the Parquet Store against ``pandas.read_csv``.

Writes the SYNTHETIC sample market's candles and 10-level book (for every
symbol of the universe) to a Store and to one CSV per symbol and kind, then
times reading the full window of all symbols both ways, in the same run,
best of ``--repeat``. Also times ``Store.read_panel`` (one column of every
symbol, the shape a cross-sectional kernel wants).

    python -m benchmarks store_read [--days 30] [--seed 0] [--repeat 3] [--dir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

KINDS = ("candles_1m", "book")


def _best(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    best, rows = float("inf"), 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        rows = fn()
        best = min(best, time.perf_counter() - t0)
    return best, rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks store_read", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one, removed after)")
    parser.add_argument("--config", type=Path, default=None)
    args = parser.parse_args(argv)

    from botcore.config import load_settings
    from botcore.market.sample import generate_sample_market
    from botcore.market.store import Store, symbol_key

    work = args.dir or Path(tempfile.mkdtemp(prefix="botcore-bench-"))
    try:
        settings = load_settings(args.config)
        t0 = time.perf_counter()
        market = generate_sample_market(work / "store", args.days, args.seed, settings)
        print(f"SYNTHETIC sample market: {len(market.symbols)} symbols x {args.days:g} days in {time.perf_counter() - t0:.1f} s")
        store = Store(market.out_dir)
        symbols = market.symbols
        start, end = market.start_ms, market.end_ms
        csv_dir = work / "csv"
        csv_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        for kind in KINDS:
            for sym in symbols:
                frame = store.read(kind, sym)
                pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), csv_dir / f"{kind}-{symbol_key(sym)}.csv")
        print(f"wrote {len(KINDS) * len(symbols)} CSV files in {time.perf_counter() - t0:.1f} s")

        def via_store() -> int:
            return sum(len(store.read(kind, sym, start, end)) for kind in KINDS for sym in symbols)

        def via_csv(engine: str) -> Callable[[], int]:
            def run() -> int:
                rows = 0
                for kind in KINDS:
                    for sym in symbols:
                        df = pd.read_csv(csv_dir / f"{kind}-{symbol_key(sym)}.csv", engine=engine)  # type: ignore[call-overload]
                        rows += len(df[(df["ts"] >= start) & (df["ts"] <= end)])
                return rows

            return run

        def via_panel() -> int:
            return store.read_panel("candles_1m", symbols, "close", start, end).size

        t_store, n_store = _best(via_store, args.repeat)
        t_csv, n_csv = _best(via_csv("c"), args.repeat)
        t_csv_pa, _ = _best(via_csv("pyarrow"), args.repeat)
        t_panel, n_panel = _best(via_panel, args.repeat)
        if n_store != n_csv:
            print(f"row counts differ: store {n_store}, csv {n_csv}")
            return 1
        check = store.read("book", symbols[0], start, end)
        pd.testing.assert_frame_equal(check, pd.read_csv(csv_dir / f"book-{symbol_key(symbols[0])}.csv"), check_dtype=False)
        size_store = sum(p.stat().st_size for k in KINDS for p in (market.out_dir / k).glob("*.parquet"))
        size_csv = sum(p.stat().st_size for p in csv_dir.glob("*.csv"))
        print(f"rows read: {n_store:,} ({', '.join(KINDS)}; {len(symbols)} symbols)")
        print(f"Store (Parquet, pyarrow): {t_store:8.3f} s   on disk {size_store / 1e6:8.1f} MB")
        print(f"pandas.read_csv:          {t_csv:8.3f} s   on disk {size_csv / 1e6:8.1f} MB")
        print(f"pandas.read_csv(engine='pyarrow'): {t_csv_pa:.3f} s")
        print(f"ratio read_csv / Store:   {t_csv / t_store:8.1f} x   (pyarrow CSV engine: {t_csv_pa / t_store:.1f} x)")
        print(f"Store.read_panel (close of {len(symbols)} symbols, {n_panel:,} values): {t_panel:.3f} s")
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0
