"""Schema versioning: migration from an empty file, ordered upgrades, refusal of newer or foreign files."""

from __future__ import annotations

import sqlite3

import pytest

from botcore.errors import LedgerError
from botcore.ledger import LATEST_VERSION, MIGRATIONS, TABLES, Ledger
from botcore.model import OrderSide
from tests._ledger_helpers import trade


def table_names(path) -> set[str]:
    con = sqlite3.connect(path)
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    con.close()
    return names


def test_empty_database_is_migrated_to_the_latest_schema_but_a_0_byte_file_is_refused(tmp_path):
    truncated = tmp_path / "truncated.db"
    truncated.touch()  # a 0-byte file is a truncated ledger, never silently a new one
    with pytest.raises(LedgerError, match="empty file"):
        Ledger.open(truncated, create=False)
    assert truncated.stat().st_size == 0
    path = tmp_path / "empty.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE scratch (a)")
    con.execute("DROP TABLE scratch")
    con.close()
    with Ledger.open(path, create=False) as ledger:
        assert ledger.schema_version == LATEST_VERSION
        versions = ledger.table("schema_version")["version"].tolist()
    assert versions == list(range(1, LATEST_VERSION + 1))
    assert set(TABLES) <= table_names(path)


def test_every_timestamp_column_is_not_null_except_adopted_entry_times(tmp_path):
    path = tmp_path / "l.db"
    Ledger.open(path).close()
    con = sqlite3.connect(path)
    nullable = []
    for table in TABLES:
        for _, name, _, notnull, _, _pk in con.execute(f"PRAGMA table_info({table})"):
            if name.endswith("ts_ms") and not notnull:
                nullable.append(f"{table}.{name}")
    con.close()
    assert sorted(nullable) == ["positions.entry_ts_ms", "trades.entry_ts_ms"]


def test_trade_without_entry_time_must_come_from_an_adopted_position(tmp_path):
    path = tmp_path / "l.db"
    Ledger.open(path).close()
    con = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        con.execute(
            """INSERT INTO trades (symbol, side, strategy_id, entry_ts_ms, exit_ts_ms, entry_price, exit_price,
               qty_contracts, qty_base, gross_pnl_usd, fees_usd, funding_usd, net_pnl_usd, close_reason,
               closing_fill_id, adopted) VALUES ('X', 1, 's', NULL, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 'f', 0)"""
        )
    con.close()


def test_newer_schema_is_refused_by_writers_and_readers(tmp_path):
    path = tmp_path / "l.db"
    Ledger.open(path).close()
    con = sqlite3.connect(path)
    with con:
        con.execute("INSERT INTO schema_version VALUES (?, 0, 'from the future')", (LATEST_VERSION + 1,))
    con.close()
    with pytest.raises(LedgerError, match=f"schema version {LATEST_VERSION + 1} is newer"):
        Ledger.open(path)
    with pytest.raises(LedgerError, match="newer"):
        Ledger.open(path, readonly=True)


def _v2_add_note(con: sqlite3.Connection) -> None:
    con.execute("ALTER TABLE trades ADD COLUMN note TEXT NOT NULL DEFAULT ''")


def _v2_broken(con: sqlite3.Connection) -> None:
    con.execute("ALTER TABLE trades ADD COLUMN note TEXT")
    raise RuntimeError("migration bug")


def test_existing_ledger_is_upgraded_in_order_and_keeps_its_data(tmp_path):
    path = tmp_path / "l.db"
    with Ledger.open(path, starting_cash_usd=100.0) as ledger:
        trade(ledger, "o1", OrderSide.BUY, 1, 10.0, 0, contract_size=1.0)
        trade(ledger, "o2", OrderSide.SELL, 1, 12.0, 5, contract_size=1.0)
    with Ledger.open(path, migrations=(*MIGRATIONS, _v2_add_note)) as ledger:
        assert ledger.schema_version == LATEST_VERSION + 1
        trades = ledger.trades()
        assert trades["note"].tolist() == [""] and trades["gross_pnl_usd"].tolist() == [2.0]
        assert ledger.check_invariant().ok
        assert ledger.table("schema_version")["version"].tolist()[-1] == LATEST_VERSION + 1


def test_failed_migration_leaves_the_ledger_at_its_old_version(tmp_path):
    path = tmp_path / "l.db"
    Ledger.open(path).close()
    with pytest.raises(RuntimeError, match="migration bug"):
        Ledger.open(path, migrations=(*MIGRATIONS, _v2_broken))
    with Ledger.open(path) as ledger:
        assert ledger.schema_version == LATEST_VERSION
        assert "note" not in ledger.trades().columns


def test_reader_refuses_an_older_schema_it_cannot_migrate(tmp_path):
    path = tmp_path / "l.db"
    Ledger.open(path).close()
    with pytest.raises(LedgerError, match="open it once as a writer"):
        Ledger.open(path, readonly=True, migrations=(*MIGRATIONS, _v2_add_note))


def test_files_that_are_not_ledgers_are_refused(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all, just some text padding it out" * 20)
    with pytest.raises(LedgerError, match="not a"):
        Ledger.open(junk)
    foreign = tmp_path / "foreign.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE users (id INTEGER)")
    con.close()
    with pytest.raises(LedgerError, match="not a botcore ledger"):
        Ledger.open(foreign)
    with pytest.raises(LedgerError, match="does not exist"):
        Ledger.open(tmp_path / "missing.db", create=False)
    with pytest.raises(LedgerError, match="does not exist"):
        Ledger.open(tmp_path / "missing.db", readonly=True)
    assert not (tmp_path / "missing.db").exists()
