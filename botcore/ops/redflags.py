"""Red flags the loop raises after each cycle, reconciliation and invariant check.

:class:`RedFlagMonitor` turns what the loop already has into alerts through a
:class:`botcore.ops.notify.Notifier` (which rate limits them per kind):

- ``after_cycle(trail, portfolio, memory, params, now_ms)``:
  ``kelly_zero`` when Kelly sizes every enabled strategy at 0 for a
  high-conviction setup with the current trade memory (the prototype's
  "Kelly size calculated as 0.0"); ``circuit_breaker`` when a breaker trips
  (on the transition, with its cool-down end); ``repeated_outages`` when
  ``outage_cycles`` cycles in a row have at least ``outage_share`` of the
  symbols held back by ``data_outage``.
- ``after_reconcile(report)``: ``reconciliation_mismatch`` when problems
  remain, ``wallet_discrepancy`` when cash differs by more than $1.
- ``after_invariant(report)``: ``wallet_discrepancy`` on the ledger's red flag.

Each method returns the alerts it raised (empty when all is well). It holds no
I/O of its own besides the notifier, so it is cheap enough for every cycle.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from botcore.config.models import STRATEGY_NAMES
from botcore.ops.notify import AlertResult, Notifier, RedFlag
from botcore.strategy import Reason
from botcore.strategy import nb as strategy_nb

#: Conviction of the "high-confidence setup" that Kelly must size above 0.
HIGH_CONVICTION = 0.8
BREAKER_NAMES = {1: "session loss", 2: "daily loss", 3: "drawdown"}


def kelly_sizes(params: np.ndarray, memory: np.ndarray, equity_usd: float,
                conviction: float = HIGH_CONVICTION) -> dict[str, dict[str, float]]:
    """Size a setup of ``conviction`` for every enabled strategy with the strategy package's Kelly kernels.

    Calls ``kelly_inputs_nb`` (trade memory, or the defaults while it is short),
    ``conviction_win_prob_nb``, ``kelly_f_nb``, ``vol_scale_nb`` at the volatility
    target, ``profit_scale_nb`` and ``kelly_size_usd_nb``.

    Returns
    -------
    dict
        ``{strategy: {win_rate, payoff, win_prob, kelly_f, size_usd, pct_of_equity}}``.
    """
    p = params[0]
    out: dict[str, dict[str, float]] = {}
    for s, strategy in enumerate(STRATEGY_NAMES):
        if not p["strategy_enabled"][s]:
            continue
        win_rate, payoff = strategy_nb.kelly_inputs_nb(memory[s], p)
        win_prob = strategy_nb.conviction_win_prob_nb(win_rate, conviction, p)
        kelly_f = strategy_nb.kelly_f_nb(win_prob, payoff)
        vol_scale = strategy_nb.vol_scale_nb(float(p["volatility_target"]), p)
        profit_scale = strategy_nb.profit_scale_nb(memory[s], p)
        size = strategy_nb.kelly_size_usd_nb(float(equity_usd), kelly_f, vol_scale, profit_scale, p)
        out[strategy] = {"win_rate": float(win_rate), "payoff": float(payoff), "win_prob": float(win_prob),
                         "kelly_f": float(kelly_f), "size_usd": float(size),
                         "pct_of_equity": 100 * float(size) / equity_usd if equity_usd > 0 else float("nan")}
    return out


class RedFlagMonitor:
    """Raise red-flag alerts from the loop's state (see the module docstring).

    Parameters
    ----------
    notifier : Notifier
        Where alerts go (rate limited per kind).
    outage_cycles : int
        Consecutive outage cycles that make "repeated outages".
    outage_share : float
        Share of symbols held back by ``data_outage`` that makes a cycle an outage cycle.
    """

    def __init__(self, notifier: Notifier, *, outage_cycles: int = 5, outage_share: float = 0.5) -> None:
        self.notifier = notifier
        self.outage_cycles = int(outage_cycles)
        self.outage_share = float(outage_share)
        self.outage_streak = 0
        self._breaker = 0
        self._kelly_zero = False

    def after_cycle(self, trail: np.ndarray, portfolio: np.ndarray, memory: np.ndarray, params: np.ndarray,
                    now_ms: int | None = None, symbols: Any = None) -> list[AlertResult]:
        """Check one cycle's trail and state; return the alerts raised."""
        raised: list[AlertResult] = []
        port = portfolio[0]
        # Kelly size 0 for every strategy
        sizes = kelly_sizes(params, memory, float(port["equity_usd"]) if port["equity_usd"] > 0 else 10_000.0)
        zero = bool(sizes) and all(not v["size_usd"] > 0 for v in sizes.values())
        if zero and not self._kelly_zero:
            text = "; ".join(f"{s}: p={v['win_prob']:.2f} b={v['payoff']:.2f} f*={v['kelly_f']:.3f}"
                             for s, v in sizes.items())
            raised.append(self.notifier.alert(
                RedFlag.KELLY_ZERO, "Kelly size calculated as 0.0 for every strategy",
                f"At {HIGH_CONVICTION:.0%} conviction no enabled strategy gets a size: {text}. The bot cannot "
                "enter any trade; check the trade memory (run the bootstrap) and the sizing parameters.",
                detail={"strategies": sizes}))
        self._kelly_zero = zero
        # circuit breaker trips
        code = int(port["breaker_code"])
        if code != 0 and self._breaker == 0:
            until = int(port["breaker_until_ms"])
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(until / 1000)) if until > 0 else "unknown"
            raised.append(self.notifier.alert(
                RedFlag.CIRCUIT_BREAKER, f"circuit breaker tripped: {BREAKER_NAMES.get(code, code)} limit",
                f"New entries are paused until {when}; exits keep working. Equity {float(port['equity_usd']):,.2f} "
                f"USD (peak {float(port['peak_equity_usd']):,.2f}, day start {float(port['day_start_equity_usd']):,.2f}).",
                detail={"breaker_code": code, "until_ms": until}))
        self._breaker = code
        # repeated data outages
        n = int(trail.shape[0])
        if n:
            outage = (trail["reason"] == Reason.data_outage) | ((trail["gate_mask"] >> Reason.data_outage) & 1 == 1)
            share = float(np.count_nonzero(outage)) / n
            self.outage_streak = self.outage_streak + 1 if share >= self.outage_share else 0
            if self.outage_streak == self.outage_cycles:
                names = [symbols[int(i)] if symbols is not None else str(int(i))
                         for i in trail["symbol_idx"][outage]]
                raised.append(self.notifier.alert(
                    RedFlag.REPEATED_OUTAGES, f"data outage for {self.outage_cycles} cycles in a row",
                    f"{share:.0%} of the symbols are held back by DATA_OUTAGE ({', '.join(names[:20])}"
                    f"{' ...' if len(names) > 20 else ''}); trading is blocked where data is missing.",
                    detail={"share": share, "cycles": self.outage_streak}))
        return raised

    def after_reconcile(self, report: Any) -> list[AlertResult]:
        """Alert on a reconciliation that left problems or found the wallet off by more than $1."""
        raised = []
        diff = float(getattr(report, "cash_diff_usd", 0.0))
        if abs(diff) > 1.0:
            raised.append(self.notifier.alert(
                RedFlag.WALLET_DISCREPANCY, f"wallet balance discrepancy {diff:+.2f} USD",
                f"Ledger cash {report.ledger_cash_usd:,.2f} USD, venue {report.venue_cash_usd:,.2f} USD.",
                detail={"cash_diff_usd": diff}))
        if not report.ok:
            raised.append(self.notifier.alert(
                RedFlag.RECONCILIATION_MISMATCH, f"reconciliation mismatch: {len(report.problems)} problem(s)",
                "Trading stops until this is explained:\n" + "\n".join(f"- {p}" for p in report.problems),
                detail={"problems": list(report.problems)}))
        return raised

    def after_invariant(self, report: Any) -> list[AlertResult]:
        """Alert when the ledger invariant is off by more than $1."""
        if not report.red_flag:
            return []
        return [self.notifier.alert(
            RedFlag.WALLET_DISCREPANCY, f"ledger invariant broken: cash off by {report.cash_diff_usd:+.2f} USD",
            report.summary(), detail={"cash_diff_usd": report.cash_diff_usd})]
