"""The JSON Lines files: chunk by chunk, with re-sent copies and late lines carried between
chunks, each chunk's bytes going from the Arrow buffer to the file in one `writev`.

Sorted file order is replay order; records within a chunk are shuffled. Copies of a chunk's
lines are re-sent in the next chunk (the last chunk repeats its own at its end); held-back late
lines open the next file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from .bad_records import INVALID_UTF8
from .chunks import P_DUP, fresh_lines, plan
from .context import Context
from .quality import incident_line, incidents
from .world import position_of

_EMPTY = pl.Series([], dtype=pl.String)


def write_events(out: Path, n: int, seed: int, files: int, ctx: Context, chunk: int) -> list[Path]:
    """Write `n` JSON Lines records to `files` files in `out`; returns their paths."""
    schedule = [(position_of(ms), ms, d) for ms, d in incidents(seed, ctx.prefix)]
    paths = [out / f"part-{f + 1:03d}.jsonl" for f in range(files)]
    chunks = plan(n, files, chunk)
    carry = late = _EMPTY
    handle = None
    for i, ch in enumerate(chunks):
        rng, final = np.random.default_rng([seed, i]), i == len(chunks) - 1
        if ch.first_of_file:
            if handle:
                handle.close()
            handle = paths[ch.file].open("wb", buffering=0)
            carry, late = pl.concat([late, carry]), _EMPTY
        size = ch.end - ch.start
        now, carry = carry.head(size), carry.slice(size)  # an overflow waits for the next chunk
        n_copies = int((size - len(now)) * P_DUP)
        u = (ch.start / max(n, 1), ch.end / max(n, 1))
        inc = [incident_line(ctx, ms, d) for p, ms, d in schedule if p < u[1] or final]
        schedule = [s for s in schedule if s[0] >= u[1]]
        todo = size - len(now) - (n_copies if final else 0)
        valid, bad, held = fresh_lines(rng, ctx, u, todo, ch.file < files - 1, inc)
        late = pl.concat([late, _compact(held)])
        raw = [b.encode("utf-8", "surrogateescape") for b in bad if INVALID_UTF8 in b]
        text = pl.Series([b for b in bad if INVALID_UTF8 not in b], dtype=pl.String)
        body = pl.concat([valid, text, now])
        body = body.gather(rng.permutation(len(body)))
        copies = valid.gather(rng.integers(0, len(valid), n_copies)) if len(valid) else _EMPTY
        if final:
            body = pl.concat([body, copies])
        else:
            carry = pl.concat([carry, _compact(copies)])
        assert handle is not None
        _write_all(handle.fileno(), _buffers(body, raw, rng))
    if handle:
        handle.close()
    return paths


def _buffers(lines: pl.Series, raw: list[bytes], rng: np.random.Generator) -> list[bytes]:
    """The chunk as slices of one Arrow buffer (no per-line Python objects), with raw non-UTF-8
    lines spliced in at random line boundaries."""
    arr = lines.to_arrow()
    arr = (arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr).cast(
        pa.large_string()
    )
    if len(arr) == 0:
        return raw
    off = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    body = memoryview(arr.buffers()[2])  # type: ignore[arg-type]
    pieces: list[bytes] = []
    prev = off[0]
    for pos, line in zip(np.sort(rng.integers(0, len(arr) + 1, len(raw))), raw, strict=True):
        pieces += [body[prev : off[pos]], line]  # type: ignore[list-item]
        prev = off[pos]
    return [*pieces, body[prev : off[-1]]]  # type: ignore[list-item]


def _write_all(fd: int, pieces: list[bytes]) -> None:
    """One `writev` per chunk, never a join (that would copy the chunk once more)."""
    views = [memoryview(p) for p in pieces if len(p)]
    while views:
        done = os.writev(fd, views[:512])  # stay under IOV_MAX; loop on a short write
        while views and done >= len(views[0]):
            done -= len(views.pop(0))
        if views and done:
            views[0] = views[0][done:]


def _compact(lines: pl.Series) -> pl.Series:
    """A copy that owns its bytes: a gathered string Series holds views into the whole chunk's
    buffers, so carrying a few thousand lines would otherwise keep every chunk alive."""
    return pl.Series(lines.to_arrow().cast(pa.large_string()), dtype=pl.String)
