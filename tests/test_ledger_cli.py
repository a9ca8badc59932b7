"""``botcore ledger check`` and ``botcore ledger export`` as a user runs them."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd
import pytest
from typer.testing import CliRunner

from botcore.cli import app
from botcore.ledger import LATEST_VERSION, TABLES, Ledger
from botcore.model import OrderSide
from tests._ledger_helpers import trade

runner = CliRunner()


@pytest.fixture()
def ledger_path(tmp_path):
    path = tmp_path / "ledger.db"
    with Ledger.open(path, starting_cash_usd=1_000.0) as ledger:
        trade(ledger, "o1", OrderSide.BUY, 2, 100.0, 0, fee_usd=0.12, contract_size=1.0)
        trade(ledger, "o2", OrderSide.SELL, 2, 105.0, 10, fee_usd=0.126, contract_size=1.0)
        trade(ledger, "o3", OrderSide.BUY, 1, 104.0, 20, fee_usd=0.0624, contract_size=1.0)
    return path


def test_check_reports_ok_with_schema_version(ledger_path):
    result = runner.invoke(app, ["ledger", "check", str(ledger_path)])
    assert result.exit_code == 0, result.output
    assert f"schema v{LATEST_VERSION}" in result.output and "invariant OK" in result.output
    assert "cash 1009.691600" in result.output


def test_check_exits_1_and_shows_the_amount_when_a_fill_is_missing(ledger_path):
    con = sqlite3.connect(ledger_path)
    with con:
        con.execute("DELETE FROM fills WHERE fill_id = 'o3-f'")
    con.close()
    result = runner.invoke(app, ["ledger", "check", str(ledger_path)])
    assert result.exit_code == 1
    assert "invariant BROKEN" in result.output
    assert "diff -0.062400" in result.output  # the dropped fill's fee, still charged to cash
    as_json = runner.invoke(app, ["ledger", "check", str(ledger_path), "--json"])
    assert as_json.exit_code == 1
    report = json.loads(as_json.stdout)
    assert report["ok"] is False and report["cash_diff_usd"] == pytest.approx(-0.0624)


def test_check_exits_2_on_a_file_that_is_not_a_ledger(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_text("not a database" * 100)
    result = runner.invoke(app, ["ledger", "check", str(junk)])
    assert result.exit_code == 2 and "ledger unusable" in result.output


def test_export_writes_one_csv_per_table(ledger_path, tmp_path):
    out = tmp_path / "export"
    result = runner.invoke(app, ["ledger", "export", str(ledger_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.stem for p in out.glob("*.csv")) == sorted(TABLES)
    fills = pd.read_csv(out / "fills.csv")
    assert fills["fill_id"].tolist() == ["o1-f", "o2-f", "o3-f"]
    assert pd.read_csv(out / "trades.csv")["gross_pnl_usd"].tolist() == [10.0]


def test_every_ledger_command_explains_itself_in_help():
    for command in ("check", "export"):
        result = runner.invoke(app, ["ledger", command, "--help"])
        assert result.exit_code == 0
        assert "ledger" in result.output.lower() and len(result.output) > 300
