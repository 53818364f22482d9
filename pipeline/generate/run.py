"""`generate`: the library entry point, which checks its arguments, writes the rule set, the
JSON Lines files and the CSV file, and says what it wrote."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.errors import UsageError

from .chunks import CHUNK
from .context import Context, Pools
from .csv_file import csv_rows, write_csv
from .rules import RULES
from .writer import write_events

_PREFIX = re.compile(r"[A-Za-z0-9._-]*")


@dataclass(frozen=True)
class GenerateSummary:
    """What `generate` wrote. `periods` counts the valid records per UTC month, so a benchmark
    can bill the busiest one."""

    out_dir: Path
    events: int
    files: tuple[Path, ...]
    bytes: int
    seconds: float
    periods: dict[str, int] = field(default_factory=dict)

    @property
    def busiest_period(self) -> str:
        return max(sorted(self.periods), key=self.periods.__getitem__, default="")

    def to_json(self) -> str:
        rate = round(self.events / self.seconds) if self.seconds else None
        return json.dumps(
            {"out_dir": str(self.out_dir), "events": self.events, "bytes": self.bytes,
             "files": [str(f) for f in self.files], "seconds": round(self.seconds, 3),
             "events_per_s": rate, "periods": self.periods, "busiest_period": self.busiest_period}
        )  # fmt: skip


def generate(
    out_dir: Path,
    events: int,
    seed: int,
    *,
    files: int = 4,
    id_prefix: str = "",
    chunk: int = CHUNK,
    force: bool = False,
) -> GenerateSummary:
    """Write a rule set and `events` records: `files` JSON Lines files plus one small CSV file.

    `id_prefix` goes in front of every id (events, impressions that clicks name, sessions,
    incidents), so data generated again with another seed adds new events to a warehouse
    instead of duplicates. Refuses a non-empty `events/` unless `force`.
    """
    _check(events, files, chunk, id_prefix)
    began, out_dir = time.perf_counter(), Path(out_dir)
    ev_dir = _prepare(out_dir, force)
    ctx = Context(prefix=id_prefix, pools=Pools())
    n_csv = min(100, events // 50)
    files = max(1, min(files, (events - n_csv) // 100))  # no near-empty files in tiny runs
    paths = write_events(ev_dir, events - n_csv, seed, files, ctx, chunk)
    if n_csv:
        paths.append(ev_dir / f"part-{files + 1:03d}.csv")
        write_csv(paths[-1], csv_rows(np.random.default_rng([seed, 1 << 30]), ctx, n_csv))
    size = sum(p.stat().st_size for p in paths)
    took = time.perf_counter() - began
    return GenerateSummary(
        out_dir, events, tuple(paths), size, took, dict(sorted(ctx.months.items()))
    )


def _check(events: int, files: int, chunk: int, id_prefix: str) -> None:
    """Refuse arguments that would write nothing sensible, before touching the disk."""
    if events < 0 or files < 1 or chunk < 1:
        raise UsageError(f"need events >= 0 and files, chunk >= 1; got {events}, {files}, {chunk}")
    if not _PREFIX.fullmatch(id_prefix):
        raise UsageError(f"id prefix {id_prefix!r} may hold only letters, digits, '.', '_', '-'")


def _prepare(out_dir: Path, force: bool) -> Path:
    """Write the rule set and return an empty `events/` directory (emptied only with `force`)."""
    ev_dir = out_dir / "events"
    if ev_dir.exists() and any(ev_dir.iterdir()):
        if not force:
            raise UsageError(f"{ev_dir} is not empty", hint="choose another OUT_DIR or use --force")
        for old in ev_dir.glob("part-*.*"):
            old.unlink()
    for name, text in RULES.items():
        (out_dir / "rules" / name).parent.mkdir(parents=True, exist_ok=True)
        (out_dir / "rules" / name).write_text(text, encoding="utf-8")
    ev_dir.mkdir(parents=True, exist_ok=True)
    return ev_dir
