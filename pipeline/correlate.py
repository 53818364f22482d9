"""Correlation: duplicates (contract 2.2) and assembly of partial sessions (2.3), in SQL.

Both are functions of everything ingested, ordered by input order (run_key, file_idx, line),
so they give the same answer whether records arrived in one replay, one per file, or through
the stream in any partition order.
"""

from __future__ import annotations

import duckdb

from .fields import USAGE_TYPES

_ORDER = "run_key, file_idx, line"
_USAGE_IN = ", ".join(f"'{t}'" for t in USAGE_TYPES)

# The first record with a (source, id) wins; among the winners that are session parts, the first
# with a (subject, type, session.id, session.seq) wins. A non-duplicate usage record belongs to
# itself; a session part to its session, named by the eid of its first-ingested part.
STATE_SQL = f"""
INSERT INTO event_state
WITH by_id AS (
  SELECT eid, run_key, file_idx, line, type, subject, session_id, session_seq,
         row_number() OVER (PARTITION BY source, id ORDER BY {_ORDER}) = 1 AS first_id
  FROM events
), by_part AS (
  SELECT *, CASE WHEN first_id AND session_id IS NOT NULL
                 THEN row_number() OVER (
                        PARTITION BY first_id AND session_id IS NOT NULL,
                                     subject, type, session_id, session_seq
                        ORDER BY {_ORDER}) = 1
                 ELSE first_id END AS keep
  FROM by_id
)
SELECT eid, NOT keep,
       CASE WHEN NOT keep OR type NOT IN ({_USAGE_IN}) THEN NULL
            WHEN session_id IS NULL THEN eid
            ELSE min(eid) OVER (PARTITION BY keep, subject, type, session_id) END
FROM by_part
"""

# Usage records: singles copy their event; a session takes the time and destination of its
# earliest part (by time, then seq) and the sum of its parts' quantities.
USAGE_SQL = """
INSERT INTO usage
SELECT e.eid, e.type, e.subject, e.source, e.id, e.time, strftime(e.time, '%Y-%m'), e.quantity,
       e.destination, e.campaign, e.ip, e.user_agent, e.impression_id, NULL, 1, NULL
FROM events e JOIN event_state s ON s.eid = e.eid AND s.uid = e.eid
WHERE e.session_id IS NULL;

INSERT INTO usage
SELECT uid, any_value(type), any_value(subject),
       arg_min(source, (time, session_seq)), arg_min(id, (time, session_seq)),
       min(time), strftime(min(time), '%Y-%m'), sum(quantity),
       arg_min_null(destination, (time, session_seq)), NULL, NULL, NULL, NULL,
       any_value(session_id), count(*)::INTEGER,
       count(*) = max(session_seq) AND bool_or(session_last AND session_seq = max_seq)
FROM (SELECT e.*, s.uid, max(e.session_seq) OVER (PARTITION BY s.uid) AS max_seq
      FROM events e JOIN event_state s USING (eid)
      WHERE s.uid IS NOT NULL AND e.session_id IS NOT NULL)
GROUP BY uid;
"""


def correlate(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild duplicate marks and usage records from `events`."""
    con.execute("DELETE FROM event_state")
    con.execute("DELETE FROM usage")
    con.execute(STATE_SQL)
    con.execute(USAGE_SQL)
