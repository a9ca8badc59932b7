"""One decision cycle for 15 symbols: the compiled ``decide_nb`` against the pure-Python reference.

Times, in one run, over random decision states (``botcore.strategy.testing``):

- compile: a fresh process deciding once with an empty Numba cache (cold
  compile) and again with the cache it left (warm start);
- ``decide_nb`` called from Python with preallocated outputs (the live loop);
- the ``decide`` face (input checks, output allocation);
- ``decide_nb`` called from compiled code (the backtest's per-bar cost);
- ``decide_reference`` (pure Python), and the speed ratio.

Target: p50 <= 1 ms warm for 15 symbols.

    python -m benchmarks decide [--cycles 3000] [--cases 300] [--symbols 15] [--seed 0] [--no-compile]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence

import numpy as np

_COLD_SNIPPET = """
import time
t0 = time.perf_counter()
import numpy as np
from botcore.config import load_settings
from botcore.strategy.state import decide
from botcore.strategy.testing import random_case
case = random_case(np.random.default_rng(0), load_settings({config!r}), n={n})
t1 = time.perf_counter()
decide(*case)
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def _percentiles_us(samples: Sequence[float]) -> tuple[float, float]:
    p50, p99 = np.percentile(np.asarray(samples) * 1e6, [50, 99])
    return float(p50), float(p99)


def _time_calls(fn: Callable[[int], object], n: int) -> list[float]:
    fn(0)
    out = []
    for k in range(n):
        t0 = time.perf_counter()
        fn(k)
        out.append(time.perf_counter() - t0)
    return out


def _first_decision(config: str, n: int, cache_dir: str) -> tuple[float, float]:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", _COLD_SNIPPET.format(config=config, n=n)], env=env,
                         capture_output=True, text=True, check=True)
    imports_s, first_s = (float(x) for x in out.stdout.split())
    return imports_s, first_s


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks decide", description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=3000, help="timed calls per variant")
    parser.add_argument("--cases", type=int, default=300, help="distinct random states cycled through")
    parser.add_argument("--symbols", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", default=None, help="configuration directory (default: the repository's)")
    parser.add_argument("--no-compile", action="store_true", help="skip the cold/warm compile measurement")
    args = parser.parse_args(argv)

    from numba import njit

    from botcore.config import default_config_dir, load_settings
    from botcore.strategy.decide.nb import decide_nb
    from botcore.strategy.enums import N_STRATEGIES, intent_dt, trail_dt
    from botcore.strategy.reference import decide_reference
    from botcore.strategy.state import decide
    from botcore.strategy.testing import random_case

    config = str(args.config or default_config_dir())
    settings = load_settings(config)
    n = args.symbols
    print(f"decide: one decision cycle, {n} symbols, {args.cases} random states, {args.cycles} timed calls each")

    if not args.no_compile:
        with tempfile.TemporaryDirectory() as cache_dir:
            _, cold_s = _first_decision(config, n, cache_dir)
            _, warm_s = _first_decision(config, n, cache_dir)
        print(f"  compile: cold (empty Numba cache) {cold_s:6.2f} s   warm start (cache hit) {warm_s:6.2f} s")

    rng = np.random.default_rng(args.seed)
    cases = [random_case(rng, settings, n=n) for _ in range(args.cases)]
    intents, trail, allocation = np.zeros(n, intent_dt), np.zeros(n, trail_dt), np.zeros(N_STRATEGIES)

    def kernel(k: int) -> None:
        c = cases[k % len(cases)]
        decide_nb(c.now_ms, c.positions, c.portfolio, c.memory, c.features, c.signals, c.regime, c.params,
                  c.rng_seed, intents, trail, allocation)

    def face(k: int) -> None:
        decide(*cases[k % len(cases)])

    @njit(cache=False)
    def in_compiled_loop(n_calls, now_ms, positions, portfolio, memory, features, signals, regime, params, seed,
                         intents_out, trail_out, allocation_out):
        total = 0
        for j in range(n_calls):
            total += decide_nb(now_ms, positions, portfolio, memory, features, signals, regime, params, seed + j,
                               intents_out, trail_out, allocation_out)
        return total

    kernel_s = _time_calls(kernel, args.cycles)
    face_s = _time_calls(face, args.cycles)
    c = cases[0]
    loop_args = (c.now_ms, c.positions, c.portfolio, c.memory, c.features, c.signals, c.regime, c.params,
                 c.rng_seed, intents, trail, allocation)
    in_compiled_loop(1, *loop_args)
    loop_s = []
    for _ in range(20):
        t0 = time.perf_counter()
        in_compiled_loop(1000, *loop_args)
        loop_s.append((time.perf_counter() - t0) / 1000)
    ref_cases = [cc.copy() for cc in cases]
    ref_s = _time_calls(lambda k: decide_reference(*ref_cases[k % len(ref_cases)]), min(args.cycles, 1000))

    rows = [
        ("decide_nb from Python (live loop)", *_percentiles_us(kernel_s)),
        ("decide face (checks + allocation)", *_percentiles_us(face_s)),
        ("decide_nb inside njit (backtest)", *_percentiles_us(loop_s)),
        ("decide_reference (pure Python)", *_percentiles_us(ref_s)),
    ]
    print(f"  {'variant':<36} {'p50 us':>10} {'p99 us':>10}")
    for name, p50, p99 in rows:
        print(f"  {name:<36} {p50:10.1f} {p99:10.1f}")
    target = "met" if rows[0][1] <= 1000.0 else "MISSED"
    print(f"  speed-up vs reference (p50): {rows[3][1] / rows[0][1]:,.0f}x called from Python, "
          f"{rows[3][1] / rows[2][1]:,.0f}x inside njit   target p50 <= 1 ms warm: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
