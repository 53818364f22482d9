"""What the streaming commands leave behind them: log lines (pipeline/stream/logs.py: library
messages one line each, each once per REPEAT_S; our own untouched) and faust's state dirs."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pipeline.stream.app import data_dir
from pipeline.stream.logs import LibraryLines


def record(name: str, msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise ConnectionError("refused")
        except ConnectionError:
            info = sys.exc_info()
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, info)


def test_a_library_message_passes_once_in_one_line_without_its_traceback() -> None:
    quiet = LibraryLines(repeat_s=60)
    first = record("aiokafka", "Unable connect to node with id %s:\n%s", 111, "refused", exc=True)
    assert quiet.filter(first)
    assert first.getMessage() == "Unable connect to node with id 111:"
    assert first.exc_info is None and first.exc_text is None
    # the same template again, other arguments: dropped within the minute
    assert not quiet.filter(record("aiokafka", "Unable connect to node with id %s:\n%s", 112, "x"))
    # another template, or another logger: passes
    assert quiet.filter(record("aiokafka", "Unable to update metadata from %s", [111]))
    assert quiet.filter(record("aiokafka.consumer.fetcher", "Unable to update metadata from %s", 1))


def test_a_repeated_library_message_passes_again_after_the_interval() -> None:
    quiet = LibraryLines(repeat_s=0)
    assert quiet.filter(record("faust", "lost %s", 1))
    assert quiet.filter(record("faust", "lost %s", 1))


def test_our_own_records_pass_untouched_every_time() -> None:
    quiet = LibraryLines(repeat_s=60)
    for _ in range(3):
        own = record("pipeline.stream.worker", "line one\nline two", exc=True)
        assert quiet.filter(own)
        assert own.getMessage() == "line one\nline two" and own.exc_info is not None


def test_asyncios_pending_task_notice_at_exit_is_dropped() -> None:
    quiet = LibraryLines()
    assert not quiet.filter(record("asyncio", "Task was destroyed but it is pending!\ntask: <T>"))
    assert quiet.filter(record("asyncio", "Task exception was never retrieved"))


def test_a_killed_workers_state_dir_is_removed_by_the_next_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """faust needs a data dir; a SIGKILLed worker cannot remove its own, the next one does."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = tmp_path / f"pipeline-faust-{gone.pid}-x1"
    live = tmp_path / f"pipeline-faust-{os.getppid()}-x2"  # (a running process's)
    other = tmp_path / f"pipeline-follow-{gone.pid}-x3"  # another kind: left to its own sweep
    for d in (dead, live, other):
        d.mkdir()
    with data_dir("faust") as mine:
        assert mine.is_dir() and mine.name.startswith(f"pipeline-faust-{os.getpid()}-")
        assert not dead.exists() and live.exists() and other.exists()
    assert not mine.exists()
