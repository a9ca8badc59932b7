"""Restart recovery: what the live loop persists each cycle and how a restarted ``botcore run`` resumes.

The ledger is the single source of truth; a restart must not need anything
else. Each step's ledger transaction (``TradingLoop._astep``) ends with
:func:`save_engine_state`, which writes the kernel's *decision* state — the
small arrays the signal history cannot give back:

- ``acct`` (the Position replica: average cost, round-trip totals),
- ``positions`` (entry time, strategy, stop, high/low water marks, profit lock),
- ``portfolio`` (cash, peak equity, day/session starts, breaker code and until),
- ``memory`` (per-strategy trade ring, bandit posterior, loss streak and pause),
- ``clock``, ``venue_mark``, ``trail_open``, ``reason_counts``

as one compressed ``.npz`` (base64 in ``meta['engine:state']``, a few kB),
together with the cycle time it belongs to. Because it is written in the same
transaction as the cycle's orders, fills and equity, the ledger always holds
the state *after the last completed cycle*: a crash mid-step rolls the whole
step back, and the restart re-runs that cycle (same bar, same
``rng_seed = run_seed ^ t``, same deterministic client order ids
:func:`botcore.engine.records.order_cid`), so no order is lost or doubled.

The signal, regime and feature states (megabytes for 15 symbols) are not
stored: :func:`resume_replay_loop` rebuilds them by warm-up over the store's
bars from the original warm-up start through the last completed cycle —
:func:`botcore.engine.nb.advance_nb` over the same rows the cycles fed
(``tests/test_parity.py`` proves store rows == replayed rows), so the state is
the same bit for bit — and then overwrites the decision arrays with the
persisted ones (warm-up must not touch them: it runs first).

:func:`rebuild_from_ledger` is the fallback when a ledger has no persisted
state (a ledger written by something else, or positions adopted by
reconciliation): positions and round-trip totals from the ledger's
``positions`` table (an adopted position with unknown entry time counts as
aged: ``entry_ts_ms = -1``), cash from the account, the trade memory by
replaying the ``trades`` table in exit order through ``record_trade_nb``.
Tracking fields (stops, water marks) are then unknown: NaN, which the decision
kernel re-derives from the entry price.

:func:`restore_paper_venue` gives a fresh :class:`PaperVenue` the ledger's
positions and cash and the market of the last completed cycle (without
settling anything), i.e. the venue as it was after that cycle.
"""

from __future__ import annotations

import base64
import io
import logging
import math
from typing import Any

import numpy as np

from botcore.clock import utc
from botcore.engine.enums import Acct, Clock
from botcore.engine.state import Engine
from botcore.ledger import Ledger

logger = logging.getLogger(__name__)

STATE_KEY = "engine:state"
#: The decision arrays of :class:`~botcore.engine.state.EngineState` persisted each cycle.
PERSISTED = ("acct", "positions", "portfolio", "memory", "clock", "venue_mark", "trail_open", "reason_counts")
FORMAT = 1


def encode_state(engine: Engine) -> str:
    """Return the persisted arrays of ``engine.state`` as base64 of a compressed ``.npz``."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **{name: getattr(engine.state, name) for name in PERSISTED})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def decode_state(text: str) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(base64.b64decode(text)), allow_pickle=False) as z:
        return {name: z[name] for name in z.files}


def save_engine_state(ledger: Ledger, engine: Engine, t_ms: int, *, run_id: str = "", extra: dict | None = None) -> None:
    """Persist the decision state after the cycle at ``t_ms`` (call inside the cycle's transaction)."""
    ledger.set_meta(STATE_KEY, {
        "format": FORMAT, "t_ms": int(t_ms), "run_id": run_id, "symbols": list(engine.symbols),
        "run_seed": engine.run_seed, "data": encode_state(engine), **(extra or {}),
    })


def load_engine_state(ledger: Ledger) -> dict[str, Any] | None:
    """Return the persisted record (``t_ms``, ``symbols``, ``arrays``...) or None when the ledger has none."""
    rec = ledger.get_meta(STATE_KEY)
    if not rec:
        return None
    if int(rec.get("format", 0)) != FORMAT:
        raise ValueError(f"meta {STATE_KEY}: format {rec.get('format')!r} is not {FORMAT}")
    rec = dict(rec)
    rec["arrays"] = decode_state(rec.pop("data"))
    return rec


def apply_persisted(engine: Engine, arrays: dict[str, np.ndarray]) -> None:
    """Overwrite the engine's decision arrays in place with persisted ones (shapes and dtypes must match)."""
    for name in PERSISTED:
        dst = getattr(engine.state, name)
        src = arrays[name]
        if src.shape != dst.shape or src.dtype != dst.dtype:
            raise ValueError(f"persisted {name}: shape/dtype {src.shape}/{src.dtype} != {dst.shape}/{dst.dtype}")
        dst[...] = src


def check_against_ledger(engine: Engine, ledger: Ledger, tol: float = 1e-6) -> list[str]:
    """Return the differences between the kernel's positions/cash and the ledger's (empty when they agree)."""
    problems = []
    cash = ledger.cash()
    kcash = float(engine.state.portfolio[0]["cash_usd"])
    if abs(kcash - cash) > tol:
        problems.append(f"cash: kernel {kcash!r} != ledger {cash!r}")
    open_pos = ledger.open_positions()
    for i, s in enumerate(engine.symbols):
        q = float(engine.state.acct[i, Acct.qty_contracts])
        p = open_pos.get(s)
        lq = 0.0 if p is None else float(p.qty_contracts)
        if abs(q - lq) > 1e-9:
            problems.append(f"{s}: kernel qty {q!r} != ledger qty {lq!r}")
    for s in open_pos:
        if s not in engine.symbols:
            problems.append(f"{s}: open in the ledger but not in the enabled universe")
    return problems


def rebuild_from_ledger(engine: Engine, ledger: Ledger, t_ms: int) -> None:
    """Rebuild the decision state from the ledger alone (no persisted state; see the module docstring)."""
    from botcore.config.models import STRATEGY_NAMES
    from botcore.strategy.decide.nb import record_trade_nb

    st = engine.state
    cs = engine.cfg.contract_size
    open_pos = ledger.open_positions()
    names = {n: k for k, n in enumerate(STRATEGY_NAMES)}
    for i, s in enumerate(engine.symbols):
        st.acct[i, :] = 0.0
        pos = st.positions[i]
        p = open_pos.get(s)
        pos["qty_base"] = pos["qty_contracts"] = 0.0
        pos["entry_price"] = pos["stop_price"] = pos["high_water_price"] = pos["low_water_price"] = np.nan
        pos["entry_ts_ms"] = -1
        pos["strategy_id"] = -1
        pos["profit_lock_armed"] = 0
        pos["fees_paid_usd"] = 0.0
        if p is None or p.is_flat:
            continue
        a = st.acct[i]
        a[Acct.qty_contracts] = p.qty_contracts
        a[Acct.avg_entry_price] = p.avg_entry_price
        a[Acct.opened_qty_contracts] = p.opened_qty_contracts or abs(p.qty_contracts)
        a[Acct.entry_notional_usd] = p.entry_notional_usd or abs(p.qty_contracts) * cs[i] * p.avg_entry_price
        a[Acct.exit_qty_contracts] = p.exit_qty_contracts
        a[Acct.exit_notional_usd] = p.exit_notional_usd
        a[Acct.realized_pnl_usd] = p.realized_pnl_usd
        a[Acct.fees_usd] = p.fees_usd
        a[Acct.funding_usd] = p.funding_usd
        pos["qty_contracts"] = p.qty_contracts
        pos["qty_base"] = p.qty_contracts * cs[i]
        pos["entry_price"] = p.avg_entry_price
        # adopted (unknown entry time) counts as aged: entry_ts_ms = -1
        pos["entry_ts_ms"] = -1 if (p.adopted or p.entry_ts_ms is None) else int(p.entry_ts_ms)
        pos["strategy_id"] = names.get(p.strategy_id, -1)
        pos["fees_paid_usd"] = p.fees_usd
    from botcore.strategy.state import new_memory

    st.memory[...] = new_memory(engine.params)
    trades = ledger.trades()
    if len(trades):
        trades = trades.sort_values(["exit_ts_ms", "trade_id"] if "trade_id" in trades else ["exit_ts_ms"])
        for row in trades.itertuples(index=False):
            sid = names.get(row.strategy_id, -1)
            notional = float(row.entry_price) * float(row.qty_base)
            if sid < 0 or not notional:
                continue
            record_trade_nb(st.memory, sid, float(row.net_pnl_usd) / abs(notional), int(row.exit_ts_ms), engine.params)
    cash = ledger.cash()
    port = st.portfolio[0]
    port["cash_usd"] = cash
    st.clock[Clock.last_venue_ms] = int(t_ms)
    logger.warning("engine state rebuilt from the ledger at %s: %d open positions, %d trades in memory, cash %.2f",
                   utc(t_ms), len(open_pos), len(trades), cash)


def restore_paper_venue(venue: Any, ledger: Ledger, cycle: Any, symbols: tuple[str, ...]) -> None:
    """Give a fresh paper venue the ledger's positions and cash and the market of the last completed ``cycle``."""
    from botcore.engine.enums import RowScalars as _R
    from botcore.engine.inputs import BAR_MS, row_from_cycle
    from botcore.fills import validate_book
    from botcore.venues.paper import _Market

    open_pos = ledger.open_positions()
    for s in symbols:
        if s in open_pos:
            venue._positions[s] = open_pos[s]
    venue._cash_usd = ledger.cash()
    if cycle is None:
        return
    t = int(cycle.t_ms)
    row = row_from_cycle(cycle.arrays(lookback_bars=1))
    for i, s in enumerate(symbols):
        b = row.book[i]
        venue._market[s] = _Market(validate_book(b[0], b[1], b[2], b[3]), float(row.ohlcv[i, 1]),
                                   float(row.ohlcv[i, 2]), t - BAR_MS, float(row.scalars[i, _R.mark_price]), t)


def finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


__all__ = ["PERSISTED", "STATE_KEY", "apply_persisted", "check_against_ledger", "decode_state", "encode_state",
           "load_engine_state", "rebuild_from_ledger", "restore_paper_venue", "save_engine_state"]
