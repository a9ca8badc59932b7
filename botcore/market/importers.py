"""Importers: real-world market-data files → tables in the store's schema.

Each reader is a pure function of a file: it parses, validates once and
returns ``{kind: DataFrame}`` where every frame has an ``int64`` column ``ts``
(milliseconds since the epoch, UTC), is sorted by ``ts`` with unique
timestamps, and carries exactly the columns of its store kind:

- ``candles_1m`` / ``candles_5m`` / ``candles_1h``: ``open, high, low, close,
  volume``; ``ts`` is the bar open, ``volume`` is in BASE units;
- ``mark``: ``mark_price``; ``funding``: ``rate``;
- ``taker``: ``taker_buy_base, taker_sell_base``, sums over the minute that
  starts at ``ts`` (so, like a candle, known only at ``ts + 60 s``);
- ``book``: ``bid_px_1..10, bid_sz_1..10, ask_px_1..10, ask_sz_1..10`` at the
  instant ``ts``, sizes in BASE units (missing levels are NaN).

Bad input raises :class:`botcore.errors.DataError` whose message names the
file and the field. :func:`import_path` detects the format, resolves the
symbol and dispatches. Nothing here writes; the caller hands the frames to
:class:`botcore.market.store.Store`.
"""

from __future__ import annotations

import bisect
import enum
import gzip
import heapq
import json
import logging
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from botcore.errors import DataError
from botcore.market.store import BOOK_LEVELS, CANDLE_COLUMNS, CANDLE_KINDS, TS_MAX_MS, TS_MIN_MS, book_columns

log = logging.getLogger(__name__)

MINUTE_MS = 60_000
TAKER_COLUMNS = ("taker_buy_base", "taker_sell_base")
#: candle kind and bar length of each timeframe the store keeps natively ('1m', '5m', '1h')
CANDLE_KIND_BY_TIMEFRAME = {kind.removeprefix("candles_"): kind for kind in CANDLE_KINDS}
TIMEFRAME_MS = {kind.removeprefix("candles_"): bar_ms for kind, bar_ms in CANDLE_KINDS.items()}

Frames = dict[str, pd.DataFrame]


class Format(enum.StrEnum):
    """Input formats :func:`import_path` understands (the ``--format`` values)."""

    FREQTRADE_FEATHER = "freqtrade-feather"
    FREQTRADE_JSON = "freqtrade-json"
    CSV = "csv"
    PANDAS_JSON = "pandas-json"
    TRADES_CSV = "trades-csv"
    FUNDING_CSV = "funding-csv"
    BINANCE_FEED = "binance-feed"


class Imported(NamedTuple):
    """What one file yielded: the symbol it belongs to, its format and its tables."""

    symbol: str
    format: Format
    frames: Frames


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


# --------------------------------------------------------------------------- freqtrade

_FREQTRADE_NAME = re.compile(
    r"^(?P<pair>[A-Za-z0-9]+(?:_[A-Za-z0-9]+){1,2})-(?P<timeframe>\d+[mhdwM])(?:-(?P<candle_type>[A-Za-z_]+))?$"
)


class FreqtradeName(NamedTuple):
    """Parts of a freqtrade data file name, e.g. ``XRP_USDT_USDT-8h-funding_rate``."""

    symbol: str
    timeframe: str
    candle_type: str  # '' (spot), 'futures', 'mark', 'index', 'premiumIndex', 'funding_rate'


def parse_freqtrade_name(path: Path) -> FreqtradeName | None:
    """Return symbol, timeframe and candle type of a freqtrade file name, or None if it is not one."""
    match = _FREQTRADE_NAME.match(path.name.split(".")[0])
    if not match:
        return None
    parts = match["pair"].split("_")
    symbol = f"{parts[0]}/{parts[1]}" + (f":{parts[2]}" if len(parts) == 3 else "")
    return FreqtradeName(symbol, match["timeframe"], match["candle_type"] or "")


def freqtrade_frames(df: pd.DataFrame, path: Path) -> Frames:
    """Map one freqtrade OHLCV table (``date, open, high, low, close, volume``) to store tables.

    The file name decides the kind: ``-mark`` → ``mark`` (``mark_price`` is the
    bar's open, i.e. the mark at ``ts``), ``-funding_rate`` → ``funding`` (the rate
    is in ``open``; ``ts`` is the settlement time as the exchange reported it),
    anything else → candles of the file's timeframe.
    """
    _require_columns(df, ("date", "open"), path)
    ts_ms = _datetimes_to_ms(df["date"], path, "date")
    name = parse_freqtrade_name(path)
    candle_type = name.candle_type if name else ""
    if candle_type == "funding_rate":
        return funding_frame(ts_ms, _numeric(df["open"], path, "open"), path)
    if candle_type == "mark":
        mark = _finish(ts_ms, {"mark_price": _numeric(df["open"], path, "open")}, path)
        if (mark["mark_price"] <= 0).any():
            raise _fail(path, "open", "mark prices must be positive")
        return {"mark": mark}
    if candle_type not in ("", "spot", "futures"):
        raise _fail(path, "candle_type", f"freqtrade candle type {candle_type!r} has no store kind")
    _require_columns(df, CANDLE_COLUMNS, path)
    ohlcv = {c: _numeric(df[c], path, c) for c in CANDLE_COLUMNS}
    timeframe = name.timeframe if name else None
    return candles_frame(ts_ms, ohlcv, path, timeframe)


def read_freqtrade_feather(path: Path) -> Frames:
    """Read a freqtrade ``.feather`` file (candles, ``-mark`` or ``-funding_rate``)."""
    path = Path(path)
    try:
        df = pd.read_feather(path)
    except Exception as exc:  # pyarrow raises several kinds on a corrupt file
        raise _fail(path, "file", f"not a readable feather file ({exc})") from None
    return freqtrade_frames(df, path)


def read_freqtrade_json(path: Path) -> Frames:
    """Read a freqtrade ``.json`` file: a list of ``[ms, open, high, low, close, volume]`` rows."""
    path = Path(path)
    try:
        rows = json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _fail(path, "file", f"not valid JSON ({exc})") from None
    if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) == 6 for r in rows):
        raise _fail(path, "rows", "expected a list of [date_ms, open, high, low, close, volume] lists")
    df = pd.DataFrame(rows, columns=["date", *CANDLE_COLUMNS])
    return freqtrade_frames(df, path)


# --------------------------------------------------------------------------- other candle formats


def read_exchange_csv(path: Path, volume_unit: Literal["base", "quote"] = "quote") -> Frames:
    """Read exchange-export CSV candles ``timestamp, open, high, low, close, volume``.

    ``timestamp`` is an ISO datetime (naive means UTC) or epoch ms. Exports such
    as FTX's report ``volume`` in the QUOTE currency (USD); with
    ``volume_unit='quote'`` it is converted to base units as ``volume / close``,
    an approximation that prices the whole bar's volume at its close.
    """
    path = Path(path)
    df = _read_csv(path)
    _require_columns(df, ("timestamp", *CANDLE_COLUMNS), path)
    ts_ms = _datetimes_to_ms(df["timestamp"], path, "timestamp")
    ohlcv = {c: _numeric(df[c], path, c) for c in CANDLE_COLUMNS}
    if volume_unit == "quote":
        log.info("%s: 'volume' is quote volume; converted to base units as volume / close", path)
        ohlcv["volume"] = ohlcv["volume"] / ohlcv["close"]
    elif volume_unit != "base":
        raise _fail(path, "volume_unit", f"{volume_unit!r} is neither 'base' nor 'quote'")
    return candles_frame(ts_ms, ohlcv, path)


def read_pandas_json(path: Path) -> Frames:
    """Read column-oriented pandas JSON candles: ``{"date": {"0": ms, ...}, "open": {...}, ...}``."""
    path = Path(path)
    try:
        raw = json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _fail(path, "file", f"not valid JSON ({exc})") from None
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise _fail(path, "columns", "expected an object of columns, each an object keyed by row index")
    df = pd.DataFrame(raw)
    _require_columns(df, ("date", *CANDLE_COLUMNS), path)
    ts_ms = _datetimes_to_ms(df["date"], path, "date")
    return candles_frame(ts_ms, {c: _numeric(df[c], path, c) for c in CANDLE_COLUMNS}, path)


# --------------------------------------------------------------------------- funding CSV, trades CSV


def read_funding_csv(path: Path) -> Frames:
    """Read a headerless funding CSV of ``YYYYMMDD HH:MM:SS,rate`` lines (UTC)."""
    path = Path(path)
    df = _read_csv(path, header=None, names=["time", "rate"], dtype={"time": str})
    if df.empty:
        raise _fail(path, "rows", "file holds no funding rates")
    parsed = pd.to_datetime(df["time"], format="%Y%m%d %H:%M:%S", utc=True, errors="coerce")
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise _fail(path, "time", f"expected 'YYYYMMDD HH:MM:SS' at line {row + 1}, got {df['time'].iloc[row]!r}")
    ts_ms = _check_ts_range(parsed.dt.as_unit("ms").astype("int64").to_numpy(), path, "time")
    return funding_frame(ts_ms, _numeric(df["rate"], path, "rate"), path)


def read_trades_csv(path: Path, contract_size: float = 1.0) -> Frames:
    """Read public trades with aggressor side (``timestamp`` ms, ``side``, ``amount``) → per-minute ``taker``.

    ``side`` is the taker's side ('buy' or 'sell', as ccxt reports it);
    ``amount`` times ``contract_size`` is the size in base units. The first and
    last trade bound the capture: a minute it covers only in part is dropped.
    """
    path = Path(path)
    _check_contract_size(contract_size, path)
    df = _read_csv(path)
    _require_columns(df, ("timestamp", "side", "amount"), path)
    if df.empty:
        raise _fail(path, "rows", "file holds no trades")
    ts_ms = _datetimes_to_ms(df["timestamp"], path, "timestamp")
    amount = _numeric(df["amount"], path, "amount")
    if (amount <= 0).any():
        raise _fail(path, "amount", "trade sizes must be positive")
    side = df["side"].astype("string").str.lower()
    bad = ~side.isin(["buy", "sell"]).fillna(False).to_numpy(dtype=bool)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise _fail(path, "side", f"expected 'buy' or 'sell' at row {row}, got {df['side'].iloc[row]!r}")
    return {"taker": taker_per_minute(ts_ms, amount * contract_size, (side == "buy").to_numpy(dtype=bool))}


def _check_contract_size(contract_size: float, source: Path | str) -> None:
    if not (np.isfinite(contract_size) and contract_size > 0):
        raise _fail(source, "contract_size", f"must be a positive number, got {contract_size!r}")


# --------------------------------------------------------------------------- Binance USDT-M raw feed


def parse_levels(raw: object, source: Path | str, field: str) -> list[tuple[float, float]]:
    """Return ``[[price, qty], ...]`` (numbers or numeric strings) as floats: price > 0, qty >= 0, both finite."""
    if not isinstance(raw, list):
        raise _fail(source, field, f"expected a list of [price, quantity] levels, got {type(raw).__name__}")
    out = []
    for i, level in enumerate(raw):
        try:
            price, size = (float(x) for x in level) if isinstance(level, list) and len(level) == 2 else (np.nan, np.nan)
        except (TypeError, ValueError):
            price = size = np.nan
        if not (np.isfinite(price) and price > 0 and np.isfinite(size) and size >= 0):
            raise _fail(source, f"{field}[{i}]", f"expected [price > 0, quantity >= 0] as numbers, got {level!r}")
        out.append((price, size))
    return out


class OrderBook:
    """A price-level order book replayed from a REST snapshot and depth diffs (sizes as the feed gives them)."""

    def __init__(self, bids: Iterable[tuple[float, float]], asks: Iterable[tuple[float, float]]) -> None:
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.apply(bids, asks)

    def apply(self, bids: Iterable[tuple[float, float]], asks: Iterable[tuple[float, float]]) -> None:
        """Set each level's quantity (levels from :func:`parse_levels`); a zero quantity removes the level."""
        for levels, side in ((bids, self.bids), (asks, self.asks)):
            for price, size in levels:
                if size == 0.0:
                    side.pop(price, None)
                else:
                    side[price] = size

    def top(self, levels: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """Return the best ``levels`` bids (descending) and asks (ascending) as (price, size)."""
        bid_px = heapq.nlargest(levels, self.bids)
        ask_px = heapq.nsmallest(levels, self.asks)
        return [(p, self.bids[p]) for p in bid_px], [(p, self.asks[p]) for p in ask_px]


class _Tickers:
    """bookTicker messages kept as raw JSON and parsed on demand (they are most of a feed; few are read)."""

    _UPDATE_ID = re.compile(r'"u":\s*(\d+)')

    def __init__(self, path: Path) -> None:
        self.path = path
        self.raw: list[tuple[int, str]] = []  # (line number, payload), in file (= update id) order

    def __len__(self) -> int:
        return len(self.raw)

    def __getitem__(self, i: int) -> dict:
        line_no, payload = self.raw[i]
        try:
            data = json.loads(payload)["data"]
            data["_line"] = line_no
            return data
        except (json.JSONDecodeError, KeyError, TypeError):
            raise _fail(self.path, f"line {line_no}", "bookTicker message is not valid JSON with 'data'") from None

    def last_at_or_before(self, update_id: int) -> dict | None:
        """Return the last bookTicker whose update id ``u`` is at most ``update_id``."""
        def key(item: tuple[int, str]) -> int:
            found = self._UPDATE_ID.search(item[1])
            if found is None:
                raise _fail(self.path, f"line {item[0]}: u", "bookTicker without update id")
            return int(found[1])

        i = bisect.bisect_right(self.raw, update_id, key=key) - 1
        return self[i] if i >= 0 else None


class _Feed(NamedTuple):
    snapshot: dict
    diffs: list[dict]
    trades: list[dict]
    tickers: _Tickers
    span_ms: tuple[int, int]  # first and last exchange event time E of any message


def _read_binance_feed(path: Path) -> _Feed:
    """Split a ``<receive ns> <json>`` capture into snapshot, depth diffs, trades and bookTickers (file order)."""
    snapshot: dict | None = None
    diffs: list[dict] = []
    trades: list[dict] = []
    tickers = _Tickers(path)
    first_ms, last_ms = np.iinfo("int64").max, np.iinfo("int64").min
    opener: Callable = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt") as fh:
            for line_no, line in enumerate(fh, 1):
                line = line.strip()
                if not line:
                    continue
                _, _, payload = line.partition(" ")
                if '@bookTicker"' in payload[:64]:
                    tickers.raw.append((line_no, payload))
                    continue
                try:
                    msg = json.loads(payload)
                except (json.JSONDecodeError, RecursionError) as exc:
                    raise _fail(path, f"line {line_no}", f"not '<receive ns> <json>' ({exc})") from None
                if not isinstance(msg, dict):
                    raise _fail(path, f"line {line_no}", f"expected a JSON object, got {type(msg).__name__}")
                if "lastUpdateId" in msg and "stream" not in msg:
                    if snapshot is not None:
                        log.warning("%s: line %d: second depth snapshot ignored", path, line_no)
                    else:
                        snapshot = msg
                    continue
                stream, data = str(msg.get("stream", "")), msg.get("data")
                if not isinstance(data, dict):
                    raise _fail(path, f"line {line_no}", "message has no 'data' object")
                data["_line"] = line_no
                if isinstance(data.get("E"), int):
                    if not TS_MIN_MS <= data["E"] < TS_MAX_MS:
                        raise _fail(path, f"line {line_no}: E", f"event time {data['E']} is outside 2000-2100 as epoch milliseconds")
                    first_ms, last_ms = min(first_ms, data["E"]), max(last_ms, data["E"])
                if "@depth" in stream:
                    diffs.append(data)
                elif stream.endswith("@trade") or stream.endswith("@aggTrade"):
                    trades.append(data)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise _fail(path, "file", f"unreadable ({exc})") from None
    if snapshot is None:
        raise _fail(path, "lastUpdateId", "no REST depth snapshot line in the feed")
    for i in (0, -1) if len(tickers) else ():
        event_ms = tickers[i].get("E")
        if isinstance(event_ms, int):
            first_ms, last_ms = min(first_ms, event_ms), max(last_ms, event_ms)
    return _Feed(snapshot, diffs, trades, tickers, (int(first_ms), int(last_ms)))


def replay_book_minutes(
    snapshot: dict,
    diffs: list[dict],
    source: Path | str,
    levels: int = BOOK_LEVELS,
) -> tuple[list[int], list[tuple[list, list]], list[int]]:
    """Replay Binance USDT-M depth diffs over a REST snapshot; sample the book at each minute boundary.

    Binance's rules: drop diffs with ``u < lastUpdateId``; the first applied diff
    must straddle the snapshot (``U <= lastUpdateId + 1 <= u``); every later one
    must continue the previous (``pu`` equals the previous ``u``); a zero
    quantity removes a level. The sample at boundary ``t`` is the book after
    every diff with exchange event time ``E <= t``; boundaries run from the
    first synchronised event to the last diff.

    Returns
    -------
    (ts_ms, [(bids, asks)], last_update_id) per boundary, top ``levels`` each.
    """
    try:
        last_update_id = int(snapshot["lastUpdateId"])
        snapshot_ms = int(snapshot["E"]) if "E" in snapshot else None
    except (TypeError, ValueError, OverflowError):
        raise _fail(source, "snapshot: lastUpdateId/E", "depth snapshot ids and time must be integers") from None
    book = OrderBook(parse_levels(snapshot.get("bids", []), source, "snapshot: bids"), parse_levels(snapshot.get("asks", []), source, "snapshot: asks"))
    times: list[int] = []
    tops: list[tuple[list, list]] = []
    update_ids: list[int] = []
    prev_u: int | None = None
    next_boundary: int | None = None
    for diff in diffs:
        try:
            first_id, final_id, event_ms = int(diff["U"]), int(diff["u"]), int(diff["E"])
        except (KeyError, TypeError, ValueError, OverflowError):
            raise _fail(source, f"line {diff.get('_line')}: U/u/E", "depth diff lacks integer update ids or event time") from None
        if prev_u is None:
            if final_id < last_update_id:
                continue  # older than the snapshot
            if first_id > last_update_id + 1:
                raise _fail(
                    source,
                    f"line {diff.get('_line')}: U",
                    f"first diff after the snapshot starts at {first_id} > lastUpdateId+1 = {last_update_id + 1}: updates lost",
                )
            next_boundary = -(-max(event_ms, snapshot_ms or event_ms) // MINUTE_MS) * MINUTE_MS
        elif diff.get("pu") != prev_u:
            raise _fail(source, f"line {diff.get('_line')}: pu", f"{diff.get('pu')} != previous u {prev_u}: the diff stream has a gap")
        while next_boundary is not None and event_ms > next_boundary:
            times.append(next_boundary)
            tops.append(book.top(levels))
            update_ids.append(prev_u if prev_u is not None else last_update_id)
            next_boundary += MINUTE_MS
        line = f"line {diff.get('_line')}"
        book.apply(parse_levels(diff.get("b", []), source, f"{line}: b"), parse_levels(diff.get("a", []), source, f"{line}: a"))
        prev_u = final_id
        if next_boundary is not None and event_ms == next_boundary:
            times.append(next_boundary)
            tops.append(book.top(levels))
            update_ids.append(prev_u)
            next_boundary += MINUTE_MS
    if prev_u is None:
        raise _fail(source, "u", f"no depth diff reaches the snapshot's lastUpdateId {last_update_id}")
    return times, tops, update_ids


def book_frame(times: list[int], tops: list[tuple[list, list]], contract_size: float, levels: int = BOOK_LEVELS) -> pd.DataFrame:
    """Lay top-of-book samples out as a ``book`` table, sizes × ``contract_size`` (→ base units)."""
    n = len(times)
    bid_px, bid_sz, ask_px, ask_sz = (np.full((n, levels), np.nan) for _ in range(4))
    for row, (bids, asks) in enumerate(tops):
        for i, (px, sz) in enumerate(bids):
            bid_px[row, i], bid_sz[row, i] = px, sz * contract_size
        for i, (px, sz) in enumerate(asks):
            ask_px[row, i], ask_sz[row, i] = px, sz * contract_size
    data = {"ts": np.asarray(times, dtype="int64")}
    for name, block in (("bid_px", bid_px), ("bid_sz", bid_sz), ("ask_px", ask_px), ("ask_sz", ask_sz)):
        data.update({f"{name}_{i + 1}": block[:, i] for i in range(levels)})
    return pd.DataFrame(data, columns=["ts", *book_columns(levels)])


def _check_books(book: pd.DataFrame, update_ids: list[int], tickers: _Tickers, source: Path | str) -> None:
    """Raise if a sampled book is crossed or its best bid/ask differs from the bookTicker of the same update id."""
    crossed = book["bid_px_1"] >= book["ask_px_1"]
    if crossed.any():
        raise _fail(source, "book", f"replayed book crossed at ts {int(book['ts'][crossed].iloc[0])}")
    for row, update_id in enumerate(update_ids):
        ticker = tickers.last_at_or_before(update_id)
        if ticker is None:
            continue
        try:
            best = (float(ticker["b"]), float(ticker["a"]))
        except (KeyError, TypeError, ValueError):
            raise _fail(source, f"line {ticker.get('_line')}: bookTicker", "best bid 'b' and ask 'a' must be numbers") from None
        replayed = (float(book["bid_px_1"].iloc[row]), float(book["ask_px_1"].iloc[row]))
        if best != replayed:
            raise _fail(
                source,
                f"line {ticker.get('_line')}: bookTicker",
                f"best bid/ask {best} != replayed {replayed} at update id {update_id}",
            )


def _trade_columns(trades: list[dict], source: Path | str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Trade time ``T`` (ms), size ``q`` (> 0) and taker-bought flag (``not m``) of each trade message."""
    trade_ms = np.empty(len(trades), "int64")
    qty = np.empty(len(trades), "float64")
    for i, trade in enumerate(trades):
        try:
            trade_ms[i], qty[i] = int(trade["T"]), float(trade["q"])
            maker_flag = trade["m"]
        except (KeyError, TypeError, ValueError, OverflowError):
            raise _fail(source, f"line {trade.get('_line')}: T/q/m", "trade needs integer time T, size q and buyer-is-maker flag m") from None
        if not (TS_MIN_MS <= trade_ms[i] < TS_MAX_MS and np.isfinite(qty[i]) and qty[i] > 0 and isinstance(maker_flag, bool)):
            raise _fail(source, f"line {trade.get('_line')}: T/q/m", f"time {trade['T']!r}, size {trade['q']!r} or flag {maker_flag!r} out of range")
    return trade_ms, qty, np.array([not t["m"] for t in trades], dtype=bool)


def read_binance_feed(path: Path, contract_size: float = 1.0, levels: int = BOOK_LEVELS) -> Frames:
    """Read a raw Binance USDT-M capture → ``book`` snapshots each minute and per-minute ``taker`` volume.

    Lines are ``<local receive ns> <json>``: one REST depth snapshot (has
    ``lastUpdateId``, no ``stream``), then combined-stream messages: depth diffs,
    trades and bookTicker. Diffs are replayed by :func:`replay_book_minutes`;
    every sampled book is checked against the bookTicker with the same update
    id (best bid and ask must agree, books must not be crossed). Trades are
    bucketed by trade time ``T``; the ``m`` flag (buyer is maker) marks a
    seller-initiated trade; only minutes the capture covers entirely (by
    event time ``E``) are kept. Sizes are multiplied by ``contract_size``.
    """
    path = Path(path)
    _check_contract_size(contract_size, path)
    feed = _read_binance_feed(path)
    times, tops, update_ids = replay_book_minutes(feed.snapshot, feed.diffs, path, levels)
    book = book_frame(times, tops, contract_size, levels)
    _check_books(book, update_ids, feed.tickers, path)
    frames: Frames = {"book": book}
    if feed.trades:
        trade_ms, qty, is_buy = _trade_columns(feed.trades, path)
        frames["taker"] = taker_per_minute(trade_ms, qty * contract_size, is_buy, feed.span_ms)
    log.info("%s: %d depth diffs → %d book snapshots; %d trades", path, len(feed.diffs), len(book), len(feed.trades))
    return frames


# --------------------------------------------------------------------------- dispatch


def detect_format(path: Path) -> Format:
    """Guess a file's format from its extension and first bytes."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".feather":
        return Format.FREQTRADE_FEATHER
    if suffix == ".gz":
        return Format.BINANCE_FEED
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096).decode("utf-8", errors="replace")
    except OSError as exc:
        raise _fail(path, "file", f"unreadable ({exc})") from None
    if suffix == ".json":
        first = head.lstrip()[:1]
        if first == "[":
            return Format.FREQTRADE_JSON
        if first == "{":
            return Format.PANDAS_JSON
    first_line = head.splitlines()[0] if head else ""
    if re.match(r"^\d{8} \d{2}:\d{2}:\d{2},", first_line):
        return Format.FUNDING_CSV
    if re.match(r"^\d{19} \{", first_line):
        return Format.BINANCE_FEED
    header = {h.strip().lower() for h in first_line.split(",")}
    if {"side", "amount"} <= header:
        return Format.TRADES_CSV
    if {"open", "high", "low", "close"} <= header:
        return Format.CSV
    raise _fail(path, "format", f"cannot detect the format; pass one of {[f.value for f in Format]}")


_SYMBOL = re.compile(r"^[A-Z0-9]+/[A-Z0-9]+(?::[A-Z0-9]+)?$")


def resolve_symbol(path: Path, symbol: str | None) -> str:
    """Return ``symbol`` (checked to be ccxt unified) or the one a freqtrade file name implies."""
    if symbol is None:
        name = parse_freqtrade_name(Path(path))
        if name is None:
            raise _fail(path, "symbol", "cannot infer the symbol from the file name; pass it (e.g. BTC/USDT:USDT)")
        symbol = name.symbol
    if not _SYMBOL.match(symbol):
        raise _fail(path, "symbol", f"{symbol!r} is not a ccxt unified symbol like BTC/USDT:USDT or ETH/BTC")
    return symbol


def import_path(
    path: Path | str,
    format: Format | str | None = None,
    symbol: str | None = None,
    *,
    contract_size: float = 1.0,
    volume_unit: Literal["base", "quote"] = "quote",
) -> Imported:
    """Parse one file into store tables, detecting the format when not given.

    Parameters
    ----------
    path : the file.
    format : a :class:`Format` value; detected from extension and content when None.
    symbol : ccxt unified symbol; inferred from freqtrade file names when None.
    contract_size : base units per contract, applied to book and trade sizes
        (1.0 for sources that already quote base units).
    volume_unit : unit of ``volume`` in exchange CSV candles ('quote' converts by close).
    """
    path = Path(path)
    if not path.is_file():
        raise _fail(path, "path", "no such file")
    if format is None:
        fmt = detect_format(path)
    elif format in Format.__members__.values():
        fmt = Format(format)
    else:
        raise _fail(path, "format", f"unknown format {format!r}; use one of {[f.value for f in Format]}")
    symbol = resolve_symbol(path, symbol)
    readers: dict[Format, Callable[[], Frames]] = {
        Format.FREQTRADE_FEATHER: lambda: read_freqtrade_feather(path),
        Format.FREQTRADE_JSON: lambda: read_freqtrade_json(path),
        Format.CSV: lambda: read_exchange_csv(path, volume_unit),
        Format.PANDAS_JSON: lambda: read_pandas_json(path),
        Format.TRADES_CSV: lambda: read_trades_csv(path, contract_size),
        Format.FUNDING_CSV: lambda: read_funding_csv(path),
        Format.BINANCE_FEED: lambda: read_binance_feed(path, contract_size),
    }
    frames = readers[fmt]()
    log.info("%s (%s, %s): %s", path, fmt.value, symbol, {k: len(v) for k, v in frames.items()})
    return Imported(symbol, fmt, frames)
