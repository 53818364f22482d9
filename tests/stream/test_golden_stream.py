"""Contract 7: "After `pipeline stream` over files into an empty warehouse, every export in
section 6 prints exactly what it prints after `pipeline replay`". Every golden scenario
(tests/golden.py) goes through `pipeline stream` on the test broker, and the contract's checker
compares each export with the hand-computed expectation, as the batch golden tests do."""

from __future__ import annotations

from pathlib import Path

import pytest
from golden import CHECK, check, scenarios


@pytest.mark.broker
@pytest.mark.parametrize("case", scenarios(), ids=lambda p: p.name)
def test_golden_case_streamed(case: Path, broker_url: str) -> None:
    if not CHECK.is_file():
        pytest.skip(f"contract checker not found at {CHECK}")
    check(case, "stream", env={"PIPELINE_BROKER": broker_url})
