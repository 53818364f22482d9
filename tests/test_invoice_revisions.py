"""Invoice revisions (pipeline/revisions.py): billing again replaces a period's invoices, as the
contract says, and what earlier bills issued stays in `invoice_revisions`; `bill` says what a
re-bill changed."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

from helpers import bill, main_inprocess, query, replay
from worked_example import EVENTS, EXAMPLE

P = "2026-10"


def revisions(wh: Path) -> list[tuple]:
    return query(
        wh,
        "SELECT account, revision, invoice_number, total, invoice FROM invoice_revisions"
        " WHERE period = ? ORDER BY account, revision",
        [P],
    )


def exported(wh: Path) -> dict[str, dict]:
    r = main_inprocess("export", "invoices", "--warehouse", str(wh), "--period", P)
    assert r.returncode == 0, r.stderr
    return {inv["account"]: inv for inv in json.loads(r.stdout)}


def test_each_bill_keeps_what_it_issued_and_says_what_a_rebill_changed(tmp_path: Path) -> None:
    wh, rules = tmp_path / "wh", EXAMPLE / "rules"
    replay(rules, wh, [EVENTS[0]])
    line = bill(rules, wh, P)
    first = exported(wh)
    assert line == f"billed {P}: {len(first)} invoice(s)"  # a first bill: nothing to compare
    rows = revisions(wh)
    assert [(a, r) for a, r, *_ in rows] == [(a, 1) for a in sorted(first)]
    for account, _, number, total, invoice in rows:
        assert json.loads(invoice) == first[account]  # as `export invoices` printed it
        assert (number, f"{total:.2f}") == (
            first[account]["invoice_number"],
            first[account]["total"],
        )

    # billing again with nothing changed: the same invoices, no new revision
    assert bill(rules, wh, P) == f"billed {P}: {len(first)} invoice(s) (re-billed: unchanged)"
    assert revisions(wh) == rows

    # late records change some invoices: they get a second revision, the first stays as billed
    replay(rules, wh, EVENTS[1:])
    line = bill(rules, wh, P)
    now = exported(wh)
    changed = sorted(a for a in now if now[a] != first.get(a))
    added = sorted(a for a in now if a not in first)
    assert changed, "the example's late files change October's invoices"
    revised = len(changed) - len(added)
    want = ", ".join(f"{n} {what}" for n, what in ((revised, "revised"), (len(added), "new")) if n)
    assert line == f"billed {P}: {len(now)} invoice(s) (re-billed: {want})"
    after = revisions(wh)
    assert [r for r in after if r[1] == 1 and r[0] in first] == rows  # unchanged, append-only
    latest = {account: json.loads(invoice) for account, _, _, _, invoice in after}  # (sorted)
    assert latest == now


def test_an_account_billed_before_and_no_longer_is_a_withdrawal(tmp_path: Path) -> None:
    """A rule change that leaves an account without an invoice: its last invoice is withdrawn,
    not silently dropped."""
    wh, rules = tmp_path / "wh", EXAMPLE / "rules"
    replay(rules, wh, EVENTS)
    bill(rules, wh, P)
    before = exported(wh)
    gone = sorted(before)[0]
    changed = tmp_path / "rules"
    shutil.copytree(rules, changed)
    accounts = (changed / "accounts.yaml").read_text()
    start = accounts.index(f"- id: {gone}\n")
    end = accounts.find("\n- id:", start + 1)
    (changed / "accounts.yaml").write_text(accounts[:start] + accounts[end + 1 :])
    assert bill(changed, wh, P).endswith("1 withdrawn)")
    assert gone not in exported(wh)
    issued = (1, before[gone]["invoice_number"], Decimal(before[gone]["total"]))
    assert [r[1:4] for r in revisions(wh) if r[0] == gone] == [issued, (2, None, None)]

    # the account back in the rules: its invoice is issued again, a third revision (the last
    # revision's NULL invoice used to be skipped, and the re-issue taken for unchanged)
    during = exported(wh)
    line = bill(rules, wh, P)
    now = exported(wh)
    assert now[gone] == before[gone]
    # (the others' numbers moved when it left and move back: revised too)
    assert line.endswith(f"(re-billed: {sum(now[a] != during.get(a) for a in now)} revised)")
    rows = [r for r in revisions(wh) if r[0] == gone]
    assert [r[1:4] for r in rows] == [issued, (2, None, None), (3, *issued[1:])]
    assert bill(rules, wh, P).endswith("(re-billed: unchanged)")


def test_an_unbilled_period_exports_no_invoices_and_says_it_was_never_billed(
    tmp_path: Path,
) -> None:
    """`export invoices` of a period no `bill` has run for prints the contract's `[]` and names
    the command that computes them on stderr; a billed period that issued no invoice (no
    account active in it) prints `[]` with no such hint, since it has been billed."""
    wh, rules = tmp_path / "wh", tmp_path / "rules"
    shutil.copytree(EXAMPLE / "rules", rules)
    accounts = rules / "accounts.yaml"
    text = accounts.read_text()
    accounts.write_text(text[: text.index("- id: globex")])  # only acme, from 2026-01-01
    replay(rules, wh, EVENTS)

    def export(period: str) -> tuple[list, str]:
        r = main_inprocess("export", "invoices", "--warehouse", str(wh), "--period", period)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout), r.stderr

    hint = "has not been billed (`pipeline bill --period {p}`)"
    for period in (P, "2025-06"):
        assert export(period) == ([], f"no invoices: {period} {hint.format(p=period)}\n")
    bill(rules, wh, "2025-06")  # before acme's valid_from: billed, no invoice
    assert export("2025-06") == ([], "")
    bill(rules, wh, P)
    invoices, said = export(P)
    assert [i["account"] for i in invoices] == ["acme"] and said == ""
