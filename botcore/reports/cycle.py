"""One decision cycle explained: what the bot saw, what each signal said, the regime, and why.

:func:`load_cycle` reads the decision rows of one cycle (the latest by
default) from a ledger: for every symbol the outcome, the gate or rule that
decided it, the other gates that failed, the strategy, conviction, Kelly
inputs and size (``detail``), and a readable sentence
(:func:`botcore.strategy.explain`). With a market store, :func:`market_context`
rebuilds what the cycle saw from the stored data known at that time: each
symbol's snapshot (:func:`botcore.market.snapshot.snapshot_at`), the ten
signals and their aggregate (:mod:`botcore.signals.engine`) and the Hurst
regime (:func:`botcore.regime.engine.compute_regime`).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from botcore.analytics import trail
from botcore.analytics.ledger_index import cycle_index
from botcore.clock import BAR_MS, duration, utc
from botcore.ledger import Ledger
from botcore.reports.review import ms_to_utc, universe_sectors
from botcore.signals.enums import SignalParams

logger = logging.getLogger(__name__)

__all__ = ["CycleData", "MarketContext", "load_cycle", "market_context", "cycle_times", "longest_warmup_bars",
           "default_lookback_hours", "compare_with_record", "format_snapshot"]

def cycle_times(decisions: pd.DataFrame) -> np.ndarray:
    """Return the distinct cycle times of a decision trail, ascending."""
    return np.unique(decisions["ts_ms"].to_numpy(dtype=np.int64)) if len(decisions) else np.empty(0, np.int64)


def longest_warmup_bars(params: SignalParams = SignalParams(), regime_window: int = 256) -> int:
    """Return the longest history any configured signal (or the Hurst regime) reads, in 1m bars.

    A signal's history is the largest of its ``*_bars`` parameters (window,
    minimum periods, slow span); the trend's slow EMA is ``slow_factor`` times its
    long span.
    """
    longest = int(regime_window)
    for group in params:
        values = group._asdict()
        longest = max([longest, *(int(v) for k, v in values.items() if k.endswith("_bars"))])
        if "slow_factor" in values:
            longest = max(longest, int(values["slow_factor"]) * int(values.get("span_long_bars", 0)))
    return longest


def history_start_ms(meta: dict[str, Any]) -> int | None:
    """Return when the run's signal history began (a replay's warm-up start), or None when the ledger does not say."""
    replay = meta.get("replay")
    if isinstance(replay, dict) and replay.get("warmup_ms") is not None:
        return int(replay["warmup_ms"])
    return None


def default_lookback_hours(t_ms: int, meta: dict[str, Any] | None = None, *, settings: Any = None) -> float:
    """Return the look-back that reproduces the decision at ``t_ms``: the longest signal history, in hours.

    When the ledger says where the run's history began (a replay's warm-up),
    the look-back stops there: the engine saw no bar before it, and neither may
    the recomputation.
    """
    window = settings.regime.window if settings is not None and hasattr(settings, "regime") else 256
    bars = longest_warmup_bars(regime_window=window)
    start = history_start_ms(meta or {})
    if start is not None:
        bars = min(bars, max(1, (int(t_ms) - start) // BAR_MS))
    return bars * BAR_MS / 3_600_000


@dataclass
class CycleData:
    """The ledger's record of one cycle."""

    ledger_path: str
    ts_ms: int
    n_cycles: int
    rows: pd.DataFrame          # one row per symbol: outcome, reason, gates, detail fields, explanation
    outcomes: pd.Series         # count per outcome name
    equity: dict[str, Any] | None
    fills: pd.DataFrame         # fills booked by this cycle (until the next one)
    positions: pd.DataFrame     # the ledger's positions now (the table keeps no history)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def when(self) -> str:
        return ms_to_utc(self.ts_ms)


def load_cycle(ledger_path: str | os.PathLike, cycle_ts_ms: int | None = None, *, settings: Any = None) -> CycleData:
    """Read one cycle of a ledger (read-only): the latest one, or the one at ``cycle_ts_ms``.

    Raises
    ------
    LookupError
        When the ledger holds no decisions, or none at ``cycle_ts_ms``.
    """
    with Ledger.open(ledger_path, readonly=True) as ledger:  # validates the file and its schema first
        index = cycle_index(ledger_path, cycle_ts_ms)
        if index.latest_ms is None:
            raise LookupError(f"ledger {ledger_path} has no decisions: no cycle to report")
        ts = index.latest_ms if cycle_ts_ms is None else int(cycle_ts_ms)
        if not index.exists:
            raise LookupError(f"ledger {ledger_path} has no cycle at {ts} ({ms_to_utc(ts)})")
        until = index.next_ms
        with ledger.snapshot():  # only this cycle's rows (and what it booked) are read
            decisions = ledger.decisions(since_ms=ts)
            equity = ledger.equity(since_ms=ts)
            fills = ledger.fills(since_ms=ts)
            positions = ledger.positions()
            meta = {r.key: json.loads(r.value) for r in ledger.table("meta").itertuples()}
    rows = decisions[decisions["ts_ms"] == ts].reset_index(drop=True)
    if until is not None:
        fills = fills[fills["ts_ms"] < until]
        eq_rows = equity[(equity["ts_ms"] >= ts) & (equity["ts_ms"] < until)]
    else:
        eq_rows = equity[equity["ts_ms"] >= ts]
    equity_row = None if eq_rows.empty else eq_rows.iloc[0].to_dict()
    details = trail.decision_details(rows)
    sectors = universe_sectors(settings)
    details["sector"] = [sectors.get(s, "unknown") for s in details["symbol"]]
    details["gate"] = [r if r != o else "" for o, r in zip(details["outcome_name"], details["reason_name"])]
    details["other_gates"] = [", ".join(n for n in trail.mask_reason_names(m) if n != r)
                              for m, r in zip(details["reason_mask"], details["reason_name"])]
    details["explanation"] = trail.explain_rows(rows)
    outcomes = details["outcome_name"].value_counts()
    return CycleData(
        ledger_path=str(ledger_path), ts_ms=ts, n_cycles=index.n_cycles, rows=details, outcomes=outcomes,
        equity=equity_row, fills=fills.reset_index(drop=True),
        positions=positions, meta=meta,
    )


@dataclass
class MarketContext:
    """What the market store says the cycle saw."""

    t_ms: int
    snapshot: pd.DataFrame      # one row per symbol: prices, book, funding, OI, taker, sentiment, missing inputs
    scores: pd.DataFrame        # symbol x signal score (NaN unless the status is OK)
    statuses: pd.DataFrame      # symbol x signal status name
    aggregate: pd.DataFrame     # symbol: direction, conviction, tradable, live signals
    regime: pd.DataFrame        # symbol: Hurst, smoothed Hurst, regime name
    notes: list[str]


def _snapshot_row(snap: Any) -> dict[str, Any]:
    c1 = snap.candles.get("1m")
    return {
        "last_close": float(c1.close[-1]) if c1 is not None else np.nan,
        "mark_price": snap.mark_price if snap.mark_price is not None else np.nan,
        "best_bid": snap.best_bid if snap.best_bid is not None else np.nan,
        "best_ask": snap.best_ask if snap.best_ask is not None else np.nan,
        "spread_bps": snap.spread_bps if snap.spread_bps is not None else np.nan,
        "funding_rate_8h": snap.funding_rate if snap.funding_rate is not None else np.nan,
        "next_funding": ms_to_utc(snap.next_funding_ts_ms),
        "oi_usd": snap.oi_usd if snap.oi_usd is not None else np.nan,
        "taker_buy_ratio": snap.taker_buy_ratio if snap.taker_buy_ratio is not None else np.nan,
        "fear_greed": snap.fear_greed if snap.fear_greed is not None else np.nan,
        "social_tone": snap.social_tone if snap.social_tone is not None else np.nan,
        "missing": ", ".join(sorted(snap.missing)) or "-",
    }


def market_context(data_dir: str | os.PathLike, symbols: list[str], t_ms: int, *, settings: Any = None,
                   lookback_hours: float | None = None, meta: dict[str, Any] | None = None) -> MarketContext:
    """Rebuild the cycle at ``t_ms`` from a market store: snapshots, signals, aggregate and regime.

    Only rows known at ``t_ms`` are read. Signals run over ``lookback_hours``
    of 1-minute bars ending at the last bar closed by ``t_ms`` (None: the
    :func:`default_lookback_hours` that reproduces the decision, from the
    ledger's ``meta``); a signal whose window is longer reports ``WARMING_UP``
    (shown, never filled in). Symbols the store lacks are listed in ``notes`` and left out.
    """
    from botcore.config import load_settings
    from botcore.config.models import SIGNAL_NAMES
    from botcore.market.snapshot import snapshot_at
    from botcore.market.store import Store
    from botcore.regime.engine import compute_regime
    from botcore.regime.enums import REGIME_LABELS
    from botcore.signals.engine import aggregate, compute_signals, load_inputs
    from botcore.signals.enums import STATUS_NAMES

    if settings is None or isinstance(settings, (str, os.PathLike)):
        settings = load_settings(os.fspath(settings)) if settings is not None else load_settings()
    if lookback_hours is None:
        lookback_hours = default_lookback_hours(t_ms, meta, settings=settings)
    store = Store(data_dir)
    notes: list[str] = []
    known = set(store.symbols("candles_1m"))
    present = [s for s in symbols if s in known]
    if len(present) < len(symbols):
        notes.append(f"not in the store {data_dir}: {', '.join(s for s in symbols if s not in known)}")
    t_ms = int(t_ms)
    snaps = {}
    for s in present:
        snaps[s] = _snapshot_row(snapshot_at(store, s, t_ms, settings))
    snapshot = pd.DataFrame.from_dict(snaps, orient="index")
    snapshot.index.name = "symbol"
    end = t_ms // BAR_MS * BAR_MS
    start = end - int(lookback_hours * 3_600_000) // BAR_MS * BAR_MS
    empty = pd.DataFrame(index=pd.Index(present, name="symbol"))
    if not present:
        return MarketContext(t_ms, snapshot, empty, empty, empty, empty, notes)
    grid, inputs = load_inputs(store, present, start, end, settings.signals)
    out = compute_signals(inputs)
    last = len(grid) - 1
    out_score, out_confidence, out_status = np.asarray(out.score), np.asarray(out.confidence), np.asarray(out.status)
    agg = aggregate(type(out)(out_score[last], out_confidence[last], out_status[last]), settings.signals)
    status = np.asarray(out_status[last])
    score = np.where(status == 0, np.asarray(out_score[last]), np.nan)
    scores = pd.DataFrame(score, index=pd.Index(present, name="symbol"), columns=list(SIGNAL_NAMES))
    statuses = pd.DataFrame([[STATUS_NAMES.get(int(v), str(v)) for v in row] for row in status],
                            index=scores.index, columns=list(SIGNAL_NAMES))
    aggregate_df = pd.DataFrame({
        "direction": np.asarray(agg.direction, dtype=int), "conviction": np.asarray(agg.conviction, dtype=float),
        "tradable": np.asarray(agg.tradable, dtype=bool), "live_signals": np.asarray(agg.n_live, dtype=int),
    }, index=scores.index)
    close = pd.DataFrame(inputs.close, index=pd.Index(grid, name="ts"), columns=present)
    reg = compute_regime(close, settings.regime)
    regime = pd.DataFrame({
        "hurst": reg.hurst.iloc[-1].to_numpy(), "hurst_smooth": reg.hurst_smooth.iloc[-1].to_numpy(),
        "regime": [REGIME_LABELS.get(int(c), str(c)) for c in reg.regime.iloc[-1].to_numpy()],
    }, index=scores.index)
    if (reg.regime.iloc[-1] < 0).any():
        notes.append(f"regime unknown (warming up) where the {lookback_hours:g} h look-back is too short "
                     f"for the Hurst window ({settings.regime.window} bars) and its smoothing")
    notes.append(f"signals recomputed over {duration(end - start)} of 1m bars, {utc(start, suffix=False)} .. "
                 f"{utc(end)} ({lookback_hours:,.1f} h look-back)")
    return MarketContext(t_ms, snapshot, scores, statuses, aggregate_df, regime, notes)


def compare_with_record(ctx: MarketContext, rows: pd.DataFrame, *, tol: float = 1e-3) -> pd.DataFrame:
    """Return, per symbol, the recorded and recomputed direction and conviction, whether they match, and why not.

    ``rows`` is :attr:`CycleData.rows`. A mismatch is explained by the first
    cause found: signals still warming up or without data in the recomputation,
    a decision that recorded no aggregate, or (otherwise) the size of the difference.
    """
    recorded = rows.set_index("symbol")[["direction", "conviction"]]
    out = []
    for symbol, agg in ctx.aggregate.iterrows():
        rec_dir, rec_conv = (recorded.loc[symbol, "direction"], recorded.loc[symbol, "conviction"]) \
            if symbol in recorded.index else (np.nan, np.nan)
        new_dir, new_conv = int(agg["direction"]), float(agg["conviction"])
        statuses = ctx.statuses.loc[symbol] if symbol in ctx.statuses.index else pd.Series(dtype=object)
        warming = [s for s, v in statuses.items() if v == "WARMING_UP"]
        missing = [s for s, v in statuses.items() if v not in ("OK", "WARMING_UP")]
        if pd.isna(rec_dir) or pd.isna(rec_conv):
            match, reason = "—", "the decision recorded no aggregate (nothing to compare)"
        elif int(rec_dir) == new_dir and abs(float(rec_conv) - new_conv) <= tol:
            match, reason = "yes", ""
        elif warming:
            match, reason = "no", (f"signals still warming up in the recomputation: {', '.join(warming)} "
                                   "(the look-back is shorter than their window: pass a longer --lookback-hours)")
        elif missing:
            match, reason = "no", f"signals without data in the recomputation: {', '.join(missing)}"
        else:
            match, reason = "no", (f"conviction differs by {new_conv - float(rec_conv):+.3f} with every signal live: "
                                   "the engine ran on other weights or parameters (learned version, overrides) "
                                   "or on a different history")
        out.append({"symbol": symbol, "recorded_direction": _direction(rec_dir), "recomputed_direction": _direction(new_dir),
                    "recorded_conviction": rec_conv, "recomputed_conviction": new_conv,
                    "matches the recorded decision": match, "reason": reason})
    return pd.DataFrame(out).set_index("symbol") if out else pd.DataFrame()


def _direction(value: Any) -> str:
    if value is None or pd.isna(value):
        return "—"
    return {1: "long", -1: "short", 0: "flat"}.get(int(value), str(value))


def format_snapshot(snapshot: pd.DataFrame) -> pd.DataFrame:
    """Return the snapshot as a person reads it: prices to 6 significant digits, USD with separators, % and bps."""
    def num(fmt: str):
        return lambda v: "missing" if v is None or pd.isna(v) else fmt.format(v)

    out = snapshot.copy()
    formats = {"last_close": num("{:,.6g}"), "mark_price": num("{:,.6g}"), "best_bid": num("{:,.6g}"),
               "best_ask": num("{:,.6g}"), "spread_bps": num("{:.1f} bps"), "funding_rate_8h": lambda v: "missing"
               if pd.isna(v) else f"{100 * v:+.4f}%", "oi_usd": num("${:,.0f}"), "taker_buy_ratio": num("{:.3f}"),
               "fear_greed": num("{:.0f}"), "social_tone": num("{:+.2f}")}
    for column, fmt in formats.items():
        if column in out.columns:
            out[column] = [fmt(v) for v in out[column]]
    return out.rename(columns={"last_close": "last close", "mark_price": "mark", "best_bid": "bid", "best_ask": "ask",
                               "spread_bps": "spread", "funding_rate_8h": "funding (8h)", "next_funding": "next funding",
                               "oi_usd": "open interest", "taker_buy_ratio": "taker buy ratio",
                               "fear_greed": "fear & greed", "social_tone": "social tone",
                               "missing": "missing inputs"})
