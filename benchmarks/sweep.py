"""Sweep scaling: an 8-point grid on a process LocalCluster of 1 and of 2 workers, and the speed-up.

Generates the SYNTHETIC sample market (``--symbols`` symbols, ``--days``
days), then runs the same 8-point grid (``min_conviction`` of two strategies x
``kelly_conviction_pivot``) with :func:`botcore.research.sweep.run_sweep` on a
``LocalCluster(processes=True)`` of 1 worker and of 2 workers (one thread
each). Each cluster's workers are warmed first (imports and the Numba cache,
one tiny backtest) so the timings are the sweep's, not the interpreters'
start-up, which is reported apart. The results of both runs must be equal.
The projection to more workers is Amdahl's law with the serial share implied
by the measured 2-worker speed-up, capped by the grid's 8 tasks; it is only
as good as the machine is idle (the load average is printed).

    python -m benchmarks sweep [--days 3] [--symbols 15] [--repeat 1] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

GRID = {"min_conviction.trend_conservative": [0.12, 0.2, 0.3, 0.4], "kelly_conviction_pivot": [0.1, 0.2],
        "min_conviction.sentiment_fusion": [0.12], "min_conviction.breakout_aggressive": [0.12]}


def _warm(data: str, settings: Any, out: str, symbols: list[str]) -> float:
    """Import the engine and load its compiled kernels in this process (a 30-bar backtest); return seconds."""
    from botcore.engine.backtest import resolve_window, run_backtest
    from botcore.market.store import Store

    t0 = time.perf_counter()
    start = resolve_window(Store(data), symbols, None, None, 60).start_ms
    run_backtest(data, settings, Path(out) / f"warm-{os.getpid()}", symbols=symbols, warmup_bars=60, trail="changes",
                 start_ms=start, end_ms=start + 30 * 60_000)
    return time.perf_counter() - t0


def _time_cluster(n_workers: int, data: str, settings: Any, work: Path, symbols: list[str], repeat: int) -> tuple[float, float, Any]:
    from dask.distributed import Client, LocalCluster

    from botcore.research.sweep import run_sweep

    t0 = time.perf_counter()
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None) as lc, \
            Client(lc) as client:
        client.run(_warm, data, settings, str(work / "warm"), symbols[:1])
        startup = time.perf_counter() - t0
        best, result = float("inf"), None
        for r in range(repeat):
            t1 = time.perf_counter()
            result = run_sweep(data, settings, GRID, work / f"w{n_workers}-{r}", symbols=symbols, warmup_bars=600,
                               scheduler=client)
            best = min(best, time.perf_counter() - t1)
    return startup, best, result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks sweep", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--symbols", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one, removed after)")
    parser.add_argument("--config", type=Path, default=None)
    args = parser.parse_args(argv)

    import pandas as pd

    from botcore.config import load_settings
    from botcore.engine.backtest import restrict_settings
    from botcore.market.sample import generate_sample_market

    work = args.dir or Path(tempfile.mkdtemp(prefix="botcore-bench-"))
    try:
        settings = load_settings(args.config)
        symbols = [a.symbol for a in settings.universe.enabled][: args.symbols]
        t0 = time.perf_counter()
        market = generate_sample_market(work / "store", args.days, args.seed, restrict_settings(settings, symbols))
        print(f"SYNTHETIC sample market: {len(symbols)} symbols x {args.days:g} days in {time.perf_counter() - t0:.1f} s; "
              f"grid of 8 points; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
        data = str(market.out_dir)
        s1, t1, r1 = _time_cluster(1, data, settings, work, symbols, args.repeat)
        print(f"1 worker : {t1:6.2f} s for 8 tasks ({t1 / 8:.2f} s a task); cluster start + warm-up {s1:.1f} s")
        s2, t2, r2 = _time_cluster(2, data, settings, work, symbols, args.repeat)
        print(f"2 workers: {t2:6.2f} s for 8 tasks; cluster start + warm-up {s2:.1f} s")
        cols = [c for c in r1.results.columns if c != "task_id"]
        pd.testing.assert_frame_equal(r1.results[cols].reset_index(drop=True), r2.results[cols].reset_index(drop=True),
                                      check_exact=True)
        speedup = t1 / t2
        serial = min(1.0, max(0.0, 2.0 / speedup - 1.0))  # Amdahl: S2 = 1 / (f + (1 - f) / 2)
        print(f"speed-up of 2 workers over 1: {speedup:.2f}x (target >= 1.8x on 2 idle cores); results identical; "
              f"load average now {os.getloadavg()[0]:.2f}")
        proj = ", ".join(f"{n} workers {1.0 / (serial + (1.0 - serial) / n):.1f}x" for n in (4, 8))
        print(f"implied serial share {serial:.1%}; projected with as many idle cores (8 tasks cap it at 8x): {proj}")
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0
