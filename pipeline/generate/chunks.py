"""What goes where: the plan of chunks over files, and the mix of record types in a chunk.

Files hold equal shares of the JSON Lines records and are written in chunks of at most `CHUNK`
lines, which bounds memory whatever the run's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from .ads import ad_lines
from .bad_records import bad_lines
from .context import Context
from .quality import probe_lines
from .telecom import sms_lines, usage_lines

CHUNK = 200_000

# Shares of a chunk's valid lines; impressions take the rest (~60%).
P_CLICK, P_VOICE, P_SMS, P_DATA, P_PROBE = 0.25, 0.05, 0.03, 0.04, 0.009
P_BAD = 0.006  # bad records, cycling through every rejection kind
P_DUP = 0.015  # re-delivered copies of earlier lines (same source and id)
P_LATE = 0.005  # impressions held back into the next file, after their clicks


@dataclass(frozen=True)
class Chunk:
    """One chunk of one file: its records' positions [start, end) among all JSON Lines records."""

    file: int
    start: int
    end: int


def plan(n: int, files: int, chunk: int) -> list[Chunk]:
    """`n` records over `files` files of equal size, each cut into chunks of at most `chunk`:
    in file order, at least one per file, so every file is written even when empty."""
    out = []
    for f in range(files):
        lo, hi = n * f // files, n * (f + 1) // files
        k = max(1, -(-(hi - lo) // chunk))
        for c in range(k):
            a, b = lo + (hi - lo) * c // k, lo + (hi - lo) * (c + 1) // k
            out.append(Chunk(f, a, b))
    return out


def fresh_lines(
    rng: np.random.Generator,
    ctx: Context,
    u: tuple[float, float],
    n: int,
    late: bool,
    inc: list[str],
) -> tuple[pl.Series, list[str], pl.Series]:
    """`n` new lines for a chunk: (valid lines, bad lines, extra lines held for the next file)."""
    n_bad = int(n * P_BAD)
    inc = inc[: max(n - n_bad, 0)]
    bulk = n - n_bad - len(inc)
    n_probe, n_click = int(bulk * P_PROBE), int(bulk * P_CLICK)
    n_voice, n_sms, n_data = int(bulk * P_VOICE), int(bulk * P_SMS), int(bulk * P_DATA)
    n_imp = bulk - n_probe - n_click - n_voice - n_sms - n_data
    ads, ads_held = ad_lines(rng, ctx, u, n_imp, n_click, int(n * P_LATE) if late else 0)
    voice, voice_held = usage_lines(rng, ctx, u, "voice", n_voice, late)
    data, data_held = usage_lines(rng, ctx, u, "data", n_data, late)
    rest = [
        sms_lines(rng, ctx, u, n_sms),
        probe_lines(rng, ctx, u, n_probe),
        pl.Series(inc, dtype=pl.String),
    ]
    valid = pl.concat([ads, voice, data, *rest])
    assert len(valid) == n - n_bad, (len(valid), n, n_bad)
    return valid, bad_lines(rng, ctx, u, n_bad), pl.concat([ads_held, voice_held, data_held])
