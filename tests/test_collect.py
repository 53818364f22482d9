"""Collection: lines, positions and verbatim bytes survive block boundaries, BOMs and CRLF."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import collect
from pipeline.collect import read_files
from pipeline.errors import UsageError


def _rows(path: Path) -> list[tuple[int, bytes]]:
    tables = list(read_files([str(path)], run_key=7))
    out = []
    for t in tables:
        out += list(zip(t.column("line").to_pylist(), t.column("raw").to_pylist(), strict=True))
    return out


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 20])
def test_line_numbers_and_bytes_survive_any_block_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(collect, "BLOCK_BYTES", block)
    lines = [b'{"a":1}', b"", b"  ", b'{"b":"\xc3\xa9"}', b"\xff\xfe", b'{"c":3}']
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"\n".join(lines))  # no newline at the end of the file
    rows = _rows(path)
    # every physical line comes out once, numbered from 1, bytes verbatim (blank lines are
    # dropped later, by validation)
    assert rows == [(i + 1, line) for i, line in enumerate(lines)]


def test_a_utf8_bom_is_not_part_of_the_first_record(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a":1}\n{"b":2}\n')
    assert _rows(path) == [(1, b'{"a":1}'), (2, b'{"b":2}')]


def test_crlf_keeps_the_carriage_return_verbatim(tmp_path: Path) -> None:
    path = tmp_path / "crlf.jsonl"
    path.write_bytes(b'{"a":1}\r\n{"b":2}\r\n')
    assert _rows(path) == [(1, b'{"a":1}\r'), (2, b'{"b":2}\r')]


def test_csv_rows_keep_physical_line_numbers_and_skip_empty_rows(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"\xef\xbb\xbfid,source\r\na,s\r\n\r\n,\r\nb,s,extra\r\n")
    tables = list(read_files([str(path)], run_key=1))
    lines = [n for t in tables for n in t.column("line").to_pylist()]
    pre = [p for t in tables for p in t.column("pre_reason").to_pylist()]
    # line 3 (blank) and line 4 (all cells empty) are not records; line 5 has a cell too many
    assert lines == [2, 5]
    assert pre == [None, "malformed"]


def test_csv_with_lone_cr_line_endings_is_refused_not_lost(tmp_path: Path) -> None:
    """Lines ending in a lone CR would all read as one header line, losing every record
    silently: the file is refused with an error naming it and what to do."""
    path = tmp_path / "mac.csv"
    path.write_bytes(b"specversion,id\r1.0,a\r1.0,b\r")
    with pytest.raises(UsageError, match=r"mac\.csv: CSV lines end in a lone CR"):
        list(read_files([str(path)], run_key=1))
