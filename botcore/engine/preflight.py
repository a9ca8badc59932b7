"""Preflight: the checks a trader runs before trusting the bot, each PASS, WARN or FAIL with a reason.

The prototype's checklist, made real: every check calls the production code
(the strategy package's Kelly kernels and ``decide``, the signal engine, the
ledger's invariant, the venue port), never a copy of its logic.

1. :func:`check_kelly_bootstrap` — Kelly sizing from the bootstrap defaults
   (empty trade memory) gives a non-zero size to a high-conviction setup, for
   every enabled strategy (FAIL when all are zero: the "Kelly size 0.0" red flag).
2. :func:`check_positions_sectors` — open positions and their sector counts
   agree between the ledger and the venue, within the position and sector limits.
3. :func:`check_signal_engine` — the signal engine initialises and produces
   live signals on the last bars of the data (a store, or a fresh SYNTHETIC sample).
4. :func:`check_data_outage` — with the order book missing, ``decide`` blocks
   the entry with ``data_outage`` (and the same setup with the book enters).
5. :func:`check_aged_exit` — a position whose entry time is unknown (adopted,
   or a zombie with a null timestamp) passes the exit path instead of being immortal.
6. :func:`check_financial_integrity` — the ledger invariant holds; a wallet
   discrepancy over $1 (against the venue, or at the last reconciliation) fails.
7. :func:`check_operational_health` — gates open, circuit breaker armed and not
   tripped, kill switch, heartbeat, ledger writable, disk space.
0. :func:`check_ledger_integrity` (run first) — the ledger file is undamaged (SQLite
   ``quick_check``) and of this botcore's schema; a damaged, empty, foreign or
   newer ledger fails, and the checks that read the ledger fail with it.

:func:`run_preflight` runs them all (a check that raises is a FAIL naming the
exception) and :func:`record_preflight` stores the report in ledger meta
``preflight`` for ``botcore status`` and the dashboard.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from botcore.clock import MINUTE_MS
from botcore.config.models import SECTORS, SIGNAL_NAMES, Settings
from botcore.engine.recovery import load_engine_state
from botcore.errors import BotcoreError
from botcore.ledger import Ledger
from botcore.ledger.integrity import IntegrityReport, LedgerDamaged, check_integrity
from botcore.ops.heartbeat import COMPONENT, LIVE_STATUSES, beat_wall_ms, ledger_access
from botcore.ops.killswitch import kill_file_state, kill_switch_state
from botcore.ops.redflags import HIGH_CONVICTION, kelly_sizes
from botcore.ops.status import BREAKER_META_KEY, BREAKER_NAMES, PREFLIGHT_META_KEY, RECONCILE_META_KEY
from botcore.strategy import Features, Reason, build_params, decide, new_memory, new_portfolio, new_positions
from botcore.strategy.enums import SignalsIn, mask_names, reason_name

logger = logging.getLogger(__name__)

WALLET_TOLERANCE_USD = 1.0


class Status(StrEnum):
    """Outcome of one check."""

    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome: its name, title, status, a one-line detail and the numbers behind it."""

    name: str
    title: str
    status: Status
    detail: str
    data: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Return the result as JSON-able data."""
        return {"name": self.name, "title": self.title, "status": str(self.status), "detail": self.detail,
                "data": _jsonable(self.data)}


@dataclass(frozen=True)
class PreflightReport:
    """All check results of one run."""

    ts_ms: int
    results: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        """Return True when no check failed (warnings allowed)."""
        return all(r.status != Status.FAIL for r in self.results)

    @property
    def counts(self) -> dict[str, int]:
        """Return how many checks passed, warned and failed."""
        return {s.value: sum(r.status == s for r in self.results) for s in Status}

    def result(self, name: str) -> CheckResult:
        """Return the result of the check called ``name``."""
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)

    def to_dict(self) -> dict:
        """Return the report as JSON-able data."""
        return {"ts_ms": self.ts_ms, "ok": self.ok, "counts": self.counts,
                "results": [r.to_dict() for r in self.results]}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _run_async(coro: Any) -> Any:
    """Run a coroutine to completion, also when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _iso(ts_ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts_ms / 1000))


def _usd(x: float) -> str:
    return f"${x:,.0f}"


# =========================================================================== 1. Kelly bootstrap


def check_kelly_bootstrap(
    settings: Settings,
    *,
    params: np.ndarray | None = None,
    memory: np.ndarray | None = None,
    conviction: float = HIGH_CONVICTION,
    equity_usd: float | None = None,
) -> CheckResult:
    """Size a high-conviction setup with the strategy package's Kelly kernels from the bootstrap defaults.

    :func:`botcore.ops.redflags.kelly_sizes` (``kelly_inputs_nb`` on an empty
    trade memory, i.e. the configured default win rate and payoff,
    ``conviction_win_prob_nb``, ``kelly_f_nb``, ``vol_scale_nb`` at the
    volatility target, ``profit_scale_nb``, ``kelly_size_usd_nb``) at the
    configured starting equity.

    PASS: every enabled strategy gets a size > 0. WARN: some get 0. FAIL: all
    get 0 (or none is enabled).
    """
    name, title = "kelly_bootstrap", "Kelly sizing bootstrap"
    params = build_params(settings) if params is None else params
    memory = new_memory(params) if memory is None else memory
    equity = float(settings.venue.starting_equity_usd if equity_usd is None else equity_usd)
    rows = kelly_sizes(params, memory, equity, conviction)
    data = {"conviction": conviction, "equity_usd": equity, "strategies": rows}
    if not rows:
        return CheckResult(name, title, Status.FAIL, "no strategy is enabled", data)
    zero = [s for s, r in rows.items() if not r["size_usd"] > 0]
    parts = [f"{s} {_usd(r['size_usd'])} ({r['pct_of_equity']:.2f}%, f*={r['kelly_f']:.3f})" for s, r in rows.items()]
    head = f"at {conviction:.0%} conviction from defaults (p={rows[next(iter(rows))]['win_rate']:.2f}, " \
           f"b={rows[next(iter(rows))]['payoff']:.2f}): "
    if len(zero) == len(rows):
        return CheckResult(name, title, Status.FAIL, "Kelly size calculated as 0.0 for every strategy " + head
                           + "; ".join(parts), data)
    if zero:
        return CheckResult(name, title, Status.WARN, f"Kelly size 0 for {', '.join(zero)} " + head + "; ".join(parts),
                           data)
    return CheckResult(name, title, Status.PASS, head + "; ".join(parts), data)


# =========================================================================== 2. positions and sectors


def _sector_of(settings: Settings) -> dict[str, str]:
    return {a.symbol: a.sector for a in settings.universe.assets}


def _sector_counts(symbols: Sequence[str], sector_of: dict[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for symbol in symbols:
        sector = sector_of.get(symbol, "unknown")
        counts[sector] = counts.get(sector, 0) + 1
    return dict(sorted(counts.items()))


def check_positions_sectors(settings: Settings, ledger: Ledger | None, venue: Any = None) -> CheckResult:
    """Compare open positions and per-sector counts between the ledger and the venue.

    Parameters
    ----------
    settings : Settings
        Universe (sectors) and risk limits.
    ledger : Ledger or None
        The ledger (None: not created yet).
    venue : Venue, optional
        Any object with an async ``positions()``; default a
        :class:`botcore.venues.PaperVenue` from the settings. A paper venue
        built here holds no positions (its state lives in the running engine),
        so a difference against it is a WARN; against a given venue it is a FAIL.
    """
    name, title = "positions_sectors", "Sector guard and position counts"
    built_here = venue is None
    if venue is None:
        from botcore.venues import PaperVenue

        venue = PaperVenue.from_settings(settings)
    sector_of = _sector_of(settings)
    held = {} if ledger is None else {s: p.qty_contracts for s, p in ledger.open_positions().items()}
    venue_positions: dict[str, float] = {}
    for vp in _run_async(venue.positions()):
        if vp.qty_contracts:
            venue_positions[vp.symbol] = venue_positions.get(vp.symbol, 0.0) + float(vp.qty_contracts)
    ledger_sectors = _sector_counts(list(held), sector_of)
    venue_sectors = _sector_counts([s for s, q in venue_positions.items() if q], sector_of)
    data = {"ledger_positions": held, "venue_positions": venue_positions, "ledger_sectors": ledger_sectors,
            "venue_sectors": venue_sectors, "venue": getattr(venue, "name", type(venue).__name__),
            "venue_built_here": built_here}
    mismatches = [
        f"{s}: ledger {held.get(s, 0.0):g}, venue {venue_positions.get(s, 0.0):g}"
        for s in sorted(set(held) | set(venue_positions))
        if not math.isclose(held.get(s, 0.0), venue_positions.get(s, 0.0), rel_tol=1e-9, abs_tol=1e-12)
    ]
    limits = settings.risk
    over = [f"{sector} holds {n} (limit {limits.max_positions_per_sector})"
            for sector, n in ledger_sectors.items() if n > limits.max_positions_per_sector]
    unknown = sorted(s for s in held if s not in sector_of)
    summary = f"{len(held)} positions across {len(ledger_sectors)} sectors in the ledger"
    if mismatches:
        data["mismatches"] = mismatches
        text = f"{summary}; venue ({data['venue']}) disagrees: " + "; ".join(mismatches)
        if built_here:
            return CheckResult(name, title, Status.WARN, text + " (this paper venue was built here and holds no "
                               "state; run with the engine's venue to compare)", data)
        return CheckResult(name, title, Status.FAIL, text, data)
    problems = []
    if len(held) > limits.max_positions:
        problems.append(f"{len(held)} open positions exceed max_positions {limits.max_positions}")
    problems += over
    if unknown:
        problems.append(f"symbols outside the universe (sector unknown): {', '.join(unknown)}")
    if problems:
        return CheckResult(name, title, Status.WARN, f"{summary}, venue agrees; " + "; ".join(problems), data)
    sectors_text = ", ".join(f"{k} {v}" for k, v in ledger_sectors.items()) or "none"
    return CheckResult(name, title, Status.PASS,
                       f"consistent: {summary} and on the venue ({data['venue']}); by sector: {sectors_text}", data)


# =========================================================================== 3. signal engine


def _sample_store(settings: Settings, days: float = 1.0, seed: int = 0) -> tuple[Any, Path]:
    from botcore.market.sample import generate_sample_market
    from botcore.market.store import Store

    root = Path(tempfile.mkdtemp(prefix="botcore-preflight-sample-"))
    generate_sample_market(root, days, seed, settings)
    return Store(root), root


def check_signal_engine(
    settings: Settings,
    store: Any = None,
    *,
    bars: int = 1440,
    now_ms: int | None = None,
) -> CheckResult:
    """Run the signal engine on the last ``bars`` 1-minute bars of ``store`` and look at the last bar.

    Parameters
    ----------
    settings : Settings
        Universe and signal configuration.
    store : botcore.market.store.Store, optional
        The data; default a fresh one-day SYNTHETIC sample market (deleted afterwards).
    bars : int
        History fed to the engine (its warm-up needs up to a day for some signals).
    now_ms : int, optional
        Time to judge the data's age against (stored real data older than the
        candle staleness limit is a WARN; a synthetic store is never "old").

    PASS: every symbol with data has at least ``signals.min_live_signals`` live
    signals on the last bar. WARN: some do not, or the data is old. FAIL: no
    data, the engine raises, or no symbol has enough live signals.
    """
    from botcore.signals.engine import aggregate, compute_signals, load_inputs

    name, title = "signal_engine", "Signal engine pulse"
    now_ms = time.time_ns() // 1_000_000 if now_ms is None else int(now_ms)
    cleanup: Path | None = None
    if store is None:
        store, cleanup = _sample_store(settings)
    try:
        symbols = [a.symbol for a in settings.universe.enabled]
        last = {s: store.last_ts("candles_1m", s) for s in symbols}
        with_data = [s for s in symbols if last[s] is not None]
        synthetic = bool(getattr(store, "synthetic", False))
        data: dict[str, Any] = {"store": str(getattr(store, "root", store)), "synthetic": synthetic,
                                "symbols_without_candles": [s for s in symbols if last[s] is None]}
        if not with_data:
            return CheckResult(name, title, Status.FAIL, f"no 1m candles for any enabled symbol in {data['store']}",
                               data)
        end = max(last[s] for s in with_data) + MINUTE_MS
        start = end - bars * MINUTE_MS
        _, inputs = load_inputs(store, with_data, start, end, settings.signals)
        outputs = compute_signals(inputs)
        agg = aggregate(outputs, settings.signals)
        status_last = np.asarray(outputs.status[-1])
        n_live = np.asarray(agg.n_live[-1])
        tradable = np.asarray(agg.tradable[-1])
        direction = np.asarray(agg.direction[-1])
        need = settings.signals.min_live_signals
        per_signal = {sig: int((status_last[:, k] == 0).sum()) for k, sig in enumerate(SIGNAL_NAMES)}
        short = [s for s, n in zip(with_data, n_live) if n < need]
        data.update({
            "last_bar_ms": end - MINUTE_MS, "symbols": len(with_data), "mean_live": float(n_live.mean()),
            "min_live": int(n_live.min()), "tradable": int(tradable.sum()), "long": int((direction > 0).sum()),
            "short": int((direction < 0).sum()), "live_by_signal": per_signal, "symbols_below_min_live": short,
        })
        text = (f"{len(SIGNAL_NAMES)} signals x {len(with_data)} symbols on the last bar ({_iso(end - MINUTE_MS)}"
                f"{', SYNTHETIC sample' if synthetic else ''}): {n_live.mean():.1f} live on average "
                f"(need {need}), {int(tradable.sum())} tradable, {data['long']} long / {data['short']} short")
        if len(short) == len(with_data):
            dead = [s for s, n in per_signal.items() if n == 0]
            return CheckResult(name, title, Status.FAIL, f"no symbol has {need} live signals: {text}; "
                               f"never live: {', '.join(dead) or 'none'}", data)
        problems = []
        if short:
            problems.append(f"{len(short)} symbols below {need} live signals")
        if data["symbols_without_candles"]:
            problems.append(f"no candles for {', '.join(data['symbols_without_candles'])}")
        age_s = (now_ms - end) / 1000
        limit = settings.signals.max_staleness_seconds.get("candles")
        if not synthetic and limit is not None and age_s > limit:
            problems.append(f"the data ends {age_s / 3600:.1f} h ago (candles older than {limit} s are stale)")
        if problems:
            return CheckResult(name, title, Status.WARN, text + "; " + "; ".join(problems), data)
        return CheckResult(name, title, Status.PASS, "engine initialised: " + text, data)
    finally:
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)


# =========================================================================== decide worlds (checks 4 and 5)

DecideFn = Callable[..., Any]


@dataclass
class _World:
    now_ms: int
    positions: np.ndarray
    portfolio: np.ndarray
    memory: np.ndarray
    features: Features
    signals: SignalsIn
    regime: np.ndarray
    params: np.ndarray

    def decide(self, decide_fn: DecideFn) -> Any:
        return decide_fn(self.now_ms, self.positions, self.portfolio, self.memory, self.features, self.signals,
                         self.regime, self.params, 7)


def _signals_from(settings: Settings, score: np.ndarray, confidence: np.ndarray, status: np.ndarray) -> SignalsIn:
    """Aggregate one bar of signal outputs with the real aggregator (weights, required signals, min live)."""
    from botcore.signals.engine import aggregate
    from botcore.signals.enums import SignalOutputs

    agg = aggregate(SignalOutputs(score, confidence, status), settings.signals)
    return SignalsIn(score=score, confidence=confidence, status=status,
                     conviction=np.asarray(agg.conviction, dtype=np.float64),
                     direction=np.asarray(agg.direction, dtype=np.int8),
                     tradable=np.asarray(agg.tradable, dtype=np.bool_),
                     n_live=np.asarray(agg.n_live, dtype=np.int64))


def _world(settings: Settings, params: np.ndarray | None, *, book: bool = True, long_setup: bool = True) -> _World:
    """A controlled cycle: every symbol flat at 100 USD; symbol 0 has a strong long setup unless told otherwise.

    ``book=False`` makes symbol 0's order book unavailable, as the feed reports
    it: best bid and ask missing, and the order-flow-imbalance signal in DATA_OUTAGE.
    """
    params = build_params(settings, {"bandit_enabled": 0}) if params is None else params
    sectors = [SECTORS.index(a.sector) for a in settings.universe.enabled]
    n = len(sectors)
    now_ms = 1_767_268_800_000  # 2026-01-01 12:00 UTC
    price = np.full(n, 100.0)
    features = Features(
        price=price.copy(), mark_price=price.copy(), best_bid=price * (1 - 1e-5), best_ask=price * (1 + 1e-5),
        volatility_daily=np.full(n, 0.02), funding_rate=np.full(n, 0.0001), volume_ratio=np.full(n, 2.0),
        trend_dir=np.ones((n, 3), dtype=np.int8), contract_size=np.full(n, 0.01), min_contracts=np.ones(n),
        contract_step=np.ones(n),
    )
    k = len(SIGNAL_NAMES)
    score = np.zeros((n, k))
    if long_setup:
        score[0] = 0.9
    confidence = np.full((n, k), 0.9)
    status = np.zeros((n, k), dtype=np.int8)
    if not book:
        ofi = SIGNAL_NAMES.index("order_flow_imbalance")
        features.best_bid[0] = np.nan
        features.best_ask[0] = np.nan
        score[0, ofi] = 0.0
        confidence[0, ofi] = 0.0
        status[0, ofi] = 2  # DATA_OUTAGE
    signals = _signals_from(settings, score, confidence, status)
    return _World(now_ms, new_positions(sectors), new_portfolio(float(settings.venue.starting_equity_usd), now_ms),
                  new_memory(params), features, signals, np.zeros(n, dtype=np.int8), params)


def _row_text(row: np.void) -> str:
    outcome, reason = int(row["outcome"]), int(row["reason"])
    extra = [m for m in mask_names(int(row["gate_mask"])) if m != reason_name(reason)]
    head = reason_name(outcome) if reason == outcome else f"{reason_name(outcome)}/{reason_name(reason)}"
    label = "clamped by" if outcome == Reason.entered else "also"
    return head + (f" ({label} {', '.join(extra)})" if extra else "")


# =========================================================================== 4. data outage


def check_data_outage(settings: Settings, *, params: np.ndarray | None = None,
                      decide_fn: DecideFn = decide) -> CheckResult:
    """Run ``decide`` on a strong setup with its order book missing; the entry must be blocked by ``data_outage``.

    A control run of the same setup with the book present must enter (else the
    check cannot tell, and warns). FAIL when the outage run still enters, or
    is held back by something other than the data-outage gate.
    """
    name, title = "data_outage", "Order-book outage protection"
    control = _world(settings, params).decide(decide_fn)
    outage = _world(settings, params, book=False).decide(decide_fn)
    c_row, o_row = control.trail[0], outage.trail[0]
    o_intents = [it for it in outage.intents if int(it["symbol_idx"]) == 0]
    data = {"control": _row_text(c_row), "outage": _row_text(o_row),
            "required_signals": list(settings.signals.required_signals)}
    if o_intents or int(o_row["outcome"]) == Reason.entered:
        return CheckResult(name, title, Status.FAIL,
                           f"trading is NOT blocked when the order book is unavailable: the outage run gave "
                           f"{_row_text(o_row)} (required signals: {data['required_signals'] or 'none'})", data)
    if int(o_row["reason"]) != Reason.data_outage:
        return CheckResult(name, title, Status.FAIL,
                           f"the book outage was not recognised as DATA_OUTAGE: {_row_text(o_row)}", data)
    if int(c_row["outcome"]) != Reason.entered:
        return CheckResult(name, title, Status.WARN,
                           f"outage blocked with data_outage, but the control setup with a book did not enter "
                           f"({_row_text(c_row)}), so the check is not conclusive", data)
    return CheckResult(name, title, Status.PASS,
                       f"DATA_OUTAGE protection active: with the book the setup enters ({_row_text(c_row)}), "
                       f"without it the entry is blocked ({_row_text(o_row)})", data)


# =========================================================================== 5. aged positions


def check_aged_exit(settings: Settings, *, params: np.ndarray | None = None,
                    decide_fn: DecideFn = decide) -> CheckResult:
    """Run ``decide`` on a long position whose entry time is unknown (-1); it must exit, not stay immortal.

    The position is at break-even with no signal, so only the aged-position
    rule (unknown entry time counts as past the maximum hold) can close it.
    """
    name, title = "aged_exit", "Aged / zombie position exit"
    world = _world(settings, params, long_setup=False)
    pos = world.positions[0]
    contracts = 5.0
    pos["qty_contracts"] = contracts
    pos["qty_base"] = contracts * float(world.features.contract_size[0])
    pos["entry_price"] = float(world.features.price[0])
    pos["entry_ts_ms"] = -1
    pos["strategy_id"] = -1
    decision = world.decide(decide_fn)
    row = decision.trail[0]
    exits = [it for it in decision.intents if int(it["symbol_idx"]) == 0 and bool(it["reduce_only"])]
    data = {"trail": _row_text(row), "intents": len(exits)}
    if int(row["outcome"]) == Reason.exited and exits:
        return CheckResult(name, title, Status.PASS,
                           f"a position with an unknown entry time exits: {_row_text(row)}, "
                           f"reduce-only {exits[0]['qty_contracts']:g} contracts", data)
    return CheckResult(name, title, Status.FAIL,
                       f"a position with an unknown entry time does not exit ({_row_text(row)}): it would block "
                       f"capital forever", data)


# =========================================================================== 6. financial integrity


def check_financial_integrity(ledger: Ledger | None, venue: Any = None) -> CheckResult:
    """The ledger invariant, the last reconciliation's wallet comparison and, given a venue, its balance.

    PASS: the invariant holds and no wallet differs by more than $1. WARN: no
    ledger yet, or discrepancies under $1. FAIL: the invariant is off by more
    than $1, or a wallet discrepancy over $1 (now or at the last reconciliation).
    """
    name, title = "financial_integrity", "Financial integrity"
    if ledger is None:
        return CheckResult(name, title, Status.WARN, "no ledger yet: it is created at the first run")
    try:
        report = ledger.check_invariant()
    except LedgerDamaged as exc:
        return CheckResult(name, title, Status.FAIL, f"invariant not checkable: {exc}")
    except Exception as exc:  # noqa: BLE001 - an uninitialised account is reported, not raised
        return CheckResult(name, title, Status.WARN, f"invariant not checkable: {exc}")
    data: dict[str, Any] = {"invariant": report.to_dict()}
    failures, warnings = [], []
    if report.red_flag:
        failures.append(f"ledger invariant broken: cash {report.cash_usd:,.2f} vs expected "
                        f"{report.expected_cash_usd:,.2f} (off by {report.cash_diff_usd:+.2f} USD)")
    elif not report.ok:
        warnings.append(f"{len(report.discrepancies)} invariant discrepancies under $1")
    last = ledger.get_meta(RECONCILE_META_KEY)
    if last is not None:
        data["last_reconcile"] = {k: last.get(k) for k in ("ts_ms", "ok", "cash_diff_usd", "problems")}
        diff = last.get("cash_diff_usd")
        if diff is not None and abs(float(diff)) > WALLET_TOLERANCE_USD:
            failures.append(f"wallet discrepancy at the last reconciliation: {float(diff):+.2f} USD")
    if venue is not None:
        balance = _run_async(venue.balance())
        diff = report.cash_usd - float(balance.cash_usd)
        data["venue_cash_usd"], data["wallet_diff_usd"] = float(balance.cash_usd), diff
        if abs(diff) > WALLET_TOLERANCE_USD:
            failures.append(f"wallet discrepancy {diff:+.2f} USD: ledger {report.cash_usd:,.2f}, "
                            f"venue {float(balance.cash_usd):,.2f}")
    base = (f"cash {report.cash_usd:,.2f} USD = start {report.starting_cash_usd:,.2f} + realised "
            f"{report.realized_pnl_usd:,.2f} - fees {report.fees_usd:,.2f} + funding {report.funding_usd:,.2f}; "
            f"{report.n_fills} fills, {report.n_trades} trades")
    if failures:
        return CheckResult(name, title, Status.FAIL, "; ".join(failures), data)
    if warnings:
        return CheckResult(name, title, Status.WARN, base + "; " + "; ".join(warnings), data)
    return CheckResult(name, title, Status.PASS, "ledger reconciled: " + base, data)


# =========================================================================== 7. operational health


def _can_create_in(directory: Path) -> bool:
    """Return whether files can be created in ``directory`` (or, before it exists, in its nearest existing ancestor).

    The ancestor must be a directory: a regular file in the way (``data`` a file
    where ``data/ledger.db`` is wanted) makes the path impossible even for root.
    """
    target = directory.absolute()
    while not target.exists() and target != target.parent:
        target = target.parent
    return target.is_dir() and os.access(target, os.W_OK | os.X_OK)


def _breaker_states(ledger: Ledger) -> list[dict[str, Any]]:
    """Return the circuit breaker as recorded in meta ``circuit_breaker`` and in the loop's persisted engine state.

    The loop persists its decision state (``portfolio["breaker_code"]``,
    ``["breaker_until_ms"]``) after every cycle; meta ``circuit_breaker`` is
    written only by :func:`botcore.ops.status.record_breaker_state`. Reading
    both means a breaker tripped by a run is seen even when nothing recorded the meta.
    """
    out: list[dict[str, Any]] = []
    recorded = ledger.get_meta(BREAKER_META_KEY)
    if recorded:
        out.append({**recorded, "source": f"ledger meta {BREAKER_META_KEY}"})
    try:

        rec = load_engine_state(ledger)
    except Exception as exc:  # noqa: BLE001 - an unreadable state is reported, the check goes on
        logger.warning("preflight: the persisted engine state is unreadable: %s", exc)
        rec = None
    if rec is not None:
        port = rec["arrays"]["portfolio"][0]
        code = int(port["breaker_code"])
        out.append({"code": code, "name": BREAKER_NAMES.get(code, f"code_{code}"),
                    "until_ms": int(port["breaker_until_ms"]), "updated_ms": int(rec["t_ms"]),
                    "source": "persisted engine state"})
    return out


def check_operational_health(
    settings: Settings,
    ledger_path: str | os.PathLike[str],
    ledger: Ledger | None = None,
    *,
    log_dir: str | os.PathLike[str] | None = None,
    min_free_mb: float = 200.0,
    warn_free_mb: float = 1024.0,
    heartbeat_s: float | None = None,
    now_ms: int | None = None,
) -> CheckResult:
    """Gates, circuit breaker, kill switch, heartbeat, ledger writability and disk space.

    FAIL: the ledger (or its directory) is not writable, free disk below
    ``min_free_mb``, no strategy enabled or no position allowed. WARN: kill
    switch engaged, breaker tripped or not armed, the bot's heartbeats stale
    while it has not stopped, log directory not writable, disk below ``warn_free_mb``.
    """
    name, title = "operational_health", "Operational health"
    now_ms = time.time_ns() // 1_000_000 if now_ms is None else int(now_ms)
    heartbeat_s = float(settings.schedules.heartbeat_seconds if heartbeat_s is None else heartbeat_s)
    failures: list[str] = []
    warnings: list[str] = []
    notes: list[str] = []
    data: dict[str, Any] = {}

    enabled = [s for s, c in settings.strategies.strategies.items() if c.enabled]
    data["strategies_enabled"] = enabled
    if not enabled:
        failures.append("no strategy enabled")
    if settings.risk.max_positions < 1:
        failures.append("risk.max_positions allows no position")
    cb = settings.risk.circuit_breaker
    data["circuit_breaker"] = {"session_loss_pct": cb.session_loss_pct, "daily_loss_pct": cb.daily_loss_pct,
                               "max_drawdown_pct": cb.max_drawdown_pct}
    unarmed = [k for k, v in data["circuit_breaker"].items() if not 0 < v < 1]
    if unarmed:
        warnings.append(f"circuit breaker limits not armed: {', '.join(unarmed)}")
    else:
        notes.append(f"circuit breaker armed (session {cb.session_loss_pct:.0%}, daily {cb.daily_loss_pct:.0%}, "
                     f"drawdown {cb.max_drawdown_pct:.0%})")

    access = ledger_access(ledger_path)
    # the nearest existing ancestor must be a directory: an executable file in the way passes os.access for root
    access["ledger_writable"] = bool(access["ledger_writable"]) and _can_create_in(Path(ledger_path).parent)
    data.update(access)
    if not access["ledger_writable"]:
        failures.append(f"ledger {ledger_path} (or its directory) is not writable")
    free = access.get("disk_free_mb")
    if free is not None and free < min_free_mb:
        failures.append(f"only {free:.0f} MB free on the ledger's disk (minimum {min_free_mb:.0f} MB)")
    elif free is not None and free < warn_free_mb:
        warnings.append(f"{free:.0f} MB free on the ledger's disk")
    elif free is not None:
        notes.append(f"{free / 1024:.1f} GB free")
    if log_dir is not None and not _can_create_in(Path(log_dir)):
        warnings.append(f"log directory {log_dir} is not writable")

    try:
        ks = kill_switch_state(ledger if ledger is not None else Path(ledger_path))
    except BotcoreError as exc:
        ks = kill_file_state(ledger_path)
        warnings.append(f"kill switch: the ledger could not be read ({exc}); only the kill file was checked")
    data["kill_switch"] = ks.to_dict()
    if ks.engaged:
        warnings.append(f"kill switch engaged ({ks.action}) by {ks.who}: {ks.why or 'no reason'}")
    else:
        notes.append("all gates open" if enabled and not failures else "kill switch off")
    if ledger is not None:
        breakers = _breaker_states(ledger)
        data["breaker_state"] = breakers
        tripped = [b for b in breakers if int(b.get("code", 0)) != 0 and int(b.get("until_ms", -1)) > now_ms]
        if tripped:
            b = tripped[0]
            warnings.append(f"circuit breaker {b.get('name')} tripped until {_iso(int(b['until_ms']))} "
                            f"(from the {b['source']})")
        last = ledger.last_heartbeats()
        beats = last[last["component"] == COMPONENT] if not last.empty else last
        if beats.empty:
            notes.append("bot not running (no heartbeat yet)")
            data["heartbeat_age_s"] = None
        else:
            row = beats.iloc[0]
            detail = row["detail"]
            try:
                detail = json.loads(detail) if isinstance(detail, str) else {}
            except ValueError:
                detail = {}
            age_s = (now_ms - beat_wall_ms(int(row["ts_ms"]), detail)) / 1000
            data["heartbeat_age_s"], data["heartbeat_status"] = age_s, row["status"]
            if row["status"] == "stopped":
                notes.append(f"bot stopped cleanly {age_s:.0f} s ago")
            elif row["status"] in LIVE_STATUSES and age_s < 3 * heartbeat_s:
                notes.append(f"bot running (heartbeat {age_s:.0f} s ago)")
            else:
                warnings.append(f"last heartbeat {age_s:.0f} s ago ({row['status']}) and the bot did not stop "
                                f"cleanly: crashed or hung?")
    if failures:
        return CheckResult(name, title, Status.FAIL, "; ".join(failures + warnings), data)
    if warnings:
        return CheckResult(name, title, Status.WARN, "; ".join(warnings + notes), data)
    return CheckResult(name, title, Status.PASS, "; ".join(notes), data)


# =========================================================================== 8. ledger integrity


def check_ledger_integrity(ledger_path: str | os.PathLike[str], report: IntegrityReport | None = None) -> CheckResult:
    """SQLite ``quick_check`` and the schema check of the ledger file (:func:`botcore.ledger.integrity.check_integrity`).

    PASS: undamaged, this schema. WARN: no ledger yet (created by the first
    run), an older schema (migrated by the next writer), a read-only
    directory. FAIL: empty, truncated, overwritten, not SQLite, a foreign or
    newer schema, a table or column missing, a directory.
    """
    name, title = "ledger_integrity", "Ledger integrity"
    report = check_integrity(ledger_path) if report is None else report
    data = report.to_dict()
    if not report.exists:
        return CheckResult(name, title, Status.WARN, f"no ledger at {ledger_path} yet: the first run creates it", data)
    if not report.ok:
        return CheckResult(name, title, Status.FAIL, "; ".join(report.problems), data)
    if report.warnings:
        return CheckResult(name, title, Status.WARN, "; ".join(report.warnings + report.checks), data)
    return CheckResult(name, title, Status.PASS, ", ".join(report.checks), data)


# =========================================================================== running and recording

CHECKS = ("ledger_integrity", "kelly_bootstrap", "positions_sectors", "signal_engine", "data_outage", "aged_exit",
          "financial_integrity", "operational_health")
#: Checks that read the ledger: they fail with ``ledger_integrity`` when the file is not a sound ledger.
LEDGER_CHECKS = ("positions_sectors", "financial_integrity")
TITLES = {
    "kelly_bootstrap": "Kelly sizing bootstrap", "positions_sectors": "Sector guard and position counts",
    "signal_engine": "Signal engine pulse", "data_outage": "Order-book outage protection",
    "aged_exit": "Aged / zombie position exit", "financial_integrity": "Financial integrity",
    "operational_health": "Operational health", "ledger_integrity": "Ledger integrity",
}


def run_preflight(
    settings: Settings,
    ledger_path: str | os.PathLike[str],
    *,
    store: Any = None,
    venue: Any = None,
    log_dir: str | os.PathLike[str] | None = None,
    checks: Sequence[str] = CHECKS,
    min_free_mb: float = 200.0,
    now_ms: int | None = None,
) -> PreflightReport:
    """Run the checks (all by default) against the ledger (opened read-only) and return the report.

    A check that raises is a FAIL whose detail names the exception.
    """
    unknown = sorted(set(checks) - set(CHECKS))
    if unknown:
        raise ValueError(f"checks: unknown {unknown}; known: {list(CHECKS)}")
    now_ms = time.time_ns() // 1_000_000 if now_ms is None else int(now_ms)
    path = Path(ledger_path)
    integrity = check_integrity(path)
    unusable = None if integrity.ok else "ledger unusable: " + "; ".join(integrity.problems)
    ledger = None
    if integrity.exists and unusable is None:
        try:
            ledger = Ledger.open(path, readonly=True)
        except BotcoreError as exc:
            unusable = f"ledger unusable: {exc}"
    runners: dict[str, Callable[[], CheckResult]] = {
        "kelly_bootstrap": lambda: check_kelly_bootstrap(settings),
        "positions_sectors": lambda: check_positions_sectors(settings, ledger, venue),
        "signal_engine": lambda: check_signal_engine(settings, store, now_ms=now_ms),
        "data_outage": lambda: check_data_outage(settings),
        "aged_exit": lambda: check_aged_exit(settings),
        "financial_integrity": lambda: check_financial_integrity(ledger, venue),
        "operational_health": lambda: check_operational_health(settings, path, ledger, log_dir=log_dir,
                                                               min_free_mb=min_free_mb, now_ms=now_ms),
        "ledger_integrity": lambda: check_ledger_integrity(path, integrity),
    }
    results = []
    try:
        for check in checks:
            t0 = time.perf_counter()
            try:
                if unusable is not None and check in LEDGER_CHECKS:
                    result = CheckResult(check, TITLES[check], Status.FAIL, unusable)
                else:
                    result = runners[check]()
            except Exception as exc:  # noqa: BLE001 - a crashing check is a failed check
                logger.error("preflight check %s raised %s: %s", check, type(exc).__name__, exc)
                logger.debug("preflight check %s", check, exc_info=True)
                result = CheckResult(check, TITLES[check], Status.FAIL, f"check raised {type(exc).__name__}: {exc}")
            result.data["seconds"] = round(time.perf_counter() - t0, 3)
            logger.info("preflight %s: %s - %s", check, result.status, result.detail)
            results.append(result)
    finally:
        if ledger is not None:
            ledger.close()
    return PreflightReport(now_ms, tuple(results))


def record_preflight(ledger_path: str | os.PathLike[str], report: PreflightReport) -> bool:
    """Store the report in ledger meta ``preflight``; return False when the ledger does not exist or is locked."""
    path = Path(ledger_path)
    if not path.exists() or not check_integrity(path).ok:  # never write into (and so "repair") a damaged file
        return False
    try:
        with Ledger.open(path, create=False, timeout_s=5.0) as ledger:
            ledger.set_meta(PREFLIGHT_META_KEY, report.to_dict())
        return True
    except Exception as exc:  # noqa: BLE001 - recording is best effort; the printed report stands
        logger.error("preflight: cannot record the report in %s: %s", path, exc)
        return False


__all__ = ["CHECKS", "CheckResult", "PreflightReport", "Status", "check_aged_exit", "check_data_outage",
           "check_financial_integrity", "check_kelly_bootstrap", "check_ledger_integrity", "check_operational_health",
           "check_positions_sectors", "check_signal_engine", "record_preflight", "run_preflight"]
