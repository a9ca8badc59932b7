"""Downloader against a local server that answers like BloFin: pagination, resume, retries, contract sizes, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from botcore.cli.data_io_cmd import register_data_commands
from botcore.errors import DataError, TemporaryError
from botcore.market.download import (
    download_funding,
    download_ohlcv,
    make_exchange,
    record_books,
)
from botcore.market.store import Store
from botcore.net import RetryPolicy, backoff
from tests.fakes.blofin_server import HOUR_MS, MINUTE_MS, START_MS, FakeBlofin

FAST = RetryPolicy(attempts=3, wait=backoff(0.01, 0.02))
BTC = "BTC/USDT:USDT"
NOW = START_MS + 1_000 * MINUTE_MS + 30_000  # the venue's clock: the 1,001st bar is still forming


@pytest.fixture
def fake():
    with FakeBlofin(now_ms=NOW) as server:
        yield server


@pytest.fixture
def exchange(fake: FakeBlofin):
    return make_exchange("blofin", fake.url, rate_limit_ms=1)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store")


def inst(fake: FakeBlofin, inst_id: str) -> dict:
    return next(i for i in fake.instruments if i["instId"] == inst_id)


def get_ohlcv(exchange, store, since=START_MS, until=NOW, **kw):
    return download_ohlcv(exchange, store, BTC, "1m", since, until, retry=FAST, progress=False, **kw)


def test_ohlcv_pages_forward_and_stores_every_closed_bar_as_the_venue_sent_it(fake, exchange, store) -> None:
    report = get_ohlcv(exchange, store)
    assert (report.kind, report.rows, report.pages) == ("candles_1m", 1_000, 10)
    bars = store.read("candles_1m", BTC)
    assert len(bars) == 1_000 and (np.diff(bars["ts"]) == MINUTE_MS).all()
    assert bars["ts"].iloc[-1] == START_MS + 999 * MINUTE_MS  # the forming bar is not stored
    row = fake.candle(inst(fake, "BTC-USDT"), MINUTE_MS, START_MS + 123 * MINUTE_MS)
    stored = bars.iloc[123]
    assert [stored.open, stored.high, stored.low, stored.close] == [float(x) for x in row[1:5]]
    assert stored.volume == float(row[6]) == int(row[5]) * 0.001  # base volume = contracts × contract size
    windows = fake.calls("/market/candles")
    assert [int(c["before"]) + 1 for c in windows] == [START_MS + i * 100 * MINUTE_MS for i in range(10)]
    assert all(c["limit"] == "100" and c["bar"] == "1m" for c in windows)


def test_hourly_candles_come_from_the_1H_bar(fake, exchange, store) -> None:
    report = download_ohlcv(exchange, store, BTC, "1h", START_MS, NOW, retry=FAST, progress=False)
    assert report.rows == 16  # 1,000 minutes: 16 closed hours
    assert {c["bar"] for c in fake.calls("/market/candles")} == {"1H"}
    assert store.read("candles_1h", BTC)["ts"].iloc[-1] == START_MS + 15 * HOUR_MS


def test_a_second_run_resumes_after_the_last_stored_bar(fake, exchange, store) -> None:
    first = get_ohlcv(exchange, store, until=START_MS + 250 * MINUTE_MS)
    assert first.rows == 250
    before = len(fake.calls("/market/candles"))
    second = get_ohlcv(exchange, store)  # same since: resumes, does not refetch
    assert (second.rows, second.first_ts) == (750, START_MS + 250 * MINUTE_MS)
    assert int(fake.calls("/market/candles")[before]["before"]) + 1 == START_MS + 250 * MINUTE_MS
    bars = store.read("candles_1m", BTC)
    assert len(bars) == 1_000 and (np.diff(bars["ts"]) == MINUTE_MS).all()
    assert get_ohlcv(exchange, store).rows == 0  # up to date: nothing new


def test_venue_downtime_leaves_a_gap_and_pagination_walks_past_it(exchange, store) -> None:
    gap = (START_MS + 300 * MINUTE_MS, START_MS + 520 * MINUTE_MS)
    with FakeBlofin(now_ms=NOW, gaps=(gap,)) as fake:
        report = get_ohlcv(make_exchange("blofin", fake.url, rate_limit_ms=1), store)
    assert report.rows == 780 and report.pages == 10
    info = store.info().set_index("kind").loc["candles_1m"]
    assert info.gaps == 220


@pytest.mark.parametrize("status", [429, 503])
def test_a_rate_limit_or_server_error_is_retried_and_nothing_is_lost(fake, exchange, store, status) -> None:
    fake.fail_next("/market/candles", status, count=2, after=3)
    report = get_ohlcv(exchange, store)
    assert report.rows == 1_000 and len(store.read("candles_1m", BTC)) == 1_000
    calls = fake.calls("/market/candles")
    assert len(calls) == 12 and calls[3] == calls[4] == calls[5]  # the fourth page, asked three times


def test_a_venue_down_for_good_raises_temporary_error_keeping_pages_already_fetched(fake, exchange, store) -> None:
    fake.fail_next("/market/candles", 503, count=3, after=4)
    with pytest.raises(TemporaryError, match="gave up after 3 attempts"):
        get_ohlcv(exchange, store)
    assert len(store.read("candles_1m", BTC)) == 400
    assert get_ohlcv(exchange, store).rows == 600  # a rerun resumes
    assert len(store.read("candles_1m", BTC)) == 1_000


def test_an_unknown_symbol_is_a_data_error_and_is_not_retried(fake, exchange, store) -> None:
    with pytest.raises(DataError, match="symbol: 'DOGE/USDT:USDT' is not listed on blofin"):
        download_ohlcv(exchange, store, "DOGE/USDT:USDT", "1m", START_MS, NOW, retry=FAST, progress=False)
    assert fake.calls("/market/candles") == [] and len(fake.calls("/market/instruments")) == 1
    with pytest.raises(DataError, match="timeframe"):
        download_ohlcv(exchange, store, BTC, "15m", START_MS, NOW, retry=FAST, progress=False)


def test_funding_history_pages_by_100_hour_windows_and_resumes(exchange, store) -> None:
    now = START_MS + 10 * 24 * HOUR_MS + 30_000
    with FakeBlofin(now_ms=now) as fake:
        ex = make_exchange("blofin", fake.url, rate_limit_ms=1)
        fake.fail_next("/market/funding-rate-history", 429)
        report = download_funding(ex, store, BTC, START_MS, now, retry=FAST, progress=False)
        assert (report.rows, report.pages) == (31, 3)  # 10 days of 8-hourly settlements, both ends included
        funding = store.read("funding", BTC)
        assert (np.diff(funding["ts"]) == 8 * HOUR_MS).all()
        assert funding["rate"].iloc[5] == pytest.approx(fake.funding_rate("BTC-USDT", START_MS + 40 * HOUR_MS))
        assert download_funding(ex, store, BTC, START_MS, now, retry=FAST, progress=False).rows == 0


def test_hourly_funding_is_complete_although_the_venue_answers_newest_first(exchange, store) -> None:
    now = START_MS + 10 * 24 * HOUR_MS
    with FakeBlofin(now_ms=now, funding_interval_ms=HOUR_MS) as fake:
        ex = make_exchange("blofin", fake.url, rate_limit_ms=1)
        report = download_funding(ex, store, BTC, START_MS, now, retry=FAST, progress=False)
    assert report.rows == 241 and (np.diff(store.read("funding", BTC)["ts"]) == HOUR_MS).all()


def test_order_book_snapshots_convert_contracts_to_base_units(fake, exchange, store) -> None:
    slept: list[float] = []
    reports = record_books(exchange, store, [BTC, "XRP/USDT:USDT"], 3, 30.0, retry=FAST, sleep=slept.append, progress=False)
    assert [r.rows for r in reports] == [3, 3] and slept == [30.0, 30.0]
    for symbol, inst_id, contract_size, first_call in ((BTC, "BTC-USDT", 0.001, 0), ("XRP/USDT:USDT", "XRP-USDT", 10.0, 1)):
        book = store.read("book", symbol)
        bids, asks, ts_ms = fake.book_levels(inst(fake, inst_id), first_call, 10)
        row = book.iloc[0]
        assert row.ts == ts_ms
        assert row.bid_px_1 == float(bids[0][0]) and row.ask_px_10 == float(asks[9][0])
        assert row.bid_sz_1 == pytest.approx(float(bids[0][1]) * contract_size)
        assert row.ask_sz_3 == pytest.approx(float(asks[2][1]) * contract_size)
        assert (book["bid_px_1"] < book["ask_px_1"]).all()


# --------------------------------------------------------------------------- the command line


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register_data_commands(app)
    return app


def test_download_command_writes_candles_funding_and_books(fake, cli, tmp_path: Path) -> None:
    out = tmp_path / "dl"
    args = ["download", "--symbols", f"{BTC},XRP/USDT:USDT", "--since", "2024-03-01", "--until", str(NOW),
            "--out", str(out), "--api-url", fake.url, "--rate-limit-ms", "1", "--book-snapshots", "1", "--book-interval", "0", "--no-progress", "--no-intel"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "candles_1m" in result.output and "1,000" in result.output
    store = Store(out)
    assert set(store.kinds()) == {"candles_1m", "funding", "mark", "book"}
    assert len(store.read("candles_1m", "XRP/USDT:USDT")) == 1_000
    assert store.read("book", "XRP/USDT:USDT")["bid_sz_1"].iloc[0] % 10 == 0  # whole contracts of 10 XRP


def test_botcore_data_group_has_import_and_download_with_help() -> None:
    from botcore.cli import app

    for command in ("import", "download"):
        result = CliRunner().invoke(app, ["data", command, "--help"])
        assert result.exit_code == 0 and f"Usage: botcore data {command}" in result.output and "--out" in result.output


def test_download_command_reports_bad_symbols_and_outages_by_exit_code(fake, cli, tmp_path: Path) -> None:
    base = ["download", "--since", str(START_MS), "--until", str(NOW), "--out", str(tmp_path), "--api-url", fake.url, "--rate-limit-ms", "1", "--no-progress", "--no-intel"]
    bad = CliRunner().invoke(cli, [*base, "--symbols", "NOPE/USDT:USDT"])
    assert bad.exit_code == 1 and "not listed" in bad.output
    fake.fail_next("/market/candles", 503, count=1, after=2)
    down = CliRunner().invoke(cli, [*base, "--symbols", BTC, "--retries", "1"])
    assert down.exit_code == 2 and "run again to resume" in down.output
    assert len(Store(tmp_path).read("candles_1m", BTC)) == 200


def test_import_command_prints_what_it_wrote(cli, tmp_path: Path) -> None:
    csv = tmp_path / "trades.csv"
    csv.write_text(",timestamp,id,type,side,price,amount,cost,date\n0,1675329600138,1,,buy,1,4,4,x\n1,1675329661000,2,,sell,1,2,2,x\n")
    out = tmp_path / "store"
    result = CliRunner().invoke(cli, ["import", str(csv), "--symbol", "ETH/USDT:USDT", "--out", str(out), "--contract-size", "0.5"])
    assert result.exit_code == 0, result.output
    assert "taker" in result.output and "2023-02-02 09:20:00" in result.output
    assert Store(out).read("taker", "ETH/USDT:USDT")["taker_buy_base"].tolist() == [2.0]
    csv.write_text(",timestamp,id,type,side,price,amount,cost,date\n0,1675329600138,1,,up,1,4,4,x\n")
    bad = CliRunner().invoke(cli, ["import", str(csv), "--symbol", "ETH/USDT:USDT", "--out", str(out)])
    assert bad.exit_code == 1 and "field 'side'" in bad.output
