"""What every record maker shares: the string pools, built once per run, and the run's counters.

The pools are the world, not part of the seed (their generator has its own fixed seed), so two
runs with different seeds draw addresses, subscribers and destinations from the same sets.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from .templates import num
from .world import (
    BOT_UAS,
    DAY_MS,
    DEST_PREFIXES,
    DEST_WEIGHTS,
    HUMAN_UAS,
    N_IPS,
    START_MS,
    SUBSCRIBERS,
    TEL_SUBJECTS,
)


class Pools:
    """Pre-rendered strings that every field is gathered from: time pieces, IPs, user agents,
    subscribers and destinations."""

    def __init__(self) -> None:
        rng = np.random.default_rng(20260101)
        self.day = pl.Series([f"{np.datetime64('2026-01-01') + d}T" for d in range(120)])
        hms = (f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}." for s in range(86400))
        self.sec = pl.Series(list(hms))
        self.msec = pl.Series([f"{m:03d}Z" for m in range(1000)])
        host = rng.integers(1, 1 << 24, N_IPS)
        octets = pl.DataFrame({"a": host >> 16, "b": (host >> 8) & 255, "c": host & 255})
        users = octets.select(pl.format("10.{}.{}.{}", "a", "b", "c")).to_series()
        self.ip = pl.concat([users, pl.Series([f"203.0.113.{k}" for k in range(1, 255)])])
        self.ua = pl.Series(HUMAN_UAS + BOT_UAS)
        subs = (f"sub-{a}-{k:04d}" for a in TEL_SUBJECTS for k in range(SUBSCRIBERS))
        self.msisdn = pl.Series(list(subs))
        prefix = pl.Series(DEST_PREFIXES).gather(rng.choice(6, 50_000, p=DEST_WEIGHTS))
        self.dest = prefix + num(rng.integers(0, 10**9, 50_000), 9)

    def time_cols(self, ms: np.ndarray) -> dict[str, pl.Series]:
        """The `<time>` columns (day, second of day, millisecond) for epoch-ms times."""
        day, rest = np.divmod(ms - START_MS, DAY_MS)
        sec, milli = np.divmod(rest, 1000)
        day_, sec_, milli_ = self.day.gather(day), self.sec.gather(sec), self.msec.gather(milli)
        return {"t_d": day_, "t_s": sec_, "t_m": milli_}


@dataclass
class Context:
    """Per-run state: id serials (unique across the run), the bad-record cycle, month counts."""

    prefix: str
    pools: Pools
    serial: int = 0
    bad_seq: int = 0
    months: Counter[str] = field(default_factory=Counter)

    def ids(self, k: int) -> np.ndarray:
        """The next `k` serials: ids never repeat within a run, whatever the record type."""
        self.serial += k
        return np.arange(self.serial - k, self.serial, dtype=np.int64)

    def id_col(self, k: int) -> pl.Series:
        """The next `k` ids as the fixed-width text the templates expect."""
        return num(self.ids(k), 10)

    def count(self, ms: np.ndarray) -> None:
        """Count valid records per UTC month, so a benchmark can bill the busiest one."""
        month = ms.astype("datetime64[ms]").astype("datetime64[M]")
        months, counts = np.unique(month, return_counts=True)
        for m, c in zip(months, counts, strict=True):
            self.months[str(m)] += int(c)
