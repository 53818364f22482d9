"""`replay` progress: a bar (records, MB/s, ETA) on a terminal's stderr, nothing off a terminal
or with --quiet; the one-line outcome summary always."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "contract" / "examples" / "basic"
PIPELINE = str(Path(sys.executable).parent / "pipeline")
SUMMARY = "outcomes: input 205, rejected 19, duplicate 4, rated 132, invalid 17, unbilled 7"


def _args(tmp_path: Path, *extra: str) -> list[str]:
    events = sorted(str(p) for p in (EXAMPLE / "events").iterdir())
    return [
        PIPELINE,
        "replay",
        *extra,
        "--rules",
        str(EXAMPLE / "rules"),
        "--warehouse",
        str(tmp_path / "wh"),
        *events,
    ]


def _on_terminal(cmd: list[str]) -> str:
    """Run with stderr (and stdout) on a pseudo-terminal; everything it wrote there."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(cmd, stdout=follower, stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(timeout=120) == 0, out.decode(errors="replace")
    os.close(leader)
    return out.decode(errors="replace")


def test_a_terminal_shows_the_bar_and_the_summary(tmp_path: Path) -> None:
    shown = _on_terminal(_args(tmp_path))
    assert "replay" in shown and "100%" in shown and "records=" in shown, shown
    assert "/s" in shown  # throughput
    assert SUMMARY in shown


def test_quiet_on_a_terminal_prints_only_the_summary(tmp_path: Path) -> None:
    shown = _on_terminal(_args(tmp_path, "--quiet"))
    assert "%" not in shown and SUMMARY in shown, shown


def test_off_a_terminal_only_the_summary_goes_to_stderr(tmp_path: Path) -> None:
    proc = subprocess.run(_args(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]  # one line
    assert SUMMARY in proc.stderr
