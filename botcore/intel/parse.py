"""Pure parsers: provider JSON -> DataFrames in the market store's schema.

Every frame has ``ts`` (int64 ms UTC, ascending, unique) and float64 value
columns named as in :data:`botcore.intel.enums.COLUMNS`; it can be written
with ``Store.write(kind, symbol, df)`` (market-wide kinds under ``MARKET``).

Timestamps: CoinGlass stamps a bar with its *open* time; a bar's close,
sum or last value is only known when the bar ends, so frames stamp each bar
with its close (``open + interval``). With ``now_ms`` given, bars that have
not closed yet are dropped, so a frame never holds a value from after
``now_ms``. Provider times in seconds (below 1e12) are converted to ms.

Units: USD for open interest, liquidations and taker volumes; funding as a
fraction per funding interval (CoinGlass quotes percent: ``0.01`` means
0.01 % and becomes ``0.0001``); fear & greed 0..100.

Errors: an error envelope raises :class:`~botcore.errors.TemporaryError`
(rate limit, server error) or :class:`~botcore.errors.OperationalError`
(auth, bad request); a malformed field raises
:class:`~botcore.errors.DataError` naming it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from botcore.errors import DataError, OperationalError, TemporaryError
from botcore.intel.enums import COLUMNS, FeedStatus, FeedValue, OutageKind

_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_SECONDS_BELOW = 10**12  # a time below this is seconds (10**12 ms is 2001-09-09)
_TEMPORARY_CODES = {"408", "429", "500", "502", "503", "504"}


def interval_ms(interval: str) -> int:
    """Return the length of a CoinGlass interval (``1m``, ``4h``, ``1d``, ``1w``) in ms."""
    num, unit = interval[:-1], interval[-1:]
    if unit not in _UNIT_MS or not num.isdigit() or int(num) <= 0:
        raise ValueError(f"interval: {interval!r} is not like 1m, 5m, 1h, 4h, 1d or 1w")
    return int(num) * _UNIT_MS[unit]


def _num(row: dict[str, Any], name: str, where: str) -> float:
    value = row.get(name)
    if value is None:
        raise DataError(f"{where}.{name}: missing")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}.{name}: {str(value)[:40]!r} is not a number") from None
    if not math.isfinite(out):
        raise DataError(f"{where}.{name}: {out} is not finite")
    return out


def _time_ms(row: dict[str, Any], name: str, where: str) -> int:
    t = _num(row, name, where)
    if t <= 0:
        raise DataError(f"{where}.{name}: {t} is not a time")
    return int(t * 1000) if t < _SECONDS_BELOW else int(t)


def _frame(ts: Sequence[int], columns: dict[str, Sequence[float]]) -> pd.DataFrame:
    df = pd.DataFrame({"ts": np.asarray(ts, dtype=np.int64), **{k: np.asarray(v, dtype=np.float64) for k, v in columns.items()}})
    df = df.sort_values("ts", kind="stable").drop_duplicates("ts", keep="last")
    return df.reset_index(drop=True)


def complete(df: pd.DataFrame, now_ms: int | None) -> pd.DataFrame:
    """Return the rows of ``df`` stamped at or before ``now_ms`` (all rows if None)."""
    if now_ms is None:
        return df
    return df.loc[df["ts"] <= now_ms].reset_index(drop=True)


# --------------------------------------------------------------------------- CoinGlass


def coinglass_rows(payload: Any, where: str = "coinglass") -> list[dict[str, Any]]:
    """Return the ``data`` rows of a CoinGlass v4 envelope ``{"code": "0", "msg": ..., "data": [...]}``.

    Raises
    ------
    TemporaryError
        For codes 408, 429 and 5xx or a "too many requests" message.
    OperationalError
        For any other non-zero code (401 invalid key, 400 bad parameter, plan limits).
    DataError
        If the envelope or its rows are malformed.
    """
    if not isinstance(payload, dict) or "code" not in payload:
        raise DataError(f"{where}: not a CoinGlass envelope (no 'code')")
    code, msg = str(payload["code"]), str(payload.get("msg", ""))[:200]
    if code != "0":
        lowered = msg.lower()
        if code in _TEMPORARY_CODES or "too many" in lowered or "rate limit" in lowered:
            raise TemporaryError(f"{where}: CoinGlass code {code}: {msg}")
        raise OperationalError(f"{where}: CoinGlass code {code}: {msg}")
    data = payload.get("data")
    if not isinstance(data, list):
        raise DataError(f"{where}.data: expected a list, got {type(data).__name__}")
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            raise DataError(f"{where}.data[{i}]: expected an object, got {type(row).__name__}")
    return data


def coinglass_plan(payload: Any) -> str:
    """``/api/user/account/subscription`` -> the plan level (``{"code": "0", "data": {"level": "STANDARD", ...}}``)."""
    where = "coinglass subscription"
    if not isinstance(payload, dict) or "code" not in payload:
        raise DataError(f"{where}: not a CoinGlass envelope (no 'code')")
    if str(payload["code"]) != "0":
        coinglass_rows(payload, where)  # raises the error the code means
    data = payload.get("data")
    level = data.get("level") if isinstance(data, dict) else None
    if not isinstance(level, str) or not level:
        raise DataError(f"{where}.data.level: missing")
    return level


def _bars(payload: Any, interval: str, fields: dict[str, str], where: str, now_ms: int | None) -> pd.DataFrame:
    """Parse CoinGlass bars: ``fields`` maps output column -> JSON field; ts = open + interval."""
    step = interval_ms(interval)
    rows = coinglass_rows(payload, where)
    ts = [_time_ms(r, "time", f"{where}.data[{i}]") + step for i, r in enumerate(rows)]
    cols: dict[str, Sequence[float]] = {out: [_num(r, src, f"{where}.data[{i}]") for i, r in enumerate(rows)] for out, src in fields.items()}
    return complete(_frame(ts, cols), now_ms)


def open_interest_frame(payload: Any, interval: str, now_ms: int | None = None) -> pd.DataFrame:
    """``/api/futures/open-interest/history`` (``unit=usd``) -> ts, oi_usd (the bar's close)."""
    return _bars(payload, interval, {"oi_usd": "close"}, "coinglass open_interest", now_ms)


def liquidations_frame(payload: Any, interval: str, now_ms: int | None = None) -> pd.DataFrame:
    """``/api/futures/liquidation/history`` -> ts, long_liq_usd, short_liq_usd (sums over the bar)."""
    fields = {"long_liq_usd": "long_liquidation_usd", "short_liq_usd": "short_liquidation_usd"}
    return _bars(payload, interval, fields, "coinglass liquidations", now_ms)


def taker_volume_frame(payload: Any, interval: str, now_ms: int | None = None) -> pd.DataFrame:
    """``/api/futures/v2/taker-buy-sell-volume/history`` -> ts, taker_buy_usd, taker_sell_usd.

    CoinGlass gives USD notionals, not base units, so this is not the store's
    ``taker`` kind; :func:`taker_ratio_frame` derives the ratio from it.
    """
    fields = {"taker_buy_usd": "taker_buy_volume_usd", "taker_sell_usd": "taker_sell_volume_usd"}
    return _bars(payload, interval, fields, "coinglass taker", now_ms)


def taker_ratio_frame(volume: pd.DataFrame) -> pd.DataFrame:
    """Return ts, buy_sell_ratio = taker buy USD / taker sell USD (NaN where nothing was sold).

    A ratio of USD notionals equals the ratio of base volumes up to the gap
    between the bar's average buy and sell prices.
    """
    buy = volume["taker_buy_usd"].to_numpy(dtype=np.float64)
    sell = volume["taker_sell_usd"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(sell > 0, buy / np.where(sell > 0, sell, 1.0), np.nan)
    return pd.DataFrame({"ts": volume["ts"].to_numpy(dtype=np.int64), "buy_sell_ratio": ratio})


def funding_frame(payload: Any, interval: str, now_ms: int | None = None) -> pd.DataFrame:
    """``/api/futures/funding-rate/history`` -> ts, rate (fraction per funding interval).

    CoinGlass quotes funding in percent; the bar's close is divided by 100.
    """
    df = _bars(payload, interval, {"rate": "close"}, "coinglass funding", now_ms)
    df["rate"] = df["rate"] / 100.0
    return df


# --------------------------------------------------------------------------- Alternative.me


def fear_greed_frame(payload: Any) -> pd.DataFrame:
    """``/fng/?limit=N`` -> ts, value (0..100); ts is the index's own publication time.

    Raises
    ------
    OperationalError
        If ``metadata.error`` is set.
    DataError
        If a row is malformed or a value lies outside 0..100.
    """
    where = "alternative.me fng"
    if not isinstance(payload, dict):
        raise DataError(f"{where}: expected an object, got {type(payload).__name__}")
    error = (payload.get("metadata") or {}).get("error") if isinstance(payload.get("metadata"), dict) else None
    if error:
        raise OperationalError(f"{where}: metadata.error: {str(error)[:200]}")
    data = payload.get("data")
    if not isinstance(data, list):
        raise DataError(f"{where}.data: expected a list, got {type(data).__name__}")
    ts, values = [], []
    for i, row in enumerate(data):
        at = f"{where}.data[{i}]"
        if not isinstance(row, dict):
            raise DataError(f"{at}: expected an object, got {type(row).__name__}")
        value = _num(row, "value", at)
        if not 0.0 <= value <= 100.0:
            raise DataError(f"{at}.value: {value} is outside 0..100")
        ts.append(_time_ms(row, "timestamp", at))
        values.append(value)
    return _frame(ts, {"value": values})


# --------------------------------------------------------------------------- CryptoCompare


def cryptocompare_data(payload: Any, where: str = "cryptocompare") -> Any:
    """Return ``Data`` of a CryptoCompare envelope ``{"Response": "Success", "Data": ...}``.

    Raises
    ------
    TemporaryError
        For a rate-limit error (``Type`` 99 or "rate limit" in the message).
    OperationalError
        For any other error (``Type`` 1: missing or invalid API key).
    DataError
        If the payload is not an envelope.
    """
    if not isinstance(payload, dict):
        raise DataError(f"{where}: expected an object, got {type(payload).__name__}")
    if payload.get("Response") == "Error":
        msg, kind = str(payload.get("Message", ""))[:200], payload.get("Type")
        if kind == 99 or "rate limit" in msg.lower():
            raise TemporaryError(f"{where}: rate limited: {msg}")
        raise OperationalError(f"{where}: error (Type {kind}): {msg}")
    if "Data" not in payload:
        raise DataError(f"{where}.Data: missing")
    return payload["Data"]


def coin_id(payload: Any, coin: str) -> int:
    """``/data/all/coinlist?fsym=COIN`` -> CryptoCompare's numeric coin id (``Data[COIN].Id``)."""
    where = f"cryptocompare coinlist[{coin}]"
    data = cryptocompare_data(payload, where)
    entry = data.get(coin) if isinstance(data, dict) else None
    if not isinstance(entry, dict):
        raise DataError(f"{where}.Data.{coin}: missing")
    return int(_num(entry, "Id", f"{where}.Data.{coin}"))


def social_mentions_frame(payload: Any) -> pd.DataFrame:
    """``/data/social/coin/histo/hour`` -> ts, mentions (per hour, one coin).

    ``mentions`` = Reddit posts per hour + Reddit comments per hour (rates the
    source reports) + new posts and comments on CryptoCompare's own forum in
    the hour (differences of its cumulative ``posts`` and ``comments``,
    floored at 0). The first hour has no difference and is dropped.
    """
    where = "cryptocompare social"
    data = cryptocompare_data(payload, where)
    if isinstance(data, dict) and isinstance(data.get("Data"), list):  # the v2 histo nesting
        data = data["Data"]
    if not isinstance(data, list):
        raise DataError(f"{where}.Data: expected a list, got {type(data).__name__}")
    ts, reddit, forum = [], [], []
    for i, row in enumerate(data):
        at = f"{where}.Data[{i}]"
        if not isinstance(row, dict):
            raise DataError(f"{at}: expected an object, got {type(row).__name__}")
        ts.append(_time_ms(row, "time", at))
        reddit.append(_num(row, "reddit_posts_per_hour", at) + _num(row, "reddit_comments_per_hour", at))
        forum.append(_num(row, "posts", at) + _num(row, "comments", at))
    df = _frame(ts, {"reddit": reddit, "forum": forum})
    new_forum = df["forum"].diff().clip(lower=0.0)
    out = pd.DataFrame({"ts": df["ts"], "mentions": df["reddit"] + new_forum})
    return out.iloc[1:].reset_index(drop=True)


def social_frame(mentions: Sequence[pd.DataFrame], baseline_hours: int = 24, min_baseline_hours: int = 6) -> pd.DataFrame:
    """Combine per-coin mention frames into the market-wide ts, mentions, tone.

    ``mentions`` is the sum over the coins, on the hours all coins report.
    CryptoCompare's social stats carry no sentiment, so ``tone`` is an
    *attention* proxy, not a polarity: ``tanh(ln((m + 1) / (b + 1)))`` where
    ``b`` is the mean of the previous ``baseline_hours`` hours (at least
    ``min_baseline_hours`` of them): +1 when activity is far above its recent
    baseline, -1 far below. Hours without a baseline, or with no activity now
    and before (nothing measured), are dropped rather than given a neutral 0.
    """
    if not mentions:
        raise ValueError("mentions: need at least one coin")
    merged = mentions[0][["ts", "mentions"]]
    for other in mentions[1:]:
        merged = merged.merge(other[["ts", "mentions"]], on="ts", how="inner", suffixes=("", "_x"))
        merged = merged.assign(mentions=merged["mentions"] + merged.pop("mentions_x"))
    merged = merged.sort_values("ts").reset_index(drop=True)
    m = merged["mentions"].to_numpy(dtype=np.float64)
    base = merged["mentions"].rolling(baseline_hours, min_periods=min_baseline_hours).mean().shift(1).to_numpy()
    tone = np.tanh(np.log((m + 1.0) / (base + 1.0)))
    keep = np.isfinite(tone) & ((m > 0) | (base > 0))
    out = pd.DataFrame({"ts": merged["ts"].to_numpy(dtype=np.int64)[keep], "mentions": m[keep], "tone": tone[keep]})
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- latest value


def latest(
    kind: str, symbol: str, frame: pd.DataFrame, now_ms: int, max_age_s: float | None, source: str = ""
) -> FeedValue:
    """Return the newest row of ``frame`` at or before ``now_ms`` as a :class:`FeedValue`.

    ``DATA_OUTAGE`` (``NO_DATA``) when there is no such row or its values are
    NaN; ``DATA_OUTAGE`` (``STALE``) when it is older than ``max_age_s``.
    """
    rows = complete(frame, now_ms)
    if rows.empty:
        return FeedValue.outage_of(kind, symbol, OutageKind.NO_DATA, f"{kind}: no data at or before {now_ms}", source)
    last = rows.iloc[-1]
    ts_ms = int(last["ts"])
    values = {c: float(last[c]) for c in rows.columns if c != "ts"}
    missing = [c for c in COLUMNS.get(kind, ()) if not math.isfinite(values.get(c, math.nan))]
    if missing:
        reason = f"{kind}: {', '.join(missing)} undefined in the newest row"
        return FeedValue.outage_of(kind, symbol, OutageKind.NO_DATA, reason, source, ts_ms)
    age_s = (now_ms - ts_ms) / 1000.0
    if max_age_s is not None and age_s > max_age_s:
        reason = f"{kind}: stale, newest value is {age_s:.0f} s old (limit {max_age_s:.0f} s)"
        return FeedValue.outage_of(kind, symbol, OutageKind.STALE, reason, source, ts_ms)
    return FeedValue(kind, symbol, FeedStatus.OK, ts_ms, values, "", None, source)
