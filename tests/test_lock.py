"""The warehouse lock is first come, first served: a writer that takes it back to back (a
stream worker writing batches with no pause between them) does not keep out a command that
was already waiting (an analyst's `export` or `flags dismiss`)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from pipeline.errors import UsageError, WarehouseBusy
from pipeline.warehouse import _locked

HOLD_S = 0.05  # one "batch"


def _busy_writer(root: Path, stop: threading.Event, batches: list[float]) -> None:
    """Take the lock exclusively again the instant it was let go, until `stop`."""
    while not stop.is_set():
        with _locked(root, exclusive=True):
            batches.append(time.monotonic())
            time.sleep(HOLD_S)


@pytest.mark.parametrize("exclusive", [False, True], ids=["reader", "writer"])
def test_a_waiting_command_gets_the_lock_after_the_batch_being_written(
    tmp_path: Path, exclusive: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPELINE_LOCK_TIMEOUT", "5")
    stop, batches = threading.Event(), []
    writer = threading.Thread(target=_busy_writer, args=(tmp_path, stop, batches))
    writer.start()
    try:
        time.sleep(5 * HOLD_S)  # the writer is in its stride
        asked = time.monotonic()
        with _locked(tmp_path, exclusive=exclusive):
            waited = time.monotonic() - asked
            held_by_writer = len(batches)
            time.sleep(HOLD_S)
            assert len(batches) == held_by_writer, "the writer wrote while we held the lock"
        time.sleep(4 * HOLD_S)
        assert len(batches) > held_by_writer, "the writer did not go on after us"
    finally:
        stop.set()
        writer.join(timeout=10)
    # one batch in progress (or two, if we asked as it changed hands), and slack for a loaded
    # machine; a writer that cut in line would keep us out until the timeout (5 s)
    assert waited < 1.0, f"waited {waited:.2f} s behind a writer of back-to-back batches"


def test_a_command_still_gives_up_after_its_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPELINE_LOCK_TIMEOUT", "0.3")
    with _locked(tmp_path, exclusive=True):
        started = time.monotonic()
        with pytest.raises(WarehouseBusy, match="in use by pid"):
            with _locked(tmp_path, exclusive=False):
                pass
        assert 0.3 <= time.monotonic() - started < 2


@pytest.mark.parametrize("value", ["abc", "-1", "nan"])
def test_a_lock_timeout_that_is_not_seconds_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """It used to be a ValueError traceback from float()."""
    monkeypatch.setenv("PIPELINE_LOCK_TIMEOUT", value)
    with pytest.raises(UsageError, match=f"PIPELINE_LOCK_TIMEOUT='{value}' is not a number"):
        with _locked(tmp_path, exclusive=False):
            pass
