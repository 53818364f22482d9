"""The performance targets from the issue, as data: which measure, what bound, at what scale.

A target is judged only at the scale it is stated for (a throughput goal says nothing about a
2,000-event smoke run, where process start-up dominates, and the issue states it for 1M
events, not for the 10M run, whose goal is its memory); time limits stated for 10M events are
judged at any size, because missing them on less data means missing them on more.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    text: str
    min_events: int  # judged only when the measure ran on at least this many events
    max_seconds: float | None = None
    min_events_per_s: float | None = None
    max_rss_mb: float | None = None
    below_events: int | None = None  # ... and on fewer than this many (None: no upper bound)

    def judge(self, events: int, seconds: float, rss_mb: float) -> bool | None:
        if events < self.min_events or (self.below_events and events >= self.below_events):
            return None
        checks = []
        if self.max_seconds is not None:
            checks.append(seconds < self.max_seconds)
        if self.min_events_per_s is not None:
            checks.append(seconds > 0 and events / seconds >= self.min_events_per_s)
        if self.max_rss_mb is not None:
            checks.append(rss_mb < self.max_rss_mb)
        return all(checks)


REPLAY_RATE = Target(
    ">= 300k ev/s at 1M", 1_000_000, min_events_per_s=300_000, below_events=10_000_000
)
REPLAY_RSS = Target("RSS < 2 GB at 10M", 10_000_000, max_rss_mb=2048)
BILL = Target("< 10 s (10M)", 0, max_seconds=10)
INCREMENTAL = Target("< 3 s (into 10M)", 0, max_seconds=3)
EXPORT = Target("< 2 s (10M)", 0, max_seconds=2)


def judge_all(targets: tuple[Target, ...], events: int, seconds: float, rss: float) -> bool | None:
    """All applicable targets met (True), one missed (False), or none applicable (None)."""
    verdicts = [v for t in targets if (v := t.judge(events, seconds, rss)) is not None]
    return all(verdicts) if verdicts else None
