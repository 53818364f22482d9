"""Bad records: every rejection kind in turn, so even a small sample holds each of them.

They go through a Python loop (a few hundred per chunk). In the templates %I is the id, %S the
subject, %T the time; %Tsp / %Tno / %Tnc are the time with a space for `T`, without an offset,
with an offset lacking its colon. Lone surrogates are written as raw, invalid bytes.
"""

from __future__ import annotations

import numpy as np

from .context import Context
from .world import ADS_SUBJECTS, iso, times

_B_IMP = (
    '{"specversion": "1.0", "id": "%I", "source": "adserver-eu1", "type": "ad.impression", '
    '"time": "%T", "subject": "%S", "data": {"campaign": "brand", "ip": "10.9.9.9", '
    '"user_agent": "Mozilla/5.0"}}'
)
_B_VOICE = (
    '{"specversion": "1.0", "id": "%I", "source": "msc-waw", "type": "telecom.voice", '
    '"time": "%T", "subject": "initech", "data": {"subscriber": "sub-initech-0001", '
    '"destination": "+48221234567", "duration_s": 60}}'
)
_B_PROBE = (
    '{"specversion": "1.0", "id": "%I", "source": "prober-eu-west", "type": "quality.probe", '
    '"time": "%T", "data": {"service": "portal", "region": "eu-west", "ok": "yes"}}'
)
_B_INCIDENT = (
    '{"specversion": "1.0", "id": "%I", "source": "noc", "type": "quality.incident", '
    '"time": "%T", "data": {"incident_id": "X", "service": "portal", "state": "closed"}}'
)
BAD_RECORDS: tuple[tuple[str, str, str, str], ...] = (  # (reason, template, replace, with)
    ("malformed", _B_IMP[:90], "", ""),
    ("malformed", '["ad.impression", "%I", "%T"]', "", ""),
    ("malformed", _B_IMP + "}", "", ""),
    ("malformed", _B_IMP, '"brand"', '"caf\udcff\udcfe"'),  # invalid UTF-8
    ("missing_field", _B_IMP, ', "subject": "%S"', ""),
    ("missing_field", _B_IMP, '"specversion": "1.0"', '"specversion": "0.3"'),
    ("missing_field", _B_IMP, '"id": "%I"', '"id": ""'),
    ("missing_field", _B_IMP, '"time": "%T", ', ""),
    ("unknown_type", _B_IMP, "ad.impression", "ad.view"),
    ("unknown_type", _B_VOICE, "telecom.voice", "telecom.mms"),
    ("bad_time", _B_IMP, "%T", "%Tsp"),
    ("bad_time", _B_IMP, "%T", "%Tno"),
    ("bad_time", _B_IMP, "%T", "%Tnc"),
    ("bad_time", _B_IMP, "%T", "2026-02-03T10:00:60.000Z"),
    ("bad_time", _B_IMP, "%T", "2026-02-30T12:00:00.000Z"),
    ("bad_data", _B_VOICE, '"duration_s": 60', '"duration_s": -5'),
    ("bad_data", _B_VOICE, '"duration_s": 60', '"duration_s": "60"'),
    ("bad_data", _B_VOICE, "+48221234567", "0048221234567"),
    ("bad_data", _B_VOICE, "telecom.voice", "telecom.data"),  # data without bytes
    ("bad_data", _B_VOICE, "60}", '60, "session": {"id": "s-1", "seq": 0, "last": true}}'),
    ("bad_data", _B_IMP, '"campaign": "brand", ', ""),
    ("bad_data", _B_IMP, '"10.9.9.9"', "null"),
    ("bad_data", _B_IMP, '"Mozilla/5.0"', "42"),
    ("bad_data", _B_PROBE, "", ""),
    ("bad_data", _B_INCIDENT, "", ""),
)
INVALID_UTF8 = "\udcff"  # marks the lines that must be written as raw bytes


def bad_lines(rng: np.random.Generator, ctx: Context, u: tuple[float, float], n: int) -> list[str]:
    """`n` bad lines, continuing the run's cycle through BAD_RECORDS."""
    out: list[str] = []
    for ms in times(rng, u, n):
        _, line, old, new = BAD_RECORDS[ctx.bad_seq % len(BAD_RECORDS)]
        ctx.bad_seq += 1
        t = iso(int(ms))
        line = line.replace(old, new, 1) if old else line
        line = line.replace("%Tsp", t.replace("T", " ")).replace("%Tno", t[:-1])
        line = line.replace("%Tnc", t[:-1] + "+0100").replace("%T", t)
        line = line.replace("%S", ADS_SUBJECTS[ctx.bad_seq % 5])
        out.append(line.replace("%I", f"{ctx.prefix}bad-{ctx.ids(1)[0]:010d}") + "\n")
    return out
