"""Files the commands write for users (`--out`): whole or not at all.

A reader never sees half a file, and a command killed mid-write leaves any previous file in
place: the content goes to a temporary file in the same directory (so the rename cannot cross
file systems), is flushed to disk, and is renamed over the target with `os.replace`, which is
atomic on POSIX.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import UsageError


@contextmanager
def atomic_path(out: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `out`, on error it is removed."""
    target = Path(out)
    if target.is_dir():
        raise UsageError(f"--out {target} is a directory; give a file name")
    if not target.parent.is_dir():
        raise UsageError(f"--out {target}: directory {target.parent} does not exist")
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _mode_for(target: Path) -> int:
    if target.exists():
        return target.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_text(out: str | Path, content: str) -> None:
    """Write `content` (UTF-8) to `out` atomically."""
    with atomic_path(out) as tmp:
        tmp.write_text(content, encoding="utf-8")
