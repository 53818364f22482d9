"""Crash safety: a `pipeline` command killed with SIGKILL at any moment leaves the warehouse as
it was before the command, so running the command again gives exactly what one clean run gives.
And two commands never interleave: the second fails fast with a one-line "in use" message.

Each test compares EVERY export (reconcile, flags, and per period invoices, flags and every
account's statement, plus the rated-records Parquet that `bill` writes) with a warehouse that
got one clean, uninterrupted run of the same commands.

Input: `pipeline generate --events 20000 --seed 3` (a few seconds of replay, so kills land in
every phase: start-up, collect, validate, derive, commit).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from helpers import (
    PIPELINE,
    after_second_replay,
    all_exports,
    assert_balanced,
    cli,
    cli_json,
    cli_ok,
    diff_exports,
    reconcile,
    usage_periods,
)

pytestmark = pytest.mark.slow

EVENTS = 20_000
KILLS = 5  # kill points per command


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen")
    cli_ok("generate", "--events", EVENTS, "--seed", 3, out)
    files = sorted(str(p) for p in (out / "events").iterdir())
    return {"rules": str(out / "rules"), "files": files}


@pytest.fixture(scope="module")
def clean(dataset, tmp_path_factory):
    """One uninterrupted run: replay, dismiss the first flag, bill every period. Keeps the
    exports after the replay and after everything, and how long the replay held the warehouse
    (the window the kill points are spread over)."""
    wh = tmp_path_factory.mktemp("clean") / "wh"
    replay_s = timed(replay_args(dataset, wh), wh)
    periods = usage_periods(wh)
    after_replay = all_exports(wh, periods)
    flag = cli_json("export", "flags", "--warehouse", wh)[0]
    dismiss_s = timed(dismiss_args(wh, flag), wh)
    bill_s = timed(bill_args(dataset, wh), wh)
    return {
        "periods": periods,
        "after_replay": after_replay,
        "flag": flag,
        "final": final_exports(wh, periods),
        "replay_s": replay_s,
        "dismiss_s": dismiss_s,
        "bill_s": bill_s,
    }


# -- helpers -----------------------------------------------------------------------------------


def replay_args(dataset, wh) -> list[str]:
    return [
        "replay",
        "--quiet",
        "--rules",
        dataset["rules"],
        "--warehouse",
        str(wh),
        *dataset["files"],
    ]


def dismiss_args(wh, flag) -> list[str]:
    return ["flags", "dismiss", "--warehouse", str(wh), flag["source"], flag["id"]]


def bill_args(dataset, wh) -> list[str]:
    return ["bill", "--rules", dataset["rules"], "--warehouse", str(wh), "--period", "all"]


def timed(args: list[str], wh: Path) -> float:
    """Run ARGS to completion; returns how long it held the warehouse lock."""
    proc = spawn_cmd(args)
    held = wait_for_lock(proc, wh)
    code = proc.wait(timeout=600)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    assert code == 0, f"pipeline {' '.join(args)} exited {code}: {err}"
    return time.monotonic() - held


def spawn_cmd(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [PIPELINE, *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )


def wait_for_lock(proc: subprocess.Popen, wh: Path, timeout: float = 120) -> float:
    """Wait until PROC holds the warehouse lock (it writes its pid into `.lock`) or exits;
    returns the time it did."""
    lock = Path(wh) / ".lock"
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if f"pid {proc.pid} " in lock.read_text():
                break
        except FileNotFoundError:
            pass
        time.sleep(0.005)
    return time.monotonic()


def run_and_kill(args: list[str], wh: Path, after_s: float) -> bool:
    """Start ARGS, SIGKILL it AFTER_S seconds after it took the warehouse lock. Returns whether
    it was still running (False: it had already finished, the kill came too late)."""
    proc = spawn_cmd(args)
    wait_for_lock(proc, wh)
    time.sleep(after_s)
    running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    return running


def kill_points(window_s: float, seed: int) -> list[float]:
    """KILLS moments spread over the window: one in each equal slice, at a random place in it."""
    rng = random.Random(seed)
    return [window_s * (i + rng.uniform(0.05, 0.95)) / KILLS for i in range(KILLS)]


def final_exports(wh: Path, periods: list[str]) -> dict:
    """Every export, plus each billed period's rated-records Parquet (without the internal
    record key `uid`, ordered by record)."""
    out = all_exports(wh, periods)
    for p in periods:
        path = Path(wh) / "rated" / f"period={p}" / "rated.parquet"
        if path.exists():
            table = pq.read_table(path)
            if "uid" in table.column_names:
                table = table.drop(["uid"])
            out[f"rated.parquet {p}"] = sorted(map(repr, table.to_pylist()))
        else:
            out[f"rated.parquet {p}"] = None
    return out


def inputs_in(wh: Path) -> int:
    """Records in the warehouse after a kill: 0 when the first replay never committed (no
    database yet, or one killed while its tables were being created, which readers refuse
    until a replay completes: see test_killed_while_creating_the_warehouse_leaves_none)."""
    from pipeline.errors import WarehouseError

    if not (Path(wh) / "warehouse.duckdb").exists():
        return 0
    try:
        rec = reconcile(wh)
    except WarehouseError as exc:
        assert any(m in str(exc) for m in HALF_CREATED), exc
        return 0
    assert_balanced(rec)
    return rec["input"]


HALF_CREATED = ("not a pipeline warehouse", "warehouse version none")


def assert_same(got: dict, want: dict) -> None:
    diff = diff_exports(got, want)
    assert diff == [], (
        "exports differ from a clean run: "
        + ", ".join(diff)
        + "\n"
        + "\n".join(
            f"{k}:\n got  {str(got.get(k))[:400]}\n want {str(want.get(k))[:400]}" for k in diff[:3]
        )
    )


# -- tests -------------------------------------------------------------------------------------


def test_killed_replay_bill_and_dismiss_then_rerun_equals_a_clean_run(dataset, clean, tmp_path):
    """SIGKILL `replay` at 5 moments, then run it to completion; the same for `flags dismiss`
    and `bill`. Every kill must leave all or nothing, and the end state must equal the clean
    run's in every export."""
    wh = tmp_path / "wh"
    n_input = json.loads(clean["after_replay"]["reconcile"])["input"]

    committed, hits = False, 0
    for after in kill_points(clean["replay_s"], seed=1):
        hits += run_and_kill(replay_args(dataset, wh), wh, after)
        n = inputs_in(wh)
        assert n in (0, n_input), f"{n} records after a kill: not all or nothing"
        if n == n_input:  # this kill came after the commit: the replay is done
            committed = True
            break
    assert hits >= 2, f"only {hits} kills hit a running replay"
    if not committed:
        cli_ok(*replay_args(dataset, wh))
    assert_same(all_exports(wh, clean["periods"]), clean["after_replay"])

    # A replay of the same files into a copy of the full warehouse (it would add only
    # duplicates), killed twice: nothing of it may remain - unless it finished first.
    full = tmp_path / "full"
    shutil.copytree(wh, full)
    for after in kill_points(clean["replay_s"], seed=4)[1:4:2]:
        run_and_kill(replay_args(dataset, full), full, after)
        n = inputs_in(full)
        assert n in (n_input, 2 * n_input), f"{n} records after a kill: not all or nothing"
        if n == 2 * n_input:
            assert reconcile(full) == after_second_replay(
                json.loads(clean["after_replay"]["reconcile"])
            )
            break
        assert_same(all_exports(full, clean["periods"]), clean["after_replay"])

    for after in kill_points(clean["dismiss_s"], seed=2)[:3]:
        run_and_kill(dismiss_args(wh, clean["flag"]), wh, after)
    cli_ok(*dismiss_args(wh, clean["flag"]))

    for after in kill_points(clean["bill_s"], seed=3):
        run_and_kill(bill_args(dataset, wh), wh, after)
    cli_ok(*bill_args(dataset, wh))
    assert_same(final_exports(wh, clean["periods"]), clean["final"])


def test_a_second_command_fails_fast_while_a_replay_holds_the_warehouse(dataset, clean, tmp_path):
    """A replay and an export started while another replay writes: each waits
    PIPELINE_LOCK_TIMEOUT=1 s and fails with one line saying the warehouse is in use, no
    traceback; the running replay is not disturbed and its result equals a clean replay.

    The first replay is paused (SIGSTOP) once it holds the warehouse and resumed (SIGCONT)
    after the others have given up: a replay that takes as long as the others need to start,
    whatever the machine's speed, and otherwise an ordinary run."""
    wh = tmp_path / "wh"
    first = spawn_cmd(replay_args(dataset, wh))
    wait_for_lock(first, wh)
    made = wh / f".warehouse.duckdb.{first.pid}.tmp"  # (renamed into place once it succeeds)
    while not made.exists() and first.poll() is None:
        time.sleep(0.005)  # the lock is taken just before the database file is created
    assert first.poll() is None, "the first replay finished before it could be paused"
    os.kill(first.pid, signal.SIGSTOP)
    try:
        env = {**os.environ, "PIPELINE_LOCK_TIMEOUT": "1"}
        started = time.monotonic()
        others = [
            subprocess.Popen(
                [PIPELINE, *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for args in (replay_args(dataset, wh), ["export", "reconcile", "--warehouse", str(wh)])
        ]
        results = []
        for proc in others:
            out, err = proc.communicate(timeout=120)
            results.append((proc.returncode, out, err, time.monotonic() - started))
    finally:
        os.kill(first.pid, signal.SIGCONT)
    code = first.wait(timeout=600)
    err = first.stderr.read().decode(errors="replace")
    first.stderr.close()
    assert code == 0, err
    for code, out, err, elapsed in results:
        assert code != 0, (out, err)
        assert "Traceback" not in err, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "in use" in lines[0], err
        assert elapsed < 30, f"took {elapsed:.1f}s to give up with a 1 s lock timeout"
    assert_same(all_exports(wh, clean["periods"]), clean["after_replay"])


def test_export_after_a_killed_first_replay_says_what_to_do(dataset, clean, tmp_path):
    """A first replay SIGKILLed at points over its run: there is no warehouse after it (an empty
    one, as it used to leave, made every export read as "no usage"), or, killed once it was
    all in, the whole replay; the next replay works and removes what the killed one left."""
    full = json.loads(clean["after_replay"]["reconcile"])["input"]
    for i, at in enumerate(kill_points(clean["replay_s"], seed=5)):
        wh = tmp_path / f"wh{i}"
        run_and_kill(replay_args(dataset, wh), wh, at)
        r = cli("export", "reconcile", "--warehouse", wh)
        if r.returncode == 0:
            assert json.loads(r.stdout)["input"] == full, (at, r.stdout)
            continue
        assert r.stderr.startswith(f"error: no warehouse at {wh} "), (at, r.stderr)
        cli_ok(*replay_args(dataset, wh))
        assert reconcile(wh)["input"] == full
        assert [p.name for p in wh.iterdir() if p.name.startswith(".warehouse")] == []


# Run `pipeline replay` but die (SIGKILL, as a kill -9 would) right after the first statement
# that creates the warehouse's tables: the moment a real kill hits now and then (the tables
# are created outside the replay's transaction).
KILLED_IN_MIGRATE = """
import os, signal, sys
import pipeline.warehouse as w

def migrate(self):
    self.con.execute(w._schema_text("warehouse.sql"))
    os.kill(os.getpid(), signal.SIGKILL)

w.Warehouse._migrate = migrate
sys.exit(__import__("pipeline.cli").cli.main(sys.argv[1:]))
"""


def test_killed_while_creating_the_warehouse_leaves_none(dataset, tmp_path):
    """warehouse.py: "a process killed at any moment leaves the warehouse as it was before the
    command". Before the first replay there is no warehouse: `export reconcile` says so ("no
    warehouse at ...: run `pipeline replay` into it first"); after a killed first replay it
    must say the same (or report an empty warehouse), not call it a broken one."""
    wh = tmp_path / "wh"
    before = cli("export", "reconcile", "--warehouse", wh)
    assert before.returncode != 0 and "no warehouse" in before.stderr, before.stderr
    died = subprocess.run(
        [sys.executable, "-c", KILLED_IN_MIGRATE, *replay_args(dataset, wh)],
        capture_output=True,
        text=True,
    )
    assert died.returncode == -signal.SIGKILL, died.stderr
    after = cli("export", "reconcile", "--warehouse", wh)
    assert after.returncode == 1 and "no warehouse" in after.stderr, after.stderr


def test_ctrl_c_during_a_replay_is_one_line_and_leaves_nothing(dataset, clean, tmp_path):
    """SIGINT (Ctrl-C) at points spread over a replay: while DuckDB runs a statement it arrives
    as a RuntimeError, which used to print a traceback (and during a read, the process could
    then die in SIGABRT at Python's shutdown), and after the commit it used to report
    `aborted` for a replay that was in. Now either the replay is not in and the command says
    `aborted` (exit 1), or it is all in and the command printed its summary: exit 0 (also when
    the signal lands while Python itself shuts down after that)."""
    full = json.loads(clean["after_replay"]["reconcile"])["input"]
    for i, at in enumerate(kill_points(clean["replay_s"], seed=11)):
        wh = tmp_path / f"wh{i}"
        proc = spawn_cmd(replay_args(dataset, wh))
        wait_for_lock(proc, wh)
        time.sleep(at)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=120)
        err = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        assert "Traceback" not in err, err
        held = reconcile(wh)["input"] if (wh / "warehouse.duckdb").exists() else 0
        if err.startswith("replayed "):
            assert held == full and code == 0, (at, code, err)
        else:
            assert (code, err.strip(), held) == (1, "aborted", 0), (at, err)


@pytest.mark.parametrize("command", ["replay", "bill"])
def test_ctrl_c_as_the_summary_appears_is_ignored(dataset, clean, tmp_path, command):
    """The summary line is printed after the commit, and Python's shutdown follows it: SIGINT
    used to be restored there, so a Ctrl-C on seeing the summary printed `aborted` (exit 1) for
    work that was in, a traceback from an atexit callback, or killed the process. It is now
    ignored from the commit to the process's exit."""
    wh = tmp_path / "wh"
    if command == "bill":
        cli_ok(*replay_args(dataset, wh))
    args = replay_args(dataset, wh) if command == "replay" else bill_args(dataset, wh)
    for _ in range(3):
        proc = spawn_cmd(args)
        line = proc.stderr.readline().decode(errors="replace")
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=120)
        rest = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        assert line.startswith({"replay": "replayed ", "bill": "billed "}[command]), line
        assert (code, rest) == (0, ""), (line, code, rest)
    if command == "replay":
        assert reconcile(wh)["input"] == 3 * json.loads(clean["after_replay"]["reconcile"])["input"]


def test_a_bill_clears_what_a_killed_bill_left_in_the_partition(dataset, tmp_path):
    """A bill killed while writing a partition leaves its temporary files (its own and DuckDB's
    `tmp_` one); they used to build up with every killed bill."""
    wh = tmp_path / "wh"
    cli_ok(*replay_args(dataset, wh))
    period = usage_periods(wh)[0]
    directory = wh / "rated" / f"period={period}"
    directory.mkdir(parents=True)
    stale = [directory / ".rated.parquet.k1ll3d.tmp", directory / "tmp_.rated.parquet.x.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    cli_ok("bill", "--rules", dataset["rules"], "--warehouse", wh, "--period", period)
    assert sorted(p.name for p in directory.iterdir()) == ["rated.parquet"]
