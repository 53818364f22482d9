"""The benchmark suite: the smoke run end to end, and the parts it is built from (per-child peak
memory, the DuckDB yardstick, the targets, the JSON report)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample"
if str(ROOT) not in sys.path:  # bench/ lives at the repository root and is not installed
    sys.path.insert(0, str(ROOT))

from bench.bare_read import bare_read  # noqa: E402
from bench.report import HEADER, Report, Result, table  # noqa: E402
from bench.suite import _existing, busiest_period, statement_account  # noqa: E402
from bench.targets import EXPORT, REPLAY_RATE, REPLAY_RSS, judge_all  # noqa: E402


def test_smoke_run_exits_0_and_prints_the_table() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert HEADER in proc.stdout
    for measure in ("replay", "bill 2026-03", "incremental replay", "export flags", "duckdb"):
        assert measure in proc.stdout


MEASURE_CHILDREN = """
import json, sys
from bench.child import run
touch = "b = bytearray(200 << 20); b[::4096] = b'x' * len(b[::4096])"
big = run([sys.executable, "-c", touch])
small = run([sys.executable, "-c", "pass"])
failed = run([sys.executable, "-c", "import sys; sys.exit('boom')"])
print(json.dumps([big.ok, big.peak_rss_mb, small.ok, small.peak_rss_mb, failed.ok,
                  failed.failure()]))
"""


def test_each_child_reports_its_own_peak_memory() -> None:
    """A big child first, then a small one: the small one must not inherit the big peak (as
    RUSAGE_CHILDREN would report it). Measured from a fresh, small parent, as `python -m bench`
    is: a forked child's peak includes the parent's pages copied at fork, and the pytest
    process itself grows past 300 MB over the suite."""
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE_CHILDREN],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.returncode == 0, proc.stderr
    big_ok, big_mb, small_ok, small_mb, failed_ok, failure = json.loads(proc.stdout)
    assert big_ok and small_ok
    assert big_mb > 200, big_mb
    assert small_mb < 100, small_mb
    assert not failed_ok and "boom" in failure


def test_bare_read_counts_every_line() -> None:
    files = sorted(str(p) for p in (SAMPLE / "events").glob("*.jsonl"))
    lines = sum(1 for f in files for line in Path(f).read_bytes().splitlines() if line.strip())
    assert bare_read(files) == lines


def test_data_set_facts_for_reused_data() -> None:
    data = _existing(SAMPLE)
    assert data.events == 5_000
    assert data.jsonl_events == 5_000 - 100  # the CSV file holds 100 rows
    assert busiest_period(data.jsonl) == "2026-03"
    assert statement_account(data.rules) == "acme"


def test_targets_are_judged_at_their_scale() -> None:
    assert judge_all((REPLAY_RATE, REPLAY_RSS), 2_000, 1.0, 100.0) is None  # too small to say
    assert judge_all((REPLAY_RATE, REPLAY_RSS), 1_000_000, 2.0, 900.0) is True
    assert judge_all((REPLAY_RATE, REPLAY_RSS), 1_000_000, 5.0, 900.0) is False
    assert judge_all((REPLAY_RATE, REPLAY_RSS), 10_000_000, 20.0, 2500.0) is False
    # at 10M only the memory goal applies: the throughput goal is stated for 1M
    assert judge_all((REPLAY_RATE, REPLAY_RSS), 10_000_000, 60.0, 1500.0) is True
    assert judge_all((EXPORT,), 100, 2.5, 50.0) is False


def test_report_json_and_table() -> None:
    report = Report(1000, "/d", 0.3, "2026-03", "acme")
    report.results += [
        Result("replay", 1000, 2.0, 150.0, 4.0, target=REPLAY_RATE.text),
        Result("duckdb read_json", 990, 0.5, 60.0),
        Result("export flags", 1000, error="exit 2: no such command", rate=False),
    ]
    doc = json.loads(report.to_json())
    assert doc["ok"] is False and doc["replay_over_bare_read"] == 4.0
    assert doc["results"][0]["events_per_s"] == 500
    text = table(report)
    assert HEADER in text and "exit 2: no such command" in text and "4.00x" in text
    assert f"machine: nproc {os.cpu_count()}, " in text and doc["cpus"] == os.cpu_count()
