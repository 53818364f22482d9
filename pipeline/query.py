"""Billing analysts' read-only access to the warehouse: ad-hoc SQL over the documented views
(`pipeline query`) and the period's rated records as a Parquet file (`pipeline export rated`).

Read-only three ways, each closing a different door: the DuckDB file is opened read_only (no
write reaches the warehouse), only one plain query statement is accepted (no COPY ... TO,
ATTACH, SET, INSTALL, PRAGMA), and external access is switched off for the connection (a
SELECT could otherwise read any file on the machine with `read_csv('/etc/...')`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from .errors import UsageError
from .invoice import period_bounds
from .outfile import atomic_path
from .warehouse import first_row

ALLOWED = "SELECT, WITH ... SELECT, FROM ..., VALUES, DESCRIBE, SHOW or SUMMARIZE"


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Accept `sql` only if it is one query statement; else a UsageError saying what is.

    DuckDB's own parser decides the statement type, so comments, string literals and
    `WITH` prefixes cannot disguise a write. DESCRIBE, SHOW and SUMMARIZE parse as SELECT.
    """
    try:
        statements = con.extract_statements(sql)
    except duckdb.ParserException as exc:
        raise UsageError(f"query does not parse: {_first_line(exc)}") from None
    if not statements:
        raise UsageError("the query is empty", f"give one {ALLOWED} statement")
    if len(statements) != 1:
        raise UsageError(
            f"give exactly one statement; got {len(statements)}",
            "run each statement with its own `pipeline query`",
        )
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        kind = statement.type.name
        article = "an" if kind[0] in "AEIOU" else "a"
        raise UsageError(
            f"`pipeline query` is read-only: {article} {kind} statement is not allowed",
            f"use {ALLOWED}",
        )


def lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """No file or network access for the rest of this connection's life: the query sees the
    warehouse's tables and views only. DuckDB refuses to switch this back on."""
    con.execute("SET enable_external_access = false")


CHUNK_ROWS = 10_000
"""Rows fetched at a time: output starts at once and memory stays flat on a large result."""


def run_query(
    con: duckdb.DuckDBPyConnection, sql: str
) -> tuple[list[str], Iterator[list[tuple[Any, ...]]]]:
    """Column names and the rows, in chunks, of one read-only query."""
    check_read_only(con, sql)
    lock_down(con)
    try:
        result = con.execute(sql)
    except duckdb.PermissionException:
        raise UsageError(
            "query failed: `pipeline query` reads the warehouse only, not files",
            "to join other data, open the warehouse file read-only with DuckDB itself",
        ) from None
    except duckdb.Error as exc:
        raise _query_failed(exc) from None
    columns = [d[0] for d in result.description or []]
    return columns, _chunks(result)


def _chunks(result: duckdb.DuckDBPyConnection) -> Iterator[list[tuple[Any, ...]]]:
    try:
        while rows := result.fetchmany(CHUNK_ROWS):
            yield rows
    except duckdb.Error as exc:  # DuckDB streams: a bad cast can surface mid-result
        raise _query_failed(exc) from None


def _query_failed(exc: duckdb.Error) -> UsageError:
    # The statement is the user's own: an unknown column or a failed cast is a mistake to fix
    # in it, not a warehouse failure.
    return UsageError(
        f"query failed: {_first_line(exc)}",
        'list the views with `pipeline query "SHOW TABLES"`; their columns: docs/warehouse.md',
    )


def export_rated(
    con: duckdb.DuckDBPyConnection, period: str, out: str | Path, *, ordered: bool = True
) -> int:
    """Write the period's rated records (view `rated_records`) to Parquet at `out`,
    atomically; return how many. `ordered`: in time order, so the same records give the same
    file (sorting a 10M-record period costs seconds; bill's partition files skip it)."""
    with atomic_path(out) as tmp:
        return copy_rated(con, period, tmp, ordered=ordered)


def copy_rated(
    con: duckdb.DuckDBPyConnection, period: str, path: Path, *, ordered: bool = False
) -> int:
    """Write the period's rated records to Parquet at `path` (no temporary name: the caller's),
    return how many. DuckDB writes the file itself, in parallel and without holding the rows in
    Python (through Arrow it took 12 s and 2 GB at 10M). Decimal columns stay decimal (money is
    never a float); times are marked UTC (they are), so Parquet readers do not take them for
    local time."""
    period_bounds(period)  # also why the period may be spelled into the statement below
    columns = [
        f"{name}::TIMESTAMPTZ AS {name}" if type_ == "TIMESTAMP" else name
        for name, type_, *_ in con.execute("DESCRIBE rated_records").fetchall()
    ]
    select = f"SELECT {', '.join(columns)} FROM rated_records WHERE period = '{period}'" + (
        " ORDER BY time, source, id, uid" if ordered else ""
    )
    target = str(path).replace("'", "''")
    rows = first_row(con, f"COPY ({select}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
    return int(rows[0]) if rows else 0


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0]
