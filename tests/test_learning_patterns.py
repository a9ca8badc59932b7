"""The daily intelligence learner: a planted edge is found, planted noise is rejected at the configured FDR."""

from __future__ import annotations

import numpy as np
import pandas as pd

from botcore.config.models import REGIME_NAMES, STRATEGY_NAMES
from botcore.learning import active_overrides
from botcore.learning.config import LearningConfig, PatternConfig
from botcore.learning.patterns import KIND, discover_patterns, run_pattern_learner
from botcore.learning.synthetic import SyntheticSpec, write_synthetic_history
from botcore.ledger import Ledger
from botcore.strategy.params import build_params

SYMBOLS = ("BTC", "ETH", "SOL", "LINK", "NOISE")
PLANTED = {"regime": "trending", "strategy": "trend_conservative"}


def trade_frame(seed: int, n: int = 800, edge: float = 0.006, sd: float = 0.006) -> pd.DataFrame:
    """Trades with zero mean net return, except the PLANTED condition (+edge); NOISE: 3x the variance, mean 0."""
    rng = np.random.default_rng(seed)
    regime, strategy, symbol = rng.integers(0, 3, n), rng.integers(0, 3, n), rng.integers(0, len(SYMBOLS), n)
    ret = sd * rng.standard_normal(n)
    noise = symbol == SYMBOLS.index("NOISE")
    ret[noise] *= 3.0
    ret[(regime == 0) & (strategy == 1) & ~noise] += edge
    return pd.DataFrame({
        "regime": regime, "strategy_id": [STRATEGY_NAMES[i] for i in strategy], "symbol": [SYMBOLS[i] for i in symbol],
        "entry_ts_ms": 1_704_067_200_000 + np.arange(n) * 7_200_000 + rng.integers(0, 3_600_000, n),
        "net_return": ret,
    })


def is_null(condition: dict) -> bool:
    """True when the condition's trades have a zero mean by construction (it excludes the planted cell)."""
    if condition.get("symbol") == "NOISE":
        return True
    return any(condition.get(dim, value) != value for dim, value in PLANTED.items())


def test_planted_edge_is_found_and_planted_noise_rejected():
    cfg = PatternConfig(fdr_alpha=0.10)
    report = discover_patterns(trade_frame(seed=3), cfg)
    found = list(report.discoveries["condition"])
    assert PLANTED in found
    row = report.discoveries[report.discoveries["condition"].map(lambda c: c == PLANTED)].iloc[0]
    assert row["direction"] == "favor" and row["q_value"] <= cfg.fdr_alpha and row["folds_agree"] >= 3
    assert not any(c.get("symbol") == "NOISE" for c in found)
    # the noise symbol was tested, and rejected
    noise = report.table[report.table["condition"].map(lambda c: c == {"symbol": "NOISE"})].iloc[0]
    assert not noise["discovery"] and noise["p_value"] > 0
    assert report.n_tested == int(report.table["p_value"].notna().sum()) > 50


def test_false_discoveries_stay_within_the_configured_rate():
    cfg = PatternConfig(fdr_alpha=0.10)
    fdp, found, null_runs_with_discoveries = [], 0, 0
    for seed in range(12):
        conditions = list(discover_patterns(trade_frame(seed), cfg).discoveries["condition"])
        fdp.append(sum(is_null(c) for c in conditions) / max(1, len(conditions)))
        found += PLANTED in conditions
        null = discover_patterns(trade_frame(100 + seed, edge=0.0), cfg)
        null_runs_with_discoveries += len(null.discoveries) > 0
    assert found >= 8  # power: the planted edge (one noise sd) is found in most runs
    assert np.mean(fdp) <= cfg.fdr_alpha  # BH: the expected share of false discoveries <= alpha
    assert null_runs_with_discoveries <= 3  # no edge anywhere: P(any discovery) <= alpha (12 runs, slack)


def test_walk_forward_rejects_an_edge_that_flips_out_of_sample():
    df = trade_frame(seed=5, edge=0.0)
    cell = (df["regime"] == 0) & (df["strategy_id"] == "trend_conservative")
    first_half = np.arange(len(df)) < len(df) // 2
    df.loc[cell & first_half, "net_return"] += 0.008  # in-sample it looks great...
    df.loc[cell & ~first_half, "net_return"] -= 0.008  # ...and it reverses later
    report = discover_patterns(df, PatternConfig())
    row = report.table[report.table["condition"].map(lambda c: c == PLANTED)].iloc[0]
    assert not row["discovery"] or row["direction"] == "avoid"
    assert row["oos_z"] < 2.0


def test_too_few_trades_means_no_search():
    report = discover_patterns(trade_frame(seed=1, n=60), PatternConfig(min_trades_total=100))
    assert report.discoveries.empty and "no pattern search" in report.reasons[0]


def test_proposals_are_stored_inactive_with_evidence_and_only_activation_lets_them_act(tmp_path, settings):
    spec = SyntheticSpec(n_trades=600, seed=4, edge=0.0, base_return=0.0012,
                         pattern={"regime": "trending", "strategy": "breakout_aggressive"},
                         pattern_return=-0.012)
    with Ledger.open(tmp_path / "l.db", starting_cash_usd=10_000.0) as ledger:
        history = write_synthetic_history(ledger, spec)
        report = run_pattern_learner(ledger, settings, now_ms=history.end_ms,
                                     cfg=LearningConfig(patterns=PatternConfig(lookback_days=90)))
        assert report.version is not None
        stored = ledger.get_params(report.version)
        assert stored.kind == KIND and not stored.active and stored.reason.startswith("PROPOSED")
        avoid = [p for p in stored.body["patterns"]
                 if p["condition"] == {"regime": "trending", "strategy": "breakout_aggressive"}]
        assert avoid and avoid[0]["direction"] == "avoid" and avoid[0]["q_value"] <= 0.10
        assert stored.body["evidence"]["method"] == "fdr_bh" and stored.body["evidence"]["n_tested"] > 0
        row, col = REGIME_NAMES.index("trending") + 1, STRATEGY_NAMES.index("breakout_aggressive")
        assert stored.body["overrides"]["regime_allowed"][row][col] == 0
        # proposed: decide does not see it
        _, overrides = active_overrides(ledger, settings, capital=False)
        assert "regime_allowed" not in overrides
        # approved by a person: it acts
        ledger.activate(report.version)
        _, overrides = active_overrides(ledger, settings, capital=False)
        params = build_params(settings, overrides)
        assert params[0]["regime_allowed"][row, col] == 0
        assert build_params(settings)[0]["regime_allowed"][row, col] == 1
