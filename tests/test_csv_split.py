"""CSV rows are split in DuckDB, with Python's csv reader kept for the lines it would treat
differently (quotes, NUL, a CR inside, non-ASCII white space, invalid UTF-8). Python's reader is
the reference: for any lines, the records must be exactly those of reading every line with it
(the implementation before the split moved to SQL, kept here as the oracle)."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.csv_input import _csv_block, _csv_cells, _doc_columns, _render_csv_docs
from pipeline.validate import register_functions, validate_sql

CON = duckdb.connect()  # (reused across examples, as read_csv reuses one per file)
HEADER = ["specversion", "id", "source", "type", "time", "subject", "data.bytes"]


def _oracle(
    header: list[str], lines: list[bytes]
) -> list[tuple[int, bytes, str | None, str | None]]:
    """(line, raw, doc, pre_reason) per record, reading each line with Python's csv module."""
    width = len(header)
    kept = []
    for n, line in enumerate(lines, start=1):
        cells = _csv_cells(line)
        if cells is not None and all(c == "" for c in cells):
            continue
        good = cells is not None and len(cells) == width
        kept.append((n, line.rstrip(b"\r"), cells if good else None))
    out = []
    for n, raw, cells in kept:
        doc = None
        if cells is not None and width:
            table = pa.table({f"c{i}": pa.array([c], pa.string()) for i, c in enumerate(cells)})
            doc = _render_csv_docs(CON, table, _doc_columns(header))[0].as_py()
        out.append((n, raw, doc, None if cells is not None else "malformed"))
    return out


def _split(
    header: list[str], lines: list[bytes]
) -> list[tuple[int, bytes, str | None, str | None]]:
    numbers = np.arange(1, len(lines) + 1, dtype=np.int64)
    lines_ = pa.array(lines, pa.binary())
    tables = list(_csv_block(CON, "f.csv", 0, 1, header, lines_, numbers))
    if not tables:
        return []
    t = pa.concat_tables(tables)
    return list(
        zip(
            t.column("line").to_pylist(),
            t.column("raw").to_pylist(),
            t.column("doc").to_pylist(),
            t.column("pre_reason").to_pylist(),
            strict=True,
        )
    )


PIECES = [b",", b'"', b'""', b" ", b"\t", b"\r", b"\x00", b"a", b"12", b"-0", b"true",
          "é".encode(), "\u00a0".encode(), "\u2003".encode(), b"\x1f", b"\x0b", b"\xff",
          b"1.0", b"telecom.data", b"2026-10-07T09:00:00Z"]  # fmt: skip
LINES = st.lists(st.lists(st.sampled_from(PIECES), max_size=12).map(b"".join), max_size=30)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LINES, st.sampled_from([HEADER, ["a"], []]))
def test_split_in_sql_equals_pythons_csv_reader(lines: list[bytes], header: list[str]) -> None:
    assert _split(header, lines) == _oracle(header, lines)


def test_a_typical_row_is_split_and_rendered() -> None:
    row = b"1.0,d-1,src,telecom.data,2026-10-07T09:00:00Z,acme,123"
    lines = [row, b",,,,,,", b"  ", row + b",extra", row + b"\r", "é,\u00a0".encode()]
    got = _split(HEADER, lines)
    assert got == _oracle(HEADER, lines)
    assert [(n, pre) for n, _, _, pre in got] == [
        (1, None),
        (3, "malformed"),  # white space is not an empty row: a record, with one cell
        (4, "malformed"),
        (5, None),
        (6, "malformed"),
    ]
    assert '"bytes":123' in (got[0][2] or "")


# -- the columns a document is rendered from -------------------------------------------------

# Valid cells for every field of telecom.voice/data and quality.probe, so that most rows are
# otherwise valid and an extra column that mattered would show in their outcome.
VALID = {"specversion": "1.0", "id": "i", "source": "s", "time": "2026-10-07T09:00:00Z",
         "subject": "acme", "data.subscriber": "sub", "data.destination": "+4822",
         "data.duration_s": "60", "data.bytes": "100", "data.session.id": "c1",
         "data.session.seq": "1", "data.session.last": "true", "data.service": "portal",
         "data.region": "eu", "data.ok": "true", "data.latency_ms": "12"}  # fmt: skip
NAMES = [*VALID, "data.accounts", "foo", "data.foo", "data.session.x", "data", "data.bytes.z",
         "data.session", "id.x", ""]  # fmt: skip
CELLS = ["", "1", "x", "true", "1.0", "[]", "2026-10-07T09:00:00Z"]


def _validated(docs: list[str | None]) -> list[tuple[object, ...]]:
    """What validation makes of each document: its reason and every accepted column."""
    n = len(docs)
    raw = pa.table(
        {
            "eid": pa.array(range(1, n + 1), pa.int64()),
            "run_key": pa.array([1] * n, pa.int64()),
            "file_idx": pa.array([0] * n, pa.int32()),
            "file": pa.array(["f.csv"] * n),
            "line": pa.array(range(1, n + 1), pa.int64()),
            "raw": pa.array([b"x"] * n, pa.binary()),
            "doc": pa.array(docs, pa.string()),
            "pre_reason": pa.array([None] * n, pa.string()),
        }
    )
    con = duckdb.connect()
    register_functions(con)
    con.register("raw_batch", raw)
    rows = con.execute(f"SELECT * FROM ({validate_sql('raw_batch')}) ORDER BY line").fetchall()
    con.close()
    return [tuple(r) for r in rows]


ROW = st.lists(st.one_of(st.none(), st.sampled_from(CELLS)), min_size=25, max_size=25)


ENVELOPE_COLS = ["type", "specversion", "id", "source", "time", "subject"]


@settings(max_examples=200, deadline=None)
# the shapes where an extra-looking column does matter: it makes an optional field an object
@example(
    [*ENVELOPE_COLS, "data.subscriber", "data.bytes", "data.session.x"],
    [[*[None] * 8, "1", *[None] * 16]],
    "telecom.data",
)
@example(
    [*ENVELOPE_COLS, "data.service", "data.region", "data.ok", "data.latency_ms.z"],
    [[*[None] * 9, "1", *[None] * 15]],
    "quality.probe",
)
@given(
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=24).map(lambda h: ["type", *h]),
    st.lists(ROW, min_size=1, max_size=5),
    st.sampled_from(["telecom.data", "telecom.voice", "quality.probe"]),
)
def test_leaving_out_extra_columns_changes_no_validation(
    header: list[str], rows: list[list[str | None]], type_: str
) -> None:
    """Documents are rendered only from the columns validation can see (`_doc_columns`, so a
    header of thousands of columns costs nothing); rendered from every column instead, each
    row must validate the same: same reason, same accepted columns."""
    valid = {**VALID, "type": type_}
    cells = [  # a None cell: the field's valid value (or empty for an extra column)
        [valid.get(name, "") if c is None else c for name, c in zip(header, row, strict=False)]
        for row in rows
    ]
    # (the type column always holds the type)
    cells = [[type_, *r[1:]] for r in cells]
    table = pa.table(
        {f"c{i}": pa.array([r[i] for r in cells], pa.string()) for i in range(len(header))}
    )
    every: dict[str, int] = {}
    for i, name in enumerate(header):
        every.setdefault(name, i)  # a repeated name: the first counts
    full = _render_csv_docs(CON, table, every).to_pylist()
    used = _doc_columns(header)
    reduced = _render_csv_docs(CON, table.select([f"c{i}" for i in used.values()]), used)
    assert _validated(reduced.to_pylist()) == _validated(full)


def test_a_header_of_many_columns_renders_only_what_validation_reads() -> None:
    header = [f"x{i}" for i in range(20_000)] + ["id"]
    assert _doc_columns(header) == {"id": 20_000}
