"""Synthetic event generator: realistic, deterministic and fast enough for 10M-event benchmarks.

Why it exists: the benchmarks and the bundled `sample/` need traffic that looks like production
(mostly ad impressions and clicks, telecom usage with partial sessions, quality probes and
incidents) *and* every kind of trouble the contract handles: duplicates, late arrivals, bad
records of each rejection reason, fraud patterns, unknown accounts, out-of-contract times and
unknown destinations.

Why it looks like this: a per-event Python loop tops out near 100k events/s, so each chunk of
up to 200k events is drawn with numpy and rendered with polars `concat_str` from one template
per record type over pre-built string pools; the chunk's bytes go from the Arrow buffer to the
file in one `writev`. Only the few hundred special records per chunk (bad records, incidents,
the small CSV file) go through a Python loop. Memory is bounded by the chunk size.

Output: `OUT_DIR/rules/` (a full rule set, contract section 3) and `OUT_DIR/events/part-NNN.jsonl`
plus one small `part-NNN.csv`; sorted file order is replay order. Files are roughly chronological
(January first); records within a chunk are shuffled. The same (events, seed, files, id_prefix)
always gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import click
import numpy as np
import polars as pl
import pyarrow as pa

from pipeline.errors import UsageError

CHUNK = 200_000
START_MS = int(np.datetime64("2026-01-01T00:00:00", "ms").astype(np.int64))
DAY_MS, HOUR_MS, MINUTE_MS = 86_400_000, 3_600_000, 60_000
SPAN_MS = 90 * DAY_MS  # 2026-01-01 .. 2026-03-31: three calendar months

# Shares of a chunk's valid lines; impressions take the rest (~60%).
P_CLICK, P_VOICE, P_SMS, P_DATA, P_PROBE = 0.25, 0.05, 0.03, 0.04, 0.009
P_BAD = 0.006  # bad records, cycling through every rejection kind
P_DUP = 0.015  # re-delivered copies of earlier lines (same source and id)
P_LATE = 0.005  # impressions held back into the next file, after their clicks

ADS_SUBJECTS = ("acme", "globex", "hooli", "vandelay", "soylent", "wayne")  # wayne: no account
ADS_WEIGHTS = (0.34, 0.2, 0.16, 0.12, 0.17, 0.01)
TEL_SUBJECTS = ("initech", "umbrella", "stark", "oscorp")  # oscorp: no account
TEL_WEIGHTS = (0.35, 0.35, 0.29, 0.01)
CAMPAIGNS = ("brand", "spring-sale", "retarget", "launch", "été-2026", "search", "video", "Promo")
CAMPAIGN_WEIGHTS = (0.22, 0.2, 0.15, 0.12, 0.08, 0.1, 0.08, 0.05)
HUMAN_UAS = (  # trimmed real-world strings: lines average under 300 bytes
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/124.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Windows NT 10.0; rv:125.0) Gecko/20100101 Firefox/125.0",
)
BOT_UAS = (  # each holds one of fraud.yaml's bot_user_agents, in various cases
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/124.0.0.0",
    "Baiduspider-render/2.0",
    "SiteCrawler/1.3 (+https://example.net/crawler)",
)
P_BOT = 0.004
ADSERVERS = ("adserver-eu1", "adserver-us1")  # event sources
SWITCHES = ("msc-waw", "msc-lon")  # voice and sms
GATEWAYS = ("pgw-1", "pgw-2")  # data
N_IPS = 1 << 18  # user addresses in 10.0.0.0/8; click-farm bursts come from 203.0.113.0/24
SUBSCRIBERS = 4000  # per telecom account
DEST_PREFIXES = ("+48", "+4860", "+44", "+1", "+49", "+33")  # +49, +33: no price in telco-basic
DEST_WEIGHTS = (0.55, 0.1, 0.15, 0.12, 0.06, 0.02)
SERVICES, REGIONS = ("portal", "network"), ("eu-west", "us-east", "ap-south")
OUTAGES = (  # (service, region, start hour from 2026-01-01, hours): runs of failed probes
    ("network", "eu-west", 19 * 24 + 8, 3.0),
    ("portal", "eu-west", 33 * 24 + 10, 6.0),
    ("network", "us-east", 70 * 24 + 2, 4.0),
    ("portal", "ap-south", 83 * 24 + 14, 2.0),
)

# One template per record type: <name> is a column, <time> the three time-piece columns, ~ the
# id prefix. A column that is null drops its piece (optional fields: session, latency_ms).
_HEAD = '{"specversion": "1.0", "id": "~%s-<id>", "source": "%s", "type": "%s", "time": "<time>"'
_ADS = '"campaign": "<camp>", "ip": "<ip>", "user_agent": "<ua>"}}\n'
T_IMP = _HEAD % ("imp", "<src>", "ad.impression") + ', "subject": "<sub>", "data": {' + _ADS
T_CLICK = (
    _HEAD % ("clk", "clicktracker", "ad.click")
    + ', "subject": "<sub>", "data": {"impression_id": "~imp-<ref>", '
    + _ADS
)
_TEL = ', "subject": "<sub>", "data": {"subscriber": "<msisdn>", '
T_SMS = _HEAD % ("sms", "<src>", "telecom.sms") + _TEL + '"destination": "<dest>"}}\n'
T_VOICE = (
    _HEAD % ("voi", "<src>", "telecom.voice")
    + _TEL
    + '"destination": "<dest>", "duration_s": <qty><session>}}\n'
)
T_DATA = _HEAD % ("dat", "<src>", "telecom.data") + _TEL + '"bytes": <qty><session>}}\n'
T_SESSION = ', "session": {"id": "~<kind>-sess-<sid>", "seq": <seq>, "last": <last>}'
T_PROBE = (
    _HEAD % ("prb", "prober-<reg>", "quality.probe")
    + ', "data": {"service": "<svc>", "region": "<reg>", "ok": <ok><latency>}}\n'
)
T_LATENCY = ', "latency_ms": <lat>'  # optional


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


# --- time: traffic grows from 1x to 2x over the span (so March is the busiest month) and a
# record's time follows its position in the output, so files are roughly chronological.


def _time_at(u: np.ndarray) -> np.ndarray:
    """Inverse of the ramp's CDF F(x) = (x + x^2/2) / 1.5: position in [0, 1) -> epoch ms."""
    return START_MS + ((np.sqrt(1.0 + 3.0 * u) - 1.0) * SPAN_MS).astype(np.int64)


def _position_of(ms: int) -> float:
    x = (ms - START_MS) / SPAN_MS
    return (x + x * x / 2) / 1.5


def _times(rng: np.random.Generator, u: tuple[float, float], n: int) -> np.ndarray:
    return _time_at(rng.uniform(u[0], u[1], n))


def _iso(ms: int) -> str:
    return f"{np.datetime64(int(ms), 'ms')}Z"


# --- string pools and rendering: every field is a gather from a pool or a cast, never a
# per-row Python format.


class _Pools:
    def __init__(self) -> None:
        rng = np.random.default_rng(20260101)  # the pools are the world, not part of the seed
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
        self.dest = prefix + _num(rng.integers(0, 10**9, 50_000), 9)

    def time_cols(self, ms: np.ndarray) -> dict[str, pl.Series]:
        day, rest = np.divmod(ms - START_MS, DAY_MS)
        sec, milli = np.divmod(rest, 1000)
        day_, sec_, milli_ = self.day.gather(day), self.sec.gather(sec), self.msec.gather(milli)
        return {"t_d": day_, "t_s": sec_, "t_m": milli_}


_PLACEHOLDER = re.compile(r"<(\w+)>")


def _render(df: pl.DataFrame, template: str, prefix: str, optional: bool = False) -> pl.Series:
    """One string per row from `template`. With `optional`, a null column makes the whole
    result null (an absent optional piece); otherwise null pieces are skipped."""
    text = template.replace("<time>", "<t_d><t_s><t_m>").replace("~", prefix)
    pieces = _PLACEHOLDER.split(text)
    exprs = [pl.col(p) if i % 2 else pl.lit(p) for i, p in enumerate(pieces) if p]
    return df.select(pl.concat_str(exprs, ignore_nulls=not optional).alias("l")).to_series()


def _num(a: np.ndarray, width: int = 0) -> pl.Series:
    s = pl.Series(a).cast(pl.String)
    return s.str.zfill(width) if width else s


def _pick(pool: tuple[str, ...] | pl.Series, idx: np.ndarray) -> pl.Series:
    return (pool if isinstance(pool, pl.Series) else pl.Series(pool)).gather(idx)


@dataclass
class _Ctx:
    """Per-run state: id serials (unique across the run), the bad-record cycle, month counts."""

    prefix: str
    pools: _Pools
    serial: int = 0
    bad_seq: int = 0
    months: Counter[str] = field(default_factory=Counter)

    def ids(self, k: int) -> np.ndarray:
        self.serial += k
        return np.arange(self.serial - k, self.serial, dtype=np.int64)

    def id_col(self, k: int) -> pl.Series:
        return _num(self.ids(k), 10)

    def count(self, ms: np.ndarray) -> None:
        month = ms.astype("datetime64[ms]").astype("datetime64[M]")
        months, counts = np.unique(month, return_counts=True)
        for m, c in zip(months, counts, strict=True):
            self.months[str(m)] += int(c)


# --- ads: impressions, clicks and the fraud patterns.


def _ads(
    rng: np.random.Generator, ctx: _Ctx, u: tuple[float, float], n_imp: int, n_click: int, late: int
) -> tuple[pl.Series, pl.Series]:
    """`n_imp` impressions and `n_click` clicks, plus `late` clicked impressions held back:
    returns (lines, held lines). Clicks: 1% a second click on the same impression, 1.2% orphans
    (half to an impression never served, half more than an hour after theirs), bursts."""
    n_dup, n_orph = n_click // 100, n_click * 12 // 1000
    n_att = n_click - n_dup - n_orph  # one click each on impressions [0, n_att)
    late = min(late, n_att)
    m = n_imp + late  # impressions [0, late) are held back
    if n_att > m:
        n_orph, n_att = n_orph + n_att - m, m
    if n_att == 0:
        n_orph, n_dup = n_orph + n_dup, 0
    t, ip = _times(rng, u, m), rng.integers(0, N_IPS, m)
    delay = np.minimum(300 + rng.exponential(25_000, n_att).astype(np.int64), 3_000_000)
    _bursts(rng, t, ip, delay, late, n_att)
    dup_of, orph_of = rng.integers(0, max(n_att, 1), n_dup), rng.integers(0, max(m, 1), n_orph)
    ghost = rng.random(n_orph) < 0.5
    c_imp = np.concatenate([np.arange(n_att), dup_of, orph_of])
    c_delay = np.concatenate([
        delay,
        np.minimum(delay[dup_of] + rng.integers(500, 90_000, n_dup), 3_500_000),
        np.where(ghost, 4_000, rng.integers(2 * HOUR_MS, 8 * HOUR_MS, n_orph)),
    ])  # fmt: skip
    imp_ids = ctx.ids(m)
    ref = imp_ids[c_imp]
    ref[n_att + n_dup :][ghost] = ctx.ids(int(ghost.sum()))  # ids that were never served
    imps = pl.DataFrame({
        "id": _num(imp_ids, 10), "src": _pick(ADSERVERS, rng.integers(0, 2, m)),
        **ctx.pools.time_cols(t), "sub": _pick(ADS_SUBJECTS, rng.choice(6, m, p=ADS_WEIGHTS)),
        "camp": _pick(CAMPAIGNS, rng.choice(len(CAMPAIGNS), m, p=CAMPAIGN_WEIGHTS)),
        "ip": ctx.pools.ip.gather(ip), "ua": ctx.pools.ua.gather(_ua_idx(rng, m)),
    })  # fmt: skip
    ct = t[c_imp] + c_delay
    clicks = imps[c_imp].with_columns(
        id=ctx.id_col(len(c_imp)), ref=_num(ref, 10), **ctx.pools.time_cols(ct)
    )
    ctx.count(t)
    ctx.count(ct)
    imp_lines = _render(imps, T_IMP, ctx.prefix)
    lines = pl.concat([imp_lines.slice(late), _render(clicks, T_CLICK, ctx.prefix)])
    return lines, imp_lines.head(late)


def _ua_idx(rng: np.random.Generator, n: int) -> np.ndarray:
    human, bot = rng.integers(0, len(HUMAN_UAS), n), rng.integers(0, len(BOT_UAS), n)
    return np.where(rng.random(n) < P_BOT, len(HUMAN_UAS) + bot, human)


def _bursts(
    rng: np.random.Generator, t: np.ndarray, ip: np.ndarray, delay: np.ndarray, lo: int, hi: int
) -> None:
    """Click-farm bursts, in place: groups of 6-9 clicked impressions from [lo, hi) whose clicks
    come from one IP within one UTC minute (fraud.yaml allows 5)."""
    groups = (hi - lo) // 4000 + (1 if hi - lo >= 60 else 0)
    sizes = rng.integers(6, 10, groups)
    total = int(sizes.sum())
    if total == 0 or lo + total > hi:
        return
    idx, group = np.arange(lo, lo + total), np.repeat(np.arange(groups), sizes)
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]]) + lo
    minute = (t[first] // MINUTE_MS + 1) * MINUTE_MS
    delay[idx] = rng.integers(1_000, 600_000, total)
    t[idx] = minute[group] + rng.integers(0, MINUTE_MS, total) - delay[idx]
    ip[idx] = N_IPS + rng.integers(0, 254, groups)[group]


# --- telecom: sms, voice and data; some voice/data records are parts of a session.


def _sms(rng: np.random.Generator, ctx: _Ctx, u: tuple[float, float], n: int) -> pl.Series:
    t, acct = _times(rng, u, n), rng.choice(len(TEL_SUBJECTS), n, p=TEL_WEIGHTS)
    df = pl.DataFrame({
        "id": ctx.id_col(n), "src": _pick(SWITCHES, rng.integers(0, 2, n)),
        **ctx.pools.time_cols(t), "sub": _pick(TEL_SUBJECTS, acct),
        "msisdn": ctx.pools.msisdn.gather(acct * SUBSCRIBERS + rng.integers(0, SUBSCRIBERS, n)),
        "dest": ctx.pools.dest.gather(rng.integers(0, len(ctx.pools.dest), n)),
    })  # fmt: skip
    ctx.count(t)
    return _render(df, T_SMS, ctx.prefix)


def _usage(
    rng: np.random.Generator, ctx: _Ctx, u: tuple[float, float], kind: str, n: int, late: bool
) -> tuple[pl.Series, pl.Series]:
    """`n` voice or data lines (plus held ones): plain records and session parts, 2-3 per
    session; 3% of sessions never send `last: true`, 2% of parts are re-sent under a new id,
    and with `late` 10% of sessions send their last part in the next file."""
    n_sess = n * 3 // 25  # ~30% of the lines are session parts
    parts = rng.integers(2, 4, n_sess)
    sess = np.repeat(np.arange(n_sess), parts)
    seq = np.arange(len(sess)) - np.repeat(np.cumsum(parts) - parts, parts) + 1
    is_last = seq == parts[sess]
    held = is_last & (rng.random(n_sess) < 0.1)[sess] if late else np.zeros(len(sess), bool)
    sent = np.flatnonzero(~held)
    resend = rng.choice(sent, min(-(-n_sess // 50), len(sent)), replace=False)
    n_plain = n - len(sent) - len(resend)
    rows = np.concatenate([sess, np.arange(n_sess, n_sess + n_plain)])  # session or plain record
    k, n_rows = n_sess + n_plain, len(rows)
    acct = rng.choice(len(TEL_SUBJECTS), k, p=TEL_WEIGHTS)
    step = np.concatenate([seq - 1, np.zeros(n_plain, np.int64)]) * (10 if kind == "voice" else 60)
    t = _times(rng, u, k)[rows] + step * MINUTE_MS + rng.integers(0, 5_000, n_rows)
    nulls = pl.Series([None] * n_plain, dtype=pl.String)
    msisdn = (acct * SUBSCRIBERS + rng.integers(0, SUBSCRIBERS, k))[rows]
    df = pl.DataFrame({
        "id": ctx.id_col(n_rows), **ctx.pools.time_cols(t), "sub": _pick(TEL_SUBJECTS, acct[rows]),
        "src": _pick(SWITCHES if kind == "voice" else GATEWAYS, rng.integers(0, 2, n_rows)),
        "msisdn": ctx.pools.msisdn.gather(msisdn),
        "dest": ctx.pools.dest.gather(rng.integers(0, len(ctx.pools.dest), k)[rows]),
        "qty": _quantity(rng, kind, n_rows), "seq": pl.concat([_num(seq), nulls]),
        "sid": pl.concat([_num(ctx.ids(n_sess), 8).gather(sess), nulls]),
        "last": pl.concat([_num(is_last & (rng.random(n_sess) >= 0.03)[sess]), nulls]),
    })  # fmt: skip
    session = _render(df, T_SESSION.replace("<kind>", kind), ctx.prefix, optional=True)
    df = df.with_columns(session=session)
    template = T_VOICE if kind == "voice" else T_DATA
    lines = _render(df, template, ctx.prefix)
    again = _render(df[resend].with_columns(id=ctx.id_col(len(resend))), template, ctx.prefix)
    keep = np.concatenate([~held, np.ones(n_plain, bool)])
    ctx.count(t)
    return pl.concat([lines.filter(keep), again]), lines.filter(~keep)


def _quantity(rng: np.random.Generator, kind: str, n: int) -> pl.Series:
    """Call seconds (2% unanswered, 10% with a half second) or bytes of a data record."""
    if kind == "data":
        return _num(np.minimum(rng.lognormal(14.5, 1.6, n), 5e9).astype(np.int64))
    secs = np.minimum(rng.lognormal(4.3, 1.0, n), 7200).astype(np.int64)
    secs[rng.random(n) < 0.02] = 0
    half = pl.Series(rng.random(n) < 0.1)
    frac = pl.when(half).then(pl.lit(".5"))
    return pl.select(pl.concat_str(_num(secs), frac, ignore_nulls=True)).to_series()


# --- quality: probes in bulk (with fixed outage windows) and a dozen incidents per run.


def _probes(rng: np.random.Generator, ctx: _Ctx, u: tuple[float, float], n: int) -> pl.Series:
    t = _times(rng, u, n)
    svc, reg = rng.integers(0, len(SERVICES), n), rng.integers(0, len(REGIONS), n)
    ok = rng.random(n) >= 0.004
    for service, region, hour, hours in OUTAGES:
        lo = START_MS + hour * HOUR_MS
        hit = (svc == SERVICES.index(service)) & (reg == REGIONS.index(region))
        ok &= ~(hit & (t >= lo) & (t < lo + int(hours * HOUR_MS)))
    lat = np.minimum(rng.lognormal(4.0, 0.6, n) * 10, 99_999).astype(np.int64)
    has_lat = pl.Series(ok & (rng.random(n) < 0.9))
    df = pl.DataFrame({
        "id": ctx.id_col(n), **ctx.pools.time_cols(t), "svc": _pick(SERVICES, svc),
        "reg": _pick(REGIONS, reg), "ok": _num(ok),
        "lat": pl.select(pl.when(has_lat).then(_num(lat // 10) + "." + _num(lat % 10))).to_series(),
    })  # fmt: skip
    ctx.count(t)
    df = df.with_columns(latency=_render(df, T_LATENCY, ctx.prefix, optional=True))
    return _render(df, T_PROBE, ctx.prefix)


def _incidents(seed: int, prefix: str) -> list[tuple[int, dict[str, object]]]:
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
    ongoing = {"incident_id": f"{prefix}INC-900", "service": "portal", "state": "open"}
    stray = {"incident_id": f"{prefix}INC-901", "service": "network", "state": "resolved"}
    out += [(START_MS + SPAN_MS - 4 * HOUR_MS, ongoing), (START_MS + 40 * DAY_MS, stray)]
    return sorted(out, key=lambda x: x[0])


def _incident_line(ctx: _Ctx, ms: int, data: dict[str, object]) -> str:
    rec = {"specversion": "1.0", "id": f"{ctx.prefix}inc-{ctx.ids(1)[0]:010d}", "source": "noc",
           "type": "quality.incident", "time": _iso(ms), "data": data}  # fmt: skip
    return json.dumps(rec, ensure_ascii=False) + "\n"


# --- bad records: every rejection kind in turn, so even a small sample holds each of them.
# %I id, %S subject, %T time; %Tsp / %Tno / %Tnc: the time with a space for `T`, without an
# offset, with an offset lacking its colon. Lone surrogates are written as raw, invalid bytes.

_B_IMP = (
    '{"specversion": "1.0", "id": "%I", "source": "adserver-eu1", "type": "ad.impression", '
    '"time": "%T", "subject": "%S", "data": {"campaign": "brand", "ip": "10.9.9.9", '
    '"user_agent": "Mozilla/5.0"}}'
)
_B_VOICE = (
    '{"specversion": "1.0", "id": "%I", "source": "msc-waw", "type": "telecom.voice", '
    '"time": "%T", "subject": "initech", "data": {"subscriber": "sub-initech-0001", '
    '"destination": "+48221234567", "duration_s": 60}}'
)
_B_PROBE = (
    '{"specversion": "1.0", "id": "%I", "source": "prober-eu-west", "type": "quality.probe", '
    '"time": "%T", "data": {"service": "portal", "region": "eu-west", "ok": "yes"}}'
)
_B_INCIDENT = (
    '{"specversion": "1.0", "id": "%I", "source": "noc", "type": "quality.incident", '
    '"time": "%T", "data": {"incident_id": "X", "service": "portal", "state": "closed"}}'
)
BAD_RECORDS: tuple[tuple[str, str, str, str], ...] = (  # (reason, template, replace, with)
    ("malformed", _B_IMP[:90], "", ""),
    ("malformed", '["ad.impression", "%I", "%T"]', "", ""),
    ("malformed", _B_IMP + "}", "", ""),
    ("malformed", _B_IMP, '"brand"', '"caf\udcff\udcfe"'),  # invalid UTF-8
    ("missing_field", _B_IMP, ', "subject": "%S"', ""),
    ("missing_field", _B_IMP, '"specversion": "1.0"', '"specversion": "0.3"'),
    ("missing_field", _B_IMP, '"id": "%I"', '"id": ""'),
    ("missing_field", _B_IMP, '"time": "%T", ', ""),
    ("unknown_type", _B_IMP, "ad.impression", "ad.view"),
    ("unknown_type", _B_VOICE, "telecom.voice", "telecom.mms"),
    ("bad_time", _B_IMP, "%T", "%Tsp"),
    ("bad_time", _B_IMP, "%T", "%Tno"),
    ("bad_time", _B_IMP, "%T", "%Tnc"),
    ("bad_time", _B_IMP, "%T", "2026-02-03T10:00:60.000Z"),
    ("bad_time", _B_IMP, "%T", "2026-02-30T12:00:00.000Z"),
    ("bad_data", _B_VOICE, '"duration_s": 60', '"duration_s": -5'),
    ("bad_data", _B_VOICE, '"duration_s": 60', '"duration_s": "60"'),
    ("bad_data", _B_VOICE, "+48221234567", "0048221234567"),
    ("bad_data", _B_VOICE, "telecom.voice", "telecom.data"),  # data without bytes
    ("bad_data", _B_VOICE, "60}", '60, "session": {"id": "s-1", "seq": 0, "last": true}}'),
    ("bad_data", _B_IMP, '"campaign": "brand", ', ""),
    ("bad_data", _B_IMP, '"10.9.9.9"', "null"),
    ("bad_data", _B_IMP, '"Mozilla/5.0"', "42"),
    ("bad_data", _B_PROBE, "", ""),
    ("bad_data", _B_INCIDENT, "", ""),
)


def _bad_lines(rng: np.random.Generator, ctx: _Ctx, u: tuple[float, float], n: int) -> list[str]:
    out: list[str] = []
    for ms in _times(rng, u, n):
        _, line, old, new = BAD_RECORDS[ctx.bad_seq % len(BAD_RECORDS)]
        ctx.bad_seq += 1
        t = _iso(int(ms))
        line = line.replace(old, new, 1) if old else line
        line = line.replace("%Tsp", t.replace("T", " ")).replace("%Tno", t[:-1])
        line = line.replace("%Tnc", t[:-1] + "+0100").replace("%T", t)
        line = line.replace("%S", ADS_SUBJECTS[ctx.bad_seq % 5])
        out.append(line.replace("%I", f"{ctx.prefix}bad-{ctx.ids(1)[0]:010d}") + "\n")
    return out


# --- chunks and files: files of equal size, each written in chunks of at most CHUNK lines.


@dataclass(frozen=True)
class _Chunk:
    file: int
    start: int  # position of the chunk's first line among all JSON Lines records
    end: int
    first_of_file: bool


def _plan(n: int, files: int, chunk: int) -> list[_Chunk]:
    out = []
    for f in range(files):
        lo, hi = n * f // files, n * (f + 1) // files
        k = max(1, -(-(hi - lo) // chunk))
        for c in range(k):
            a, b = lo + (hi - lo) * c // k, lo + (hi - lo) * (c + 1) // k
            out.append(_Chunk(f, a, b, c == 0))
    return out


def _fresh(
    rng: np.random.Generator, ctx: _Ctx, u: tuple[float, float], n: int, late: bool, inc: list[str]
) -> tuple[pl.Series, list[str], pl.Series]:
    """`n` new lines for a chunk: (valid lines, bad lines, extra lines held for the next file)."""
    n_bad = int(n * P_BAD)
    inc = inc[: max(n - n_bad, 0)]
    bulk = n - n_bad - len(inc)
    n_probe, n_click = int(bulk * P_PROBE), int(bulk * P_CLICK)
    n_voice, n_sms, n_data = int(bulk * P_VOICE), int(bulk * P_SMS), int(bulk * P_DATA)
    n_imp = bulk - n_probe - n_click - n_voice - n_sms - n_data
    ads, ads_held = _ads(rng, ctx, u, n_imp, n_click, int(n * P_LATE) if late else 0)
    voice, voice_held = _usage(rng, ctx, u, "voice", n_voice, late)
    data, data_held = _usage(rng, ctx, u, "data", n_data, late)
    rest = [
        _sms(rng, ctx, u, n_sms),
        _probes(rng, ctx, u, n_probe),
        pl.Series(inc, dtype=pl.String),
    ]
    valid = pl.concat([ads, voice, data, *rest])
    assert len(valid) == n - n_bad, (len(valid), n, n_bad)
    return valid, _bad_lines(rng, ctx, u, n_bad), pl.concat([ads_held, voice_held, data_held])


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


_EMPTY = pl.Series([], dtype=pl.String)


def _write_events(out: Path, n: int, seed: int, files: int, ctx: _Ctx, chunk: int) -> list[Path]:
    """Write `n` JSON Lines records. Copies of a chunk's lines are re-sent in the next chunk (the
    last chunk repeats its own at its end); held-back late lines open the next file."""
    schedule = [(_position_of(ms), ms, d) for ms, d in _incidents(seed, ctx.prefix)]
    paths = [out / f"part-{f + 1:03d}.jsonl" for f in range(files)]
    plan = _plan(n, files, chunk)
    carry = late = _EMPTY
    handle = None
    for i, ch in enumerate(plan):
        rng, final = np.random.default_rng([seed, i]), i == len(plan) - 1
        if ch.first_of_file:
            if handle:
                handle.close()
            handle = paths[ch.file].open("wb", buffering=0)
            carry, late = pl.concat([late, carry]), _EMPTY
        size = ch.end - ch.start
        now, carry = carry.head(size), carry.slice(size)  # an overflow waits for the next chunk
        n_copies = int((size - len(now)) * P_DUP)
        u = (ch.start / max(n, 1), ch.end / max(n, 1))
        inc = [_incident_line(ctx, ms, d) for p, ms, d in schedule if p < u[1] or final]
        schedule = [s for s in schedule if s[0] >= u[1]]
        todo = size - len(now) - (n_copies if final else 0)
        valid, bad, held = _fresh(rng, ctx, u, todo, ch.file < files - 1, inc)
        late = pl.concat([late, _compact(held)])
        raw = [b.encode("utf-8", "surrogateescape") for b in bad if "\udcff" in b]
        text = pl.Series([b for b in bad if "\udcff" not in b], dtype=pl.String)
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


# --- the small CSV file (contract 1: flat `data.<field>` columns), with its own trouble.

CSV_COLUMNS = (
    "specversion,id,source,type,time,subject,data.campaign,data.ip,data.user_agent,"
    "data.impression_id,data.subscriber,data.destination,data.duration_s,data.bytes,"
    "data.session.id,data.session.seq,data.session.last"
).split(",")


def _csv_rows(rng: np.random.Generator, ctx: _Ctx, n: int) -> list[list[str]]:
    """Impressions with a click 2 s later, voice calls as one-part sessions and data records;
    then bad cells, a short row (malformed) and a re-sent row (duplicate)."""
    rows: list[dict[str, str]] = []
    for k, ms in enumerate(np.sort(_times(rng, (0.0, 0.99), n))):
        row = dict.fromkeys(CSV_COLUMNS, "")
        row.update(specversion="1.0", id=f"{ctx.prefix}csv-{ctx.ids(1)[0]:010d}", time=_iso(ms))
        if k % 10 in (0, 2, 4):
            ad = {"data.campaign": "partner", "data.ip": f"10.77.{k % 250}.{k * 7 % 250}"}
            ad["data.user_agent"] = HUMAN_UAS[4]  # no comma in it: plain in any CSV tool
            row.update(ad, source="partner-feed", type="ad.impression", subject="hooli")
        elif k % 10 in (1, 3) and rows[-1]["type"] == "ad.impression":
            imp = rows[-1]
            row.update(
                {c: imp[c] for c in ("subject", "data.campaign", "data.ip", "data.user_agent")}
            )
            row.update(source="partner-clicks", type="ad.click", time=_iso(_ms(imp["time"]) + 2000))
            row["data.impression_id"] = imp["id"]
        elif k % 10 in (5, 6):
            row.update(source="msc-waw", type="telecom.voice", subject="initech")
            row.update({"data.subscriber": "sub-initech-0042", "data.destination": "+48601000042",
                        "data.duration_s": str(30 + k), "data.session.id": f"{row['id']}-s",
                        "data.session.seq": "1", "data.session.last": "true"})  # fmt: skip
        else:
            row.update(source="pgw-1", type="telecom.data", subject="umbrella")
            row.update({"data.subscriber": "sub-umbrella-0007", "data.bytes": str(1024 * k)})
        rows.append(row)
    for j, (column, value, type_) in enumerate(_CSV_BAD_CELLS):
        hits = [r for r in rows[j * 7 :] if r["type"] == type_]
        if hits:
            hits[0][column] = value
    out = [[r[c] for c in CSV_COLUMNS] for r in rows]
    if len(out) >= 20:
        out[10] = out[10][:-3]  # fewer cells than the header
        out[-1] = list(out[len(out) // 2])  # same source and id as an earlier row
    return out


_CSV_BAD_CELLS = (
    ("data.duration_s", "ninety", "telecom.voice"),
    ("data.bytes", "1e3", "telecom.data"),
    ("data.session.last", "True", "telecom.voice"),
    ("subject", "", "telecom.data"),
)


def _ms(iso: str) -> int:
    return int(np.datetime64(iso.rstrip("Z"), "ms").astype(np.int64))


def _write_csv(path: Path, rows: list[list[str]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


# --- rules: fixed, not seeded, so data generated with another seed shares them.

_TELCO_BASIC = """\
# Retail telecom: per-minute voice by destination with an off-peak discount, graduated data.
# +49 and +33 have no voice price here: such calls are unbilled (no_destination).
plan: telco-basic
currency: PLN
timezone: Europe/Warsaw
versions:
  - effective_from: "2026-01-01T00:00:00Z"
    monthly_fee: "29.99"
    charges:
      telecom.voice:
        model: per_unit
        per: 60
        increment: 60
        minimum: 60
        destinations: [{prefix: "+48", price: "0.10"}, {prefix: "+4860", price: "0.15"},
                       {prefix: "+44", price: "0.40"}, {prefix: "+1", price: "0.60"}]
        peak: {days: [mon, tue, wed, thu, fri], from: "08:00", to: "18:00"}
        off_peak_factor: "0.5"
      telecom.sms:
        model: per_unit
        destinations: [{prefix: "+", price: "0.05"}, {prefix: "+1", price: "0.20"}]
      telecom.data:
        model: graduated
        per: 1048576
        increment: 1024
        tiers: [{up_to: 104857600, price: "0"}, {up_to: 524288000, price: "0.02"},
                {price: "0.01"}]
  - effective_from: "2026-02-20T06:00:00Z"   # new price list, mid-period
    monthly_fee: "34.99"
    charges:
      telecom.voice:
        model: per_unit
        per: 60
        increment: 1
        minimum: 30
        destinations: [{prefix: "+48", price: "0.09"}, {prefix: "+4860", price: "0.12"},
                       {prefix: "+44", price: "0.35"}, {prefix: "+1", price: "0.55"}]
        peak: {days: [mon, tue, wed, thu, fri], from: "07:00", to: "19:00"}
        off_peak_factor: "0.4"
      telecom.sms: {model: per_unit, price: "0.05"}
      telecom.data:
        model: graduated
        per: 1048576
        increment: 1024
        tiers: [{up_to: 209715200, price: "0"}, {price: "0.015"}]
"""

RULES: dict[str, str] = {
    "plans/ads-standard.yaml": """\
# List-price display advertising; prices change mid-February.
plan: ads-standard
currency: EUR
timezone: Europe/Warsaw
versions:
  - effective_from: "2026-01-01T00:00:00Z"
    monthly_fee: "50.00"
    minimum_spend: "100.00"
    charges:
      ad.click: {model: per_unit, price: "0.35"}
      ad.impression: {model: per_unit, price: "2.10", per: 1000}
  - effective_from: "2026-02-16T00:00:00Z"
    monthly_fee: "50.00"
    minimum_spend: "100.00"
    charges:
      ad.click: {model: per_unit, price: "0.38"}
      ad.impression: {model: per_unit, price: "2.25", per: 1000}
""",
    "plans/ads-premium.yaml": """\
# Premium inventory in USD; new prices from noon UTC on 15 March.
plan: ads-premium
currency: USD
timezone: America/New_York
versions:
  - effective_from: "2026-01-01T00:00:00Z"
    monthly_fee: "120.00"
    charges:
      ad.click: {model: per_unit, price: "0.50"}
      ad.impression: {model: per_unit, price: "3.3333", per: 1000}
  - effective_from: "2026-03-15T12:00:00Z"
    monthly_fee: "150.00"
    charges:
      ad.click: {model: per_unit, price: "0.45"}
      ad.impression: {model: per_unit, price: "3.00", per: 1000}
""",
    "plans/ads-volume.yaml": """\
# Volume deal: impressions priced by monthly volume, clicks by graduated tiers.
plan: ads-volume
currency: EUR
timezone: UTC
versions:
  - effective_from: "2026-01-01T00:00:00Z"
    charges:
      ad.impression:
        model: volume
        per: 1000
        tiers: [{up_to: 100000, price: "2.00"}, {up_to: 1000000, price: "1.50"}, {price: "1.00"}]
      ad.click:
        model: graduated
        tiers: [{up_to: 1000, price: "0.40"}, {up_to: 10000, price: "0.30"}, {price: "0.20"}]
""",
    "plans/telco-basic.yaml": _TELCO_BASIC,
    "plans/telco-volume.yaml": """\
# Wholesale telecom: per-second voice, volume-priced data; no SMS charge (no_tariff).
plan: telco-volume
currency: EUR
timezone: UTC
versions:
  - effective_from: "2026-01-01T00:00:00Z"
    charges:
      telecom.voice: {model: per_unit, increment: 1, destinations: [{prefix: "+", price: "0.002"}]}
      telecom.data:
        model: volume
        per: 1048576
        tiers: [{up_to: 52428800, price: "0.05"}, {up_to: 262144000, price: "0.03"},
                {price: "0.015"}]
  - effective_from: "2026-03-10T12:00:00Z"
    charges:
      telecom.voice: {model: per_unit, increment: 6, minimum: 30, price: "0.0015"}
      telecom.data:
        model: volume
        per: 1048576
        tiers: [{up_to: 104857600, price: "0.04"}, {price: "0.01"}]
""",
    "accounts.yaml": """\
# Contracts start (globex, stark, vandelay) or end (initech, soylent) mid-period.
# Events also name `wayne` and `oscorp`, which have no account (unknown_account).
accounts:
  - {id: acme, plan: ads-standard, tax_rate: "23", sla: gold, valid_from: "2026-01-01T00:00:00Z"}
  - {id: globex, plan: ads-premium, tax_rate: "8.875", sla: silver,
     valid_from: "2026-01-10T00:00:00Z"}
  - {id: hooli, plan: ads-standard, tax_rate: "0"}
  - {id: initech, plan: telco-basic, tax_rate: "23", valid_from: "2026-01-01T00:00:00Z",
     valid_to: "2026-03-25T00:00:00Z"}
  - {id: soylent, plan: ads-volume, tax_rate: "19", valid_to: "2026-03-20T00:00:00Z"}
  - {id: stark, plan: telco-basic, tax_rate: "23", sla: net, valid_from: "2026-01-15T00:00:00Z"}
  - {id: umbrella, plan: telco-volume, tax_rate: "20", sla: net}
  - {id: vandelay, plan: ads-standard, tax_rate: "23", sla: gold,
     valid_from: "2026-01-20T12:00:00Z"}
""",
    "slas.yaml": """\
slas:
  gold:
    service: portal
    probe_failures_to_open: 3
    credits: [{below: "99.9", percent: "10"}, {below: "99.0", percent: "25"},
              {below: "95.0", percent: "50"}]
    applies_to: [ad.click, ad.impression]
    max_credit_percent: "50"
  silver:
    service: portal
    probe_failures_to_open: 2
    credits: [{below: "99.5", percent: "5"}, {below: "98.0", percent: "15"}]
    applies_to: [ad.click]
    max_credit_percent: "10"
  net:   # probe_failures_to_open: the default, 3
    service: network
    credits: [{below: "99.95", percent: "5"}, {below: "99.5", percent: "20"}]
    applies_to: [telecom.voice, telecom.data]
    max_credit_percent: "30"
""",
    "fraud.yaml": """\
bot_user_agents: [bot, crawler, spider, headless]
attribution_window_s: 3600
max_clicks_per_ip_per_minute: 5
""",
}


# --- entry points.

_PREFIX = re.compile(r"[A-Za-z0-9._-]*")


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
    if events < 0 or files < 1 or chunk < 1:
        raise UsageError(f"need events >= 0 and files, chunk >= 1; got {events}, {files}, {chunk}")
    if not _PREFIX.fullmatch(id_prefix):
        raise UsageError(f"id prefix {id_prefix!r} may hold only letters, digits, '.', '_', '-'")
    began, out_dir = time.perf_counter(), Path(out_dir)
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
    ctx = _Ctx(prefix=id_prefix, pools=_Pools())
    n_csv = min(100, events // 50)
    files = max(1, min(files, (events - n_csv) // 100))  # no near-empty files in tiny runs
    paths = _write_events(ev_dir, events - n_csv, seed, files, ctx, chunk)
    if n_csv:
        paths.append(ev_dir / f"part-{files + 1:03d}.csv")
        _write_csv(paths[-1], _csv_rows(np.random.default_rng([seed, 1 << 30]), ctx, n_csv))
    size = sum(p.stat().st_size for p in paths)
    took = time.perf_counter() - began
    return GenerateSummary(
        out_dir, events, tuple(paths), size, took, dict(sorted(ctx.months.items()))
    )


@click.command("generate")
@click.option(
    "--events",
    type=int,
    default=10_000,
    show_default=True,
    help="Input records to write (JSON Lines lines plus CSV rows).",
)
@click.option(
    "--seed",
    type=int,
    default=1,
    show_default=True,
    help="Random seed: the same seed gives the same bytes.",
)
@click.option("--files", type=int, default=4, show_default=True, help="JSON Lines files.")
@click.option("--id-prefix", default="", help="Put before every id, so extra data cannot collide.")
@click.option("--force", is_flag=True, help="Replace the event files of an earlier run.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of a sentence.")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
def generate_command(
    events: int, seed: int, files: int, id_prefix: str, force: bool, as_json: bool, out_dir: Path
) -> None:
    """Write a realistic synthetic data set to OUT_DIR: rules/ and events/.

    Mostly ad impressions and clicks, telecom usage with partial sessions, quality probes and
    incidents, with duplicates, late arrivals, bad records of every rejection reason, fraud
    patterns and unknown accounts. Replay it with
    `pipeline replay --rules OUT_DIR/rules OUT_DIR/events/*`.
    """
    s = generate(out_dir, events, seed, files=files, id_prefix=id_prefix, force=force)
    if as_json:
        click.echo(s.to_json())
        return
    rate = s.events / s.seconds if s.seconds else 0.0
    click.echo(
        f"wrote {s.events:,} events ({s.bytes / 1e6:,.1f} MB in {len(s.files)} files) to "
        f"{out_dir} in {s.seconds:.1f} s ({rate:,.0f} events/s); busiest period {s.busiest_period}"
    )


if __name__ == "__main__":  # usable before, and without, the `pipeline` CLI
    generate_command()
