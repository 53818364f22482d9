"""Hypothesis strategies: small sets of contract events (section 1), valid and not, written
into 1-3 input files (.jsonl and .csv).

The values are drawn from small pools on purpose, so that examples collide the way real input
does: ids repeat (duplicates), clicks name impressions that exist or not, session parts share
session ids, times sit on month boundaries, contract and plan-version changes of the rules in
`rules/` (a copy of the contract's worked example rules).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

RULES = Path(__file__).resolve().parent / "rules"

# Instants where the rules change something: month ends, globex's valid_from (10-10), initech's
# valid_to (10-25), telco-volume's second version (10-20 12:00), a weekday peak hour.
ANCHORS = [
    datetime(2026, 9, 30, 23, 30, tzinfo=UTC),
    datetime(2026, 10, 7, 9, 0, tzinfo=UTC),
    datetime(2026, 10, 10, 0, 0, tzinfo=UTC),
    datetime(2026, 10, 20, 11, 45, tzinfo=UTC),
    datetime(2026, 10, 24, 23, 50, tzinfo=UTC),
    datetime(2026, 10, 31, 23, 0, tzinfo=UTC),
]
SUBJECTS = ["acme", "globex", "hooli", "initech", "umbrella", "vandelay", "nobody"]
SOURCES = ["src-a", "src-b"]
IDS = [f"e{i}" for i in range(10)]
CAMPAIGNS = ["autumn", "winter", "Été"]
IPS = ["10.0.0.1", "10.0.0.2"]
# (one agent holds a line break: a CSV row then spans two lines, its cell quoted)
AGENTS = [
    "Mozilla/5.0",
    "Mozilla/5.0 (X11, Linux)",
    "Googlebot/2.1",
    "HeadlessChrome",
    "Mo\r\nzilla",
]
DESTINATIONS = ["+48221234567", "+4860123456", "+441234", "+12025550100", "+33123"]
SERVICES = ["portal", "network"]


@st.composite
def times(draw: st.DrawFn) -> str:
    """An RFC 3339 time near an anchor, in one of the spellings the contract allows."""
    t = draw(st.sampled_from(ANCHORS)) + timedelta(seconds=draw(st.integers(0, 5400)))
    t += timedelta(microseconds=draw(st.sampled_from([0, 250000, 123456])))
    offset = draw(st.sampled_from([0, 0, 120, -300]))
    local = t.astimezone(UTC) + timedelta(minutes=offset)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    frac = draw(st.sampled_from(["", f".{t.microsecond // 1000:03d}", f".{t.microsecond:06d}"]))
    zone = "Z" if offset == 0 else f"{offset // 60:+03d}:{abs(offset) % 60:02d}"
    return text + frac + zone


def _session() -> st.SearchStrategy[dict[str, Any] | None]:
    return st.none() | st.fixed_dictionaries(
        {
            "id": st.sampled_from(["call-1", "call-2"]),
            "seq": st.integers(1, 3),
            "last": st.booleans(),
        }
    )


def _data(type_: str) -> st.SearchStrategy[dict[str, Any]]:
    ad = {
        "campaign": st.sampled_from(CAMPAIGNS),
        "ip": st.sampled_from(IPS),
        "user_agent": st.sampled_from(AGENTS),
    }
    if type_ == "ad.impression":
        return st.fixed_dictionaries(ad)
    if type_ == "ad.click":
        return st.fixed_dictionaries({"impression_id": st.sampled_from(IDS), **ad})
    if type_ == "telecom.voice":
        return st.fixed_dictionaries(
            {
                "subscriber": st.just("sub-1"),
                "destination": st.sampled_from(DESTINATIONS),
                "duration_s": st.integers(0, 4000) | st.sampled_from([0.5, 59.999, 61.25]),
            },
            optional={"session": _session()},
        )
    if type_ == "telecom.sms":
        return st.fixed_dictionaries(
            {"subscriber": st.just("sub-1"), "destination": st.sampled_from(DESTINATIONS)}
        )
    if type_ == "telecom.data":
        return st.fixed_dictionaries(
            {"subscriber": st.just("sub-1"), "bytes": st.integers(0, 3 * 10**8)},
            optional={"session": _session()},
        )
    if type_ == "quality.incident":
        return st.fixed_dictionaries(
            {
                "incident_id": st.sampled_from(["INC-1", "INC-2"]),
                "service": st.sampled_from(SERVICES),
                "state": st.sampled_from(["open", "resolved"]),
            },
            optional={
                "planned": st.booleans(),
                "accounts": st.lists(st.sampled_from(SUBJECTS), max_size=2),
            },
        )
    return st.fixed_dictionaries(  # quality.probe
        {
            "service": st.sampled_from(SERVICES),
            "region": st.sampled_from(["eu", "us"]),
            "ok": st.booleans(),
        },
        optional={"latency_ms": st.integers(0, 900) | st.floats(0, 900, allow_nan=False)},
    )


TYPES = [
    "ad.impression",
    "ad.click",
    "telecom.voice",
    "telecom.sms",
    "telecom.data",
    "quality.incident",
    "quality.probe",
]


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    type_ = draw(st.sampled_from(TYPES))
    ev: dict[str, Any] = {
        "specversion": "1.0",
        "id": draw(st.sampled_from(IDS)),
        "source": draw(st.sampled_from(SOURCES)),
        "type": type_,
        "time": draw(times()),
    }
    if type_.startswith(("ad.", "telecom.")) or draw(st.booleans()):
        ev["subject"] = draw(st.sampled_from(SUBJECTS))
    ev["data"] = {k: v for k, v in draw(_data(type_)).items() if v is not None}
    return ev


# Ways to spoil an event: each makes it a rejected record (or, for a few, still valid).
CORRUPTIONS = [
    ("drop_envelope", None),
    ("specversion", "1.1"),
    ("type", "ad.view"),
    ("time", "2026-10-01 10:00:00Z"),
    ("time", "2026-02-30T00:00:00Z"),
    ("time", "2026-10-01T10:00:00"),
    ("time", "2026-10-01T10:00:00+0200"),
    ("drop_data", None),
    ("null_data", None),
    ("string_data", None),
    ("negative", None),
    ("data_not_object", None),
    ("empty_id", None),
]


@st.composite
def invalid_events(draw: st.DrawFn) -> dict[str, Any]:
    ev = draw(valid_events())
    what, value = draw(st.sampled_from(CORRUPTIONS))
    data = ev["data"]
    if what == "drop_envelope":
        ev.pop(draw(st.sampled_from(["specversion", "id", "source", "type", "time"])))
    elif what in ("specversion", "type", "time"):
        ev[what] = value
    elif what == "empty_id":
        ev["id"] = ""
    elif what == "data_not_object":
        ev["data"] = draw(st.sampled_from([[], "x", 5]))
    elif data:
        key = draw(st.sampled_from(sorted(data)))
        if what == "drop_data":
            data.pop(key)
        elif what == "null_data":
            data[key] = None
        elif what == "string_data":
            data[key] = str(data[key])
        elif (
            what == "negative"
            and isinstance(data[key], int | float)
            and not isinstance(data[key], bool)
        ):
            data[key] = -1 - data[key]
    return ev


RAW_LINES = [
    b"not json",
    b"[1, 2]",
    b"{",
    b'{"specversion": "1.0", "id": NaN}',
    b"\xff\xfe{}",
    b'{"a": 1,}',
    b"null",
    b'"just a string"',
    b"{}",
]
BLANK_LINES = [b"", b"   ", b"\t", b"\r"]


def items() -> st.SearchStrategy[Any]:
    """One input line: a valid event (most often), a spoiled one, a raw line or a blank one."""
    return st.one_of(
        valid_events(),
        valid_events(),
        valid_events(),
        invalid_events(),
        st.sampled_from(RAW_LINES),
        st.sampled_from(BLANK_LINES).map(lambda b: ("blank", b)),
    )


def _flatten(ev: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for k, v in ev.items():
        if k == "data" and isinstance(v, dict):
            for dk, dv in v.items():
                if dk == "session" and isinstance(dv, dict):
                    for sk, sv in dv.items():
                        flat[f"data.session.{sk}"] = sv
                else:
                    flat[f"data.{dk}"] = dv
        else:
            flat[k] = v
    return flat


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):  # as a CSV number reads: digits, no exponent
        return format(Decimal(repr(v)), "f")
    if isinstance(v, int | str):
        return str(v)
    return json.dumps(v)  # a list or object: a cell of the wrong type


def _csv_quote(cell: str) -> str:
    if any(c in cell for c in ',"\r\n') or cell != cell.strip():
        return '"' + cell.replace('"', '""') + '"'
    return cell


def render_jsonl(lines: list[Any]) -> bytes:
    out = []
    for item in lines:
        if isinstance(item, tuple):
            out.append(item[1])
        elif isinstance(item, bytes):
            out.append(item)
        else:
            out.append(json.dumps(item, ensure_ascii=False).encode())
    return b"".join(line + b"\n" for line in out)


def render_csv(lines: list[Any]) -> bytes:
    flats = [_flatten(i) for i in lines if isinstance(i, dict)]
    columns = sorted({k for f in flats for k in f}) or ["specversion", "id"]
    rows = [",".join(columns).encode()]
    for item in lines:
        if isinstance(item, tuple):  # blank: an entirely empty row
            rows.append(b"," * (len(columns) - 1))
        elif isinstance(item, bytes):
            rows.append(item)  # a raw line: usually the wrong number of cells
        else:
            flat = _flatten(item)
            rows.append(",".join(_csv_quote(_cell(flat.get(c))) for c in columns).encode())
    return b"".join(r + b"\n" for r in rows)


@st.composite
def input_files(draw: st.DrawFn, max_lines: int = 12) -> list[tuple[str, bytes]]:
    """1-3 files as (name, bytes), each .jsonl or .csv, named so that they sort in order."""
    n = draw(st.integers(1, 3))
    files = []
    for i in range(n):
        lines = draw(st.lists(items(), min_size=0 if n > 1 else 1, max_size=max_lines))
        fmt = draw(st.sampled_from(["jsonl", "jsonl", "csv"]))
        body = render_jsonl(lines) if fmt == "jsonl" else render_csv(lines)
        files.append((f"{i:02d}-in.{fmt}", body))
    return files


def write_files(directory: Path, files: list[tuple[str, bytes]]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, body in files:
        p = directory / name
        p.write_bytes(body)
        paths.append(p)
    return paths


# -- the same events in each input format ------------------------------------------------------


def without_lists(ev: dict[str, Any]) -> dict[str, Any]:
    """The event without its `accounts` list (which CSV cannot carry)."""
    if isinstance(ev.get("data"), dict) and "accounts" in ev["data"]:
        ev = dict(ev, data={k: v for k, v in ev["data"].items() if k != "accounts"})
    return ev


def render_parquet(events: list[dict[str, Any]]) -> bytes:
    """Flat columns with the Arrow type of each field (contract 1): strings, int64 for
    integers, float64 for a number column holding any fraction, bool, list<string>."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    flats = [_flatten(e) for e in events]
    names = sorted({k for f in flats for k in f})
    columns = {}
    for name in names:
        values = [f.get(name) for f in flats]
        present = [v for v in values if v is not None]
        if all(isinstance(v, bool) for v in present):
            typ = pa.bool_()
        elif all(isinstance(v, int) and not isinstance(v, bool) for v in present):
            typ = pa.int64()
        elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
            typ, values = pa.float64(), [None if v is None else float(v) for v in values]
        elif all(isinstance(v, list) for v in present):
            typ = pa.list_(pa.string())
        else:
            typ = pa.string()
        columns[name] = pa.array(values, typ)
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue().to_pybytes()
