"""CSV rows are split in DuckDB, with Python's csv reader kept for the lines it would treat
differently (quotes, NUL, a CR inside, non-ASCII white space, invalid UTF-8). Python's reader is
the reference: for any lines, the records must be exactly those of reading every line with it
(the implementation before the split moved to SQL, kept here as the oracle)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.collect import _csv_block, _csv_cells, _render_csv_docs

HEADER = ["specversion", "id", "source", "type", "time", "subject", "data.bytes"]


def _oracle(
    header: list[str], lines: list[bytes]
) -> list[tuple[int, bytes, str | None, str | None]]:
    """(line, raw, doc, pre_reason) per record, reading each line with Python's csv module."""
    width = len(header)
    kept = []
    for n, line in enumerate(lines, start=1):
        cells = _csv_cells(line)
        if cells is not None and all(c.strip() == "" for c in cells):
            continue
        good = cells is not None and len(cells) == width
        kept.append((n, line.rstrip(b"\r"), cells if good else None))
    out = []
    for n, raw, cells in kept:
        doc = None
        if cells is not None and width:
            table = pa.table({f"c{i}": pa.array([c], pa.string()) for i, c in enumerate(cells)})
            doc = _render_csv_docs(table, header)[0].as_py()
        out.append((n, raw, doc, None if cells is not None else "malformed"))
    return out


def _split(
    header: list[str], lines: list[bytes]
) -> list[tuple[int, bytes, str | None, str | None]]:
    numbers = np.arange(1, len(lines) + 1, dtype=np.int64)
    tables = list(_csv_block("f.csv", 0, 1, header, pa.array(lines, pa.binary()), numbers))
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
        (4, "malformed"),
        (5, None),
        (6, "malformed"),
    ]
    assert '"bytes":123' in (got[0][2] or "")
