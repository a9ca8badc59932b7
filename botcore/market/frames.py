"""Shared parsing of the importers (:mod:`botcore.market.importers`): validated frames, contracts, CSV options.

The validation helpers (every error a :class:`botcore.errors.DataError` naming
the file and the field), the frames of each store kind, the :class:`Contract`
that turns contracts or coins into base units, the options of a generic CSV
and the candles built from trades.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from botcore.clock import MINUTE_MS
from botcore.errors import DataError
from botcore.market.store import (
    CANDLE_COLUMNS,
    CANDLE_KINDS,
    TS_MAX_MS,
    TS_MIN_MS,
    resample_candles,
)
from botcore.market.store import TIMEFRAME_MS as STORE_TIMEFRAME_MS

TAKER_COLUMNS = ("taker_buy_base", "taker_sell_base")
#: candle kind and bar length of each timeframe the store keeps natively ('1m', '5m', '1h')
CANDLE_KIND_BY_TIMEFRAME = {kind.removeprefix("candles_"): kind for kind in CANDLE_KINDS}
TIMEFRAME_MS = {kind.removeprefix("candles_"): bar_ms for kind, bar_ms in CANDLE_KINDS.items()}

Frames = dict[str, pd.DataFrame]


# --------------------------------------------------------------------------- validation helpers


def _fail(source: Path | str, field: str, reason: str) -> DataError:
    return DataError(f"{source}: field '{field}': {reason}")


def _require_columns(df: pd.DataFrame, columns: Iterable[str], source: Path | str) -> None:
    for col in columns:
        if col not in df.columns:
            raise _fail(source, col, f"column missing (have {list(df.columns)})")


def _read_csv(path: Path, **kwargs) -> pd.DataFrame:
    """``pd.read_csv`` whose every failure (empty file, bad quoting, bad bytes) names the file."""
    try:
        return pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError:
        raise _fail(path, "file", "empty: no header and no rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise _fail(path, "file", f"not a readable CSV ({exc})") from None


def _check_ts_range(ms: np.ndarray, source: Path | str, field: str) -> np.ndarray:
    """Raise unless every epoch-ms time lies in 2000-2100 (outside it the unit or the value is wrong)."""
    bad = (ms < TS_MIN_MS) | (ms >= TS_MAX_MS)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise _fail(source, field, f"time {ms[row]!r} at row {row} is outside 2000-2100 as epoch milliseconds")
    return ms


def _numeric(values: pd.Series, source: Path | str, field: str) -> np.ndarray:
    """Return ``values`` as float64, raising on text, missing or infinite values."""
    out = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    bad = ~np.isfinite(out)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise _fail(source, field, f"{int(bad.sum())} non-numeric or missing values (first at row {row}: {values.iloc[row]!r})")
    return out


def _datetimes_to_ms(values: pd.Series, source: Path | str, field: str) -> np.ndarray:
    """Return epoch milliseconds of datetimes (naive ones are taken as UTC), or of numbers in ms."""
    if pd.api.types.is_numeric_dtype(values):
        ms = _numeric(values, source, field)
        if (ms < 1e11).any():  # seconds, not milliseconds: before 1973 in ms
            raise _fail(source, field, "numeric timestamps must be epoch milliseconds")
        return _check_ts_range(ms, source, field).astype("int64")
    try:
        parsed = pd.to_datetime(values, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise _fail(source, field, f"unparseable timestamp ({exc})") from None
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise _fail(source, field, f"missing timestamp at row {row}")
    return _check_ts_range(parsed.dt.as_unit("ms").astype("int64").to_numpy(), source, field)


def _finish(ts_ms: np.ndarray, columns: dict[str, np.ndarray], source: Path | str) -> pd.DataFrame:
    """Assemble a table: ``ts`` first, sorted, timestamps unique."""
    df = pd.DataFrame({"ts": np.asarray(ts_ms, dtype="int64"), **{k: np.asarray(v, dtype="float64") for k, v in columns.items()}})
    df = df.sort_values("ts", kind="stable").reset_index(drop=True)
    dup = df["ts"].duplicated()
    if dup.any():
        raise _fail(source, "ts", f"{int(dup.sum())} duplicate timestamps (first {int(df['ts'][dup].iloc[0])})")
    return df


def infer_timeframe(ts_ms: np.ndarray, source: Path | str) -> str:
    """Return the native timeframe ('1m', '5m' or '1h') from the most common bar spacing."""
    if len(ts_ms) < 2:
        raise _fail(source, "ts", "need at least two bars to infer the timeframe")
    step_ms = int(np.median(np.diff(np.sort(ts_ms))))
    for timeframe, ms in TIMEFRAME_MS.items():
        if ms == step_ms:
            return timeframe
    raise _fail(source, "ts", f"bar spacing {step_ms} ms is not a stored timeframe {list(TIMEFRAME_MS)}")


def candles_frame(
    ts_ms: np.ndarray,
    ohlcv: dict[str, np.ndarray],
    source: Path | str,
    timeframe: str | None = None,
) -> Frames:
    """Validate OHLCV arrays (base volume) and return ``{candles_<tf>: frame}``.

    Parameters
    ----------
    ts_ms : bar open times, epoch ms UTC.
    ohlcv : ``open, high, low, close, volume`` arrays, prices > 0, volume >= 0 in base units.
    source : file named in errors.
    timeframe : native timeframe; inferred from the bar spacing when None.
    """
    df = _finish(ts_ms, ohlcv, source)
    timeframe = timeframe or infer_timeframe(df["ts"].to_numpy(), source)
    if timeframe not in CANDLE_KIND_BY_TIMEFRAME:
        raise _fail(source, "timeframe", f"{timeframe!r} is not stored; use one of {list(CANDLE_KIND_BY_TIMEFRAME)}")
    off_grid = df["ts"] % TIMEFRAME_MS[timeframe] != 0
    if off_grid.any():
        raise _fail(source, "ts", f"{int(off_grid.sum())} bar opens not on the {timeframe} grid (first {int(df['ts'][off_grid].iloc[0])})")
    for col in ("open", "high", "low", "close"):
        if (df[col] <= 0).any():
            raise _fail(source, col, "prices must be positive")
    if (df["volume"] < 0).any():
        raise _fail(source, "volume", "volume must not be negative")
    body_hi = df[["open", "close"]].max(axis=1)
    body_lo = df[["open", "close"]].min(axis=1)
    tol = 1e-9 * body_hi
    if (df["high"] < body_hi - tol).any():
        row = int(np.flatnonzero(df["high"] < body_hi - tol)[0])
        raise _fail(source, "high", f"high below open/close at ts {int(df['ts'][row])}")
    if (df["low"] > body_lo + tol).any():
        row = int(np.flatnonzero(df["low"] > body_lo + tol)[0])
        raise _fail(source, "low", f"low above open/close at ts {int(df['ts'][row])}")
    return {CANDLE_KIND_BY_TIMEFRAME[timeframe]: df}


def funding_frame(ts_ms: np.ndarray, rate: np.ndarray, source: Path | str) -> Frames:
    """Validate funding rates (fractions per interval, |rate| < 1) and return ``{'funding': frame}``."""
    df = _finish(ts_ms, {"rate": rate}, source)
    if (df["rate"].abs() >= 1).any():
        raise _fail(source, "rate", "funding rates must be fractions (|rate| < 1), not percent")
    return {"funding": df}


def taker_per_minute(
    ts_ms: np.ndarray,
    qty_base: np.ndarray,
    is_buy: np.ndarray,
    span_ms: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """Sum aggressor volume into one row per minute (``ts`` = minute open), zero where no trade printed.

    Only minutes the capture covers entirely are kept: those inside ``span_ms``
    (first, last observed time; default the first and last trade) once it is
    widened to whole seconds. The edge minutes of a capture usually hold only
    part of their trades and would read as a drop in volume.

    Parameters
    ----------
    ts_ms : trade times, epoch ms UTC.
    qty_base : trade sizes in base units.
    is_buy : True where the taker (aggressor) bought.
    span_ms : (first, last) time the capture observed, epoch ms.
    """
    ts_ms = np.asarray(ts_ms, dtype="int64")
    empty = pd.DataFrame({"ts": np.array([], "int64"), **{c: np.array([], "float64") for c in TAKER_COLUMNS}})
    if len(ts_ms) == 0:
        return empty
    first_ms, last_ms = span_ms if span_ms is not None else (int(ts_ms.min()), int(ts_ms.max()))
    first_ms -= first_ms % 1000  # widen to whole seconds
    last_ms += -last_ms % 1000
    lo = -(-first_ms // MINUTE_MS) * MINUTE_MS  # first minute that opens inside the span
    hi = last_ms - last_ms % MINUTE_MS  # minutes must close by the span's end
    if hi <= lo:
        return empty
    grid = np.arange(lo, hi, MINUTE_MS, dtype="int64")
    inside = (ts_ms >= lo) & (ts_ms < hi)
    slot = (ts_ms[inside] - lo) // MINUTE_MS
    qty = np.asarray(qty_base, dtype="float64")[inside]
    buy = np.asarray(is_buy, dtype=bool)[inside]
    return pd.DataFrame(
        {
            "ts": grid,
            "taker_buy_base": np.bincount(slot, weights=np.where(buy, qty, 0.0), minlength=len(grid)),
            "taker_sell_base": np.bincount(slot, weights=np.where(buy, 0.0, qty), minlength=len(grid)),
        }
    )


# --------------------------------------------------------------------------- contracts


class Contract(NamedTuple):
    """How a venue counts size: linear contracts hold ``size`` BASE units; inverse ones are worth ``size`` QUOTE units.

    Build one with :func:`contract_for`; :meth:`base` turns quantities into base units.
    """

    symbol: str
    inverse: bool
    size: float  # linear: base units per contract; inverse: quote units (USD) per contract
    settle: str

    def base(self, qty: np.ndarray, price: np.ndarray | float) -> np.ndarray:
        """Quantities (contracts, or base units at size 1) in BASE units; inverse ones are priced at ``price``."""
        qty = np.asarray(qty, dtype="float64")
        return qty * self.size / np.asarray(price, dtype="float64") if self.inverse else qty * self.size


def contract_for(symbol: str, source: Path | str, contract_size: float = 1.0, contract_value: float | None = None) -> Contract:
    """Return the :class:`Contract` of a ccxt symbol, or refuse when the sizes would be read in the wrong unit.

    ``BASE/QUOTE:SETTLE`` with SETTLE == BASE is coin-margined (inverse): each
    contract is worth ``contract_value`` QUOTE (Binance COIN-M: 100 USD for
    BTCUSD, 10 USD for the others), so a size in base units is
    ``contracts * contract_value / price``. Every other symbol is linear with
    ``contract_size`` base units per contract (1 when the source counts base
    units).
    """
    _check_contract_size(contract_size, source)
    base, _, rest = symbol.partition("/")
    quote, _, settle = rest.partition(":")
    if settle and settle == base:
        if contract_value is None:
            raise _fail(
                source, "contract_value",
                f"{symbol} is coin-margined (inverse): the file counts contracts worth a fixed amount of {quote}, not {base}; "
                f"pass --contract-value ({quote} per contract, e.g. 100 for Binance COIN-M BTCUSD, 10 for its other coins)",
            )
        if contract_size != 1.0:
            raise _fail(source, "contract_size", f"{symbol} is inverse: give its contract value in {quote} (--contract-value), not a size in {base}")
        if not (np.isfinite(contract_value) and contract_value > 0):
            raise _fail(source, "contract_value", f"must be a positive number of {quote}, got {contract_value!r}")
        return Contract(symbol, True, float(contract_value), settle)
    if contract_value is not None:
        raise _fail(source, "contract_value", f"{symbol} is linear (settled in {settle or quote}): give base units per contract with --contract-size")
    return Contract(symbol, False, float(contract_size), settle or quote)


def _check_contract_size(contract_size: float, source: Path | str) -> None:
    if not (np.isfinite(contract_size) and contract_size > 0):
        raise _fail(source, "contract_size", f"must be a positive number, got {contract_size!r}")


_COIN_M_NAME = re.compile(r"(?i)(?:^|[^a-z])[a-z0-9]+usd_(?:perp|\d{6})(?:[^a-z0-9]|$)")


def _check_venue_margin(contract: Contract, coin_margined: bool, seen: str, source: Path | str) -> None:
    """Refuse a coin-margined source read as linear (contracts taken for coins) and the reverse."""
    if coin_margined and not contract.inverse:
        raise _fail(
            source, "symbol",
            f"{seen} is a coin-margined (inverse) market whose sizes are USD contracts, but {contract.symbol} is linear; "
            f"import it as e.g. {contract.symbol.split('/')[0]}/USD:{contract.symbol.split('/')[0]} with --contract-value",
        )
    if contract.inverse and not coin_margined:
        raise _fail(source, "symbol", f"{contract.symbol} is inverse but {seen} is a linear (USDT/USDC-margined) market")


# --------------------------------------------------------------------------- generic CSV options

TimeUnit = Literal["auto", "s", "ms", "us", "ns"]
_UNIT_DIVISOR: dict[TimeUnit, float] = {"s": 1e-3, "ms": 1.0, "us": 1e3, "ns": 1e6}


class CsvOptions(NamedTuple):
    """How to read a candle CSV whose layout differs from ``timestamp, open, high, low, close, volume``.

    skip_lines : lines above the header (a vendor banner).
    columns : ``(field, file column)`` pairs renaming file columns to ``timestamp``, ``open`` ... ``volume``.
    time_column : the column holding the bar open time (after renaming).
    time_unit : unit of numeric times; 'auto' picks s, ms, us or ns by magnitude (all are in 2000-2100 only in one unit).
    time_format : strptime format of text times (ISO 8601 when None).
    time_zone : zone of naive text times (IANA name, default UTC).
    order : 'ascending' or 'descending' checks the file's row order; 'any' accepts either (rows are sorted).
    """

    skip_lines: int = 0
    columns: tuple[tuple[str, str], ...] = ()
    time_column: str = "timestamp"
    time_unit: TimeUnit = "ms"
    time_format: str | None = None
    time_zone: str = "UTC"
    order: Literal["any", "ascending", "descending"] = "any"


def times_to_ms(
    values: pd.Series,
    source: Path | str,
    field: str,
    unit: TimeUnit = "ms",
    fmt: str | None = None,
    tz: str = "UTC",
) -> np.ndarray:
    """Return epoch ms (UTC) of numeric times in ``unit`` or of text times in ``fmt`` (naive ones in zone ``tz``)."""
    if len(values) == 0:
        raise _fail(source, field, "no rows")
    numeric = pd.to_numeric(values, errors="coerce")
    if pd.api.types.is_numeric_dtype(values) or (fmt is None and numeric.notna().all()):
        raw = _numeric(values, source, field)
        if unit == "auto":
            unit = next((u for u, div in _UNIT_DIVISOR.items() if TS_MIN_MS <= raw[0] / div < TS_MAX_MS), "ms")
        elif unit not in _UNIT_DIVISOR:
            raise _fail(source, f"{field} unit", f"{unit!r} is not one of {['auto', *_UNIT_DIVISOR]}")
        return _check_ts_range(np.floor(raw / _UNIT_DIVISOR[unit]), source, f"{field} (read in {unit})").astype("int64")
    try:
        parsed = pd.to_datetime(values.astype("string"), format=fmt or "ISO8601")
        parsed = parsed.dt.tz_localize(tz) if parsed.dt.tz is None else parsed
        parsed = parsed.dt.tz_convert("UTC")
    except (ValueError, TypeError, OverflowError, KeyError) as exc:  # KeyError: an unknown time zone
        raise _fail(source, field, f"unparseable time with format {fmt or 'ISO8601'!r} in zone {tz!r} ({exc})") from None
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise _fail(source, field, f"missing time at row {row}")
    return _check_ts_range(parsed.dt.as_unit("ms").astype("int64").to_numpy(), source, field)


def _check_order(ts_ms: np.ndarray, order: str, source: Path | str, field: str) -> None:
    if order == "any" or len(ts_ms) < 2:
        return
    step = np.diff(ts_ms)
    wrong = step <= 0 if order == "ascending" else step >= 0
    if order not in ("ascending", "descending"):
        raise _fail(source, "order", f"{order!r} is not 'any', 'ascending' or 'descending'")
    if wrong.any():
        raise _fail(source, field, f"rows are not in {order} time order (row {int(np.flatnonzero(wrong)[0]) + 1})")


# --------------------------------------------------------------------------- candles from trades, resampling


def candles_from_trades(
    ts_ms: np.ndarray,
    price: np.ndarray,
    qty_base: np.ndarray,
    span_ms: tuple[int, int] | None = None,
    timeframe: str = "1m",
) -> pd.DataFrame:
    """Build OHLCV bars (volume in base units) from trades, for every bar the capture covers entirely.

    Trades are taken in time order (ties in file order). Minutes inside the
    span (default first to last trade, widened to whole seconds, as
    :func:`taker_per_minute`) without a trade repeat the previous close with
    zero volume, as exchanges report them; minutes before the first trade are
    left out. Bars longer than a minute are resampled from the minutes by
    :func:`botcore.market.store.resample_candles`, the store's own resampler.
    """
    ts_ms = np.asarray(ts_ms, dtype="int64")
    order = np.argsort(ts_ms, kind="stable")
    ts_ms, price, qty = ts_ms[order], np.asarray(price, "float64")[order], np.asarray(qty_base, "float64")[order]
    grid = taker_per_minute(ts_ms, qty, np.ones(len(ts_ms), bool), span_ms)["ts"].to_numpy()
    if len(grid) == 0:
        return _empty_candles()
    inside = (ts_ms >= grid[0]) & (ts_ms < grid[-1] + MINUTE_MS)
    ts_in, px, q = ts_ms[inside], price[inside], qty[inside]
    slot = (ts_in - grid[0]) // MINUTE_MS
    starts = np.flatnonzero(np.r_[True, slot[1:] != slot[:-1]]) if len(slot) else np.array([], "int64")
    o, h, lo, c, v = (np.full(len(grid), np.nan) for _ in range(5))
    if len(starts):
        ends = np.r_[starts[1:], len(slot)] - 1
        bars = slot[starts]
        o[bars], c[bars] = px[starts], px[ends]
        h[bars], lo[bars] = np.maximum.reduceat(px, starts), np.minimum.reduceat(px, starts)
        v[bars] = np.add.reduceat(q, starts)
    close = pd.Series(c).ffill().to_numpy()  # an empty minute: the last price, no volume
    empty = np.isnan(o)
    o, h, lo, c = (np.where(empty, close, a) for a in (o, h, lo, c))
    df = pd.DataFrame({"ts": grid, "open": o, "high": h, "low": lo, "close": c, "volume": np.where(empty, 0.0, v)})
    df = df[~np.isnan(df["close"].to_numpy())].reset_index(drop=True)  # minutes before the first trade
    return resample_bars(df, "1m", timeframe)


def _empty_candles() -> pd.DataFrame:
    return pd.DataFrame({"ts": np.array([], "int64"), **{c: np.array([], "float64") for c in CANDLE_COLUMNS}})


def resample_bars(df: pd.DataFrame, source_tf: str, target_tf: str) -> pd.DataFrame:
    """Aggregate ``source_tf`` bars to ``target_tf`` bars (only those that closed) with the store's resampler."""
    if source_tf not in STORE_TIMEFRAME_MS or target_tf not in STORE_TIMEFRAME_MS:
        raise DataError(f"timeframe: {source_tf!r} -> {target_tf!r}: known timeframes are {list(STORE_TIMEFRAME_MS)}")
    base_ms, tf_ms = STORE_TIMEFRAME_MS[source_tf], STORE_TIMEFRAME_MS[target_tf]
    if tf_ms < base_ms or tf_ms % base_ms:
        raise DataError(f"timeframe: {source_tf} bars cannot build {target_tf} bars (not a whole multiple)")
    if len(df) == 0:
        return _empty_candles()
    end = int(df["ts"].iloc[-1]) + base_ms
    return resample_candles(df, base_ms, tf_ms, end)


def _trade_frames(
    ts_ms: np.ndarray, price: np.ndarray, qty: np.ndarray, is_buy: np.ndarray, contract: Contract, source: Path | str,
    span_ms: tuple[int, int] | None = None,
) -> Frames:
    """Trades (sizes as the file counts them) → ``candles_1m`` and per-minute ``taker`` in base units."""
    bad = ~(np.isfinite(price) & (price > 0) & np.isfinite(qty) & (qty > 0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise _fail(source, "price/amount", f"trade at row {row} has price {price[row]!r} and size {qty[row]!r}; both must be positive")
    base = contract.base(qty, price)
    frames: Frames = {"taker": taker_per_minute(ts_ms, base, is_buy, span_ms)}
    candles = candles_from_trades(ts_ms, price, base, span_ms)
    if len(candles):
        frames["candles_1m"] = candles
    return frames
