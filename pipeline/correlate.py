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
# with a (subject, type, session.id, session.seq) wins.
DEDUP_SQL = f"""
INSERT INTO event_dup
WITH by_id AS (
  SELECT run_key, file_idx, line, type, subject, session_id, session_seq,
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
SELECT run_key, file_idx, line, NOT keep FROM by_part
"""

# One usage record per non-duplicate usage event without a session, one per session; a
# session takes the time and destination of its earliest part (by time, then seq).
USAGE_SQL = f"""
CREATE OR REPLACE TEMP TABLE live_usage AS
SELECT e.* FROM events e JOIN event_dup d USING (run_key, file_idx, line)
WHERE NOT d.dup AND e.type IN ({_USAGE_IN});

CREATE OR REPLACE TEMP TABLE session_usage AS
SELECT subject, type, session_id,
       arg_min(source, (time, session_seq)) AS source, arg_min(id, (time, session_seq)) AS id,
       min(time) AS time, sum(quantity) AS quantity,
       arg_min(destination, (time, session_seq)) AS destination,
       count(*)::INTEGER AS parts,
       count(*) = max(session_seq) AND bool_or(session_last AND session_seq = max_seq) AS complete
FROM (SELECT *, max(session_seq) OVER (PARTITION BY subject, type, session_id) AS max_seq
      FROM live_usage WHERE session_id IS NOT NULL)
GROUP BY subject, type, session_id;

INSERT INTO usage
SELECT row_number() OVER () AS uid, type, subject, source, id, time,
       strftime(time, '%Y-%m') AS period, quantity, destination, campaign, ip, user_agent,
       impression_id, session_id, parts, complete
FROM (
  SELECT type, subject, source, id, time, quantity, destination, campaign, ip, user_agent,
         impression_id, NULL AS session_id, 1 AS parts, NULL::BOOLEAN AS complete
  FROM live_usage WHERE session_id IS NULL
  UNION ALL
  SELECT type, subject, source, id, time, quantity, destination, NULL, NULL, NULL, NULL,
         session_id, parts, complete
  FROM session_usage
);

INSERT INTO event_usage
SELECT l.run_key, l.file_idx, l.line, u.uid
FROM live_usage l JOIN usage u
  ON l.session_id IS NULL AND u.session_id IS NULL AND u.source = l.source AND u.id = l.id
UNION ALL
SELECT l.run_key, l.file_idx, l.line, u.uid
FROM live_usage l JOIN usage u
  ON u.session_id = l.session_id AND u.subject = l.subject AND u.type = l.type;

DROP TABLE live_usage;
DROP TABLE session_usage;
"""


def correlate(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild duplicates, usage records and their links from `events`."""
    for table in ("event_dup", "usage", "event_usage"):
        con.execute(f"DELETE FROM {table}")
    con.execute(DEDUP_SQL)
    con.execute(USAGE_SQL)


