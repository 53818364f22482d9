"""Progress on long work: a bar on stderr (records, MB/s, ETA) when stderr is a terminal."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc


def with_progress(batches: Iterable[pa.Table], files: list[str]) -> Iterator[pa.Table]:
    """Pass batches through, advancing a byte-based bar; silent off a terminal."""
    if not sys.stderr.isatty():
        yield from batches
        return
    from tqdm import tqdm

    total = sum(os.path.getsize(f) for f in files)
    cols, rows = _size()
    with tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        file=sys.stderr,
        desc="replay",
        ncols=cols,
        nrows=rows,
    ) as bar:
        records = 0
        for batch in batches:
            records += batch.num_rows
            bar.set_postfix(records=records, refresh=False)
            # the bytes of the batch's lines and their newlines, never past the files' size
            read = pc.sum(pc.binary_length(batch.column("raw"))).as_py() or 0
            bar.update(min(read + batch.num_rows, total - bar.n))
            yield batch


def _size() -> tuple[int, int]:
    """stderr's terminal size. A terminal that reports none (0x0: a fresh pty, some consoles)
    would get no bar at all from tqdm, which hides bars below the last row: use 100x24."""
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except OSError:
        return 100, 24
    return size.columns or 100, size.lines or 24
