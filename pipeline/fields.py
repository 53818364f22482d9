"""The event types and their data fields (contract section 1), as data.

One table drives CSV cell typing (csv_input), validation (validate) and the canonical columns of
accepted events (schemas/warehouse.sql), so the three cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

ENVELOPE = ("specversion", "id", "source", "type", "time", "subject")


@dataclass(frozen=True)
class Field:
    name: str  # path below `data`, e.g. "session.seq"
    kind: str  # str | number | integer | bool | e164 | state | accounts | session
    required: bool = True


_SESSION = Field("session", "session", required=False)

EVENT_FIELDS: dict[str, tuple[Field, ...]] = {
    "ad.impression": (Field("campaign", "str"), Field("ip", "str"), Field("user_agent", "str")),
    "ad.click": (
        Field("impression_id", "str"),
        Field("campaign", "str"),
        Field("ip", "str"),
        Field("user_agent", "str"),
    ),
    "telecom.voice": (
        Field("subscriber", "str"),
        Field("destination", "e164"),
        Field("duration_s", "number"),
        _SESSION,
    ),
    "telecom.sms": (Field("subscriber", "str"), Field("destination", "e164")),
    "telecom.data": (Field("subscriber", "str"), Field("bytes", "integer"), _SESSION),
    "quality.incident": (
        Field("incident_id", "str"),
        Field("service", "str"),
        Field("state", "state"),
        Field("planned", "bool", required=False),
        Field("accounts", "accounts", required=False),
    ),
    "quality.probe": (
        Field("service", "str"),
        Field("region", "str"),
        Field("ok", "bool"),
        Field("latency_ms", "number", required=False),
    ),
}

# Number fields that are a rated quantity: read from their digits as written, never through a
# double (validate._exact_number_text; CSV cells: csv_input._render_csv_docs)
EXACT_NUMBERS = ("duration_s",)

USAGE_TYPES = ("ad.click", "ad.impression", "telecom.data", "telecom.sms", "telecom.voice")
SESSION_FIELDS = (Field("id", "str"), Field("seq", "integer"), Field("last", "bool"))

# The scalar kind a CSV cell of each `data.*` column is read as, and the types it belongs to.
_CSV_KIND = {
    "e164": "str",
    "state": "str",
    "number": "number",
    "integer": "integer",
    "bool": "bool",
}


def _csv_fields() -> dict[str, tuple[tuple[str, ...], str]]:
    out: dict[str, tuple[list[str], str]] = {}
    for type_, fields in EVENT_FIELDS.items():
        for f in fields:
            subs = (
                [(f"data.session.{s.name}", s.kind) for s in SESSION_FIELDS]
                if f.kind == "session"
                else [(f"data.{f.name}", _CSV_KIND.get(f.kind, f.kind))]
            )
            for col, kind in subs:
                out.setdefault(col, ([], kind))[0].append(type_)
    return {col: (tuple(types), kind) for col, (types, kind) in out.items()}


CSV_DATA_FIELDS = _csv_fields()
