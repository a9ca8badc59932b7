"""Shared plumbing of the tests that run ``botcore run`` over a replay as a process and compare with an in-process run."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from botcore.engine.backtest import fresh_ledger
from botcore.engine.loop import replay_loop
from botcore.engine.testing import ACTIVE_OVERRIDES


def replay_run_args(market: Path, ledger: Path, start_ms: int, end_ms: int, seed: int, warmup_bars: int,
                    *extra: str) -> list[str]:
    """The ``botcore run`` arguments of a paper replay of ``[start_ms, end_ms]`` with the documented overrides."""
    args = ["--mode", "paper", "--feed", "replay", "--data", str(market), "--ledger", str(ledger), "--start",
            str(start_ms), "--end", str(end_ms), "--seed", str(seed), "--warmup-bars", str(warmup_bars), *extra]
    for k, v in ACTIVE_OVERRIDES.items():
        args += ["--override", f"{k}={v}"]
    return args


def committed_cycles(path: Path) -> int:
    """Cycles committed to a ledger another process is writing (0 while it cannot be read)."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return int(con.execute("SELECT count(*) FROM equity").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def uninterrupted_replay(market: Path, settings: Any, path: Path, start_ms: int, end_ms: int, seed: int,
                         warmup_bars: int) -> int:
    """Run the replay the command builds, in process and without interruption, into ``path``; return its cycles."""
    led = fresh_ledger(path, float(settings.venue.starting_equity_usd), "paper")
    try:
        loop, window = replay_loop(market, settings, led, start_ms=start_ms, end_ms=end_ms, run_seed=seed,
                                   warmup_bars=warmup_bars, params_overrides=dict(ACTIVE_OVERRIDES))
        report = loop.run()
        loop.close()
    finally:
        led.close()
    assert report.cycles == window.n_bars
    return report.cycles
