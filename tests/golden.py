"""The golden scenarios (every directory under tests/cases/ with hand-computed `expected/`
outputs, plus the contract's worked example) and how the contract's own checker runs one:
shared by the batch (tests/test_cases.py) and streaming (tests/stream/) golden tests.

A scenario may hold `dismiss.txt` (one `SOURCE:ID` per line): those flags are dismissed after
the replay and before billing (check.py `--dismiss`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECK = REPO.parent / "shared" / "contract" / "check.py"
EXAMPLE = REPO.parent / "shared" / "contract" / "examples" / "basic"
CASES = REPO / "tests" / "cases"
PIPELINE = Path(sys.executable).parent / "pipeline"


def scenarios() -> list[Path]:
    found = []
    if CASES.is_dir():
        found = sorted(p for p in CASES.iterdir() if (p / "expected").is_dir())
    if (EXAMPLE / "expected").is_dir():
        found.insert(0, EXAMPLE)
    return found


def _dismissals(case: Path) -> list[str]:
    f = case / "dismiss.txt"
    if not f.is_file():
        return []
    return [ln.strip() for ln in f.read_text(encoding="utf-8").splitlines() if ln.strip()]


def check(case: Path, mode: str, env: dict[str, str] | None = None) -> None:
    """Run check.py over the scenario in `mode`; fail with its report unless all outputs match."""
    cmd = [sys.executable, str(CHECK), str(PIPELINE), str(case), "--mode", mode, "-v"]
    dismiss = _dismissals(case)
    if dismiss:
        cmd += ["--dismiss", ",".join(dismiss)]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=1800, env={**os.environ, **(env or {})}
    )
    assert proc.returncode == 0, (
        f"check.py failed for {case.name} ({mode}):\n{proc.stdout}\n{proc.stderr}"
    )
