"""The dashboard's sections: one ``pn.viewable.Viewer`` each, taking the :class:`DataStore` as a parameter.

Every view builds its panes once and updates them in place when the store
publishes a new snapshot, so zoom, page and filters survive a refresh. They
only format: the figures come from :mod:`botcore.dashboard.data`. Any view
renders alone in a notebook::

    store = DataStore(ledger_path="var/ledger.sqlite", refresh_s=0)
    PnLView(store=store)
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
import param
from bokeh.models import ColumnDataSource, DatetimeTickFormatter, HoverTool, NumeralTickFormatter
from bokeh.palettes import Category10_10
from bokeh.plotting import figure
from panel.io.model import JSCode
from panel.viewable import Viewer

from botcore.clock import utc
from botcore.dashboard.data import Snapshot, filter_trades, price_history, trade_marks, trade_summary
from botcore.dashboard.store import DataStore
from botcore.errors import LedgerError

MODE_COLORS = {"paper": "#0b6bcb", "demo": "#b35c00", "live": "#c4161c"}
MODE_TEXT = {
    "paper": "PAPER TRADING: simulated fills, no real money",
    "demo": "DEMO: BloFin demo account, no real money",
    "live": "LIVE TRADING: REAL MONEY",
}
STATUS_COLORS = {"ok": "#1a7f37", "degraded": "#b35c00", "down": "#c4161c"}
GAIN, LOSS, MUTED = "#1a7f37", "#c4161c", "#6e7781"

CSS = """
:host { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
.bc-kpis { display: flex; flex-wrap: wrap; gap: 10px; }
.bc-kpi { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 12px; min-width: 150px; background: #fff; }
.bc-kpi .bc-label { font-size: 12px; color: #57606a; text-transform: uppercase; letter-spacing: .03em; }
.bc-kpi .bc-value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.bc-kpi .bc-sub { font-size: 12px; color: #57606a; }
.bc-gain { color: #1a7f37; } .bc-loss { color: #c4161c; } .bc-muted { color: #6e7781; } .bc-warn { color: #b35c00; }
table.bc-table { border-collapse: collapse; font-size: 14px; font-variant-numeric: tabular-nums; }
table.bc-table th, table.bc-table td { padding: 4px 10px; border-bottom: 1px solid #eaeef2; text-align: right;
                                      white-space: nowrap; }
table.bc-table.bc-wrap td { white-space: normal; }
.bc-scroll { overflow-x: auto; max-width: 100%; }
table.bc-table th:first-child, table.bc-table td:first-child, table.bc-table .l { text-align: left; }
table.bc-table th { color: #57606a; font-weight: 600; }
.bc-banner { color: #fff; border-radius: 6px; padding: 10px 16px; display: flex; align-items: center; gap: 18px;
             flex-wrap: wrap; }
.bc-banner .bc-mode { font-size: 22px; font-weight: 700; letter-spacing: .05em; }
.bc-pill { display: inline-block; border-radius: 999px; padding: 2px 10px; font-weight: 700; color: #fff;
           font-size: 13px; }
.bc-problems { font-size: 13px; }
.bc-empty { color: #6e7781; font-style: italic; padding: 6px 0; }
.bc-row { display: flex; gap: 8px; align-items: baseline; }
.bc-switch-off { color: #1a7f37; font-weight: 700; } .bc-switch-on { color: #c4161c; font-weight: 700; }
.bc-breaker { display: inline-block; border-radius: 4px; padding: 2px 8px; margin-right: 6px; font-size: 13px; }
.bc-breaker.ok { background: #dafbe1; color: #116329; } .bc-breaker.tripped { background: #ffebe9; color: #a40e26; }
.bc-bar { background: #eaeef2; border-radius: 4px; height: 10px; width: 100%; }
.bc-bar > div { background: #0b6bcb; border-radius: 4px; height: 10px; }
.bc-clock { font-size: 14px; }
@media (max-width: 600px) {
  .bc-kpi { min-width: 130px; flex: 1 1 130px; padding: 6px 8px; }
  .bc-kpi .bc-value { font-size: 18px; }
  .bc-banner .bc-mode { font-size: 16px; }
  table.bc-table { font-size: 12px; }
  table.bc-table th, table.bc-table td { padding: 3px 5px; }
}
"""


# ============================================================================ formatting helpers


def usd(x: float | None, *, signed: bool = False) -> str:
    """Format dollars: ``$1,234.56``, ``-$12.30`` (``+$`` when ``signed``); NaN as an em dash."""
    if x is None or not math.isfinite(x):
        return "—"
    sign = "-" if x < 0 else ("+" if signed and x > 0 else "")
    return f"{sign}${abs(x):,.2f}"


def pct(x: float | None, *, signed: bool = False, digits: int = 2) -> str:
    """Format a percentage given in percent units."""
    if x is None or not math.isfinite(x):
        return "—"
    return f"{x:+.{digits}f}%" if signed else f"{x:.{digits}f}%"


def tone(x: float | None) -> str:
    """Return the CSS class of a signed amount."""
    if x is None or not math.isfinite(x) or x == 0:
        return ""
    return "bc-gain" if x > 0 else "bc-loss"


def clock(ts: pd.Timestamp | int | None) -> str:
    """Format a UTC time as ``2024-05-01 12:34:56`` (:func:`botcore.clock.utc`); missing as an em dash."""
    return utc(ts, seconds=True, suffix=False)


def pct_of(x: float | None, n: int | None = None, digits: int = 1) -> str:
    """Format a fraction as a percentage (``0.6063`` -> ``60.6%``), with its sample size when given."""
    if x is None or not math.isfinite(x):
        return "—"
    return f"{100 * x:.{digits}f}%" + (f" (n={n})" if n is not None else "")


def versus(value: float, limit: float, *, percent: bool = False) -> str:
    """Format a value beside the threshold it is held to: ``0.095 < 0.120`` (``—`` when missing)."""
    def one(x: float) -> str:
        if not math.isfinite(x):
            return "—"
        return f"{100 * x:.2f}%" if percent else f"{x:.3f}"

    if value is None or not math.isfinite(value):
        return "—"
    if limit is None or not math.isfinite(limit):
        return one(value)
    return f"{one(value)} {'≥' if value >= limit else '<'} {one(limit)}"


def kpi(key: str, label: str, value: str, sub: str = "", css: str = "") -> str:
    """Return one KPI card; ``data-kpi`` names it for tests and monitors scraping the page."""
    return (f"<div class='bc-kpi'><div class='bc-label'>{label}</div>"
            f"<div class='bc-value {css}' data-kpi='{key}'>{value}</div><div class='bc-sub'>{sub}</div></div>")


def empty(text: str) -> str:
    return f"<div class='bc-empty'>{html.escape(text)}</div>"


PRICE_COLUMNS = ("entry_price", "exit_price", "mark_price", "stop_price", "take_profit_price",
                 "trail_activation_price", "trail_stop_price")


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy for display: UTC text for times (sortable), yes/no for booleans."""
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d %H:%M:%S").fillna("—")
        elif out[column].dtype == bool:
            out[column] = np.where(out[column], "yes", "no")
    return out


TABLE_CSS = """
.tabulator, .tabulator .tabulator-row, .tabulator .tabulator-header, .tabulator .tabulator-footer {
  font-size: 13px !important; }
.tabulator .tabulator-row .tabulator-cell { padding: 3px 6px !important; }
.tabulator .tabulator-header .tabulator-col .tabulator-col-content { padding: 4px 6px !important; }
"""
MONEY = {"type": "money", "symbol": "$", "thousand": ",", "precision": 2}
NUM2 = {"type": "money", "thousand": ",", "precision": 2}
NUM4 = {"type": "money", "thousand": ",", "precision": 4}


def _signed_formatter(prefix: str, suffix: str, digits: int) -> JSCode:
    """Return a Tabulator formatter (run in the browser) showing a signed number green or red."""
    return JSCode(f"""function(cell) {{
  const v = cell.getValue();
  if (v === null || v === undefined || Number.isNaN(v)) {{ return "—"; }}
  const el = cell.getElement();
  el.style.color = v > 0 ? "{GAIN}" : (v < 0 ? "{LOSS}" : "");
  el.style.fontWeight = "600";
  const text = Math.abs(v).toLocaleString("en-US", {{minimumFractionDigits: {digits}, maximumFractionDigits: {digits}}});
  return (v < 0 ? "-" : (v > 0 ? "+" : "")) + "{prefix}" + text + "{suffix}";
}}""")


#: signed dollars / percent, green or red, formatted in the browser (no per-cell styling in Python)
SIGNED_USD = _signed_formatter("$", "", 2)
SIGNED_PCT = _signed_formatter("", "%", 2)
#: prices to 6 significant digits with thousands separators (``45,324.8``, ``0.0000095123``)
PRICE = JSCode("""function(cell) {
  const v = cell.getValue();
  if (v === null || v === undefined || Number.isNaN(v)) { return "—"; }
  return v.toLocaleString("en-US", Math.abs(v) >= 1e5 ? {maximumFractionDigits: 0} : {maximumSignificantDigits: 6});
}""")
#: a duration in milliseconds as ``1d 4h`` / ``3h 12m`` / ``4m 5s`` (missing: aged/unknown, as format_age)
DURATION = JSCode("""function(cell) {
  const v = cell.getValue();
  if (v === null || v === undefined || Number.isNaN(v)) { return "aged/unknown"; }
  const s = Math.max(0, Math.floor(v / 1000)), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600),
        m = Math.floor(s % 3600 / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
}""")
#: epoch milliseconds as ``YYYY-MM-DD HH:MM:SS`` UTC
UTC_TIME = JSCode("""function(cell) {
  const v = cell.getValue();
  if (v === null || v === undefined || Number.isNaN(v)) { return "—"; }
  return new Date(v).toISOString().replace("T", " ").slice(0, 19);
}""")


def table(frame: pd.DataFrame, *, formatters: dict | None = None, pnl_columns: tuple[str, ...] = (),
          pct_columns: tuple[str, ...] = (), page_size: int | None = None, titles: dict | None = None,
          **kwargs) -> pn.widgets.Tabulator:
    """Return a read-only Tabulator; ``pnl_columns`` (USD) and ``pct_columns`` are green/red by sign.

    Price columns (:data:`PRICE_COLUMNS`), ``*_ts_ms`` times and other ``*_ms`` durations are formatted in the browser, so
    sorting stays numeric and a 10,000-row frame needs no per-cell work in Python.
    """
    formatters = dict(formatters or {})
    formatters.update({c: SIGNED_USD for c in pnl_columns} | {c: SIGNED_PCT for c in pct_columns})
    formatters.update({c: PRICE for c in PRICE_COLUMNS if c in frame.columns})
    formatters.update({c: UTC_TIME for c in frame.columns if str(c).endswith("_ts_ms")})
    formatters.update({c: DURATION for c in frame.columns if str(c).endswith("_ms") and not str(c).endswith("_ts_ms")})
    kwargs.setdefault("text_align", {c: "right" for c in PRICE_COLUMNS if c in frame.columns})
    return pn.widgets.Tabulator(
        frame, show_index=False, disabled=True, selectable=False, layout="fit_data_fill",
        stylesheets=[TABLE_CSS], formatters=formatters, titles=titles or {}, sizing_mode="stretch_width",
        pagination="remote" if page_size else None, page_size=page_size, **kwargs,
    )


def set_value(widget: pn.widgets.Tabulator, frame: pd.DataFrame) -> None:
    """Replace a table's rows only when they changed, so a refresh keeps the reader's scroll and page."""
    current = widget.value
    if current is not None and list(current.columns) == list(frame.columns) and current.reset_index(drop=True).equals(
            frame.reset_index(drop=True)):
        return
    widget.value = frame


def html_pane(**kwargs) -> pn.pane.HTML:
    return pn.pane.HTML("", stylesheets=[CSS], sizing_mode="stretch_width", **kwargs)


def td(text: str, css: str = "") -> str:
    """Return a table cell of already-escaped ``text``."""
    return f"<td class='{css}'>{text}</td>" if css else f"<td>{text}</td>"


def cell_text(value: Any) -> str:
    """Format a plain cell value: em dash for missing, UTC time, yes/no, 4 significant digits."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, pd.Timestamp):
        return clock(value)
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return f"{value:,.4g}" if abs(float(value)) < 1e4 else f"{value:,.0f}"
    return html.escape(str(value))


def html_table(frame: pd.DataFrame, titles: dict[str, str], *, cells: dict[str, Any] | None = None,
               left: tuple[str, ...] = (), kpi: str = "") -> str:
    """Return a small static HTML table (one Bokeh model, unlike a Tabulator) of ``frame[titles]``.

    ``cells`` maps a column to a function returning its ``<td>``; ``left`` columns are left-aligned.
    """
    cells = cells or {}
    head = "".join(f"<th class='{'l' if c in left else ''}'>{html.escape(t)}</th>" for c, t in titles.items())
    body = "".join(
        "<tr>" + "".join(cells[c](v) if c in cells else td(cell_text(v), "l" if c in left else "")
                         for c, v in zip(titles, row)) + "</tr>"
        for row in frame[list(titles)].itertuples(index=False)
    )
    attr = f" data-kpi='{kpi}'" if kpi else ""
    return f"<div class='bc-scroll'><table class='bc-table'{attr}><tr>{head}</tr>{body}</table></div>"


def signed_usd_cell(value: float) -> str:
    return td(usd(value, signed=True), tone(value))


class StoreView(Viewer):
    """Base of the views: builds panes in :meth:`_build`, refreshes them in :meth:`_render`."""

    store = param.ClassSelector(class_=DataStore, doc="The data store the view shows.")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._layout = self._build()
        self._render(self._snapshot())
        self._store().param.watch(lambda event: self._render(event.new), "snapshot")

    def _store(self) -> DataStore:
        """The data store (a view is built with one)."""
        if self.store is None:
            raise LedgerError(f"{type(self).__name__}: built without a data store (pass store=DataStore(...))")
        return self.store

    def _snapshot(self) -> Snapshot:
        """The store's current snapshot."""
        snap = self._store().snapshot
        if snap is None:
            raise LedgerError(f"{type(self).__name__}: the data store has no snapshot loaded")
        return snap

    def _build(self) -> pn.viewable.Viewable:
        raise NotImplementedError

    def _render(self, snap: Snapshot) -> None:
        raise NotImplementedError

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


# ============================================================================ mode banner


class ModeBanner(StoreView):
    """The mode (paper, demo, live) in its colour, the overall status and what is wrong."""

    def _build(self) -> pn.viewable.Viewable:
        self._html = html_pane(margin=(5, 10))
        return self._html

    def _render(self, snap: Snapshot) -> None:
        color = MODE_COLORS.get(snap.mode, "#57606a")
        problems = "; ".join(html.escape(p) for p in snap.problems) or "all systems normal"
        self._html.object = (
            f"<div class='bc-banner' style='background:{color}' data-mode='{snap.mode}'>"
            f"<span class='bc-mode' data-kpi='mode'>{html.escape(MODE_TEXT.get(snap.mode, snap.mode.upper()))}</span>"
            f"<span class='bc-pill' style='background:{STATUS_COLORS[snap.status]};border:1px solid #fff' "
            f"data-kpi='status'>{snap.status.upper()}</span>"
            f"<span class='bc-clock' data-kpi='clock' data-clock='{snap.clock}'>{run_clock_text(snap)}</span>"
            f"<span class='bc-problems'>{problems}</span></div>"
        )


def run_clock_text(snap: Snapshot) -> str:
    """Return which clock the run lives on: a replay's simulated time or the wall clock."""
    if snap.is_replay:
        return f"REPLAY · simulated clock {html.escape(utc(snap.now_ms))}"
    return f"wall clock {html.escape(utc(snap.now_ms))}"


# ============================================================================ P&L


class PnLView(StoreView):
    """Equity and drawdown over time; realised and unrealised P&L, fees and funding, today and since start."""

    def _build(self) -> pn.viewable.Viewable:
        self._kpis = html_pane()
        self._table = html_pane(css_classes=["bc-scroll"])
        self._note = html_pane()
        self._source = ColumnDataSource({"time": [], "equity_usd": [], "drawdown_pct": []})
        tools = "pan,xwheel_zoom,box_zoom,reset,save"
        equity = figure(x_axis_type="datetime", height=230, tools=tools, toolbar_location="above",
                        sizing_mode="stretch_width", title="Equity (USD)")
        equity.line("time", "equity_usd", source=self._source, line_width=2, color="#0b6bcb")
        equity.add_tools(HoverTool(tooltips=[("time", "@time{%F %T}"), ("equity", "@equity_usd{$0,0.00}")],
                                   formatters={"@time": "datetime"}, mode="vline"))
        equity.yaxis.formatter = NumeralTickFormatter(format="$0,0")
        drawdown = figure(x_axis_type="datetime", height=140, tools=tools, toolbar_location=None,
                          sizing_mode="stretch_width", x_range=equity.x_range, title="Drawdown (%)")
        drawdown.varea("time", y1="drawdown_pct", y2=0, source=self._source, color=LOSS, alpha=0.35)
        drawdown.line("time", "drawdown_pct", source=self._source, color=LOSS, line_width=1)
        drawdown.yaxis.ticker.desired_num_ticks = 3  # type: ignore[union-attr]  # bokeh's axis proxy: the ticker is a BasicTicker
        self._daily_source = ColumnDataSource({"day": [], "pnl_usd": [], "color": [], "label": []})
        daily = figure(x_axis_type="datetime", height=170, tools="pan,xwheel_zoom,reset,save", toolbar_location=None,
                       sizing_mode="stretch_width", title="Daily P&L (USD, UTC days, unrealised included)")
        daily.vbar(x="day", top="pnl_usd", width=0.8 * 86_400_000, source=self._daily_source, color="color")
        daily.add_tools(HoverTool(tooltips=[("day", "@label"), ("P&L", "@pnl_usd{$0,0.00}")]))
        daily.yaxis.formatter = NumeralTickFormatter(format="$0,0")
        self._daily = daily
        for fig in (equity, drawdown, daily):
            fig.xaxis.formatter = DatetimeTickFormatter(hours="%H:%M", days="%b %d", months="%b %Y")
            fig.min_border_left = 60
        return pn.Column(self._kpis, self._table, self._note, pn.pane.Bokeh(equity, sizing_mode="stretch_width"),
                         pn.pane.Bokeh(drawdown, sizing_mode="stretch_width"),
                         pn.pane.Bokeh(daily, sizing_mode="stretch_width"), sizing_mode="stretch_width")

    def _render(self, snap: Snapshot) -> None:
        s, t = snap.since_start, snap.today
        start = snap.starting_cash_usd
        total_pct = 100.0 * s.change_usd / start if start and math.isfinite(start) else math.nan
        as_of = f"as of {clock(snap.equity_ts_ms)}" if snap.equity_ts_ms else "cash (no equity snapshot yet)"
        self._kpis.object = "<div class='bc-kpis'>" + "".join([
            kpi("equity", "Equity", usd(snap.equity_usd), as_of),
            kpi("change-since-start", "Since start", usd(s.change_usd, signed=True),
                f"{pct(total_pct, signed=True)} of {usd(start)}", tone(s.change_usd)),
            kpi("change-today", f"Today {utc(snap.now_ms, suffix=False)[:10]}" + (" (simulated)" if snap.is_replay
                                                                                   else " (UTC)"),
                usd(t.change_usd, signed=True), f"{t.n_trades} trades closed", tone(t.change_usd)),
            kpi("drawdown", "Drawdown", pct(snap.drawdown_pct), f"max {pct(snap.max_drawdown_pct)}",
                "bc-loss" if snap.drawdown_pct < 0 else ""),
            kpi("open-positions", "Open positions", str(len(snap.positions)),
                f"unrealised {usd(s.unrealized_usd, signed=True)}"),
            kpi("closed-trades", "Closed trades", str(s.n_trades),
                f"win rate {pct_of(s.win_rate)}" if s.n_trades else "no trades yet"),
        ]) + "</div>"
        rows = [("Realised P&L (gross)", "realized", "realized_usd"), ("Fees", "fees", "fees_usd"),
                ("Funding (+ received)", "funding", "funding_usd"), ("Net realised", "net", "net_realized_usd"),
                ("Unrealised (open positions)", "unrealized", "unrealized_usd"),
                ("Equity change", "change", "change_usd")]
        def cell(key: str, period: str, value: float) -> str:
            value = -value if key == "fees" else value  # fees are a cost: shown negative
            return f"<td class='{tone(value)}' data-kpi='{key}-{period}'>{usd(value, signed=True)}</td>"

        body = "".join(
            f"<tr><td>{label}</td>{cell(key, 'today', getattr(t, field))}{cell(key, 'since-start', getattr(s, field))}"
            "</tr>"
            for label, key, field in rows
        )
        body += (f"<tr><td>Closed trades</td><td data-kpi='trades-today'>{t.n_trades}</td>"
                 f"<td data-kpi='trades-since-start'>{s.n_trades}</td></tr>")
        self._table.object = (f"<table class='bc-table'><tr><th></th><th>Today (UTC)</th><th>Since start</th></tr>"
                              f"{body}</table>")
        self._note.object = "" if len(snap.curve) else empty(
            "No equity snapshots yet: the curve starts with the first cycle.")
        self._source.data = {c: snap.curve[c].to_numpy() for c in ("time", "equity_usd", "drawdown_pct")}
        days = snap.daily_pnl
        self._daily_source.data = {"day": pd.to_datetime(days["day"]).to_numpy(),
                                   "pnl_usd": days["pnl_usd"].to_numpy(dtype=float),
                                   "color": [GAIN if v >= 0 else LOSS for v in days["pnl_usd"]],
                                   "label": [d.strftime("%Y-%m-%d") for d in pd.to_datetime(days["day"])]}


# ============================================================================ positions and trades


class PositionsView(StoreView):
    """Open positions: entry, mark, unrealised P&L, stop, take-profit and trailing levels, age."""

    COLUMNS = {"symbol": "Symbol", "side": "Side", "strategy": "Strategy", "unrealized_usd": "Unrealised $",
               "unrealized_pct": "Unrealised %", "entry_price": "Entry", "mark_price": "Mark",
               "stop_price": "Stop", "take_profit_price": "Take profit", "trail_activation_price": "Trail arms at",
               "trail_stop_price": "Trailing stop", "notional_usd": "Notional $", "qty_contracts": "Contracts",
               "age": "Age"}

    def _build(self) -> pn.viewable.Viewable:
        self._empty = html_pane()
        self._note = html_pane()
        self._table = table(pd.DataFrame(columns=list(self.COLUMNS)), titles=self.COLUMNS,
                            pnl_columns=("unrealized_usd",), pct_columns=("unrealized_pct",),
                            formatters={"notional_usd": MONEY})
        return pn.Column(self._empty, self._table, self._note, sizing_mode="stretch_width")

    def _render(self, snap: Snapshot) -> None:
        positions = snap.positions
        frame = display_frame(positions[list(self.COLUMNS)])
        set_value(self._table, frame)
        self._table.visible = bool(len(frame))
        self._empty.object = "" if len(frame) else empty("No open positions.")
        notes = []
        stale = positions.loc[positions["mark_source"] != "mark", "symbol"].tolist()
        if stale:
            notes.append(f"marked at the last fill price (no mark recorded): {', '.join(stale)}")
        if positions["adopted"].any():
            notes.append("adopted from the venue: entry time unknown, treated as aged/unknown")
        if len(positions):
            notes.append(f"funding on open positions {usd(float(positions['funding_usd'].sum()), signed=True)}")
        self._note.object = "<div class='bc-muted'>" + " · ".join(html.escape(n) for n in notes) + "</div>"


class TradesView(StoreView):
    """Closed trades, newest first, filterable by symbol, strategy, side and exit date."""

    symbol: param.Selector = param.Selector(default="all", objects=["all"], doc="Only this symbol.")
    strategy: param.Selector = param.Selector(default="all", objects=["all"], doc="Only this strategy.")
    side: param.Selector = param.Selector(default="all", objects=["all", "long", "short"], doc="Only this side.")
    date_range = param.DateRange(default=None, allow_None=True, doc="Exit dates (UTC), inclusive.")

    COLUMNS = {"trade_id": "#", "exit_ts_ms": "Exit (UTC)", "symbol": "Symbol", "side": "Side",
               "net_pnl_usd": "Net $", "return_pct": "Return %", "gross_pnl_usd": "Gross $", "fees_usd": "Fees $",
               "funding_usd": "Funding $", "qty_contracts": "Contracts", "close_reason": "Closed by",
               "hold_ms": "Held", "entry_price": "Entry", "exit_price": "Exit", "strategy": "Strategy"}

    def _build(self) -> pn.viewable.Viewable:
        self._summary = html_pane()
        self._table = table(pd.DataFrame(columns=list(self.COLUMNS)), titles=self.COLUMNS, page_size=15,
                            pnl_columns=("net_pnl_usd", "gross_pnl_usd", "funding_usd"), pct_columns=("return_pct",),
                            formatters={"fees_usd": MONEY})
        self._trades_key: tuple | None = None
        filters = pn.Row(
            pn.widgets.Select.from_param(self.param.symbol, name="Symbol", width=200),
            pn.widgets.Select.from_param(self.param.strategy, name="Strategy", width=200),
            pn.widgets.Select.from_param(self.param.side, name="Side", width=110),
            pn.widgets.DateRangePicker.from_param(self.param.date_range, name="Exit date (UTC)", width=240),
        )
        self.param.watch(lambda _: self._apply(), ["symbol", "strategy", "side", "date_range"])
        return pn.Column(filters, self._summary, self._table, sizing_mode="stretch_width")

    def _render(self, snap: Snapshot) -> None:
        trades = snap.trades
        key = (len(trades), int(trades["trade_id"].iloc[0]) if len(trades) else None)
        if key == self._trades_key:
            return
        self._trades_key = key
        self.param.symbol.objects = ["all", *sorted(trades["symbol"].unique())]
        self.param.strategy.objects = ["all", *sorted(trades["strategy"].unique())]
        self._apply()

    def _apply(self) -> None:
        snap = self._snapshot()
        start, end = self.date_range or (None, None)
        frame = filter_trades(snap.trades, symbols=() if self.symbol == "all" else (self.symbol,),
                              strategy=None if self.strategy == "all" else self.strategy,
                              side=None if self.side == "all" else self.side, start=start, end=end)
        summary = trade_summary(frame)
        if not len(snap.trades):
            self._summary.object = empty("No trades yet.")
        elif not len(frame):
            self._summary.object = empty("No trades match the filters.")
        else:
            self._summary.object = (
                f"<div class='bc-row'><b data-kpi='filtered-trades'>{summary['trades']}</b> trades · net "
                f"<b class='{tone(summary['net_pnl_usd'])}' data-kpi='filtered-net'>"
                f"{usd(summary['net_pnl_usd'], signed=True)}</b> · fees {usd(summary['fees_usd'])} · funding "
                f"{usd(summary['funding_usd'], signed=True)} · win rate {pct_of(summary['win_rate'], int(summary['trades']))}"
                f" · profit factor {summary['profit_factor']:.2f}</div>"
            )
        set_value(self._table, frame[list(self.COLUMNS)])
        self._table.visible = bool(len(frame))


# ============================================================================ why not trading


class WhyNotTradingView(StoreView):
    """Per symbol: the latest outcome and the gate(s) that decided it; the day's blocking gates; data outages."""

    COLUMNS = {"symbol": "Symbol", "outcome": "Outcome", "gate": "Deciding gate", "why": "Why",
               "strategy": "Strategy", "conviction": "Conviction vs min", "expected_roi": "Expected ROI vs min",
               "kelly_f": "Kelly f", "win_prob": "Win prob", "sector": "Sector", "other_gates": "Also blocked by"}

    def _build(self) -> pn.viewable.Viewable:
        self._head = html_pane()
        self._table = table(pd.DataFrame(columns=list(self.COLUMNS)), titles=self.COLUMNS,
                            formatters={"why": {"type": "textarea"}, "other_gates": {"type": "textarea"}},
                            widths={"why": 260, "other_gates": 260})
        self._table.style.map(self._outcome_color, subset=["outcome"])
        self._gates = html_pane()
        self._outages = html_pane()
        return pn.Column(self._head, self._table, pn.Row(self._gates, self._outages, sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")

    @staticmethod
    def _outcome_color(value: Any) -> str:
        colors = {"entered": GAIN, "exited": "#0b6bcb", "held": "#57606a", "skipped": "#b35c00"}
        return f"color: {colors[value]}; font-weight: 600" if value in colors else ""

    def _render(self, snap: Snapshot) -> None:
        if snap.last_cycle_ts_ms is None:
            self._head.object = empty("No decisions yet: the bot has not run a cycle.")
        else:
            skipped = int((snap.why_not["outcome"] == "skipped").sum())
            self._head.object = (f"<div class='bc-row'>Last cycle <b data-kpi='last-cycle'>"
                                 f"{clock(snap.last_cycle_ts_ms)}</b> UTC · <b>{skipped}</b> of "
                                 f"{len(snap.why_not)} symbols not trading</div>")
        set_value(self._table, why_not_display(snap.why_not)[list(self.COLUMNS)])
        if len(snap.gate_counts):
            total = int(snap.gate_counts["cycles"].sum())
            gate_max = int(snap.gate_counts["cycles"].max())
            rows = "".join(
                f"<tr title='{html.escape(r.meaning)}'><td>{html.escape(r.gate)}</td><td>{r.cycles}</td>"
                f"<td>{100 * r.cycles / total:.0f}%</td><td style='width:140px'><div class='bc-bar'>"
                f"<div style='width:{100 * r.cycles / gate_max:.0f}%;background:#b35c00'></div></div></td></tr>"
                for r in snap.gate_counts.itertuples(index=False)
            )
            gates = (f"<table class='bc-table' data-kpi='gate-counts'><tr><th>Gate</th><th>Symbol-cycles"
                     f"</th><th>Share</th><th></th></tr>{rows}</table>")
            top = snap.gate_counts.iloc[0]
            if int(top["alone"]) > 0:  # the gate that alone held back most would-be entries
                gates = (f"<div data-kpi='binding-gate'>Binding gate: <b>{html.escape(str(top['gate']))}</b> alone "
                         f"held back {int(top['alone']):,} of {int(top['single']):,} symbol-cycles one gate held back "
                         f"({100 * int(top['alone']) / int(top['single']):.0f}%)</div>{gates}")
        else:
            gates = empty("No skipped entries recorded.")
        self._gates.object = f"<b>What blocked entries (last 24 h of decisions)</b>{gates}"
        outages = snap.outages
        ongoing = int(outages["ongoing"].sum()) if len(outages) else 0
        self._outages.object = (
            f"<b>Data outages (last 24 h)</b>: <span data-kpi='outages'>{len(outages)}</span>"
            + (f" · <span class='bc-loss'>{ongoing} ongoing</span>" if ongoing else "")
            + (html_table(outages, {"symbol": "Symbol", "start": "From (UTC)", "end": "Last seen (UTC)",
                                    "cycles": "Cycles", "duration": "Duration", "ongoing": "Ongoing"},
                          cells={"ongoing": lambda v: td("ongoing", "bc-loss") if v else td("ended")})
               if len(outages) else empty("No data outages in the last 24 h."))
        )


def why_not_display(why_not: pd.DataFrame) -> pd.DataFrame:
    """Return the "why not trading" rows as text: each value beside its threshold, fractions as percentages."""
    out = display_frame(why_not)
    out["conviction"] = [versus(v, m) for v, m in zip(why_not["conviction"], why_not["min_conviction"])]
    out["expected_roi"] = [versus(v, m, percent=True) for v, m in zip(why_not["expected_roi"],
                                                                       why_not["min_expected_roi"])]
    out["kelly_f"] = [pct_of(v) for v in why_not["kelly_f"]]
    out["win_prob"] = [pct_of(v) for v in why_not["win_prob"]]
    out["other_gates"] = why_not["other_gates"].replace("", "—")
    out["gate"] = why_not["gate"].replace("", "—")
    out["strategy"] = why_not["strategy"].replace("", "—")
    return out


# ============================================================================ price chart


class PriceChartView(StoreView):
    """One symbol's price (from the run's market store) with the bot's entries, exits, stops and open levels."""

    symbol: param.Selector = param.Selector(default=None, objects=[], doc="The symbol shown.")
    #: hours of prices before the run's now
    HOURS = 48

    def _build(self) -> pn.viewable.Viewable:
        self._note = html_pane()
        self._price = ColumnDataSource({"time": [], "close": []})
        self._entries = ColumnDataSource({"time": [], "price": [], "text": [], "color": []})
        self._exits = ColumnDataSource({"time": [], "price": [], "text": []})
        self._stops = ColumnDataSource({"time": [], "price": [], "text": []})
        self._levels = ColumnDataSource({"price": [], "name": [], "color": []})
        fig = figure(x_axis_type="datetime", height=300, tools="pan,xwheel_zoom,box_zoom,reset,save",
                     toolbar_location="above", sizing_mode="stretch_width", title="Price and the bot's trades")
        fig.line("time", "close", source=self._price, color="#57606a", line_width=1.5, legend_label="close")
        entries = fig.scatter("time", "price", source=self._entries, marker="triangle", size=11, color="color",
                              legend_label="entry")
        exits = fig.scatter("time", "price", source=self._exits, marker="inverted_triangle", size=11,
                            color="#0b6bcb", legend_label="exit")
        stops = fig.scatter("time", "price", source=self._stops, marker="x", size=12, line_width=3, color=LOSS,
                            legend_label="stopped out")
        fig.hspan(y="price", source=self._levels, line_color="color", line_dash="dashed", line_width=1.5)
        fig.add_tools(HoverTool(renderers=[entries, exits, stops],
                                tooltips=[("", "@text"), ("time", "@time{%F %H:%M} UTC"), ("price", "@price{0,0.[0000]}")],
                                formatters={"@time": "datetime"}))
        fig.xaxis.formatter = DatetimeTickFormatter(hours="%H:%M", days="%b %d", months="%b %Y")
        fig.legend.location = "top_left"
        fig.legend.label_text_font_size = "10px"
        fig.legend.padding = fig.legend.spacing = 2  # type: ignore[assignment]  # bokeh's stubs type the legend proxy's descriptors, not values
        self.figure = fig
        self._select = pn.widgets.Select.from_param(self.param.symbol, name="Symbol", width=220)
        self.param.watch(lambda _: self._draw(self._snapshot()), "symbol")
        return pn.Column(self._select, self._note, pn.pane.Bokeh(fig, sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")

    def _render(self, snap: Snapshot) -> None:
        traded = list(dict.fromkeys([*snap.positions["symbol"], *snap.trades["symbol"]]))
        symbols = traded + sorted(set(snap.why_not["symbol"]) - set(traded))
        if symbols != self.param.symbol.objects:
            self.param.symbol.objects = symbols
        if self.symbol not in symbols:
            self.symbol = symbols[0] if symbols else None  # triggers _draw
            return
        self._draw(snap)

    def _draw(self, snap: Snapshot) -> None:
        symbol = self.symbol
        if symbol is None:
            self._note.object = empty("No symbol traded or decided yet.")
            return
        end = snap.now_ms - snap.now_ms % 300_000
        prices = price_history(snap.market_root, symbol, end - self.HOURS * 3_600_000, end)
        marks = trade_marks(snap.trades, snap.positions, symbol)
        start = prices["time"].iloc[0] if len(prices) else None
        keep = (lambda f: f[f["time"] >= start]) if start is not None else (lambda f: f)
        entries, exits, stops = keep(marks["entries"]), keep(marks["exits"]), keep(marks["stops"])
        self._price.data = {"time": prices["time"].to_numpy(), "close": prices["close"].to_numpy()}
        self._entries.data = {"time": entries["time"].to_numpy(), "price": entries["price"].to_numpy(dtype=float),
                              "text": list(entries["text"]),
                              "color": [GAIN if s == "long" else LOSS for s in entries["side"]]}
        for source, frame in ((self._exits, exits), (self._stops, stops)):
            source.data = {"time": frame["time"].to_numpy(), "price": frame["price"].to_numpy(dtype=float),
                           "text": list(frame["text"])}
        levels = marks["levels"]
        self._levels.data = {"price": levels["price"].to_numpy(dtype=float), "name": list(levels["name"]),
                             "color": [LOSS if "stop" in n else GAIN for n in levels["name"]]}
        self.figure.title.text = f"{symbol}: price (5m closes) and the bot's trades"  # type: ignore[union-attr]  # figure() makes its title a Title model
        origin = "no market store recorded for this run" if not snap.market_root else (
            "no prices of this symbol in the store" if not len(prices) else f"prices from {snap.market_root}")
        self._note.object = (
            f"<div class='bc-muted' data-kpi='price-marks' data-entries='{len(entries)}' data-exits='{len(exits)}' "
            f"data-stops='{len(stops)}'>{len(entries)} entries, {len(exits)} exits, {len(stops)} stop-outs in the "
            f"last {self.HOURS} h · open levels dashed ({', '.join(levels['name']) or 'none'}) · "
            f"{html.escape(origin)}</div>")


# ============================================================================ strategies and signals


class StrategiesView(StoreView):
    """Allocation, bandit state, Kelly sizes, per-strategy results, signal weights over time, benchings over time."""

    STRATEGY_TITLES = {"strategy": "Strategy", "enabled": "Enabled", "trades": "Trades", "win_rate": "Win rate",
                       "net_pnl_usd": "Net $", "profit_factor": "Profit factor", "configured": "Allocation (config)",
                       "active": "Allocation (active)", "alpha": "Bandit α", "beta": "Bandit β",
                       "mean": "Bandit mean"}
    KELLY_TITLES = {"strategy": "Strategy", "symbol": "Latest symbol", "time": "At (UTC)", "win_prob": "Win prob",
                    "kelly_f": "Kelly f*", "size_usd": "Size $", "outcome": "Outcome"}
    BENCH_TITLES = {"symbol": "Symbol", "since": "Benched (UTC)", "until": "Probation to", "returned": "Returned",
                    "reason": "Reason", "return_reason": "Return reason", "status": "Version",
                    "cycles": "Cycles held back", "would_be_entries": "Would-be entries"}
    #: benchings listed at most (newest first)
    BENCH_ROWS = 20

    def _build(self) -> pn.viewable.Viewable:
        self._strategies = html_pane()
        self._kelly = html_pane()
        self._benched = html_pane()
        self._bench_history = html_pane()
        self._weights = html_pane()
        self._weight_source = ColumnDataSource({"xs": [], "ys": [], "signal": [], "color": []})
        fig = figure(height=240, tools="pan,wheel_zoom,reset,save", toolbar_location="above",
                     sizing_mode="stretch_width", title="Signal weights over time (parameter versions)",
                     x_axis_type="datetime")
        fig.multi_line("xs", "ys", source=self._weight_source, color="color", line_width=2, legend_field="signal")
        legend = fig.legend[0]
        legend.label_text_font_size = "10px"
        legend.glyph_height = legend.label_height = 12
        legend.spacing, legend.padding = 0, 4  # type: ignore[assignment]  # bokeh's stubs type the descriptors, not values
        fig.add_layout(legend, "right")
        self._weight_pane = pn.pane.Bokeh(fig, sizing_mode="stretch_width")
        self._weights.sizing_mode = None
        self._weights.width = 440
        return pn.Column(self._strategies, self._kelly, self._benched, self._bench_history,
                         pn.Row(self._weights, self._weight_pane, sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")

    def _render(self, snap: Snapshot) -> None:
        merged = (snap.allocation.merge(snap.bandit, on="strategy", how="left", suffixes=("", "_bandit"))
                  .merge(snap.strategy_stats, on="strategy", how="left"))
        merged = merged.assign(win_rate=[(w, n) for w, n in zip(merged["win_rate"], merged["trades"])])
        percent = lambda v: td(pct_of(v))  # noqa: E731
        self._strategies.object = (
            "<b>Strategies</b>: allocation, bandit (Beta posterior of winning) and closed-trade results "
            f"<span class='bc-muted'>(allocation from {snap.allocation['source'].iloc[0]}, bandit from "
            f"{snap.bandit['source'].iloc[0]})</span>"
            + html_table(merged, self.STRATEGY_TITLES, kpi="strategies", cells={
                "net_pnl_usd": signed_usd_cell, "configured": percent, "active": percent, "mean": percent,
                "profit_factor": lambda v: td("—" if not math.isfinite(v) and math.isnan(v) else f"{v:.2f}"),
                "win_rate": lambda v: td(pct_of(v[0], None if pd.isna(v[1]) else int(v[1])))}))
        self._kelly.object = "<b>Kelly sizing (latest per strategy, from the decision trail)</b>" + (
            html_table(snap.kelly, self.KELLY_TITLES, kpi="kelly", cells={
                "size_usd": lambda v: td(usd(v)), "win_prob": percent, "kelly_f": percent})
            if len(snap.kelly) else empty("No Kelly sizes recorded yet."))
        if len(snap.benched):
            items = ", ".join(f"<b>{html.escape(r.symbol)}</b> ({html.escape(r.reason or r.source)})"
                              for r in snap.benched.itertuples(index=False))
        else:
            items = "<span class='bc-muted'>none</span>"
        self._benched.object = f"<div class='bc-row'><b>Benched symbols:</b> <span data-kpi='benched'>{items}</span></div>"
        benchings = snap.bench_history
        self._bench_history.object = (
            f"<b>Benchings over time</b> <span class='bc-muted'>(<span data-kpi='benchings'>{len(benchings)}</span>; "
            "newest first; cycles held back and would-be entries from the decision trail)</span>"
            + (html_table(bench_display(benchings.head(self.BENCH_ROWS)), self.BENCH_TITLES,
                          left=("symbol", "reason", "return_reason"), kpi="bench-history")
               if len(benchings) else empty("No symbol has been benched."))
        )
        weights = snap.weights
        signals = [c for c in weights.columns if c not in ("version", "time", "active", "reason")]
        active = weights[weights["active"]] if len(weights) else weights
        table_ = weights_table(weights, signals)
        self._weights.object = (
            f"<b>Signal weights</b>: {len(weights)} version(s); active "
            f"<span data-kpi='weights-version'>v{int(active['version'].iloc[-1]) if len(active) else '—'}</span>"
            + (f" ({html.escape(str(active['reason'].iloc[-1]))})" if len(active) else "")
            + (html_table(table_, {c: c for c in table_.columns}, kpi="weights") if len(table_) else
               empty("No signal weights recorded."))
        )
        self._plot_weights(weights, signals, pd.Timestamp(snap.now_ms, unit="ms"))

    def _plot_weights(self, weights: pd.DataFrame, signals: list[str], now: pd.Timestamp) -> None:
        """Step lines of each signal's weight from one version's creation to the next (the last runs to now)."""
        dated = weights.dropna(subset=["time"]) if len(weights) else weights
        self._weight_pane.visible = bool(len(dated))
        if not len(dated):
            self._weight_source.data = {"xs": [], "ys": [], "signal": [], "color": []}
            return
        t = np.array([ts.value // 1_000_000 for ts in dated["time"]] + [now.value // 1_000_000], dtype=np.int64)
        xs_step = np.repeat(t, 2)[1:-1]  # t0 t1 t1 t2 t2 ... now
        ys, xs = [], []
        for signal in signals:
            y = dated[signal].to_numpy(dtype=float)
            ys.append(np.repeat(y, 2))
            xs.append(xs_step)
        self._weight_source.data = {"xs": xs, "ys": ys, "signal": signals,
                                    "color": [Category10_10[i % 10] for i in range(len(signals))]}


def bench_display(benchings: pd.DataFrame) -> pd.DataFrame:
    """Return the benchings with ``returned`` as text: its time, "still benched", or that the version is off the active line."""
    from botcore.learning.history import OFF_LINE

    off = benchings["status"] == OFF_LINE
    returned = ["—" if is_off else "still benched" if pd.isna(t) else clock(t)
                for t, is_off in zip(benchings["returned"], off)]
    return benchings.assign(returned=returned)


def weights_table(weights: pd.DataFrame, signals: list[str], last: int = 6) -> pd.DataFrame:
    """Return the last ``last`` versions transposed: one row per signal, one column per version (``*`` active)."""
    recent = weights.tail(last)
    frame = pd.DataFrame({"signal": signals})
    for r in recent.itertuples(index=False):
        frame[f"v{r.version}{' *' if r.active else ''}"] = [round(float(getattr(r, s)), 4) for s in signals]
    return frame


# ============================================================================ health and the kill switch


class KillSwitchControl(StoreView):
    """The kill switch's state and a button that engages it after a second, confirming click."""

    def _build(self) -> pn.viewable.Viewable:
        self._state = html_pane()
        self.engage_button = pn.widgets.Button(label="Engage kill switch…", color="danger", width=220)
        self.confirm_button = pn.widgets.Button(label="Confirm: engage kill switch", color="danger",
                                                sizing_mode="stretch_width", min_width=220)
        self.cancel_button = pn.widgets.Button(label="Cancel", color="light", sizing_mode="stretch_width",
                                               min_width=100)
        self._question = pn.pane.HTML(
            "<b>Engage the kill switch?</b> The bot stops opening positions within one cycle "
            "(the configured action may also flatten). Releasing it is explicit, from the command line.",
            stylesheets=[CSS], sizing_mode="stretch_width")
        self.dialog = pn.Column(self._question, self.confirm_button, self.cancel_button, visible=False,
                                 styles={"border": f"2px solid {LOSS}", "border-radius": "6px", "padding": "6px"},
                                 sizing_mode="stretch_width")
        self.engage_button.on_click(lambda _: self._ask(True))
        self.cancel_button.on_click(lambda _: self._ask(False))
        self.confirm_button.on_click(self._on_confirm)
        self._store().param.watch(lambda _: self._render(self._snapshot()), "kill_switch_error")
        return pn.Column(self._state, self.engage_button, self.dialog, sizing_mode="stretch_width")

    def _ask(self, show: bool) -> None:
        self.dialog.visible = show
        self.engage_button.visible = not show and not self._snapshot().kill_switch

    def _on_confirm(self, _: Any) -> None:
        self._store().engage_kill_switch()
        self.dialog.visible = False
        self._render(self._snapshot())

    def _render(self, snap: Snapshot) -> None:
        if snap.kill_switch:
            since = f" since {clock(snap.kill_switch_ts_ms)} UTC" if snap.kill_switch_ts_ms else ""
            text = (f"Kill switch: <span class='bc-switch-on' data-kpi='kill-switch'>ENGAGED</span>{since}"
                    "<div class='bc-muted'>no new entries; release it explicitly from the command line</div>")
        else:
            text = "Kill switch: <span class='bc-switch-off' data-kpi='kill-switch'>OFF</span> (trading allowed)"
        if self._store().kill_switch_error:
            text += f"<div class='bc-loss'>{html.escape(self._store().kill_switch_error)}</div>"
        self._state.object = text
        self.engage_button.visible = not snap.kill_switch and not self.dialog.visible


class HealthView(StoreView):
    """Heartbeats, last cycle, feed freshness, circuit breakers, kill switch, preflight, burn-in, invariant."""

    def _build(self) -> pn.viewable.Viewable:
        self._summary = html_pane()
        self.kill_switch = KillSwitchControl(store=self.store)
        self._heartbeats = html_pane()
        self._preflight = html_pane()
        return pn.Column(self._summary, self.kill_switch, self._heartbeats, self._preflight, sizing_mode="stretch_width")

    def _render(self, snap: Snapshot) -> None:
        hb = ("<span class='bc-loss'>none yet</span>" if snap.heartbeat_age_s is None
              else f"<span class='{'bc-loss' if snap.status == 'down' else ''}'>"
                   f"{html.escape(_age(snap.heartbeat_age_s))} ago</span>")
        cycle = ("—" if snap.last_cycle_ts_ms is None else
                 f"{clock(snap.last_cycle_ts_ms)} UTC ({_age((snap.now_ms - snap.last_cycle_ts_ms) / 1000)} ago"
                 + (f", took {snap.cycle_ms:.0f} ms" if snap.cycle_ms is not None else "") + ")")
        feeds = snap.heartbeats[snap.heartbeats["component"].str.startswith("feed")] if len(snap.heartbeats) else \
            snap.heartbeats
        feed_text = ", ".join(
            f"<span class='{'' if r.healthy else 'bc-loss'}'>{html.escape(r.component)} {html.escape(r.age)}"
            f"{'' if r.status == 'ok' else ' (' + html.escape(r.status) + ')'}</span>"
            for r in feeds.itertuples(index=False)) or "<span class='bc-muted'>no feed heartbeats</span>"
        breakers = "".join(
            f"<span class='bc-breaker {'tripped' if r.tripped else 'ok'}' data-breaker='{r.breaker}'>"
            f"{r.breaker}: {'TRIPPED' if r.tripped else 'ok'}"
            + (f" until {clock(r.until)}" if r.tripped and r.until is not pd.NaT else "") + "</span>"
            for r in snap.breakers.itertuples(index=False))
        n, target = snap.n_trades, snap.burn_in_trades
        invariant = ("not checked" if snap.invariant_ok is None else
                     "<span class='bc-gain'>ok</span>" if snap.invariant_ok else
                     f"<span class='bc-loss'>BROKEN (cash off by {usd(snap.invariant_cash_diff_usd, signed=True)})</span>")
        self._summary.object = (
            "<table class='bc-table bc-wrap'>"
            f"<tr><td>Clock</td><td data-kpi='health-clock'>{run_clock_text(snap)}</td></tr>"
            f"<tr><td>Engine heartbeat</td><td data-kpi='heartbeat-age'>{hb}</td></tr>"
            f"<tr><td>Last cycle</td><td>{cycle}</td></tr>"
            f"<tr><td>Feeds</td><td>{feed_text}</td></tr>"
            f"<tr><td>Circuit breakers</td><td data-kpi='breakers'>{breakers}</td></tr>"
            f"<tr><td>Burn-in</td><td><span data-kpi='burn-in'>{snap.burn_in_phase}</span>"
            f"<div class='bc-bar'><div style='width:{min(100.0, 100.0 * n / max(target, 1)):.0f}%'></div></div></td></tr>"
            f"<tr><td>Ledger invariant</td><td data-kpi='invariant'>{invariant}</td></tr>"
            "</table>"
        )
        self._heartbeats.object = "<b>Heartbeats</b>" + (
            html_table(snap.heartbeats.assign(state=[(s, h) for s, h in zip(snap.heartbeats["status"],
                                                                           snap.heartbeats["healthy"])]),
                       {"component": "Component", "state": "Status", "age": "Age"}, left=("state",),
                       kpi="heartbeats", cells={"state": lambda v: td(html.escape(v[0]) if v[1] or v[0] != "ok"
                                                                      else "ok (stale)", "l bc-gain" if v[1] else "l bc-loss"),
                                                "age": lambda v: td(html.escape(v))})
            if len(snap.heartbeats) else empty("No heartbeats recorded yet."))
        if snap.preflight is None:
            self._preflight.object = "<b>Preflight</b>: <span data-kpi='preflight'>not run</span>"
        else:
            counts = snap.preflight["status"].value_counts()
            verdict = "FAIL" if counts.get("FAIL") else "WARN" if counts.get("WARN") else "PASS"
            css = {"PASS": "bc-gain", "WARN": "bc-warn", "FAIL": "bc-loss"}
            self._preflight.object = (
                f"<b>Preflight</b> ({clock(snap.preflight_ts_ms)} UTC): "
                f"<span class='{css.get(verdict, '')}' data-kpi='preflight'>{verdict}</span>"
                + html_table(snap.preflight, {"check": "Check", "status": "Status", "detail": "Detail"},
                             left=("status", "detail"),
                             cells={"status": lambda v: td(html.escape(v), "l " + css.get(v, ""))}))


def _age(seconds: float) -> str:
    from botcore.dashboard.data import format_age

    return format_age(seconds * 1000)
