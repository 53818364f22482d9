"""Validation reads the paths that must hold a string as VARCHARs, which render any other JSON
value as text too, and parses a row a second time, into JSON fragments, only when such a text
could be another value (pipeline/validate.py). These tests pin the two readings to one answer:
a string path holding a number, boolean, list or object is not a string, whichever reading
judged it, and a string whose text looks like one of those is a string."""

from __future__ import annotations

import json
import random
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from pipeline.raw_input import raw_table
from pipeline.validate import _looks_like_value, register_functions, validate_sql

BASE: dict[str, dict[str, Any]] = {
    "ad.click": {"impression_id": "i1", "campaign": "c", "ip": "1.2.3.4", "user_agent": "ua"},
    "telecom.voice": {
        "subscriber": "s",
        "destination": "+15550100",
        "duration_s": 5,
        "session": {"id": "x", "seq": 1, "last": True},
    },
    "quality.incident": {"incident_id": "inc", "service": "svc", "state": "open"},
    "quality.probe": {"service": "svc", "region": "eu", "ok": True},
}
# Every path that must hold a string, with the type whose record carries it.
STRING_PATHS = [
    ("ad.click", "id"),
    ("ad.click", "source"),
    ("ad.click", "type"),
    ("ad.click", "time"),
    ("ad.click", "subject"),
    ("ad.click", "data.impression_id"),
    ("ad.click", "data.campaign"),
    ("ad.click", "data.ip"),
    ("ad.click", "data.user_agent"),
    ("telecom.voice", "data.subscriber"),
    ("telecom.voice", "data.destination"),
    ("telecom.voice", "data.session.id"),
    ("quality.incident", "data.incident_id"),
    ("quality.incident", "data.service"),
    ("quality.incident", "data.state"),
    ("quality.probe", "data.region"),
]
OTHER_VALUES = [12, -3, 0, 1.5, 1e300, -1.25e-7, 10**30, True, False, [1], ["x"], {"a": 1}, {}]


def _doc(type_: str, path: str, value: Any) -> str:
    doc: dict[str, Any] = {
        "specversion": "1.0",
        "id": "e1",
        "source": "src",
        "type": type_,
        "time": "2026-10-01T00:00:00Z",
        "subject": "acme",
        "data": json.loads(json.dumps(BASE[type_])),
    }
    *parents, leaf = path.split(".")
    node = doc
    for key in parents:
        node = node[key]
    node[leaf] = value
    return json.dumps(doc)


def _reasons(lines: list[str]) -> list[str | None]:
    raw = pa.array([line.encode() for line in lines], pa.binary())
    numbers = np.arange(1, len(lines) + 1, dtype=np.int64)
    table = raw_table(1, 0, "t.jsonl", numbers, raw, None, None)
    table = table.append_column("eid", pa.array(numbers))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    register_functions(con)
    con.register("batch", table)
    rows = con.execute(f"SELECT line, reason FROM ({validate_sql('batch')}) ORDER BY line")
    return [reason for _, reason in rows.fetchall()]


def _expected_rejection(path: str) -> str:
    return "bad_data" if path.startswith("data.") else "missing_field"


def test_a_string_path_holding_any_other_json_value_is_rejected() -> None:
    cases = [(t, p, v) for t, p in STRING_PATHS for v in OTHER_VALUES]
    reasons = _reasons([_doc(t, p, v) for t, p, v in cases])
    wrong = [
        (t, p, v, got)
        for (t, p, v), got in zip(cases, reasons, strict=True)
        if got != _expected_rejection(p)
    ]
    assert wrong == []


def test_a_string_whose_text_looks_like_another_json_value_is_a_string() -> None:
    free = [(t, p) for t, p in STRING_PATHS if p not in ("type", "time", "data.destination")]
    free.remove(("quality.incident", "data.state"))
    texts = ["12", "-3", "1.5", "1e+300", "true", "false", "[1]", '{"a":1}', "[", "{x"]
    cases = [(t, p, v) for t, p in free for v in texts]
    reasons = _reasons([_doc(t, p, v) for t, p, v in cases])
    wrong = [(t, p, v, got) for (t, p, v), got in zip(cases, reasons, strict=True) if got]
    assert wrong == []
    # ... and where the text must also be of a form, it is judged on it as before
    assert _reasons(
        [
            _doc("ad.click", "type", "12"),
            _doc("ad.click", "time", "12"),
            _doc("telecom.voice", "data.destination", "+12"),
            _doc("telecom.voice", "data.destination", "12"),
            _doc("quality.incident", "data.state", "true"),
        ]
    ) == ["unknown_type", "bad_time", None, "bad_data", "bad_data"]


def test_the_other_paths_are_judged_on_their_fragments_on_rows_parsed_once_or_twice() -> None:
    """A numeric string id sends the row through the second parse: its number, boolean and
    list fields are judged the same either way."""
    lines = []
    for twice in (False, True):
        id_ = "123" if twice else "e1"
        for path, value, reason in [
            ("data.duration_s", "5", "bad_data"),  # a string where a number is needed
            ("data.duration_s", 5.25, None),
            ("data.session.seq", "1", "bad_data"),
            ("data.session.last", "true", "bad_data"),
        ]:
            doc = json.loads(_doc("telecom.voice", path, value))
            doc["id"] = id_
            lines.append((json.dumps(doc), reason))
        doc = json.loads(_doc("quality.incident", "data.accounts", ["a", "b"]))
        doc["id"] = id_
        lines.append((json.dumps(doc), None))
        doc["data"]["accounts"] = "a"
        lines.append((json.dumps(doc), "bad_data"))
        doc = json.loads(_doc("ad.click", "id", id_))
        doc["specversion"] = 1.0
        lines.append((json.dumps(doc), "missing_field"))
    assert _reasons([line for line, _ in lines]) == [reason for _, reason in lines]


@pytest.mark.parametrize("seed", [1, 2])
def test_every_number_duckdb_renders_as_text_is_seen_as_a_possible_number(seed: int) -> None:
    """The second parse is skipped only when a VARCHAR leaf's text cannot be a number's
    rendering: a rendering the test missed would let a number pass as a string."""
    rng = random.Random(seed)
    numbers: list[str] = ["0", "-0", "1e999", "-1e-999", "18446744073709551616", "5e-324"]
    for _ in range(2000):
        mantissa = rng.uniform(-10, 10)
        numbers.append(repr(mantissa * 10.0 ** rng.randint(-320, 307)))
        numbers.append(str(rng.randint(-(10**40), 10**40)))
        numbers.append(f"{rng.randint(0, 999)}.{rng.randint(0, 999)}e{rng.randint(-50, 50)}")
    con = duckdb.connect()
    rendered = con.execute(
        "SELECT json_transform('{\"a\": ' || n || '}', '{\"a\": \"VARCHAR\"}').a AS t"
        " FROM unnest(?::VARCHAR[]) AS u(n)",
        [numbers],
    ).fetchall()
    texts = [t for (t,) in rendered]
    missed = con.execute(
        f"SELECT t FROM unnest(?::VARCHAR[]) AS u(t) WHERE NOT {_looks_like_value('t')}",
        [texts + ["true", "false", "[1]", '{"a":1}', "[]", "{}"]],
    ).fetchall()
    assert None not in texts
    assert missed == []


def test_a_non_finite_number_at_a_string_path_is_malformed_not_a_string() -> None:
    """The test of renderings leaves out the non-finite numbers DuckDB's parser takes (`NaN`,
    `Infinity`): a line holding one is malformed before any path is read."""
    lines = [
        _doc("ad.click", "id", 1).replace('"id": 1', f'"id": {token}')
        for token in ("NaN", "-Infinity", "inf", "nan")
    ]
    assert _reasons(lines) == ["malformed"] * len(lines)


def test_another_types_field_holding_any_value_is_an_extra_field() -> None:
    """Only a record's own fields are judged: another type's string field, or a quality record's
    subject, holding a number or list is an extra field, kept in the input, and the record is
    accepted (the second parse tests only a record's own string paths)."""
    lines = []
    for value in (12, True, [1], {"a": 1}):
        for type_, path in [
            ("ad.click", "data.subscriber"),
            ("ad.click", "data.region"),
            ("telecom.voice", "data.campaign"),
            ("quality.probe", "subject"),
            ("quality.incident", "data.session"),
        ]:
            lines.append(_doc(type_, path, value))
    assert _reasons(lines) == [None] * len(lines)
