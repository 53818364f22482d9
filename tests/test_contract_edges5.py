"""A fifth set of contract edge cases, from a metamorphic audit (the same records as JSON Lines,
CSV and Parquet must give the same outcomes); each expected value follows from CONTRACT.md 1:

- a repeated key or column name: the first occurrence counts, in every format (JSON's rule);
- a Parquet "" is a value (only CSV reads an empty cell as a missing field).

The Parquet column types (float32 is not "double", types DuckDB cannot scan) are cases of
`test_fuzz.test_parquet_column_types`.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from helpers import main_inprocess, query
from scenario import plan_yaml, write_rules

T = "2026-10-05T10:00:00Z"
ACCOUNTS = "accounts:\n- {id: a, plan: p, tax_rate: '0'}\n"
ENVELOPE = ["specversion", "id", "source", "type", "time", "subject"]
IMPRESSION = [*ENVELOPE, "data.campaign", "data.ip", "data.user_agent"]


def _parquet(path: Path, names: list[str], cells: list[str]) -> Path:
    """A one-row Parquet file of string columns (names may repeat)."""
    pq.write_table(pa.Table.from_arrays([pa.array([c]) for c in cells], names=names), path)
    return path


def _rules(tmp_path: Path) -> Path:
    charges = "    ad.impression: {model: per_unit, price: '1'}\n"
    return write_rules(tmp_path, {"p": plan_yaml("p", charges)}, ACCOUNTS)


def _campaigns(tmp_path: Path, path: Path) -> list[tuple[str, str, str]]:
    wh = tmp_path / "wh"
    r = main_inprocess(
        "replay", "--quiet", "--rules", str(_rules(tmp_path)), "--warehouse", str(wh), str(path)
    )
    assert r.returncode == 0, r.stderr
    return query(
        wh, "SELECT id, outcome, campaign FROM record_outcomes JOIN events USING (id) ORDER BY id"
    )


def test_a_repeated_json_key_csv_column_or_parquet_column_takes_its_first(
    tmp_path: Path,
) -> None:
    """One record, one campaign whatever the format: a JSON object's repeated key, a CSV
    header's repeated name and a Parquet file's repeated column all count their first."""
    jsonl = tmp_path / "e.jsonl"
    jsonl.write_text(
        '{"specversion":"1.0","id":"j","source":"s","type":"ad.impression","time":"' + T + '",'
        '"subject":"a","data":{"campaign":"first","ip":"1","user_agent":"u","campaign":"last"}}\n'
    )
    csv = tmp_path / "e.csv"
    csv.write_text(
        "specversion,id,source,type,time,subject,data.campaign,data.ip,data.user_agent,"
        f"data.campaign\n1.0,c,s,ad.impression,{T},a,first,1,u,last\n"
    )
    cells = ["1.0", "p", "s", "ad.impression", T, "a", "first", "1", "u", "last"]
    parquet = _parquet(tmp_path / "e.parquet", [*IMPRESSION, "data.campaign"], cells)
    for path, id_ in ((jsonl, "j"), (csv, "c"), (parquet, "p")):
        got = _campaigns(tmp_path / path.suffix[1:], path)
        assert got == [(id_, "rated", "first")], path.name


def test_an_empty_parquet_string_is_a_value_an_empty_csv_cell_is_missing(
    tmp_path: Path,
) -> None:
    """1: "an empty cell is a missing field" is CSV's rule; in Parquet only a null is missing.
    A campaign "" is a string (JSON's `"campaign":""` is accepted too); in CSV it is missing."""
    cells = ["1.0", "p", "s", "ad.impression", T, "a", "", "1", "u"]
    parquet = _parquet(tmp_path / "e.parquet", IMPRESSION, cells)
    assert _campaigns(tmp_path / "pq", parquet) == [("p", "rated", "")]
    csv = tmp_path / "e.csv"
    csv.write_text(",".join(IMPRESSION) + "\n" + ",".join(cells) + "\n")
    wh = tmp_path / "csv" / "wh"
    r = main_inprocess(
        "replay",
        "--quiet",
        "--rules",
        str(_rules(tmp_path / "csv")),
        "--warehouse",
        str(wh),
        str(csv),
    )
    assert r.returncode == 0, r.stderr
    assert query(wh, "SELECT outcome, reason FROM record_outcomes") == [("rejected", "bad_data")]


def test_a_later_replay_sorts_after_every_stored_run_whatever_the_clock(tmp_path: Path) -> None:
    """2.2 "first record wins" in input order, whose first key is the run. A run key was the
    clock at the replay's start, taken before the warehouse lock: a replay started while
    another held the warehouse, or on a clock set back, sorted before runs already stored, and
    its copy of a (source, id) took the place of the record already rated. Here the stored run
    sits ten minutes in the future, as after a clock set back."""
    rules = _rules(tmp_path)
    wh = tmp_path / "wh"

    def replay(name: str, campaign: str) -> None:
        data = {"campaign": campaign, "ip": "1.2.3.4", "user_agent": "ua"}
        doc = {"specversion": "1.0", "id": "x", "source": "s", "type": "ad.impression"}
        path = tmp_path / f"{name}.jsonl"
        path.write_text(json.dumps({**doc, "time": T, "subject": "a", "data": data}) + "\n")
        args = ("--quiet", "--rules", str(rules), "--warehouse", str(wh), str(path))
        r = main_inprocess("replay", *args)
        assert r.returncode == 0, r.stderr

    replay("first", "A")
    con = duckdb.connect(str(wh / "warehouse.duckdb"))
    for table in ("runs", "records"):
        con.execute(f"UPDATE {table} SET run_key = run_key + 600 * 10**9")
    con.close()
    replay("second", "B")
    assert query(wh, "SELECT campaign, outcome FROM usage_outcomes") == [("A", "rated")]
    outcomes = query(wh, "SELECT outcome, count(*) FROM record_outcomes GROUP BY ALL ORDER BY 1")
    assert outcomes == [("duplicate", 1), ("rated", 1)]
