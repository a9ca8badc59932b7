"""``botcore data import`` and ``botcore data download``: bring market data into a store.

:func:`register_data_commands` adds both commands to the ``data`` group that
:mod:`botcore.cli.data_cmd` defines.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from botcore.errors import DataError, OperationalError, TemporaryError

FORMAT_HELP = (
    "freqtrade-feather, freqtrade-json, csv, pandas-json, trades-csv, funding-csv, binance-feed, cryptodatadownload, "
    "binance-klines, binance-aggtrades, binance-funding, binance-metrics, binance-depth, tardis-trades, "
    "tardis-book-snapshot or tardis-derivative-ticker (detected from the file name and header when omitted)."
)


def parse_time_ms(text: str) -> int:
    """Return epoch ms from an ISO date or datetime (UTC unless it says otherwise) or from integer ms."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is neither an ISO date/datetime nor epoch milliseconds") from None
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int((stamp - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1))


def _when(ts_ms: int | None) -> str:
    return "" if ts_ms is None else pd.Timestamp(ts_ms, unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M:%S")


def _console() -> Console:
    """A console wide enough that summary tables are not truncated when piped."""
    return Console(width=None if sys.stdout.isatty() else 160)


def _split_symbols(values: list[str]) -> list[str]:
    return [s.strip() for value in values for s in value.split(",") if s.strip()]


def register_data_commands(data_app: typer.Typer) -> None:
    """Add ``import`` and ``download`` to the ``botcore data`` group."""

    @data_app.command("import")
    def import_(
        path: Path = typer.Argument(..., exists=True, dir_okay=False, help="The file to import."),
        out: Path = typer.Option(..., "--out", help="Store directory (created if missing)."),
        format: str = typer.Option(None, "--format", "-f", help=FORMAT_HELP),
        symbol: str = typer.Option(None, "--symbol", "-s", help="ccxt unified symbol, e.g. BTC/USDT:USDT (inferred from freqtrade file names)."),
        contract_size: float = typer.Option(1.0, "--contract-size", min=0, help="Base units per contract for book and trade sizes (1 when the source quotes base units)."),
        volume_unit: str = typer.Option("quote", "--volume-unit", help="Unit of 'volume' in exchange CSV candles: quote (converted to base by close, e.g. FTX) or base."),
        contract_value: float = typer.Option(None, "--contract-value", help="Coin-margined (inverse) symbols such as BTC/USD:BTC: quote units (USD) per contract, e.g. 100 for Binance COIN-M BTCUSD."),
        skip_lines: int = typer.Option(None, "--skip-lines", min=0, help="csv: lines above the header (a vendor banner)."),
        column: list[str] = typer.Option(None, "--column", help="csv: FIELD=COLUMN, renaming a file column to timestamp, open, high, low, close or volume (repeatable)."),
        time_column: str = typer.Option(None, "--time-column", help="csv: the column with the bar open time (default: timestamp)."),
        time_unit: str = typer.Option(None, "--time-unit", help="csv: unit of numeric times: s, ms, us, ns or auto (by magnitude); default ms."),
        time_format: str = typer.Option(None, "--time-format", help="csv: strptime format of text times, e.g. '%d/%m/%Y %H:%M' (default ISO 8601)."),
        time_zone: str = typer.Option(None, "--time-zone", help="csv: zone of naive text times, e.g. Europe/Berlin (default UTC)."),
        order: str = typer.Option(None, "--order", help="csv: expected row order: ascending, descending or any (default)."),
        resample: str = typer.Option("", "--resample", help="Also store these timeframes built from the file's candles (or trades), e.g. 5m,1h."),
    ) -> None:
        """Import one market-data file into a Parquet store and print what was written.

        Freqtrade feather/JSON candles ('-mark' files become mark prices,
        '-funding_rate' files funding rates), exchange CSV candles, pandas
        column-oriented JSON candles, trade lists with aggressor side (summed to
        per-minute taker buy/sell volume), headerless funding CSVs and raw
        Binance USDT-M feeds (depth diffs replayed into top-10 book snapshots
        each minute, trades summed to taker volume). Rows merge with what the
        store holds, newer rows winning on equal timestamps.
        """
        from botcore.market.frames import CsvOptions
        from botcore.market.importers import import_path
        from botcore.market.store import Store

        layout: dict[str, Any] = {"skip_lines": skip_lines, "time_column": time_column, "time_unit": time_unit, "time_format": time_format,
                  "time_zone": time_zone, "order": order}
        layout = {k: v for k, v in layout.items() if v is not None}
        pairs = [c.partition("=") for c in column or []]
        if any(not field or not sep or not name for field, sep, name in pairs):
            raise typer.BadParameter("--column takes FIELD=COLUMN, e.g. timestamp=Date")
        if pairs:
            layout["columns"] = tuple((field.strip(), name.strip()) for field, _, name in pairs)
        if layout and format not in (None, "csv"):
            raise typer.BadParameter(f"--skip-lines, --column and the --time-* and --order options describe a csv file, not {format}")
        try:
            imported = import_path(
                path, "csv" if layout else format, symbol, contract_size=contract_size, volume_unit=volume_unit,  # type: ignore[arg-type]
                contract_value=contract_value, csv_options=CsvOptions(**layout) if layout else None,
                resample_to=_split_symbols([resample]),
            )
            store = Store(out)
            table = Table(title=f"{path.name} ({imported.format.value}) → {out}")
            for col in ("kind", "symbol", "rows", "first", "last", "stored"):
                table.add_column(col, justify="right" if col in ("rows", "stored") else "left")
            for kind, df in imported.frames.items():
                stored = store.write(kind, imported.symbol, df)
                first, last = (int(df["ts"].iloc[0]), int(df["ts"].iloc[-1])) if len(df) else (None, None)
                table.add_row(kind, imported.symbol, f"{len(df):,}", _when(first), _when(last), f"{stored:,}")
        except DataError as exc:
            typer.secho(f"import failed: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from None
        _console().print(table)

    @data_app.command("download")
    def download(
        symbols: list[str] = typer.Option(..., "--symbols", help="ccxt unified symbols, comma-separated or repeated."),
        since: str = typer.Option(..., "--since", help="Start: ISO date/datetime in UTC (2024-01-01) or epoch ms."),
        out: Path = typer.Option(..., "--out", help="Store directory (created if missing)."),
        exchange_id: str = typer.Option("blofin", "--exchange", help="ccxt exchange id."),
        timeframe: str = typer.Option("1m", "--timeframe", help="Candle timeframe stored natively: 1m, 5m or 1h."),
        until: str = typer.Option(None, "--until", help="End (default: now); only bars closed by then are stored."),
        funding: bool = typer.Option(True, "--funding/--no-funding", help="Also download the funding-rate history."),
        book_snapshots: int = typer.Option(0, "--book-snapshots", min=0, help="Then record N live order-book snapshots per symbol."),
        book_interval: float = typer.Option(60.0, "--book-interval", min=0, help="Seconds between order-book snapshots."),
        page_limit: int = typer.Option(100, "--page-limit", min=1, max=1440, help="Candles per request."),
        api_url: str = typer.Option(None, "--api-url", help="Override the REST base URL (e.g. a local test server)."),
        rate_limit_ms: int = typer.Option(None, "--rate-limit-ms", min=0, help="Milliseconds between requests (default: the venue's limit)."),
        retries: int = typer.Option(6, "--retries", min=1, help="Attempts per request on rate limits and server errors (backoff 1 s doubling to 60 s)."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
        mark: bool = typer.Option(True, "--mark/--no-mark", help="Also download the 1m mark-price history."),
        intel: bool = typer.Option(True, "--intel/--no-intel", help="Also download open interest, liquidations and taker flow (CoinGlass), fear & greed (Alternative.me) and social (CryptoCompare); keys from COINGLASS_API_KEY and CRYPTOCOMPARE_API_KEY."),
        intel_url: str = typer.Option(None, "--intel-url", help="Override the CoinGlass, Alternative.me and CryptoCompare base URLs (e.g. a local test server)."),
        coinglass_exchange: str = typer.Option("Binance", "--coinglass-exchange", help="Exchange whose CoinGlass pair history is read."),
        social_coins: str = typer.Option("BTC", "--social-coins", help="Coins whose CryptoCompare activity makes up the market-wide social input, comma-separated."),
    ) -> None:
        """Download the history a backtest needs from an exchange and the intelligence providers into a Parquet store.

        Paginates ccxt's fetch_ohlcv and fetch_funding_rate_history, resumes after
        the last stored timestamp (run it again to continue or to catch up),
        adds the 1m mark price (--mark) and, with --intel, open interest,
        liquidations and taker flow from CoinGlass at the finest interval the
        key's plan allows (the table says which), the fear & greed history and
        the social history (see botcore.intel.history),
        spaces requests by the venue's rate limit and retries rate-limit and
        server errors with backoff. With --book-snapshots N it then records N
        live order books per symbol, sizes converted from contracts to base
        units. Exits 2 when the venue stays unavailable (rows fetched so far are kept).
        """
        from botcore.market.download import (
            DOWNLOAD_RETRY,
            download_funding,
            download_mark,
            download_ohlcv,
            make_exchange,
            record_books,
        )
        from botcore.market.store import Store

        store = Store(out)
        since_ms = parse_time_ms(since)
        until_ms = parse_time_ms(until) if until else None
        retry = replace(DOWNLOAD_RETRY, attempts=retries)
        reports = []
        try:
            exchange = make_exchange(exchange_id, api_url, rate_limit_ms)
            for symbol in _split_symbols(symbols):
                reports.append(download_ohlcv(exchange, store, symbol, timeframe, since_ms, until_ms, page_limit=page_limit, retry=retry, progress=progress))
                if funding:
                    reports.append(download_funding(exchange, store, symbol, since_ms, until_ms, retry=retry, progress=progress))
                if mark:
                    reports.append(download_mark(exchange, store, symbol, since_ms, until_ms, page_limit=page_limit, retry=retry, progress=progress))
            if intel:
                end_ms = until_ms if until_ms is not None else exchange.milliseconds()
                reports += _download_intel(store, _split_symbols(symbols), since_ms, end_ms, intel_url, coinglass_exchange,
                                           _split_symbols([social_coins]), retries, progress)
            if book_snapshots:
                reports += record_books(exchange, store, _split_symbols(symbols), book_snapshots, book_interval, retry=retry, progress=progress)
        except (DataError, OperationalError) as exc:
            typer.secho(f"download failed: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from None
        except TemporaryError as exc:
            typer.secho(f"a provider is unavailable, run again to resume: {exc}", fg=typer.colors.YELLOW, err=True)
            raise typer.Exit(2) from None
        table = Table(title=f"{exchange_id} → {out}")
        for col in ("kind", "symbol", "rows", "first", "last", "requests", "interval"):
            table.add_column(col, justify="right" if col in ("rows", "requests") else "left")
        for r in reports:
            table.add_row(r.kind, r.symbol, f"{r.rows:,}", _when(r.first_ts), _when(r.last_ts), str(r.pages), getattr(r, "interval", ""))
        _console().print(table)
        for r in reports:
            note = getattr(r, "note", "")
            if note:
                typer.echo(f"{r.kind} {r.symbol}: {note}")
        if not book_snapshots:
            typer.echo("Not downloaded: the order book (no history exists; record it live with --book-snapshots N or the live feed).")


def _download_intel(store, symbols: list[str], start_ms: int, end_ms: int, url: str | None, exchange: str,
                    coins: list[str], retries: int, progress: bool) -> list:
    """Run :func:`botcore.intel.history.download_intel_history` with keys from the environment."""
    import asyncio
    import os

    import aiohttp

    from botcore.intel.clients import (
        ALTERNATIVE_ME_URL,
        COINGLASS_URL,
        CRYPTOCOMPARE_URL,
        AlternativeMeClient,
        CoinGlassClient,
        CryptoCompareClient,
    )
    from botcore.intel.history import download_intel_history
    from botcore.net import RetryPolicy

    policy = RetryPolicy(attempts=retries)
    cg_key, cc_key = os.environ.get("COINGLASS_API_KEY") or None, os.environ.get("CRYPTOCOMPARE_API_KEY") or None

    async def run() -> list:
        async with aiohttp.ClientSession() as session:
            return await download_intel_history(
                store, symbols, start_ms, end_ms,
                coinglass=CoinGlassClient(session, cg_key, base_url=url or COINGLASS_URL, policy=policy) if cg_key else None,
                alternative_me=AlternativeMeClient(session, base_url=url or ALTERNATIVE_ME_URL, policy=policy),
                cryptocompare=CryptoCompareClient(session, cc_key, base_url=url or CRYPTOCOMPARE_URL, policy=policy) if cc_key else None,
                exchange=exchange, social_coins=coins or ("BTC",), progress=progress,
            )

    return asyncio.run(run())
