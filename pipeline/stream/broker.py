"""Where the broker is, whether it answers, and the topics it must hold.

`require_broker` speaks one Kafka request (ApiVersions) over a plain socket with a deadline, so a
missing or wrong broker is reported in seconds and never hangs: client libraries retry
bootstrapping for a long time (aiokafka until `request_timeout_ms`, faust for ever), and the
contract asks `stream` and `worker` to fail at once.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

from ..errors import BrokerError

_API_VERSIONS = 18  # Kafka API key of ApiVersions; v0 is answered by every broker since 0.10
_TOPIC_EXISTS = 36  # Kafka error code TOPIC_ALREADY_EXISTS


def broker_hosts(url: str) -> list[tuple[str, int]]:
    """`kafka://h1:9092;h2:9092` (faust's spelling, `,` also accepted) -> [(h1, 9092), ...]."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "kafka", url
    if scheme != "kafka":
        raise BrokerError(f"broker URL {url!r} has scheme {scheme!r}; expected kafka://HOST:PORT")
    hosts = []
    for part in rest.replace(";", ",").split(","):
        split = urlsplit("//" + part.strip().rstrip("/"))
        if not split.hostname:
            raise BrokerError(f"broker URL {url!r} names no host; expected kafka://HOST:PORT")
        hosts.append((split.hostname, split.port or 9092))
    return hosts


def bootstrap_servers(url: str) -> str:
    """The `host:port,...` string aiokafka expects for a `kafka://` URL."""
    return ",".join(f"{host}:{port}" for host, port in broker_hosts(url))


def require_broker(url: str, timeout_s: float = 3.0) -> None:
    """Return if any host of `url` answers a Kafka ApiVersions request within `timeout_s` in
    total; else raise `BrokerError` naming the URL and why (refused, timed out, not Kafka)."""
    deadline = time.monotonic() + timeout_s
    reasons = []
    for host, port in broker_hosts(url):
        try:
            _api_versions(host, port, deadline)
            return
        except (OSError, ValueError) as exc:
            reasons.append(f"{host}:{port}: {exc or type(exc).__name__}")
    raise BrokerError(f"no Kafka broker answers at {url} ({'; '.join(reasons)})")


def _api_versions(host: str, port: int, deadline: float) -> None:
    """One ApiVersions v0 round trip; raises OSError/ValueError unless a Kafka broker answers."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    client_id = b"pipeline-probe"
    body = struct.pack(">hhih", _API_VERSIONS, 0, 1, len(client_id)) + client_id
    with socket.create_connection((host, port), timeout=left) as sock:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        sock.sendall(struct.pack(">i", len(body)) + body)
        size, correlation_id, error_code = struct.unpack(">iih", _recv_exactly(sock, 10))
    if correlation_id != 1 or size < 6 or error_code != 0:
        raise ValueError("the peer answered, but not as a Kafka broker")


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ValueError("connection closed before a Kafka response")
        data += chunk
    return data


async def ensure_topics(url: str, topics: Mapping[str, int]) -> None:
    """Create each topic with its partition count unless it exists (an existing topic keeps the
    count it has). Needed before the first produce or subscribe: Kafka auto-creates unknown
    topics with the broker default (1 partition; Tansu: 4), not with ours."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(url))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [NewTopic(t, n, 1) for t, n in topics.items() if t not in existing]
        if new:
            response = await admin.create_topics(new)
            for topic, code, message in response.topic_errors:
                if code not in (0, _TOPIC_EXISTS):
                    raise BrokerError(f"cannot create topic {topic!r} at {url}: {message}")
    finally:
        await admin.close()


async def cluster_id(url: str) -> str:
    """The broker's cluster id. A worker stores it with its offsets: a different id means a
    different log (another cluster, or the memory-only dev broker restarted), where the stored
    offsets point at other records or none."""
    from aiokafka import AIOKafkaClient
    from aiokafka.protocol.metadata import MetadataRequest

    client = AIOKafkaClient(bootstrap_servers=bootstrap_servers(url))
    await client.bootstrap()
    try:
        # No topics asked, none auto-created; v2+ of the response carries the cluster id.
        response = await client.send(client.get_random_node(), MetadataRequest([]))
        return str(response.cluster_id)
    finally:
        await client.close()


async def log_ends(url: str, topic: str, timeout_s: float = 10.0) -> dict[tuple[str, int], int]:
    """The offset the next record of each partition of `topic` will get, from the high watermark
    of a fetch response. Not from ListOffsets (`end_offsets`): Tansu answers that with the base
    offset of the partition's last record batch, short of the end. Fetching from that offset
    (which is never past the end) returns a response carrying the true high watermark."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers(url),
        enable_auto_commit=False,
        fetch_max_wait_ms=50,  # an empty partition answers after this
        max_partition_fetch_bytes=64 * 1024,  # only the watermark matters, not the records
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:  # metadata for a topic this client has not asked about yet
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        for tp, offset in (await consumer.end_offsets(tps)).items():
            consumer.seek(tp, offset)
        ends: dict[tuple[str, int], int] = {}
        deadline = time.monotonic() + timeout_s
        while len(ends) < len(tps):
            if time.monotonic() > deadline:
                raise BrokerError(f"{url} did not report the end of topic {topic!r} in time")
            await consumer.getmany(timeout_ms=100)
            for tp in tps:
                if (high := consumer.highwater(tp)) is not None:
                    ends[(tp.topic, tp.partition)] = high
        return ends
    finally:
        await consumer.stop()
