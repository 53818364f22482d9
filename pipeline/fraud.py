"""The four fraud rules (contract 2.4) over usage records, in order; first rule wins.

Pure SQL over the `usage` table (everything ingested, duplicates already out), parameterised by
the fraud settings. Incremental: only the ads whose groups changed are re-judged, each rule over
its complete group ((subject, impression_id) for rules 2-3, (ip, UTC minute) for rule 4).
Analysts' reviews are not applied here: a dismissed flag is still a flag;
the views decide what a dismissal changes.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb

from .ruleset import FraudSettings


def _window_us(window_s: Decimal) -> int:
    """The attribution window in whole microseconds (the precision every comparison uses)."""
    return int(window_s * 1_000_000)


# Ads whose marks can change: any ad usage record that changed (`u_chg`, before or after), the
# clicks of the same (subject, impression_id) or on an impression of the same (subject, id),
# and the clicks of the same (ip, UTC minute).
SCOPE_SQL = """
CREATE OR REPLACE TEMP TABLE fraud_touched AS
SELECT type, subject, id, impression_id, ip, time FROM usage_gone
WHERE type IN ('ad.click', 'ad.impression')
UNION ALL
SELECT type, subject, id, impression_id, ip, time FROM usage SEMI JOIN u_new USING (uid)
WHERE type IN ('ad.click', 'ad.impression');

CREATE OR REPLACE TEMP TABLE fk_pair AS
SELECT DISTINCT subject, CASE WHEN type = 'ad.click' THEN impression_id ELSE id END AS imp
FROM fraud_touched;

CREATE OR REPLACE TEMP TABLE fk_minute AS
SELECT DISTINCT ip, date_trunc('minute', time) AS minute FROM fraud_touched WHERE type = 'ad.click';

-- every click in a touched (subject, impression_id) group or (ip, minute) group
CREATE OR REPLACE TEMP TABLE f_clicks AS
SELECT u.* FROM usage u JOIN fk_pair k ON k.subject = u.subject AND k.imp = u.impression_id
WHERE u.type = 'ad.click'
UNION
SELECT u.* FROM usage u JOIN fk_minute m ON m.ip = u.ip AND m.minute = date_trunc('minute', u.time)
WHERE u.type = 'ad.click';
"""

# The four rules over the scope, each over its complete group.
JUDGE_SQL = """
INSERT INTO fraud
WITH grp AS (     -- rule 3 needs every click of the scope's (subject, impression_id) groups
  SELECT u.* FROM usage u {grp_scope}
  WHERE u.type = 'ad.click'
), imps AS (
  SELECT u.uid, u.subject, u.id, u.time, u.user_agent FROM usage u {imp_scope}
  WHERE u.type = 'ad.impression'
), attributed AS (
  SELECT DISTINCT c.uid FROM grp c JOIN imps i
    ON i.subject = c.subject AND i.id = c.impression_id
   AND i.time BETWEEN c.time - to_microseconds($window_us) AND c.time
), r12 AS (
  SELECT g.*, len(list_filter($bots, lambda p: contains(lower(g.user_agent), p))) > 0 AS bot,
         a.uid IS NULL AS unattributed
  FROM grp g LEFT JOIN attributed a USING (uid)
), r3 AS (
  SELECT *, NOT bot AND unattributed AS orphan,
         CASE WHEN NOT bot AND NOT unattributed THEN
           row_number() OVER (PARTITION BY NOT bot AND NOT unattributed, subject, impression_id
                              ORDER BY time, source, id) > 1
         ELSE false END AS dup_click
  FROM r12
), burst AS (      -- rule 4 counts every click of the (ip, minute), marked or not
  SELECT u.ip, date_trunc('minute', u.time) AS minute, count(*) > $max_clicks AS burst
  FROM usage u {burst_scope}
  WHERE u.type = 'ad.click' GROUP BY ALL
), clicks AS (
  SELECT r3.uid, CASE WHEN bot THEN 'bot_user_agent' WHEN orphan THEN 'orphan_click'
                      WHEN dup_click THEN 'duplicate_click'
                      WHEN b.burst THEN 'ip_velocity' END AS reason
  FROM r3 {click_scope}
  LEFT JOIN burst b ON b.ip = r3.ip AND b.minute = date_trunc('minute', r3.time)
)
SELECT uid, reason FROM clicks WHERE reason IS NOT NULL
UNION ALL
SELECT uid, 'bot_user_agent' FROM usage {new_scope}
WHERE type = 'ad.impression'
  AND len(list_filter($bots, lambda p: contains(lower(user_agent), p))) > 0
"""


# Each step's restriction to the scope; a full rebuild has everything in scope and skips them.
SCOPES = {
    "grp_scope": "SEMI JOIN (SELECT DISTINCT subject, impression_id FROM f_clicks) g"
    " USING (subject, impression_id)",
    "imp_scope": "SEMI JOIN (SELECT DISTINCT subject, impression_id AS id FROM grp) k"
    " USING (subject, id)",
    "burst_scope": "SEMI JOIN (SELECT DISTINCT ip, date_trunc('minute', time) AS minute"
    " FROM f_clicks) m ON m.ip = u.ip AND m.minute = date_trunc('minute', u.time)",
    "click_scope": "SEMI JOIN f_clicks USING (uid)",
    "new_scope": "SEMI JOIN u_new USING (uid)",
}


def judge_fraud(con: duckdb.DuckDBPyConnection, settings: FraudSettings, *, full: bool) -> None:
    """Re-judge the ads the last correlation touched (see correlate: `u_new`, `usage_gone`);
    `full`: every ad (the fraud table was emptied)."""
    sql = JUDGE_SQL
    for key, text in SCOPES.items():
        sql = sql.replace("{" + key + "}", "" if full else text)
    if not full:
        con.execute(SCOPE_SQL)
        con.execute(
            "DELETE FROM fraud WHERE uid IN (SELECT uid FROM u_chg UNION SELECT uid FROM f_clicks)"
        )
    con.execute(
        sql,
        {
            "bots": [p.lower() for p in settings.bot_user_agents],
            "window_us": _window_us(settings.attribution_window_s),
            "max_clicks": settings.max_clicks_per_ip_per_minute,
        },
    )
