"""Golden scenarios (tests/golden.py) replayed through the real `pipeline` CLI by the contract's
own checker, once as one replay and once as one replay per file: every exported JSON must equal
the hand-computed expectation. (The streaming run of the same scenarios: tests/stream.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from golden import CHECK, check, scenarios


@pytest.mark.parametrize("mode", ["replay", "replay-split"])
@pytest.mark.parametrize("case", scenarios(), ids=lambda p: p.name)
def test_golden_case(case: Path, mode: str) -> None:
    if not CHECK.is_file():
        pytest.skip(f"contract checker not found at {CHECK}")
    check(case, mode)
