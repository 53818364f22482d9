"""Quality records: probes in bulk (failing through fixed outage windows) and a dozen incidents
per run, which go through a Python loop because they are few and full of awkward cases."""

from __future__ import annotations

import json

import numpy as np
import polars as pl

from .context import Context
from .templates import T_LATENCY, T_PROBE, num, pick, render
from .world import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    OUTAGES,
    REGIONS,
    SERVICES,
    SPAN_MS,
    START_MS,
    iso,
    times,
)


def probe_lines(
    rng: np.random.Generator, ctx: Context, u: tuple[float, float], n: int
) -> pl.Series:
    """`n` probes: 0.4% fail at random, every probe inside an outage window fails."""
    t = times(rng, u, n)
    svc, reg = rng.integers(0, len(SERVICES), n), rng.integers(0, len(REGIONS), n)
    ok = rng.random(n) >= 0.004
    for service, region, hour, hours in OUTAGES:
        lo = START_MS + hour * HOUR_MS
        hit = (svc == SERVICES.index(service)) & (reg == REGIONS.index(region))
        ok &= ~(hit & (t >= lo) & (t < lo + int(hours * HOUR_MS)))
    lat = np.minimum(rng.lognormal(4.0, 0.6, n) * 10, 99_999).astype(np.int64)
    has_lat = pl.Series(ok & (rng.random(n) < 0.9))
    df = pl.DataFrame({
        "id": ctx.id_col(n), **ctx.pools.time_cols(t), "svc": pick(SERVICES, svc),
        "reg": pick(REGIONS, reg), "ok": num(ok),
        "lat": pl.select(pl.when(has_lat).then(num(lat // 10) + "." + num(lat % 10))).to_series(),
    })  # fmt: skip
    ctx.count(t)
    df = df.with_columns(latency=render(df, T_LATENCY, ctx.prefix, optional=True))
    return render(df, T_PROBE, ctx.prefix)


def incidents(seed: int, prefix: str) -> list[tuple[int, dict[str, object]]]:
    """A dozen incidents with the awkward cases: planned maintenance, lists of affected
    accounts, a repeated open, one never resolved, a resolve without an open."""
    rng = np.random.default_rng([seed, 7_777])
    out: list[tuple[int, dict[str, object]]] = []
    for k in range(12):
        opened = START_MS + int(rng.integers(DAY_MS, 88 * DAY_MS))
        data: dict[str, object] = {"incident_id": f"{prefix}INC-{k + 1:03d}"}
        data["service"] = SERVICES[k % 2]
        if k == 3:
            data["planned"] = True
        if k in (5, 8):
            data["accounts"] = ["acme"] if k == 5 else ["globex", "hooli"]
        out.append((opened, {**data, "state": "open"}))
        if k == 6:
            out.append((opened + 2 * MINUTE_MS, {**data, "state": "open"}))
        if k != 9:
            resolved = opened + int(rng.integers(10, 180)) * MINUTE_MS
            out.append((resolved, {**data, "state": "resolved"}))
    ongoing: dict[str, object] = {
        "incident_id": f"{prefix}INC-900",
        "service": "portal",
        "state": "open",
    }
    stray: dict[str, object] = {
        "incident_id": f"{prefix}INC-901",
        "service": "network",
        "state": "resolved",
    }
    out += [(START_MS + SPAN_MS - 4 * HOUR_MS, ongoing), (START_MS + 40 * DAY_MS, stray)]
    return sorted(out, key=lambda x: x[0])


def incident_line(ctx: Context, ms: int, data: dict[str, object]) -> str:
    """One incident as a JSON line, with the next id of the run."""
    rec = {"specversion": "1.0", "id": f"{ctx.prefix}inc-{ctx.ids(1)[0]:010d}", "source": "noc",
           "type": "quality.incident", "time": iso(ms), "data": data}  # fmt: skip
    return json.dumps(rec, ensure_ascii=False) + "\n"
