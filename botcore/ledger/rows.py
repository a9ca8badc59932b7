"""Row codecs of the ledger: domain records to and from their SQLite rows (:mod:`botcore.ledger.store`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from botcore.errors import DataError
from botcore.model.orders import Order
from botcore.model.position import Position

ORDER_COLUMNS = (
    "client_order_id", "venue_order_id", "symbol", "side", "order_type", "qty_contracts", "contract_size",
    "price", "reduce_only", "strategy_id", "close_reason", "status", "filled_qty_contracts", "avg_fill_price",
    "status_reason", "created_ts_ms", "updated_ts_ms",
)
POSITION_FIELDS = (
    "symbol", "contract_size", "qty_contracts", "avg_entry_price", "entry_ts_ms", "last_ts_ms", "strategy_id",
    "opened_qty_contracts", "entry_notional_usd", "exit_qty_contracts", "exit_notional_usd",
    "realized_pnl_usd", "fees_usd", "funding_usd", "adopted",
)
DECISION_COLUMNS = ("ts_ms", "symbol", "strategy", "outcome", "reason_code", "reason_mask", "detail")


def order_row(order: Order) -> tuple:
    """The ``orders`` row of ``order`` in :data:`ORDER_COLUMNS` order (bools as 0/1)."""
    return tuple(
        int(v) if isinstance(v, bool) else v for v in (getattr(order, c) for c in ORDER_COLUMNS)
    )


def order_from_row(row: sqlite3.Row) -> Order:
    """The :class:`Order` of an ``orders`` row."""
    values = dict(row)
    values["reduce_only"] = bool(values["reduce_only"])
    return Order(**values)


def position_from_row(row: sqlite3.Row) -> Position:
    """The :class:`Position` of a ``positions`` row."""
    values = {k: row[k] for k in POSITION_FIELDS}
    values["adopted"] = bool(values["adopted"])
    return Position(**values)


def int_field(row: Mapping[str, Any], key: str) -> int:
    """Return ``row[key]`` as a Python int (NumPy ints included), or raise DataError naming ``key``."""
    value = row[key]
    try:
        if isinstance(value, float) and not value.is_integer():
            raise TypeError
        return int(value)
    except (TypeError, ValueError):
        raise DataError(f"record_decisions: {key} must be an integer, got {value!r}") from None


def json_text(value: Any) -> str | None:
    """``value`` as JSON text (sorted keys); None and strings as they are."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)
