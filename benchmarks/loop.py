"""The live loop's costs: compute of one cycle (network excluded) and cold start to the first decision.

- cycle: a paper replay loop over the first ``--symbols`` (15) enabled symbols
  of a generated SYNTHETIC sample market, ``--cycles`` (300) cycles; each
  step's wall time (feed snapshot -> bar row, kill-switch read, compiled
  advance + decide, paper venue, ledger transaction, red-flag checks) — no
  network because the feed is the store and the venue is the paper venue.
  Targets: p50 <= 10 ms, p99 <= 5 ms and max <= 50 ms (issue 23).
- cold start: ``botcore run --mode paper --feed replay ... --cycles 1`` in a
  fresh process with the Numba cache warm (the in-process part already ran),
  wall time to exit, which includes imports, warm-up and the first decision.
  Target <= 20 s.

    python -m benchmarks loop [--symbols 15] [--cycles 300] [--warmup-bars 600] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MIN = 60_000
DAY = 86_400_000


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks loop", description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=15)
    parser.add_argument("--cycles", type=int, default=300)
    parser.add_argument("--warmup-bars", type=int, default=600)
    parser.add_argument("--config", type=Path, default=Path("config"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from botcore.config import load_settings
    from botcore.engine.backtest import fresh_ledger
    from botcore.engine.loop import replay_loop
    from botcore.engine.testing import ACTIVE_OVERRIDES
    from botcore.market.sample import DEFAULT_START_MS, generate_sample_market

    settings = load_settings(args.config)
    symbols = [a.symbol for a in settings.universe.enabled][: args.symbols]
    root = Path(tempfile.mkdtemp(prefix="bench-loop-"))
    days = 1.0 + (args.cycles + 10) / 1440
    generate_sample_market(root / "market", days, 0, settings)
    start = DEFAULT_START_MS + DAY + MIN
    end = start + (args.cycles - 1) * MIN
    led = fresh_ledger(root / "loop.sqlite", float(settings.venue.starting_equity_usd), "paper")
    loop, _w = replay_loop(root / "market", settings, led, start_ms=start, end_ms=end, warmup_bars=args.warmup_bars,
                           symbols=symbols, params_overrides=dict(ACTIVE_OVERRIDES))
    secs: list[float] = []
    t0 = time.perf_counter()
    for cycle in loop.feed:
        a = time.perf_counter()
        loop.step_cycle(cycle)
        secs.append(time.perf_counter() - a)
    total = time.perf_counter() - t0
    loop.close()
    led.close()
    ms = np.array(secs) * 1000
    # cold start with the Numba cache warm: a fresh process, one cycle
    cmd = [sys.executable, "-m", "botcore", "run", "--mode", "paper", "--feed", "replay", "--data", str(root / "market"),
           "--ledger", str(root / "cold.sqlite"), "--start", str(start), "--cycles", "1", "--warmup-bars",
           str(args.warmup_bars), "--config", str(args.config.resolve()), "--symbols", ",".join(symbols)]
    a = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, cwd=root, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    cold = time.perf_counter() - a
    result = {
        "symbols": len(symbols), "cycles": len(ms),
        "cycle_ms": {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
                     "max": float(ms.max()), "mean": float(ms.mean())},
        "cycles_per_s": len(ms) / total,
        "cold_start_s": cold, "cold_start_exit_code": proc.returncode,
        "targets": {"p50_ms": 10, "p99_ms": 5, "max_ms": 50, "cold_start_s": 20},
        "load_average": os.getloadavg()[0],
        "ok": bool(np.percentile(ms, 50) <= 10 and np.percentile(ms, 99) <= 5 and ms.max() <= 50 and cold <= 20
                   and proc.returncode == 0),
        "data": str(root),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        c = result["cycle_ms"]
        print(f"loop: {len(symbols)} symbols, {len(ms)} cycles: p50 {c['p50']:.2f} ms (target 10), p99 {c['p99']:.2f} ms "
              f"(target 5), max {c['max']:.2f} ms (target 50); cold start to first decision {cold:.1f} s (target 20, "
              f"exit {proc.returncode}) -> {'OK' if result['ok'] else 'MISSED'}; load average "
              f"{result['load_average']:.1f} on {os.cpu_count()} CPUs")
        if proc.returncode:
            print(proc.stderr.decode()[-2000:], file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
