"""The backtest: every bar of every symbol through the one compiled step, with the paper fill model.

:func:`run_backtest` reads a window of a :class:`~botcore.market.store.Store`
in chunks (:func:`botcore.engine.inputs.iter_chunks`), feeds the warm-up
bars to the signal, regime and feature states, then runs each chunk of
trading bars in one compiled loop (:func:`botcore.engine.nb.run_bars_nb`:
venue events, advance, decide, fills, equity, trail) and books its records
into a ledger of the live bot's schema (``out/ledger.sqlite``) with
:class:`botcore.engine.records.RecordWriter`, one transaction per batch.
It ends with the summary of :func:`botcore.engine.report.ledger_summary`
(``out/summary.json``) and the ledger invariant, which must hold exactly.

Window
------
Cycle times are whole minutes; the cycle at ``t`` decides on the 1m bar
``[t - 1m, t)`` and the book known at ``t``, and its market orders fill
against that book. By default the run starts ``warmup_bars`` after the first
bar of the data and ends at the close of the last; the warm-up is the
``warmup_bars`` cycles before ``start`` (fewer when the data start later;
:func:`resolve_window` says so). The paper replay (:mod:`botcore.engine.loop`)
resolves its window with the same function, so both warm up on the same bars.

Decision trail
--------------
``trail="full"`` writes one ``decisions`` row per symbol per bar (the live
loop's trail); ``"changes"`` writes a row when a symbol's (outcome, reason,
gate mask, strategy) changes, on every entry and exit, and at least every
``trail_every`` bars, each row's ``detail.bars`` saying how many consecutive
bars it stands for (so per-reason counts stay exact when weighted by
``bars``); ``"entries"`` writes only the rows of the bars where a symbol
entered or exited a position; ``"none"`` writes no trail (the fastest ledger);
``"auto"`` (default) is full up to 2 million symbol-bars and changes beyond.
The summary's ``gate_counts`` are always the exact counts of every symbol-bar,
accumulated in the compiled loop, whatever the trail level.

Learning
--------
With ``params_from`` (the bot's ledger) the run uses its ACTIVE learned
versions: they are copied into the run's ledger
(:func:`botcore.engine.learning_link.copy_active_versions`) and applied by
the same :class:`~botcore.engine.learning_link.LearningLink` the live loop
calls each cycle (weights, thresholds, sizing scale, regime permissions; a
benched symbol's entries held back by the kernel's ``benched`` gate). Every
run logs its entries and closes in the ``signal_outcomes`` table
(:func:`~botcore.engine.learning_link.record_backtest_outcomes`), the rows
a paper replay of the window logs cycle by cycle. Without ``params_from``
the run's ledger holds no versions: the configuration (and
``params_overrides``) decide.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from botcore.clock import duration, utc, utc_span
from botcore.config.models import Settings
from botcore.engine import nb
from botcore.engine.enums import TRAIL_CHANGES, TRAIL_FULL
from botcore.engine.inputs import BAR_MS, iter_chunks
from botcore.engine.learning_link import LearningLink, copy_active_versions, record_backtest_outcomes
from botcore.engine.records import RecordWriter
from botcore.engine.report import ledger_summary, write_summary
from botcore.engine.state import Engine, new_outputs
from botcore.errors import DataError
from botcore.ledger import Ledger
from botcore.market.store import Store
from botcore.strategy.enums import Reason

logger = logging.getLogger(__name__)

DEFAULT_WARMUP_BARS = 4_320  # 3 days: the funding-rate signal needs 3 days of history (min_periods_bars)
DEFAULT_CHUNK_BARS = 10_080  # one week of 1m bars per compiled call
FULL_TRAIL_LIMIT = 2_000_000  # symbol-bars up to which "auto" writes the full trail
TRAIL_LEVELS = ("auto", "full", "changes", "entries", "none")
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Window:
    """A resolved run window: warm-up cycles ``[warmup_ms, start_ms)`` and trading cycles ``[start_ms, end_ms]``."""

    warmup_ms: int
    start_ms: int
    end_ms: int
    requested_warmup_bars: int

    @property
    def warmup_bars(self) -> int:
        return (self.start_ms - self.warmup_ms) // BAR_MS

    @property
    def n_bars(self) -> int:
        return (self.end_ms - self.start_ms) // BAR_MS + 1


def restrict_settings(settings: Settings, symbols: Sequence[str] | None) -> Settings:
    """Return ``settings`` with only ``symbols`` enabled (in universe order); unknown symbols raise DataError."""
    if not symbols:
        return settings
    known = {a.symbol for a in settings.universe.assets}
    unknown = [s for s in symbols if s not in known]
    if unknown:
        raise DataError(f"symbols: {unknown[0]!r} is not in the universe (known: {', '.join(sorted(known))})")
    wanted = set(symbols)
    assets = tuple(a.model_copy(update={"enabled": a.symbol in wanted}) for a in settings.universe.assets)
    return settings.model_copy(update={"universe": settings.universe.model_copy(update={"assets": assets})})


def data_range(store: Store, symbols: Sequence[str]) -> tuple[int, int]:
    """Return the first and last cycle times the stored 1m candles of ``symbols`` support."""
    firsts, lasts = [], []
    for s in symbols:
        last = store.last_ts("candles_1m", s)
        if last is None:
            continue
        first = store.read("candles_1m", s, columns=["ts"])["ts"]
        firsts.append(int(first.iloc[0]))
        lasts.append(int(last))
    if not firsts:
        raise DataError(f"data: no 1m candles in {store.root} for {', '.join(symbols)}")
    return min(firsts) + BAR_MS, max(lasts) + BAR_MS


def resolve_window(store: Store, symbols: Sequence[str], start_ms: int | None = None, end_ms: int | None = None,
                   warmup_bars: int = DEFAULT_WARMUP_BARS) -> Window:
    """Resolve the run window from the data and the request (see the module docstring)."""
    first, last = data_range(store, symbols)
    if warmup_bars < 0:
        raise DataError(f"warmup_bars: must be >= 0, got {warmup_bars}")
    start = first + warmup_bars * BAR_MS if start_ms is None else int(start_ms)
    start = -(-start // BAR_MS) * BAR_MS
    end = last if end_ms is None else min(int(end_ms), last)
    end -= end % BAR_MS
    if end < start:
        cover = f"the data cover {utc_span(first, last)} ({(last - first) // BAR_MS:,} bars)"
        if start_ms is None and warmup_bars:
            raise DataError(f"window: the store is shorter than the warm-up: {warmup_bars:,} bars "
                            f"({duration(warmup_bars * BAR_MS)}) of history come before the first cycle, but {cover}. "
                            "Use more data, or a shorter warm-up with --warmup-bars N (the signals then start cold)")
        raise DataError(f"window: end {utc(end)} is before start {utc(start)} ({cover}); choose --start/--end "
                        "inside the data")
    warm = max(first, start - warmup_bars * BAR_MS)
    warm = min(warm, start)
    if (start - warm) // BAR_MS < warmup_bars:
        logger.warning("warm-up: only %d of %d bars of history before the start", (start - warm) // BAR_MS, warmup_bars)
    return Window(warm, start, end, warmup_bars)


@dataclass
class BacktestResult:
    """What :func:`run_backtest` produced."""

    out_dir: Path
    ledger_path: Path
    summary: dict[str, Any]
    window: Window
    symbols: tuple[str, ...]
    timings: dict[str, float] = field(default_factory=dict)
    reason_counts: np.ndarray | None = None
    engine: Engine | None = None


def _trail_policy(trail: str, n_symbols: int, n_bars: int) -> int:
    """The compiled loop's trail policy for a trail level ("entries" and "none" keep rows of the compressed trail)."""
    if trail == "full":
        return TRAIL_FULL
    if trail in ("changes", "entries", "none"):
        return TRAIL_CHANGES
    if trail == "auto":
        return TRAIL_FULL if n_symbols * n_bars <= FULL_TRAIL_LIMIT else TRAIL_CHANGES
    raise ValueError(f"trail: must be one of {', '.join(TRAIL_LEVELS)}, got {trail!r}")


def _trail_level(trail: str, policy: int) -> str:
    """The level the ledger records: "auto" resolved to "full" or "changes"."""
    if trail != "auto":
        return trail
    return "full" if policy == TRAIL_FULL else "changes"


def _kept_trail(trail: np.ndarray, level: str) -> np.ndarray:
    """The trail rows a level writes: all, those of entries and exits, or none."""
    if level == "none":
        return trail[:0]
    if level == "entries":
        return trail[np.isin(trail["outcome"], (Reason.entered, Reason.exited))]
    return trail


def fresh_ledger(path: Path, starting_cash_usd: float, mode: str) -> Ledger:
    """Open a new ledger at ``path``, removing an earlier one (and its WAL files)."""
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(path) + suffix)
        if p.exists():
            p.unlink()
    return Ledger.open(path, starting_cash_usd=starting_cash_usd, mode=mode, synchronous="NORMAL")


def run_backtest(
    data: str | os.PathLike[str] | Store,
    settings: Settings,
    out_dir: str | os.PathLike[str],
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
    symbols: Sequence[str] | None = None,
    warmup_bars: int = DEFAULT_WARMUP_BARS,
    run_seed: int = 0,
    trail: str = "auto",
    trail_every: int = 60,
    chunk_bars: int = DEFAULT_CHUNK_BARS,
    params_overrides: dict[str, Any] | None = None,
    params_from: str | os.PathLike[str] | Ledger | None = None,
    bench_from_start: bool = False,
    write_ledger: bool = True,
    progress: Progress | None = None,
) -> BacktestResult:
    """Backtest the configured bot over a stored market window; return the summary and where the ledger is.

    Parameters
    ----------
    data : path or Store
        The market-data store.
    settings : Settings
        The configuration (``symbols`` restricts its universe).
    out_dir : path
        Receives ``ledger.sqlite`` and ``summary.json``.
    start_ms, end_ms : int, optional
        First and last cycle times (ms UTC); default: the data's range after the warm-up.
    warmup_bars : int
        1m bars of history fed to the signals before ``start``.
    run_seed : int
        Seeds the bandit (``run_seed ^ t`` each cycle).
    trail : {"auto", "full", "changes", "entries", "none"}
        Decision-trail level (see the module docstring); with "changes", ``trail_every`` bars between rows at most.
    chunk_bars : int
        Bars per compiled call (memory and progress granularity).
    params_overrides : dict, optional
        Overrides of :func:`botcore.strategy.build_params`, the run's baseline
        (learned overrides win over them key by key).
    params_from : path or Ledger, optional
        A ledger (the bot's) whose ACTIVE learned versions the run uses —
        ``learning`` (signal weights, thresholds), ``benched_symbols``,
        ``autonomy`` (sizing scale), an active ``patterns`` version. They are
        copied into the run's ledger and applied as the live loop applies them
        (:class:`botcore.engine.learning_link.LearningLink`): a bench holds
        from its ``since_ms``, as in a replay of the window. Needs ``write_ledger``.
    bench_from_start : bool
        With ``params_from``: benches that began after ``start`` apply from
        ``start`` (the benchings in force now, over a past window).
    write_ledger : bool
        False skips the ledger and summary (benchmarks of the compiled loop).
    progress : callable, optional
        ``progress(phase, done_bars, total_bars)`` with phase ``"warm-up"`` or ``"backtest"``.
    """

    t_begin = time.perf_counter()
    store = data if isinstance(data, Store) else Store(data)
    if not store.root.is_dir():
        raise DataError(f"data: {store.root} is not a directory")
    settings = restrict_settings(settings, symbols)
    if params_from is not None and not write_ledger:
        raise ValueError("params_from: the learned versions are copied into the run's ledger; needs write_ledger=True")
    engine = Engine(settings, run_seed=run_seed, params_overrides=params_overrides)
    syms = engine.symbols
    window = resolve_window(store, syms, start_ms, end_ms, warmup_bars)
    policy = _trail_policy(trail, len(syms), window.n_bars)
    level = _trail_level(trail, policy)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ledger_path = out / "ledger.sqlite"
    # load: time spent waiting for data (reading overlaps with computing the previous chunk)
    # compute_cpu: CPU time of the compiled loop's thread (what compute costs without other processes' contention)
    timings = {"load": 0.0, "warmup": 0.0, "compute": 0.0, "compute_cpu": 0.0, "ledger": 0.0}
    report = progress or (lambda phase, done, total: None)
    ledger = fresh_ledger(ledger_path, float(settings.venue.starting_equity_usd), "backtest") if write_ledger else None
    writer = RecordWriter(ledger, syms, engine.cfg.contract_size) if ledger is not None else None
    link = None
    try:
        if ledger is not None:
            copied = {} if params_from is None else _copy_versions(
                params_from, ledger, window.start_ms if bench_from_start else None)
            link = LearningLink(ledger, settings, syms)
            link.at_cycle(engine, window.start_ms)
            ledger.set_meta("backtest", {
                "data": str(store.root), "synthetic": store.synthetic, "symbols": list(syms),
                "start_ms": window.start_ms, "end_ms": window.end_ms, "warmup_ms": window.warmup_ms,
                "run_seed": run_seed, "trail": level,
                "trail_every": trail_every, "params_overrides": dict(params_overrides or {}),
                "params_from": None if params_from is None else str(getattr(params_from, "path", params_from)),
                "bench_from_start": bool(bench_from_start),
                "learning": {"versions": link.versions, "copied": copied,
                             "learned_overrides": engine.learned_overrides,
                             "weights": engine.cfg.weights.tolist(),
                             "benched": [s for s, b in zip(syms, engine.benched) if b]},
            })
        # ---- warm-up
        done = 0
        if window.warmup_bars:
            chunks = iter_chunks(store, syms, window.warmup_ms, window.start_ms - BAR_MS, settings, chunk_bars)
            for rows, waited in _prefetch(chunks):
                timings["load"] += waited
                t1 = time.perf_counter()
                engine.warm_up(rows.ts_ms, rows.ohlcv, rows.book, rows.scalars)
                timings["warmup"] += time.perf_counter() - t1
                done += len(rows)
                report("warm-up", done, window.warmup_bars)
        # ---- trading
        engine.align_regime_phase(window.start_ms)
        out_buf = new_outputs(len(syms), min(chunk_bars, window.n_bars), full_trail=policy == TRAIL_FULL)
        done = 0
        for rows, waited in _prefetch(iter_chunks(store, syms, window.start_ms, window.end_ms, settings, chunk_bars)):
            timings["load"] += waited
            lo, hi = 0, len(rows)
            while lo < hi:
                # the benched mask changes where a bench begins: run up to there, set it, go on (as per cycle)
                upto = hi
                if link is not None:
                    link.at_cycle(engine, int(rows.ts_ms[lo]))
                    change = link.next_change_ms(int(rows.ts_ms[lo]))
                    if change is not None:
                        upto = max(lo + 1, min(hi, int(np.searchsorted(rows.ts_ms, change))))
                t2 = time.perf_counter()
                c2 = time.thread_time()
                stop = nb.run_bars_nb(rows.ts_ms, rows.ohlcv, rows.book, rows.scalars, lo, upto, True, engine.state,
                                      engine.cfg, engine.scratch, engine.params, engine.run_seed, policy,
                                      int(trail_every), out_buf)
                if stop == hi and rows.ts_ms[hi - 1] == window.end_ms and policy != TRAIL_FULL:
                    nb.trail_flush_nb(engine.state, out_buf)
                t3 = time.perf_counter()
                timings["compute"] += t3 - t2
                timings["compute_cpu"] += time.thread_time() - c2
                if stop == lo and out_buf.counts.sum() == 0:
                    raise RuntimeError("backtest: a bar produced more records than the buffers hold")
                entry_signals = out_buf.signals[: out_buf.counts[5]].copy()
                _flush(writer, out_buf, level)
                if ledger is not None and stop > lo:
                    record_backtest_outcomes(ledger, entry_signals, int(rows.ts_ms[lo]), int(rows.ts_ms[stop - 1]),
                                             syms)
                timings["ledger"] += time.perf_counter() - t3
                done += stop - lo
                lo = stop
                report("backtest", done, window.n_bars)
        summary: dict[str, Any] = {}
        if ledger is not None:
            t4 = time.perf_counter()
            summary = ledger_summary(
                ledger, start_ms=window.start_ms, end_ms=window.end_ms, reason_counts=engine.state.reason_counts,
                extra={
                    "symbols": list(syms), "n_symbols": len(syms), "n_bars": window.n_bars,
                    "warmup_bars": window.warmup_bars, "synthetic_data": store.synthetic, "data": str(store.root),
                    "ledger": str(ledger_path), "run_seed": run_seed,
                    "trail": level,
                    "decision_rows": writer.n_trail if writer else 0, "orders": writer.n_orders if writer else 0,
                },
            )
            timings["summary"] = time.perf_counter() - t4
            timings["total"] = time.perf_counter() - t_begin
            summary["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
            write_summary(summary, out / "summary.json")
            if not summary["invariant_ok"]:
                logger.error("ledger invariant broken after the backtest:\n%s", ledger.check_invariant().summary())
        timings["total"] = time.perf_counter() - t_begin
        return BacktestResult(out, ledger_path, summary, window, syms, timings, engine.state.reason_counts.copy(),
                              engine)
    finally:
        if ledger is not None:
            ledger.close()


def _copy_versions(params_from: str | os.PathLike[str] | Ledger, ledger: Ledger, start_ms: int | None) -> dict[str, Any]:
    """Copy the active learned versions of ``params_from`` (a ledger or its path) into the run's ledger."""

    if isinstance(params_from, Ledger):
        return copy_active_versions(params_from, ledger, start_ms=start_ms)
    path = Path(params_from)
    if not path.is_file():
        raise DataError(f"params_from: no ledger at {path}")
    with Ledger.open(path, readonly=True) as source:
        return copy_active_versions(source, ledger, start_ms=start_ms)


def _prefetch(chunks):
    """Yield ``(rows, load_seconds)`` of an iterator, loading the next item on a thread while the caller works.

    The compiled loop releases the GIL (``nogil``), so reading the next chunk
    from Parquet overlaps with computing this one.
    """
    from concurrent.futures import ThreadPoolExecutor

    def load():
        t0 = time.perf_counter()
        try:
            return next(chunks), time.perf_counter() - t0
        except StopIteration:
            return None, time.perf_counter() - t0

    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(load)
        while True:
            t0 = time.perf_counter()
            rows, _spent = future.result()
            waited = time.perf_counter() - t0
            if rows is None:
                return
            future = pool.submit(load)
            yield rows, waited


def _flush(writer: RecordWriter | None, out_buf: Any, level: str) -> None:
    c = out_buf.counts
    if writer is not None:
        writer.write(out_buf.orders[: c[0]], out_buf.fills[: c[1]], out_buf.funding[: c[2]], out_buf.equity[: c[3]],
                     _kept_trail(out_buf.trail[: c[4]], level))
    out_buf.reset()


def ms_to_text(ts_ms: int) -> str:
    """Return ``YYYY-MM-DD HH:MM`` UTC."""
    return utc(ts_ms, suffix=False)


__all__ = ["BacktestResult", "DEFAULT_CHUNK_BARS", "DEFAULT_WARMUP_BARS", "TRAIL_LEVELS", "Window", "data_range", "fresh_ledger",
           "ms_to_text", "resolve_window", "restrict_settings", "run_backtest"]
