"""The dashboard's views and app: built on a DataStore, they show the ledger's numbers and work empty."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from bokeh.document import Document
from typer.testing import CliRunner

pn = pytest.importorskip("panel")

from botcore.dashboard.app import DashboardConfigError, build_app, check_bind, is_loopback, parse_args  # noqa: E402
from botcore.dashboard.data import SnapshotCache  # noqa: E402
from botcore.dashboard.store import DataStore  # noqa: E402
from botcore.dashboard.views import (  # noqa: E402
    HealthView,
    KillSwitchControl,
    ModeBanner,
    PnLView,
    PositionsView,
    StrategiesView,
    TradesView,
    WhyNotTradingView,
    usd,
)
from botcore.ledger import Ledger  # noqa: E402
from botcore.ops import killswitch  # noqa: E402
from botcore.ops.notify import alert_log  # noqa: E402
from botcore.ops.paths import kill_file_path  # noqa: E402
from tests._dashboard_ledger import OPEN_LONG, OUTAGE, shared_ledger  # noqa: E402

VIEWS = (ModeBanner, PnLView, PositionsView, WhyNotTradingView, StrategiesView, TradesView, HealthView)


@pytest.fixture(scope="module")
def built():
    return shared_ledger()


def make_store(path) -> DataStore:
    return DataStore(ledger_path=str(path), refresh_s=0, cache=SnapshotCache(ttl_s=0))


@pytest.fixture
def store(built):
    return make_store(built.path)


def kpis(html: str) -> dict[str, str]:
    """Return the text of every ``data-kpi`` element of an HTML fragment."""
    return {k: re.sub(r"<[^>]+>", "", v) for k, v in re.findall(r"data-kpi='([^']+)'>(.*?)</(?:div|span|td|b)>", html)}


def one(path, query, *args):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute(query, args).fetchone()[0]
    finally:
        con.close()


def test_pnl_view_shows_the_ledgers_equity_realised_pnl_fees_funding_and_trade_count(built, store):
    view = PnLView(store=store)
    shown = kpis(view._kpis.object) | kpis(view._table.object)
    equity = one(built.path, "SELECT equity_usd FROM equity ORDER BY ts_ms DESC, seq DESC LIMIT 1")
    assert shown["equity"] == usd(equity)
    assert shown["realized-since-start"] == usd(one(built.path, "SELECT SUM(realized_pnl_usd) FROM fills"), signed=True)
    assert shown["fees-since-start"] == usd(-one(built.path, "SELECT SUM(fee_usd) FROM fills"), signed=True)
    assert shown["funding-since-start"] == usd(one(built.path, "SELECT SUM(amount_usd) FROM funding"), signed=True)
    assert shown["closed-trades"] == shown["trades-since-start"] == "40"
    assert shown["open-positions"] == "3"
    assert len(view._source.data["equity_usd"]) == one(built.path, "SELECT COUNT(*) FROM equity")


def test_positions_view_lists_the_open_positions_with_the_adopted_one_aged(store):
    view = PositionsView(store=store)
    table = view._table.value.set_index("symbol")
    assert len(table) == 3 and table.loc[OPEN_LONG, "side"] == "long"
    assert "aged/unknown" in set(table["age"])
    assert "adopted from the venue" in view._note.object


def test_trades_view_filters_by_symbol_strategy_side_and_date(store):
    view = TradesView(store=store)
    trades = store.snapshot.trades
    assert len(view._table.value) == 40 and kpis(view._summary.object)["filtered-trades"] == "40"
    view.side = "short"
    assert len(view._table.value) == (trades["side"] == "short").sum()
    symbol = trades["symbol"].iloc[0]
    view.symbol = symbol
    expected = trades[(trades["side"] == "short") & (trades["symbol"] == symbol)]
    assert len(view._table.value) == len(expected)
    view.side, view.symbol, view.strategy = "all", "all", "sentiment_fusion"
    assert len(view._table.value) == (trades["strategy"] == "sentiment_fusion").sum()
    view.strategy = "all"
    day = trades["exit_time"].iloc[0].date()
    view.date_range = (day, day)
    assert len(view._table.value) == (trades["exit_time"].dt.date == day).sum()
    shown = kpis(view._summary.object)
    assert shown["filtered-net"] == usd(view._table.value["net_pnl_usd"].sum(), signed=True)


def test_why_not_trading_view_shows_each_symbols_gate_and_the_outage(store):
    view = WhyNotTradingView(store=store)
    table = view._table.value.set_index("symbol")
    assert len(table) == 15
    assert table.loc[OUTAGE, "gate"] == "data_outage"
    assert kpis(view._outages.object)["outages"] == "2" and OUTAGE in view._outages.object  # PEPE now, DOGE earlier
    assert "1 ongoing" in view._outages.object
    assert "conviction_below_threshold" in view._gates.object


def test_strategies_view_shows_allocation_bandit_kelly_weights_and_no_benched(store):
    view = StrategiesView(store=store)
    assert "sentiment_fusion" in view._strategies.object and "45.0%" in view._strategies.object
    assert kpis(view._benched.object)["benched"] == "none"
    assert kpis(view._weights.object)["weights-version"] == "v3"
    assert len(view._weight_source.data["xs"]) == 10
    assert "data-kpi='kelly'" in view._kelly.object and "breakout_aggressive" in view._kelly.object


def test_health_view_shows_heartbeats_breakers_burn_in_preflight_and_kill_switch(store):
    view = HealthView(store=store)
    shown = kpis(view._summary.object)
    assert shown["burn-in"] == "past burn-in"
    assert shown["invariant"] in ("ok", "not checked")
    assert "session: ok" in view._summary.object and "drawdown: ok" in view._summary.object
    assert "feed:coinglass" in view._heartbeats.object
    assert kpis(view._preflight.object)["preflight"] == "not run"
    assert kpis(view.kill_switch._state.object)["kill-switch"] == "OFF"


def test_the_kill_switch_engages_only_after_confirmation(tmp_path, built):
    path = tmp_path / "kill.sqlite"
    path.write_bytes(built.path.read_bytes())
    store = make_store(path)
    control = KillSwitchControl(store=store)
    control.engage_button.clicks += 1
    assert control.dialog.visible and not control.engage_button.visible
    with Ledger.open(path, readonly=True) as ledger:
        assert ledger.get_flag("kill_switch") is False
    control.cancel_button.clicks += 1
    assert not control.dialog.visible and control.engage_button.visible
    control.engage_button.clicks += 1
    control.confirm_button.clicks += 1
    with Ledger.open(path, readonly=True) as ledger:
        assert ledger.get_flag("kill_switch") is True
        state = killswitch.kill_switch_state(ledger)  # the same record as `botcore kill`: who, why, since, history
        assert state.who.startswith("dashboard, ") and state.why == "engaged from the dashboard" and state.since_ms
        assert killswitch.kill_switch_history(ledger)[-1]["event"] == "engage"
        assert [a["kind"] for a in alert_log(ledger)] == ["kill_switch:freeze"]
    assert kill_file_path(path).exists()  # the fallback a locked ledger cannot block
    assert store.snapshot.kill_switch
    assert kpis(control._state.object)["kill-switch"] == "ENGAGED"
    assert not control.engage_button.visible and not control.dialog.visible


def test_a_failed_kill_switch_write_is_shown(tmp_path):
    store = make_store(tmp_path / "missing.sqlite")
    control = KillSwitchControl(store=store)
    control.engage_button.clicks += 1
    control.confirm_button.clicks += 1
    assert "could not engage the kill switch" in control._state.object
    assert not (tmp_path / "missing.sqlite").exists()  # the dashboard never creates a ledger


@pytest.mark.parametrize("kind", ["fresh", "missing"])
def test_every_view_renders_an_empty_or_missing_ledger(tmp_path, kind):
    path = tmp_path / "l.sqlite"
    if kind == "fresh":
        Ledger.open(path, starting_cash_usd=10_000.0).close()
    store = make_store(path)
    views = {cls: cls(store=store) for cls in VIEWS}
    for view in views.values():
        pn.panel(view).get_root(Document())
    assert "No trades yet." in views[TradesView]._summary.object
    assert "No open positions." in views[PositionsView]._empty.object
    assert "No decisions yet" in views[WhyNotTradingView]._head.object
    assert "No heartbeats recorded yet." in views[HealthView]._heartbeats.object
    assert "No equity snapshots yet" in views[PnLView]._note.object
    assert kpis(views[StrategiesView]._benched.object)["benched"] == "none"
    if kind == "missing":
        assert "does not exist" in views[ModeBanner]._html.object


def test_the_app_builds_its_document_and_follows_the_store(tmp_path, built):
    path = tmp_path / "app.sqlite"
    path.write_bytes(built.path.read_bytes())
    store = make_store(path)
    template = build_app(store)
    doc = Document()
    template.server_doc(doc)
    assert doc.roots and "PAPER" in template.title
    with Ledger.open(path) as ledger:
        ledger.record_heartbeat("engine", detail={"cycle_ms": 12.5})
    assert store.refresh(force=True).cycle_ms == 12.5


def test_the_mode_banner_is_colour_coded(tmp_path):
    for mode, color in (("paper", "#0b6bcb"), ("demo", "#b35c00"), ("live", "#c4161c")):
        path = tmp_path / f"{mode}.sqlite"
        Ledger.open(path, starting_cash_usd=1.0, mode=mode).close()
        banner = ModeBanner(store=make_store(path))
        assert f"background:{color}" in banner._html.object and f"data-mode='{mode}'" in banner._html.object


def test_periodic_refresh_is_registered_and_stoppable(built):
    store = DataStore(ledger_path=str(built.path), refresh_s=0.5, cache=SnapshotCache())
    assert store._callback is not None and store._callback.period == 500
    store.stop()
    assert store._callback is None


@pytest.mark.parametrize("address", ["127.0.0.1", "localhost", "::1", "127.0.0.5"])
def test_localhost_binds_need_no_authentication(address):
    assert is_loopback(address)
    check_bind(address)


def test_binding_elsewhere_without_authentication_is_refused(monkeypatch):
    monkeypatch.delenv("PANEL_OAUTH_PROVIDER", raising=False)
    with pytest.raises(DashboardConfigError, match="needs authentication"):
        check_bind("0.0.0.0")
    with pytest.raises(DashboardConfigError, match="needs authentication"):
        check_bind("192.168.1.20")
    with pytest.raises(DashboardConfigError, match="allow-websocket-origin"):
        check_bind("0.0.0.0", basic_auth="s3cret-pass")
    check_bind("0.0.0.0", basic_auth="s3cret-pass", websocket_origin=["bot.example:5000"])
    check_bind("192.168.1.20", oauth_provider="github")
    monkeypatch.setenv("PANEL_OAUTH_PROVIDER", "github")
    check_bind("192.168.1.20")


def test_the_cli_refuses_a_public_bind_without_authentication(monkeypatch):
    from botcore.cli import app

    monkeypatch.delenv("PANEL_OAUTH_PROVIDER", raising=False)
    monkeypatch.delenv("BOTCORE_DASHBOARD_BASIC_AUTH", raising=False)
    result = CliRunner().invoke(app, ["dashboard", "--address", "0.0.0.0", "--port", "5999"])
    assert result.exit_code == 2
    assert "refusing to serve the dashboard on 0.0.0.0" in result.output


def test_panel_serve_arguments_name_the_ledger(monkeypatch):
    monkeypatch.delenv("BOTCORE_LEDGER", raising=False)
    assert parse_args(["panel", "serve", "dashboards/app.py", "--args", "--ledger", "a.sqlite"])[0].name == "a.sqlite"
    assert parse_args(["--ledger=b.sqlite", "--config", "cfg"]) == (Path("b.sqlite"), "cfg")
    monkeypatch.setenv("BOTCORE_LEDGER", "/data/env.sqlite")
    assert str(parse_args([])[0]) == "/data/env.sqlite"
    monkeypatch.delenv("BOTCORE_LEDGER")
    assert str(parse_args([])[0]) == "data/ledger.db"


def test_panel_serve_sessions_from_elsewhere_need_a_logged_in_user():
    from botcore.dashboard.app import may_view

    assert may_view("127.0.0.1", None) and may_view("::1", None) and may_view(None, None)
    assert not may_view("203.0.113.9", None)
    assert may_view("203.0.113.9", "alice")
