"""The running bot watches its own ledger: the invariant at start and every N cycles.

:class:`InvariantGuard` runs :meth:`botcore.ledger.Ledger.check_invariant`
on the run's ledger. A red flag (money off by more than $1) engages the kill
switch in ``freeze`` (no new entries; exits keep working) through
:func:`botcore.ops.killswitch.engage` (who, why, since, history, kill file)
and raises one alert; the process and the dashboard stay up, and trading
resumes only when a person releases the switch (``botcore kill --release
--confirm``) after fixing the ledger.
"""

from __future__ import annotations

import logging
import time

from botcore.ledger import InvariantReport, Ledger
from botcore.ops import killswitch
from botcore.ops.notify import Notifier, RedFlag

logger = logging.getLogger(__name__)

#: Who the kill switch names when the guard engages it.
WHO = "botcore run (invariant guard)"


def _utc(ts_ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts_ms / 1000))


class InvariantGuard:
    """Check the invariant every ``every`` cycles; freeze entries and alert when it is broken.

    Parameters
    ----------
    ledger : Ledger
        The run's (writer) ledger.
    every : int
        Cycles between checks (0: only :meth:`check` calls by the caller).
    notifier : Notifier, optional
        Default: :meth:`Notifier.from_env` on the ledger's path.
    """

    def __init__(self, ledger: Ledger, *, every: int = 60, notifier: Notifier | None = None) -> None:
        self.ledger = ledger
        self.every = int(every)
        self.notifier = notifier
        self.frozen = False
        self.last: InvariantReport | None = None

    def check(self, t_ms: int | None = None, *, when: str = "") -> InvariantReport:
        """Check now; on a red flag engage the freeze (once) and alert. Return the report."""
        report = self.ledger.check_invariant()
        self.last = report
        if report.red_flag and not self.frozen:
            self.freeze(report, t_ms, when)
        elif not report.ok:
            logger.warning("ledger invariant: %d discrepancies under $1 %s", len(report.discrepancies), when)
        return report

    def after_cycle(self, t_ms: int, n: int) -> None:
        """Call after each committed cycle ``n`` (1-based): checks every ``every`` cycles."""
        if self.every and n % self.every == 0:
            self.check(t_ms, when=f"after cycle {_utc(t_ms)}")

    def freeze(self, report: InvariantReport, t_ms: int | None, when: str) -> None:
        """Engage the kill switch (freeze) and alert, naming the amount and the checks that failed."""
        self.frozen = True
        failed = "; ".join(str(d) for d in report.discrepancies[:5])
        why = (f"ledger invariant broken {when}: cash {report.cash_usd:,.2f} USD vs expected "
               f"{report.expected_cash_usd:,.2f} (off by {report.cash_diff_usd:+.2f} USD); new entries frozen "
               f"until a person checks the ledger (botcore ledger check) and releases the switch").strip()
        logger.error("%s; %s", why, failed)
        state = killswitch.engage(self.ledger, "freeze", who=WHO, why=why)
        notifier = self.notifier or Notifier.from_env(ledger=self.ledger)
        try:
            notifier.alert(RedFlag.WALLET_DISCREPANCY, "ledger invariant broken: entries frozen",
                           why + "\n" + report.summary(), detail={"kill_switch": state.to_dict(),
                                                                  "invariant": report.to_dict()})
        except Exception as exc:  # noqa: BLE001 - an alert must never stop the bot; the freeze is in place
            logger.error("invariant guard: the alert could not be sent: %s", exc)
