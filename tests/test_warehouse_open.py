"""How commands open the warehouse: the ingesting ones with capped memory and no vacuum, the
others with DuckDB's defaults; and an older warehouse upgraded in place by a writing command."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from helpers import all_exports, bill_all, replay
from worked_example import EVENTS, EXAMPLE

from pipeline import warehouse
from pipeline.warehouse import Warehouse

RULES = EXAMPLE / "rules"


def _settings(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    names = ("memory_limit", "max_vacuum_tasks")
    rows = con.execute(
        "SELECT name, value FROM duckdb_settings() WHERE name IN (?, ?)", list(names)
    ).fetchall()
    return dict(rows)


def test_ingest_caps_memory_and_skips_vacuum_other_commands_do_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIPELINE_MEMORY_LIMIT", raising=False)
    with Warehouse.open(tmp_path / "wh", write=True, create=True, ingest=True) as wh:
        ingest = _settings(wh.con)
    with Warehouse.open(tmp_path / "wh", write=True) as wh:
        other = _settings(wh.con)
    assert ingest["max_vacuum_tasks"] == "0"
    assert ingest["memory_limit"] in ("1.0 GiB", "953.6 MiB")  # DuckDB prints 1GB either way
    assert other["max_vacuum_tasks"] != "0"
    assert other["memory_limit"] != ingest["memory_limit"]  # DuckDB's default: 80% of RAM

    monkeypatch.setenv("PIPELINE_MEMORY_LIMIT", "512MB")
    for ingesting in (True, False):
        with Warehouse.open(tmp_path / "wh", write=True, ingest=ingesting) as wh:
            assert _settings(wh.con)["memory_limit"] in ("488.2 MiB", "512.0 MiB")


@pytest.mark.skipif(not EXAMPLE.is_dir(), reason=f"worked example not at {EXAMPLE}")
def test_an_older_warehouse_is_upgraded_by_the_next_replay(tmp_path: Path) -> None:
    """A version-2 warehouse (no integer keys) takes the next replay as a new one would."""
    first, rest = EVENTS[:1], EVENTS[1:]
    clean, old = tmp_path / "clean", tmp_path / "old"
    for wh in (clean, old):
        replay(RULES, wh, first)

    con = duckdb.connect(str(old / warehouse.DB_FILE))
    con.execute("ALTER TABLE records DROP COLUMN key_hash")
    con.execute("ALTER TABLE usage DROP COLUMN pair_key")
    con.execute("ALTER TABLE usage DROP COLUMN minute_key")
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.close()

    for wh in (clean, old):
        replay(RULES, wh, rest)  # incremental: the scopes go through the restored keys
    periods = bill_all(RULES, clean)
    bill_all(RULES, old)
    assert all_exports(old, periods) == all_exports(clean, periods)
    con = duckdb.connect(str(old / warehouse.DB_FILE), read_only=True)
    missing = con.execute(
        "SELECT count(*) FROM records WHERE reason IS NULL AND key_hash IS NULL"
    ).fetchall()
    version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    con.close()
    assert missing == [(0,)]
    assert version == [(warehouse.SCHEMA_VERSION,)]


def test_a_warehouse_of_a_later_version_is_refused_never_downgraded(tmp_path: Path) -> None:
    """A writing command used to take any other version for an older one and rewrite it as its
    own: a warehouse written by a later pipeline must be left alone, by readers and writers."""
    wh = tmp_path / "wh"
    replay(RULES, wh, EVENTS)
    con = duckdb.connect(str(wh / warehouse.DB_FILE))
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    for write in (True, False):
        with pytest.raises(warehouse.WarehouseError, match="version 99") as info:
            with Warehouse.open(wh, write=write):
                pass
        assert "upgrade the pipeline" in str(info.value.hint)
    con = duckdb.connect(str(wh / warehouse.DB_FILE), read_only=True)
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall() == [
        ("99",)
    ]


def test_a_duckdb_file_that_is_not_a_warehouse_is_refused_and_left_as_it_was(
    tmp_path: Path,
) -> None:
    """A replay into a directory holding some other DuckDB file used to add the warehouse's
    tables to it before failing: nothing is added, and the error says what the file is not."""
    wh = tmp_path / "other"
    wh.mkdir()
    con = duckdb.connect(str(wh / warehouse.DB_FILE))
    con.execute("CREATE TABLE records (x INTEGER)")
    con.close()
    with pytest.raises(warehouse.WarehouseError, match="is not a pipeline warehouse"):
        with Warehouse.open(wh, write=True, create=True):
            pass
    con = duckdb.connect(str(wh / warehouse.DB_FILE), read_only=True)
    assert con.execute("SELECT table_name FROM duckdb_tables()").fetchall() == [("records",)]
