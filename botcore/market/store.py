"""The market-data store: one Parquet file per (kind, symbol).

Layout
------
``<root>/<kind>/<SYMBOL_KEY>.parquet`` where ``SYMBOL_KEY`` is the ccxt symbol
with ``/`` and ``:`` replaced by ``_`` (``BTC/USDT:USDT`` -> ``BTC_USDT_USDT``).
Market-wide kinds (``fear_greed``, ``social``) use the key ``MARKET``.
A file ``<root>/SYNTHETIC`` marks a store produced by the sample-market
generator; :attr:`Store.synthetic` reports it.

Schema
------
Every table has ``ts``: int64 milliseconds since the epoch (UTC), sorted
ascending and unique. Other columns are float64 with NaN for missing unless
noted. See :data:`KINDS` for the columns of each kind:

- ``candles_1m`` / ``candles_5m`` / ``candles_1h``: ts (bar open), open, high, low, close,
  volume (base units)
- ``mark``: mark_price
- ``funding``: rate (per 8h interval as quoted), optional next_funding_ts
  (float64 ms so that NaN can mark it missing)
- ``book``: bid_px_1..10, bid_sz_1..10, ask_px_1..10, ask_sz_1..10 (sizes in BASE units)
- ``open_interest``: oi_usd
- ``liquidations``: long_liq_usd, short_liq_usd (per-minute sums)
- ``taker``: taker_buy_base, taker_sell_base (per-minute sums)
- ``fear_greed`` (MARKET): value in [0, 100]
- ``social`` (MARKET): mentions, tone in [-1, 1]
- ``regime_truth`` (sample market only): regime (int64 code, see
  :mod:`botcore.regime.enums`), hurst

Time stamps and when a row is known
-----------------------------------
Interval aggregates are stamped at the interval's OPEN, like candles: a
``candles_1m`` bar or a ``liquidations`` / ``taker`` per-minute sum with
``ts = T`` covers ``[T, T + interval)`` and is known only at ``T + interval``
(:attr:`KindSpec.interval_ms`, :func:`known_at_ms`). Instantaneous kinds
(mark, book, funding, open interest, fear & greed, social, regime truth) are
known at ``ts``. Replay and snapshots use only rows known at or before the
cycle time.

Writes validate every column (a :class:`~botcore.errors.DataError` names the
bad field), merge with the stored rows (new rows win on equal ``ts``) and
replace the file atomically.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from botcore.errors import DataError

logger = logging.getLogger(__name__)

MARKET = "MARKET"
BOOK_LEVELS = 10
TS_MIN_MS = 946_684_800_000  # 2000-01-01: anything earlier is seconds, not milliseconds
TS_MAX_MS = 4_102_444_800_000  # 2100-01-01: anything later is micro- or nanoseconds

TIMEFRAME_MS: dict[str, int] = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
}
#: stored candle kinds, finest first
CANDLE_KINDS: dict[str, int] = {"candles_1m": 60_000, "candles_5m": 300_000, "candles_1h": 3_600_000}
CANDLE_COLUMNS = ("open", "high", "low", "close", "volume")


def book_columns(levels: int = BOOK_LEVELS) -> tuple[str, ...]:
    """Return the book columns for ``levels`` levels: bid_px_*, bid_sz_*, ask_px_*, ask_sz_*."""
    return tuple(f"{side}_{what}_{i}" for side in ("bid", "ask") for what in ("px", "sz") for i in range(1, levels + 1))


@dataclass(frozen=True)
class KindSpec:
    """Schema of one kind: required and optional value columns (besides ``ts``)."""

    columns: tuple[str, ...]
    optional: tuple[str, ...] = ()
    market_wide: bool = False
    int_columns: tuple[str, ...] = ()
    non_negative: tuple[str, ...] = ()
    positive: tuple[str, ...] = ()
    bounds: tuple[tuple[str, float, float], ...] = ()
    interval_ms: int = 0  # > 0: rows are sums/bars over [ts, ts + interval_ms), known at ts + interval_ms

    @property
    def all_columns(self) -> tuple[str, ...]:
        return self.columns + self.optional



@dataclass(frozen=True)
class Plausibility:
    """Bounds a stored value must respect beyond its schema (configurable per :class:`Store`).

    Attributes
    ----------
    max_abs_funding_rate : float
        Largest |funding rate| per interval accepted (0.05 = 5 % per interval;
        BloFin caps rates far below that). A rate of 5.0 is a unit error.
    check_alignment : bool
        Candle and per-minute ``ts`` must fall on their interval (``ts % interval == 0``).
    """

    max_abs_funding_rate: float = 0.05
    check_alignment: bool = True


DEFAULT_PLAUSIBILITY = Plausibility()


def _candle_spec(interval_ms: int) -> KindSpec:
    return KindSpec(CANDLE_COLUMNS, non_negative=("volume",), positive=("open", "high", "low", "close"), interval_ms=interval_ms)


_BOOK = book_columns()

KINDS: dict[str, KindSpec] = {
    "candles_1m": _candle_spec(60_000),
    "candles_5m": _candle_spec(300_000),
    "candles_1h": _candle_spec(3_600_000),
    "mark": KindSpec(("mark_price",), positive=("mark_price",)),
    "funding": KindSpec(("rate",), optional=("next_funding_ts",)),
    "book": KindSpec(
        _BOOK,
        non_negative=tuple(c for c in _BOOK if "_sz_" in c),
        positive=tuple(c for c in _BOOK if "_px_" in c),
    ),
    "open_interest": KindSpec(("oi_usd",), non_negative=("oi_usd",)),
    "liquidations": KindSpec(
        ("long_liq_usd", "short_liq_usd"), non_negative=("long_liq_usd", "short_liq_usd"), interval_ms=60_000
    ),
    "taker": KindSpec(
        ("taker_buy_base", "taker_sell_base"), non_negative=("taker_buy_base", "taker_sell_base"), interval_ms=60_000
    ),
    "fear_greed": KindSpec(("value",), market_wide=True, bounds=(("value", 0.0, 100.0),)),
    "social": KindSpec(("mentions", "tone"), market_wide=True, non_negative=("mentions",), bounds=(("tone", -1.0, 1.0),)),
    "regime_truth": KindSpec(("regime", "hurst"), int_columns=("regime",), bounds=(("regime", 0, 2), ("hurst", 0.0, 1.0))),
}


def known_at_ms(kind: str, ts_ms: np.ndarray | int) -> np.ndarray | int:
    """Return when rows of ``kind`` stamped ``ts_ms`` become known (``ts + interval_ms``)."""
    return ts_ms + kind_spec(kind).interval_ms


# --------------------------------------------------------------------------- symbol keys


def symbol_key(symbol: str) -> str:
    """Return the file key of a symbol: ``BTC/USDT:USDT`` -> ``BTC_USDT_USDT``; ``MARKET`` stays."""
    if not symbol or any(c in symbol for c in "\\ .") or symbol != symbol.strip():
        raise DataError(f"symbol: {symbol!r} cannot be used as a store key")
    return symbol.replace("/", "_").replace(":", "_")


def key_symbol(key: str) -> str:
    """Inverse of :func:`symbol_key`: ``BTC_USDT_USDT`` -> ``BTC/USDT:USDT``, ``BTC_USDT`` -> ``BTC/USDT``."""
    parts = key.split("_")
    if key == MARKET or len(parts) == 1:
        return key
    if len(parts) == 2:
        return f"{parts[0]}/{parts[1]}"
    return f"{'_'.join(parts[:-2])}/{parts[-2]}:{parts[-1]}"


# --------------------------------------------------------------------------- validation


def _ts_ms(values: pd.Series | pd.Index, where: str) -> np.ndarray:
    """Convert a ts column (ints in ms or datetimes) to int64 ms, naming the field on failure."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(values.dtype):
        idx = pd.DatetimeIndex(values)
        if idx.tz is not None:
            idx = idx.tz_convert("UTC").tz_localize(None)
        if idx.isna().any():
            raise DataError(f"{where}.ts: contains NaT")
        return idx.as_unit("ms").asi8.astype(np.int64)
    if pd.api.types.is_bool_dtype(values.dtype) or not pd.api.types.is_integer_dtype(values.dtype):
        if pd.api.types.is_float_dtype(values.dtype):
            arr = np.asarray(values, dtype=np.float64)
            if np.isnan(arr).any():
                raise DataError(f"{where}.ts: contains NaN")
            if not np.all(arr == np.floor(arr)):
                raise DataError(f"{where}.ts: must be whole milliseconds, got fractional values")
            return arr.astype(np.int64)
        raise DataError(f"{where}.ts: dtype {values.dtype} is not int64 milliseconds or datetime")
    if hasattr(values, "isna") and values.isna().any():
        raise DataError(f"{where}.ts: contains missing values")
    return np.asarray(values, dtype=np.int64)


def _row(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _check_values(kind: str, where: str, ts: np.ndarray, columns: dict[str, np.ndarray],
                  plausibility: Plausibility) -> None:
    """Raise DataError naming column, row and value for the first implausible value (after the schema's own checks)."""
    spec = kind_spec(kind)

    for col, arr in columns.items():
        if np.isinf(arr).any():
            i = _row(np.isinf(arr))
            raise DataError(f"{where}{col}: row {i}: contains infinite values ({arr[i]})")
        if col in spec.int_columns:
            if np.isnan(arr).any():
                raise DataError(f"{where}{col}: row {_row(np.isnan(arr))}: integer column contains missing values")
            if not np.all(arr == np.floor(arr)):
                i = _row(arr != np.floor(arr))
                raise DataError(f"{where}{col}: row {i}: must be integers, got {arr[i]}")
        with np.errstate(invalid="ignore"):
            if col in spec.positive and (arr <= 0).any():
                i = _row(arr <= 0)
                raise DataError(f"{where}{col}: row {i}: must be > 0, got {arr[i]}")
            if col in spec.non_negative and (arr < 0).any():
                i = _row(arr < 0)
                raise DataError(f"{where}{col}: row {i}: must be >= 0, got {arr[i]}")
            bounds = list(spec.bounds)
            if kind == "funding" and col == "rate":
                bound = float(plausibility.max_abs_funding_rate)
                bounds.append(("rate", -bound, bound))
            for name, lo, hi in bounds:
                if name == col and ((arr < lo) | (arr > hi)).any():
                    i = _row((arr < lo) | (arr > hi))
                    raise DataError(f"{where}{col}: row {i}: must lie in [{lo}, {hi}], got {arr[i]}"
                                    + (" (a funding rate per interval; percent instead of a fraction?)"
                                       if kind == "funding" else ""))
    step = spec.interval_ms or CANDLE_KINDS.get(kind, 0)
    if plausibility.check_alignment and step and len(ts) and (ts % step != 0).any():
        i = _row(ts % step != 0)
        raise DataError(f"{where}ts: row {i}: {int(ts[i])} is not on a {step // 1000} s boundary")


def validate(kind: str, df: pd.DataFrame, symbol: str = "?",
             plausibility: Plausibility = DEFAULT_PLAUSIBILITY) -> pd.DataFrame:
    """Return ``df`` checked and normalised to the schema of ``kind``.

    Sorted by ``ts``, duplicates dropped (the last row wins), columns in schema
    order, value columns float64 (int64 for integer columns). Values must be
    plausible (:class:`Plausibility`: funding within its bound, candle times on
    their interval).

    Raises
    ------
    DataError
        Naming ``<kind>[<symbol>].<field>``, the row, the value and the reason.
    """
    spec = kind_spec(kind)
    where = f"{kind}[{symbol}]"
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{where}: expected a DataFrame, got {type(df).__name__}")
    if "ts" not in df.columns:
        if isinstance(df.index, pd.DatetimeIndex) or df.index.name == "ts":
            df = df.reset_index(names="ts")
        else:
            raise DataError(f"{where}.ts: column missing")
    missing = [c for c in spec.columns if c not in df.columns]
    if missing:
        raise DataError(f"{where}.{missing[0]}: column missing (required: {', '.join(spec.columns)})")
    extra = [c for c in df.columns if c != "ts" and c not in spec.all_columns]
    if extra:
        raise DataError(f"{where}.{extra[0]}: unknown column for kind {kind!r} (allowed: ts, {', '.join(spec.all_columns)})")
    ts = _ts_ms(df["ts"], where)
    if len(ts):
        bad = (ts < TS_MIN_MS) | (ts > TS_MAX_MS)
        if bad.any():
            raise DataError(
                f"{where}.ts: value {int(ts[bad][0])} is not milliseconds since the epoch between 2000 and 2100"
            )
    out: dict[str, np.ndarray] = {"ts": ts}
    for col in spec.all_columns:
        if col not in df.columns:
            continue
        s = df[col]
        if not (pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)):
            raise DataError(f"{where}.{col}: dtype {s.dtype} is not numeric")
        arr = s.to_numpy(dtype=np.float64, na_value=np.nan)
        _check_values(kind, where + ".", ts, {col: arr}, plausibility)
        out[col] = arr.astype(np.int64) if col in spec.int_columns else arr
    _check_values(kind, where + ".", ts, {}, plausibility)
    result = pd.DataFrame(out)
    if len(result) and not (np.diff(ts) > 0).all():
        n_before = len(result)
        result = result.sort_values("ts", kind="stable").drop_duplicates("ts", keep="last").reset_index(drop=True)
        if len(result) < n_before:
            logger.debug("%s: dropped %d duplicate timestamps", where, n_before - len(result))
    return result


def kind_spec(kind: str) -> KindSpec:
    """Return the schema of ``kind`` or raise :class:`DataError` naming the known kinds."""
    try:
        return KINDS[kind]
    except KeyError:
        raise DataError(f"kind: unknown kind {kind!r}; known: {', '.join(KINDS)}") from None


def _empty(kind: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
    spec = kind_spec(kind)
    cols = ["ts", *spec.columns] if columns is None else list(columns)
    return pd.DataFrame({c: np.empty(0, dtype=np.int64 if c == "ts" or c in spec.int_columns else np.float64) for c in cols})


# --------------------------------------------------------------------------- the store

_LOCKS: dict[str, threading.Lock] = {}
#: Stored files already verified: (path, mtime_ns, size, plausibility).
_VERIFIED: set[tuple] = set()
_LOCKS_GUARD = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(str(path.resolve()), threading.Lock())


class Store:
    """Parquet market-data store rooted at ``root`` (created on first write).

    Parameters
    ----------
    root
        Directory holding ``<kind>/<SYMBOL_KEY>.parquet`` files.
    plausibility
        Bounds enforced when a file is written and when it is first read
        (:meth:`verify`: readable Parquet, numeric columns, sorted unique
        aligned ``ts``, plausible values; a violation names file, column, row and value).
    """

    def __init__(self, root: str | os.PathLike[str], plausibility: Plausibility = DEFAULT_PLAUSIBILITY) -> None:
        self.root = Path(root)
        self.plausibility = plausibility

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # ------------------------------------------------------------------ paths and metadata

    def path(self, kind: str, symbol: str) -> Path:
        """Return the file of (kind, symbol); market-wide kinds ignore ``symbol`` and use MARKET."""
        spec = kind_spec(kind)
        key = MARKET if spec.market_wide else symbol_key(symbol)
        return self.root / kind / f"{key}.parquet"

    def exists(self, kind: str, symbol: str) -> bool:
        """Return whether (kind, symbol) has a stored file."""
        return self.path(kind, symbol).is_file()

    @property
    def synthetic(self) -> bool:
        """Whether the store is marked as SYNTHETIC (generated, not recorded from a venue)."""
        return (self.root / "SYNTHETIC").is_file()

    def mark_synthetic(self, note: str) -> None:
        """Write the ``SYNTHETIC`` marker file with a human-readable ``note``."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "SYNTHETIC").write_text(note.rstrip() + "\n", encoding="utf-8")

    def metadata(self, kind: str, symbol: str) -> dict[str, str]:
        """Return the key-value metadata stored with (kind, symbol) (empty when absent)."""
        path = self.path(kind, symbol)
        if not path.is_file():
            return {}
        meta = pq.read_schema(path).metadata or {}
        return {k.decode(): v.decode() for k, v in meta.items() if not k.startswith(b"pandas") and k != b"ARROW:schema"}

    # ------------------------------------------------------------------ write

    def write(self, kind: str, symbol: str, df: pd.DataFrame, metadata: dict[str, str] | None = None) -> int:
        """Validate ``df`` and merge it into (kind, symbol).

        Rows with a ``ts`` already stored replace the stored row. The file is
        replaced atomically. Returns the number of rows stored after the merge.

        Raises
        ------
        DataError
            When a column is missing, unknown, of the wrong dtype or out of range.
        """
        spec = kind_spec(kind)
        sym = MARKET if spec.market_wide else symbol
        new = validate(kind, df, sym, self.plausibility)
        path = self.path(kind, sym)
        with _lock_for(path):
            meta = {"kind": kind, "symbol": sym}
            if path.is_file():
                old_meta = self.metadata(kind, sym)
                meta = {**old_meta, **meta}
                self.verify(kind, sym)
                old = pq.read_table(path).to_pandas()
                if len(old):
                    for col in new.columns:
                        if col not in old.columns:
                            old[col] = np.nan
                    for col in old.columns:
                        if col not in new.columns:
                            new[col] = np.nan
                    new = pd.concat([old[new.columns], new], ignore_index=True)
                    new = new.drop_duplicates("ts", keep="last").sort_values("ts", kind="stable").reset_index(drop=True)
            if metadata:
                meta.update({str(k): str(v) for k, v in metadata.items()})
            table = pa.Table.from_pandas(new, preserve_index=False)
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), **{k.encode(): v.encode() for k, v in meta.items()}})
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".parquet.tmp{os.getpid()}.{threading.get_ident()}")
            pq.write_table(table, tmp, compression="lz4", use_dictionary=False, row_group_size=16_384)
            os.replace(tmp, path)
        logger.debug("wrote %s %s: %d rows", kind, sym, len(new))
        return len(new)

    # ------------------------------------------------------------------ read

    def verify(self, kind: str, symbol: str) -> None:
        """Check the stored file of (kind, symbol) once per version (size, mtime): raise DataError naming the fault.

        A readable Parquet file; ``ts`` int64 milliseconds, sorted, unique and
        on its interval; the kind's columns numeric; values plausible
        (positive prices, non-negative volumes, funding within its bound). A
        missing file is not checked (reads return an empty frame).
        """
        path = self.path(kind, symbol)
        try:
            st = path.stat()
        except OSError:
            return
        key = (str(path.resolve()), st.st_mtime_ns, st.st_size, self.plausibility)
        if key in _VERIFIED:
            return
        spec = kind_spec(kind)
        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{path}: not a readable Parquet file ({exc}); delete it and download or import it "
                            f"again") from None
        names = table.schema.names
        if "ts" not in names:
            raise DataError(f"{path}: column ts missing")
        ts_type = table.schema.field("ts").type
        if not pa.types.is_integer(ts_type):
            raise DataError(f"{path}: column ts is {ts_type}, not int64 milliseconds")
        missing = [c for c in spec.columns if c not in names]
        if missing:
            raise DataError(f"{path}: column {missing[0]} missing (required: {', '.join(spec.columns)})")
        columns = {}
        for name in names:
            if name == "ts":
                continue
            kind_type = table.schema.field(name).type
            if name not in spec.all_columns:
                raise DataError(f"{path}: column {name}: unknown for kind {kind!r}")
            if not (pa.types.is_floating(kind_type) or pa.types.is_integer(kind_type)):
                raise DataError(f"{path}: column {name} is {kind_type}, not numeric")
            columns[name] = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        ts = table.column("ts").to_numpy(zero_copy_only=False)
        if len(ts) and (ts[0] < TS_MIN_MS or ts.max() > TS_MAX_MS):
            i = int(np.flatnonzero((ts < TS_MIN_MS) | (ts > TS_MAX_MS))[0])
            raise DataError(f"{path}: column ts, row {i}: {int(ts[i])} is not milliseconds between 2000 and 2100")
        if len(ts) > 1 and not (np.diff(ts) > 0).all():
            i = int(np.flatnonzero(np.diff(ts) <= 0)[0]) + 1
            what = "a duplicate of" if ts[i] == ts[i - 1] else "before"
            raise DataError(f"{path}: column ts, row {i}: {int(ts[i])} is {what} row {i - 1} ({int(ts[i - 1])}); "
                            f"timestamps must be sorted and unique")
        _check_values(kind, f"{path}: column ", ts, columns, self.plausibility)
        with _LOCKS_GUARD:
            _VERIFIED.add(key)

    def read(
        self,
        kind: str,
        symbol: str,
        start_ms: int | None = None,
        end_ms: int | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Return rows of (kind, symbol) with ``start_ms <= ts <= end_ms`` (bounds optional).

        ``ts`` is always the first column. A (kind, symbol) never written
        returns an empty frame with the schema's columns.
        """
        spec = kind_spec(kind)
        cols = None
        if columns is not None:
            unknown = [c for c in columns if c != "ts" and c not in spec.all_columns]
            if unknown:
                raise DataError(f"{kind}.{unknown[0]}: unknown column (allowed: ts, {', '.join(spec.all_columns)})")
            cols = ["ts", *[c for c in columns if c != "ts"]]
        path = self.path(kind, symbol)
        if not path.is_file():
            return _empty(kind, cols)
        self.verify(kind, symbol)
        table = self._read_table(path, cols, start_ms, end_ms)
        if cols is not None:
            cols = [c for c in cols if c in table.column_names]
            table = table.select(cols)
        return table.to_pandas(use_threads=False, split_blocks=True)

    @staticmethod
    def _read_table(path: Path, columns: list[str] | None, start_ms: int | None, end_ms: int | None) -> pa.Table:
        """Read ``columns`` of rows with start_ms <= ts <= end_ms: prune row groups by their ts
        statistics, then slice (ts is sorted, so a window is a contiguous range)."""
        pf = pq.ParquetFile(path)
        if columns is not None:
            available = set(pf.schema_arrow.names)
            columns = [c for c in columns if c in available]
        meta = pf.metadata
        ts_col = pf.schema_arrow.get_field_index("ts")
        groups = []
        for i in range(meta.num_row_groups):
            stats = meta.row_group(i).column(ts_col).statistics
            if stats is not None and stats.has_min_max:
                if (start_ms is not None and stats.max < start_ms) or (end_ms is not None and stats.min > end_ms):
                    continue
            groups.append(i)
        if not groups:
            return pf.schema_arrow.empty_table().select(columns) if columns is not None else pf.schema_arrow.empty_table()
        table = pf.read_row_groups(groups, columns=columns, use_threads=True)
        if start_ms is None and end_ms is None:
            return table
        ts = table.column("ts").to_numpy()
        lo = 0 if start_ms is None else int(np.searchsorted(ts, int(start_ms), side="left"))
        hi = len(ts) if end_ms is None else int(np.searchsorted(ts, int(end_ms), side="right"))
        return table.slice(lo, hi - lo)

    def last_ts(self, kind: str, symbol: str) -> int | None:
        """Return the last stored ``ts`` of (kind, symbol), or None (for resuming downloads)."""
        path = self.path(kind, symbol)
        if not path.is_file():
            return None
        self.verify(kind, symbol)
        ts = pq.read_table(path, columns=["ts"]).column("ts")
        return int(ts[-1].as_py()) if len(ts) else None

    def kinds(self) -> list[str]:
        """Return the kinds with at least one stored file."""
        if not self.root.is_dir():
            return []
        return [k for k in KINDS if (self.root / k).is_dir() and any((self.root / k).glob("*.parquet"))]

    def symbols(self, kind: str | None = None) -> list[str]:
        """Return the symbols stored for ``kind`` (for any per-symbol kind when None), sorted."""
        kinds = [kind] if kind is not None else self.kinds()
        found: set[str] = set()
        for k in kinds:
            kind_spec(k)
            folder = self.root / k
            if folder.is_dir():
                found.update(key_symbol(p.stem) for p in folder.glob("*.parquet"))
        if kind is None:
            found.discard(MARKET)
        return sorted(found)

    # ------------------------------------------------------------------ candles

    def candle_base(self, symbol: str, timeframe: str) -> tuple[str, int] | None:
        """Return the finest stored candle kind that can build ``timeframe`` and its bar length."""
        tf_ms = _tf_ms(timeframe)
        for kind, base_ms in CANDLE_KINDS.items():
            if base_ms <= tf_ms and tf_ms % base_ms == 0 and self.exists(kind, symbol):
                return kind, base_ms
        return None

    def candles(
        self,
        symbol: str,
        timeframe: str,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> pd.DataFrame:
        """Return closed ``timeframe`` bars of ``symbol`` resampled from the finest stored candles.

        A bar (``ts`` = open time) is returned only when ``ts >= start_ms`` and
        it has closed by ``end_ms``: ``ts + tf <= end_ms``. Without ``end_ms``
        the end is the close of the last stored base bar, so a bar still
        forming at the end of the data is never returned. Bars are aligned to
        the epoch (4h bars open at 00:00, 04:00, ... UTC); a bar whose base
        bars are partly missing is built from those present.
        """
        tf_ms = _tf_ms(timeframe)
        base = self.candle_base(symbol, timeframe)
        if base is None:
            return _empty("candles_1m")
        kind, base_ms = base
        lo = None if start_ms is None else -(-int(start_ms) // tf_ms) * tf_ms
        # a base bar is usable only if it has closed by end_ms
        hi = None if end_ms is None else int(end_ms) - base_ms
        df = self.read(kind, symbol, lo, hi)
        if end_ms is None:
            end = int(df["ts"].iloc[-1]) + base_ms if len(df) else 0
        else:
            end = int(end_ms)
        return resample_candles(df, base_ms, tf_ms, end)

    # ------------------------------------------------------------------ panel

    def read_panel(
        self,
        kind: str,
        symbols: Sequence[str],
        column: str,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> pd.DataFrame:
        """Return one ``column`` of many symbols over a window as a wide frame.

        Index ``ts`` (the union of all timestamps), one float64 column per
        symbol in the given order, NaN where a symbol has no row.
        """
        spec = kind_spec(kind)
        if column not in spec.all_columns:
            raise DataError(f"{kind}.{column}: unknown column (allowed: {', '.join(spec.all_columns)})")
        paths = [self.path(kind, s) for s in symbols]
        for s in symbols:
            self.verify(kind, s)

        def load(path: Path) -> tuple[np.ndarray, np.ndarray]:
            if not path.is_file():
                return np.empty(0, np.int64), np.empty(0, np.float64)
            t = self._read_table(path, ["ts", column], start_ms, end_ms)
            if column not in t.column_names:
                return t.column("ts").to_numpy(), np.full(t.num_rows, np.nan)
            return t.column("ts").to_numpy(), t.column(column).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)

        with ThreadPoolExecutor(max_workers=min(8, max(1, len(paths)))) as pool:
            parts = list(pool.map(load, paths))
        ts_all = [p[0] for p in parts]
        if ts_all and all(len(t) == len(ts_all[0]) and np.array_equal(t, ts_all[0]) for t in ts_all[1:]):
            index = ts_all[0]
            matrix = np.column_stack([p[1] for p in parts]) if parts else np.empty((0, 0))
        else:
            index = np.unique(np.concatenate(ts_all)) if ts_all else np.empty(0, np.int64)
            matrix = np.full((len(index), len(parts)), np.nan)
            for j, (ts, vals) in enumerate(parts):
                matrix[np.searchsorted(index, ts), j] = vals
        return pd.DataFrame(matrix, index=pd.Index(index, name="ts", dtype=np.int64), columns=list(symbols))

    # ------------------------------------------------------------------ info

    def info(self) -> pd.DataFrame:
        """Return one row per stored (symbol, kind): rows, first, last, gaps, synthetic.

        ``first``/``last`` are ms timestamps; ``gaps`` counts missing bars
        between first and last for candle kinds and, for other kinds, the rows
        that mark the input missing (NaN in the first value column, as a live
        recording writes them: :mod:`botcore.market.recorder`).
        """
        rows = []
        for kind in self.kinds():
            for path in sorted((self.root / kind).glob("*.parquet")):
                self.verify(kind, key_symbol(path.stem))
                first_col = KINDS[kind].columns[0]
                table = pq.read_table(path, columns=["ts", first_col])
                ts = table.column("ts").to_numpy()
                n = len(ts)
                first = int(ts[0]) if n else None
                last = int(ts[-1]) if n else None
                gaps: float = np.nan
                if kind in CANDLE_KINDS and first is not None and last is not None:
                    gaps = float((last - first) // CANDLE_KINDS[kind] + 1 - n)
                elif n:
                    gaps = float(np.isnan(table.column(first_col).to_numpy(zero_copy_only=False).astype(np.float64)).sum())
                rows.append(
                    {"symbol": key_symbol(path.stem), "kind": kind, "rows": n, "first": first, "last": last, "gaps": gaps}
                )
        out = pd.DataFrame(rows, columns=["symbol", "kind", "rows", "first", "last", "gaps"])
        out["synthetic"] = self.synthetic
        return out


def _tf_ms(timeframe: str) -> int:
    try:
        return TIMEFRAME_MS[timeframe]
    except KeyError:
        raise DataError(f"timeframe: unknown timeframe {timeframe!r}; known: {', '.join(TIMEFRAME_MS)}") from None


def resample_candles(df: pd.DataFrame, base_ms: int, tf_ms: int, end_ms: int) -> pd.DataFrame:
    """Return ``df`` (base bars, sorted) aggregated to ``tf_ms`` bars that closed by ``end_ms``.

    open = first, high = max, low = min, close = last, volume = sum (NaN
    ignored; NaN when all base values are NaN). Bars with ``ts + tf_ms > end_ms``
    are dropped.
    """
    ts = df["ts"].to_numpy(np.int64)
    if base_ms == tf_ms:
        keep = ts + tf_ms <= end_ms
        return df.loc[keep].reset_index(drop=True)
    if len(ts) == 0:
        return _empty("candles_1m")
    bucket = ts - ts % tf_ms
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], len(ts)] - 1
    o, h, lo, c, v = (df[k].to_numpy(np.float64) for k in CANDLE_COLUMNS)
    with np.errstate(invalid="ignore"):
        vol = np.add.reduceat(np.nan_to_num(v), starts)
        has_vol = np.add.reduceat((~np.isnan(v)).astype(np.int64), starts) > 0
    out = pd.DataFrame(
        {
            "ts": bucket[starts],
            "open": o[starts],
            "high": np.fmax.reduceat(h, starts),
            "low": np.fmin.reduceat(lo, starts),
            "close": c[ends],
            "volume": np.where(has_vol, vol, np.nan),
        }
    )
    return out.loc[out["ts"].to_numpy() + tf_ms <= end_ms].reset_index(drop=True)


def iter_stored(store: Store, kinds: Iterable[str] | None = None) -> Iterable[tuple[str, str]]:
    """Yield (kind, symbol) for every stored file of ``kinds`` (all kinds when None)."""
    for kind in kinds or store.kinds():
        for sym in store.symbols(kind):
            yield kind, sym
