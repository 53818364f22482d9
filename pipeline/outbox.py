"""The outcome feed's outbox: which outcomes a write may have changed, noted in its transaction.

Why an outbox: the outcome topics (docs/streaming.md, "Outcome topics") must say what the
warehouse says. A message sent before a write's commit could announce an outcome that a crash
then rolls back; one sent after it would be lost by a crash in between. So every write that can
change outcomes notes, in its own transaction, the records (`record`, an eid) and usage records
(`usage`, a uid) it re-judged; the worker reads their outcomes as they are after the commit,
sends them, and deletes the notes only once the broker acknowledged every message
(`acknowledge`). A crash in between sends them again: at least once, never lost, and each
message carries a version that orders them (`messages`).

The notes are written only while the feed is on for the warehouse (meta `feed` = `on`), so a
warehouse nobody publishes from does not accumulate them.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

FEED_KEY = "feed"


def _value(con: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> object:
    """The one value of a one-row query (results are always consumed fully: see
    warehouse.first_row, which this module cannot import without a cycle)."""
    rows = con.execute(sql, params).fetchall()
    return rows[0][0] if rows else None


def enabled(con: duckdb.DuckDBPyConnection) -> bool:
    return _value(con, "SELECT value FROM meta WHERE key = ?", [FEED_KEY]) == "on"


def set_enabled(con: duckdb.DuckDBPyConnection, on: bool) -> None:
    """Turn the feed on or off; off also drops the notes not yet sent (nobody will send them)."""
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [FEED_KEY, "on" if on else "off"])
    if not on:
        con.execute("DELETE FROM outbox")


def next_seq(con: duckdb.DuckDBPyConnection) -> int:
    return int(_value(con, "SELECT nextval('outbox_seq')"))  # type: ignore[call-overload]


def note_usage(
    con: duckdb.DuckDBPyConnection, seq: int, uids_sql: str, params: object = None
) -> None:
    """Note the usage records `uids_sql` (a query of one column, `uid`) as re-judged."""
    con.execute(
        f"INSERT INTO outbox SELECT {int(seq)}, 'usage', uid, true FROM ({uids_sql})", params
    )


def note_derived(con: duckdb.DuckDBPyConnection, seq: int, *, since: int, base: int) -> None:
    """Note what the derivation just run re-judged (correlate, fraud, rate; see their temp
    tables): the records stored after eid `base` (this write's), the older records correlation
    re-judged, and every usage record that changed or whose fraud marks were re-judged. A full
    rebuild (`since` = 0) re-judged every usage record; records keep their duplicate and quality
    outcomes then (those depend on the facts only, and the facts did not change)."""
    usage = (
        "SELECT uid FROM usage"
        if since == 0
        else "SELECT uid FROM u_chg UNION SELECT uid FROM f_clicks"
    )
    old_records = (
        "" if since == 0 else f"UNION ALL SELECT eid, true FROM a WHERE eid <= {int(base)}"
    )
    con.execute(
        f"""INSERT INTO outbox
        SELECT {int(seq)}, 'record', eid, old FROM (
          SELECT eid, false AS old FROM records WHERE eid > {int(base)} {old_records})
        UNION ALL
        SELECT {int(seq)}, 'usage', uid, true FROM ({usage})"""
    )


def acknowledge(con: duckdb.DuckDBPyConnection, version: int) -> None:
    """Forget every note below `version`, once the messages of the read that returned it were
    acknowledged by the broker. Safe with two workers: a read happens under the warehouse's
    write lock, where every note with a lower number is committed, and a worker's reads cover
    every note below its latest version (its first reads all; each next one, what came after)."""
    con.execute("DELETE FROM outbox WHERE seq < ?", [version])


def pending(con: duckdb.DuckDBPyConnection, after: int = 0) -> int:
    """Notes written after the read that returned version `after` (0: all of them)."""
    n = _value(con, "SELECT count(*) FROM outbox WHERE seq > ?", [after])
    return int(n)  # type: ignore[call-overload]


# Input position: the key of a record's messages, unique across warehouses sharing a broker (the
# run key is a time in nanoseconds); a rejected record has no other identity. A usage record's
# key is the position of the record its uid names (a session: its first-ingested part).
def _position(alias: str) -> str:
    return f"concat_ws(':', {alias}.run_key, {alias}.file_idx, {alias}.line)"


_POSITION = _position("r")
_TIME = "strftime(r.time, '%Y-%m-%dT%H:%M:%S.%fZ')"
_WHERE_FROM = """'run_key', r.run_key, 'file', r.file, 'line', r.line"""

MESSAGES_SQL = f"""
WITH ob AS (
  SELECT kind, id, bool_or(old) AS old FROM outbox WHERE seq > $after GROUP BY kind, id
),
recs AS (
  SELECT r.*, ob.old, st.dup, {_POSITION} AS pos, try(decode(r.raw)) AS raw_text
  FROM records r JOIN ob ON ob.kind = 'record' AND ob.id = r.eid
  LEFT JOIN event_state st USING (eid)
),
uids AS (SELECT id AS uid FROM ob WHERE kind = 'usage')
SELECT 'events.rejected' AS topic, coalesce(r.file, '') AS part_key, r.pos AS key,
       json_object('version', $version, 'outcome', 'rejected', 'reason', r.reason,
                   {_WHERE_FROM}, 'raw', r.raw_text,
                   'raw_base64', CASE WHEN r.raw_text IS NULL THEN to_base64(r.raw) END)
       AS value
FROM recs r WHERE r.reason IS NOT NULL
UNION ALL
SELECT 'events.duplicate', concat_ws(':', r.source, r.id), r.pos,
       CASE WHEN r.dup
            THEN json_object('version', $version, 'outcome', 'duplicate', 'source', r.source,
                             'id', r.id, 'type', r.type, 'time', {_TIME}, {_WHERE_FROM})
            ELSE json_object('version', $version, 'removed', true, 'source', r.source,
                             'id', r.id, {_WHERE_FROM}) END
FROM recs r WHERE r.reason IS NULL AND (r.dup OR r.old)
UNION ALL
SELECT 'quality.events', r.service, r.pos,
       CASE WHEN NOT r.dup
            THEN json_object('version', $version, 'outcome', 'quality', 'source', r.source,
                             'id', r.id, 'type', r.type, 'time', {_TIME}, 'service', r.service,
                             'incident_id', r.incident_id, 'state', r.state,
                             'planned', r.planned, 'accounts', r.accounts, 'region', r.region,
                             'ok', r.ok, 'latency_ms', r.latency_ms, {_WHERE_FROM})
            ELSE json_object('version', $version, 'removed', true, 'source', r.source,
                             'id', r.id, {_WHERE_FROM}) END
FROM recs r WHERE r.type LIKE 'quality.%' AND (NOT r.dup OR r.old)
UNION ALL
SELECT 'usage.rated', r.subject, {_position("p")},
       json_object('version', $version, 'outcome', r.outcome, 'reason', r.reason,
                   'type', r.type, 'subject', r.subject, 'source', r.source, 'id', r.id,
                   'time', {_TIME}, 'period', r.period, 'quantity', r.quantity::VARCHAR,
                   'parts', r.parts, 'complete', r.complete, 'session_id', r.session_id,
                   'destination', r.destination, 'campaign', r.campaign,
                   'account', r.account, 'plan', r.plan, 'currency', r.currency,
                   'model', r.model, 'rounded_quantity', r.rounded_quantity::VARCHAR,
                   'price', r.price::VARCHAR, 'off_peak', r.off_peak,
                   'amount', r.amount::VARCHAR, 'flag_status', r.flag_status)
FROM usage_outcomes r JOIN records p ON p.eid = r.uid SEMI JOIN uids USING (uid)
UNION ALL
SELECT 'usage.rated', r.subject, {_POSITION}, json_object('version', $version, 'removed', true)
FROM records r SEMI JOIN (SELECT uid FROM uids ANTI JOIN usage USING (uid)) g ON g.uid = r.eid
"""


def messages(con: duckdb.DuckDBPyConnection, after: int = 0) -> tuple[int, pa.Table]:
    """Every noted outcome as it is now: (version, table of topic, part_key, key, value). Only
    the notes written after the read that returned version `after`: a worker whose earlier read
    is still being sent need not read its notes again (0: every note).

    `version` is a fresh sequence number, so the messages of a later read always carry a higher
    one: a consumer that keeps, per topic and key, the message with the highest version holds
    the warehouse's current outcomes even when two workers' sends interleave, or a message is
    sent again after a crash. `part_key` says which partition a message belongs on (everything a
    consumer needs together: a subject's usage, a service's quality events); a message with
    `removed` retracts what the key said before (the record moved to another outcome)."""
    version = next_seq(con)
    sql = MESSAGES_SQL.replace("$version", str(version)).replace("$after", str(int(after)))
    return version, con.sql(sql).to_arrow_table()
