"""Typed, frozen configuration models.

Every model forbids unknown keys and is immutable once loaded. Each YAML file
under ``config/`` maps onto one section of :class:`Settings`; see
:mod:`botcore.config.loader` for how files are read and how errors are named.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SECTORS = ("mega", "l1", "l2", "defi", "meme", "exchange", "payment")
Sector = Literal["mega", "l1", "l2", "defi", "meme", "exchange", "payment"]
STRATEGY_NAMES = ("sentiment_fusion", "trend_conservative", "breakout_aggressive")
SIGNAL_NAMES = (
    "order_flow_imbalance",
    "funding_rate",
    "open_interest_velocity",
    "liquidation_cascade",
    "taker_ratio",
    "trend",
    "breakout",
    "mean_reversion",
    "fear_greed",
    "social_sentiment",
)
REGIME_NAMES = ("trending", "mean_reverting", "random")


class Frozen(BaseModel):
    """Base: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


# --------------------------------------------------------------------------- universe


class Asset(Frozen):
    symbol: str = Field(description="ccxt unified symbol of a USDT perpetual, e.g. BTC/USDT:USDT")
    sector: Sector = Field(description="correlation sector used by the sector guard")
    enabled: bool = Field(True, description="trade this symbol")
    contract_size: float = Field(gt=0, description="base units per contract (the venue's contract value)")
    min_contracts: float = Field(1.0, gt=0, description="smallest order in contracts")
    contract_step: float = Field(1.0, gt=0, description="order size increment in contracts")
    max_leverage: float = Field(20.0, ge=1, description="venue leverage cap for this market")

    @field_validator("symbol")
    @classmethod
    def _usdt_perpetual(cls, symbol: str) -> str:
        base, _, rest = symbol.partition("/")
        if not base or rest != "USDT:USDT":
            raise ValueError(f"{symbol!r} is not a USDT perpetual in ccxt's unified form BASE/USDT:USDT")
        return symbol

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]


class Universe(Frozen):
    assets: tuple[Asset, ...] = Field(min_length=1)

    @field_validator("assets")
    @classmethod
    def _unique(cls, assets: tuple[Asset, ...]) -> tuple[Asset, ...]:
        seen: set[str] = set()
        for asset in assets:
            if asset.symbol in seen:
                raise ValueError(f"symbol {asset.symbol} is listed twice")
            seen.add(asset.symbol)
        return assets

    @property
    def enabled(self) -> tuple[Asset, ...]:
        return tuple(a for a in self.assets if a.enabled)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(a.symbol for a in self.enabled)

    def asset(self, symbol: str) -> Asset:
        for a in self.assets:
            if a.symbol == symbol:
                return a
        raise KeyError(f"symbol {symbol} is not in the universe")


# --------------------------------------------------------------------------- strategies


class Strategy(Frozen):
    enabled: bool = True
    allocation: float = Field(ge=0, le=1, description="share of risk capital before the bandit tilts it")
    min_conviction: float = Field(ge=0, le=1, description="aggregated conviction needed to enter")
    min_win_rate: float = Field(ge=0, le=1, description="per-strategy win-rate gate (after burn-in)")
    max_consecutive_losses: int = Field(ge=1, description="streak filter: pause after this many losses")
    streak_pause_minutes: int = Field(ge=0, description="how long the streak filter pauses the strategy")
    min_expected_roi: float = Field(ge=0, description="expected return net of fees, slippage and funding")
    expected_hold_minutes: int = Field(gt=0, description="hold used to charge funding in the ROI gate")
    require_mtf_confirmation: bool = True


class Bandit(Frozen):
    enabled: bool = True
    prior_alpha: float = Field(1.0, gt=0, description="Beta prior successes (must be > 0)")
    prior_beta: float = Field(1.0, gt=0, description="Beta prior failures (must be > 0)")
    max_tilt: float = Field(0.5, ge=0, le=1, description="allocation may move by at most this fraction of itself")


class Strategies(Frozen):
    strategies: dict[str, Strategy]
    bandit: Bandit = Bandit()

    @model_validator(mode="after")
    def _known_and_summing(self) -> Strategies:
        unknown = set(self.strategies) - set(STRATEGY_NAMES)
        if unknown:
            raise ValueError(f"unknown strategies {sorted(unknown)}; known: {list(STRATEGY_NAMES)}")
        total = sum(s.allocation for s in self.strategies.values() if s.enabled)
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"allocations of enabled strategies sum to {total:.4f}, not 1")
        return self


# --------------------------------------------------------------------------- risk, sizing, exits


class CircuitBreaker(Frozen):
    session_loss_pct: float = Field(gt=0, le=1, description="loss since session start that trips the breaker")
    daily_loss_pct: float = Field(gt=0, le=1, description="loss since 00:00 UTC that trips the breaker")
    max_drawdown_pct: float = Field(gt=0, le=1, description="drawdown from peak equity that trips the breaker")
    cooldown_minutes: int = Field(ge=0, description="time tripped before automatic recovery")


class Risk(Frozen):
    max_positions: int = Field(10, ge=1)
    max_symbol_exposure_pct: float = Field(0.10, gt=0, le=1, description="notional per symbol / equity")
    max_total_exposure_pct: float = Field(0.60, gt=0, le=10, description="sum of notionals / equity")
    max_positions_per_sector: int = Field(2, ge=1)
    max_leverage: float = Field(3.0, ge=1)
    margin_mode: Literal["isolated", "cross"] = "isolated"
    circuit_breaker: CircuitBreaker
    kill_switch_action: Literal["flatten", "freeze"] = "freeze"


class Sizing(Frozen):
    min_usd: float = Field(200.0, gt=0)
    max_usd: float = Field(2000.0, gt=0)
    kelly_fraction: float = Field(0.3, gt=0, le=1)
    default_win_rate: float = Field(0.45, gt=0, lt=1)
    default_payoff: float = Field(1.2, gt=0)
    min_trades_for_stats: int = Field(30, ge=1, description="below this, the defaults are used")
    trade_memory: int = Field(50, ge=1, description="rolling trades per strategy")
    volatility_target: float = Field(0.02, gt=0, description="daily volatility that scales size by 1")
    volatility_scale_bounds: tuple[float, float] = (0.5, 1.5)
    profit_seeking_bounds: tuple[float, float] = (0.8, 1.25)

    @model_validator(mode="after")
    def _ordered(self) -> Sizing:
        if self.min_usd > self.max_usd:
            raise ValueError(f"min_usd {self.min_usd} exceeds max_usd {self.max_usd}")
        for name in ("volatility_scale_bounds", "profit_seeking_bounds"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"{name} must satisfy 0 < low <= high, got {lo}, {hi}")
        return self


class Exits(Frozen):
    stop_loss_pct: float = Field(gt=0, lt=1)
    take_profit_pct: float = Field(gt=0)
    trailing_activation_pct: float = Field(ge=0)
    trailing_distance_pct: float = Field(gt=0, lt=1)
    profit_lock_trigger_pct: float = Field(ge=0)
    profit_lock_floor_pct: float = Field(ge=0)
    max_hold_minutes: int = Field(gt=0)
    min_hold_minutes: int = Field(ge=0)
    hold_breaker_portfolio_drawdown_pct: float = Field(0.015, gt=0)
    hold_breaker_position_loss_pct: float = Field(0.02, gt=0)


class Fees(Frozen):
    maker: float = Field(0.0002, ge=0, lt=0.01)
    taker: float = Field(0.0006, ge=0, lt=0.01)
    expected_slippage: float = Field(0.0002, ge=0, lt=0.05, description="one-way, as a fraction of price")


# --------------------------------------------------------------------------- signals and regime


class Signals(Frozen):
    weights: dict[str, float] = Field(description="prior weight per signal (the learning cycle versions them)")
    min_live_signals: int = Field(ge=1, description="signals with data needed before trading is allowed")
    required_signals: tuple[str, ...] = Field((), description="signals whose outage blocks trading")
    max_staleness_seconds: dict[str, int] = Field(description="age past which an input counts as missing")

    @model_validator(mode="after")
    def _known(self) -> Signals:
        for name in list(self.weights) + list(self.required_signals):
            if name not in SIGNAL_NAMES:
                raise ValueError(f"unknown signal {name!r}; known: {list(SIGNAL_NAMES)}")
        missing = set(SIGNAL_NAMES) - set(self.weights)
        if missing:
            raise ValueError(f"weights missing for {sorted(missing)}")
        if any(w < 0 for w in self.weights.values()):
            raise ValueError("signal weights must be >= 0")
        if self.min_live_signals > len(SIGNAL_NAMES):
            raise ValueError(f"min_live_signals exceeds the {len(SIGNAL_NAMES)} signals")
        return self


class Regime(Frozen):
    estimator: Literal["rs_anis_lloyd"] = "rs_anis_lloyd"
    window: int = Field(256, ge=32, description="bars in the rolling Hurst window")
    trending_above: float = Field(0.55, gt=0, lt=1)
    mean_reverting_below: float = Field(0.45, gt=0, lt=1)
    hysteresis: float = Field(0.02, ge=0, lt=0.2, description="margin a new regime must clear to replace the old")
    allowed: dict[str, tuple[str, ...]] = Field(description="regime -> strategies it allows")

    @model_validator(mode="after")
    def _consistent(self) -> Regime:
        if self.mean_reverting_below >= self.trending_above:
            raise ValueError("mean_reverting_below must be below trending_above")
        for regime, names in self.allowed.items():
            if regime not in REGIME_NAMES:
                raise ValueError(f"unknown regime {regime!r}; known: {list(REGIME_NAMES)}")
            for n in names:
                if n not in STRATEGY_NAMES:
                    raise ValueError(f"regime {regime}: unknown strategy {n!r}")
        return self


# --------------------------------------------------------------------------- venue, schedules, notifications


class Venue(Frozen):
    exchange: Literal["blofin"] = "blofin"
    mode: Literal["paper", "demo", "live"] = "paper"
    position_mode: Literal["net", "long_short"] = "net"
    starting_equity_usd: float = Field(10_000.0, gt=0, description="paper account starting cash")
    request_timeout_ms: int = Field(10_000, ge=100)
    book_depth: int = Field(10, ge=1, le=400)
    reconcile_every_cycles: int = Field(10, ge=1)
    rate_limit_ms: int = Field(200, ge=1, description="spacing of REST requests; BloFin allows 1500 per 5 minutes per IP")
    broker_id: str | None = Field(None, pattern=r"^[A-Za-z0-9]{1,16}$",
                                  description="BloFin brokerId sent with orders; only for a broker-bound API key")


class Schedules(Frozen):
    cycle_seconds: int = Field(60, ge=1)
    heartbeat_seconds: int = Field(20, ge=1)
    learning_hours: int = Field(12, ge=1)
    review_days: int = Field(7, ge=1)
    missed_heartbeats_for_restart: int = Field(3, ge=1)
    daily_report_utc: str = Field("00:05", pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                                  description="UTC time (HH:MM) the live run renders and emails the daily report")


class Settings(Frozen):
    """The whole effective configuration."""

    universe: Universe
    strategies: Strategies
    risk: Risk
    sizing: Sizing
    exits: Exits
    fees: Fees
    signals: Signals
    regime: Regime
    venue: Venue
    schedules: Schedules
