"""Signal identifiers and status codes shared by the signal kernels and ``decide``.

Signal arrays are laid out with one column per signal in :data:`SIGNAL_NAMES`
order (the same order as ``config/signals.yaml``'s weights).
"""

from __future__ import annotations

from typing import NamedTuple

from botcore.config.models import SIGNAL_NAMES


class SignalId(NamedTuple):
    order_flow_imbalance: int = 0
    funding_rate: int = 1
    open_interest_velocity: int = 2
    liquidation_cascade: int = 3
    taker_ratio: int = 4
    trend: int = 5
    breakout: int = 6
    mean_reversion: int = 7
    fear_greed: int = 8
    social_sentiment: int = 9


SignalIds = SignalId()
N_SIGNALS = len(SIGNAL_NAMES)
assert tuple(SignalId._fields) == SIGNAL_NAMES


class SignalStatus(NamedTuple):
    """Status of one signal value. Only OK values carry a score."""

    ok: int = 0
    warming_up: int = 1
    data_outage: int = 2


SignalStatuses = SignalStatus()
STATUS_NAMES = {v: k.upper() for k, v in SignalStatuses._asdict().items()}
