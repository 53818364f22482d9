"""The worker's consuming loop, run by faust: fetch `events.raw` -> micro-batch -> warehouse ->
commit the offsets to the broker.

Why not a faust agent (`stream.take_events(...)`): faust turns every record into a `Message` and
an `Event`, routes it through the conductor to the agent's queue and acks it one by one. Measured
on the 2-core reference machine with 99,900 records and nothing else done with them, that path
delivered 3,900 records/s, and the per-record Python left less CPU for DuckDB; the consumer's
batched fetch (`Consumer._wait_next_records`: aiokafka's `getmany`, the records still as
fetched) delivered 61,000 records/s on the same run. So the worker keeps faust for what it does
well -- group membership, rebalancing, heartbeats from the consumer thread, start-up and
shut-down order -- and replaces the two consumer methods that decide what is read:

- `perform_seek` (called by faust after every assignment, before fetching resumes) seeks each
  assigned partition to the next offset the *warehouse* stored for this broker cluster, not to
  the broker's committed offset: that one may be behind (killed before committing), ahead (a
  warehouse re-created under the same path keeps its consumer group) or from another log.
- `_drain_messages` (the body of faust's Fetcher service, started after the seek) is the batch
  loop below instead of the per-message dispatch.

Warehouse work runs in one worker thread (`executor`), so the event loop keeps serving faust
while DuckDB writes, and the process never has two warehouse connections at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from .. import metrics
from ..config import STREAM_BATCH_SIZE, STREAM_MAX_WAIT_S
from ..errors import WarehouseBusy
from ..ruleset import RuleSet
from .batch import (
    Feed,
    OnlyRun,
    Partition,
    Written,
    acknowledge_feed,
    pending_feed,
    prepare,
    run_records,
    stored_offsets,
    write_batch,
)
from .broker import cluster_id
from .feed import FeedSender
from .messages import RAW_TOPIC, RawMessage

log = logging.getLogger(__name__)
T = TypeVar("T")

WriteResult = tuple[Written, float]  # what a write stored, and its seconds

IDLE_FETCH_S = 1.0  # how long one fetch may wait when nothing is pending
BUSY_FETCH_S = 0.05  # ... while a batch is being written (to notice its end promptly)


@dataclass(frozen=True)
class Settings:
    broker_url: str
    warehouse: Path
    rules: RuleSet
    # Each batch re-judges against what the warehouse holds (scans that grow with it), so a
    # backlog drains faster in big batches: 1M events went through at 40k events/s in batches
    # of 100k and at 60k in batches of 250k. 250k bounds the records held in memory (~250 MB).
    # Under light load batches stay small: one is written as soon as the writer is free and
    # its first record waited `max_wait_s`.
    batch_size: int = STREAM_BATCH_SIZE
    max_wait_s: float = STREAM_MAX_WAIT_S
    metrics: bool = False  # count outcomes and lag for Prometheus (costs a query per batch)


@dataclass(frozen=True)
class Target:
    """What `pipeline stream` waits for: all `records` of run `run_key` in the warehouse."""

    run_key: int
    records: int


class Pending:
    """Fetched records not yet handed to the writer, per partition in offset order."""

    def __init__(self) -> None:
        self.parts: dict[Partition, list[RawMessage]] = {}
        self.count = 0
        self.since: float | None = None  # when the oldest pending record was fetched

    def add(self, records: Mapping[Any, Sequence[RawMessage]], now: float) -> None:
        for tp, recs in records.items():
            if recs:
                self.parts.setdefault((tp.topic, tp.partition), []).extend(recs)
                self.count += len(recs)
        if self.count and self.since is None:
            self.since = now

    def due(self, now: float, batch_size: int, max_wait_s: float) -> bool:
        return self.count >= batch_size or (
            self.since is not None and now - self.since >= max_wait_s
        )

    def wait_s(self, now: float, max_wait_s: float) -> float:
        """How long a fetch may block before this batch is due."""
        if self.since is None:
            return IDLE_FETCH_S
        return max(0.0, min(IDLE_FETCH_S, self.since + max_wait_s - now))

    def take(self, limit: int) -> dict[Partition, list[RawMessage]]:
        """Up to `limit` records, the oldest of each partition, shared evenly between them; the
        rest stay pending (and stay due: they are as old as they were)."""
        if self.count <= limit:
            parts = self.parts
            self.clear()
            return parts
        share = [limit // len(self.parts)] * len(self.parts)
        spare = limit - sum(share)
        out: dict[Partition, list[RawMessage]] = {}
        for i, (key, recs) in enumerate(sorted(self.parts.items(), key=lambda kv: len(kv[1]))):
            n = min(len(recs), share[i] + spare)  # a short partition leaves its share to the next
            spare = share[i] + spare - n
            if n:
                out[key], self.parts[key] = recs[:n], recs[n:]
        self.parts = {k: v for k, v in self.parts.items() if v}
        self.count -= sum(map(len, out.values()))
        return out

    def clear(self) -> None:
        self.parts, self.count, self.since = {}, 0, None


class Ingestor:
    """The worker's state and its two jobs for faust's consumer: where to start, what to do
    with what it fetches. `done` is set when a `target` is reached or the loop failed (`error`).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        cluster: str,
        start: Mapping[Partition, int] | None = None,
        only: OnlyRun | None = None,
        target: Target | None = None,
    ) -> None:
        self.settings, self.cluster, self.target = settings, cluster, target
        self.start = dict(start or {})  # where a partition begins when the warehouse has none
        self.only = only  # see batch.OnlyRun
        self.pending = Pending()
        self.epoch = 0  # bumped by every seek: a fetch begun before it is stale
        self.positions: dict[Partition, int] = {}  # the warehouse's next offsets, last seen
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="warehouse")
        self.done = asyncio.Event()
        self.error: BaseException | None = None
        self.records = 0  # records this process stored
        self.batches = 0
        self.feed = FeedSender(settings.broker_url)  # the outcome topics (feed.py)
        self.ack: int | None = None  # version of the last feed the broker acknowledged
        self.read_upto = 0  # version of the last feed read: notes up to it are sent or sending
        self.sending: asyncio.Future[None] | None = None  # at most one feed in flight
        self.fed = 0  # outcome messages sent

    async def in_thread(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, partial(fn, *args, **kw))

    # -- where to start ----------------------------------------------------------------------

    async def seek(self, consumer: faust_aiokafka.Consumer) -> None:
        """Seek every assigned partition to the warehouse's next offset for this cluster."""
        cluster = await cluster_id(self.settings.broker_url)
        if cluster != self.cluster:  # the broker was replaced under us: its log starts anew
            log.warning(
                "broker cluster changed (%s -> %s): offsets start over", self.cluster, cluster
            )
            self.cluster, self.start, self.only = cluster, {}, None
        self.positions = await self.in_thread(stored_offsets, self.settings.warehouse, self.cluster)
        self.epoch += 1
        self.pending.clear()  # fetched from the old positions: will be fetched again
        seeks = {tp: self.begin((tp.topic, tp.partition)) for tp in consumer.assignment()}
        seeks = {tp: o for tp, o in seeks.items() if tp.topic == RAW_TOPIC}
        if seeks:
            await consumer.seek_wait(seeks)
        where = ", ".join(f"{tp.partition}@{o}" for tp, o in sorted(seeks.items()))
        log.info("assigned partitions %s", where or "none")

    def begin(self, key: Partition) -> int:
        """Where to read a partition from: the warehouse's next offset, else its start."""
        return self.positions.get(key, self.start.get(key, 0))

    # -- what to do with it ------------------------------------------------------------------

    async def drain(self, consumer: faust_aiokafka.Consumer, fetcher: Any) -> None:
        """Fetch, batch, write, commit, until faust stops the fetcher or `done` is set."""
        s = self.settings
        writing: asyncio.Future[WriteResult] | None = None
        last_check = time.monotonic()
        try:
            await self._flush_feed()  # what the last worker or another command left unsent
            while not (consumer.should_stop or fetcher.should_stop or self.done.is_set()):
                if writing is not None and writing.done():
                    result, writing = writing.result(), None
                    await self._finish(consumer, result)
                    last_check = time.monotonic()
                    continue
                now = time.monotonic()
                if writing is None and self.pending.due(now, s.batch_size, s.max_wait_s):
                    writing = asyncio.ensure_future(self._write(self.pending.take(s.batch_size)))
                    continue
                if writing is not None and self.pending.count >= s.batch_size:
                    await asyncio.wait({writing})  # full: let the writer catch up
                    continue
                if writing is None and not self.pending.count and now - last_check >= 1.0:
                    last_check = now
                    await self._check_target()  # another worker may have written our run
                    continue
                wait = self.pending.wait_s(now, s.max_wait_s) if writing is None else BUSY_FETCH_S
                epoch = self.epoch
                records, _ = await consumer._wait_next_records(wait)
                if records and epoch == self.epoch:
                    self.pending.add(records, time.monotonic())
        except Exception as exc:  # handed to the command, which reports it
            self.error = exc
            self.done.set()
        finally:
            if writing is not None:  # stopping mid-write: let the transaction finish
                try:
                    self._account(*await asyncio.shield(writing))
                except Exception as exc:
                    self.error = self.error or exc

    async def _write(self, batch: dict[Partition, list[RawMessage]]) -> WriteResult:
        started = time.monotonic()
        s = self.settings
        ack = self.ack
        parts = await self.in_thread(prepare, batch)
        while True:
            try:
                written = await self.in_thread(
                    write_batch,
                    s.warehouse,
                    s.rules,
                    parts,
                    cluster=self.cluster,
                    start=self.start,
                    only=self.only,
                    run_key=None if self.target is None else self.target.run_key,
                    outcomes=s.metrics,
                    ack=ack,
                    after=self.read_upto,
                )
                if self.ack == ack:  # (a send may have ended meanwhile: its ack is for later)
                    self.ack = None  # the write forgot what was acknowledged
                return written, time.monotonic() - started
            except WarehouseBusy as exc:
                # Another command holds the warehouse longer than PIPELINE_LOCK_TIMEOUT (a long
                # `bill`): wait for it rather than stop consuming. Other warehouse errors stop.
                log.warning("%s; still waiting", exc)

    async def close_feed(self) -> None:
        """After the consumer stopped (faust cancels the fetch loop, more than once, so this
        cannot run there): send what is noted and unsent, acknowledge it, stop the producer."""
        try:
            await self._sent()
            await self._flush_feed()
            if self.ack is not None:
                await self.in_thread(acknowledge_feed, self.settings.warehouse, self.ack)
                self.ack = None
        except Exception as exc:  # sent again by the next worker: nothing is lost
            log.warning("outcome feed not fully sent before stopping: %s", exc)
        finally:
            await self.feed.stop()

    async def _flush_feed(self) -> None:
        """Send the outcomes noted and not yet read, and wait for the broker's acknowledgement."""
        feed = await self.in_thread(pending_feed, self.settings.warehouse, self.read_upto)
        if feed is not None:
            self.read_upto = feed[0]
            await self._send_feed(feed)

    async def _send_feed(self, feed: Feed) -> None:
        """Publish a read's outcome messages; the next write forgets their outbox notes."""
        version, table = feed
        self.fed += await self.feed.send(table)
        self.ack = version
        log.info("outcome feed: %d message(s), version %d", table.num_rows, version)

    async def _sent(self) -> None:
        """Wait for the feed in flight, if any (raises its error)."""
        if self.sending is not None:
            sending, self.sending = self.sending, None
            await sending

    def _sending(self, feed: Feed) -> None:
        """Send a write's feed while the next batch is written (the send is Python and broker
        work, the write DuckDB's threads); the next feed waits for it, so one is in flight. A
        failed send stops the worker: its notes stay, and the next worker sends them."""
        self.read_upto = feed[0]
        self.sending = asyncio.ensure_future(self._send_feed(feed))

        def failed(f: asyncio.Future[None]) -> None:
            if not f.cancelled() and f.exception() is not None:
                self.error = self.error or f.exception()
                self.done.set()

        self.sending.add_done_callback(failed)

    async def _finish(self, consumer: faust_aiokafka.Consumer, result: WriteResult) -> None:
        written = result[0]
        if written.feed is not None:
            await self._sent()
            self._sending(written.feed)
        assigned = consumer.assignment()
        commit = {tp: o for (t, p), o in written.offsets.items() if (tp := TP(t, p)) in assigned}
        try:  # after the warehouse, never before; a lost commit only costs re-reading
            if commit:
                await consumer._commit(commit)
        except Exception as exc:
            log.warning("could not commit offsets to the broker (harmless): %s", exc)
        if self.settings.metrics:
            # Lag from the high watermark of the last fetch response (right on Tansu too, unlike
            # its ListOffsets answer) minus what the warehouse holds.
            mine = [(tp.topic, tp.partition) for tp in assigned if tp.topic == RAW_TOPIC]
            lags = {}
            for key in mine:
                if (high := consumer.highwater(TP(*key))) is not None:
                    lags[key] = high - written.offsets.get(key, self.begin(key))
            metrics.observe_consumer_lag(lags, assigned=mine)
        self._account(*result)  # last: it may end the loop (`done`)

    def _account(self, written: Written, seconds: float) -> None:
        self.records += written.records
        self.batches += 1
        self.positions.update(written.offsets)
        if self.settings.metrics:
            metrics.observe_batch_write(
                seconds, bytes_read=written.bytes_read, ingest_s=written.ingest_s
            )
            if written.outcomes:
                metrics.observe_records(written.outcomes)
        log.info(
            "batch %d: %d record(s) stored, %d passed over, %.2f s; next offsets %s",
            self.batches,
            written.records,
            written.skipped,
            seconds,
            ", ".join(f"{p}@{o}" for (_, p), o in sorted(written.offsets.items())),
        )
        if self.target and (written.run_records or 0) >= self.target.records:
            self.done.set()

    async def _check_target(self) -> None:
        if self.target is None:
            return
        n = await self.in_thread(run_records, self.settings.warehouse, self.target.run_key)
        if n >= self.target.records:
            self.done.set()


FETCH_MAX_WAIT_MS = 100  # how long the broker may hold a fetch that finds nothing new


class BatchConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer, reading in batches for the app's `Ingestor` (see above)."""

    # faust's lifecycle lines ("Starting...") under a faust name, not this module's (mode names a
    # service's logger after the module of its class unless the class sets one).
    logger = logging.getLogger("faust.pipeline")

    @property
    def ingestor(self) -> Ingestor:
        return cast(WorkerApp, self.app).ingestor

    async def perform_seek(self) -> None:
        # faust creates aiokafka's consumer with fetch_max_wait_ms=1500 and no setting for it:
        # a fetch that finds a partition empty is answered up to 1.5 s later even when records
        # arrive meanwhile (the broker does not wake it), and the records published behind it
        # wait that long. The fetcher is aiokafka's, created by now.
        fetcher = self._thread._ensure_consumer()._fetcher  # type: ignore[attr-defined]
        fetcher._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        await self.ingestor.seek(self)

    async def _drain_messages(self, fetcher: Any) -> None:
        await self.ingestor.drain(self, fetcher)


class WorkerApp(faust.App):
    """A faust app whose consumer is a `BatchConsumer` serving `ingestor`."""

    logger = logging.getLogger("faust.pipeline")
    ingestor: Ingestor

    def _new_consumer(self) -> BatchConsumer:
        return BatchConsumer(
            self.transport,
            callback=self.topics.on_message,
            on_partitions_revoked=self._on_partitions_revoked,
            on_partitions_assigned=self._on_partitions_assigned,
            beacon=self.beacon,
            loop=self.transport.loop,
        )
