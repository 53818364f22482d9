"""The measures, in order, each a child process over one warehouse.

1. generate the data (and a small extra batch with other ids) with `pipeline generate`,
2. `replay` everything into an empty warehouse,
3. `bill` the busiest period,
4. `replay` the extra batch into the filled warehouse (incremental),
5. every `export`,
6. DuckDB's bare `read_json` of the same JSON Lines files, the yardstick for step 2.

A failed replay skips the steps that need its warehouse; any other failure is recorded on its
row and the suite goes on, so one broken command does not hide the other commands' numbers.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import yaml

from bench.child import run
from bench.report import Report, Result
from bench.targets import BILL, EXPORT, INCREMENTAL, REPLAY_RATE, REPLAY_RSS, Target, judge_all

BARE_READ = Path(__file__).with_name("bare_read.py")


@dataclass(frozen=True)
class Config:
    pipeline: Path  # the `pipeline` console script to measure
    work: Path  # scratch space: data, extra batch, warehouse
    events: int
    incremental: int
    data: Path | None = None  # reuse a generated data set instead of generating one


@dataclass(frozen=True)
class DataSet:
    root: Path
    files: tuple[Path, ...]  # in replay order
    events: int  # input records, all files
    busiest_period: str = ""

    @property
    def rules(self) -> Path:
        return self.root / "rules"

    @property
    def jsonl(self) -> list[str]:
        return [str(f) for f in self.files if f.suffix == ".jsonl"]

    @property
    def jsonl_events(self) -> int:
        return self.events - sum(_records(f) for f in self.files if f.suffix != ".jsonl")

    @property
    def megabytes(self) -> float:
        return sum(f.stat().st_size for f in self.files) / 1e6


@dataclass
class _Suite:
    cfg: Config
    say: Callable[[str], None]
    results: list[Result] = field(default_factory=list)

    @property
    def warehouse(self) -> Path:
        return self.cfg.work / "warehouse"

    def pipeline(self, command: str, *args: str, rules: Path | None = None) -> list[str]:
        """`pipeline COMMAND [--rules R] --warehouse W ARGS`; COMMAND may be two words."""
        where = [*(["--rules", str(rules)] if rules else []), "--warehouse", str(self.warehouse)]
        return [str(self.cfg.pipeline), *command.split(), *where, *args]

    def measure(
        self,
        name: str,
        events: int,
        cmd: list[str],
        goals: tuple[Target, ...] = (),
        rate: bool = True,
    ) -> bool:
        """Run `cmd` as a child and record its row; True when it exited 0."""
        self.say(f"{name} ({events:,} events) ...")
        child = run(cmd)
        wh = self.warehouse if cmd[0] == str(self.cfg.pipeline) else None
        row = Result(name, events, child.seconds, child.peak_rss_mb, _megabytes(wh), rate=rate)
        row.target = "; ".join(t.text for t in goals)
        if child.ok:
            row.met = judge_all(goals, events, child.seconds, child.peak_rss_mb)
        else:
            row.error = child.failure()
        self.results.append(row)
        return child.ok

    def generate(self, sub: str, events: int, seed: int, prefix: str) -> DataSet | None:
        out = self.cfg.work / sub
        args = ["--events", str(events), "--seed", str(seed), "--id-prefix", prefix, "--json"]
        self.say(f"generate {sub} ({events:,} events) ...")
        child = run([str(self.cfg.pipeline), "generate", *args, str(out)], keep_stdout=True)
        error = "" if child.ok else child.failure()
        row = Result(f"generate {sub}", events, child.seconds, child.peak_rss_mb, error=error)
        self.results.append(row)
        if not child.ok:
            return None
        summary = json.loads(child.stdout)
        files = tuple(Path(f) for f in summary["files"])
        return DataSet(out, files, summary["events"], summary["busiest_period"])


def run_suite(cfg: Config, say: Callable[[str], None] = print) -> Report:
    s = _Suite(cfg, say)
    data = _existing(cfg.data) if cfg.data else s.generate("data", cfg.events, 1, "")
    if data is None:
        return Report(cfg.events, str(cfg.work / "data"), 0.0, "", "", s.results)
    extra = s.generate("extra", cfg.incremental, 2, "inc-")
    period = data.busiest_period or busiest_period(data.jsonl)
    account = statement_account(data.rules)
    report = Report(data.events, str(data.root), data.megabytes, period, account, s.results)
    files = [str(f) for f in data.files]
    if s.measure("replay", data.events, s.pipeline("replay", *files, rules=data.rules),
                 (REPLAY_RATE, REPLAY_RSS)):  # fmt: skip
        s.measure(f"bill {period}", data.events,
                  s.pipeline("bill", "--period", period, rules=data.rules), (BILL,))  # fmt: skip
        if extra is not None:
            cmd = s.pipeline("replay", *map(str, extra.files), rules=data.rules)
            s.measure("incremental replay", extra.events, cmd, (INCREMENTAL,))
        total = data.events + (extra.events if extra else 0)
        for name, args in _exports(period, account):
            s.measure(
                f"export {name}", total, s.pipeline(f"export {name}", *args), (EXPORT,), False
            )
    else:
        s.results.append(Result("bill, incremental, exports", 0, error="skipped: replay failed"))
    s.measure("duckdb read_json", data.jsonl_events, [sys.executable, str(BARE_READ), *data.jsonl])
    return report


def _exports(period: str, account: str) -> list[tuple[str, list[str]]]:
    return [
        ("invoices", ["--period", period]),
        ("statement", ["--period", period, "--account", account]),
        ("reconcile", []),
        ("flags", []),
    ]


def _existing(root: Path) -> DataSet:
    kinds = (".jsonl", ".csv")
    files = tuple(sorted(p for p in (root / "events").iterdir() if p.suffix in kinds))
    return DataSet(root, files, sum(_records(f) for f in files))


def busiest_period(jsonl: list[str]) -> str:
    """The UTC month with the most records, read from the files (for `--data`)."""
    sql = (
        "SELECT substr(time, 1, 7) AS p FROM read_json(?, format = 'newline_delimited',"
        " records = true, ignore_errors = true, columns = {time: 'VARCHAR'})"
        " WHERE regexp_matches(time, '^\\d{4}-\\d\\d-')"
        " GROUP BY p ORDER BY count(*) DESC, p LIMIT 1"
    )
    row = duckdb.connect().execute(sql, [jsonl]).fetchone()
    return str(row[0]) if row else ""


def statement_account(rules: Path) -> str:
    """`acme` when the rule set has it (the generator's biggest advertiser), else the first."""
    accounts = [a["id"] for a in yaml.safe_load((rules / "accounts.yaml").read_text())["accounts"]]
    return "acme" if "acme" in accounts else sorted(accounts)[0]


def _records(path: Path) -> int:
    """Lines of a file (minus a CSV header), counted in 16 MB blocks: fast on gigabytes. The
    generator writes no blank lines, so lines are records."""
    lines, last = 0, b"\n"
    with path.open("rb") as f:
        while block := f.read(1 << 24):
            lines, last = lines + block.count(b"\n"), block[-1:]
    lines += last != b"\n"  # a last line without its newline
    return lines - (1 if path.suffix == ".csv" and lines else 0)


def _megabytes(path: Path | None) -> float | None:
    if path is None or not path.exists():
        return None
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6
