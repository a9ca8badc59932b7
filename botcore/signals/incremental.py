"""Incremental signals for the live loop: one new bar per symbol, O(1) per signal.

:class:`IncrementalSignals` holds one float64 state matrix per signal
(``(n_symbols, state_len)``: running EMAs, ring buffers with running sums,
the breakout's monotone deques) and feeds each new bar to the same step
functions the batch kernels run over history, so the numbers are identical
to the batch kernels' (tests check 1e-9; they are bit-identical). Cost per
bar and symbol is O(1) for every signal (amortised O(1) for the breakout
channel's deque; a ring buffer's sums are rebuilt once per wrap, amortised
O(1)). Memory is dominated by the funding ring (``window_bars`` floats per
symbol).

Warm-up: a fresh state reports ``WARMING_UP`` until it has seen enough bars;
feed the recent history through :meth:`IncrementalSignals.run` (or start from
a pickled state) before trading.
"""

from __future__ import annotations

import numpy as np

from botcore.signals import nb
from botcore.signals.enums import N_SIGNALS, SignalInputs, SignalOutputs, SignalParams
from botcore.signals.price import nb as price_nb
from botcore.signals.sentiment import nb as sentiment_nb

__all__ = ["IncrementalSignals"]


class IncrementalSignals:
    """State of all ten signals for ``n_symbols`` symbols.

    Parameters
    ----------
    n_symbols : int
        Columns, in the order of the bars passed to :meth:`update`.
    params : SignalParams
        Kernel parameters (the same as the batch run being matched).
    """

    def __init__(self, n_symbols: int, params: SignalParams = SignalParams()) -> None:
        if n_symbols < 1:
            raise ValueError(f"n_symbols: must be >= 1, got {n_symbols}")
        p = params
        self.n_symbols = n_symbols
        self.params = p
        self.states = {
            "order_flow_imbalance": nb.ofi_new_state_nb(n_symbols, p.order_flow_imbalance.span_fast_bars, p.order_flow_imbalance.span_slow_bars),
            "funding_rate": nb.funding_new_state_nb(n_symbols, p.funding_rate.window_bars),
            "open_interest_velocity": nb.oi_new_state_nb(n_symbols, p.open_interest_velocity.lag_bars, p.open_interest_velocity.window_bars),
            "liquidation_cascade": nb.liq_new_state_nb(n_symbols, p.liquidation_cascade.burst_bars, p.liquidation_cascade.window_bars),
            "taker_ratio": nb.taker_new_state_nb(n_symbols, p.taker_ratio.flow_bars, p.taker_ratio.window_bars),
            "trend": price_nb.trend_new_state_nb(n_symbols),
            "breakout": price_nb.breakout_new_state_nb(n_symbols, p.breakout.channel_bars),
            "mean_reversion": price_nb.mr_new_state_nb(
                n_symbols, p.mean_reversion.window_bars, p.mean_reversion.vol_short_bars, p.mean_reversion.vol_long_bars
            ),
            "social_sentiment": sentiment_nb.social_new_state_nb(n_symbols),
        }
        self.bars_seen = 0

    def _col(self, name: str, a: object) -> np.ndarray:
        arr = np.ascontiguousarray(a, dtype=np.float64)
        if name in ("bid_sz", "ask_sz"):
            if arr.ndim != 2 or arr.shape[0] != self.n_symbols:
                raise ValueError(f"{name}: expected (n_symbols, n_levels) = ({self.n_symbols}, L), got {arr.shape}")
            return arr
        if arr.ndim == 0 or arr.shape == (1,):
            arr = np.full(self.n_symbols, float(arr.reshape(-1)[0]))  # a market-wide value
        if arr.shape != (self.n_symbols,):
            raise ValueError(f"{name}: expected ({self.n_symbols},), got {arr.shape}")
        return arr

    def update(self, bar: SignalInputs) -> SignalOutputs:
        """Consume one bar (fields ``(n_symbols,)``, book ``(n_symbols, n_levels)``); return ``(n_symbols, N_SIGNALS)`` outputs."""
        x = SignalInputs(**{name: self._col(name, a) for name, a in bar._asdict().items()})
        p, s = self.params, self.states
        ofi = p.order_flow_imbalance
        imbalance = nb.book_imbalance_1d_nb(x.bid_sz, x.ask_sz, ofi.level_decay)
        results = (
            nb.ofi_update_nb(s["order_flow_imbalance"], imbalance, *ofi[1:]),
            nb.funding_update_nb(s["funding_rate"], x.funding_rate, *p.funding_rate),
            nb.oi_update_nb(s["open_interest_velocity"], x.oi_usd, x.close, *p.open_interest_velocity),
            nb.liq_update_nb(s["liquidation_cascade"], x.long_liq_usd, x.short_liq_usd, *p.liquidation_cascade),
            nb.taker_update_nb(s["taker_ratio"], x.taker_buy_base, x.taker_sell_base, *p.taker_ratio),
            price_nb.trend_update_nb(s["trend"], x.close, *p.trend),
            price_nb.breakout_update_nb(s["breakout"], x.high, x.low, x.close, *p.breakout),
            price_nb.mr_update_nb(s["mean_reversion"], x.close, *p.mean_reversion),
            sentiment_nb.fear_greed_update_nb(x.fear_greed, *p.fear_greed),
            sentiment_nb.social_update_nb(s["social_sentiment"], x.mentions, x.tone, *p.social_sentiment),
        )
        self.bars_seen += 1
        return SignalOutputs(
            np.stack([r[0] for r in results], axis=-1),
            np.stack([r[1] for r in results], axis=-1),
            np.stack([r[2] for r in results], axis=-1),
        )

    def run(self, inputs: SignalInputs) -> SignalOutputs:
        """Feed a batch ``(n_bars, ...)`` bar by bar (warm-up, tests); return ``(n_bars, n_symbols, N_SIGNALS)`` outputs."""
        n = np.asarray(inputs.close).shape[0]
        score = np.empty((n, self.n_symbols, N_SIGNALS))
        conf = np.empty((n, self.n_symbols, N_SIGNALS))
        status = np.empty((n, self.n_symbols, N_SIGNALS), dtype=np.int8)
        arrays = {name: np.asarray(a) for name, a in inputs._asdict().items()}
        for t in range(n):
            out = self.update(SignalInputs(**{name: a[t] for name, a in arrays.items()}))
            score[t], conf[t], status[t] = out
        return SignalOutputs(score, conf, status)
