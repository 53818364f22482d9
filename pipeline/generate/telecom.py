"""Telecom usage: sms, voice and data records; some voice and data records are session parts.

The session trouble the contract handles is built in: sessions that never send `last: true`,
parts re-sent under a new id, and last parts that arrive in the next file.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from .context import Context
from .templates import T_DATA, T_SESSION, T_SMS, T_VOICE, num, pick, render
from .world import GATEWAYS, MINUTE_MS, SUBSCRIBERS, SWITCHES, TEL_SUBJECTS, TEL_WEIGHTS, times


def sms_lines(rng: np.random.Generator, ctx: Context, u: tuple[float, float], n: int) -> pl.Series:
    """`n` sms records (no sessions, no trouble of their own)."""
    t, acct = times(rng, u, n), rng.choice(len(TEL_SUBJECTS), n, p=TEL_WEIGHTS)
    df = pl.DataFrame({
        "id": ctx.id_col(n), "src": pick(SWITCHES, rng.integers(0, 2, n)),
        **ctx.pools.time_cols(t), "sub": pick(TEL_SUBJECTS, acct),
        "msisdn": ctx.pools.msisdn.gather(acct * SUBSCRIBERS + rng.integers(0, SUBSCRIBERS, n)),
        "dest": ctx.pools.dest.gather(rng.integers(0, len(ctx.pools.dest), n)),
    })  # fmt: skip
    ctx.count(t)
    return render(df, T_SMS, ctx.prefix)


def usage_lines(
    rng: np.random.Generator, ctx: Context, u: tuple[float, float], kind: str, n: int, late: bool
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
    t = times(rng, u, k)[rows] + step * MINUTE_MS + rng.integers(0, 5_000, n_rows)
    nulls = pl.Series([None] * n_plain, dtype=pl.String)
    msisdn = (acct * SUBSCRIBERS + rng.integers(0, SUBSCRIBERS, k))[rows]
    df = pl.DataFrame({
        "id": ctx.id_col(n_rows), **ctx.pools.time_cols(t), "sub": pick(TEL_SUBJECTS, acct[rows]),
        "src": pick(SWITCHES if kind == "voice" else GATEWAYS, rng.integers(0, 2, n_rows)),
        "msisdn": ctx.pools.msisdn.gather(msisdn),
        "dest": ctx.pools.dest.gather(rng.integers(0, len(ctx.pools.dest), k)[rows]),
        "qty": _quantity(rng, kind, n_rows), "seq": pl.concat([num(seq), nulls]),
        "sid": pl.concat([num(ctx.ids(n_sess), 8).gather(sess), nulls]),
        "last": pl.concat([num(is_last & (rng.random(n_sess) >= 0.03)[sess]), nulls]),
    })  # fmt: skip
    session = render(df, T_SESSION.replace("<kind>", kind), ctx.prefix, optional=True)
    df = df.with_columns(session=session)
    template = T_VOICE if kind == "voice" else T_DATA
    lines = render(df, template, ctx.prefix)
    again = render(df[resend].with_columns(id=ctx.id_col(len(resend))), template, ctx.prefix)
    keep = np.concatenate([~held, np.ones(n_plain, bool)])
    ctx.count(t)
    return pl.concat([lines.filter(keep), again]), lines.filter(~keep)


def _quantity(rng: np.random.Generator, kind: str, n: int) -> pl.Series:
    """Call seconds (2% unanswered, 10% with a half second) or bytes of a data record."""
    if kind == "data":
        return num(np.minimum(rng.lognormal(14.5, 1.6, n), 5e9).astype(np.int64))
    secs = np.minimum(rng.lognormal(4.3, 1.0, n), 7200).astype(np.int64)
    secs[rng.random(n) < 0.02] = 0
    half = pl.Series(rng.random(n) < 0.1)
    frac = pl.when(half).then(pl.lit(".5"))
    return pl.select(pl.concat_str(num(secs), frac, ignore_nulls=True)).to_series()
