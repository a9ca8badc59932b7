"""Accelerated soak: run the paper loop over a long SYNTHETIC market and watch resident memory.

The bot runs for weeks; memory must stay flat (issue 8: growth under 10 % over
30 simulated days). This drives the paper-replay :class:`botcore.engine.loop.TradingLoop`
as fast as it goes over a generated sample market (one cycle per simulated
minute), with what the live loop adds around each cycle from
:mod:`botcore.ops`: a :class:`~botcore.ops.heartbeat.Heartbeat` thread ticked
every cycle and the kill switch read at the start of every cycle. Resident
memory (RSS) is sampled every ``--sample-every`` cycles; the report gives RSS
at the start (after warm-up and the first cycles, once compilation and caches
have settled) and at the end, the growth, and the slope of a line fitted to
the samples (MB per simulated day). Every sample follows a full garbage
collection, so uncollected cycles neither pass for a leak nor hide one. Two
growths are given: from the start sample, and from the lowest sample (the
conservative one, and the one judged: the start sample can sit above later
ones while start-up allocations are handed back). The benchmark keeps nothing
per cycle but the RSS samples.

    python -m benchmarks soak [--days 30] [--symbols 15] [--data DIR] [--sample-every 1440] [--ledger PATH]
                              [--default-params]

By default the run trades with the documented decision overrides of
:data:`botcore.engine.testing.ACTIVE_OVERRIDES` (lower conviction floors), so
orders, fills, positions and trades go through the loop every day; the
repository's parameters trade a handful of times a month on the synthetic
market (``--default-params``).

:func:`run_soak` is the same run for a test with a short span. When the live
loop lands, point :func:`run_soak` at it (its cycle function) instead of the
replay driver.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import psutil

logger = logging.getLogger(__name__)

DAY_MINUTES = 1440
#: Cycles run before the start sample (compilation, caches, the first equity rows settle).
SETTLE_CYCLES = 200


@dataclass
class SoakResult:
    """RSS over an accelerated run."""

    days: float
    cycles: int
    symbols: int
    seconds: float
    rss_start_mb: float
    rss_end_mb: float
    rss_max_mb: float
    slope_mb_per_day: float
    fills: int = 0
    samples: list[tuple[int, float]] = field(default_factory=list)  # (cycle, rss MB)

    @property
    def growth(self) -> float:
        """Return ``rss_end / rss_start - 1``."""
        return self.rss_end_mb / self.rss_start_mb - 1.0

    @property
    def rss_min_mb(self) -> float:
        """Return the lowest sample."""
        return min((m for _, m in self.samples), default=self.rss_start_mb)

    @property
    def growth_from_min(self) -> float:
        """Return ``rss_end / min(samples) - 1``: growth from the lowest point, whatever the start sample held."""
        return self.rss_end_mb / self.rss_min_mb - 1.0

    @property
    def worst_growth(self) -> float:
        """Return the larger of :attr:`growth` and :attr:`growth_from_min` (what the target is judged on)."""
        return max(self.growth, self.growth_from_min)

    def to_dict(self) -> dict:
        return {**asdict(self), "growth": self.growth, "rss_min_mb": self.rss_min_mb,
                "growth_from_min": self.growth_from_min}


def _rss_mb() -> float:
    """Return resident memory after a full collection, MB."""
    gc.collect()
    return psutil.Process(os.getpid()).memory_info().rss / 2**20


def run_soak(
    days: float,
    *,
    data: str | os.PathLike[str] | None = None,
    symbols: int | None = None,
    ledger_path: str | os.PathLike[str] | None = None,
    sample_every: int = DAY_MINUTES,
    warmup_bars: int | None = None,
    settle_cycles: int = SETTLE_CYCLES,
    seed: int = 0,
    params_overrides: dict | None = None,
) -> SoakResult:
    """Run ``days`` simulated days of paper cycles and sample RSS.

    Parameters
    ----------
    days : float
        Simulated days of cycles (one per minute) after the warm-up.
    data : path, optional
        A store to replay; default a SYNTHETIC sample market generated for the
        run (warm-up plus ``days``) in a temporary directory.
    symbols : int, optional
        Use the first ``symbols`` enabled symbols (default all).
    ledger_path : path, optional
        Where the run's ledger goes (default a temporary file).
    sample_every : int
        Cycles between RSS samples.
    warmup_bars : int, optional
        Warm-up history (default the engine's, three days).
    settle_cycles : int
        Cycles before the start sample.
    seed : int
        Seed of the generated market and of the run.
    params_overrides : dict, optional
        Decision-parameter overrides (``botcore.strategy.build_params``).
    """
    from botcore.config import load_settings
    from botcore.engine.backtest import DEFAULT_WARMUP_BARS
    from botcore.engine.loop import replay_loop
    from botcore.ledger import Ledger
    from botcore.market.sample import generate_sample_market
    from botcore.ops.heartbeat import Heartbeat
    from botcore.ops.killswitch import kill_switch_state

    settings = load_settings(None)
    names = [a.symbol for a in settings.universe.enabled]
    chosen = names[:symbols] if symbols else names
    warm = DEFAULT_WARMUP_BARS if warmup_bars is None else int(warmup_bars)
    tmp = Path(tempfile.mkdtemp(prefix="botcore-soak-"))
    try:
        store = Path(data) if data is not None else tmp / "market"
        if data is None:
            logger.info("soak: generating %.2f days of SYNTHETIC market", days + warm / DAY_MINUTES)
            generate_sample_market(store, days + warm / DAY_MINUTES + 1 / 24, seed, settings)
        path = Path(ledger_path) if ledger_path is not None else tmp / "soak-ledger.db"
        with Ledger.open(path, starting_cash_usd=settings.venue.starting_equity_usd, mode="paper",
                         synchronous="NORMAL") as ledger:
            loop, window = replay_loop(store, settings, ledger, symbols=chosen, warmup_bars=warm, run_seed=seed,
                                       params_overrides=params_overrides)
            total = min(int(days * DAY_MINUTES), (window.end_ms - window.start_ms) // 60_000 + 1)
            samples: list[tuple[int, float]] = []
            hb = Heartbeat(path, interval_s=20.0, stall_after_s=None).start()
            t0 = time.perf_counter()
            cycles = fills = 0
            try:
                for cycle in loop.feed:
                    if cycles >= total:
                        break
                    portfolio_kill = kill_switch_state(ledger).code  # what the live loop does every cycle
                    if portfolio_kill:
                        logger.warning("soak: kill switch engaged (%d)", portfolio_kill)
                    fills += loop.step_cycle(cycle).n_fills  # counted, the report itself not kept
                    cycles += 1
                    hb.tick(cycle_ts_ms=int(cycle.t_ms))
                    if cycles == settle_cycles or (cycles > settle_cycles and cycles % sample_every == 0):
                        samples.append((cycles, _rss_mb()))
            finally:
                hb.stop()
                loop.close()
            seconds = time.perf_counter() - t0
        samples.append((cycles, _rss_mb()))
        x = np.array([c for c, _ in samples], dtype=float) / DAY_MINUTES
        y = np.array([m for _, m in samples])
        slope = float(np.polyfit(x, y, 1)[0]) if len(samples) >= 2 and np.ptp(x) > 0 else 0.0
        return SoakResult(days=cycles / DAY_MINUTES, cycles=cycles, symbols=len(chosen), seconds=seconds,
                          rss_start_mb=samples[0][1], rss_end_mb=samples[-1][1], rss_max_mb=float(y.max()),
                          slope_mb_per_day=slope, fills=fills, samples=samples)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=float, default=30.0, help="simulated days of cycles (default 30)")
    parser.add_argument("--symbols", type=int, default=None, help="first N enabled symbols (default all)")
    parser.add_argument("--data", type=Path, default=None, help="store to replay (default: generated sample)")
    parser.add_argument("--ledger", type=Path, default=None, help="ledger path (default: temporary)")
    parser.add_argument("--sample-every", type=int, default=DAY_MINUTES, help="cycles between RSS samples")
    parser.add_argument("--default-params", action="store_true",
                        help="the repository's decision parameters (default: ACTIVE_OVERRIDES, so it trades daily)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    from botcore.engine.testing import ACTIVE_OVERRIDES
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("botcore.ledger", "botcore.venues"):  # an INFO line per order and fill: noise over 30 days
        logging.getLogger(name).setLevel(logging.WARNING)
    result = run_soak(args.days, data=args.data, symbols=args.symbols, ledger_path=args.ledger,
                      sample_every=args.sample_every,
                      params_overrides=None if args.default_params else dict(ACTIVE_OVERRIDES))
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(f"soak: {result.cycles} cycles ({result.days:.2f} simulated days), {result.symbols} symbols, "
              f"{result.fills} fills, "
              f"{result.seconds:.0f} s ({1000 * result.seconds / max(result.cycles, 1):.2f} ms/cycle)")
        print(f"RSS start {result.rss_start_mb:.1f} MB, end {result.rss_end_mb:.1f} MB, min {result.rss_min_mb:.1f} MB, "
              f"max {result.rss_max_mb:.1f} MB; growth {100 * result.growth:+.1f} % from start, "
              f"{100 * result.growth_from_min:+.1f} % from min (target < +10 %); "
              f"slope {result.slope_mb_per_day:+.2f} MB/day")
    return 0 if result.worst_growth < 0.10 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
