"""Every Prometheus metric of the pipeline, on one dedicated registry, and the functions that set
them from what the commands already hold (this run's records, invoices, the warehouse views).

Two ways out:

- The batch commands (`replay`, `bill` with `--metrics-file PATH`) write node-exporter's textfile
  collector format, atomically (temporary file, then rename). Each command writes only the
  metrics it owns (`REPLAY_METRICS`, `BILL_METRICS`): node-exporter rejects a series that two
  `.prom` files both carry, so replay and bill each need their own file.
- The streaming worker calls `serve(port)` and Prometheus scrapes it.

The registry is our own, not prometheus_client's global one, so nothing else (process or
platform collectors, other libraries' metrics) ends up in the textfile, and the dashboard tests
can list exactly the names we export.

Two kinds of numbers, kept apart on purpose:

- What this process did (`pipeline_records_total`, bytes, durations): counters and histograms
  that start at zero with the process, like every Prometheus counter.
- What the warehouse holds (`pipeline_warehouse_records`, flags, unbilled, invoiced amounts):
  gauges read back from the views. They are not counters because they can fall: a late
  impression turns an orphan click `rated`, a dismissed flag leaves `invalid`, a changed rule set
  re-rates everything.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import start_http_server, write_to_textfile
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

from .exports import outcome_rows

REGISTRY = CollectorRegistry(auto_describe=True)

# The stage whose judgement gives a record its outcome (contract 2). Every input record is counted
# once, under the stage that decided it, so the sum over all series is the number of records.
STAGE_OF_OUTCOME = {
    "rejected": "validate",
    "duplicate": "correlate",
    "invalid": "fraud",
    "rated": "rate",
    "unbilled": "rate",
    "quality": "sla",
}

# -- what this process did -------------------------------------------------------------------

RECORDS = Counter(
    "pipeline_records",
    "Input records this process ingested, by the stage that decided their outcome, the outcome "
    "they had when their batch committed, and the outcome's reason ('' when it has none).",
    ["stage", "outcome", "reason"],
    registry=REGISTRY,
)
READ_BYTES = Counter(
    "pipeline_read",
    "Bytes of the raw records this process ingested: each record's verbatim text (a CSV or "
    "Parquet row: as read or rendered), as the ingest counts them, before parsing.",
    unit="bytes",
    registry=REGISTRY,
)

# Rating is `Warehouse.ingest`: validate, correlate, fraud and rate, then commit. The last three
# re-judge what the new records touch, so the time follows the batch: ~0.2 s for a streaming
# batch or the worked example (205 records), about 8 s for a replay of a million, minutes for
# tens of millions.
# The default buckets stop at 10 s, where a large replay would land in +Inf; these run from
# 10 ms to 30 min in steps of about x2.5, so p50/p99 stay readable over that whole range.
RATING_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 150, 300, 600, 1800)
RATING_SECONDS = Histogram(
    "pipeline_rating_duration",
    "Wall time of one ingest (validate, correlate, fraud, rate, commit): a whole `replay` run, "
    "or one streaming batch.",
    unit="seconds",
    buckets=RATING_BUCKETS,
    registry=REGISTRY,
)

# Billing one period reads its rated records and SLA intervals and tiers in exact arithmetic in
# Python: tens of ms for a few accounts, minutes for a month of a large tenant base. Same range
# and reasoning as rating.
BILLING_BUCKETS = RATING_BUCKETS
BILLING_SECONDS = Histogram(
    "pipeline_billing_duration",
    "Wall time of one `bill` (invoices and SLA credits of one period, stored in one transaction).",
    unit="seconds",
    buckets=BILLING_BUCKETS,
    registry=REGISTRY,
)

# A worker batch (up to ~1000 records) is written with its offsets in one transaction. Healthy
# writes take milliseconds to a few hundred ms; the interesting tail is 1-60 s, where the worker
# falls behind and consumer lag grows. Default buckets start at 5 ms but are too coarse between
# 1 s and 10 s and stop there; these add 2, 20 and 60 s so a slowing writer shows before it stalls.
BATCH_WRITE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60)
BATCH_WRITE_SECONDS = Histogram(
    "pipeline_batch_write_duration",
    "Streaming worker: time from a batch taken off the topic to its records and offsets committed "
    "in the warehouse.",
    unit="seconds",
    buckets=BATCH_WRITE_BUCKETS,
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "pipeline_consumer_lag_records",
    "Streaming worker: records on the partition not yet committed to the warehouse (the "
    "partition's end offset minus the warehouse's next offset).",
    ["topic", "partition"],
    registry=REGISTRY,
)
LAST_SUCCESS = Gauge(
    "pipeline_last_success_timestamp",
    "When a command last finished successfully, unix time.",
    ["command"],
    unit="seconds",
    registry=REGISTRY,
)

# -- what the warehouse holds ------------------------------------------------------------------

WAREHOUSE_RECORDS = Gauge(
    "pipeline_warehouse_records",
    "Every record ingested into the warehouse, by its current outcome and reason ('' when it has "
    "none): the numbers `pipeline export reconcile` prints.",
    ["outcome", "reason"],
    registry=REGISTRY,
)
FRAUD_FLAGS = Gauge(
    "pipeline_fraud_flags",
    "Records a fraud rule marks, by rule (reason) and review status (open, confirmed, dismissed).",
    ["reason", "status"],
    registry=REGISTRY,
)
UNBILLED = Gauge(
    "pipeline_unbilled_records",
    "Valid usage records that could not be priced, by reason and billing period (YYYY-MM).",
    ["reason", "period"],
    registry=REGISTRY,
)
# Gauges are float64: exact to the cent up to ~10^13, plenty for a dashboard; the invoices in the
# warehouse stay the record. The amount is in units of `currency`, not a Prometheus base unit,
# hence no unit suffix.
INVOICED = Gauge(
    "pipeline_invoiced_amount",
    "Sum of the stored invoices' totals (tax included) by currency and period, in currency units.",
    ["currency", "period"],
    registry=REGISTRY,
)
LAST_EVENT = Gauge(
    "pipeline_last_event_timestamp",
    "Latest event time among the accepted records, unix time (0 while there is none).",
    unit="seconds",
    registry=REGISTRY,
)
WAREHOUSE_BYTES = Gauge(
    "pipeline_warehouse_size",
    "Bytes on disk under the warehouse directory (DuckDB file, its WAL, Parquet exports).",
    unit="bytes",
    registry=REGISTRY,
)

# What each batch command writes to its textfile: disjoint series, so both files can sit in one
# node-exporter directory. `LAST_SUCCESS` is in both, under different `command` values.
REPLAY_METRICS = (
    RECORDS,
    READ_BYTES,
    RATING_SECONDS,
    LAST_SUCCESS,
    WAREHOUSE_RECORDS,
    FRAUD_FLAGS,
    UNBILLED,
    LAST_EVENT,
    WAREHOUSE_BYTES,
)
BILL_METRICS = (BILLING_SECONDS, INVOICED, LAST_SUCCESS)


# -- updating ----------------------------------------------------------------------------------


def observe_records(rows: Iterable[tuple[str, str | None, int]]) -> None:
    """Count records by (outcome, reason, count) rows, e.g. one batch's."""
    for outcome, reason, n in rows:
        RECORDS.labels(STAGE_OF_OUTCOME[outcome], outcome, reason or "").inc(n)


def observe_replay(
    con: duckdb.DuckDBPyConnection,
    root: str | Path,
    *,
    counts: dict[str, Any],
    bytes_read: int,
    seconds: float,
) -> None:
    """After a committed `replay`: this run's records by outcome (`counts`: its reconcile
    object), bytes, time; warehouse state."""
    observe_records(outcome_rows(counts))
    READ_BYTES.inc(bytes_read)
    RATING_SECONDS.observe(seconds)
    observe_warehouse(con, root)
    LAST_SUCCESS.labels("replay").set(time.time())


def observe_bill(con: duckdb.DuckDBPyConnection, *, seconds: float) -> None:
    """After `bill`: its duration, and the invoiced amounts of every period stored so far (a file
    rewritten by the next period's bill keeps the earlier periods)."""
    BILLING_SECONDS.observe(seconds)
    _set_all(
        INVOICED,
        con.execute(
            "SELECT currency, period, sum(total) FROM invoices GROUP BY ALL ORDER BY ALL"
        ).fetchall(),
    )
    LAST_SUCCESS.labels("bill").set(time.time())


def observe_warehouse(con: duckdb.DuckDBPyConnection, root: str | Path) -> None:
    """Read the warehouse's state into the gauges: outcomes, flags, unbilled, newest event, size."""
    _set_all(
        WAREHOUSE_RECORDS,
        con.execute(
            "SELECT outcome, coalesce(reason, ''), count(*) FROM record_outcomes"
            " GROUP BY ALL ORDER BY ALL"
        ).fetchall(),
    )
    _set_all(
        FRAUD_FLAGS,
        con.execute(
            "SELECT reason, status, count(*) FROM fraud_flags GROUP BY ALL ORDER BY ALL"
        ).fetchall(),
    )
    _set_all(
        UNBILLED,
        con.execute(
            "SELECT reason, coalesce(period, ''), count(*) FROM unbilled_records"
            " GROUP BY ALL ORDER BY ALL"
        ).fetchall(),
    )
    # `events` holds exactly the accepted records of `record_outcomes`, without its joins.
    (newest,) = con.execute("SELECT epoch_us(max(time)) FROM events").fetchall()[0]
    LAST_EVENT.set(0 if newest is None else newest / 1e6)
    WAREHOUSE_BYTES.set(directory_size(Path(root)))


def observe_batch_write(seconds: float, *, bytes_read: int = 0, ingest_s: float = 0.0) -> None:
    """Streaming worker: one batch committed (`seconds` from taken to committed), its records'
    raw bytes, and its ingest time (validation to rating: what `replay` reports for a run)."""
    BATCH_WRITE_SECONDS.observe(seconds)
    READ_BYTES.inc(bytes_read)
    RATING_SECONDS.observe(ingest_s)


def observe_consumer_lag(
    lags: Mapping[tuple[str, int], int], *, assigned: Iterable[tuple[str, int]] | None = None
) -> None:
    """Streaming worker: records behind per (topic, partition). Partitions not in `lags` keep
    their last value (a batch holds only some partitions). With `assigned`, partitions outside it
    drop out: after a rebalance the new owner reports them, and two workers must not both count."""
    for (topic, partition), lag in lags.items():
        CONSUMER_LAG.labels(topic, str(partition)).set(max(lag, 0))
        _lag_partitions.add((topic, partition))
    if assigned is not None:
        for key in _lag_partitions - set(assigned):
            CONSUMER_LAG.remove(key[0], str(key[1]))
            _lag_partitions.discard(key)


_lag_partitions: set[tuple[str, int]] = set()  # the (topic, partition) series CONSUMER_LAG has


def _set_all(gauge: Gauge, rows: Iterable[tuple[Any, ...]]) -> None:
    """Replace every series of a labelled gauge: label values, then the value, per row."""
    gauge.clear()  # a label set absent from the rows is gone from the warehouse: drop it
    for *labels, value in rows:
        gauge.labels(*labels).set(float(value))


def directory_size(root: Path) -> int:
    """Bytes of the regular files under `root` (a file removed while we walk counts 0)."""
    total = 0
    for path in root.rglob("*"):
        try:
            if path.is_file():
                total += path.stat().st_size
        except FileNotFoundError:
            pass
    return total


# -- exporting ---------------------------------------------------------------------------------


class _Only:
    """A view of some of the registry's metrics, for `write_to_textfile` (it takes any object
    with `collect()`)."""

    def __init__(self, metrics: Iterable[MetricWrapperBase]) -> None:
        self.metrics = tuple(metrics)

    def collect(self) -> Iterator[Any]:
        for metric in self.metrics:
            yield from metric.collect()


def write_textfile(path: str | Path, metrics: Iterable[MetricWrapperBase] | None = None) -> None:
    """Write `metrics` (default: all) in node-exporter's textfile format, atomically: to a
    temporary file beside `path`, then renamed over it, so the collector never reads half a file.
    The collector only reads files named `*.prom`."""
    source: Collector = REGISTRY if metrics is None else _Only(metrics)  # type: ignore[assignment]
    write_to_textfile(str(path), source)


def serve(port: int, addr: str = "0.0.0.0") -> Any:
    """Expose every metric over HTTP on `addr:port` for Prometheus (the streaming worker);
    returns the server, to `shutdown()` when the worker stops."""
    server, _thread = start_http_server(port, addr=addr, registry=REGISTRY)
    return server
