"""The streaming commands of contract section 7: `worker`, `publish`, `stream`. cli.py registers
them and, as for every command, turns their errors (BrokerError, RuleError, ...) into one line
and an exit code."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import click

from ..cli import rules_option, warehouse_option
from ..config import STREAM_BATCH_SIZE, STREAM_MAX_WAIT_S, default_broker
from .feed import FEED_TOPICS

# contract 2: every record ends in one of these
OUTCOMES = ("rejected", "duplicate", "rated", "invalid", "unbilled", "quality")

broker_option = click.option(
    "--broker",
    "broker_url",
    default=default_broker,
    show_default="$PIPELINE_BROKER or kafka://127.0.0.1:9092",
    help="Kafka-protocol broker, kafka://HOST:PORT (start a local one: scripts/broker.sh start).",
)
batch_options = [
    click.option(
        "--batch-size",
        type=click.IntRange(min=1),
        default=STREAM_BATCH_SIZE,
        show_default=True,
        help="Most records written to the warehouse in one transaction.",
    ),
    click.option(
        "--max-wait",
        type=click.FloatRange(min=0),
        default=STREAM_MAX_WAIT_S,
        show_default=True,
        help="Seconds a fetched record waits for more to join its batch.",
    ),
]
feed_option = click.option(
    "--feed/--no-feed",
    default=None,
    help="Publish every outcome to the outcome topics (usage.rated, quality.events,"
    " events.duplicate, events.rejected) after each batch. Kept in the warehouse: without"
    " either flag a worker does what the warehouse last said (off for a new one).",
)
files_argument = click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))


def _batching(command):  # type: ignore[no-untyped-def]
    for option in reversed(batch_options):
        command = option(command)
    return command


def _settings(  # type: ignore[no-untyped-def]
    rules_dir: str, warehouse: str, broker_url: str, feed: bool | None, **kw: object
):
    from ..rules import load_rules
    from .batch import set_feed
    from .ingest import Settings

    rules = load_rules(rules_dir)  # a bad rule file stops here, before any broker work
    if feed is not None:
        set_feed(warehouse, feed)
    return Settings(broker_url, Path(warehouse), rules, **kw)  # type: ignore[arg-type]


def _logging(level: int) -> None:
    """Our progress at `level`; faust, mode and aiokafka only when something is wrong, one line
    each unless `--debug` (logs.py)."""
    from .logs import configure

    context = click.get_current_context(silent=True)
    root = context.find_root().obj if context is not None else None
    configure(level, debug=bool(root and root.get("debug")))


@click.command()
@rules_option
@warehouse_option
@broker_option
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve Prometheus metrics on this port (/metrics): lag, records, batch write time.",
)
@_batching
@feed_option
@click.option("--quiet", is_flag=True, help="Log only problems, not every batch.")
def worker(
    rules_dir: str,
    warehouse: str,
    broker_url: str,
    metrics_port: int | None,
    batch_size: int,
    max_wait: float,
    feed: bool | None,
    quiet: bool,
) -> None:
    """Consume events.raw into the warehouse until stopped (SIGINT/SIGTERM).

    Workers of one warehouse share the topic's partitions; a worker killed at any moment and
    started again resumes where the warehouse says, losing and doubling nothing."""
    from .worker import run_worker

    settings = _settings(
        rules_dir,
        warehouse,
        broker_url,
        feed,
        batch_size=batch_size,
        max_wait_s=max_wait,
        metrics=metrics_port is not None,
    )
    _logging(logging.WARNING if quiet else logging.INFO)
    done = run_worker(settings, metrics_port=metrics_port)
    click.echo(f"worker stopped: {done.records} records in {done.batches} batch(es)", err=True)


@click.command()
@broker_option
@files_argument
def publish(broker_url: str, files: tuple[str, ...]) -> None:
    """Send the records of FILES (.jsonl, .csv, .parquet), in file and line order, to
    events.raw as one new run."""
    from .worker import publish_files

    run_key, count = asyncio.run(publish_files(broker_url, list(files)))
    click.echo(f"published {count} records from {len(files)} file(s) as run {run_key}", err=True)


@click.command()
@rules_option
@warehouse_option
@broker_option
@_batching
@feed_option
@files_argument
def stream(
    rules_dir: str,
    warehouse: str,
    broker_url: str,
    batch_size: int,
    max_wait: float,
    feed: bool | None,
    files: tuple[str, ...],
) -> None:
    """Publish FILES, process them through the broker until all are in the warehouse, exit.

    The warehouse then holds what `pipeline replay` of the same files would give."""
    from .worker import stream_files

    settings = _settings(
        rules_dir, warehouse, broker_url, feed, batch_size=batch_size, max_wait_s=max_wait
    )
    _logging(logging.WARNING)
    click.echo(stream_files(settings, list(files)), err=True)


@click.command()
@broker_option
@click.option(
    "--topic",
    "topics",
    multiple=True,
    type=click.Choice(list(FEED_TOPICS)),
    help="An outcome topic to follow (repeatable; default: all four).",
)
@click.option("--subject", "subjects", multiple=True, help="Only this subject (repeatable).")
@click.option(
    "--outcome",
    "outcomes",
    multiple=True,
    type=click.Choice(list(OUTCOMES)),
    help="Only records with this outcome (repeatable).",
)
@click.option("--from-beginning", is_flag=True, help="Start at the topics' beginning, not end.")
def follow(
    broker_url: str,
    topics: tuple[str, ...],
    subjects: tuple[str, ...],
    outcomes: tuple[str, ...],
    from_beginning: bool,
) -> None:
    """Print the outcome topics as JSON Lines as workers publish them, until stopped
    (SIGINT/SIGTERM). Workers publish them once their warehouse's feed is on (see `pipeline
    worker`)."""
    from .broker import require_broker
    from .follow import Filter
    from .follow import follow as run

    require_broker(broker_url)
    _logging(logging.WARNING)
    keep = Filter(frozenset(subjects), frozenset(outcomes))
    asyncio.run(run(broker_url, topics or list(FEED_TOPICS), keep, from_beginning=from_beginning))
