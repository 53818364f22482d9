"""The small CSV file (contract 1: flat `data.<field>` columns), with its own trouble: bad
cells, a short row (malformed) and a re-sent row (duplicate). A hundred rows at most, so it is
built row by row in Python."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from .context import Context
from .world import HUMAN_UAS, iso, ms_of, times

CSV_COLUMNS = (
    "specversion,id,source,type,time,subject,data.campaign,data.ip,data.user_agent,"
    "data.impression_id,data.subscriber,data.destination,data.duration_s,data.bytes,"
    "data.session.id,data.session.seq,data.session.last"
).split(",")

_BAD_CELLS = (  # (column, value, record type): the first such record from row 7 * k on
    ("data.duration_s", "ninety", "telecom.voice"),
    ("data.bytes", "1e3", "telecom.data"),
    ("data.session.last", "True", "telecom.voice"),
    ("subject", "", "telecom.data"),
)


def csv_rows(rng: np.random.Generator, ctx: Context, n: int) -> list[list[str]]:
    """Impressions with a click 2 s later, voice calls as one-part sessions and data records;
    then bad cells, a short row (malformed) and a re-sent row (duplicate)."""
    rows: list[dict[str, str]] = []
    for k, ms in enumerate(np.sort(times(rng, (0.0, 0.99), n))):
        row = dict.fromkeys(CSV_COLUMNS, "")
        row.update(specversion="1.0", id=f"{ctx.prefix}csv-{ctx.ids(1)[0]:010d}", time=iso(ms))
        _fill(row, k, rows[-1] if rows else None)
        rows.append(row)
    for j, (column, value, type_) in enumerate(_BAD_CELLS):
        hits = [r for r in rows[j * 7 :] if r["type"] == type_]
        if hits:
            hits[0][column] = value
    out = [[r[c] for c in CSV_COLUMNS] for r in rows]
    if len(out) >= 20:
        out[10] = out[10][:-3]  # fewer cells than the header
        out[-1] = list(out[len(out) // 2])  # same source and id as an earlier row
    return out


def _fill(row: dict[str, str], k: int, prev: dict[str, str] | None) -> None:
    """The record-type fields of row `k`: a click follows the impression before it."""
    if k % 10 in (0, 2, 4):
        ad = {"data.campaign": "partner", "data.ip": f"10.77.{k % 250}.{k * 7 % 250}"}
        ad["data.user_agent"] = HUMAN_UAS[4]  # no comma in it: plain in any CSV tool
        row.update(ad, source="partner-feed", type="ad.impression", subject="hooli")
    elif k % 10 in (1, 3) and prev is not None and prev["type"] == "ad.impression":
        row.update({c: prev[c] for c in ("subject", "data.campaign", "data.ip", "data.user_agent")})
        row.update(source="partner-clicks", type="ad.click", time=iso(ms_of(prev["time"]) + 2000))
        row["data.impression_id"] = prev["id"]
    elif k % 10 in (5, 6):
        row.update(source="msc-waw", type="telecom.voice", subject="initech")
        row.update({"data.subscriber": "sub-initech-0042", "data.destination": "+48601000042",
                    "data.duration_s": str(30 + k), "data.session.id": f"{row['id']}-s",
                    "data.session.seq": "1", "data.session.last": "true"})  # fmt: skip
    else:
        row.update(source="pgw-1", type="telecom.data", subject="umbrella")
        row.update({"data.subscriber": "sub-umbrella-0007", "data.bytes": str(1024 * k)})


def write_csv(path: Path, rows: list[list[str]]) -> None:
    """The rows under the CSV_COLUMNS header, `\\n` line ends whatever the platform."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
