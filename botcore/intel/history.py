"""Full-history download of the market intelligence into the store.

:func:`download_intel_history` fills, for a span and a universe, the store
kinds the signals read besides candles, funding and mark:

==============  ==================================  =========================================
store kind      source                              stamped
==============  ==================================  =========================================
open_interest   CoinGlass open-interest history     the bar's close (the OI then)
liquidations    CoinGlass liquidation history       the minute's open (a per-minute sum)
taker           CoinGlass taker buy/sell volume     the minute's open: the USD ratio splits
                ratio x the stored 1m base volume   the minute's base volume ``V r/(1+r)``
fear_greed      Alternative.me, full history        the day's publication time (MARKET)
social          CryptoCompare hourly social stats   the hour (MARKET), see
                                                    :func:`botcore.intel.parse.social_frame`
==============  ==================================  =========================================

CoinGlass plans differ in the finest bar they serve (below 30m needs the
Standard plan): each CoinGlass kind is fetched at the finest interval the key
is allowed, probed from 1m up; the report says which and quotes the refusals.
Per-minute kinds (liquidations, taker) are stored only from 1m bars: a
coarser sum cannot be split into minutes without inventing them, so the
report says they were not stored and why. Every kind resumes after the last
row already stored; rate limits are retried by the clients' policy and, when
they persist, raise :class:`~botcore.errors.TemporaryError` (rows written so
far are kept: run again to resume).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from tqdm import tqdm

from botcore.clock import DAY_MS, HOUR_MS, MINUTE_MS
from botcore.errors import OperationalError
from botcore.intel import parse
from botcore.intel.clients import (
    AlternativeMeClient,
    CoinGlassClient,
    CryptoCompareClient,
)
from botcore.intel.enums import MARKET
from botcore.intel.symbols import coinglass_pair

logger = logging.getLogger(__name__)

COINGLASS_INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "4h")
COINGLASS_PAGE_BARS = 1_000
CRYPTOCOMPARE_PAGE_HOURS = 2_000
#: CoinGlass kind -> store kind
STORE_KIND = {"open_interest": "open_interest", "liquidations": "liquidations", "taker_ratio": "taker"}


class IntelReport(NamedTuple):
    """What one kind stored: rows, first and last ``ts``, requests, the interval used, and a note (why not, or what)."""

    kind: str
    symbol: str
    rows: int
    first_ts: int | None
    last_ts: int | None
    pages: int
    interval: str
    note: str


def store_rows(kind: str, frame: pd.DataFrame, candles: pd.DataFrame | None = None) -> pd.DataFrame:
    """Turn a CoinGlass 1m history frame (stamped at bar close) into rows of its store kind.

    ``open_interest`` stays at the close; ``liquidations`` moves to the
    minute's open; ``taker_ratio`` splits each minute's stored base volume
    (``candles``, 1m) by the ratio ``r``: buy ``V r / (1 + r)``, sell ``V / (1 + r)``;
    minutes without a volume or a ratio are left out.
    """
    if kind == "open_interest":
        return frame[["ts", "oi_usd"]].reset_index(drop=True)
    opened = frame.assign(ts=frame["ts"].to_numpy(np.int64) - MINUTE_MS)
    if kind == "liquidations":
        return opened[["ts", "long_liq_usd", "short_liq_usd"]].reset_index(drop=True)
    if candles is None or candles.empty:
        return pd.DataFrame({"ts": np.array([], np.int64), "taker_buy_base": [], "taker_sell_base": []})
    both = opened.merge(candles[["ts", "volume"]], on="ts", how="inner")
    r, v = both["buy_sell_ratio"].to_numpy(np.float64), both["volume"].to_numpy(np.float64)
    ok = np.isfinite(r) & (r >= 0) & np.isfinite(v)
    return pd.DataFrame({"ts": both["ts"].to_numpy(np.int64)[ok], "taker_buy_base": (v * r / (1 + r))[ok],
                         "taker_sell_base": (v / (1 + r))[ok]})


async def _coinglass_bars(cg: CoinGlassClient, kind: str, pair: str, exchange: str, interval: str, start_ms: int,
                          end_ms: int, limit: int, now_ms: int) -> pd.DataFrame:
    """Bars opening in ``[start_ms, end_ms]`` that have closed by ``now_ms``."""
    window: dict[str, Any] = {"exchange": exchange, "interval": interval, "limit": limit, "start_ms": start_ms, "end_ms": end_ms, "now_ms": now_ms}
    if kind == "open_interest":
        return await cg.open_interest(pair, **window)
    if kind == "liquidations":
        return await cg.liquidations(pair, **window)
    return parse.taker_ratio_frame(await cg.taker_volume(pair, **window))


async def finest_interval(cg: CoinGlassClient, kind: str, pair: str, exchange: str, end_ms: int) -> tuple[str | None, list[str]]:
    """Return the finest interval CoinGlass serves ``kind`` at for this key, and the refusals of the finer ones."""
    refusals = []
    for interval in COINGLASS_INTERVALS:
        step = parse.interval_ms(interval)
        try:
            await _coinglass_bars(cg, kind, pair, exchange, interval, end_ms - 3 * step, end_ms, 2, end_ms)
        except OperationalError as exc:  # plan limits, unknown pair: try a coarser bar; a rate limit propagates
            refusals.append(f"{interval}: {exc}")
            continue
        return interval, refusals
    return None, refusals


async def _download_coinglass(store, cg: CoinGlassClient, symbol: str, kind: str, exchange: str, start_ms: int, end_ms: int,
                              pair_overrides, progress: bool) -> IntelReport:
    store_kind = STORE_KIND[kind]
    pair = coinglass_pair(symbol, exchange, pair_overrides)
    interval, refusals = await finest_interval(cg, kind, pair, exchange, end_ms)
    refused = "; ".join(refusals)
    if interval is None:
        return IntelReport(store_kind, symbol, 0, None, None, len(refusals), "-", f"not stored: CoinGlass refused every interval ({refused})")
    if interval != "1m" and kind != "open_interest":
        return IntelReport(store_kind, symbol, 0, None, None, len(refusals) + 1, interval,
                           f"not stored: the store keeps per-minute sums and this key's finest bar is {interval} ({refused})")
    step = parse.interval_ms(interval)
    last = store.last_ts(store_kind, symbol)
    # stored ts is the bar's close (open interest) or open (per-minute kinds): resume after the last stored bar
    cursor = start_ms - start_ms % step
    if last is not None:
        cursor = max(cursor, last + (0 if store_kind == "open_interest" else step))
    pages, rows, first_ts, last_ts = 0, 0, None, None
    total = max(0, (end_ms - cursor) // (step * COINGLASS_PAGE_BARS) + 1)
    with tqdm(total=total, desc=f"{symbol} {store_kind} ({interval})", unit="page", disable=not progress, leave=False) as bar:
        while cursor < end_ms:
            window_end = min(cursor + COINGLASS_PAGE_BARS * step, end_ms)
            frame = await _coinglass_bars(cg, kind, pair, exchange, interval, cursor, window_end - 1, COINGLASS_PAGE_BARS, end_ms)
            pages += 1
            candles = store.read("candles_1m", symbol, cursor, window_end) if kind == "taker_ratio" else None
            out = store_rows(kind, frame, candles)
            out = out[(out["ts"] >= (cursor if store_kind != "open_interest" else cursor + 1)) & (out["ts"] <= end_ms)]
            if len(out):
                store.write(store_kind, symbol, out.reset_index(drop=True))
                rows += len(out)
                first_ts = int(out["ts"].iloc[0]) if first_ts is None else first_ts
                last_ts = int(out["ts"].iloc[-1])
            bar.update(1)
            cursor = window_end
    note = f"{interval} bars" + (f"; finer refused: {refused}" if refused else "")
    if kind == "taker_ratio":
        note += "; split of the stored 1m volume"
    return IntelReport(store_kind, symbol, rows, first_ts, last_ts, pages + len(refusals) + 1, interval, note)


async def _download_fear_greed(store, fng: AlternativeMeClient, start_ms: int, end_ms: int) -> IntelReport:
    frame = await fng.fear_greed(limit=0)  # 0: the whole history in one answer
    frame = frame[(frame["ts"] >= start_ms - DAY_MS) & (frame["ts"] <= end_ms)].reset_index(drop=True)
    if len(frame):
        store.write("fear_greed", MARKET, frame)
    first, last = (int(frame["ts"].iloc[0]), int(frame["ts"].iloc[-1])) if len(frame) else (None, None)
    return IntelReport("fear_greed", MARKET, len(frame), first, last, 1, "1d", "daily index, the day before the start included")


async def _download_social(store, cc: CryptoCompareClient, coins: Sequence[str], baseline_hours: int, start_ms: int,
                           end_ms: int, progress: bool) -> IntelReport:
    last = store.last_ts("social", MARKET)
    begin = max(start_ms, last + HOUR_MS) if last is not None else start_ms
    begin -= begin % HOUR_MS
    if begin > end_ms:
        return IntelReport("social", MARKET, 0, None, None, 0, "1h", "up to date")
    first_hour = begin - (baseline_hours + 1) * HOUR_MS  # the tone's baseline before the first stored hour
    per_coin, pages = [], 0
    for coin in coins:
        parts, to_ms = [], end_ms - end_ms % HOUR_MS
        with tqdm(total=-(-(to_ms - first_hour) // (CRYPTOCOMPARE_PAGE_HOURS * HOUR_MS)), desc=f"social {coin}", unit="page",
                  disable=not progress, leave=False) as bar:
            while to_ms >= first_hour:
                hours = min(CRYPTOCOMPARE_PAGE_HOURS, (to_ms - first_hour) // HOUR_MS + 1)
                parts.append(await cc.social_mentions(coin, hours=int(hours), to_ms=to_ms))
                pages += 1
                bar.update(1)
                to_ms -= int(hours) * HOUR_MS
        per_coin.append(pd.concat(parts).drop_duplicates("ts").sort_values("ts").reset_index(drop=True))
    frame = parse.social_frame(per_coin, baseline_hours)
    frame = frame[(frame["ts"] >= begin) & (frame["ts"] <= end_ms)].reset_index(drop=True)
    if len(frame):
        store.write("social", MARKET, frame)
    first, last_ts = (int(frame["ts"].iloc[0]), int(frame["ts"].iloc[-1])) if len(frame) else (None, None)
    return IntelReport("social", MARKET, len(frame), first, last_ts, pages, "1h", f"coins {', '.join(coins)}")


async def download_intel_history(
    store,
    symbols: Sequence[str],
    start_ms: int,
    end_ms: int,
    *,
    coinglass: CoinGlassClient | None,
    alternative_me: AlternativeMeClient,
    cryptocompare: CryptoCompareClient | None,
    exchange: str = "Binance",
    social_coins: Sequence[str] = ("BTC",),
    social_baseline_hours: int = 24,
    pair_overrides: dict[str, str] | None = None,
    progress: bool = True,
) -> list[IntelReport]:
    """Download open interest, liquidations and taker flow (per symbol), fear & greed and social (MARKET) into ``store``.

    Taker flow splits the stored 1m candle volume, so candles are downloaded
    first. A provider without a key (``None`` client) is reported, not
    fetched. Raises :class:`~botcore.errors.TemporaryError` when a provider
    stays unavailable (what was written stays; run again to resume).
    """
    reports: list[IntelReport] = []
    plan = ""
    if coinglass is None:
        reports += [IntelReport(STORE_KIND[k], s, 0, None, None, 0, "-", "not stored: no CoinGlass key (COINGLASS_API_KEY)")
                    for s in symbols for k in STORE_KIND]
    else:
        try:
            plan = await coinglass.plan()
        except OperationalError as exc:
            plan = f"plan unknown ({exc})"
        for symbol in symbols:
            for kind in STORE_KIND:
                report = await _download_coinglass(store, coinglass, symbol, kind, exchange, start_ms, end_ms, pair_overrides or {},
                                                   progress)
                reports.append(report._replace(note=f"CoinGlass {plan}: {report.note}"))
    reports.append(await _download_fear_greed(store, alternative_me, start_ms, end_ms))
    if cryptocompare is None:
        reports.append(IntelReport("social", MARKET, 0, None, None, 0, "-", "not stored: no CryptoCompare key (CRYPTOCOMPARE_API_KEY)"))
    else:
        reports.append(await _download_social(store, cryptocompare, social_coins, social_baseline_hours, start_ms, end_ms, progress))
    for r in reports:
        logger.info("intel history %s %s: %d rows (%s)", r.kind, r.symbol, r.rows, r.note)
    return reports
