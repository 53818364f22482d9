"""Run one measured command as a child process: wall seconds and that child's own peak RSS.

Why `os.wait4`: `getrusage(RUSAGE_CHILDREN).ru_maxrss` is the maximum over *all* children
ever waited for, so after a big replay every later measure would report the replay's peak.
`wait4` returns the rusage of the one child it reaps (on Linux its `ru_maxrss` also covers the
grandchildren that child waited for), so each measure gets its own peak with no wrapper process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ChildRun:
    cmd: tuple[str, ...]
    returncode: int
    seconds: float
    peak_rss_mb: float
    stdout: bytes
    stderr: str  # the tail, for error messages

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def failure(self) -> str:
        last = self.stderr.strip().splitlines()[-1:] or ["(no message)"]
        return f"exit {self.returncode}: {last[0][:200]}"


def run(cmd: list[str], *, keep_stdout: bool = False, cwd: Path | None = None) -> ChildRun:
    """Run `cmd` to completion. Standard output goes to a temporary file (kept only with
    `keep_stdout`), so a large export is not slowed by a pipe the parent must drain."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - began
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        stdout = out.read() if keep_stdout else b""
        stderr = err.read()[-4000:].decode("utf-8", "replace")
    # ru_maxrss is KiB on Linux, bytes on macOS.
    rss_mb = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return ChildRun(tuple(cmd), proc.returncode, seconds, rss_mb, stdout, stderr)
