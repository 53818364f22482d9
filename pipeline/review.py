"""Fraud analysts' reviews: dismiss or confirm flags, with who, when and why recorded."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime

from . import outbox
from .errors import UsageError
from .warehouse import Warehouse, first_row


def review_flags(warehouse: str, status: str, ids: tuple[str, ...], note: str | None) -> int:
    """Record a review for each (source, id) pair; every pair must be a listed flag."""
    if len(ids) % 2:
        raise UsageError("give flags as pairs: EVENT_SOURCE EVENT_ID [EVENT_SOURCE EVENT_ID ...]")
    # (a flag given twice, say on the command line and in --file, is one review)
    pairs = list(dict.fromkeys(zip(ids[::2], ids[1::2], strict=True)))
    # UTC like every time in the warehouse. DuckDB's now() stored in a TIMESTAMP column would
    # be the wall-clock time of the process's time zone.
    reviewed_at = datetime.now(UTC).replace(tzinfo=None)
    with Warehouse.open(warehouse, write=True) as wh, wh.transaction() as con:
        seq = outbox.next_seq(con) if outbox.enabled(con) else None
        for source, id_ in pairs:
            row = first_row(
                con, "SELECT reason FROM fraud_flags WHERE source = ? AND id = ?", [source, id_]
            )
            if row is None:
                raise UsageError(
                    f"no fraud flag on record source={source!r} id={id_!r}",
                    "list flags with `pipeline export flags`",
                )
            con.execute(
                "INSERT INTO flag_reviews SELECT ?, ?, ?, ?, ?, ?, ?,"
                " coalesce(max(seq), 0) + 1 FROM flag_reviews",
                [source, id_, status, row[0], note, getpass.getuser(), reviewed_at],
            )
            if seq is not None:  # a dismissal changes the record's outcome: the feed says so
                flagged = "SELECT uid FROM fraud_flags WHERE source = ? AND id = ?"
                outbox.note_usage(con, seq, flagged, [source, id_])
    return len(pairs)
