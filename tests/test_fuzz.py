"""Fuzz the readers (JSON Lines, CSV, Parquet): whatever the bytes, a replay ends with every
record counted - `rejected` with the contract's reason where it fixes one - or, for a file that
cannot be read at all (an unreadable Parquet file), one clear line on stderr and a non-zero exit.
Never a traceback, and reconcile always balances.

Cases are batched: many fuzz files go into one replay (a DuckDB transaction costs more than a
small file), and each file's records are checked on their own through `record_outcomes`. When
a batch crashes, its files are replayed one by one to name the culprits.

The number of fuzz cases that ran is printed at the end of the module (and counted per test).
"""

from __future__ import annotations

import json
import random
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import (
    assert_balanced,
    file_records,
    main_inprocess,
    query,
    reconcile,
)

RULES = Path(__file__).resolve().parent / "property" / "rules"
T = "2026-10-07T09:00:00Z"
pytestmark = pytest.mark.slow

CASES: Counter[str] = Counter()  # fuzz cases run, per test


@pytest.fixture(scope="module", autouse=True)
def _report_case_count(request):
    yield
    n = sum(CASES.values())
    detail = ", ".join(f"{k} {v}" for k, v in sorted(CASES.items()))
    line = f"fuzz cases run: {n} ({detail})"
    # Shown even with output capture on (the lead quotes this number).
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is not None:
        with capture.global_and_fixture_disabled():
            print("\n" + line)
    else:
        print(line)


def template_events() -> list[dict]:
    """One valid event of each of the 7 types (all rated or quality under tests/property/rules)."""
    ad = {"campaign": "autumn", "ip": "10.0.0.1", "user_agent": "Mozilla/5.0"}
    return [
        {
            "specversion": "1.0",
            "id": "i-1",
            "source": "ads",
            "type": "ad.impression",
            "time": T,
            "subject": "acme",
            "data": ad,
        },
        {
            "specversion": "1.0",
            "id": "c-1",
            "source": "ads",
            "type": "ad.click",
            "time": T,
            "subject": "acme",
            "data": {"impression_id": "i-1", **ad},
        },
        {
            "specversion": "1.0",
            "id": "v-1",
            "source": "msc",
            "type": "telecom.voice",
            "time": T,
            "subject": "initech",
            "data": {
                "subscriber": "s",
                "destination": "+48221234567",
                "duration_s": 61.5,
                "session": {"id": "S1", "seq": 1, "last": True},
            },
        },
        {
            "specversion": "1.0",
            "id": "s-1",
            "source": "msc",
            "type": "telecom.sms",
            "time": T,
            "subject": "initech",
            "data": {"subscriber": "s", "destination": "+48221234567"},
        },
        {
            "specversion": "1.0",
            "id": "d-1",
            "source": "gw",
            "type": "telecom.data",
            "time": T,
            "subject": "umbrella",
            "data": {"subscriber": "s", "bytes": 123456},
        },
        {
            "specversion": "1.0",
            "id": "n-1",
            "source": "noc",
            "type": "quality.incident",
            "time": T,
            "data": {
                "incident_id": "INC-1",
                "service": "portal",
                "state": "open",
                "planned": False,
                "accounts": ["acme"],
            },
        },
        {
            "specversion": "1.0",
            "id": "p-1",
            "source": "noc",
            "type": "quality.probe",
            "time": T,
            "data": {"service": "portal", "region": "eu", "ok": True, "latency_ms": 12.5},
        },
    ]


def jsonl_lines() -> list[bytes]:
    return [json.dumps(e).encode() for e in template_events()]


CSV_COLUMNS = [
    "specversion",
    "id",
    "source",
    "type",
    "time",
    "subject",
    "data.campaign",
    "data.ip",
    "data.user_agent",
    "data.impression_id",
    "data.subscriber",
    "data.destination",
    "data.duration_s",
    "data.bytes",
    "data.service",
    "data.region",
    "data.ok",
]


def csv_header() -> bytes:
    return ",".join(CSV_COLUMNS).encode()


def csv_row(**cells: str) -> bytes:
    return ",".join(cells.get(c.replace(".", "_"), "") for c in CSV_COLUMNS).encode()


def csv_rows() -> list[bytes]:
    base = {"specversion": "1.0", "time": T}
    return [
        csv_row(
            **base,
            id="ci-1",
            source="ads",
            type="ad.impression",
            subject="acme",
            data_campaign="autumn",
            data_ip="10.0.0.1",
            data_user_agent="Mozilla/5.0",
        ),
        csv_row(
            **base,
            id="cs-1",
            source="msc",
            type="telecom.sms",
            subject="initech",
            data_subscriber="s",
            data_destination="+48221234567",
        ),
        csv_row(
            **base,
            id="cd-1",
            source="gw",
            type="telecom.data",
            subject="umbrella",
            data_subscriber="s",
            data_bytes="2048",
        ),
        csv_row(
            **base,
            id="cv-1",
            source="msc",
            type="telecom.voice",
            subject="initech",
            data_subscriber="s",
            data_destination="+48221234567",
            data_duration_s="12.5",
        ),
        csv_row(
            **base,
            id="cp-1",
            source="noc",
            type="quality.probe",
            data_service="portal",
            data_region="eu",
            data_ok="false",
        ),
    ]


# -- running a batch of fuzz files -------------------------------------------------------------


def outcomes_by_file(wh: Path) -> dict[str, dict[int, tuple[str, str | None]]]:
    out: dict[str, dict[int, tuple[str, str | None]]] = {}
    for file, line, outcome, reason in query(
        wh, "SELECT file, line, outcome, reason FROM record_outcomes"
    ):
        out.setdefault(file, {})[line] = (outcome, reason)
    return out


def replay_batch(
    name: str,
    files: dict[str, bytes],
    expect: dict[str, dict[int, str]] | None = None,
    cases: int | None = None,
) -> dict:
    """Write FILES, replay them in one run and check: exit 0, no traceback, each file holds as
    many records as the contract counts, reconcile balances, and the outcome ('rated',
    'quality', or a rejection reason) of each line named in EXPECT. Returns outcomes by file.
    CASES counts as fuzz cases: one per file unless given (a file of distinct bad lines)."""
    CASES[name] += len(files) if cases is None else cases
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for fname, body in files.items():
            p = Path(tmp) / fname
            p.write_bytes(body)
            paths.append(p)
        wh = Path(tmp) / "wh"
        r = main_inprocess("replay", "--quiet", "--rules", RULES, "--warehouse", wh, *paths)
        if r.returncode != 0 or "Traceback" in r.stderr:
            culprits = []
            for p in paths:
                one = main_inprocess(
                    "replay",
                    "--quiet",
                    "--rules",
                    RULES,
                    "--warehouse",
                    Path(tmp) / f"wh-{p.name}",
                    p,
                )
                if one.returncode != 0 or "Traceback" in one.stderr:
                    culprits.append(
                        f"{p.name} ({p.read_bytes()[:120]!r}...): "
                        f"{one.stderr.strip().splitlines()[-1:]}"
                    )
            pytest.fail(f"replay exited {r.returncode}: {r.stderr[-2000:]}\nculprits: {culprits}")
        expected_input = {str(p): file_records(p) for p in paths}
        assert_balanced(reconcile(wh), expected_input=sum(expected_input.values()))
        got = outcomes_by_file(wh)
        for p in paths:
            assert len(got.get(str(p), {})) == expected_input[str(p)], (
                f"{p.name}: {len(got.get(str(p), {}))} records, expected "
                f"{expected_input[str(p)]}: {p.read_bytes()[:300]!r}"
            )
        for fname, lines in (expect or {}).items():
            have = got.get(str(Path(tmp) / fname), {})
            for line, want in lines.items():
                outcome, reason = have.get(line, ("absent", None))
                shown = reason if outcome in ("rejected", "invalid", "unbilled") else outcome
                assert shown == want, f"{fname} line {line}: {shown}, expected {want}"
        return {Path(f).name: v for f, v in got.items()}


# -- random bytes ------------------------------------------------------------------------------

ALPHABET = b'\n\n\r\x00\xff\xc3\xa9{}[]",:\\ ta01e-.'


def random_bytes(rng: random.Random, size: int) -> bytes:
    if rng.random() < 0.5:
        return bytes(rng.getrandbits(8) for _ in range(size))
    return bytes(rng.choice(ALPHABET) for _ in range(size))


def test_random_bytes_files():
    rng = random.Random(20261007)
    files = {}
    for i in range(40):
        ext = "jsonl" if i % 2 else "csv"
        body = random_bytes(rng, rng.choice([0, 1, 2, 17, 300, 4000]))
        if ext == "csv" and rng.random() < 0.7:
            body = csv_header() + b"\n" + body  # a readable header: the rows are fuzzed
        files[f"r{i:02d}.{ext}"] = body
    replay_batch("random bytes", files)


def test_random_mutations_of_valid_files():
    """Valid files with a few bytes inserted, replaced or deleted at random."""
    rng = random.Random(3)
    files = {}
    for i in range(40):
        ext = "jsonl" if i % 2 else "csv"
        lines = jsonl_lines() if ext == "jsonl" else [csv_header(), *csv_rows()]
        data = bytearray(b"\n".join(lines) + b"\n")
        start = len(lines[0]) + 1 if ext == "csv" else 0  # header fuzzing: see test below
        for _ in range(rng.randint(1, 8)):
            pos = rng.randint(start, len(data))
            op = rng.random()
            if op < 0.4:
                data[pos:pos] = random_bytes(rng, rng.randint(1, 5))
            elif op < 0.7 and pos < len(data):
                data[pos] = rng.getrandbits(8)
            else:
                del data[pos : pos + rng.randint(1, 20)]
        files[f"m{i:02d}.{ext}"] = bytes(data)
    replay_batch("mutations", files)


# -- truncation --------------------------------------------------------------------------------


def test_truncated_lines_are_malformed():
    """A JSON object cut anywhere before its end is not a JSON object: `malformed`."""
    rng = random.Random(11)
    lines, expect = [], {}
    for _ in range(60):
        full = rng.choice(jsonl_lines())
        cut = full[: rng.randint(1, len(full) - 1)]
        if not cut.strip():
            continue
        lines.append(cut)
        expect[len(lines)] = "malformed"
    body = b"\n".join(lines)  # and the last one has no newline either
    replay_batch("truncated lines", {"t.jsonl": body}, {"t.jsonl": expect}, cases=len(lines))


def test_truncated_files():
    """Files cut at random points (CSV rows cut short usually lose cells: malformed)."""
    rng = random.Random(12)
    files = {}
    for i in range(20):
        ext = "jsonl" if i % 2 else "csv"
        whole = b"\n".join(jsonl_lines() if ext == "jsonl" else [csv_header(), *csv_rows()])
        files[f"tf{i:02d}.{ext}"] = whole[: rng.randint(0, len(whole))]
    replay_batch("truncated files", files)


# -- huge lines --------------------------------------------------------------------------------


def test_huge_lines():
    """5 MB lines: garbage is one malformed record; a valid event with a 5 MB user agent is
    still an event (no length limit in the contract)."""
    big = 5 * 1024 * 1024
    event = template_events()[0] | {"id": "huge-ua"}
    event["data"] = dict(event["data"], user_agent="M" * big)
    files = {
        "h1.jsonl": b"x" * big + b"\n" + jsonl_lines()[3] + b"\n",
        "h2.jsonl": json.dumps(event).encode() + b"\n",
        "h3.jsonl": b'{"specversion": "1.0", "id": "' + b"9" * big + b"\n",
        "h4.csv": csv_header() + b"\n" + b"a," * (big // 2) + b"\n" + csv_rows()[1] + b"\n",
        "h5.csv": csv_header()
        + b"\n"
        + csv_rows()[0].replace(b"Mozilla/5.0", b"U" * 100_000)
        + b"\n",  # (a cell over 128 KiB: see test_csv_row_with_a_5mb_cell_is_not_malformed)
        "h6.jsonl": b"\x00" * big,
    }
    replay_batch(
        "huge lines",
        files,
        {
            "h1.jsonl": {1: "malformed", 2: "rated"},
            "h2.jsonl": {1: "rated"},
            "h3.jsonl": {1: "malformed"},
            "h4.csv": {2: "malformed", 3: "rated"},
            "h5.csv": {2: "rated"},
            "h6.jsonl": {1: "malformed"},
        },
    )


def test_csv_row_with_a_5mb_cell_is_not_malformed():
    """Contract 2.1: `malformed` is "not valid UTF-8, not a JSON object, or a CSV row whose
    cell count differs from the header's" - a row with the header's cell count, one of them
    5 MB long, is none of these (the same event as JSON Lines is rated)."""
    CASES["huge lines"] += 1
    row = csv_rows()[0].replace(b"Mozilla/5.0", b"U" * (5 * 1024 * 1024))
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "big.csv"
        p.write_bytes(csv_header() + b"\n" + row + b"\n")
        wh = Path(tmp) / "wh"
        r = main_inprocess("replay", "--quiet", "--rules", RULES, "--warehouse", wh, p)
        assert r.returncode == 0, r.stderr
        assert reconcile(wh)["rated"] == 1, reconcile(wh)


# -- encodings, NUL, line endings --------------------------------------------------------------

BAD_UTF8 = [
    b"\xff",
    b"\xfe",
    b"\xc3",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xe2\x82",
    b"\x80",
    b"\xf8\x88\x80\x80\x80",
]


def test_invalid_utf8_is_malformed():
    """Contract 2.1: `malformed` = "not valid UTF-8" - wherever the bad bytes are (inside a
    string value, in a key, at the end of the line), in JSON Lines and in CSV rows."""
    jl, jl_expect = [], {}
    rows, csv_expect = [csv_header()], {}
    for i, bad in enumerate(BAD_UTF8):
        line = jsonl_lines()[i % 7]
        for variant in (
            line.replace(b'"source": "', b'"source": "x' + bad, 1),
            line.replace(b'"id"', b'"i' + bad + b'd"', 1),
            line + bad,
        ):
            jl.append(variant)
            jl_expect[len(jl)] = "malformed"
        row = csv_rows()[i % 5]
        rows.append(row.replace(b",", b"," + bad, 1))
        csv_expect[len(rows)] = "malformed"
    replay_batch(
        "invalid utf-8",
        {"u.jsonl": b"\n".join(jl) + b"\n", "u.csv": b"\n".join(rows) + b"\n"},
        {"u.jsonl": jl_expect, "u.csv": csv_expect},
        cases=len(jl) + len(rows) - 1,
    )


def test_nul_bytes():
    """A raw NUL is not allowed in JSON (control character, or outside any token): malformed.
    An escaped one (\\u0000) is a valid string character: the event is accepted."""
    line = jsonl_lines()[0]
    escaped = json.dumps(template_events()[0] | {"id": "nul\u0000id"}).encode()
    assert b"\\u0000" in escaped
    lines = [
        b"\x00",
        line.replace(b"autumn", b"aut\x00umn"),
        line[:1] + b"\x00" + line[1:],
        line + b"\x00",
        escaped,
        b"\x00" + line,
    ]
    replay_batch(
        "nul",
        {
            "n.jsonl": b"\n".join(lines) + b"\n",
            "n.csv": csv_header() + b"\n" + csv_rows()[0].replace(b"autumn", b"aut\x00umn") + b"\n",
        },
        {
            "n.jsonl": {
                1: "malformed",
                2: "malformed",
                3: "malformed",
                4: "malformed",
                5: "rated",
                6: "malformed",
            }
        },
        cases=len(lines) + 1,
    )


def test_crlf_line_endings_give_the_same_outcomes():
    """Windows line endings (and a lone CR line, which is white space) change nothing."""
    jl = jsonl_lines()
    rows = [csv_header(), *csv_rows()]
    lf = replay_batch(
        "crlf", {"a.jsonl": b"\n".join(jl) + b"\n", "b.csv": b"\n".join(rows) + b"\n"}
    )
    crlf = replay_batch(
        "crlf",
        {"a.jsonl": b"\r\n".join(jl) + b"\r\n\r\n\r\n", "b.csv": b"\r\n".join(rows) + b"\r\n\r\n"},
    )
    assert crlf == lf
    assert sorted(o for o, _ in lf["a.jsonl"].values()) == ["quality"] * 2 + ["rated"] * 5
    assert sorted(o for o, _ in lf["b.csv"].values()) == ["quality"] + ["rated"] * 4


# -- CSV structure -----------------------------------------------------------------------------


def test_csv_wrong_cell_counts_are_malformed():
    """Contract 2.1: "a CSV row whose cell count differs from the header's" is malformed."""
    good = csv_rows()[0]
    rows = [
        good + b",",
        good + b",x,y",
        good.rsplit(b",", 1)[0],
        b"x",
        b"1.0,id",
        b"1,",
        good + b",,,,,,,,,,,,,,,,,,,,,,",
        b"a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r",
    ]
    replay_batch(
        "csv cell counts",
        {"w.csv": csv_header() + b"\n" + b"\n".join(rows) + b"\n"},
        {"w.csv": {n: "malformed" for n in range(2, len(rows) + 2)}},
        cases=len(rows),
    )


def test_csv_quotes_and_embedded_commas():
    """Quoted cells: commas and doubled quotes inside are part of the value."""
    ua = 'Mozilla/5.0 (X11, Linux) "quoted", again'
    quoted = '"' + ua.replace('"', '""') + '"'
    row = csv_rows()[0].replace(b"Mozilla/5.0", quoted.encode())
    all_quoted = b",".join(b'"' + c + b'"' for c in csv_rows()[1].split(b","))
    unbalanced = csv_rows()[0].replace(b"Mozilla/5.0", b'"Mozilla, 5.0')
    stray = csv_rows()[0].replace(b"Mozilla/5.0", b'Moz"illa')
    got = replay_batch(
        "csv quoting",
        {"q.csv": b"\n".join([csv_header(), row, all_quoted, unbalanced, stray])},
        {"q.csv": {2: "rated", 3: "rated", 4: "malformed"}},
        cases=4,
    )
    assert len(got["q.csv"]) == 4
    stored = query_events_user_agent(row)
    assert stored == ua


def query_events_user_agent(row: bytes) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "one.csv"
        p.write_bytes(csv_header() + b"\n" + row + b"\n")
        wh = Path(tmp) / "wh"
        assert (
            main_inprocess("replay", "--quiet", "--rules", RULES, "--warehouse", wh, p).returncode
            == 0
        )
        return query(wh, "SELECT user_agent FROM events")[0][0]


def test_csv_quoted_cell_with_a_line_break_is_one_record():
    """Documented rule (README, "CSV rows"): a quoted cell may hold a line break (RFC 4180),
    so the row spans two lines and is one record, its cell keeping the break."""
    row = csv_rows()[0].replace(b"Mozilla/5.0", b'"Mozilla/5.0\nsecond line"')
    CASES["csv quoting"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "nl.csv"
        p.write_bytes(csv_header() + b"\n" + row + b"\n")
        wh = Path(tmp) / "wh"
        assert (
            main_inprocess("replay", "--quiet", "--rules", RULES, "--warehouse", wh, p).returncode
            == 0
        )
        rec = reconcile(wh)
        assert rec["input"] == 1 and rec["rejected"] == {}, rec
        assert query(wh, "SELECT user_agent FROM events") == [("Mozilla/5.0\nsecond line",)]


def test_header_only_and_empty_files():
    files = {
        "e0.jsonl": b"",
        "e1.csv": b"",
        "e2.csv": csv_header(),
        "e3.csv": csv_header() + b"\n",
        "e4.csv": csv_header() + b"\r\n,,,,,,,,,,,,,,,,\r\n\r\n",
        "e5.jsonl": b"\n \n\t\r\n\r",
        "e6.csv": b"\n",
        "e7.jsonl": b"\n" * 1000,
    }
    got = replay_batch("empty", files)
    assert got == {}
    with tempfile.TemporaryDirectory() as tmp:  # an empty Parquet file (a schema, no rows)
        p = Path(tmp) / "empty.parquet"
        pq.write_table(pa.table({"id": pa.array([], pa.string())}), p)
        CASES["empty"] += 1
        r = main_inprocess(
            "replay", "--quiet", "--rules", RULES, "--warehouse", Path(tmp) / "wh", p
        )
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
        assert reconcile(Path(tmp) / "wh")["input"] == 0


@pytest.mark.parametrize(
    "header",
    [b"\xff" + b"specversion,id", b"", b"\xc3", b'"specversion,id', b"\r"],
    ids=["not-utf8", "empty-line", "cut-utf8", "unbalanced-quote", "lone-cr"],
)
def test_csv_header_that_is_not_utf8_or_empty_rejects_the_rows(header, tmp_path):
    """Contract 2: every CSV row after the header is a record with one outcome; a row "whose
    cell count differs from the header's" is malformed. A broken header must not end in an
    internal error: either its rows are counted (malformed) and the run goes on, or the file
    is refused with one line naming it and nothing is written (like an unreadable Parquet)."""
    CASES["csv header"] += 1
    p = tmp_path / "h.csv"
    p.write_bytes(header + b"\n" + csv_rows()[0] + b"\n")
    good = tmp_path / "good.jsonl"
    good.write_bytes(jsonl_lines()[0] + b"\n")
    wh = tmp_path / "wh"
    assert (
        main_inprocess("replay", "--quiet", "--rules", RULES, "--warehouse", wh, good).returncode
        == 0
    )
    before = reconcile(wh)
    r = main_inprocess("replay", "--quiet", "--rules", RULES, "--warehouse", wh, p)
    assert "Traceback" not in r.stderr, r.stderr
    assert "warehouse operation failed" not in r.stderr, r.stderr  # an internal error
    if r.returncode == 0:
        rec = reconcile(wh)
        assert rec["input"] == before["input"] + 1, rec
        assert rec["rejected"] == {"malformed": 1}, rec
    else:
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and p.name in lines[0], r.stderr
        assert reconcile(wh) == before


def test_csv_odd_headers():
    """Header names that collide with the nesting, repeat, are empty or need quoting."""
    n = len(CSV_COLUMNS)

    def row(i: int) -> bytes:
        return csv_rows()[1].replace(b"cs-1", b"cs-%d" % i)

    files = {
        "o1.csv": csv_header() + b",data.session,data.session.id\n" + row(1) + b",x,y\n",
        "o2.csv": csv_header() + b",data.session.id,data.session\n" + row(2) + b",x,y\n",
        "o3.csv": csv_header() + b",id,type\n" + row(3) + b",other,ad.view\n",
        "o4.csv": csv_header()
        + b',,"data.o\'neil","a""b",data.,data..x\n'
        + row(4)
        + b",1,2,3,4,5\n",
        "o5.csv": b",".join([b"c%d" % i for i in range(n)]) + b"\n" + row(5) + b"\n",
        "o6.csv": b'"' + csv_header().replace(b",", b'","') + b'"\n' + row(6) + b"\n",
    }
    replay_batch("csv headers", files, {"o5.csv": {2: "missing_field"}, "o6.csv": {2: "rated"}})


# -- JSON edge cases ---------------------------------------------------------------------------


def test_json_edge_cases():
    base = template_events()[4]  # telecom.data, bytes 123456

    def with_data(**kw):
        return json.dumps(base | {"data": base["data"] | kw}).encode()

    deep = b"[" * 100_000 + b"]" * 100_000
    cases = [
        (b'{"specversion": "1.0", "x": NaN}', "malformed"),
        (b'{"specversion": "1.0", "x": Infinity}', "malformed"),
        (jsonl_lines()[0][:-1] + b", }", "malformed"),
        (jsonl_lines()[0][:-1] + b",\t\r }", "malformed"),  # any JSON white space
        (with_data(subscriber="NaN, Infinity, [1,]"), "rated"),  # the tokens inside a string
        (b"\xef\xbb\xbf" + jsonl_lines()[0], "malformed"),  # a BOM is not JSON white space
        (b"[" + jsonl_lines()[0] + b"]", "malformed"),
        (b" \t\r" + jsonl_lines()[0], "rated"),  # JSON white space before the object
        (b" \t[1]", "malformed"),  # ...before something else
        (jsonl_lines()[0] + jsonl_lines()[1], "malformed"),  # two objects on one line
        (with_data(bytes=10**30), "bad_data"),
        (with_data(bytes=1.0), "bad_data"),
        (with_data(bytes=1e3), "bad_data"),
        (with_data(bytes=-1), "bad_data"),
        (with_data(bytes=True), "bad_data"),
        (with_data(bytes=None), "bad_data"),
        (with_data(bytes="5"), "bad_data"),
        (with_data().replace(b'"bytes"', b'"deep": ' + deep + b', "bytes"'), "rated"),
        (with_data().replace(b"123456", b"1" + b"0" * 400), "bad_data"),
        (with_data().replace(b"123456", b"1e400"), "bad_data"),
        # An escaped lone surrogate: the JSON grammar allows it, but it is no Unicode string
        # (RFC 8259 8.2 "unpredictable"; I-JSON forbids it). Either outcome, but no crash.
        (with_data(subscriber="\ud800"), ("rated", "malformed")),
        (
            with_data().replace(b'"subscriber": "s"', b'"subscriber": "a", "subscriber": "b"'),
            "rated",
        ),
        (json.dumps(base | {"time": "2026-10-07T09:00:00.1234567890123Z"}).encode(), "rated"),
        (json.dumps(base | {"time": "2026-10-07T09:00:60Z"}).encode(), "bad_time"),
        (json.dumps(base | {"time": "9999-12-31T23:59:59-23:59"}).encode(), "rated"),
        (json.dumps(base | {"time": "0000-01-01T00:00:00+23:59"}).encode(), "rated"),
        (json.dumps(base | {"id": "x" * 100_000}).encode(), "rated"),
        (json.dumps(base | {"type": "telecom.data\u0000"}).encode(), "unknown_type"),
    ]
    # Each line its own id (where it has one), so that none is a duplicate of another.
    lines = [c.replace(b'"id": "d-1"', b'"id": "d-%d"' % n) for n, (c, _) in enumerate(cases)]
    got = replay_batch("json edge", {"j.jsonl": b"\n".join(lines) + b"\n"}, cases=len(lines))
    shown = {
        n: (r if o in ("rejected", "invalid", "unbilled") else o)
        for n, (o, r) in got["j.jsonl"].items()
    }
    # The far-future/past times only need to be accepted events (rated or unbilled by date).
    wrong = [
        f"line {n}: {shown[n]}, expected {want} ({lines[n - 1][:80]!r})"
        for n, (_, want) in enumerate(cases, 1)
        if shown[n] not in (want if isinstance(want, tuple) else (want,))
        and not (want == "rated" and shown[n] in ("no_tariff", "no_contract"))
    ]
    assert wrong == [], "\n".join(wrong)


# -- Parquet -----------------------------------------------------------------------------------


def _env(n: int, type_: str, account: str = "umbrella", **cols) -> dict:
    """Columns of N rows of TYPE_ for ACCOUNT; COLS add or replace columns (`__` = `.`)."""
    base = {
        "specversion": pa.array(["1.0"] * n),
        "id": pa.array([f"p{i}" for i in range(n)]),
        "source": pa.array(["pq"] * n),
        "type": pa.array([type_] * n),
        "time": pa.array([T] * n),
        "subject": pa.array([account] * n),
    }
    return base | {k.replace("__", "."): v for k, v in cols.items()}


def _data_cols(**kw):
    return {"data__subscriber": pa.array(["s"]), **kw}


def _sms(**kw):
    return _env(
        1, "telecom.sms", "initech", **_data_cols(data__destination=pa.array(["+48221"])), **kw
    )


def _incident(accounts):
    return _env(
        1,
        "quality.incident",
        data__incident_id=pa.array(["I"]),
        data__service=pa.array(["portal"]),
        data__state=pa.array(["open"]),
        data__accounts=accounts,
    )


def _voice(duration):
    return _env(
        1,
        "telecom.voice",
        "initech",
        **_data_cols(data__destination=pa.array(["+48221"]), data__duration_s=duration),
    )


PARQUET_CASES = {
    # name: (columns, expected outcome of the one row)
    "bytes-float64": (
        _env(1, "telecom.data", **_data_cols(data__bytes=pa.array([100.0]))),
        "bad_data",
    ),
    "bytes-uint64": (
        _env(1, "telecom.data", **_data_cols(data__bytes=pa.array([100], pa.uint64()))),
        "rated",
    ),
    "bytes-int8": (
        _env(1, "telecom.data", **_data_cols(data__bytes=pa.array([100], pa.int8()))),
        "rated",
    ),
    "bytes-string": (
        _env(1, "telecom.data", **_data_cols(data__bytes=pa.array(["100"]))),
        "bad_data",
    ),
    "duration-string": (_voice(pa.array(["60"])), "bad_data"),
    # numbers are "double or an integer type": a float32's 0.1 is 0.100000001490116...
    "duration-float32": (_voice(pa.array([60.5], pa.float32())), "bad_data"),
    "duration-float16": (_voice(pa.array([np.float16(60.5)], pa.float16())), "bad_data"),
    "duration-decimal256": (_voice(pa.array([60], pa.decimal256(40, 1))), "bad_data"),
    # an extra column of a type DuckDB cannot scan is still an extra field, kept
    "extra-float16": (_sms(note=pa.array([np.float16(1.5)], pa.float16())), "rated"),
    "extra-map": (
        _sms(data__extra=pa.array([[("k", 1)]], pa.map_(pa.string(), pa.int64()))),
        "rated",
    ),
    # a Parquet "" is a value, not a missing cell (that is CSV's rule): a session id "" is bad
    "session-empty-id": (
        _env(
            1,
            "telecom.data",
            **_data_cols(
                data__bytes=pa.array([5]),
                data__session__id=pa.array([""]),
                data__session__seq=pa.nulls(1, pa.int64()),
                data__session__last=pa.nulls(1, pa.bool_()),
            ),
        ),
        "bad_data",
    ),
    "duration-int16": (_voice(pa.array([60], pa.int16())), "rated"),
    "duration-bool": (_voice(pa.array([True])), "bad_data"),
    "duration-null": (_voice(pa.array([None], pa.float64())), "bad_data"),
    "time-timestamp": (
        _sms(time=pa.array([1791363600000000], pa.timestamp("us", tz="UTC"))),
        "missing_field",
    ),
    "time-int64": (_sms(time=pa.array([1791363600])), "missing_field"),
    "id-int64": (_sms(id=pa.array([17])), "missing_field"),
    "id-binary": (_sms(id=pa.array([b"x"])), "missing_field"),
    "specversion-double": (_sms(specversion=pa.array([1.0])), "missing_field"),
    "subject-null": (_sms(subject=pa.array([None], pa.string())), "missing_field"),
    "accounts-list-int64": (_incident(pa.array([[1, 2]], pa.list_(pa.int64()))), "bad_data"),
    "accounts-string": (_incident(pa.array(["acme"])), "bad_data"),
    "accounts-list-string": (_incident(pa.array([["acme"]], pa.list_(pa.string()))), "quality"),
    "accounts-null": (_incident(pa.array([None], pa.list_(pa.string()))), "quality"),
    "ok-string": (
        _env(
            1,
            "quality.probe",
            data__service=pa.array(["portal"]),
            data__region=pa.array(["eu"]),
            data__ok=pa.array(["true"]),
        ),
        "bad_data",
    ),
    "ok-int": (
        _env(
            1,
            "quality.probe",
            data__service=pa.array(["portal"]),
            data__region=pa.array(["eu"]),
            data__ok=pa.array([1]),
        ),
        "bad_data",
    ),
    "latency-null-type": (
        _env(
            1,
            "quality.probe",
            data__service=pa.array(["portal"]),
            data__region=pa.array(["eu"]),
            data__ok=pa.array([True]),
            data__latency_ms=pa.nulls(1),
        ),
        "quality",
    ),
    "session-seq-double": (
        _env(
            1,
            "telecom.data",
            **_data_cols(
                data__bytes=pa.array([5]),
                data__session__id=pa.array(["S"]),
                data__session__seq=pa.array([1.0]),
                data__session__last=pa.array([True]),
            ),
        ),
        "bad_data",
    ),
    "campaign-struct": (
        _env(
            1,
            "ad.impression",
            "acme",
            data__campaign=pa.array([{"a": 1}]),
            data__ip=pa.array(["1"]),
            data__user_agent=pa.array(["M"]),
        ),
        "bad_data",
    ),
    "data-struct-column": (
        _env(
            1,
            "ad.impression",
            "acme",
            data=pa.array([{"campaign": "c", "ip": "1", "user_agent": "M"}]),
        ),
        "bad_data",
    ),
    "duration-decimal128": (_voice(pa.array([60], pa.decimal128(10, 2))), "bad_data"),
    "large-string": (
        _env(
            1,
            "ad.impression",
            "acme",
            data__campaign=pa.array(["c"], pa.large_string()),
            data__ip=pa.array(["1"]),
            data__user_agent=pa.array(["M"]),
        ),
        "rated",
    ),
}


def test_parquet_column_types():
    """Contract 1: a Parquet column holds its field's Arrow type (string; any integer width for
    integers; double or integer for numbers; boolean; list of strings for accounts); a value
    whose column has another type is bad_data - and an envelope field that is not a string is
    missing_field (2.1 checks missing_field first)."""
    files, expect = {}, {}
    for name, (cols, want) in PARQUET_CASES.items():
        sink = pa.BufferOutputStream()
        if pa.types.is_string(cols["id"].type):  # one id per file: no duplicates between them
            cols = cols | {"id": pa.array([name])}
        pq.write_table(pa.table(cols), sink)
        files[f"{name}.parquet"] = sink.getvalue().to_pybytes()
        expect[f"{name}.parquet"] = {1: want}
    replay_batch("parquet types", files, expect)


def _valid_parquet() -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(_sms()), sink)
    return sink.getvalue().to_pybytes()


def _corrupt_parquet_cases() -> dict[str, bytes]:
    good = _valid_parquet()
    rng = random.Random(5)
    flipped = bytearray(good)
    for _ in range(40):
        flipped[rng.randrange(4, len(good) - 8)] = rng.getrandbits(8)
    return {
        "truncated-half": good[: len(good) // 2],
        "truncated-footer": good[:-5],
        "zero-bytes": b"",
        "magic-only": b"PAR1",
        "magic-garbage": b"PAR1" + bytes(rng.getrandbits(8) for _ in range(500)) + b"PAR1",
        "jsonl-inside": jsonl_lines()[0] + b"\n",
        "flipped-bytes": bytes(flipped),
    }


@pytest.mark.parametrize(
    "name",
    [n for n in _corrupt_parquet_cases()],
)
def test_unreadable_parquet_is_one_clear_error(name):
    """A Parquet file that cannot be read: exit non-zero with one line naming the file, no
    traceback, and the warehouse left as it was (the other files' records are not half in)."""
    CASES["corrupt parquet"] += 1
    body = _corrupt_parquet_cases()[name]
    with tempfile.TemporaryDirectory() as tmp:
        good = Path(tmp) / "good.jsonl"
        good.write_bytes(b"\n".join(jsonl_lines()) + b"\n")
        bad = Path(tmp) / f"{name}.parquet"
        bad.write_bytes(body)
        wh = Path(tmp) / "wh"
        assert (
            main_inprocess(
                "replay", "--quiet", "--rules", RULES, "--warehouse", wh, good
            ).returncode
            == 0
        )
        before = reconcile(wh)
        r = main_inprocess("replay", "--quiet", "--rules", RULES, "--warehouse", wh, good, bad)
        if r.returncode == 0:  # flipped bytes may leave a readable file: then rows are counted
            assert name == "flipped-bytes", r.stderr
            assert_balanced(reconcile(wh))
            return
        assert "Traceback" not in r.stderr, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
        assert bad.name in lines[0], lines[0]
        assert reconcile(wh) == before


def test_unreadable_parquet_through_the_real_command():
    """The same, through a `pipeline` process: the exit code and stderr a user sees."""
    from helpers import cli

    CASES["corrupt parquet"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        bad = Path(tmp) / "bad.parquet"
        bad.write_bytes(_valid_parquet()[:-7])
        r = cli("replay", "--quiet", "--rules", RULES, "--warehouse", Path(tmp) / "wh", bad)
        assert r.returncode != 0
        assert "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
