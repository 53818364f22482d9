"""What the streaming commands log: our own progress as is; the libraries (aiokafka, faust,
mode, asyncio) one line per message and each message once a minute, unless `--debug`.

Why: when the broker goes away, aiokafka logs every failed connection, fetch, metadata refresh
and heartbeat, several times a second, with tracebacks (370 lines in the 6 s before the worker
gives up, then faust's consumer thread dies with another traceback on the way out). The operator
needs the first of each and the worker's own one-line error, as for every other command; with
`--debug` everything is shown as the libraries wrote it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

REPEAT_S = 60.0  # a library message logged again within this is dropped
OWN = "pipeline"
# asyncio's word, at exit, for aiokafka's tasks that a broker-less stop leaves behind
PENDING_AT_EXIT = "Task was destroyed but it is pending"


class LibraryLines(logging.Filter):
    """Pass our own records; a library's record once per (logger, message template) per
    REPEAT_S, cut to its first line and without its traceback."""

    def __init__(self, repeat_s: float = REPEAT_S) -> None:
        super().__init__()
        self.repeat_s = repeat_s
        self.last: dict[tuple[str, str], float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == OWN or record.name.startswith(OWN + "."):
            return True
        if record.name == "asyncio" and str(record.msg).startswith(PENDING_AT_EXIT):
            return False
        key = (record.name, str(record.msg))
        now = time.monotonic()
        if now - self.last.get(key, -self.repeat_s) < self.repeat_s:
            return False
        self.last[key] = now
        record.msg, record.args = record.getMessage().split("\n", 1)[0], None
        record.exc_info = record.exc_text = record.stack_info = None
        return True


def configure(level: int, *, debug: bool) -> None:
    """Our loggers at `level`; the libraries' only when something is wrong, and (without
    `debug`) in one line each, each once a minute."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger(OWN).setLevel(level)
    if debug:
        return
    quiet = LibraryLines()
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, LibraryLines) for f in handler.filters):  # (a second command)
            handler.addFilter(quiet)
    threading.excepthook = _thread_died


_log = logging.getLogger(__name__)


def _thread_died(args: threading.ExceptHookArgs) -> None:
    """A library thread that dies: one line, not a traceback. faust's consumer thread is
    cancelled on the way out when the broker is gone; that is expected and not logged."""
    if args.exc_type is asyncio.CancelledError:
        return
    name = args.thread.name if args.thread is not None else "?"
    _log.warning("thread %s stopped: %s: %s", name, args.exc_type.__name__, args.exc_value)
