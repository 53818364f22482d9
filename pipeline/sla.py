"""SLA measurement (contract 4): downtime intervals, their union per account, availability and
the credit percent.

Intervals come from SQL over all non-duplicate quality records (everything ingested), then are
clipped to the period and unioned per account in SQL. The last step — exact availability, tier
and cap — is a few rows per period and uses `fractions.Fraction`, never floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

import duckdb

from .ruleset import RuleSet, Sla

# The non-duplicate records of one quality type. Their ids are found first (a scan of `type`
# alone), then the rows are read by id: filtering the whole history's rows by type while
# joining their state made DuckDB decode every string of every record (0.3-0.8 s at 10M).
_QUALITY = """
SELECT e.* FROM events e SEMI JOIN (
  SELECT eid FROM event_state SEMI JOIN (SELECT eid FROM events WHERE type = '{type}') USING (eid)
  WHERE NOT dup
) USING (eid)
"""

# One incident per incident_id: from its earliest `open` to its latest `resolved`; planned,
# service and accounts from the earliest `open` record (ties by source, then id).
INCIDENTS_SQL = f"""
CREATE OR REPLACE TEMP TABLE sla_incidents AS
WITH q AS ({_QUALITY.format(type="quality.incident")}),
inc AS (
  SELECT incident_id,
    min(time) FILTER (state = 'open') AS opened,
    max(time) FILTER (state = 'resolved') AS resolved,
    arg_min(planned, (time, source, id)) FILTER (state = 'open') AS planned,
    arg_min(service, (time, source, id)) FILTER (state = 'open') AS service,
    -- arg_min skips NULL values; the earliest open record may have no list (= none)
    arg_min_null(accounts, (time, source, id)) FILTER (state = 'open') AS accounts
  FROM q GROUP BY incident_id
)
SELECT incident_id, service, accounts, opened AS start, resolved AS stop FROM inc
WHERE opened IS NOT NULL AND (resolved IS NULL OR resolved >= opened) AND NOT planned
"""

# Probe runs: a run of >= n consecutive failures (per service and region, in time order, then
# source, id) is an outage from its first failure to the next ok probe (NULL: still open).
PROBES_SQL = f"""
CREATE OR REPLACE TEMP TABLE sla_probe_outages AS
WITH p AS (
  SELECT service, region, time, ok,
         sum(ok::INTEGER) OVER (PARTITION BY service, region ORDER BY time, source, id
                                ROWS UNBOUNDED PRECEDING) AS grp
  FROM ({_QUALITY.format(type="quality.probe")})
), runs AS (
  SELECT service, region, grp, min(time) FILTER (NOT ok) AS start,
         count(*) FILTER (NOT ok) AS failures, min(time) FILTER (ok) AS run_ok
  FROM p GROUP BY service, region, grp
)
SELECT r.service, r.region, r.failures, r.start, nxt.run_ok AS stop
FROM runs r LEFT JOIN runs nxt
  ON nxt.service = r.service AND nxt.region = r.region AND nxt.grp = r.grp + 1
WHERE r.failures > 0
"""

# Each account's affecting intervals, clipped to [$start, $end), unioned: total microseconds.
DOWNTIME_SQL = """
WITH sla_accounts AS (
  SELECT a.account, s.service, s.failures_to_open
  FROM accounts a JOIN sla_defs s ON s.sla = a.sla
), iv AS (
  SELECT sa.account, i.start, i.stop FROM sla_incidents i
  JOIN sla_accounts sa
    ON CASE WHEN i.accounts IS NOT NULL THEN list_contains(i.accounts, sa.account)
            ELSE i.service = sa.service END
  UNION ALL
  SELECT sa.account, o.start, o.stop FROM sla_probe_outages o
  JOIN sla_accounts sa ON o.service = sa.service AND o.failures >= sa.failures_to_open
), clipped AS (
  SELECT account, greatest(start, $start) AS s, least(coalesce(stop, $end), $end) AS e FROM iv
), live AS (SELECT * FROM clipped WHERE e > s),
marked AS (
  SELECT *, coalesce(s > max(e) OVER (PARTITION BY account ORDER BY s, e
                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), true) AS starts_group
  FROM live
), grouped AS (
  SELECT *, sum(starts_group::INTEGER) OVER (PARTITION BY account ORDER BY s, e
                                             ROWS UNBOUNDED PRECEDING) AS g
  FROM marked
)
SELECT account, sum(epoch_us(ge) - epoch_us(gs)) AS downtime_us
FROM (SELECT account, g, min(s) AS gs, max(e) AS ge FROM grouped GROUP BY account, g)
GROUP BY account
"""


@dataclass(frozen=True)
class Availability:
    account: str
    sla: Sla
    downtime_us: int
    period_us: int

    @property
    def exact(self) -> Fraction:
        return Fraction(100) * (self.period_us - self.downtime_us) / self.period_us

    @property
    def shown(self) -> Decimal:
        """Availability in percent, rounded half up to 3 decimals (as the invoice shows it)."""
        return _round(self.exact, 3)

    @property
    def credit_percent(self) -> Decimal:
        """The percent of the tier with the lowest `below` still above the exact availability,
        capped at max_credit_percent; 0 when no tier applies."""
        above = [t for t in self.sla.credits if Fraction(t.below) > self.exact]
        if not above:
            return Decimal(0)
        percent = min(above, key=lambda t: t.below).percent
        cap = self.sla.max_credit_percent
        return percent if cap is None else min(percent, cap)


def _round(value: Fraction, places: int) -> Decimal:
    """Half-up rounding of an exact fraction (non-negative or negative alike)."""
    scaled = value * 10**places
    sign = -1 if scaled < 0 else 1
    whole = (abs(scaled) * 2 + 1) // 2
    return Decimal(sign * whole).scaleb(-places)


def round_money(value: Fraction | Decimal) -> Decimal:
    return _round(Fraction(value), 2)


def measure(
    con: duckdb.DuckDBPyConnection, rules: RuleSet, start: datetime, end: datetime
) -> dict[str, Availability]:
    """Availability of every account with an SLA over [start, end)."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE sla_defs"
        " (sla VARCHAR, service VARCHAR, failures_to_open INTEGER)"
    )
    rows = [[s.name, s.service, s.probe_failures_to_open] for s in rules.slas.values()]
    if rows:
        con.executemany("INSERT INTO sla_defs VALUES (?, ?, ?)", rows)
    con.execute(INCIDENTS_SQL)
    con.execute(PROBES_SQL)
    downtime = dict(con.execute(DOWNTIME_SQL, {"start": start, "end": end}).fetchall())
    period_us = int((end - start).total_seconds()) * 1_000_000
    return {
        a.id: Availability(a.id, rules.slas[a.sla], int(downtime.get(a.id) or 0), period_us)
        for a in rules.accounts.values()
        if a.sla is not None
    }
