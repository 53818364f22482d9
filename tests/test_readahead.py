"""pipeline/readahead.py: the kernel is advised of regular input files only; nothing else is
opened (a FIFO's data belongs to the reader), and no path can make the advice fail a replay."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline import readahead


def test_only_regular_files_are_advised_and_nothing_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    regular = tmp_path / "a.jsonl"
    regular.write_text('{"id": "1"}\n')
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    advised: list[tuple[str, int]] = []

    def record(fd: int, offset: int, length: int, advice: int) -> None:
        advised.append((os.readlink(f"/proc/self/fd/{fd}"), advice))

    monkeypatch.setattr(os, "posix_fadvise", record)
    paths = [str(tmp_path / "missing.jsonl"), str(fifo), str(tmp_path), "bad\0name", str(regular)]
    thread = readahead.read_ahead(paths)
    assert thread is not None
    thread.join(timeout=10)
    assert not thread.is_alive()  # a blocking open of the FIFO would hang here
    assert advised == [(str(regular), os.POSIX_FADV_WILLNEED)]


def test_a_file_system_refusing_the_advice_is_read_as_usual(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for f in files:
        f.write_text("{}\n")
    calls: list[int] = []

    def refuse(fd: int, offset: int, length: int, advice: int) -> None:
        calls.append(fd)
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(os, "posix_fadvise", refuse)
    open_before = len(os.listdir("/proc/self/fd"))
    readahead.advise([str(f) for f in files])  # no exception, and every file was tried
    assert len(calls) == 2
    assert len(os.listdir("/proc/self/fd")) == open_before  # each file closed again
