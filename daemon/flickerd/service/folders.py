"""A watched folder as the daemon keeps it, and whether the folder on disk is still the one it watches.

An inotify watch belongs to a folder's inode, not its path: after ``rm -rf in; mkdir in`` (or
``mv in in.old; mkdir in``) the path is fine and the watch is dead or elsewhere. ``look`` compares
the folder at the path with the one being watched (device and inode): another device is an
unmounted share (pause; it is not a deletion), another inode on the same device is a folder
replaced under the same name (watch it again and rescan).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from flickerd.service.watcher import WatchSpec

Identity = tuple[int, int]  # (st_dev, st_ino)


@dataclass(slots=True)
class FolderState:
    spec: WatchSpec
    conf: Any
    identity: Identity | None = None  # the folder being watched; None until it was seen
    paused: bool = False
    full_since: float | None = None  # its output ran out of space then: no intake, no jobs until freed
    full_free: int = 0  # free bytes of the output when it filled up


class Look(str, Enum):
    SAME = "same"
    GONE = "unavailable"  # missing, not a folder, or on another device (an unmounted share): pause
    BACK = "back"  # a paused folder is there again: resume
    REPLACED = "replaced"  # the path is another folder now: watch it again


def identity(path: Path) -> Identity | None:
    """The folder at ``path`` now, or None when there is none."""
    try:
        s = os.stat(path)
    except OSError:
        return None
    return (s.st_dev, s.st_ino) if stat.S_ISDIR(s.st_mode) else None


def look(st: FolderState) -> tuple[Look, Identity | None]:
    """What became of ``st``'s folder, and the folder at its path now."""
    now = identity(st.spec.path)
    if now is None or (st.identity is not None and now[0] != st.identity[0]):
        return Look.GONE, now
    if st.paused:
        return Look.BACK, now
    if st.identity is not None and now != st.identity:
        return Look.REPLACED, now
    return Look.SAME, now
