"""The outcome feed as a consumer sees it, and the warehouse's outcomes in the same shape, so a
test can say "what the topics say now equals what the warehouse says now".

A consumer keeps, per (topic, key), the message with the highest version and drops keys whose
last message is a `removed` retraction (docs/streaming.md, "Outcome topics").
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipeline.warehouse import Warehouse

View = dict[str, dict[str, Any]]  # topic -> key -> what the test compares


def fold(messages: Iterable[tuple[str, str, str]]) -> View:
    """(topic, key, value) in arrival order -> the view a consumer holds."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for topic, key, value in messages:
        doc = json.loads(value)
        old = latest.get((topic, key))
        if old is None or doc["version"] >= old["version"]:
            latest[topic, key] = doc
    view: View = {t: {} for t in TOPICS}
    for (topic, key), doc in latest.items():
        if not doc.get("removed"):
            view[topic][key] = _shape(topic, doc)
    return view


def _shape(topic: str, doc: dict[str, Any]) -> Any:
    if topic == "usage.rated":
        return (doc["outcome"], doc["reason"], doc["amount"], doc["subject"], doc["quantity"])
    if topic == "events.rejected":
        return doc["reason"]
    return doc["type"]


TOPICS = ("usage.rated", "quality.events", "events.duplicate", "events.rejected")
_POS = "concat_ws(':', p.run_key, p.file_idx, p.line)"


def warehouse_view(warehouse: Path, run_keys: set[int] | None = None) -> View:
    """The same view, read from the warehouse (only records of `run_keys`, if given)."""
    runs = "" if run_keys is None else f"AND p.run_key IN ({','.join(map(str, run_keys))})"
    queries = {
        "usage.rated": f"""SELECT {_POS}, u.outcome, u.reason, u.amount::VARCHAR, u.subject,
            u.quantity::VARCHAR FROM usage_outcomes u JOIN records p ON p.eid = u.uid
            WHERE true {runs}""",
        "quality.events": f"""SELECT {_POS}, type FROM record_outcomes p
            WHERE outcome = 'quality' {runs}""",
        "events.duplicate": f"""SELECT {_POS}, type FROM record_outcomes p
            WHERE outcome = 'duplicate' {runs}""",
        "events.rejected": f"SELECT {_POS}, reason FROM rejected p WHERE true {runs}",
    }
    with Warehouse.open(warehouse) as wh:
        view: View = {}
        for topic, sql in queries.items():
            rows = wh.con.execute(sql).fetchall()
            view[topic] = {r[0]: (tuple(r[1:]) if len(r) > 2 else r[1]) for r in rows}
    return view
