"""How commands open the warehouse: the ingesting ones with capped memory and no vacuum, the
others with DuckDB's defaults; and an older warehouse upgraded in place by a writing command."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from helpers import all_exports, bill_all, query, replay
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


def _as_older_version(db: Path, version: str) -> None:
    """Rewrite a current warehouse as that version stored it: before version 8, `usage` was a
    table holding every usage record (no `sessions`, no usage columns in `records`); before
    version 4, neither it nor `records` had the integer keys."""
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE usage_rows AS SELECT * FROM usage")
    con.execute("DROP VIEW usage")
    con.execute("ALTER TABLE usage_rows RENAME TO usage")
    con.execute("DROP TABLE sessions")
    for column in ("period", "pair_key", "minute_key"):
        con.execute(f"ALTER TABLE records DROP COLUMN {column}")
    if int(version) < 4:
        con.execute("ALTER TABLE records DROP COLUMN key_hash")
        con.execute("ALTER TABLE usage DROP COLUMN pair_key")
        con.execute("ALTER TABLE usage DROP COLUMN minute_key")
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [version])
    con.close()


@pytest.mark.skipif(not EXAMPLE.is_dir(), reason=f"worked example not at {EXAMPLE}")
@pytest.mark.parametrize("version", ["2", "7"])
def test_an_older_warehouse_is_upgraded_by_the_next_replay(tmp_path: Path, version: str) -> None:
    """A version-2 warehouse (no integer keys) or a version-7 one (a usage table copying every
    usage record) takes the next replay as a new one would."""
    first, rest = EVENTS[:1], EVENTS[1:]
    clean, old = tmp_path / "clean", tmp_path / "old"
    for wh in (clean, old):
        replay(RULES, wh, first)
    _as_older_version(old / warehouse.DB_FILE, version)

    for wh in (clean, old):
        replay(RULES, wh, rest)  # incremental: the scopes go through the restored keys
    periods = bill_all(RULES, clean)
    bill_all(RULES, old)
    assert all_exports(old, periods) == all_exports(clean, periods)
    con = duckdb.connect(str(old / warehouse.DB_FILE), read_only=True)
    missing = con.execute(
        "SELECT count(*) FROM records WHERE reason IS NULL"
        " AND (key_hash IS NULL OR (type LIKE 'ad.%' AND pair_key IS NULL))"
    ).fetchall()
    tables = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE table_name IN ('usage', 'sessions')"
    ).fetchall()
    usage = con.execute("SELECT * FROM usage ORDER BY uid").fetchall()
    version_now = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    con.close()
    assert missing == [(0,)]
    assert tables == [("sessions",)]
    assert usage == query(clean, "SELECT * FROM usage ORDER BY uid")
    assert version_now == [(warehouse.SCHEMA_VERSION,)]


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


def test_a_file_duckdb_cannot_open_is_the_users_error_naming_it(tmp_path: Path) -> None:
    """It was DuckDB's IO error reported as an internal failure (exit 3)."""
    wh = tmp_path / "wh"
    wh.mkdir()
    (wh / warehouse.DB_FILE).write_text("not a database\n")
    for write in (True, False):
        with pytest.raises(warehouse.WarehouseError, match="cannot open the warehouse file") as e:
            with Warehouse.open(wh, write=write, create=write):
                pass
        assert str(wh / warehouse.DB_FILE) in str(e.value)
    assert (wh / warehouse.DB_FILE).read_text() == "not a database\n"


class Failed(Exception):
    pass


def test_a_first_command_makes_the_warehouse_all_or_nothing(tmp_path: Path) -> None:
    """Exports of the empty warehouse a failed first replay left used to show zeros, as if
    there were no usage: the command works in a temporary file, renamed into place when it
    succeeds; a failure (here after its work is stored) leaves no warehouse, as before it."""
    wh = tmp_path / "wh"
    with pytest.raises(Failed):
        with Warehouse.open(wh, write=True, create=True, ingest=True) as w:
            w.con.execute("INSERT INTO runs (run_key, command) VALUES (1, 'replay')")
            assert not (wh / warehouse.DB_FILE).exists()  # not until it succeeds
            raise Failed
    assert sorted(p.name for p in wh.iterdir()) == [warehouse.LOCK_FILE, warehouse.TURNSTILE_FILE]
    with pytest.raises(warehouse.WarehouseError, match="no warehouse at"):
        with Warehouse.open(wh):
            pass
    with Warehouse.open(wh, write=True, create=True, ingest=True) as w:
        w.con.execute("INSERT INTO runs (run_key, command) VALUES (1, 'replay')")
    with Warehouse.open(wh) as w:
        assert w.con.execute("SELECT run_key FROM runs").fetchall() == [(1,)]


def test_an_existing_warehouse_is_never_removed_by_a_failure(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    with Warehouse.open(wh, write=True, create=True):
        pass  # empty, but made by an earlier command
    with pytest.raises(Failed):
        with Warehouse.open(wh, write=True, create=True):
            raise Failed
    assert (wh / warehouse.DB_FILE).exists()


def _no_write_access(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lock files open as for a user who may not write the warehouse directory (tests run as
    root, whom permissions do not stop)."""
    real_open = warehouse.os.open

    def open_(path: object, flags: int, *args: object) -> int:
        if flags & (warehouse.os.O_RDWR | warehouse.os.O_CREAT):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(warehouse.os, "open", open_)


@pytest.mark.parametrize("locked_before", [True, False], ids=["lock-files", "no-lock-files"])
def test_a_reader_without_write_access_reads_the_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, locked_before: bool
) -> None:
    """An analyst reading the operator's warehouse: readers opened the lock files read-write,
    so every export failed with a permission error."""
    wh = tmp_path / "wh"
    replay(RULES, wh, EVENTS)
    before = all_exports(wh)
    if not locked_before:
        for name in (warehouse.LOCK_FILE, warehouse.TURNSTILE_FILE):
            (wh / name).unlink()
    _no_write_access(monkeypatch)
    assert all_exports(wh) == before
    with pytest.raises(warehouse.WarehouseError, match="cannot be written: Permission denied"):
        with Warehouse.open(wh, write=True):
            pass
