"""Settings: each with its environment variable, default and unit, in one place."""

from __future__ import annotations

import functools
import os

from .errors import UsageError

DEFAULT_RULES = "rating_rules"
"""--rules default: the rule directory, relative to the working directory."""


def default_warehouse() -> str:
    """--warehouse default: $PIPELINE_WAREHOUSE, else (unset or empty) ./warehouse."""
    return os.environ.get("PIPELINE_WAREHOUSE") or "warehouse"


def default_broker() -> str:
    """--broker default: $PIPELINE_BROKER, else kafka://127.0.0.1:9092."""
    return os.environ.get("PIPELINE_BROKER", "kafka://127.0.0.1:9092")


def lock_timeout_s() -> float:
    """Seconds a command waits for another one holding the warehouse ($PIPELINE_LOCK_TIMEOUT)."""
    text = os.environ.get("PIPELINE_LOCK_TIMEOUT", "30")
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds >= 0:  # (NaN too)
        raise UsageError(
            f"PIPELINE_LOCK_TIMEOUT={text!r} is not a number of seconds", hint="e.g. 30 or 0.5"
        )
    return seconds


INGEST_MEMORY_LIMIT = "1GB"


def memory_limit(*, ingest: bool) -> str | None:
    """DuckDB memory limit ($PIPELINE_MEMORY_LIMIT, DuckDB size syntax), past which DuckDB
    spills to `<warehouse>/.tmp`. Unset, the ingesting commands (replay, worker, stream) keep to
    1 GB, so that memory stays bounded whatever the input's size, and the others use DuckDB's
    default (80% of RAM): billing a 10M-record period joins wide rows, and spilling them made
    it three times slower. None: DuckDB's default."""
    value = os.environ.get("PIPELINE_MEMORY_LIMIT")
    if value:
        _check_memory_size(value)
    return value or (INGEST_MEMORY_LIMIT if ingest else None)


@functools.cache
def _check_memory_size(value: str) -> None:
    """A size DuckDB does not take would otherwise fail the warehouse's connection, and read as
    a warehouse file that cannot be opened. DuckDB itself judges it (an in-memory database),
    once per value: a stream worker opens the warehouse for every batch."""
    import duckdb  # (here: the other settings are read by commands that never open DuckDB)

    try:
        duckdb.connect(config={"memory_limit": value}).close()
    except duckdb.Error:
        raise UsageError(
            f"PIPELINE_MEMORY_LIMIT={value!r} is not a memory size", hint="e.g. 4GB or 1500MB"
        ) from None


# The stream worker's micro-batches (pipeline/stream/ingest.py says why these sizes).
STREAM_BATCH_SIZE = 250_000
STREAM_MAX_WAIT_S = 0.2
