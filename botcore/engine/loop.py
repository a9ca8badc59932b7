"""The trading loop, cycle by cycle: feed → bar row → compiled advance + decide → venue → ledger.

:class:`TradingLoop` runs the bot on any clock: a replayed store
(:func:`replay_loop`, paper venue, simulated time) or the live market
(:func:`botcore.engine.live.live_loop`, wall-clock scheduler, paper or BloFin
venue). One :meth:`TradingLoop.step` at cycle time ``t`` (a whole minute), each
numbered part a named method of the loop:

1. orders whose outcome is unknown (a submit and its look-up both failed, or
   left open by a stopped run) are looked up by client order id and booked;
   every ``venue.reconcile_every_cycles`` cycles (and at the first) the ledger
   is reconciled with the venue (:meth:`reconcile`): what the venue explains is
   booked and the kernel rebuilt from the ledger, an unexplained mismatch
   freezes entries (and alerts) until a later reconciliation is clean;
2. the kill switch (ledger flag or kill file) and the ledger's active learned
   parameters and benches (:class:`botcore.engine.learning_link.LearningLink`)
   are applied;
3. the feed's cycle at ``t`` (:class:`botcore.market.replay.Cycle`) becomes
   the bar row with :func:`botcore.engine.inputs.row_from_cycle` — the row a
   backtest builds from the store for the same ``t``; a source the feed could
   not read is missing (NaN), never invented;
4. a paper venue gets every symbol's market (``update_market``), which settles
   funding and liquidations; the funding and fills the venue reports are given
   to the kernel (:meth:`Engine.apply_funding`, :meth:`Engine.apply_fill`);
5. :meth:`Engine.cycle` — the one compiled step — feeds the bar to the
   signals, regime and features and decides (``rng_seed = run_seed ^ t``);
6. write-ahead: each intent's order is committed NEW (deterministic client
   order id :func:`botcore.engine.records.order_cid`) before anything is sent;
7. the orders are submitted one by one; a submit that fails or times out is
   looked up by client order id before anything is booked (found: booked as the
   venue says; not found: REJECTED with the reason; the look-up failing too:
   pending, and no new entry of that symbol until it is resolved);
8. one transaction: the venue events of step 4, the answers and their fills
   (to the kernel too), the signal-outcome log, equity, the decision trail (one
   row per symbol), a heartbeat and the kernel's persisted decision state.

A crash at any point loses nothing: before step 8 commits, the ledger holds at
most the NEW orders of step 6; a restarted replay re-runs the cycle with the
same ids (an order the venue already has is not sent again), a restarted live
run looks them up at its first cycle. Because the paper venue runs the same
fill-model kernels and the kernel state only changes through the same compiled
functions, a replay and :func:`botcore.engine.backtest.run_backtest` over the
same window produce the same orders, fills, funding and trades
(``tests/test_parity.py``). The kernel's cash is checked against the ledger's
after every step: a difference is an :class:`OperationalError`.

Tests: ``test_parity`` (replay == backtest), ``test_loop_crash`` (SIGKILLs
during ``botcore run``), ``test_loop_faults`` (1,000 cycles, a fifth of venue
and feed calls failing), ``test_loop_live`` (the live feed, BloFin demo venue,
restart recovery and reconciliation against local servers), ``test_loop_ops``
(kill switch, heartbeats); ``python -m benchmarks loop`` measures a cycle's
compute and the cold start.

Not supported yet: limit-order intents (``entry_post_only`` must be 0); orders
resting across cycles are tracked as pending and looked up each cycle.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Final, Literal, cast

import numpy as np

from botcore.clock import Clock, SimClock, WallClock, utc
from botcore.config.models import STRATEGY_NAMES, Settings
from botcore.engine.backtest import DEFAULT_WARMUP_BARS, Window, resolve_window, restrict_settings
from botcore.engine.enums import KIND_ENTRY, KIND_EXIT, KIND_LIQUIDATION, BarRow, RowScalars, trail_rec_dt
from botcore.engine.inputs import BAR_MS, iter_chunks, row_from_cycle
from botcore.engine.learning_link import LearningLink, record_step_outcomes
from botcore.engine.records import order_cid, order_for, routine_booking, trail_rows
from botcore.engine.recovery import (
    STATE_KEY,
    apply_persisted,
    check_against_ledger,
    load_engine_state,
    rebuild_from_ledger,
    restore_paper_venue,
    save_engine_state,
)
from botcore.engine.state import Engine
from botcore.errors import BotcoreError, OperationalError
from botcore.ledger import EquitySnapshot, Ledger, RecordNotFound
from botcore.market.feed import Feed
from botcore.market.replay import Cycle, ReplayFeed
from botcore.market.store import Store
from botcore.model import Fill, OrderStatus, OrderType
from botcore.ops.killswitch import kill_switch_state
from botcore.ops.status import record_breaker_state
from botcore.strategy.enums import KillSwitch
from botcore.venues.base import OrderRequest, OrderUpdate, SimulatedVenue, Venue, VenueReason
from botcore.venues.paper import PaperVenue
from botcore.venues.reconcile import apply_order_update, reconcile_with_venue

logger = logging.getLogger(__name__)

_R = RowScalars
FREEZE = int(KillSwitch.freeze)


class _Unknown(Enum):
    """The type of :data:`UNKNOWN` (an enum member, so the type checker narrows ``x is UNKNOWN``)."""

    UNKNOWN = "unknown"


#: The answer of a venue lookup that failed (the order's outcome stays unknown).
UNKNOWN: Final = _Unknown.UNKNOWN


@dataclass
class StepReport:
    """What one step did."""

    t_ms: int
    n_intents: int = 0
    n_orders: int = 0
    n_fills: int = 0
    n_funding: int = 0
    equity_usd: float = math.nan
    cash_usd: float = math.nan
    n_positions: int = 0
    seconds: float = 0.0
    late_ms: int = 0
    n_pending: int = 0
    n_held: int = 0
    n_faults: int = 0
    feed_age_s: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Outgoing:
    """An order of this cycle: the ledger record, its symbol column and strategy, and whether it was written ahead
    by a run that stopped before booking this cycle."""

    order: Any
    symbol_idx: int
    strategy: int
    recorded: bool


#: The feeds whose age the heartbeat reports, named as ``signals.max_staleness_seconds`` names them.
FEED_INPUTS = {"candles": "candles_1m", "book": "book", "funding": "funding", "open_interest": "open_interest",
               "liquidations": "liquidations", "taker": "taker", "fear_greed": "fear_greed", "social": "social"}


def feed_ages(cycle: Cycle) -> dict[str, float | None]:
    """Age in seconds of each feed's oldest latest value across the cycle's symbols; None when a symbol lacks it."""
    t = int(cycle.t_ms)
    out: dict[str, float | None] = {}
    for feed, name in FEED_INPUTS.items():
        known = [snap.known_ms(name) for snap in cycle.snapshots.values()]
        present = [k for k in known if k is not None]
        out[feed] = round((t - min(present)) / 1000.0, 3) if present and len(present) == len(known) else None
    return out


@dataclass(frozen=True, slots=True)
class _Pending:
    """An order whose outcome is not known yet (looked up every cycle)."""

    symbol_idx: int
    strategy: int
    since_ms: int


@dataclass
class RunReport:
    """What :meth:`TradingLoop.run` did."""

    cycles: int = 0
    orders: int = 0
    fills: int = 0
    funding: int = 0
    stopped: str = "done"
    seconds: float = 0.0
    steps: list[StepReport] = field(default_factory=list)


class TradingLoop:
    """Run the bot cycle by cycle (see the module docstring).

    Parameters
    ----------
    settings : Settings
        The configuration; the symbols are ``settings.universe.enabled``.
    feed : Feed
        Gives the :class:`~botcore.market.replay.Cycle` of a time (``at(t_ms)``)
        and iterates over its cycles (``ReplayFeed``, ``LiveFeed``).
    venue : Venue
        A :class:`botcore.venues.Venue`; a :class:`~botcore.venues.SimulatedVenue`
        (``PaperVenue`` in paper mode) is handed each cycle's market.
    ledger : Ledger
        An open writer. One that already holds a run needs ``resume_from_ms``
        (:func:`replay_loop` with ``resume``, :func:`botcore.engine.live.live_loop`).
    clock : Clock, optional
        Time of heartbeats; a :class:`SimClock` by default (replay).
    engine : Engine, optional
        The compiled step with its state; built from ``settings`` by default.
    run_seed : int
        Seeds the bandit, ``run_seed ^ t`` per cycle (same as the backtest's).
    params_overrides : dict, optional
        Overrides of :func:`botcore.strategy.build_params`.
    resume_from_ms : int, optional
        The last completed cycle of a run the ledger holds (the next cycle must come after it).
    submit_timeout_s : float
        Budget of one venue call (``asyncio.wait_for``); a submit that fails is
        looked up by client order id before it is booked (see the module docstring).
    monitor : RedFlagMonitor or None
        Red-flag checks after every cycle; by default one with
        ``Notifier.from_env(ledger=ledger)`` (no SMTP: alerts only logged and
        recorded). None disables them.
    reconcile_every : int, optional
        Cycles between reconciliations with the venue (default ``venue.reconcile_every_cycles``; 0: never).
    finished : bool
        The run's window is already complete (a resumed run that had reached its end): :meth:`run` runs nothing.
    funding_from_ms : int, optional
        A new run's first funding settlement to book (a demo/live run: when its starting cash, the account's
        balance, was read, so the funding settled on the adopted positions since is booked); None: from the
        first cycle on. A resumed run books from ``resume_from_ms``.
    """

    def __init__(self, settings: Settings, feed: Feed, venue: Venue, ledger: Ledger, clock: Clock | None = None, *,
                 engine: Engine | None = None, run_seed: int = 0, params_overrides: dict[str, Any] | None = None,
                 resume_from_ms: int | None = None, submit_timeout_s: float = 10.0,
                 monitor: Any = "default", reconcile_every: int | None = None, finished: bool = False,
                 funding_from_ms: int | None = None, aio: asyncio.AbstractEventLoop | None = None) -> None:
        self.settings = settings
        self.submit_timeout_s = float(submit_timeout_s)
        if monitor == "default":
            from botcore.ops.notify import Notifier
            from botcore.ops.redflags import RedFlagMonitor

            monitor = RedFlagMonitor(Notifier.from_env(ledger=ledger))
        self.monitor = monitor
        #: the scheduled reports (``after_cycle(t, ledger)`` after every cycle), attached by the caller; None: none
        self.reports: Any = None
        self.kill_switch = 0
        self.feed = feed
        self.venue = venue
        self.ledger = ledger
        self.clock = clock or SimClock()
        self.engine = engine or Engine(settings, run_seed=run_seed, params_overrides=params_overrides)
        self.symbols = self.engine.symbols
        self._col = {s: i for i, s in enumerate(self.symbols)}
        # the active learned parameters and benches of the ledger, re-read when a version changes

        self.learning = LearningLink(ledger, settings, self.symbols)
        self._record_outcomes = record_step_outcomes
        self._last_t: int | None = resume_from_ms
        self._funding_from: int | None = funding_from_ms if resume_from_ms is None else resume_from_ms + 1
        self.reconcile_every = int(settings.venue.reconcile_every_cycles if reconcile_every is None else reconcile_every)
        self.reconciliations = 0
        self._reconcile_due = False
        self._breaker: tuple[int, int] | None = None
        self.halted: tuple[str, ...] | None = None
        self.pending: dict[str, _Pending] = self._pending_from_ledger()
        self._aio = aio if aio is not None else asyncio.new_event_loop()  # a venue's client is bound to its loop
        self._stop = False
        self.finished = bool(finished)
        self.steps_run = 0
        if resume_from_ms is None and (len(ledger.orders()) or ledger.get_meta(STATE_KEY)):
            raise OperationalError(
                f"ledger {ledger.path} already holds a run: resume it (replay_loop(resume=True), live_loop) "
                "or use a new --ledger path"
            )

    def _pending_from_ledger(self) -> dict[str, _Pending]:
        """The orders a stopped run left open: looked up at the first cycle (a re-run cycle re-sends its own)."""
        out = {}
        for order in self.ledger.open_orders():
            i = self._col.get(order.symbol)
            if i is None:
                logger.warning("open order %s of %s: not a symbol of this run; left to reconciliation",
                               order.client_order_id, order.symbol)
                continue
            strategy = STRATEGY_NAMES.index(order.strategy_id) if order.strategy_id in STRATEGY_NAMES else -1
            out[order.client_order_id] = _Pending(i, strategy, int(order.created_ts_ms))
        return out

    # ------------------------------------------------------------------ warm-up and stepping

    def warm_up(self, store: Store, first_ms: int, last_ms: int, chunk_bars: int = 10_080) -> int:
        """Feed the stored bars of cycle times ``[first_ms, last_ms]`` to the signal states; return the bar count."""
        n = 0
        for rows in iter_chunks(store, self.symbols, first_ms, last_ms, self.settings, chunk_bars):
            self.engine.warm_up(rows.ts_ms, rows.ohlcv, rows.book, rows.scalars)
            n += len(rows)
        logger.info("warm-up: %d bars fed to the signal, regime and feature states", n)
        return n

    def step(self, t_ms: int) -> StepReport:
        """Run the cycle at ``t_ms`` (see the module docstring); return what it did."""
        return self.step_cycle(self.feed.at(int(t_ms)))

    def step_cycle(self, cycle: Cycle) -> StepReport:
        """Run one cycle already fetched from the feed."""
        return self._aio.run_until_complete(self._astep(cycle))

    async def _astep(self, cycle: Cycle, late_ms: int = 0) -> StepReport:
        """Run one cycle: the numbered steps of the module docstring, each a method below."""
        wall0 = time.perf_counter()
        t = int(cycle.t_ms)
        if self._last_t is not None and t <= self._last_t:
            raise OperationalError(f"cycle {utc(t)} is not after the previous one {utc(self._last_t)}")
        self.clock.advance(t)
        row = row_from_cycle(cycle.arrays(lookback_bars=1))
        report = StepReport(t, late_ms=int(late_ms), feed_age_s=feed_ages(cycle))
        await self._resolve_pending(t, report)                    # 1. unknown outcomes, reconciliation
        await self._reconcile_if_due(t)
        self._apply_controls(t)                                   # 2. kill switch, learned parameters, benches
        bookings = await self._venue_events(t, row, report)       # 4. what the venue did on its own
        orders = self._decide_and_write_ahead(t, row, report)     # 5.-6. decide; NEW orders committed first
        answers = [await self._submit(t, o) for o in orders]      # 7. submit one by one, in order
        snap, equity = self._commit_cycle(t, bookings, orders, answers, report, wall0)  # 8. one transaction
        self._check_kernel_agrees(t, snap, equity)
        self._last_t = t
        self.steps_run += 1
        self._after_cycle(t)
        return report

    async def _reconcile_if_due(self, t: int) -> None:
        """Reconcile with the venue every ``reconcile_every`` cycles (and after a mismatch until clean)."""
        if self.reconcile_every and self.steps_run % self.reconcile_every == 0:
            self._reconcile_due = True
        if not self._reconcile_due:
            return
        if any(o.created_ts_ms >= t for o in self.ledger.open_orders()):
            logger.warning("cycle %s: orders written ahead for this cycle by a stopped run are re-sent first; "
                           "reconciliation at the next cycle", utc(t))
            return
        await self.reconcile(t)
        self._reconcile_due = False

    def _apply_controls(self, t: int) -> None:
        """Obey the kill switch within one cycle and apply the ledger's active learned parameters and benches.

        Freeze blocks entries, flatten exits all; an unexplained reconciliation mismatch freezes entries until
        a later reconciliation is clean.
        """
        code = int(kill_switch_state(self.ledger).code)
        if self.halted is not None:
            code = max(code, FREEZE)
        if code != self.kill_switch:
            logger.warning("cycle %s: kill switch code %d (was %d)", utc(t), code, self.kill_switch)
        self.kill_switch = code
        self.engine.set_kill_switch(code)
        self.learning.at_cycle(self.engine, t)

    def _decide_and_write_ahead(self, t: int, row: BarRow, report: StepReport) -> list[_Outgoing]:
        """Run the compiled step on the bar row; commit the NEW orders of its intents before anything is sent."""
        intents = self.engine.cycle(t, row.ohlcv, row.book, row.scalars)
        report.n_intents = len(intents)
        orders = [o for o in (self._prepare(t, it, report) for it in intents) if o is not None]
        if any(not o.recorded for o in orders):
            with self.ledger.transaction():
                for o in orders:
                    if not o.recorded:
                        self.ledger.record_order(o.order)
        return orders

    def _commit_cycle(self, t: int, bookings: list[Callable[[], None]], orders: list[_Outgoing],
                      answers: list[OrderUpdate | None], report: StepReport, wall0: float) -> tuple[EquitySnapshot, float]:
        """Book the cycle in one transaction: venue events, answers and fills, outcomes, equity, breaker, trail,
        feed faults, heartbeat and the kernel's state. Return the equity snapshot and the kernel's equity."""
        eng = self.engine
        led = self.ledger
        with led.transaction(), routine_booking():
            for book in bookings:
                book()
            for o, update in zip(orders, answers, strict=True):
                self._book_answer(t, o, update, report)
            if report.n_fills:  # entries and closes happen only with fills
                self._record_outcomes(led, eng, t)
            equity, _unrealized, _exposure, n_pos = eng.mark()
            marks = {s: float(eng.scratch.valuation[i]) for i, s in enumerate(self.symbols)
                     if math.isfinite(eng.scratch.valuation[i])}
            snap = led.record_equity(t, marks)
            led.set_meta("marks", {"ts_ms": t, "prices": marks})
            port = eng.state.portfolio[0]
            breaker = (int(port["breaker_code"]), int(port["breaker_until_ms"]))
            if breaker != self._breaker:  # botcore status reads it; only its changes are written
                record_breaker_state(led, breaker[0], breaker[1], now_ms=t)
                self._breaker = breaker
            eng.count_trail()
            led.record_decisions(trail_rows(self._trail_records(t), self.symbols))
            report.equity_usd, report.cash_usd, report.n_positions = snap.equity_usd, snap.cash_usd, n_pos
            report.n_pending = len(self.pending)
            feed_faults = self.feed.last_faults
            if feed_faults:
                led.set_meta("feed:last_faults", {"ts_ms": t, "faults": feed_faults})
            report.seconds = time.perf_counter() - wall0
            led.record_heartbeat("engine", ts_ms=t, detail={
                "cycle": self.steps_run, "intents": report.n_intents, "fills": report.n_fills,
                "equity_usd": round(snap.equity_usd, 6), "compute_ms": round(report.seconds * 1000, 3),
                "wall_ms": WallClock().now_ms(), "late_ms": report.late_ms, "pending_orders": report.n_pending,
                "feed_faults": sum(len(v) for v in feed_faults.values()), "halted": self.halted is not None,
            })
            save_engine_state(led, eng, t)
        return snap, equity

    def _check_kernel_agrees(self, t: int, snap: EquitySnapshot, equity: float) -> None:
        """The kernel's cash and equity must equal the ledger's after every step (OperationalError otherwise)."""
        kernel_cash = float(self.engine.state.portfolio[0]["cash_usd"])
        if kernel_cash != snap.cash_usd:
            if abs(kernel_cash - snap.cash_usd) > 1e-6:
                raise OperationalError(f"cycle {utc(t)}: kernel cash {kernel_cash!r} != ledger cash {snap.cash_usd!r}")
            logger.warning("cycle %s: kernel cash %r differs from the ledger's %r in the last bits", utc(t), kernel_cash,
                           snap.cash_usd)
        if equity != snap.equity_usd and abs(equity - snap.equity_usd) > 1e-6:
            raise OperationalError(f"cycle {utc(t)}: kernel equity {equity!r} != ledger equity {snap.equity_usd!r}")

    def _after_cycle(self, t: int) -> None:
        """Red-flag checks on the committed cycle and the reports that are due; neither ever stops trading."""
        eng = self.engine
        if self.monitor is not None:
            try:
                self.monitor.after_cycle(eng.scratch.trail, eng.state.portfolio, eng.state.memory, eng.params,
                                         now_ms=t, symbols=self.symbols)
            except Exception:  # noqa: BLE001 - a red-flag check must never stop trading
                logger.exception("cycle %s: red-flag checks failed", utc(t))
        if self.reports is not None:  # botcore.ops.reports.ScheduledReports: queues what is due, never waits
            self.reports.after_cycle(t, self.ledger)

    def _trail_records(self, t: int) -> np.ndarray:
        sc = self.engine.scratch
        tr = sc.trail
        out = np.zeros(len(tr), dtype=trail_rec_dt)
        out["ts"] = t
        for name in ("symbol_idx", "outcome", "reason", "gate_mask", "strategy_id", "direction", "conviction",
                     "win_prob", "kelly_f", "expected_roi", "size_usd"):
            out[name] = tr[name]
        out["regime"] = sc.regime[tr["symbol_idx"]]
        out["bars"] = 1
        return out

    async def _venue_events(self, t: int, row: BarRow, report: StepReport) -> list[Callable[[], None]]:
        """Push the market to a paper venue; apply the funding and fills the venue reports to the kernel.

        Returns the ledger bookings of those events, in order, for the step's transaction.
        """
        venue = self.venue
        fills_by_symbol: dict[str, list[Fill]] = {}
        if venue.simulated:
            venue = cast(SimulatedVenue, venue)
            for i, s in enumerate(self.symbols):
                b = row.book[i]
                nft = row.scalars[i, _R.next_funding_ts_ms]
                fills = venue.update_market(
                    s, b[0], b[1], b[2], b[3], float(row.ohlcv[i, 1]), float(row.ohlcv[i, 2]),
                    float(row.scalars[i, _R.mark_price]), t, bar_ts=t - BAR_MS,
                    funding_rate=float(row.scalars[i, _R.funding_rate]),
                    next_funding_ts=int(nft) if math.isfinite(nft) else None,
                )
                if fills:
                    fills_by_symbol[s] = fills
        payments = []
        if self._funding_from is not None:
            try:
                payments = await asyncio.wait_for(venue.funding_since(self._funding_from), timeout=self.submit_timeout_s)
                self._funding_from = t + 1
            except (TimeoutError, BotcoreError, OSError, ConnectionError) as exc:
                # read again next cycle from the same point (a payment is booked once: by its funding id)
                logger.warning("cycle %s: funding not read from the venue (%s); read again next cycle", utc(t), exc)
                report.n_faults += 1
        else:
            self._funding_from = t + 1
        by_symbol: dict[str, list] = {}
        for p in payments:
            if not self.ledger.has_funding(p.funding_id):
                by_symbol.setdefault(p.symbol, []).append(p)
        bookings: list[Callable[[], None]] = []
        for i, s in enumerate(self.symbols):
            for p in by_symbol.get(s, ()):
                self.engine.apply_funding(i, p.amount_usd)
                bookings.append(functools.partial(self.ledger.record_funding, p))
                report.n_funding += 1
            for fill in fills_by_symbol.get(s, ()):
                bookings.append(await self._venue_fill(t, i, fill, report))
        return bookings

    async def _venue_fill(self, t: int, i: int, fill: Fill, report: StepReport) -> Callable[[], None]:
        """Apply a fill the venue made on its own (a liquidation) to the kernel; return its ledger booking."""
        update = await self.venue.fetch_order(fill.client_order_id)
        strategy = int(self.engine.state.positions[i]["strategy_id"])
        self.engine.apply_fill(i, int(fill.side), fill.qty_contracts, fill.price, fill.fee_usd, strategy, t)
        report.n_fills += 1

        def book() -> None:
            if update is None:
                raise OperationalError(f"order {fill.client_order_id} ({fill.symbol}): the venue reported a fill "
                                       "but has no record of the order")
            try:
                self.ledger.order(fill.client_order_id)
            except RecordNotFound:  # an order the engine did not place (a liquidation)
                self.ledger.record_order(order_for(fill.client_order_id, fill.symbol, int(fill.side),
                                                   float(update.qty_contracts), float(self.engine.cfg.contract_size[i]),
                                                   t, strategy, True, KIND_LIQUIDATION, -1))
                report.n_orders += 1
            apply_order_update(self.ledger, update)

        return book

    def _prepare(self, t: int, it: np.void, report: StepReport) -> _Outgoing | None:
        """Turn an intent into the order to record and send; None when it must not be sent now."""
        i = int(it["symbol_idx"])
        symbol = self.symbols[i]
        reduce_only = bool(it["reduce_only"])
        kind = KIND_EXIT if reduce_only else KIND_ENTRY
        if int(it["order_type"]) != 0:
            raise OperationalError("limit intents are not supported by the loop yet (entry_post_only must be 0)")
        if not reduce_only and any(p.symbol_idx == i for p in self.pending.values()):
            # an earlier order of this symbol has an unknown outcome: another entry could double the position
            logger.warning("cycle %s: %s entry held back: an earlier order's outcome is still unknown", utc(t), symbol)
            report.n_held += 1
            return None
        cid = order_cid(t, i, kind)
        order = order_for(cid, symbol, int(it["side"]), float(it["qty_contracts"]),
                          float(self.engine.cfg.contract_size[i]), t, int(it["strategy_id"]), reduce_only, kind,
                          int(it["exit_reason"]))
        try:
            known = self.ledger.order(cid)
        except RecordNotFound:
            known = None
        if known is not None and known.status != OrderStatus.NEW:
            raise OperationalError(f"order {cid} is already {known.status.name} in the ledger: cycle {t} ran before")
        if known is None:
            report.n_orders += 1
        # known NEW: written ahead by a run that stopped before booking this cycle; it is re-run with the same id
        return _Outgoing(order, i, int(it["strategy_id"]), known is not None)

    async def _submit(self, t: int, o: _Outgoing) -> OrderUpdate | None:
        """Send ``o``; return the venue's answer, a REJECTED update, or None when the outcome is unknown.

        A submit that raises or times out may still have reached the venue, so the
        order is looked up by its client order id before anything is booked: found,
        its state is booked; not found, it is REJECTED with the reason; the lookup
        failing too leaves the outcome unknown (the order is pending and looked up
        every cycle). An order written ahead by a stopped run is looked up first,
        and sent only when the venue never saw it (a retried submit never doubles).
        """
        order = o.order
        cid = order.client_order_id
        if o.recorded:
            found = await self._lookup(cid, order.symbol)
            if found is not UNKNOWN and found is not None:
                logger.warning("order %s: written ahead by a stopped run and found on the venue: not sent again", cid)
                return found
            if found is UNKNOWN:
                return None
        request = OrderRequest(cid, order.symbol, order.side, OrderType.MARKET, qty_contracts=order.qty_contracts,
                               reduce_only=order.reduce_only)
        try:
            return await asyncio.wait_for(self.venue.submit(request), timeout=self.submit_timeout_s)
        except (TimeoutError, BotcoreError, OSError, ConnectionError) as exc:
            what = "timed out" if isinstance(exc, asyncio.TimeoutError) else f"{type(exc).__name__}: {exc}"
            if isinstance(exc, OperationalError):  # key, permission or broker id refused: no retry fixes it
                logger.error("order %s (%s): %s: entries stopped until a clean reconciliation", cid, order.symbol, exc)
                self.halted = (f"order {cid} ({order.symbol}) refused: {exc}",)
        found = await self._lookup(cid, order.symbol)
        if found is UNKNOWN:
            logger.error("order %s (%s): submit failed (%s) and the lookup failed: outcome unknown, looked up again "
                         "next cycle", cid, order.symbol, what)
            return None
        if found is not None:
            logger.warning("order %s (%s): submit failed (%s) but the venue has the order: booked as the venue says",
                           cid, order.symbol, what)
            return found
        # the venue has no record of it: REJECTED with the reason; the kernel's state did not change, so it decides
        # again next cycle (a new client order id) if the setup still holds
        logger.warning("order %s (%s): submit failed (%s): booked as rejected", cid, order.symbol, what)
        return OrderUpdate(cid, order.symbol, order.side, OrderType.MARKET, OrderStatus.REJECTED, t,
                           order.qty_contracts, 0.0, reduce_only=order.reduce_only,
                           reason_code=VenueReason.VENUE_REJECTED, reason=f"submit failed: {what}")

    async def _lookup(self, cid: str, symbol: str) -> OrderUpdate | None | Literal[_Unknown.UNKNOWN]:
        """Return the venue's state of order ``cid``, None when it never saw it, or :data:`UNKNOWN`."""
        try:
            return await asyncio.wait_for(self.venue.fetch_order(cid, symbol=symbol), timeout=self.submit_timeout_s)
        except (TimeoutError, BotcoreError, OSError, ConnectionError) as exc:
            logger.warning("order %s: lookup failed (%s)", cid, exc)
            return UNKNOWN

    def _book_answer(self, t: int, o: _Outgoing, update: OrderUpdate | None, report: StepReport) -> None:
        """Book the venue's answer to ``o`` and give its new fills to the kernel (None: outcome unknown, pending)."""
        cid = o.order.client_order_id
        if update is None:
            if self.ledger.order(cid).status == OrderStatus.NEW:
                self.ledger.update_order_status(cid, OrderStatus.SUBMITTED, t, reason="submit outcome unknown")
            self.pending[cid] = _Pending(o.symbol_idx, o.strategy, t)
            return
        self._book_update(t, o.symbol_idx, o.strategy, update, report)

    def _book_update(self, t: int, i: int, strategy: int, update: OrderUpdate, report: StepReport) -> None:
        new_fills = [f for f in update.fills if not self.ledger.has_fill(f.fill_id)]
        _changes, problems = apply_order_update(self.ledger, update)
        for p in problems:
            logger.error("order %s: %s", update.client_order_id, p)
        for fill in new_fills:
            if self.ledger.has_fill(fill.fill_id):
                self.engine.apply_fill(i, int(fill.side), fill.qty_contracts, fill.price, fill.fee_usd, strategy, t)
                report.n_fills += 1
        if self.ledger.order(update.client_order_id).is_open:
            self.pending[update.client_order_id] = _Pending(i, strategy, t)
        else:
            self.pending.pop(update.client_order_id, None)

    async def _resolve_pending(self, t: int, report: StepReport) -> None:
        """Look up the orders whose outcome is unknown (or still open) and book what the venue says."""
        if not self.pending:
            return
        for cid, p in list(self.pending.items()):
            order = self.ledger.order(cid)
            if order.created_ts_ms >= t:
                # written ahead for this very cycle by a run that stopped: the cycle is re-run with the same ids
                del self.pending[cid]
                continue
            if not order.is_open:
                del self.pending[cid]
                continue
            found = await self._lookup(cid, order.symbol)
            if found is UNKNOWN:
                report.n_faults += 1
                continue
            if found is None:
                why = ("never sent: the bot stopped after writing it ahead" if order.status == OrderStatus.NEW
                       else "the venue has no record of it")
                found = OrderUpdate(cid, order.symbol, order.side, order.order_type, OrderStatus.REJECTED, t,
                                    order.qty_contracts, 0.0, reduce_only=order.reduce_only,
                                    reason_code=VenueReason.VENUE_REJECTED, reason=why)
            with self.ledger.transaction(), routine_booking():
                self._book_update(t, p.symbol_idx, p.strategy, found, report)
                save_engine_state(self.ledger, self.engine, self._last_t if self._last_t is not None else t)
            logger.warning("order %s (%s): outcome resolved at cycle %s: %s", cid, order.symbol, utc(t),
                           self.ledger.order(cid).status.name)

    async def reconcile(self, t: int) -> Any:
        """Reconcile the ledger with the venue; rebuild the kernel if it changed anything; freeze on a mismatch.

        Returns the :class:`~botcore.venues.reconcile.ReconcileReport`, or None when the venue could not be read
        (tried again at the next reconciliation).
        """
        try:
            report = await asyncio.wait_for(reconcile_with_venue(self.ledger, self.venue, t),
                                            timeout=4 * self.submit_timeout_s)
        except (TimeoutError, BotcoreError, OSError, ConnectionError) as exc:
            logger.warning("cycle %s: reconciliation skipped, the venue could not be read (%s)", utc(t), exc)
            return None
        self.reconciliations += 1
        if report.changes:
            logger.warning("cycle %s: reconciliation changed the ledger (%d changes): the kernel's positions and cash "
                           "are rebuilt from it", utc(t), len(report.changes))
            rebuild_from_ledger(self.engine, self.ledger, self._last_t if self._last_t is not None else t)
            self.pending = {cid: p for cid, p in self.pending.items() if self.ledger.order(cid).is_open}
        if not report.ok:
            if self.halted is None:
                logger.error("cycle %s: reconciliation mismatch: entries stopped until a clean reconciliation: %s", utc(t),
                             "; ".join(report.problems))
            self.halted = tuple(report.problems)
        elif self.halted is not None:
            logger.warning("cycle %s: reconciliation clean again: entries resume", utc(t))
            self.halted = None
        if self.monitor is not None:
            try:
                self.monitor.after_reconcile(report)
            except Exception:  # noqa: BLE001 - an alert must never stop trading
                logger.exception("cycle %s: reconciliation alert failed", utc(t))
        return report

    # ------------------------------------------------------------------ running

    def stop(self) -> None:
        """Ask :meth:`run` to stop after the current step (a live feed's scheduler stops waiting at once)."""
        self._stop = True
        self.feed.stop()

    def run(self, cycles: int | None = None, progress: Callable[[StepReport, int], None] | None = None) -> RunReport:
        """Run the feed's cycles (at most ``cycles``); Ctrl-C stops cleanly after the current step."""
        out = RunReport()
        t0 = time.perf_counter()
        cycles_iter = iter([] if self.finished else self.feed)
        try:
            while True:
                # checked before asking for the next cycle: a live feed sleeps until it is due
                if self._stop or (cycles is not None and out.cycles >= cycles):
                    out.stopped = "stopped" if self._stop else "cycles"
                    break
                cycle = next(cycles_iter, None)
                if cycle is None or self._stop:
                    out.stopped = "stopped" if self._stop else out.stopped
                    break
                rep = self.step_cycle(cycle)
                out.cycles += 1
                out.orders += rep.n_orders
                out.fills += rep.n_fills
                out.funding += rep.n_funding
                if progress is not None:
                    progress(rep, out.cycles)
        except KeyboardInterrupt:
            out.stopped = "interrupted"
            logger.warning("interrupted: stopped after %d cycles (the last step was committed or rolled back whole)",
                           out.cycles)
        out.seconds = time.perf_counter() - t0
        return out

    def close(self) -> None:
        """Release the loop's event loop (the caller closes the ledger)."""
        self._aio.close()


def restore_engine(engine: Engine, ledger: Ledger, rec: dict[str, Any] | None, last_t: int) -> None:
    """Lay the persisted decision state over a warmed-up engine; rebuild it from the ledger when it is missing,
    of another layout (written by an older version) or disagrees with the ledger."""
    problems = ["no persisted engine state"]
    if rec is not None:
        try:
            apply_persisted(engine, rec["arrays"])
            problems = check_against_ledger(engine, ledger)
        except (KeyError, ValueError) as exc:
            problems = [f"persisted state of another layout ({exc})"]
    if problems:
        logger.error("resume: %s: the decision state is rebuilt from the ledger", "; ".join(problems))
        rebuild_from_ledger(engine, ledger, last_t)


def replay_loop(
    data: str | Path | Store,
    settings: Settings,
    ledger: Ledger,
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
    symbols: Sequence[str] | None = None,
    warmup_bars: int = DEFAULT_WARMUP_BARS,
    run_seed: int = 0,
    speed: float | None = None,
    params_overrides: dict[str, Any] | None = None,
    resume: bool = False,
) -> tuple[TradingLoop, Window]:
    """Build a paper :class:`TradingLoop` over a stored market, warmed up exactly as a backtest of the same window.

    The window is resolved with :func:`botcore.engine.backtest.resolve_window`;
    the venue is :meth:`PaperVenue.from_settings`; the feed a
    :class:`ReplayFeed` over ``[start, end]`` paced at ``speed`` (None: as fast
    as possible).

    With ``resume`` and a ledger that already holds a run (``meta['replay']``
    and a persisted engine state), the run resumes instead: same window, seed
    and overrides as recorded in the ledger, the signal states warmed up over
    the store through the last completed cycle, the decision state restored
    (:mod:`botcore.engine.recovery`), the paper venue given the ledger's
    positions and cash, and the feed starting at the next cycle.
    """
    store = data if isinstance(data, Store) else Store(data)
    prior = ledger.get_meta("replay") if resume else None
    rec = load_engine_state(ledger) if resume else None
    if resume and prior is None and len(ledger.orders()):
        raise OperationalError(f"ledger {ledger.path} holds orders but no replay record: cannot resume a replay on it")
    if prior is not None:
        if symbols is not None and list(symbols) != list(prior["symbols"]):
            logger.warning("resume: --symbols ignored, the ledger's run uses %s", prior["symbols"])
        symbols = prior["symbols"]
        run_seed = int(prior["run_seed"])
        params_overrides = dict(prior.get("params_overrides") or {})
    settings = restrict_settings(settings, symbols)
    engine = Engine(settings, run_seed=run_seed, params_overrides=params_overrides)
    if prior is not None:
        window = Window(int(prior["warmup_ms"]), int(prior["start_ms"]), int(prior["end_ms"]),
                        (int(prior["start_ms"]) - int(prior["warmup_ms"])) // BAR_MS)
    else:
        window = resolve_window(store, engine.symbols, start_ms, end_ms, warmup_bars)
    venue = PaperVenue.from_settings(settings)
    if prior is not None and (rec is not None or len(ledger.orders())):
        last_t = int(rec["t_ms"]) if rec is not None else int(ledger.equity()["ts_ms"].max())
        first = last_t + BAR_MS
        feed = ReplayFeed(store, engine.symbols, first, max(first, window.end_ms), speed=speed, staleness=settings,
                          lookback_bars=2)
        loop = TradingLoop(settings, feed, venue, ledger, SimClock(last_t), engine=engine, run_seed=run_seed,
                           resume_from_ms=last_t, finished=first > window.end_ms)
        loop.warm_up(store, window.warmup_ms if window.warmup_bars else window.start_ms, last_t)
        engine.align_regime_phase(window.start_ms)
        restore_engine(engine, ledger, rec, last_t)
        last_cycle = ReplayFeed(store, engine.symbols, last_t, last_t, staleness=settings, lookback_bars=2).at(last_t)
        restore_paper_venue(venue, ledger, last_cycle, engine.symbols)
        logger.warning("resumed run at cycle %s (next %s): %d orders, %d open positions in the ledger",
                       utc(last_t), utc(first), len(ledger.orders()), len(ledger.open_positions()))
        return loop, window
    # the loop reads only each cycle's latest closed 1m bar: a short look-back keeps snapshots cheap
    feed = ReplayFeed(store, engine.symbols, window.start_ms, window.end_ms, speed=speed, staleness=settings,
                      lookback_bars=2)
    loop = TradingLoop(settings, feed, venue, ledger, SimClock(window.start_ms), engine=engine, run_seed=run_seed)
    if window.warmup_bars:
        loop.warm_up(store, window.warmup_ms, window.start_ms - BAR_MS)
    engine.align_regime_phase(window.start_ms)
    ledger.set_meta("replay", {"data": str(store.root), "synthetic": store.synthetic, "symbols": list(engine.symbols),
                               "start_ms": window.start_ms, "end_ms": window.end_ms, "warmup_ms": window.warmup_ms,
                               "run_seed": run_seed, "params_overrides": dict(params_overrides or {})})
    return loop, window


__all__ = ["Clock", "RunReport", "SimClock", "StepReport", "TradingLoop", "WallClock", "replay_loop"]
