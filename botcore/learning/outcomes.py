"""The per-signal outcome log and the signal context of closed trades.

The log
-------
The ledger's ``signal_outcomes`` table (schema v2) holds two kinds of event,
tied by ``entry_key`` (the entry order's client order id):

- ``entry``: what each signal said when a position was opened: per-signal
  score and confidence (``null`` where the signal's status was not OK), the
  aggregated conviction, the regime, the strategy and side;
- ``close``: the outcome: net P&L (after fees and funding) and net return on
  the entry notional.

``shadow = 1`` marks a would-be trade of a benched symbol, evaluated on paper
(:mod:`botcore.learning.benching`). The log is bounded: after every write,
rows beyond the newest ``cap`` (50,000 by default) are dropped, oldest first.
:func:`record_signal_outcomes` is idempotent: an event already logged for an
``entry_key`` is left as it is.

Trade context
-------------
:func:`trade_contexts` gives every closed trade of the ledger the scores of
the ten signals at its entry, from the first source that has them:

1. the log (``source`` ``log``): the latest non-shadow entry event of the
   same symbol and side at or before the trade's entry, within 15 minutes;
2. the decision trail (``trail``): ``detail.signals`` of the entry decision
   (:func:`botcore.analytics.trail.attach_entry_context`);
3. the market store (``recomputed``): the signals recomputed by
   :mod:`botcore.signals.engine` on the 1m bar that closed at or before the
   entry, from data known then (a missing input stays missing).

A trade none of them covers keeps NaN scores (``none``); it counts for the
metrics but not for any signal's attribution.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from botcore.analytics.trail import attach_entry_context
from botcore.clock import BAR_MS
from botcore.config.models import SIGNAL_NAMES, Settings
from botcore.errors import DataError
from botcore.ledger import Ledger

logger = logging.getLogger(__name__)

__all__ = [
    "ENTRY_TOLERANCE_MS",
    "MAX_OUTCOME_ROWS",
    "SCORE_COLUMNS",
    "close_row",
    "entry_row",
    "entry_rows",
    "read_signal_outcomes",
    "recompute_entry_signals",
    "record_signal_outcomes",
    "trade_contexts",
]

#: Cap of the ``signal_outcomes`` log (rows; the oldest are dropped beyond it).
MAX_OUTCOME_ROWS = 50_000
#: Look-back from a trade's entry fill to the logged entry decision.
ENTRY_TOLERANCE_MS = 15 * 60_000
#: Score column of each signal in the frames of this module, SIGNAL_NAMES order.
SCORE_COLUMNS = tuple(f"score_{name}" for name in SIGNAL_NAMES)
RECOMPUTE_LOOKBACK_MS = 80 * 3_600_000

_SIGNAL_OK = 0


# --------------------------------------------------------------------------- rows


def _per_signal(values: Any, status: Any, field: str) -> dict[str, float | None]:
    """Return ``{signal: value or None}`` from a mapping or a ``(K,)`` array (None where status is not OK)."""
    if values is None:
        return {name: None for name in SIGNAL_NAMES}
    if isinstance(values, Mapping):
        unknown = set(values) - set(SIGNAL_NAMES)
        if unknown:
            raise DataError(f"record_signal_outcomes: {field} names unknown signals {sorted(unknown)}")
        out = {name: values.get(name) for name in SIGNAL_NAMES}
    else:
        arr = np.asarray(values, dtype=np.float64).ravel()
        if arr.shape != (len(SIGNAL_NAMES),):
            raise DataError(f"record_signal_outcomes: {field} must have {len(SIGNAL_NAMES)} values in "
                            f"SIGNAL_NAMES order, got shape {arr.shape}")
        out = dict(zip(SIGNAL_NAMES, arr.tolist()))
    st = None if status is None else np.asarray(status).ravel()
    if st is not None and st.shape != (len(SIGNAL_NAMES),):
        raise DataError(f"record_signal_outcomes: status must have {len(SIGNAL_NAMES)} values, got {st.shape}")
    clean: dict[str, float | None] = {}
    for k, name in enumerate(SIGNAL_NAMES):
        v = out[name]
        ok = st is None or int(st[k]) == _SIGNAL_OK
        clean[name] = float(v) if ok and v is not None and math.isfinite(float(v)) else None
    return clean


def entry_row(entry_key: str, ts_ms: int, symbol: str, strategy: str, side: int, score: Any, confidence: Any = None,
              status: Any = None, *, regime: int | None = None, conviction: float | None = None,
              shadow: bool = False, source: str | None = None) -> dict[str, Any]:
    """Return one ``entry`` event for :func:`record_signal_outcomes`.

    ``score`` and ``confidence`` are ``(K,)`` arrays in SIGNAL_NAMES order
    (a row of ``SignalsIn.score``) or ``{signal: value}`` mappings; with
    ``status`` (a row of ``SignalsIn.status``), non-OK signals are logged as missing.
    """
    return {"event": "entry", "entry_key": str(entry_key), "ts_ms": int(ts_ms), "symbol": symbol,
            "strategy": strategy, "side": int(side), "scores": _per_signal(score, status, "score"),
            "confidences": _per_signal(confidence, status, "confidence"), "regime": regime,
            "conviction": conviction, "shadow": bool(shadow), "source": source or ("shadow" if shadow else "engine")}


def entry_rows(entry_keys: Sequence[str], ts_ms: int, symbols: Sequence[str], strategies: Sequence[str],
               sides: Sequence[int], score: np.ndarray, confidence: np.ndarray | None = None,
               status: np.ndarray | None = None, *, regime: Sequence[int] | None = None,
               conviction: Sequence[float] | None = None, shadow: bool = False) -> list[dict[str, Any]]:
    """Return the ``entry`` events of one cycle's entries (row ``i`` of ``score``/``confidence``/``status`` ``(n, K)``)."""
    rows = []
    for i, key in enumerate(entry_keys):
        rows.append(entry_row(key, ts_ms, symbols[i], strategies[i], int(sides[i]), score[i],
                              None if confidence is None else confidence[i], None if status is None else status[i],
                              regime=None if regime is None else int(regime[i]),
                              conviction=None if conviction is None else float(conviction[i]), shadow=shadow))
    return rows


def close_row(entry_key: str, ts_ms: int, net_pnl_usd: float | None = None,
              net_return: float | None = None) -> dict[str, Any]:
    """Return one ``close`` event for :func:`record_signal_outcomes` (symbol, strategy and side come from the entry).

    A would-be (shadow) trade has no size: give its ``net_return`` only.
    """
    return {"event": "close", "entry_key": str(entry_key), "ts_ms": int(ts_ms),
            "net_pnl_usd": None if net_pnl_usd is None else float(net_pnl_usd),
            "net_return": None if net_return is None else float(net_return)}


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _regime_code(value: Any) -> int | None:
    from botcore.regime.enums import Regimes

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        code = Regimes._asdict().get(value)
        if code is None:
            raise DataError(f"record_signal_outcomes: unknown regime {value!r}")
        return int(code)
    return int(value)


def record_signal_outcomes(ledger: Ledger, rows: pd.DataFrame | Iterable[Mapping[str, Any]], *,
                           cap: int = MAX_OUTCOME_ROWS) -> int:
    """Append entry and close events to the bounded ``signal_outcomes`` log; return how many were new.

    Each row is a mapping (see :func:`entry_row`, :func:`close_row`) with
    ``event`` (``entry`` or ``close``; default ``close`` when the row has
    ``net_pnl_usd``), ``entry_key`` and ``ts_ms``; an entry has ``symbol``,
    ``strategy``, ``side`` (+1/-1), ``scores`` and optionally ``confidences``,
    ``regime``, ``conviction``, ``shadow``, ``source``; a close has
    ``net_pnl_usd`` and/or ``net_return`` (a shadow close: the return only; its
    symbol, strategy and side default to its entry's). An event already logged is skipped. Rows
    beyond the newest ``cap`` are then dropped, oldest first. One transaction.

    Raises
    ------
    DataError
        Naming the field of a malformed row (a close whose entry is unknown
        must carry ``symbol``, ``strategy`` and ``side`` itself).
    """
    if isinstance(rows, pd.DataFrame):
        rows = rows.to_dict("records")
    con = ledger._con  # the ledger's own connection, inside its transaction (no second writer)
    written = 0
    with ledger.transaction():
        for row in rows:
            event = row.get("event") or ("close" if "net_pnl_usd" in row or "net_return" in row else "entry")
            if event not in ("entry", "close"):
                raise DataError(f"record_signal_outcomes: event must be 'entry' or 'close', got {event!r}")
            try:
                key, ts_ms = str(row["entry_key"]), int(row["ts_ms"])
            except KeyError as exc:
                raise DataError(f"record_signal_outcomes: row lacks {exc.args[0]!r}") from None
            symbol, strategy, side = row.get("symbol"), row.get("strategy"), row.get("side")
            shadow = row.get("shadow")
            if event == "close" and (symbol is None or strategy is None or side is None or shadow is None):
                found = con.execute(
                    "SELECT symbol, strategy, side, shadow FROM signal_outcomes WHERE entry_key = ? AND event = 'entry'",
                    (key,)).fetchone()
                if found is None and (symbol is None or strategy is None or side is None):
                    raise DataError(f"record_signal_outcomes: close of unknown entry {key!r} needs symbol, strategy, side")
                if found is not None:
                    symbol = symbol if symbol is not None else found["symbol"]
                    strategy = strategy if strategy is not None else found["strategy"]
                    side = side if side is not None else found["side"]
                    shadow = shadow if shadow is not None else bool(found["shadow"])
            if symbol is None or strategy is None or side is None:
                raise DataError(f"record_signal_outcomes: entry {key!r} needs symbol, strategy and side")
            if int(side) not in (-1, 1):
                raise DataError(f"record_signal_outcomes: side must be +1 or -1, got {side!r}")
            shadow = bool(shadow)
            scores = confidences = None
            if event == "entry":
                scores = json.dumps(_per_signal(row.get("scores"), None, "scores"), sort_keys=True)
                confidences = json.dumps(_per_signal(row.get("confidences"), None, "confidences"), sort_keys=True)
            net_pnl, net_ret = _num(row.get("net_pnl_usd")), _num(row.get("net_return"))
            if event == "close" and net_pnl is None and net_ret is None:
                raise DataError(f"record_signal_outcomes: close of {key!r} needs a finite net_pnl_usd or net_return")
            cur = con.execute(
                """INSERT OR IGNORE INTO signal_outcomes (ts_ms, event, entry_key, symbol, strategy, side, shadow,
                   source, regime, conviction, scores, confidences, net_pnl_usd, net_return)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (ts_ms, event, key, str(symbol), str(strategy), int(side), int(shadow),
                 str(row.get("source") or ("shadow" if shadow else "engine")), _regime_code(row.get("regime")),
                 _num(row.get("conviction")), scores, confidences, net_pnl, net_ret),
            )
            written += cur.rowcount
        if written:
            con.execute("DELETE FROM signal_outcomes WHERE seq <= (SELECT MAX(seq) FROM signal_outcomes) - ?",
                        (int(cap),))
    return written


# --------------------------------------------------------------------------- reading


def _scores_frame(json_values: Sequence[Any]) -> np.ndarray:
    out = np.full((len(json_values), len(SIGNAL_NAMES)), np.nan)
    for i, text in enumerate(json_values):
        if not text:
            continue
        d = json.loads(text) if isinstance(text, str) else text
        for k, name in enumerate(SIGNAL_NAMES):
            v = d.get(name)
            if v is not None:
                out[i, k] = float(v)
    return out


def read_signal_outcomes(ledger: Ledger, *, since_ms: int | None = None, shadow: bool | None = None) -> pd.DataFrame:
    """Return the log as one row per entry: its context and, once closed, its outcome.

    Columns: ``entry_key, symbol, strategy, side, shadow, source, entry_ts_ms,
    regime, conviction``, the :data:`SCORE_COLUMNS`, ``exit_ts_ms`` (NaN while
    open), ``net_pnl_usd``, ``net_return``. ``since_ms`` filters on the entry
    time; ``shadow`` on the shadow flag. Oldest entry first.
    """
    log = ledger.table("signal_outcomes")
    cols = ["entry_key", "symbol", "strategy", "side", "shadow", "source", "entry_ts_ms", "regime", "conviction",
            *SCORE_COLUMNS, "exit_ts_ms", "net_pnl_usd", "net_return"]
    if log.empty:
        return pd.DataFrame(columns=cols)
    entries = log[log["event"] == "entry"].sort_values("seq", kind="stable")
    closes = log[log["event"] == "close"].set_index("entry_key")
    out = pd.DataFrame({
        "entry_key": entries["entry_key"].to_numpy(), "symbol": entries["symbol"].to_numpy(),
        "strategy": entries["strategy"].to_numpy(), "side": entries["side"].to_numpy(dtype=np.int64),
        "shadow": entries["shadow"].to_numpy(dtype=bool), "source": entries["source"].to_numpy(),
        "entry_ts_ms": entries["ts_ms"].to_numpy(dtype=np.int64),
        "regime": pd.to_numeric(entries["regime"], errors="coerce").to_numpy(dtype=np.float64),
        "conviction": pd.to_numeric(entries["conviction"], errors="coerce").to_numpy(dtype=np.float64),
    })
    scores = _scores_frame(entries["scores"].tolist())
    for k, c in enumerate(SCORE_COLUMNS):
        out[c] = scores[:, k]
    matched = closes.reindex(out["entry_key"])
    out["exit_ts_ms"] = pd.to_numeric(matched["ts_ms"], errors="coerce").to_numpy(dtype=np.float64)
    out["net_pnl_usd"] = pd.to_numeric(matched["net_pnl_usd"], errors="coerce").to_numpy(dtype=np.float64)
    out["net_return"] = pd.to_numeric(matched["net_return"], errors="coerce").to_numpy(dtype=np.float64)
    if since_ms is not None:
        out = out[out["entry_ts_ms"] >= int(since_ms)]
    if shadow is not None:
        out = out[out["shadow"] == bool(shadow)]
    return out.reset_index(drop=True)[cols]


# --------------------------------------------------------------------------- recomputation from the store


def recompute_entry_signals(store: Any, settings: Settings, symbols: Sequence[str],
                            entry_ts_ms: Sequence[int] | np.ndarray,
                            lookback_ms: int = RECOMPUTE_LOOKBACK_MS) -> np.ndarray:
    """Recompute the ten signals at each entry from a market store; return ``(n, K)`` scores (NaN: not OK).

    The signal of an entry at ``t`` is the one of the 1m bar that closed at or
    before ``t`` (``open = floor(t / 1m) * 1m - 1m``), computed by
    :func:`botcore.signals.engine.compute_signals` from the inputs
    :func:`~botcore.signals.engine.load_inputs` aligns (known at the bar's
    close, nothing later). Symbols missing from the store give NaN rows.
    """
    from botcore.signals.engine import compute_signals, load_inputs

    symbols = list(symbols)
    ts = np.asarray(entry_ts_ms, dtype=np.int64)
    out = np.full((len(ts), len(SIGNAL_NAMES)), np.nan)
    if not len(ts):
        return out
    bar_open = ts // BAR_MS * BAR_MS - BAR_MS
    stored = set(store.symbols("candles_1m")) if hasattr(store, "symbols") else set(symbols)
    for symbol in sorted(set(symbols)):
        rows = np.flatnonzero(np.array([s == symbol for s in symbols]))
        if symbol not in stored:
            logger.info("recompute: %s not in the market store; its %d trades keep no signal context", symbol, len(rows))
            continue
        start = int(bar_open[rows].min()) - int(lookback_ms) // BAR_MS * BAR_MS
        end = int(bar_open[rows].max()) + BAR_MS
        grid, inputs = load_inputs(store, [symbol], start, end, settings.signals)
        sig = compute_signals(inputs)
        score = np.asarray(sig.score)[:, 0, :]
        status = np.asarray(sig.status)[:, 0, :]
        idx = ((bar_open[rows] - grid[0]) // BAR_MS).astype(np.int64)
        ok = status[idx] == _SIGNAL_OK
        out[rows] = np.where(ok, score[idx], np.nan)
    return out


# --------------------------------------------------------------------------- trades with their context


def _match_log(trades: pd.DataFrame, log: pd.DataFrame, tolerance_ms: int) -> pd.DataFrame:
    """Return, per trade row (by position), the matched log entry (NaN and source None where none)."""
    keep = ["entry_ts_ms_log", "regime", "conviction", *SCORE_COLUMNS]
    result = pd.DataFrame(np.nan, index=range(len(trades)), columns=keep)
    result["source"] = None
    if trades.empty or log.empty:
        return result
    left = pd.DataFrame({"_row": np.arange(len(trades)), "symbol": trades["symbol"].to_numpy(),
                         "side": trades["side"].to_numpy(dtype=np.int64),
                         "t": pd.to_numeric(trades["entry_ts_ms"], errors="coerce").to_numpy()})
    left = left[np.isfinite(left["t"].to_numpy(dtype=np.float64))].copy()
    left["t"] = left["t"].astype(np.int64)
    right = log.rename(columns={"entry_ts_ms": "entry_ts_ms_log"})[["symbol", "side", "source", *keep]].copy()
    right["t"] = right["entry_ts_ms_log"].astype(np.int64)
    right["entry_ts_ms_log"] = right["entry_ts_ms_log"].astype(np.float64)
    right["side"] = right["side"].astype(np.int64)
    merged = pd.merge_asof(left.sort_values("t", kind="stable"), right.sort_values("t", kind="stable"),
                           on="t", by=["symbol", "side"], direction="backward", tolerance=int(tolerance_ms))
    merged = merged.set_index("_row")
    result.loc[merged.index, keep] = merged[keep].to_numpy(dtype=np.float64)
    result.loc[merged.index, "source"] = merged["source"].to_numpy(dtype=object)
    return result


def trade_contexts(ledger: Ledger, settings: Settings | None = None, *, store: Any = None,
                   trades: pd.DataFrame | None = None, since_ms: int | None = None, record: bool = False,
                   tolerance_ms: int = ENTRY_TOLERANCE_MS) -> pd.DataFrame:
    """Return the closed trades with the signal scores at their entry and where they came from.

    Adds to the ledger's trade columns: the :data:`SCORE_COLUMNS`, ``regime``
    (code, NaN unknown), ``conviction``, ``net_return`` (net P&L / entry
    notional), ``hour`` (UTC hour of the entry) and ``context_source``
    (``log``, ``trail``, ``recomputed`` or ``none``). Adopted trades (no entry
    time) are left out. With ``store`` (and ``settings``), trades neither the
    log nor the trail covers get their signals recomputed; with ``record``
    those are written to the log (``source`` ``recomputed``) so the next cycle
    reads them back instead of recomputing.
    """
    from botcore.regime.enums import Regimes

    t = ledger.trades(since_ms=since_ms) if trades is None else trades.copy()
    if "adopted" in t.columns:
        t = t[(t["adopted"] == 0) & t["entry_ts_ms"].notna()]
    t = t.reset_index(drop=True)
    n = len(t)
    for c in SCORE_COLUMNS:
        t[c] = np.nan
    t["regime"] = np.nan
    t["conviction"] = np.nan
    t["context_source"] = "none"
    if n == 0:
        t["net_return"] = pd.Series(dtype=np.float64)
        t["hour"] = pd.Series(dtype=np.int64)
        return t
    notional = (t["entry_price"].astype(np.float64) * t["qty_base"].astype(np.float64)).to_numpy()
    t["net_return"] = np.where(notional > 0, t["net_pnl_usd"].to_numpy(dtype=np.float64) / np.where(notional > 0, notional, 1.0), np.nan)
    t["hour"] = ((t["entry_ts_ms"].astype(np.int64) // 3_600_000) % 24).astype(np.int64)

    # 1. the log
    log = read_signal_outcomes(ledger, shadow=False)
    if not log.empty:
        m = _match_log(t, log, tolerance_ms)
        hit = m["entry_ts_ms_log"].notna().to_numpy()
        for c in (*SCORE_COLUMNS, "regime", "conviction"):
            t.loc[hit, c] = m.loc[hit, c].to_numpy()
        t.loc[hit, "context_source"] = np.where(m.loc[hit, "source"].to_numpy() == "recomputed", "recomputed", "log")
    # 2. the decision trail
    missing = (t["context_source"] == "none").to_numpy()
    if missing.any():
        since = int(t.loc[missing, "entry_ts_ms"].min()) - tolerance_ms
        decisions = ledger.decisions(since_ms=since)
        if not decisions.empty:
            ctx = attach_entry_context(t.loc[missing, ["symbol", "side", "entry_ts_ms", "net_pnl_usd", "strategy_id"]],
                                       decisions, tolerance_ms=tolerance_ms)
            regime_code = {name: code for name, code in Regimes._asdict().items()}
            for row, sig, regime, conv in zip(ctx.index, ctx["signals"], ctx["regime"], ctx["entry_conviction"]):
                if regime is not None and not pd.isna(regime):
                    t.loc[row, "regime"] = regime_code.get(str(regime), np.nan)
                if np.isfinite(conv):
                    t.loc[row, "conviction"] = conv
                if isinstance(sig, Mapping):
                    for name, c in zip(SIGNAL_NAMES, SCORE_COLUMNS):
                        v = _num(sig.get(name))
                        t.loc[row, c] = np.nan if v is None else v
                    t.loc[row, "context_source"] = "trail"
    # 3. the market store
    missing = (t["context_source"] == "none").to_numpy()
    if missing.any() and store is not None and settings is not None:
        rows = np.flatnonzero(missing)
        scores = recompute_entry_signals(store, settings, t.loc[rows, "symbol"].tolist(),
                                         t.loc[rows, "entry_ts_ms"].astype(np.int64).to_numpy())
        got = np.isfinite(scores).any(axis=1)
        for k, c in enumerate(SCORE_COLUMNS):
            col = t[c].to_numpy(dtype=np.float64).copy()
            col[rows[got]] = scores[got, k]
            t[c] = col
        src = t["context_source"].to_numpy(dtype=object).copy()
        src[rows[got]] = "recomputed"
        t["context_source"] = src
        if record and got.any() and not ledger.readonly:
            new_rows = []
            for r, s in zip(rows[got], scores[got]):
                tr = t.loc[r]
                key = f"trade:{int(tr['trade_id'])}" if "trade_id" in t.columns else f"trade:{tr['symbol']}:{int(tr['entry_ts_ms'])}"
                new_rows.append(entry_row(key, int(tr["entry_ts_ms"]), tr["symbol"], tr["strategy_id"], int(tr["side"]),
                                          s, source="recomputed"))
                new_rows.append(close_row(key, int(tr["exit_ts_ms"]), float(tr["net_pnl_usd"]),
                                          _num(tr["net_return"])))
            record_signal_outcomes(ledger, new_rows)
            logger.info("recomputed the entry signals of %d trades from the market store (logged)", int(got.sum()))
    return t
