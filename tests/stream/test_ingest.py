"""The worker's batch logic without a broker: which messages a batch stores, how offsets move,
and the fetch -> batch -> write -> commit loop driven by a fake consumer. The outcome must equal
`replay` of the same files however the records are split, repeated and interleaved."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from aiokafka.structs import ConsumerRecord
from faust.types import TP
from helpers import all_exports, bill_all, replay
from worked_example import EVENTS, EXAMPLE

from pipeline.collect import read_files
from pipeline.rules import load_rules
from pipeline.stream import ingest
from pipeline.stream.batch import OnlyRun, Part, fresh, prepare, write_batch
from pipeline.stream.ingest import Ingestor, Pending, Settings, Target
from pipeline.stream.messages import RAW_TOPIC, partition_of, table_to_messages
from pipeline.stream.publish import drop_blank
from pipeline.warehouse import Warehouse

RULES = EXAMPLE / "rules"
TP0, TP1 = TP(RAW_TOPIC, 0), TP(RAW_TOPIC, 1)
K0, K1 = (RAW_TOPIC, 0), (RAW_TOPIC, 1)


def topic_log(files: list[Path], run_key: int = 7) -> dict[TP, list[ConsumerRecord]]:
    """The records of `files` as `publish` lays them out on a two-partition events.raw."""
    log: dict[TP, list[ConsumerRecord]] = {TP0: [], TP1: []}
    for table in read_files([str(f) for f in files], run_key):
        for idx, line, key, value, headers in table_to_messages(drop_blank(table)):
            tp = (TP0, TP1)[partition_of(idx, line, 2)]
            offset = len(log[tp])
            log[tp].append(
                ConsumerRecord(
                    RAW_TOPIC, tp.partition, offset, 0, 0, key, value, None, 0, 0, headers
                )
            )
    return log


def part(offsets: list[int]) -> Part:
    return Part(offsets, pa.table({"n": offsets}))


# -- which messages a batch stores -------------------------------------------------------------


def test_fresh_drops_what_the_warehouse_holds_and_never_moves_back() -> None:
    parts = {K0: part([3, 4, 5]), K1: part([0, 1])}
    new = fresh(parts, stored={K0: 5, K1: 9})
    assert [t.column("n").to_pylist() for t in new.tables] == [[5]]
    assert (new.records, new.skipped) == (1, 4)
    assert new.offsets == {K0: 6}  # partition 1 keeps its stored 9: nothing of it is new


def test_fresh_starts_unknown_partitions_at_start_else_zero() -> None:
    parts = {K0: part([0, 1, 2]), K1: part([5, 6])}
    assert fresh(parts, stored={}).records == 5
    new = fresh(parts, stored={}, start={K0: 2, K1: 4, (RAW_TOPIC, 2): 8})
    assert [t.column("n").to_pylist() for t in new.tables] == [[2], [5, 6]]
    # every started partition is recorded, even one that had no message yet
    assert new.offsets == {K0: 3, K1: 7, (RAW_TOPIC, 2): 8}


def test_fresh_passes_over_other_runs_where_told() -> None:
    """`stream` on partitions new to its warehouse: only its own run is stored there, but the
    offsets move past the others' records."""
    table = pa.table({"run_key": [1, 2, 1, 2], "n": [0, 1, 2, 3]})
    parts = {K0: Part([0, 1, 2, 3], table), K1: Part([0, 1, 2, 3], table)}
    new = fresh(parts, stored={}, only=OnlyRun(2, frozenset({K0})))
    assert [t.column("n").to_pylist() for t in new.tables] == [[1, 3], [0, 1, 2, 3]]
    assert (new.records, new.passed, new.offsets) == (6, 2, {K0: 4, K1: 4})


def test_fresh_leaves_what_it_passes_over_for_a_worker_where_told() -> None:
    """`stream` on partitions its warehouse had read before (`keep`): only its own run is
    stored, and the stored offset stays at the first record of another run, so that a worker
    on that warehouse still takes it in later; it never moves back."""
    only = OnlyRun(2, frozenset({K0}), keep=frozenset({K0}))
    table = pa.table({"run_key": [2, 1, 2, 1], "n": [5, 6, 7, 8]})
    new = fresh({K0: Part([5, 6, 7, 8], table)}, stored={K0: 5}, only=only)
    assert [t.column("n").to_pylist() for t in new.tables] == [[5, 7]]
    assert (new.records, new.passed, new.offsets) == (2, 2, {K0: 6})
    # the next batch: the stored offset is held at 6, whatever follows
    later = pa.table({"run_key": [2, 2], "n": [9, 10]})
    new = fresh({K0: Part([9, 10], later)}, stored={K0: 6}, only=only)
    assert (new.records, new.offsets) == (2, {K0: 6})
    # its own records only, nothing held: the offset moves on as usual
    new = fresh({K0: Part([5, 6], later)}, stored={K0: 5}, only=only)
    assert (new.records, new.offsets) == (2, {K0: 7})


def test_pending_batches_by_size_or_age() -> None:
    p = Pending()
    assert not p.due(0.0, 10, 0.2) and p.wait_s(0.0, 0.2) == ingest.IDLE_FETCH_S
    p.add({TP0: [1, 2], TP1: []}, now=5.0)  # type: ignore[list-item]
    assert (p.count, list(p.parts)) == (2, [K0])
    assert not p.due(5.1, 10, 0.2) and p.wait_s(5.1, 0.2) == pytest.approx(0.1)
    assert p.due(5.2, 10, 0.2) and p.due(5.0, 2, 0.2)
    assert p.take(10) == {K0: [1, 2]} and p.count == 0 and p.since is None


def test_pending_hands_out_at_most_a_batch_shared_between_partitions() -> None:
    p = Pending()
    p.add({TP0: list(range(10)), TP1: [100, 101]}, now=1.0)  # type: ignore[dict-item]
    assert p.take(6) == {K1: [100, 101], K0: [0, 1, 2, 3]}  # partition 1 leaves its spare share
    assert (p.count, p.since) == (6, 1.0)  # the rest is as old as it was: still due
    assert p.take(4) == {K0: [4, 5, 6, 7]}
    assert p.take(4) == {K0: [8, 9]} and p.count == 0


def test_blank_lines_are_not_published(tmp_path: Path) -> None:
    f = tmp_path / "a.jsonl"
    f.write_bytes(b'{"a":1}\n\n  \t\r\n\xff\n{"b":2}\n')
    table = drop_blank(next(read_files([str(f)], 1)))
    assert table.column("line").to_pylist() == [1, 4, 5]  # invalid UTF-8 is a (malformed) record


# -- batches into the warehouse ----------------------------------------------------------------


def chunks(records: list[Any], rnd: random.Random) -> Iterator[list[Any]]:
    i = 0
    while i < len(records):
        n = rnd.randint(5, 60)
        yield records[i : i + n]
        i += n


@pytest.mark.parametrize("seed", [1, 2])
def test_batches_in_any_split_with_repeats_equal_replay(tmp_path: Path, seed: int) -> None:
    """Partitions interleaved in random batches, some batches written twice (a worker that died
    before committing to the broker, or two workers across a rebalance): same as replay."""
    rules = load_rules(str(RULES))
    log = topic_log(EVENTS)
    rnd = random.Random(seed)
    queues = {(tp.topic, tp.partition): list(chunks(recs, rnd)) for tp, recs in log.items()}
    batches: list[dict[tuple[str, int], list[ConsumerRecord]]] = []
    while any(queues.values()):  # partitions interleave in any order, each in its own order
        keys = [k for k, q in queues.items() if q]
        batches.append({k: queues[k].pop(0) for k in rnd.sample(keys, rnd.randint(1, len(keys)))})
    wh = tmp_path / "stream"
    stored = 0
    for i, batch in enumerate(batches):
        stored += write_batch(wh, rules, prepare(batch), cluster="c1").records
        if rnd.random() < 0.3:  # written again, now or after others: adds nothing
            again = batches[rnd.randint(0, i)]
            assert write_batch(wh, rules, prepare(again), cluster="c1").records == 0
    assert stored == sum(map(len, log.values())) == 205

    replay(RULES, tmp_path / "replay", EVENTS)
    periods = bill_all(RULES, tmp_path / "replay")
    assert bill_all(RULES, wh) == periods
    assert all_exports(wh, periods) == all_exports(tmp_path / "replay", periods)
    with Warehouse.open(wh) as w:
        assert w.offsets("c1") == {K0: len(log[TP0]), K1: len(log[TP1])}
        assert w.offsets("another cluster") == {}


def test_a_message_the_log_holds_twice_is_one_record(tmp_path: Path) -> None:
    """A producer that retries a send whose acknowledgement was lost leaves a second copy of
    the message at a later offset: the same record (run, file, line), not another input
    record, whether its original was stored by an earlier batch or sits in the same one."""
    rules = load_rules(str(RULES))
    log = topic_log(EVENTS)
    p0 = log[TP0]
    copies = [dataclasses.replace(r, offset=len(p0) + i) for i, r in enumerate(p0[:3] + p0[-2:])]
    log[TP0] = p0 + copies
    wh = tmp_path / "stream"
    half = len(p0) // 2
    first = write_batch(wh, rules, prepare({K0: log[TP0][:half], K1: log[TP1]}), cluster="c")
    second = write_batch(wh, rules, prepare({K0: log[TP0][half:]}), cluster="c")
    assert first.records + second.records == 205
    assert second.offsets == {K0: len(log[TP0]), K1: len(log[TP1])}
    replay(RULES, tmp_path / "replay", EVENTS)
    periods = bill_all(RULES, tmp_path / "replay")
    assert bill_all(RULES, wh) == periods
    assert all_exports(wh, periods) == all_exports(tmp_path / "replay", periods)


def test_a_write_reports_the_run_count(tmp_path: Path) -> None:
    rules = load_rules(str(RULES))
    log = topic_log(EVENTS, run_key=99)
    written = write_batch(tmp_path, rules, prepare({K0: log[TP0]}), cluster="c", run_key=99)
    assert written.run_records == len(log[TP0]) and written.offsets == {K0: len(log[TP0])}
    written = write_batch(tmp_path, rules, prepare({K0: log[TP0][:5]}), cluster="c", run_key=99)
    assert (written.records, written.skipped, written.run_records) == (0, 5, len(log[TP0]))


# -- the loop, with a fake faust consumer ------------------------------------------------------


class FakeConsumer:
    """What `Ingestor` uses of faust's consumer: fetch from positions, seek, commit."""

    def __init__(self, log: dict[TP, list[ConsumerRecord]], chunk: int) -> None:
        self.log, self.chunk = log, chunk
        self.pos = {tp: 0 for tp in log}
        self.commits: list[dict[TP, int]] = []
        self.fetched = 0
        self.should_stop = False

    def assignment(self) -> set[TP]:
        return set(self.log)

    async def seek_wait(self, seeks: dict[TP, int]) -> None:
        self.pos.update(seeks)

    async def _wait_next_records(self, timeout: float) -> tuple[dict, set]:  # type: ignore[type-arg]
        out = {}
        for tp, recs in self.log.items():
            got = recs[self.pos[tp] : self.pos[tp] + self.chunk]
            if got:
                out[tp] = got
                self.pos[tp] += len(got)
                self.fetched += len(got)
        if not out:
            await asyncio.sleep(min(timeout, 0.01))
        return out, set(self.log)

    async def _commit(self, offsets: dict[TP, int]) -> bool:
        self.commits.append(dict(offsets))
        return True

    def highwater(self, tp: TP) -> int:
        return len(self.log[tp])


class FakeFetcher:
    should_stop = False


def run_loop(ingestor: Ingestor, consumer: FakeConsumer, *, seek: bool = True) -> None:
    async def go() -> None:
        ingestor.done = asyncio.Event()  # bound to this loop
        if seek:
            await ingestor.seek(consumer)  # type: ignore[arg-type]
        await asyncio.wait_for(ingestor.drain(consumer, FakeFetcher()), 60)  # type: ignore[arg-type]
        await ingestor.close_feed()  # as run_app does once faust stopped

    try:
        asyncio.run(go())
    finally:
        ingestor.executor.shutdown()


@pytest.fixture
def no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    async def cluster_id(url: str) -> str:
        return "fake-cluster"

    monkeypatch.setattr(ingest, "cluster_id", cluster_id)


def test_loop_writes_then_commits_and_stops_at_its_target(tmp_path: Path, no_broker: None) -> None:
    rules = load_rules(str(RULES))
    log = topic_log(EVENTS, run_key=5)
    settings = Settings("kafka://nowhere:1", tmp_path / "wh", rules, batch_size=50, max_wait_s=0)
    ingestor = Ingestor(settings, cluster="fake-cluster", target=Target(5, 205))
    consumer = FakeConsumer(log, chunk=30)
    run_loop(ingestor, consumer)

    assert ingestor.error is None and ingestor.done.is_set()
    assert ingestor.records == 205 and ingestor.batches >= 4
    with Warehouse.open(tmp_path / "wh") as w:
        assert w.run_count(5) == 205
        assert w.offsets("fake-cluster") == {K0: len(log[TP0]), K1: len(log[TP1])}
    # the broker learns offsets only after the warehouse stored them, never beyond
    assert consumer.commits and consumer.commits[-1] == {TP0: len(log[TP0]), TP1: len(log[TP1])}
    for earlier, later in zip(consumer.commits, consumer.commits[1:], strict=False):
        assert all(later[tp] >= o for tp, o in earlier.items())


def test_a_restarted_loop_resumes_from_the_warehouse(tmp_path: Path, no_broker: None) -> None:
    """A first worker stores part of the log; the broker's committed offsets are lost; a second
    worker, seeking to the warehouse's offsets, stores the rest exactly once."""
    rules = load_rules(str(RULES))
    log = topic_log(EVENTS, run_key=6)
    settings = Settings("kafka://nowhere:1", tmp_path / "wh", rules, batch_size=40, max_wait_s=0)
    first = {tp: recs[: len(recs) // 2] for tp, recs in log.items()}
    half = sum(map(len, first.values()))
    run_loop(
        Ingestor(settings, cluster="fake-cluster", target=Target(6, half)), FakeConsumer(first, 25)
    )

    again = FakeConsumer(log, chunk=25)
    ingestor = Ingestor(settings, cluster="fake-cluster", target=Target(6, 205))
    run_loop(ingestor, again)
    # it read only the second half: the seek put it at the warehouse's offsets, not at 0
    assert again.fetched == ingestor.records == 205 - half

    replay(RULES, tmp_path / "replay", EVENTS)
    periods = bill_all(RULES, tmp_path / "replay")
    bill_all(RULES, tmp_path / "wh")
    assert all_exports(tmp_path / "wh", periods) == all_exports(tmp_path / "replay", periods)


def test_a_fetch_begun_before_a_seek_is_dropped(tmp_path: Path, no_broker: None) -> None:
    """After a rebalance faust seeks again; records fetched from the old positions must not
    join the next batch (they would be stored twice or out of place)."""
    rules = load_rules(str(RULES))
    log = topic_log(EVENTS, run_key=8)
    settings = Settings("kafka://nowhere:1", tmp_path / "wh", rules, batch_size=1000, max_wait_s=0)
    ingestor = Ingestor(settings, cluster="fake-cluster", target=Target(8, 205))
    consumer = FakeConsumer(log, chunk=10)
    real_fetch = consumer._wait_next_records
    seeks = 0

    async def fetch_then_rebalance(timeout: float) -> tuple[dict, set]:  # type: ignore[type-arg]
        nonlocal seeks
        got = await real_fetch(timeout)
        if seeks < 3 and got[0]:
            seeks += 1
            await ingestor.seek(consumer)  # type: ignore[arg-type]
        return got

    consumer._wait_next_records = fetch_then_rebalance  # type: ignore[method-assign]
    run_loop(ingestor, consumer)
    assert seeks == 3 and ingestor.records == 205
    with Warehouse.open(tmp_path / "wh") as w:
        assert w.run_count(8) == 205
