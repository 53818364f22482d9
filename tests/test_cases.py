"""Golden scenarios: every directory under tests/cases/ (plus the contract's worked example) is
replayed through the real `pipeline` CLI by the contract's own checker, once as one replay and
once as one replay per file, and every exported JSON must equal the hand-computed expectation.

A scenario may hold `dismiss.txt` (one `SOURCE:ID` per line): those flags are dismissed after
the replay and before billing (check.py `--dismiss`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CHECK = SHARED / "contract" / "check.py"
EXAMPLE = SHARED / "contract" / "examples" / "basic"
CASES = REPO / "tests" / "cases"
PIPELINE = Path(sys.executable).parent / "pipeline"


def _scenarios() -> list[Path]:
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


@pytest.mark.parametrize("mode", ["replay", "replay-split"])
@pytest.mark.parametrize("case", _scenarios(), ids=lambda p: p.name)
def test_golden_case(case: Path, mode: str) -> None:
    if not CHECK.is_file():
        pytest.skip(f"contract checker not found at {CHECK}")
    cmd = [sys.executable, str(CHECK), str(PIPELINE), str(case), "--mode", mode, "-v"]
    dismiss = _dismissals(case)
    if dismiss:
        cmd += ["--dismiss", ",".join(dismiss)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, (
        f"check.py failed for {case.name} ({mode}):\n{proc.stdout}\n{proc.stderr}"
    )
