"""Free space: when is a disk full, and when has space come back?"""

from __future__ import annotations

import errno
import os
import sqlite3

DISK_FREED_BYTES = 1024 * 1024  # a full disk counts as freed once this much more is free
DISK_FULL_RETRY_S = 60.0  # ... or try again after this long anyway (space may come back unseen)


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) is a full disk: ENOSPC, or SQLite's SQLITE_FULL."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        if isinstance(exc, sqlite3.Error) and (getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
                                               or "disk is full" in str(exc)):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def free_bytes(folder: str | os.PathLike) -> int:
    """Bytes this user may still write on ``folder``'s file system; 0 when it cannot be asked."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return 0
    return st.f_bavail * st.f_frsize


def space_back(free: int, free_when_full: int, full_since: float, now: float) -> bool:
    """Whether a disk found full at ``full_since`` (``free_when_full`` bytes free then) may be written
    again at ``now`` (monotonic s): ``DISK_FREED_BYTES`` more are free, or ``DISK_FULL_RETRY_S`` passed."""
    return free >= free_when_full + DISK_FREED_BYTES or now - full_since >= DISK_FULL_RETRY_S
