"""Recovering from a lost or broken journal: set the broken one aside, rebuild from the reports.

The daemon refuses to start on an empty or damaged journal (``JournalCorrupt``): taking it for
new would process every file in the folders again. ``recover`` is what ``flickerd journal
recover`` runs, with the state dir locked so no daemon works meanwhile; a daemon that starts
with no job rows at all (a fresh state dir after the old one was lost) rebuilds the same way
(``rebuild_if_empty``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from flickerd.errors import JournalCorrupt
from flickerd.service.fsync import fsync_dir
from flickerd.service.journal import Journal, journal_path
from flickerd.service.journal_rebuild import Rebuilt, rebuild
from flickerd.service.state_dir import StateDir

SIDE_FILES = ("-wal", "-shm")  # SQLite's companions of a WAL journal


@dataclass(frozen=True, slots=True)
class Recovery:
    journal: Path
    set_aside: Path | None  # where the broken journal went; None when there was none
    rebuilt: Rebuilt | None  # None: the journal was healthy and left alone
    jobs_before: int = 0  # rows of a healthy journal


def set_aside(path: Path, *, now: float | None = None) -> Path:
    """Rename the journal (and its -wal/-shm) to ``NAME.broken-UTCSTAMP``; returns the new name."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    target = path.with_name(f"{path.name}.broken-{stamp}")
    for suffix in ("", *SIDE_FILES):
        src = path.with_name(path.name + suffix)
        if src.exists():
            os.replace(src, target.with_name(target.name + suffix))
    fsync_dir(path.parent)
    return target


def rebuild_if_empty(journal: Journal, folders: Sequence[tuple[str, Path]]) -> Rebuilt | None:
    """At the daemon's start: a journal without a single job is rebuilt from the reports (None: it had jobs)."""
    return rebuild(journal, folders) if journal.empty() else None


def recover(state_dir: Path, folders: Sequence[tuple[str, Path]]) -> Recovery:
    """Check the state dir's journal; a broken or missing one is set aside and rebuilt from ``folders``'
    reports (name, output folder). Raises ``JournalError`` when a daemon holds the state dir."""
    StateDir.claim(state_dir)  # held until this process exits: no daemon starts meanwhile
    path = journal_path(state_dir)
    aside = None
    if path.exists():
        try:
            journal = Journal(path)
            try:
                journal.check()
                return Recovery(path, None, None, jobs_before=sum(journal.counts().values()))
            finally:
                journal.close()
        except JournalCorrupt:
            aside = set_aside(path)
    journal = Journal(path)
    try:
        return Recovery(path, aside, rebuild(journal, folders))
    finally:
        journal.close()
