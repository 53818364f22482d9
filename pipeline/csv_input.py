"""CSV input (contract 1): one record per row after the header; a row is one line, or several
when a quoted cell holds line breaks (RFC 4180). Cells are split in SQL for the plain lines and
by Python's csv reader for the rare ones with quotes or unusual characters, and each row is
rendered as the JSON document validation reads, its cells typed by the record's type."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import UsageError
from .fields import CSV_DATA_FIELDS, ENVELOPE, EXACT_NUMBERS
from .raw_input import iter_line_blocks, json_object_sql, raw_table, split_lines


def read_csv(path: str, idx: int, run_key: int) -> Iterator[pa.Table]:
    """CSV: one record per row after the header (a row is one line, or several when a quoted
    cell holds line breaks); cells typed by the record's type."""
    with duckdb.connect() as con:  # one for the file: a connection costs 10-30 ms to open
        yield from _read_csv(con, path, idx, run_key)


def _read_csv(
    con: duckdb.DuckDBPyConnection, path: str, idx: int, run_key: int
) -> Iterator[pa.Table]:
    header: list[str] | None = None
    first_line = 1
    carry: tuple[pa.Array, np.ndarray] | None = None  # an open quoted row, continued next block
    for block in iter_line_blocks(path):
        lines = split_lines(block)
        numbers = np.arange(first_line, first_line + len(lines), dtype=np.int64)
        first_line += len(lines)
        if header is None:
            if not len(lines):
                continue
            first: bytes = lines[0].as_py()
            # A header that does not read (not UTF-8, bad quoting, empty) names no columns:
            # every row after it then has a cell count that differs, and is malformed.
            if b"\r" in first.rstrip(b"\r"):
                # Lines ending in a lone CR would read as one header line: every record lost.
                raise UsageError(
                    f"input file {path}: CSV lines end in a lone CR (\\r); "
                    "convert the file to LF or CRLF line endings"
                )
            header = _csv_cells(first) or []
            lines, numbers = lines[1:], numbers[1:]
        if carry is not None:
            lines = pa.concat_arrays([carry[0], lines])
            numbers = np.concatenate([carry[1], numbers])
        lines, numbers, carry = join_quoted_rows(lines, numbers, final=False)
        if len(lines):
            yield from _csv_block(con, path, idx, run_key, header, lines, numbers)
    if carry is not None and header is not None:  # (a carry comes after the header)
        lines, numbers, _ = join_quoted_rows(*carry, final=True)
        yield from _csv_block(con, path, idx, run_key, header, lines, numbers)


MAX_ROW_BYTES = 1 << 20


def join_quoted_rows(
    lines: pa.Array, numbers: np.ndarray, *, final: bool
) -> tuple[pa.Array, np.ndarray, tuple[pa.Array, np.ndarray] | None]:
    """RFC 4180 rows: a quoted cell may hold line breaks, so one row can span several lines.

    A line with an odd number of quotes that does not read alone as CSV ends inside a quoted
    cell; it and the lines up to the next line with an odd number of quotes are one row (its
    line number the first's, its bytes the lines joined by their newlines) when together they
    read as exactly one CSV row of at most `MAX_ROW_BYTES`. Otherwise every line stays a row
    of its own (and is malformed): a stray quote never swallows the rest of the file. Only the
    lines with quotes are looked at in Python. Returns the rows, their line numbers, and the
    lines from an open row to the block's end when they may continue in the next block (not
    when `final`)."""
    odd = np.flatnonzero(pc.count_substring(lines, '"').to_numpy(zero_copy_only=False) % 2)
    keep = np.ones(len(lines), dtype=bool)
    joined: dict[int, bytes] = {}
    k = 0
    while k < len(odd):
        i = int(odd[k])
        line: bytes = lines[i].as_py()
        if _csv_cells(line) is not None:  # reads alone: its quotes are closed
            k += 1
            continue
        if k + 1 == len(odd):  # no later line closes the cell in this block
            rest = pc.sum(pc.binary_length(lines[i:])).as_py() or 0
            if not final and rest <= MAX_ROW_BYTES:
                return *_joined(lines[:i], numbers[:i], keep[:i], joined), (
                    lines[i:],
                    numbers[i:],
                )
            break
        j = int(odd[k + 1])
        if pc.sum(pc.binary_length(lines[i : j + 1])).as_py() <= MAX_ROW_BYTES:
            row = b"\n".join(lines[i : j + 1].to_pylist())
            if _csv_row_count(row) == 1:
                joined[i] = row
                keep[i + 1 : j + 1] = False
                k += 2
                continue
        k += 1
    return *_joined(lines, numbers, keep, joined), None


def _joined(
    lines: pa.Array, numbers: np.ndarray, keep: np.ndarray, joined: dict[int, bytes]
) -> tuple[pa.Array, np.ndarray]:
    """The lines without those folded into a joined row, each joined row in its first line's
    place."""
    if not joined:
        return lines, numbers
    position = np.cumsum(keep) - 1  # a kept line's index among the kept ones
    rows = lines.filter(pa.array(keep))
    mask = np.zeros(len(rows), dtype=bool)
    mask[position[list(joined)]] = True
    rows = pc.replace_with_mask(rows, pa.array(mask), pa.array(list(joined.values()), rows.type))
    return rows, numbers[keep]


# Python's csv module refuses cells over 128 KiB by default; a long cell is still a cell.
csv.field_size_limit(sys.maxsize)


def _csv_row_count(text: bytes) -> int:
    """How many CSV rows the text reads as (0 when it does not read at all)."""
    try:
        lines = io.StringIO(text.decode("utf-8").rstrip("\r"))
        return sum(1 for _ in csv.reader(lines, strict=True))
    except (UnicodeDecodeError, csv.Error):
        return 0


def _csv_cells(line: bytes) -> list[str] | None:
    """One line's cells, or None when the line is not valid UTF-8 or not valid CSV."""
    try:
        text = line.decode("utf-8").rstrip("\r")
        return next(csv.reader(io.StringIO(text), strict=True), [])
    except (UnicodeDecodeError, csv.Error):
        return None


# A line is split in SQL when it is valid UTF-8 and has none of the characters that make
# Python's csv reader (the reference for every other line) do more than split on commas: the
# quote, NUL, a CR inside the line, or white space beyond ASCII (kept out of the SQL path so that
# any line a reader might treat specially is read by Python's). The other lines, rare, go
# through Python's reader.
_NOT_SIMPLE_RE = (
    '["\\x00\\r\\x1c-\\x1f\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}'
    "\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}]"
)

_SPLIT_SQL = f"""
CREATE OR REPLACE TEMP TABLE split AS
SELECT n, raw, txt, simple, CASE WHEN simple THEN string_split(txt, ',') END AS cells
FROM (SELECT n, raw, txt, txt IS NOT NULL AND NOT regexp_matches(txt, '{_NOT_SIMPLE_RE}') AS simple
      FROM (SELECT n, raw, rtrim(try(decode(raw)), chr(13)) AS txt FROM lines))
"""


def _csv_block(
    con: duckdb.DuckDBPyConnection,
    path: str,
    idx: int,
    run_key: int,
    header: list[str],
    lines: pa.Array,
    numbers: np.ndarray,
) -> Iterator[pa.Table]:
    """The block's records: cells split in DuckDB (Python's csv reader only for the rare lines
    with quotes or unusual characters), entirely empty rows dropped, a row with another cell
    count than the header's malformed, the others rendered as JSON documents."""
    width = len(header)
    used = _doc_columns(header)
    con.register("lines", pa.table({"n": numbers, "raw": lines}))
    con.execute(_SPLIT_SQL)
    odd = con.execute("SELECT n, raw FROM split WHERE NOT simple ORDER BY n").fetchall()
    odd_cells = [_csv_cells(raw) for _, raw in odd]
    con.register(
        "odd",
        pa.table(
            {
                "n": pa.array([n for n, _ in odd], pa.int64()),
                "raw": pa.array([raw.rstrip(b"\r") for _, raw in odd], pa.binary()),
                "cells": pa.array(odd_cells, pa.list_(pa.string())),
                "empty": pa.array(
                    [c is not None and all(x == "" for x in c) for c in odd_cells],
                    pa.bool_(),
                ),
            }
        ),
    )
    columns = ", ".join(f"CASE WHEN good THEN cells[{i + 1}] END AS c{i}" for i in used.values())
    table = con.sql(f"""
        WITH merged AS (
          SELECT s.n, CASE WHEN s.simple THEN encode(s.txt) ELSE o.raw END AS raw,
                 CASE WHEN s.simple THEN s.cells ELSE o.cells END AS cells,
                 CASE WHEN s.simple THEN replace(s.txt, ',', '') = '' ELSE o.empty END AS empty
          FROM split s LEFT JOIN odd o USING (n)
        ), kept AS (   -- an entirely empty row (every cell empty, not blank) is not a record
          SELECT *, cells IS NOT NULL AND len(cells) = {width} AS good FROM merged
          WHERE NOT empty
        )
        SELECT n, raw, good{", " + columns if columns else ""} FROM kept ORDER BY n
    """).to_arrow_table()
    if not table.num_rows:
        return
    good = table.column("good").combine_chunks()
    if width and pc.any(good).as_py():
        cells = table.select([f"c{i}" for i in used.values()])
        docs = pc.if_else(good, _render_csv_docs(con, cells, used), None)
    else:
        docs = pa.nulls(table.num_rows, pa.string())
    yield raw_table(
        run_key,
        idx,
        path,
        table.column("n").to_numpy(),
        table.column("raw").combine_chunks(),
        docs,
        pc.if_else(good, None, "malformed"),
    )


# The document paths validation reads (contract 1), and the objects that hold them.
_LEAVES = frozenset([*ENVELOPE, *CSV_DATA_FIELDS])
_PREFIXES = frozenset(leaf.rsplit(".", n)[0] for leaf in _LEAVES for n in (1, 2) if "." in leaf)


def _doc_columns(header: list[str]) -> dict[str, int]:
    """Header name -> cell index (the first of a repeated name, as for a repeated JSON key),
    for the columns that can change how a row's document validates: the contract's paths, the
    objects holding them (a `data` cell replaces the object), and anything nested under a path
    or under `data.session` (it makes that field an object, or the session present). Other
    columns are extra fields, which validation ignores; leaving them out bounds the work a
    header of thousands of columns would make."""
    under = _LEAVES | {"data.session"}
    used: dict[str, int] = {}
    for i, name in enumerate(header):
        if name in _LEAVES or name in _PREFIXES or any(name.startswith(p + ".") for p in under):
            used.setdefault(name, i)
    return used


def _render_csv_docs(
    con: duckdb.DuckDBPyConnection, table: pa.Table, used: dict[str, int]
) -> pa.Array:
    """Render each CSV row as a JSON document with the contract's cell typing, in SQL."""
    if not used:  # no column validation reads: every document is empty
        return pa.array(["{}"] * table.num_rows, pa.string())
    con.register("t", table)
    col_of = {name: f"c{i}" for name, i in used.items()}
    expr = json_object_sql(col_of, _csv_value_sql, blank_is_missing=True)
    docs = con.sql(_exact_numbers(f"SELECT *, {expr} AS doc FROM t", col_of))
    docs = docs.to_arrow_table().column("doc")
    return docs.combine_chunks() if docs.num_chunks else pa.array([], pa.string())


def _exact_numbers(rendered: str, col_of: dict[str, str]) -> str:
    """`json_object` re-reads a number through a double (`0.30000000000000001` becomes `0.3`):
    each quantity's digits as written are put back into the rendered document."""
    doc = "doc"
    for name in EXACT_NUMBERS:
        col = col_of.get(f"data.{name}")
        if col is None:
            continue
        cell = f"NULLIF({col}, '')"
        num = _csv_number(cell)
        doc = (
            f"CASE WHEN regexp_full_match({cell}, '{_CSV_PATTERNS['number']}')"
            f" THEN replace({doc}, '\"{name}\":' || json({num}), '\"{name}\":' || {num})"
            f" ELSE {doc} END"
        )
    return f"SELECT {doc} AS doc FROM ({rendered})"


_CSV_PATTERNS = {
    "integer": "^-?[0-9]+$",
    "number": "^-?[0-9]+(\\.[0-9]+)?$",
    "bool": "^(true|false)$",
}


def _csv_number(cell: str) -> str:
    """A number cell as JSON text: JSON forbids leading zeros ("007"), the digits stay."""
    return f"regexp_replace({cell}, '^(-?)0+([0-9])', '\\1\\2')"


def _csv_value_sql(field: str, col: str, type_col: str | None) -> str:
    """A cell as JSON: empty = missing (NULL); a data field's cell read by its type, when the
    record's type has that field and the cell reads as it; otherwise the cell as a string."""
    cell = f"NULLIF({col}, '')"
    as_string = f"to_json({cell})"
    kind = CSV_DATA_FIELDS.get(field)
    if kind is None or type_col is None:
        return as_string
    types, ftype = kind
    pattern = _CSV_PATTERNS.get(ftype)
    if pattern is None:
        return as_string
    type_list = ", ".join(f"'{t}'" for t in types)
    return (
        f"CASE WHEN {type_col} IN ({type_list}) AND regexp_full_match({cell}, '{pattern}') "
        f"THEN json({_csv_number(cell)}) ELSE {as_string} END"
    )
