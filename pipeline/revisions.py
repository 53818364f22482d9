"""Invoice revisions: what each `bill` issued, kept after billing again replaces it.

The contract has billing a period again replace its invoices (the same ones while nothing they
depend on changed). A late record, a dismissed flag or a rule change does change them, and a
billing analyst then needs what was billed before: an invoice sent to a customer is not undone
by a re-bill. Each bill therefore appends, per account, the invoice as `export invoices` prints
it whenever it differs from that account's last revision, and a withdrawal (NULL invoice) when
an account billed before has no invoice any more.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb

from .exports import invoices


@dataclass(frozen=True)
class Revised:
    """What one bill of a period changed against the revisions before it; as text, what a
    re-bill changed ("" for a first bill)."""

    rebill: bool  # the period was billed before
    new: int = 0  # accounts invoiced for the first time in the period
    revised: int = 0  # invoices that differ from the account's last revision
    withdrawn: int = 0  # accounts invoiced before and not any more

    def __str__(self) -> str:
        if not self.rebill:
            return ""
        counts = ((self.revised, "revised"), (self.new, "new"), (self.withdrawn, "withdrawn"))
        return "re-billed: " + (", ".join(f"{n} {what}" for n, what in counts if n) or "unchanged")


def record_revisions(con: duckdb.DuckDBPyConnection, period: str, digest: str) -> Revised:
    """Append the period's invoices (as just stored, in the caller's transaction) that differ
    from their account's last revision, and the withdrawals; say how many of each."""
    last = {
        account: (revision, invoice)
        for account, revision, invoice in con.execute(
            "SELECT account, max(revision), arg_max_null(invoice, revision)"
            " FROM invoice_revisions"
            " WHERE period = ? GROUP BY account",
            [period],
        ).fetchall()
    }
    rows, new, revised = [], 0, 0
    current = {inv["account"]: inv for inv in invoices(con, period)}
    for account, inv in current.items():
        text = json.dumps(inv, ensure_ascii=False)  # (its keys in the export's order)
        revision, before = last.get(account, (0, None))
        if before == text:
            continue
        new += revision == 0
        revised += revision > 0
        number, currency, total = inv["invoice_number"], inv["currency"], inv["total"]
        rows.append([period, account, revision + 1, number, currency, total, text, digest])
    withdrawn = [
        [period, account, revision + 1, None, None, None, None, digest]
        for account, (revision, before) in last.items()
        if account not in current and before is not None
    ]
    if rows or withdrawn:
        con.executemany(
            "INSERT INTO invoice_revisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())",
            rows + withdrawn,
        )
    return Revised(bool(last), new=new, revised=revised, withdrawn=len(withdrawn))
