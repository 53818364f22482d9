"""The wire format of `events.raw`: one raw record per message, and back.

A message carries one row of `raw_input.RAW_SCHEMA`, so the worker rebuilds exactly the table the
batch reader would have produced and both modes share every later stage:

- value: the JSON document when the reader rendered one (`doc`, CSV and Parquet rows; marked by
  an empty `doc` header), else the record's original bytes (`raw`, a JSON Lines line);
- headers, ASCII: `run` (int64 run key), `file_idx`, `file`, `line`; `pre` when the reader already
  decided a reason (`malformed`); `raw` when the original bytes differ from the value (a CSV line),
  so a rejected CSV row is still kept verbatim;
- key: `file_idx:line`, for people reading the topic; the partition is chosen from the same numbers
  (see `partition_of`), so no key hashing runs per message.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import pyarrow as pa

from ..raw_input import RAW_SCHEMA

RAW_TOPIC = "events.raw"
# Partitions only spread load: the warehouse re-judges everything ingested in (run, file_idx,
# line) order, so no outcome depends on how records are spread or interleaved. Two = the cores
# of the reference machine; a topic that already exists keeps whatever count it has.
RAW_PARTITIONS = 2
TOPICS: Mapping[str, int] = {RAW_TOPIC: RAW_PARTITIONS}

Headers = list[tuple[str, bytes]]


class RawMessage(Protocol):
    """A consumed message: aiokafka's `ConsumerRecord` and faust's `Message` both fit."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] | Mapping[str, bytes] | None


def partition_of(file_idx: int, line: int, partitions: int) -> int:
    """Round-robin over lines, shifted per file so that many one-line files still spread."""
    return (file_idx + line) % partitions


def table_to_messages(table: pa.Table) -> Iterator[tuple[int, int, bytes, bytes, Headers]]:
    """(file_idx, line, key, value, headers) for each row of a `RAW_SCHEMA` table, in order."""
    cols = [table.column(c).to_pylist() for c in RAW_SCHEMA.names]
    encoded: dict[object, bytes] = {}  # run keys, file indexes and names repeat: encode once

    def enc(v: object) -> bytes:
        b = encoded.get(v)
        if b is None:
            b = encoded[v] = str(v).encode()
        return b

    for run, idx, file, line, raw, doc, pre in zip(*cols, strict=True):
        head = [
            ("run", enc(run)),
            ("file_idx", enc(idx)),
            ("file", enc(file)),
            ("line", b"%d" % line),
        ]
        if pre is not None:
            head.append(("pre", pre.encode()))
        value = raw
        if doc is not None:
            value = doc.encode()
            head.append(("doc", b""))
            if raw != value:
                head.append(("raw", raw))
        yield idx, line, b"%d:%d" % (idx, line), value, head


def messages_to_table(messages: Iterable[RawMessage]) -> pa.Table:
    """The `RAW_SCHEMA` table of consumed messages, in the order given (the inverse of
    `table_to_messages`). A message without our headers raises ValueError naming its position."""
    run: list[int] = []
    idx: list[int] = []
    file: list[bytes] = []
    line: list[int] = []
    raw: list[bytes] = []
    doc: list[bytes | None] = []
    pre: list[bytes | None] = []
    for m in messages:
        h = dict(m.headers or ())
        value = m.value or b""
        try:
            run.append(int(h["run"]))
            idx.append(int(h["file_idx"]))
            file.append(h["file"])
            line.append(int(h["line"]))
        except (KeyError, ValueError) as exc:
            where = f"{m.topic}[{m.partition}]@{m.offset}"
            raise ValueError(f"message {where} is not a raw record: bad header {exc}") from None
        raw.append(h.get("raw", value))
        doc.append(value if "doc" in h else None)
        pre.append(h.get("pre"))
    cols: list[list[Any]] = [run, idx, file, line, raw, doc, pre]
    # Arrow checks that `file`, `doc` and `pre` bytes are UTF-8 as it builds the string columns.
    return pa.table(
        [pa.array(c, f.type) for c, f in zip(cols, RAW_SCHEMA, strict=True)], schema=RAW_SCHEMA
    )
