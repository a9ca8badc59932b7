"""The ledger invariant: cash equals start plus realised P&L minus fees plus funding.

Both sides come from independent tables: the left is the account row that
every write updates incrementally; the right sums the fills and funding
tables from the starting cash in ``meta``. Cross-checks tie the other tables to
the fills: realised P&L, fees and funding of closed trades plus open round
trips equal the fills' and funding's totals; each position's quantity equals
its signed fills (plus what was adopted from the venue); each order's filled
quantity equals its fills.

A :class:`InvariantReport` is ``ok`` when every difference is under the
tolerance (1e-6 USD or contracts); a money difference above 1 USD is a
``red_flag``.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass

#: Absolute tolerance of every check (USD for money, contracts for quantities).
DEFAULT_TOL = 1e-6
#: A money discrepancy above this many USD is a red flag (stop trading, alert).
RED_FLAG_USD = 1.0


@dataclass(frozen=True, slots=True)
class Check:
    """One comparison of the invariant: ``actual`` should equal ``expected``."""

    name: str
    expected: float
    actual: float
    unit: str
    tol: float = DEFAULT_TOL

    @property
    def diff(self) -> float:
        """Return ``actual - expected``."""
        return self.actual - self.expected

    @property
    def ok(self) -> bool:
        """Return True when ``|diff|`` is under the tolerance."""
        return abs(self.diff) < self.tol

    def __str__(self) -> str:
        mark = "ok " if self.ok else "BAD"
        return f"{mark} {self.name}: expected {self.expected:.6f} {self.unit}, actual {self.actual:.6f} (diff {self.diff:+.6f})"


@dataclass(frozen=True, slots=True)
class InvariantReport:
    """Result of :func:`check_invariant`.

    Attributes
    ----------
    schema_version : int
        Schema of the checked ledger.
    starting_cash_usd : float
        From ``meta``.
    cash_usd : float
        The account row's cash.
    realized_pnl_usd, fees_usd, funding_usd : float
        Totals over the fills and funding tables.
    n_fills, n_trades : int
        Rows counted.
    checks : tuple of Check
        Every comparison made (per-order checks only when they fail).
    """

    schema_version: int
    starting_cash_usd: float
    cash_usd: float
    realized_pnl_usd: float
    fees_usd: float
    funding_usd: float
    n_fills: int
    n_trades: int
    checks: tuple[Check, ...]

    @property
    def expected_cash_usd(self) -> float:
        """Return ``start + realised P&L - fees + funding`` from the fills and funding tables."""
        return self.starting_cash_usd + self.realized_pnl_usd - self.fees_usd + self.funding_usd

    @property
    def cash_diff_usd(self) -> float:
        """Return stored cash minus expected cash."""
        return self.cash_usd - self.expected_cash_usd

    @property
    def discrepancies(self) -> tuple[Check, ...]:
        """Return the checks that failed."""
        return tuple(c for c in self.checks if not c.ok)

    @property
    def ok(self) -> bool:
        """Return True when every check holds."""
        return not self.discrepancies

    @property
    def red_flag(self) -> bool:
        """Return True when a money check is off by more than :data:`RED_FLAG_USD`."""
        return any(c.unit == "USD" and abs(c.diff) > RED_FLAG_USD for c in self.checks)

    def summary(self) -> str:
        """Return a human-readable report, one line per check."""
        head = (
            f"schema v{self.schema_version}; {self.n_fills} fills, {self.n_trades} trades; "
            f"cash {self.cash_usd:.6f} = start {self.starting_cash_usd:.6f} + realised "
            f"{self.realized_pnl_usd:.6f} - fees {self.fees_usd:.6f} + funding {self.funding_usd:.6f} "
            f"(expected {self.expected_cash_usd:.6f}, diff {self.cash_diff_usd:+.6f})"
        )
        verdict = "invariant OK" if self.ok else f"invariant BROKEN: {len(self.discrepancies)} discrepancies"
        if self.red_flag:
            verdict += " (RED FLAG: over $1)"
        return "\n".join([head, *map(str, self.checks), verdict])

    def to_dict(self) -> dict:
        """Return the report as plain JSON-able data."""
        return {
            "ok": self.ok,
            "red_flag": self.red_flag,
            "schema_version": self.schema_version,
            "starting_cash_usd": self.starting_cash_usd,
            "cash_usd": self.cash_usd,
            "expected_cash_usd": self.expected_cash_usd,
            "cash_diff_usd": self.cash_diff_usd,
            "checks": [
                {"name": c.name, "expected": c.expected, "actual": c.actual, "diff": c.diff, "unit": c.unit, "ok": c.ok}
                for c in self.checks
            ],
        }


def _fsum(con: sqlite3.Connection, sql: str) -> float:
    """Return the exact float sum of the single column ``sql`` selects."""
    return math.fsum(row[0] for row in con.execute(sql) if row[0] is not None)


def check_invariant(con: sqlite3.Connection, *, schema_version: int, tol: float = DEFAULT_TOL) -> InvariantReport:
    """Compute the invariant over an open connection; call it inside one read snapshot."""
    row = con.execute("SELECT value FROM meta WHERE key = 'starting_cash_usd'").fetchone()
    starting = float(json.loads(row[0])) if row else 0.0
    row = con.execute("SELECT cash_usd FROM account WHERE id = 1").fetchone()
    cash = float(row[0]) if row else 0.0

    realized = _fsum(con, "SELECT realized_pnl_usd FROM fills")
    fees = _fsum(con, "SELECT fee_usd FROM fills")
    funding = _fsum(con, "SELECT amount_usd FROM funding")
    funding_attributed = _fsum(con, "SELECT amount_usd FROM funding WHERE attributed = 1")
    n_fills = con.execute("SELECT COUNT(*) FROM fills").fetchone()[0]
    n_trades = con.execute("SELECT COUNT(*) FROM trades").fetchone()[0]

    checks = [
        Check("cash", starting + realized - fees + funding, cash, "USD", tol),
        Check(
            "realized_pnl (trades + open positions vs fills)",
            realized,
            _fsum(con, "SELECT gross_pnl_usd FROM trades") + _fsum(con, "SELECT realized_pnl_usd FROM positions"),
            "USD",
            tol,
        ),
        Check(
            "fees (trades + open positions vs fills)",
            fees,
            _fsum(con, "SELECT fees_usd FROM trades") + _fsum(con, "SELECT fees_usd FROM positions"),
            "USD",
            tol,
        ),
        Check(
            "funding (trades + open positions vs funding)",
            funding_attributed,
            _fsum(con, "SELECT funding_usd FROM trades") + _fsum(con, "SELECT funding_usd FROM positions"),
            "USD",
            tol,
        ),
    ]
    checks.extend(_position_checks(con, tol))
    checks.extend(_order_checks(con, tol))
    return InvariantReport(
        schema_version=schema_version,
        starting_cash_usd=starting,
        cash_usd=cash,
        realized_pnl_usd=realized,
        fees_usd=fees,
        funding_usd=funding,
        n_fills=int(n_fills),
        n_trades=int(n_trades),
        checks=tuple(checks),
    )


def _position_checks(con: sqlite3.Connection, tol: float) -> list[Check]:
    """Return one check per symbol: signed fills plus adopted quantity vs the position row."""
    from_fills: dict[str, list[float]] = {}
    for symbol, signed in con.execute("SELECT symbol, side * qty_contracts FROM fills"):
        from_fills.setdefault(symbol, []).append(signed)
    stored = {
        symbol: (qty, adopted)
        for symbol, qty, adopted in con.execute("SELECT symbol, qty_contracts, adopted_qty_contracts FROM positions")
    }
    checks = []
    for symbol in sorted(set(from_fills) | set(stored)):
        qty, adopted = stored.get(symbol, (0.0, 0.0))
        expected = math.fsum(from_fills.get(symbol, [])) + adopted
        checks.append(Check(f"position_qty {symbol}", expected, qty, "contracts", tol))
    return checks


def _order_checks(con: sqlite3.Connection, tol: float) -> list[Check]:
    """Return a check for each order whose filled quantity disagrees with its fills."""
    rows = con.execute(
        """SELECT o.client_order_id, o.filled_qty_contracts, COALESCE(SUM(f.qty_contracts), 0.0)
           FROM orders o LEFT JOIN fills f ON f.client_order_id = o.client_order_id
           GROUP BY o.client_order_id"""
    )
    checks = [
        Check(f"order_filled_qty {cid}", from_fills, filled, "contracts", tol)
        for cid, filled, from_fills in rows
        if abs(filled - from_fills) >= tol
    ]
    orphans = con.execute(
        "SELECT COUNT(*) FROM fills WHERE client_order_id NOT IN (SELECT client_order_id FROM orders)"
    ).fetchone()[0]
    checks.append(Check("fills without an order", 0.0, float(orphans), "rows", 0.5))
    return checks
