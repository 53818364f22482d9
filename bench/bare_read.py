"""The yardstick: DuckDB reading the same JSON Lines files and nothing else.

Run as a child by the suite (`python -m bench.bare_read FILE...`) so its time and peak RSS are
measured exactly like a pipeline command's. Every top-level field is counted, so DuckDB has to
parse every value of every line (a bare `count(*)` could skip most of the parsing). The columns
are given, not sniffed: sniffing gives up on the mixed `data` objects and the non-object lines.
"""

from __future__ import annotations

import json
import sys

import duckdb


def bare_read(files: list[str]) -> int:
    """Rows DuckDB reads from `files` (malformed lines are skipped, as a reader would)."""
    sql = (
        "SELECT count(*), count(specversion), count(id), count(source), count(type),"
        " count(time), count(subject), count(data)"
        " FROM read_json(?, format = 'newline_delimited', records = true, ignore_errors = true,"
        " columns = {specversion: 'VARCHAR', id: 'VARCHAR', source: 'VARCHAR', type: 'VARCHAR',"
        " time: 'VARCHAR', subject: 'VARCHAR', data: 'JSON'})"
    )
    row = duckdb.connect().execute(sql, [files]).fetchone()
    assert row is not None
    return int(row[0])


if __name__ == "__main__":
    print(json.dumps({"rows": bare_read(sys.argv[1:])}))
