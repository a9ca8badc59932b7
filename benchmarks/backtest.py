"""The full-decision backtest: 15 symbols x 365 days of 1m sample data through the one compiled step.

Reports, in one run:

- compile: the first call of the compiled step in this process (loading the
  Numba cache, or compiling when it is cold) apart from the run; with
  ``--cold``, a fresh process with an empty cache (minutes);
- the backtest compute (the compiled loop over 525,600 bars x 15 symbols:
  signals, regime, features, decide, fills, equity and trail records), the
  data loading, the warm-up and the ledger writing, each on its own; bars
  per second and microseconds per bar; the ledger once per trail level
  (``--trail``: the full trail, entries and exits only, none);
- peak memory (``resource.getrusage`` max RSS; not tracemalloc, whose hooks
  on every small allocation would slow the compiled loop several-fold);
- the per-bar cost of the parts: advance only (signals + regime + features)
  vs the whole cycle;
- first, the botcore signal simulator against vectorbt ``Portfolio.from_signals``
  on the same EMA-cross signals (:mod:`benchmarks.vbt_agreement`: speed ratio,
  target >= 1x, and whether the trades are identical); ``--no-vbt`` skips it.

Target: <= 10 us per bar of 15 symbols (about 5 s for a year) warm on a 2-core machine for the compute
(issue 23), and the ledger's full trail at <= 1 s per 583,200 rows.

    python -m benchmarks backtest [--days 365] [--symbols 15] [--data DIR] [--no-ledger] [--trail auto,entries,none]
                                  [--no-vbt] [--cold]

The sample market is generated once into ``var/bench/sample-<days>d-seed0``
(SYNTHETIC; about 4 MB per symbol-day on disk).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_COLD = """
import time
t0 = time.perf_counter()
import numpy as np
from botcore.config import load_settings
from botcore.engine.state import Engine
from botcore.engine import nb
from botcore.engine.inputs import load_rows
s = load_settings({config!r})
e = Engine(s)
rows = load_rows(__import__('botcore.market.store', fromlist=['Store']).Store({data!r}), e.symbols, {t0}, {t1}, s)
t1 = time.perf_counter()
e.warm_up(rows.ts_ms, rows.ohlcv, rows.book, rows.scalars)
from botcore.engine.state import new_outputs
out = new_outputs(len(e.symbols), len(rows), full_trail=True)
nb.run_bars_nb(rows.ts_ms, rows.ohlcv, rows.book, rows.scalars, 0, len(rows), True, e.state, e.cfg, e.scratch,
               e.params, 0, 0, 60, out)
print(time.perf_counter() - t1)
"""


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def ensure_market(days: int, data: Path | None) -> Path:
    from botcore.config import load_settings
    from botcore.market.sample import generate_sample_market

    path = data or REPO / "var" / "bench" / f"sample-{days}d-seed0"
    if (path / "SYNTHETIC").is_file() and (path / "candles_1m").is_dir():
        return path
    print(f"generating the SYNTHETIC sample market: {days} days x 15 symbols into {path} (once) ...", flush=True)
    t0 = time.perf_counter()
    generate_sample_market(path, days, 0, load_settings(REPO / "config"))
    print(f"  {time.perf_counter() - t0:.0f} s", flush=True)
    return path


def part_costs(data: Path, settings, n_bars: int = 20_160) -> dict[str, float]:
    """Microseconds per bar (15 symbols) of advance only vs the whole cycle, over two weeks of bars."""
    from botcore.engine import nb
    from botcore.engine.backtest import data_range
    from botcore.engine.inputs import load_rows
    from botcore.engine.state import Engine, new_outputs
    from botcore.market.store import Store

    store = Store(data)
    e = Engine(settings)
    first, _last = data_range(store, e.symbols)
    rows = load_rows(store, e.symbols, first, first + (n_bars - 1) * 60_000, settings)
    warm = 4_320
    e.warm_up(rows.ts_ms[:warm], rows.ohlcv[:warm], rows.book[:warm], rows.scalars[:warm])
    snap = e.state.copy()
    t0 = time.perf_counter()
    nb.run_bars_nb(rows.ts_ms, rows.ohlcv, rows.book, rows.scalars, warm, n_bars, False, e.state, e.cfg, e.scratch,
                   e.params, 0, 1, 60, new_outputs(1, 1, full_trail=True))
    advance = (time.perf_counter() - t0) / (n_bars - warm)
    e2 = Engine(settings)
    e2.state = snap  # same warm state
    e2.align_regime_phase(int(rows.ts_ms[0]))
    out = new_outputs(len(e.symbols), n_bars, full_trail=False)
    t0 = time.perf_counter()
    nb.run_bars_nb(rows.ts_ms, rows.ohlcv, rows.book, rows.scalars, warm, n_bars, True, e2.state, e2.cfg, e2.scratch,
                   e2.params, 0, 1, 60, out)
    full = (time.perf_counter() - t0) / (n_bars - warm)
    return {"advance_us_per_bar": advance * 1e6, "cycle_us_per_bar": full * 1e6}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks backtest", description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--symbols", type=int, default=15)
    ap.add_argument("--data", type=Path, default=None, help="a store to use instead of the generated sample")
    ap.add_argument("--no-ledger", action="store_true", help="skip the run that writes the ledger")
    ap.add_argument("--cold", action="store_true", help="also time a cold compile (empty Numba cache, minutes)")
    ap.add_argument("--no-vbt", action="store_true", help="skip the simulator vs vectorbt comparison")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--trail", default="auto,entries,none",
                    help="comma-separated trail levels of the ledger runs (auto, full, changes, entries, none)")
    args = ap.parse_args(argv)

    from botcore.config import load_settings
    from botcore.engine.backtest import run_backtest

    settings = load_settings(REPO / "config")
    symbols = [a.symbol for a in settings.universe.enabled][: args.symbols]
    vbt_status = 0
    if not args.no_vbt:
        from benchmarks import vbt_agreement

        vbt_status = vbt_agreement.main(["--bars", str(args.days * 1440), "--symbols", str(args.symbols),
                                         "--repeat", "2"])
        print(flush=True)
    data = ensure_market(args.days, args.data)
    print(f"data: {data} ({'SYNTHETIC' if (data / 'SYNTHETIC').is_file() else 'recorded'}), {len(symbols)} symbols, "
          f"{args.days} days; {os.cpu_count()} CPUs", flush=True)

    if args.cold:
        with tempfile.TemporaryDirectory() as cache:
            from botcore.engine.backtest import data_range
            from botcore.market.store import Store

            first, _ = data_range(Store(data), symbols)
            code = _COLD.format(config=str(REPO / "config"), data=str(data), t0=first, t1=first + 120 * 60_000)
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, NUMBA_CACHE_DIR=cache),
                                  capture_output=True, text=True, cwd=REPO)
            print(f"cold compile (fresh process, empty cache): {float(proc.stdout.strip() or 'nan'):.1f} s "
                  f"(process {time.perf_counter() - t0:.1f} s)", flush=True)

    # compile / cache load apart from the run: one short call first
    t0 = time.perf_counter()
    from botcore.engine.backtest import data_range
    from botcore.market.store import Store

    first, last = data_range(Store(data), symbols)
    run_backtest(data, settings, tempfile.mkdtemp(prefix="bc-bench-"), symbols=symbols, write_ledger=False,
                 start_ms=first + 60 * 60_000, end_ms=first + 120 * 60_000, warmup_bars=60, run_seed=args.seed)
    compile_s = time.perf_counter() - t0
    print(f"first call (Numba cache load or compile, + a 1-hour run): {compile_s:.1f} s", flush=True)

    parts = part_costs(data, settings)
    print(f"per bar, 15 symbols: advance (signals, regime, features) {parts['advance_us_per_bar']:.1f} us; "
          f"whole cycle (+ decide, fills, records) {parts['cycle_us_per_bar']:.1f} us", flush=True)

    res = run_backtest(data, settings, tempfile.mkdtemp(prefix="bc-bench-"), symbols=symbols, write_ledger=False,
                       run_seed=args.seed)
    t = res.timings
    n_bars = res.window.n_bars
    print(f"\nfull-decision backtest, {len(symbols)} symbols x {n_bars:,} bars (+{res.window.warmup_bars:,} warm-up):")
    print(f"  compute (compiled loop)  {t['compute']:7.1f} s wall   {n_bars / t['compute']:,.0f} bars/s, "
          f"{t['compute'] / n_bars * 1e6:.1f} us/bar   target <= 10 us/bar: {'MET' if t['compute'] / n_bars <= 10e-6 else 'MISSED'}")
    print(f"  compute, thread CPU      {t['compute_cpu']:7.1f} s        {t['compute_cpu'] / n_bars * 1e6:.1f} us/bar "
          f"(without other processes' contention: {'MET' if t['compute_cpu'] / n_bars <= 10e-6 else 'MISSED'})")
    load_now = os.getloadavg()[0]
    print(f"  machine load average now {load_now:.1f} on {os.cpu_count()} CPUs")
    print(f"  warm-up                  {t['warmup']:7.1f} s")
    print(f"  waiting for data         {t['load']:7.1f} s   (Parquet reads overlap the compute of the previous chunk)")
    print(f"  total                    {t['total']:7.1f} s")
    print(f"  peak memory: max RSS {_rss_mb():,.0f} MB (process, data chunks of one week included)")
    counts = res.reason_counts
    from botcore.strategy.enums import Reason

    print(f"  decisions: {int(counts.sum()):,} symbol-bars, entries {int(counts[Reason.entered].sum()):,}, "
          f"exits {int(counts[Reason.exited].sum()):,}")

    if not args.no_ledger:
        for level in args.trail.split(","):
            out = Path(tempfile.mkdtemp(prefix="bc-bench-ledger-"))
            res2 = run_backtest(data, settings, out, symbols=symbols, run_seed=args.seed, trail=level)
            t2 = res2.timings
            s = res2.summary
            rows = s["decision_rows"]
            per = f", {t2['ledger'] / rows * 583_200:.1f} s per 583,200 rows (target <= 1 s)" if rows >= 100_000 else ""
            print(f"\nwith the ledger ({out / 'ledger.sqlite'}), trail {s['trail']}: {rows:,} decision rows, "
                  f"{s['orders']:,} orders")
            print(f"  compute {t2['compute']:.1f} s, ledger {t2['ledger']:.1f} s{per}, summary {t2.get('summary', 0):.1f} s, "
                  f"total {t2['total']:.1f} s; max RSS {_rss_mb():,.0f} MB")
            print(f"  {s['n_trades']:,} trades, net {s['net_pnl_usd']:+,.2f} USD, profit factor {s['profit_factor']:.2f}, "
                  f"invariant {'exact' if s['invariant_ok'] else 'BROKEN'}")
    return vbt_status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
