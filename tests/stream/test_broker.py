"""The broker plumbing: failing fast without a broker, and publish -> consume keeping every byte,
header and per-partition order. Tests marked `broker` run against the real broker of conftest."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import faust
import pyarrow as pa
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from pipeline.errors import BrokerError
from pipeline.raw_input import RAW_SCHEMA
from pipeline.stream.app import make_app, raw_topic
from pipeline.stream.broker import bootstrap_servers, cluster_id, require_broker
from pipeline.stream.messages import (
    RAW_PARTITIONS,
    messages_to_table,
    table_to_messages,
)
from pipeline.stream.publish import publish


def raw_table(rows: list[tuple[int, str, int, bytes, str | None, str | None]]) -> pa.Table:
    """A RAW_SCHEMA table of (file_idx, file, line, raw, doc, pre_reason) rows of run 42."""
    cols = list(zip(*rows, strict=True))
    return pa.table(
        [pa.array([42] * len(rows), pa.int64())]
        + [pa.array(c, f.type) for c, f in zip(cols, list(RAW_SCHEMA)[1:], strict=True)],
        schema=RAW_SCHEMA,
    )


# Every shape a reader produces: JSON Lines (doc NULL), a CSV row (doc rendered, raw the line), a
# malformed CSV row (pre_reason, no doc), a Parquet row (doc == raw), bytes that are not UTF-8,
# and a file name that is not ASCII.
SAMPLE = raw_table(
    [(0, "a.jsonl", n, b'{"id":"e-%d","type":"ad.click"}' % n, None, None) for n in range(1, 41)]
    + [
        (0, "a.jsonl", 41, b"\xff\xfe not utf-8", None, None),
        (1, "b.csv", 2, b"1.0,c-1,src", '{"specversion":"1.0","id":"c-1"}', None),
        (1, "b.csv", 3, b"1.0,c-2", None, "malformed"),
        (2, "c \u00e9.parquet", 0, b'{"id":"p-0"}', '{"id":"p-0"}', None),
    ]
)


def fake_records(table: pa.Table, topic: str = "t") -> list[ConsumerRecord[bytes, bytes]]:
    return [
        ConsumerRecord(topic, 0, i, 0, 0, key, value, None, len(key), len(value), headers)
        for i, (_, _, key, value, headers) in enumerate(table_to_messages(table))
    ]


def test_messages_round_trip_without_a_broker() -> None:
    records = fake_records(SAMPLE)
    assert messages_to_table(records).equals(SAMPLE)


def test_csv_row_travels_as_its_document_and_keeps_its_line() -> None:
    _, _, _, value, headers = list(table_to_messages(SAMPLE))[41]
    assert value == b'{"specversion":"1.0","id":"c-1"}'
    assert dict(headers)["raw"] == b"1.0,c-1,src"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_require_broker_fails_fast_on_a_closed_port() -> None:
    url = f"kafka://127.0.0.1:{closed_port()}"
    start = time.monotonic()
    with pytest.raises(BrokerError) as err:
        require_broker(url)
    assert time.monotonic() - start < 5
    assert f"no Kafka broker answers at {url}" in str(err.value)
    assert "scripts/broker.sh start" in err.value.hint


def test_require_broker_gives_up_on_a_port_that_never_answers() -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"kafka://127.0.0.1:{silent.getsockname()[1]}"
        start = time.monotonic()
        with pytest.raises(BrokerError, match="timed out"):
            require_broker(url, timeout_s=1.0)
        assert time.monotonic() - start < 3


@pytest.mark.broker
def test_require_broker_accepts_the_running_broker(broker_url: str) -> None:
    require_broker(broker_url)


async def consume_all(url: str, topic: str, expected: int) -> dict[int, list[ConsumerRecord]]:
    """Every record of `topic`, per partition, read from the beginning without a group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(url), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = sorted(consumer.partitions_for_topic(topic) or ())
        if not partitions:  # metadata for a topic this client has not asked about yet
            await consumer._client.force_metadata_update()
            partitions = sorted(consumer.partitions_for_topic(topic) or ())
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        out: dict[int, list[ConsumerRecord]] = {p: [] for p in partitions}
        deadline = time.monotonic() + 20
        while sum(map(len, out.values())) < expected and time.monotonic() < deadline:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                out[tp.partition].extend(records)
        return out
    finally:
        await consumer.stop()


@pytest.mark.broker
def test_publish_round_trip_keeps_bytes_headers_and_order(broker_url: str) -> None:
    topic = f"test.raw.{uuid.uuid4().hex[:8]}"  # the session broker is shared between tests
    first, second = SAMPLE.slice(0, 20), SAMPLE.slice(20)
    assert publish(broker_url, [first, second], topic=topic) == SAMPLE.num_rows

    by_partition = asyncio.run(consume_all(broker_url, topic, SAMPLE.num_rows))

    # Declared with our count, not the broker's auto-create default (Tansu: 4).
    assert sorted(by_partition) == list(range(RAW_PARTITIONS))
    position = {(r["file_idx"], r["line"]): i for i, r in enumerate(SAMPLE.to_pylist())}
    for records in by_partition.values():
        assert records, "every partition gets records"
        rows = messages_to_table(records).select(["file_idx", "line"]).to_pylist()
        order = [position[(r["file_idx"], r["line"])] for r in rows]
        assert order == sorted(order), "a partition holds its records in input order"
    everything = pa.concat_tables(messages_to_table(r) for r in by_partition.values())
    assert everything.sort_by([("file_idx", "ascending"), ("line", "ascending")]).equals(SAMPLE)
    headers = dict(by_partition[1][0].headers)  # line 1 of file 0 lands on partition 1
    assert headers == {"run": b"42", "file_idx": b"0", "file": b"a.jsonl", "line": b"1"}


@pytest.mark.broker
def test_cluster_id_names_this_broker_start(broker_url: str) -> None:
    cid = asyncio.run(cluster_id(broker_url))
    if "PIPELINE_TEST_BROKER" not in os.environ:  # scripts/broker.sh names each start
        assert cid.startswith("pipeline-")


def test_app_hands_raw_messages_to_an_agent_without_a_broker(tmp_path: Path) -> None:
    app = make_app("kafka://127.0.0.1:1", data_dir=tmp_path)  # test_context never connects
    got: list[pa.Table] = []

    @app.agent(raw_topic(app))
    async def ingest(stream: faust.StreamT[bytes]) -> AsyncIterator[int]:
        async for events in stream.take_events(1000, within=0.1):
            got.append(messages_to_table([e.message for e in events]))
            yield len(events)

    async def run() -> None:
        async with ingest.test_context() as agent:
            for _, _, key, value, headers in table_to_messages(SAMPLE):
                await agent.put(value, key=key, headers=headers, wait=False)  # one batch
            for _ in range(100):
                if sum(t.num_rows for t in got) == SAMPLE.num_rows:
                    break
                await asyncio.sleep(0.05)

    asyncio.run(run())
    assert pa.concat_tables(got).equals(SAMPLE)
