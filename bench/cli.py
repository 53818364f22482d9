"""Command line of the benchmark suite: `python -m bench`.

Generate data, time every pipeline command as a child process (wall time, events/s, peak RSS,
warehouse size) and compare `replay` with DuckDB's bare `read_json`. See bench/README.md.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from bench.report import table
from bench.suite import Config, run_suite

SMOKE_EVENTS, SMOKE_INCREMENTAL = 2_000, 200


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--events", type=int, default=100_000, help="events to generate (100000)")
    p.add_argument(
        "--incremental",
        type=int,
        default=10_000,
        help="extra events replayed into the filled warehouse (10000)",
    )
    p.add_argument(
        "--smoke",
        action="store_true",
        help=f"tiny quick run for CI: {SMOKE_EVENTS} events, {SMOKE_INCREMENTAL} extra",
    )
    p.add_argument("--data", type=Path, help="reuse a `pipeline generate` output directory")
    p.add_argument("--workdir", type=Path, help="scratch directory (default: a temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    p.add_argument(
        "--pipeline",
        type=Path,
        default=Path(sys.executable).parent / "pipeline",
        help="the `pipeline` executable to measure (default: next to python)",
    )
    p.add_argument("--json", action="store_true", help="print JSON results instead of a table")
    args = p.parse_args(argv)
    if args.smoke:
        args.events, args.incremental = SMOKE_EVENTS, SMOKE_INCREMENTAL
    return args


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when every measure ran; 1 when one failed (targets missed do not fail a run)."""
    args = parse(argv)
    if not args.pipeline.exists():
        print(f"no pipeline executable at {args.pipeline}; install the project", file=sys.stderr)
        return 2
    if args.data is not None and not (args.data / "events").is_dir():
        print(f"--data {args.data}: expected {args.data}/events and rules", file=sys.stderr)
        return 2
    if args.workdir is not None and args.workdir.exists() and any(args.workdir.iterdir()):
        print(
            f"--workdir {args.workdir} is not empty: replay needs an empty warehouse",
            file=sys.stderr,
        )
        return 2
    work = args.workdir or Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        cfg = Config(args.pipeline, work, args.events, args.incremental, args.data)
        report = run_suite(cfg, say=lambda msg: print(msg, file=sys.stderr, flush=True))
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(report.to_json() if args.json else table(report), end="" if not args.json else "\n")
    return 0 if report.ok else 1
