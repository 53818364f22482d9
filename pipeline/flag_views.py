"""Fraud analysts' views of the flags: a filtered list, the review audit trail, and the
`--file` list of flags to review.

`export flags` stays the contract's fixed six keys (exports.py); these views add the
campaign, time and the latest review's note, reviewer and time, for people to read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import duckdb

from .errors import UsageError
from .invoice import period_bounds

REASONS = ("bot_user_agent", "orphan_click", "duplicate_click", "ip_velocity")
"""The fraud rules, in the order they are applied (contract 2.4)."""
STATUSES = ("open", "dismissed", "confirmed")

LIST_COLUMNS = (
    "source",
    "id",
    "type",
    "subject",
    "campaign",
    "period",
    "time",
    "reason",
    "status",
    "note",
    "reviewer",
    "reviewed_at",
)
HISTORY_COLUMNS = ("seq", "reviewed_at", "reviewer", "source", "id", "status", "reason", "note")

Rows = tuple[list[str], list[tuple[Any, ...]]]


def list_flags(
    con: duckdb.DuckDBPyConnection,
    *,
    status: str | None = None,
    reason: str | None = None,
    period: str | None = None,
    account: str | None = None,
) -> Rows:
    """Flags from the `fraud_flags` view, sorted by (source, id) like `export flags`; every
    filter given must hold."""
    if reason is not None and reason not in REASONS:
        raise UsageError(f"unknown reason `{reason}`; expected one of {', '.join(REASONS)}")
    if status is not None and status not in STATUSES:
        raise UsageError(f"unknown status `{status}`; expected one of {', '.join(STATUSES)}")
    if period is not None:
        period_bounds(period)
    filters = {"status": status, "reason": reason, "period": period, "subject": account}
    given = {k: v for k, v in filters.items() if v is not None}
    where = " AND ".join(f"{column} = ${column}" for column in given) or "true"
    sql = f"SELECT {', '.join(LIST_COLUMNS)} FROM fraud_flags WHERE {where} ORDER BY source, id"
    return list(LIST_COLUMNS), con.execute(sql, given).fetchall()


def history(con: duckdb.DuckDBPyConnection, source: str | None, id_: str | None) -> Rows:
    """Every review recorded (`flag_reviews`), oldest first; or those of one record."""
    sql = f"SELECT {', '.join(HISTORY_COLUMNS)} FROM flag_reviews"
    params: list[str] = []
    if source is not None and id_ is not None:
        sql += " WHERE source = ? AND id = ?"
        params = [source, id_]
    rows = con.execute(sql + " ORDER BY seq", params).fetchall()
    if not rows and params and not _is_flag(con, source, id_):
        raise UsageError(
            f"no fraud flag and no review on record source={source!r} id={id_!r}",
            "list flags with `pipeline flags list`",
        )
    return list(HISTORY_COLUMNS), rows


def _is_flag(con: duckdb.DuckDBPyConnection, source: str | None, id_: str | None) -> bool:
    found = con.execute(
        "SELECT count(*) FROM fraud_flags WHERE source = ? AND id = ?", [source, id_]
    ).fetchall()
    return bool(found[0][0])


def read_pairs(lines: Iterable[str], name: str) -> tuple[str, ...]:
    """(source, id) pairs from a `--file`, flattened as the command line gives them.

    One flag per line: `SOURCE<TAB>ID` (each field verbatim, so it may hold spaces), or,
    without a tab, two fields separated by white space. Blank lines and lines starting with
    `#` are skipped, so a list can carry its own comments.
    """
    out: list[str] = []
    try:
        numbered = list(enumerate(lines, start=1))
    except UnicodeDecodeError as exc:
        raise UsageError(f"{name}: not UTF-8 text ({exc.reason})") from None
    for n, raw in numbered:
        line = raw.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        if len(fields) != 2 or not all(fields):
            raise UsageError(
                f"{name}:{n}: expected `SOURCE<TAB>ID` (or `SOURCE ID`); got {line!r}",
                "separate the two fields with a tab when an id contains spaces",
            )
        out += fields
    return tuple(out)
