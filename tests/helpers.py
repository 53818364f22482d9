"""Shared test helpers: run the `pipeline` CLI, replay and bill in-process, collect every export
of a warehouse into one dict, and count the records the contract says an input file holds.

Importable as `helpers` from any test module (tests/ is on sys.path: pytest's default
`prepend` import mode puts it there for tests/*.py; tests/property/conftest.py adds it there).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import traceback
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
# The console script installed next to the interpreter running the tests (the venv's).
PIPELINE = str(Path(sys.executable).with_name("pipeline"))
WS = b" \t\r\n\f\v"  # what "white space only" means for a JSON Lines line (ASCII white space)
OUTCOMES = ("rejected", "duplicate", "rated", "invalid", "unbilled", "quality")


# -- the CLI ---------------------------------------------------------------------------------


def cli(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    cwd: str | Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `pipeline ARGS...`; stdout/stderr captured as text (invalid bytes replaced)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [PIPELINE, *map(str, args)],
        capture_output=True,
        text=True,
        errors="replace",
        env=full_env,
        timeout=timeout,
        cwd=cwd,
    )


def cli_ok(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run the CLI and fail the test (with its stderr) unless it exits 0."""
    p = cli(*args, **kw)
    assert p.returncode == 0, (
        f"pipeline {' '.join(map(str, args))} exited {p.returncode}:\n{p.stderr}"
    )
    return p


def cli_json(*args: str, **kw: Any) -> Any:
    return json.loads(cli_ok(*args, **kw).stdout)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def main_inprocess(*args: str) -> Result:
    """`pipeline ARGS...` through `pipeline.cli.main` in this process: exit code, stdout and
    stderr as the command would give them. An exception that escapes `main` is what a real
    process would print as a traceback: it is written to stderr the same way, exit code 1."""
    from pipeline.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # noqa: BLE001 - exactly what must never happen
            traceback.print_exc(file=err)
            code = 1
    return Result(code, out.getvalue(), err.getvalue())


def spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start `pipeline ARGS...` without waiting (for kill and lock tests)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.Popen(
        [PIPELINE, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env
    )


# -- in-process commands (no interpreter start-up: what hypothesis examples use) --------------


_RULES_CACHE: dict[tuple[str, tuple[tuple[str, int], ...]], Any] = {}


def _cache_rule_loading() -> None:
    """Load each rule directory once per test session: parsing the YAML costs ~0.15 s, more
    than a small replay itself, and hypothesis runs hundreds of replays over one directory.
    Keyed by the files' paths and mtimes, so a test that rewrites a rule file still sees it.
    Only this process gets it (replay/bill/main_inprocess); a `pipeline` subprocess always
    loads its rules itself."""
    import pipeline.replay as replay_mod

    if getattr(replay_mod.load_rules, "_cached", False):
        return
    real = replay_mod.load_rules

    def load_rules(rules_dir: str) -> Any:
        root = Path(rules_dir)
        stamp = tuple(
            sorted((str(p), p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file())
        )
        key = (str(root.resolve()), stamp)
        if key not in _RULES_CACHE:
            _RULES_CACHE[key] = real(rules_dir)
        return _RULES_CACHE[key]

    load_rules._cached = True  # type: ignore[attr-defined]
    replay_mod.load_rules = load_rules


def replay(rules: str | Path, warehouse: str | Path, files: list[str | Path]) -> str:
    from pipeline.replay import replay_files

    _cache_rule_loading()
    return replay_files(str(rules), str(warehouse), [str(f) for f in files], progress=False)


def bill(rules: str | Path, warehouse: str | Path, period: str) -> str:
    from pipeline.replay import bill_period

    _cache_rule_loading()
    return bill_period(str(rules), str(warehouse), period)


def review(warehouse: str | Path, status: str, flags: list[dict[str, str]]) -> None:
    """`pipeline flags dismiss|confirm` of FLAGS (dicts with source and id), in-process."""
    from pipeline.review import review_flags

    ids = tuple(x for f in flags for x in (f["source"], f["id"]))
    if ids:
        review_flags(str(warehouse), status, ids, None)


def flags(warehouse: str | Path, period: str | None = None) -> list[dict[str, str]]:
    from pipeline import exports
    from pipeline.warehouse import Warehouse

    with Warehouse.open(warehouse) as wh:
        return exports.flags(wh.con, period)


def reconcile(warehouse: str | Path) -> dict[str, Any]:
    from pipeline import exports
    from pipeline.warehouse import Warehouse

    with Warehouse.open(warehouse) as wh:
        return exports.reconcile(wh.con)


def query(warehouse: str | Path, sql: str, params: list[Any] | None = None) -> list[tuple]:
    """Rows of a read-only query over the warehouse (its tables and views)."""
    from pipeline.warehouse import Warehouse

    with Warehouse.open(warehouse) as wh:
        return wh.con.execute(sql, params or []).fetchall()


def usage_periods(warehouse: str | Path) -> list[str]:
    """Every period that holds an accepted usage record, ascending."""
    rows = query(warehouse, "SELECT DISTINCT period FROM usage WHERE period IS NOT NULL ORDER BY 1")
    return [r[0] for r in rows]


def bill_all(rules: str | Path, warehouse: str | Path) -> list[str]:
    periods = usage_periods(warehouse)
    for p in periods:
        bill(rules, warehouse, p)
    return periods


def all_exports(warehouse: str | Path, periods: list[str] | None = None) -> dict[str, Any]:
    """Every export of section 6, as the CLI would print it (JSON text, so that two warehouses
    compare byte for byte): reconcile, flags, and for each period invoices, flags of the period
    and the statement of every account in the recorded rule set."""
    from pipeline import exports
    from pipeline.warehouse import Warehouse

    if periods is None:
        periods = usage_periods(warehouse)
    out: dict[str, Any] = {}

    def put(key: str, value: Any) -> None:
        out[key] = json.dumps(value, indent=1, ensure_ascii=False)

    with Warehouse.open(warehouse) as wh:
        rules = wh.last_rules()
        put("reconcile", exports.reconcile(wh.con))
        put("flags", exports.flags(wh.con, None))
        for p in periods:
            put(f"invoices {p}", exports.invoices(wh.con, p))
            put(f"flags {p}", exports.flags(wh.con, p))
            for account in sorted(rules.accounts):
                put(f"statement {p} {account}", exports.statement(wh.con, rules, account, p))
    return out


def all_exports_cli(
    warehouse: str | Path, periods: list[str], accounts: list[str]
) -> dict[str, str]:
    """The same exports through the `pipeline` command (stdout text)."""
    wh = str(warehouse)
    out = {
        "reconcile": cli_ok("export", "reconcile", "--warehouse", wh).stdout,
        "flags": cli_ok("export", "flags", "--warehouse", wh).stdout,
    }
    for p in periods:
        out[f"invoices {p}"] = cli_ok("export", "invoices", "--warehouse", wh, "--period", p).stdout
        out[f"flags {p}"] = cli_ok("export", "flags", "--warehouse", wh, "--period", p).stdout
        for a in accounts:
            out[f"statement {p} {a}"] = cli_ok(
                "export", "statement", "--warehouse", wh, "--period", p, "--account", a
            ).stdout
    return out


def diff_exports(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """Names of the exports that differ (or exist on one side only)."""
    return sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))


# -- reconcile arithmetic ----------------------------------------------------------------------


def total(value: int | dict[str, int]) -> int:
    return sum(value.values()) if isinstance(value, dict) else value


def assert_balanced(rec: dict[str, Any], expected_input: int | None = None) -> None:
    """`input` equals the sum of the others; reason maps omit zero counts; exact key set."""
    assert list(rec) == ["input", *OUTCOMES], rec
    parts = sum(total(rec[k]) for k in OUTCOMES)
    assert rec["input"] == parts, f"input {rec['input']} != sum of outcomes {parts}: {rec}"
    for k in ("rejected", "invalid", "unbilled"):
        assert all(v > 0 for v in rec[k].values()), f"zero count in {k}: {rec}"
    if expected_input is not None:
        assert rec["input"] == expected_input, f"input {rec['input']} != {expected_input}: {rec}"


def after_second_replay(rec0: dict[str, Any]) -> dict[str, Any]:
    """What reconcile must print after the same files are replayed once more (contract 2.2:
    the accepted ones are all duplicates now; rejected records are rejected again)."""
    accepted = rec0["input"] - total(rec0["rejected"])
    return dict(
        rec0,
        input=rec0["input"] * 2,
        duplicate=rec0["duplicate"] + accepted,
        rejected={k: 2 * v for k, v in rec0["rejected"].items()},
    )


# -- how many records an input file holds (contract 2) -----------------------------------------


def jsonl_records(data: bytes) -> int:
    """Lines that are not empty or white space only (a last line without newline counts). A
    leading UTF-8 byte-order mark is not part of the first line (README, "A UTF-8 byte-order
    mark"): a file of a mark alone has no record."""
    lines = data.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return sum(1 for ln in lines if ln.strip(WS))


def csv_records(data: bytes) -> int:
    """Rows after the header that are not entirely empty. A row is empty when every cell is
    the empty string (a cell of white space is not empty: README, "CSV rows"); a line that is
    not UTF-8 or not CSV is a record. A row is one line, or (README, "CSV rows") a line with an
    odd number of quotes that does not read alone through the next line with an odd number of
    quotes, when together they read as one row."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    odd = [i for i, ln in enumerate(lines) if ln.count(b'"') % 2]
    n, i = 0, 1
    while i < len(lines):
        row, nxt = lines[i], i + 1
        if i in odd and _csv_rows(row) is None:
            j = next((k for k in odd if k > i), None)
            if j is not None:
                joined = b"\n".join(lines[i : j + 1])
                rows = _csv_rows(joined)
                if rows is not None and len(rows) == 1 and len(joined) - (j - i) <= 1 << 20:
                    row, nxt = joined, j + 1
        rows = _csv_rows(row)
        if rows is None or any(c != "" for c in (rows[0] if rows else [])):
            n += 1
        i = nxt
    return n


def _csv_rows(text: bytes) -> list[list[str]] | None:
    """The rows a CSV text reads as, or None when it is not UTF-8 or not CSV."""
    import csv
    import io

    try:
        return list(csv.reader(io.StringIO(text.decode("utf-8").rstrip("\r")), strict=True))
    except (UnicodeDecodeError, csv.Error):
        return None


def file_records(path: str | Path) -> int:
    path = Path(path)
    data = path.read_bytes()
    if path.suffix == ".csv":
        return csv_records(data)
    if path.suffix == ".jsonl":
        return jsonl_records(data)
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def assert_no_traceback(p: subprocess.CompletedProcess[str] | Any) -> None:
    err = p.stderr if isinstance(p.stderr, str) else (p.stderr or b"").decode("utf-8", "replace")
    assert "Traceback" not in err, err
