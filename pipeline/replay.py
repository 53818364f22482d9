"""The batch commands, end to end: `replay` (collect -> validate -> correlate -> fraud -> rate,
into the warehouse) and `bill` (invoices and SLA credits of one period)."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

from .collect import check_inputs, prefetch, read_files
from .exports import run_outcomes
from .invoice import (
    FIRST_PERIOD,
    LAST_PERIOD,
    build_invoices,
    in_range,
    period_bounds,
    store_invoices,
)
from .outfile import atomic_path
from .query import copy_rated
from .revisions import record_revisions
from .rules import load_rules
from .summary import usage_periods
from .warehouse import Warehouse


def replay_files(
    rules_dir: str,
    warehouse: str,
    files: list[str],
    *,
    progress: bool,
    metrics_file: str | None = None,
) -> str:
    """Ingest FILES in one transaction; returns the summary line (the outcomes of its records). With
    `metrics_file`, write the replay's metrics there (textfile format) once it has committed."""
    rules = load_rules(rules_dir)  # a bad rule file stops here: nothing read, nothing written
    check_inputs(files)
    # (from the commit on, Ctrl-C waits for the command's end: see Warehouse.transaction)
    with (
        ExitStack() as command,
        Warehouse.open(warehouse, write=True, create=True, ingest=True) as wh,
    ):
        run_key = wh.next_run_key()
        batches = prefetch(read_files(files, run_key))
        if progress:
            from .progress import with_progress

            batches = with_progress(batches, files)
        started = time.perf_counter()
        summary = wh.ingest(batches, rules, command="replay", files=files, command_stack=command)
        seconds = time.perf_counter() - started
        counts = run_outcomes(wh.con, run_key)
        if metrics_file is not None:
            from . import metrics  # (prometheus_client: only when asked for, 15 ms of a replay)

            metrics.observe_replay(
                wh.con, wh.root, counts=counts, bytes_read=summary.bytes_read, seconds=seconds
            )
            metrics.write_textfile(metrics_file, metrics.REPLAY_METRICS)
    return f"replayed {summary.records} records from {len(files)} file(s); " + summary_line(counts)


def summary_line(counts: dict) -> str:  # type: ignore[type-arg]
    """`outcomes: input N, rejected N, ...` (a run's records) with the reason maps folded to
    totals."""
    parts = [f"{k} {sum(v.values()) if isinstance(v, dict) else v}" for k, v in counts.items()]
    return "outcomes: " + ", ".join(parts)


def bill_period(
    rules_dir: str, warehouse: str, period: str, *, metrics_file: str | None = None
) -> str:
    """Bill one period (or `all`: every period holding usage) with the given rules, replacing
    those periods' invoices, in one transaction. With `metrics_file`, write billing metrics.

    Each period's rated records are first written to its partition,
    `rated/period=P/rated.parquet`, and the invoices are computed from that file: billing reads
    one pass over the period's records, and the partition an analyst reads holds exactly the
    records billed. The file is renamed into place only after the invoices commit, so a failed
    or killed bill leaves the previous partition and invoices together. Invoices that differ
    from what the last bill issued are also kept as revisions (revisions.py), and counted in the
    summary line."""
    if period != "all":
        period_bounds(period)
    rules = load_rules(rules_dir)
    billed = []
    with ExitStack() as command, Warehouse.open(warehouse, write=True) as wh:
        started = time.perf_counter()
        # (the transaction exits first: the partitions are renamed only once it has committed,
        # and from the commit on Ctrl-C waits for the command's end)
        with ExitStack() as partitions, wh.transaction(command) as con:
            wh.record_rules(rules, "bill")
            periods = usage_periods(con) if period == "all" else [period]
            # `all`: a period a valid but extreme time falls in (UTC 0000-12, 10000-01) is
            # named as skipped, not a failure of every later `bill --period all`
            skipped = [p for p in periods if not in_range(p)]
            for p in (p for p in periods if in_range(p)):
                rated = partitions.enter_context(atomic_path(partition_file(wh, p)))
                copy_rated(con, p, rated)
                invoices, availability = build_invoices(con, rules, p, rated)
                store_invoices(con, p, invoices, availability, rules.digest)
                changed = str(record_revisions(con, p, rules.digest))
                billed.append(
                    f"{p}: {len(invoices)} invoice(s)" + (f" ({changed})" if changed else "")
                )
        if metrics_file is not None:
            from . import metrics

            metrics.observe_bill(wh.con, seconds=time.perf_counter() - started)
            metrics.write_textfile(metrics_file, metrics.BILL_METRICS)
    line = "billed " + ("; ".join(billed) or ("nothing" if skipped else "nothing: no usage yet"))
    if skipped:
        line += (
            f"; skipped {', '.join(skipped)}: outside the periods this pipeline bills"
            f" ({FIRST_PERIOD} to {LAST_PERIOD})"
        )
    return line


def partition_file(wh: Warehouse, period: str) -> Path:
    """The period's rated-records partition file, its directory made if missing and cleared of
    the temporary files of a bill killed while writing it (bill holds the warehouse's exclusive
    lock: their writers are gone)."""
    path = wh.rated_partition(period)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob("*.tmp"):
        stale.unlink(missing_ok=True)
    return path
