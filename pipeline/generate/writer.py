"""The JSON Lines files: chunk by chunk, with re-sent copies and late lines carried between
chunks, each chunk's bytes going from the Arrow buffer to the file in one `writev`.

Sorted file order is replay order; records within a chunk are shuffled. Copies of a chunk's
lines are re-sent in the next chunk (the last chunk repeats its own at its end); held-back late
lines open the next file.
"""

from __future__ import annotations

import os
from itertools import groupby
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from .bad_records import INVALID_UTF8
from .chunks import P_DUP, Chunk, fresh_lines, plan
from .context import Context
from .quality import incident_line, incidents
from .world import position_of

_EMPTY = pl.Series([], dtype=pl.String)


def write_events(out: Path, n: int, seed: int, files: int, ctx: Context, chunk: int) -> list[Path]:
    """Write `n` JSON Lines records to `files` files in `out`; returns their paths."""
    paths = [out / f"part-{f + 1:03d}.jsonl" for f in range(files)]
    chunks = plan(n, files, chunk)
    stream = _Stream(ctx, n, files, seed)
    for f, group in groupby(enumerate(chunks), key=lambda pair: pair[1].file):
        stream.new_file()
        with paths[f].open("wb", buffering=0) as handle:
            for i, ch in group:
                rng = np.random.default_rng([seed, i])
                body, raw = stream.chunk_lines(rng, ch, final=i == len(chunks) - 1)
                _write_all(handle.fileno(), _buffers(body, raw, rng))
    return paths


class _Stream:
    """What passes from chunk to chunk: copies waiting to be re-sent, lines held back for the
    next file, and the incidents not yet due."""

    def __init__(self, ctx: Context, n: int, files: int, seed: int) -> None:
        self.ctx, self.n, self.files = ctx, n, files
        self.schedule = [(position_of(ms), ms, d) for ms, d in incidents(seed, ctx.prefix)]
        self.carry = self.late = _EMPTY

    def new_file(self) -> None:
        """Late lines open the new file, ahead of the copies still waiting."""
        self.carry, self.late = pl.concat([self.late, self.carry]), _EMPTY

    def chunk_lines(
        self, rng: np.random.Generator, ch: Chunk, final: bool
    ) -> tuple[pl.Series, list[bytes]]:
        """The chunk's lines, shuffled: carried lines, then fresh ones to fill it; plus the raw
        (non-UTF-8) lines. Its copies wait for the next chunk, or close the last one."""
        size = ch.end - ch.start
        now, self.carry = self.carry.head(size), self.carry.slice(size)  # overflow waits
        n_copies = int((size - len(now)) * P_DUP)
        u = (ch.start / max(self.n, 1), ch.end / max(self.n, 1))
        todo = size - len(now) - (n_copies if final else 0)
        may_hold = ch.file < self.files - 1  # the last file has no next file to hold lines for
        valid, bad, held = fresh_lines(rng, self.ctx, u, todo, may_hold, self._due(u[1], final))
        self.late = pl.concat([self.late, _compact(held)])
        text, raw = _split_bad(bad)
        body = pl.concat([valid, text, now])
        body = body.gather(rng.permutation(len(body)))
        copies = valid.gather(rng.integers(0, len(valid), n_copies)) if len(valid) else _EMPTY
        if final:
            return pl.concat([body, copies]), raw
        self.carry = pl.concat([self.carry, _compact(copies)])
        return body, raw

    def _due(self, until: float, final: bool) -> list[str]:
        """Lines for the incidents placed before position `until` (all that remain if final)."""
        due = [incident_line(self.ctx, ms, d) for p, ms, d in self.schedule if p < until or final]
        self.schedule = [s for s in self.schedule if s[0] >= until]
        return due


def _split_bad(bad: list[str]) -> tuple[pl.Series, list[bytes]]:
    """Bad lines as text, apart from those holding invalid UTF-8, which only raw bytes can carry."""
    raw = [b.encode("utf-8", "surrogateescape") for b in bad if INVALID_UTF8 in b]
    return pl.Series([b for b in bad if INVALID_UTF8 not in b], dtype=pl.String), raw


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
