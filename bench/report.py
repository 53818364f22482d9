"""Results and how they print: a fixed-width table for people, JSON for machines."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Result:
    """One measure. `seconds` is None when the measure did not run (see `error`)."""

    measure: str
    events: int
    seconds: float | None = None
    peak_rss_mb: float | None = None
    warehouse_mb: float | None = None
    target: str = ""
    met: bool | None = None
    rate: bool = True  # events/s is meaningful (not for exports, which print a summary)
    error: str = ""

    @property
    def events_per_s(self) -> float | None:
        if not self.rate or not self.seconds:
            return None
        return self.events / self.seconds


def total_memory_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


@dataclass
class Report:
    events: int
    data_dir: str
    data_mb: float
    period: str
    account: str
    results: list[Result] = field(default_factory=list)
    # the machine the figures belong to: targets are stated for a 2-core one
    cpus: int | None = field(default_factory=os.cpu_count)
    memory_gib: float = field(default_factory=total_memory_gib)

    @property
    def ok(self) -> bool:
        return all(not r.error for r in self.results)

    def seconds_of(self, measure: str) -> float | None:
        return next((r.seconds for r in self.results if r.measure == measure), None)

    @property
    def replay_over_bare_read(self) -> float | None:
        replay, bare = self.seconds_of("replay"), self.seconds_of("duckdb read_json")
        return replay / bare if replay and bare else None

    def to_json(self) -> str:
        doc: dict[str, Any] = {k: v for k, v in asdict(self).items() if k != "results"}
        doc["ok"] = self.ok
        doc["replay_over_bare_read"] = _round(self.replay_over_bare_read, 2)
        doc["results"] = [
            {**asdict(r), "events_per_s": _round(r.events_per_s, 0)} for r in self.results
        ]
        return json.dumps(doc, indent=1)


COLUMNS = ("measure", "events", "seconds", "events/s", "peak RSS MB", "warehouse MB")
ROW = "{:<26} {:>11} {:>9} {:>11} {:>12} {:>13}  {:<36} {}"
HEADER = ROW.format(*COLUMNS, "target", "met")


def table(report: Report) -> str:
    """The table, with the data set and the replay / bare-read ratio around it."""
    lines = [
        f"data: {report.events:,} events, {report.data_mb:,.1f} MB in {report.data_dir}; "
        f"bill period {report.period}, statement account {report.account}",
        "",
        HEADER,
        "-" * len(HEADER),
    ]
    for r in report.results:
        met = {True: "yes", False: "NO", None: "-"}[r.met] if r.target else ""
        numbers = (_fmt(r.seconds, 2), _fmt(r.events_per_s, 0), _fmt(r.peak_rss_mb, 0))
        row = ROW.format(
            r.measure, f"{r.events:,}", *numbers, _fmt(r.warehouse_mb, 1), r.target, met
        )
        lines.append(row + (f"  {r.error}" if r.error else ""))
    ratio = report.replay_over_bare_read
    lines += ["", f"replay / bare read_json: {_fmt(ratio, 2)}x" if ratio else ""]
    lines.append(f"machine: nproc {report.cpus}, {report.memory_gib:.1f} GiB")
    return "\n".join(lines).rstrip() + "\n"


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
