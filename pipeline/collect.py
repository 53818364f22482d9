"""Collection: read input files into Arrow batches of raw records, never losing one.

Every record leaves here as one row of `RAW_SCHEMA`: where it came from (`run_key`, `file_idx`,
`file`, `line`), its verbatim bytes (`raw`), the JSON document to validate (`doc`: NULL for JSON
Lines, where `raw` *is* the document; CSV and Parquet rows are rendered to JSON here so that one
validation path serves every format) and a reason already decided by the reader (`pre_reason`:
`malformed` for a CSV row with the wrong number of cells).

Files are read in blocks of whole lines (`BLOCK_BYTES`), so memory stays bounded whatever the
file size; lines are split with numpy, not a Python loop.
"""

from __future__ import annotations

import csv
import io
import queue
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .errors import UsageError
from .fields import CSV_DATA_FIELDS, ENVELOPE

RAW_SCHEMA = pa.schema(
    [
        ("run_key", pa.int64()),
        ("file_idx", pa.int32()),
        ("file", pa.string()),
        ("line", pa.int64()),
        ("raw", pa.binary()),
        ("doc", pa.string()),
        ("pre_reason", pa.string()),
    ]
)
BLOCK_BYTES = 64 << 20
PARQUET_BATCH_ROWS = 200_000
CHUNK_ROWS = 32_768
BOM = b"\xef\xbb\xbf"
FORMATS = (".jsonl", ".csv", ".parquet")


def check_inputs(paths: list[str]) -> None:
    """Fail before anything is written when an input cannot be read at all."""
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise UsageError(f"input file {p} does not exist or is not a file")
        if path.suffix.lower() not in FORMATS:
            raise UsageError(
                f"input file {p}: unknown format `{path.suffix}`; expected one of "
                + ", ".join(FORMATS)
            )
        if path.suffix.lower() == ".parquet":
            _parquet_file(p).close()  # reads the footer only


def read_files(paths: list[str], run_key: int) -> Iterator[pa.Table]:
    """Raw-record batches of every file, in file order then line order."""
    for idx, p in enumerate(paths):
        suffix = Path(p).suffix.lower()
        if suffix == ".jsonl":
            yield from _read_jsonl(p, idx, run_key)
        elif suffix == ".csv":
            yield from _read_csv(p, idx, run_key)
        else:
            yield from _read_parquet(p, idx, run_key)


def prefetch(batches: Iterator[pa.Table], depth: int = 2) -> Iterator[pa.Table]:
    """Read the next batches in a background thread while the caller works on this one: file
    reading and line splitting overlap with validation (DuckDB releases the GIL while it runs).
    At most `depth` batches wait in memory; a reader error is raised in the caller."""
    q: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)

    def produce() -> None:
        try:
            for batch in batches:
                q.put(("batch", batch))
            q.put(("done", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            q.put(("error", exc))

    threading.Thread(target=produce, name="collect-prefetch", daemon=True).start()
    while True:
        kind, item = q.get()
        if kind == "done":
            return
        if kind == "error":
            raise item  # type: ignore[misc]
        yield item  # type: ignore[misc]


def iter_line_blocks(path: str) -> Iterator[memoryview]:
    """Blocks of whole lines, each ending in a newline. A block is a view into the bytes one
    `read` returned: the partial line after its last newline is read again with the next block
    (a seek back), so no block is copied to splice lines together."""
    with open(path, "rb") as f:
        # A UTF-8 byte-order mark (as Windows tools write) is not part of the first record.
        if f.read(3) != BOM:
            f.seek(0)
        pending = b""  # a line longer than one block, still without its end
        while True:
            chunk = f.read(BLOCK_BYTES)
            if not chunk:
                if pending:
                    yield memoryview(pending + b"\n")
                return
            if pending:
                chunk, pending = pending + chunk, b""
            cut = chunk.rfind(b"\n") + 1
            if cut == 0:
                pending = chunk
                continue
            if cut < len(chunk):
                f.seek(cut - len(chunk), io.SEEK_CUR)
            yield memoryview(chunk)[:cut]


def split_lines(block: memoryview) -> pa.Array:
    """The block's lines without their newline, zero-copy into Arrow (the block ends in one)."""
    buf = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(buf == 0x0A)
    offsets = np.empty(len(ends) + 1, dtype=np.int64)
    offsets[0] = 0
    offsets[1:] = ends + 1
    lines = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(block)]
    )
    return pc.binary_slice(lines, 0, -1)


def _read_jsonl(path: str, idx: int, run_key: int) -> Iterator[pa.Table]:
    first_line = 1
    for block in iter_line_blocks(path):
        lines = split_lines(block)
        numbers = np.arange(first_line, first_line + len(lines), dtype=np.int64)
        first_line += len(lines)
        # Blank lines stay in the batch; validation drops them (they are not records).
        yield _chunked(_raw_table(run_key, idx, path, numbers, lines, None, None))


def _chunked(table: pa.Table) -> pa.Table:
    """Several record batches, so DuckDB scans a batch with every core."""
    return pa.Table.from_batches(table.to_batches(max_chunksize=CHUNK_ROWS), table.schema)


def _conform(table: pa.Table | pa.RecordBatchReader) -> pa.Table:
    if isinstance(table, pa.RecordBatchReader):
        table = table.read_all()
    return table.select(RAW_SCHEMA.names).cast(RAW_SCHEMA)


def _raw_table(
    run_key: int,
    idx: int,
    path: str,
    numbers: np.ndarray,
    raw: pa.Array,
    doc: pa.Array | None,
    pre: pa.Array | None,
) -> pa.Table:
    n = len(numbers)
    table = pa.table(
        {
            "run_key": pa.array(np.full(n, run_key, dtype=np.int64)),
            "file_idx": pa.array(np.full(n, idx, dtype=np.int32)),
            "file": pa.array([path] * n, pa.string()) if n < 2 else pa.repeat(path, n),
            "line": pa.array(numbers),
            "raw": raw,
            "doc": doc if doc is not None else pa.nulls(n, pa.string()),
            "pre_reason": pre if pre is not None else pa.nulls(n, pa.string()),
        }
    )
    return _conform(table)


def _read_csv(path: str, idx: int, run_key: int) -> Iterator[pa.Table]:
    """CSV: one record per row after the header (a row is one line, or several when a quoted
    cell holds line breaks); cells typed by the record's type."""
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
            yield from _csv_block(path, idx, run_key, header, lines, numbers)
    if carry is not None and header is not None:  # (a carry comes after the header)
        lines, numbers, _ = join_quoted_rows(*carry, final=True)
        yield from _csv_block(path, idx, run_key, header, lines, numbers)


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
# quote, NUL, a CR inside the line, or white space beyond ASCII (str.strip() would remove it when
# judging whether a row is entirely empty). The other lines, rare, go through Python's reader.
_NOT_SIMPLE_RE = (
    '["\\x00\\r\\x1c-\\x1f\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}'
    "\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}]"
)
_ASCII_BLANK_RE = "[ \\t\\n\\x0b\\x0c\\r]*"

_SPLIT_SQL = f"""
CREATE TEMP TABLE split AS
SELECT n, raw, txt, simple, CASE WHEN simple THEN string_split(txt, ',') END AS cells
FROM (SELECT n, raw, txt, txt IS NOT NULL AND NOT regexp_matches(txt, '{_NOT_SIMPLE_RE}') AS simple
      FROM (SELECT n, raw, rtrim(try(decode(raw)), chr(13)) AS txt FROM lines))
"""


def _csv_block(
    path: str, idx: int, run_key: int, header: list[str], lines: pa.Array, numbers: np.ndarray
) -> Iterator[pa.Table]:
    """The block's records: cells split in DuckDB (Python's csv reader only for the rare lines
    with quotes or unusual characters), entirely empty rows dropped, a row with another cell
    count than the header's malformed, the others rendered as JSON documents."""
    width = len(header)
    used = _doc_columns(header)
    con = duckdb.connect()
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
                    [c is not None and all(x.strip() == "" for x in c) for c in odd_cells],
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
                 CASE WHEN s.simple
                      THEN regexp_full_match(replace(s.txt, ',', ''), '{_ASCII_BLANK_RE}')
                      ELSE o.empty END AS empty
          FROM split s LEFT JOIN odd o USING (n)
        ), kept AS (   -- an entirely empty row is not a record
          SELECT *, cells IS NOT NULL AND len(cells) = {width} AS good FROM merged
          WHERE NOT empty
        )
        SELECT n, raw, good{", " + columns if columns else ""} FROM kept ORDER BY n
    """).to_arrow_table()
    con.close()
    if not table.num_rows:
        return
    good = table.column("good").combine_chunks()
    if width and pc.any(good).as_py():
        cells = table.select([f"c{i}" for i in used.values()])
        docs = pc.if_else(good, _render_csv_docs(cells, used), None)
    else:
        docs = pa.nulls(table.num_rows, pa.string())
    yield _raw_table(
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
    """Header name -> cell index (the last of a repeated name), for the columns that can change
    how a row's document validates: the contract's paths, the objects holding them (a `data`
    cell replaces the object), and anything nested under a path or under `data.session` (it
    makes that field an object, or the session present). Other columns are extra fields,
    which validation ignores; leaving them out bounds the work a header of thousands of
    columns would make."""
    under = _LEAVES | {"data.session"}
    return {
        name: i
        for i, name in enumerate(header)
        if name in _LEAVES or name in _PREFIXES or any(name.startswith(p + ".") for p in under)
    }


def _render_csv_docs(table: pa.Table, used: dict[str, int]) -> pa.Array:
    """Render each CSV row as a JSON document with the contract's cell typing, in SQL."""
    if not used:  # no column validation reads: every document is empty
        return pa.array(["{}"] * table.num_rows, pa.string())
    con = duckdb.connect()
    con.register("t", table)
    col_of = {name: f"c{i}" for name, i in used.items()}
    expr = _json_object_sql(col_of, _csv_value_sql)
    docs = con.sql(f"SELECT {expr} AS doc FROM t").to_arrow_table().column("doc")
    con.close()
    return docs.combine_chunks() if docs.num_chunks else pa.array([], pa.string())


def _csv_value_sql(field: str, col: str, type_col: str | None) -> str:
    """A cell as JSON: empty = missing (NULL); a data field's cell read by its type, when the
    record's type has that field and the cell reads as it; otherwise the cell as a string."""
    cell = f"NULLIF({col}, '')"
    as_string = f"to_json({cell})"
    kind = CSV_DATA_FIELDS.get(field)
    if kind is None or type_col is None:
        return as_string
    types, ftype = kind
    pattern = {
        "integer": "^-?[0-9]+$",
        "number": "^-?[0-9]+(\\.[0-9]+)?$",
        "bool": "^(true|false)$",
    }.get(ftype)
    if pattern is None:
        return as_string
    type_list = ", ".join(f"'{t}'" for t in types)
    return (
        f"CASE WHEN {type_col} IN ({type_list}) AND regexp_full_match({cell}, '{pattern}') "
        # JSON forbids leading zeros ("007"): drop them, keeping the exact digits otherwise
        f"THEN json(regexp_replace({cell}, '^(-?)0+([0-9])', '\\1\\2')) ELSE {as_string} END"
    )


def _json_object_sql(col_of: dict[str, str], value_sql) -> str:  # type: ignore[no-untyped-def]
    """Nested json_object(...) over flat `data.x.y` columns; absent columns are left out."""
    type_col = col_of.get("type")
    tree: dict = {}
    for name, col in col_of.items():
        node = tree
        parts = name.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = (name, col)

    def build(node: dict, top: bool) -> str:
        items, cols = [], []
        for key, sub in node.items():
            val = (
                build(sub, False) if isinstance(sub, dict) else value_sql(sub[0], sub[1], type_col)
            )
            items.append(f"{_sql_str(key)}, {val}")
            cols += _leaf_cols(sub)
        obj = f"json_object({', '.join(items)})" if items else "json_object()"
        if top or not cols:
            return obj
        # A nested object whose cells are all empty is a missing field, not an object of nulls.
        empty = " AND ".join(f"nullif({c}::VARCHAR, '') IS NULL" for c in cols)
        return f"CASE WHEN {empty} THEN NULL ELSE {obj} END"

    return build(tree, True)


def _leaf_cols(sub: dict | tuple[str, str]) -> list[str]:
    if isinstance(sub, dict):
        return [c for v in sub.values() for c in _leaf_cols(v)]
    return [sub[1]]


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _read_parquet(path: str, idx: int, run_key: int) -> Iterator[pa.Table]:
    """Parquet: each row rendered to JSON with its columns' Arrow types; row number = line."""
    pf = _parquet_file(path)
    first = 1
    for batch in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        table = pa.Table.from_batches([batch])
        docs = _render_parquet_docs(table)
        numbers = np.arange(first, first + len(table), dtype=np.int64)
        first += len(table)
        raw = docs.cast(pa.binary())
        yield _raw_table(run_key, idx, path, numbers, raw, docs, None)


def _parquet_file(path: str) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one clear error
        raise UsageError(f"input file {path}: not a readable Parquet file ({exc})") from exc


def _render_parquet_docs(table: pa.Table) -> pa.Array:
    con = duckdb.connect()
    renamed = table.rename_columns([f"c{i}" for i in range(table.num_columns)])
    con.register("t", renamed)
    col_of = {name: f"c{i}" for i, name in enumerate(table.column_names)}
    kinds = {f"c{i}": _arrow_kind(f.type) for i, f in enumerate(table.schema)}

    def value(field: str, col: str, type_col: str | None) -> str:
        if kinds[col] == "plain":
            return f"to_json({col})"
        # Any other Arrow type is of no field's type: render it so every check fails.
        return (
            f"CASE WHEN {col} IS NULL THEN NULL ELSE json_object('unsupported', '{kinds[col]}') END"
        )

    expr = _json_object_sql(col_of, value)
    docs = con.sql(f"SELECT {expr} AS doc FROM t").to_arrow_table().column("doc")
    con.close()
    return docs.combine_chunks() if docs.num_chunks else pa.array([], pa.string())


def _arrow_kind(t: pa.DataType) -> str:
    """`plain` for the Arrow types the contract gives fields (string, ints, floats, bool, list of
    strings: DuckDB renders each as its JSON type); the type's name otherwise."""
    if pa.types.is_dictionary(t):
        return _arrow_kind(t.value_type)  # a categorical string column is a string column
    if (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_string_view(t)
        or pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
    ):
        return "plain"
    if (pa.types.is_list(t) or pa.types.is_large_list(t)) and (
        pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)
    ):
        return "plain"
    return str(t)


__all__ = ["RAW_SCHEMA", "ENVELOPE", "check_inputs", "read_files"]
