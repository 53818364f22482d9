"""Ctrl-C after a command's work has committed: ignored until the command ends.

Before the commit, Ctrl-C rolls the transaction back and the command says `aborted`. After it,
only reading back the summary, writing metrics and DuckDB's checkpoint at close remain; an
interrupt there used to report `aborted` (exit 1) for work that was done, and a script that
retried then doubled a replay's records (as duplicates). So from the commit on, SIGINT is
ignored until the block ends (the previous handler is then restored; an interrupt that arrived
meanwhile is dropped, the command having succeeded). When the command is the process
(`hold_until_exit`), it stays ignored to the process's exit: printing the summary and Python's
shutdown take some 60 ms after the block, and a Ctrl-C there printed `aborted`, a traceback
from an atexit callback, or killed the process.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_hold_until_exit = False


def hold_until_exit() -> None:
    """The process ends with this command: past_commit leaves SIGINT ignored to the end."""
    global _hold_until_exit
    _hold_until_exit = True


@contextmanager
def past_commit() -> Iterator[None]:
    """Ignore SIGINT for the block (only the main thread can set a handler; elsewhere, e.g. a
    worker thread, there is nothing to do: Python delivers signals to the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        if not _hold_until_exit:
            signal.signal(signal.SIGINT, previous)
