"""Docs cannot drift: every analysts' command answers `--help` and has its section in
docs/cli.md."""

from __future__ import annotations

from pathlib import Path

import pytest
from worked_example import ok

CLI_MD = Path(__file__).resolve().parents[1] / "docs" / "cli.md"

COMMANDS = [
    ("query",),
    ("export", "rated"),
    ("export", "statement"),
    ("flags", "list"),
    ("flags", "dismiss"),
    ("flags", "confirm"),
    ("flags", "history"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_command_has_help_and_docs(command: tuple[str, ...]) -> None:
    usage = ok(*command, "--help").stdout
    assert usage.startswith(f"Usage: pipeline {' '.join(command)} ")
    assert "--warehouse" in usage
    assert f"pipeline {' '.join(command)} " in CLI_MD.read_text(encoding="utf-8")


def test_every_documented_option_exists() -> None:
    docs = CLI_MD.read_text(encoding="utf-8")
    for command, options in [
        (("query",), ["--format"]),
        (("export", "rated"), ["--period", "--out"]),
        (("export", "statement"), ["--format", "--out", "--account"]),
        (("flags", "list"), ["--status", "--reason", "--period", "--account", "--format"]),
        (("flags", "dismiss"), ["--note", "--file"]),
        (("flags", "history"), ["--format"]),
    ]:
        usage = ok(*command, "--help").stdout
        for option in options:
            assert option in usage, (command, option)
            assert option in docs, option
