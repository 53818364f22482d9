"""The four fraud rules (contract 2.4) over usage records, in order; first rule wins.

Pure SQL over the `usage` table (everything ingested, duplicates already out), parameterised by
the fraud settings. Analysts' reviews are not applied here: a dismissed flag is still a flag;
the views decide what a dismissal changes.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb

from .ruleset import FraudSettings


def _window_us(window_s: Decimal) -> int:
    """The attribution window in whole microseconds (the precision every comparison uses)."""
    return int(window_s * 1_000_000)


FRAUD_SQL = """
INSERT INTO fraud
WITH ads AS (
  SELECT uid, type, subject, source, id, time, ip, user_agent, impression_id
  FROM usage WHERE type IN ('ad.click', 'ad.impression')
), r1 AS (
  SELECT *, len(list_filter($bots, lambda p: contains(lower(user_agent), p))) > 0 AS bot
  FROM ads
), attributed AS (
  SELECT DISTINCT c.uid
  FROM ads c JOIN ads i
    ON i.type = 'ad.impression' AND c.type = 'ad.click'
   AND i.subject = c.subject AND i.id = c.impression_id
   AND i.time BETWEEN c.time - to_microseconds($window_us) AND c.time
), r2 AS (
  SELECT r1.*, type = 'ad.click' AND NOT bot AND a.uid IS NULL AS orphan
  FROM r1 LEFT JOIN attributed a USING (uid)
), r3 AS (
  SELECT *, CASE WHEN type = 'ad.click' AND NOT bot AND NOT orphan THEN
           row_number() OVER (PARTITION BY type = 'ad.click' AND NOT bot AND NOT orphan,
                                           subject, impression_id
                              ORDER BY time, source, id) > 1
         ELSE false END AS dup_click
  FROM r2
), r4 AS (
  SELECT *, CASE WHEN type = 'ad.click'
           THEN count(*) OVER (PARTITION BY type, ip, date_trunc('minute', time)) > $max_clicks
           ELSE false END AS burst
  FROM r3
)
SELECT uid, CASE WHEN bot THEN 'bot_user_agent' WHEN orphan THEN 'orphan_click'
                 WHEN dup_click THEN 'duplicate_click' ELSE 'ip_velocity' END
FROM r4 WHERE bot OR orphan OR dup_click OR burst
"""


def judge_fraud(con: duckdb.DuckDBPyConnection, settings: FraudSettings) -> None:
    """Rebuild the `fraud` table from `usage` with the given thresholds."""
    con.execute("DELETE FROM fraud")
    con.execute(
        FRAUD_SQL,
        {
            "bots": [p.lower() for p in settings.bot_user_agents],
            "window_us": _window_us(settings.attribution_window_s),
            "max_clicks": settings.max_clicks_per_ip_per_minute,
        },
    )
