"""The review shows the learning system's changes in its window: weights over time, benchings, capital multiplier.

The ledger is SYNTHETIC (:mod:`botcore.learning.synthetic`: ``trend`` informative,
``social_sentiment`` noise, DOGE losing); its learning versions are written by
the learning system itself (:func:`run_learning_cycle`, :func:`evaluate_benching`,
:func:`evaluate_autonomy`) and one is rolled back with :meth:`Ledger.rollback`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import nbformat
import pandas as pd
import pytest

from botcore.config import SIGNAL_NAMES
from botcore.learning import evaluate_autonomy, evaluate_benching, run_learning_cycle
from botcore.learning.cycle import prior_body
from botcore.learning.history import (
    ACTIVE,
    OFF_LINE,
    SUPERSEDED,
    bench_history,
    bench_periods,
    version_status,
    weights_history,
)
from botcore.learning.synthetic import START_MS, SyntheticSpec, write_synthetic_history
from botcore.ledger import Ledger
from botcore.reports.review import NO_LEARNING_CHANGES, build_review, learning_figure, load_review, review_ledger
from botcore.strategy.enums import Reason

DAY = 86_400_000
HOUR = 3_600_000
DOGE = "DOGE/USDT:USDT"
BENCHED_ONLY = 1 << Reason.benched


class LearningLedger(NamedTuple):
    path: Path
    end_ms: int
    prior: int
    learned: tuple[int, int]  # the two cycles' versions, in the window; the second rolled back
    bench: int
    bench_since_ms: int
    autonomy: int
    multiplier: float
    reasons: dict[int, str]


def write_learning_ledger(path: Path, settings) -> LearningLedger:
    """Write 14 days of SYNTHETIC trades; learn, bench and scale capital in the last 7; roll the last learning back.

    - the prior ``learning`` version at the start (before the review window);
    - two learning cycles, 5 and 2 days before the end (two learned versions);
    - DOGE benched 3 days before the end, then 8 cycles of its trail held back
      (a row of 4 compressed bars among them), 6 of them would-be entries;
    - an ``autonomy`` version a day before the end; the second learned version rolled back.
    """
    with Ledger.open(path, starting_cash_usd=10_000.0, mode="paper") as ledger:
        ledger.record_equity(START_MS, {})
        spec = SyntheticSpec(n_trades=168, base_return=0.004, losing_symbols=(DOGE,), seed=3)
        end = write_synthetic_history(ledger, spec).end_ms
        prior = ledger.put_params("learning", prior_body(settings), reason="prior: the configured weights",
                                  activate=True, ts_ms=START_MS)
        first = run_learning_cycle(ledger, settings, now_ms=end - 5 * DAY)
        second = run_learning_cycle(ledger, settings, now_ms=end - 2 * DAY)
        assert first.version is not None and second.version is not None and first.prior_version is None
        bench = evaluate_benching(ledger, settings, now_ms=end - 3 * DAY)
        assert bench.benched == [DOGE], bench.reasons
        since = end - 3 * DAY
        ledger.record_decisions([
            {"ts_ms": since + h * HOUR, "symbol": DOGE, "strategy": "trend_conservative", "outcome": Reason.skipped,
             "reason_code": Reason.benched, "reason_mask": mask, "detail": detail}
            for h, mask, detail in [(1, BENCHED_ONLY, None), (2, BENCHED_ONLY | 1 << Reason.no_signal, None),
                                    (3, BENCHED_ONLY, {"bars": 4}), (8, BENCHED_ONLY | 1 << Reason.no_signal, None),
                                    (9, BENCHED_ONLY, {"direction": 1})]])
        ledger.rollback("learning")
        autonomy = evaluate_autonomy(ledger, settings, now_ms=end - DAY)
        assert autonomy.version is not None
        ledger.record_equity(end, {})
        reasons = dict(zip(ledger.list_params()["version"], ledger.list_params()["reason"]))
    return LearningLedger(path, end, prior, (first.version, second.version), bench.version, since, autonomy.version,
                          autonomy.multiplier, reasons)


@pytest.fixture(scope="module")
def learned(tmp_path_factory, settings) -> LearningLedger:
    return write_learning_ledger(tmp_path_factory.mktemp("learning") / "ledger.sqlite", settings)


@pytest.fixture(scope="module")
def review(learned):
    return build_review(load_review(learned.path, days=7.0))


# --------------------------------------------------------------------------- the review's data


def test_review_lists_exactly_the_learning_versions_of_the_window_with_their_reasons(learned, review):
    w = review.learning.weights
    assert w["version"].tolist() == list(learned.learned)
    assert w["reason"].tolist() == [learned.reasons[v] for v in learned.learned]
    assert all(r.startswith("learning cycle: trend raised") for r in w["reason"])
    assert w["status"].tolist() == [ACTIVE, OFF_LINE]  # the second was rolled back
    assert review.learning.weights_before["version"].tolist() == [learned.prior]  # in force at the window start
    assert "trend 1 -> 1.1" in w["changes"].iloc[0] and "social_sentiment" in w["changes"].iloc[0]
    assert set(SIGNAL_NAMES) <= set(w.columns)
    assert w["trend"].is_monotonic_increasing and w["social_sentiment"].is_monotonic_decreasing


def test_review_notes_the_rollback(learned, review):
    (note,) = review.learning.notes
    assert note.startswith(f"learning: v{learned.learned[1]} {OFF_LINE}; v{learned.learned[0]} is active now")


def test_review_lists_the_bench_with_the_entries_it_held_back(learned, review):
    (b,) = review.learning.benchings.to_dict("records")
    assert b["symbol"] == DOGE and b["version"] == learned.bench and b["status"] == ACTIVE
    assert b["since_ms"] == learned.bench_since_ms and b["until_ms"] == learned.bench_since_ms + 72 * HOUR
    assert b["returned"] == "still benched" and pd.isna(b["returned_ms"])
    assert b["reason"].startswith(f"{DOGE} benched: profit factor")
    assert b["cycles_held_back"] == 8 and b["would_be_entries"] == 6


def test_review_shows_the_capital_multiplier_of_the_autonomy_versions(learned, review):
    a = review.learning.autonomy
    assert a["version"].tolist() == [learned.autonomy]
    assert a["multiplier"].iloc[0] == pytest.approx(learned.multiplier)
    assert a["reason"].iloc[0] == learned.reasons[learned.autonomy]


def test_review_to_dict_carries_the_learning_changes(learned, review):
    d = json.loads(json.dumps(review.to_dict(), default=str))["learning"]
    assert d["changed"] and [r["version"] for r in d["weights"]] == list(learned.learned)
    assert d["benchings"][0]["symbol"] == DOGE and d["benchings"][0]["would_be_entries"] == 6
    assert d["autonomy"][0]["version"] == learned.autonomy


def test_a_window_before_the_learning_shows_no_learning_changes(learned):
    early = build_review(load_review(learned.path, days=3.0, end_ms=START_MS + 4 * DAY)).learning
    assert early.empty and not early.changed and early.weights.empty and early.benchings.empty
    assert early.weights_before["version"].tolist() == [learned.prior]


def test_an_empty_ledger_shows_no_learning_changes(tmp_path):
    with Ledger.open(tmp_path / "empty.sqlite", starting_cash_usd=1_000.0):
        pass
    learning = review_ledger(tmp_path / "empty.sqlite").learning
    assert learning.empty and learning.notes == [] and learning.to_dict()["weights"] == []
    assert NO_LEARNING_CHANGES == "No learning changes in this window"
    fig = learning_figure(learning)
    assert "no learning version" in fig.axes[0].texts[0].get_text()


def test_learning_figure_draws_a_line_per_signal_and_the_multiplier(review):
    fig = learning_figure(review.learning)
    weights_ax, multiplier_ax = fig.axes
    assert [t.get_text() for t in weights_ax.get_legend().get_texts()] == list(SIGNAL_NAMES)
    trend = weights_ax.get_lines()[SIGNAL_NAMES.index("trend")]
    assert trend.get_ydata()[0] == 1.0 and trend.get_ydata()[-1] > 1.1  # the prior, then both learned steps
    assert multiplier_ax.get_ylabel() == "capital multiplier"


# --------------------------------------------------------------------------- history.py


def _put(ledger: Ledger, kind: str, body: dict, ts_ms: int, activate: bool = True) -> int:
    return ledger.put_params(kind, body, reason=f"{kind} at {ts_ms}", activate=activate, ts_ms=ts_ms)


def test_version_status_follows_the_active_line(tmp_path):
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        v1 = _put(ledger, "learning", {"weights": {"trend": 1.0}}, 1)
        v2 = _put(ledger, "learning", {"weights": {"trend": 1.1}}, 2)
        v3 = _put(ledger, "learning", {"weights": {"trend": 1.2}}, 3)
        ledger.rollback("learning")
        v4 = _put(ledger, "learning", {"weights": {"trend": 0.9}}, 4, activate=False)  # a proposal
        status = version_status(ledger.list_params("learning"))
        assert status == {v1: SUPERSEDED, v2: ACTIVE, v3: OFF_LINE, v4: OFF_LINE}
        assert weights_history(ledger.list_params())["status"].tolist() == [SUPERSEDED, ACTIVE, OFF_LINE, OFF_LINE]


def test_bench_history_reads_each_version_against_its_parent(tmp_path):
    a, b, c = "A/USDT:USDT", "B/USDT:USDT", "C/USDT:USDT"
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        v1 = _put(ledger, "benched_symbols", {"symbols": {a: {"since_ms": 10, "until_ms": 50, "reason": "a bad"}}}, 10)
        v2 = _put(ledger, "benched_symbols", {"symbols": {a: {"since_ms": 10}, b: {"since_ms": 20, "reason": "b bad"}}}, 20)
        ledger.rollback("benched_symbols")  # B's bench undone
        v3 = _put(ledger, "benched_symbols", {"symbols": {c: {"since_ms": 30, "reason": "c bad"}},
                                              "returned": {a: {"ts_ms": 30, "reason": "a recovered"}}}, 30)
        h = bench_history(ledger)
    rows = h[["version", "ts_ms", "symbol", "event", "reason", "status"]].values.tolist()
    assert rows == [[v1, 10, a, "benched", "a bad", SUPERSEDED], [v2, 20, b, "benched", "b bad", OFF_LINE],
                    [v3, 30, c, "benched", "c bad", ACTIVE], [v3, 30, a, "returned", "a recovered", ACTIVE]]
    assert h["until_ms"].iloc[0] == 50  # B is not "returned" by v3: v3 was stored on v1, not on v2

    decisions = pd.DataFrame({"ts_ms": [15, 25, 35], "symbol": [a, a, a], "reason_code": [Reason.benched] * 3,
                              "reason_mask": [BENCHED_ONLY] * 3, "detail": [None] * 3})
    p = bench_periods(h, decisions).set_index("symbol")
    assert p.loc[a, "returned_ms"] == 30 and p.loc[a, "return_reason"] == "a recovered"
    assert p.loc[a, "cycles"] == 2 and p.loc[a, "would_be_entries"] == 2  # the row at 35 is after its return
    assert pd.isna(p.loc[c, "returned_ms"]) and p.loc[c, "cycles"] == 0


# --------------------------------------------------------------------------- the executed notebook


def test_executed_review_notebook_has_the_learning_section(learned, tmp_path):
    from pipelines import DEFAULT_KERNEL, PIPELINE_NOTEBOOKS, run_notebook

    result = run_notebook(PIPELINE_NOTEBOOKS["review"], {"ledger_path": str(learned.path), "days": 7.0},
                          runs_root=tmp_path, kernel_name=DEFAULT_KERNEL)
    assert result.ok, result.error
    executed = nbformat.read(result.executed, as_version=4)
    text = json.dumps([c.get("outputs", []) for c in executed.cells])
    html = result.html.read_text()
    assert "Learning: weights, benchings and capital" in html
    for expected in ("Signal weights", "Benched symbols", "Capital multiplier (autonomy)", DOGE, "still benched",
                     f"Rollback: learning: v{learned.learned[1]} {OFF_LINE}", learned.reasons[learned.learned[0]][:60]):
        assert expected in text, expected
    assert NO_LEARNING_CHANGES not in text
    (cell,) = [c for c in executed.cells if "learning_figure(learning)" in c.source]
    assert any("image/png" in o.get("data", {}) for o in cell.outputs)  # the weights plot
    review = json.loads((result.run_dir / "review.json").read_text())
    assert review["learning"]["benchings"][0]["cycles_held_back"] == 8
