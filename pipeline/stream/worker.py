"""The bodies of `pipeline worker`, `pipeline stream` and `pipeline publish`: check the broker,
build the faust app around an `Ingestor` (ingest.py), run it until told to stop.

Where a warehouse starts reading a partition it has stored nothing for (of this broker cluster):

- `worker`: at the beginning of the log -- the warehouse is a consumer of the whole topic;
- `stream`: where the log ended just before it published.

Either way the position is stored with the first batch, and later workers continue from there.
Until its run is in, `stream` takes only its own run's records (`batch.OnlyRun`): a stream
adds exactly its own files to its warehouse, as `replay` would, even on a broker that other
runs filled before or fill meanwhile (other streams into other warehouses). On partitions the
warehouse had read before, the records it passes over stay for a later worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import faust

from .. import metrics
from ..collect import check_inputs, read_through
from ..errors import BrokerError, PipelineError
from ..exports import run_outcomes
from ..warehouse import Warehouse, new_run_key
from .app import data_dir, make_app, raw_topic
from .batch import OnlyRun, stored_offsets, write_batch
from .broker import cluster_id, ensure_topics, log_ends, require_broker
from .feed import FEED_TOPICS
from .ingest import Ingestor, Settings, Target, WorkerApp
from .messages import RAW_TOPIC, TOPICS
from .publish import publish_async, record_batches

log = logging.getLogger(__name__)
# One fetch returns at most this many records; the batch loop gathers fetches up to the batch
# size. aiokafka's own default (no limit) would hand over whole 4 MiB-per-partition fetches.
MAX_POLL_RECORDS = 10_000
# faust stops in a second or two, but can wait for ever on a consumer thread that died while the
# broker was unreachable; the warehouse is consistent whenever we leave. With the broker known
# gone, faust's stop only retries leaving the group and committing (it took 18 s): not waited for.
STOP_TIMEOUT_S = 20
STOP_BROKER_GONE_S = 2
# A broker that stops answering mid-run: aiokafka would retry for ever. It is probed every
# BROKER_CHECK_S; after BROKER_LOST_AFTER failed probes in a row the worker stops with an error.
BROKER_CHECK_S = 2.0
BROKER_LOST_AFTER = 3
ALL_TOPICS = {**TOPICS, **FEED_TOPICS}  # created with their partition counts before first use


def group_id(warehouse: str | Path) -> str:
    """The consumer group of a warehouse: one per warehouse directory, so the workers of one
    warehouse share the partitions while two warehouses each read every record."""
    digest = hashlib.sha256(os.path.realpath(warehouse).encode()).hexdigest()[:16]
    return f"pipeline-wh-{digest}"


def run_worker(settings: Settings, *, metrics_port: int | None = None) -> Ingestor:
    """`pipeline worker`: consume until SIGINT/SIGTERM; returns the finished ingestor."""
    require_broker(settings.broker_url)  # fail in seconds, before faust retries for ever
    with _metrics_server(metrics_port):
        return asyncio.run(_worker(settings))


async def _worker(settings: Settings) -> Ingestor:
    url = settings.broker_url
    await ensure_topics(url, ALL_TOPICS)
    ingestor = Ingestor(settings, cluster=await cluster_id(url))
    await run_app(ingestor)
    return ingestor


def ready_to_send(files: list[str], broker_url: str) -> None:
    """What `stream` and `publish` check before their first send: the files can be read (each
    to its end: one that fails part-way would leave part of a run on the broker) and a broker
    answers."""
    check_inputs(files)
    require_broker(broker_url)
    read_through(files)


def stream_files(settings: Settings, files: list[str]) -> str:
    """`pipeline stream`: publish FILES as a new run, consume until all of its records are in
    the warehouse, stop. Returns the summary line."""
    ready_to_send(files, settings.broker_url)
    run_key, count = asyncio.run(_stream(settings, files))
    with Warehouse.open(settings.warehouse) as wh:
        counts = run_outcomes(wh.con, run_key)
    from ..replay import summary_line

    return f"streamed {count} records from {len(files)} file(s) as run {run_key}; " + summary_line(
        counts
    )


async def _stream(settings: Settings, files: list[str]) -> tuple[int, int]:
    url = settings.broker_url
    await ensure_topics(url, ALL_TOPICS)
    cluster = await cluster_id(url)
    start = await log_ends(url, RAW_TOPIC)  # before publishing: our records come after
    read_before = frozenset(start) & set(stored_offsets(settings.warehouse, cluster))
    run_key = new_run_key()
    # Store where this warehouse starts before publishing: a stream killed (even by SIGKILL)
    # before its first batch then leaves a warehouse that a later worker goes on from, not
    # from the beginning of the log (which may hold other warehouses' runs).
    write_batch(settings.warehouse, settings.rules, {}, cluster=cluster, start=start)
    count = await publish_async(url, record_batches(files, run_key))
    if count == 0:  # nothing to wait for; still leave a warehouse with the rule set, as replay
        with Warehouse.open(settings.warehouse, write=True, create=True, ingest=True) as wh:
            wh.ingest([], settings.rules, command="stream")
        return run_key, 0
    ingestor = Ingestor(
        settings,
        cluster=cluster,
        start=start,
        only=OnlyRun(run_key, frozenset(start), keep=read_before),
        target=Target(run_key, count),
    )
    await run_app(ingestor)
    if not ingestor.done.is_set():  # stopped by SIGINT/SIGTERM first
        raise PipelineError(
            f"stream interrupted: run {run_key} is published ({count} records) but not all"
            " in the warehouse",
            hint="`pipeline worker` with the same --warehouse finishes it",
        )
    return run_key, count


async def publish_files(broker_url: str, files: list[str]) -> tuple[int, int]:
    """`pipeline publish`: (run key, records sent)."""
    ready_to_send(files, broker_url)
    run_key = new_run_key()
    return run_key, await publish_async(broker_url, record_batches(files, run_key))


async def run_app(ingestor: Ingestor) -> None:
    """Run a faust app feeding `ingestor` until its `done` is set, SIGINT/SIGTERM arrives or
    faust crashes; stop faust cleanly either way (leave the group, finish the batch being
    written). Raises the ingestor's error, if it had one."""
    settings = ingestor.settings
    with data_dir("faust") as state:
        app = make_app(
            settings.broker_url,
            data_dir=state,
            worker_id=f"{socket.gethostname()}-{os.getpid()}",
            group_id=group_id(settings.warehouse),
            app_class=WorkerApp,
            max_poll_records=MAX_POLL_RECORDS,
        )
        assert isinstance(app, WorkerApp)
        app.ingestor = ingestor
        app.topics.add(raw_topic(app, acks=False))  # subscribe: the conductor owns the topic list

        async def finish() -> None:
            await ingestor.close_feed()
            ingestor.executor.shutdown(wait=True)  # a batch being written is always finished

        lost: list[BrokerError] = []
        await serve(app, ingestor.done, cleanup=finish, watch=(settings.broker_url, lost))
    if ingestor.error is not None:
        raise ingestor.error
    if lost:
        raise BrokerError(
            f"the broker stopped answering while the worker ran ({lost[0]})",
            "what the warehouse holds stays, with the offsets it ends at; start the broker and"
            " run `pipeline worker` again (records it no longer holds must be published again)",
        )
    if app.crashed and app.crash_reason is not None:
        raise app.crash_reason


async def serve(
    app: faust.App,
    done: asyncio.Event | None = None,
    cleanup: Callable[[], Awaitable[None]] | None = None,
    watch: tuple[str, list[BrokerError]] | None = None,
) -> None:
    """Start a faust app and run it until `done` is set, SIGINT/SIGTERM arrives or faust
    crashes; stop it cleanly either way (leave the group, let agents finish what they hold),
    then call `cleanup`. `watch` (url, errors): also stop when the broker stops answering,
    with the last probe's error appended to `errors`."""
    stop = asyncio.Event()
    watcher = None
    if watch is not None:
        watcher = asyncio.ensure_future(_watch_broker(*watch, stop))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await app.start()
        waits = {asyncio.ensure_future(e.wait()) for e in (stop, done) if e is not None}
        while not app.crashed:  # faust crashed: it stops itself but sets none of ours
            finished, _ = await asyncio.wait(waits, timeout=0.5, return_when="FIRST_COMPLETED")
            if finished:
                break
        for w in waits:
            w.cancel()
    finally:
        if watcher is not None:
            watcher.cancel()
        # Still ours while faust stops: `timeout` sends SIGTERM to the worker and then to its
        # process group, and the second one must not kill a worker that is shutting down.
        gone = watch is not None and bool(watch[1])
        try:
            await asyncio.wait_for(app.stop(), STOP_BROKER_GONE_S if gone else STOP_TIMEOUT_S)
        except TimeoutError:
            if not gone:
                log.warning("faust did not stop in %d s: leaving anyway", STOP_TIMEOUT_S)
        if cleanup is not None:
            await cleanup()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _watch_broker(url: str, errors: list[BrokerError], stop: asyncio.Event) -> None:
    misses = 0
    while True:
        await asyncio.sleep(BROKER_CHECK_S)
        try:
            await asyncio.to_thread(require_broker, url)
            if misses:
                log.warning("the broker at %s answers again", url)
            misses = 0
        except BrokerError as exc:
            misses += 1
            log.warning("%s (probe %d of %d)", exc, misses, BROKER_LOST_AFTER)
            if misses >= BROKER_LOST_AFTER:
                errors.append(exc)
                stop.set()
                return


@contextlib.contextmanager
def _metrics_server(port: int | None) -> Iterator[None]:
    if port is None:
        yield
        return
    server = metrics.serve(port)
    try:
        yield
    finally:
        server.shutdown()
