"""Correlation: duplicates (contract 2.2) and assembly of partial sessions (2.3), in SQL.

Both are functions of everything ingested, ordered by input order (run_key, file_idx, line), so
they give the same answer whether records arrived in one replay, one per file, or through the
stream in any partition order.

Incremental: only records that share a key with the new ones (eid > `since`) are re-judged —
the same (source, id), the same session part, the same session — each over its complete key
group, so the answer equals a full rebuild (which is the same code with `since` = 0). It leaves
`u_old`/`u_new`/`u_chg` (usage ids before, after, and either) and `usage_gone` (the replaced
usage rows) as temp tables for the fraud and rating steps (not after a full rebuild: they
re-judge everything then).
"""

from __future__ import annotations

import duckdb

from .fields import USAGE_TYPES

_ORDER = "run_key, file_idx, line"
_USAGE_IN = ", ".join(f"'{t}'" for t in USAGE_TYPES)

SCOPED_ONLY, ALWAYS = True, False
STEPS: list[tuple[bool, str] | str] = [
    # Records sharing a (source, id) with a new one: the first in input order wins.
    (
        SCOPED_ONLY,
        # (found by the integer key alone, then fetched by eid: see fraud.SCOPE_SQL)
        "CREATE OR REPLACE TEMP TABLE k_id AS SELECT eid FROM events SEMI JOIN"
        " (SELECT DISTINCT key_hash FROM events WHERE eid > $since) USING (key_hash)",
    ),
    # (the keys that repeat are found by their integer hash `key_hash`, and only the records
    # holding one are grouped by (source, id): nearly every (source, id) is unique, and sorting
    # a million one-row partitions, or matching every record to its group by its strings, cost
    # more than the rest of the step)
    f"""CREATE OR REPLACE TEMP TABLE d1 AS
    WITH scoped AS NOT MATERIALIZED (  -- (each use scans the columns it needs: no copy)
      SELECT e.eid, e.type, e.session_id, e.key_hash FROM events e {{by_id}}
    ), repeats AS (
      SELECT eid FROM scoped
      WHERE key_hash IN (SELECT key_hash FROM scoped GROUP BY key_hash HAVING count(*) > 1)
    ), later AS (      -- the records of a repeated (source, id) that are not its first
      SELECT eid FROM (
        SELECT eid, eid <> arg_min(eid, (run_key, file_idx, line))
                             OVER (PARTITION BY source, id) AS later
        FROM events SEMI JOIN repeats USING (eid))
      WHERE later
    )
    -- (flags only: the steps after d1 read a session part's strings from events, by eid)
    SELECT s.eid, s.session_id IS NOT NULL AS is_part, s.type IN ({_USAGE_IN}) AS is_usage,
           l.eid IS NULL AS first_id
    FROM scoped s LEFT JOIN later l USING (eid)""",
    # Session parts sharing a part key with those: among (source, id) winners, the first wins.
    # (A record that is no session part is kept when it is its (source, id)'s first: `a` takes
    # it from d1.)
    (
        SCOPED_ONLY,
        """CREATE OR REPLACE TEMP TABLE k_part AS
    SELECT DISTINCT subject, type, session_id, session_seq
    FROM events SEMI JOIN (SELECT eid FROM d1 WHERE is_part) USING (eid)""",
    ),
    f"""CREATE OR REPLACE TEMP TABLE d AS
    WITH parts AS (
      SELECT e.eid, e.run_key, e.file_idx, e.line, e.type, e.subject, e.session_id,
             e.session_seq, coalesce(d1.first_id, st.first_id) AS first_id
      FROM (SELECT * FROM events e {{by_part}}) e
      LEFT JOIN d1 USING (eid) LEFT JOIN event_state st USING (eid)
    )
    SELECT eid, type, subject, session_id, first_id,
           first_id AND row_number() OVER (
             PARTITION BY first_id, subject, type, session_id, session_seq ORDER BY {_ORDER}) = 1
           AS keep
    FROM parts""",
    # Every part of a touched session: a session is named by its first-ingested kept part.
    (
        SCOPED_ONLY,
        """CREATE OR REPLACE TEMP TABLE k_sess AS
    SELECT DISTINCT subject, type, session_id FROM d WHERE session_id IS NOT NULL""",
    ),
    """CREATE OR REPLACE TEMP TABLE a AS
    WITH sess AS (
      SELECT e.eid, e.type, e.subject, e.session_id,
             coalesce(d.first_id, st.first_id) AS first_id, coalesce(d.keep, NOT st.dup) AS keep
      FROM (SELECT * FROM events e {by_sess}) e
      LEFT JOIN d USING (eid) LEFT JOIN event_state st USING (eid)
    )
    SELECT eid, first_id, NOT keep AS dup,
           CASE WHEN keep THEN min(eid) OVER (PARTITION BY keep, subject, type, session_id) END
           AS uid
    FROM sess
    UNION ALL
    SELECT eid, first_id, NOT first_id, CASE WHEN first_id AND is_usage THEN eid END
    FROM d1 WHERE NOT is_part""",
    # Note which usage records change, and what they were (a full rebuild changes all of them,
    # and fraud and rating then need no list); then replace the affected records' state. (Before
    # it: the usage view reads event_state, and `usage_gone` is what the view held, with this
    # write's new records, not judged yet, as usage records of their own: their fraud groups
    # are re-judged anyway.)
    (
        SCOPED_ONLY,
        """CREATE OR REPLACE TEMP TABLE u_old AS
    SELECT DISTINCT st.uid FROM event_state st SEMI JOIN a USING (eid) WHERE st.uid IS NOT NULL""",
    ),
    (
        SCOPED_ONLY,
        "CREATE OR REPLACE TEMP TABLE u_new AS SELECT DISTINCT uid FROM a WHERE uid IS NOT NULL",
    ),
    (
        SCOPED_ONLY,
        "CREATE OR REPLACE TEMP TABLE u_chg AS SELECT uid FROM u_old UNION SELECT uid FROM u_new",
    ),
    (
        SCOPED_ONLY,
        "CREATE OR REPLACE TEMP TABLE usage_gone AS"
        " SELECT * FROM usage SEMI JOIN u_chg USING (uid)",
    ),
    (SCOPED_ONLY, "DELETE FROM event_state WHERE eid IN (SELECT eid FROM a)"),
    "INSERT INTO event_state SELECT eid, first_id, dup, uid FROM a",
    (SCOPED_ONLY, "DELETE FROM sessions WHERE uid IN (SELECT uid FROM u_chg)"),
    # A session takes the time and destination of its earliest part (by time, then seq) and the
    # sum of its parts' quantities. (A single record's usage record is the record itself, read
    # through the usage view: its event_state row gives it its own eid as uid.)
    """INSERT INTO sessions
    SELECT uid, any_value(type), any_value(subject),
           arg_min(source, (time, session_seq)), arg_min(id, (time, session_seq)),
           min(time), strftime(min(time), '%Y-%m'), sum(quantity),
           arg_min_null(destination, (time, session_seq)), any_value(session_id),
           count(*)::INTEGER,
           count(*) = max(session_seq) AND bool_or(session_last AND session_seq = max_seq)
    FROM (SELECT e.*, a.uid, max(e.session_seq) OVER (PARTITION BY a.uid) AS max_seq
          FROM events e JOIN a USING (eid)
          WHERE a.uid IS NOT NULL AND e.session_id IS NOT NULL)
    GROUP BY uid""",
]


# A full rebuild (`since` = 0 on empty derived tables) puts every record in scope: the key
# tables and the semi-joins that restrict each step to them are skipped, same logic otherwise.
_SCOPED = {
    "by_id": "SEMI JOIN k_id USING (eid)",  # a shared hash only widens the scope
    # (the NULL test, implied by the join, is pushed into the scan: most records are no parts)
    "by_part": "SEMI JOIN k_part USING (subject, type, session_id, session_seq)"
    " WHERE e.session_id IS NOT NULL",
    "by_sess": "SEMI JOIN k_sess USING (subject, type, session_id) WHERE e.session_id IS NOT NULL",
}
_FULL = {
    "by_id": "",
    "by_part": "WHERE e.session_id IS NOT NULL",
    "by_sess": "WHERE e.session_id IS NOT NULL",
}


def correlate(con: duckdb.DuckDBPyConnection, since: int) -> None:
    """Re-judge duplicates and rebuild the usage records that records after eid `since` touch;
    `since` = 0 (with the derived tables emptied) rebuilds everything."""
    scope = _FULL if since == 0 else _SCOPED
    for step in STEPS:
        scoped_only, sql = step if isinstance(step, tuple) else (ALWAYS, step)
        if since == 0 and scoped_only:
            continue
        for key, text in scope.items():
            sql = sql.replace("{" + key + "}", text)
        con.execute(sql, {"since": since} if "$since" in sql else None)
