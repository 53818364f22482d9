"""One micro-batch of `events.raw` messages into the warehouse: the worker's only write.

Exactly once comes from here, not from the broker: a batch's records and the offsets it ends at
are stored in one warehouse transaction (`Warehouse.ingest`), and before that, under the same
warehouse lock, every message below the partition's stored next offset is dropped. So a batch
written twice (a worker killed after the commit but before it told the broker, two workers that
both read a partition across a rebalance, a lost broker commit) adds nothing the second time,
and a crash before the commit leaves nothing behind to double.

No I/O but the warehouse, no asyncio: the worker calls `write_batch` in a thread, tests call it
with hand-made messages.
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from .. import outbox
from ..ruleset import RuleSet
from ..warehouse import IngestSummary, Warehouse
from .messages import RawMessage, messages_to_table

log = logging.getLogger(__name__)

Partition = tuple[str, int]  # (topic, partition)
Outcomes = list[tuple[str, str | None, int]]  # (outcome, reason, records), for the metrics


@dataclass(frozen=True)
class Part:
    """One partition's share of a batch: its messages' offsets, ascending, and their table."""

    offsets: list[int]
    table: pa.Table


def prepare(batch: Mapping[Partition, Sequence[RawMessage]]) -> dict[Partition, Part]:
    """Decode a batch into tables before taking the warehouse lock (the lock is held only for
    the write itself). Each partition's messages must be in offset order, as fetched."""
    return {
        key: Part([m.offset for m in msgs], messages_to_table(msgs))
        for key, msgs in batch.items()
        if msgs
    }


@dataclass(frozen=True)
class OnlyRun:
    """On `partitions`, store only the records of run `run_key` (the others are passed over):
    what `pipeline stream` uses, so that it adds its own files to its warehouse, as `replay`
    would. On the partitions in `keep` (those the warehouse had read before: a worker may
    consume them for it) the records passed over are left for that worker: the stored offset
    stays at the first of them, and the run's own records after it are stored by their
    position (a worker that reads them again stores them once). Elsewhere it moves past them."""

    run_key: int
    partitions: frozenset[Partition]
    keep: frozenset[Partition] = frozenset()


@dataclass
class Fresh:
    """What of a batch is new to the warehouse, and the offsets to store with it."""

    tables: list[pa.Table] = field(default_factory=list)
    offsets: dict[Partition, int] = field(default_factory=dict)
    records: int = 0
    skipped: int = 0  # already in the warehouse
    passed: int = 0  # of other runs, on `OnlyRun` partitions


def fresh(
    parts: Mapping[Partition, Part],
    stored: Mapping[Partition, int],
    start: Mapping[Partition, int] | None = None,
    only: OnlyRun | None = None,
) -> Fresh:
    """Drop the messages below each partition's stored next offset (already in the warehouse).

    `start` is where a partition begins for a warehouse that has stored nothing for it yet
    (default 0: the beginning of the log). Offsets only move forward: a partition whose
    messages are all old keeps its stored offset.
    """
    start = start or {}
    out = Fresh()
    for key, part in parts.items():
        begin = stored.get(key, start.get(key, 0))
        cut = bisect_left(part.offsets, begin)
        out.skipped += cut
        if cut == len(part.offsets):
            continue
        keep = only is not None and key in only.keep
        if part.offsets[cut] > begin and not keep:
            # Offsets of a plain topic are dense; a hole means the log no longer holds them
            # (retention) or a consumer skipped some: say so, there is nothing to re-read.
            # (On a `keep` partition it is the stored offset held at a record passed over.)
            log.warning("%s[%d]: offsets %d..%d are missing", *key, begin, part.offsets[cut] - 1)
        table = part.table.slice(cut)
        end = part.offsets[-1] + 1
        if only is not None and key in only.partitions:
            is_mine = pc.equal(table.column("run_key"), only.run_key)
            mine = table.filter(is_mine)
            out.passed += table.num_rows - mine.num_rows
            if keep and part.offsets[cut] > begin:
                end = begin  # held at a record an earlier batch passed over
            elif keep and mine.num_rows < table.num_rows:
                end = part.offsets[cut + pc.index(is_mine, False).as_py()]
            table = mine
        if table.num_rows:
            out.tables.append(table)
            out.records += table.num_rows
        out.offsets[key] = end
    # A partition this warehouse starts at `start` records that start even before it holds any
    # of its records, so the next worker does not begin that partition at 0.
    for key, begin in start.items():
        if key not in stored and key not in out.offsets:
            out.offsets[key] = begin
    return out


@dataclass(frozen=True)
class Written:
    """The result of one `write_batch`."""

    records: int  # messages stored by this write (a blank line would be one, but none is sent)
    skipped: int  # messages the warehouse already held (or, with `only`, of other runs; or a
    # second copy of a message, which a producer retrying a send leaves in the log)
    offsets: dict[Partition, int]  # every stored next offset of the cluster, after the write
    run_records: int | None = None  # records of `run_key` in the warehouse, when asked
    outcomes: Outcomes | None = None  # this write's records by outcome, when asked
    feed: Feed | None = None  # the outcome messages to send after this write, if any
    bytes_read: int = 0  # raw bytes of the records stored
    ingest_s: float = 0.0  # validation to rating, as `replay` measures its own


Feed = tuple[int, pa.Table]  # (version, messages): see outbox.messages


def write_batch(
    warehouse: str | Path,
    rules: RuleSet,
    parts: Mapping[Partition, Part],
    *,
    cluster: str,
    start: Mapping[Partition, int] | None = None,
    only: OnlyRun | None = None,
    run_key: int | None = None,
    outcomes: bool = False,
    ack: int | None = None,
    after: int = 0,
) -> Written:
    """Store the new part of a batch with the offsets it ends at, in one transaction, holding
    the warehouse lock only for this call (two workers share a warehouse by taking turns).

    The outcome feed: first forget the outbox notes the broker acknowledged (`ack`, the version
    of the last feed sent), then read the outcomes noted since the read of version `after` (by
    this write, or by others nobody read yet)."""
    with Warehouse.open(warehouse, write=True, create=True, ingest=True) as wh:
        if ack is not None:
            outbox.acknowledge(wh.con, ack)
        new = fresh(parts, wh.offsets(cluster), start, only)
        since = wh.last_eid()
        summary, started = IngestSummary(), time.perf_counter()
        if new.offsets:
            summary = wh.ingest(
                new.tables,
                rules,
                command="stream",
                offsets=new.offsets,
                cluster=cluster,
                once=True,
            )
        stored = summary.records
        return Written(
            bytes_read=summary.bytes_read,
            ingest_s=time.perf_counter() - started,
            records=stored,  # a second copy of a message (a producer's retry) is skipped
            skipped=new.skipped + new.passed + new.records - stored,
            offsets=wh.offsets(cluster),
            run_records=None if run_key is None else wh.run_count(run_key),
            outcomes=batch_outcomes(wh, since, new.tables) if outcomes and new.records else None,
            feed=_feed(wh, after),
        )


def _feed(wh: Warehouse, after: int) -> Feed | None:
    return outbox.messages(wh.con, after) if outbox.pending(wh.con, after) else None


def pending_feed(warehouse: str | Path, after: int = 0) -> Feed | None:
    """What `write_batch` would send with no records: the outcomes noted and not yet read (by a
    worker that stopped first, or by `replay` or `flags` while the feed is on)."""
    if not Path(warehouse, "warehouse.duckdb").exists():
        return None
    with Warehouse.open(warehouse, write=True) as wh:
        return _feed(wh, after)


def acknowledge_feed(warehouse: str | Path, version: int) -> None:
    """Forget the notes of the reads up to `version`: the broker acknowledged their messages."""
    with Warehouse.open(warehouse, write=True) as wh:
        outbox.acknowledge(wh.con, version)


def set_feed(warehouse: str | Path, on: bool) -> None:
    """Turn the warehouse's outcome feed on or off (`worker --feed/--no-feed`)."""
    with Warehouse.open(warehouse, write=True, create=True) as wh:
        outbox.set_enabled(wh.con, on)


def batch_outcomes(wh: Warehouse, since: int, tables: list[pa.Table]) -> Outcomes:
    """The outcome of each record a write stored, as judged at its commit: accepted records are
    the events after eid `since`; rejected ones are found by their (run, file, line)."""
    keys = pa.concat_tables([t.select(["run_key", "file_idx", "line"]) for t in tables])
    wh.con.register("batch_keys", keys)
    try:
        rows = wh.con.execute(
            "SELECT outcome, reason, count(*) FROM record_outcomes WHERE eid > ? GROUP BY ALL"
            " UNION ALL SELECT 'rejected', reason, count(*)"
            " FROM rejected SEMI JOIN batch_keys USING (run_key, file_idx, line) GROUP BY ALL",
            [since],
        ).fetchall()
    finally:
        wh.con.unregister("batch_keys")
    return [(o, r, int(n)) for o, r, n in rows]


def stored_offsets(warehouse: str | Path, cluster: str) -> dict[Partition, int]:
    """The warehouse's next offsets for `cluster` ({} for a warehouse not made yet)."""
    if not Path(warehouse, "warehouse.duckdb").exists():
        return {}
    with Warehouse.open(warehouse) as wh:
        return wh.offsets(cluster)


def run_records(warehouse: str | Path, run_key: int) -> int:
    """Records of run `run_key` in the warehouse so far (0 for a warehouse not made yet)."""
    if not Path(warehouse, "warehouse.duckdb").exists():
        return 0
    with Warehouse.open(warehouse) as wh:
        return wh.run_count(run_key)
