"""Collection: read input files, in order, into Arrow batches of raw records (`RAW_SCHEMA`,
pipeline/raw_input.py), never losing one: JSON Lines and Parquet here, CSV in
pipeline/csv_input.py. A file that cannot be read at all stops the run before anything is
written."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .csv_input import read_csv
from .errors import UsageError
from .raw_input import (
    chunked,
    iter_line_blocks,
    json_object_sql,
    raw_table,
    split_lines,
    sql_str,
)

if TYPE_CHECKING:
    import pyarrow.parquet as pq

PARQUET_BATCH_ROWS = 200_000
FORMATS = (".jsonl", ".csv", ".parquet")
# Kinds of Parquet column besides an Arrow type's name (which never starts with `<`).
PLAIN, DOUBLE = "<plain>", "<double>"


def check_inputs(paths: list[str]) -> None:
    """Fail before anything is written when an input cannot be read at all."""
    for p in paths:
        try:
            p.encode("utf-8")
        except UnicodeEncodeError:
            # (every record keeps its file's name, and the warehouse holds text as UTF-8)
            shown = os.fsencode(p).decode("utf-8", "backslashreplace")  # the bytes, as \xff
            raise UsageError(
                f"input file {shown}: its name is not valid UTF-8", hint="rename the file"
            ) from None
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
            yield from read_csv(p, idx, run_key)
        else:
            yield from _read_parquet(p, idx, run_key)


def read_through(paths: list[str]) -> None:
    """Read every file to its end, keeping nothing, so that one that fails part-way (a corrupt
    Parquet page, a CSV in lone CRs, an I/O error) fails before anything is done with the others.
    `publish` and `stream` need this: they send records as they read them, and a run cut off by
    a bad file would leave part of a file on the broker for a worker to ingest; `replay` gets
    the same guarantee from its transaction. A JSON Lines file's reader fails only on I/O, so
    its blocks are read but not split into lines."""
    for p in paths:
        if Path(p).suffix.lower() == ".jsonl":
            for _ in iter_line_blocks(p):
                pass
        else:
            for _ in read_files([p], 0):
                pass


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


def _read_jsonl(path: str, idx: int, run_key: int) -> Iterator[pa.Table]:
    first_line = 1
    for block in iter_line_blocks(path):
        lines = split_lines(block)
        numbers = np.arange(first_line, first_line + len(lines), dtype=np.int64)
        first_line += len(lines)
        # Blank lines stay in the batch; validation drops them (they are not records).
        yield chunked(raw_table(run_key, idx, path, numbers, lines, None, None))


def _read_parquet(path: str, idx: int, run_key: int) -> Iterator[pa.Table]:
    """Parquet: each row rendered to JSON with its columns' Arrow types; row number = line."""
    pf = _parquet_file(path)
    first = 1
    for batch in _parquet_batches(pf, path):
        table = pa.Table.from_batches([batch])
        docs = _render_parquet_docs(table)
        numbers = np.arange(first, first + len(table), dtype=np.int64)
        first += len(table)
        raw = docs.cast(pa.binary())
        yield raw_table(run_key, idx, path, numbers, raw, docs, None)


def _parquet_file(path: str) -> pq.ParquetFile:
    # (pyarrow.parquet, with the file systems it loads, is imported only for Parquet input: a
    # tenth of the imports of every replay of JSON Lines)
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one clear error
        raise _unreadable(path, exc) from exc


def _parquet_batches(pf: pq.ParquetFile, path: str) -> Iterator[pa.RecordBatch]:
    """The file's batches; a page that does not decode (the footer read, the data is corrupt)
    is the same clear error as an unreadable footer, and the run writes nothing."""
    batches = pf.iter_batches(batch_size=PARQUET_BATCH_ROWS)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001 - any undecodable page is one clear error
            raise _unreadable(path, exc) from exc
        yield batch


def _unreadable(path: str, exc: Exception) -> UsageError:
    reason = " ".join(str(exc).split())  # pyarrow's messages span lines
    return UsageError(f"input file {path}: not a readable Parquet file ({reason})")


def _render_parquet_docs(table: pa.Table) -> pa.Array:
    kinds = [_arrow_kind(f.type) for f in table.schema]
    # A column of no field's type is reduced to whether each cell is null before DuckDB sees
    # it: DuckDB cannot scan some Arrow types at all (float16, decimal256), and the record's
    # document needs only the type's name there.
    columns = [
        col if kind in (PLAIN, DOUBLE) else pc.is_null(col)
        for col, kind in zip(table.columns, kinds, strict=True)
    ]
    con = duckdb.connect()
    con.register("t", pa.table(columns, names=[f"c{i}" for i in range(table.num_columns)]))
    col_of: dict[str, str] = {}
    for i, name in enumerate(table.column_names):
        col_of.setdefault(name, f"c{i}")  # a repeated column name: the first counts, as in JSON
    kind_of = {f"c{i}": kind for i, kind in enumerate(kinds)}

    def value(field: str, col: str, type_col: str | None) -> str:
        kind = kind_of[col]
        if kind == PLAIN:
            return f"to_json({col})"
        if kind == DOUBLE:
            # NaN and infinities have no JSON number: rendered as text, so a number field holding
            # one is bad_data (a value, of the column's type, that no number field takes)
            return f"CASE WHEN isfinite({col}) THEN to_json({col}) ELSE to_json({col}::VARCHAR) END"
        # Any other Arrow type is of no field's type: render it so every check fails.
        return f"CASE WHEN {col} THEN NULL ELSE json_object('unsupported', {sql_str(kind)}) END"

    expr = json_object_sql(col_of, value, blank_is_missing=False)
    docs = con.sql(f"SELECT {expr} AS doc FROM t").to_arrow_table().column("doc")
    con.close()
    return docs.combine_chunks() if docs.num_chunks else pa.array([], pa.string())


def _arrow_kind(t: pa.DataType) -> str:
    """PLAIN for the Arrow types the contract gives fields (string, ints, bool, list of
    strings: DuckDB renders each as its JSON type), DOUBLE for doubles (whose NaN and
    infinities need care); the type's name otherwise (a float32 is not a double: its 0.1 is
    0.100000001490116...)."""
    if pa.types.is_dictionary(t):
        return _arrow_kind(t.value_type)  # a categorical string column is a string column
    if (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_string_view(t)
        or pa.types.is_integer(t)
        or pa.types.is_boolean(t)
    ):
        return PLAIN
    if pa.types.is_float64(t):
        return DOUBLE
    if (pa.types.is_list(t) or pa.types.is_large_list(t)) and (
        pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)
    ):
        return PLAIN
    return str(t)


__all__ = ["check_inputs", "prefetch", "read_files", "read_through"]
