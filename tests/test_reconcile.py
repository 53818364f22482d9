"""`export reconcile` counts table by table (rejected records, event state, usage records times
their parts) instead of joining every record to its outcome. It must give exactly what the
record-level view `record_outcomes` gives, whatever the mix: duplicates, sessions assembled
from parts, fraud flags dismissed and confirmed, rejected records of every kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers import flags, query, reconcile, replay, review

from pipeline.exports import outcome_counts, outcome_rows, run_outcomes
from pipeline.generate import generate
from pipeline.replay import summary_line
from pipeline.warehouse import Warehouse


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


def test_each_run_prints_the_current_outcomes_of_its_own_records(tmp_path: Path) -> None:
    """`replay` prints the outcomes of its run's records only (a cost that follows the run, not
    the history), as they stand after it: equal to the record-level view of that run, and the
    runs together add up to reconcile."""
    data = tmp_path / "data"
    generate(data, 20_000, 11)
    files = sorted((data / "events").iterdir())
    warehouse = tmp_path / "wh"
    first = replay(data / "rules", warehouse, files[:1])
    # overlaps the first: duplicates, and sessions and fraud groups spanning both runs
    second = replay(data / "rules", warehouse, files[:3])
    runs = [r for (r,) in query(warehouse, "SELECT run_key FROM runs ORDER BY run_key")]
    assert len(runs) == 2
    with Warehouse.open(warehouse) as wh:
        got = [run_outcomes(wh.con, run) for run in runs]
        total = reconcile(warehouse)
    sql = "SELECT outcome, reason, count(*) FROM record_outcomes WHERE run_key = ? GROUP BY ALL"
    for run, counts in zip(runs, got, strict=True):
        assert counts == outcome_counts(query(warehouse, sql, [run]))
    assert got[1]["duplicate"] and got[1]["rated"] and got[1]["rejected"]
    assert {k: v for k, v in got[1].items() if not isinstance(v, dict)} != {
        k: v for k, v in total.items() if not isinstance(v, dict)
    }
    summed = outcome_counts([row for c in got for row in outcome_rows(c)])
    assert summed == total
    assert second.endswith(summary_line(got[1]))
    assert "outcomes: input " in first
