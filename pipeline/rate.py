"""Rating (contract 3): price every usage record with the plan version in force at its time.

Pure: the compiled rules become small lookup tables (`plan_*`, `accounts`), and one SQL
statement prices every usage record. Money never touches binary floating point: quantities are
integers of 10^-9 units, and each price point is an exact fraction Kn/Kd of money per unit
(price x off-peak factor / per, computed with `fractions.Fraction`), so a record's amount in
10^-6 is `floor((2 * q * Kn + 1000 * Kd) / (2000 * Kd))`: exact, rounded half up. That is
64-bit integer arithmetic in SQL where the product fits (nearly every record), 128-bit where
that fits (any realistic record); a larger one (9e18 bytes at a 12-decimal price) is computed
by Python's unbounded integers instead.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal
from fractions import Fraction

import duckdb

from .ruleset import Charge, RuleSet

NANO = 10**9  # quantity unit: 10^-9
HUGEINT_MAX = 2**127 - 1
BIGINT_MAX = 2**63 - 1
AMOUNT_LIMIT = 10**38  # in 10^-6: the largest amount `rating.amount` (DECIMAL(38,6)) holds


class AmountOverflow(ValueError):
    """A record's amount does not fit the warehouse's DECIMAL(38,6) (10^32 and more)."""


def exact_amount(q: int, kn: int, kd: int) -> int:
    """The per-record amount in 10^-6, half up, by unbounded integers (rate.RATE_SQL calls it
    only where 128 bits would overflow)."""
    amount = (2 * q * kn + 1000 * kd) // (2000 * kd)
    if amount >= AMOUNT_LIMIT:
        raise AmountOverflow(
            f"a usage record's amount ({amount / 10**6:.6e}) exceeds what the warehouse holds"
            f" (10^32): quantity {q / NANO:.9e} at price fraction {kn}/{kd}"
        )
    return amount


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.create_function(
            "exact_amount",
            exact_amount,
            ["HUGEINT", "HUGEINT", "HUGEINT"],
            "HUGEINT",
            side_effects=False,
        )
    except duckdb.CatalogException:
        pass  # already registered on this connection


RULE_TABLES_SQL = """
CREATE OR REPLACE TABLE accounts (
  account VARCHAR, plan VARCHAR, tax_rate DECIMAL(38,12), sla VARCHAR,
  valid_from TIMESTAMP, valid_to TIMESTAMP);
CREATE OR REPLACE TABLE plan_versions (
  plan VARCHAR, version INTEGER, effective_from TIMESTAMP, effective_to TIMESTAMP,
  currency VARCHAR, timezone VARCHAR, monthly_fee DECIMAL(38,12), minimum_spend DECIMAL(38,12));
CREATE OR REPLACE TABLE plan_charges (
  plan VARCHAR, version INTEGER, type VARCHAR, model VARCHAR, per DECIMAL(38,12),
  price DECIMAL(38,12), off_peak_factor DECIMAL(38,12), has_destinations BOOLEAN,
  inc_n HUGEINT, min_n HUGEINT, peak_days INTEGER[], peak_from TIME, peak_to TIME,
  kn_peak HUGEINT, kd_peak HUGEINT, kn_off HUGEINT, kd_off HUGEINT);
CREATE OR REPLACE TABLE plan_destinations (
  plan VARCHAR, version INTEGER, type VARCHAR, prefix VARCHAR, price DECIMAL(38,12),
  kn_peak HUGEINT, kd_peak HUGEINT, kn_off HUGEINT, kd_off HUGEINT);
CREATE OR REPLACE TABLE plan_tiers (
  plan VARCHAR, version INTEGER, type VARCHAR, tier INTEGER, up_to DECIMAL(38,9),
  price DECIMAL(38,12));
"""


def _k(price: Decimal, factor: Decimal, per: Decimal) -> tuple[str, str]:
    k = Fraction(price) * Fraction(factor) / Fraction(per)
    return str(k.numerator), str(k.denominator)


def _points(price: Decimal, charge: Charge) -> list[str]:
    """Kn/Kd at peak and off peak (the factor applies only when a peak window is set)."""
    # (a factor of 0 is a free off-peak, not a missing factor: test for None, not falsiness)
    off = charge.off_peak_factor if charge.peak is not None else None
    factor = Decimal(1) if off is None else off
    return [*_k(price, Decimal(1), charge.per), *_k(price, factor, charge.per)]


def _nano(value: Decimal | None) -> str | None:
    return None if value is None else str(int(value * NANO))


def _time(t: time | None) -> str | None:
    return None if t is None else t.isoformat()


def _charge_row(plan: str, version: int, c: Charge) -> list[object]:
    points = _points(c.price, c) if c.price is not None else [None] * 4
    peak = c.peak
    return [
        plan,
        version,
        c.type,
        c.model,
        str(c.per),
        _dec(c.price),
        _dec(c.off_peak_factor),
        bool(c.destinations),
        _nano(c.increment),
        _nano(c.minimum),
        list(peak.days) if peak else None,
        _time(peak.start if peak else None),
        _time(peak.end if peak else None),
        *points,
    ]


def _dec(v: Decimal | None) -> str | None:
    return None if v is None else str(v)


def write_rule_tables(con: duckdb.DuckDBPyConnection, rules: RuleSet) -> None:
    """The rule set as lookup tables (also there for analysts to query)."""
    con.execute(RULE_TABLES_SQL)
    accounts = [
        [a.id, a.plan, str(a.tax_rate), a.sla, _naive(a.valid_from), _naive(a.valid_to)]
        for a in rules.accounts.values()
    ]
    versions, charges, dests, tiers = [], [], [], []
    for plan in rules.plans.values():
        for i, v in enumerate(plan.versions):
            nxt = plan.versions[i + 1].effective_from if i + 1 < len(plan.versions) else None
            versions.append(
                [
                    plan.name,
                    i,
                    _naive(v.effective_from),
                    _naive(nxt),
                    plan.currency,
                    plan.timezone,
                    _dec(v.monthly_fee),
                    _dec(v.minimum_spend),
                ]
            )
            for c in v.charges.values():
                charges.append(_charge_row(plan.name, i, c))
                dests += [
                    [plan.name, i, c.type, d.prefix, str(d.price), *_points(d.price, c)]
                    for d in c.destinations
                ]
                tiers += [
                    [plan.name, i, c.type, n, _dec(t.up_to), str(t.price)]
                    for n, t in enumerate(c.tiers)
                ]
    for table, rows in (
        ("accounts", accounts),
        ("plan_versions", versions),
        ("plan_charges", charges),
        ("plan_destinations", dests),
        ("plan_tiers", tiers),
    ):
        if rows:
            # one statement for all the rows (executemany runs one per row: 30 ms a replay)
            marks = "(" + ", ".join("?" * len(rows[0])) + ")"
            con.execute(
                f"INSERT INTO {table} VALUES {', '.join([marks] * len(rows))}",
                [v for row in rows for v in row],
            )


def _naive(dt: datetime | None) -> datetime | None:
    """Aware datetime -> naive UTC, the warehouse's TIMESTAMP convention."""
    return None if dt is None else dt.astimezone(UTC).replace(tzinfo=None)


def _qmax(kn: str, kd: str, limit: int = HUGEINT_MAX) -> str:
    """The largest rounded quantity whose `2 * q * Kn + 1000 * Kd` fits 128 bits (NULL: any);
    with `limit` BIGINT_MAX, 64 bits (NULL: none, when Kn or `2000 * Kd` does not fit: even a
    quantity of 0 would take Kn as a BIGINT)."""
    fits = "" if limit == HUGEINT_MAX else f" AND {kn} <= {limit} AND {kd} <= {limit // 2000}"
    return f"CASE WHEN {kn} > 0{fits} THEN ({limit}::HUGEINT - 1000 * {kd}) // (2 * {kn}) END"


def with_qmax(table: str) -> str:
    """A price-point table with each point's `_qmax` at 128 and 64 bits, computed once per row
    of the small table."""
    return (
        f"SELECT *, {_qmax('kn_peak', 'kd_peak')} AS qmax_peak,"
        f" {_qmax('kn_off', 'kd_off')} AS qmax_off,"
        f" {_qmax('kn_peak', 'kd_peak', BIGINT_MAX)} AS q64_peak,"
        f" {_qmax('kn_off', 'kd_off', BIGINT_MAX)} AS q64_off FROM {table}"
    )


def amount(kn: str, kd: str, qmax: str, q64: str) -> str:
    """The amount in 10^-6 of `qr` units at Kn/Kd, half up: in 64-bit integers where they hold
    it (nearly every record: 128-bit division is several times slower), else in 128 bits, else
    by Python's unbounded integers."""
    kn64, kd64 = f"{kn}::BIGINT", f"{kd}::BIGINT"
    return (
        f"CASE WHEN qr <= {q64}"
        f" THEN ((2 * qr::BIGINT * {kn64} + 1000 * {kd64}) // (2000 * {kd64}))::HUGEINT"
        f" WHEN {qmax} IS NULL OR qr <= {qmax}"
        f" THEN (2 * qr * {kn} + 1000 * {kd}) // (2000 * {kd})"
        f" ELSE exact_amount(qr, {kn}, {kd}) END"
    )


# A price point (a charge's own, or a destination's) as one struct, of the same shape for both.
_POINT = (
    "struct_pack(prefix := {prefix}, price := {t}.price, kn_peak := {t}.kn_peak,"
    " kd_peak := {t}.kd_peak, kn_off := {t}.kn_off, kd_off := {t}.kd_off,"
    " qmax_peak := {t}.qmax_peak, qmax_off := {t}.qmax_off, q64_peak := {t}.q64_peak,"
    " q64_off := {t}.q64_off)"
)

RATE_SQL = f"""
INSERT INTO rating
WITH charges AS (
  -- each charge with its price point (`own`) and its destinations' (`dests`, longest prefix
  -- first; prefixes differ), all of one shape
  SELECT c.*, {_POINT.format(t="c", prefix="NULL::VARCHAR")} AS own, d.dests
  FROM ({with_qmax("plan_charges")}) c
  LEFT JOIN (SELECT plan, version, type,
                    list({_POINT.format(t="d", prefix="d.prefix")}
                         ORDER BY length(d.prefix) DESC) AS dests
             FROM ({with_qmax("plan_destinations")}) d GROUP BY ALL) d
  USING (plan, version, type)
), base AS (
  SELECT u.uid, u.type, u.time, u.destination, u.quantity, a.account, a.plan,
         a.valid_from, a.valid_to, v.version, v.effective_from, v.currency, v.timezone,
         c.model, c.per, c.has_destinations, c.inc_n, c.min_n,
         c.peak_days, c.peak_from, c.peak_to,
         -- the wall-clock time in the plan's zone, converted once and only where a peak is set
         CASE WHEN c.peak_days IS NOT NULL THEN timezone(v.timezone, timezone('UTC', u.time))
         END AS local_time,
         -- the price point: the charge's, or the destination's the longest prefix matches,
         -- looked up in the row (a join of the usage records to the destinations needed the
         -- plan joins twice, and the planner could order them into a 5M-row inequality join)
         CASE WHEN c.has_destinations
              THEN list_filter(c.dests, lambda x: starts_with(u.destination, x.prefix))[1]
              ELSE c.own END AS pt
  FROM usage u {{new_scope}}
  LEFT JOIN accounts a ON a.account = u.subject
  LEFT JOIN plan_versions v ON v.plan = a.plan AND u.time >= v.effective_from
        AND (v.effective_to IS NULL OR u.time < v.effective_to)
  LEFT JOIN charges c ON c.plan = a.plan AND c.version = v.version AND c.type = u.type
), priced AS (
  SELECT b.*, b.pt.prefix AS prefix, b.pt.price AS price, b.pt.kn_peak AS knp,
    b.pt.kd_peak AS kdp, b.pt.kn_off AS kno, b.pt.kd_off AS kdo, b.pt.qmax_peak AS qmp,
    b.pt.qmax_off AS qmo, b.pt.q64_peak AS q64p, b.pt.q64_off AS q64o,
    -- (the product keeps the DECIMAL(38,9) type, which holds it below 10^20 units only: a
    -- larger quantity is scaled as its integer and fraction parts)
    -- (one unit, every ad and message, without the DECIMAL division of the cast)
    CASE WHEN b.quantity = 1 THEN 1000000000::HUGEINT
         WHEN b.quantity < 100000000000000000000 THEN (b.quantity * 1000000000)::HUGEINT
         ELSE trunc(b.quantity)::HUGEINT * 1000000000
              + ((b.quantity - trunc(b.quantity)) * 1000000000)::HUGEINT END AS qn,
    -- `to` 24:00 is stored as 00:00 (end of day); windows never wrap midnight (rules.py).
    CASE WHEN b.peak_days IS NULL THEN false ELSE NOT (
      list_contains(b.peak_days, isodow(b.local_time))
      AND b.local_time::TIME >= b.peak_from
      AND (b.peak_to = TIME '00:00' OR b.local_time::TIME < b.peak_to))
    END AS off_peak
  FROM base b
), judged AS (
  SELECT *,
    CASE WHEN account IS NULL THEN 'unknown_account'
         WHEN time < coalesce(valid_from, time) OR time >= coalesce(valid_to, time + INTERVAL 1 DAY)
           THEN 'no_contract'
         WHEN version IS NULL OR model IS NULL THEN 'no_tariff'
         WHEN has_destinations AND prefix IS NULL THEN 'no_destination'
    END AS unbilled_reason,
    greatest(CASE WHEN inc_n IS NULL THEN qn ELSE ((qn + inc_n - 1) // inc_n) * inc_n END,
             coalesce(min_n, 0)) AS qr
  FROM priced
)
SELECT uid, account, plan, version, effective_from, currency, model, unbilled_reason,
  CASE WHEN model IS NOT NULL THEN qr::DECIMAL(38,0) * 0.000000001::DECIMAL(10,9) END,
  CASE WHEN model = 'per_unit' THEN price END,
  CASE WHEN model = 'per_unit' THEN off_peak END,
  CASE WHEN unbilled_reason IS NULL AND model = 'per_unit' THEN
    (CASE WHEN off_peak THEN {amount("kno", "kdo", "qmo", "q64o")}
          ELSE {amount("knp", "kdp", "qmp", "q64p")} END)::DECIMAL(38,0)
    * 0.000001::DECIMAL(7,6) END
FROM judged
"""


def rate(con: duckdb.DuckDBPyConnection, *, full: bool) -> None:
    """Price the usage records the last correlation created or changed (`u_new`, `u_chg`);
    `full`: every usage record (the rating table was emptied)."""
    if not full:
        con.execute("DELETE FROM rating WHERE uid IN (SELECT uid FROM u_chg)")
    con.execute(RATE_SQL.replace("{new_scope}", "" if full else "SEMI JOIN u_new USING (uid)"))
