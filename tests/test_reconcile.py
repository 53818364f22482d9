"""`export reconcile` counts table by table (rejected records, event state, usage records times
their parts) instead of joining every record to its outcome. It must give exactly what the
record-level view `record_outcomes` gives, whatever the mix: duplicates, sessions assembled
from parts, fraud flags dismissed and confirmed, rejected records of every kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers import flags, query, reconcile, replay, review

from pipeline.exports import outcome_counts
from pipeline.generate import generate


def _record_level(warehouse: Path) -> dict[str, Any]:
    """What reconcile printed before: one outcome per input record, counted."""
    sql = "SELECT outcome, reason, count(*) FROM record_outcomes GROUP BY ALL"
    return outcome_counts(query(warehouse, sql))


def test_reconcile_equals_the_record_level_count(tmp_path: Path) -> None:
    data = tmp_path / "data"
    generate(data, 30_000, 5)
    files = sorted((data / "events").iterdir())
    warehouse = tmp_path / "wh"
    replay(data / "rules", warehouse, files[:2])
    replay(data / "rules", warehouse, files)  # the first two again: duplicates
    flagged = flags(warehouse)
    review(warehouse, "dismissed", flagged[::3])
    review(warehouse, "confirmed", flagged[1::3])

    got = reconcile(warehouse)
    want = _record_level(warehouse)
    assert got == want
    # the reason maps in a fixed order (outcome, then reason), so the export's bytes are stable
    for outcome in ("rejected", "invalid", "unbilled"):
        assert list(got[outcome]) == sorted(got[outcome]), outcome
    # the scenario has every kind of outcome, so each branch of the count was exercised
    assert got["duplicate"] and got["quality"] and got["rated"]
    assert got["rejected"] and got["invalid"] and got["unbilled"]
    sessions = query(warehouse, "SELECT count(*) FROM usage WHERE parts > 1")[0][0]
    assert sessions > 0
