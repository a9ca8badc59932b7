"""Order-book replay and the Binance USD-M raw feed (depth diffs, book tickers, trades) for the importers."""

from __future__ import annotations

import bisect
import gzip
import heapq
import json
import logging
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from botcore.clock import MINUTE_MS
from botcore.market.frames import (
    _COIN_M_NAME,
    Contract,
    Frames,
    _check_contract_size,
    _check_venue_margin,
    _fail,
    _trade_frames,
    taker_per_minute,
)
from botcore.market.store import (
    BOOK_LEVELS,
    TS_MAX_MS,
    TS_MIN_MS,
    book_columns,
)

log = logging.getLogger(__name__)

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
    markets: set[str]  # stream names before '@' (btcusdt, btcusd_perp)


def _read_binance_feed(path: Path) -> _Feed:
    """Split a ``<receive ns> <json>`` capture into snapshot, depth diffs, trades and bookTickers (file order)."""
    snapshot: dict | None = None
    diffs: list[dict] = []
    trades: list[dict] = []
    tickers = _Tickers(path)
    markets: set[str] = set()
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
                    markets.add(payload[:64].partition('"stream":')[2].strip(' "').partition("@")[0])
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
                markets.add(stream.partition("@")[0])
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
    return _Feed(snapshot, diffs, trades, tickers, (int(first_ms), int(last_ms)), markets - {""})


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


def _book_in_base(times: list[int], tops: list[tuple[list, list]], contract: Contract, levels: int) -> pd.DataFrame:
    """:func:`book_frame` with each level's size turned into base units (at its own price for inverse contracts)."""
    if not contract.inverse:
        return book_frame(times, tops, contract.size, levels)
    tops = [([(p, float(contract.base(s, p))) for p, s in bids], [(p, float(contract.base(s, p))) for p, s in asks]) for bids, asks in tops]
    return book_frame(times, tops, 1.0, levels)


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


def _trade_columns(trades: list[dict], source: Path | str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Trade time ``T`` (ms), size ``q`` (> 0), taker-bought flag (``not m``) and price ``p`` (NaN if absent) of each trade."""
    trade_ms = np.empty(len(trades), "int64")
    qty = np.empty(len(trades), "float64")
    price = np.full(len(trades), np.nan)
    for i, trade in enumerate(trades):
        try:
            trade_ms[i], qty[i] = int(trade["T"]), float(trade["q"])
            price[i] = float(trade.get("p", "nan"))
            maker_flag = trade["m"]
        except (KeyError, TypeError, ValueError, OverflowError):
            raise _fail(source, f"line {trade.get('_line')}: T/q/m", "trade needs integer time T, size q and buyer-is-maker flag m") from None
        if not (TS_MIN_MS <= trade_ms[i] < TS_MAX_MS and np.isfinite(qty[i]) and qty[i] > 0 and isinstance(maker_flag, bool)):
            raise _fail(source, f"line {trade.get('_line')}: T/q/m", f"time {trade['T']!r}, size {trade['q']!r} or flag {maker_flag!r} out of range")
    return trade_ms, qty, np.array([not t["m"] for t in trades], dtype=bool), price


def read_binance_feed(path: Path, contract_size: float = 1.0, levels: int = BOOK_LEVELS, contract: Contract | None = None) -> Frames:
    """Read a raw Binance USDT-M capture → ``book`` snapshots each minute and per-minute ``taker`` volume.

    Lines are ``<local receive ns> <json>``: one REST depth snapshot (has
    ``lastUpdateId``, no ``stream``), then combined-stream messages: depth diffs,
    trades and bookTicker. Diffs are replayed by :func:`replay_book_minutes`;
    every sampled book is checked against the bookTicker with the same update
    id (best bid and ask must agree, books must not be crossed). Trades are
    bucketed by trade time ``T``; the ``m`` flag (buyer is maker) marks a
    seller-initiated trade; only minutes the capture covers entirely (by
    event time ``E``) are kept; trades with prices (``p``) also give
    ``candles_1m``. Sizes are multiplied by ``contract_size``, or converted
    by ``contract`` (a COIN-M feed, streams like ``btcusd_perp@depth``, must
    come with an inverse contract: its sizes are USD contracts, not coins).
    """
    path = Path(path)
    _check_contract_size(contract_size, path)
    contract = contract or Contract("?", False, float(contract_size), "")
    feed = _read_binance_feed(path)
    coin_m = [m for m in sorted(feed.markets) if _COIN_M_NAME.search(m + "@")]
    if contract.symbol != "?" or coin_m:
        _check_venue_margin(contract, bool(coin_m), f"stream {(coin_m or sorted(feed.markets) or ['?'])[0]}", path)
    times, tops, update_ids = replay_book_minutes(feed.snapshot, feed.diffs, path, levels)
    book = _book_in_base(times, tops, contract, levels)
    _check_books(book, update_ids, feed.tickers, path)
    frames: Frames = {"book": book}
    if feed.trades:
        trade_ms, qty, is_buy, price = _trade_columns(feed.trades, path)
        if np.isfinite(price).all():
            frames.update(_trade_frames(trade_ms, price, qty, is_buy, contract, path, feed.span_ms))
        elif contract.inverse:
            raise _fail(path, "trade p", "inverse contract sizes convert to base units at the trade price; a trade lacks 'p'")
        else:
            frames["taker"] = taker_per_minute(trade_ms, contract.base(qty, 1.0), is_buy, feed.span_ms)
    log.info("%s: %d depth diffs → %d book snapshots; %d trades", path, len(feed.diffs), len(book), len(feed.trades))
    return frames
