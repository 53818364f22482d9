"""Fraud analysts' commands on the worked example: `flags list` with its filters,
`flags dismiss|confirm` with `--file` and `--note`, `flags history`, and `export flags` keeping
exactly the contract's keys however many reviews are recorded."""

from __future__ import annotations

import getpass
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from worked_example import EXAMPLE, expected, fails, ok, replay_example

from pipeline.errors import UsageError
from pipeline.flag_views import read_pairs

pytestmark = pytest.mark.skipif(not EXAMPLE.is_dir(), reason=f"worked example not at {EXAMPLE}")

FLAG_KEYS = ["source", "id", "type", "subject", "reason", "status"]
ORPHANS_OF_ACME = ["cli-0000005", "cli-0000007", "cli-0000009", "cli-0000013", "cli-0000136"]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return replay_example(tmp_path_factory.mktemp("flags") / "wh")


@pytest.fixture
def wh(pristine: Path, tmp_path: Path) -> Path:
    """A fresh copy of the replayed example for each test that reviews flags."""
    return Path(shutil.copytree(pristine, tmp_path / "wh"))


def listed(wh: Path, *filters: str) -> list[dict[str, str]]:
    return json.loads(ok("flags", "list", "--warehouse", wh, "--format", "json", *filters).stdout)


def history(wh: Path, *record: str) -> list[dict[str, str]]:
    return json.loads(ok("flags", "history", "--warehouse", wh, "--format", "json", *record).stdout)


# -- flags list -------------------------------------------------------------------------------


def test_list_shows_every_flag_in_export_order(pristine: Path) -> None:
    want = expected("flags.json")
    got = listed(pristine)
    assert [{k: f[k] for k in FLAG_KEYS} for f in got] == want
    assert len(got) == 17
    first = got[0]  # adserver-eu1 imp-0000003: Googlebot, 2026-10-03T11:00:00Z
    assert (first["campaign"], first["period"], first["time"]) == (
        "autumn",
        "2026-10",
        "2026-10-03T11:00:00",
    )
    assert (first["note"], first["reviewer"], first["reviewed_at"]) == (None, None, None)


def test_list_filters_combine(pristine: Path) -> None:
    got = listed(pristine, "--reason", "orphan_click", "--account", "acme", "--status", "open")
    assert [f["id"] for f in got] == ORPHANS_OF_ACME
    assert [f["id"] for f in listed(pristine, "--account", "globex")] == [
        "cli-0000021",
        "cli-0000025",
        "cli-0000029",
        "cli-0000033",
        "cli-0000143",
    ]
    assert len(listed(pristine, "--period", "2026-10")) == 17
    assert listed(pristine, "--period", "2026-09") == []
    assert listed(pristine, "--status", "dismissed") == []


def test_list_as_a_table(pristine: Path) -> None:
    out = ok("flags", "list", "--warehouse", pristine, "--reason", "bot_user_agent").stdout
    lines = out.splitlines()
    assert lines[0].split() == [
        "source",
        "id",
        "type",
        "subject",
        "campaign",
        "period",
        "time",
        "reason",
        "status",
        "note",
        "reviewer",
        "reviewed_at",
    ]
    assert [ln.split()[:2] for ln in lines[2:4]] == [
        ["adserver-eu1", "imp-0000003"],
        ["clicktracker", "cli-0000004"],
    ]
    assert lines[-1] == "(2 rows)"


def test_list_refuses_unknown_filter_values(pristine: Path) -> None:
    err = fails("flags", "list", "--warehouse", pristine, "--reason", "bot", code=2)
    assert "'bot' is not one of 'bot_user_agent', 'orphan_click'" in err
    err = fails("flags", "list", "--warehouse", pristine, "--status", "closed", code=2)
    assert "'closed' is not one of 'open', 'dismissed', 'confirmed'" in err
    err = fails("flags", "list", "--warehouse", pristine, "--period", "October")
    assert "period `October` is not YYYY-MM" in err


# -- dismiss / confirm with --file and --note; history -----------------------------------------


def test_review_from_a_file_with_notes_and_history(wh: Path, tmp_path: Path) -> None:
    pairs = tmp_path / "late.tsv"
    pairs.write_text(
        "# clicks whose impressions arrive late\n"
        "clicktracker\tcli-0000005\n"
        "\n"
        "clicktracker   cli-0000007\n"
        "clicktracker\tcli-0000009\r\n",
        encoding="utf-8",
    )
    before = datetime.now(UTC).replace(tzinfo=None)
    # A time zone far from UTC: reviewed_at must still be UTC, like every time stored.
    tokyo = {"TZ": "Asia/Tokyo"}
    p = ok(
        "flags",
        "dismiss",
        "--warehouse",
        wh,
        "--file",
        pairs,
        "--note",
        "late impressions",
        env=tokyo,
    )
    assert p.stderr.strip() == "dismissed 3 flag(s)"
    p = ok(
        "flags",
        "confirm",
        "--warehouse",
        wh,
        "b-tracker",
        "dc-1",
        "--note",
        "same device",
        env=tokyo,
    )
    assert p.stderr.strip() == "confirmed 1 flag(s)"
    after = datetime.now(UTC).replace(tzinfo=None)

    trail = history(wh)
    assert [
        (h["seq"], h["source"], h["id"], h["status"], h["reason"], h["note"]) for h in trail
    ] == [
        (1, "clicktracker", "cli-0000005", "dismissed", "orphan_click", "late impressions"),
        (2, "clicktracker", "cli-0000007", "dismissed", "orphan_click", "late impressions"),
        (3, "clicktracker", "cli-0000009", "dismissed", "orphan_click", "late impressions"),
        (4, "b-tracker", "dc-1", "confirmed", "duplicate_click", "same device"),
    ]
    assert {h["reviewer"] for h in trail} == {getpass.getuser()}
    for h in trail:
        at = datetime.fromisoformat(h["reviewed_at"])
        assert before - timedelta(seconds=1) <= at <= after + timedelta(seconds=1), at

    assert [h["seq"] for h in history(wh, "b-tracker", "dc-1")] == [4]
    dismissed = listed(wh, "--status", "dismissed")
    assert [(f["id"], f["note"]) for f in dismissed] == [
        ("cli-0000005", "late impressions"),
        ("cli-0000007", "late impressions"),
        ("cli-0000009", "late impressions"),
    ]
    assert [f["id"] for f in listed(wh, "--status", "confirmed")] == ["dc-1"]


def test_export_flags_keeps_the_contracts_keys_after_reviews(wh: Path) -> None:
    ok("flags", "dismiss", "--warehouse", wh, "clicktracker", "cli-0000136", "--note", "n")
    ok("flags", "confirm", "--warehouse", wh, "clicktracker", "cli-0000021", "--note", "n")
    got = json.loads(ok("export", "flags", "--warehouse", wh).stdout)
    assert all(list(f) == FLAG_KEYS for f in got)
    want = expected("flags.json")
    for f in want:
        f["status"] = {"cli-0000136": "dismissed", "cli-0000021": "confirmed"}.get(f["id"], "open")
    assert got == want


def test_history_shows_the_latest_review_last_and_the_list_follows_it(wh: Path) -> None:
    ok("flags", "dismiss", "--warehouse", wh, "clicktracker", "cli-0000013")
    ok("flags", "confirm", "--warehouse", wh, "clicktracker", "cli-0000013", "--note", "checked")
    trail = history(wh, "clicktracker", "cli-0000013")
    assert [(h["status"], h["note"]) for h in trail] == [
        ("dismissed", None),
        ("confirmed", "checked"),
    ]
    (flag,) = listed(wh, "--account", "acme", "--reason", "orphan_click", "--status", "confirmed")
    assert (flag["id"], flag["note"]) == ("cli-0000013", "checked")


def test_a_bad_file_line_reviews_nothing(wh: Path, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("clicktracker cli-0000005\nclicktracker cli-0000007 extra\n")
    err = fails("flags", "dismiss", "--warehouse", wh, "--file", pairs)
    assert f"{pairs}:2: expected `SOURCE<TAB>ID` (or `SOURCE ID`)" in err
    assert history(wh) == []


def test_a_file_that_is_not_utf8_is_one_line_and_reviews_nothing(wh: Path, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.write_bytes(b"clicktracker\tcli-0000005\nclick\xfftracker\tcli-0000007\n")
    err = fails("flags", "dismiss", "--warehouse", wh, "--file", pairs)
    assert err.strip() == f"error: {pairs}: not UTF-8 text (invalid start byte)"
    assert history(wh) == []


def test_an_unknown_flag_in_the_file_reviews_nothing(wh: Path, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("clicktracker\tcli-0000005\nclicktracker\tcli-0000001\n")
    err = fails("flags", "dismiss", "--warehouse", wh, "--file", pairs)
    assert "no fraud flag on record source='clicktracker' id='cli-0000001'" in err
    assert history(wh) == []
    assert listed(wh, "--status", "dismissed") == []


def test_file_from_standard_input_and_arguments_together(wh: Path) -> None:
    p = ok(
        "flags",
        "confirm",
        "--warehouse",
        wh,
        "clicktracker",
        "cli-0000023",
        "--file",
        "-",
        stdin="clicktracker\tcli-0000027\n",
    )
    assert p.stderr.strip() == "confirmed 2 flag(s)"
    assert [f["id"] for f in listed(wh, "--status", "confirmed")] == ["cli-0000023", "cli-0000027"]


def test_no_flags_given(wh: Path, tmp_path: Path) -> None:
    assert "no flags given" in fails("flags", "dismiss", "--warehouse", wh)
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing to do\n")
    assert "no flags given" in fails("flags", "dismiss", "--warehouse", wh, "--file", empty)


def test_history_of_an_unknown_record(pristine: Path) -> None:
    err = fails("flags", "history", "--warehouse", pristine, "clicktracker", "nope")
    assert "no fraud flag and no review on record source='clicktracker' id='nope'" in err
    assert "give one record as EVENT_SOURCE EVENT_ID" in fails(
        "flags", "history", "--warehouse", pristine, "clicktracker"
    )
    out = ok("flags", "history", "--warehouse", pristine).stdout
    assert out.splitlines()[-1] == "(0 rows)"


def test_read_pairs_keeps_tab_separated_fields_verbatim() -> None:
    lines = ["src\tid with spaces\n", "  # note\n", "a b\n", "\n"]
    assert read_pairs(lines, "f") == ("src", "id with spaces", "a", "b")
    with pytest.raises(UsageError, match=r"f:1: expected"):
        read_pairs(["a\tb\tc\n"], "f")
    with pytest.raises(UsageError, match=r"f:1: expected"):
        read_pairs(["\tb\n"], "f")


def test_a_file_with_a_byte_order_mark_and_a_flag_given_twice(wh: Path, tmp_path: Path) -> None:
    """A BOM (as Windows tools write) became part of the first source, and that flag was not
    found; a flag given twice was two reviews and counted twice."""
    pairs = tmp_path / "pairs.txt"
    pairs.write_bytes("\ufeffclicktracker\tcli-0000005\nclicktracker\tcli-0000007\n".encode())
    p = ok("flags", "dismiss", "--warehouse", wh, "clicktracker", "cli-0000005", "--file", pairs)
    assert p.stderr.strip() == "dismissed 2 flag(s)"
    assert [(h["id"], h["status"]) for h in history(wh)] == [
        ("cli-0000005", "dismissed"),
        ("cli-0000007", "dismissed"),
    ]
