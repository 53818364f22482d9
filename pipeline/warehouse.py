"""The warehouse: a directory holding one DuckDB file (facts, derived state, invoices, views)
and Parquet exports. It is the only state the stages share.

Crash safety: every command that writes does all its writes in one DuckDB transaction, so a
process killed at any moment leaves the warehouse as it was before the command. Parquet files
are written to a temporary name and renamed into place. Two commands never interleave: a
writer takes an exclusive lock on `<warehouse>/.lock` (readers a shared one), waiting up to
`PIPELINE_LOCK_TIMEOUT` seconds before failing with a message naming the holder.
"""

from __future__ import annotations

import errno
import fcntl
import getpass
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import outbox
from .config import lock_timeout_s, memory_limit
from .correlate import correlate
from .errors import UsageError, WarehouseBusy, WarehouseError
from .fraud import judge_fraud
from .interrupts import past_commit
from .rate import rate, write_rule_tables
from .rate import register_functions as register_rating
from .raw_input import RAW_SCHEMA
from .ruleset import RuleSet
from .validate import MINUTE_KEY_SQL, PAIR_KEY_SQL, PERIOD_SQL, validate_sql
from .validate import register_functions as register_validation

DB_FILE = "warehouse.duckdb"
DERIVED_TABLES = ("event_state", "sessions", "fraud", "rating")
LOCK_FILE = ".lock"
TURNSTILE_FILE = ".lock.next"  # see _locked
LOCK_POLL_S = 0.01
# 4: records and usage carry integer keys (duplicates, fraud groups), fraud_flags its uid;
# 5: the outcome feed's outbox; 6: reviews apply per reason (views only); 7: invoice revisions;
# 8: `usage` is a view over records and the new `sessions` table (single records not copied).
# A writing command upgrades a version-2 to -7 warehouse in place.
SCHEMA_VERSION = "8"


def _schema_text(name: str) -> str:
    """schemas/*.sql ships inside the repo; fall back to the package copy when installed."""
    repo = Path(__file__).resolve().parent.parent / "schemas" / name
    if repo.is_file():
        return repo.read_text()
    return resources.files("pipeline").joinpath("sql", name).read_text()


@dataclass
class IngestSummary:
    records: int = 0
    rejected: int = 0
    bytes_read: int = 0


class Warehouse:
    """An open warehouse: a DuckDB connection under the directory's lock."""

    def __init__(self, root: Path, con: duckdb.DuckDBPyConnection, writable: bool) -> None:
        self.root, self.con, self.writable = root, con, writable

    def rated_partition(self, period: str) -> Path:
        """Where `bill` writes a period's rated records (Hive-style, so DuckDB prunes by period).
        It exists once the period has been billed: a bill writes it even when it issues no
        invoice."""
        return self.root / "rated" / f"period={period}" / "rated.parquet"

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    @contextmanager
    def open(
        cls, root: str | Path, *, write: bool = False, create: bool = False, ingest: bool = False
    ) -> Iterator[Warehouse]:
        """Open under the lock; `create` makes a new warehouse when there is none. `ingest`
        (replay, the stream worker): DuckDB's memory is capped (config.memory_limit), and the
        checkpoint at close does not merge partly filled row groups or reclaim deleted rows
        (DuckDB's vacuum), so that adding 10k records to 10M does not spend a second rewriting
        row groups; the next `bill` compacts."""
        path = Path(root)
        db = path / DB_FILE
        config = _config(path, ingest)  # (a bad setting fails before anything is made)
        if create:
            path.mkdir(parents=True, exist_ok=True)
        elif not db.exists() and not (path / LOCK_FILE).exists():
            raise _no_warehouse(path)  # (and no command ever made one here)
        with _locked(path, exclusive=write):
            if not create and not db.exists():  # (a first command that held the lock failed)
                raise _no_warehouse(path)
            created = create and not db.exists()
            # (made under the lock the command then works under, so no other command sees it
            # before it is renamed into place)
            work = _temporary_name(db) if created else db
            try:
                con = _connect(work, write=write, config=config)
                try:
                    # now() into a TIMESTAMP column would store local wall-clock time; every
                    # time in the warehouse is UTC.
                    con.execute("SET TimeZone = 'UTC'")
                    # DuckDB's progress bar (on by default) polls every running query, and
                    # would print a bar on the terminal in a long replay: the pipeline has its
                    # own (--progress), and prints nothing else
                    con.execute("SET enable_progress_bar = false")
                    wh = cls(path, con, write)
                    if write:
                        wh._migrate()
                    else:
                        wh._check_version()
                    register_validation(con)
                    register_rating(con)
                    yield wh
                finally:
                    con.close()
            except BaseException:
                if created:
                    _discard(work)
                raise
            if created:
                _put_in_place(work, db)

    def _migrate(self) -> None:
        """Create or update the schema and views; a current warehouse is left alone (a
        streaming worker opens the warehouse once per batch)."""
        found = self._stored_version()
        if found == SCHEMA_VERSION:
            return
        if found is None and first_row(self.con, "SELECT count(*) FROM duckdb_tables()")[0]:  # type: ignore[index]
            # a DuckDB file of something else: not ours to add tables to
            raise _not_a_warehouse(self.root)
        if found is not None and _newer(found):
            raise self._version_error(found)  # written by a later pipeline: never downgraded
        usage_table = first_row(
            self.con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'usage'"
        )
        self.con.execute(_schema_text("warehouse.sql"))
        if usage_table and usage_table[0]:  # before version 8: see UPGRADE_SQL
            self.con.execute(UPGRADE_SQL)
        self.con.execute(_schema_text("views.sql"))
        self.con.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION]
        )

    def _check_version(self) -> None:
        found = self._stored_version()
        if found is None:
            raise _not_a_warehouse(self.root)
        if found != SCHEMA_VERSION:
            raise self._version_error(found)

    def _stored_version(self) -> str | None:
        """The warehouse's schema version; None when the file has no `meta` table (a new file,
        or not a pipeline warehouse), "none" when it has one without a version."""
        try:
            row = first_row(self.con, "SELECT value FROM meta WHERE key = 'schema_version'")
        except duckdb.CatalogException:
            return None
        return str(row[0]) if row else "none"

    def _version_error(self, found: str) -> WarehouseError:
        message = f"{self.root}: warehouse version {found}, this pipeline uses {SCHEMA_VERSION}"
        if _newer(found):
            return WarehouseError(
                message, hint="a later version of the pipeline wrote it: upgrade the pipeline"
            )
        return WarehouseError(
            message, hint="a writing command (`pipeline bill` or `replay`) upgrades an older one"
        )

    # -- transactions ----------------------------------------------------------------------

    @contextmanager
    def transaction(
        self, command_stack: ExitStack | None = None
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction. `command_stack`: the exit stack of the whole command, which from the
        COMMIT on ignores Ctrl-C until it ends (interrupts.py): what then remains of the command
        must not report as failed work that is done."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        if command_stack is not None:
            command_stack.enter_context(past_commit())
        self.con.execute("COMMIT")

    # -- rules -----------------------------------------------------------------------------

    def record_rules(self, rules: RuleSet, command: str, *, rebuild: bool = True) -> bool:
        """Remember the rule set a command uses when it differs from the last one recorded (a
        streaming worker would otherwise add one per batch). Returns whether it changed, in
        which case every outcome is re-derived (unless the caller will do it: `rebuild`)."""
        last = first_row(self.con, "SELECT digest FROM rule_sets ORDER BY seq DESC LIMIT 1")
        if last is not None and last[0] == rules.digest:
            return False
        self.con.execute(
            "INSERT INTO rule_sets SELECT coalesce(max(seq), 0) + 1, ?, ?, ?, now(), ?"
            " FROM rule_sets",
            [rules.digest, rules.source, command, rules.to_json()],
        )
        write_rule_tables(self.con, rules)
        changed = last is not None
        if changed and rebuild:
            self.derive(rules)
        return changed

    def last_rules(self) -> RuleSet:
        row = first_row(self.con, "SELECT body FROM rule_sets ORDER BY seq DESC LIMIT 1")
        if row is None:
            raise UsageError(
                f"warehouse {self.root} has no recorded rule set", "run `pipeline replay` first"
            )
        return RuleSet.from_json(row[0])

    # -- ingest ----------------------------------------------------------------------------

    def ingest(
        self,
        batches: Iterable[pa.Table],
        rules: RuleSet,
        *,
        command: str,
        files: list[str] | None = None,
        offsets: dict[tuple[str, int], int] | None = None,
        cluster: str = "",
        once: bool = False,
        command_stack: ExitStack | None = None,
    ) -> IngestSummary:
        """Store raw-record batches (validated), count them per run, store the stream offsets
        they end at, and re-judge what they affect: all in one transaction. `once`: a record
        whose (run_key, file_idx, line) is already stored, or repeats in the batches, is not
        stored again (a broker can deliver a message twice: a producer retries a send whose
        acknowledgement was lost, and the log then holds two copies). `command_stack`: see
        `transaction`."""
        summary = IngestSummary()
        with self.transaction(command_stack) as con:
            changed = self.record_rules(rules, command, rebuild=False)
            base = self.last_eid()
            runs: list[int] | None = None
            if once:
                batches = _first_copies(list(batches))
                runs = sorted(
                    {k for t in batches for k in t.column("run_key").unique().to_pylist()}
                )
            self._store(batches, summary, command, files, rules.digest, runs)
            for (topic, partition), nxt in (offsets or {}).items():
                con.execute(
                    "INSERT OR REPLACE INTO stream_offsets VALUES (?, ?, ?, ?)",
                    [cluster, topic, partition, nxt],
                )
            self.derive(rules, 0 if changed else base, base=base)
        return summary

    def _store(
        self,
        batches: Iterable[pa.Table],
        summary: IngestSummary,
        command: str,
        files: list[str] | None,
        digest: str,
        runs: list[int] | None = None,
    ) -> None:
        """Validate every batch into `records` with one INSERT over a stream of them. One
        statement, not one per batch: each INSERT ends in a partly filled row group, and the
        checkpoint at close merged those single-threaded (0.9 s of a 1M-record replay).
        `runs`: the batches' run keys, whose stored positions are not stored again."""
        con = self.con
        base = self.last_eid()
        columns = [r[0] for r in con.execute("DESCRIBE records").fetchall()]
        names = ", ".join(columns)
        failed: list[BaseException] = []
        con.register("raw_batch", _numbered(batches, base, summary, failed))
        try:
            # validated rows go straight into `records`: accepted and rejected in one write
            rows = f"({validate_sql('raw_batch')})"
            if runs is not None:
                rows = _new_positions(rows, runs)
            con.execute(f"INSERT INTO records ({names}) SELECT {names} FROM {rows}")
        except duckdb.Error:
            if failed:  # a reader's own error (e.g. an unreadable file), not DuckDB's wrapping
                raise failed[0] from None
            raise
        con.unregister("raw_batch")  # (after a failure the transaction is aborted: left as is)
        n, rej = first_row(  # type: ignore[misc]
            con, "SELECT count(*), count(reason) FROM records WHERE eid > ?", [base]
        )
        summary.records += n
        summary.rejected += rej
        con.execute(
            "INSERT INTO runs SELECT run_key, ?, ?, count(*), ?, now() FROM records"
            " WHERE eid > ? GROUP BY run_key ON CONFLICT (run_key) DO UPDATE"
            " SET records = runs.records + excluded.records, finished_at = now()",
            [command, files or [], digest, base],
        )

    def derive(self, rules: RuleSet, since: int = 0, *, base: int | None = None) -> None:
        """Re-judge what records after eid `since` can affect, so outcomes reflect everything
        ingested. `since` = 0 rebuilds every derived table from the facts. `base`: the last eid
        before this write stored its records (default: all are old), for the outcome feed."""
        con = self.con
        old = self.last_eid() if base is None else base
        seq = outbox.next_seq(con) if outbox.enabled(con) else None
        if since == 0:
            if seq is not None:  # what exists now may be gone after: the feed retracts it
                # (the usage view already shows this write's records, not judged yet: only the
                # usage records of earlier ones existed)
                outbox.note_usage(con, seq, "SELECT uid FROM usage WHERE uid <= $1", [old])
            for table in DERIVED_TABLES:
                con.execute(f"DELETE FROM {table}")
        correlate(con, since)
        judge_fraud(con, rules.fraud, full=since == 0)
        rate(con, full=since == 0)
        if seq is not None:
            outbox.note_derived(con, seq, since=since, base=old)

    def next_run_key(self) -> int:
        """A new run's key (input order sorts by it): now, and after every stored run. Taken
        under the write lock: two replays that overlap sort in the order they got the
        warehouse, not the order they started, and a clock set back cannot put a later replay
        before an earlier one, turning records already reported (billed, reviewed) into
        duplicates of the new ones."""
        last = first_row(self.con, "SELECT coalesce(max(run_key), 0) FROM runs")[0]  # type: ignore[index]
        return max(new_run_key(), int(last) + 1)

    def last_eid(self) -> int:
        return int(first_row(self.con, "SELECT coalesce(max(eid), 0) FROM records")[0])  # type: ignore[index]

    # -- streaming bookkeeping -------------------------------------------------------------

    def offsets(self, cluster: str = "") -> dict[tuple[str, int], int]:
        """Next offset to consume per (topic, partition) of the broker cluster `cluster`."""
        rows = self.con.execute(
            "SELECT topic, partition, next_offset FROM stream_offsets WHERE cluster = ?", [cluster]
        ).fetchall()
        return {(t, p): o for t, p, o in rows}

    def run_count(self, run_key: int) -> int:
        row = first_row(self.con, "SELECT records FROM runs WHERE run_key = ?", [run_key])
        return int(row[0]) if row else 0


POSITION = ["run_key", "file_idx", "line"]


def _newer(version: str) -> bool:
    """Whether a stored schema version is later than this pipeline's (which must not touch it)."""
    return version.isdigit() and int(version) > int(SCHEMA_VERSION)


def _first_copies(tables: list[pa.Table]) -> list[pa.Table]:
    """The raw records with each (run_key, file_idx, line) once, the first copy kept (a window
    in SQL sorted every batch for copies that are rare: 0.7 s of a 200k-record batch)."""
    if not tables:
        return tables
    table = pa.concat_tables(tables)
    index = pa.array(np.arange(table.num_rows))
    keys = table.select(POSITION).append_column("i", index)
    first = keys.group_by(POSITION).aggregate([("i", "min")])
    if first.num_rows == table.num_rows:  # no copies: nearly always
        return tables
    return [table.filter(pc.is_in(index, first.column("i_min")))]


def _new_positions(rows: str, runs: list[int]) -> str:
    """The validated rows whose (run_key, file_idx, line) is not stored yet (the stored
    positions of the batches' runs only: a run key filter the scan prunes by)."""
    keys = ", ".join(str(int(k)) for k in runs) or "NULL"
    return f"""(SELECT * FROM {rows} v
      ANTI JOIN (SELECT run_key, file_idx, line FROM records WHERE run_key IN ({keys})) r
      USING (run_key, file_idx, line))"""


def _numbered(
    batches: Iterable[pa.Table], base: int, summary: IngestSummary, failed: list[BaseException]
) -> pa.RecordBatchReader:
    """The raw-record batches as one Arrow stream, each record numbered with its eid (in Arrow,
    not by row_number() in SQL: a window without a partition runs on one thread; eids need only
    be unique and growing, and blank lines, which validation drops, use one up). An error
    raised while reading is also put in `failed`: DuckDB reports it only as text."""
    schema = RAW_SCHEMA.append(pa.field("eid", pa.int64()))

    def numbered() -> Iterator[pa.RecordBatch]:
        nxt = base + 1
        try:
            for table in batches:
                summary.bytes_read += table.column("raw").nbytes
                for batch in table.to_batches():
                    eids = pa.array(np.arange(nxt, nxt + batch.num_rows, dtype=np.int64))
                    nxt += batch.num_rows
                    yield batch.append_column("eid", eids)
        except BaseException as exc:
            failed.append(exc)
            raise

    return pa.RecordBatchReader.from_batches(schema, numbered())


DuckDBSetting = str | bool | int | float | list[str]


def _config(root: Path, ingest: bool) -> dict[str, DuckDBSetting]:
    config: dict[str, DuckDBSetting] = {
        "temp_directory": str(root / ".tmp"),
        # nothing depends on physical row order (every export sorts explicitly); without it
        # DuckDB can insert and aggregate in parallel
        "preserve_insertion_order": False,
    }
    limit = memory_limit(ingest=ingest)
    if limit is not None:
        config["memory_limit"] = limit
    if ingest:
        config["max_vacuum_tasks"] = 0
    return config


# Versions 2 to 7 to 8. Records gain the columns the usage view reads (and, before version 4,
# the integer key of duplicate detection); the usage table, which copied every single record,
# keeps its sessions only. (Its other rows are the view's: a single record's event_state row
# already names it as its own usage record.)
UPGRADE_SQL = f"""
ALTER TABLE records ADD COLUMN IF NOT EXISTS key_hash UBIGINT;
UPDATE records SET key_hash = hash(source, id) WHERE reason IS NULL AND key_hash IS NULL;
ALTER TABLE records ADD COLUMN IF NOT EXISTS period VARCHAR;
ALTER TABLE records ADD COLUMN IF NOT EXISTS pair_key UBIGINT;
ALTER TABLE records ADD COLUMN IF NOT EXISTS minute_key UBIGINT;
UPDATE records AS e SET period = {PERIOD_SQL}, pair_key = {PAIR_KEY_SQL},
  minute_key = {MINUTE_KEY_SQL}
WHERE reason IS NULL;
INSERT INTO sessions
SELECT uid, type, subject, source, id, time, period, quantity, destination, session_id, parts,
       complete
FROM usage WHERE session_id IS NOT NULL;
DROP TABLE usage;
"""


def _not_a_warehouse(path: Path) -> WarehouseError:
    return WarehouseError(f"{path} is not a pipeline warehouse")


def _no_warehouse(path: Path) -> WarehouseError:
    return WarehouseError(f"no warehouse at {path}", hint="run `pipeline replay` into it first")


def _temporary_name(db: Path) -> Path:
    """The name of a new warehouse's file while the command that makes it works: `open` renames
    it into place only when that command succeeds (its connection makes the file, and the
    schema). A first command that fails or is killed (even by SIGKILL) so leaves no warehouse:
    an empty one would make every export read as "no usage". Temporary files of earlier ones
    killed are removed first (their makers are gone: the caller holds the exclusive lock)."""
    for stale in db.parent.glob(f".{db.name}.*.tmp*"):
        stale.unlink(missing_ok=True)
    return db.with_name(f".{db.name}.{os.getpid()}.tmp")


def _put_in_place(tmp: Path, db: Path) -> None:
    wal = tmp.with_name(tmp.name + ".wal")  # (none after a clean close, which checkpoints)
    if wal.exists():
        os.replace(wal, db.with_name(db.name + ".wal"))
    os.replace(tmp, db)


def _discard(tmp: Path) -> None:
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)


def _connect(
    db: Path, *, write: bool, config: dict[str, DuckDBSetting]
) -> duckdb.DuckDBPyConnection:
    """The DuckDB connection; a file DuckDB cannot open (not a DuckDB file, one of a later
    DuckDB, unreadable, locked by a process outside the pipeline) is the user's to fix, not an
    internal failure."""
    try:
        return duckdb.connect(str(db), read_only=not write, config=config)
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise WarehouseError(
            f"cannot open the warehouse file {db}: {first}",
            hint="check --warehouse; move a file that is not a pipeline warehouse aside",
        ) from exc


def new_run_key() -> int:
    """Orders runs: nanoseconds since the epoch (a later replay sorts after an earlier one)."""
    return time.time_ns()


@contextmanager
def _locked(root: Path, *, exclusive: bool) -> Iterator[None]:
    """Hold the warehouse lock (`.lock`: shared to read, exclusive to write) for the block.

    Waiting is first come, first served: a command first takes the turnstile (`.lock.next`),
    then the lock, and only then lets go of the turnstile. A worker that writes batches back to
    back releases the lock for an instant between them; without the turnstile it would take the
    lock again at once and a waiting `export` or `flags dismiss` could wait out its whole
    timeout. With it, the worker's next batch queues behind the command that waited first."""
    deadline = time.monotonic() + lock_timeout_s()
    lock_path = root / LOCK_FILE
    with _flocked(root / TURNSTILE_FILE, fcntl.LOCK_EX, deadline, lock_path, exclusive):
        fd = _flock(
            lock_path, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH, deadline, lock_path, exclusive
        )
    try:
        if exclusive and fd is not None:
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()} ({getpass.getuser()})\n".encode())
        yield
    finally:
        _unlock(fd)


@contextmanager
def _flocked(path: Path, mode: int, deadline: float, holder: Path, write: bool) -> Iterator[None]:
    fd = _flock(path, mode, deadline, holder, write)
    try:
        yield
    finally:
        _unlock(fd)


def _unlock(fd: int | None) -> None:
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _lock_file(path: Path, write: bool) -> int | None:
    """An open descriptor of a lock file, made if missing. A reader that may not write the
    warehouse directory (an analyst reading the operator's warehouse, a read-only mount) opens
    it read-only, which flock allows; where it was never made, no command has locked this
    warehouse and there is nothing to wait for (None). A writer that may not write it is told
    so."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        if write:
            raise WarehouseError(
                f"warehouse {path.parent} cannot be written: {exc.strerror}",
                hint="run the command as the warehouse's owner",
            ) from None
    try:
        return os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None


def _flock(path: Path, mode: int, deadline: float, holder: Path, write: bool) -> int | None:
    """An open descriptor of `path` holding an flock in `mode`, waited for until `deadline`;
    WarehouseBusy names the lock's holder (as written in `holder`) when it runs out. None: a
    reader's lock file that does not exist and cannot be made (see _lock_file)."""
    fd = _lock_file(path, write)
    if fd is None:
        return None
    try:
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    who = _holder(holder)
                    raise WarehouseBusy(
                        f"warehouse {holder.parent} is in use by {who}",
                        hint="wait for it to finish, or raise PIPELINE_LOCK_TIMEOUT (seconds)",
                    ) from None
                time.sleep(LOCK_POLL_S)
    except BaseException:
        os.close(fd)
        raise


def _holder(lock_path: Path) -> str:
    try:
        return lock_path.read_text().strip() or "another command"
    except OSError:  # not made yet: its maker holds the turnstile
        return "another command"


def first_row(con: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> tuple | None:  # type: ignore[type-arg]
    """The first row of a query, the result fully consumed (DuckDB keeps an unfinished result
    open on the connection and refuses other work until it is)."""
    rows = (
        con.execute(sql, params).fetchall() if params is not None else con.execute(sql).fetchall()
    )
    return rows[0] if rows else None
