"""Send raw records to `events.raw`: the producer half of `pipeline publish` and `pipeline stream`.

Messages are packed into record batches by hand (`create_batch`/`send_batch`) rather than one
`send()` each: per-message `send()` costs a future and a partitioner call in Python and tops out
far below the 50k records/s we need. aiokafka keeps one batch per partition queued, which gives
back-pressure for free, and sends a partition's batches in order, so each partition holds its
records in input order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import BatchBuilder

from ..collect import check_inputs, read_files
from .broker import bootstrap_servers, ensure_topics
from .messages import (
    RAW_PARTITIONS,
    RAW_TOPIC,
    TOPICS,
    Headers,
    partition_of,
    table_to_messages,
)

# Kafka's default 16 KiB batch holds ~80 of our records and makes one request each; 512 KiB stays
# well under the 1 MiB default `message.max.bytes` of brokers.
MAX_BATCH_BYTES = 512 * 1024
# What validation treats as a blank line (validate._BLANK_RE, the same RE2 syntax): not a record.
BLANK_RE = r"^[ \t\r\n\f\v]*$"


def record_batches(files: list[str], run_key: int) -> Iterator[pa.Table]:
    """The files' records as `read_files` gives them, without blank lines: a blank line is not
    a record (contract 2), so the published count is the count the warehouse will hold."""
    check_inputs(files)
    for table in read_files(files, run_key):
        yield drop_blank(table)


def drop_blank(table: pa.Table) -> pa.Table:
    """Rows of a JSON Lines file that are empty or white space only (a CSV or Parquet row, with
    its rendered `doc` or a reader's reason, is never blank here)."""
    blank = pc.and_(
        pc.and_(pc.is_null(table.column("doc")), pc.is_null(table.column("pre_reason"))),
        pc.match_substring_regex(table.column("raw"), BLANK_RE),
    )
    return table.filter(pc.invert(blank))


def publish(broker_url: str, batches: Iterable[pa.Table], topic: str = RAW_TOPIC) -> int:
    """Send every row of `batches` (`raw_input.RAW_SCHEMA` tables), in order; return how many.

    Returns after the broker acknowledged every message; raises if any could not be delivered.
    """
    return asyncio.run(publish_async(broker_url, batches, topic))


def new_producer(broker_url: str) -> AIOKafkaProducer:
    """A producer for `send_messages` (not started)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers(broker_url),
        acks="all",  # a record the broker did not durably take must fail the send
        max_batch_size=MAX_BATCH_BYTES,
        linger_ms=5,  # only matters for the last, partly filled batches
        request_timeout_ms=30_000,
    )


async def publish_async(
    broker_url: str, batches: Iterable[pa.Table], topic: str = RAW_TOPIC
) -> int:
    """`publish` for callers already inside an event loop."""
    await ensure_topics(broker_url, {topic: TOPICS.get(topic, RAW_PARTITIONS)})
    producer = new_producer(broker_url)
    await producer.start()
    try:
        return await _send_all(producer, batches, topic)
    finally:
        await producer.stop()


Message = tuple[str, int, bytes | None, bytes, Headers]  # topic, partition, key, value, headers


async def _send_all(producer: AIOKafkaProducer, batches: Iterable[pa.Table], topic: str) -> int:
    partitions = len(await producer.partitions_for(topic))

    def messages() -> Iterator[Message]:
        for table in batches:
            for idx, line, key, value, headers in table_to_messages(table):
                yield topic, partition_of(idx, line, partitions), key, value, headers

    return await send_messages(producer, messages())


async def send_messages(producer: AIOKafkaProducer, messages: Iterable[Message]) -> int:
    """Send `messages` in order, packed into one record batch per (topic, partition) at a time;
    return how many once the broker acknowledged all of them (raises the first failure)."""
    builders: dict[tuple[str, int], BatchBuilder] = {}
    delivered: list[asyncio.Future[object]] = []
    sent = 0
    for topic, p, key, value, headers in messages:
        builder = builders.get((topic, p))
        if builder is None:
            builder = builders[topic, p] = producer.create_batch()
        if builder.append(timestamp=None, key=key, value=value, headers=headers) is None:
            delivered.append(await producer.send_batch(builder, topic, partition=p))
            builder = builders[topic, p] = producer.create_batch()
            # An empty batch always takes one message, even one larger than the batch size.
            builder.append(timestamp=None, key=key, value=value, headers=headers)
        sent += 1
    for (topic, p), builder in builders.items():
        if builder.record_count():
            delivered.append(await producer.send_batch(builder, topic, partition=p))
    await asyncio.gather(*delivered)  # raises the first delivery error
    return sent
