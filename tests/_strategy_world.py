"""A small, fully controlled world for decision-kernel tests.

``World`` holds every input of ``decide_nb`` for a handful of symbols in a
state where the first symbol's long entry passes every gate; a test changes
one thing and asserts the reason code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from botcore.config.models import STRATEGY_NAMES
from botcore.strategy.decide.nb import apply_fill_nb, mark_to_market_nb
from botcore.strategy.enums import N_SIGNALS, Features, Reason, SignalsIn
from botcore.strategy.params import build_params
from botcore.strategy.state import Decision, decide, new_memory, new_portfolio, new_positions

NOW_MS = 1_767_268_800_000  # 2026-01-01 12:00 UTC
MINUTE_MS = 60_000


def only(strategy: str, **extra: object) -> dict[str, object]:
    """Overrides enabling a single strategy with allocation 1 (and no bandit)."""
    out: dict[str, object] = {"bandit_enabled": 0}
    for name in STRATEGY_NAMES:
        out[f"strategy_enabled.{name}"] = int(name == strategy)
        out[f"allocation.{name}"] = 1.0 if name == strategy else 0.0
    out.update(extra)
    return out


@dataclass
class World:
    positions: np.ndarray
    portfolio: np.ndarray
    memory: np.ndarray
    features: Features
    signals: SignalsIn
    regime: np.ndarray
    params: np.ndarray
    now_ms: int = NOW_MS
    seed: int = 7

    @property
    def p(self) -> np.void:
        return self.params[0]

    def decide(self) -> Decision:
        return decide(self.now_ms, self.positions, self.portfolio, self.memory, self.features, self.signals,
                      self.regime, self.params, self.seed)

    def row(self, i: int = 0) -> np.void:
        return self.decide().trail[i]

    def set_equity(self, equity_usd: float) -> None:
        for name in ("equity_usd", "cash_usd", "peak_equity_usd", "session_start_equity_usd",
                     "day_start_equity_usd"):
            self.portfolio[0][name] = equity_usd

    def open(self, i: int, side: float, size_usd: float, strategy_id: int = 0, age_ms: int | None = None,
             entry_price: float | None = None) -> None:
        """Open a position on symbol ``i`` (entry at the current price unless given)."""
        price = float(self.features.price[i]) if entry_price is None else entry_price
        cs = float(self.features.contract_size[i])
        contracts = size_usd / (price * cs)
        pos = self.positions[i]
        pos["qty_base"] = side * contracts * cs
        pos["qty_contracts"] = side * contracts
        pos["entry_price"] = price
        pos["entry_ts_ms"] = self.now_ms - (60 * MINUTE_MS if age_ms is None else age_ms)
        pos["strategy_id"] = strategy_id
        pos["high_water_price"] = price
        pos["low_water_price"] = price
        self.signals.direction[i] = 0

    def move_price(self, i: int, price: float) -> None:
        self.features.price[i] = price
        self.features.mark_price[i] = price
        self.features.best_bid[i] = price * (1 - 1e-5)
        self.features.best_ask[i] = price * (1 + 1e-5)

    def apply(self, decision: Decision, fee_rate: float = 0.0006) -> None:
        """Fill every intent at the current price and mark the book to market."""
        for it in decision.intents:
            price = float(self.features.price[it["symbol_idx"]])
            apply_fill_nb(self.positions, self.portfolio, self.memory, it, price, it["qty_base"] * price * fee_rate,
                          self.now_ms, self.params)
        mark_to_market_nb(self.positions, self.portfolio, self.features.mark_price)


def make_world(settings, n: int = 4, overrides: dict | None = None, sectors: list[int] | None = None) -> World:
    """Build a world of ``n`` flat symbols; symbol 0 has a strong long setup, the rest no signal."""
    # burn-in off: these worlds pin the Kelly sizing rule (tests that need the burn-in turn it on)
    params = build_params(settings, {"bandit_enabled": 0, "burn_in_min_size": 0, **(overrides or {})})
    positions = new_positions(sectors if sectors is not None else list(range(n)))
    portfolio = new_portfolio(10_000.0, NOW_MS)
    memory = new_memory(params)
    price = np.full(n, 100.0)
    features = Features(
        price=price.copy(),
        mark_price=price.copy(),
        best_bid=price * (1 - 1e-5),
        best_ask=price * (1 + 1e-5),
        volatility_daily=np.full(n, 0.02),
        funding_rate=np.full(n, 0.0001),
        volume_ratio=np.full(n, 2.0),
        trend_dir=np.ones((n, 3), dtype=np.int8),
        contract_size=np.full(n, 0.01),
        min_contracts=np.ones(n),
        contract_step=np.ones(n),
    )
    direction = np.zeros(n, dtype=np.int8)
    direction[0] = 1
    signals = SignalsIn(
        score=np.full((n, N_SIGNALS), 0.6),
        confidence=np.full((n, N_SIGNALS), 0.8),
        status=np.zeros((n, N_SIGNALS), dtype=np.int8),
        conviction=np.full(n, 0.8),
        direction=direction,
        tradable=np.ones(n, dtype=np.bool_),
        n_live=np.full(n, N_SIGNALS, dtype=np.int64),
    )
    regime = np.zeros(n, dtype=np.int8)
    return World(positions, portfolio, memory, features, signals, regime, params)


def bit(code: int) -> int:
    return 1 << code


def has(row: np.void, code: int) -> bool:
    return bool(int(row["gate_mask"]) >> code & 1)


def fill_memory(world: World, strategy_id: int, returns: list[float]) -> None:
    """Put closed-trade returns (oldest first) into a strategy's memory."""
    mem = world.memory[strategy_id]
    cap = len(mem["returns"])
    for r in returns:
        mem["returns"][mem["head"] % cap] = r
        mem["head"] = (mem["head"] + 1) % cap
        mem["n_trades"] += 1


__all__ = ["MINUTE_MS", "NOW_MS", "Reason", "World", "bit", "fill_memory", "has", "make_world", "only"]
