"""Random inputs with NaN gaps and small parameters for the signal tests (not a test module)."""

from __future__ import annotations

import numpy as np

from botcore.signals import nb
from botcore.signals import reference as ref
from botcore.signals.enums import (
    BreakoutParams,
    FearGreedParams,
    FundingParams,
    LiquidationParams,
    MeanReversionParams,
    OpenInterestParams,
    OrderFlowParams,
    SignalInputs,
    SignalParams,
    SocialParams,
    TakerParams,
    TrendParams,
)
from botcore.signals.price import nb as price_nb
from botcore.signals.sentiment import nb as sentiment_nb

# windows short enough that warm-up ends inside a few thousand bars
SMALL = SignalParams(
    order_flow_imbalance=OrderFlowParams(0.7, 5, 30, 1.0, 2.0),
    funding_rate=FundingParams(500, 200, 1.0, 3.0, 1e-5),
    open_interest_velocity=OpenInterestParams(15, 300, 150, 1.0, 1.0),
    liquidation_cascade=LiquidationParams(5, 300, 150, 5.0),
    taker_ratio=TakerParams(15, 300, 150, 2.0, 1e-3),
    trend=TrendParams(5, 15, 60, 4, 240, 1.0),
    breakout=BreakoutParams(60, 30, 1.5, 1.0),
    mean_reversion=MeanReversionParams(60, 60, 600, 300, 2.0, 2.0),
    fear_greed=FearGreedParams(25.0, 75.0),
    social_sentiment=SocialParams(60, 240, 4.0, 1.0),
)


def with_gaps(x: np.ndarray, rng: np.random.Generator, p: float = 0.02, block: int = 40) -> np.ndarray:
    """Return ``x`` with random NaNs (share ``p``) and one NaN block of ``block`` bars per column."""
    x = np.array(x, dtype=float, copy=True)
    x[rng.random(x.shape) < p] = np.nan
    n = x.shape[0]
    for j in range(x.shape[1] if x.ndim > 1 else 1):
        start = int(rng.integers(0, n - block))
        if x.ndim == 1:
            x[start : start + block] = np.nan
        else:
            x[start : start + block, j] = np.nan
    return x


def random_inputs(n: int, m: int, seed: int, levels: int = 5, gaps: bool = True) -> SignalInputs:
    """Random-walk market of ``m`` symbols over ``n`` bars with NaN gaps in every input."""
    rng = np.random.default_rng(seed)
    g = (lambda a: with_gaps(a, rng)) if gaps else (lambda a: np.asarray(a, dtype=float))  # noqa: E731
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, (n, m)), axis=0))
    spread = np.abs(rng.normal(0, 5e-4, (n, m)))
    bid = g(rng.random((n, m, levels)).reshape(n, m * levels)).reshape(n, m, levels)
    sparse = lambda: rng.exponential(100, (n, m)) * (rng.random((n, m)) < 0.1)  # noqa: E731
    return SignalInputs(
        close=g(close),
        high=close * (1 + spread),
        low=close * (1 - spread),
        bid_sz=bid,
        ask_sz=rng.random((n, m, levels)),
        funding_rate=g(rng.normal(1e-4, 1e-4, (n, m))),
        oi_usd=g(1e6 * np.exp(np.cumsum(rng.normal(0, 1e-3, (n, m)), axis=0))),
        long_liq_usd=g(sparse()),
        short_liq_usd=g(sparse()),
        taker_buy_base=g(rng.random((n, m))),
        taker_sell_base=g(rng.random((n, m))),
        fear_greed=g(rng.uniform(0, 100, (n, 1))),
        mentions=g(rng.poisson(100, (n, 1)).astype(float)),
        tone=g(rng.uniform(-1, 1, (n, 1))),
    )


# name -> (1-D kernel, reference, input field names, params)
CASES = {
    "order_flow_imbalance": (nb.order_flow_imbalance_1d_nb, ref.order_flow_imbalance_ref, ("imbalance",), SMALL.order_flow_imbalance[1:]),
    "funding_rate": (nb.funding_rate_1d_nb, ref.funding_rate_ref, ("funding_rate",), SMALL.funding_rate),
    "open_interest_velocity": (nb.open_interest_velocity_1d_nb, ref.open_interest_velocity_ref, ("oi_usd", "close"), SMALL.open_interest_velocity),
    "liquidation_cascade": (nb.liquidation_cascade_1d_nb, ref.liquidation_cascade_ref, ("long_liq_usd", "short_liq_usd"), SMALL.liquidation_cascade),
    "taker_ratio": (nb.taker_ratio_1d_nb, ref.taker_ratio_ref, ("taker_buy_base", "taker_sell_base"), SMALL.taker_ratio),
    "trend": (price_nb.trend_1d_nb, ref.trend_ref, ("close",), SMALL.trend),
    "breakout": (price_nb.breakout_1d_nb, ref.breakout_ref, ("high", "low", "close"), SMALL.breakout),
    "mean_reversion": (price_nb.mean_reversion_1d_nb, ref.mean_reversion_ref, ("close",), SMALL.mean_reversion),
    "fear_greed": (sentiment_nb.fear_greed_1d_nb, ref.fear_greed_ref, ("fear_greed",), SMALL.fear_greed),
    "social_sentiment": (sentiment_nb.social_sentiment_1d_nb, ref.social_sentiment_ref, ("mentions", "tone"), SMALL.social_sentiment),
}


def column_inputs(inputs: SignalInputs, fields: tuple[str, ...], j: int) -> list[np.ndarray]:
    """The 1-D inputs of one signal for column ``j`` (market-wide fields have one column)."""
    out = []
    for f in fields:
        if f == "imbalance":
            out.append(nb.book_imbalance_1d_nb(np.ascontiguousarray(inputs.bid_sz[:, j]), np.ascontiguousarray(inputs.ask_sz[:, j]), SMALL.order_flow_imbalance.level_decay))
        else:
            a = getattr(inputs, f)
            out.append(np.ascontiguousarray(a[:, min(j, a.shape[1] - 1)]))
    return out
