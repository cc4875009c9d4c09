"""Recovering from a lost or broken journal: set the broken one aside, rebuild from the reports.

The daemon refuses to start on an empty or damaged journal (``JournalCorrupt``): taking it for
new would process every file in the folders again. ``recover`` is what ``flickerd journal
recover`` runs, with the state dir locked so no daemon works meanwhile.

A journal remembers which output folders' reports it has taken in (meta ``outputs``). The daemon
takes in those of every configured output folder it does not know yet, at start and at each
reload (``adopt_outputs``): a new journal in a fresh state dir (the old one was lost) gets every
finished job back, and so does a folder configured again after a recovery that ran without it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from flickerd.errors import JournalCorrupt
from flickerd.service.fsync import fsync_dir
from flickerd.service.journal import OUTPUTS_KEY, Journal, journal_path
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


def adopt_outputs(journal: Journal, folders: Sequence[tuple[str, Path]]) -> Rebuilt | None:
    """Rows for the reports in the output folders of ``folders`` (name, output) this journal has not taken in
    yet; None when it knew them all. A journal from before the record knew its folders all along."""
    known = journal.meta(OUTPUTS_KEY)
    if known is None:
        journal.set_meta(OUTPUTS_KEY, sorted({str(out) for _, out in folders}))
        return None
    new = [(name, out) for name, out in folders if str(out) not in known]
    if not new:
        return None
    got = rebuild(journal, new)
    journal.set_meta(OUTPUTS_KEY, sorted({*known, *(str(out) for _, out in new)}))
    return got


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
        return Recovery(path, aside, adopt_outputs(journal, folders) or Rebuilt(0, {}, 0, (), (), ()))
    finally:
        journal.close()
