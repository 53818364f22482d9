"""Contract edge cases the scenario directories (tests/cases) do not show, each expected value
computed by hand from CONTRACT.md: number precision and sign, incidents across periods and
February's length, and a dismissal reaching the invoice only at the next bill.

Each test builds its own small rule directory and event file in tmp_path and runs the real CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

from helpers import cli_json, cli_ok

FRAUD = "bot_user_agents: [bot]\nattribution_window_s: 3600\nmax_clicks_per_ip_per_minute: 5\n"


def _rules(root: Path, plan: str, accounts: str, slas: str | None = None) -> Path:
    rules = root / "rules"
    (rules / "plans").mkdir(parents=True)
    (rules / "plans" / "p.yaml").write_text(plan, encoding="utf-8")
    (rules / "accounts.yaml").write_text(accounts, encoding="utf-8")
    (rules / "fraud.yaml").write_text(FRAUD, encoding="utf-8")
    if slas is not None:
        (rules / "slas.yaml").write_text(slas, encoding="utf-8")
    return rules


def _events(root: Path, lines: list[dict]) -> Path:
    f = root / "events.jsonl"
    f.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return f


def _ev(id_: str, type_: str, time: str, subject: str | None, data: dict) -> dict:
    e = {"specversion": "1.0", "id": id_, "source": "s", "type": type_, "time": time, "data": data}
    if subject is not None:
        e["subject"] = subject
    return e


PLAN_VOICE = """plan: p
currency: EUR
timezone: UTC
versions:
  - effective_from: "2026-01-01T00:00:00Z"
    charges:
      telecom.voice: {model: per_unit, price: "1.00", increment: 1}
      telecom.data: {model: per_unit, price: "0"}
      telecom.sms: {model: per_unit, price: "1.00"}
"""
ACCOUNTS_A = 'accounts:\n  - {id: a, plan: p, tax_rate: "0"}\n'
VOICE = '{{"subscriber":"x","destination":"+48","duration_s":{}}}'


def _telecom(id_: str, type_: str, data: str) -> str:
    """One telecom record of account `a` on 2026-10-05, its data object as raw JSON text (so a
    number keeps the exact digits written)."""
    return (
        f'{{"specversion":"1.0","id":"{id_}","source":"s","type":"telecom.{type_}",'
        f'"time":"2026-10-05T10:00:00Z","subject":"a","data":{data}}}'
    )


def _raw_jsonl(root: Path, lines: list[str]) -> Path:
    f = root / "events.jsonl"
    f.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    return f


def test_quantity_fraction_beyond_nine_digits_is_rounded_up_by_increment(tmp_path: Path) -> None:
    """Contract 3.1: q = quantity rounded UP to a multiple of `increment`. duration_s is a JSON
    number (1.1: any JSON number); 1e-10 s rounds up to 1, 1.0000000004 s to 2: line quantity 3,
    amount 3 x 1.00 = 3.00. (Quantities are kept to 9 decimals, rounded up there.)"""
    rules = _rules(tmp_path, PLAN_VOICE, ACCOUNTS_A)
    lines = [
        _telecom(i, "voice", VOICE.format(d))
        for i, d in (("q1", "0.0000000001"), ("q2", "1.0000000004"))
    ]
    events = _raw_jsonl(tmp_path, lines)
    wh = tmp_path / "wh"
    cli_ok("replay", "--rules", rules, "--warehouse", wh, events)
    cli_ok("bill", "--rules", rules, "--warehouse", wh, "--period", "2026-10")
    inv = cli_json("export", "invoices", "--warehouse", wh, "--period", "2026-10")
    assert inv[0]["lines"] == [
        {"kind": "usage", "type": "telecom.voice", "quantity": "3", "amount": "3.00"}
    ]


def test_the_sign_of_a_quantity_is_judged_exactly_and_integers_stay_within_64_bits(
    tmp_path: Path,
) -> None:
    """Contract 1.1: `duration_s` is a number >= 0, `bytes` an integer >= 0. -1e-10 is below 0
    even though it reads as 0 at 9 decimals: bad_data; -0 equals 0: accepted. An integer
    beyond 64 bits (README, interpretations: the rating arithmetic stays exact in 128-bit
    integers) is bad_data."""
    rules = _rules(tmp_path, PLAN_VOICE, ACCOUNTS_A)
    data = '{{"subscriber":"x","bytes":{}}}'
    lines = [
        _telecom(i, t, d)
        for i, t, d in (
            ("neg", "voice", VOICE.format("-1e-10")),
            ("negz", "voice", VOICE.format("-0.0")),
            ("zero", "data", data.format("-0")),
            ("big", "data", data.format("99999999999999999999")),
            ("max", "data", data.format("9223372036854775807")),
        )
    ]
    wh = tmp_path / "wh"
    cli_ok("replay", "--rules", rules, "--warehouse", wh, _raw_jsonl(tmp_path, lines))
    rec = cli_json("export", "reconcile", "--warehouse", wh)
    assert rec["rejected"] == {"bad_data": 2}, rec
    assert rec["input"] == 5 and rec["rated"] == 3


def test_incident_open_since_previous_period_and_february_length(tmp_path: Path) -> None:
    """Contract 4: an incident opened in January and never resolved is down for all of February
    2027 (availability 0.000; tier below 50 -> 100 %, credit = whole sms line). A probe outage
    of 1 h (probe_failures_to_open 1) over February's 28 days: 100 x (1 - 3600 / 2419200) =
    99.85119... -> 99.851, tier below 99.9 -> 10 % of 1.00 = 0.10."""
    plan = PLAN_VOICE
    accounts = (
        "accounts:\n"
        '  - {id: a, plan: p, tax_rate: "0", sla: g}\n'
        '  - {id: b, plan: p, tax_rate: "0", sla: h}\n'
    )
    slas = """slas:
  g:
    service: web
    credits:
      - {below: "99.9", percent: "10"}
      - {below: "50", percent: "100"}
    applies_to: [telecom.sms]
  h:
    service: web
    probe_failures_to_open: 1
    credits:
      - {below: "99.9", percent: "10"}
    applies_to: [telecom.sms]
"""
    rules = _rules(tmp_path, plan, accounts, slas)
    sms = {"subscriber": "x", "destination": "+48"}
    events = _events(
        tmp_path,
        [
            _ev(
                "i1",
                "quality.incident",
                "2027-01-20T00:00:00Z",
                None,
                {"incident_id": "X", "service": "web", "state": "open", "accounts": ["a"]},
            ),
            _ev("m1", "telecom.sms", "2027-02-05T10:00:00Z", "a", sms),
            _ev("m2", "telecom.sms", "2027-02-05T10:00:00Z", "b", sms),
            _ev(
                "p1",
                "quality.probe",
                "2027-02-10T00:00:00Z",
                None,
                {"service": "web", "region": "eu", "ok": False},
            ),
            _ev(
                "p2",
                "quality.probe",
                "2027-02-10T01:00:00Z",
                None,
                {"service": "web", "region": "eu", "ok": True},
            ),
        ],
    )
    wh = tmp_path / "wh"
    cli_ok("replay", "--rules", rules, "--warehouse", wh, events)
    cli_ok("bill", "--rules", rules, "--warehouse", wh, "--period", "2027-02")
    inv = cli_json("export", "invoices", "--warehouse", wh, "--period", "2027-02")
    usage = {"kind": "usage", "type": "telecom.sms", "quantity": "1", "amount": "1.00"}
    assert [i["invoice_number"] for i in inv] == ["INV-202702-00001", "INV-202702-00002"]
    assert inv[0]["lines"] == [
        usage,
        {"kind": "credit", "availability": "0.000", "amount": "-1.00"},
    ]
    assert inv[0]["total"] == "0.00"
    assert inv[1]["lines"] == [
        usage,
        {"kind": "credit", "availability": "99.851", "amount": "-0.10"},
    ]
    assert inv[1]["total"] == "0.90"


def test_dismissal_reaches_invoices_only_at_the_next_bill(tmp_path: Path) -> None:
    """Contract 2.4: a dismissed flag changes the invoice "from the next `bill` of its period";
    `export invoices` prints the stored invoice unchanged until then."""
    plan = """plan: p
currency: EUR
timezone: UTC
versions:
  - effective_from: "2026-01-01T00:00:00Z"
    charges:
      ad.click: {model: per_unit, price: "0.10"}
      ad.impression: {model: per_unit, price: "0.01"}
"""
    rules = _rules(tmp_path, plan, ACCOUNTS_A)
    ad = {"campaign": "k", "ip": "1.1.1.1", "user_agent": "Mozilla"}
    events = _events(
        tmp_path,
        [
            _ev("c1", "ad.click", "2026-10-05T10:00:00Z", "a", {**ad, "impression_id": "none"}),
            _ev("i1", "ad.impression", "2026-10-05T10:00:00Z", "a", ad),
        ],
    )
    wh = tmp_path / "wh"
    cli_ok("replay", "--rules", rules, "--warehouse", wh, events)
    cli_ok("bill", "--rules", rules, "--warehouse", wh, "--period", "2026-10")
    before = cli_ok("export", "invoices", "--warehouse", wh, "--period", "2026-10").stdout
    cli_ok("flags", "dismiss", "--warehouse", wh, "s", "c1")
    assert cli_ok("export", "invoices", "--warehouse", wh, "--period", "2026-10").stdout == before
    flags = cli_json("export", "flags", "--warehouse", wh)
    assert flags == [
        {
            "source": "s",
            "id": "c1",
            "type": "ad.click",
            "subject": "a",
            "reason": "orphan_click",
            "status": "dismissed",
        }
    ]
    cli_ok("bill", "--rules", rules, "--warehouse", wh, "--period", "2026-10")
    inv = cli_json("export", "invoices", "--warehouse", wh, "--period", "2026-10")
    assert inv[0]["lines"] == [
        {"kind": "usage", "type": "ad.click", "quantity": "1", "amount": "0.10"},
        {"kind": "usage", "type": "ad.impression", "quantity": "1", "amount": "0.01"},
    ]
