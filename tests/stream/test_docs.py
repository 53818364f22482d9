"""Docs cannot drift: each streaming command answers `--help`, and docs/streaming.md shows it
with every option it has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import cli_ok

DOCS = (Path(__file__).resolve().parents[2] / "docs" / "streaming.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("command", ["worker", "publish", "stream", "follow"])
def test_streaming_command_is_documented_with_all_its_options(command: str) -> None:
    usage = cli_ok(command, "--help").stdout
    assert usage.startswith(f"Usage: pipeline {command} ")
    line = next(ln for ln in DOCS.splitlines() if ln.startswith(f"| `pipeline {command} "))
    for option in set(re.findall(r"(--[a-z-]+)", usage)) - {"--help"}:
        assert option in line, f"docs/streaming.md: `pipeline {command}` lacks {option}"
