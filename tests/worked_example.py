"""The contract's worked example as a warehouse, and the `pipeline` command to look into it:
shared by the tests of the analysts' views (query, HTML statement, flags).

Expected values in those tests come from the example's hand-computed `expected/` files or
from the event files themselves, never from the program's own output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

EXAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "contract" / "examples" / "basic"
EVENTS = sorted((EXAMPLE / "events").iterdir()) if EXAMPLE.is_dir() else []
# The console script installed next to the interpreter running the tests (the venv's).
PIPELINE = str(Path(sys.executable).with_name("pipeline"))


def run(
    *args: str | Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`pipeline ARGS...` with text stdout/stderr captured."""
    return subprocess.run(
        [PIPELINE, *map(str, args)],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def ok(*args: str | Path, **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run the command and fail the test, showing its stderr, unless it exits 0."""
    p = run(*args, **kw)
    assert p.returncode == 0, f"pipeline {' '.join(map(str, args))} -> {p.returncode}\n{p.stderr}"
    assert "Traceback" not in p.stderr, p.stderr
    return p


def fails(*args: str | Path, code: int = 1, **kw: Any) -> str:
    """Run a command that must fail with `code` and a message (no traceback); its stderr."""
    p = run(*args, **kw)
    assert p.returncode == code, f"exit {p.returncode}, wanted {code}\n{p.stdout}\n{p.stderr}"
    assert "Traceback" not in p.stderr, p.stderr
    return p.stderr


def replay_example(warehouse: Path) -> Path:
    """Replay the example's three event files, in order, into a new warehouse."""
    ok("replay", "--quiet", "--rules", EXAMPLE / "rules", "--warehouse", warehouse, *EVENTS)
    return warehouse


def expected(name: str) -> Any:
    return json.loads((EXAMPLE / "expected" / name).read_text(encoding="utf-8"))
