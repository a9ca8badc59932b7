"""The paper fill model shared by the backtest and the paper venue.

Kernels in :mod:`botcore.fills.nb` (the contract is in its docstring), codes,
result tuples and record dtypes in :mod:`botcore.fills.enums`, and the Python
face in :mod:`botcore.fills.model`.
"""

from botcore.fills.enums import (
    ExhaustRules,
    FillReasons,
    FillResult,
    FillStatuses,
    Liquidities,
    MarginModes,
    RoundedQty,
    Sides,
    fill_dt,
    funding_dt,
)
from botcore.fills.model import (
    Book,
    FillParams,
    describe,
    fill_limit_order,
    fill_market_order,
    funding_payment,
    funding_times,
    has_quantity,
    liquidation_check,
    liquidation_price,
    queue_key,
    round_contracts,
    to_model_fill,
    validate_book,
)

__all__ = [
    "Book",
    "ExhaustRules",
    "FillParams",
    "FillReasons",
    "FillResult",
    "FillStatuses",
    "Liquidities",
    "MarginModes",
    "RoundedQty",
    "Sides",
    "describe",
    "fill_dt",
    "fill_limit_order",
    "fill_market_order",
    "funding_dt",
    "funding_payment",
    "funding_times",
    "has_quantity",
    "liquidation_check",
    "liquidation_price",
    "queue_key",
    "round_contracts",
    "to_model_fill",
    "validate_book",
]
