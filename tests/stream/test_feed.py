"""The outcome feed without a broker: what the outbox hands the worker to publish, folded the way
a consumer folds the topics, must equal the warehouse's outcomes after every kind of write --
batches in any split and order, a batch written twice, a feed sent twice (a worker killed
between sending and acknowledging), replays, a dismissed flag, new rules."""

from __future__ import annotations

import asyncio
import io
import json
import random
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from aiokafka.structs import ConsumerRecord
from feed_view import fold, warehouse_view
from helpers import bill, flags, replay, review
from test_ingest import (
    RULES,
    FakeConsumer,
    chunks,
    no_broker,  # noqa: F401  (a fixture)
    run_loop,
    topic_log,
)
from worked_example import EVENTS

from pipeline import outbox
from pipeline.rules import load_rules
from pipeline.stream.app import make_app
from pipeline.stream.batch import (
    acknowledge_feed,
    pending_feed,
    prepare,
    set_feed,
    write_batch,
)
from pipeline.stream.feed import FEED_TOPICS, feed_messages, partition_for
from pipeline.stream.follow import Filter, follow_agent
from pipeline.stream.ingest import Ingestor, Settings, Target
from pipeline.warehouse import Warehouse


def triples(table: pa.Table) -> list[tuple[str, str, str]]:
    return list(zip(*(table.column(c).to_pylist() for c in ("topic", "key", "value")), strict=True))


def drain(wh: Path, sent: list[tuple[str, str, str]]) -> None:
    """What a worker does when it starts: send what is noted, then acknowledge it."""
    feed = pending_feed(wh)
    if feed is not None:
        sent += triples(feed[1])
        acknowledge_feed(wh, feed[0])
    assert pending_feed(wh) is None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batches_in_any_split_feed_what_the_warehouse_holds(tmp_path: Path, seed: int) -> None:
    rules = load_rules(str(RULES))
    log = topic_log(EVENTS)
    rnd = random.Random(seed)
    queues = {(tp.topic, tp.partition): list(chunks(recs, rnd)) for tp, recs in log.items()}
    wh = tmp_path / "wh"
    set_feed(wh, True)
    sent: list[tuple[str, str, str]] = []
    # the worker's bookkeeping: one feed in flight while the next batch is written; when it
    # is sent, the next write forgets its notes (ack); a write reads only notes after the last
    # read (read_upto)
    inflight: tuple[int, list[tuple[str, str, str]]] | None = None
    ack, read_upto = None, 0
    batches: list[dict[tuple[str, int], list[ConsumerRecord]]] = []
    while any(queues.values()):
        keys = [k for k, q in queues.items() if q]
        batches.append({k: queues[k].pop(0) for k in rnd.sample(keys, rnd.randint(1, len(keys)))})
        writes = [batches[-1]]
        if rnd.random() < 0.2:  # a batch written again adds nothing, and feeds nothing wrong
            writes.append(batches[rnd.randint(0, len(batches) - 1)])
        for batch in writes:
            written = write_batch(wh, rules, prepare(batch), cluster="c", ack=ack, after=read_upto)
            ack = None
            if written.feed is not None:
                if inflight is not None:  # the send in flight ends before the next starts
                    sent += inflight[1]
                    ack = inflight[0]
                inflight, read_upto = (written.feed[0], triples(written.feed[1])), written.feed[0]
            if rnd.random() < 0.15:  # killed: the feed in flight may be lost with the process
                if inflight is not None and rnd.random() < 0.5:
                    sent += inflight[1]
                inflight, ack, read_upto = None, None, 0  # a new worker reads every note
    if inflight is not None:
        sent += inflight[1]
    drain(wh, sent)
    view = fold(sent)
    assert view == warehouse_view(wh)
    assert len(view["events.rejected"]) == 19 and len(view["events.duplicate"]) == 4
    # 156 accepted usage events make 149 usage records (sessions assembled)
    assert len(view["quality.events"]) == 26 and len(view["usage.rated"]) == 149


def test_late_records_retract_what_they_change(tmp_path: Path) -> None:
    """The example's files replayed last file first: the earlier files then hold the first
    (source, id) of records already fed as accepted, which the feed must retract."""
    wh = tmp_path / "wh"
    set_feed(wh, True)
    sent: list[tuple[str, str, str]] = []
    for f in reversed(EVENTS):
        replay(RULES, wh, [f])
        drain(wh, sent)
        assert fold(sent) == warehouse_view(wh)
    removed = [v for t, _, v in sent if '"removed":true' in v]
    assert removed, "reversed input re-judged nothing: the test shows nothing"


def test_dismissed_flags_and_new_prices_are_fed(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    wh = tmp_path / "wh"
    set_feed(wh, True)
    sent: list[tuple[str, str, str]] = []
    replay(rules, wh, EVENTS)
    drain(wh, sent)
    flag = flags(wh)[0]
    review(wh, "dismissed", [flag])
    drain(wh, sent)
    view = fold(sent)
    assert view == warehouse_view(wh)
    dismissed = [v for t, _, v in sent if t == "usage.rated" and f'"id":"{flag["id"]}"' in v]
    assert '"flag_status":"dismissed"' in dismissed[-1] and '"outcome":"invalid"' in dismissed[0]

    plan = rules / "plans" / "ads-standard.yaml"
    plan.write_text(plan.read_text().replace("price: '0.35'", "price: '0.40'"))
    bill(rules, wh, "2026-10")  # new rules: every usage record is re-priced, and fed again
    drain(wh, sent)
    view = fold(sent)
    assert view == warehouse_view(wh)
    assert any(v[2] == "0.400000" for v in view["usage.rated"].values())


def test_no_notes_while_the_feed_is_off(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    replay(RULES, wh, EVENTS[:1])
    assert pending_feed(wh) is None
    set_feed(wh, True)
    replay(RULES, wh, EVENTS[1:])
    with Warehouse.open(wh) as w:
        assert outbox.pending(w.con) > 0
    set_feed(wh, False)  # nobody will send them: dropped
    with Warehouse.open(wh) as w:
        assert outbox.pending(w.con) == 0 and not outbox.enabled(w.con)


def test_messages_go_to_the_partition_of_their_subject_or_service(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    set_feed(wh, True)
    replay(RULES, wh, EVENTS)
    feed = pending_feed(wh)
    assert feed is not None
    table = feed[1]
    parts = dict(FEED_TOPICS)
    seen: dict[tuple[str, str], set[int]] = {}
    for (topic, p, _, value, _), part_key in zip(
        feed_messages(table, parts), table.column("part_key").to_pylist(), strict=True
    ):
        assert p == partition_for(part_key, parts[topic])
        seen.setdefault((topic, part_key), set()).add(p)
        if topic == "usage.rated":
            assert f'"subject":"{part_key}"' in value.decode()
    assert all(len(ps) == 1 for ps in seen.values())
    assert {t for t, _ in seen} == set(FEED_TOPICS)
    # pinned: a change of function would move every subject to another partition mid-stream
    # (Python's hash() of a str, for one, differs in every process)
    assert (partition_for("acme", 2), partition_for("hooli", 4)) == (0, 2)


class FakeSender:
    """Stands in for the producer: keeps what the loop sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def send(self, table: pa.Table) -> int:
        await asyncio.sleep(0)
        self.sent += triples(table)
        return table.num_rows

    async def stop(self) -> None:
        pass


def test_the_loop_sends_after_each_write_and_leaves_nothing_noted(
    tmp_path: Path,
    no_broker: None,  # noqa: F811
) -> None:
    rules = load_rules(str(RULES))
    log = topic_log(EVENTS, run_key=5)
    wh = tmp_path / "wh"
    set_feed(wh, True)
    settings = Settings("kafka://nowhere:1", wh, rules, batch_size=50, max_wait_s=0)
    ingestor = Ingestor(settings, cluster="fake-cluster", target=Target(5, 205))
    ingestor.feed = FakeSender()  # type: ignore[assignment]
    run_loop(ingestor, FakeConsumer(log, chunk=30))
    assert ingestor.error is None and ingestor.batches >= 4
    assert fold(ingestor.feed.sent) == warehouse_view(wh)  # type: ignore[attr-defined]
    with Warehouse.open(wh) as w:
        assert outbox.pending(w.con) == 0  # the last feed was acknowledged on the way out


def test_follow_prints_each_micro_batch_filtered_without_a_broker(tmp_path: Path) -> None:
    app = make_app("kafka://127.0.0.1:1", data_dir=tmp_path)  # test_context never connects
    out = io.StringIO()
    writes: list[str] = []
    real_write = out.write
    out.write = lambda text: writes.append(text) or real_write(text)  # type: ignore[method-assign]
    agent = follow_agent(app, ["usage.rated"], Filter(outcomes=frozenset({"invalid"})), out)
    docs = [
        {"version": 3, "outcome": "rated", "subject": "acme"},
        {"version": 3, "outcome": "invalid", "reason": "click_flood", "subject": "acme"},
        {"version": 4, "removed": True},  # a retraction passes: it may undo an invalid one
    ]

    async def run() -> None:
        async with agent.test_context() as ctx:
            for i, doc in enumerate(docs):
                await ctx.put(json.dumps(doc).encode(), key=b"7:0:%d" % i, wait=False)
            for _ in range(100):
                if out.getvalue().count("\n") == 2:
                    break
                await asyncio.sleep(0.05)

    asyncio.run(run())
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [(x["key"], x.get("outcome"), x.get("removed")) for x in lines] == [
        ("7:0:1", "invalid", None),
        ("7:0:2", None, True),
    ]
    assert len(writes) == 1  # one micro-batch, one write


def test_follow_filters_by_subject() -> None:
    keep = Filter(subjects=frozenset({"acme"}))
    assert keep.line("usage.rated", b"k", b'{"subject":"acme","outcome":"rated"}') is not None
    assert keep.line("usage.rated", b"k", b'{"subject":"hooli","outcome":"rated"}') is None
    assert keep.line("events.rejected", b"k", b'{"outcome":"rejected"}') is None
