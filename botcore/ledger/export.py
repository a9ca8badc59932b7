"""Exports of the ledger: one CSV per table. Exports are copies, never state."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from botcore.ledger import schema
from botcore.ledger.store import Ledger

logger = logging.getLogger(__name__)


def export_csv(
    ledger: Ledger,
    out_dir: str | Path,
    *,
    tables: Sequence[str] = schema.TABLES,
    on_table: Callable[[str, int], None] | None = None,
) -> list[Path]:
    """Write ``<out_dir>/<table>.csv`` for each table, all read from one snapshot.

    Parameters
    ----------
    ledger : Ledger
        An open ledger (read-only is enough).
    out_dir : path-like
        Created if missing; existing files of the same names are replaced.
    tables : sequence of str
        Which tables (default: all of :data:`botcore.ledger.schema.TABLES`).
    on_table : callable, optional
        Called with ``(table, n_rows)`` after each file (progress reporting).

    Returns
    -------
    list of Path
        The files written, in ``tables`` order.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with ledger.snapshot():
        for name in tables:
            frame = ledger.table(name)
            path = out / f"{name}.csv"
            frame.to_csv(path, index=False)
            written.append(path)
            logger.debug("exported %d rows of %s to %s", len(frame), name, path)
            if on_table is not None:
                on_table(name, len(frame))
    return written
