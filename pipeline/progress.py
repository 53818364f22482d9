"""Progress on long work: a bar on stderr (records, MB/s, ETA) when stderr is a terminal."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator

import pyarrow as pa


def with_progress(batches: Iterable[pa.Table], files: list[str]) -> Iterator[pa.Table]:
    """Pass batches through, advancing a byte-based bar; silent off a terminal."""
    if not sys.stderr.isatty():
        yield from batches
        return
    from tqdm import tqdm

    total = sum(os.path.getsize(f) for f in files)
    with tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1 << 20,
        file=sys.stderr,
        desc="replay",
        dynamic_ncols=True,
    ) as bar:
        records = 0
        for batch in batches:
            records += batch.num_rows
            bar.set_postfix(records=records, refresh=False)
            bar.update(batch.column("raw").nbytes)
            yield batch
