"""Failures that are the user's to fix get one line naming what to do, exit 1 (or click's 2 for
a bad option), and leave no warehouse behind that a failed first replay made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import main_inprocess
from worked_example import EVENTS, EXAMPLE

from pipeline.warehouse import DB_FILE

RULES = str(EXAMPLE / "rules")


def test_an_empty_warehouse_option_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It meant the current directory: a replay wrote warehouse.duckdb among the user's files."""
    monkeypatch.chdir(tmp_path)
    r = main_inprocess("replay", "--rules", RULES, "--warehouse", "", *map(str, EVENTS))
    assert r.returncode == 2
    assert "'--warehouse': is empty" in r.stderr
    assert list(tmp_path.iterdir()) == []
    # an empty variable is an unset one (as docs/cli.md says): ./warehouse
    monkeypatch.setenv("PIPELINE_WAREHOUSE", "")
    r = main_inprocess("export", "reconcile")
    assert r.returncode == 1
    assert r.stderr.startswith("error: no warehouse at warehouse ")


def test_a_memory_limit_duckdb_does_not_take_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It read as a warehouse file that cannot be opened, even with no warehouse there."""
    monkeypatch.setenv("PIPELINE_MEMORY_LIMIT", "bogus")
    wh = tmp_path / "wh"
    r = main_inprocess("replay", "--rules", RULES, "--warehouse", str(wh), *map(str, EVENTS))
    assert r.returncode == 1
    assert r.stderr.startswith("error: PIPELINE_MEMORY_LIMIT='bogus' is not a memory size")
    assert not (wh / DB_FILE).exists()


def test_a_warehouse_file_duckdb_cannot_open_is_exit_1_naming_it(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    wh.mkdir()
    (wh / DB_FILE).write_text("garbage\n")
    for args in (
        ("replay", "--rules", RULES, "--warehouse", str(wh), *map(str, EVENTS)),
        ("export", "reconcile", "--warehouse", str(wh)),
    ):
        r = main_inprocess(*args)
        assert r.returncode == 1, r.stderr
        assert r.stderr.startswith(f"error: cannot open the warehouse file {wh / DB_FILE}: ")
        assert "not a valid DuckDB database file" in r.stderr


def test_a_record_too_big_for_the_memory_cap_names_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One record of tens of MB needs more than the 1 GB ingest cap: DuckDB's out-of-memory
    error was an internal failure (exit 3) that named nothing to change. Here a 3 MB record
    under a 16 MB cap."""
    big = {
        "specversion": "1.0",
        "id": "big",
        "source": "s",
        "type": "ad.click",
        "time": "2026-03-01T00:00:00Z",
        "subject": "acme",
        "data": {"campaign": "c", "ip": "1.2.3.4", "user_agent": "x" * 3_000_000},
    }
    events = tmp_path / "big.jsonl"
    events.write_text(json.dumps(big) + "\n")
    monkeypatch.setenv("PIPELINE_MEMORY_LIMIT", "16MB")
    wh = tmp_path / "wh"
    r = main_inprocess("replay", "--rules", RULES, "--warehouse", str(wh), str(events))
    assert r.returncode == 1, r.stderr
    assert "Out of Memory" in r.stderr and "raise PIPELINE_MEMORY_LIMIT" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (wh / DB_FILE).exists()  # the failed first replay left no empty warehouse
    monkeypatch.setenv("PIPELINE_MEMORY_LIMIT", "1GB")
    r = main_inprocess("replay", "--rules", RULES, "--warehouse", str(wh), str(events))
    assert r.returncode == 0, r.stderr
