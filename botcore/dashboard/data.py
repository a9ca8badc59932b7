"""The dashboard's numbers: one read-only snapshot of the ledger, computed without Panel.

:func:`load_snapshot` opens the ledger read-only, reads every table it needs
inside one :meth:`botcore.ledger.Ledger.snapshot` and returns a frozen
:class:`Snapshot` of ready-to-show frames and figures. :func:`health_payload`
turns a snapshot into the JSON of the ``/health`` endpoint. The views only
format what is here; the maths lives here or in :mod:`botcore`.

Ledger conventions read here
----------------------------
Written by the engine, operations and the learning system; each is optional
and has a fallback, so a fresh or partial ledger renders.

=============================  ===============================================================
``meta mode``                  ``paper``, ``demo`` or ``live`` (else the config's ``venue.mode``)
``flag kill_switch``           the kill switch (``Ledger.set_flag``); the only key the dashboard writes
``meta marks``                 ``{"ts_ms": int, "prices": {symbol: mark}}`` (else the last fill price)
``meta position_state``        ``{symbol: {"stop_price", "trail_stop_price", ...}}`` (else config exits)
``meta circuit_breaker``       ``{"code": Breaker.*, "until_ms": int}`` (else the last cycle's decisions)
``meta preflight``             ``{"ts_ms": int, "results": [{"check", "status", "detail"}]}`` (else "not run")
``params allocation``          ``{strategy: fraction}`` (else the config's allocations)
``params bandit``              ``{strategy: {"alpha": a, "beta": b}}`` (else prior + closed-trade wins/losses)
``params learning``            ``{"weights": {signal: weight}, ...}``, one version per learning cycle (else the config prior)
``params benched_symbols``     ``{symbol: {"reason", "since_ms", "until_ms"}}`` or ``{"symbols": [...]}``;
                               every version: the benchings over time (:mod:`botcore.learning.history`)
``decisions`` reason benched   the entries a bench held back (cycles, would-be entries)
``flag benched:<symbol>``      a benched symbol too
``heartbeats``                 ``engine`` (detail ``cycle_ms`` optional) and ``feed*`` components
=============================  ===============================================================
"""

from __future__ import annotations

import functools
import json
import logging
import math
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from botcore.analytics.metrics import daily_equity
from botcore.analytics.trail import binding_gates
from botcore.clock import DAY_MS, duration
from botcore.config import SIGNAL_NAMES, STRATEGY_NAMES, Settings, load_settings
from botcore.errors import LedgerError
from botcore.ledger import Ledger, now_ms
from botcore.market.store import Store
from botcore.model.enums import PositionSide, TradeCloseReason
from botcore.ops.heartbeat import beat_wall_ms
from botcore.strategy.enums import REASON_TEXT, Breaker, Reason, mask_names, reason_name

logger = logging.getLogger(__name__)

DECISION_WINDOW_MS = DAY_MS
#: equity points sent to the browser at most (the drawdown figures use every point)
MAX_CURVE_POINTS = 4_000
#: closed trades needed before the learning system and the win-rate gate trust the statistics
DEFAULT_BURN_IN_TRADES = 30
BREAKER_CODES: dict[str, int] = {
    "session": Reason.circuit_breaker_session,
    "daily": Reason.circuit_breaker_daily,
    "drawdown": Reason.circuit_breaker_drawdown,
}
_BREAKER_BY_KERNEL_CODE = {Breaker.session: "session", Breaker.daily: "daily", Breaker.drawdown: "drawdown"}
_CLOSE_REASON_NAMES = {int(r): r.name.lower() for r in TradeCloseReason}
_SIDE_NAMES = {1: "long", -1: "short"}
UNKNOWN_AGE = "aged/unknown"
#: heartbeat statuses of a healthy component (``starting``: compiling; ``idle``: a quiet market)
HEALTHY_BEATS = frozenset({"ok", "idle", "starting"})


# ============================================================================ the snapshot


@dataclass(frozen=True)
class PnL:
    """P&L of one period (today or since start), USD.

    ``net_realized_usd = realized_usd - fees_usd + funding_usd``; ``change_usd``
    is the equity change over the period (it includes the unrealised P&L).
    """

    realized_usd: float
    fees_usd: float
    funding_usd: float
    net_realized_usd: float
    unrealized_usd: float
    change_usd: float
    n_trades: int
    n_wins: int

    @property
    def win_rate(self) -> float:
        """Return the share of closed trades with a positive net P&L (NaN without trades)."""
        return self.n_wins / self.n_trades if self.n_trades else math.nan


@dataclass(frozen=True)
class Snapshot:
    """Everything the dashboard shows, read at ``generated_ms`` from one ledger snapshot."""

    ledger_path: str
    generated_ms: int
    error: str | None
    mode: str
    starting_cash_usd: float
    cash_usd: float
    equity_usd: float
    equity_ts_ms: int | None
    today: PnL
    since_start: PnL
    max_drawdown_pct: float
    drawdown_pct: float
    curve: pd.DataFrame
    positions: pd.DataFrame
    trades: pd.DataFrame
    why_not: pd.DataFrame
    gate_counts: pd.DataFrame
    outages: pd.DataFrame
    last_cycle_ts_ms: int | None
    allocation: pd.DataFrame
    bandit: pd.DataFrame
    kelly: pd.DataFrame
    strategy_stats: pd.DataFrame
    weights: pd.DataFrame
    benched: pd.DataFrame
    bench_history: pd.DataFrame
    heartbeats: pd.DataFrame
    heartbeat_age_s: float | None
    cycle_ms: float | None
    breakers: pd.DataFrame
    kill_switch: bool
    kill_switch_ts_ms: int | None
    preflight: pd.DataFrame | None
    preflight_ts_ms: int | None
    burn_in_trades: int
    invariant_ok: bool | None
    invariant_cash_diff_usd: float
    status: str
    problems: tuple[str, ...] = field(default=())
    #: ``simulated`` (a replay: its latest cycle's time) or ``wall`` (a live run: the wall clock)
    clock: str = "wall"
    #: the run's own "now", ms UTC: today, ages, breakers and decision windows are judged on it
    now_ms: int = 0
    #: net P&L per UTC day (equity change, unrealised included): ``day``, ``pnl_usd``
    daily_pnl: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["day", "pnl_usd"]))
    #: the market store the run traded (a replay's data, a live run's recording), or None
    market_root: str | None = None

    @property
    def is_replay(self) -> bool:
        """Return True when the ledger is a replay's (its clock is simulated)."""
        return self.clock == "simulated"

    @property
    def n_trades(self) -> int:
        """Return the number of closed trades."""
        return self.since_start.n_trades

    @property
    def burn_in_phase(self) -> str:
        """Return "burn-in k/N" until N closed trades, then "past burn-in"."""
        n = self.since_start.n_trades
        return f"burn-in {n}/{self.burn_in_trades}" if n < self.burn_in_trades else "past burn-in"

    @property
    def active_breakers(self) -> list[str]:
        """Return the names of the tripped circuit breakers."""
        return self.breakers.loc[self.breakers["tripped"], "breaker"].tolist()


# ============================================================================ loading


def load_snapshot(
    path: str | Path,
    settings: Settings | None = None,
    *,
    now: int | None = None,
    check_invariant: bool = True,
) -> Snapshot:
    """Read the ledger at ``path`` read-only and compute every figure of the dashboard.

    A missing or unreadable ledger yields the snapshot of an empty one with
    ``error`` set, so the views still render.

    Parameters
    ----------
    path : path-like
        The ledger's SQLite file.
    settings : Settings, optional
        The configuration (universe, allocations, exits, schedules); without it
        the fallbacks that need it are left empty.
    now : int, optional
        The wall-clock time in milliseconds UTC (tests pin it). A replay's
        figures are judged on its own simulated clock (:func:`run_clock`);
        heartbeats always on the wall clock (they prove the process lives).
    check_invariant : bool
        Also run the ledger invariant check.
    """
    now = now_ms() if now is None else int(now)
    error = None
    try:
        ledger = Ledger.open(path, readonly=True)
    except LedgerError as exc:
        error = str(exc)
        ledger = Ledger.open(_empty_ledger_path(), readonly=True)
    try:
        raw = _read(ledger, now, check_invariant=check_invariant)
    finally:
        ledger.close()
    return _compute(raw, str(path), settings, now, error)


_EMPTY_LOCK = threading.Lock()
_EMPTY_PATH: Path | None = None


def _empty_ledger_path() -> Path:
    """Return a fresh empty ledger (made once per process) to stand in for a missing one."""
    global _EMPTY_PATH
    with _EMPTY_LOCK:
        if _EMPTY_PATH is None or not _EMPTY_PATH.exists():
            path = Path(tempfile.mkdtemp(prefix="botcore-dashboard-")) / "empty.sqlite"
            Ledger.open(path).close()
            _EMPTY_PATH = path
        return _EMPTY_PATH


@dataclass
class _Raw:
    """The ledger's tables as read in one snapshot."""

    meta: dict[str, tuple[Any, int]]
    clock: str
    run_now: int
    starting_cash: float
    cash: float
    trades: pd.DataFrame
    fills_today: pd.DataFrame
    position_rows: pd.DataFrame
    funding: pd.DataFrame
    equity: pd.DataFrame
    positions: dict
    decisions: pd.DataFrame
    heartbeats: pd.DataFrame
    params: pd.DataFrame
    bench_decisions: pd.DataFrame
    invariant: Any


def run_clock(meta: Mapping[str, tuple[Any, int]], equity: pd.DataFrame, wall_now: int) -> tuple[str, int]:
    """Return the run's clock and its "now": ``("simulated", t)`` for a replay, ``("wall", wall_now)`` otherwise.

    A replay (``meta replay`` written by :func:`botcore.engine.loop.replay_loop`)
    lives on simulated time: its now is its latest cycle (``meta marks``, else
    the latest equity snapshot, else the replay's start).
    """
    replay = meta.get("replay", (None, 0))[0]
    if not isinstance(replay, Mapping):
        return "wall", int(wall_now)
    marks = meta.get("marks", (None, 0))[0]
    candidates = [int(marks["ts_ms"])] if isinstance(marks, Mapping) and marks.get("ts_ms") is not None else []
    if len(equity):
        candidates.append(int(equity["ts_ms"].iloc[-1]))
    if not candidates and replay.get("start_ms") is not None:
        candidates.append(int(replay["start_ms"]))
    return ("simulated", max(candidates)) if candidates else ("wall", int(wall_now))


def _read(ledger: Ledger, wall_now: int, *, check_invariant: bool) -> _Raw:
    with ledger.snapshot():
        meta_frame = ledger.table("meta")
        meta = {k: (json.loads(v), int(t)) for k, v, t in meta_frame[["key", "value", "updated_ts_ms"]].itertuples(False)}
        started = "starting_cash_usd" in meta
        params = ledger.list_params()
        equity = ledger.equity()
        clock, now = run_clock(meta, equity, wall_now)
        return _Raw(
            meta=meta,
            clock=clock,
            run_now=now,
            starting_cash=ledger.starting_cash() if started else math.nan,
            cash=ledger.cash() if started else math.nan,
            trades=ledger.trades(),
            fills_today=ledger.fills(since_ms=now - now % DAY_MS),
            position_rows=ledger.positions(include_flat=True),
            funding=ledger.funding(),
            equity=equity,
            positions=ledger.open_positions(),
            decisions=_recent_decisions(ledger, now),
            heartbeats=ledger.last_heartbeats(),
            params=params,
            bench_decisions=_bench_decisions(ledger, params),
            invariant=ledger.check_invariant() if check_invariant and started else None,
        )


def _bench_decisions(ledger: Ledger, params: pd.DataFrame) -> pd.DataFrame:
    """Return the decision rows a bench held back: of each symbol ever benched, from its first bench, reason benched."""
    frames = []
    if _has_benchings(params):
        from botcore.learning.history import bench_history, bench_periods  # importing botcore.learning takes seconds

        periods = bench_periods(bench_history(params))
        frames = [ledger.decisions(int(since), symbol=symbol)
                  for symbol, since in periods.groupby("symbol")["since_ms"].min().items()]
        frames = [f[f["reason_code"] == Reason.benched] for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["ts_ms", "symbol", "reason_code", "reason_mask", "detail"])


def _has_benchings(params: pd.DataFrame) -> bool:
    return bool(len(params)) and bool((params["kind"] == "benched_symbols").any())


def _recent_decisions(ledger: Ledger, now: int) -> pd.DataFrame:
    """Return the last 24 h of decisions; when there are none, the 24 h before the latest one."""
    frame = ledger.decisions(now - DECISION_WINDOW_MS)
    if len(frame):
        return frame
    for lookback_ms in (7 * DAY_MS, 60 * DAY_MS, None):
        since = None if lookback_ms is None else now - lookback_ms
        frame = ledger.decisions(since)
        if len(frame):
            start = int(frame["ts_ms"].max()) - DECISION_WINDOW_MS
            if since is not None and start < since:
                frame = ledger.decisions(start)
            return frame[frame["ts_ms"] >= start].reset_index(drop=True)
    return frame


# ============================================================================ computing


def _compute(raw: _Raw, path: str, settings: Settings | None, wall_now: int, error: str | None) -> Snapshot:
    meta = {k: v for k, (v, _) in raw.meta.items()}
    now = raw.run_now
    mode = str(meta.get("mode") or (settings.venue.mode if settings else "paper")).lower()
    start = raw.starting_cash
    day_start = now - now % DAY_MS

    equity_usd, equity_ts = _current_equity(raw)
    curve, max_dd, dd_now = equity_curve(raw.equity, start)
    unrealized_now = float(raw.equity["unrealized_pnl_usd"].iloc[-1]) if len(raw.equity) else 0.0
    since_start = _pnl(raw, None, unrealized_now, equity_usd - start)
    before_today = raw.equity[raw.equity["ts_ms"] < day_start]
    day_open = float(before_today["equity_usd"].iloc[-1]) if len(before_today) else start
    today = _pnl(raw, day_start, unrealized_now, equity_usd - day_open)

    marks = meta.get("marks") or {}
    positions = positions_frame(raw.positions, raw.fills_today, marks.get("prices", {}) if isinstance(marks, dict) else {},
                                meta.get("position_state") or {}, settings, now)
    trades = trades_frame(raw.trades)
    overrides = {**(meta.get("live") or {}).get("params_overrides", {}),
                 **(meta.get("replay") or {}).get("params_overrides", {})}
    why_not, gate_counts, outages, last_cycle = decision_views(raw.decisions, settings, now, overrides)
    heartbeats, hb_age, cycle_ms = heartbeat_frame(raw.heartbeats, settings, wall_now)
    breakers = breaker_frame(meta.get("circuit_breaker"), raw.decisions, now)
    kill_value, kill_ts = raw.meta.get("flag:kill_switch", (False, None))
    preflight, preflight_ts = preflight_frame(meta.get("preflight"))
    burn_in = settings.sizing.min_trades_for_stats if settings else DEFAULT_BURN_IN_TRADES
    inv = raw.invariant

    snap = Snapshot(
        ledger_path=path,
        generated_ms=wall_now,
        error=error,
        mode=mode,
        starting_cash_usd=start,
        cash_usd=raw.cash,
        equity_usd=equity_usd,
        equity_ts_ms=equity_ts,
        today=today,
        since_start=since_start,
        max_drawdown_pct=max_dd,
        drawdown_pct=dd_now,
        curve=curve,
        positions=positions,
        trades=trades,
        why_not=why_not,
        gate_counts=gate_counts,
        outages=outages,
        last_cycle_ts_ms=last_cycle,
        allocation=allocation_frame(_active(raw.params, "allocation"), settings),
        bandit=bandit_frame(_active(raw.params, "bandit"), raw.trades, settings),
        kelly=kelly_frame(raw.decisions),
        strategy_stats=strategy_stats(raw.trades),
        weights=weights_frame(raw.params, settings),
        benched=benched_frame(_active(raw.params, "benched_symbols"), raw.meta),
        bench_history=bench_history_frame(raw.params, raw.bench_decisions),
        heartbeats=heartbeats,
        heartbeat_age_s=hb_age,
        cycle_ms=cycle_ms,
        breakers=breakers,
        kill_switch=bool(kill_value),
        kill_switch_ts_ms=kill_ts if kill_value else None,
        preflight=preflight,
        preflight_ts_ms=preflight_ts,
        burn_in_trades=burn_in,
        invariant_ok=None if inv is None else bool(inv.ok),
        invariant_cash_diff_usd=0.0 if inv is None else float(inv.cash_diff_usd),
        status="ok",
        clock=raw.clock,
        now_ms=now,
        daily_pnl=daily_pnl_frame(raw.equity, start),
        market_root=market_root(meta, path),
    )
    return _assessed(snap, settings)


def _assessed(snap: Snapshot, settings: Settings | None) -> Snapshot:
    status, problems = assess(snap, settings)
    return replace(snap, status=status, problems=tuple(problems))


def with_invariant(snap: Snapshot, ok: bool, cash_diff_usd: float, settings: Settings | None) -> Snapshot:
    """Return ``snap`` with an invariant result checked elsewhere (the cache checks it in the background)."""
    return _assessed(replace(snap, invariant_ok=ok, invariant_cash_diff_usd=cash_diff_usd), settings)


def daily_pnl_frame(equity: pd.DataFrame, starting_cash_usd: float) -> pd.DataFrame:
    """Return the net P&L of each UTC day: the change of the day's closing equity (unrealised included)."""
    if not len(equity):
        return pd.DataFrame({"day": pd.Series([], dtype="datetime64[ns]"), "pnl_usd": pd.Series([], dtype=float)})
    start = starting_cash_usd if math.isfinite(starting_cash_usd) else float(equity["equity_usd"].iloc[0])
    closes = daily_equity(equity[["ts_ms", "equity_usd"]], start)
    return pd.DataFrame({"day": closes.index[1:], "pnl_usd": closes.diff().to_numpy()[1:]})


def market_root(meta: Mapping[str, Any], ledger_path: str) -> str | None:
    """Return the market store of the run: a replay's ``data``, else the live run's ``<ledger>.market`` if present."""
    replay = meta.get("replay")
    if isinstance(replay, Mapping) and replay.get("data"):
        return str(replay["data"])
    recorded = Path(f"{ledger_path}.market")
    return str(recorded) if recorded.is_dir() else None


def price_history(root: str | None, symbol: str, start_ms: int, end_ms: int, timeframe: str = "5m") -> pd.DataFrame:
    """Return ``time, close`` of ``symbol``'s closed ``timeframe`` bars in the store at ``root`` (empty without one)."""
    empty = pd.DataFrame({"time": pd.Series([], dtype="datetime64[ms, UTC]"), "close": pd.Series([], dtype=float)})
    if not root or not Path(root).is_dir():
        return empty
    return _price_history(root, symbol, int(start_ms), int(end_ms), timeframe).copy()


@functools.lru_cache(maxsize=64)
def _price_history(root: str, symbol: str, start_ms: int, end_ms: int, timeframe: str) -> pd.DataFrame:
    try:
        bars = Store(root).candles(symbol, timeframe, start_ms, end_ms)
    except Exception as exc:  # noqa: BLE001 - a chart without prices is still a chart of the trades
        logger.warning("dashboard: no prices of %s in %s (%s)", symbol, root, exc)
        bars = pd.DataFrame({"ts": [], "close": []})
    return pd.DataFrame({"time": pd.to_datetime(bars["ts"].to_numpy(dtype=np.int64), unit="ms", utc=True),
                         "close": bars["close"].to_numpy(dtype=float)})


def trade_marks(trades: pd.DataFrame, positions: pd.DataFrame, symbol: str) -> dict[str, pd.DataFrame]:
    """Return the bot's marks on ``symbol``'s chart: ``entries``, ``exits``, ``stops`` (exits by a stop) and open ``levels``.

    ``trades`` is :func:`trades_frame` output (with ``entry_ts_ms``), ``positions``
    :func:`positions_frame` output; entries and exits carry ``time, price, side, text``.
    """
    mine = trades[trades["symbol"] == symbol] if len(trades) else trades
    entry_t = mine["entry_ts_ms"].dropna().astype("int64") if len(mine) else pd.Series([], dtype="int64")
    entries = pd.DataFrame({
        "time": pd.to_datetime(entry_t.to_numpy(), unit="ms", utc=True),
        "price": mine.loc[entry_t.index, "entry_price"].to_numpy(dtype=float) if len(mine) else [],
        "side": mine.loc[entry_t.index, "side"].to_numpy(dtype=object) if len(mine) else [],
        "text": [f"#{i} {s} entry" for i, s in zip(mine.loc[entry_t.index, "trade_id"], mine.loc[entry_t.index, "side"])]
        if len(mine) else [],
    })
    if len(positions) and (positions["symbol"] == symbol).any():
        pos = positions[positions["symbol"] == symbol].iloc[0]
        if pos["opened"] is not pd.NaT and not pd.isna(pos["opened"]):
            entries = pd.concat([entries, pd.DataFrame({"time": [pos["opened"]], "price": [float(pos["entry_price"])],
                                                        "side": [pos["side"]], "text": [f"open {pos['side']} entry"]})],
                                ignore_index=True)
    exits = pd.DataFrame({
        "time": mine["exit_time"].to_numpy() if len(mine) else pd.Series([], dtype="datetime64[ms, UTC]"),
        "price": mine["exit_price"].to_numpy(dtype=float) if len(mine) else [],
        "side": mine["side"].to_numpy(dtype=object) if len(mine) else [],
        "reason": mine["close_reason"].to_numpy(dtype=object) if len(mine) else [],
        "text": [f"#{i} exit: {r}, net {n:+,.2f} USD" for i, r, n in
                 zip(mine["trade_id"], mine["close_reason"], mine["net_pnl_usd"])] if len(mine) else [],
    })
    is_stop = exits["reason"].astype(str).str.contains("stop") if len(exits) else pd.Series([], dtype=bool)
    levels = pd.DataFrame(columns=["name", "price"])
    if len(positions) and (positions["symbol"] == symbol).any():
        pos = positions[positions["symbol"] == symbol].iloc[0]
        levels = pd.DataFrame([{"name": n, "price": float(pos[c])} for n, c in
                               (("stop", "stop_price"), ("take profit", "take_profit_price"),
                                ("trailing stop", "trail_stop_price")) if math.isfinite(_num(pos[c]))],
                              columns=["name", "price"])
    return {"entries": entries, "exits": exits[~is_stop.to_numpy(dtype=bool)] if len(exits) else exits,
            "stops": exits[is_stop.to_numpy(dtype=bool)] if len(exits) else exits, "levels": levels}


def _current_equity(raw: _Raw) -> tuple[float, int | None]:
    """Return the latest marked equity (cash when never marked) and its time."""
    if len(raw.equity):
        last = raw.equity.iloc[-1]
        return float(last["equity_usd"]), int(last["ts_ms"])
    return raw.cash, None


def _pnl(raw: _Raw, since_ms: int | None, unrealized_usd: float, change_usd: float) -> PnL:
    """Sum the period's P&L: today from its fills; since start from the trades plus the open round trips.

    The second is the ledger's own cross-check (trades + positions = fills), so a
    long history needs no pass over every fill.
    """
    funding, trades = raw.funding, raw.trades
    if since_ms is not None:
        fills = raw.fills_today[raw.fills_today["ts_ms"] >= since_ms]
        funding = funding[funding["ts_ms"] >= since_ms]
        trades = trades[trades["exit_ts_ms"] >= since_ms]
        realized = float(fills["realized_pnl_usd"].sum())
        fees = float(fills["fee_usd"].sum())
    else:
        realized = float(trades["gross_pnl_usd"].sum() + raw.position_rows["realized_pnl_usd"].sum())
        fees = float(trades["fees_usd"].sum() + raw.position_rows["fees_usd"].sum())
    funding_usd = float(funding["amount_usd"].sum())
    return PnL(
        realized_usd=realized,
        fees_usd=fees,
        funding_usd=funding_usd,
        net_realized_usd=realized - fees + funding_usd,
        unrealized_usd=unrealized_usd,
        change_usd=change_usd,
        n_trades=len(trades),
        n_wins=int((trades["net_pnl_usd"] > 0).sum()),
    )


def equity_curve(equity: pd.DataFrame, starting_cash_usd: float) -> tuple[pd.DataFrame, float, float]:
    """Return the curve to plot (at most :data:`MAX_CURVE_POINTS`), the max and current drawdown.

    Drawdown is ``equity / running peak - 1`` (<= 0, a fraction), the peak
    starting at the starting cash; both figures use every snapshot.
    """
    columns = ["time", "equity_usd", "drawdown_pct"]
    if not len(equity):
        return pd.DataFrame({c: [] for c in columns}).astype({"time": "datetime64[ms, UTC]"}), 0.0, 0.0
    values = equity["equity_usd"].to_numpy(dtype=float)
    peak = np.maximum.accumulate(np.concatenate([[starting_cash_usd if math.isfinite(starting_cash_usd) else values[0]],
                                                 values]))[1:]
    drawdown = values / peak - 1.0
    ts = equity["ts_ms"].to_numpy(dtype=np.int64)
    if len(values) > MAX_CURVE_POINTS:
        # keep each bucket's lowest-drawdown point so the plotted drawdown keeps its troughs
        edges = np.linspace(0, len(values), MAX_CURVE_POINTS + 1).astype(int)
        keep = np.array([a + int(np.argmin(drawdown[a:b])) for a, b in zip(edges[:-1], edges[1:]) if b > a])
        keep = np.unique(np.concatenate([keep, [len(values) - 1]]))
        values, drawdown, ts = values[keep], drawdown[keep], ts[keep]
    curve = pd.DataFrame({"time": pd.to_datetime(ts, unit="ms", utc=True), "equity_usd": values,
                          "drawdown_pct": drawdown * 100.0})
    full_dd = equity["equity_usd"].to_numpy(dtype=float)
    full_peak = np.maximum.accumulate(np.concatenate([[peak[0] if len(peak) else full_dd[0]], full_dd]))[1:]
    dd_all = full_dd / full_peak - 1.0
    return curve, float(dd_all.min() * 100.0), float(dd_all[-1] * 100.0)


def format_age(ms: float | None) -> str:
    """Return a duration as "2d 3h", "3h 12m", "4m 5s" or "12s"; None as "aged/unknown"."""
    if ms is None or not math.isfinite(ms):
        return UNKNOWN_AGE
    return duration(ms)


def positions_frame(
    positions: Mapping[str, Any],
    fills: pd.DataFrame,
    marks: Mapping[str, float],
    state: Mapping[str, Mapping[str, float]],
    settings: Settings | None,
    now: int,
) -> pd.DataFrame:
    """Return the open positions with mark, unrealised P&L, stop, take-profit and trailing levels and age.

    The mark is ``meta marks`` when the engine wrote it, else the symbol's last
    fill price of the day (``fills``), else the entry price. Exit levels come from ``meta position_state`` when present,
    else from the configured exits and the entry price (the trailing stop then
    shows only once the mark has passed its activation level).
    """
    last_fill = fills.groupby("symbol")["price"].last() if len(fills) else pd.Series(dtype=float)
    exits = settings.exits if settings else None
    rows = []
    for symbol, pos in positions.items():
        sign = 1 if pos.side == PositionSide.LONG else -1
        mark, source = marks.get(symbol), "mark"
        if mark is None or not math.isfinite(float(mark)):
            mark, source = (last_fill[symbol], "last fill") if symbol in last_fill else (pos.avg_entry_price, "entry")
        mark = float(mark)
        entry = pos.avg_entry_price
        levels = dict(state.get(symbol) or {})
        stop = levels.get("stop_price")
        take = levels.get("take_profit_price")
        arm = levels.get("trail_activation_price")
        trail = levels.get("trail_stop_price")
        if exits is not None:
            stop = entry * (1 - sign * exits.stop_loss_pct) if stop is None else stop
            take = entry * (1 + sign * exits.take_profit_pct) if take is None else take
            arm = entry * (1 + sign * exits.trailing_activation_pct) if arm is None else arm
            if trail is None and (mark - arm) * sign >= 0:
                trail = mark * (1 - sign * exits.trailing_distance_pct)
        unrealized = pos.unrealized_pnl_usd(mark)
        held = pos.holding_ms(now)
        rows.append({
            "symbol": symbol,
            "side": _SIDE_NAMES[sign],
            "strategy": pos.strategy_id or "(adopted)",
            "qty_contracts": abs(pos.qty_contracts),
            "entry_price": entry,
            "mark_price": mark,
            "mark_source": source,
            "notional_usd": pos.notional_usd(mark),
            "unrealized_usd": unrealized,
            "unrealized_pct": 100.0 * unrealized / (entry * abs(pos.qty_base)) if entry else math.nan,
            "stop_price": _num(stop),
            "take_profit_price": _num(take),
            "trail_activation_price": _num(arm),
            "trail_stop_price": _num(trail),
            "fees_usd": pos.fees_usd,
            "funding_usd": pos.funding_usd,
            "opened": pd.NaT if pos.entry_ts_ms is None else pd.Timestamp(pos.entry_ts_ms, unit="ms", tz="UTC"),
            "age": format_age(held),
            "adopted": bool(pos.adopted),
        })
    columns = ["symbol", "side", "strategy", "qty_contracts", "entry_price", "mark_price", "mark_source",
               "notional_usd", "unrealized_usd", "unrealized_pct", "stop_price", "take_profit_price",
               "trail_activation_price", "trail_stop_price", "fees_usd", "funding_usd", "opened", "age", "adopted"]
    return pd.DataFrame(rows, columns=columns)


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def trades_frame(trades: pd.DataFrame) -> pd.DataFrame:
    """Return the closed trades, newest first, with readable side and reason, times and hold (ms)."""
    entry = trades["entry_ts_ms"]
    hold_ms = (trades["exit_ts_ms"] - entry).to_numpy(dtype=float)
    notional = (trades["entry_price"] * trades["qty_base"]).to_numpy(dtype=float)
    frame = pd.DataFrame({
        "trade_id": trades["trade_id"].astype("int64"),
        "exit_time": pd.to_datetime(trades["exit_ts_ms"].astype("int64"), unit="ms", utc=True),
        "exit_ts_ms": trades["exit_ts_ms"].astype("int64"),
        "entry_ts_ms": trades["entry_ts_ms"].astype(float),
        "symbol": trades["symbol"].astype(str),
        "side": trades["side"].map(_SIDE_NAMES).astype(str),
        "strategy": trades["strategy_id"].astype(str),
        "entry_price": trades["entry_price"].astype(float),
        "exit_price": trades["exit_price"].astype(float),
        "qty_contracts": trades["qty_contracts"].astype(float),
        "gross_pnl_usd": trades["gross_pnl_usd"].astype(float),
        "fees_usd": trades["fees_usd"].astype(float),
        "funding_usd": trades["funding_usd"].astype(float),
        "net_pnl_usd": trades["net_pnl_usd"].astype(float),
        "return_pct": 100.0 * trades["net_pnl_usd"].to_numpy(dtype=float) / np.where(notional > 0, notional, np.nan),
        "close_reason": trades["close_reason"].map(_CLOSE_REASON_NAMES).fillna("unknown").astype(str),
        "hold_ms": hold_ms,  # NaN: adopted, entry time unknown
    })
    return frame.iloc[::-1].reset_index(drop=True)


def filter_trades(
    trades: pd.DataFrame,
    *,
    symbols: Iterable[str] = (),
    strategy: str | None = None,
    side: str | None = None,
    start: Any = None,
    end: Any = None,
) -> pd.DataFrame:
    """Return the rows of :func:`trades_frame` output matching every given filter.

    ``start`` and ``end`` are dates (or datetimes) of the exit, UTC, both inclusive
    (``end`` covers its whole day when it is a date).
    """
    keep = np.ones(len(trades), dtype=bool)
    symbols = list(symbols or ())
    if symbols:
        keep &= trades["symbol"].isin(symbols).to_numpy()
    if strategy:
        keep &= (trades["strategy"] == strategy).to_numpy()
    if side:
        keep &= (trades["side"] == side).to_numpy()
    if start is not None:
        keep &= (trades["exit_time"] >= _utc(start)).to_numpy()
    if end is not None:
        stop = _utc(end)
        if stop == stop.normalize():
            stop += pd.Timedelta(days=1)
            keep &= (trades["exit_time"] < stop).to_numpy()
        else:
            keep &= (trades["exit_time"] <= stop).to_numpy()
    return trades[keep]


def _utc(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def trade_summary(trades: pd.DataFrame) -> dict[str, float]:
    """Return count, net P&L, fees, funding, win rate and profit factor of closed trades."""
    net = trades["net_pnl_usd"].to_numpy(dtype=float)
    gains, losses = float(net[net > 0].sum()), float(-net[net < 0].sum())
    return {
        "trades": len(net),
        "net_pnl_usd": float(net.sum()),
        "fees_usd": float(trades["fees_usd"].sum()),
        "funding_usd": float(trades["funding_usd"].sum()),
        "win_rate": float((net > 0).mean()) if len(net) else math.nan,
        "profit_factor": gains / losses if losses > 0 else (math.inf if gains > 0 else math.nan),
    }


def thresholds(settings: Settings | None, overrides: Mapping[str, Any] | None = None) -> dict[str, tuple[float, float]]:
    """Return each strategy's ``(min_conviction, min_expected_roi)``: the configuration, then the run's overrides."""
    out: dict[str, tuple[float, float]] = {}
    if settings is None:
        return out
    overrides = overrides or {}
    for name, cfg in settings.strategies.strategies.items():
        out[name] = (_num(overrides.get(f"min_conviction.{name}", cfg.min_conviction)),
                     _num(overrides.get(f"min_expected_roi.{name}", cfg.min_expected_roi)))
    return out


def decision_views(
    decisions: pd.DataFrame, settings: Settings | None, now: int, overrides: Mapping[str, Any] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, int | None]:
    """Return (per-symbol latest outcome, gate counts, data outages, last cycle time).

    The latest outcome names the deciding gate (``reason_code``) and the other
    gates of its mask, with :func:`botcore.strategy.enums.explain`'s sentence.
    Gate counts tally the deciding reasons of the window's skipped rows; an
    outage is a run of consecutive cycles of a symbol blocked by ``data_outage``.
    """
    universe = list(settings.universe.symbols) if settings else []
    last_cycle = int(decisions["ts_ms"].max()) if len(decisions) else None
    rows = []
    latest = decisions.groupby("symbol", sort=False).tail(1).set_index("symbol") if len(decisions) else None
    symbols = universe + sorted(set(latest.index) - set(universe)) if latest is not None else universe
    sectors = {a.symbol: a.sector for a in settings.universe.assets} if settings else {}
    limits = thresholds(settings, overrides)
    for symbol in symbols:
        if latest is None or symbol not in latest.index:
            rows.append({"symbol": symbol, "sector": sectors.get(symbol, ""), "time": pd.NaT, "age": "",
                         "outcome": "no decision yet", "strategy": "", "gate": "", "other_gates": "",
                         "why": "no decision recorded yet", "conviction": math.nan, "min_conviction": math.nan,
                         "expected_roi": math.nan, "min_expected_roi": math.nan, "kelly_f": math.nan,
                         "win_prob": math.nan, "size_usd": math.nan})
            continue
        r = latest.loc[symbol]
        outcome, reason, mask = int(r["outcome"]), int(r["reason_code"]), int(r["reason_mask"])
        detail = _detail(r["detail"])
        others = [n for n in mask_names(mask) if n != reason_name(reason)]
        rows.append({
            "symbol": symbol,
            "sector": sectors.get(symbol, ""),
            "time": pd.Timestamp(int(r["ts_ms"]), unit="ms", tz="UTC"),
            "age": format_age(now - int(r["ts_ms"])),
            "outcome": reason_name(outcome),
            "strategy": r["strategy"],
            "gate": "" if reason == outcome else reason_name(reason),
            "other_gates": ", ".join(others),
            "why": _why(outcome, reason, mask),
            "conviction": _num(detail.get("conviction")),
            "min_conviction": limits.get(r["strategy"], (math.nan, math.nan))[0],
            "expected_roi": _num(detail.get("expected_roi")),
            "min_expected_roi": limits.get(r["strategy"], (math.nan, math.nan))[1],
            "kelly_f": _num(detail.get("kelly_f")),
            "win_prob": _num(detail.get("win_prob")),
            "size_usd": _num(detail.get("size_usd")),
        })
    why_not = pd.DataFrame(rows, columns=["symbol", "sector", "time", "age", "outcome", "strategy", "gate",
                                          "other_gates", "why", "conviction", "min_conviction", "expected_roi",
                                          "min_expected_roi", "kelly_f", "win_prob", "size_usd"])

    if len(decisions):
        skipped = decisions[decisions["outcome"] == Reason.skipped]
        counts = skipped["reason_code"].value_counts()
        gate_counts = pd.DataFrame({"gate": [reason_name(c) for c in counts.index],
                                    "cycles": counts.to_numpy(dtype=int),
                                    "meaning": [REASON_TEXT.get(int(c), "") for c in counts.index]})
        # the gate that binds: symbol-cycles it held back as the only failing gate (issue 17)
        binding = binding_gates(decisions)
        gate_counts["alone"] = [int(binding["alone"].get(g, 0)) for g in gate_counts["gate"]]
        gate_counts["single"] = int(binding["single"].iloc[0]) if len(binding) else 0
        gate_counts = gate_counts.sort_values(["alone", "cycles"], ascending=False, kind="stable").reset_index(drop=True)
    else:
        gate_counts = pd.DataFrame({"gate": [], "cycles": [], "meaning": [], "alone": [], "single": []})
    return why_not, gate_counts, outage_frame(decisions, now), last_cycle


def _why(outcome: int, reason: int, mask: int) -> str:
    """Return the deciding reason's sentence (:data:`REASON_TEXT`); the other gates have their own column."""
    return REASON_TEXT.get(int(reason), reason_name(reason))


def _detail(value: Any) -> dict:
    if isinstance(value, dict):
        return value
    if not value:
        return {}
    try:
        out = json.loads(value)
    except (TypeError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}


def outage_frame(decisions: pd.DataFrame, now: int) -> pd.DataFrame:
    """Return the data outages of the window: per symbol, runs of cycles blocked by ``data_outage``."""
    columns = ["symbol", "start", "end", "cycles", "ongoing", "duration"]
    if not len(decisions):
        return pd.DataFrame({c: [] for c in columns})
    bit = 1 << Reason.data_outage
    d = decisions[["symbol", "ts_ms", "reason_code", "reason_mask"]].sort_values(["symbol", "ts_ms"], kind="stable")
    flag = ((d["reason_code"] == Reason.data_outage) | (d["reason_mask"].astype("int64") & bit != 0)).to_numpy()
    sym = d["symbol"].to_numpy()
    new_run = np.ones(len(d), dtype=bool)
    new_run[1:] = (flag[1:] != flag[:-1]) | (sym[1:] != sym[:-1])
    run = np.cumsum(new_run)
    last_of_symbol = d.groupby("symbol")["ts_ms"].transform("max").to_numpy()
    runs = pd.DataFrame({"symbol": sym, "ts": d["ts_ms"].to_numpy(), "run": run, "flag": flag,
                         "last": last_of_symbol})
    runs = runs[runs["flag"]].groupby("run").agg(symbol=("symbol", "first"), start=("ts", "min"),
                                                  end=("ts", "max"), cycles=("ts", "size"), last=("last", "first"))
    if not len(runs):
        return pd.DataFrame({c: [] for c in columns})
    out = pd.DataFrame({
        "symbol": runs["symbol"].to_numpy(),
        "start": pd.to_datetime(runs["start"].to_numpy(), unit="ms", utc=True),
        "end": pd.to_datetime(runs["end"].to_numpy(), unit="ms", utc=True),
        "cycles": runs["cycles"].to_numpy(dtype=int),
        "ongoing": (runs["end"] == runs["last"]).to_numpy(),
        "duration": [format_age(e - s) for s, e in zip(runs["start"], runs["end"])],
    })
    return out.sort_values("start", ascending=False).reset_index(drop=True)


def _active(params: pd.DataFrame, kind: str) -> dict | None:
    rows = params[(params["kind"] == kind) & (params["active"] == 1)] if len(params) else params
    return json.loads(rows["body"].iloc[-1]) if len(rows) else None


def allocation_frame(active: Mapping[str, float] | None, settings: Settings | None) -> pd.DataFrame:
    """Return each strategy's configured and active capital allocation (fractions)."""
    rows = []
    for name in STRATEGY_NAMES:
        cfg = settings.strategies.strategies.get(name) if settings else None
        configured = cfg.allocation if cfg else math.nan
        rows.append({"strategy": name, "enabled": bool(cfg.enabled) if cfg else False,
                     "configured": configured,
                     "active": _num(active.get(name)) if active else configured,
                     "source": "ledger params" if active else "config"})
    return pd.DataFrame(rows)


def bandit_frame(active: Mapping[str, Any] | None, trades: pd.DataFrame, settings: Settings | None) -> pd.DataFrame:
    """Return each strategy's Beta posterior (alpha, beta, mean) of winning.

    From ``params bandit`` when the engine wrote it, else the configured prior
    plus the closed trades' wins and losses (what the kernel's bandit learns).
    """
    prior_a = settings.strategies.bandit.prior_alpha if settings else 1.0
    prior_b = settings.strategies.bandit.prior_beta if settings else 1.0
    rows = []
    for name in STRATEGY_NAMES:
        if active and isinstance(active.get(name), Mapping):
            a, b, source = _num(active[name].get("alpha")), _num(active[name].get("beta")), "ledger params"
        else:
            mine = trades[trades["strategy_id"] == name] if len(trades) else trades
            wins = int((mine["net_pnl_usd"] > 0).sum()) if len(mine) else 0
            a, b, source = prior_a + wins, prior_b + (len(mine) - wins), "prior + trades"
        rows.append({"strategy": name, "alpha": a, "beta": b, "mean": a / (a + b) if a + b > 0 else math.nan,
                     "source": source})
    return pd.DataFrame(rows)


def kelly_frame(decisions: pd.DataFrame) -> pd.DataFrame:
    """Return each strategy's latest Kelly inputs and size from the decision trail's details."""
    columns = ["strategy", "symbol", "time", "win_prob", "kelly_f", "size_usd", "outcome"]
    if not len(decisions):
        return pd.DataFrame({c: [] for c in columns})
    recent = decisions[decisions["strategy"] != ""].groupby(["strategy", "symbol"], sort=False).tail(1)
    rows = []
    for r in recent.itertuples(index=False):
        detail = _detail(r.detail)
        if detail.get("kelly_f") is None:
            continue
        rows.append({"strategy": r.strategy, "symbol": r.symbol, "ts_ms": r.ts_ms,
                     "win_prob": _num(detail.get("win_prob")), "kelly_f": _num(detail.get("kelly_f")),
                     "size_usd": _num(detail.get("size_usd")), "outcome": reason_name(r.outcome)})
    if not rows:
        return pd.DataFrame({c: [] for c in columns})
    frame = pd.DataFrame(rows).sort_values("ts_ms").groupby("strategy").tail(1)
    frame["time"] = pd.to_datetime(frame.pop("ts_ms"), unit="ms", utc=True)
    return frame[columns].sort_values("strategy").reset_index(drop=True)


def strategy_stats(trades: pd.DataFrame) -> pd.DataFrame:
    """Return closed trades, win rate, net P&L and profit factor per strategy."""
    rows = []
    for name in sorted(set(STRATEGY_NAMES) | set(trades["strategy_id"].unique() if len(trades) else [])):
        mine = trades[trades["strategy_id"] == name]["net_pnl_usd"] if len(trades) else pd.Series(dtype=float)
        gains, losses = float(mine[mine > 0].sum()), float(-mine[mine < 0].sum())
        rows.append({"strategy": name or "(adopted)", "trades": len(mine),
                     "win_rate": float((mine > 0).mean()) if len(mine) else math.nan,
                     "net_pnl_usd": float(mine.sum()),
                     "profit_factor": gains / losses if losses > 0 else (math.inf if gains > 0 else math.nan)})
    return pd.DataFrame(rows)


def weights_frame(params: pd.DataFrame, settings: Settings | None) -> pd.DataFrame:
    """Return signal weights over time: one row per version (wide, one column per signal).

    The learning cycle stores its versions as kind ``learning`` with the weights
    under ``body["weights"]``; a plain ``signal_weights`` kind (``{signal: weight}``)
    is read too. Without any version, one row of the configured prior (``version`` 0).
    """
    rows = params[params["kind"].isin(("learning", "signal_weights"))] if len(params) else params
    records = []
    for r in rows.itertuples(index=False):
        body = json.loads(r.body)
        if r.kind == "learning":
            body = body.get("weights", {})
        records.append({"version": int(r.version), "time": pd.Timestamp(int(r.created_ts_ms), unit="ms", tz="UTC"),
                        "active": bool(r.active), "reason": r.reason, **{k: _num(v) for k, v in body.items()}})
    if not records and settings is not None:
        records.append({"version": 0, "time": pd.NaT, "active": True, "reason": "config prior",
                        **dict(settings.signals.weights)})
    signals = [s for s in SIGNAL_NAMES if any(s in rec for rec in records)]
    extra = sorted({k for rec in records for k in rec} - set(signals) - {"version", "time", "active", "reason"})
    return pd.DataFrame(records, columns=["version", "time", "active", "reason", *signals, *extra])


def benched_frame(active: Any, meta: Mapping[str, tuple[Any, int]]) -> pd.DataFrame:
    """Return the benched symbols (``params benched_symbols`` and ``flag benched:<symbol>``)."""
    rows: dict[str, dict] = {}
    body = active.get("symbols", active) if isinstance(active, Mapping) else active
    if isinstance(body, Mapping):
        for symbol, info in body.items():
            info = info if isinstance(info, Mapping) else {}
            rows[symbol] = {"symbol": symbol, "reason": str(info.get("reason", "")),
                            "since": _ts(info.get("since_ms")), "until": _ts(info.get("until_ms")),
                            "source": "learning (params)"}
    elif isinstance(body, (list, tuple)):
        for symbol in body:
            rows[str(symbol)] = {"symbol": str(symbol), "reason": "", "since": pd.NaT, "until": pd.NaT,
                                 "source": "learning (params)"}
    for key, (value, ts) in meta.items():
        if key.startswith("flag:benched:") and value:
            symbol = key.removeprefix("flag:benched:")
            rows.setdefault(symbol, {"symbol": symbol, "reason": "flag", "since": _ts(ts), "until": pd.NaT,
                                     "source": "ledger flag"})
    return pd.DataFrame(list(rows.values()), columns=["symbol", "reason", "since", "until", "source"])


def bench_history_frame(params: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """Return every benching, newest first: when it began, its probation end, its return, reasons, what it held back.

    Columns ``symbol, since, until, returned`` (NaT: still benched), ``reason``,
    ``return_reason``, ``status`` (of the version that benched it: ``active``,
    ``superseded``, ``rolled back or not activated``), ``cycles`` (held back)
    and ``would_be_entries`` (among them, entries every other gate allowed).
    """
    columns = ["symbol", "since", "until", "returned", "reason", "return_reason", "status", "cycles",
               "would_be_entries"]
    if not _has_benchings(params):
        return pd.DataFrame(columns=columns)
    from botcore.learning.history import bench_history, bench_periods

    periods = bench_periods(bench_history(params), decisions)
    frame = pd.DataFrame({
        "symbol": periods["symbol"],
        "since": [_ts(t) for t in periods["since_ms"]],
        "until": [_ts(t) for t in periods["until_ms"]],
        "returned": [_ts(t) for t in periods["returned_ms"]],
        "reason": periods["reason"], "return_reason": periods["return_reason"], "status": periods["status"],
        "cycles": periods["cycles"], "would_be_entries": periods["would_be_entries"],
    }, columns=columns)
    return frame.iloc[::-1].reset_index(drop=True)


def _ts(ms: Any) -> pd.Timestamp:
    try:
        return pd.Timestamp(int(ms), unit="ms", tz="UTC")
    except (TypeError, ValueError):
        return pd.NaT


def heartbeat_frame(
    last: pd.DataFrame, settings: Settings | None, now: int
) -> tuple[pd.DataFrame, float | None, float | None]:
    """Return (latest heartbeat per component with age and health, engine heartbeat age in s, last cycle ms).

    Ages are on the wall clock ``now``: a beat stamped with a replay's simulated
    time carries its wall time in ``detail["wall_ms"]`` (:func:`botcore.ops.heartbeat.beat_wall_ms`).
    A component is healthy when its status is live (``ok``, ``idle``, ``degraded``
    for a feed only counts as unhealthy) and its last beat is younger than
    ``missed_heartbeats_for_restart * heartbeat_seconds``.
    """
    limit_s = (settings.schedules.missed_heartbeats_for_restart * settings.schedules.heartbeat_seconds
               if settings else 60)
    rows = []
    for r in last.itertuples(index=False):
        detail = _detail(r.detail)
        wall = beat_wall_ms(int(r.ts_ms), detail)
        age_s = (now - wall) / 1000.0
        rows.append({"component": r.component, "status": r.status,
                     "last": pd.Timestamp(wall, unit="ms", tz="UTC"), "age_s": age_s,
                     "age": format_age(age_s * 1000), "healthy": r.status in HEALTHY_BEATS and age_s <= limit_s,
                     "detail": ", ".join(f"{k}={v}" for k, v in detail.items())})
    frame = pd.DataFrame(rows, columns=["component", "status", "last", "age_s", "age", "healthy", "detail"])
    if not len(frame):
        return frame, None, None
    engine = frame[frame["component"] == "engine"]
    ref = engine if len(engine) else frame
    age = float(ref["age_s"].min())
    engine = last[last["component"] == "engine"]
    cycle_ms = _num(_detail(engine["detail"].iloc[-1]).get("cycle_ms")) if len(engine) else math.nan
    return frame, age, None if math.isnan(cycle_ms) else cycle_ms


def breaker_frame(meta_breaker: Any, decisions: pd.DataFrame, now: int) -> pd.DataFrame:
    """Return the three circuit breakers (session, daily, drawdown), tripped or not, and until when.

    From ``meta circuit_breaker`` when present (tripped while ``until_ms`` is
    ahead), else from the latest cycle's decisions (a breaker code as reason or in the mask).
    """
    tripped: dict[str, int | None] = {}
    if isinstance(meta_breaker, Mapping) and meta_breaker.get("code") not in (None, Breaker.none):
        name = _BREAKER_BY_KERNEL_CODE.get(int(meta_breaker["code"]))
        until = meta_breaker.get("until_ms")
        if name and (until is None or int(until) > now):
            tripped[name] = None if until is None else int(until)
    elif len(decisions):
        last = decisions[decisions["ts_ms"] == decisions["ts_ms"].max()]
        for name, code in BREAKER_CODES.items():
            bit = 1 << code
            if ((last["reason_code"] == code) | (last["reason_mask"].astype("int64") & bit != 0)).any():
                tripped[name] = None
    return pd.DataFrame({
        "breaker": list(BREAKER_CODES),
        "tripped": [n in tripped for n in BREAKER_CODES],
        "until": [_ts(tripped.get(n)) for n in BREAKER_CODES],
        "meaning": [REASON_TEXT[c] for c in BREAKER_CODES.values()],
    })


def preflight_frame(body: Any) -> tuple[pd.DataFrame | None, int | None]:
    """Return the last preflight's checks (check, status, detail) and time, or (None, None) when not run."""
    if not isinstance(body, Mapping) or not isinstance(body.get("results"), list):
        return None, None
    rows = [{"check": str(r.get("check", r.get("name", ""))), "status": str(r.get("status", "")).upper(),
             "detail": str(r.get("detail", ""))} for r in body["results"] if isinstance(r, Mapping)]
    ts = body.get("ts_ms")
    return pd.DataFrame(rows, columns=["check", "status", "detail"]), None if ts is None else int(ts)


def assess(snap: Snapshot, settings: Settings | None) -> tuple[str, list[str]]:
    """Return the overall status (``ok``, ``degraded``, ``down``) and the problems behind it.

    ``down``: no ledger, no heartbeat, or the engine's heartbeat is older than
    the restart limit. ``degraded``: kill switch, a tripped breaker, an unhealthy
    component, an ongoing data outage, a broken invariant or a failed preflight.
    """
    limit_s = (settings.schedules.missed_heartbeats_for_restart * settings.schedules.heartbeat_seconds
               if settings else 60)
    down, degraded = [], []
    if snap.error:
        down.append(snap.error)
    if snap.heartbeat_age_s is None:
        down.append("no heartbeat recorded")
    elif snap.heartbeat_age_s > limit_s:
        down.append(f"last heartbeat {format_age(snap.heartbeat_age_s * 1000)} ago (limit {limit_s}s)")
    if snap.kill_switch:
        degraded.append("kill switch engaged")
    degraded += [f"circuit breaker {b} tripped" for b in snap.active_breakers]
    if len(snap.heartbeats):
        degraded += [f"{c} unhealthy" for c in snap.heartbeats.loc[~snap.heartbeats["healthy"], "component"]
                     if not (c == "engine" and down)]
    if len(snap.outages):
        degraded += [f"data outage on {s}" for s in snap.outages.loc[snap.outages["ongoing"], "symbol"]]
    if snap.invariant_ok is False:
        degraded.append(f"ledger invariant broken (cash off by {snap.invariant_cash_diff_usd:+.2f} USD)")
    if snap.preflight is not None and (snap.preflight["status"] == "FAIL").any():
        degraded.append("preflight failed")
    status = "down" if down else "degraded" if degraded else "ok"
    return status, down + degraded


# ============================================================================ health endpoint


def health_payload(snap: Snapshot) -> dict[str, Any]:
    """Return the ``/health`` JSON of a snapshot (plain types; NaN as null)."""

    def clean(x: float | None) -> float | None:
        return None if x is None or not math.isfinite(x) else round(float(x), 6)

    return {
        "status": snap.status,
        "problems": list(snap.problems),
        "mode": snap.mode,
        "ledger": snap.ledger_path,
        "clock": snap.clock,
        "run_now_ts_ms": snap.now_ms,
        "generated_ts_ms": snap.generated_ms,
        "last_cycle_ts_ms": snap.last_cycle_ts_ms,
        "last_cycle_age_s": None if snap.last_cycle_ts_ms is None
        else round((snap.now_ms - snap.last_cycle_ts_ms) / 1000.0, 3),
        "heartbeat_age_s": clean(snap.heartbeat_age_s),
        "heartbeats": {r.component: {"status": r.status, "age_s": round(r.age_s, 3), "healthy": bool(r.healthy)}
                       for r in snap.heartbeats.itertuples(index=False)},
        "open_positions": len(snap.positions),
        "equity_usd": clean(snap.equity_usd),
        "closed_trades": snap.n_trades,
        "breakers": snap.active_breakers,
        "kill_switch": snap.kill_switch,
        "burn_in": snap.burn_in_phase,
        "invariant_ok": snap.invariant_ok,
    }


# ============================================================================ the shared cache


@functools.lru_cache(maxsize=8)
def settings_for(config_dir: str | None) -> Settings | None:
    """Return the configuration of ``config_dir`` (None: the default one), or None when it does not load."""
    try:
        return load_settings(config_dir)
    except Exception as exc:  # noqa: BLE001 - a broken config must not take the dashboard down
        logger.warning("dashboard: configuration %s unusable (%s); showing the ledger alone", config_dir, exc)
        return None


class SnapshotCache:
    """Snapshots per (ledger, config), reloaded at most every ``ttl_s``; shared by sessions and /health.

    The ledger invariant (a full pass over fills and orders) runs in a background
    thread at most every ``invariant_every_s``; snapshots carry its latest result
    (``invariant_ok`` is None until the first check finishes).
    """

    def __init__(self, ttl_s: float = 5.0, invariant_every_s: float = 60.0) -> None:
        self.ttl_s = ttl_s
        self.invariant_every_s = invariant_every_s
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str | None], tuple[float, Snapshot]] = {}
        self._invariants: dict[str, tuple[float, bool, float]] = {}
        self._checking: set[str] = set()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dashboard-invariant")

    def get(self, path: str | Path, config_dir: str | None = None, *, force: bool = False,
            ttl_s: float | None = None) -> Snapshot:
        """Return the cached snapshot of ``path`` when younger than the TTL, else load a new one."""
        key = (str(Path(path).resolve()), None if config_dir is None else str(config_dir))
        ttl = self.ttl_s if ttl_s is None else ttl_s
        with self._lock:
            hit = self._entries.get(key)
            if hit and not force and time.monotonic() - hit[0] < ttl:
                return hit[1]
            settings = settings_for(key[1])
            snap = load_snapshot(path, settings, check_invariant=False)
            checked = self._invariants.get(key[0])
            if checked is not None and snap.error is None:
                snap = with_invariant(snap, checked[1], checked[2], settings)
            if snap.error is None and key[0] not in self._checking and (
                    checked is None or force or time.monotonic() - checked[0] >= self.invariant_every_s):
                self._checking.add(key[0])
                self._executor.submit(self._check_invariant, key[0])
            self._entries[key] = (time.monotonic(), snap)
            return snap

    def _check_invariant(self, path: str) -> None:
        try:
            with Ledger.open(path, readonly=True) as ledger:
                if ledger.get_meta("starting_cash_usd") is None:
                    return
                report = ledger.check_invariant()
            result = (time.monotonic(), bool(report.ok), float(report.cash_diff_usd))
            with self._lock:
                self._invariants[path] = result
                for key in [k for k in self._entries if k[0] == path]:
                    del self._entries[key]  # the next get() attaches the new result
        except Exception:  # noqa: BLE001 - logged; the dashboard shows "not checked"
            logger.exception("dashboard: invariant check of %s failed", path)
        finally:
            with self._lock:
                self._checking.discard(path)

    def wait_idle(self, timeout_s: float = 30.0) -> None:
        """Block until no invariant check is running (tests)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if not self._checking:
                    return
            time.sleep(0.02)

    def clear(self) -> None:
        """Forget every snapshot and invariant result."""
        with self._lock:
            self._entries.clear()
            self._invariants.clear()


#: the process-wide cache used by the data stores and the health endpoint
CACHE = SnapshotCache()
