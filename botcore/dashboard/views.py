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
from panel.viewable import Viewer

from botcore.dashboard.data import Snapshot, filter_trades, trade_summary
from botcore.dashboard.store import DataStore

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
.bc-gain { color: #1a7f37; } .bc-loss { color: #c4161c; } .bc-muted { color: #6e7781; }
table.bc-table { border-collapse: collapse; font-size: 14px; font-variant-numeric: tabular-nums; }
table.bc-table th, table.bc-table td { padding: 4px 12px; border-bottom: 1px solid #eaeef2; text-align: right; }
table.bc-table th:first-child, table.bc-table td:first-child { text-align: left; }
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
    """Format a UTC time as ``2024-05-01 12:34:56``; missing as an em dash."""
    if ts is None or (isinstance(ts, float) and math.isnan(ts)) or ts is pd.NaT:
        return "—"
    if not isinstance(ts, pd.Timestamp):
        ts = pd.Timestamp(int(ts), unit="ms", tz="UTC")
    return ts.strftime("%Y-%m-%d %H:%M:%S")


def kpi(key: str, label: str, value: str, sub: str = "", css: str = "") -> str:
    """Return one KPI card; ``data-kpi`` names it for tests and monitors scraping the page."""
    return (f"<div class='bc-kpi'><div class='bc-label'>{label}</div>"
            f"<div class='bc-value {css}' data-kpi='{key}'>{value}</div><div class='bc-sub'>{sub}</div></div>")


def empty(text: str) -> str:
    return f"<div class='bc-empty'>{html.escape(text)}</div>"


def price_text(x: float) -> str:
    """Format a price with 6 significant digits, positional (``45,324.8``, ``0.0000095``)."""
    if x is None or not math.isfinite(x):
        return "—"
    if abs(x) >= 1e5:
        return f"{x:,.0f}"
    text = np.format_float_positional(abs(x), precision=6, unique=False, fractional=False, trim="-")
    whole, _, frac = text.partition(".")
    return ("-" if x < 0 else "") + f"{int(whole):,}" + (f".{frac}" if frac else "")


PRICE_COLUMNS = ("entry_price", "exit_price", "mark_price", "stop_price", "take_profit_price",
                 "trail_activation_price", "trail_stop_price")


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy for display: UTC text for times (sortable), yes/no for booleans, prices to 6 digits."""
    out = frame.copy()
    for column in PRICE_COLUMNS:
        if column in out.columns:
            out[column] = [price_text(x) for x in out[column].to_numpy(dtype=float)]
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


def _pnl_color(value: Any) -> str:
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value == 0:
        return ""
    return f"color: {GAIN if value > 0 else LOSS}; font-weight: 600"


def table(frame: pd.DataFrame, *, formatters: dict | None = None, pnl_columns: tuple[str, ...] = (),
          page_size: int | None = None, titles: dict | None = None, **kwargs) -> pn.widgets.Tabulator:
    """Return a read-only Tabulator; ``pnl_columns`` are coloured green/red by sign."""
    widget = pn.widgets.Tabulator(
        frame, show_index=False, disabled=True, selectable=False, layout="fit_data_fill",
        stylesheets=[TABLE_CSS],
        formatters=formatters or {}, titles=titles or {}, sizing_mode="stretch_width",
        pagination="remote" if page_size else None, page_size=page_size, **kwargs,
    )
    if pnl_columns:
        widget.style.map(_pnl_color, subset=list(pnl_columns))
    return widget


def html_pane(**kwargs) -> pn.pane.HTML:
    return pn.pane.HTML("", stylesheets=[CSS], sizing_mode="stretch_width", **kwargs)


class StoreView(Viewer):
    """Base of the views: builds panes in :meth:`_build`, refreshes them in :meth:`_render`."""

    store = param.ClassSelector(class_=DataStore, doc="The data store the view shows.")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._layout = self._build()
        self._render(self.store.snapshot)
        self.store.param.watch(lambda event: self._render(event.new), "snapshot")

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
            f"<span class='bc-problems'>{problems}</span></div>"
        )


# ============================================================================ P&L


class PnLView(StoreView):
    """Equity and drawdown over time; realised and unrealised P&L, fees and funding, today and since start."""

    def _build(self) -> pn.viewable.Viewable:
        self._kpis = html_pane()
        self._table = html_pane()
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
        for fig in (equity, drawdown):
            fig.xaxis.formatter = DatetimeTickFormatter(hours="%H:%M", days="%b %d", months="%b %Y")
            fig.min_border_left = 60
        return pn.Column(self._kpis, self._table, self._note, pn.pane.Bokeh(equity, sizing_mode="stretch_width"),
                         pn.pane.Bokeh(drawdown, sizing_mode="stretch_width"), sizing_mode="stretch_width")

    def _render(self, snap: Snapshot) -> None:
        s, t = snap.since_start, snap.today
        start = snap.starting_cash_usd
        total_pct = 100.0 * s.change_usd / start if start and math.isfinite(start) else math.nan
        as_of = f"as of {clock(snap.equity_ts_ms)}" if snap.equity_ts_ms else "cash (no equity snapshot yet)"
        self._kpis.object = "<div class='bc-kpis'>" + "".join([
            kpi("equity", "Equity", usd(snap.equity_usd), as_of),
            kpi("change-since-start", "Since start", usd(s.change_usd, signed=True),
                f"{pct(total_pct, signed=True)} of {usd(start)}", tone(s.change_usd)),
            kpi("change-today", "Today (UTC)", usd(t.change_usd, signed=True), f"{t.n_trades} trades closed",
                tone(t.change_usd)),
            kpi("drawdown", "Drawdown", pct(snap.drawdown_pct), f"max {pct(snap.max_drawdown_pct)}",
                "bc-loss" if snap.drawdown_pct < 0 else ""),
            kpi("open-positions", "Open positions", str(len(snap.positions)),
                f"unrealised {usd(s.unrealized_usd, signed=True)}"),
            kpi("closed-trades", "Closed trades", str(s.n_trades),
                f"win rate {pct(100 * s.win_rate, digits=1)}" if s.n_trades else "no trades yet"),
        ]) + "</div>"
        rows = [("Realised P&L (gross)", "realized", "realized_usd"), ("Fees", "fees", "fees_usd"),
                ("Funding (+ received)", "funding", "funding_usd"), ("Net realised", "net", "net_realized_usd"),
                ("Unrealised (open positions)", "unrealized", "unrealized_usd"),
                ("Equity change", "change", "change_usd")]
        body = "".join(
            f"<tr><td>{label}</td>"
            + "".join(f"<td class='{tone(-getattr(p, field) if key == 'fees' else getattr(p, field))}' "
                      f"data-kpi='{key}-{period}'>{usd(-getattr(p, field) if key == 'fees' else getattr(p, field), signed=True)}</td>"
                      for period, p in (("today", t), ("since-start", s)))
            + "</tr>"
            for label, key, field in rows
        )
        body += (f"<tr><td>Closed trades</td><td data-kpi='trades-today'>{t.n_trades}</td>"
                 f"<td data-kpi='trades-since-start'>{s.n_trades}</td></tr>")
        self._table.object = (f"<table class='bc-table'><tr><th></th><th>Today (UTC)</th><th>Since start</th></tr>"
                              f"{body}</table>")
        self._note.object = "" if len(snap.curve) else empty("No equity snapshots yet: the curve starts with the first cycle.")
        self._source.data = {c: snap.curve[c].to_numpy() for c in ("time", "equity_usd", "drawdown_pct")}


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
                            pnl_columns=("unrealized_usd", "unrealized_pct"),
                            formatters={"unrealized_usd": MONEY, "notional_usd": MONEY, "funding_usd": MONEY,
                                        "unrealized_pct": NUM2}, text_align={c: "right" for c in PRICE_COLUMNS})
        return pn.Column(self._empty, self._table, self._note, sizing_mode="stretch_width")

    def _render(self, snap: Snapshot) -> None:
        positions = snap.positions
        frame = display_frame(positions[list(self.COLUMNS)])
        self._table.value = frame
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

    symbol = param.Selector(default="all", objects=["all"], doc="Only this symbol.")
    strategy = param.Selector(default="all", objects=["all"], doc="Only this strategy.")
    side = param.Selector(default="all", objects=["all", "long", "short"], doc="Only this side.")
    date_range = param.DateRange(default=None, allow_None=True, doc="Exit dates (UTC), inclusive.")

    COLUMNS = {"trade_id": "#", "exit_time": "Exit (UTC)", "symbol": "Symbol", "side": "Side",
               "strategy": "Strategy", "net_pnl_usd": "Net $", "return_pct": "Return %", "close_reason": "Closed by",
               "hold": "Held", "entry_price": "Entry", "exit_price": "Exit", "gross_pnl_usd": "Gross $",
               "fees_usd": "Fees $", "funding_usd": "Funding $", "qty_contracts": "Contracts"}

    def _build(self) -> pn.viewable.Viewable:
        self._summary = html_pane()
        self._table = table(pd.DataFrame(columns=list(self.COLUMNS)), titles=self.COLUMNS, page_size=15,
                            pnl_columns=("net_pnl_usd", "return_pct"),
                            text_align={c: "right" for c in PRICE_COLUMNS},
                            formatters={"gross_pnl_usd": MONEY,
                                        "fees_usd": MONEY, "funding_usd": MONEY, "net_pnl_usd": MONEY,
                                        "return_pct": NUM2})
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
        snap = self.store.snapshot
        start, end = self.date_range or (None, None)
        frame = filter_trades(snap.trades, symbols=() if self.symbol == "all" else (self.symbol,), strategy=None if self.strategy == "all"
                              else self.strategy, side=None if self.side == "all" else self.side,
                              start=start, end=end)
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
                f"{usd(summary['funding_usd'], signed=True)} · win rate {pct(100 * summary['win_rate'], digits=1)}"
                f" · profit factor {summary['profit_factor']:.2f}</div>"
            )
        self._table.value = display_frame(frame[list(self.COLUMNS)])
        self._table.visible = bool(len(frame))


# ============================================================================ why not trading


class WhyNotTradingView(StoreView):
    """Per symbol: the latest outcome and the gate(s) that decided it; the day's blocking gates; data outages."""

    COLUMNS = {"symbol": "Symbol", "sector": "Sector", "outcome": "Outcome", "gate": "Deciding gate",
               "other_gates": "Also", "why": "Why", "strategy": "Strategy", "conviction": "Conviction",
               "kelly_f": "Kelly f"}

    def _build(self) -> pn.viewable.Viewable:
        self._head = html_pane()
        self._table = table(pd.DataFrame(columns=list(self.COLUMNS)), titles=self.COLUMNS,
                            formatters={"conviction": NUM4, "kelly_f": NUM4, "why": {"type": "textarea"}},
                            widths={"why": 300})
        self._table.style.map(self._outcome_color, subset=["outcome"])
        self._gates = html_pane()
        self._outages_head = html_pane()
        self._outages = table(pd.DataFrame(columns=["symbol", "start", "end", "cycles", "ongoing", "duration"]),
                              titles={"symbol": "Symbol", "start": "From (UTC)", "end": "Last seen (UTC)",
                                      "cycles": "Cycles", "ongoing": "Ongoing", "duration": "Duration"})
        return pn.Column(self._head, self._table,
                         pn.Row(pn.Column(pn.pane.HTML("<b>What blocked entries (last 24 h of decisions)</b>"),
                                          self._gates, sizing_mode="stretch_width"),
                                pn.Column(self._outages_head, self._outages, sizing_mode="stretch_width"),
                                sizing_mode="stretch_width"),
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
        self._table.value = display_frame(snap.why_not[list(self.COLUMNS)])
        if len(snap.gate_counts):
            total = int(snap.gate_counts["cycles"].sum())
            gate_max = int(snap.gate_counts["cycles"].max())
            rows = "".join(
                f"<tr title='{html.escape(r.meaning)}'><td>{html.escape(r.gate)}</td><td>{r.cycles}</td>"
                f"<td>{100 * r.cycles / total:.0f}%</td><td style='width:140px'><div class='bc-bar'>"
                f"<div style='width:{100 * r.cycles / gate_max:.0f}%;background:#b35c00'></div></div></td></tr>"
                for r in snap.gate_counts.itertuples(index=False)
            )
            self._gates.object = (f"<table class='bc-table' data-kpi='gate-counts'><tr><th>Gate</th><th>Symbol-cycles"
                                  f"</th><th>Share</th><th></th></tr>{rows}</table>")
        else:
            self._gates.object = empty("No skipped entries recorded.")
        ongoing = int(snap.outages["ongoing"].sum()) if len(snap.outages) else 0
        self._outages_head.object = (
            f"<b>Data outages (last 24 h)</b> <span data-kpi='outages'>{len(snap.outages)}</span>"
            + (f" · <span class='bc-loss'>{ongoing} ongoing</span>" if ongoing else "")
            + ("" if len(snap.outages) else empty("No data outages in the last 24 h."))
        )
        self._outages.value = display_frame(snap.outages)
        self._outages.visible = bool(len(snap.outages))


# ============================================================================ strategies and signals


class StrategiesView(StoreView):
    """Allocation, bandit state, Kelly sizes, per-strategy results, signal weights over time, benched symbols."""

    def _build(self) -> pn.viewable.Viewable:
        columns = ["strategy", "enabled", "trades", "win_rate", "net_pnl_usd", "profit_factor", "configured",
                   "active", "alpha", "beta", "mean"]
        self._strategies = table(pd.DataFrame(columns=columns), formatters={
            "configured": NUM2, "active": NUM2, "alpha": NUM2, "beta": NUM2, "mean": NUM4, "win_rate": NUM4,
            "net_pnl_usd": MONEY, "profit_factor": NUM2}, pnl_columns=("net_pnl_usd",),
            titles={"configured": "Allocation (config)", "active": "Allocation (active)", "alpha": "Bandit α",
                    "beta": "Bandit β", "mean": "Bandit mean", "trades": "Trades", "win_rate": "Win rate",
                    "net_pnl_usd": "Net $", "profit_factor": "Profit factor", "source": "Allocation from",
                    "bandit_source": "Bandit from"})
        self._kelly_head = html_pane()
        self._kelly = table(pd.DataFrame(columns=["strategy", "symbol", "time", "win_prob", "kelly_f", "size_usd",
                                                  "outcome"]), formatters={"win_prob": NUM4, "kelly_f": NUM4, "size_usd": MONEY},
                            titles={"strategy": "Strategy", "symbol": "Latest symbol", "time": "At (UTC)",
                                    "win_prob": "Win prob", "kelly_f": "Kelly f*", "size_usd": "Size $",
                                    "outcome": "Outcome"})
        self._benched = html_pane()
        self._weights_head = html_pane()
        self._weights = table(pd.DataFrame())
        self._weight_fig = figure(height=240, tools="pan,wheel_zoom,reset,save", toolbar_location="above",
                                  sizing_mode="stretch_width", title="Signal weights over time (parameter versions)",
                                  x_axis_type="datetime")
        self._weight_sources: dict[str, ColumnDataSource] = {}
        self._weight_pane = pn.pane.Bokeh(self._weight_fig, sizing_mode="stretch_width")
        self._strategies_head = html_pane()
        return pn.Column(
            self._strategies_head, self._strategies, self._kelly_head, self._kelly, self._benched, self._weights_head, self._weight_pane,
            self._weights, sizing_mode="stretch_width",
        )

    def _render(self, snap: Snapshot) -> None:
        merged = (snap.allocation.merge(snap.bandit.rename(columns={"source": "bandit_source"}), on="strategy",
                                        how="left")
                  .merge(snap.strategy_stats, on="strategy", how="left"))
        self._strategies.value = display_frame(merged[self._strategies.value.columns])
        self._strategies_head.object = (
            "<b>Strategies</b>: allocation, bandit (Beta posterior of winning) and closed-trade results "
            f"<span class='bc-muted'>(allocation from {snap.allocation['source'].iloc[0]}, bandit from "
            f"{snap.bandit['source'].iloc[0]})</span>")
        self._kelly_head.object = "<b>Kelly sizing (latest per strategy, from the decision trail)</b>" + (
            "" if len(snap.kelly) else empty("No Kelly sizes recorded yet."))
        self._kelly.value = display_frame(snap.kelly)
        self._kelly.visible = bool(len(snap.kelly))
        if len(snap.benched):
            items = ", ".join(f"<b>{html.escape(r.symbol)}</b> ({html.escape(r.reason or r.source)})"
                              for r in snap.benched.itertuples(index=False))
        else:
            items = "<span class='bc-muted'>none</span>"
        self._benched.object = f"<div class='bc-row'><b>Benched symbols:</b> <span data-kpi='benched'>{items}</span></div>"
        weights = snap.weights
        signals = [c for c in weights.columns if c not in ("version", "time", "active", "reason")]
        active = weights[weights["active"]] if len(weights) else weights
        self._weights_head.object = (
            f"<b>Signal weights</b>: {len(weights)} version(s); active "
            f"<span data-kpi='weights-version'>v{int(active['version'].iloc[-1]) if len(active) else '—'}</span>"
            + (f" ({html.escape(str(active['reason'].iloc[-1]))})" if len(active) else "")
        )
        self._weights.value = weights_table(weights, signals)
        self._plot_weights(weights, signals, pd.Timestamp(snap.generated_ms, unit="ms"))
        self._weight_pane.visible = bool(len(weights) and weights["time"].notna().any())

    def _plot_weights(self, weights: pd.DataFrame, signals: list[str], now: pd.Timestamp) -> None:
        """Step lines of each signal's weight from one version's creation to the next (the last runs to now)."""
        dated = weights.dropna(subset=["time"]) if len(weights) else weights
        x = np.append(dated["time"].to_numpy(dtype="datetime64[ms]"), now.to_datetime64()) if len(dated) else \
            np.array([], dtype="datetime64[ms]")
        for i, signal in enumerate(signals):
            y = dated[signal].to_numpy(dtype=float) if len(dated) else np.array([])
            data = {"time": x, "weight": np.append(y, y[-1]) if len(y) else y}
            if signal in self._weight_sources:
                self._weight_sources[signal].data = data
                continue
            source = ColumnDataSource(data)
            self._weight_sources[signal] = source
            color = Category10_10[i % 10]
            self._weight_fig.step("time", "weight", source=source, mode="after", color=color, line_width=2,
                                  legend_label=signal)
            self._weight_fig.scatter("time", "weight", source=source, color=color, size=5)
        if self._weight_fig.legend:
            self._weight_fig.legend.location = "top_left"
            self._weight_fig.legend.label_text_font_size = "10px"
            self._weight_fig.legend.click_policy = "hide"
            self._weight_fig.add_layout(self._weight_fig.legend[0], "right")


# ============================================================================ health and the kill switch


def weights_table(weights: pd.DataFrame, signals: list[str], last: int = 6) -> pd.DataFrame:
    """Return the last ``last`` versions transposed: one row per signal, one column per version (``*`` active)."""
    recent = weights.tail(last)
    frame = pd.DataFrame({"signal": signals})
    for r in recent.itertuples(index=False):
        frame[f"v{r.version}{' *' if r.active else ''}"] = [round(float(getattr(r, s)), 4) for s in signals]
    return frame


class KillSwitchControl(StoreView):
    """The kill switch's state and a button that engages it after a second, confirming click."""

    def _build(self) -> pn.viewable.Viewable:
        self._state = html_pane()
        self._engage = pn.widgets.Button(name="Engage kill switch…", button_type="danger", width=220)
        self._confirm = pn.widgets.Button(name="Confirm: engage kill switch", button_type="danger", width=240)
        self._cancel = pn.widgets.Button(name="Cancel", button_type="light", width=100)
        self._question = pn.pane.HTML(
            "<b>Engage the kill switch?</b> The bot stops opening positions within one cycle "
            "(the configured action may also flatten). Releasing it is explicit, from the command line.",
            stylesheets=[CSS], sizing_mode="stretch_width")
        self._dialog = pn.Column(self._question, pn.Row(self._confirm, self._cancel), visible=False,
                                 styles={"border": f"2px solid {LOSS}", "border-radius": "6px", "padding": "6px"},
                                 sizing_mode="stretch_width")
        self._engage.on_click(lambda _: self._ask(True))
        self._cancel.on_click(lambda _: self._ask(False))
        self._confirm.on_click(self._on_confirm)
        self.store.param.watch(lambda _: self._render(self.store.snapshot), "kill_switch_error")
        return pn.Column(self._state, self._engage, self._dialog, sizing_mode="stretch_width")

    def _ask(self, show: bool) -> None:
        self._dialog.visible = show
        self._engage.visible = not show and not self.store.snapshot.kill_switch

    def _on_confirm(self, _: Any) -> None:
        self.store.engage_kill_switch()
        self._dialog.visible = False
        self._render(self.store.snapshot)

    def _render(self, snap: Snapshot) -> None:
        if snap.kill_switch:
            since = f" since {clock(snap.kill_switch_ts_ms)} UTC" if snap.kill_switch_ts_ms else ""
            text = (f"Kill switch: <span class='bc-switch-on' data-kpi='kill-switch'>ENGAGED</span>{since}"
                    "<div class='bc-muted'>no new entries; release it explicitly from the command line</div>")
        else:
            text = "Kill switch: <span class='bc-switch-off' data-kpi='kill-switch'>OFF</span> (trading allowed)"
        if self.store.kill_switch_error:
            text += f"<div class='bc-loss'>{html.escape(self.store.kill_switch_error)}</div>"
        self._state.object = text
        self._engage.visible = not snap.kill_switch and not self._dialog.visible


class HealthView(StoreView):
    """Heartbeats, last cycle, feed freshness, circuit breakers, kill switch, preflight, burn-in, invariant."""

    def _build(self) -> pn.viewable.Viewable:
        self._summary = html_pane()
        self._kill = KillSwitchControl(store=self.store)
        self._heartbeats_head = html_pane()
        self._heartbeats = table(pd.DataFrame(columns=["component", "status", "age", "healthy"]),
                                 titles={"component": "Component", "status": "Status", "age": "Age",
                                         "healthy": "Healthy"})
        self._heartbeats.style.map(lambda v: f"color: {LOSS}; font-weight: 600" if v == "no" else "",
                                   subset=["healthy"])
        self._preflight_head = html_pane()
        self._preflight = table(pd.DataFrame(columns=["check", "status", "detail"]))
        self._preflight.style.map(lambda v: {"PASS": f"color: {GAIN}", "WARN": "color: #b35c00",
                                             "FAIL": f"color: {LOSS}; font-weight: 700"}.get(v, ""),
                                  subset=["status"])
        return pn.Column(self._summary, self._kill, self._heartbeats_head, self._heartbeats, self._preflight_head,
                         self._preflight, sizing_mode="stretch_width")

    def _render(self, snap: Snapshot) -> None:
        hb = ("<span class='bc-loss'>none yet</span>" if snap.heartbeat_age_s is None
              else f"<span class='{'bc-loss' if snap.status == 'down' else ''}'>"
                   f"{html.escape(_age(snap.heartbeat_age_s))} ago</span>")
        cycle = ("—" if snap.last_cycle_ts_ms is None else
                 f"{clock(snap.last_cycle_ts_ms)} UTC ({_age((snap.generated_ms - snap.last_cycle_ts_ms) / 1000)} ago"
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
            "<table class='bc-table'>"
            f"<tr><td>Engine heartbeat</td><td data-kpi='heartbeat-age'>{hb}</td></tr>"
            f"<tr><td>Last cycle</td><td>{cycle}</td></tr>"
            f"<tr><td>Feeds</td><td>{feed_text}</td></tr>"
            f"<tr><td>Circuit breakers</td><td data-kpi='breakers'>{breakers}</td></tr>"
            f"<tr><td>Burn-in</td><td><span data-kpi='burn-in'>{snap.burn_in_phase}</span>"
            f"<div class='bc-bar'><div style='width:{min(100.0, 100.0 * n / max(target, 1)):.0f}%'></div></div></td></tr>"
            f"<tr><td>Ledger invariant</td><td data-kpi='invariant'>{invariant}</td></tr>"
            "</table>"
        )
        self._heartbeats_head.object = "<b>Heartbeats</b>" + ("" if len(snap.heartbeats) else
                                                              empty("No heartbeats recorded yet."))
        self._heartbeats.value = display_frame(snap.heartbeats[["component", "status", "age", "healthy"]])
        self._heartbeats.visible = bool(len(snap.heartbeats))
        if snap.preflight is None:
            self._preflight_head.object = "<b>Preflight</b>: <span data-kpi='preflight'>not run</span>"
            self._preflight.visible = False
        else:
            counts = snap.preflight["status"].value_counts()
            verdict = "FAIL" if counts.get("FAIL") else "WARN" if counts.get("WARN") else "PASS"
            self._preflight_head.object = (f"<b>Preflight</b> ({clock(snap.preflight_ts_ms)} UTC): "
                                           f"<span data-kpi='preflight'>{verdict}</span>")
            self._preflight.value = snap.preflight
            self._preflight.visible = True


def _age(seconds: float) -> str:
    from botcore.dashboard.data import format_age

    return format_age(seconds * 1000)
