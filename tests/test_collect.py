"""Collection: lines, positions and verbatim bytes survive block boundaries, BOMs and CRLF."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import main_inprocess

from pipeline import csv_input, raw_input
from pipeline.collect import read_files, read_through
from pipeline.errors import UsageError

REPO = Path(__file__).resolve().parents[1]


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
    monkeypatch.setattr(raw_input, "BLOCK_BYTES", block)
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


_QUOTED_CSV = (
    b"specversion,id,data.user_agent\r\n"
    b'1.0,a,"two\r\nlines, one cell"\r\n'  # a quoted cell holding a line break: one row
    b"1.0,b,plain\r\n"
    b'1.0,c,"never closed\r\n'  # an open quote that no later line closes ...
    b"1.0,d,x\r\n"  # ... swallows nothing: both stay rows of their own
    b'1.0,e,"""q"" \nand ""more"""\n'  # escaped quotes around a break (LF only)
    b'1.0,f,a"b\n'  # a stray quote inside an unquoted cell is a character
)


@pytest.mark.parametrize("block", [1, 9, 40, 1 << 20])
def test_a_quoted_cell_may_hold_line_breaks_across_any_block_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(raw_input, "BLOCK_BYTES", block)
    path = tmp_path / "q.csv"
    path.write_bytes(_QUOTED_CSV)
    got = {row[0]: row[1:] for row in _columns(path, "line", "raw", "doc", "pre_reason")}
    # a row is numbered by its first line; its bytes are its lines joined by their own newlines
    assert sorted(got) == [2, 4, 5, 6, 7, 9]
    assert got[2][0] == b'1.0,a,"two\r\nlines, one cell"'  # (CSV: the row's final CR is cut)
    assert '"user_agent":"two\\r\\nlines, one cell"' in got[2][1]
    assert got[5] == (b'1.0,c,"never closed', None, "malformed")
    assert got[6][2] is None and got[9][2] is None
    assert '"user_agent":"\\"q\\" \\nand \\"more\\""' in got[7][1]
    assert '"user_agent":"a\\"b"' in got[9][1]


def test_a_quoted_row_longer_than_the_bound_stays_separate_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bound keeps a quote that opens far from its close from making one huge record (and
    from holding a growing carry in memory across blocks)."""
    monkeypatch.setattr(csv_input, "MAX_ROW_BYTES", 10)
    monkeypatch.setattr(raw_input, "BLOCK_BYTES", 8)
    path = tmp_path / "long.csv"
    path.write_bytes(b'a,b\n1,"x\n2,y\n3,z\n4,w"\n5,"s\nt"\n')
    got = _columns(path, "line", "pre_reason")
    # lines 2-5 hold 14 bytes (over 10): four rows, the first open (malformed), the last with a
    # quote inside an unquoted cell (a character); lines 6-7 (6 bytes) are one row
    assert got == [(2, "malformed"), (3, None), (4, None), (5, None), (6, None)]


def _columns(path: Path, *names: str) -> list[tuple]:  # type: ignore[type-arg]
    """The raw-record rows of a file, as tuples of the named columns."""
    return [
        row
        for t in read_files([str(path)], run_key=1)
        for row in zip(*(t.column(c).to_pylist() for c in names), strict=True)
    ]


def test_an_unreadable_parquet_file_stops_the_run_before_anything_is_written(
    tmp_path: Path,
) -> None:
    good = tmp_path / "a.jsonl"
    good.write_text('{"specversion": "1.0"}\n', encoding="utf-8")
    bad = tmp_path / "b.parquet"
    bad.write_bytes(b"PAR1 but not really")
    wh = tmp_path / "wh"
    r = main_inprocess(
        "replay", "--quiet", "--rules", REPO / "rating_rules", "--warehouse", wh, good, bad
    )
    assert r.returncode == 1 and "b.parquet: not a readable Parquet file" in r.stderr, r
    assert not wh.exists()  # found before the warehouse is made, not halfway through the run


def test_a_parquet_file_with_a_corrupt_page_stops_the_run_writing_nothing(tmp_path: Path) -> None:
    """The footer reads (the file passes the check before the run), a data page does not: one
    line naming the file, exit 1, and the run's transaction leaves nothing behind."""
    bad = tmp_path / "b.parquet"
    pq.write_table(
        pa.table({"specversion": ["1.0"] * 1000, "id": [f"x{i}" for i in range(1000)]}), bad
    )
    data = bytearray(bad.read_bytes())
    data[8:200] = b"\xab" * 192  # the first page's header, after the magic bytes
    bad.write_bytes(bytes(data))
    good = tmp_path / "a.jsonl"
    good.write_text('{"specversion": "1.0"}\n', encoding="utf-8")
    wh = tmp_path / "wh"
    r = main_inprocess(
        "replay", "--quiet", "--rules", REPO / "rating_rules", "--warehouse", wh, good, bad
    )
    assert r.returncode == 1, r
    assert (
        r.stderr.startswith("error: input file ")
        and "b.parquet: not a readable Parquet file" in r.stderr
    )
    assert "Traceback" not in r.stderr
    rec = main_inprocess("export", "reconcile", "--warehouse", wh)
    assert rec.returncode != 0 or '"input": 0' in rec.stdout


def test_a_file_name_that_is_not_utf8_is_a_clear_error_before_anything_is_written(
    tmp_path: Path,
) -> None:
    """Every record keeps its file's name, which the warehouse holds as UTF-8: a name that is
    not (a Latin-1 name on a Linux disk) stops the run with one line naming the file, instead
    of a traceback half-way through."""
    name = tmp_path / os.fsdecode(b"bad\xff.jsonl")
    name.write_bytes(b'{"x": 1}\n')
    wh = tmp_path / "wh"
    r = main_inprocess(
        "replay", "--rules", str(REPO / "rating_rules"), "--warehouse", str(wh), str(name)
    )
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert "bad\\xff.jsonl: its name is not valid UTF-8" in r.stderr
    assert not wh.exists()


def test_read_through_fails_on_a_file_that_fails_part_way(tmp_path: Path) -> None:
    """`publish`/`stream` read every file to its end before sending a record: a bad file after
    good ones is found there (and good files pass)."""
    good = tmp_path / "a.jsonl"
    good.write_bytes(b'{"x": 1}\n' * 1000)
    bad = tmp_path / "mac.csv"
    bad.write_bytes(b"specversion,id\r1.0,a\r")
    read_through([str(good)])
    with pytest.raises(UsageError, match=r"mac\.csv: CSV lines end in a lone CR"):
        read_through([str(good), str(bad)])
