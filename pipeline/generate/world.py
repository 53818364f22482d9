"""The simulated world the generator draws from: who sends traffic, what it looks like, and when.

Fixed, not seeded: data generated with another seed describes the same accounts, campaigns and
outages, so it can be added to a warehouse built from an earlier run. Traffic grows from 1x to
2x over the span (so March is the busiest month), and a record's time follows its position in
the output, so files are roughly chronological.
"""

from __future__ import annotations

import numpy as np

START_MS = int(np.datetime64("2026-01-01T00:00:00", "ms").astype(np.int64))
DAY_MS, HOUR_MS, MINUTE_MS = 86_400_000, 3_600_000, 60_000
SPAN_MS = 90 * DAY_MS  # 2026-01-01 .. 2026-03-31: three calendar months

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


def _time_at(u: np.ndarray) -> np.ndarray:
    """Inverse of the ramp's CDF F(x) = (x + x^2/2) / 1.5: position in [0, 1) -> epoch ms."""
    return START_MS + ((np.sqrt(1.0 + 3.0 * u) - 1.0) * SPAN_MS).astype(np.int64)


def position_of(ms: int) -> float:
    """The ramp's CDF: where in the output a record at `ms` belongs (for the incidents)."""
    x = (ms - START_MS) / SPAN_MS
    return (x + x * x / 2) / 1.5


def times(rng: np.random.Generator, u: tuple[float, float], n: int) -> np.ndarray:
    """`n` epoch-ms times for records placed in the output between positions u[0] and u[1]."""
    return _time_at(rng.uniform(u[0], u[1], n))


def iso(ms: int) -> str:
    """The contract's time format (UTC, milliseconds, `Z`), for the few per-row Python records."""
    return f"{np.datetime64(int(ms), 'ms')}Z"


def ms_of(text: str) -> int:
    """Inverse of `iso`: the CSV file derives a click's time from its impression's text."""
    return int(np.datetime64(text.rstrip("Z"), "ms").astype(np.int64))
