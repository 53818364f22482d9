"""Rows for people and for other programs: an aligned text table, JSON or CSV.

Used by the analysts' commands (`query`, `flags list`, `flags history`); the contract's
exports print their own fixed JSON (exports.py) and do not go through here.
"""

from __future__ import annotations

import csv
import io
import json
import math
import textwrap
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from .errors import UsageError

FORMATS = ("table", "json", "csv")
MAX_CELL = 60
"""A table cell longer than this is cut (with `…`): one raw record would otherwise push every
other column off the screen. JSON and CSV always carry the whole value."""


def plain(value: Any) -> Any:
    """A DuckDB value as JSON can carry it. Decimals become strings so money stays exact
    (0.35 must not turn into 0.34999999999999998); times become ISO 8601 text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return format(value, "f")  # never an exponent: a zero of scale 9 is 0.000000000, not 0E-9
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def text(value: Any) -> str:
    """One cell as text (table and CSV): nested values as JSON, NULL as the empty string,
    timestamps as `2026-10-03 12:00:07.250000` (UTC, to the microsecond)."""
    if isinstance(value, datetime):
        return str(value)
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def as_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An aligned text table with a row count; numbers right-aligned."""
    numeric = [_numeric([r[i] for r in rows if r[i] is not None]) for i in range(len(columns))]
    cells = [[_cut(text(v)) if v is not None else "NULL" for v in r] for r in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]

    def line(values: Sequence[str], align: bool) -> str:
        parts = [
            v.rjust(w) if align and numeric[i] else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    out = [line(columns, False), line(["-" * w for w in widths], False)]
    out += [line(r, True) for r in cells]
    out.append(f"({len(rows)} row{'' if len(rows) == 1 else 's'})")
    return "\n".join(out)


def _numeric(values: list[Any]) -> bool:
    return bool(values) and all(
        isinstance(v, int | float | Decimal) and not isinstance(v, bool) for v in values
    )


def _cut(s: str) -> str:
    s = s.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    return s if len(s) <= MAX_CELL else s[: MAX_CELL - 1] + "…"


def as_json(columns: Sequence[str], chunks: Iterable[Sequence[Sequence[Any]]]) -> Iterator[str]:
    """A JSON array of objects keyed by column name, piece by piece: the same text as
    `json.dumps(objects, indent=1)`, without holding every row."""
    seen: set[str] = set()
    for c in columns:
        if c in seen:
            raise UsageError(
                f"column name `{c}` appears twice; JSON objects need distinct keys",
                "give each column its own alias (`... AS name`)",
            )
        seen.add(c)
    first = True
    for rows in chunks:
        for r in rows:
            obj = json.dumps(
                {c: plain(v) for c, v in zip(columns, r, strict=True)}, indent=1, ensure_ascii=False
            )
            yield ("[\n" if first else ",\n") + textwrap.indent(obj, " ")
            first = False
    yield "[]\n" if first else "\n]\n"


def as_csv(columns: Sequence[str], chunks: Iterable[Sequence[Sequence[Any]]]) -> Iterator[str]:
    """RFC 4180 CSV with a header row, a chunk of rows at a time; NULL is an empty cell."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for rows in chunks:
        writer.writerows([text(v) for v in r] for r in rows)
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue()


def pieces(
    fmt: str, columns: Sequence[str], chunks: Iterable[Sequence[Sequence[Any]]]
) -> Iterator[str]:
    """Rows in one of FORMATS, as text pieces to print in turn. JSON and CSV stream (a query
    may return millions of rows); a table has to see every row to size its columns."""
    if fmt == "table":
        yield as_table(columns, [r for rows in chunks for r in rows]) + "\n"
    elif fmt == "json":
        yield from as_json(columns, chunks)
    elif fmt == "csv":
        yield from as_csv(columns, chunks)
    else:
        raise UsageError(f"unknown format `{fmt}`; expected one of {', '.join(FORMATS)}")


def render(fmt: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Rows in one of FORMATS, as one text ending in a newline."""
    return "".join(pieces(fmt, columns, [rows]))
