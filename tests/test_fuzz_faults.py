"""Fuzz tests (hypothesis): the CLI's arguments, the configuration, store files and ledger damage never end in a
traceback — every fault is a clean error (a DataError / LedgerError / exit code with a message)."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from botcore.cli import app
from botcore.cli.overrides import OverrideError, check_overrides
from botcore.config import load_settings
from botcore.engine.preflight import run_preflight
from botcore.errors import BotcoreError, ConfigError, DataError
from botcore.ledger import Ledger
from botcore.ledger.integrity import check_integrity
from botcore.market.store import KINDS, Store
from botcore.ops.status import collect_status
from tests._ledger_helpers import STARTING_CASH_USD, write_cycle
from tests.conftest import CONFIG_DIR

runner = CliRunner()
FUZZ = settings(max_examples=int(os.environ.get("BOTCORE_FUZZ_EXAMPLES", "40")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow])
SETTINGS = load_settings(CONFIG_DIR)


def _clean(result) -> None:
    """A command ended as a CLI should: an exit code, never an uncaught exception or a printed traceback."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}\n{result.output[-2000:]}")
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fuzz")
    ledger = root / "ledger.db"
    with Ledger.open(ledger, starting_cash_usd=STARTING_CASH_USD) as led:
        for i in range(40):
            write_cycle(led, i)
    con = sqlite3.connect(ledger)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    (root / "garbage.db").write_bytes(os.urandom(3000))
    (root / "empty.db").write_bytes(b"")
    (root / "adir").mkdir()
    return {"root": root, "ledger": ledger}


# --------------------------------------------------------------------------- CLI arguments

TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=12)
NUMBER = st.one_of(st.integers(-10**12, 10**12).map(str), st.floats(allow_nan=True, allow_infinity=True).map(str))
OVERRIDE = st.one_of(TEXT, st.tuples(st.sampled_from(["kelly_conviction_pivot", "min_conviction",
                                                      "min_conviction.trend_conservative", "bogus", "max_leverage",
                                                      "allocation.breakout_aggressive", "kelly_fraction"]),
                                     st.one_of(NUMBER, TEXT)).map(lambda kv: f"{kv[0]}={kv[1]}"))


@st.composite
def argv(draw, paths: dict[str, Path]) -> list[str]:
    ledger = draw(st.sampled_from([str(paths["root"] / n) for n in ("garbage.db", "empty.db", "adir", "none/x.db")]
                                  + [str(paths["ledger"])]))
    data = draw(st.sampled_from([str(paths["root"] / "adir"), str(paths["root"] / "nowhere"),
                                 str(paths["root"] / "garbage.db")]))
    time_text = draw(st.one_of(NUMBER, TEXT, st.just("2024-01-04 12:00")))
    out = draw(st.sampled_from([str(paths["root"] / "out"), str(paths["root"] / "garbage.db")]))  # a file in the way
    command = draw(st.sampled_from(["run", "backtest", "sweep", "ledger check", "ledger export", "status", "kill",
                                    "preflight", "config check", "data info", "review"]))
    base = {
        "run": ["run", "--data", data, "--ledger", ledger, "--start", time_text],
        "backtest": ["backtest", "--data", data, "--out", out, "--end", time_text],
        "sweep": ["sweep", "--data", data, "--out", out, "--grid",
                  draw(st.one_of(TEXT, st.just("kelly_fraction=0.2,0.3")))],
        "ledger check": ["ledger", "check", ledger],
        "ledger export": ["ledger", "export", ledger, "--out", out, "--table",
                          draw(st.sampled_from(["fills", "nope", "meta"]))],
        "status": ["status", "--ledger", ledger],
        "kill": ["kill", "--ledger", ledger, "--why", draw(TEXT)] + draw(st.sampled_from([[], ["--release"],
                                                                                          ["--flatten", "--no-file"]])),
        "preflight": ["preflight", "--ledger", ledger, "--check", "ledger_integrity", "--no-record"],
        "config check": ["config", "check", "-q"],
        "data info": ["data", "info", data],
        "review": ["review", "--ledger", ledger, "--days", draw(NUMBER), "--out", str(paths["root"] / "rv")],
    }[command]
    if command in ("run", "backtest", "sweep"):
        base += [x for o in draw(st.lists(OVERRIDE, max_size=3)) for x in ("--override", o)]
    if command not in ("ledger check", "ledger export", "data info"):
        base += ["--config", str(CONFIG_DIR)]
    return base


@FUZZ
@given(data=st.data())
def test_the_cli_never_ends_in_a_traceback(world, data):
    _clean(runner.invoke(app, data.draw(argv(world))))


@FUZZ
@given(items=st.lists(OVERRIDE, min_size=1, max_size=4))
def test_override_mistakes_are_override_errors(items):
    from botcore.cli.overrides import parse_override_items

    try:
        check_overrides(SETTINGS, parse_override_items(items))
    except OverrideError as exc:
        assert "--override" in str(exc)


# --------------------------------------------------------------------------- configuration

YAML_VALUE = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6), TEXT,
                       st.booleans(), st.none(), st.lists(st.integers(), max_size=3))


@FUZZ
@given(data=st.data())
def test_a_configuration_config_check_accepts_is_one_run_accepts(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("cfg")
    shutil.copytree(CONFIG_DIR, root / "config")
    files = sorted((root / "config").glob("*.yaml"))
    target = data.draw(st.sampled_from(files))
    doc = yaml.safe_load(target.read_text()) or {}
    scalars = [k for k, v in doc.items() if not isinstance(v, (dict, list))] if isinstance(doc, dict) else []
    nested = [(k, kk) for k, v in doc.items() if isinstance(v, dict) for kk in v] if isinstance(doc, dict) else []
    if not scalars and not nested:
        return
    where = data.draw(st.sampled_from([(k,) for k in scalars] + nested))
    value = data.draw(YAML_VALUE)
    if len(where) == 1:
        doc[where[0]] = value
    else:
        doc[where[0]][where[1]] = value
    target.write_text(yaml.safe_dump(doc))
    result = runner.invoke(app, ["config", "check", "-q", "--config", str(root / "config")])
    _clean(result)
    if result.exit_code == 0:  # accepted: the run's parameters build from it
        check_overrides(load_settings(root / "config"), {})
    else:
        with pytest.raises((ConfigError, OverrideError)):
            check_overrides(load_settings(root / "config"), {})


# --------------------------------------------------------------------------- store files

@FUZZ
@given(data=st.data())
def test_any_store_file_reads_back_or_raises_a_data_error(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("store")
    store = Store(root)
    kind = data.draw(st.sampled_from(["candles_1m", "funding", "book", "taker", "fear_greed"]))
    path = store.path(kind, "BTC/USDT:USDT")
    path.parent.mkdir(parents=True, exist_ok=True)
    if data.draw(st.booleans()):
        path.write_bytes(data.draw(st.binary(max_size=400)))
    else:
        n = data.draw(st.integers(0, 6))
        cols = ["ts", *KINDS[kind].all_columns[:3]] + data.draw(st.lists(st.sampled_from(["x", "close", "ts"]),
                                                                          max_size=1))
        frame = {}
        for c in dict.fromkeys(cols):
            frame[c] = data.draw(st.one_of(
                st.lists(st.integers(-2**62, 2**62), min_size=n, max_size=n),
                st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=n, max_size=n),
                st.lists(TEXT, min_size=n, max_size=n),
                st.just([1_704_067_200_000 + 60_000 * i for i in range(n)])))
        pq.write_table(pa.Table.from_pandas(pd.DataFrame(frame), preserve_index=False), path)
    for read in (lambda: store.read(kind, "BTC/USDT:USDT"), lambda: store.last_ts(kind, "BTC/USDT:USDT"), store.info,
                 lambda: store.read_panel(kind, ["BTC/USDT:USDT"], KINDS[kind].columns[0])):
        try:
            out = read()
        except DataError as exc:
            assert str(path) in str(exc)
        else:
            if isinstance(out, pd.DataFrame) and "ts" in out.columns and len(out) > 1:
                assert (np.diff(out["ts"].to_numpy()) > 0).all()
    _clean(runner.invoke(app, ["data", "info", str(root)]))


# --------------------------------------------------------------------------- ledger damage

@FUZZ
@given(damage=st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=4096)), min_size=1, max_size=3),
       cut=st.one_of(st.none(), st.floats(0, 1)))
def test_damaged_ledgers_are_reported_never_raised(world, tmp_path_factory, damage, cut):
    path = tmp_path_factory.mktemp("damage") / "ledger.db"
    shutil.copy(world["ledger"], path)
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        for where, junk in damage:
            fh.seek(int(where * size))
            fh.write(junk)
    if cut is not None:
        os.truncate(path, int(cut * size))
    report = check_integrity(path)
    if report.ok:  # damage SQLite cannot see (free pages, a value's bytes): the ledger stays readable
        try:
            with Ledger.open(path, readonly=True) as led:
                led.check_invariant()
        except BotcoreError:
            pass
    _clean(runner.invoke(app, ["ledger", "check", str(path)]))
    status = collect_status(path)
    assert report.ok or not status["healthy"]
    pre = run_preflight(SETTINGS, path, checks=("ledger_integrity", "financial_integrity"))
    assert report.ok or not pre.ok
