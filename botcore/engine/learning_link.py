"""Where the learning system meets the engine: active parameters, benching and the outcome log, per cycle.

Both clocks use these, so a backtest and a paper replay of the same window
make the same decisions and log the same outcomes:

- :class:`LearningLink` — ``link.at_cycle(engine, t_ms)`` before each cycle:
  when the ledger's active ``learning`` / ``benched_symbols`` / ``autonomy`` /
  ``patterns`` versions changed (one query on the version ids), re-applies
  :func:`~botcore.learning.active_overrides` to the engine in place
  (:meth:`botcore.engine.Engine.apply_parameters`: weights into
  ``EngineConfig.weights``, the overrides into the decision parameters, over
  the run's own ``params_overrides``) and sets the benched flags of the
  decision kernel (:meth:`~botcore.engine.Engine.set_benched` from the
  benched symbols whose ``since_ms <= t``). The kernel holds a benched
  symbol's entries back with the ``benched`` gate (its trail row: outcome
  ``skipped``, reason ``benched``, the kernel's direction and conviction
  kept); exits of its open position still run.
- :func:`record_step_outcomes` — the live loop, inside each step's
  transaction after the fills: the ``entry`` events of the entry orders of
  cycle ``t`` that filled (signals from the engine's scratch) and the
  ``close`` events of the trades that closed at ``t``.
- :func:`record_backtest_outcomes` — the backtest, after each batch of its
  compiled loop: the same events for the bars ``[t_first, t_last]``, the
  entry signals written by the compiled loop (``EngineOutputs.signals``).

Both build their rows with :func:`outcome_rows`, ordered by time, closes
before entries, then symbol column: the ``signal_outcomes`` table of a
backtest and of a replay of the same window hold the same rows.

An entry's ``entry_key`` is its entry order's client order id
(``order_cid(t, col, KIND_ENTRY)``); a close names the same key (from the
trade's entry time and symbol), so the log pairs them. Adopted trades (no
entry time) log nothing.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from botcore.clock import utc
from botcore.config.models import STRATEGY_NAMES, Settings
from botcore.engine.enums import KIND_ENTRY, entry_signal_rec_dt
from botcore.engine.records import order_cid
from botcore.learning.outcomes import close_row, entry_row, record_signal_outcomes
from botcore.ledger import Ledger

logger = logging.getLogger(__name__)

__all__ = [
    "ENGINE_KINDS",
    "LearningLink",
    "active_versions",
    "copy_active_versions",
    "outcome_rows",
    "record_backtest_outcomes",
    "record_step_outcomes",
    "step_entry_signals",
]

#: Parameter kinds whose active versions change what the engine decides.
ENGINE_KINDS = ("learning", "benched_symbols", "autonomy", "patterns")


def active_versions(ledger: Ledger) -> dict[str, int | None]:
    """Return the active version id of each of :data:`ENGINE_KINDS` (None: none active); one query."""
    marks = ",".join("?" * len(ENGINE_KINDS))
    rows = ledger._con.execute(  # the ledger's own connection: cheap enough for every cycle
        f"SELECT kind, version FROM parameters WHERE active = 1 AND kind IN ({marks})", ENGINE_KINDS).fetchall()
    found = {str(r[0]): int(r[1]) for r in rows}
    return {kind: found.get(kind) for kind in ENGINE_KINDS}


class LearningLink:
    """Keep an :class:`~botcore.engine.Engine` on the ledger's active learned parameters and benchings.

    Parameters
    ----------
    ledger : Ledger
        The ledger holding the parameter versions (the live loop's own; the
        backtest's, into which :func:`copy_active_versions` copied them).
    settings : Settings
        The configuration the engine was built from.
    symbols : sequence of str, optional
        The engine's symbols in column order (default: the enabled universe).

    Notes
    -----
    The first :meth:`at_cycle` raises ``ValueError`` when an active version is
    invalid (the run must not start on parameters it cannot apply); later
    ones log the error and keep the parameters in force until the versions
    change again.
    """

    def __init__(self, ledger: Ledger, settings: Settings, symbols: Sequence[str] | None = None) -> None:
        self.ledger = ledger
        self.settings = settings
        self.symbols = tuple(symbols) if symbols is not None else tuple(a.symbol for a in settings.universe.enabled)
        self.versions: dict[str, int | None] | None = None
        self.benched: dict[str, dict] = {}
        self.applied = 0
        self.error: str | None = None

    def refresh(self, engine: Any) -> bool:
        """Re-apply the active versions when their ids changed since the last call; return True if they changed."""
        from botcore.learning.benching import benched_symbols
        from botcore.learning.cycle import active_overrides

        versions = active_versions(self.ledger)
        if versions == self.versions:
            return False
        first = self.versions is None
        try:
            weights, overrides = active_overrides(self.ledger, self.settings)
            engine.apply_parameters(weights, overrides)
            benched = benched_symbols(self.ledger)
        except ValueError as exc:
            if first:
                raise
            self.versions = versions
            self.error = str(exc)
            logger.error("learning: active versions %s cannot be applied (%s); the engine keeps its parameters",
                         _fmt(versions), exc)
            return True
        self.versions = versions
        self.benched = benched
        self.error = None
        self.applied += 1
        log = logger.info if first else logger.warning
        log("learning: engine on versions %s (weights %s; overrides %s; benched %s)", _fmt(versions),
            np.round(np.asarray(weights), 4).tolist(), overrides or "none", sorted(benched) or "none")
        return True

    def mask_at(self, t_ms: int) -> np.ndarray:
        """Return the benched mask at ``t_ms``: True for a benched symbol whose bench began at or before ``t_ms``."""
        return np.array([s in self.benched and int(self.benched[s].get("since_ms", 0)) <= int(t_ms)
                         for s in self.symbols], dtype=bool)

    def next_change_ms(self, after_ms: int) -> int | None:
        """Return the first bench start after ``after_ms`` (where the mask changes without a new version), or None."""
        later = [int(info.get("since_ms", 0)) for s, info in self.benched.items()
                 if s in self.symbols and int(info.get("since_ms", 0)) > int(after_ms)]
        return min(later) if later else None

    def at_cycle(self, engine: Any, t_ms: int) -> bool:
        """Call before the cycle at ``t_ms``: refresh the parameters if the versions changed, set the benched flags.

        Return True when the active versions changed (the engine's parameters were re-applied).
        """
        changed = self.refresh(engine)
        mask = self.mask_at(t_ms)
        was = engine.benched
        if changed or not np.array_equal(mask, was):
            if not np.array_equal(mask, was):
                on = [s for s, m, w in zip(self.symbols, mask, was) if m and not w]
                off = [s for s, m, w in zip(self.symbols, mask, was) if w and not m]
                logger.warning("cycle %s: benched %s, returned %s (entries held back, exits run)", utc(t_ms),
                               on or "none", off or "none")
            engine.set_benched(mask)
        return changed


def _fmt(versions: Mapping[str, int | None]) -> str:
    return ", ".join(f"{k} v{v}" for k, v in versions.items() if v is not None) or "none (configuration)"


# --------------------------------------------------------------------------- copying versions (backtest)


def copy_active_versions(source: Ledger, target: Ledger, *, start_ms: int | None = None) -> dict[str, dict[str, Any]]:
    """Copy the active versions of :data:`ENGINE_KINDS` from ``source`` into ``target`` (active there).

    For a backtest, whose ledger is new each run: the run's ledger then says
    which parameters it ran with. With ``start_ms``, a bench that began
    later (``since_ms > start_ms``: benched after the window started, e.g.
    benched today and backtested over last month) applies from ``start_ms``:
    the run uses the benchings in force now. Return ``{kind: {"source_version",
    "version", "reason"}}``.
    """
    copied: dict[str, dict[str, Any]] = {}
    with target.transaction():
        for kind in ENGINE_KINDS:
            active = source.active_params(kind)
            if active is None:
                continue
            body = copy.deepcopy(active.body)
            if kind == "benched_symbols" and start_ms is not None and isinstance(body.get("symbols"), dict):
                for info in body["symbols"].values():
                    if isinstance(info, dict) and int(info.get("since_ms", 0)) > int(start_ms):
                        info["since_ms"] = int(start_ms)
            reason = f"copied from {source.path} ({kind} v{active.version}: {active.reason})"
            version = target.put_params(kind, body, reason=reason, activate=True, ts_ms=active.created_ts_ms)
            copied[kind] = {"source_version": active.version, "version": version, "reason": active.reason}
    return copied


# --------------------------------------------------------------------------- the outcome log


def _strategy_index(name: Any) -> int:
    return STRATEGY_NAMES.index(name) if name in STRATEGY_NAMES else -1


def step_entry_signals(ledger: Ledger, engine: Any, t_ms: int) -> np.ndarray:
    """Return the ``entry_signal_rec_dt`` records of cycle ``t_ms``'s entry orders that filled (the live loop's).

    The signals come from ``engine.scratch``, so call this after the cycle's
    fills and before the next cycle.
    """
    n = engine.n_symbols
    cids = {order_cid(int(t_ms), i, KIND_ENTRY): i for i in range(n)}
    marks = ",".join("?" * len(cids))
    rows = ledger._con.execute(
        f"SELECT client_order_id, side, strategy_id FROM orders WHERE client_order_id IN ({marks}) "
        "AND filled_qty_contracts > 0", tuple(cids)).fetchall()
    cols = sorted((cids[str(r[0])], int(r[1]), str(r[2])) for r in rows)
    sc = engine.scratch
    out = np.zeros(len(cols), dtype=entry_signal_rec_dt)
    for k, (i, side, strategy) in enumerate(cols):
        rec = out[k]
        rec["ts"], rec["col"], rec["side"], rec["strategy_id"] = int(t_ms), i, side, _strategy_index(strategy)
        rec["regime"], rec["conviction"] = int(sc.regime[i]), float(sc.conviction[i])
        rec["score"], rec["confidence"], rec["status"] = sc.score[i], sc.conf[i], sc.status[i]
    return out


def _closed_trades(ledger: Ledger, first_ms: int, last_ms: int) -> pd.DataFrame:
    cur = ledger._con.execute(
        "SELECT symbol, side, strategy_id, entry_ts_ms, exit_ts_ms, entry_price, qty_base, net_pnl_usd, adopted "
        "FROM trades WHERE exit_ts_ms BETWEEN ? AND ? ORDER BY exit_ts_ms, trade_id", (int(first_ms), int(last_ms)))
    rows = cur.fetchall()
    return pd.DataFrame([tuple(r) for r in rows], columns=[d[0] for d in cur.description])


def outcome_rows(entry_signals: np.ndarray, trades: pd.DataFrame, symbols: Sequence[str]) -> list[dict[str, Any]]:
    """Return the outcome-log events of some cycles: a ``close`` per trade, an ``entry`` per entry signal record.

    ``entry_signals`` are ``entry_signal_rec_dt`` records; ``trades`` rows of
    the ledger's ``trades`` table closed in those cycles. Ordered by time,
    closes before entries, then symbol column (the order one step at a time
    gives). Adopted trades and trades of other symbols are left out.
    """
    col_of = {s: i for i, s in enumerate(symbols)}
    keyed: list[tuple[tuple[int, int, int], dict[str, Any]]] = []
    for tr in trades.itertuples(index=False):
        if int(tr.adopted) or tr.entry_ts_ms is None or (isinstance(tr.entry_ts_ms, float) and math.isnan(tr.entry_ts_ms)):
            continue
        col = col_of.get(tr.symbol)
        if col is None:
            continue
        notional = float(tr.entry_price) * abs(float(tr.qty_base))
        net = float(tr.net_pnl_usd)
        row = close_row(order_cid(int(tr.entry_ts_ms), col, KIND_ENTRY), int(tr.exit_ts_ms), net,
                        net / notional if notional > 0 else None)
        row.update(symbol=tr.symbol, strategy=str(tr.strategy_id), side=int(tr.side))
        keyed.append(((int(tr.exit_ts_ms), 0, col), row))
    for rec in entry_signals:
        t, col = int(rec["ts"]), int(rec["col"])
        sid = int(rec["strategy_id"])
        regime = int(rec["regime"])
        row = entry_row(order_cid(t, col, KIND_ENTRY), t, symbols[col],
                        STRATEGY_NAMES[sid] if 0 <= sid < len(STRATEGY_NAMES) else "", int(rec["side"]),
                        rec["score"], rec["confidence"], rec["status"], regime=regime if regime >= 0 else None,
                        conviction=float(rec["conviction"]))
        keyed.append(((t, 1, col), row))
    keyed.sort(key=lambda kv: kv[0])
    return [row for _key, row in keyed]


def record_step_outcomes(ledger: Ledger, engine: Any, t_ms: int) -> int:
    """Log the outcome events of the live loop's cycle ``t_ms``; return how many were new.

    Call inside the step's ledger transaction, after the cycle's orders and
    fills are booked (``_execute``) and before the next cycle: ``entry`` events
    for the entry orders of ``t_ms`` that filled (signals, conviction and
    regime from ``engine.scratch``), ``close`` events for the trades whose
    exit is at ``t_ms`` (exits and liquidations). Idempotent.
    """
    rows = outcome_rows(step_entry_signals(ledger, engine, t_ms), _closed_trades(ledger, t_ms, t_ms), engine.symbols)
    return record_signal_outcomes(ledger, rows) if rows else 0


def record_backtest_outcomes(ledger: Ledger, entry_signals: np.ndarray, first_ms: int, last_ms: int,
                             symbols: Sequence[str]) -> int:
    """Log the outcome events of a backtest batch (cycles ``[first_ms, last_ms]``, already booked); return how many were new.

    ``entry_signals`` are the batch's ``EngineOutputs.signals`` records. Gives
    the rows :func:`record_step_outcomes` gives cycle by cycle.
    """
    rows = outcome_rows(entry_signals, _closed_trades(ledger, first_ms, last_ms), symbols)
    return record_signal_outcomes(ledger, rows) if rows else 0
