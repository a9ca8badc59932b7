"""The look-ahead audit: recompute every bar with the input data truncated at that bar; flag whatever changes.

Exhaustive over a window (every bar of every symbol), not sampled. Two parts:

**The engine path** (loader + signals + regime + features + decide, with the
paper fills): one *full* run loads the bar rows of the whole window from the
whole store and steps the compiled cycle bar by bar, keeping every per-bar
value (:data:`ENGINE_FIELDS`: the input row, the ten signals' score,
confidence and status, conviction, direction, regime, Hurst exponent,
features, the decision trail and the intents). The *truncated* run gives the
loader, at each bar ``t``, only a store cut at ``t`` — every row known by
``t`` (``ts + interval <= t``), nothing later (:class:`TruncatedStore`) — and
takes the values of the step at ``t``. Because the step is incremental (the
state after the bar at ``t`` is the state of a run over bars ``<= t``), the
truncated run's value at ``t`` *is* the last row of a rerun over data
truncated at ``t``; the warm-up is loaded from the store cut at the start.
A loader that reads one row too far, or a step that keeps anything of the
future, makes the two runs differ.

Every audited bar must run the whole trading cycle in both runs (venue
update, signals, regime, features, decide, submit, records): a bar the
compiled loop skipped (it returns early when its record buffers could
overflow), or a row the loader stamped at another time, raises
:class:`AuditError` — a bar that did not run is never a pass.

**Vectorised signal functions** (:func:`audit_signal_fn`): a function of a
whole :class:`~botcore.signals.enums.SignalInputs` panel (e.g. the batch
:func:`botcore.signals.engine.compute_signals` + ``aggregate``, the path of
learning, preflight and the cycle reports) is run once on the full panel and
once per bar on the panel cut after that bar; its last row must equal the
full run's row. A centred window or a ``shift(-1)`` is caught.
:func:`audit_lookahead` audits this batch path over the same window too.

**The store** (:func:`check_store`): every (kind, symbol) series read must be
sorted, unique and, for interval kinds (candles, per-minute sums), stamped at
the interval's open on its grid — such a row is known only at its close
``ts + interval``, which is what the truncated store enforces.

Every difference is a :class:`Violation` (bar, symbol, field, full value,
truncated value); values compare bit for bit, NaN equal to NaN.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from botcore.config.models import SIGNAL_NAMES, Settings
from botcore.engine import inputs as engine_inputs
from botcore.engine import nb as engine_nb
from botcore.engine.backtest import resolve_window, restrict_settings
from botcore.engine.enums import TRAIL_FULL, Clock, RowScalars
from botcore.engine.inputs import BAR_MS
from botcore.engine.state import Engine, new_outputs
from botcore.errors import BotcoreError
from botcore.market.store import MARKET, Store, kind_spec
from botcore.signals import engine as signals_engine

logger = logging.getLogger(__name__)

Loader = Callable[..., Any]  # load_rows(store, symbols, first_ms, last_ms, settings) -> BarRows


class AuditError(BotcoreError):
    """The audit could not check what it claims (a bar did not run, a probe returned the wrong rows)."""


def _utc(ts_ms: int) -> str:
    return pd.Timestamp(int(ts_ms), unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M UTC")


# --------------------------------------------------------------------------- truncated store


class TruncatedStore:
    """An in-memory read-only view of a store with only the rows known by ``cut_ms`` (``ts + interval <= cut_ms``).

    Holds every (kind, symbol) frame once; :meth:`at` returns a view at another cut without copying.
    Implements the :meth:`Store.read` signature (what the bar-row loader calls).
    """

    def __init__(self, frames: Mapping[tuple[str, str], pd.DataFrame], root: Any, synthetic: bool,
                 cut_ms: int | None = None, _known: Mapping[tuple[str, str], np.ndarray] | None = None) -> None:
        self._frames = frames
        self.root = root
        self.synthetic = synthetic
        self.cut_ms = cut_ms
        self._known = _known if _known is not None else {
            k: df["ts"].to_numpy(np.int64) + kind_spec(k[0]).interval_ms for k, df in frames.items()}
        self._ts = {k: df["ts"].to_numpy(np.int64) for k, df in frames.items()}
        self.light = False
        self._arrays = {k: {c: df[c].to_numpy() for c in df.columns} for k, df in frames.items()}

    @classmethod
    def load(cls, store: Store, symbols: Sequence[str], first_ms: int, last_ms: int) -> TruncatedStore:
        """Read every kind of ``symbols`` (and the market-wide kinds) stamped in ``[first_ms, last_ms]`` into memory."""
        frames = {}
        for kind in store.kinds():
            for sym in [*symbols, MARKET]:
                if store.exists(kind, sym):
                    frames[(kind, sym)] = store.read(kind, sym, first_ms, last_ms).reset_index(drop=True)
        return cls(frames, store.root, store.synthetic)

    def at(self, cut_ms: int | None) -> TruncatedStore:
        """Return the view cut at ``cut_ms`` (None: everything loaded)."""
        view = TruncatedStore.__new__(TruncatedStore)
        view._frames, view.root, view.synthetic, view.cut_ms = self._frames, self.root, self.synthetic, cut_ms
        view._known, view._ts, view._arrays, view.light = self._known, self._ts, self._arrays, self.light
        return view

    def with_light_frames(self, light: bool = True) -> TruncatedStore:
        """Return a view whose :meth:`read` returns :class:`LightFrame` (fast) instead of DataFrames."""
        view = self.at(self.cut_ms)
        view.light = light
        return view

    def exists(self, kind: str, symbol: str) -> bool:
        return (kind, symbol) in self._frames

    def read(self, kind: str, symbol: str, start_ms: int | None = None, end_ms: int | None = None,
             columns: Sequence[str] | None = None) -> pd.DataFrame:
        key = (kind, symbol)
        if key not in self._frames:
            return _empty(kind, columns)
        df, ts, known = self._frames[key], self._ts[key], self._known[key]
        lo = 0 if start_ms is None else int(np.searchsorted(ts, start_ms, side="left"))
        hi = len(ts) if end_ms is None else int(np.searchsorted(ts, end_ms, side="right"))
        if self.cut_ms is not None:
            # rows are sorted by ts and interval is constant per kind: known is sorted too
            hi = min(hi, int(np.searchsorted(known, self.cut_ms, side="right")))
        hi = max(lo, hi)
        if self.light:
            arrays = self._arrays[key]
            names = ["ts", *[c for c in (columns if columns is not None else arrays) if c != "ts" and c in arrays]]
            return LightFrame({c: arrays[c][lo:hi] for c in names})
        out = df.iloc[lo:hi]
        if columns is not None:
            out = out[["ts", *[c for c in columns if c != "ts" and c in df.columns]]]
        return out


class _Column:
    __slots__ = ("values",)

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def to_numpy(self, dtype: Any = None) -> np.ndarray:
        return self.values if dtype is None else self.values.astype(dtype, copy=False)


class LightFrame:
    """The slice of a DataFrame's interface the bar-row loader uses (``df[col]``, ``df[cols]``, ``.columns``,
    ``len``, ``.to_numpy``), over NumPy arrays: reading a few rows costs microseconds, not pandas' milliseconds."""

    __slots__ = ("_cols",)

    def __init__(self, cols: dict[str, np.ndarray]) -> None:
        self._cols = cols

    @property
    def columns(self) -> list[str]:
        return list(self._cols)

    def __len__(self) -> int:
        return len(next(iter(self._cols.values()))) if self._cols else 0

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return _Column(self._cols[key])
        return LightFrame({k: self._cols[k] for k in key})

    def to_numpy(self, dtype: Any = None) -> np.ndarray:
        out = np.column_stack(list(self._cols.values())) if self._cols else np.empty((0, 0))
        return out if dtype is None else out.astype(dtype, copy=False)

    def to_pandas(self) -> pd.DataFrame:
        return pd.DataFrame(self._cols)


def _empty(kind: str, columns: Sequence[str] | None) -> pd.DataFrame:
    cols = ["ts", *(c for c in (columns or kind_spec(kind).all_columns) if c != "ts")]
    return pd.DataFrame({c: np.array([], dtype=np.int64 if c == "ts" else np.float64) for c in cols})


# --------------------------------------------------------------------------- violations


@dataclass(frozen=True)
class Violation:
    """One value that changed when the data were truncated at its bar."""

    ts_ms: int
    symbol: str
    field: str
    full: float
    truncated: float
    note: str = ""


@dataclass
class AuditReport:
    """What :func:`audit_lookahead` / :func:`audit_signal_fn` checked and found."""

    symbols: tuple[str, ...]
    start_ms: int
    end_ms: int
    n_bars: int
    fields: tuple[str, ...]
    violations: list[Violation] = field(default_factory=list)
    bars_run: dict[str, int] = field(default_factory=dict)  # path -> bars that ran the whole cycle
    store_series: int = 0  # (kind, symbol) series checked by check_store

    @property
    def ok(self) -> bool:
        """No violation, and every audited bar ran on every path."""
        return not self.violations and all(v == self.n_bars for v in self.bars_run.values())

    @property
    def n_checked(self) -> int:
        """Values compared: bars x symbols x fields."""
        return self.n_bars * len(self.symbols) * len(self.fields)

    def table(self) -> pd.DataFrame:
        """Return the violations as a table (bar time UTC, symbol, field, full, truncated)."""
        rows = [(pd.Timestamp(v.ts_ms, unit="ms", tz="UTC"), v.symbol, v.field, v.full, v.truncated, v.note)
                for v in self.violations]
        return pd.DataFrame(rows, columns=["bar", "symbol", "field", "full", "truncated", "note"])

    def by_field(self) -> pd.DataFrame:
        """Return one row per (symbol, field) with the first bar and the count of its violations."""
        t = self.table()
        if t.empty:
            return pd.DataFrame(columns=["symbol", "field", "first_bar", "n"])
        g = t.groupby(["symbol", "field"], sort=False)
        return pd.DataFrame({"first_bar": g["bar"].min(), "n": g.size()}).reset_index()

    def merge(self, other: AuditReport) -> AuditReport:
        """Join the report of another path over the same bars (its fields and bar counts added)."""
        if other.n_bars != self.n_bars:
            raise AuditError(f"merge: {other.n_bars} bars audited on {', '.join(other.bars_run)} vs {self.n_bars}")
        violations = sorted(self.violations + other.violations, key=lambda v: (v.ts_ms, v.symbol, v.field))
        return AuditReport(self.symbols, self.start_ms, self.end_ms, self.n_bars, self.fields + other.fields,
                           violations, {**self.bars_run, **other.bars_run}, self.store_series + other.store_series)


# --------------------------------------------------------------------------- the store


def check_store(frames: Mapping[tuple[str, str], pd.DataFrame]) -> list[Violation]:
    """Check every (kind, symbol) series: time stamps sorted, unique and, for interval kinds, on the interval's grid.

    An interval row (a candle, a per-minute sum) is stamped at its open and known only at its close
    (``ts + interval``); a stamp off the grid means the importer stamped it elsewhere (e.g. at the close, or
    mid-bar), and the audit cannot vouch for when it was known. One :class:`Violation` per problem and series
    (field ``store.<kind>.ts``, the first offending row's time, the count in ``full``).
    """
    out: list[Violation] = []
    for (kind, sym), df in frames.items():
        ts = df["ts"].to_numpy(np.int64)
        if len(ts) < 1:
            continue
        step = np.diff(ts)
        interval = kind_spec(kind).interval_ms
        checks = [("unsorted", np.flatnonzero(step < 0) + 1, "time stamps go back"),
                  ("duplicate", np.flatnonzero(step == 0) + 1, "time stamp repeated")]
        if interval > 0:
            checks.append(("misaligned", np.flatnonzero(ts % interval != 0),
                           f"not on the {interval // 1000}s grid: interval rows are stamped at their open"))
        for name, bad, why in checks:
            if len(bad):
                out.append(Violation(int(ts[bad[0]]), sym, f"store.{kind}.ts", float(len(bad)), float("nan"),
                                     f"{name}: {len(bad)} row(s), {why}"))
    return out


def _compare(full: Mapping[str, np.ndarray], trunc: Mapping[str, np.ndarray], times: np.ndarray,
             symbols: Sequence[str], limit: int) -> list[Violation]:
    out: list[Violation] = []
    for name, a in full.items():
        b = trunc[name]
        same = (a == b) | (np.isnan(a) & np.isnan(b)) if a.dtype.kind == "f" else a == b
        for j in np.flatnonzero((~same).any(axis=0)):
            for t in np.flatnonzero(~same[:, j])[:limit]:
                out.append(Violation(int(times[t]), symbols[int(j)], name, float(a[t, j]), float(b[t, j])))
    return out


# --------------------------------------------------------------------------- the engine path

ENGINE_FIELDS: tuple[str, ...] = (
    *(f"input.{c}" for c in ("open", "high", "low", "close", "volume")),
    *(f"input.{c}" for c in RowScalars._fields), "input.best_bid", "input.best_ask", "input.bid_sz_1", "input.ask_sz_1",
    *(f"signal.{s}.{p}" for s in SIGNAL_NAMES for p in ("score", "confidence", "status")),
    "aggregate.conviction", "aggregate.direction", "aggregate.tradable", "aggregate.n_live",
    "regime.regime", "regime.hurst",
    "feature.price", "feature.mark", "feature.vol", "feature.volume_ratio", "feature.funding",
    "feature.trend_0", "feature.trend_1", "feature.trend_2",
    "decision.outcome", "decision.reason", "decision.gate_mask", "decision.strategy_id", "decision.size_usd",
    "intent.side", "intent.qty_contracts",
)


def _capture(rows: Any, k: int, eng: Engine, out: dict[str, np.ndarray], t: int) -> None:
    sc = eng.scratch
    n = len(eng.symbols)
    for c, name in enumerate(("open", "high", "low", "close", "volume")):
        out[f"input.{name}"][t] = rows.ohlcv[k, :, c]
    for c, name in enumerate(RowScalars._fields):
        out[f"input.{name}"][t] = rows.scalars[k, :, c]
    book = rows.book[k]  # (n, 4, L): bid_px, bid_sz, ask_px, ask_sz
    out["input.best_bid"][t] = book[:, 0, 0]
    out["input.bid_sz_1"][t] = book[:, 1, 0]
    out["input.best_ask"][t] = book[:, 2, 0]
    out["input.ask_sz_1"][t] = book[:, 3, 0]
    for s, name in enumerate(SIGNAL_NAMES):
        out[f"signal.{name}.score"][t] = sc.score[:, s]
        out[f"signal.{name}.confidence"][t] = sc.conf[:, s]
        out[f"signal.{name}.status"][t] = sc.status[:, s]
    out["aggregate.conviction"][t] = sc.conviction
    out["aggregate.direction"][t] = sc.direction
    out["aggregate.tradable"][t] = sc.tradable
    out["aggregate.n_live"][t] = sc.n_live
    out["regime.regime"][t] = sc.regime
    out["regime.hurst"][t] = sc.hurst
    f = sc.features
    out["feature.price"][t] = f.price
    out["feature.mark"][t] = f.mark_price
    out["feature.vol"][t] = f.volatility_daily
    out["feature.volume_ratio"][t] = f.volume_ratio
    out["feature.funding"][t] = f.funding_rate
    for c in range(3):
        out[f"feature.trend_{c}"][t] = f.trend_dir[:, c]
    tr = sc.trail
    idx = tr["symbol_idx"]
    for name in ("outcome", "reason", "gate_mask", "strategy_id", "size_usd"):
        v = np.full(n, np.nan)
        v[idx] = tr[name]
        out[f"decision.{name}"][t] = v
    out["intent.side"][t] = 0.0  # the orders of the bar are added by the caller
    out["intent.qty_contracts"][t] = 0.0


def _run_engine(settings: Settings, params_overrides: Mapping[str, Any] | None, run_seed: int, warm_rows: Any,
                bar_rows: Callable[[int], Any], n_bars: int, start_ms: int, path: str) -> dict[str, np.ndarray]:
    """Step the compiled trading cycle bar by bar, keeping every :data:`ENGINE_FIELDS` value.

    Raises :class:`AuditError` when a bar did not run the whole cycle (the loop returned early, the trading
    cycle counter did not advance) or the loader's row is stamped at another time than the bar.
    """
    eng = Engine(settings, run_seed=run_seed, params_overrides=params_overrides)
    n = len(eng.symbols)
    if warm_rows is not None and len(warm_rows):
        eng.warm_up(warm_rows.ts_ms, warm_rows.ohlcv, warm_rows.book, warm_rows.scalars)
    eng.align_regime_phase(start_ms)
    buf = new_outputs(n, 2, full_trail=True)  # the loop wants room for one bar's worst case (2 rows a symbol)
    values = {name: np.full((n_bars, n), np.nan) for name in ENGINE_FIELDS}
    clock = eng.state.clock
    for t in range(n_bars):
        t_ms = start_ms + t * BAR_MS
        rows, k = bar_rows(t)
        if not 0 <= k < len(rows.ts_ms) or int(rows.ts_ms[k]) != t_ms:
            got = _utc(rows.ts_ms[k]) if 0 <= k < len(rows.ts_ms) else "no row"
            raise AuditError(f"look-ahead audit ({path} run): the loader gave {got} for the bar at {_utc(t_ms)}; "
                             "it must return one row per cycle time")
        cycles = int(clock[Clock.cycles])
        ran = engine_nb.run_bars_nb(rows.ts_ms, rows.ohlcv, rows.book, rows.scalars, k, k + 1, True, eng.state,
                                    eng.cfg, eng.scratch, eng.params, eng.run_seed, TRAIL_FULL, 1, buf)
        if ran != k + 1 or int(clock[Clock.cycles]) != cycles + 1 or int(clock[Clock.last_venue_ms]) != t_ms:
            raise AuditError(f"look-ahead audit ({path} run): the bar at {_utc(t_ms)} did not run the whole "
                             f"trading cycle (loop returned {ran}, expected {k + 1}; cycles {cycles} -> "
                             f"{int(clock[Clock.cycles])}); nothing after it was checked")
        _capture(rows, k, eng, values, t)
        c = buf.counts
        orders = buf.orders[: c[0]]
        for o in orders:
            j = int(o["col"])
            values["intent.side"][t, j] = float(o["side"])
            values["intent.qty_contracts"][t, j] = float(o["qty_contracts"])
        buf.reset()
    return values


def audit_lookahead(
    data: str | os.PathLike[str] | Store,
    settings: Settings,
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
    symbols: Sequence[str] | None = None,
    bars: int | None = None,
    warmup_bars: int = 1_440,
    run_seed: int = 0,
    params_overrides: Mapping[str, Any] | None = None,
    loader: Loader | None = None,
    batch: bool = True,
    max_per_field: int = 50,
    light_frames: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> AuditReport:
    """Audit the store, the engine path (loader, signals, regime, features, decide) and the batch signals over a window.

    Parameters
    ----------
    data : path or Store
        The market-data store.
    settings : Settings
        The configuration (``symbols`` restricts its universe).
    start_ms, end_ms : int, optional
        First and last cycle times audited; default: after the warm-up, ``bars`` bars.
    bars : int, optional
        Audit at most this many bars from the start.
    warmup_bars : int
        History fed before ``start`` (both runs; the batch path's panel starts there too).
    loader : callable, optional
        ``loader(store, symbols, first_ms, last_ms, settings) -> BarRows`` (default: the engine's
        :func:`~botcore.engine.inputs.load_rows`, looked up at call time); swap it to audit another loader.
    batch : bool
        Also audit the batch path (:func:`batch_signals_fn` over :func:`~botcore.signals.engine.load_inputs`).
    max_per_field : int
        Violations kept per (symbol, field); the first bar of each is always kept.
    light_frames : bool
        The store hands the loader :class:`LightFrame` instead of DataFrames (about 50x faster per read;
        False for a loader that needs the whole pandas interface).
    progress : callable, optional
        ``progress(done, total)`` after each bar of each path.

    Raises :class:`AuditError` when a bar did not run the whole cycle on a path.
    """
    store = data if isinstance(data, Store) else Store(data)
    settings = restrict_settings(settings, symbols)
    load: Loader = loader or engine_inputs.load_rows
    syms = tuple(a.symbol for a in settings.universe.enabled)
    window = resolve_window(store, syms, start_ms, end_ms, warmup_bars)
    end = window.end_ms if bars is None else min(window.end_ms, window.start_ms + (int(bars) - 1) * BAR_MS)
    n_bars = (end - window.start_ms) // BAR_MS + 1
    lookback = 3 * 86_400_000  # staleness limits are far below this
    mem = TruncatedStore.load(store, syms, window.warmup_ms - lookback, end + lookback).with_light_frames(light_frames)
    has_warm = window.start_ms > window.warmup_ms
    total = n_bars * (2 if batch else 1)
    report_progress = progress or (lambda done, total: None)
    store_violations = check_store(mem._frames)

    # full: the whole store, one load
    full_store = mem.at(None)
    warm_full = load(full_store, syms, window.warmup_ms, window.start_ms - BAR_MS, settings) if has_warm else None
    rows_full = load(full_store, syms, window.start_ms, end, settings)
    full = _run_engine(settings, params_overrides, run_seed, warm_full, lambda t: (rows_full, t), n_bars,
                       window.start_ms, "full")

    # truncated: the warm-up from the store cut at the start, each bar from the store cut at that bar
    warm_cut = (load(mem.at(window.start_ms - BAR_MS), syms, window.warmup_ms, window.start_ms - BAR_MS, settings)
                if has_warm else None)

    def bar_rows(t: int) -> tuple[Any, int]:
        cut = window.start_ms + t * BAR_MS
        report_progress(t + 1, total)
        return load(mem.at(cut), syms, cut, cut, settings), 0

    trunc = _run_engine(settings, params_overrides, run_seed, warm_cut, bar_rows, n_bars, window.start_ms,
                        "truncated")
    times = window.start_ms + BAR_MS * np.arange(n_bars, dtype=np.int64)
    violations = store_violations + _compare(full, trunc, times, syms, max_per_field)
    violations.sort(key=lambda v: (v.ts_ms, v.symbol, v.field))
    report = AuditReport(syms, window.start_ms, end, n_bars, ENGINE_FIELDS, violations, {"engine": n_bars},
                         len(mem._frames))
    if not batch:
        return report
    # the batch path: its panel's rows are the bar opens; the bar closing at a cycle time t opens at t - 1m
    grid, inputs = signals_engine.load_inputs(store, syms, window.warmup_ms - BAR_MS, end, settings.signals)
    first = int(np.searchsorted(grid, window.start_ms - BAR_MS))
    batch_report = audit_signal_fn(batch_signals_fn(settings), inputs, syms, grid + BAR_MS, first,
                                   max_per_field=max_per_field,
                                   progress=lambda done, _n: report_progress(n_bars + done, total), prefix="batch.")
    return report.merge(batch_report)


# --------------------------------------------------------------------------- vectorised functions

SignalFn = Callable[[Any], Mapping[str, np.ndarray]]


def batch_signals_fn(settings: Settings) -> SignalFn:
    """Return the production batch path as an audit probe: ``compute_signals`` then ``aggregate`` (looked up per call)."""

    def fn(inputs: Any) -> dict[str, np.ndarray]:
        out = signals_engine.compute_signals(inputs, n_threads=1)
        agg = signals_engine.aggregate(out, settings.signals)
        score, confidence, status = np.asarray(out.score), np.asarray(out.confidence), np.asarray(out.status)
        values: dict[str, np.ndarray] = {}
        for s, name in enumerate(SIGNAL_NAMES):
            values[f"signal.{name}.score"] = score[:, :, s]
            values[f"signal.{name}.confidence"] = confidence[:, :, s]
            values[f"signal.{name}.status"] = status[:, :, s]
        values["aggregate.conviction"] = np.asarray(agg.conviction)
        values["aggregate.direction"] = np.asarray(agg.direction)
        values["aggregate.tradable"] = np.asarray(agg.tradable)
        return values

    return fn


def _cut_inputs(inputs: Any, n: int) -> Any:
    return type(inputs)(*(a[:n] for a in inputs))


def audit_signal_fn(fn: SignalFn, inputs: Any, symbols: Sequence[str], times: np.ndarray, first: int,
                    max_per_field: int = 50, progress: Callable[[int, int], None] | None = None,
                    prefix: str = "") -> AuditReport:
    """Audit a vectorised function of a whole input panel: row ``t`` of ``fn(inputs)`` vs the last row of ``fn(inputs[:t+1])``.

    ``inputs`` is a NamedTuple of ``(n_bars, ...)`` arrays (e.g. :class:`SignalInputs`), ``times`` its
    bar times (as reported); bars ``first ..`` are audited (the earlier ones are history). Every call must
    return one row per input row for every field, else :class:`AuditError` (a bar it did not compute is
    never a pass). ``prefix`` is put before the field names (e.g. ``"batch."``).
    """
    n_total = len(times)
    if not 0 <= first < n_total:
        raise AuditError(f"audit_signal_fn: first={first} is outside the {n_total} bars of the panel")

    def call(panel: Any, n: int, at: int) -> dict[str, np.ndarray]:
        got = {k: np.asarray(v, dtype=np.float64) for k, v in fn(panel).items()}
        bad = [k for k, v in got.items() if v.ndim < 1 or v.shape[0] != n]
        if not got or bad:
            raise AuditError(f"look-ahead audit (batch): at the bar {_utc(times[at])} the function returned "
                             f"{'nothing' if not got else ', '.join(bad) + ' without one row per bar'} "
                             f"for {n} input rows")
        return got

    full = call(inputs, n_total, n_total - 1)
    n_bars = n_total - first
    trunc = {k: np.full((n_bars,) + v.shape[1:], np.nan) for k, v in full.items()}
    report_progress = progress or (lambda done, total: None)
    for t in range(first, n_total):
        last = call(_cut_inputs(inputs, t + 1), t + 1, t)
        if set(last) != set(full):
            raise AuditError(f"look-ahead audit (batch): at the bar {_utc(times[t])} the function returned the "
                             f"fields {sorted(last)}, not {sorted(full)}")
        for k, v in last.items():
            trunc[k][t - first] = v[-1]
        report_progress(t - first + 1, n_bars)
    full = {f"{prefix}{k}": v[first:] for k, v in full.items()}
    trunc = {f"{prefix}{k}": v for k, v in trunc.items()}
    violations = _compare(full, trunc, np.asarray(times[first:]), symbols, max_per_field)
    violations.sort(key=lambda v: (v.ts_ms, v.symbol, v.field))
    return AuditReport(tuple(symbols), int(times[first]), int(times[-1]), n_bars, tuple(full), violations,
                       {prefix.rstrip(".") or "batch": n_bars})


__all__ = ["AuditError", "AuditReport", "ENGINE_FIELDS", "TruncatedStore", "Violation", "audit_lookahead",
           "audit_signal_fn", "batch_signals_fn", "check_store"]
