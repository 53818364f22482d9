"""The outcome topics: what the warehouse decided, published after each commit.

The worker's stages write their outputs to warehouse tables, because every rule re-judges
against everything ingested (docs/streaming.md). Systems that react to outcomes as they happen
(a fraud console, a spend alert, an SLA dashboard) read them from these topics instead of
polling the warehouse. Each topic is named for what it carries and partitioned so that what a
consumer needs together arrives in order on one partition:

- `usage.rated`: every usage record as rating left it (rated with its amount, unbilled, or
  invalid); key: the input position of its record (a session: of its first-ingested part);
  partition from its subject;
- `quality.events`: accepted quality records (incidents, probes); key: input position
  (`run:file_idx:line`); partition from the service;
- `events.duplicate`: records judged duplicates of an earlier (source, id); key: input position;
  partition from `source:id`;
- `events.rejected`: rejected records, verbatim, with their reason; key: input position;
  partition from the file.

Values are JSON documents (money and quantities as decimal strings). A record whose outcome
changes later (a late record makes it a duplicate, a flag is dismissed) is published again; on
the topic it left, a `removed` message retracts it. Delivery is at least once from the outbox
(pipeline/outbox.py); every message carries the `version` of the read that produced it, and the
highest version per (topic, key) is the warehouse's current word.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping

import pyarrow as pa
from aiokafka import AIOKafkaProducer

from .publish import Message, new_producer, send_messages

FEED_PARTITIONS = 2
FEED_TOPICS: Mapping[str, int] = {
    "usage.rated": FEED_PARTITIONS,
    "quality.events": FEED_PARTITIONS,
    "events.duplicate": FEED_PARTITIONS,
    "events.rejected": FEED_PARTITIONS,
}


def partition_for(part_key: str | None, partitions: int) -> int:
    """A stable partition for a partition key (CRC-32: the same in every process and release)."""
    return zlib.crc32((part_key or "").encode()) % partitions


def feed_messages(table: pa.Table, partitions: Mapping[str, int]) -> Iterator[Message]:
    """The Kafka messages of an `outbox.messages` table, in its order."""
    cols = [table.column(c).to_pylist() for c in ("topic", "part_key", "key", "value")]
    for topic, part_key, key, value in zip(*cols, strict=True):
        yield topic, partition_for(part_key, partitions[topic]), key.encode(), value.encode(), []


class FeedSender:
    """Sends outbox messages; its producer starts on first use and learns each topic's count."""

    def __init__(self, broker_url: str) -> None:
        self.broker_url = broker_url
        self.producer: AIOKafkaProducer | None = None
        self.partitions: dict[str, int] = {}

    async def send(self, table: pa.Table) -> int:
        """Send every message of `table`; returns once the broker acknowledged all of them."""
        if self.producer is None:
            self.producer = new_producer(self.broker_url)
            await self.producer.start()
        for topic in set(table.column("topic").to_pylist()) - set(self.partitions):
            self.partitions[topic] = len(await self.producer.partitions_for(topic))
        return await send_messages(self.producer, feed_messages(table, self.partitions))

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None
