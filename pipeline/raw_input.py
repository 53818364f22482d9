"""Raw records: the Arrow table every input reader yields, and what the readers share.

Every record is one row of `RAW_SCHEMA`: where it came from (`run_key`, `file_idx`, `file`,
`line`), its verbatim bytes (`raw`), the JSON document to validate (`doc`: NULL for JSON Lines,
where `raw` *is* the document; CSV and Parquet rows are rendered to JSON so that one validation
path serves every format) and a reason already decided by the reader (`pre_reason`:
`malformed` for a CSV row with the wrong number of cells).

Text files are read in blocks of whole lines (`BLOCK_BYTES`), so memory stays bounded whatever
the file size; lines are split with numpy, not a Python loop.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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
# 8 MB, not 64: every block (and the arrays made from it) is a fresh allocation, and at 64 MB
# glibc maps each from the kernel, page-faulting every 4 KB of it; 8 MB blocks are reused from
# the heap (reading 1M records: 0.18 s, against 0.3-0.7 s)
BLOCK_BYTES = 8 << 20
CHUNK_ROWS = 32_768
BOM = b"\xef\xbb\xbf"


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


def chunked(table: pa.Table) -> pa.Table:
    """Several record batches, so DuckDB scans a batch with every core."""
    return pa.Table.from_batches(table.to_batches(max_chunksize=CHUNK_ROWS), table.schema)


def _conform(table: pa.Table | pa.RecordBatchReader) -> pa.Table:
    if isinstance(table, pa.RecordBatchReader):
        table = table.read_all()
    return table.select(RAW_SCHEMA.names).cast(RAW_SCHEMA)


def raw_table(
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


# (field, column, type column) -> the SQL of the field's JSON value
ValueSql = Callable[[str, str, str | None], str]


def json_object_sql(col_of: dict[str, str], value_sql: ValueSql, *, blank_is_missing: bool) -> str:
    """Nested json_object(...) over flat `data.x.y` columns, rendering a CSV or Parquet row as
    the JSON document validation reads; absent columns are left out. A nested object whose
    cells are all missing is itself missing: null cells, and with `blank_is_missing` (CSV, where
    an empty cell is a missing field) empty ones; a Parquet "" is a value."""
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
            items.append(f"{sql_str(key)}, {val}")
            cols += _leaf_cols(sub)
        obj = f"json_object({', '.join(items)})" if items else "json_object()"
        if top or not cols:
            return obj
        # A nested object whose cells are all missing is a missing field, not one of nulls.
        cell = "nullif({}::VARCHAR, '')" if blank_is_missing else "{}"
        empty = " AND ".join(f"{cell.format(c)} IS NULL" for c in cols)
        return f"CASE WHEN {empty} THEN NULL ELSE {obj} END"

    return build(tree, True)


def _leaf_cols(sub: dict | tuple[str, str]) -> list[str]:
    if isinstance(sub, dict):
        return [c for v in sub.values() for c in _leaf_cols(v)]
    return [sub[1]]


def sql_str(s: str) -> str:
    """A SQL string literal."""
    return "'" + s.replace("'", "''") + "'"
