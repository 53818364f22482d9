"""More contract edge cases, each expected value computed by hand from
CONTRACT.md: SLA interval union and incident/probe rules (4), tiered pricing (3.1), invoice
membership, numbering, fee/minimum and tax (5), flags per period (6), and CSV/Parquet input
typing and equivalence with JSON Lines (1).

Each test builds its own rule directory and events in tmp_path and runs the real CLI.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from helpers import cli_json, cli_ok
from scenario import T0, event, plan_yaml, write_jsonl, write_rules


def _sms(id_: str, subject: str, time: str = "2026-10-20T10:00:00Z") -> dict:
    return event(id_, "telecom.sms", time, {"subscriber": "x", "destination": "+481"}, subject)


def _run(rules: Path, wh: Path, files: list[Path], periods: list[str]) -> None:
    cli_ok("replay", "--rules", rules, "--warehouse", wh, *files)
    for p in periods:
        cli_ok("bill", "--rules", rules, "--warehouse", wh, "--period", p)


def _invoices(wh: Path, period: str) -> dict[str, dict]:
    inv = cli_json("export", "invoices", "--warehouse", wh, "--period", period)
    return {i["account"]: i for i in inv}


SMS_PLAN = plan_yaml(
    "p",
    "    telecom.sms: {model: per_unit, price: '0.1005'}\n"
    "    ad.impression: {model: per_unit, price: '1.00'}\n",
)


def test_sla_union_incident_rules_probe_ties_and_clipping(tmp_path: Path) -> None:
    """Contract 4, October 2026 (2,678,400 s). Account a (service portal, 3 failures open):
    I1 [00:00,02:00] and I2 [01:00,03:00] on 10-05 overlap an `us` probe outage
    [02:30,03:30]: union 3.5 h. Ignored: I3 resolved before opened, I4 without open, I5
    planned by its earliest open (a later open says planned false), I7 listed for b only by
    its earliest open, I9 with an empty list. Counted: I6 (earliest open has no `planned`:
    false) 1 h, I8 (earliest open has no list: every portal account) 0.5 h, I10 open since
    September clipped to 1 h, eu probes F F F T 0.5 h, an `ap` run still open at period end
    1 h. Runs broken by ties ordered by (source, id) — (p1,1)F (p1,2)F (p2,1)T, and ("q","10")F
    before ("q","9")T — and a run of 2 make no outage. Downtime 7.5 h: 100 x (1 - 27000 /
    2678400) = 98.99193... -> shown 98.992, tier below 99.0 (25 %) capped at 20 %: 20 % of the
    rounded sms line 1.01 = 0.202 -> 0.20. Account b (service `other`, no cap): I7 only, 1 h
    -> 99.866, 50 % of the ROUNDED line 1.01 (10 x 0.1005 = 1.005 -> 1.01) = 0.505 -> 0.51
    (not 50 % of 1.005 = 0.5025 -> 0.50). November: the `ap` outage covers it all, but no
    usage: no credit line."""
    accounts = (
        "accounts:\n"
        "- {id: a, plan: p, tax_rate: '23', sla: gold}\n"
        "- {id: b, plan: p, tax_rate: '0', sla: silver}\n"
    )
    slas = """slas:
  gold:
    service: portal
    probe_failures_to_open: 3
    credits:
    - {below: '99.9', percent: '10'}
    - {below: '99.0', percent: '25'}
    - {below: '95.0', percent: '50'}
    applies_to: [telecom.sms]
    max_credit_percent: '20'
  silver:
    service: other
    credits:
    - {below: '99.9', percent: '50'}
    applies_to: [telecom.sms]
"""
    rules = write_rules(tmp_path, {"p": SMS_PLAN}, accounts, slas)
    ev: list[dict] = []

    def inc(n: int, iid: str, state: str, t: str, **kw: object) -> None:
        data = {"incident_id": iid, "service": "portal", "state": state, **kw}
        ev.append(event(f"inc{n}", "quality.incident", t, data, source="noc"))

    def probe(src: str, id_: str, t: str, ok: bool, region: str = "eu") -> None:
        data = {"service": "portal", "region": region, "ok": ok}
        ev.append(event(id_, "quality.probe", t, data, source=src))

    d = "2026-10-"
    inc(1, "I1", "open", d + "05T00:00:00Z")
    inc(2, "I1", "resolved", d + "05T02:00:00Z")
    inc(3, "I2", "open", d + "05T01:00:00Z")
    inc(4, "I2", "resolved", d + "05T03:00:00Z")
    inc(5, "I3", "open", d + "06T05:00:00Z")
    inc(6, "I3", "resolved", d + "06T04:00:00Z")
    inc(7, "I4", "resolved", d + "07T00:00:00Z")
    inc(8, "I5", "open", d + "08T00:00:00Z", planned=True)
    inc(9, "I5", "open", d + "08T01:00:00Z", planned=False)
    inc(10, "I5", "resolved", d + "08T02:00:00Z")
    inc(11, "I6", "open", d + "09T00:00:00Z")
    inc(12, "I6", "open", d + "09T00:30:00Z", planned=True)
    inc(13, "I6", "resolved", d + "09T01:00:00Z")
    inc(14, "I7", "open", d + "10T00:00:00Z", accounts=["b"])
    inc(15, "I7", "open", d + "10T00:10:00Z")
    inc(16, "I7", "resolved", d + "10T01:00:00Z")
    inc(17, "I8", "open", d + "11T00:00:00Z")
    inc(18, "I8", "open", d + "11T00:10:00Z", accounts=["b"])
    inc(19, "I8", "resolved", d + "11T00:30:00Z")
    inc(20, "I9", "open", d + "12T00:00:00Z", accounts=[])
    inc(21, "I9", "resolved", d + "12T01:00:00Z")
    inc(22, "I10", "open", "2026-09-30T23:00:00Z")
    inc(23, "I10", "resolved", d + "01T01:00:00Z")
    for i, (t, ok) in enumerate(
        [("00:00", False), ("00:10", False), ("00:20", False), ("00:30", True)]
    ):
        probe("p", f"e{i}", f"{d}13T{t}:00Z", ok)
    for source, id_, at, ok in [  # ties in time ordered by (source, id): "10" before "9"
        ("p2", "1", "14T00:00", True),
        ("p1", "2", "14T00:00", False),
        ("p1", "1", "14T00:00", False),
        ("p1", "3", "14T00:05", False),
        ("p1", "4", "14T00:10", True),
        ("q", "9", "16T00:00", True),
        ("q", "10", "16T00:00", False),
        ("q", "11", "16T00:01", False),
        ("q", "12", "16T00:02", False),
        ("q", "13", "16T00:03", True),
        ("p", "s1", "15T00:00", False),
        ("p", "s2", "15T00:10", False),
        ("p", "s3", "15T00:20", True),
    ]:
        probe(source, id_, f"{d}{at}:00Z", ok)
    for i, (t, ok) in enumerate(
        [("02:30", False), ("02:40", False), ("02:50", False), ("03:30", True)]
    ):
        probe("p", f"u{i}", f"{d}05T{t}:00Z", ok, "us")
    for i, t in enumerate(["23:00", "23:10", "23:20"]):
        probe("p", f"a{i}", f"{d}31T{t}:00Z", False, "ap")
    ev += [_sms(f"sms-{acc}{i}", acc) for acc in "ab" for i in range(10)]
    imp = {"campaign": "c", "ip": "1.1.1.1", "user_agent": "M"}
    ev += [event(f"imp{i}", "ad.impression", d + "20T10:00:00Z", imp, "a") for i in range(3)]
    wh = tmp_path / "wh"
    _run(rules, wh, [write_jsonl(tmp_path / "e.jsonl", ev)], ["2026-10", "2026-11"])
    inv = _invoices(wh, "2026-10")
    assert inv["a"]["lines"] == [
        {"kind": "usage", "type": "ad.impression", "quantity": "3", "amount": "3.00"},
        {"kind": "usage", "type": "telecom.sms", "quantity": "10", "amount": "1.01"},
        {"kind": "credit", "availability": "98.992", "amount": "-0.20"},
    ]
    assert (inv["a"]["subtotal"], inv["a"]["tax"], inv["a"]["total"]) == ("3.81", "0.88", "4.69")
    assert inv["b"]["lines"][-1] == {"kind": "credit", "availability": "99.866", "amount": "-0.51"}
    assert inv["b"]["total"] == "0.50"
    nov = _invoices(wh, "2026-11")
    assert nov["a"]["lines"] == [] and nov["a"]["total"] == "0.00"


def test_exact_availability_picks_tier_cap_zero_credit_and_invoice_membership(
    tmp_path: Path,
) -> None:
    """Contract 4 and 5. Down 2678.400001 s of October: exact availability just below 99.9,
    tier below 99.9 applies (10 % of 10.00 = 1.00) while the invoice shows 99.900. Down exactly
    2678.4 s: availability exactly 99.9, no tier, no credit line. A credit of 10 % of 0.04
    rounds to 0.00: no line. max_credit_percent 15 caps a 50 % tier: 1.50. Fee and minimum
    come from the version in force at the later of the period start and valid_from (10-16 ->
    version of 10-10: fee 20, minimum 15 - 10 = 5; 2026-10-25T00:00+02:00 -> version of 10-20;
    no valid_from -> version at 10-01). An account whose valid_to is the period start, or whose
    valid_from is the period end, gets no invoice; valid_to one microsecond into the period
    does (no usage: no lines)."""

    def plan(name: str, price: str, fees: list[tuple[str, str | None, str | None]]) -> str:
        versions = []
        for ef, fee, mn in fees:
            head = f"- effective_from: '{ef}'\n"
            head += f"  monthly_fee: '{fee}'\n" if fee else ""
            head += f"  minimum_spend: '{mn}'\n" if mn else ""
            versions.append((head, f"    telecom.sms: {{model: per_unit, price: '{price}'}}\n"))
        return plan_yaml(name, "", versions)

    plans = {
        "p1": plan("p1", "1.00", [(T0, None, None)]),
        "p01": plan("p01", "0.01", [(T0, None, None)]),
        "p2": plan(
            "p2",
            "1.00",
            [
                (T0, "10.00", "5.00"),
                ("2026-10-10T00:00:00Z", "20.00", "15.00"),
                ("2026-10-20T00:00:00Z", "30.00", "40.00"),
            ],
        ),
    }
    accounts = """accounts:
- {id: c, plan: p1, tax_rate: '0', sla: t1}
- {id: d, plan: p1, tax_rate: '0', sla: t2}
- {id: e, plan: p01, tax_rate: '0', sla: t3}
- {id: f, plan: p1, tax_rate: '0', sla: t4}
- {id: g, plan: p2, tax_rate: '0', sla: t1, valid_from: '2026-10-16T00:00:00Z'}
- {id: h, plan: p2, tax_rate: '0'}
- {id: i, plan: p2, tax_rate: '0', valid_from: '2026-09-01T00:00:00Z'}
- {id: j, plan: p1, tax_rate: '0', valid_to: '2026-10-01T00:00:00Z'}
- {id: k, plan: p1, tax_rate: '0', valid_from: '2026-11-01T00:00:00Z'}
- {id: l, plan: p1, tax_rate: '0', valid_to: '2026-10-01T00:00:00.000001Z'}
- {id: m, plan: p2, tax_rate: '0', valid_from: '2026-10-25T00:00:00+02:00'}
"""
    slas = "slas:\n" + "".join(
        f"  t{n}:\n    service: s{n}\n    credits:\n    - {{below: '99.9', percent: '{pc}'}}\n"
        f"    applies_to: [telecom.sms]\n" + (f"    max_credit_percent: '{cap}'\n" if cap else "")
        for n, pc, cap in ((1, 10, None), (2, 10, None), (3, 10, None), (4, 50, 15))
    )
    rules = write_rules(tmp_path, plans, accounts, slas)
    ev = []
    for n, (svc, stop) in enumerate(
        [("s1", "00:44:38.400001"), ("s2", "00:44:38.4"), ("s3", "01:00:00"), ("s4", "01:00:00")]
    ):
        for state, t in (("open", "00:00:00"), ("resolved", stop)):
            data = {"incident_id": f"I{n}", "service": svc, "state": state}
            ev.append(
                event(f"i{n}{state}", "quality.incident", f"2026-10-02T{t}Z", data, None, "noc")
            )
    for acc, cnt in {"c": 10, "d": 10, "e": 4, "f": 10, "g": 10, "h": 3}.items():
        ev += [_sms(f"sms-{acc}{i}", acc) for i in range(cnt)]
    wh = tmp_path / "wh"
    _run(rules, wh, [write_jsonl(tmp_path / "e.jsonl", ev)], ["2026-10"])
    inv = _invoices(wh, "2026-10")
    assert sorted(inv) == ["c", "d", "e", "f", "g", "h", "i", "l", "m"]
    assert inv["c"]["lines"][-1] == {"kind": "credit", "availability": "99.900", "amount": "-1.00"}
    assert [ln["kind"] for ln in inv["d"]["lines"]] == ["usage"]
    assert [ln["kind"] for ln in inv["e"]["lines"]] == ["usage"]
    assert inv["f"]["lines"][-1] == {"kind": "credit", "availability": "99.866", "amount": "-1.50"}
    assert inv["g"]["lines"] == [
        {"kind": "fee", "amount": "20.00"},
        {"kind": "usage", "type": "telecom.sms", "quantity": "10", "amount": "10.00"},
        {"kind": "minimum", "amount": "5.00"},
        {"kind": "credit", "availability": "99.900", "amount": "-1.00"},
    ]
    assert [ln["amount"] for ln in inv["h"]["lines"]] == ["10.00", "3.00", "2.00"]
    assert [ln["amount"] for ln in inv["i"]["lines"]] == ["10.00", "5.00"]
    assert inv["l"]["lines"] == []
    assert [ln["amount"] for ln in inv["m"]["lines"]] == ["30.00", "40.00"]


def test_sla_times_are_truncated_to_the_microsecond_and_rejected_probes_do_not_count(
    tmp_path: Path,
) -> None:
    """Contract 1.1 (times truncated, not rounded, to the microsecond; SLA intervals use that
    precision) and 4. Resolved at 00:44:38.4000009 reads as .400000: down exactly 2678.4 s,
    availability exactly 99.9: no credit. Probes F F [ok:true but latency_ms "abc": bad_data,
    not a quality record] F T with 3 failures to open: one run of 3, down 180 s ->
    100 x (1 - 180 / 2678400) = 99.99328 -> 99.993, tier below 100: 10 % of 10.00."""
    plan = plan_yaml("p", "    telecom.sms: {model: per_unit, price: '1.00'}\n")
    accounts = (
        "accounts:\n- {id: d, plan: p, tax_rate: '0', sla: t2}\n"
        "- {id: e, plan: p, tax_rate: '0', sla: t3}\n"
    )
    slas = """slas:
  t2:
    service: s2
    credits:
    - {below: '99.9', percent: '10'}
    applies_to: [telecom.sms]
  t3:
    service: s3
    probe_failures_to_open: 3
    credits:
    - {below: '100', percent: '10'}
    applies_to: [telecom.sms]
"""
    rules = write_rules(tmp_path, {"p": plan}, accounts, slas)
    lines = [
        '{"specversion":"1.0","id":"i1","source":"noc","type":"quality.incident",'
        '"time":"2026-10-02T00:00:00Z","data":{"incident_id":"B","service":"s2","state":"open"}}',
        '{"specversion":"1.0","id":"i2","source":"noc","type":"quality.incident",'
        '"time":"2026-10-02T00:44:38.4000009Z",'
        '"data":{"incident_id":"B","service":"s2","state":"resolved"}}',
    ]
    for i, (t, ok, lat) in enumerate(
        [
            ("00:00:00", "false", "1"),
            ("00:01:00", "false", "1"),
            ("00:01:30", "true", '"abc"'),
            ("00:02:00", "false", "1"),
            ("00:03:00", "true", "1"),
        ]
    ):
        lines.append(
            f'{{"specversion":"1.0","id":"p{i}","source":"prb","type":"quality.probe",'
            f'"time":"2026-10-03T{t}Z","data":{{"service":"s3","region":"r","ok":{ok},'
            f'"latency_ms":{lat}}}}}'
        )
    lines += [json.dumps(_sms(f"s{a}{i}", a)) for a in "de" for i in range(10)]
    events = tmp_path / "e.jsonl"
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    wh = tmp_path / "wh"
    _run(rules, wh, [events], ["2026-10"])
    assert cli_json("export", "reconcile", "--warehouse", wh)["rejected"] == {"bad_data": 1}
    inv = _invoices(wh, "2026-10")
    assert [ln["kind"] for ln in inv["d"]["lines"]] == ["usage"]
    assert inv["e"]["lines"][-1] == {"kind": "credit", "availability": "99.993", "amount": "-1.00"}


def test_tiered_pricing_boundaries_versions_sessions_and_single_rounding(tmp_path: Path) -> None:
    """Contract 3.1 and 5. graduated per 10, increment 7, minimum 20: records 5, 100, 1 ->
    20 + 105 + 20 = 145; 100 x 1/10 + 45 x 0.5/10 = 12.25. Voice graduated per 1 (60 @ 0.10,
    120 @ 0.05, rest 0.01): Q 60 -> 6.00; 60.5 + 59.5 = 120 -> 9.00; 121 -> 9.01. volume per 1
    (100 @ 0.01, 200 @ 0.005, rest 0.001): 100 -> 1.00, 101 -> 0.505 -> 0.51, 200 -> 1.00,
    201 -> 0.20. Two versions in October (10 @ 1, rest 0.1): 8 + 8 tiered separately from zero
    -> 16.00 (not 10.60). per_unit 1 x 0.0015 (v1) plus graduated 3 x 0.0015 (v2) = 0.006,
    rounded once -> 0.01. A session of 30 + 30 bytes is one record: increment 100 -> 100 ->
    1.00 (not 2 x 100 = 200 -> 11.00). volume per 3, minimum 5: 1 + 1 -> 5 + 5 = 10 -> 10/3 =
    3.333 -> 3.33."""

    def charge(type_: str, model: str, tiers: list[tuple[str | None, str]], extra: str = "") -> str:
        text = f"    {type_}:\n      model: {model}\n{extra}      tiers:\n"
        for up, price in tiers:
            up_s = f"up_to: {up}, " if up else ""
            text += f"      - {{{up_s}price: '{price}'}}\n"
        return text

    v2 = "- effective_from: '2026-10-15T00:00:00Z'\n"
    v1 = f"- effective_from: '{T0}'\n"
    ten = [("10", "1"), (None, "0.1")]
    plans = {
        "g1": plan_yaml(
            "g1",
            charge(
                "telecom.data",
                "graduated",
                [("100", "1"), ("200", "0.5"), (None, "0.25")],
                "      per: 10\n      increment: 7\n      minimum: 20\n",
            ),
        ),
        "gv": plan_yaml(
            "gv",
            charge("telecom.voice", "graduated", [("60", "0.10"), ("120", "0.05"), (None, "0.01")]),
        ),
        "vol": plan_yaml(
            "vol",
            charge("telecom.data", "volume", [("100", "0.01"), ("200", "0.005"), (None, "0.001")]),
        ),
        "v2": plan_yaml(
            "v2",
            "",
            [
                (v1, charge("telecom.data", "graduated", ten)),
                (v2, charge("telecom.data", "graduated", ten)),
            ],
        ),
        "v3": plan_yaml(
            "v3",
            "",
            [
                (v1, "    telecom.data: {model: per_unit, price: '0.0015'}\n"),
                (v2, charge("telecom.data", "graduated", [("10", "0.0015"), (None, "0.001")])),
            ],
        ),
        "ses": plan_yaml(
            "ses",
            charge(
                "telecom.data",
                "graduated",
                [("100", "1"), (None, "10")],
                "      per: 100\n      increment: 100\n",
            ),
        ),
        "vv": plan_yaml(
            "vv",
            charge(
                "telecom.data",
                "volume",
                [("10", "1"), (None, "0.5")],
                "      per: 3\n      minimum: 5\n",
            ),
        ),
    }
    acc = {
        "a": "g1",
        "b": "gv",
        "c": "gv",
        "d": "gv",
        "e": "vol",
        "f": "vol",
        "g": "vol",
        "h": "vol",
        "i": "v2",
        "j": "v3",
        "k": "ses",
        "l": "vv",
    }
    accounts = "accounts:\n" + "".join(
        f"- {{id: {a}, plan: {p}, tax_rate: '0'}}\n" for a, p in acc.items()
    )
    rules = write_rules(tmp_path, plans, accounts)
    ev: list[dict] = []
    t5 = "2026-10-05T00:00:00Z"

    def data(a: str, b: int, t: str = t5, **kw: object) -> None:
        ev.append(event(f"d{len(ev)}", "telecom.data", t, {"subscriber": "x", "bytes": b, **kw}, a))

    def voice(a: str, s: float) -> None:
        d = {"subscriber": "x", "destination": "+48", "duration_s": s}
        ev.append(event(f"v{len(ev)}", "telecom.voice", t5, d, a))

    for b in (5, 100, 1):
        data("a", b)
    voice("b", 60)
    voice("c", 60.5)
    voice("c", 59.5)
    voice("d", 121)
    for a, b in (("e", 100), ("f", 101), ("g", 200), ("h", 201)):
        data(a, b)
    data("i", 8)
    data("i", 8, "2026-10-20T00:00:00Z")
    data("j", 1)
    data("j", 3, "2026-10-20T00:00:00Z")
    data("k", 30, session={"id": "S", "seq": 1, "last": False})
    data("k", 30, "2026-10-05T00:01:00Z", session={"id": "S", "seq": 2, "last": True})
    data("l", 1)
    data("l", 1)
    wh = tmp_path / "wh"
    _run(rules, wh, [write_jsonl(tmp_path / "e.jsonl", ev)], ["2026-10"])
    got = {
        a: [(ln["quantity"], ln["amount"]) for ln in i["lines"]]
        for a, i in _invoices(wh, "2026-10").items()
    }
    assert got == {
        "a": [("145", "12.25")],
        "b": [("60", "6.00")],
        "c": [("120", "9.00")],
        "d": [("121", "9.01")],
        "e": [("100", "1.00")],
        "f": [("101", "0.51")],
        "g": [("200", "1.00")],
        "h": [("201", "0.20")],
        "i": [("16", "16.00")],
        "j": [("4", "0.01")],
        "k": [("100", "1.00")],
        "l": [("10", "3.33")],
    }


def test_invoice_numbers_follow_code_points_tax_half_up_and_rebill_is_identical(
    tmp_path: Path,
) -> None:
    """Contract 5: numbers in ascending account id by code point ("A b" < "B" < "Z" < "_" <
    "a" < "aa" < "b" < "Ä"), usage or not. Tax half up: 0.30 x 15 % = 0.045 -> 0.05;
    0.30 x 33.333 % = 0.099999 -> 0.10; 0.10 x 5 % = 0.005 -> 0.01; 0.10 x 0.5 % -> 0.00.
    Billing again, and after an unrelated November record, prints the same bytes."""
    plan = plan_yaml("p", "    telecom.sms: {model: per_unit, price: '0.10'}\n")
    rates = {
        "b": "5",
        "B": "15",
        "a": "0",
        "Ä": "0.5",
        "Z": "33.333",
        "_": "0",
        "aa": "0",
        "A b": "0",
    }
    accounts = "accounts:\n" + "".join(
        f"- {{id: '{a}', plan: p, tax_rate: '{r}'}}\n" for a, r in rates.items()
    )
    rules = write_rules(tmp_path, {"p": plan}, accounts)
    ev = [
        _sms(f"{a}{i}", a, "2026-10-05T00:00:00Z")
        for a, n in {"b": 1, "B": 3, "Ä": 1, "Z": 3}.items()
        for i in range(n)
    ]
    wh = tmp_path / "wh"
    _run(rules, wh, [write_jsonl(tmp_path / "e.jsonl", ev)], ["2026-10"])
    args = ("export", "invoices", "--warehouse", wh, "--period", "2026-10")
    first = cli_ok(*args).stdout
    got = [(i["invoice_number"], i["account"], i["tax"]) for i in json.loads(first)]
    assert got == [
        ("INV-202610-00001", "A b", "0.00"),
        ("INV-202610-00002", "B", "0.05"),
        ("INV-202610-00003", "Z", "0.10"),
        ("INV-202610-00004", "_", "0.00"),
        ("INV-202610-00005", "a", "0.00"),
        ("INV-202610-00006", "aa", "0.00"),
        ("INV-202610-00007", "b", "0.01"),
        ("INV-202610-00008", "Ä", "0.00"),
    ]
    cli_ok("bill", "--rules", rules, "--warehouse", wh, "--period", "2026-10")
    assert cli_ok(*args).stdout == first
    late = write_jsonl(tmp_path / "late.jsonl", [_sms("late", "a", "2026-11-05T00:00:00Z")])
    _run(rules, wh, [late], ["2026-11", "2026-10"])
    assert cli_ok(*args).stdout == first


def test_flags_with_period_and_statement_counts(tmp_path: Path) -> None:
    """Contract 6: `export flags --period` lists only the flags of records of that period; a
    statement counts accepted clicks even when unbilled (no_tariff), and an orphan click of
    November appears in November's statement only."""
    plan = plan_yaml("p", "    ad.impression: {model: per_unit, price: '1.00'}\n")
    rules = write_rules(tmp_path, {"p": plan}, "accounts:\n- {id: d, plan: p, tax_rate: '0'}\n")
    oct_, nov = "2026-10-10T00:00:0", "2026-11-10T00:00:0"
    ev = [
        event(
            "im1",
            "ad.impression",
            oct_ + "0Z",
            {"campaign": "c", "ip": "1", "user_agent": "M"},
            "d",
        ),
        event(
            "cl1",
            "ad.click",
            oct_ + "1Z",
            {"impression_id": "im1", "campaign": "c", "ip": "1", "user_agent": "M"},
            "d",
        ),
        event(
            "im2",
            "ad.impression",
            oct_ + "0Z",
            {"campaign": "c", "ip": "1", "user_agent": "xBoTx"},
            "d",
        ),
        event(
            "cl2",
            "ad.click",
            nov + "1Z",
            {"impression_id": "zz", "campaign": "k", "ip": "1", "user_agent": "M"},
            "d",
        ),
    ]
    wh = tmp_path / "wh"
    _run(rules, wh, [write_jsonl(tmp_path / "e.jsonl", ev)], [])
    flags = {
        p: [
            (f["id"], f["reason"])
            for f in cli_json("export", "flags", "--warehouse", wh, "--period", p)
        ]
        for p in ("2026-09", "2026-10", "2026-11")
    }
    assert flags == {
        "2026-09": [],
        "2026-10": [("im2", "bot_user_agent")],
        "2026-11": [("cl2", "orphan_click")],
    }
    st = cli_json("export", "statement", "--warehouse", wh, "--period", "2026-10", "--account", "d")
    assert st["campaigns"] == [
        {
            "campaign": "c",
            "impressions": 2,
            "invalid_impressions": 1,
            "clicks": 1,
            "invalid_clicks": {},
            "billable_clicks": 0,
            "amount": "1.00",
        }
    ]
    st = cli_json("export", "statement", "--warehouse", wh, "--period", "2026-11", "--account", "d")
    assert [c["campaign"] for c in st["campaigns"]] == ["k"]
    assert st["campaigns"][0]["invalid_clicks"] == {"orphan_click": 1}


def test_csv_cells_are_typed_by_the_record_types_fields(tmp_path: Path) -> None:
    """Contract 1: number `-?[0-9]+(\\.[0-9]+)?`, integer `-?[0-9]+`, bool `true`/`false`;
    `1e3`, `+5`, ` 5`, `.5`, `5.`, `10.0` (integer), `True` are bad_data; an empty required cell
    is bad_data, an empty subject missing_field, specversion `1` missing_field; a column that is
    not a field of the record's type (duration_s of an sms) is a string extra field; `t`/`z`
    lowercase are fine; wrong cell count is malformed; quoted cells are cells."""
    plan = plan_yaml(
        "p",
        "".join(
            f"    telecom.{t}: {{model: per_unit, price: '1.00'}}\n"
            for t in ("voice", "data", "sms")
        ),
    )
    rules = write_rules(tmp_path, {"p": plan}, "accounts:\n- {id: a, plan: p, tax_rate: '0'}\n")
    hdr = (
        "data.extra,specversion,id,source,type,time,subject,data.subscriber,data.destination,"
        "data.duration_s,data.bytes,data.session.id,data.session.seq,data.session.last,"
        "data.service,data.region,data.ok,data.latency_ms"
    )
    rows = []

    def r(
        id_: str,
        typ: str,
        subj: str = "a",
        dest: str = "+48",
        dur: str = "",
        byt: str = "",
        sess: tuple[str, str, str] = ("", "", ""),
        sv: str = "1.0",
        t: str = "2026-10-05T10:00:00Z",
        probe: tuple[str, str, str, str] | None = None,
    ) -> None:
        sub = "" if probe else "x"
        pr = probe or ("", "", "", "")
        rows.append(
            ",".join(
                ["", sv, id_, "s", typ, t, subj, sub, "" if probe else dest, dur, byt, *sess, *pr]
            )
        )

    v = "telecom.voice"
    r("ok90", v, dur="90")
    for i, bad in enumerate(["1e3", "+5", " 5", ".5", "5."]):
        r(f"e{i}", v, dur=bad)
    r("neg0", v, dur="-0")
    r("frac", v, dur="1.25")
    r("b10.0", "telecom.data", byt="10.0")
    r("b10", "telecom.data", byt="10")
    r("sT", v, dur="1", sess=("S1", "1", "True"))
    r("s01", v, dur="1", sess=("S2", "01", "true"))
    r("nosubj", v, subj="", dur="1")
    r("nodur", v, dur="")
    r("sv1", v, sv="1", dur="1")
    r("smsdur", "telecom.sms", dur="abc")
    r("lt", v, dur="2", t="2026-10-05t10:00:00z")
    r("probe1", "quality.probe", subj="", probe=("portal", "eu", "false", "12.5"))
    r("probe2", "quality.probe", subj="", probe=("portal", "eu", "false", "abc"))
    r("probe3", "quality.probe", subj="", probe=("portal", "eu", "FALSE", ""))
    body = hdr + "\n" + "\n".join(rows) + "\n1.0,short,s\n"
    body += '"q,1",1.0,quoted,s,telecom.sms,2026-10-05T10:00:00Z,a,x,+48,,,,,,,,,\n'
    events = tmp_path / "e.csv"
    events.write_text(body, encoding="utf-8")
    wh = tmp_path / "wh"
    _run(rules, wh, [events], ["2026-10"])
    rec = cli_json("export", "reconcile", "--warehouse", wh)
    assert rec["rejected"] == {"bad_data": 10, "malformed": 1, "missing_field": 2}, rec
    assert (rec["input"], rec["rated"], rec["quality"]) == (22, 8, 1), rec
    lines = _invoices(wh, "2026-10")["a"]["lines"]
    assert [(ln["type"], ln["quantity"]) for ln in lines] == [
        ("telecom.data", "10"),
        ("telecom.sms", "2"),
        ("telecom.voice", "94.25"),
    ]


def _flat(e: dict) -> dict:
    row = {k: e.get(k) for k in ("specversion", "id", "source", "type", "time", "subject")}
    for k, val in e["data"].items():
        if k == "session":
            row |= {f"data.session.{kk}": vv for kk, vv in val.items()}
        else:
            row[f"data.{k}"] = val
    return row


def test_the_same_events_as_jsonl_csv_and_parquet_give_the_same_exports(tmp_path: Path) -> None:
    """Contract 1: CSV and Parquet carry the same fields as flat columns; the same events give
    the same exports (invoices, statements, reconcile, flags) as JSON Lines. Columns of the CSV
    are in another order than the JSON keys; Parquet uses double/int64/bool/list<string>."""
    plan = """plan: p
currency: EUR
timezone: Europe/Warsaw
versions:
- effective_from: '2026-01-01T00:00:00Z'
  monthly_fee: '5.00'
  charges:
    ad.click: {model: per_unit, price: '0.35'}
    ad.impression: {model: per_unit, price: '2.10', per: 1000}
    telecom.voice: {model: per_unit, price: '0.10', per: 60, increment: 60}
    telecom.data:
      model: graduated
      per: 1000
      tiers:
      - {up_to: 1000, price: '1'}
      - {price: '0.5'}
    telecom.sms: {model: per_unit, price: '0.05'}
"""
    accounts = (
        "accounts:\n- {id: a, plan: p, tax_rate: '23', sla: g}\n"
        "- {id: b, plan: p, tax_rate: '8.875', sla: g}\n"
    )
    slas = """slas:
  g:
    service: portal
    probe_failures_to_open: 2
    credits:
    - {below: '99.9', percent: '10'}
    applies_to: [ad.click, ad.impression, telecom.data]
"""
    ev: list[dict] = []
    for i in range(5):
        camp = "Zeta" if i % 2 else "alpha"
        ua = "GoogleBot" if i == 3 else "Mozilla"
        ev.append(
            event(
                f"imp{i}",
                "ad.impression",
                f"2026-10-0{i + 1}T10:00:00.123456Z",
                {"campaign": camp, "ip": "1.1.1.1", "user_agent": ua},
                "a",
            )
        )
        ev.append(
            event(
                f"cl{i}",
                "ad.click",
                f"2026-10-0{i + 1}T10:00:05Z",
                {
                    "impression_id": f"imp{i}",
                    "campaign": camp,
                    "ip": "2.2.2.2",
                    "user_agent": "Mozilla",
                },
                "a",
            )
        )
    ev.append(
        event(
            "clorph",
            "ad.click",
            "2026-10-09T10:00:05Z",
            {"impression_id": "nope", "campaign": "alpha", "ip": "2", "user_agent": "M"},
            "a",
        )
    )
    vd = {"subscriber": "x", "destination": "+48"}
    ev.append(event("v1", "telecom.voice", "2026-10-03T10:00:00Z", vd | {"duration_s": 61.5}, "b"))
    ev.append(
        event(
            "v2",
            "telecom.voice",
            "2026-10-03T10:00:10+02:00",
            vd | {"duration_s": 30.0, "session": {"id": "S", "seq": 1, "last": False}},
            "b",
        )
    )
    ev.append(
        event(
            "v3",
            "telecom.voice",
            "2026-10-03T10:01:00+02:00",
            vd | {"duration_s": 40.0, "session": {"id": "S", "seq": 2, "last": True}},
            "b",
        )
    )
    ev.append(
        event("d1", "telecom.data", "2026-10-04T10:00:00Z", {"subscriber": "x", "bytes": 1500}, "b")
    )
    ev.append(
        event("d2", "telecom.data", "2026-10-04T10:00:00Z", {"subscriber": "x", "bytes": 700}, "a")
    )
    ev.append(_sms("m1", "b", "2026-10-04T10:00:00Z"))
    ev.append(_sms("m2", "b", "2026-11-04T10:00:00Z"))
    ev.append(_sms("bad", "b", "2026-10-04T10:00:00"))
    ev.append(_sms("m1", "b", "2026-10-04T10:00:00Z"))
    for n, (iid, state, t, planned) in enumerate(
        [
            ("I1", "open", "2026-10-10T00:00:00Z", False),
            ("I1", "resolved", "2026-10-10T02:00:00Z", None),
            ("I2", "open", "2026-10-11T00:00:00Z", True),
            ("I2", "resolved", "2026-10-11T05:00:00Z", None),
        ]
    ):
        data = {"incident_id": iid, "service": "portal", "state": state}
        if planned is not None:
            data["planned"] = planned
        ev.append(event(f"i{n}", "quality.incident", t, data, None, "noc"))
    for n, (t, ok) in enumerate([("00:00", False), ("00:10", False), ("00:40", True)]):
        ev.append(
            event(
                f"p{n}",
                "quality.probe",
                f"2026-10-12T{t}:00Z",
                {"service": "portal", "region": "eu", "ok": ok, "latency_ms": 12.5},
                None,
                "prb",
            )
        )

    rows = [_flat(e) for e in ev]
    cols: list[str] = []
    for row in rows:
        cols += [c for c in row if c not in cols]
    types = {
        "data.duration_s": pa.float64(),
        "data.bytes": pa.int64(),
        "data.ok": pa.bool_(),
        "data.planned": pa.bool_(),
        "data.latency_ms": pa.float64(),
        "data.session.seq": pa.int64(),
        "data.session.last": pa.bool_(),
    }

    def cell(v: object) -> str:
        return "" if v is None else ("true" if v else "false") if isinstance(v, bool) else str(v)

    def exports(fmt: str) -> dict[str, str]:
        root = tmp_path / fmt
        rules = write_rules(root, {"p": plan}, accounts, slas)
        f = root / f"e.{fmt}"
        if fmt == "jsonl":
            write_jsonl(f, ev)
        elif fmt == "csv":
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(cols[::-1])
            w.writerows([cell(row.get(c)) for c in cols[::-1]] for row in rows)
            f.write_text(buf.getvalue(), encoding="utf-8")
        else:
            pq.write_table(
                pa.table(
                    {
                        c: pa.array([row.get(c) for row in rows], types.get(c, pa.string()))
                        for c in cols
                    }
                ),
                f,
            )
        wh = root / "wh"
        _run(rules, wh, [f], ["2026-10", "2026-11"])
        out = {
            "rec": cli_ok("export", "reconcile", "--warehouse", wh).stdout,
            "flags": cli_ok("export", "flags", "--warehouse", wh).stdout,
        }
        for p in ("2026-10", "2026-11"):
            out["inv" + p] = cli_ok("export", "invoices", "--warehouse", wh, "--period", p).stdout
            for a in "ab":
                out[f"st{p}{a}"] = cli_ok(
                    "export", "statement", "--warehouse", wh, "--period", p, "--account", a
                ).stdout
        return out

    want = exports("jsonl")
    inv = {i["account"]: i for i in json.loads(want["inv2026-10"])}
    # a: 5 clicks 1.75, 4 impressions 0.0084 -> 0.01, data 700 -> 0.70; down 2 h + 40 min:
    # 99.642 -> 10 % of 2.46 = 0.25. b: data 1500 -> 1.25, sms 0.05, voice 120 + 120 s -> 0.40,
    # credit 10 % of 1.25 = 0.125 -> 0.13; tax 8.875 % of 6.57 = 0.583 -> 0.58.
    assert (inv["a"]["subtotal"], inv["a"]["tax"], inv["a"]["total"]) == ("7.21", "1.66", "8.87")
    assert (inv["b"]["subtotal"], inv["b"]["tax"], inv["b"]["total"]) == ("6.57", "0.58", "7.15")
    assert inv["a"]["lines"][-1] == {"kind": "credit", "availability": "99.642", "amount": "-0.25"}
    for fmt in ("csv", "parquet"):
        got = exports(fmt)
        assert got == want, fmt
