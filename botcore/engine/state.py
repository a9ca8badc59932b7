"""Build the compiled step's configuration, state, scratch and output buffers from the settings.

Everything the kernels of :mod:`botcore.engine.nb` take is a NamedTuple of
arrays and scalars made here once per run:

- :class:`EngineConfig` — constant per run: contract specs, signal weights and
  parameters, the regime's calibration, feature parameters, fill-model
  parameters (:meth:`botcore.fills.FillParams.from_settings`).
- :class:`EngineState` — everything that evolves: the signal, regime and
  feature states, the Position replica ``acct``, ``positions`` /
  ``portfolio`` / ``memory`` of the decision kernel, the clock and the
  compressed-trail bookkeeping. :meth:`EngineState.copy` snapshots it.
- :class:`Scratch` — per-cycle outputs (signals, aggregate, regime,
  ``Features``, ``SignalsIn``, intents, trail) reused every cycle.
- :class:`EngineOutputs` — the backtest's record buffers.

:class:`Engine` ties them together for the clocks: :meth:`Engine.warm_up`,
:meth:`Engine.cycle` (advance + decide, the live loop's call),
:meth:`Engine.apply_fill` / :meth:`Engine.apply_funding` (the venue's reports),
:meth:`Engine.mark` (equity as the ledger computes it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from botcore.clock import BAR_MS
from botcore.config.models import SECTORS, Settings
from botcore.engine import nb
from botcore.engine.enums import (
    N_ACCT,
    N_CLOCK,
    N_ROW_SCALARS,
    Clock,
    entry_signal_rec_dt,
    equity_rec_dt,
    order_rec_dt,
    trail_rec_dt,
)
from botcore.engine.features_nb import N_TREND_TF, FeatureParams, features_new_state_nb
from botcore.fills.enums import fill_dt, funding_dt
from botcore.fills.model import FillParams
from botcore.regime import nb as regime_nb
from botcore.regime.engine import classifier_params, hurst_params, rs_al_calibration
from botcore.regime.enums import ClassifierParams, HurstParams
from botcore.signals import nb as sig
from botcore.signals.engine import required_mask, weights_array
from botcore.signals.enums import N_SIGNALS, SignalParams
from botcore.signals.price import nb as price_nb
from botcore.signals.sentiment import nb as sentiment_nb
from botcore.strategy.enums import (
    N_REASONS,
    N_STRATEGIES,
    Features,
    SignalsIn,
    intent_dt,
    trail_dt,
)
from botcore.strategy.params import build_params
from botcore.strategy.state import new_memory, new_portfolio, new_positions

BOOK_LEVELS = 10
N_OUTCOMES = 4


class EngineConfig(NamedTuple):
    contract_size: np.ndarray
    contract_step: np.ndarray
    min_contracts: np.ndarray
    leverage: np.ndarray
    weights: np.ndarray
    required: np.ndarray
    min_live_signals: int
    sp: SignalParams
    hp: HurstParams
    cp: ClassifierParams
    hurst_sizes: np.ndarray
    calib_raw: np.ndarray
    calib_true: np.ndarray
    fp: FeatureParams
    taker_fee: float
    maker_fee: float
    exhaust_rule: int
    exhaust_penalty_frac: float
    maintenance_margin_rate: float
    margin_mode: int
    funding_interval_ms: int
    funding_anchor_ts: int
    check_margin: bool


class EngineState(NamedTuple):
    sig_ofi: np.ndarray
    sig_funding: np.ndarray
    sig_oi: np.ndarray
    sig_liq: np.ndarray
    sig_taker: np.ndarray
    sig_trend: np.ndarray
    sig_breakout: np.ndarray
    sig_mr: np.ndarray
    sig_social: np.ndarray
    hurst: np.ndarray
    hurst_cls: np.ndarray
    feat: np.ndarray
    acct: np.ndarray
    positions: np.ndarray
    portfolio: np.ndarray
    memory: np.ndarray
    clock: np.ndarray
    venue_mark: np.ndarray
    trail_open: np.ndarray
    reason_counts: np.ndarray

    def copy(self) -> EngineState:
        """Return a deep copy (every array copied)."""
        return EngineState(*(a.copy() for a in self))


class Scratch(NamedTuple):
    close: np.ndarray
    high: np.ndarray
    low: np.ndarray
    volume: np.ndarray
    bid_sz: np.ndarray
    ask_sz: np.ndarray
    col: np.ndarray
    score: np.ndarray
    conf: np.ndarray
    status: np.ndarray
    conviction: np.ndarray
    direction: np.ndarray
    tradable: np.ndarray
    n_live: np.ndarray
    regime: np.ndarray
    hurst: np.ndarray
    vol: np.ndarray
    volume_ratio: np.ndarray
    trend: np.ndarray
    price: np.ndarray
    mark: np.ndarray
    best_bid: np.ndarray
    best_ask: np.ndarray
    funding: np.ndarray
    valuation: np.ndarray
    upnl_buf: np.ndarray
    notional_buf: np.ndarray
    features: Features
    signals: SignalsIn
    intents: np.ndarray
    trail: np.ndarray
    allocation: np.ndarray


class EngineOutputs(NamedTuple):
    """Record buffers of the backtest loop; ``counts`` = [orders, fills, funding, equity, trail, signals].

    ``signals`` (``entry_signal_rec_dt``) holds what the signals said at each
    filled entry, for the outcome log (:mod:`botcore.engine.learning_link`).
    """

    orders: np.ndarray
    fills: np.ndarray
    funding: np.ndarray
    equity: np.ndarray
    trail: np.ndarray
    signals: np.ndarray
    counts: np.ndarray

    def reset(self) -> None:
        self.counts[:] = 0


def signal_params(settings: Settings) -> SignalParams:
    """Return the signal kernel parameters (the defaults of :mod:`botcore.signals.enums`)."""
    return SignalParams()


def new_config(settings: Settings, *, fill_params: FillParams | None = None, check_margin: bool = True,
               feature_params: FeatureParams | None = None) -> EngineConfig:
    """Return the run's :class:`EngineConfig` for the enabled symbols of ``settings`` (universe order)."""
    assets = settings.universe.enabled
    fp = fill_params or FillParams.from_settings(settings)
    hp = hurst_params(settings.regime)
    cal = rs_al_calibration(hp.window_bars, hp.min_chunk_bars, hp.ddof)
    n = len(assets)
    return EngineConfig(
        contract_size=np.array([a.contract_size for a in assets], dtype=np.float64),
        contract_step=np.array([a.contract_step for a in assets], dtype=np.float64),
        min_contracts=np.array([a.min_contracts for a in assets], dtype=np.float64),
        leverage=np.full(n, float(fp.leverage)),
        weights=weights_array(settings.signals),
        required=required_mask(settings.signals),
        min_live_signals=int(settings.signals.min_live_signals),
        sp=signal_params(settings),
        hp=hp,
        cp=classifier_params(settings.regime),
        hurst_sizes=regime_nb.chunk_sizes_nb(hp.window_bars, hp.min_chunk_bars),
        calib_raw=np.ascontiguousarray(cal.raw, dtype=np.float64),
        calib_true=np.ascontiguousarray(cal.true, dtype=np.float64),
        fp=feature_params or FeatureParams(),
        taker_fee=float(fp.taker_fee),
        maker_fee=float(fp.maker_fee),
        exhaust_rule=int(fp.exhaust_rule_code),
        exhaust_penalty_frac=float(fp.exhaust_penalty_frac),
        maintenance_margin_rate=float(fp.maintenance_margin_rate),
        margin_mode=int(fp.margin_mode_code),
        funding_interval_ms=int(fp.funding_interval_ms),
        funding_anchor_ts=int(fp.funding_anchor_ts),
        check_margin=bool(check_margin),
    )


def with_regime_phase(cfg: EngineConfig, first_bar_open_ms: int) -> EngineConfig:
    """Return ``cfg`` with the Hurst update phase aligned to the clock from the first bar fed (as ``compute_regime``)."""
    hp = cfg.hp
    return cfg._replace(hp=hp._replace(offset_bars=int((first_bar_open_ms // BAR_MS) % hp.stride_bars)))


def new_state(settings: Settings, params: np.ndarray, cfg: EngineConfig, starting_cash_usd: float | None = None) -> EngineState:
    """Return a fresh :class:`EngineState`: empty signal states, a flat book, cash at the starting equity."""
    n = cfg.contract_size.shape[0]
    sp = cfg.sp
    cash = float(settings.venue.starting_equity_usd if starting_cash_usd is None else starting_cash_usd)
    hurst, hurst_cls = regime_nb.regime_new_state_nb(n, cfg.hp.window_bars)
    portfolio = new_portfolio(cash)
    clock = np.zeros(N_CLOCK, dtype=np.int64)
    clock[Clock.last_venue_ms] = -1
    trail_open = np.zeros(n, dtype=trail_rec_dt)
    return EngineState(
        sig_ofi=sig.ofi_new_state_nb(n, sp.order_flow_imbalance.span_fast_bars, sp.order_flow_imbalance.span_slow_bars),
        sig_funding=sig.funding_new_state_nb(n, sp.funding_rate.window_bars),
        sig_oi=sig.oi_new_state_nb(n, sp.open_interest_velocity.lag_bars, sp.open_interest_velocity.window_bars),
        sig_liq=sig.liq_new_state_nb(n, sp.liquidation_cascade.burst_bars, sp.liquidation_cascade.window_bars),
        sig_taker=sig.taker_new_state_nb(n, sp.taker_ratio.flow_bars, sp.taker_ratio.window_bars),
        sig_trend=price_nb.trend_new_state_nb(n),
        sig_breakout=price_nb.breakout_new_state_nb(n, sp.breakout.channel_bars),
        sig_mr=price_nb.mr_new_state_nb(n, sp.mean_reversion.window_bars, sp.mean_reversion.vol_short_bars,
                                        sp.mean_reversion.vol_long_bars),
        sig_social=sentiment_nb.social_new_state_nb(n),
        hurst=hurst,
        hurst_cls=hurst_cls,
        feat=features_new_state_nb(n),
        acct=np.zeros((n, N_ACCT)),
        positions=new_positions([SECTORS.index(a.sector) for a in settings.universe.enabled]),
        portfolio=portfolio,
        memory=new_memory(params),
        clock=clock,
        venue_mark=np.full(n, np.nan),
        trail_open=trail_open,
        reason_counts=np.zeros((N_OUTCOMES, N_REASONS), dtype=np.int64),
    )


def new_scratch(cfg: EngineConfig, levels: int = BOOK_LEVELS) -> Scratch:
    """Return the per-cycle scratch for ``n`` symbols."""
    n = cfg.contract_size.shape[0]
    f = lambda: np.full(n, np.nan)  # noqa: E731
    price, mark, best_bid, best_ask, vol, funding, volume_ratio = f(), f(), f(), f(), f(), f(), f()
    trend = np.zeros((n, N_TREND_TF), dtype=np.int8)
    score = np.zeros((n, N_SIGNALS))
    conf = np.zeros((n, N_SIGNALS))
    status = np.full((n, N_SIGNALS), 2, dtype=np.int8)
    conviction = np.zeros(n)
    direction = np.zeros(n, dtype=np.int8)
    tradable = np.zeros(n, dtype=np.bool_)
    n_live = np.zeros(n, dtype=np.int64)
    features = Features(price, mark, best_bid, best_ask, vol, funding, volume_ratio, trend,
                        cfg.contract_size, cfg.min_contracts, cfg.contract_step)
    signals = SignalsIn(score, conf, status, conviction, direction, tradable, n_live)
    return Scratch(
        close=f(), high=f(), low=f(), volume=f(), bid_sz=np.full((n, levels), np.nan),
        ask_sz=np.full((n, levels), np.nan), col=np.full((N_ROW_SCALARS, n), np.nan),
        score=score, conf=conf, status=status, conviction=conviction, direction=direction, tradable=tradable,
        n_live=n_live, regime=np.full(n, -1, dtype=np.int8), hurst=f(), vol=vol, volume_ratio=volume_ratio,
        trend=trend, price=price, mark=mark, best_bid=best_bid, best_ask=best_ask, funding=funding, valuation=f(),
        upnl_buf=np.zeros(n), notional_buf=np.zeros(n), features=features, signals=signals,
        intents=np.zeros(n, dtype=intent_dt), trail=np.zeros(n, dtype=trail_dt),
        allocation=np.zeros(N_STRATEGIES),
    )


def new_outputs(n_symbols: int, n_bars: int, *, full_trail: bool) -> EngineOutputs:
    """Return record buffers sized for ``n_bars`` trading bars (the loop stops a chunk early if one fills)."""
    orders = max(64, 4 * n_symbols + n_bars // 4)
    return EngineOutputs(
        orders=np.zeros(orders, dtype=order_rec_dt),
        fills=np.zeros(orders, dtype=fill_dt),
        funding=np.zeros(max(64, 4 * n_symbols + n_symbols * (n_bars // 480 + 2)), dtype=funding_dt),
        equity=np.zeros(max(1, n_bars), dtype=equity_rec_dt),
        trail=np.zeros(max(n_symbols, n_symbols * n_bars if full_trail else n_symbols * (n_bars // 8 + 2)),
                       dtype=trail_rec_dt),
        signals=np.zeros(max(64, 2 * n_symbols + n_bars // 8), dtype=entry_signal_rec_dt),
        counts=np.zeros(6, dtype=np.int64),
    )


class Engine:
    """One run's compiled step with its configuration and state (shared by the backtest and the live loop).

    Parameters
    ----------
    settings : Settings
        The configuration; symbols are ``settings.universe.enabled`` in order.
    run_seed : int
        Seeds the decision kernel's bandit: ``rng_seed = run_seed ^ t``.
    params_overrides : mapping, optional
        Overrides of :func:`botcore.strategy.build_params` for this run (the
        run's baseline, as if they were in the YAML). The learning system's
        active versions apply on top of them (:meth:`apply_parameters`):
        configuration < ``params_overrides`` < learned overrides.
    weights : array (K,), optional
        Signal weights in SIGNAL_NAMES order (default: ``config/signals.yaml``);
        e.g. the active learning version's (:func:`botcore.learning.active_overrides`).
    learned_overrides : mapping, optional
        The learning system's ``build_params`` overrides (they win over
        ``params_overrides`` key by key).
    fill_params : FillParams, optional
        Defaults to :meth:`FillParams.from_settings`.
    check_margin : bool
        Refuse orders past the free margin (the paper venue's rule).
    """

    def __init__(self, settings: Settings, *, run_seed: int = 0, params_overrides: Mapping[str, Any] | None = None,
                 fill_params: FillParams | None = None, check_margin: bool = True,
                 starting_cash_usd: float | None = None, weights: np.ndarray | None = None,
                 learned_overrides: Mapping[str, Any] | None = None) -> None:
        self.settings = settings
        self.symbols: tuple[str, ...] = tuple(a.symbol for a in settings.universe.enabled)
        self.base_overrides: dict[str, Any] = dict(params_overrides or {})
        self.learned_overrides: dict[str, Any] = dict(learned_overrides or {})
        self.params = build_params(settings, self.effective_overrides())
        if int(self.params[0]["entry_post_only"]) != 0:
            raise ValueError("entry_post_only: post-only limit entries are not supported by the engine yet; use 0")
        self.fill_params = fill_params or FillParams.from_settings(settings)
        self.cfg = new_config(settings, fill_params=self.fill_params, check_margin=check_margin)
        if weights is not None:
            self.cfg.weights[:] = self._checked_weights(weights)
        self.state = new_state(settings, self.params, self.cfg, starting_cash_usd)
        self.scratch = new_scratch(self.cfg)
        self.run_seed = int(run_seed)
        self._phased = False

    @property
    def n_symbols(self) -> int:
        return len(self.symbols)

    # ------------------------------------------------------------------ parameters between cycles

    def effective_overrides(self) -> dict[str, Any]:
        """Return the ``build_params`` overrides in force: the run's ``params_overrides``, then the learned ones."""
        return {**self.base_overrides, **self.learned_overrides}

    def _checked_weights(self, weights: np.ndarray) -> np.ndarray:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != self.cfg.weights.shape:
            raise ValueError(f"weights: need {self.cfg.weights.shape[0]} values in SIGNAL_NAMES order, got shape {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
            raise ValueError(f"weights: must be finite, >= 0 and not all 0, got {w.tolist()}")
        return w

    def apply_parameters(self, weights: np.ndarray | None = None,
                         learned_overrides: Mapping[str, Any] | None = None) -> None:
        """Re-apply signal weights and learned ``build_params`` overrides in place, between cycles.

        Everything the state holds (positions, signal and regime states, trade
        memory, breakers) is kept; ``self.params`` and ``self.cfg.weights`` are
        overwritten in place (so holders of those arrays see the new values).
        ``learned_overrides`` REPLACES the previous learned set (None keeps it);
        the run's ``params_overrides`` stay under it. A bad value raises
        ``ValueError`` naming the field and changes nothing.
        """
        w = None if weights is None else self._checked_weights(weights)
        learned = self.learned_overrides if learned_overrides is None else dict(learned_overrides)
        params = build_params(self.settings, {**self.base_overrides, **learned})
        if int(params[0]["entry_post_only"]) != 0:
            raise ValueError("entry_post_only: post-only limit entries are not supported by the engine yet; use 0")
        self.params[...] = params
        self.learned_overrides = learned
        if w is not None:
            self.cfg.weights[:] = w

    def set_benched(self, mask: np.ndarray) -> None:
        """Bench symbols: True holds back that symbol's entries (exits still run; its trail row says ``benched``).

        ``mask`` is ``(n_symbols,)`` bool in ``self.symbols`` order, e.g.
        :func:`botcore.learning.benched_mask`. Kept in ``state.positions["benched"]``.
        """
        m = np.asarray(mask, dtype=bool)
        if m.shape != (self.n_symbols,):
            raise ValueError(f"benched mask: need shape ({self.n_symbols},), got {m.shape}")
        self.state.positions["benched"] = m.astype(np.int8)

    @property
    def benched(self) -> np.ndarray:
        """The benched flags, ``(n_symbols,)`` bool."""
        return self.state.positions["benched"] != 0

    def align_regime_phase(self, first_cycle_ms: int) -> None:
        """Align the regime's sampling grid on the run's first cycle (once; later calls change nothing)."""
        if not self._phased:
            self.cfg = with_regime_phase(self.cfg, int(first_cycle_ms) - BAR_MS)
            self._phased = True

    def warm_up(self, ts_ms: np.ndarray, ohlcv: np.ndarray, book: np.ndarray, scalars: np.ndarray) -> None:
        """Feed bars to the signal, regime and feature states without deciding (the history before trading)."""
        if len(ts_ms) == 0:
            return
        self.align_regime_phase(int(ts_ms[0]))
        nb.run_bars_nb(np.ascontiguousarray(ts_ms, dtype=np.int64), ohlcv, book, scalars, 0, len(ts_ms), False,
                       self.state, self.cfg, self.scratch, self.params, self.run_seed, 0, 1, _NO_OUTPUTS)

    def cycle(self, t_ms: int, ohlcv: np.ndarray, book: np.ndarray, scalars: np.ndarray) -> np.ndarray:
        """Advance the state with the bar closing at ``t_ms`` and decide; return the intents (a copy)."""
        self.align_regime_phase(int(t_ms))
        k = nb.cycle_nb(int(t_ms), ohlcv, book, scalars, self.state, self.cfg, self.scratch, self.params, self.run_seed)
        return self.scratch.intents[:k].copy()

    def apply_fill(self, symbol_idx: int, side: int, qty_contracts: float, price: float, fee_usd: float,
                   strategy_id: int, t_ms: int) -> tuple[float, bool]:
        """Apply one venue fill to the state; return ``(realised P&L, closed a round trip)``."""
        return nb.apply_fill_nb(self.state, self.cfg, self.params, int(symbol_idx), float(side), float(qty_contracts),
                                float(price), float(fee_usd), int(strategy_id), int(t_ms))

    def apply_funding(self, symbol_idx: int, amount_usd: float) -> None:
        """Apply one venue funding payment (> 0 received) to the state."""
        nb.apply_funding_nb(self.state, int(symbol_idx), float(amount_usd))

    def note_venue_marks(self, marks: np.ndarray, t_ms: int) -> None:
        """Record the marks handed to the venue this cycle (its margin check values positions at them)."""
        self.state.venue_mark[:] = marks
        self.state.clock[Clock.last_venue_ms] = int(t_ms)

    def mark(self) -> tuple[float, float, float, int]:
        """Mark to market after the cycle's fills: ``(equity, unrealised, exposure, n_positions)``; valuation in ``scratch.valuation``."""
        return nb.equity_nb(self.state, self.cfg, self.scratch)

    def set_kill_switch(self, code: int) -> None:
        """Set the kill switch the next cycle obeys (0 off, freeze: no entries, flatten: exit everything)."""
        self.state.portfolio[0]["kill_switch"] = int(code)

    def count_trail(self) -> None:
        """Add the cycle's trail to the exact per-reason counts (the backtest does it in its loop)."""
        np.add.at(self.state.reason_counts, (self.scratch.trail["outcome"], self.scratch.trail["reason"]), 1)


_NO_OUTPUTS = new_outputs(1, 1, full_trail=True)

__all__ = ["BAR_MS", "Engine", "EngineConfig", "EngineOutputs", "EngineState", "Scratch", "new_config",
           "new_outputs", "new_scratch", "new_state", "signal_params", "with_regime_phase"]
