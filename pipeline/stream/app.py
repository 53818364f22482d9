"""The faust app of the streaming worker: settings and topic declarations, no processing.

Agents (the worker) attach to the app this factory returns, so tests can build an app against any
broker, and `agent.test_context()` tests can build one with no broker at all.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import faust

from .messages import RAW_PARTITIONS, RAW_TOPIC

DEFAULT_GROUP = "pipeline"


@contextlib.contextmanager
def data_dir(kind: str) -> Iterator[Path]:
    """A private directory for faust's local state (faust needs one; with memory tables it
    stays empty), removed after. Named `pipeline-KIND-PID-*` in the temp dir, so that a process
    killed with SIGKILL, which cannot remove its own, has it removed by the next one: any such
    directory whose process is gone."""
    prefix = f"pipeline-{kind}-"
    for old in Path(tempfile.gettempdir()).glob(prefix + "*"):
        pid = old.name[len(prefix) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=f"{prefix}{os.getpid()}-") as path:
        yield Path(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and not ours to judge
        return True
    return True


def make_app(
    broker_url: str,
    *,
    data_dir: Path,
    worker_id: str = "1",
    group_id: str = DEFAULT_GROUP,
    app_class: type[faust.App] = faust.App,
    max_poll_records: int | None = None,
    offset_reset: str = "earliest",
) -> faust.App:
    """A faust app consuming `events.raw` as consumer group `group_id`.

    Give each warehouse its own `group_id`: workers of one group share the partitions, so two
    warehouses in one group would each receive only part of the records. `worker_id` names this
    worker's connection in broker logs. faust keeps its small local state under `data_dir`.
    `app_class` lets the worker plug in its consumer (`worker.WorkerApp`); `max_poll_records`
    bounds what one fetch returns (None: everything the fetch brought). `offset_reset`: where a
    new group starts ("earliest" or "latest").
    """
    return app_class(
        group_id,
        broker=broker_url,
        broker_client_id=f"{group_id}-worker-{worker_id}",
        datadir=str(data_dir),
        # faust's defaults (60 s session, 3 s heartbeat) make the first group join and every
        # rejoin after a crashed worker wait tens of seconds on a one-broker dev setup.
        broker_session_timeout=6,
        broker_heartbeat_interval=0.5,
        broker_rebalance_timeout=6,
        # A new worker group starts at the beginning; the worker then seeks to the offsets
        # stored in the warehouse, which are the ones that count (they commit with the records).
        consumer_auto_offset_reset=offset_reset,
        consumer_max_fetch_size=4 * 1024 * 1024,  # 1 MiB default = ~4k records per fetch
        broker_max_poll_records=max_poll_records,
        stream_buffer_maxsize=16_384,  # let `take(1000)` fill without waiting on back-pressure
        store="memory://",  # no tables: the warehouse is the only state
        topic_partitions=RAW_PARTITIONS,
        web_enabled=False,  # one web port per worker would clash in tests; metrics go elsewhere
    )


def raw_topic(app: faust.App, *, acks: bool = True) -> faust.TopicT:
    """`events.raw` as the app sees it: raw bytes in, see `messages.py` for the format.

    `internal=True` makes faust create it with our partition count: faust creates only internal
    topics, and a broker auto-creates any other one on first use with its own default (Tansu: 4).
    `acks=False` for the worker: it never acks messages to faust (it commits offsets itself, after
    the warehouse), and faust's livelock checks would otherwise log that the stream is idle.
    """
    return app.topic(
        RAW_TOPIC,
        partitions=RAW_PARTITIONS,
        internal=True,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        acks=acks,
    )
