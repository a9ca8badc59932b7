"""The gate that binds: would-be entries each gate held back alone, and in total, from the trail's masks."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from botcore.analytics.trail import binding_gate, binding_gates, gate_blocks
from botcore.engine.report import entry_rate
from botcore.strategy.enums import Reason

CONV, KELLY, ROI = Reason.conviction_below_threshold, Reason.kelly_no_edge, Reason.roi_below_minimum


def rows(spec):
    """Decision rows from ``(outcome, [failing codes], strategy, bars)``; the first code decides."""
    out = []
    for k, (outcome, codes, strategy, bars) in enumerate(spec):
        mask = 0
        for c in codes:
            mask |= 1 << c
        out.append({"ts_ms": k * 60_000, "symbol": "BTC-USDT", "strategy": strategy, "outcome": outcome,
                    "reason_code": codes[0] if codes else outcome, "reason_mask": mask,
                    "detail": json.dumps({"bars": bars}) if bars > 1 else None})
    return pd.DataFrame(out)


TRAIL = rows([
    (Reason.skipped, [CONV, KELLY], "trend_conservative", 1000),  # conviction decides, neither binds alone
    (Reason.skipped, [KELLY], "trend_conservative", 30),           # Kelly alone: 30 symbol-bars
    (Reason.skipped, [KELLY], "sentiment_fusion", 5),
    (Reason.skipped, [ROI], "sentiment_fusion", 10),
    (Reason.skipped, [CONV], "sentiment_fusion", 1),
    (Reason.entered, [], "sentiment_fusion", 1),                   # not a held-back entry
])


def test_alone_and_total_counts_weight_compressed_rows_by_their_bars():
    t = binding_gates(TRAIL)
    assert t.index[0] == "kelly_no_edge"
    assert t.loc["kelly_no_edge", ["alone", "total", "decided"]].tolist() == [35, 1035, 35]
    assert t.loc["conviction_below_threshold", ["alone", "total", "decided"]].tolist() == [1, 1001, 1001]
    assert t.loc["roi_below_minimum", "alone"] == 10
    assert (t["single"] == 46).all() and (t["skipped"] == 1046).all()
    assert t.loc["kelly_no_edge", "alone_share"] == pytest.approx(35 / 46)


def test_the_binding_gate_is_the_one_that_alone_held_back_most_not_the_first_failing():
    b = binding_gate(TRAIL)
    assert gate_blocks(TRAIL).index[0] == "conviction_below_threshold"  # the first failing gate in order
    assert b["gate"] == "kelly_no_edge" and b["alone"] == 35 and b["single"] == 46
    assert "35 of the 46" in b["text"] and "76%" in b["text"]
    assert gate_blocks(TRAIL).loc["kelly_no_edge", "alone"] == 35
    by = binding_gates(TRAIL, by_strategy=True)
    assert by.loc[("trend_conservative", "kelly_no_edge"), "alone"] == 30
    assert by.loc["sentiment_fusion"].index[0] == "roi_below_minimum"


def test_no_binding_gate_without_a_single_gate_row():
    assert binding_gate(rows([(Reason.skipped, [CONV, KELLY], "trend_conservative", 1)])) is None
    assert binding_gates(TRAIL.iloc[:0]).empty


def test_entry_rate_counts_entries_per_day_and_the_longest_gap():
    day = 86_400_000
    d = pd.DataFrame({"ts_ms": [0, 2 * 3_600_000, 30 * 3_600_000, 2 * day], "symbol": "X", "strategy": "",
                      "outcome": [Reason.skipped, Reason.entered, Reason.entered, Reason.skipped],
                      "reason_code": 0, "reason_mask": 0, "detail": None})
    r = entry_rate(d)
    assert r["n"] == 2 and r["days"] == pytest.approx(2.0) and r["per_day"] == pytest.approx(1.0)
    assert r["longest_gap_hours"] == pytest.approx(28.0) and r["longest_gap_from"] == "1970-01-01 02:00"
    assert r["by_day"] == {"1970-01-01": 1, "1970-01-02": 1}
