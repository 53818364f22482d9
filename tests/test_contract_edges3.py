"""A third set of contract edge cases, each expected value computed by hand from CONTRACT.md:
duplicates (2.2), partial records / sessions (2.3), the fraud rules and their order (2.4),
flags and their review (2.4, 6), the statement's counting rules and reconcile across several
replays (6).

Each test builds its own rule directory and events in tmp_path and runs the `pipeline` commands
(in-process through `pipeline.cli.main`, to keep start-up time out; one review goes through the
real console script). Every scenario below uses this rule set unless it says otherwise:

- fraud.yaml: bot_user_agents [bot, HeadLess], attribution_window_s 600,
  max_clicks_per_ip_per_minute 2;
- plan p (UTC, one version from 2026-01-01): ad.click 0.10 per click, ad.impression 0.0025 per
  impression, telecom.sms 1.00 per message, telecom.voice per 60 s with increment 60 and price by
  destination (+48 1.00, +49 2.00), telecom.data 1.00 per 1000 bytes with increment 1000;
- accounts a, b (plan p, tax 0) and others as each test says.

Clicks get a fresh IP each unless a test sets one, so that ip_velocity only fires where meant.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from helpers import assert_balanced, cli_ok, main_inprocess, query
from scenario import event, plan_yaml, write_jsonl, write_rules

FRAUD3 = (
    "bot_user_agents: [bot, HeadLess]\nattribution_window_s: 600\nmax_clicks_per_ip_per_minute: 2\n"
)
PLAN = plan_yaml(
    "p",
    "    ad.click: {model: per_unit, price: '0.10'}\n"
    "    ad.impression: {model: per_unit, price: '0.0025'}\n"
    "    telecom.sms: {model: per_unit, price: '1.00'}\n"
    "    telecom.voice: {model: per_unit, per: 60, increment: 60, destinations:"
    " [{prefix: '+48', price: '1.00'}, {prefix: '+49', price: '2.00'}]}\n"
    "    telecom.data: {model: per_unit, price: '1.00', per: 1000, increment: 1000}\n",
)
ACCOUNTS_AB = "accounts:\n- {id: a, plan: p, tax_rate: '0'}\n- {id: b, plan: p, tax_rate: '0'}\n"
D = "2026-10-05T"  # the day most events fall on
_IPS = itertools.count(1)


def _setup(tmp_path: Path, accounts: str = ACCOUNTS_AB) -> tuple[Path, Path]:
    return write_rules(tmp_path, {"p": PLAN}, accounts, fraud=FRAUD3), tmp_path / "wh"


def _run(*args: Any) -> str:
    r = main_inprocess(*map(str, args))
    command = " ".join(map(str, args))
    assert r.returncode == 0, f"pipeline {command} exited {r.returncode}:\n{r.stderr}"
    return r.stdout


def _replay(rules: Path, wh: Path, *files: Path) -> None:
    _run("replay", "--quiet", "--rules", rules, "--warehouse", wh, *files)


def _bill(rules: Path, wh: Path, period: str) -> None:
    _run("bill", "--rules", rules, "--warehouse", wh, "--period", period)


def _export(what: str, wh: Path, *opts: str) -> Any:
    return json.loads(_run("export", what, "--warehouse", wh, *opts))


def _invoice(wh: Path, account: str, period: str = "2026-10") -> dict:
    inv = {i["account"]: i for i in _export("invoices", wh, "--period", period)}
    return inv[account]


def _statement(wh: Path, account: str, period: str = "2026-10") -> dict:
    return _export("statement", wh, "--period", period, "--account", account)


def _flags(wh: Path, *opts: str) -> list[tuple[str, ...]]:
    """`export flags` as (source, id, type, subject, reason, status) tuples, checking keys."""
    out = []
    for f in _export("flags", wh, *opts):
        assert list(f) == ["source", "id", "type", "subject", "reason", "status"], f
        out.append(tuple(f.values()))
    return out


def _rec(rated: int, input_: int, **kw: Any) -> dict[str, Any]:
    """A reconcile object; unnamed outcomes are empty."""
    rec = {
        "input": input_,
        "rejected": kw.get("rejected", {}),
        "duplicate": kw.get("duplicate", 0),
        "rated": rated,
        "invalid": kw.get("invalid", {}),
        "unbilled": kw.get("unbilled", {}),
        "quality": kw.get("quality", 0),
    }
    assert_balanced(rec)  # the hand count itself adds up
    return rec


def _usage(type_: str, quantity: str, amount: str) -> dict[str, str]:
    return {"kind": "usage", "type": type_, "quantity": quantity, "amount": amount}


def _imp(id_: str, time: str, subject: str = "a", ua: str = "Mozilla/5.0", **kw: Any) -> dict:
    data = {"campaign": kw.get("campaign", "c"), "ip": kw.get("ip", "192.0.2.1"), "user_agent": ua}
    return event(id_, "ad.impression", time, data, subject, kw.get("source", "s"))


def _click(
    id_: str, time: str, imp: str, subject: str = "a", ua: str = "Mozilla/5.0", **kw: Any
) -> dict:
    ip = kw.get("ip") or f"10.0.{next(_IPS)}.1"
    data = {"impression_id": imp, "campaign": kw.get("campaign", "c"), "ip": ip, "user_agent": ua}
    return event(id_, "ad.click", time, data, subject, kw.get("source", "s"))


def _sms(id_: str, subject: str = "a", source: str = "s", **data: Any) -> dict:
    d = {"subscriber": "x", "destination": "+481", **data}
    return event(id_, "telecom.sms", D + "10:00:00Z", d, subject, source)


def _part(
    type_: str, id_: str, time: str, sid: str, seq: int, last: bool, q: Any, **kw: Any
) -> dict:
    """One session part: voice (q = duration_s, destination) or data (q = bytes)."""
    session = {"id": sid, "seq": seq, "last": last}
    if type_ == "voice":
        data = {"subscriber": "x", "destination": kw.get("dest", "+481"), "duration_s": q}
    else:
        data = {"subscriber": "x", "bytes": q}
    data["session"] = session
    return event(id_, f"telecom.{type_}", time, data, kw.get("subject", "a"), kw.get("source", "s"))


# -- 2.2 duplicates --------------------------------------------------------------------------


def test_duplicates_first_in_input_order_across_files_runs_and_session_parts(
    tmp_path: Path,
) -> None:
    """Contract 2.2. One replay of z.jsonl then a.jsonl (given in that order, not by name), then
    z.jsonl again.

    z1 (s,x1) sms a -> rated; z2 (s,x1) again, EARLIER time, subject ghost -> duplicate (input
    order wins, not time); z3 (s,x2) ghost -> unbilled unknown_account; z4 (s,x3) without
    destination -> rejected bad_data; z5 (s,x4) -> rated; z6 (s,x4) with a space for T ->
    rejected bad_time, not duplicate; z7 (t,x1) another source -> rated; z8 (s,X1) ids are
    case-sensitive -> rated. Voice session S of a: z9 seq 1 30 s, z10 seq 2 last 20 s -> rated;
    z11 (t,v9) seq 2 again, 500 s -> duplicate (same subject, type, session id, seq under
    another (source, id)); z12 (t,v9) sms -> duplicate (z11 claimed (t,v9)); z13 session S of
    subject b -> rated (another session); z14 data session S of a -> rated (another type); z15
    session T seq 1 with duration_s "x" -> bad_data; z16 (s,v6) session T seq 1 -> rated (a
    rejected part claims nothing). a.jsonl: a1 (s,x2) subject a -> duplicate (z3 came first);
    a2 (s,x3) -> rated (z4 was rejected); a3 -> rated.

    19 records: rejected bad_data 2 + bad_time 1, duplicate 4, unbilled 1, rated 11.
    Invoice a: sms z1 z5 z7 z8 a2 a3 = 6 x 1.00; voice S 30+20 = 50 -> 60 s at +48 = 1.00 (not
    550 s) and T 60 s = 1.00 -> 120, 2.00; data 10 bytes -> 1000, 1.00. Total 9.00. b: 10 s ->
    60, 1.00. Replaying z.jsonl (16 records, 3 rejected) adds 13 duplicates and 3 rejections."""
    rules, wh = _setup(tmp_path)
    t9 = "2026-10-05T09:00:00Z"
    z = [
        _sms("x1"),
        event("x1", "telecom.sms", t9, {"subscriber": "x", "destination": "+481"}, "ghost", "s"),
        _sms("x2", "ghost"),
        event("x3", "telecom.sms", t9, {"subscriber": "x"}, "a", "s"),
        _sms("x4"),
        event(
            "x4",
            "telecom.sms",
            "2026-10-05 10:00:00Z",
            {"subscriber": "x", "destination": "+481"},
            "a",
            "s",
        ),
        _sms("x1", source="t"),
        _sms("X1"),
        _part("voice", "v1", "2026-10-06T10:00:00Z", "S", 1, False, 30),
        _part("voice", "v2", "2026-10-06T10:00:30Z", "S", 2, True, 20),
        _part("voice", "v9", "2026-10-06T10:00:30Z", "S", 2, True, 500, source="t"),
        _sms("v9", source="t"),
        _part("voice", "v3", "2026-10-06T10:00:00Z", "S", 1, True, 10, subject="b"),
        _part("data", "d1", "2026-10-06T10:00:00Z", "S", 1, True, 10),
        _part("voice", "v5", "2026-10-07T10:00:00Z", "T", 1, True, "x"),
        _part("voice", "v6", "2026-10-07T10:00:00Z", "T", 1, True, 60),
    ]
    a = [_sms("x2"), _sms("x3"), _sms("a1")]
    zf, af = write_jsonl(tmp_path / "z.jsonl", z), write_jsonl(tmp_path / "a.jsonl", a)
    _replay(rules, wh, zf, af)
    assert _export("reconcile", wh) == _rec(
        11,
        19,
        rejected={"bad_data": 2, "bad_time": 1},
        duplicate=4,
        unbilled={"unknown_account": 1},
    )
    _bill(rules, wh, "2026-10")
    inv_a = _invoice(wh, "a")
    assert inv_a["lines"] == [
        _usage("telecom.data", "1000", "1.00"),
        _usage("telecom.sms", "6", "6.00"),
        _usage("telecom.voice", "120", "2.00"),
    ]
    assert inv_a["total"] == "9.00"
    assert _invoice(wh, "b")["lines"] == [_usage("telecom.voice", "60", "1.00")]

    _replay(rules, wh, zf)
    assert _export("reconcile", wh) == _rec(
        11,
        35,
        rejected={"bad_data": 4, "bad_time": 2},
        duplicate=17,
        unbilled={"unknown_account": 1},
    )
    _bill(rules, wh, "2026-10")
    assert _invoice(wh, "a") == inv_a


# -- 2.3 partial records -----------------------------------------------------------------------


def test_sessions_assemble_by_earliest_part_round_once_and_share_one_outcome(
    tmp_path: Path,
) -> None:
    """Contract 2.3 (voice per 60 s, increment 60; +48 1.00, +49 2.00; data per 1000 bytes,
    increment 1000). Account v ends 2026-10-15T00:00:00Z (exclusive).

    A: parts seq 2 (+49, 20 s) then seq 1 (+48, 20 s) at the SAME time: earliest by seq -> +48;
       40 s -> 60 -> 1.00 (per part: 2 x 60 = 2.00).
    B: seq 1 (+48, 30 s) at 12:00:10, seq 2 (+49, 45 s) at 12:00:00: earliest by time is seq 2
       -> +49; 75 s -> 120 -> 2 x 2.00 = 4.00.
    C: seq 1 2026-10-31T23:59:50Z (+48, 30 s), seq 2 2026-11-01T00:00:20Z (+49, 45 s): period
       October (earliest part), 120 s at 1.00 = 2.00; November has no voice line.
    D: seq 1 and seq 3 (last) only: incomplete, still rated, 20 s -> 60 = 1.00.
    E: two parts of unknown subject ghost -> 2 x unbilled unknown_account.
    F: earliest part to +11 (no prefix), later part to +48 -> 2 x unbilled no_destination.
    G (account v): seq 1 at 2026-10-14T23:59:59Z, seq 2 at 2026-10-15T00:00:30Z -> rated by the
       earliest part's time: 60 s = 1.00.
    H (account v): parts at 2026-10-15T00:00:00Z and :10 -> 2 x unbilled no_contract.
    P: data session, seq 1 (300 bytes) in the first replay, seq 2 last (300 bytes) in a second:
       after the first, 300 -> 1000 = 1.00, incomplete; after the second, 600 -> 1000 = 1.00
       (per part: 2000 = 2.00), complete, and both parts rated.

    First replay: 17 records, rated 11 (A, B, C, D, G parts and P1), unbilled 6.
    Invoice a October: data 1000 1.00; voice A 60 + B 120 + C 120 + D 60 = 360, 8.00."""
    accounts = ACCOUNTS_AB + "- {id: v, plan: p, tax_rate: '0', valid_to: '2026-10-15T00:00:00Z'}\n"
    rules, wh = _setup(tmp_path, accounts)

    def voice(
        i: str,
        t: str,
        sid: str,
        seq: int,
        last: bool,
        s: int,
        dest: str = "+481",
        subject: str = "a",
    ) -> dict:
        return _part("voice", i, t, sid, seq, last, s, dest=dest, subject=subject)

    d7, d8 = "2026-10-07T", "2026-10-08T"
    first = [
        voice("A2", d7 + "10:00:00Z", "A", 2, True, 20, "+491"),
        voice("A1", d7 + "10:00:00Z", "A", 1, False, 20, "+481"),
        voice("B1", d7 + "12:00:10Z", "B", 1, False, 30, "+481"),
        voice("B2", d7 + "12:00:00Z", "B", 2, True, 45, "+491"),
        voice("C1", "2026-10-31T23:59:50Z", "C", 1, False, 30, "+481"),
        voice("C2", "2026-11-01T00:00:20Z", "C", 2, True, 45, "+491"),
        voice("D1", d8 + "10:00:00Z", "D", 1, False, 10),
        voice("D3", d8 + "10:05:00Z", "D", 3, True, 10),
        voice("E1", d8 + "11:00:00Z", "E", 1, False, 10, subject="ghost"),
        voice("E2", d8 + "11:01:00Z", "E", 2, True, 10, subject="ghost"),
        voice("F1", d8 + "12:00:00Z", "F", 1, False, 10, "+11"),
        voice("F2", d8 + "12:01:00Z", "F", 2, True, 10, "+481"),
        voice("G1", "2026-10-14T23:59:59Z", "G", 1, False, 30, subject="v"),
        voice("G2", "2026-10-15T00:00:30Z", "G", 2, True, 30, subject="v"),
        voice("H1", "2026-10-15T00:00:00Z", "H", 1, False, 10, subject="v"),
        voice("H2", "2026-10-15T00:00:10Z", "H", 2, True, 10, subject="v"),
        _part("data", "P1", "2026-10-10T10:00:00Z", "P", 1, False, 300),
    ]
    _replay(rules, wh, write_jsonl(tmp_path / "1.jsonl", first))
    unbilled = {"unknown_account": 2, "no_destination": 2, "no_contract": 2}
    assert _export("reconcile", wh) == _rec(11, 17, unbilled=unbilled)
    _bill(rules, wh, "2026-10")
    assert _invoice(wh, "a")["lines"] == [
        _usage("telecom.data", "1000", "1.00"),
        _usage("telecom.voice", "360", "8.00"),
    ]
    assert _invoice(wh, "v")["lines"] == [_usage("telecom.voice", "60", "1.00")]
    # "marked incomplete in the rated record": the view rated_records (docs/warehouse.md)
    complete_sql = "SELECT session_id, complete FROM rated_records WHERE subject = 'a' ORDER BY 1"
    assert query(wh, complete_sql) == [
        ("A", True),
        ("B", True),
        ("C", True),
        ("D", False),
        ("P", False),
    ]

    second = [_part("data", "P2", "2026-10-10T10:05:00Z", "P", 2, True, 300)]
    _replay(rules, wh, write_jsonl(tmp_path / "2.jsonl", second))
    assert _export("reconcile", wh) == _rec(12, 18, unbilled=unbilled)
    _bill(rules, wh, "2026-10")
    assert _invoice(wh, "a")["lines"] == [
        _usage("telecom.data", "1000", "1.00"),
        _usage("telecom.voice", "360", "8.00"),
    ]
    assert ("P", True) in query(wh, complete_sql)
    _bill(rules, wh, "2026-11")
    assert _invoice(wh, "a", "2026-11")["lines"] == []


# -- 2.4 fraud rules ---------------------------------------------------------------------------


def test_fraud_rules_boundaries_order_and_tie_breaks(tmp_path: Path) -> None:
    """Contract 2.4, one replay, all on 2026-10-05 (window 600 s, at most 2 clicks per IP and
    minute, bots [bot, HeadLess]); subject a unless said.

    orphan_click: k-edge 10:10:00 -> I-edge 10:00:00, exactly 600 s: inclusive, rated;
    k-edge2 10:10:00.000001 -> I-edge2 10:00:00: 600.000001 s, orphan; k-fut 10:20:00 ->
    I-fut 10:20:00.000001 (after the click): orphan; k-same 10:30:00 -> I-same at the same
    instant: rated; k-b -> I-b of subject b: orphan; k-bot -> I-bot (UA "GoogleBOT/2.1",
    itself bot_user_agent): rated, a marked impression counts; k-d -> I-d: the non-duplicate
    (s,I-d) is b's, a's copy is a duplicate: orphan; k-rej -> I-rej (rejected, no ip): orphan.
    bot_user_agent: I-hl "Chrome HEADLESS" matches entry HeadLess; k-crawl "x-headless-y"
    without impression: bot (rule 1 before rule 2); (a,1) "robot".
    duplicate_click on I-dc: (a,1) bot at :05 does not count; (B,z) and (a,0) at 12:00:10:
    "B" < "a", (B,z) rated, (a,0) duplicate_click; (a,2) at 12:00:10.000001 duplicate_click.
    On I-dc2 at the same time: "C-a" < "c-b", c-b duplicate_click. On I-dc3 (13:00:00): the
    earlier k-early (12:59) is an orphan and does not count: k-late rated.
    ip_velocity (each click its own impression I-<id> at 13:59): 9.9.9.1 two clicks in 14:00
    (:00 and :59.999999): rated; 9.9.9.2 bot v2a + v2b + v2c: 3 > 2, v2a keeps bot, v2b v2c
    ip_velocity; 9.9.9.3 14:02:59.999999 | 14:03:00, 14:03:00.5: 1 + 2, rated; 9.9.9.4 v4a v4b
    + a duplicate of v4a + a rejected click: 2, rated; 9.9.9.5 two of a and one of b: 3, all
    ip_velocity; 9.9.9.6 orphan v6a + v6b v6c: v6a orphan, v6b v6c ip_velocity; 9.9.9.7 v7a
    v7b on one impression + v7c: v7b duplicate_click (rule 3 first), v7a v7c ip_velocity;
    9.9.9.8 16:08:10+02:00 = 14:08:10Z with 14:08:20Z, 14:08:30Z: one UTC minute, 3 ip_velocity.
    Unknown subject ghost: orphan g1 and bot impression g-imp are invalid (never unbilled);
    g-imp2 is unbilled unknown_account.

    Impressions 35: rated 29, bot 3, duplicate 1, rejected 1, unbilled 1. Clicks 42: rated 13,
    orphan 8, bot 3, duplicate_click 4, ip_velocity 12, duplicate 1, rejected 1.
    Statement a, campaign c: impressions 28 (9 + 19), invalid 2; clicks 38, invalid orphan 7,
    bot 3, duplicate_click 4, ip_velocity 11; billable 13; amount 13 x 0.10 + 26 x 0.0025 =
    1.365 -> 1.37."""
    rules, wh = _setup(tmp_path)
    ev = [
        _imp("I-edge", D + "10:00:00Z"),
        _click("k-edge", D + "10:10:00Z", "I-edge"),
        _imp("I-edge2", D + "10:00:00Z"),
        _click("k-edge2", D + "10:10:00.000001Z", "I-edge2"),
        _click("k-fut", D + "10:20:00Z", "I-fut"),
        _imp("I-fut", D + "10:20:00.000001Z"),
        _imp("I-same", D + "10:30:00Z"),
        _click("k-same", D + "10:30:00Z", "I-same"),
        _imp("I-b", D + "10:40:00Z", "b"),
        _click("k-b", D + "10:41:00Z", "I-b"),
        _imp("I-bot", D + "10:50:00Z", ua="GoogleBOT/2.1"),
        _imp("I-hl", D + "10:50:00Z", ua="Chrome HEADLESS"),
        _click("k-bot", D + "10:51:00Z", "I-bot"),
        _imp("I-d", D + "11:00:00Z", "b"),
        _imp("I-d", D + "11:00:00Z", "a"),
        _click("k-d", D + "11:01:00Z", "I-d"),
        event("I-rej", "ad.impression", D + "11:10:00Z", {"campaign": "c", "user_agent": "M"}, "a"),
        _click("k-rej", D + "11:11:00Z", "I-rej"),
        _click("k-crawl", D + "11:20:00Z", "nothing", ua="x-headless-y"),
        _imp("I-dc", D + "12:00:00Z"),
        _click("1", D + "12:00:05Z", "I-dc", ua="robot", source="a"),
        _click("0", D + "12:00:10Z", "I-dc", source="a"),
        _click("z", D + "12:00:10Z", "I-dc", source="B"),
        _click("2", D + "12:00:10.000001Z", "I-dc", source="a"),
        _imp("I-dc2", D + "12:05:00Z"),
        _click("c-b", D + "12:05:30Z", "I-dc2"),
        _click("C-a", D + "12:05:30Z", "I-dc2"),
        _imp("I-dc3", D + "13:00:00Z"),
        _click("k-early", D + "12:59:00Z", "I-dc3"),
        _click("k-late", D + "13:00:30Z", "I-dc3"),
        _imp("g-imp", D + "10:00:00Z", "ghost", ua="bot"),
        _imp("g-imp2", D + "10:00:00Z", "ghost"),
        _click("g1", D + "10:00:00Z", "nothing", "ghost"),
    ]
    vel: list[tuple[str, str, str, dict[str, Any]]] = [  # (id, time, ip, extra)
        ("v1a", D + "14:00:00Z", "9.9.9.1", {}),
        ("v1b", D + "14:00:59.999999Z", "9.9.9.1", {}),
        ("v2a", D + "14:01:00Z", "9.9.9.2", {"ua": "bot"}),
        ("v2b", D + "14:01:10Z", "9.9.9.2", {}),
        ("v2c", D + "14:01:20Z", "9.9.9.2", {}),
        ("v3a", D + "14:02:59.999999Z", "9.9.9.3", {}),
        ("v3b", D + "14:03:00Z", "9.9.9.3", {}),
        ("v3c", D + "14:03:00.5Z", "9.9.9.3", {}),
        ("v4a", D + "14:04:10Z", "9.9.9.4", {}),
        ("v4b", D + "14:04:20Z", "9.9.9.4", {}),
        ("v5a", D + "14:05:10Z", "9.9.9.5", {}),
        ("v5b", D + "14:05:20Z", "9.9.9.5", {}),
        ("v5c", D + "14:05:30Z", "9.9.9.5", {"subject": "b"}),
        ("v6b", D + "14:06:20Z", "9.9.9.6", {}),
        ("v6c", D + "14:06:30Z", "9.9.9.6", {}),
        ("v7a", D + "14:07:10Z", "9.9.9.7", {"imp": "I-v7"}),
        ("v7b", D + "14:07:20Z", "9.9.9.7", {"imp": "I-v7"}),
        ("v7c", D + "14:07:30Z", "9.9.9.7", {}),
        ("v8a", "2026-10-05T16:08:10+02:00", "9.9.9.8", {}),
        ("v8b", D + "14:08:20Z", "9.9.9.8", {}),
        ("v8c", D + "14:08:30Z", "9.9.9.8", {}),
    ]
    imps = set()
    for id_, t, ip, x in vel:
        imp, subject = x.get("imp", "I-" + id_), x.get("subject", "a")
        if imp not in imps:
            imps.add(imp)
            ev.append(_imp(imp, D + "13:59:00Z", subject))
        ev.append(_click(id_, t, imp, subject, x.get("ua", "Mozilla/5.0"), ip=ip))
    ev += [
        _click("v4a", D + "14:04:30Z", "I-v4a", ip="9.9.9.4"),  # duplicate of (s, v4a)
        event(
            "v4-rej",
            "ad.click",
            D + "14:04:40Z",
            {"campaign": "c", "ip": "9.9.9.4", "user_agent": "M"},
            "a",
        ),
        _click("v6a", D + "14:06:10Z", "nothing", ip="9.9.9.6"),
    ]
    _replay(rules, wh, write_jsonl(tmp_path / "e.jsonl", ev))

    o, bot, dc, vl = "orphan_click", "bot_user_agent", "duplicate_click", "ip_velocity"
    click, imp = "ad.click", "ad.impression"
    # sorted by (source, id) by code point: "B" < "a" < "s"; "I-..." < "c-b" < "g-imp" < "g1"
    assert _flags(wh) == [
        ("a", "0", click, "a", dc, "open"),
        ("a", "1", click, "a", bot, "open"),
        ("a", "2", click, "a", dc, "open"),
        ("s", "I-bot", imp, "a", bot, "open"),
        ("s", "I-hl", imp, "a", bot, "open"),
        ("s", "c-b", click, "a", dc, "open"),
        ("s", "g-imp", imp, "ghost", bot, "open"),
        ("s", "g1", click, "ghost", o, "open"),
        ("s", "k-b", click, "a", o, "open"),
        ("s", "k-crawl", click, "a", bot, "open"),
        ("s", "k-d", click, "a", o, "open"),
        ("s", "k-early", click, "a", o, "open"),
        ("s", "k-edge2", click, "a", o, "open"),
        ("s", "k-fut", click, "a", o, "open"),
        ("s", "k-rej", click, "a", o, "open"),
        ("s", "v2a", click, "a", bot, "open"),
        ("s", "v2b", click, "a", vl, "open"),
        ("s", "v2c", click, "a", vl, "open"),
        ("s", "v5a", click, "a", vl, "open"),
        ("s", "v5b", click, "a", vl, "open"),
        ("s", "v5c", click, "b", vl, "open"),
        ("s", "v6a", click, "a", o, "open"),
        ("s", "v6b", click, "a", vl, "open"),
        ("s", "v6c", click, "a", vl, "open"),
        ("s", "v7a", click, "a", vl, "open"),
        ("s", "v7b", click, "a", dc, "open"),
        ("s", "v7c", click, "a", vl, "open"),
        ("s", "v8a", click, "a", vl, "open"),
        ("s", "v8b", click, "a", vl, "open"),
        ("s", "v8c", click, "a", vl, "open"),
    ]
    assert _export("reconcile", wh) == _rec(
        42,
        77,
        rejected={"bad_data": 2},
        duplicate=2,
        invalid={bot: 6, dc: 4, vl: 12, o: 8},
        unbilled={"unknown_account": 1},
    )
    assert _statement(wh, "a")["campaigns"] == [
        {
            "campaign": "c",
            "impressions": 28,
            "invalid_impressions": 2,
            "clicks": 38,
            "invalid_clicks": {bot: 3, dc: 4, vl: 11, o: 7},
            "billable_clicks": 13,
            "amount": "1.37",
        }
    ]


def test_later_replays_rejudge_velocity_duplicate_click_and_orphans(tmp_path: Path) -> None:
    """Contract 2.4 "Outcomes always reflect everything ingested so far", across two replays.

    First: x1 x2 (IP 8.8.8.8, 12:00:10 and :20, each with its impression): 2 clicks, rated;
    e1 (10:40) and e2 (10:41) on the missing i9: orphans; y1 (12:10) on iy (12:05): rated.
    8 records: rated 6, orphan 2. Invoice: clicks x1 x2 y1 = 0.30; impressions 3 x 0.0025 =
    0.0075 -> 0.01.
    Second: x3 on 8.8.8.8 at 12:00:59.999999 (with its impression): 3 in the minute, x1 x2 x3
    ip_velocity; the late i9 (10:39) makes e1 the earliest click of (a, i9): rated, e2
    duplicate_click; y0 (12:09) on iy is earlier than y1: y0 rated, y1 duplicate_click; a bot
    click ybot (12:08, UA "BOT") is earlier still but does not count. 13 records: rated 7
    (ix1 ix2 ix3 iy i9 e1 y0), ip_velocity 3, duplicate_click 2, bot 1. Invoice after the
    next bill: clicks e1 y0 = 0.20; impressions 5 x 0.0025 = 0.0125 -> 0.01."""
    rules, wh = _setup(tmp_path)
    ip = "8.8.8.8"
    first = [
        _imp("ix1", D + "12:00:00Z"),
        _imp("ix2", D + "12:00:00Z"),
        _click("x1", D + "12:00:10Z", "ix1", ip=ip),
        _click("x2", D + "12:00:20Z", "ix2", ip=ip),
        _click("e1", D + "10:40:00Z", "i9"),
        _click("e2", D + "10:41:00Z", "i9"),
        _imp("iy", D + "12:05:00Z"),
        _click("y1", D + "12:10:00Z", "iy"),
    ]
    _replay(rules, wh, write_jsonl(tmp_path / "1.jsonl", first))
    assert _export("reconcile", wh) == _rec(6, 8, invalid={"orphan_click": 2})
    assert [(f[1], f[4]) for f in _flags(wh)] == [("e1", "orphan_click"), ("e2", "orphan_click")]
    _bill(rules, wh, "2026-10")
    assert _invoice(wh, "a")["lines"] == [
        _usage("ad.click", "3", "0.30"),
        _usage("ad.impression", "3", "0.01"),
    ]

    second = [
        _imp("ix3", D + "12:00:00Z"),
        _click("x3", D + "12:00:59.999999Z", "ix3", ip=ip),
        _imp("i9", D + "10:39:00Z"),
        _click("y0", D + "12:09:00Z", "iy"),
        _click("ybot", D + "12:08:00Z", "iy", ua="BOT"),
    ]
    _replay(rules, wh, write_jsonl(tmp_path / "2.jsonl", second))
    assert _export("reconcile", wh) == _rec(
        7, 13, invalid={"ip_velocity": 3, "duplicate_click": 2, "bot_user_agent": 1}
    )
    assert [(f[1], f[4]) for f in _flags(wh)] == [
        ("e2", "duplicate_click"),
        ("x1", "ip_velocity"),
        ("x2", "ip_velocity"),
        ("x3", "ip_velocity"),
        ("y1", "duplicate_click"),
        ("ybot", "bot_user_agent"),
    ]
    _bill(rules, wh, "2026-10")
    assert _invoice(wh, "a")["lines"] == [
        _usage("ad.click", "2", "0.20"),
        _usage("ad.impression", "5", "0.01"),
    ]


# -- flags: review, removal by later data, --period --------------------------------------------


def test_flag_review_late_impressions_and_periods(tmp_path: Path) -> None:
    """Contract 2.4 and 6. First replay (subject a, campaign c unless said):
    i0 + c0 -> rated; c1 c2 c3 (10:05, 10:06, 10:07) on missing i1 i2 i3: orphans; d1 (UA "Bot")
    and d2 on i5: d1 bot, d2 rated; w1 w2 w3 on 7.7.7.7 within 11:00 (own impressions): 3
    ip_velocity; (B,10) (B,9) orphans in October; campaign nov: (B,n1) 2026-11-02 and (a,n2)
    2026-10-31T23:30:00-01:00 = 2026-11-01T00:30Z: orphans of November.
    18 records: rated 7, orphan 7, bot 1, ip_velocity 3. Flags sorted by (source, id):
    "B" < "a" < "s" and "10" < "9" < "n1". October invoice: clicks c0 d2 = 0.20; impressions
    5 x 0.0025 = 0.0125 -> 0.01; total 0.21.

    Dismiss c2 (real CLI), confirm c3, dismiss d1 and w1. At once: reconcile rated 10, orphan 6,
    ip_velocity 2, no bot_user_agent key (zero counts omitted); flags keep their reasons;
    statement: clicks 11, invalid orphan 4 (c1 c3 B10 B9) + ip_velocity 2, billable 5,
    amount 0.50 + 0.0125 = 0.5125 -> 0.51; the invoice unchanged until the next bill, then 0.51.

    Second replay: i1 (10:00, 5 min before c1), i2 at exactly c2's time, i3 at
    09:56:59.999999 (600.000001 s before c3: outside), a duplicate of (s,c1). c1 rated and
    unlisted, c2 (dismissed) rated and unlisted, c3 stays confirmed. 22 records: rated 14
    (+c1 i1 i2 i3), duplicate 1, orphan 5, ip_velocity 2. Statement: impressions 8, clicks 11,
    orphan 3, ip_velocity 2, billable 6, 0.60 + 0.02 = 0.62 -> the invoice after the next bill.
    November statement: campaign nov, 2 clicks, both orphan, 0.00."""
    rules, wh = _setup(tmp_path, "accounts:\n- {id: a, plan: p, tax_rate: '0'}\n")
    nov = {"campaign": "nov"}
    first = [
        _imp("i0", D + "10:00:00Z"),
        _click("c0", D + "10:01:00Z", "i0"),
        _click("c1", D + "10:05:00Z", "i1"),
        _click("c2", D + "10:06:00Z", "i2"),
        _click("c3", D + "10:07:00Z", "i3"),
        _imp("i5", D + "10:15:00Z"),
        _click("d1", D + "10:20:00Z", "i5", ua="Bot"),
        _click("d2", D + "10:21:00Z", "i5"),
        *[_imp(f"iw{n}", D + "10:59:00Z") for n in (1, 2, 3)],
        *[_click(f"w{n}", D + f"11:00:{n}0Z", f"iw{n}", ip="7.7.7.7") for n in (1, 2, 3)],
        _click("10", D + "10:30:00Z", "none", source="B"),
        _click("9", D + "10:31:00Z", "none", source="B"),
        _click("n1", "2026-11-02T00:00:00Z", "none", source="B", **nov),
        _click("n2", "2026-10-31T23:30:00-01:00", "none", source="a", **nov),
    ]
    _replay(rules, wh, write_jsonl(tmp_path / "1.jsonl", first))
    o, bot, vl, click = "orphan_click", "bot_user_agent", "ip_velocity", "ad.click"
    flags = [
        ("B", "10", click, "a", o, "open"),
        ("B", "9", click, "a", o, "open"),
        ("B", "n1", click, "a", o, "open"),
        ("a", "n2", click, "a", o, "open"),
        ("s", "c1", click, "a", o, "open"),
        ("s", "c2", click, "a", o, "open"),
        ("s", "c3", click, "a", o, "open"),
        ("s", "d1", click, "a", bot, "open"),
        ("s", "w1", click, "a", vl, "open"),
        ("s", "w2", click, "a", vl, "open"),
        ("s", "w3", click, "a", vl, "open"),
    ]
    assert _flags(wh) == flags
    assert _flags(wh, "--period", "2026-10") == [f for f in flags if f[1] not in ("n1", "n2")]
    assert _flags(wh, "--period", "2026-11") == flags[2:4]
    assert _export("reconcile", wh) == _rec(7, 18, invalid={o: 7, bot: 1, vl: 3})
    _bill(rules, wh, "2026-10")
    billed = _run("export", "invoices", "--warehouse", wh, "--period", "2026-10")
    inv = json.loads(billed)[0]
    assert inv["lines"] == [_usage(click, "2", "0.20"), _usage("ad.impression", "5", "0.01")]
    assert inv["total"] == "0.21"

    cli_ok("flags", "dismiss", "--warehouse", str(wh), "s", "c2")
    _run("flags", "confirm", "--warehouse", wh, "s", "c3")
    _run("flags", "dismiss", "--warehouse", wh, "s", "d1")
    _run("flags", "dismiss", "--warehouse", wh, "s", "w1")
    status = {"c2": "dismissed", "c3": "confirmed", "d1": "dismissed", "w1": "dismissed"}
    reviewed = [f[:5] + (status.get(f[1], "open"),) for f in flags]
    assert _flags(wh) == reviewed
    assert _export("reconcile", wh) == _rec(10, 18, invalid={o: 6, vl: 2})
    camp = {
        "campaign": "c",
        "impressions": 5,
        "invalid_impressions": 0,
        "clicks": 11,
        "invalid_clicks": {o: 4, vl: 2},
        "billable_clicks": 5,
        "amount": "0.51",
    }
    assert _statement(wh, "a") == {
        "account": "a",
        "period": "2026-10",
        "currency": "EUR",
        "campaigns": [camp],
    }
    assert _run("export", "invoices", "--warehouse", wh, "--period", "2026-10") == billed
    _bill(rules, wh, "2026-10")
    inv = _invoice(wh, "a")
    assert inv["lines"] == [_usage(click, "5", "0.50"), _usage("ad.impression", "5", "0.01")]
    assert inv["total"] == "0.51"
    billed = _run("export", "invoices", "--warehouse", wh, "--period", "2026-10")

    second = [
        _imp("i1", D + "10:00:00Z"),
        _imp("i2", D + "10:06:00Z"),
        _imp("i3", D + "09:56:59.999999Z"),
        _click("c1", D + "10:05:00Z", "i1"),
    ]
    _replay(rules, wh, write_jsonl(tmp_path / "2.jsonl", second))
    assert _flags(wh) == [f for f in reviewed if f[1] not in ("c1", "c2")]
    assert _export("reconcile", wh) == _rec(14, 22, duplicate=1, invalid={o: 5, vl: 2})
    camp.update(impressions=8, invalid_clicks={o: 3, vl: 2}, billable_clicks=6, amount="0.62")
    assert _statement(wh, "a")["campaigns"] == [camp]
    assert _run("export", "invoices", "--warehouse", wh, "--period", "2026-10") == billed
    _bill(rules, wh, "2026-10")
    inv = _invoice(wh, "a")
    assert inv["lines"] == [_usage(click, "6", "0.60"), _usage("ad.impression", "8", "0.02")]
    assert inv["total"] == "0.62"
    assert _statement(wh, "a", "2026-11")["campaigns"] == [
        {
            "campaign": "nov",
            "impressions": 0,
            "invalid_impressions": 0,
            "clicks": 2,
            "invalid_clicks": {o: 2},
            "billable_clicks": 0,
            "amount": "0.00",
        }
    ]


# -- export statement ---------------------------------------------------------------------------


def test_statement_counts_campaign_membership_order_and_single_rounding(tmp_path: Path) -> None:
    """Contract 6, account w (valid from 2026-10-10) and b.

    Zeta: zi1 + zc1 on 10-12 rated; zi0 + zc0 on 10-05 (before valid_from): unbilled
    no_contract (zc0 is attributed to the accepted zi0, so no fraud), counted but not billable:
    impressions 2, clicks 2, billable 1, 0.10 + 0.0025 = 0.1025 -> 0.10.
    alpha: ai1 ai2 rated, 2 x 0.0025 = 0.005 -> 0.01 rounded ONCE (per record 0.00); ac1 orphan,
    ac2 bot: clicks 2, invalid {bot 1, orphan 1}, billable 0.
    Ärger: one click äc1 on alpha's ai1: counted under its own campaign, rated, 0.10.
    eps: only ei1, UA "SpiderBot": impressions 1, invalid 1, 0.00.
    Not listed: beta (only a rejected click), gamma (only a duplicate of (s,zi1)), delta (its
    impression at 2026-10-31T23:30:00-01:00 is November UTC), omega (account b's).
    Order by code point: "Zeta" < "alpha" < "eps" < "Ärger". November: delta only, 0.0025 ->
    0.00. September: no campaigns. Account b: omega."""
    accounts = (
        "accounts:\n- {id: w, plan: p, tax_rate: '0', valid_from: '2026-10-10T00:00:00Z'}\n"
        "- {id: b, plan: p, tax_rate: '0'}\n"
    )
    rules, wh = _setup(tmp_path, accounts)
    d12 = "2026-10-12T"
    ev = [
        _imp("zi1", d12 + "10:00:00Z", "w", campaign="Zeta"),
        _click("zc1", d12 + "10:01:00Z", "zi1", "w", campaign="Zeta"),
        _imp("zi0", D + "10:00:00Z", "w", campaign="Zeta"),
        _click("zc0", D + "10:01:00Z", "zi0", "w", campaign="Zeta"),
        _imp("ai1", d12 + "11:00:00Z", "w", campaign="alpha"),
        _imp("ai2", d12 + "11:00:00Z", "w", campaign="alpha"),
        _click("ac1", d12 + "11:01:00Z", "none", "w", campaign="alpha"),
        _click("ac2", d12 + "11:02:00Z", "ai2", "w", ua="bot", campaign="alpha"),
        _click("äc1", d12 + "11:03:00Z", "ai1", "w", campaign="Ärger"),
        _imp("ei1", d12 + "12:00:00Z", "w", ua="SpiderBot", campaign="eps"),
        event(
            "bc1",
            "ad.click",
            d12 + "13:00:00Z",
            {"impression_id": "ai1", "campaign": "beta", "user_agent": "M"},
            "w",
        ),
        _imp("zi1", d12 + "10:00:00Z", "w", campaign="gamma"),
        _imp("di1", "2026-10-31T23:30:00-01:00", "w", campaign="delta"),
        _imp("oi1", d12 + "10:00:00Z", "b", campaign="omega"),
    ]
    _replay(rules, wh, write_jsonl(tmp_path / "e.jsonl", ev))

    def camp(
        name: str, imp: int, inv_imp: int, clicks: int, inv: dict, bill: int, amt: str
    ) -> dict:
        return {
            "campaign": name,
            "impressions": imp,
            "invalid_impressions": inv_imp,
            "clicks": clicks,
            "invalid_clicks": inv,
            "billable_clicks": bill,
            "amount": amt,
        }

    assert _statement(wh, "w") == {
        "account": "w",
        "period": "2026-10",
        "currency": "EUR",
        "campaigns": [
            camp("Zeta", 2, 0, 2, {}, 1, "0.10"),
            camp("alpha", 2, 0, 2, {"bot_user_agent": 1, "orphan_click": 1}, 0, "0.01"),
            camp("eps", 1, 1, 0, {}, 0, "0.00"),
            camp("Ärger", 0, 0, 1, {}, 1, "0.10"),
        ],
    }
    assert _statement(wh, "w", "2026-11")["campaigns"] == [camp("delta", 1, 0, 0, {}, 0, "0.00")]
    assert _statement(wh, "w", "2026-09")["campaigns"] == []
    assert _statement(wh, "b")["campaigns"] == [camp("omega", 1, 0, 0, {}, 0, "0.00")]


# -- later parts and sub-microsecond times -------------------------------------------------------


def test_a_late_earlier_part_moves_the_session_and_late_duplicate_parts(tmp_path: Path) -> None:
    """Contract 2.2 and 2.3 across replays. First replay: session M has only seq 2 (last) at
    2026-11-01T00:00:30Z to +49, 30 s -> November, 60 s x 2.00 = 2.00; session K seq 1 (last)
    on 10-20, 30 s to +48 -> October 1.00. Second replay: M's seq 1 at 2026-10-31T23:59:50Z to
    +48, 20 s: the earliest part now gives time and destination -> October, 50 s -> 60 at 1.00;
    (t,K1b) repeats K's seq 1 (500 s, earlier time) under another (source, id) -> duplicate;
    (s,M2) again as an sms -> duplicate; (s,K1) again as a quality.probe -> duplicate (every
    record type shares the (source, id) key); a new probe (s,p1) -> quality. 7 records: rated
    3, duplicate 3, quality 1. After re-billing: October voice 120, 2.00; November no lines."""
    rules, wh = _setup(tmp_path)
    first = [
        _part("voice", "M2", "2026-11-01T00:00:30Z", "M", 2, True, 30, dest="+491"),
        _part("voice", "K1", "2026-10-20T10:00:00Z", "K", 1, True, 30),
    ]
    _replay(rules, wh, write_jsonl(tmp_path / "1.jsonl", first))
    for p in ("2026-10", "2026-11"):
        _bill(rules, wh, p)
    assert _invoice(wh, "a")["lines"] == [_usage("telecom.voice", "60", "1.00")]
    assert _invoice(wh, "a", "2026-11")["lines"] == [_usage("telecom.voice", "60", "2.00")]
    second = [
        _part("voice", "M1", "2026-10-31T23:59:50Z", "M", 1, False, 20, dest="+481"),
        _part("voice", "K1b", "2026-10-20T09:00:00Z", "K", 1, True, 500, source="t"),
        _sms("M2"),
        event("K1", "quality.probe", D + "10:00:00Z", {"service": "x", "region": "r", "ok": True}),
        event("p1", "quality.probe", D + "10:00:00Z", {"service": "x", "region": "r", "ok": True}),
    ]
    _replay(rules, wh, write_jsonl(tmp_path / "2.jsonl", second))
    assert _export("reconcile", wh) == _rec(3, 7, duplicate=3, quality=1)
    for p in ("2026-10", "2026-11"):
        _bill(rules, wh, p)
    assert _invoice(wh, "a")["lines"] == [_usage("telecom.voice", "120", "2.00")]
    assert _invoice(wh, "a", "2026-11")["lines"] == []


def test_fraud_truncated_times_offsets_unbilled_earliest_click_and_dismissed_impressions(
    tmp_path: Path,
) -> None:
    """Contract 1.1 (times truncated to the microsecond for the attribution window and the UTC
    minute), 2.4 and 6. Account w starts 2026-10-10.

    wi (10-09 23:59) and wc1 (23:59:30) are unbilled no_contract; wc2 (10-10 00:00:10, within
    w's contract) on the same impression is duplicate_click: the earliest click counts even if
    unbilled, and an invalid record is never unbilled.
    (t,I-x) counts for kx of source s (the impression is matched by id only): rated; kX on
    "i-x" (ids are case-sensitive): orphan. k-tr at 10:10:00.0000009 truncates to exactly 600 s
    after I-tr: rated. I-off at 12:00:00+02:00 = 10:00Z, k-off at 10:10:00Z: 600 s, rated.
    IP 6.6.6.6 at 14:00:00, 14:00:59.9999999 (truncated: minute 14:00), 14:01:00, 14:01:00.5:
    two per minute, all rated. I-b2a, I-b2b (UA "BOT", campaign c2): bot_user_agent.
    20 records: rated 14, orphan 1, duplicate_click 1, bot 2, unbilled no_contract 2.
    Statement a: c: impressions 7, clicks 8, orphan 1, billable 7, 0.70 + 0.0175 = 0.7175 ->
    0.72; c2: 2 impressions, 2 invalid, 0.00; after dismissing both: invalid 0 and
    2 x 0.0025 = 0.005 -> 0.01, reconcile rated 16 with no bot_user_agent key.
    Statement w: c: 1 impression, 2 clicks, duplicate_click 1, billable 0, 0.00."""
    accounts = ACCOUNTS_AB + (
        "- {id: w, plan: p, tax_rate: '0', valid_from: '2026-10-10T00:00:00Z'}\n"
    )
    rules, wh = _setup(tmp_path, accounts)
    ev = [
        _imp("wi", "2026-10-09T23:59:00Z", "w"),
        _click("wc1", "2026-10-09T23:59:30Z", "wi", "w"),
        _click("wc2", "2026-10-10T00:00:10Z", "wi", "w"),
        _imp("I-x", D + "10:00:00Z", source="t"),
        _click("kx", D + "10:01:00Z", "I-x"),
        _click("kX", D + "10:02:00Z", "i-x"),
        _imp("I-tr", D + "10:00:00Z"),
        _click("k-tr", D + "10:10:00.0000009Z", "I-tr"),
        _imp("I-off", "2026-10-05T12:00:00+02:00"),
        _click("k-off", D + "10:10:00Z", "I-off"),
        _imp("I-b2a", D + "10:00:00Z", ua="BOT", campaign="c2"),
        _imp("I-b2b", D + "10:00:00Z", ua="BOT", campaign="c2"),
    ]
    for n, t in enumerate(["14:00:00Z", "14:00:59.9999999Z", "14:01:00Z", "14:01:00.5Z"]):
        ev += [_imp(f"iv{n}", D + "13:59:00Z"), _click(f"v{n}", D + t, f"iv{n}", ip="6.6.6.6")]
    _replay(rules, wh, write_jsonl(tmp_path / "e.jsonl", ev))
    o, bot, dc = "orphan_click", "bot_user_agent", "duplicate_click"
    assert _flags(wh) == [
        ("s", "I-b2a", "ad.impression", "a", bot, "open"),
        ("s", "I-b2b", "ad.impression", "a", bot, "open"),
        ("s", "kX", "ad.click", "a", o, "open"),
        ("s", "wc2", "ad.click", "w", dc, "open"),
    ]
    assert _export("reconcile", wh) == _rec(
        14, 20, invalid={o: 1, dc: 1, bot: 2}, unbilled={"no_contract": 2}
    )
    c = {
        "campaign": "c",
        "impressions": 7,
        "invalid_impressions": 0,
        "clicks": 8,
        "invalid_clicks": {o: 1},
        "billable_clicks": 7,
        "amount": "0.72",
    }
    c2 = {
        "campaign": "c2",
        "impressions": 2,
        "invalid_impressions": 2,
        "clicks": 0,
        "invalid_clicks": {},
        "billable_clicks": 0,
        "amount": "0.00",
    }
    assert _statement(wh, "a")["campaigns"] == [c, c2]
    assert _statement(wh, "w")["campaigns"] == [
        {
            "campaign": "c",
            "impressions": 1,
            "invalid_impressions": 0,
            "clicks": 2,
            "invalid_clicks": {dc: 1},
            "billable_clicks": 0,
            "amount": "0.00",
        }
    ]
    _run("flags", "dismiss", "--warehouse", wh, "s", "I-b2a")
    _run("flags", "dismiss", "--warehouse", wh, "s", "I-b2b")
    assert _statement(wh, "a")["campaigns"] == [c, dict(c2, invalid_impressions=0, amount="0.01")]
    assert _export("reconcile", wh) == _rec(
        16, 20, invalid={o: 1, dc: 1}, unbilled={"no_contract": 2}
    )
