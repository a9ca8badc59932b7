"""The look-ahead audit runs every bar on every path; leaks planted at test time are caught by bar and field.

The leaks are planted into the code the audit runs (monkeypatching the module
attributes the production paths call), never into the audit: the bar loader,
the compiled engine step, the decision features, a batch signal kernel, the
batch aggregation and the store's time stamps. The unmodified code passes on
the sample market and on real FTX BTC-PERP 1m candles.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from botcore.cli import app
from botcore.config import load_settings
from botcore.engine import inputs as engine_inputs
from botcore.engine import nb as engine_nb
from botcore.engine.inputs import BAR_MS
from botcore.engine.state import new_outputs
from botcore.engine.testing import ACTIVE_OVERRIDES, real_candle_store
from botcore.market.sample import DEFAULT_START_MS, generate_sample_market
from botcore.market.store import Store
from botcore.research import lookahead
from botcore.research.lookahead import AuditError, audit_lookahead, audit_signal_fn, batch_signals_fn
from botcore.signals import engine as signals_engine
from botcore.signals.engine import load_inputs
from botcore.signals.price import nb as price_nb
from tests.conftest import CONFIG_DIR

SETTINGS = load_settings(CONFIG_DIR)
DAY = 86_400_000
TWO = ["BTC/USDT:USDT", "ETH/USDT:USDT"]
runner = CliRunner()


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    root = tmp_path_factory.mktemp("lookahead") / "market"
    generate_sample_market(root, 1.5, 5, SETTINGS)
    return root


def _audit(market, **kw):
    kw = {"symbols": TWO, "bars": 12, "warmup_bars": 400, "params_overrides": ACTIVE_OVERRIDES, **kw}
    return audit_lookahead(market, SETTINGS, **kw)


def _first(report, field_prefix):
    """The first violation whose field starts with ``field_prefix`` (bar as a UTC Timestamp, symbol, field)."""
    t = report.table()
    hit = t[t["field"].str.startswith(field_prefix)]
    assert not hit.empty, f"no violation on {field_prefix}: {sorted(set(t['field']))}"
    return hit.iloc[0]


def test_the_real_loader_signals_regime_features_decisions_and_batch_pass_over_every_bar_of_15_symbols(market):
    report = audit_lookahead(market, SETTINGS, bars=60, warmup_bars=1_440, params_overrides=ACTIVE_OVERRIDES)
    assert report.n_bars == 60 and len(report.symbols) == 15
    assert report.bars_run == {"engine": 60, "batch": 60}
    assert report.store_series >= 15 * 4
    assert any(f.startswith("batch.signal.trend") for f in report.fields)
    assert report.n_checked == 60 * 15 * len(report.fields)
    assert report.ok, report.by_field().to_string()


def test_every_bar_of_a_real_ftx_series_runs_the_whole_cycle_and_passes(real_data, tmp_path):
    csv = real_data / "perp-1m" / "FTX_BTC-PERP_1m_2022-01.csv"
    if not csv.exists():
        pytest.skip(f"{csv} not found")
    store = real_candle_store(tmp_path / "ftx", csv)
    first = int(store.read("candles_1m", "BTC/USDT:USDT", columns=["ts"])["ts"].iloc[0])
    start = first + DAY + BAR_MS  # a day of warm-up, then every bar of the next six hours
    report = audit_lookahead(store, SETTINGS, symbols=["BTC/USDT:USDT"], start_ms=start, end_ms=start + 359 * BAR_MS,
                             warmup_bars=1_440)
    assert report.n_bars == 360 and report.bars_run == {"engine": 360, "batch": 360}
    assert report.ok, report.by_field().to_string()


# --------------------------------------------------------------------------- a bar that did not run is an error


def test_a_one_bar_output_buffer_is_an_error_not_a_pass(market, monkeypatch):
    """The audit's old bug: a one-bar buffer made the compiled loop return before running any bar."""
    monkeypatch.setattr(lookahead, "new_outputs", lambda n, bars, full_trail: new_outputs(n, 1, full_trail=full_trail))
    with pytest.raises(AuditError, match="did not run the whole trading cycle"):
        _audit(market, bars=3)


def test_a_step_that_skips_a_bar_is_an_error_naming_the_bar(market, monkeypatch):
    real = engine_nb.run_bars_nb
    skip_ms = None

    def skipping(ts, ohlcv, book, scal, lo, hi, trading, *rest):
        if trading and int(ts[lo]) == skip_ms:
            return lo  # returned early: the bar did not run
        return real(ts, ohlcv, book, scal, lo, hi, trading, *rest)

    report = _audit(market, bars=2, batch=False)
    skip_ms = report.start_ms + BAR_MS
    monkeypatch.setattr(engine_nb, "run_bars_nb", skipping)
    with pytest.raises(AuditError, match=pd.Timestamp(skip_ms, unit="ms").strftime("%Y-%m-%d %H:%M UTC")):
        _audit(market, bars=4, batch=False)


def test_a_batch_function_that_drops_rows_is_an_error(market):
    grid, inputs = load_inputs(Store(market), TWO, DEFAULT_START_MS, DEFAULT_START_MS + 50 * BAR_MS, SETTINGS.signals)
    with pytest.raises(AuditError, match="without one row per bar"):
        audit_signal_fn(lambda inp: {"x": inp.close[:-1]}, inputs, TWO, grid, first=40)


# --------------------------------------------------------------------------- planted leaks


def test_leak_in_the_bar_loader_is_caught_at_the_first_bar(market, monkeypatch):
    real = engine_inputs.load_rows

    def one_bar_early(store, symbols, first_ms, last_ms, settings):
        """Each cycle gets the rows of the next one (the 1m bar still open at ``t``)."""
        rows = real(store, symbols, first_ms + BAR_MS, last_ms + BAR_MS, settings)
        return type(rows)(rows.ts_ms - BAR_MS, *rows[1:])

    monkeypatch.setattr(engine_inputs, "load_rows", one_bar_early)
    report = _audit(market, batch=False)
    assert not report.ok
    hit = _first(report, "input.close")
    assert hit["bar"].value // 1_000_000 == report.start_ms
    assert {"input.close", "signal.trend.score", "feature.price"} <= set(report.table()["field"])
    assert set(report.table()["symbol"]) == set(report.symbols)


def test_leak_in_the_engine_step_feeding_the_signals_the_next_bar_is_caught(market, monkeypatch):
    real = engine_nb.run_bars_nb

    def next_bar_signals(ts, ohlcv, book, scal, lo, hi, trading, *rest):
        if trading and hi < len(ts):
            ohlcv = ohlcv.copy()
            ohlcv[lo] = ohlcv[lo + 1]
        return real(ts, ohlcv, book, scal, lo, hi, trading, *rest)

    monkeypatch.setattr(engine_nb, "run_bars_nb", next_bar_signals)
    report = _audit(market, batch=False)
    assert report.bars_run == {"engine": report.n_bars}
    hit = _first(report, "signal.trend.score")
    assert hit["bar"].value // 1_000_000 == report.start_ms
    assert not any(f.startswith("input.") for f in report.table()["field"])  # the rows were right: the step leaked


def test_leak_in_the_features_reading_the_next_close_is_caught(market, monkeypatch):
    real = engine_nb.run_bars_nb

    def next_close_volatility(ts, ohlcv, book, scal, lo, hi, trading, st, cfg, sc, *rest):
        ran = real(ts, ohlcv, book, scal, lo, hi, trading, st, cfg, sc, *rest)
        if trading and hi < len(ts):
            sc.features.volatility_daily[:] = np.abs(np.log(ohlcv[hi, :, 3] / ohlcv[lo, :, 3])) * np.sqrt(1_440)
        return ran

    monkeypatch.setattr(engine_nb, "run_bars_nb", next_close_volatility)
    report = _audit(market, batch=False)
    hit = _first(report, "feature.vol")
    assert hit["bar"].value // 1_000_000 == report.start_ms
    assert set(report.table()["field"]) == {"feature.vol"}


def test_leak_in_a_batch_signal_kernel_is_caught(market, monkeypatch):
    real = price_nb.trend_nb

    def trend_of_the_next_close(close, *params):
        nxt = close.copy()
        nxt[:-1] = close[1:]
        return real(nxt, *params)

    monkeypatch.setattr(price_nb, "trend_nb", trend_of_the_next_close)
    report = _audit(market)
    fields = set(report.table()["field"])
    assert "batch.signal.trend.score" in fields
    assert not any(f.startswith("signal.") for f in fields)  # the engine's step kernel is untouched
    hit = _first(report, "batch.signal.trend.score")
    assert hit["bar"].value // 1_000_000 == report.start_ms


def test_leak_in_the_batch_aggregation_a_centred_smoothing_is_caught(market, monkeypatch):
    real = signals_engine.aggregate

    def centred(outputs, signals, weights=None):
        agg = real(outputs, signals, weights)
        conv = np.asarray(agg.conviction, dtype=np.float64)
        smooth = conv.copy()
        smooth[1:-1] = (conv[:-2] + conv[1:-1] + conv[2:]) / 3.0
        return agg._replace(conviction=smooth)

    monkeypatch.setattr(signals_engine, "aggregate", centred)
    report = _audit(market)
    assert set(report.table()["field"]) == {"batch.aggregate.conviction"}
    assert report.bars_run == {"engine": report.n_bars, "batch": report.n_bars}


def test_a_batch_signal_reading_the_next_close_is_caught_by_the_panel_audit(market):
    syms = [a.symbol for a in SETTINGS.universe.enabled][:3]
    start = DEFAULT_START_MS
    end = start + 900 * BAR_MS
    grid, inputs = load_inputs(Store(market), syms, start, end, SETTINGS.signals)
    real = audit_signal_fn(batch_signals_fn(SETTINGS), inputs, syms, grid, first=840)
    assert real.ok and real.n_bars == 60 and real.bars_run == {"batch": 60}, real.by_field().to_string()

    def leaky(inp):
        nxt = np.full_like(inp.close, np.nan)
        nxt[:-1] = inp.close[1:]
        return {"signal.next_close_momentum.score": np.sign(nxt - inp.close)}

    caught = audit_signal_fn(leaky, inputs, syms, grid, first=840)
    assert not caught.ok
    assert set(caught.by_field()["field"]) == {"signal.next_close_momentum.score"}
    assert caught.by_field()["first_bar"].min().value // 1_000_000 == int(grid[840])


def test_store_with_candles_stamped_off_their_open_and_repeated_is_caught(market, monkeypatch):
    real = Store.read

    def mis_stamped(self, kind, symbol, *args, **kw):
        df = real(self, kind, symbol, *args, **kw)
        if kind == "candles_1m" and symbol == "ETH/USDT:USDT" and len(df) > 10:
            df = df.copy()
            df.loc[df.index[5], "ts"] += 30_000  # mid-bar: not the interval's open
            df = pd.concat([df.iloc[:8], df.iloc[7:]], ignore_index=True)  # one row twice
        return df

    monkeypatch.setattr(Store, "read", mis_stamped)
    report = _audit(market, bars=3, batch=False)
    t = report.table()
    store_rows = t[t["field"] == "store.candles_1m.ts"]
    assert set(store_rows["symbol"]) == {"ETH/USDT:USDT"}
    notes = " ".join(store_rows["note"])
    assert "misaligned" in notes and "duplicate" in notes
    assert not report.ok


def test_audit_command_prints_the_verdict_and_fails_on_violations(market, tmp_path):
    args = ["audit", "lookahead", "--data", str(market), "--config", str(CONFIG_DIR), "--bars", "15",
            "--symbols", ",".join(TWO), "--warmup-bars", "300", "--out", str(tmp_path / "a.csv")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "no look-ahead" in result.output and "15 bars" in result.output
    assert "engine 15, batch 15" in " ".join(result.output.split())
    assert (tmp_path / "a.csv").exists()
