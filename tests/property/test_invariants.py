"""Invariants that hold for every input (STYLE.md habit 6), checked with hypothesis over small
generated input sets (event_strategies.py). Commands run in-process (tests/helpers.py) so an
example costs a DuckDB transaction, not an interpreter start-up.
"""

from __future__ import annotations

import json
import random
import tempfile
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import yaml
from event_strategies import (
    RULES,
    input_files,
    render_csv,
    render_jsonl,
    render_parquet,
    valid_events,
    without_lists,
    write_files,
)
from helpers import (
    after_second_replay,
    all_exports,
    assert_balanced,
    bill,
    bill_all,
    diff_exports,
    file_records,
    flags,
    query,
    reconcile,
    replay,
    review,
    total,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOWER = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _assert_amounts_not_negative(wh: Path) -> None:
    rows = query(wh, "SELECT count(*) FROM usage_outcomes WHERE amount < 0 OR rounded_quantity < 0")
    assert rows[0][0] == 0, "a rated record has a negative amount or quantity"


# a. ----------------------------------------------------------------------------------------


@FAST
@given(input_files())
def test_reconcile_balances_and_counts_every_input_line(files):
    """Contract 2: every non-blank line / non-empty row is one record with one outcome, and
    `input` equals the sum of the others."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_files(Path(tmp) / "in", files)
        wh = Path(tmp) / "wh"
        replay(RULES, wh, paths)
        before = reconcile(wh)
        assert_balanced(before, expected_input=sum(file_records(p) for p in paths))
        _assert_amounts_not_negative(wh)

        # Contract 2.4: a dismissed flag gives its record the outcome it would have without
        # the flag (rated or unbilled), at once in reconcile and flags; nothing else changes.
        listed = flags(wh)
        assert sum(before["invalid"].values()) == len(listed)
        review(wh, "dismissed", listed)
        after = reconcile(wh)
        assert_balanced(after, expected_input=before["input"])
        assert after["invalid"] == {}
        assert after["rated"] + total(after["unbilled"]) == (
            before["rated"] + total(before["unbilled"]) + total(before["invalid"])
        )
        for k in ("rejected", "duplicate", "quality"):
            assert after[k] == before[k], k
        assert flags(wh) == [dict(f, status="dismissed") for f in listed]


# b. ----------------------------------------------------------------------------------------


@SLOWER
@given(input_files())
def test_replaying_the_same_files_again_adds_only_duplicates(files):
    """Contract 2.2: "replaying a file twice adds only duplicates"; rejected records are rejected
    again (they never take part in duplicate detection). Same check as contract/check.py."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_files(Path(tmp) / "in", files)
        wh = Path(tmp) / "wh"
        replay(RULES, wh, paths)
        rec0 = reconcile(wh)
        replay(RULES, wh, paths)
        assert reconcile(wh) == after_second_replay(rec0)


# c. ----------------------------------------------------------------------------------------


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(input_files().filter(lambda fs: len(fs) > 1))
def test_one_replay_equals_one_replay_per_file(files):
    """Contract 2.2 / worked example: the order that counts is files in the order given, lines
    in file order; one `replay` of all files and one per file give the same exports."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_files(Path(tmp) / "in", files)
        whole, split = Path(tmp) / "whole", Path(tmp) / "split"
        replay(RULES, whole, paths)
        for p in paths:
            replay(RULES, split, [p])
        periods = bill_all(RULES, whole)
        for p in periods:
            bill(RULES, split, p)
        a, b = all_exports(whole, periods), all_exports(split, periods)
        assert diff_exports(b, a) == [], {k: (a.get(k), b.get(k)) for k in diff_exports(b, a)}
        _assert_amounts_not_negative(whole)
        for p in periods:
            _check_invoice_arithmetic(p, json.loads(a[f"invoices {p}"]))
        # Contract 5: "Billing a period again gives the same invoices, numbers included".
        if periods:
            bill(RULES, whole, periods[-1])
            assert all_exports(whole, periods) == a


TAX_RATES = {
    a["id"]: Decimal(str(a["tax_rate"]))
    for a in yaml.safe_load((RULES / "accounts.yaml").read_text())["accounts"]
}
CENT = Decimal("0.01")
KIND_ORDER = {"fee": 0, "usage": 1, "minimum": 2, "credit": 3}


def _check_invoice_arithmetic(period: str, invoices: list[dict]) -> None:
    """Contract 5 and 6: accounts ascending, numbers INV-YYYYMM-NNNNN from 00001 in that order,
    lines fee / usage (types ascending) / minimum / credit, subtotal = sum of lines, tax =
    subtotal x rate / 100 half up, total = subtotal + tax; nothing negative but the credit."""
    assert [i["account"] for i in invoices] == sorted(i["account"] for i in invoices)
    for n, inv in enumerate(invoices, 1):
        assert inv["invoice_number"] == f"INV-{period.replace('-', '')}-{n:05d}", inv
        assert list(inv) == [
            "invoice_number",
            "account",
            "period",
            "currency",
            "lines",
            "subtotal",
            "tax",
            "total",
        ], inv
        kinds = [line["kind"] for line in inv["lines"]]
        assert kinds == sorted(kinds, key=KIND_ORDER.__getitem__), inv
        types = [line["type"] for line in inv["lines"] if line["kind"] == "usage"]
        assert types == sorted(set(types)), inv
        amounts = [Decimal(line["amount"]) for line in inv["lines"]]
        for line, amount in zip(inv["lines"], amounts, strict=True):
            assert (amount < 0) == (line["kind"] == "credit") or amount == 0, inv
            assert amount == amount.quantize(CENT), inv
        subtotal = Decimal(inv["subtotal"])
        assert subtotal == sum(amounts, Decimal(0)), inv
        rate = TAX_RATES[inv["account"]]
        assert Decimal(inv["tax"]) == (subtotal * rate / 100).quantize(CENT, ROUND_HALF_UP), inv
        assert Decimal(inv["total"]) == subtotal + Decimal(inv["tax"]) >= 0, inv


# d. ----------------------------------------------------------------------------------------

BAD_BYTES = [
    b"\x00",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\r",
    b"\r\n",
    b"\n",
    b'"',
    b",",
    b"{",
    b"}",
    b"\x1b",
    b"\xef\xbb\xbf",
    b"\\",
    b"\\u0000",
    b" ",
]


@st.composite
def mutated_files(draw):
    files = draw(input_files(max_lines=8))
    out = []
    for name, body in files:
        data = bytearray(body)
        for _ in range(draw(st.integers(1, 6))):
            pos = draw(st.integers(0, len(data)))
            op = draw(st.sampled_from(["insert", "replace", "delete", "huge", "random"]))
            if op == "insert":
                data[pos:pos] = draw(st.sampled_from(BAD_BYTES))
            elif op == "replace" and pos < len(data):
                data[pos] = draw(st.integers(0, 255))
            elif op == "delete":
                del data[pos : pos + draw(st.integers(1, 40))]
            elif op == "huge":
                fill = draw(st.sampled_from([b"a", b"\x00", b"\xff", b'{"x":"', b"[", b","]))
                data[pos:pos] = fill * (300_000 // len(fill))
            else:
                data[pos:pos] = draw(st.binary(min_size=1, max_size=30))
        out.append((name, bytes(data)))
    return out


def _csv_refused(files) -> bool:
    """A CSV file whose header line holds a lone CR is refused whole, by design: its lines would
    read as one header and every record would be lost (tests/test_fuzz.py::
    test_csv_header_that_is_not_utf8_or_empty_rejects_the_rows checks the refusal). Any other
    header, even one that is not UTF-8 or empty, gives records like the rest."""
    for name, body in files:
        if name.endswith(".csv") and b"\r" in body.split(b"\n", 1)[0].rstrip(b"\r"):
            return True
    return False


@FAST
@given(mutated_files())
def test_bad_bytes_anywhere_never_crash_a_run(files):
    """Contract 2: every record ends in exactly one outcome, rejected ones "kept verbatim with a
    reason code; never silently dropped" - whatever bytes a file holds."""
    assume(not _csv_refused(files))
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_files(Path(tmp) / "in", files)
        wh = Path(tmp) / "wh"
        replay(RULES, wh, paths)
        assert_balanced(reconcile(wh), expected_input=sum(file_records(p) for p in paths))
        stored = query(wh, "SELECT count(*) FROM rejected_records WHERE raw IS NULL")
        assert stored[0][0] == 0, "a rejected record was not kept verbatim"


# e. ----------------------------------------------------------------------------------------

# (subject, plan): initech has telco-basic (per 60, increment 60, minimum 60, destinations,
# peak); umbrella has telco-volume (increment 1, then increment 6 and minimum 30 from 10-20).
VOICE_ACCOUNTS = ["initech", "umbrella"]
DURATIONS = st.one_of(
    st.integers(0, 200),
    st.integers(0, 10**6),
    st.decimals(0, 10_000, places=3, allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 1, 29, 30, 31, 59, 60, 61, 119, 120, 121, 10**9]),
)


@SLOWER
@given(
    subject=st.sampled_from(VOICE_ACCOUNTS),
    event=valid_events().filter(lambda e: e["type"] == "telecom.voice"),
    durations=st.lists(DURATIONS, min_size=2, max_size=25),
)
def test_cost_never_falls_as_a_voice_call_grows(subject, event, durations):
    """Contract 3.1 per_unit: q rounded up to `increment`, raised to `minimum`, times a fixed
    price: for one plan, destination and time, a longer call never costs less, and never < 0."""
    time, destination = event["time"], event["data"]["destination"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "voice.jsonl"
        random.Random(len(durations)).shuffle(durations)
        lines = [
            json.dumps(
                {
                    "specversion": "1.0",
                    "id": f"v{i}",
                    "source": "msc",
                    "type": "telecom.voice",
                    "time": time,
                    "subject": subject,
                    "data": {
                        "subscriber": "s",
                        "destination": destination,
                        "duration_s": "DURATION",
                    },
                }
            ).replace('"DURATION"', str(d))
            for i, d in enumerate(durations)  # the number written as drawn (exact decimals)
        ]
        path.write_text("\n".join(lines) + "\n")
        wh = Path(tmp) / "wh"
        replay(RULES, wh, [path])
        rec = reconcile(wh)
        assert_balanced(rec, expected_input=len(durations))
        rows = query(
            wh,
            "SELECT quantity, rounded_quantity, amount FROM rated_records"
            " WHERE type = 'telecom.voice' ORDER BY quantity, amount",
        )
        # Either every call is rated or none is (one plan, time and destination for all).
        assert len(rows) in (0, len(durations)), rec
        for q, rq, amount in rows:
            assert amount >= 0 and rq >= q, (q, rq, amount)
        for (q1, rq1, a1), (q2, rq2, a2) in zip(rows, rows[1:], strict=False):
            assert rq1 <= rq2 and a1 <= a2, f"duration {q1} -> {a1} but longer {q2} -> {a2}"


# f. ----------------------------------------------------------------------------------------


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(valid_events().map(without_lists), min_size=1, max_size=14))
def test_the_input_format_does_not_change_any_export(events):
    """Contract 1: "CSV and Parquet inputs carry the same fields as flat columns" - the same
    valid events as JSON Lines, CSV or Parquet give the same exports, byte for byte."""
    bodies = {
        "jsonl": render_jsonl(events),
        "csv": render_csv(events),
        "parquet": render_parquet(events),
    }
    with tempfile.TemporaryDirectory() as tmp:
        got = {}
        for fmt, body in bodies.items():
            (path,) = write_files(Path(tmp) / fmt, [(f"events.{fmt}", body)])
            wh = Path(tmp) / f"wh-{fmt}"
            replay(RULES, wh, [path])
            got[fmt] = all_exports(wh, bill_all(RULES, wh))
        for fmt in ("csv", "parquet"):
            diff = diff_exports(got[fmt], got["jsonl"])
            assert diff == [], {k: (got["jsonl"].get(k), got[fmt].get(k)) for k in diff[:2]}
