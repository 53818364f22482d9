"""Invoicing (contract 5): one invoice per account whose contract overlaps the period.

Reads the period's rated records (already priced per record) from the period's partition file,
which `bill` writes first, and tiers the graduated/volume charges here, exactly, with
`Fraction`; every rounding is one explicit half-up step. Numbers
follow ascending account id, so billing the same period again gives the same invoices.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import duckdb

from .errors import UsageError
from .ruleset import Account, Charge, RuleSet
from .sla import Availability, measure, round_money

PERIOD_RE = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
FIRST_PERIOD, LAST_PERIOD = "0001-01", "9999-11"


@dataclass
class Line:
    kind: str
    amount: Decimal
    type: str | None = None
    quantity: Decimal | None = None
    availability: Decimal | None = None


@dataclass
class Invoice:
    number: str
    account: str
    currency: str
    lines: list[Line] = field(default_factory=list)
    tax_rate: Decimal = Decimal(0)

    @property
    def subtotal(self) -> Decimal:
        return sum((ln.amount for ln in self.lines), Decimal("0.00"))

    @property
    def tax(self) -> Decimal:
        return round_money(Fraction(self.subtotal) * Fraction(self.tax_rate) / 100)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """[start, end) of a `YYYY-MM` period, UTC. Exactly that spelling: `strptime` alone would
    take `2026-1`, and the invoices of one month would then be stored under two keys."""
    if not PERIOD_RE.fullmatch(period):
        raise UsageError(f"period `{period}` is not YYYY-MM (e.g. 2026-10)")
    if not in_range(period):
        # (Python's dates run from 0001-01-01 to 9999-12-31: 0000-12 starts before them,
        # 9999-12 ends after them; a UTC time can fall there from a valid RFC 3339 one)
        raise UsageError(
            f"period `{period}` cannot be billed or exported: this pipeline handles periods"
            f" {FIRST_PERIOD} to {LAST_PERIOD}"
        )
    start = datetime.strptime(period, "%Y-%m").replace(tzinfo=UTC)
    if start.month < 12:
        return start, start.replace(month=start.month + 1)
    return start, start.replace(year=start.year + 1, month=1)


def in_range(period: str) -> bool:
    """Whether a period (as the warehouse stores it: `10000-01` can occur) is one the pipeline
    can bill, FIRST_PERIOD to LAST_PERIOD."""
    return PERIOD_RE.fullmatch(period) is not None and FIRST_PERIOD <= period <= LAST_PERIOD


def tiered_amount(charge: Charge, total: Fraction) -> Fraction:
    """graduated: each unit at its tier's price; volume: all units at the first tier whose
    up_to >= total. Exact; tier i covers (up_to[i-1], up_to[i]]."""
    per = Fraction(charge.per)
    if charge.model == "volume":
        tier = next(t for t in charge.tiers if t.up_to is None or Fraction(t.up_to) >= total)
        return total / per * Fraction(tier.price)
    amount, floor = Fraction(0), Fraction(0)
    for t in charge.tiers:
        ceiling = total if t.up_to is None else min(total, Fraction(t.up_to))
        if ceiling > floor:
            amount += (ceiling - floor) / per * Fraction(t.price)
        if t.up_to is not None:
            floor = max(floor, Fraction(t.up_to))
    return amount


USAGE_SQL = """
SELECT account, type, plan, version, model, sum(rounded_quantity) AS quantity,
       sum(amount) AS per_unit_amount
FROM read_parquet(?) GROUP BY ALL ORDER BY ALL
"""


def _usage_lines(
    con: duckdb.DuckDBPyConnection, rules: RuleSet, rated: Path
) -> dict[str, list[Line]]:
    exact: dict[tuple[str, str], Fraction] = defaultdict(Fraction)
    qty: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for account, type_, plan, version, model, quantity, per_unit in con.execute(
        USAGE_SQL, [str(rated)]
    ).fetchall():
        key = (account, type_)
        qty[key] += quantity
        if model == "per_unit":
            exact[key] += Fraction(per_unit or 0)
        else:
            charge = rules.plans[plan].versions[version].charges[type_]
            exact[key] += tiered_amount(charge, Fraction(quantity))
    lines: dict[str, list[Line]] = defaultdict(list)
    for account, type_ in sorted(qty):
        amount = round_money(exact[(account, type_)])
        lines[account].append(Line("usage", amount, type_, qty[(account, type_)]))
    return lines


def _overlaps(acc: Account, start: datetime, end: datetime) -> bool:
    return (acc.valid_from is None or acc.valid_from < end) and (
        acc.valid_to is None or acc.valid_to > start
    )


def build_invoices(
    con: duckdb.DuckDBPyConnection, rules: RuleSet, period: str, rated: Path
) -> tuple[list[Invoice], dict[str, Availability]]:
    """The period's invoices from `rated`, the period's rated records as a Parquet file (its
    partition, see `replay.bill_period`), and SLA availability from the quality events."""
    start, end = period_bounds(period)
    usage = _usage_lines(con, rules, rated)
    availability = measure(con, rules, start, end)
    billed = sorted(a for a, acc in rules.accounts.items() if _overlaps(acc, start, end))
    out = []
    for n, account in enumerate(billed, start=1):
        acc = rules.accounts[account]
        plan = rules.plans[acc.plan]
        inv = Invoice(
            f"INV-{period.replace('-', '')}-{n:05d}", account, plan.currency, tax_rate=acc.tax_rate
        )
        version = plan.version_at(max(start, acc.valid_from or start))
        if version is not None and version.monthly_fee is not None:
            inv.lines.append(Line("fee", round_money(version.monthly_fee)))
        usage_lines = usage.get(account, [])
        inv.lines += usage_lines
        used = sum((ln.amount for ln in usage_lines), Decimal(0))
        if (
            version is not None
            and version.minimum_spend is not None
            and used < version.minimum_spend
        ):
            inv.lines.append(Line("minimum", round_money(version.minimum_spend - used)))
        if account in availability:
            inv.lines += _credit(availability[account], usage_lines)
        out.append(inv)
    return out, availability


def _credit(av: Availability, usage_lines: list[Line]) -> list[Line]:
    base = sum((ln.amount for ln in usage_lines if ln.type in av.sla.applies_to), Decimal(0))
    credit = round_money(Fraction(av.credit_percent) / 100 * Fraction(base))
    if credit == 0:
        return []
    return [Line("credit", -credit, availability=av.shown)]


def credit_amount(av: Availability, usage_lines: list[Line]) -> Decimal:
    lines = _credit(av, usage_lines)
    return -lines[0].amount if lines else Decimal(0)


def store_invoices(
    con: duckdb.DuckDBPyConnection,
    period: str,
    invoices: list[Invoice],
    availability: dict[str, Availability],
    digest: str,
) -> None:
    """Replace the period's invoices, lines and SLA results (inside the caller's transaction)."""
    for table in ("invoices", "invoice_lines", "sla_availability"):
        con.execute(f"DELETE FROM {table} WHERE period = ?", [period])
    if invoices:
        con.executemany(
            "INSERT INTO invoices VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())",
            [
                [period, i.number, i.account, i.currency, i.subtotal, i.tax, i.total, digest]
                for i in invoices
            ],
        )
    rows = [
        [period, i.account, n, ln.kind, ln.type, ln.quantity, ln.availability, ln.amount]
        for i in invoices
        for n, ln in enumerate(i.lines, start=1)
    ]
    if rows:
        con.executemany("INSERT INTO invoice_lines VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    by_account = {i.account: i for i in invoices}
    sla_rows = []
    for account, av in sorted(availability.items()):
        inv = by_account.get(account)
        lines = [ln for ln in inv.lines if ln.kind == "usage"] if inv else []
        sla_rows.append(
            [
                period,
                account,
                av.sla.name,
                av.sla.service,
                Decimal(av.downtime_us) / 1_000_000,
                av.period_us // 1_000_000,
                av.shown,
                av.credit_percent,
                credit_amount(av, lines),
            ]
        )
    if sla_rows:
        con.executemany("INSERT INTO sla_availability VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", sla_rows)
