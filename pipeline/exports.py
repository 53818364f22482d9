"""The contract's exports (section 6): plain dicts and lists, ready for `json.dumps`.

Read-only over the warehouse's views and stored invoices. Every list is ordered explicitly
(strings by code point: DuckDB's default binary collation), so an export prints the same bytes
while nothing it depends on has changed.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import duckdb

from .errors import UsageError
from .invoice import period_bounds
from .ruleset import RuleSet

CENT = Decimal("0.01")


def money(value: Decimal | int | None) -> str:
    """A money amount as the contract prints it: 2 decimals, half up."""
    return str(Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP))


def quantity_text(value: Decimal) -> str:
    """A decimal string without exponent or trailing zeros."""
    return format(value.normalize(), "f")


# The counts of `record_outcomes`, taken table by table instead of joining every input record
# to its usage record: rejected records by reason; duplicates and quality records from their
# state; and each usage record's outcome once per part it assembles: once per priced record,
# plus parts - 1 more for the (few) assembled sessions. At 10M records this keeps the export
# within a couple of seconds; tests/test_reconcile.py checks it against the record-level view.
RECONCILE_SQL = """
SELECT 'rejected' AS outcome, reason, count(*) AS n FROM records
WHERE reason IS NOT NULL GROUP BY reason
UNION ALL
SELECT CASE WHEN dup THEN 'duplicate' ELSE 'quality' END, NULL, count(*) FROM event_state
WHERE dup OR uid IS NULL GROUP BY dup
UNION ALL
SELECT outcome, reason, count(*) FROM rating_outcomes GROUP BY ALL
UNION ALL
SELECT outcome, reason, sum(parts - 1) FROM usage_outcomes WHERE parts > 1 GROUP BY ALL
ORDER BY outcome, reason  -- the reason maps print in this order: the same bytes every time
"""


def reconcile(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    return outcome_counts(con.execute(RECONCILE_SQL).fetchall())


# The outcomes of one run's records, read from the eid range the run spans (its records are
# found by the zone maps of `eid`, not by a scan of every record or usage row): what `replay`
# and `stream` print, at a cost that follows the run, not the history.
RUN_OUTCOMES_SQL = """
WITH mine AS (
  SELECT eid, reason FROM records WHERE eid BETWEEN $lo AND $hi AND run_key = $run
), st AS (
  SELECT eid, dup, uid FROM event_state
  WHERE eid BETWEEN $lo AND $hi AND eid IN (SELECT eid FROM mine)
)
SELECT 'rejected' AS outcome, reason, count(*) AS n FROM mine
WHERE reason IS NOT NULL GROUP BY reason
UNION ALL
SELECT CASE WHEN dup THEN 'duplicate' ELSE 'quality' END, NULL, count(*) FROM st
WHERE dup OR uid IS NULL GROUP BY dup
UNION ALL  -- each record of a usage record (a session part: its session's) takes its outcome
SELECT ro.outcome, ro.reason, count(*) FROM st JOIN rating_outcomes ro USING (uid)
WHERE NOT st.dup GROUP BY ALL
ORDER BY outcome, reason
"""


def run_outcomes(con: duckdb.DuckDBPyConnection, run_key: int) -> dict[str, Any]:
    """The reconcile object of the records of run `run_key` only, as they stand now (a later
    record can still change an earlier one's outcome: `export reconcile` has the totals)."""
    rows = con.execute(
        "SELECT min(eid), max(eid), count(*), (SELECT count(*) FROM records) FROM records"
        " WHERE run_key = ?",
        [run_key],
    ).fetchall()
    lo, hi, n, total = rows[0]
    if n == total:  # the run is the whole warehouse: the same counts, table by table, cheaper
        return reconcile(con)
    params = {"lo": lo, "hi": hi, "run": run_key}
    return outcome_counts(con.execute(RUN_OUTCOMES_SQL, params).fetchall())


def outcome_rows(counts: dict[str, Any]) -> list[tuple[str, str | None, int]]:
    """The (outcome, reason, count) rows of a reconcile object, zero counts left out: the
    inverse of `outcome_counts`."""
    return [
        (outcome, reason, n)
        for outcome, value in counts.items()
        if outcome != "input"
        for reason, n in (value.items() if isinstance(value, dict) else [(None, value)])
        if n
    ]


def outcome_counts(rows: list[tuple[str, str | None, int]]) -> dict[str, Any]:
    """The contract's reconcile object from (outcome, reason, count) rows, in their order;
    rows of the same outcome and reason add up."""
    out: dict[str, Any] = {
        "input": 0,
        "rejected": {},
        "duplicate": 0,
        "rated": 0,
        "invalid": {},
        "unbilled": {},
        "quality": 0,
    }
    for outcome, reason, n in rows:
        out["input"] += n
        if isinstance(out[outcome], dict):
            out[outcome][reason] = out[outcome].get(reason, 0) + n
        else:
            out[outcome] += n
    return out


def flags(con: duckdb.DuckDBPyConnection, period: str | None) -> list[dict[str, str]]:
    sql = "SELECT source, id, type, subject, reason, status FROM fraud_flags"
    params: list[str] = []
    if period is not None:
        period_bounds(period)  # a misspelt period is an error, not an empty list
        sql += " WHERE period = ?"
        params.append(period)
    rows = con.execute(sql + " ORDER BY source, id", params).fetchall()
    keys = ("source", "id", "type", "subject", "reason", "status")
    return [dict(zip(keys, r, strict=True)) for r in rows]


STATEMENT_SQL = """
SELECT campaign,
  count(*) FILTER (type = 'ad.impression') AS impressions,
  count(*) FILTER (type = 'ad.impression' AND outcome = 'invalid') AS invalid_impressions,
  count(*) FILTER (type = 'ad.click') AS clicks,
  count(*) FILTER (type = 'ad.click' AND outcome = 'rated') AS billable_clicks,
  coalesce(sum(amount) FILTER (outcome = 'rated' AND model = 'per_unit'), 0) AS amount
FROM usage_outcomes
WHERE subject = $account AND period = $period AND type IN ('ad.click', 'ad.impression')
GROUP BY campaign ORDER BY campaign
"""

INVALID_CLICKS_SQL = """
SELECT campaign, reason, count(*) FROM usage_outcomes
WHERE subject = $account AND period = $period AND type = 'ad.click' AND outcome = 'invalid'
GROUP BY ALL ORDER BY ALL
"""


def statement(
    con: duckdb.DuckDBPyConnection, rules: RuleSet, account: str, period: str
) -> dict[str, Any]:
    acc = rules.accounts.get(account)
    if acc is None:
        known = ", ".join(sorted(rules.accounts)) or "none"
        raise UsageError(f"unknown account `{account}`; accounts in the rule set: {known}")
    params = {"account": account, "period": period}
    invalid: dict[str, dict[str, int]] = {}
    for campaign, reason, n in con.execute(INVALID_CLICKS_SQL, params).fetchall():
        invalid.setdefault(campaign, {})[reason] = n
    campaigns = [
        {
            "campaign": c,
            "impressions": imp,
            "invalid_impressions": inv_imp,
            "clicks": clicks,
            "invalid_clicks": invalid.get(c, {}),
            "billable_clicks": billable,
            "amount": money(amount),
        }
        for c, imp, inv_imp, clicks, billable, amount in con.execute(
            STATEMENT_SQL, params
        ).fetchall()
    ]
    currency = rules.plans[acc.plan].currency
    return {"account": account, "period": period, "currency": currency, "campaigns": campaigns}


def invoices(con: duckdb.DuckDBPyConnection, period: str) -> list[dict[str, Any]]:
    heads = con.execute(
        "SELECT invoice_number, account, currency, subtotal, tax, total FROM invoices"
        " WHERE period = ? ORDER BY account",
        [period],
    ).fetchall()
    lines: dict[str, list[dict[str, str]]] = {}
    for account, kind, type_, qty, avail, amount in con.execute(
        "SELECT account, kind, type, quantity, availability, amount FROM invoice_lines"
        " WHERE period = ? ORDER BY account, line_no",
        [period],
    ).fetchall():
        line: dict[str, str] = {"kind": kind}
        if kind == "usage":
            line |= {"type": type_, "quantity": quantity_text(qty)}
        if kind == "credit":
            line["availability"] = str(avail)
        line["amount"] = money(amount)
        lines.setdefault(account, []).append(line)
    return [
        {
            "invoice_number": number,
            "account": account,
            "period": period,
            "currency": currency,
            "lines": lines.get(account, []),
            "subtotal": money(subtotal),
            "tax": money(tax),
            "total": money(total),
        }
        for number, account, currency, subtotal, tax, total in heads
    ]
