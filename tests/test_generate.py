"""The synthetic generator: exact counts, same seed -> same bytes, a valid share that meets the
contract, a rule set that loads, and a mix holding every type and every kind of trouble."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.errors import UsageError
from pipeline.generate import BAD_RECORDS, CSV_COLUMNS, generate, generate_command

TIME = re.compile(r"^2026-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
USAGE = {"ad.impression", "ad.click", "telecom.voice", "telecom.sms", "telecom.data"}
STR, NUM, INT, BOOL = str, (int, float), int, bool
DATA_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {  # required fields, contract 1
    "ad.impression": {"campaign": STR, "ip": STR, "user_agent": STR},
    "ad.click": {"impression_id": STR, "campaign": STR, "ip": STR, "user_agent": STR},
    "telecom.voice": {"subscriber": STR, "destination": STR, "duration_s": NUM},
    "telecom.sms": {"subscriber": STR, "destination": STR},
    "telecom.data": {"subscriber": STR, "bytes": INT},
    "quality.incident": {"incident_id": STR, "service": STR, "state": STR},
    "quality.probe": {"service": STR, "region": STR, "ok": BOOL},
}


def _lines(out: Path) -> list[bytes]:
    """Every record line of the JSON Lines files, in replay order."""
    return [
        line
        for path in sorted((out / "events").glob("*.jsonl"))
        for line in path.read_bytes().split(b"\n")
        if line.strip()
    ]


def _csv_rows(out: Path) -> list[list[str]]:
    rows: list[list[str]] = []
    for path in sorted((out / "events").glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            rows += [r for r in csv.reader(f) if any(r)]
    return rows


BAD_ID = re.compile(rb'"[A-Za-z0-9._-]*bad-\d{10}"|"id": ""')


def _is_bad(line: bytes) -> bool:
    """Lines made from BAD_RECORDS: their ids are `[prefix]bad-NNNNNNNNNN`, or empty."""
    return BAD_ID.search(line) is not None


def _check_valid(rec: dict) -> None:
    assert rec["specversion"] == "1.0"
    for key in ("id", "source", "type", "time"):
        assert isinstance(rec[key], str) and rec[key], key
    assert TIME.match(rec["time"]), rec["time"]
    if rec["type"] in USAGE:
        assert isinstance(rec["subject"], str) and rec["subject"]
    data = rec["data"]
    for name, kind in DATA_FIELDS[rec["type"]].items():
        value = data[name]
        assert isinstance(value, kind) and (kind is BOOL or not isinstance(value, bool)), name
    if "destination" in data:
        assert re.fullmatch(r"\+\d+", data["destination"])
    if "session" in data:
        s = data["session"]
        assert isinstance(s["id"], str) and s["seq"] >= 1 and isinstance(s["last"], bool)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen")
    generate(out, 20_000, 11, chunk=1_500)  # small chunks: carries cross chunks and files
    return out


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a, b, c = (generate(tmp_path / n, 3_000, s) for n, s in (("a", 7), ("b", 7), ("c", 8)))
    assert [p.name for p in a.files] == [p.name for p in b.files]
    for pa, pb in zip(a.files, b.files, strict=True):
        assert pa.read_bytes() == pb.read_bytes(), pa.name
    rules = sorted((tmp_path / "a" / "rules").rglob("*.yaml"))
    assert all(
        p.read_bytes() == (tmp_path / "b" / p.relative_to(tmp_path / "a")).read_bytes()
        for p in rules
    )
    assert a.files[0].read_bytes() != c.files[0].read_bytes()


@pytest.mark.parametrize(
    ("events", "kw"),
    [(0, {}), (1, {}), (49, {}), (50, {}), (777, {}), (12_345, {"chunk": 1_000, "files": 3})],
)
def test_event_count_is_exact(tmp_path: Path, events: int, kw: dict) -> None:
    summary = generate(tmp_path, events, 3, **kw)
    rows = _csv_rows(tmp_path)
    records = len(_lines(tmp_path)) + max(len(rows) - 1, 0)  # minus the CSV header
    assert records == events == summary.events
    assert summary.bytes == sum(p.stat().st_size for p in summary.files)
    assert [p.name for p in summary.files] == sorted(
        p.name for p in (tmp_path / "events").iterdir()
    )


def test_valid_share_meets_the_contract(sample: Path) -> None:
    lines = _lines(sample)
    bad = [line for line in lines if _is_bad(line)]
    assert 0.003 < len(bad) / len(lines) < 0.01
    for line in lines:
        if not _is_bad(line):
            _check_valid(json.loads(line.decode("utf-8")))


def test_mix_holds_every_type_and_trouble(sample: Path) -> None:
    recs = [json.loads(line) for line in _lines(sample) if not _is_bad(line)]
    types = Counter(r["type"] for r in recs)
    assert set(types) == set(DATA_FIELDS)
    assert 0.55 < types["ad.impression"] / len(recs) < 0.65
    assert 0.22 < types["ad.click"] / len(recs) < 0.28
    keys = Counter((r["source"], r["id"]) for r in recs)
    assert 0.01 < sum(n - 1 for n in keys.values()) / len(recs) < 0.02  # re-sent duplicates
    subjects = {r.get("subject") for r in recs}
    assert {"wayne", "oscorp"} <= subjects  # usage for accounts that do not exist
    uas = [r["data"]["user_agent"].lower() for r in recs if r["type"] == "ad.click"]
    assert any("bot" in ua or "crawler" in ua or "spider" in ua or "headless" in ua for ua in uas)
    assert any(r["data"].get("session", {}).get("seq") == 3 for r in recs)
    assert any(r["data"].get("destination", "").startswith("+49") for r in recs)


def test_fraud_patterns_and_late_arrivals(sample: Path) -> None:
    file_of: dict[str, int] = {}
    clicks: list[tuple[dict, int]] = []
    for i, path in enumerate(sorted((sample / "events").glob("*.jsonl"))):
        for line in path.read_bytes().splitlines():
            if line.strip() and not _is_bad(line):
                rec = json.loads(line)
                if rec["type"] == "ad.impression":
                    file_of.setdefault(rec["id"], i)
                elif rec["type"] == "ad.click":
                    clicks.append((rec, i))
    orphans = [c for c, _ in clicks if c["data"]["impression_id"] not in file_of]
    late = [c for c, i in clicks if file_of.get(c["data"]["impression_id"], -1) > i]
    per_impression = Counter(c["data"]["impression_id"] for c, _ in clicks)
    per_ip_minute = Counter((c["data"]["ip"], c["time"][:16]) for c, _ in clicks)
    assert orphans and late
    assert max(per_impression.values()) >= 2  # duplicate clicks
    assert max(per_ip_minute.values()) > 5  # a burst above max_clicks_per_ip_per_minute


def test_bad_records_cover_every_rejection_kind(sample: Path) -> None:
    reasons = {reason for reason, *_ in BAD_RECORDS}
    assert reasons == {"malformed", "missing_field", "unknown_type", "bad_time", "bad_data"}
    lines = [line for line in _lines(sample) if _is_bad(line)]
    assert len(lines) >= len(BAD_RECORDS)  # the cycle went round at least once
    assert any(b"\xff" in line for line in lines)  # invalid UTF-8 bytes


def test_csv_file_uses_the_contract_layout(sample: Path) -> None:
    rows = _csv_rows(sample)
    assert rows[0] == CSV_COLUMNS
    short = [r for r in rows[1:] if len(r) != len(CSV_COLUMNS)]
    assert len(short) == 1  # the one malformed row
    assert {r[3] for r in rows[1:]} >= {"ad.impression", "ad.click", "telecom.voice"}


def test_rules_load(sample: Path) -> None:
    from pipeline.rules import load_rules

    rules = load_rules(sample / "rules")
    assert {"acme", "globex", "initech", "umbrella"} <= set(rules.accounts)
    assert {"portal", "network"} <= {s.service for s in rules.slas.values()}
    models = {c.model for p in rules.plans.values() for v in p.versions for c in v.charges.values()}
    assert models == {"per_unit", "graduated", "volume"}
    assert any(len(p.versions) > 1 for p in rules.plans.values())


def test_id_prefix_keeps_ids_apart(tmp_path: Path) -> None:
    generate(tmp_path, 2_000, 2, id_prefix="inc1-")
    for line in _lines(tmp_path):
        if not _is_bad(line):
            rec = json.loads(line)
            assert rec["id"].startswith("inc1-")
            if rec["type"] == "ad.click":
                assert rec["data"]["impression_id"].startswith("inc1-")


def test_refuses_to_mix_with_an_earlier_run(tmp_path: Path) -> None:
    generate(tmp_path, 500, 1)
    with pytest.raises(UsageError):
        generate(tmp_path, 500, 1)
    generate(tmp_path, 300, 1, force=True)
    assert len(_lines(tmp_path)) + len(_csv_rows(tmp_path)) - 1 == 300


def test_command_prints_a_summary(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        generate_command, ["--events", "1000", "--seed", "4", "--json", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["events"] == 1000 and summary["busiest_period"] == "2026-03"
    assert sum(summary["periods"].values()) > 900


def test_bundled_sample_is_current(tmp_path: Path) -> None:
    """`sample/` is `pipeline generate --events 5000 --seed 1 sample`; regenerate it (with
    --force) whenever the generator changes."""
    bundled = Path(__file__).resolve().parents[1] / "sample"
    generate(tmp_path, 5_000, 1)
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert fresh == sorted(p.relative_to(bundled) for p in bundled.rglob("*") if p.is_file())
    for rel in fresh:
        assert (tmp_path / rel).read_bytes() == (bundled / rel).read_bytes(), rel


def test_a_negative_seed_is_a_usage_error(tmp_path: Path) -> None:
    """It used to be numpy's ValueError traceback."""
    result = CliRunner().invoke(generate_command, ["--seed", "-1", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "Invalid value for '--seed': -1 is not in the range x>=0" in result.output


def test_an_event_count_past_the_maximum_is_a_usage_error(tmp_path: Path) -> None:
    """10^20 events ran for ever planning its chunks, before writing a byte."""
    result = CliRunner().invoke(generate_command, ["--events", str(10**20), str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "Invalid value for '--events'" in result.output
    assert "0<=x<=1000000000" in result.output
    assert not (tmp_path / "o").exists()
