"""`botcore data download` with every input: BloFin candles, funding and mark; CoinGlass open interest, liquidations
and taker flow at the finest interval the key's plan allows; Alternative.me fear & greed; CryptoCompare social —
against local servers answering in each provider's documented format (tests/fakes), resumable, with plan refusals
and rate limits. The store it builds feeds every backtest input except the order book."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from botcore.cli.data_io_cmd import register_data_commands
from botcore.config.loader import load_settings
from botcore.config.models import SIGNAL_NAMES
from botcore.engine.backtest import run_backtest
from botcore.engine.enums import RowScalars
from botcore.engine.inputs import load_rows
from botcore.errors import TemporaryError
from botcore.intel.clients import (
    AlternativeMeClient,
    CoinGlassClient,
    CryptoCompareClient,
)
from botcore.intel.history import download_intel_history
from botcore.market.store import MARKET, Store
from botcore.net import RetryPolicy
from botcore.signals.engine import compute_signals, load_inputs
from botcore.signals.enums import SignalStatuses
from tests.fakes.blofin_server import HOUR_MS, MINUTE_MS, START_MS, FakeBlofin
from tests.fakes.intel_servers import (
    COINGLASS_KEY,
    CRYPTOCOMPARE_KEY,
    FakeIntelServer,
    liq_usd,
    oi_close_usd,
)

BTC = "BTC/USDT:USDT"
BARS = 600
NOW = START_MS + BARS * MINUTE_MS + 30_000  # both venues' clock: bar 601 is still forming
FAST = RetryPolicy(attempts=2, timeout_s=5.0)
INPUTS = [f for f in RowScalars._fields if f != "next_funding_ts_ms"]


@pytest.fixture
def servers():
    with FakeBlofin(now_ms=NOW) as blofin, FakeIntelServer(now_ms=NOW) as intel:
        yield blofin, intel


def download(blofin: FakeBlofin, intel: FakeIntelServer, out: Path, *extra: str, env: dict | None = None):
    app = typer.Typer()
    register_data_commands(app)
    args = ["download", "--symbols", BTC, "--since", str(START_MS), "--until", str(NOW), "--out", str(out),
            "--api-url", blofin.url, "--rate-limit-ms", "1", "--intel-url", intel.url, "--retries", "2", "--no-progress", *extra]
    keys = {"COINGLASS_API_KEY": COINGLASS_KEY, "CRYPTOCOMPARE_API_KEY": CRYPTOCOMPARE_KEY} if env is None else env
    return CliRunner().invoke(app, args, env=keys)


def test_one_command_downloads_every_input_and_the_store_feeds_every_signal_but_the_book(servers, tmp_path: Path) -> None:
    blofin, intel = servers
    out = tmp_path / "store"
    result = download(blofin, intel, out)
    assert result.exit_code == 0, result.output
    assert "CoinGlass STANDARD: 1m bars" in result.output and "order book" in result.output
    store = Store(out)
    assert set(store.kinds()) == {"candles_1m", "funding", "mark", "open_interest", "liquidations", "taker", "fear_greed", "social"}
    assert len(store.read("candles_1m", BTC)) == BARS and len(store.read("mark", BTC)) == BARS + 1
    liq = store.read("liquidations", BTC)
    assert liq["ts"].iloc[0] == START_MS and len(liq) == BARS  # per-minute sums stamped at the minute's open
    assert liq["long_liq_usd"].iloc[0] == liq_usd("BTCUSDT", START_MS)[0]
    oi = store.read("open_interest", BTC)
    assert oi["ts"].iloc[0] == START_MS + MINUTE_MS and oi["oi_usd"].iloc[0] == oi_close_usd("BTCUSDT", START_MS)  # at the close
    taker, candles = store.read("taker", BTC), store.read("candles_1m", BTC)
    np.testing.assert_allclose(taker["taker_buy_base"] + taker["taker_sell_base"], candles["volume"].to_numpy()[: len(taker)])
    assert taker["taker_buy_base"].iloc[0] / taker["taker_sell_base"].iloc[0] == pytest.approx(2.0)  # 2,000,000 / 1,000,000 USD
    assert store.read("fear_greed", MARKET)["ts"].iloc[0] < START_MS  # the day before the start: known at the first cycle
    assert store.read("social", MARKET)["ts"].iloc[0] <= START_MS  # tone baseline fetched before the start

    first_funding = int(store.read("funding", BTC)["ts"].iloc[0])
    rows = load_rows(store, [BTC], max(first_funding, START_MS + MINUTE_MS), START_MS + BARS * MINUTE_MS, _staleness())
    live = {name: bool(np.isfinite(rows.scalars[:, 0, getattr(RowScalars, name)]).all()) for name in INPUTS}
    assert all(live.values()), live
    assert np.isfinite(rows.ohlcv).all()
    assert np.isnan(rows.book).all()  # the one input no history exists for

    again = download(blofin, intel, out)  # resumes: nothing new to fetch, nothing duplicated
    assert again.exit_code == 0, again.output
    assert len(Store(out).read("liquidations", BTC)) == BARS and len(Store(out).read("candles_1m", BTC)) == BARS


def _staleness():
    return load_settings(Path(__file__).resolve().parents[1] / "config")


def test_a_plan_without_minute_bars_stores_open_interest_at_its_finest_bar_and_says_why_the_rest_is_missing(servers, tmp_path) -> None:
    blofin, intel = servers
    intel.plan, intel.min_interval = "HOBBYIST", "30m"
    result = download(blofin, intel, tmp_path / "store", "--no-mark")
    assert result.exit_code == 0, result.output
    assert "30m bars" in result.output and "interval 1m is not available on the HOBBYIST plan" in result.output
    assert "not stored: the store keeps per-minute sums" in result.output
    store = Store(tmp_path / "store")
    assert "liquidations" not in store.kinds() and "taker" not in store.kinds()
    assert (np.diff(store.read("open_interest", BTC)["ts"]) == 30 * MINUTE_MS).all()


def test_missing_keys_are_reported_and_a_persistent_rate_limit_exits_2_keeping_what_was_stored(servers, tmp_path: Path) -> None:
    blofin, intel = servers
    result = download(blofin, intel, tmp_path / "a", "--no-mark", env={"COINGLASS_API_KEY": "", "CRYPTOCOMPARE_API_KEY": ""})
    assert result.exit_code == 0, result.output
    assert "no CoinGlass key" in result.output and "no CryptoCompare key" in result.output
    assert set(Store(tmp_path / "a").kinds()) == {"candles_1m", "funding", "fear_greed"}
    intel.fail("/liquidation/", "429", times=1_000)
    limited = download(blofin, intel, tmp_path / "b", "--no-mark")
    assert limited.exit_code == 2 and "run again to resume" in limited.output
    assert COINGLASS_KEY not in limited.output
    assert len(Store(tmp_path / "b").read("open_interest", BTC)) == BARS  # kinds before the failure are kept


def test_a_passing_rate_limit_is_retried_and_history_pages_resume_after_the_last_stored_row(servers, tmp_path: Path) -> None:
    _, intel = servers
    store = Store(tmp_path / "store")

    async def run(end_ms: int) -> list:
        async with aiohttp.ClientSession() as session:
            return await download_intel_history(
                store, [BTC], START_MS, end_ms,
                coinglass=CoinGlassClient(session, COINGLASS_KEY, base_url=intel.url, policy=FAST),
                alternative_me=AlternativeMeClient(session, base_url=intel.url, policy=FAST),
                cryptocompare=CryptoCompareClient(session, CRYPTOCOMPARE_KEY, base_url=intel.url, policy=FAST),
                progress=False,
            )

    half = START_MS + 300 * MINUTE_MS
    asyncio.run(run(half))
    assert store.read("liquidations", BTC)["ts"].iloc[-1] == half - MINUTE_MS
    intel.fail("/liquidation/", "429", times=1)
    before = intel.count("/liquidation/")
    reports = asyncio.run(run(NOW))
    liq = next(r for r in reports if r.kind == "liquidations")
    assert liq.first_ts == half and liq.rows == BARS - 300  # only the new minutes
    assert intel.count("/liquidation/") - before == 3  # the interval probe answered 429, its retry, one page
    assert len(store.read("liquidations", BTC)) == BARS
    social = store.read("social", MARKET)
    assert (np.diff(social["ts"]) == HOUR_MS).all()
    intel.fail("/fng", "500", times=10)
    with pytest.raises(TemporaryError, match="HTTP 500"):
        asyncio.run(run(NOW))


def test_a_three_day_download_brings_every_signal_but_order_flow_live(tmp_path: Path) -> None:
    """Funding needs three days of warm-up, the longest; after it every signal is OK except the book's."""
    bars = 3 * 1440 + 60
    now = START_MS + bars * MINUTE_MS + 30_000
    with FakeBlofin(now_ms=now) as blofin, FakeIntelServer(now_ms=now) as intel:
        app = typer.Typer()
        register_data_commands(app)
        args = ["download", "--symbols", BTC, "--since", str(START_MS), "--until", str(now), "--out", str(tmp_path / "s"),
                "--api-url", blofin.url, "--rate-limit-ms", "1", "--page-limit", "1440", "--intel-url", intel.url, "--no-progress"]
        result = CliRunner().invoke(app, args, env={"COINGLASS_API_KEY": COINGLASS_KEY, "CRYPTOCOMPARE_API_KEY": CRYPTOCOMPARE_KEY})
    assert result.exit_code == 0, result.output
    settings = _staleness()
    _, inputs = load_inputs(Store(tmp_path / "s"), [BTC], START_MS, START_MS + bars * MINUTE_MS, settings.signals)
    status = compute_signals(inputs).status[-30:, 0, :]  # the last half hour
    live = {name: bool((status[:, k] == SignalStatuses.ok).all()) for k, name in enumerate(SIGNAL_NAMES)}
    assert live == {name: name != "order_flow_imbalance" for name in SIGNAL_NAMES}, live
    assert (status[:, SIGNAL_NAMES.index("order_flow_imbalance")] == SignalStatuses.data_outage).all()
    # the backtest on it: the shipped config requires order flow (the book), so it holds off with data_outage;
    # without that requirement no bar lacks an input: what blocks entries is the strategies' own conviction gate
    book_free = settings.model_copy(update={"signals": settings.signals.model_copy(update={"required_signals": []})})
    for config, out in ((settings, "shipped"), (book_free, "book_free")):
        result = run_backtest(tmp_path / "s", config, tmp_path / out, symbols=[BTC], warmup_bars=3 * 1440)
        assert result.summary["invariant_ok"] and result.summary["n_bars"] == bars - 3 * 1440
        blocks = result.summary["gate_counts"]["skipped"]
        assert ("data_outage" in blocks) == (out == "shipped"), blocks
        assert "min_live_signals" not in blocks, blocks
