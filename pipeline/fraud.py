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


def fold_sql(text: str) -> str:
    """Case folding for rule 1's "case-insensitively": DuckDB's `lower`, then the two common
    letters whose lowercase is not their fold (a final sigma, ς, folds to σ as Σ lowers to; ß to
    ss as the capital SS lowers to). The bot strings and the user agents go through the same
    expression, so a user agent equal to a listed string always contains it."""
    return f"replace(replace(lower({text}), 'ς', 'σ'), 'ß', 'ss')"


def _window_us(window_s: Decimal) -> int:
    """The attribution window in whole microseconds (the precision every comparison uses)."""
    return int(window_s * 1_000_000)


# Ads whose marks can change: any ad usage record that changed (`u_chg`, before or after), the
# clicks of the same (subject, impression_id) or on an impression of the same (subject, id),
# and the clicks of the same (ip, UTC minute). Found through the integer keys: one integer
# column of the usage table is read, and a shared hash only widens the scope.
SCOPE_SQL = """
CREATE OR REPLACE TEMP TABLE fraud_touched AS
SELECT type, pair_key, minute_key FROM usage_gone WHERE pair_key IS NOT NULL
UNION ALL
SELECT type, pair_key, minute_key FROM usage SEMI JOIN u_new USING (uid)
WHERE pair_key IS NOT NULL;

-- every click in a touched (subject, impression_id) group or (ip, minute) group
CREATE OR REPLACE TEMP TABLE f_clicks AS
SELECT uid, pair_key, minute_key FROM usage
WHERE type = 'ad.click'
  AND (pair_key IN (SELECT pair_key FROM fraud_touched)
       OR minute_key IN (SELECT minute_key FROM fraud_touched WHERE type = 'ad.click'));

-- The uids of the rows each rule reads: the ads of those clicks' (subject, impression_id)
-- groups, and the clicks of their (ip, minute) groups. Found by their integer keys alone; the
-- rules then fetch the wide rows by uid. (A scan that filters on a hash key still decodes every
-- string column it projects, 10x the cost; uids of new work sit together at the table's end.)
CREATE OR REPLACE TEMP TABLE f_pairs AS
SELECT uid, type FROM usage SEMI JOIN (SELECT DISTINCT pair_key FROM f_clicks) USING (pair_key);

CREATE OR REPLACE TEMP TABLE f_minutes AS
SELECT uid FROM usage SEMI JOIN (SELECT DISTINCT minute_key FROM f_clicks) USING (minute_key)
WHERE type = 'ad.click';
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
), new_imps AS (  -- rule 1 marks impressions too
  SELECT uid, user_agent FROM usage {new_scope} WHERE type = 'ad.impression'
), agents AS (    -- rule 1 once per distinct user agent (a few hundred), not once per record
  SELECT user_agent, len(list_filter($bots, lambda p: contains({fold_ua}, p))) > 0 AS bot
  FROM (SELECT user_agent FROM grp UNION SELECT user_agent FROM new_imps)
), attributed AS (
  SELECT DISTINCT c.uid FROM grp c JOIN imps i
    ON i.subject = c.subject AND i.id = c.impression_id
   AND i.time BETWEEN c.time - to_microseconds($window_us) AND c.time
), r12 AS (
  SELECT g.*, coalesce(ag.bot, false) AS bot, a.uid IS NULL AS unattributed
  FROM grp g LEFT JOIN attributed a USING (uid)
  LEFT JOIN agents ag ON ag.user_agent = g.user_agent
), firsts AS (    -- rule 3: of the attributed clicks on one impression, the first counts
  -- (an aggregate over the impressions clicked more than once, not a window over every click)
  SELECT subject, impression_id, arg_min(uid, (time, source, id)) AS first_uid
  FROM r12 WHERE NOT bot AND NOT unattributed
  GROUP BY subject, impression_id HAVING count(*) > 1
), r3 AS (
  SELECT r12.*, NOT bot AND unattributed AS orphan,
         coalesce(NOT bot AND NOT unattributed AND f.first_uid <> r12.uid, false) AS dup_click
  FROM r12 LEFT JOIN firsts f USING (subject, impression_id)
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
SELECT n.uid, 'bot_user_agent' FROM new_imps n JOIN agents ag ON ag.user_agent = n.user_agent
WHERE ag.bot
"""
_FOLDED = {"fold_ua": fold_sql("user_agent")}


# Each step's restriction to the scope; a full rebuild has everything in scope and skips them.
SCOPES = {
    "grp_scope": "SEMI JOIN f_pairs USING (uid)",
    "imp_scope": "SEMI JOIN f_pairs USING (uid)",
    "burst_scope": "SEMI JOIN f_minutes USING (uid)",
    "click_scope": "SEMI JOIN f_clicks USING (uid)",
    "new_scope": "SEMI JOIN u_new USING (uid)",
}


def _lowered(con: duckdb.DuckDBPyConnection, bots: tuple[str, ...]) -> list[str]:
    """The bot strings folded by `fold_sql`, the expression applied to user agents (Python's
    `str.lower` differs from DuckDB's `lower` for some letters, `İ` among them)."""
    rows = con.execute(
        f"SELECT list_transform(?::VARCHAR[], lambda b: {fold_sql('b')})", [list(bots)]
    )
    return list(rows.fetchall()[0][0] or [])


def judge_fraud(con: duckdb.DuckDBPyConnection, settings: FraudSettings, *, full: bool) -> None:
    """Re-judge the ads the last correlation touched (see correlate: `u_new`, `usage_gone`);
    `full`: every ad (the fraud table was emptied)."""
    sql = JUDGE_SQL
    for key, text in SCOPES.items():
        sql = sql.replace("{" + key + "}", "" if full else text)
    for key, text in _FOLDED.items():
        sql = sql.replace("{" + key + "}", text)
    if not full:
        con.execute(SCOPE_SQL)
        con.execute(
            "DELETE FROM fraud WHERE uid IN (SELECT uid FROM u_chg UNION SELECT uid FROM f_clicks)"
        )
    con.execute(
        sql,
        {
            "bots": _lowered(con, settings.bot_user_agents),
            "window_us": _window_us(settings.attribution_window_s),
            "max_clicks": settings.max_clicks_per_ip_per_minute,
        },
    )
