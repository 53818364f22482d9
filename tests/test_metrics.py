"""Metrics: `replay` and `bill` with `--metrics-file` on the contract's worked example write
textfiles whose values are the example's real numbers, and the worker's helpers and HTTP
endpoint expose what they are given.

The commands run as subprocesses, as in production: each is a fresh process with counters at
zero, and what it writes is only what that run did.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pipeline import metrics

EXAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "contract" / "examples" / "basic"
EVENTS = sorted(str(p) for p in (EXAMPLE / "events").iterdir())
EXPECTED = EXAMPLE / "expected"
PERIODS = ("2026-09", "2026-10", "2026-11")
PIPELINE = str(Path(sys.executable).with_name("pipeline"))  # the venv's console script

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def run(*args: str | Path) -> str:
    """`pipeline ARGS...`, which must succeed; its standard output."""
    p = subprocess.run([PIPELINE, *map(str, args)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"pipeline {' '.join(map(str, args))}: {p.stderr}"
    return p.stdout


def samples(path: Path) -> Samples:
    """(series name, labels) -> value, parsed with prometheus-client's own parser."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(path.read_text())
        for s in family.samples
    }


def value(got: Samples, name: str, **labels: str) -> float:
    return got[(name, frozenset(labels.items()))]


def series(got: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: v for (n, labels), v in got.items() if n == name}


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The worked example replayed into a new warehouse and billed for its three periods, each
    bill rewriting the same metrics file."""
    if not EXAMPLE.is_dir():
        pytest.skip(f"worked example not found at {EXAMPLE}")
    tmp = tmp_path_factory.mktemp("metrics")
    wh, rules = tmp / "warehouse", EXAMPLE / "rules"
    started = time.time()
    run("replay", "--quiet", "--rules", rules, "--warehouse", wh,
        "--metrics-file", tmp / "replay.prom", *EVENTS)  # fmt: skip
    for period in PERIODS:
        run("bill", "--rules", rules, "--warehouse", wh, "--period", period,
            "--metrics-file", tmp / "bill.prom")  # fmt: skip
    invoices = {p: json.loads(run("export", "invoices", "--warehouse", wh, "--period", p))
                for p in PERIODS}  # fmt: skip
    return {
        "replay": samples(tmp / "replay.prom"),
        "bill": samples(tmp / "bill.prom"),
        "invoices": invoices,
        "warehouse": wh,
        "started": started,
        "finished": time.time(),
    }


def test_replay_counts_this_runs_records(example: dict[str, Any]) -> None:
    got = example["replay"]
    assert value(got, "pipeline_records_total", stage="rate", outcome="rated", reason="") == 132
    assert value(got, "pipeline_records_total", stage="validate", outcome="rejected",
                 reason="bad_data") == 8  # fmt: skip
    assert value(got, "pipeline_records_total", stage="fraud", outcome="invalid",
                 reason="orphan_click") == 6  # fmt: skip
    assert value(got, "pipeline_records_total", stage="sla", outcome="quality", reason="") == 26
    # Every input record is counted once, under one stage.
    assert sum(series(got, "pipeline_records_total").values()) == 205
    assert value(got, "pipeline_read_bytes_total") > 0
    assert value(got, "pipeline_rating_duration_seconds_count") == 1
    assert 0 < value(got, "pipeline_rating_duration_seconds_sum") < 300


def test_replay_reports_the_warehouse_as_reconcile_does(example: dict[str, Any]) -> None:
    """`pipeline_warehouse_records` carries exactly the example's expected reconcile counts."""
    expected = json.loads((EXPECTED / "reconcile.json").read_text())
    want: dict[tuple[str, str], int] = {}
    for outcome, counts in expected.items():
        if outcome == "input":
            continue
        for reason, n in counts.items() if isinstance(counts, dict) else [("", counts)]:
            want[(outcome, reason)] = n
    got = {
        (dict(labels)["outcome"], dict(labels)["reason"]): v
        for labels, v in series(example["replay"], "pipeline_warehouse_records").items()
    }
    assert got == want
    assert sum(got.values()) == expected["input"]


def test_replay_reports_flags_and_unbilled(example: dict[str, Any]) -> None:
    got = example["replay"]
    flags = json.loads((EXPECTED / "flags.json").read_text())
    want_flags = Counter((f["reason"], f["status"]) for f in flags)
    got_flags = {
        (dict(k)["reason"], dict(k)["status"]): v
        for k, v in series(got, "pipeline_fraud_flags").items()
    }
    assert got_flags == want_flags
    unbilled = json.loads((EXPECTED / "reconcile.json").read_text())["unbilled"]
    by_reason: Counter[str] = Counter()
    for labels, v in series(got, "pipeline_unbilled_records").items():
        by_reason[dict(labels)["reason"]] += int(v)
    assert by_reason == unbilled
    assert value(got, "pipeline_unbilled_records", reason="no_tariff", period="2026-10") == 1


def test_replay_reports_time_size_and_success(example: dict[str, Any]) -> None:
    got = example["replay"]
    newest = datetime.fromtimestamp(value(got, "pipeline_last_event_timestamp_seconds"), UTC)
    assert datetime(2026, 9, 1, tzinfo=UTC) <= newest < datetime(2026, 12, 1, tzinfo=UTC)
    assert value(got, "pipeline_warehouse_size_bytes") > 0
    success = value(got, "pipeline_last_success_timestamp_seconds", command="replay")
    assert example["started"] <= success <= example["finished"]


def test_bill_reports_invoice_totals_of_every_period(example: dict[str, Any]) -> None:
    """The file rewritten by the last bill still has every billed period, each equal to the sum
    of `export invoices` totals in that currency."""
    want: dict[tuple[str, str], Decimal] = {}
    for period, invoices in example["invoices"].items():
        for inv in invoices:
            key = (inv["currency"], period)
            want[key] = want.get(key, Decimal(0)) + Decimal(inv["total"])
    got = {
        (dict(labels)["currency"], dict(labels)["period"]): v
        for labels, v in series(example["bill"], "pipeline_invoiced_amount").items()
    }
    assert got.keys() == want.keys()
    for key, total in want.items():
        assert got[key] == pytest.approx(float(total), abs=0.005), key
    # expected/invoices-2026-10.json: acme 183.66 + hooli 150.00 + umbrella 7.42
    assert got[("EUR", "2026-10")] == pytest.approx(341.08)
    assert value(example["bill"], "pipeline_billing_duration_seconds_count") == 1


def test_replay_and_bill_files_share_no_series(example: dict[str, Any]) -> None:
    """node-exporter rejects a series found in two of its files."""
    assert example["replay"].keys() & example["bill"].keys() == set()


def test_no_metrics_file_unless_asked(tmp_path: Path) -> None:
    run("replay", "--quiet", "--rules", EXAMPLE / "rules", "--warehouse", tmp_path / "wh",
        EVENTS[1])  # fmt: skip
    assert not list(tmp_path.rglob("*.prom"))


def test_worker_metrics_over_http() -> None:
    """What the streaming worker uses: lag per partition, batch latency, the HTTP endpoint."""
    metrics.observe_consumer_lag({("events.raw", 0): 7, ("events.raw", 1): 0})
    metrics.observe_consumer_lag({("events.raw", 1): 3})  # a batch from partition 1 only
    metrics.observe_consumer_lag({("events.raw", 2): -1})  # highwater read before the commit
    read_before = metrics.REGISTRY.get_sample_value("pipeline_read_bytes_total") or 0
    rated_before = metrics.REGISTRY.get_sample_value("pipeline_rating_duration_seconds_count") or 0
    metrics.observe_batch_write(0.042, bytes_read=1234, ingest_s=0.03)
    server = metrics.serve(0, "127.0.0.1")
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            got = {
                (s.name, frozenset(s.labels.items())): s.value
                for family in text_string_to_metric_families(response.read().decode())
                for s in family.samples
            }
    finally:
        server.shutdown()
    lag = {
        dict(labels)["partition"]: v
        for labels, v in series(got, "pipeline_consumer_lag_records").items()
    }
    assert lag == {"0": 7, "1": 3, "2": 0}
    assert value(got, "pipeline_batch_write_duration_seconds_bucket", le="0.05") >= 1
    # the worker feeds the input-bytes and rating-duration panels too, per batch
    assert value(got, "pipeline_read_bytes_total") == read_before + 1234
    assert value(got, "pipeline_rating_duration_seconds_count") == rated_before + 1
    assert not any(name.startswith("python_") for name, _ in got), "not the default registry"


def test_lag_of_partitions_given_up_drops_out() -> None:
    """After a rebalance the partitions this worker lost are reported by their new owner."""
    metrics.observe_consumer_lag({("events.raw", 0): 5, ("events.raw", 1): 6})
    metrics.observe_consumer_lag({("events.raw", 1): 2}, assigned=[("events.raw", 1)])
    got = {
        (s.labels["topic"], s.labels["partition"]): s.value
        for family in metrics.CONSUMER_LAG.collect()
        for s in family.samples
    }
    assert got == {("events.raw", "1"): 2}


@pytest.mark.parametrize("where", ["missing/dir/m.prom", "", "."])
def test_a_metrics_file_that_cannot_be_written_is_refused_before_any_work(
    tmp_path: Path, where: str
) -> None:
    """The metrics file is written after the replay commits: a path that cannot be written
    used to fail the command (exit 1) after the records were in, so a retry doubled them. It is
    now refused up front, with nothing done."""
    from helpers import main_inprocess
    from worked_example import EVENTS, EXAMPLE

    target = str(tmp_path / where) if where else ""
    wh = tmp_path / "wh"
    r = main_inprocess(
        "replay", "--rules", str(EXAMPLE / "rules"), "--warehouse", str(wh),
        "--metrics-file", target, *map(str, EVENTS),
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert "Invalid value for '--metrics-file'" in r.stderr
    assert not wh.exists()
