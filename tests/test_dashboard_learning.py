"""The dashboard shows the learning system over time: weights version by version, every benching with what it held back."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from botcore.config import SIGNAL_NAMES
from botcore.dashboard.data import weights_frame
from botcore.learning.cycle import KIND, prior_body
from botcore.ledger import Ledger


def test_weights_over_time_read_the_learning_cycles_versions(tmp_path, settings):
    with Ledger.open(tmp_path / "ledger.sqlite", starting_cash_usd=10_000.0, mode="paper") as ledger:
        prior = prior_body(settings)
        ledger.put_params(KIND, prior, reason="config prior", activate=True, ts_ms=1_000)
        learned = json.loads(json.dumps(prior))
        learned["weights"]["trend"] = 1.25
        learned["weights"]["social_sentiment"] = 0.4
        ledger.put_params(KIND, learned, reason="learning cycle: 30+ trades attributed", activate=True, ts_ms=2_000)
        params = ledger.table("parameters")

    frame = weights_frame(params, settings)

    assert list(frame["version"]) == [1, 2]
    assert list(frame["active"]) == [False, True]
    assert frame.loc[1, "trend"] == 1.25 and frame.loc[1, "social_sentiment"] == 0.4
    assert frame.loc[0, "trend"] == settings.signals.weights["trend"]
    assert set(SIGNAL_NAMES) <= set(frame.columns)


# --------------------------------------------------------------------------- benchings over time

HOUR = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
DOGE, XRP = "DOGE/USDT:USDT", "XRP/USDT:USDT"


def _bench_ledger(path, *, decisions: bool = True) -> None:
    """DOGE benched, returned, benched again; XRP benched (a version then rolled back); DOGE's trail held back."""
    from botcore.strategy.enums import Reason

    with Ledger.open(path, starting_cash_usd=10_000.0, mode="paper") as ledger:
        ledger.put_params("benched_symbols", {"symbols": {DOGE: {
            "reason": "DOGE benched: profit factor 0.41", "since_ms": T0, "until_ms": T0 + 72 * HOUR}}},
            reason="benching: DOGE", activate=True, ts_ms=T0)
        ledger.put_params("benched_symbols", {"symbols": {}, "returned": {DOGE: {
            "ts_ms": T0 + 80 * HOUR, "reason": "DOGE returns: paper profit factor 1.6"}}},
            reason="benching: DOGE returns", activate=True, ts_ms=T0 + 80 * HOUR)
        ledger.put_params("benched_symbols", {"symbols": {DOGE: {
            "reason": "DOGE benched again: profit factor 0.52", "since_ms": T0 + 100 * HOUR,
            "until_ms": T0 + 172 * HOUR}}, "returned": {}}, reason="benching: DOGE", activate=True,
            ts_ms=T0 + 100 * HOUR)
        ledger.put_params("benched_symbols", {"symbols": {
            DOGE: {"reason": "DOGE benched again: profit factor 0.52", "since_ms": T0 + 100 * HOUR},
            XRP: {"reason": "XRP benched: profit factor 0.3", "since_ms": T0 + 110 * HOUR}}},
            reason="benching: XRP", activate=True, ts_ms=T0 + 110 * HOUR)
        ledger.rollback("benched_symbols")
        if decisions:
            only = 1 << Reason.benched
            rows = [(T0 + 1 * HOUR, only, None), (T0 + 2 * HOUR, only | 1 << Reason.no_signal, None),
                    (T0 + 3 * HOUR, only, {"bars": 5}),                # first bench: 7 cycles, 6 would-be entries
                    (T0 + 101 * HOUR, only, None), (T0 + 102 * HOUR, only | 1 << Reason.no_signal, None)]
            ledger.record_decisions([{"ts_ms": t, "symbol": DOGE, "strategy": "trend_conservative",
                                      "outcome": Reason.skipped, "reason_code": Reason.benched, "reason_mask": m,
                                      "detail": d} for t, m, d in rows]
                                    + [{"ts_ms": T0 + 90 * HOUR, "symbol": DOGE, "strategy": "trend_conservative",
                                        "outcome": Reason.entered, "reason_code": Reason.entered,
                                        "reason_mask": 1 << Reason.entered}])


def test_benchings_over_time_pair_each_bench_with_its_return_and_what_it_held_back(tmp_path, settings):
    from botcore.dashboard.data import load_snapshot

    _bench_ledger(tmp_path / "ledger.sqlite")
    snap = load_snapshot(tmp_path / "ledger.sqlite", settings, now=T0 + 120 * HOUR)
    h = snap.bench_history  # newest first
    assert h["symbol"].tolist() == [XRP, DOGE, DOGE]
    assert h["status"].tolist() == ["rolled back or not activated", "active", "superseded"]
    first = h.iloc[2]
    assert first["since"] == pd.Timestamp(T0, unit="ms", tz="UTC")
    assert first["until"] == pd.Timestamp(T0 + 72 * HOUR, unit="ms", tz="UTC")
    assert first["returned"] == pd.Timestamp(T0 + 80 * HOUR, unit="ms", tz="UTC")
    assert first["return_reason"] == "DOGE returns: paper profit factor 1.6"
    assert (first["cycles"], first["would_be_entries"]) == (7, 6)
    again = h.iloc[1]
    assert again["returned"] is pd.NaT and (again["cycles"], again["would_be_entries"]) == (2, 1)
    assert snap.benched["symbol"].tolist() == [DOGE]  # the current state: XRP's bench was rolled back


def test_strategies_view_lists_the_benchings_over_time(tmp_path):
    pytest.importorskip("panel")
    from botcore.dashboard.data import SnapshotCache
    from botcore.dashboard.store import DataStore
    from botcore.dashboard.views import StrategiesView
    from tests.test_dashboard_views import kpis

    _bench_ledger(tmp_path / "ledger.sqlite")
    view = StrategiesView(store=DataStore(ledger_path=str(tmp_path / "ledger.sqlite"), refresh_s=0,
                                          cache=SnapshotCache(ttl_s=0)))
    shown = view._bench_history.object
    assert kpis(shown)["benchings"] == "3"
    assert "data-kpi='bench-history'" in shown and shown.count("<tr>") == 4  # header + 3 benchings
    assert shown.count("still benched") == 1 and "DOGE returns: paper profit factor 1.6" in shown
    assert "rolled back or not activated" in shown and "2024-01-01 00:00:00" in shown
    assert DOGE in kpis(view._benched.object)["benched"]


def test_a_ledger_without_benchings_shows_none_over_time(tmp_path, settings):
    from botcore.dashboard.data import load_snapshot

    with Ledger.open(tmp_path / "ledger.sqlite", starting_cash_usd=10_000.0):
        pass
    snap = load_snapshot(tmp_path / "ledger.sqlite", settings, now=T0)
    assert snap.bench_history.empty and list(snap.bench_history.columns) == [
        "symbol", "since", "until", "returned", "reason", "return_reason", "status", "cycles", "would_be_entries"]


def test_benchings_over_time_read_the_other_layouts_of_a_bench(tmp_path, settings):
    from botcore.dashboard.data import load_snapshot

    with Ledger.open(tmp_path / "ledger.sqlite", starting_cash_usd=10_000.0) as ledger:
        ledger.put_params("benched_symbols", {DOGE: {"reason": "profit factor 0.6", "since_ms": T0}},
                          reason="bench", activate=True, ts_ms=T0)
        ledger.put_params("benched_symbols", {"symbols": [DOGE, XRP]}, reason="bench XRP", activate=True,
                          ts_ms=T0 + HOUR)
    h = load_snapshot(tmp_path / "ledger.sqlite", settings, now=T0 + 2 * HOUR).bench_history
    assert h[["symbol", "reason"]].values.tolist() == [[XRP, "bench XRP"], [DOGE, "profit factor 0.6"]]
    assert h["since"].tolist() == [pd.Timestamp(T0 + HOUR, unit="ms", tz="UTC"), pd.Timestamp(T0, unit="ms", tz="UTC")]
