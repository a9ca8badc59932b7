"""Python face of the signal kernels: load and align inputs, run the ten signals, aggregate.

Thin by design: it validates and converts once, calls the kernels of
:mod:`botcore.signals.nb` and stacks their outputs along a last signal axis
in :data:`~botcore.config.models.SIGNAL_NAMES` order.

Time alignment (no look-ahead): the grid is the 1m bar opens ``ts``; a bar's
decision is taken at its close ``ts + bar_ms``. Per-bar kinds (candles,
liquidations, taker volumes, stamped at the bar's open) are taken exactly at
``ts`` and never carried forward; instant kinds (book, open interest,
funding, fear & greed, social) take the last value stamped at or before the
bar's close, if not older than ``signals.max_staleness_seconds``; anything
else is NaN (missing), and the signals that need it report ``DATA_OUTAGE``.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from botcore.config.models import SIGNAL_NAMES, Signals
from botcore.generic import nb as generic_nb
from botcore.signals import nb
from botcore.signals.enums import N_SIGNALS, Aggregate, SignalInputs, SignalOutputs, SignalParams
from botcore.signals.price import nb as price_nb
from botcore.signals.sentiment import nb as sentiment_nb

__all__ = ["weights_array", "required_mask", "compute_signals", "aggregate", "load_inputs", "broadcast_market_wide"]

MARKET_WIDE = ("fear_greed", "mentions", "tone")


def weights_array(signals: Signals, override: Sequence[float] | np.ndarray | None = None) -> np.ndarray:
    """Return the ``(N_SIGNALS,)`` weights: ``override`` (e.g. a ledger version) or ``settings.signals.weights``."""
    if override is not None:
        w = np.asarray(override, dtype=np.float64)
        if w.shape != (N_SIGNALS,):
            raise ValueError(f"weights: expected shape ({N_SIGNALS},) in SIGNAL_NAMES order, got {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("weights: must be finite and >= 0")
        return w
    return np.array([signals.weights[name] for name in SIGNAL_NAMES], dtype=np.float64)


def required_mask(signals: Signals) -> np.ndarray:
    """Return the ``(N_SIGNALS,)`` boolean mask of ``settings.signals.required_signals``."""
    return np.array([name in signals.required_signals for name in SIGNAL_NAMES], dtype=bool)


def _f64(name: str, a: object, ndim: int) -> np.ndarray:
    arr = np.ascontiguousarray(a, dtype=np.float64)
    if arr.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim}-D, got shape {arr.shape}")
    return arr


def _validate(inputs: SignalInputs) -> tuple[SignalInputs, int, int]:
    close = _f64("close", inputs.close, 2)
    n, m = close.shape
    values = {}
    for name, a in inputs._asdict().items():
        arr = _f64(name, a, 3 if name in ("bid_sz", "ask_sz") else 2)
        width = 1 if name in MARKET_WIDE else m
        if arr.shape[0] != n or arr.shape[1] not in ({width, m} if name in MARKET_WIDE else {m}):
            raise ValueError(f"{name}: shape {arr.shape} does not match close {close.shape}")
        values[name] = arr
    if values["bid_sz"].shape != values["ask_sz"].shape:
        raise ValueError(f"ask_sz: shape {values['ask_sz'].shape} differs from bid_sz {values['bid_sz'].shape}")
    return SignalInputs(**values), n, m


def compute_signals(inputs: SignalInputs, params: SignalParams = SignalParams(), n_threads: int = 2) -> SignalOutputs:
    """Run the ten batch kernels; return score, confidence, status shaped ``(n_bars, n_symbols, N_SIGNALS)``.

    The kernels release the GIL, so ``n_threads`` of them run at once (one
    kernel per task; 1 runs them in turn).
    """
    x, n, m = _validate(inputs)
    p = params
    tasks = (
        lambda: nb.order_flow_imbalance_nb(nb.book_imbalance_nb(x.bid_sz, x.ask_sz, p.order_flow_imbalance.level_decay), *p.order_flow_imbalance[1:]),
        lambda: nb.funding_rate_nb(x.funding_rate, *p.funding_rate),
        lambda: nb.open_interest_velocity_nb(x.oi_usd, x.close, *p.open_interest_velocity),
        lambda: nb.liquidation_cascade_nb(x.long_liq_usd, x.short_liq_usd, *p.liquidation_cascade),
        lambda: nb.taker_ratio_nb(x.taker_buy_base, x.taker_sell_base, *p.taker_ratio),
        lambda: price_nb.trend_nb(x.close, *p.trend),
        lambda: price_nb.breakout_nb(x.high, x.low, x.close, *p.breakout),
        lambda: price_nb.mean_reversion_nb(x.close, *p.mean_reversion),
        lambda: sentiment_nb.fear_greed_nb(x.fear_greed, *p.fear_greed),
        lambda: sentiment_nb.social_sentiment_nb(x.mentions, x.tone, *p.social_sentiment),
    )
    results: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = [None] * N_SIGNALS  # type: ignore[list-item]

    def run(k: int) -> None:
        results[k] = tasks[k]()

    order = (0, 5, 2, 7, 6, 4, 3, 1, 9, 8)  # longest first: better packing on the threads
    if n_threads <= 1:
        for k in order:
            run(k)
    else:
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            list(pool.map(run, order))
    score, conf, status = nb.stack_signals_nb(
        tuple(r[0] for r in results), tuple(r[1] for r in results), tuple(r[2] for r in results), m
    )
    return SignalOutputs(score, conf, status)


def aggregate(outputs: SignalOutputs, signals: Signals, weights: Sequence[float] | np.ndarray | None = None) -> Aggregate:
    """Aggregate signal outputs (batch ``(n, m, K)`` or one bar ``(m, K)``) with the configured rule."""
    score = np.asarray(outputs.score, dtype=np.float64)
    one_bar = score.ndim == 2
    expand = (lambda a: a[None]) if one_bar else (lambda a: a)  # noqa: E731
    result = nb.aggregate_nb(
        np.ascontiguousarray(expand(score)),
        np.ascontiguousarray(expand(np.asarray(outputs.confidence, dtype=np.float64))),
        np.ascontiguousarray(expand(np.asarray(outputs.status, dtype=np.int8))),
        weights_array(signals, weights),
        required_mask(signals),
        signals.min_live_signals,
    )
    return Aggregate(*(r[0] for r in result)) if one_bar else Aggregate(*result)


def broadcast_market_wide(values: np.ndarray, n_symbols: int) -> np.ndarray:
    """Return a one-column market-wide array repeated for ``n_symbols`` columns (a view)."""
    return np.broadcast_to(values, values.shape[:-1] + (n_symbols,)) if values.shape[-1] == 1 else values


# --------------------------------------------------------------------------- loading from the store

# field -> (kind, column, staleness key, per-bar?)
_FIELDS: dict[str, tuple[str, str, str, bool]] = {
    "close": ("candles_1m", "close", "candles", True),
    "high": ("candles_1m", "high", "candles", True),
    "low": ("candles_1m", "low", "candles", True),
    "funding_rate": ("funding", "rate", "funding", False),
    "oi_usd": ("open_interest", "oi_usd", "open_interest", False),
    "long_liq_usd": ("liquidations", "long_liq_usd", "liquidations", True),
    "short_liq_usd": ("liquidations", "short_liq_usd", "liquidations", True),
    "taker_buy_base": ("taker", "taker_buy_base", "taker", True),
    "taker_sell_base": ("taker", "taker_sell_base", "taker", True),
    "fear_greed": ("fear_greed", "value", "fear_greed", False),
    "mentions": ("social", "mentions", "social", False),
    "tone": ("social", "tone", "social", False),
}


def load_inputs(
    store: object,
    symbols: Sequence[str],
    start_ms: int,
    end_ms: int,
    signals: Signals,
    bar_ms: int = 60_000,
    book_levels: int = 10,
) -> tuple[np.ndarray, SignalInputs]:
    """Read and align every signal input for ``symbols`` on the bar grid ``[start_ms, end_ms)``.

    Returns ``(grid_ts, inputs)``: ``grid_ts`` the bar opens (int64 ms),
    market-wide series as one column. ``store`` is a
    :class:`botcore.market.store.Store` (anything with ``read_panel``).
    """
    if start_ms % bar_ms or end_ms <= start_ms:
        raise ValueError(f"start_ms/end_ms: need bar-aligned start_ms < end_ms, got {start_ms}, {end_ms}")
    grid = np.arange(start_ms, end_ms, bar_ms, dtype=np.int64)
    staleness = signals.max_staleness_seconds

    def panel(kind: str, column: str, staleness_key: str, per_bar: bool, syms: Sequence[str]) -> np.ndarray:
        max_age_ms = int(staleness.get(staleness_key, 0)) * 1000
        lookback = 0 if per_bar else max_age_ms
        frame = store.read_panel(kind, list(syms), column, start_ms - lookback, end_ms)  # type: ignore[attr-defined]
        ts = np.ascontiguousarray(frame.index.to_numpy(dtype=np.int64))
        values = np.ascontiguousarray(frame.to_numpy(dtype=np.float64)).reshape(len(ts), len(syms))
        if per_bar:
            out = np.full((len(grid), len(syms)), np.nan)
            pos = np.searchsorted(grid, ts)
            hit = (pos < len(grid)) & (grid[np.minimum(pos, len(grid) - 1)] == ts)
            out[pos[hit]] = values[hit]
            return out
        return generic_nb.asof_nb(ts, values, grid + bar_ms, max_age_ms)

    fields = {}
    for name, (kind, column, key, per_bar) in _FIELDS.items():
        syms = ["MARKET"] if name in MARKET_WIDE else symbols
        fields[name] = panel(kind, column, key, per_bar, syms)
    for side in ("bid", "ask"):
        levels = [panel("book", f"{side}_sz_{i}", "book", False, symbols) for i in range(1, book_levels + 1)]
        fields[f"{side}_sz"] = np.ascontiguousarray(np.stack(levels, axis=-1))
    return grid, SignalInputs(**{name: fields[name] for name in SignalInputs._fields})
