"""Ad traffic: impressions and the clicks on them, with the ad fraud patterns built in.

Besides ordinary clicks: second clicks on the same impression, orphan clicks (on impressions
never served, or more than an hour after theirs), bot user agents, click-farm bursts from one
IP, and clicked impressions held back into the next file (late arrivals).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from .context import Context
from .templates import T_CLICK, T_IMP, num, pick, render
from .world import (
    ADS_SUBJECTS,
    ADS_WEIGHTS,
    ADSERVERS,
    BOT_UAS,
    CAMPAIGN_WEIGHTS,
    CAMPAIGNS,
    HOUR_MS,
    HUMAN_UAS,
    MINUTE_MS,
    N_IPS,
    times,
)

P_BOT = 0.004  # share of impressions (and so of their clicks) with a bot user agent


def ad_lines(
    rng: np.random.Generator,
    ctx: Context,
    u: tuple[float, float],
    n_imp: int,
    n_click: int,
    late: int,
) -> tuple[pl.Series, pl.Series]:
    """`n_imp` impressions and `n_click` clicks, plus `late` clicked impressions held back:
    returns (lines, held lines). Clicks: 1% a second click on the same impression, 1.2% orphans
    (half to an impression never served, half more than an hour after theirs), bursts."""
    n_att, n_dup, n_orph, late = _click_counts(n_imp, n_click, late)
    m = n_imp + late  # impressions [0, late) are held back
    t, ip = times(rng, u, m), rng.integers(0, N_IPS, m)
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
        "id": num(imp_ids, 10), "src": pick(ADSERVERS, rng.integers(0, 2, m)),
        **ctx.pools.time_cols(t), "sub": pick(ADS_SUBJECTS, rng.choice(6, m, p=ADS_WEIGHTS)),
        "camp": pick(CAMPAIGNS, rng.choice(len(CAMPAIGNS), m, p=CAMPAIGN_WEIGHTS)),
        "ip": ctx.pools.ip.gather(ip), "ua": ctx.pools.ua.gather(_ua_idx(rng, m)),
    })  # fmt: skip
    ct = t[c_imp] + c_delay
    clicks = imps[c_imp].with_columns(
        id=ctx.id_col(len(c_imp)), ref=num(ref, 10), **ctx.pools.time_cols(ct)
    )
    ctx.count(t)
    ctx.count(ct)
    imp_lines = render(imps, T_IMP, ctx.prefix)
    lines = pl.concat([imp_lines.slice(late), render(clicks, T_CLICK, ctx.prefix)])
    return lines, imp_lines.head(late)


def _click_counts(n_imp: int, n_click: int, late: int) -> tuple[int, int, int, int]:
    """(attributed, second, orphan) clicks and held impressions: one attributed click each on
    impressions [0, n_att); with too few impressions the rest become orphans."""
    n_dup, n_orph = n_click // 100, n_click * 12 // 1000
    n_att = n_click - n_dup - n_orph
    late = min(late, n_att)
    m = n_imp + late
    if n_att > m:
        n_orph, n_att = n_orph + n_att - m, m
    if n_att == 0:
        n_orph, n_dup = n_orph + n_dup, 0
    return n_att, n_dup, n_orph, late


def _ua_idx(rng: np.random.Generator, n: int) -> np.ndarray:
    """Indexes into the pools' user agents: mostly human, `P_BOT` of them bots."""
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
