"""Streaming benchmark: `python -m bench.stream --events N [--rate R --seconds S]`.

Two measures, each into a new warehouse through the same worker code `pipeline worker` and
`pipeline stream` run (an in-process `Ingestor` under faust):

- throughput: publish N generated events, then start a worker and time it from its partition
  assignment (group join excluded, reported apart) until the last record is committed in the
  warehouse: sustained events/s.
- replay: the same files through `pipeline replay` (one batch, no broker), for comparison:
  the warehouse ingest both modes share sets the ceiling.
- latency: start a worker, then offer R events/s for S seconds from another process, in chunks
  every 0.1 s. Each chunk is its own run, keyed by the time it was published (run keys are
  nanoseconds since the epoch), so when a batch commits, each of its records' delay from
  publish to warehouse is known: p50, p99 and max over every record.

Without --broker it starts a private broker (scripts/broker.sh) on a free port and stops it after.
Targets from the issue: >= 50,000 events/s; p99 < 1 s at 10,000 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.rules import load_rules
from pipeline.stream.batch import Partition, set_feed
from pipeline.stream.broker import cluster_id, ensure_topics, log_ends
from pipeline.stream.ingest import Ingestor, Settings, Target, WriteResult
from pipeline.stream.messages import RAW_TOPIC, TOPICS, RawMessage
from pipeline.stream.publish import publish_async, record_batches
from pipeline.stream.worker import ALL_TOPICS, run_app
from pipeline.warehouse import Warehouse, new_run_key

REPO = Path(__file__).resolve().parents[1]
CHUNK_S = 0.1  # the paced publisher sends a chunk this often


class TimedIngestor(Ingestor):
    """The worker's ingestor, noting when it was assigned, when each batch committed and how
    long each committed record took from its publish (its run key) to the warehouse."""

    def __init__(self, *args: Any, expect: int | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.expect = expect  # stop after this many records (None: the target, or never)
        self.assigned_at: float | None = None
        self.finished_at = 0.0  # when the last batch committed
        self.delays: Counter[float] = Counter()  # seconds -> records
        self.batch_sizes: list[int] = []
        self.write_s: list[float] = []

    async def seek(self, consumer: Any) -> None:
        await super().seek(consumer)
        if self.assigned_at is None and consumer.assignment():
            self.assigned_at = time.monotonic()

    async def _write(self, batch: dict[Partition, list[RawMessage]]) -> WriteResult:
        runs = Counter(int(dict(m.headers or ())["run"]) for ms in batch.values() for m in ms)
        result = await super()._write(batch)
        committed = time.time_ns()
        for run, n in runs.items():
            self.delays[round((committed - run) / 1e9, 4)] += n
        self.batch_sizes.append(sum(runs.values()))
        self.write_s.append(result[1])
        return result

    def _account(self, written: Any, seconds: float) -> None:
        self.finished_at = time.monotonic()
        super()._account(written, seconds)
        if self.expect is not None and self.records >= self.expect:
            self.done.set()


def percentile(counts: Counter[float], q: float) -> float:
    total, seen = sum(counts.values()), 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= q * total:
            return value
    return float("nan")


# -- the two measures --------------------------------------------------------------------------


async def throughput(settings: Settings, files: list[str]) -> dict[str, Any]:
    url = settings.broker_url
    await ensure_topics(url, ALL_TOPICS)
    start = await log_ends(url, RAW_TOPIC)
    run_key = new_run_key()
    t0 = time.monotonic()
    count = await publish_async(url, record_batches(files, run_key))
    published = time.monotonic()
    ingestor = TimedIngestor(
        settings, cluster=await cluster_id(url), start=start, target=Target(run_key, count)
    )
    began = time.monotonic()
    await run_app(ingestor)
    assert ingestor.assigned_at is not None and ingestor.records == count
    consume_s = ingestor.finished_at - ingestor.assigned_at
    # What per-batch opening costs (the lock, the DuckDB file, its schema check, the checkpoint
    # at close): paid once per batch so that several workers can share the warehouse.
    opened = time.monotonic()
    for _ in range(5):
        with Warehouse.open(settings.warehouse, write=True):
            pass
    return {
        "events": count,
        "open_close_s": round((time.monotonic() - opened) / 5, 3),
        "publish_s": round(published - t0, 2),
        "publish_events_per_s": round(count / (published - t0)),
        "join_s": round(ingestor.assigned_at - began, 2),
        "consume_s": round(consume_s, 2),
        "events_per_s": round(count / consume_s),
        "batches": len(ingestor.batch_sizes),
        "mean_batch": round(count / max(1, len(ingestor.batch_sizes))),
        "mean_write_s": round(sum(ingestor.write_s) / max(1, len(ingestor.write_s)), 2),
        "feed_messages": ingestor.fed,
    }


def replay_rate(rules_dir: Path, files: list[str], warehouse: Path) -> dict[str, Any]:
    from pipeline.replay import replay_files

    started = time.monotonic()
    replay_files(str(rules_dir), str(warehouse), files, progress=False)
    seconds = time.monotonic() - started
    with Warehouse.open(warehouse) as wh:
        events = wh.con.execute("SELECT sum(records) FROM runs").fetchall()[0][0]
    return {"events": events, "seconds": round(seconds, 2), "events_per_s": round(events / seconds)}


async def latency(
    settings: Settings, files: list[str], rate: int, seconds: float
) -> dict[str, Any]:
    url = settings.broker_url
    await ensure_topics(url, TOPICS)
    ingestor = TimedIngestor(
        settings, cluster=await cluster_id(url), start=await log_ends(url, RAW_TOPIC)
    )
    worker = asyncio.ensure_future(run_app(ingestor))
    while ingestor.assigned_at is None:  # offer load only once the worker is reading
        if worker.done():
            worker.result()
        await asyncio.sleep(0.05)
    ctx = multiprocessing.get_context("spawn")  # its own interpreter: no GIL shared with us
    results = ctx.Queue()
    publisher = ctx.Process(target=paced_publish, args=(url, files, rate, seconds, results))
    publisher.start()
    sent, offered_s = await asyncio.get_running_loop().run_in_executor(None, results.get)
    publisher.join()
    ingestor.expect = sent
    if ingestor.records >= sent:
        ingestor.done.set()
    await worker
    d = ingestor.delays
    return {
        "offered_events_per_s": rate,
        "published": sent,
        "achieved_offer_events_per_s": round(sent / offered_s),
        "p50_s": percentile(d, 0.50),
        "p99_s": percentile(d, 0.99),
        "max_s": max(d),
        "batches": len(ingestor.batch_sizes),
        "mean_batch": round(sent / max(1, len(ingestor.batch_sizes))),
        "mean_write_s": round(sum(ingestor.write_s) / max(1, len(ingestor.write_s)), 2),
        "feed_messages": ingestor.fed,
    }


def paced_publish(url: str, files: list[str], rate: int, seconds: float, out: Any) -> None:
    """Child process: send `rate` events/s for `seconds`, a chunk every CHUNK_S, each chunk a
    run keyed by its send time; put (records sent, seconds taken) on `out`."""
    out.put(asyncio.run(_paced(url, files, rate, seconds)))


async def _paced(url: str, files: list[str], rate: int, seconds: float) -> tuple[int, float]:
    import pyarrow as pa

    from pipeline.stream.publish import _send_all, new_producer

    table = pa.concat_tables(record_batches(files, 0))
    producer = new_producer(url)
    await producer.start()
    per_chunk, total = max(1, round(rate * CHUNK_S)), round(rate * seconds)
    sent, started = 0, time.monotonic()
    try:
        while sent < total:
            n = min(per_chunk, total - sent)
            rows = table.slice(sent % table.num_rows, n)  # wraps: later laps are duplicates
            keyed = rows.set_column(0, "run_key", pa.array([time.time_ns()] * rows.num_rows))
            sent += await _send_all(producer, [keyed], RAW_TOPIC)
            await asyncio.sleep(max(0.0, started + sent / rate - time.monotonic()))
    finally:
        await producer.stop()
    return sent, time.monotonic() - started


# -- set-up --------------------------------------------------------------------------------------


@contextlib.contextmanager
def private_broker(state: Path) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PIPELINE_BROKER_PORT": str(port), "PIPELINE_STATE_DIR": str(state)}
    script = str(REPO / "scripts" / "broker.sh")
    subprocess.run([script, "start"], env=env, check=True, capture_output=True)
    try:
        yield f"kafka://127.0.0.1:{port}"
    finally:
        subprocess.run([script, "stop"], env=env, capture_output=True)


def generate(events: int, out: Path) -> list[str]:
    pipeline = str(Path(sys.executable).with_name("pipeline"))
    subprocess.run(
        [pipeline, "generate", "--events", str(events), "--seed", "1", str(out)],
        check=True,
        capture_output=True,
    )
    return sorted(str(p) for p in (out / "events").iterdir())


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.stream", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--events", type=int, default=100_000, help="events for throughput (100000)")
    p.add_argument("--rate", type=int, default=10_000, help="offered events/s for latency (10000)")
    p.add_argument("--seconds", type=float, default=10.0, help="how long to offer them (10)")
    p.add_argument("--batch-size", type=int, default=Settings.batch_size)
    p.add_argument("--max-wait", type=float, default=Settings.max_wait_s)
    p.add_argument("--broker", help="use this broker (default: start a private one)")
    p.add_argument("--skip-latency", action="store_true")
    p.add_argument("--feed", action="store_true", help="publish the outcome topics too")
    p.add_argument("--json", action="store_true", help="print JSON")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        work = Path(tmp)
        print(f"generating {args.events:,} events ...", file=sys.stderr)
        files = generate(max(args.events, 1), work / "data")
        rules = load_rules(str(work / "data" / "rules"))
        with contextlib.ExitStack() as stack:
            url = args.broker or stack.enter_context(private_broker(work / "broker"))

            def settings(name: str) -> Settings:
                if args.feed:
                    set_feed(work / name, True)
                return Settings(url, work / name, rules, args.batch_size, args.max_wait)

            print("throughput ...", file=sys.stderr)
            report = {"throughput": asyncio.run(throughput(settings("wh-t"), files))}
            report["replay"] = replay_rate(work / "data" / "rules", files, work / "wh-r")
            if not args.skip_latency:
                print(
                    f"latency at {args.rate:,} events/s for {args.seconds} s ...", file=sys.stderr
                )
                report["latency"] = asyncio.run(
                    latency(settings("wh-l"), files, args.rate, args.seconds)
                )
    report["machine"] = {"cpus": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 1)}
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        for section, values in report.items():
            print(section)
            for k, v in values.items():
                print(f"  {k:28} {v:,}" if isinstance(v, int) else f"  {k:28} {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
