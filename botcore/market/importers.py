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
:class:`botcore.market.store.Store`. The shared validation, contracts and CSV
options are in :mod:`botcore.market.frames`, the order-book replay and the
Binance raw feed in :mod:`botcore.market.book_feed`.
"""

from __future__ import annotations

import enum
import gzip
import json
import logging
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from botcore.clock import MINUTE_MS
from botcore.errors import DataError
from botcore.market.book_feed import (
    OrderBook,
    _book_in_base,
    parse_levels,
    read_binance_feed,
    replay_book_minutes,
)
from botcore.market.frames import (
    _COIN_M_NAME,
    CANDLE_KIND_BY_TIMEFRAME,
    Contract,
    CsvOptions,
    Frames,
    _check_contract_size,
    _check_order,
    _check_ts_range,
    _check_venue_margin,
    _datetimes_to_ms,
    _fail,
    _finish,
    _numeric,
    _read_csv,
    _require_columns,
    _trade_frames,
    candles_frame,
    contract_for,
    funding_frame,
    resample_bars,
    taker_per_minute,
    times_to_ms,
)
from botcore.market.store import (
    BOOK_LEVELS,
    CANDLE_COLUMNS,
    CANDLE_KINDS,
    TS_MAX_MS,
    TS_MIN_MS,
)

log = logging.getLogger(__name__)



class Format(enum.StrEnum):
    """Input formats :func:`import_path` understands (the ``--format`` values)."""

    FREQTRADE_FEATHER = "freqtrade-feather"
    FREQTRADE_JSON = "freqtrade-json"
    CSV = "csv"
    PANDAS_JSON = "pandas-json"
    TRADES_CSV = "trades-csv"
    FUNDING_CSV = "funding-csv"
    BINANCE_FEED = "binance-feed"
    CRYPTODATADOWNLOAD = "cryptodatadownload"
    BINANCE_KLINES = "binance-klines"
    BINANCE_AGGTRADES = "binance-aggtrades"
    BINANCE_FUNDING = "binance-funding"
    BINANCE_METRICS = "binance-metrics"
    BINANCE_DEPTH = "binance-depth"
    TARDIS_TRADES = "tardis-trades"
    TARDIS_BOOK = "tardis-book-snapshot"
    TARDIS_TICKER = "tardis-derivative-ticker"


class Imported(NamedTuple):
    """What one file yielded: the symbol it belongs to, its format and its tables."""

    symbol: str
    format: Format
    frames: Frames


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


def read_trades_csv(path: Path, contract_size: float = 1.0, contract: Contract | None = None) -> Frames:
    """Read public trades with aggressor side (``timestamp`` ms, ``side``, ``amount``) → per-minute ``taker`` and ``candles_1m``.

    ``side`` is the taker's side ('buy' or 'sell', as ccxt reports it);
    ``amount`` times ``contract_size`` is the size in base units (``contract``,
    when given, converts instead: inverse contracts at each trade's price).
    The first and last trade bound the capture: a minute it covers only in
    part is dropped. Candles need a ``price`` column.
    """
    path = Path(path)
    _check_contract_size(contract_size, path)
    contract = contract or Contract("?", False, float(contract_size), "")
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
    is_buy = (side == "buy").to_numpy(dtype=bool)
    if "price" not in df.columns:
        if contract.inverse:
            raise _fail(path, "price", "inverse contract sizes convert to base units at the trade price; the file has no price column")
        return {"taker": taker_per_minute(ts_ms, contract.base(amount, 1.0), is_buy)}
    return _trade_frames(ts_ms, _numeric(df["price"], path, "price"), amount, is_buy, contract, path)


# --------------------------------------------------------------------------- vendor files

#: CryptoDataDownload puts its address on the first line, above the header
CDD_BANNER = re.compile(r"(?i)^\W*(?:https?://)?(?:www\.)?cryptodatadownload\.com")
BINANCE_KLINE_COLUMNS = (
    "open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume", "count",
    "taker_buy_volume", "taker_buy_quote_volume", "ignore",
)
BINANCE_AGGTRADE_COLUMNS = ("agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id", "transact_time", "is_buyer_maker")
BINANCE_FUNDING_COLUMNS = ("calc_time", "funding_interval_hours", "last_funding_rate")
BINANCE_METRICS_COLUMNS = (
    "create_time", "symbol", "sum_open_interest", "sum_open_interest_value", "count_toptrader_long_short_ratio",
    "sum_toptrader_long_short_ratio", "count_long_short_ratio", "sum_taker_long_short_vol_ratio",
)
BINANCE_DEPTH_COLUMNS = ("symbol", "timestamp", "first_update_id", "last_update_id", "side", "update_type", "price", "qty", "pu")
TARDIS_PREFIX = ("exchange", "symbol", "timestamp", "local_timestamp")
TARDIS_TRADES_COLUMNS = (*TARDIS_PREFIX, "id", "side", "price", "amount")
TARDIS_TICKER_COLUMNS = (
    *TARDIS_PREFIX, "funding_timestamp", "funding_rate", "predicted_funding_rate", "open_interest", "last_price", "index_price", "mark_price",
)
#: Binance Vision file names: BTCUSDT-1m-2024-01-01.csv, BTCUSDT-aggTrades-2024-01.csv, BTCUSDT-metrics-2024-01-01.csv
_VISION_NAME = re.compile(r"^(?P<market>[A-Z0-9]+(?:_[A-Z0-9]+)?)-(?P<what>\d+[smhdwM]|aggTrades|fundingRate|metrics)-\d{4}-\d{2}(?:-\d{2})?\.csv")
_DEPTH_NAME = re.compile(r"^(?P<market>[A-Z0-9_]+?)_T_DEPTH_\d{4}-\d{2}-\d{2}_depth_(?P<what>snap|update)\.csv")
_TARDIS_NAME = re.compile(r"^(?P<exchange>[a-z0-9-]+)_(?P<what>trades|book_snapshot_\d+|derivative_ticker)_\d{4}-\d{2}-\d{2}_(?P<market>[A-Z0-9_.-]+)\.csv")
#: Tardis exchange ids whose instruments are coin-margined
_TARDIS_COIN_M = ("binance-delivery", "bitmex", "deribit")


def _open_text(path: Path) -> Callable:
    return gzip.open if path.name.endswith(".gz") else open


def _base_name(path: Path) -> str:
    return path.name.removesuffix(".gz")


def _bools(values: pd.Series, source: Path | str, field: str) -> np.ndarray:
    text = values.astype("string").str.strip().str.lower()
    ok = text.isin(["true", "false", "1", "0"]).fillna(False).to_numpy(dtype=bool)
    if not ok.all():
        row = int(np.flatnonzero(~ok)[0])
        raise _fail(source, field, f"expected true/false at row {row}, got {values.iloc[row]!r}")
    return text.isin(["true", "1"]).to_numpy(dtype=bool)


def read_cryptodatadownload(path: Path, symbol: str) -> Frames:
    """Read a CryptoDataDownload candle CSV: banner line, ``Unix, Date, Symbol, Open, High, Low, Close, Volume <BASE>, ...``, newest first.

    The bar open is ``Unix`` (seconds, ms or µs, told apart by magnitude) or,
    in files without it, ``Date`` (UTC). Volume is the ``Volume <BASE>``
    column, in base units; a file whose ``Symbol`` is another market is refused.
    """
    path = Path(path)
    df = _read_csv(path, skiprows=1)
    df.columns = [str(c).strip() for c in df.columns]
    lower = {c.lower(): c for c in df.columns}
    _require_columns(df.rename(columns=str.lower), ("date", "symbol", "open", "high", "low", "close"), path)
    base, quote = symbol.split("/")[0], symbol.split("/")[1].split(":")[0]
    listed = df[lower["symbol"]].astype("string").str.replace(r"[/_-]", "", regex=True).str.upper()
    if len(df) and not (listed == base + quote).all():
        row = int(np.flatnonzero((listed != base + quote).fillna(True).to_numpy(dtype=bool))[0])
        raise _fail(path, "Symbol", f"row {row} is {df[lower['symbol']].iloc[row]!r}, not {base}{quote} ({symbol})")
    volume = lower.get(f"volume {base.lower()}")
    if volume is None:
        raise _fail(path, f"Volume {base}", f"no base-volume column (have {list(df.columns)})")
    unix = next((lower[k] for k in ("unix", "unix timestamp", "timestamp") if k in lower), None)
    ts_ms = times_to_ms(df[unix], path, unix, "auto") if unix else times_to_ms(df[lower["date"]], path, "Date")
    ohlcv = {c: _numeric(df[lower[c]], path, lower[c]) for c in ("open", "high", "low", "close")}
    ohlcv["volume"] = _numeric(df[volume], path, volume)
    return candles_frame(ts_ms, ohlcv, path)


def read_csv_with_options(path: Path, options: CsvOptions, volume_unit: Literal["base", "quote"] = "base") -> Frames:
    """Read candles from any CSV layout described by :class:`CsvOptions` (volume converted from quote when told)."""
    path = Path(path)
    if options.skip_lines < 0:
        raise _fail(path, "skip_lines", "must not be negative")
    df = _read_csv(path, skiprows=options.skip_lines)
    df.columns = [str(c).strip() for c in df.columns]
    mapping = dict(options.columns)
    unknown = [column for column in mapping.values() if column not in df.columns]
    if unknown:
        raise _fail(path, f"column {unknown[0]!r}", f"not in the file's header {list(df.columns)}")
    df = df.rename(columns={column: field for field, column in mapping.items()})
    twice = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if twice:
        raise _fail(path, f"column {twice[0]!r}", f"appears twice after renaming {mapping}; map each field to one column")
    _require_columns(df, (options.time_column, *CANDLE_COLUMNS), path)
    ts_ms = times_to_ms(df[options.time_column], path, options.time_column, options.time_unit, options.time_format, options.time_zone)
    _check_order(ts_ms, options.order, path, options.time_column)
    ohlcv = {c: _numeric(df[c], path, c) for c in CANDLE_COLUMNS}
    if volume_unit == "quote":
        ohlcv["volume"] = ohlcv["volume"] / ohlcv["close"]
    elif volume_unit != "base":
        raise _fail(path, "volume_unit", f"{volume_unit!r} is neither 'base' nor 'quote'")
    return candles_frame(ts_ms, ohlcv, path)


def _headed(path: Path, columns: tuple[str, ...], width: int | None = None) -> pd.DataFrame:
    """Read a Binance Vision CSV with its header, or name the columns of a headerless (older) file."""
    with _open_text(path)(path, "rt", errors="replace") as fh:
        first = fh.readline()
    if first.split(",")[0].strip() in columns:
        df = _read_csv(path)
    else:
        df = _read_csv(path, header=None)
        if df.shape[1] not in (len(columns), width or len(columns)):
            raise _fail(path, "columns", f"{df.shape[1]} columns without a header; expected {list(columns)}")
        df.columns = list(columns) + [f"extra_{i}" for i in range(df.shape[1] - len(columns))]
    df.columns = [str(c).strip() for c in df.columns]
    _require_columns(df, columns, path)
    return df


def _vision_market(path: Path) -> tuple[str, str] | None:
    found = _VISION_NAME.match(_base_name(path))
    return (found["market"], found["what"]) if found else None


def read_binance_klines(path: Path, contract: Contract) -> Frames:
    """Read Binance Vision klines → candles of the file's bar size and, for 1m bars, per-minute ``taker`` volume.

    Times are ms (µs in spot files from 2025, told apart by magnitude).
    USDT-M and spot ``volume`` and ``taker_buy_volume`` are base units;
    COIN-M files count contracts there and give base volume in columns 8 and
    11 (``quote_volume`` / ``taker_buy_quote_volume``), which are used instead.
    """
    path = Path(path)
    market = _vision_market(path)
    timeframe = market[1] if market else None
    coin_m = bool(market and _COIN_M_NAME.search(market[0] + "-"))
    _check_venue_margin(contract, coin_m, f"{path.name}", path)
    df = _headed(path, BINANCE_KLINE_COLUMNS)
    ts_ms = times_to_ms(df["open_time"], path, "open_time", "auto")
    volume_col, buy_col = ("quote_volume", "taker_buy_quote_volume") if coin_m else ("volume", "taker_buy_volume")
    ohlcv = {c: _numeric(df[c], path, c) for c in ("open", "high", "low", "close")}
    ohlcv["volume"] = _numeric(df[volume_col], path, volume_col)
    if not coin_m:
        ohlcv["volume"] = contract.base(ohlcv["volume"], ohlcv["close"])
    frames = candles_frame(ts_ms, ohlcv, path, timeframe if timeframe in CANDLE_KIND_BY_TIMEFRAME else None)
    if "candles_1m" in frames:
        bars = frames["candles_1m"]
        order = np.argsort(ts_ms, kind="stable")
        buy = _numeric(df[buy_col], path, buy_col)[order]
        buy = buy if coin_m else contract.base(buy, bars["close"].to_numpy())
        sell = bars["volume"].to_numpy() - buy
        if (buy < 0).any() or (sell < -1e-9 * bars["volume"].to_numpy()).any():
            row = int(np.flatnonzero((buy < 0) | (sell < -1e-9 * bars["volume"].to_numpy()))[0])
            raise _fail(path, buy_col, f"taker buy volume outside [0, volume] at ts {int(bars['ts'].iloc[row])}")
        frames["taker"] = pd.DataFrame({"ts": bars["ts"].to_numpy(), "taker_buy_base": buy, "taker_sell_base": np.maximum(sell, 0.0)})
    return frames


def read_binance_aggtrades(path: Path, contract: Contract) -> Frames:
    """Read Binance Vision aggTrades → ``candles_1m`` and per-minute ``taker`` (``is_buyer_maker`` true: a taker sell)."""
    path = Path(path)
    market = _vision_market(path)
    _check_venue_margin(contract, bool(market and _COIN_M_NAME.search(market[0] + "-")), path.name, path)
    df = _headed(path, BINANCE_AGGTRADE_COLUMNS, width=len(BINANCE_AGGTRADE_COLUMNS) + 1)  # spot adds is_best_match
    ts_ms = times_to_ms(df["transact_time"], path, "transact_time", "auto")
    price, qty = _numeric(df["price"], path, "price"), _numeric(df["quantity"], path, "quantity")
    is_buy = ~_bools(df["is_buyer_maker"], path, "is_buyer_maker")
    return _trade_frames(ts_ms, price, qty, is_buy, contract, path)


def read_binance_funding(path: Path) -> Frames:
    """Read a Binance Vision fundingRate file: ``calc_time`` (ms, the settlement), ``last_funding_rate`` (a fraction)."""
    path = Path(path)
    df = _headed(path, BINANCE_FUNDING_COLUMNS)
    ts_ms = times_to_ms(df["calc_time"], path, "calc_time", "auto")
    return funding_frame(ts_ms, _numeric(df["last_funding_rate"], path, "last_funding_rate"), path)


def read_binance_metrics(path: Path, contract: Contract) -> Frames:
    """Read a Binance Vision futures ``metrics`` file → ``open_interest`` (``oi_usd`` = ``sum_open_interest_value``), every 5 minutes.

    On COIN-M, ``sum_open_interest`` counts contracts and is priced by the
    contract value instead (the ``_value`` column there is in coins).

    The ratios in the file (top-trader and all-account long/short, taker
    buy/sell volume ratio) have no store kind: taker volumes come from klines
    or trades, which give the sizes a ratio lacks.
    """
    path = Path(path)
    df = _headed(path, BINANCE_METRICS_COLUMNS)
    _check_venue_margin(contract, bool(_COIN_M_NAME.search(str(df["symbol"].iloc[0]) + "-")) if len(df) else False, "the file's symbol", path)
    ts_ms = times_to_ms(df["create_time"], path, "create_time", "auto")
    column = "sum_open_interest" if contract.inverse else "sum_open_interest_value"  # COIN-M: contracts (value in coins)
    oi = _numeric(df[column], path, column) * (contract.size if contract.inverse else 1.0)
    if (oi < 0).any():
        raise _fail(path, column, "open interest must not be negative")
    log.info("%s: open interest stored in USD; the long/short and taker ratios have no store kind and are not stored", path)
    return {"open_interest": _finish(ts_ms, {"oi_usd": oi}, path)}


def _depth_rows(path: Path) -> pd.DataFrame:
    df = _headed(path, BINANCE_DEPTH_COLUMNS)
    if len(df) == 0:
        raise _fail(path, "rows", "file holds no depth rows")
    for col in ("first_update_id", "last_update_id", "pu"):
        values = pd.to_numeric(df[col], errors="coerce")
        if values.isna().any() or (values % 1 != 0).any():
            row = int(np.flatnonzero((values.isna() | (values % 1 != 0)).to_numpy())[0])
            raise _fail(path, col, f"update id at row {row} is {df[col].iloc[row]!r}, not an integer")
    df["ts_ms"] = times_to_ms(df["timestamp"], path, "timestamp", "auto")
    side = df["side"].astype("string").str.strip().str.lower()
    if not side.isin(["a", "b"]).fillna(False).all():
        row = int(np.flatnonzero(~side.isin(["a", "b"]).fillna(False).to_numpy(dtype=bool))[0])
        raise _fail(path, "side", f"expected 'a' or 'b' at row {row}, got {df['side'].iloc[row]!r}")
    df["side"] = side
    df["update_type"] = df["update_type"].astype("string").str.strip().str.lower()
    return df


def _depth_messages(df: pd.DataFrame) -> list[dict]:
    """Group depth CSV rows of one update (same ids and time) into depth-diff messages."""
    out = []
    keys = ["last_update_id", "first_update_id", "pu", "ts_ms"]
    for (last_id, first_id, pu, ts_ms), rows in df.groupby(keys, sort=False):
        levels = {s: rows.loc[rows["side"] == s, ["price", "qty"]].astype("string").to_numpy().tolist() for s in ("b", "a")}
        out.append({"U": int(first_id), "u": int(last_id), "pu": int(pu), "E": int(ts_ms), "b": levels["b"], "a": levels["a"],
                    "_line": int(rows.index[0]) + 2})
    return out


def read_binance_depth(path: Path, contract: Contract, levels: int = BOOK_LEVELS) -> Frames:
    """Read Binance historical depth CSVs (``symbol, timestamp, first_update_id, last_update_id, side, update_type, price, qty, pu``).

    A ``*_depth_snap.csv`` gives one ``book`` row per snapshot (its time).
    A ``*_depth_update.csv`` is replayed over the ``*_depth_snap.csv`` beside
    it, by Binance's rules (:func:`replay_book_minutes`), into a book each
    minute. Sizes are converted to base units by the contract.
    """
    path = Path(path)
    found = _DEPTH_NAME.match(_base_name(path))
    coin_m = bool(found and _COIN_M_NAME.search(found["market"] + "-"))
    _check_venue_margin(contract, coin_m, path.name, path)
    df = _depth_rows(path)
    if found and found["what"] == "update":
        snap_path = path.with_name(path.name.replace("_depth_update", "_depth_snap"))
        if not snap_path.is_file():
            raise _fail(path, "snapshot", f"depth updates replay over a snapshot; {snap_path.name} is not beside the file")
        snaps = _depth_rows(snap_path)
        first_id = int(snaps["last_update_id"].iloc[0])
        first = snaps[snaps["last_update_id"] == first_id]
        snapshot = {
            "lastUpdateId": first_id, "E": int(first["ts_ms"].iloc[0]),
            "bids": first.loc[first["side"] == "b", ["price", "qty"]].astype("string").to_numpy().tolist(),
            "asks": first.loc[first["side"] == "a", ["price", "qty"]].astype("string").to_numpy().tolist(),
        }
        times, tops, _ = replay_book_minutes(snapshot, _depth_messages(df), path, levels)
    else:
        updates = df["update_type"] != "snap"
        if updates.any():
            row = int(np.flatnonzero(updates.to_numpy(dtype=bool))[0])
            raise _fail(
                path, "update_type",
                f"row {row + 1} is {df['update_type'].iloc[row]!r}: depth updates replay over a snapshot; keep Binance's names "
                f"(<SYMBOL>_T_DEPTH_<date>_depth_update.csv beside <SYMBOL>_T_DEPTH_<date>_depth_snap.csv)",
            )
        times, tops = [], []
        for ts_ms, rows in df.groupby("ts_ms", sort=True):
            bids = parse_levels(rows.loc[rows["side"] == "b", ["price", "qty"]].astype("string").to_numpy().tolist(), path, f"line {rows.index[0] + 2}: bids")
            asks = parse_levels(rows.loc[rows["side"] == "a", ["price", "qty"]].astype("string").to_numpy().tolist(), path, f"line {rows.index[0] + 2}: asks")
            book = OrderBook(bids, asks)
            times.append(int(ts_ms))
            tops.append(book.top(levels))
    book = _book_in_base(times, tops, contract, levels)
    crossed = book["bid_px_1"] >= book["ask_px_1"]
    if crossed.any():
        raise _fail(path, "book", f"book crossed at ts {int(book['ts'][crossed].iloc[0])}")
    return {"book": book}


def _tardis_table(path: Path, columns: tuple[str, ...], contract: Contract) -> pd.DataFrame:
    df = _read_csv(path)
    df.columns = [str(c).strip() for c in df.columns]
    _require_columns(df, columns, path)
    if len(df) == 0:
        raise _fail(path, "rows", "file holds no rows")
    exchanges = df["exchange"].astype("string").unique().tolist()
    markets = df["symbol"].astype("string").unique().tolist()
    if len(markets) != 1:
        raise _fail(path, "symbol", f"file holds several instruments {markets[:5]}; import one at a time")
    coin_m = any(str(e) in _TARDIS_COIN_M for e in exchanges) or bool(_COIN_M_NAME.search(str(markets[0]) + "-"))
    _check_venue_margin(contract, coin_m, f"{exchanges[0]} {markets[0]}", path)
    df["ts_ms"] = times_to_ms(df["timestamp"], path, "timestamp", "us")
    return df


def read_tardis_trades(path: Path, contract: Contract) -> Frames:
    """Read a Tardis ``trades`` CSV (µs times, ``side`` of the taker, ``amount`` as the exchange counts it) → candles_1m, taker."""
    path = Path(path)
    df = _tardis_table(path, TARDIS_TRADES_COLUMNS, contract)
    side = df["side"].astype("string").str.lower()
    if not side.isin(["buy", "sell"]).fillna(False).all():
        row = int(np.flatnonzero(~side.isin(["buy", "sell"]).fillna(False).to_numpy(dtype=bool))[0])
        raise _fail(path, "side", f"expected 'buy' or 'sell' at row {row}, got {df['side'].iloc[row]!r} (unknown aggressor cannot be split)")
    price, qty = _numeric(df["price"], path, "price"), _numeric(df["amount"], path, "amount")
    return _trade_frames(df["ts_ms"].to_numpy(), price, qty, (side == "buy").to_numpy(dtype=bool), contract, path)


def _minute_samples(ts_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minute boundaries from the first to the last row and, for each, the last row at or before it."""
    grid = np.arange(-(-int(ts_ms[0]) // MINUTE_MS) * MINUTE_MS, int(ts_ms[-1]) + 1, MINUTE_MS, dtype="int64")
    return grid, np.searchsorted(ts_ms, grid, side="right") - 1


def read_tardis_book_snapshot(path: Path, contract: Contract, levels: int = BOOK_LEVELS) -> Frames:
    """Read a Tardis ``book_snapshot_5`` / ``book_snapshot_25`` CSV → the book at each minute boundary it covers.

    Columns ``asks[i].price, asks[i].amount, bids[i].price, bids[i].amount``;
    each minute takes the last snapshot at or before it; levels past the
    file's depth are NaN.
    """
    path = Path(path)
    df = _tardis_table(path, (*TARDIS_PREFIX, "asks[0].price", "asks[0].amount", "bids[0].price", "bids[0].amount"), contract)
    depth = 0
    while all(f"{side}[{depth}].{what}" in df.columns for side in ("asks", "bids") for what in ("price", "amount")):
        depth += 1
    df = df.iloc[np.argsort(df["ts_ms"].to_numpy(), kind="stable")].reset_index(drop=True)
    grid, rows = _minute_samples(df["ts_ms"].to_numpy())
    keep = rows >= 0
    grid, rows = grid[keep], rows[keep]
    tops = []
    for row in rows:
        sides = []
        for side in ("bids", "asks"):
            raw = [[df[f"{side}[{i}].price"].iloc[row], df[f"{side}[{i}].amount"].iloc[row]] for i in range(min(depth, levels))]
            raw = [level for level in raw if not (pd.isna(level[0]) and pd.isna(level[1]))]  # a shallow book: empty levels
            sides.append(parse_levels(raw, path, f"row {row + 1}: {side}"))
        tops.append((sides[0], sides[1]))
    book = _book_in_base(grid.tolist(), tops, contract, levels)
    crossed = book["bid_px_1"] >= book["ask_px_1"]
    if crossed.any():
        raise _fail(path, "book", f"book crossed at ts {int(book['ts'][crossed].iloc[0])}")
    return {"book": book}


def read_tardis_derivative_ticker(path: Path, contract: Contract) -> Frames:
    """Read a Tardis ``derivative_ticker`` CSV → ``mark`` and ``open_interest`` each minute, ``funding`` per settlement.

    Columns are updated when the exchange sends them and are empty otherwise,
    so each is carried forward to the minute boundary from its last value.
    ``funding`` holds, for every ``funding_timestamp`` the file passes, the
    last ``funding_rate`` announced before it. ``open_interest`` is as the
    exchange counts it (base units on USDT-M, contracts on COIN-M) and is
    stored in USD at the mark price.
    """
    path = Path(path)
    df = _tardis_table(path, TARDIS_TICKER_COLUMNS, contract)
    df = df.iloc[np.argsort(df["ts_ms"].to_numpy(), kind="stable")].reset_index(drop=True)
    ts = df["ts_ms"].to_numpy()
    values = {}
    for col in ("funding_rate", "open_interest", "mark_price"):
        raw = pd.to_numeric(df[col], errors="coerce")
        junk = raw.isna() & df[col].notna()
        if junk.any():
            raise _fail(path, col, f"row {int(np.flatnonzero(junk.to_numpy())[0]) + 1} is {df[col][junk].iloc[0]!r}, not a number")
        given = raw.dropna().to_numpy()
        if not np.isfinite(given).all() or (col != "funding_rate" and (given < 0).any()):
            raise _fail(path, col, "values must be finite" + ("" if col == "funding_rate" else " and not negative"))
        values[col] = raw.ffill().to_numpy()
    grid, rows = _minute_samples(ts)
    frames: Frames = {}
    mark = values["mark_price"][rows.clip(0)]
    has = (rows >= 0) & np.isfinite(mark) & (mark > 0)
    if has.any():
        frames["mark"] = _finish(grid[has], {"mark_price": mark[has]}, path)
    oi = values["open_interest"][rows.clip(0)]
    has_oi = has & np.isfinite(oi)
    if has_oi.any():
        units = oi[has_oi] * contract.size if contract.inverse else contract.base(oi[has_oi], 1.0) * mark[has_oi]
        frames["open_interest"] = _finish(grid[has_oi], {"oi_usd": units}, path)
    settle = pd.to_numeric(df["funding_timestamp"], errors="coerce").to_numpy()
    settle_ms = np.unique(np.floor(settle[np.isfinite(settle)] / 1000).astype("int64"))
    settle_ms = settle_ms[(settle_ms <= ts[-1]) & (settle_ms >= TS_MIN_MS) & (settle_ms < TS_MAX_MS)]
    rate = pd.to_numeric(df["funding_rate"], errors="coerce").to_numpy()
    fts = np.floor(settle / 1000)
    paid_ts, paid = [], []
    for when in settle_ms:
        announced = np.flatnonzero((fts == when) & np.isfinite(rate) & (ts <= when))
        if len(announced):
            paid_ts.append(when)
            paid.append(rate[announced[-1]])
    if paid_ts:
        frames.update(funding_frame(np.array(paid_ts), np.array(paid), path))
    if not frames:
        raise _fail(path, "rows", "no mark price, open interest or funding settlement in the file")
    return frames


# --------------------------------------------------------------------------- dispatch


#: header columns that identify a format (the largest set a header holds wins; near misses are named on failure)
_HEADER_FORMATS: dict[Format, frozenset[str]] = {
    Format.CSV: frozenset({"open", "high", "low", "close"}),
    Format.TRADES_CSV: frozenset({"side", "amount"}),
    Format.BINANCE_KLINES: frozenset(BINANCE_KLINE_COLUMNS[:7]),
    Format.BINANCE_AGGTRADES: frozenset(BINANCE_AGGTRADE_COLUMNS),
    Format.BINANCE_FUNDING: frozenset(BINANCE_FUNDING_COLUMNS),
    Format.BINANCE_METRICS: frozenset(BINANCE_METRICS_COLUMNS),
    Format.BINANCE_DEPTH: frozenset(BINANCE_DEPTH_COLUMNS),
    Format.TARDIS_TRADES: frozenset(TARDIS_TRADES_COLUMNS),
    Format.TARDIS_BOOK: frozenset({*TARDIS_PREFIX, "asks[0].price", "asks[0].amount", "bids[0].price", "bids[0].amount"}),
    Format.TARDIS_TICKER: frozenset(TARDIS_TICKER_COLUMNS),
}
#: formats whose sizes count contracts or coins (read through a :class:`Contract`)
_SIZED_FORMATS = frozenset({
    Format.TRADES_CSV, Format.BINANCE_FEED, Format.BINANCE_KLINES, Format.BINANCE_AGGTRADES, Format.BINANCE_METRICS,
    Format.BINANCE_DEPTH, Format.TARDIS_TRADES, Format.TARDIS_BOOK, Format.TARDIS_TICKER,
})
_VISION_FORMATS = {"aggTrades": Format.BINANCE_AGGTRADES, "fundingRate": Format.BINANCE_FUNDING, "metrics": Format.BINANCE_METRICS}
_TARDIS_FORMATS = {"trades": Format.TARDIS_TRADES, "derivative_ticker": Format.TARDIS_TICKER}


def _read_head(path: Path) -> str:
    try:
        with _open_text(path)(path, "rb") as fh:
            return fh.read(4096).decode("utf-8", errors="replace")
    except (OSError, EOFError) as exc:
        raise _fail(path, "file", f"unreadable ({exc})") from None


def detect_format(path: Path) -> Format:
    """Guess a file's format from its name (vendor patterns), extension and first lines.

    Raises a :class:`DataError` that quotes the first line and names the
    formats whose columns came closest.
    """
    path = Path(path)
    name = _base_name(path)
    suffix = Path(name).suffix.lower()
    if suffix == ".feather":
        return Format.FREQTRADE_FEATHER
    if (found := _VISION_NAME.match(name)) is not None:
        return _VISION_FORMATS.get(found["what"], Format.BINANCE_KLINES)
    if _DEPTH_NAME.match(name):
        return Format.BINANCE_DEPTH
    if (found := _TARDIS_NAME.match(name)) is not None:
        return _TARDIS_FORMATS.get(found["what"], Format.TARDIS_BOOK)
    head = _read_head(path)
    lines = head.splitlines()
    first_line = lines[0] if lines else ""
    if suffix == ".json":
        first = head.lstrip()[:1]
        if first == "[":
            return Format.FREQTRADE_JSON
        if first == "{":
            return Format.PANDAS_JSON
    if CDD_BANNER.match(first_line):
        return Format.CRYPTODATADOWNLOAD
    if re.match(r"^\d{8} \d{2}:\d{2}:\d{2},", first_line):
        return Format.FUNDING_CSV
    if re.match(r"^\d{19} \{", first_line):
        return Format.BINANCE_FEED
    header = {h.strip().lower() for h in first_line.split(",")}
    matches = [(len(cols), fmt) for fmt, cols in _HEADER_FORMATS.items() if cols <= header]
    if matches:
        return max(matches, key=lambda m: m[0])[1]
    near = sorted(
        ((len(cols & header) / len(cols), fmt, sorted(cols - header)) for fmt, cols in _HEADER_FORMATS.items() if cols & header),
        key=lambda m: -m[0],
    )[:3]
    close = "; ".join(f"{fmt.value} (lacks {', '.join(missing[:4])})" for _, fmt, missing in near) or "none share a column"
    raise _fail(
        path, "format",
        f"cannot detect the format: first line {first_line[:120]!r}; closest: {close}; "
        f"pass --format, one of {[f.value for f in Format]}",
    )


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
    contract_value: float | None = None,
    csv_options: CsvOptions | None = None,
    resample_to: Iterable[str] = (),
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
    contract_value : QUOTE units per contract of a coin-margined (inverse) symbol such as
        BTC/USD:BTC; required for one, refused for a linear symbol (:func:`contract_for`).
    csv_options : layout of a ``csv`` file that is not ``timestamp, open, ... volume`` (:class:`CsvOptions`).
    resample_to : stored timeframes ('5m', '1h') also built from the file's finest candles (:func:`resample_bars`).
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
    if contract_value is not None or fmt in _SIZED_FORMATS:  # only sizes need the contract (a funding file does not)
        contract = contract_for(symbol, path, contract_size, contract_value)
    readers: dict[Format, Callable[[], Frames]] = {
        Format.FREQTRADE_FEATHER: lambda: read_freqtrade_feather(path),
        Format.FREQTRADE_JSON: lambda: read_freqtrade_json(path),
        Format.CSV: lambda: read_csv_with_options(path, csv_options, volume_unit) if csv_options else read_exchange_csv(path, volume_unit),
        Format.PANDAS_JSON: lambda: read_pandas_json(path),
        Format.TRADES_CSV: lambda: read_trades_csv(path, contract=contract),
        Format.FUNDING_CSV: lambda: read_funding_csv(path),
        Format.BINANCE_FEED: lambda: read_binance_feed(path, contract=contract),
        Format.CRYPTODATADOWNLOAD: lambda: read_cryptodatadownload(path, symbol),
        Format.BINANCE_KLINES: lambda: read_binance_klines(path, contract),
        Format.BINANCE_AGGTRADES: lambda: read_binance_aggtrades(path, contract),
        Format.BINANCE_FUNDING: lambda: read_binance_funding(path),
        Format.BINANCE_METRICS: lambda: read_binance_metrics(path, contract),
        Format.BINANCE_DEPTH: lambda: read_binance_depth(path, contract),
        Format.TARDIS_TRADES: lambda: read_tardis_trades(path, contract),
        Format.TARDIS_BOOK: lambda: read_tardis_book_snapshot(path, contract),
        Format.TARDIS_TICKER: lambda: read_tardis_derivative_ticker(path, contract),
    }
    frames = readers[fmt]()
    for timeframe in resample_to:
        if timeframe not in CANDLE_KIND_BY_TIMEFRAME:
            raise _fail(path, "resample", f"{timeframe!r} is not a stored timeframe {list(CANDLE_KIND_BY_TIMEFRAME)}")
        finest = next((k for k in CANDLE_KINDS if k in frames), None)
        if finest is None:
            raise _fail(path, "resample", f"the file gives no candles to resample (it gives {list(frames)})")
        source_tf = finest.removeprefix("candles_")
        try:
            frames.setdefault(CANDLE_KIND_BY_TIMEFRAME[timeframe], resample_bars(frames[finest], source_tf, timeframe))
        except DataError as exc:
            raise _fail(path, "resample", str(exc)) from None
    log.info("%s (%s, %s): %s", path, fmt.value, symbol, {k: len(v) for k, v in frames.items()})
    return Imported(symbol, fmt, frames)
