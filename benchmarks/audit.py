"""The look-ahead audit's cost per bar: the engine path (full + truncated runs) and the batch signal path.

On real FTX BTC-PERP 1m candles (``../shared/data/market/perp-1m``, with the
documented book/mark/funding overlay of ``real_candle_store``; one symbol) and
on the SYNTHETIC sample market (every symbol of the universe). A first short
audit compiles and warms the caches; the timed audits then run ``--bars``
bars with the engine path alone and with the batch path too. Every bar must
have run on every path (the audit raises otherwise).

    python -m benchmarks audit [--bars 240] [--warmup-bars 1440] [--days 1.5] [--dir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

REAL_CSV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "market" / "perp-1m" / "FTX_BTC-PERP_1m_2022-01.csv"


def _time(label: str, store: object, settings: object, bars: int, warmup: int, **kw: object) -> None:
    from botcore.research.lookahead import audit_lookahead

    audit_lookahead(store, settings, bars=3, warmup_bars=warmup, **kw)  # compile, warm the caches
    t0 = time.perf_counter()
    engine = audit_lookahead(store, settings, bars=bars, warmup_bars=warmup, batch=False, **kw)
    t1 = time.perf_counter()
    both = audit_lookahead(store, settings, bars=bars, warmup_bars=warmup, batch=True, **kw)
    t2 = time.perf_counter()
    assert engine.ok and both.ok, both.by_field().to_string()
    n, m = both.n_bars, len(both.symbols)
    e_ms, b_ms = (t1 - t0) / n * 1e3, ((t2 - t1) - (t1 - t0)) / n * 1e3
    print(f"{label}: {n} bars x {m} symbols, bars run {both.bars_run}, {both.n_checked:,} values, no look-ahead")
    print(f"  engine path (full + truncated): {t1 - t0:6.2f} s = {e_ms:6.1f} ms/bar ({e_ms / m:.2f} ms per bar-symbol)")
    print(f"  batch path (panel of {warmup} + t bars per bar): {max(0.0, b_ms):6.1f} ms/bar")
    print(f"  both: {t2 - t1:6.2f} s = {(t2 - t1) / n * 1e3:6.1f} ms/bar")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks audit", description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=240)
    parser.add_argument("--warmup-bars", type=int, default=1_440)
    parser.add_argument("--days", type=float, default=1.5, help="days of the sample market")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one, removed after)")
    parser.add_argument("--config", type=Path, default=None)
    args = parser.parse_args(argv)

    from botcore.config import load_settings
    from botcore.engine.testing import real_candle_store
    from botcore.market.sample import generate_sample_market

    settings = load_settings(args.config)
    work = args.dir or Path(tempfile.mkdtemp(prefix="botcore-bench-"))
    try:
        if REAL_CSV.exists():
            store = real_candle_store(work / "ftx", REAL_CSV)
            _time("REAL FTX BTC-PERP 1m", store, settings, args.bars, args.warmup_bars, symbols=["BTC/USDT:USDT"])
        else:
            print(f"real candles not found at {REAL_CSV}: skipped")
        market = generate_sample_market(work / "sample", args.days, args.seed, settings)
        _time("SYNTHETIC sample market", market.out_dir, settings, args.bars, args.warmup_bars)
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0
