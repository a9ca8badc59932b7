"""The live loop: the same :class:`~botcore.engine.loop.TradingLoop` on the wall clock, fed by live public data.

``botcore run --feed live`` builds it with :func:`live_loop`:

- the feed is :class:`botcore.market.live.LiveFeed` (BloFin public data through
  ccxt plus the market-intelligence feeds), walked by a
  :class:`botcore.clock.Scheduler` on the cycle grid (no drift; an
  overrun is recorded in the ledger's meta ``loop:overruns`` and logged, never
  silently skipped);
- the venue is the paper venue (``--mode paper``: the shared fill model on live
  prices) or :class:`botcore.venues.blofin.BlofinVenue` (``demo``: BloFin's demo
  endpoint through ccxt's sandbox mode; ``live``: production, behind both
  ``mode: live`` in ``config/venue.yaml`` and ``--confirm-live``). A BloFin venue
  is prepared before the first cycle, on the event loop the run then uses (ccxt's
  client is bound to it): markets loaded, the position mode checked and set,
  leverage and margin mode set per symbol (:func:`prepare_venue`). BloFin's
  instruments are the source of truth: the run's contract value, lot, minimum
  size and leverage cap are BloFin's (:func:`venue_settings`);
- hosts: demo mode reads and trades on BloFin's demo host, live on production
  (:func:`rest_hosts`); a ``--venue-url`` replaces both;
- warm-up: the last ``warmup_bars`` minutes are downloaded into a store beside
  the ledger (``<ledger>.market/``) and fed to the signal states, as a replay warms
  up from its store;
- learning: :class:`LearningRunner` starts ``botcore learn`` every
  ``schedules.learning_hours`` as a child process; the loop applies the versions
  it writes at its next cycle;
- restart: a ledger that already holds a live run resumes it. The persisted
  decision state (:mod:`botcore.engine.recovery`) is laid over the warmed-up
  signal states and checked against the ledger (rebuilt from it when they
  disagree); orders a stopped run left open are looked up by client order id at
  the first cycle (:meth:`TradingLoop._resolve_pending`), and the first cycle
  reconciles the ledger with the venue (unknown positions adopted as aged; an
  unexplained mismatch stops entries and alerts).

The kernel, the step and the ledger records are the replay's: only the clock,
the feed and the venue differ.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from botcore.clock import WallClock, utc
from botcore.config.models import Settings
from botcore.engine.backtest import DEFAULT_WARMUP_BARS, restrict_settings
from botcore.engine.inputs import BAR_MS
from botcore.engine.loop import TradingLoop, restore_engine
from botcore.engine.recovery import load_engine_state, restore_paper_venue
from botcore.engine.state import Engine
from botcore.errors import ConfigError, OperationalError
from botcore.ledger import Ledger
from botcore.market.store import Store
from botcore.venues.base import Venue

logger = logging.getLogger(__name__)

META_KEY = "live"
OVERRUNS_KEY = "loop:overruns"
#: Overrun records kept in the ledger's meta (the newest).
OVERRUNS_KEPT = 100
MODES = ("paper", "demo", "live")


def check_mode(settings: Settings, mode: str, confirm_live: bool) -> None:
    """Raise :class:`ConfigError` unless ``mode`` may run: live needs ``mode: live`` in venue.yaml and --confirm-live."""
    if mode not in MODES:
        raise ConfigError(f"--mode {mode!r}: use paper, demo or live")
    if mode == "live" and not (settings.venue.mode == "live" and confirm_live):
        raise ConfigError("live trading needs both `mode: live` in config/venue.yaml and --confirm-live; refused")


def rest_hosts(mode: str, venue_url: str | None = None) -> tuple[str | None, str | None]:
    """Return (market-data host, trading host) of ``mode``: demo reads and trades on BloFin's demo host.

    ``venue_url`` (a proxy or a local test server) replaces both; paper trades on
    nothing (None) and reads production. None means ccxt's default production host.
    """
    from botcore.venues.blofin import DEMO_REST_URL, LIVE_REST_URL

    if venue_url:
        return venue_url, (None if mode == "paper" else venue_url)
    if mode == "demo":
        return DEMO_REST_URL, DEMO_REST_URL
    return LIVE_REST_URL, (LIVE_REST_URL if mode == "live" else None)


def venue_settings(settings: Settings, venue: Any) -> Settings:
    """Return ``settings`` with each asset's contract value, lot, minimum size and leverage cap taken from ``venue``.

    A venue without loaded market specs (the paper venue) leaves ``settings`` as they are.
    """
    specs = getattr(venue, "_markets", None)
    if not specs or not hasattr(venue, "account_config"):
        return settings
    assets = tuple(
        a.model_copy(update={"contract_size": specs[a.symbol].contract_size, "contract_step": specs[a.symbol].contract_step,
                             "min_contracts": specs[a.symbol].min_contracts,
                             "max_leverage": min(float(a.max_leverage), specs[a.symbol].max_leverage)})
        if a.symbol in specs else a for a in settings.universe.assets)
    return settings.model_copy(update={"universe": settings.universe.model_copy(update={"assets": assets})})


def open_venue(settings: Settings, mode: str, *, api_url: str | None = None, env: Any = None) -> Any:
    """Return the venue of ``mode``: the paper venue, or BloFin (demo or live) with credentials from the environment."""
    if mode == "paper":
        from botcore.venues.paper import PaperVenue

        return PaperVenue.from_settings(settings)
    from botcore.venues.blofin import BlofinVenue

    return BlofinVenue.from_settings(settings, mode=mode, api_url=api_url, env=env)


async def prepare_venue(venue: Venue, settings: Settings, symbols: Sequence[str]) -> None:
    """Load markets; on a real venue set the position mode and each symbol's leverage and margin mode."""
    if hasattr(venue, "restrict_assets"):
        venue.restrict_assets(symbols)
    await venue.load_markets()
    if venue.simulated:
        return
    account = await venue.account_config()
    wanted = settings.venue.position_mode
    if getattr(account, "position_mode", wanted) != wanted:
        logger.warning("venue position mode %s, configured %s: switching", account.position_mode, wanted)
        await venue.set_position_mode(wanted)
    assets = {a.symbol: a for a in settings.universe.enabled}
    specs = getattr(venue, "_markets", {})
    for s in symbols:
        cap = min(float(assets[s].max_leverage), specs[s].max_leverage) if s in specs else float(assets[s].max_leverage)
        leverage = min(float(settings.risk.max_leverage), cap)
        await venue.set_leverage(s, leverage, settings.risk.margin_mode)


def record_overrun(ledger: Ledger, overrun: Any) -> None:
    """Keep an overrun of the schedule in the ledger's meta (the newest :data:`OVERRUNS_KEPT`) and log it."""
    rec = overrun._asdict() if hasattr(overrun, "_asdict") else dict(overrun)
    kept = list(ledger.get_meta(OVERRUNS_KEY, []))[-(OVERRUNS_KEPT - 1):] + [rec]
    ledger.set_meta(OVERRUNS_KEY, kept)
    logger.warning("cycle %s overran: %s grid slot(s) missed, %s ms late", rec.get("cycle_ms"), rec.get("missed"),
                   rec.get("late_ms"))


class LearningRunner:
    """Start ``botcore learn`` on the run's ledger when a learning cycle is due, without blocking the loop.

    Called after every cycle (:meth:`poll`): when no cycle ran for
    ``schedules.learning_hours`` (:func:`botcore.learning.learning_due`) and none is
    running, it starts ``python -m botcore learn --ledger LEDGER`` (the papermill
    notebook: the audit record) as a child process and logs how it ended on a later
    poll. The loop picks the new versions up at its next cycle
    (:class:`botcore.engine.learning_link.LearningLink`). A failed run is not
    retried before another ``learning_hours``; a ledger that never learned has its
    first cycle one period into the run.
    """

    def __init__(self, ledger: Ledger, hours: float, *, config_dir: str | Path | None = None,
                 out_dir: str | Path = "runs", extra_args: Sequence[str] = (), python: str | None = None) -> None:
        import sys

        self.ledger = ledger
        self.hours = float(hours)
        self.command = [python or sys.executable, "-m", "botcore", "learn", "--ledger", str(ledger.path),
                        "--out", str(out_dir), *(["--config", str(config_dir)] if config_dir else []), *extra_args]
        self.proc: Any = None
        self.started_ms: int | None = None
        self.first_poll_ms: int | None = None
        self.runs: list[dict[str, Any]] = []

    def poll(self, now_ms: int) -> None:
        """Collect a finished run; start one when due."""
        from botcore.learning.cycle import LAST_CYCLE_META, learning_due

        if not self._collect():
            return
        period_ms = self.hours * 3_600_000
        if self.first_poll_ms is None:
            self.first_poll_ms = int(now_ms)
        if self.started_ms is not None and now_ms - self.started_ms < period_ms:
            return
        if not learning_due(self.ledger, now_ms, self.hours):
            return
        if self.ledger.get_meta(LAST_CYCLE_META) is None and now_ms - self.first_poll_ms < period_ms:
            return  # a ledger that never learned: its first cycle comes one period into the run, not at start-up
        logger.warning("learning cycle due: starting %s", " ".join(self.command[2:]))
        command = [*self.command, "--now", str(int(now_ms))]  # the loop's clock, not the child's
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.started_ms = int(now_ms)

    def _collect(self) -> bool:
        """Record a finished run; return False while one is still running."""
        if self.proc is None:
            return True
        rc = self.proc.poll()
        if rc is None:
            return False
        (logger.info if rc == 0 else logger.error)("learning run ended with exit code %d", rc)
        self.runs.append({"started_ms": self.started_ms, "exit_code": rc})
        self.proc = None
        return True

    def stop(self, timeout_s: float = 30.0) -> None:
        """Wait for a running learning run to end (it writes its version in one transaction), then collect it."""
        if self.proc is not None:
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:  # left running: it finishes on its own
                logger.warning("learning run still running at exit (pid %d)", self.proc.pid)
            self._collect()


def live_loop(
    settings: Settings,
    ledger: Ledger,
    feed: Any,
    venue: Any,
    *,
    mode: str,
    symbols: Sequence[str] | None = None,
    warmup_bars: int = DEFAULT_WARMUP_BARS,
    store: Store | str | Path | None = None,
    run_seed: int = 0,
    params_overrides: dict[str, Any] | None = None,
    warm_up_kwargs: dict[str, Any] | None = None,
    submit_timeout_s: float | None = None,
    monitor: Any = "default",
    aio: asyncio.AbstractEventLoop | None = None,
) -> TradingLoop:
    """Build the live :class:`TradingLoop` (see the module docstring); a ledger holding a live run is resumed.

    ``feed`` is a :class:`~botcore.market.live.LiveFeed` over the run's symbols (its
    scheduler paces the cycles); ``venue`` comes from :func:`open_venue`; ``aio`` is
    the event loop its client already used (``botcore run`` reads the balance on
    it), new when None.
    """
    if ledger.get_meta("replay") is not None:
        raise OperationalError(f"ledger {ledger.path} holds a replay run: a live run needs its own ledger")
    prior = ledger.get_meta(META_KEY)
    if prior is not None:
        if prior["mode"] != mode:
            raise OperationalError(f"ledger {ledger.path} holds a {prior['mode']} run; refusing to continue it in "
                                   f"{mode} mode (use a new --ledger)")
        if symbols is not None and list(symbols) != list(prior["symbols"]):
            logger.warning("resume: --symbols ignored, the ledger's run uses %s", prior["symbols"])
        symbols, run_seed = prior["symbols"], int(prior["run_seed"])
        params_overrides = dict(prior.get("params_overrides") or {})
    settings = restrict_settings(settings, symbols)
    aio = aio if aio is not None else asyncio.new_event_loop()
    run_symbols = [a.symbol for a in settings.universe.enabled]
    aio.run_until_complete(prepare_venue(venue, settings, run_symbols))  # the venue's client lives on this loop
    settings = venue_settings(settings, venue)
    engine = Engine(settings, run_seed=run_seed, params_overrides=params_overrides,
                    starting_cash_usd=ledger.starting_cash())  # a demo/live ledger starts from the account's balance
    if tuple(feed.symbols) != tuple(engine.symbols):
        raise OperationalError(f"the feed's symbols {list(feed.symbols)} differ from the run's {list(engine.symbols)}")
    rec = load_engine_state(ledger)
    resumed = prior is not None or rec is not None or len(ledger.orders()) > 0
    last_t = None
    if resumed:
        equity = ledger.equity()
        last_t = int(rec["t_ms"]) if rec is not None else (int(equity["ts_ms"].max()) if len(equity) else 0)
    timeout = float(settings.venue.request_timeout_ms) / 1000.0 if submit_timeout_s is None else submit_timeout_s
    # a new demo/live ledger's cash is the balance read when it was opened: funding settled since is booked
    funding_from = None if resumed or mode == "paper" else ledger.account_opened_ms()
    loop = TradingLoop(settings, feed, venue, ledger, WallClock(), engine=engine, run_seed=run_seed,
                       resume_from_ms=last_t, submit_timeout_s=timeout, monitor=monitor, funding_from_ms=funding_from,
                       aio=aio)
    store = Store(store if store is not None else Path(f"{ledger.path}.market"))
    if warmup_bars:
        w = feed.warm_up(store, warmup_bars, **(warm_up_kwargs or {}))
        if w.faults:
            logger.warning("warm-up: %d sources incomplete: %s", len(w.faults), w.faults)
        loop.warm_up(store, w.first_ms, w.last_ms)
        first_cycle = w.last_ms + BAR_MS
    else:
        first_cycle = (WallClock().now_ms() // BAR_MS + 1) * BAR_MS
    engine.align_regime_phase(int(prior["phase_ms"]) if prior is not None else first_cycle)
    if resumed:
        restore_engine(engine, ledger, rec, last_t)
        if mode == "paper":
            restore_paper_venue(venue, ledger, None, engine.symbols)
        logger.warning("resumed the %s run of %s (last cycle %s): %d orders, %d open positions, %d orders pending",
                       mode, ledger.path, utc(last_t), len(ledger.orders()), len(ledger.open_positions()),
                       len(loop.pending))
    if prior is None:
        ledger.set_meta(META_KEY, {"mode": mode, "symbols": list(engine.symbols), "run_seed": run_seed,
                                   "params_overrides": dict(params_overrides or {}), "phase_ms": first_cycle,
                                   "started_ms": WallClock().now_ms()})
    scheduler = getattr(feed, "scheduler", None)
    if scheduler is not None and getattr(scheduler, "on_overrun", "absent") is None:
        scheduler.on_overrun = lambda overrun: record_overrun(ledger, overrun)
    return loop


__all__ = ["LearningRunner", "META_KEY", "MODES", "OVERRUNS_KEY", "check_mode", "live_loop", "open_venue", "prepare_venue",
           "record_overrun", "rest_hosts", "venue_settings"]
