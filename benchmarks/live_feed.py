"""The live feed's load on BloFin and its fetch latency, against the local fake servers.

A :class:`botcore.market.live.LiveFeed` over the first ``--symbols`` (15)
enabled symbols runs on a simulated clock against the fake BloFin
(:mod:`tests.fakes.blofin_server` plus the public endpoints of
:mod:`tests.fakes.blofin_public`) and the fake intel providers, with ccxt's
default BloFin throttle (``rateLimit`` 200 ms) and BloFin's documented REST
limits (500 requests a minute, 1 500 in five minutes per IP) kept by the
feed's :class:`~botcore.market.live.RequestBudget` on the simulated clock.
The books come over BloFin's websocket (:class:`botcore.market.streams.BookStream`
against :mod:`tests.fakes.blofin_ws`, one update pushed a cycle) with REST as
the fallback; ``--rest-books`` reads them over REST only.
After a warm-up of ``--warmup-bars`` minutes into a store (as ``botcore run
--feed live`` does) it runs ``--cycles`` cycles whose grid crosses a 4 h
boundary, and reports

- REST requests per cycle: the cold first cycle, steady state (median), at the
  4 h boundary; and the most requests in any simulated minute;
- the wall time of each cycle's fetch (p50, p99; the cycle is 60 s);
- the share of inputs missing and the sources that timed out.

Targets: the cold cycle has no source timed out; steady-state REST requests
per cycle <= 20; fetch p99 well inside the cycle.

    python -m benchmarks live_feed [--symbols 15] [--cycles 8] [--warmup-bars 300] [--rest-books] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

MIN = 60_000
HOUR_MS = 3_600_000
#: 2024-03-10 16:00 UTC is a 4 h boundary: the grid starts 3 minutes before it
BOUNDARY_MS = 1_710_086_400_000


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks live_feed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=15)
    parser.add_argument("--cycles", type=int, default=8)
    parser.add_argument("--warmup-bars", type=int, default=300)
    parser.add_argument("--config", type=Path, default=Path("config"))
    parser.add_argument("--rest-books", action="store_true", help="no book stream: every book over REST")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from tenacity import wait_none

    from botcore.config import load_settings
    from botcore.intel import IntelFeeds
    from botcore.market.enums import N_INPUTS
    from botcore.market.live import (
        LiveFeed,
        RequestBudget,
        live_intel_options,
        public_exchange,
    )
    from botcore.market.store import Store
    from botcore.market.streams import BookStream
    from tests.fakes import blofin_public
    from tests.fakes.blofin_server import DEFAULT_INSTRUMENTS, FakeBlofin, instrument
    from tests.fakes.blofin_ws import FakeBlofinWs
    from tests.fakes.intel_servers import FakeIntelServer

    settings = load_settings(args.config)
    symbols = [a.symbol for a in settings.universe.enabled][: args.symbols]
    known = {i["instId"]: i for i in DEFAULT_INSTRUMENTS}
    ids = [s.split("/")[0] + "-" + s.split("/")[1].split(":")[0] for s in symbols]
    instruments = tuple(known.get(i) or instrument(i, "1") for i in ids)
    first = BOUNDARY_MS - 3 * MIN
    times = [first + k * MIN for k in range(args.cycles)]
    sim = {"t": first, "wall0": time.monotonic()}

    def sim_clock() -> float:  # seconds on the simulated clock: the cycle's time plus the real time since it began
        return sim["t"] / 1000.0 + (time.monotonic() - sim["wall0"])

    fake = FakeBlofin(now_ms=first + 2_000, instruments=instruments)
    blofin_public.install(fake)
    root = Path(tempfile.mkdtemp(prefix="bench-live-feed-"))
    rows = []
    with fake, FakeIntelServer() as intel, FakeBlofinWs(fake) as ws:
        intel.now_ms = first + 2_000
        stream = None if args.rest_books else BookStream(symbols, ws_url=ws.url, api_url=fake.url).start()
        if stream is not None:
            _until(lambda: all(not isinstance(stream.book(s), str) for s in symbols))
        feeds = IntelFeeds(settings, base_urls=intel.base_urls, env=intel.env,
                           options=live_intel_options(MIN, wait=wait_none()))
        feed = LiveFeed(symbols, exchange=public_exchange(fake.url), intel=feeds, staleness=settings, lookback_bars=2,
                        budget=RequestBudget(clock=sim_clock), books=stream)
        try:
            feed.warm_up(Store(root / "market"), args.warmup_bars, api_url=fake.url, end_ms=first - MIN + 2_000)
            n_warm = len(fake.requests)
            for t in times:
                fake.now_ms = intel.now_ms = t + 2_000
                sim["t"], sim["wall0"] = t + 2_000, time.monotonic()
                if stream is not None:  # the stream's update of this cycle, applied before the cycle reads it
                    seqs = {s: stream.seq(s) for s in symbols}
                    ws.push()
                    _until(lambda seqs=seqs: all(stream.seq(s) != seqs[s] for s in symbols))
                n0 = len(fake.requests)
                w0 = time.perf_counter()
                cycle = feed.at(t)
                secs = time.perf_counter() - w0
                missing = sum(len(s.missing) for s in cycle.snapshots.values())
                timed_out = sorted(f"{o} {k}" for o, v in feed.last_faults.items() for k, why in v.items()
                                   if why.startswith("timed out"))
                rows.append({"t_ms": t, "rest": len(fake.requests) - n0, "by_method": dict(feed.last_requests),
                             "fetch_s": secs, "missing": missing, "inputs": len(symbols) * N_INPUTS,
                             "timed_out": timed_out, "boundary_4h": t % (4 * HOUR_MS) == 0})
        finally:
            feed.close()
    steady = [r for r in rows[1:] if not r["boundary_4h"]]
    boundary = next((r for r in rows if r["boundary_4h"]), None)
    fetch = np.array([r["fetch_s"] for r in rows])
    per_min: dict[int, int] = {}
    for _k, r in enumerate(rows):
        per_min[r["t_ms"] // MIN] = per_min.get(r["t_ms"] // MIN, 0) + r["rest"]
    result = {
        "symbols": len(symbols),
        "books": "REST" if args.rest_books else "websocket (REST fallback)",
        "cycles": len(rows),
        "warm_up_requests": n_warm,
        "cold_requests": rows[0]["rest"],
        "cold_timed_out": rows[0]["timed_out"],
        "cold_fetch_s": round(rows[0]["fetch_s"], 3),
        "steady_requests_median": float(np.median([r["rest"] for r in steady])) if steady else None,
        "steady_requests_max": max((r["rest"] for r in steady), default=None),
        "boundary_4h_requests": None if boundary is None else boundary["rest"],
        "max_requests_in_a_minute": max(per_min.values()),
        "blofin_limit_per_minute": 500,
        "fetch_p50_s": round(float(np.percentile(fetch, 50)), 3),
        "fetch_p99_s": round(float(np.percentile(fetch, 99)), 3),
        "missing_share": round(sum(r["missing"] for r in rows) / sum(r["inputs"] for r in rows), 4),
        "missing_inputs": sum(r["missing"] for r in rows),
        "inputs": sum(r["inputs"] for r in rows),
        "timed_out": sorted({x for r in rows for x in r["timed_out"]}),
        "cold_by_method": rows[0]["by_method"],
        "steady_by_method": steady[-1]["by_method"] if steady else {},
    }
    result["targets"] = {
        "cold cycle: no source timed out": not result["cold_timed_out"],
        "steady-state REST requests per cycle <= 20": (result["steady_requests_max"] or 0) <= 20,
        "fetch p99 <= 30 s (half the cycle)": result["fetch_p99_s"] <= 30.0,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"live feed, {result['symbols']} symbols, {result['cycles']} cycles on a simulated clock "
          f"(ccxt throttle 200 ms, BloFin limit 500/min), books: {result['books']}")
    print(f"  warm-up                 {result['warm_up_requests']} requests")
    print(f"  cold first cycle        {result['cold_requests']} requests, fetch {result['cold_fetch_s']:.2f} s, "
          f"timed out: {', '.join(result['cold_timed_out']) or 'none'}  {result['cold_by_method']}")
    print(f"  steady state            median {result['steady_requests_median']:g}, max {result['steady_requests_max']} "
          f"requests  {result['steady_by_method']}")
    print(f"  at the 4 h boundary     {result['boundary_4h_requests']} requests")
    print(f"  most in one minute      {result['max_requests_in_a_minute']} (BloFin: 500)")
    print(f"  fetch latency           p50 {result['fetch_p50_s']:.2f} s, p99 {result['fetch_p99_s']:.2f} s (cycle 60 s)")
    print(f"  inputs missing          {result['missing_share']:.2%} ({result['missing_inputs']} of {result['inputs']})"
          f"; timed out: {', '.join(result['timed_out']) or 'none'}")
    for name, ok in result["targets"].items():
        print(f"  [{'ok' if ok else 'MISSED'}] {name}")
    return 0


def _until(cond, timeout_s: float = 20.0) -> None:
    end = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > end:
            raise RuntimeError("the fake book stream did not deliver in time")
        time.sleep(0.01)
