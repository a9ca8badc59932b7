"""Entries per day and the longest stretch without an entry, for any store, with the shipped configuration.

    python -m benchmarks.entry_rate STORE [STORE ...] [--days 10] [--config config]

Backtests each store (``botcore.engine.backtest.run_backtest``, its window's
last ``--days`` days after the 3-day warm-up) and prints, per store, the
entries per day, the fewest and most entries on one UTC day, the longest gap
without an entry (with its UTC times), each strategy's trades and the gate
that binds. The issue-17 acceptance: 5-20 entries a day, no gap of 24 h, on
sample markets of seeds no test uses, e.g.::

    botcore data sample --out /tmp/m101 --days 13 --seed 101
    python -m benchmarks.entry_rate /tmp/m101
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from botcore.config import load_settings
from botcore.engine.backtest import data_range, run_backtest
from botcore.ledger import Ledger
from botcore.market.store import Store

DAY = 86_400_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stores", nargs="+", type=Path)
    ap.add_argument("--days", type=float, default=10.0)
    ap.add_argument("--config", type=Path, default=Path("config"))
    args = ap.parse_args()
    settings = load_settings(args.config)
    symbols = [a.symbol for a in settings.universe.enabled]
    for path in args.stores:
        _first, last = data_range(Store(path), symbols)
        start = max(_first + 3 * DAY, last - int(args.days * DAY))
        start -= start % 60_000
        with tempfile.TemporaryDirectory() as out:
            result = run_backtest(path, settings, out, start_ms=start, end_ms=last, trail="full")
            with Ledger.open(result.ledger_path, readonly=True) as led:
                per_strategy = led.trades()["strategy_id"].value_counts().to_dict()
        e = result.summary["entries"]
        days = e["by_day"].values()
        binding = result.summary.get("binding") or {}
        verdict = "OK" if 5 <= e["per_day"] <= 20 and e["longest_gap_hours"] < 24 else "OUT OF BAND"
        print(f"{path}: {e['per_day']:.2f} entries/day ({e['n']} in {e['days']:.1f} days; per UTC day "
              f"{min(days, default=0)}-{max(days, default=0)}), longest gap {e['longest_gap_hours']:.1f} h "
              f"({e['longest_gap_from']} .. {e['longest_gap_to']} UTC) [{verdict}]")
        print(f"    trades by strategy {per_strategy}; binding gate: {binding.get('text', 'none')}")


if __name__ == "__main__":
    main()
