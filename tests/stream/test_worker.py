"""`pipeline stream`, `worker` and `publish` end to end. The broker tests run against the real
broker of conftest.py; each compares every export with a `replay` of the same files.

The session broker is shared, so `events.raw` already holds other tests' records. `stream`
copes by itself (a new warehouse starts where the log ended before it published); a `worker` on
a new warehouse reads the whole topic, so these tests first set the warehouse's offsets to the
end of the log (`start_at_log_end`) -- the state a warehouse has after consuming everything
published before the test.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import REPO, free_port
from feed_view import View, fold, warehouse_view
from helpers import PIPELINE, all_exports, bill_all, cli, cli_json, cli_ok, replay
from worked_example import EVENTS, EXAMPLE

from pipeline.rules import load_rules
from pipeline.stream.batch import run_records
from pipeline.stream.broker import cluster_id, log_ends
from pipeline.stream.messages import RAW_TOPIC
from pipeline.warehouse import Warehouse

CHECK = EXAMPLE.parents[1] / "check.py"
FAST_BATCHES = ["--batch-size", "1000", "--max-wait", "0.05"]


def same_as_replay(warehouse: Path, rules: Path, files: list[Path], scratch: Path) -> None:
    """Bill every period in both warehouses; every export must be identical."""
    replay(rules, scratch / "replayed", files)
    periods = bill_all(rules, scratch / "replayed")
    assert bill_all(rules, warehouse) == periods
    assert all_exports(warehouse, periods) == all_exports(scratch / "replayed", periods)


def start_at_log_end(broker_url: str, warehouse: Path, rules: Path) -> None:
    async def where() -> tuple[str, dict[tuple[str, int], int]]:
        return await cluster_id(broker_url), await log_ends(broker_url, RAW_TOPIC)

    cluster, ends = asyncio.run(where())
    with Warehouse.open(warehouse, write=True, create=True) as wh:
        wh.ingest([], load_rules(str(rules)), command="stream", offsets=ends, cluster=cluster)


def publish(broker_url: str, files: list[Path]) -> tuple[int, int]:
    """`pipeline publish`: (run key, records) from its message."""
    err = cli_ok("publish", "--broker", broker_url, *map(str, files)).stderr
    m = re.search(r"published (\d+) records from \d+ file\(s\) as run (\d+)", err)
    assert m, err
    return int(m[2]), int(m[1])


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start `pipeline worker` processes (under `timeout -k`: none outlives a hung test), each
    in its own process group with its log in a file; kill whatever is left at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def spawn(*args: str) -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"worker-{len(started)}.log", "wb")
        p = subprocess.Popen(
            ["timeout", "-k", "5", "120", PIPELINE, "worker", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: SIGKILL reaches timeout and the worker
        )
        p.log_path = log.name  # type: ignore[attr-defined]
        started.append(p)
        return p

    yield spawn
    for p in started:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def spawn_follow(broker_url: str, *args: str) -> subprocess.Popen[bytes]:
    """`pipeline follow` with its standard output in a file (`log_path`)."""
    out = tempfile.NamedTemporaryFile(prefix="follow-", suffix=".jsonl", delete=False)
    p = subprocess.Popen(
        ["timeout", "-k", "5", "120", PIPELINE, "follow", "--broker", broker_url, *args],
        stdout=out,
        stderr=subprocess.DEVNULL,
    )
    p.log_path = out.name  # type: ignore[attr-defined]
    return p


def log_of(p: subprocess.Popen[bytes]) -> str:
    return Path(p.log_path).read_text(errors="replace")  # type: ignore[attr-defined]


def wait_for(
    what: str, cond: Callable[[], bool], timeout_s: float, *procs: subprocess.Popen[bytes]
) -> None:  # polls often: the kill test must catch a worker early
    deadline = time.monotonic() + timeout_s
    while not cond():
        for p in procs:
            assert p.poll() is None, (
                f"worker exited {p.returncode} while waiting for {what}:\n{log_of(p)}"
            )
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n" + "\n".join(
            log_of(p)[-3000:] for p in procs
        )
        time.sleep(0.02)


def stored(p: subprocess.Popen[bytes]) -> int:
    """Records a worker logged as stored, over all its batches so far."""
    return sum(map(int, re.findall(r"batch \d+: (\d+) record\(s\) stored", log_of(p))))


def stop(p: subprocess.Popen[bytes]) -> str:
    """SIGTERM: the worker finishes its batch, leaves the group and exits 0."""
    p.send_signal(signal.SIGTERM)  # reaches `timeout`, which passes it on to the worker
    assert p.wait(30) == 0, log_of(p)
    return log_of(p)


# -- no broker needed ----------------------------------------------------------------------------


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("command", ["worker", "stream"])
def test_without_a_broker_fails_at_once_saying_how_to_start_one(
    tmp_path: Path, command: str
) -> None:
    url = f"kafka://127.0.0.1:{closed_port()}"
    files = [str(f) for f in EVENTS] if command == "stream" else []
    started = time.monotonic()
    p = cli(
        command,
        "--rules",
        str(EXAMPLE / "rules"),
        "--warehouse",
        str(tmp_path / "wh"),
        "--broker",
        url,
        *files,
        timeout=30,
    )
    assert time.monotonic() - started < 15
    assert p.returncode == 1, p.stderr
    assert f"error: no Kafka broker answers at {url}" in p.stderr
    assert "scripts/broker.sh start" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "wh").exists()


def test_worker_with_a_bad_rule_file_fails_at_once(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(EXAMPLE / "rules", rules)
    fraud = rules / "fraud.yaml"
    fraud.write_text(
        fraud.read_text().replace("attribution_window_s:", "attribution_window_s: -1 #")
    )
    p = cli(
        "worker",
        "--rules",
        str(rules),
        "--warehouse",
        str(tmp_path / "wh"),
        "--broker",
        f"kafka://127.0.0.1:{closed_port()}",
        timeout=30,
    )
    assert p.returncode == 1 and "fraud.yaml" in p.stderr and "attribution_window_s" in p.stderr
    assert "broker" not in p.stderr  # the rules are checked first


# -- against the broker ----------------------------------------------------------------------------


@pytest.mark.broker
def test_stream_equals_replay(broker_url: str, tmp_path: Path) -> None:
    wh = tmp_path / "streamed"
    p = cli_ok(
        "stream",
        "--rules",
        str(EXAMPLE / "rules"),
        "--warehouse",
        str(wh),
        "--broker",
        broker_url,
        *map(str, EVENTS),
        timeout=60,
    )
    assert "streamed 205 records from 3 file(s)" in p.stderr
    same_as_replay(wh, EXAMPLE / "rules", EVENTS, tmp_path)


@pytest.mark.broker
def test_concurrent_streams_into_two_warehouses_each_equal_replay(
    broker_url: str, tmp_path: Path
) -> None:
    """Both publish to the one topic at once; each warehouse gets its own files only."""
    rules = str(EXAMPLE / "rules")
    split = {"a": EVENTS[:1], "b": EVENTS[1:]}
    procs = {
        name: subprocess.Popen(
            [
                PIPELINE,
                "stream",
                "--rules",
                rules,
                "--warehouse",
                str(tmp_path / name),
                "--broker",
                broker_url,
                *map(str, files),
            ],
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for name, files in split.items()
    }
    for p in procs.values():
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    for name, files in split.items():
        same_as_replay(tmp_path / name, EXAMPLE / "rules", files, tmp_path / f"replay-{name}")


@pytest.mark.broker
def test_a_second_stream_adds_its_own_files_only_and_leaves_the_rest_to_a_worker(
    broker_url: str, tmp_path: Path, workers: Callable[..., subprocess.Popen[bytes]]
) -> None:
    """stream A, then (someone else's stream into another warehouse), then stream B into the
    first warehouse: it holds A and B, as `replay A B` would; the other warehouse's run,
    published on partitions the first had read, is not taken in by `stream`, but stays in the
    log for a worker of the first warehouse, which takes it in (nothing is skipped for it)."""
    rules = str(EXAMPLE / "rules")

    def stream(wh: Path, *files: Path) -> str:
        args = ["--rules", rules, "--warehouse", str(wh), "--broker", broker_url]
        return cli_ok("stream", *args, *map(str, files), timeout=60).stderr

    wh, other = tmp_path / "w", tmp_path / "other"
    stream(wh, EVENTS[0])
    stream(other, EVENTS[1])
    stream(wh, EVENTS[2])
    same_as_replay(wh, EXAMPLE / "rules", [EVENTS[0], EVENTS[2]], tmp_path / "replayed")
    before = cli_json("export", "reconcile", "--warehouse", str(wh))["input"]
    w = workers("--rules", rules, "--warehouse", str(wh), "--broker", broker_url, *FAST_BATCHES)
    others = sum(1 for line in EVENTS[1].read_text().splitlines() if line.strip())
    wait_for(
        "the other run",
        lambda: cli_json("export", "reconcile", "--warehouse", str(wh))["input"] >= before + others,
        60,
        w,
    )
    stop(w)
    assert cli_json("export", "reconcile", "--warehouse", str(wh))["input"] == before + others


@pytest.mark.broker
def test_contract_check_in_stream_mode(broker_url: str) -> None:
    env = {**os.environ, "PIPELINE_BROKER": broker_url}
    p = subprocess.run(
        [sys.executable, str(CHECK), PIPELINE, str(EXAMPLE), "--mode", "stream"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r"(\d+)/\1 outputs match", p.stdout), p.stdout


@pytest.mark.broker
def test_a_stream_that_dies_while_publishing_leaves_where_its_warehouse_starts(
    broker_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream killed before its first batch commits (here: while publishing) has already
    stored the log's ends in its warehouse: `pipeline worker`, which its error message
    suggests, goes on from there, not from the log's beginning with other warehouses' runs
    (the shared test broker holds many)."""
    from helpers import main_inprocess

    from pipeline.stream import worker

    ends = asyncio.run(log_ends(broker_url, RAW_TOPIC))

    async def killed(*_: object) -> int:
        raise KeyboardInterrupt  # what a dying process does mid-publish, as far as we can see

    monkeypatch.setattr(worker, "publish_async", killed)
    wh = tmp_path / "w"
    r = main_inprocess(
        "stream", "--rules", str(EXAMPLE / "rules"), "--warehouse", str(wh),
        "--broker", broker_url, str(EVENTS[0]),
    )  # fmt: skip
    assert r.returncode != 0
    with Warehouse.open(wh) as w:
        stored = w.offsets(asyncio.run(cluster_id(broker_url)))
    assert stored == ends and sum(ends.values()) > 0


@pytest.mark.broker
def test_publish_sends_records_not_blank_lines(broker_url: str, tmp_path: Path) -> None:
    f = tmp_path / "a.jsonl"
    f.write_bytes(b'{"x": 1}\n\n   \n{"y": 2}\n')
    assert publish(broker_url, [f])[1] == 2


@pytest.mark.broker
@pytest.mark.parametrize("command", ["publish", "stream"])
def test_a_bad_file_after_good_ones_stops_the_run_before_a_record_is_sent(
    broker_url: str, tmp_path: Path, command: str
) -> None:
    """Records are sent as the files are read: a file that fails part-way (a CSV in lone CRs)
    after 3 MB of good records used to leave those on the broker, for the next worker on the
    warehouse to ingest as a run nobody asked for. Every file is now read through first: the
    run stops with the file's error, nothing sent and (stream) no warehouse made."""
    good = tmp_path / "good.jsonl"
    good.write_bytes(
        b"".join(b'{"id": "%d", "pad": "%s"}\n' % (i, b"x" * 280) for i in range(10_000))
    )
    bad = tmp_path / "mac.csv"
    bad.write_bytes(b"specversion,id\r1.0,a\r")
    ends = asyncio.run(log_ends(broker_url, RAW_TOPIC))
    wh = tmp_path / "w"
    args = (
        ["--rules", str(EXAMPLE / "rules"), "--warehouse", str(wh)] if command == "stream" else []
    )
    r = cli(command, *args, "--broker", broker_url, str(good), str(bad))
    assert r.returncode == 1, r.stderr
    assert "mac.csv: CSV lines end in a lone CR" in r.stderr
    assert asyncio.run(log_ends(broker_url, RAW_TOPIC)) == ends
    assert not wh.exists()


@pytest.mark.broker
def test_a_worker_whose_broker_goes_away_stops_with_a_message(
    tmp_path: Path, workers: Callable[..., subprocess.Popen[bytes]]
) -> None:
    """Contract 7: never a hang. A worker whose broker stops answering mid-run (aiokafka would
    retry for ever) exits 1 within seconds, saying so; what it stored stays."""
    port = free_port()
    env = {
        **os.environ,
        "PIPELINE_BROKER_PORT": str(port),
        "PIPELINE_STATE_DIR": str(tmp_path / "broker"),
    }
    script = [str(REPO / "scripts" / "broker.sh")]
    subprocess.run(["timeout", "-k", "5", "40", *script, "start"], env=env, check=True)
    url = f"kafka://127.0.0.1:{port}"
    try:
        publish(url, EVENTS)
        wh = tmp_path / "wh"
        w = workers("--rules", str(EXAMPLE / "rules"), "--warehouse", str(wh), "--broker", url,
                    *FAST_BATCHES)  # fmt: skip
        wait_for("the records", lambda: stored(w) >= 205, 60, w)
    finally:
        subprocess.run(["timeout", "-k", "5", "40", *script, "stop"], env=env, check=True)
    began = time.monotonic()
    assert w.wait(60) == 1, log_of(w)
    # 3 probes 2 s apart, then faust is not waited for (it retried for 18 s)
    assert time.monotonic() - began < 20
    # The worker's word is one line; aiokafka's errors (hundreds a few seconds, with
    # tracebacks) come one line each, each once (pipeline/stream/logs.py)
    log = log_of(w)
    lines = log.splitlines()
    assert any(ln.startswith("error: the broker stopped answering") for ln in lines), lines[-20:]
    assert "Traceback" not in log, log[-3000:]
    assert len(lines) < 40, log[-3000:]
    assert sum("(probe " in ln for ln in lines) == 3, log[-3000:]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "data"
    cli_ok("generate", "--events", "5000", "--seed", "7", str(out))
    return out


@pytest.mark.broker
def test_worker_killed_and_restarted_loses_and_doubles_nothing(
    broker_url: str,
    tmp_path: Path,
    generated: Path,
    workers: Callable[..., subprocess.Popen[bytes]],
) -> None:
    rules, files = generated / "rules", sorted((generated / "events").iterdir())
    wh = tmp_path / "wh"
    start_at_log_end(broker_url, wh, rules)
    run_key, count = publish(broker_url, files)
    args = ["--rules", str(rules), "--warehouse", str(wh), "--broker", broker_url, *FAST_BATCHES]

    first = workers(*args, "--batch-size", "250", "--feed")
    # Its log, not the warehouse: a reader polling the warehouse lock can lose every race with
    # a writer that takes it back at once, and see nothing until the worker is done.
    wait_for("a first batch", lambda: stored(first) > 0, 45, first)
    os.killpg(first.pid, signal.SIGKILL)  # most likely in the middle of the next batch
    first.wait()
    written = run_records(wh, run_key)
    assert 0 < written < count, f"killed after {written} of {count}: nothing left to resume"

    second = workers(*args)  # the warehouse remembers --feed
    wait_for("every record", lambda: run_records(wh, run_key) >= count, 90, second)
    stop(second)
    assert run_records(wh, run_key) == count
    same_as_replay(wh, rules, files, tmp_path)

    # The outcome topics, read back by `pipeline follow`, say what the warehouse says: nothing
    # the killed worker noted was lost, and what it sent twice is ordered by version.
    want = warehouse_view(wh, {run_key})
    assert sum(map(len, want.values())) > count // 2
    follower = spawn_follow(broker_url, "--from-beginning")
    mine = f"{run_key}:"

    def fed() -> View:
        lines = Path(follower.log_path).read_text().splitlines()  # type: ignore[attr-defined]
        docs = [json.loads(line) for line in lines]
        ours = [(d.pop("topic"), d.pop("key"), d) for d in docs]
        return fold((t, k, json.dumps(d)) for t, k, d in ours if k.startswith(mine))

    deadline = time.monotonic() + 60
    while fed() != want:
        assert follower.poll() is None and time.monotonic() < deadline, "feed never matched"
        time.sleep(0.5)
    follower.send_signal(signal.SIGTERM)
    assert follower.wait(30) == 0


@pytest.mark.broker
def test_two_workers_share_the_partitions_of_one_warehouse(
    broker_url: str,
    tmp_path: Path,
    generated: Path,
    workers: Callable[..., subprocess.Popen[bytes]],
) -> None:
    rules, files = generated / "rules", sorted((generated / "events").iterdir())
    wh = tmp_path / "wh"
    start_at_log_end(broker_url, wh, rules)
    args = ["--rules", str(rules), "--warehouse", str(wh), "--broker", broker_url, *FAST_BATCHES]
    port = free_port()
    a, b = workers(*args, "--metrics-port", str(port)), workers(*args)

    def one_partition_each() -> bool:
        last = [re.findall(r"assigned partitions (.*)", log_of(p))[-1:] for p in (a, b)]
        return sorted(x[0].split("@")[0] for x in last if x and "," not in x[0]) == ["0", "1"]

    wait_for("a partition each", one_partition_each, 45, a, b)
    run_key, count = publish(broker_url, files)
    wait_for("every record", lambda: run_records(wh, run_key) >= count, 60, a, b)
    # a batch is logged after its metrics are counted: once the logs add up, so do the metrics
    wait_for("the logs", lambda: stored(a) + stored(b) == count, 10, a, b)
    scraped = scrape(port)
    stored_by_a, stored_by_b = stored(a), stored(b)
    assert stored_by_a > 0 and stored_by_b > 0  # both took part
    for p in (a, b):
        assert f"worker stopped: {stored(p)} records" in stop(p)
    assert run_records(wh, run_key) == count
    same_as_replay(wh, rules, files, tmp_path)

    # worker a's metrics: what it stored, by outcome; no lag left on its partition
    assert (
        sum(v for (name, _), v in scraped.items() if name == "pipeline_records_total")
        == stored_by_a
    )
    lags = {
        dict(labels)["partition"]: v
        for (name, labels), v in scraped.items()
        if name == "pipeline_consumer_lag_records"
    }
    assert list(lags.values()) == [0], lags
    batches = scraped[("pipeline_batch_write_duration_seconds_count", frozenset())]
    assert batches >= 1
    # the input-bytes and rating-duration panels are fed by a worker too, once per batch
    assert scraped[("pipeline_rating_duration_seconds_count", frozenset())] == batches
    assert scraped[("pipeline_read_bytes_total", frozenset())] > stored_by_a * 100


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
