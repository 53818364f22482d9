"""A fourth set of contract edge cases, found by an audit of the contract against the
implementation; each expected value is computed by hand from CONTRACT.md:

- `malformed` (2.1): NaN and infinity tokens in any letter case, anywhere in the object;
- `bad_data` (1): a Parquet double column holding NaN or an infinity;
- CSV (1, 2): a row of white-space cells is not "entirely empty", so it is a record;
- the outcome of every record, always (2): quantities too large for 18 decimals, and amounts too
  large for 128-bit intermediate products, are rated, not a failed run;
- `bot_user_agent` (2.4): "case-insensitively" holds for letters whose lowercase differs
  between Python and DuckDB;
- rating (3.1): an `off_peak_factor` of 0 makes off-peak free;
- `--period YYYY-MM` (6): exactly that spelling, for every command that takes it.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import assert_balanced, main_inprocess, query
from scenario import event, plan_yaml, write_jsonl, write_rules

D = "2026-10-05T"  # a Monday
ACCOUNTS = "accounts:\n- {id: a, plan: p, tax_rate: '0'}\n"


def _run(*args: Any) -> str:
    r = main_inprocess(*map(str, args))
    assert r.returncode == 0, (
        f"pipeline {' '.join(map(str, args))} exited {r.returncode}:\n{r.stderr}"
    )
    return r.stdout


def _replay(rules: Path, wh: Path, *files: Path) -> None:
    _run("replay", "--quiet", "--rules", rules, "--warehouse", wh, *files)


def _outcomes(wh: Path) -> dict[str, tuple[str, str | None]]:
    """Outcome and reason by id; a rejected record (no id) by `line N`."""
    sql = "SELECT coalesce(id, 'line ' || line), outcome, reason FROM record_outcomes"
    return {i: (o, r) for i, o, r in query(wh, sql)}


def _usage_lines(rules: Path, wh: Path) -> dict[str, tuple[str, str]]:
    _run("bill", "--rules", rules, "--warehouse", wh, "--period", "2026-10")
    (inv,) = json.loads(_run("export", "invoices", "--warehouse", wh, "--period", "2026-10"))
    return {
        ln["type"]: (ln["quantity"], ln["amount"]) for ln in inv["lines"] if ln["kind"] == "usage"
    }


def _plan(charges: str) -> str:
    return plan_yaml("p", charges)


def _impression(id_: str, extra: str) -> str:
    """An otherwise valid impression line with `extra` spliced into its data object."""
    return (
        f'{{"specversion":"1.0","id":"{id_}","source":"s","type":"ad.impression",'
        f'"time":"{D}10:00:00Z","subject":"a","data":{{"campaign":"c","ip":"1.1.1.1",'
        f'"user_agent":"ua"{extra}}}}}'
    )


def test_nan_and_infinity_in_any_case_are_not_json(tmp_path: Path) -> None:
    """2.1 `malformed`: "not a JSON object". JSON has no NaN or infinity, in any spelling the
    JSON reader tolerates; the same letters inside a string are just text."""
    rules = write_rules(
        tmp_path, {"p": _plan("    ad.impression: {model: per_unit, price: '1'}\n")}, ACCOUNTS
    )
    extras = {
        "n1": ',"x":nan',
        "n2": ',"x":NAN',
        "n3": ',"x":-inf',
        "n4": ',"x": Infinity',
        "n5": ',"x":[1, -INF]',
        "n6": ',"x":{"y":inF}',
        "ok1": ',"x":"nan, inf: -Infinity"',
        "ok2": ',"x":"financial info"',
    }
    path = tmp_path / "e.jsonl"
    path.write_text("".join(_impression(i, x) + "\n" for i, x in extras.items()), encoding="utf-8")
    wh = tmp_path / "wh"
    _replay(rules, wh, path)
    got = _outcomes(wh)
    assert got == {
        **{f"line {k}": ("rejected", "malformed") for k in range(1, 7)},
        "ok1": ("rated", None),
        "ok2": ("rated", None),
    }


def test_parquet_nan_or_infinite_number_is_bad_data(tmp_path: Path) -> None:
    """1: a Parquet value of the right column type that no number takes (NaN is not >= 0, nor
    a number at all) is `bad_data`, not `malformed` (the row is an object)."""
    rules = write_rules(
        tmp_path, {"p": _plan("    telecom.voice: {model: per_unit, price: '1'}\n")}, ACCOUNTS
    )
    n = 3
    path = tmp_path / "v.parquet"
    pq.write_table(
        pa.table(
            {
                "specversion": ["1.0"] * n,
                "id": ["nan", "inf", "ok"],
                "source": ["s"] * n,
                "type": ["telecom.voice"] * n,
                "time": [f"{D}10:00:00Z"] * n,
                "subject": ["a"] * n,
                "data.subscriber": ["x"] * n,
                "data.destination": ["+48"] * n,
                "data.duration_s": pa.array([float("nan"), float("inf"), 60.5], pa.float64()),
            }
        ),
        path,
    )
    wh = tmp_path / "wh"
    _replay(rules, wh, path)
    assert _outcomes(wh) == {
        "line 1": ("rejected", "bad_data"),
        "line 2": ("rejected", "bad_data"),
        "ok": ("rated", None),
    }


def test_csv_row_of_white_space_is_a_record(tmp_path: Path) -> None:
    """2: every CSV row "that is not entirely empty" is a record. `,,` is entirely empty; a
    row with a space in a cell is not, and with the header's cell count it lacks `specversion`:
    `missing_field`. A lone space is one cell of three: `malformed`."""
    rules = write_rules(
        tmp_path, {"p": _plan("    telecom.sms: {model: per_unit, price: '1'}\n")}, ACCOUNTS
    )
    path = tmp_path / "e.csv"
    path.write_bytes(b"specversion,id,source\n,,\n ,,\n \n,,\xc2\xa0\n")
    wh = tmp_path / "wh"
    _replay(rules, wh, path)
    rows = query(wh, "SELECT line, reason FROM rejected ORDER BY line")
    assert rows == [(3, "missing_field"), (4, "malformed"), (5, "missing_field")]
    rec = json.loads(_run("export", "reconcile", "--warehouse", wh))
    assert_balanced(rec, 3)


def test_huge_quantities_are_rated_exactly_not_a_failed_run(tmp_path: Path) -> None:
    """2: every record ends in one outcome. A voice call of 1e20 s has no room for 18 decimals
    (the rounding-up step must not fail on it); 9e18 bytes at a 12-decimal price per MiB makes
    `2 * q * Kn` larger than 128 bits: the amount is still exact.
    data: 9e18 / 1048576 * 0.123456789012 = 1059638119800.5676269531...
    -> 1059638119800.567627 (6 places, half up) -> line 1059638119800.57."""
    rules = write_rules(
        tmp_path,
        {
            "p": _plan(
                "    telecom.voice: {model: per_unit, price: '1.00'}\n"
                "    telecom.data: {model: per_unit, price: '0.123456789012', per: 1048576}\n"
                "    telecom.sms: {model: per_unit, price: '1.00'}\n"
            )
        },
        ACCOUNTS,
    )
    path = tmp_path / "e.jsonl"
    path.write_text(
        '{"specversion":"1.0","id":"v","source":"s","type":"telecom.voice",'
        f'"time":"{D}10:00:00Z","subject":"a",'
        '"data":{"subscriber":"x","destination":"+48","duration_s":1e20}}\n'
        '{"specversion":"1.0","id":"d","source":"s","type":"telecom.data",'
        f'"time":"{D}10:00:00Z","subject":"a",'
        '"data":{"subscriber":"x","bytes":9000000000000000000}}\n'
        '{"specversion":"1.0","id":"s","source":"s","type":"telecom.sms",'
        f'"time":"{D}10:00:00Z","subject":"a","data":{{"subscriber":"x","destination":"+48"}}}}\n',
        encoding="utf-8",
    )
    wh = tmp_path / "wh"
    _replay(rules, wh, path)
    assert {v[0] for v in _outcomes(wh).values()} == {"rated"}
    exact = Decimal(9 * 10**18) / Decimal(1048576) * Decimal("0.123456789012")
    amount = exact.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
    assert query(wh, "SELECT amount FROM usage_outcomes WHERE id = 'd'") == [(amount,)]
    assert _usage_lines(rules, wh) == {
        "telecom.voice": ("100000000000000000000", "100000000000000000000.00"),
        "telecom.data": ("9000000000000000000", "1059638119800.57"),
        "telecom.sms": ("1", "1.00"),
    }


def test_exact_amount_refuses_an_amount_the_warehouse_cannot_hold() -> None:
    from pipeline.rate import AmountOverflow, exact_amount

    # q in 10^-9 units, the amount in 10^-6, half up: 3 units at 1/2 = 1.5; 1.001e-6 units at
    # 1/2 = 0.5005e-6 -> 1e-6; 0.999e-6 units -> 0
    assert exact_amount(3 * 10**9, 1, 2) == 1_500_000
    assert (exact_amount(1001, 1, 2), exact_amount(999, 1, 2)) == (1, 0)
    assert exact_amount(10**30, 10**10, 3) == (2 * 10**40 + 3000) // 6000  # 2qKn > 2^127
    with pytest.raises(AmountOverflow, match="exceeds what the warehouse holds"):
        exact_amount(10**45, 10**10, 1)


def test_bot_strings_match_whatever_their_letters(tmp_path: Path) -> None:
    """2.4 rule 1: `user_agent` contains, case-insensitively, a listed string. A user agent
    equal to the listed string always contains it, even for letters (`İ`, a final `Σ`) whose
    lowercase differs between libraries; and letters are compared by their case folding:
    `ΛΌΓΟΣ` is `λόγος` in capitals (a final ς and σ are one letter), `STRASSE` is `straße`."""
    fraud = (
        "bot_user_agents: ['İbot', 'ΟΣ', 'λόγος', 'straße']\n"
        "attribution_window_s: 600\nmax_clicks_per_ip_per_minute: 5\n"
    )
    rules = write_rules(
        tmp_path,
        {
            "p": _plan(
                "    ad.impression: {model: per_unit, price: '1'}\n"
                "    ad.click: {model: per_unit, price: '1'}\n"
            )
        },
        ACCOUNTS,
        fraud=fraud,
    )
    imp = {"campaign": "c", "ip": "1.1.1.1"}
    events = [
        event("i1", "ad.impression", f"{D}10:00:00Z", {**imp, "user_agent": "İbot"}, "a"),
        event("i2", "ad.impression", f"{D}10:00:00Z", {**imp, "user_agent": "ΟΣ"}, "a"),
        event("i3", "ad.impression", f"{D}10:00:00Z", {**imp, "user_agent": "Mozilla/5.0"}, "a"),
        event("i4", "ad.impression", f"{D}10:00:00Z", {**imp, "user_agent": "ΛΌΓΟΣ/1"}, "a"),
        event("i5", "ad.impression", f"{D}10:00:00Z", {**imp, "user_agent": "STRASSE-x"}, "a"),
        event(
            "c1",
            "ad.click",
            f"{D}10:00:05Z",
            {**imp, "user_agent": "Mozilla İBOT/1.0", "impression_id": "i3"},
            "a",
        ),
    ]
    wh = tmp_path / "wh"
    _replay(rules, wh, write_jsonl(tmp_path / "e.jsonl", events))
    assert _outcomes(wh) == {
        "i1": ("invalid", "bot_user_agent"),
        "i2": ("invalid", "bot_user_agent"),
        "i3": ("rated", None),
        "i4": ("invalid", "bot_user_agent"),
        "i5": ("invalid", "bot_user_agent"),
        "c1": ("invalid", "bot_user_agent"),
    }


def test_off_peak_factor_zero_makes_off_peak_free(tmp_path: Path) -> None:
    """3.1: amount = q / per * price * factor, the factor applying outside `peak`. A factor of
    0 is a price of 0 off peak, not a missing factor. Two 60 s calls on a Monday, at 12:00
    (peak: 1.00) and at 20:00 (off peak: 0.00); an SMS with a destination price on Saturday
    (off peak: 0.00)."""
    peak = "peak: {days: [mon, tue, wed, thu, fri], from: '08:00', to: '18:00'}"
    rules = write_rules(
        tmp_path,
        {
            "p": _plan(
                f"    telecom.voice: {{model: per_unit, per: 60, price: '1.00', {peak},"
                " off_peak_factor: '0'}\n"
                "    telecom.sms: {model: per_unit,"
                f" destinations: [{{prefix: '+', price: '0.50'}}], {peak},"
                " off_peak_factor: '0.0'}\n"
            )
        },
        ACCOUNTS,
    )
    call = {"subscriber": "x", "destination": "+48", "duration_s": 60}
    events = [
        event("v1", "telecom.voice", f"{D}12:00:00Z", call, "a"),
        event("v2", "telecom.voice", f"{D}20:00:00Z", call, "a"),
        event(
            "s1",
            "telecom.sms",
            "2026-10-10T12:00:00Z",
            {"subscriber": "x", "destination": "+48"},
            "a",
        ),
    ]
    wh = tmp_path / "wh"
    _replay(rules, wh, write_jsonl(tmp_path / "e.jsonl", events))
    amounts = dict(query(wh, "SELECT id, amount FROM usage_outcomes"))
    assert amounts == {"v1": Decimal("1.000000"), "v2": Decimal("0E-6"), "s1": Decimal("0E-6")}
    assert _usage_lines(rules, wh) == {
        "telecom.voice": ("120", "1.00"),
        "telecom.sms": ("1", "0.00"),
    }


@pytest.mark.parametrize("period", ["2026-1", "2026-13", "26-10", "2026-10x", "2026-00"])
def test_period_is_spelled_exactly_yyyy_mm(tmp_path: Path, period: str) -> None:
    """6: `--period YYYY-MM`. `2026-1` would otherwise bill January under a second key (and
    number its invoices INV-20261-...); a misspelt period for `export flags` would print an
    empty list as if there were no flags."""
    for args in _period_commands(tmp_path, period):
        r = main_inprocess(*map(str, args))
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert f"period `{period}` is not YYYY-MM" in r.stderr


def _period_commands(tmp_path: Path, period: str) -> list[tuple[object, ...]]:
    """`bill` and the period exports of `period`, on a warehouse with no records."""
    rules = write_rules(
        tmp_path, {"p": _plan("    telecom.sms: {model: per_unit, price: '1'}\n")}, ACCOUNTS
    )
    wh = tmp_path / "wh"
    _replay(rules, wh, write_jsonl(tmp_path / "e.jsonl", []))
    return [
        ("bill", "--rules", rules, "--warehouse", wh, "--period", period),
        ("export", "invoices", "--warehouse", wh, "--period", period),
        ("export", "statement", "--warehouse", wh, "--period", period, "--account", "a"),
        ("export", "flags", "--warehouse", wh, "--period", period),
    ]


@pytest.mark.parametrize("period", ["9999-12", "0000-12"])
def test_a_month_past_the_dates_python_holds_is_a_clear_error_not_a_crash(
    tmp_path: Path, period: str
) -> None:
    """9999-12 ends at 10000-01-01 and 0000-12 starts before 0001-01-01, past the dates Python
    holds: one line naming the range and exit 1, not a traceback (nor "is not YYYY-MM", which
    they are); the months just inside bill."""
    for args in _period_commands(tmp_path, period):
        r = main_inprocess(*map(str, args))
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr
        assert (
            f"period `{period}` cannot be billed or exported: this pipeline handles periods"
            " 0001-01 to 9999-11" in r.stderr
        )
    for inside in ("9999-11", "0001-01"):
        r = main_inprocess(*map(str, _period_commands(tmp_path / inside, inside)[0]))
        assert r.returncode == 0, r.stderr
        assert f"billed {inside}: 1 invoice(s)" in r.stderr, r.stderr


def test_bill_all_names_the_periods_it_cannot_bill_and_bills_the_rest(tmp_path: Path) -> None:
    """A valid RFC 3339 time can fall outside the periods the pipeline bills once in UTC
    (0001-01-01T00:00:00+23:59 is in 0000-12): `bill --period all` used to fail on it, now and
    at every later bill. It bills the other periods and names the ones it skipped."""
    rules = write_rules(
        tmp_path, {"p": _plan("    telecom.sms: {model: per_unit, price: '1'}\n")}, ACCOUNTS
    )
    sms = {"subscriber": "x", "destination": "+48"}
    events = [
        event("early", "telecom.sms", "0001-01-01T00:00:00+23:59", sms, "a"),
        event("late", "telecom.sms", "9999-12-31T23:59:59-01:00", sms, "a"),
        event("now", "telecom.sms", "2026-10-05T10:00:00Z", sms, "a"),
    ]
    wh = tmp_path / "wh"
    _replay(rules, wh, write_jsonl(tmp_path / "e.jsonl", events))
    r = main_inprocess("bill", "--rules", str(rules), "--warehouse", str(wh), "--period", "all")
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == (
        "billed 2026-10: 1 invoice(s); skipped 0000-12, 10000-01: outside the periods this"
        " pipeline bills (0001-01 to 9999-11)"
    )


def test_quantities_keep_the_digits_as_written(tmp_path: Path) -> None:
    """3.1 "Money is decimal ... never binary floating point": a duration is read from its
    digits, not through a double (which reads 99999999.999999999 as 100000000), then rounded
    up at the 9th decimal (README, "Number precision"). Per second at 1.00, no increment; the
    CSV file's cells the same. Sum of the JSON calls:
    99999999.999999999 + 12345678.123456789 + 60.000000001 (60.000000000000001 rounded up)
    + 9007199254740993 = 9007199367086732.123456789; the line amount is that, half up."""
    rules = write_rules(
        tmp_path, {"p": _plan("    telecom.voice: {model: per_unit, price: '1.00'}\n")}, ACCOUNTS
    )
    durations = [
        "99999999.999999999",
        "12345678.123456789",
        "60.000000000000001",
        "9007199254740993.0",
    ]
    path = tmp_path / "e.jsonl"
    path.write_text(
        "".join(
            f'{{"specversion":"1.0","id":"v{i}","source":"s","type":"telecom.voice",'
            f'"time":"{D}10:00:00Z","subject":"a",'
            f'"data":{{"subscriber":"x","destination":"+48","duration_s":{d}}}}}\n'
            for i, d in enumerate(durations)
        ),
        encoding="utf-8",
    )
    header = (
        "specversion,id,source,type,time,subject,data.subscriber,data.destination,data.duration_s"
    )
    csv_path = tmp_path / "e.csv"
    csv_path.write_text(
        header + "\n" + f"1.0,c0,s,telecom.voice,{D}11:00:00Z,a,x,+48,0.30000000000000001\n",
        encoding="utf-8",
    )
    wh = tmp_path / "wh"
    _replay(rules, wh, path, csv_path)
    got = dict(query(wh, "SELECT id, quantity FROM usage_outcomes"))
    assert got == {
        "v0": Decimal("99999999.999999999"),
        "v1": Decimal("12345678.123456789"),
        "v2": Decimal("60.000000001"),
        "v3": Decimal("9007199254740993"),
        "c0": Decimal("0.300000001"),
    }
    total = sum(got.values())
    assert _usage_lines(rules, wh) == {
        "telecom.voice": (
            str(total.normalize()),
            str(total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)),
        )
    }


def test_money_beyond_28_digits_is_summed_and_printed_exactly(tmp_path: Path) -> None:
    """5: subtotal = sum of lines, total = subtotal + tax, amounts strings with 2 decimals, at
    any size the warehouse holds (Python's default 28-digit decimals would round the subtotal
    and fail to print it). data: (9000000000000000001 + 1) bytes at 100000000 per byte =
    900000000000000000200000000.00; sms 0.01; fee 0.01; tax 23% of
    900000000000000000200000000.02 = 207000000000000000046000000.0046 -> .00."""
    plan = (
        "plan: p\ncurrency: EUR\ntimezone: UTC\nversions:\n"
        "- effective_from: '2026-01-01T00:00:00Z'\n  monthly_fee: '0.01'\n  charges:\n"
        "    telecom.data: {model: per_unit, price: '100000000'}\n"
        "    telecom.sms: {model: per_unit, price: '0.01'}\n"
    )
    rules = write_rules(tmp_path, {"p": plan}, "accounts:\n- {id: a, plan: p, tax_rate: '23'}\n")
    events = [
        event(
            "d1",
            "telecom.data",
            f"{D}10:00:00Z",
            {"subscriber": "x", "bytes": 9000000000000000001},
            "a",
        ),
        event("d2", "telecom.data", f"{D}11:00:00Z", {"subscriber": "x", "bytes": 1}, "a"),
        event("s1", "telecom.sms", f"{D}12:00:00Z", {"subscriber": "x", "destination": "+48"}, "a"),
    ]
    wh = tmp_path / "wh"
    _replay(rules, wh, write_jsonl(tmp_path / "e.jsonl", events))
    assert _usage_lines(rules, wh) == {
        "telecom.data": ("9000000000000000002", "900000000000000000200000000.00"),
        "telecom.sms": ("1", "0.01"),
    }
    (inv,) = json.loads(_run("export", "invoices", "--warehouse", wh, "--period", "2026-10"))
    assert (inv["subtotal"], inv["tax"], inv["total"]) == (
        "900000000000000000200000000.02",
        "207000000000000000046000000.00",
        "1107000000000000000246000000.02",
    )


@pytest.mark.parametrize(
    ("file", "text", "entry"),
    [
        (
            "slas.yaml",
            "slas:\n  gold:\n    service: api\n    applies_to: [telecom.sms]\n"
            "    probe_failures_to_open: 3000000000\n"
            "    credits: [{below: '99.9', percent: '10'}]\n",
            "probe_failures_to_open",
        ),
        (
            "fraud.yaml",
            "bot_user_agents: [bot]\nattribution_window_s: 10000000000000000\n"
            "max_clicks_per_ip_per_minute: 5\n",
            "attribution_window_s",
        ),
        (
            "plans/p.yaml",
            plan_yaml(
                "p", "    telecom.sms: {model: per_unit, price: '1000000000000000000000000'}\n"
            ),
            "price",
        ),
    ],
)
def test_rule_values_beyond_the_warehouse_types_are_rule_errors(
    tmp_path: Path, file: str, text: str, entry: str
) -> None:
    """3: a rule file that does not validate stops the run with an error naming the file, the
    entry and the problem (not a failure inside the database, exit 3, naming neither)."""
    rules = write_rules(
        tmp_path, {"p": _plan("    telecom.sms: {model: per_unit, price: '1'}\n")}, ACCOUNTS
    )
    (rules / file).write_text(text, encoding="utf-8")
    r = main_inprocess(
        "replay",
        "--quiet",
        "--rules",
        str(rules),
        "--warehouse",
        str(tmp_path / "wh"),
        str(write_jsonl(tmp_path / "e.jsonl", [])),
    )
    assert r.returncode == 1, r.stderr
    assert Path(file).name in r.stderr and entry in r.stderr, r.stderr


def test_a_review_applies_again_when_its_reason_comes_back(tmp_path: Path) -> None:
    """2.4 / 6: a dismissal applies to the flag with the reason it was reviewed under. Click x
    comes 20 minutes after its impression: with a 600 s window it is an orphan (dismissed);
    with a 3600 s window and at most 1 click per IP and minute, x and y (same IP, same minute)
    are ip_velocity (confirmed); back to the first rules, x is an orphan again: dismissed, so
    rated."""
    fraud_a = "bot_user_agents: [bot]\nattribution_window_s: 600\nmax_clicks_per_ip_per_minute: 3\n"
    fraud_b = (
        "bot_user_agents: [bot]\nattribution_window_s: 3600\nmax_clicks_per_ip_per_minute: 1\n"
    )
    charges = (
        "    ad.impression: {model: per_unit, price: '1'}\n"
        "    ad.click: {model: per_unit, price: '1'}\n"
    )
    rules = write_rules(tmp_path, {"p": _plan(charges)}, ACCOUNTS, fraud=fraud_a)
    ad = {"campaign": "c", "ip": "9.9.9.9", "user_agent": "Mozilla/5.0"}
    events = [
        event("i1", "ad.impression", f"{D}09:40:00Z", ad, "a"),
        event("x", "ad.click", f"{D}10:00:00Z", {**ad, "impression_id": "i1"}, "a", source="ct"),
        event("i2", "ad.impression", f"{D}09:59:00Z", ad, "a"),
        event("y", "ad.click", f"{D}10:00:10Z", {**ad, "impression_id": "i2"}, "a", source="ct"),
    ]
    wh = tmp_path / "wh"
    _replay(rules, wh, write_jsonl(tmp_path / "e1.jsonl", events))
    flags = json.loads(_run("export", "flags", "--warehouse", wh))
    assert [(f["id"], f["reason"], f["status"]) for f in flags] == [("x", "orphan_click", "open")]
    _run("flags", "dismiss", "--warehouse", wh, "ct", "x")
    (rules / "fraud.yaml").write_text(fraud_b, encoding="utf-8")
    _replay(rules, wh, write_jsonl(tmp_path / "e2.jsonl", []))
    _run("flags", "confirm", "--warehouse", wh, "ct", "x")
    (rules / "fraud.yaml").write_text(fraud_a, encoding="utf-8")
    _replay(rules, wh, write_jsonl(tmp_path / "e3.jsonl", []))
    flags = json.loads(_run("export", "flags", "--warehouse", wh))
    assert [(f["id"], f["reason"], f["status"]) for f in flags] == [
        ("x", "orphan_click", "dismissed")
    ]
    assert _outcomes(wh)["x"] == ("rated", None)


def test_an_event_id_starting_with_a_dash_can_be_reviewed(tmp_path: Path) -> None:
    """6: `flags dismiss EVENT_SOURCE EVENT_ID`; an id is any non-empty string, `-5` too."""
    charges = "    ad.click: {model: per_unit, price: '1'}\n"
    rules = write_rules(tmp_path, {"p": _plan(charges)}, ACCOUNTS)
    ad = {"campaign": "c", "ip": "9.9.9.9", "user_agent": "u", "impression_id": "none"}
    wh = tmp_path / "wh"
    _replay(
        rules,
        wh,
        write_jsonl(
            tmp_path / "e.jsonl", [event("-5", "ad.click", f"{D}10:00:00Z", ad, "a", "-s")]
        ),
    )
    _run("flags", "dismiss", "--warehouse", wh, "-s", "-5")
    flags = json.loads(_run("export", "flags", "--warehouse", wh))
    assert [(f["source"], f["id"], f["status"]) for f in flags] == [("-s", "-5", "dismissed")]


def test_the_amount_is_the_same_on_each_side_of_the_64_and_128_bit_paths() -> None:
    """Rating computes `(2 q Kn + 1000 Kd) // (2000 Kd)` in 64-bit integers where the product
    fits, in 128 bits where that fits, else in Python (rate.amount). Around each limit the SQL
    gives the exact value of the formula, also where Kn or Kd is beyond 64 bits (a price of
    10^20 less 10^-12: a quantity of 0 must not take the 64-bit path, which would cast Kn)."""
    import duckdb

    from pipeline.rate import BIGINT_MAX, HUGEINT_MAX, amount, register_functions, with_qmax

    points = [(1, 20), (7, 3), (123456789012, 1048576000000), (10**10, 3), (3, 4611686018427387)]
    points += [(10**32 - 1, 10**12), (3, 10**17), (1, BIGINT_MAX // 2000 + 1)]
    cases = []
    for kn, kd in points:
        for limit in (BIGINT_MAX, HUGEINT_MAX):
            edge = (limit - 1000 * kd) // (2 * kn)
            cases += [(q, kn, kd) for q in (edge - 1, edge, edge + 1) if q >= 0]
        cases += [(0, kn, kd), (10**9, kn, kd)]
    con = duckdb.connect()
    register_functions(con)
    con.execute(
        "CREATE TABLE p AS SELECT * FROM (VALUES "
        + ", ".join(
            f"({i}, {q}::HUGEINT, {kn}::HUGEINT, {kd}::HUGEINT, {kn}::HUGEINT, {kd}::HUGEINT)"
            for i, (q, kn, kd) in enumerate(cases)
        )
        + ") v(i, qr, kn_peak, kd_peak, kn_off, kd_off)"
    )
    got = con.execute(
        f"SELECT {amount('kn_peak', 'kd_peak', 'qmax_peak', 'q64_peak')}"
        f" FROM ({with_qmax('p')}) ORDER BY i"
    ).fetchall()
    assert [g for (g,) in got] == [(2 * q * kn + 1000 * kd) // (2000 * kd) for q, kn, kd in cases]
