"""What the intake stage does off the daemon's loop: the settle gate of a stable candidate, and the
content hash of a settled one. Both read the file (through the guarded opener); ``work`` runs on
the stage's thread and returns a record the loop turns into a journal row (or a retry).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flickerd.errors import FlickerdError
from flickerd.service.hashing import content_hash
from flickerd.service.journal import Journal
from flickerd.service.sequence_hash import sequence_hash
from flickerd.service.sequence_settle import probe_sequence
from flickerd.service.settle import Check, default_probe


@dataclass(frozen=True, slots=True)
class Gate:
    """Run the settle gate on a stable candidate (a ``Check`` in state GATE)."""

    check: Check


@dataclass(frozen=True, slots=True)
class Gated:
    path: str
    error: FlickerdError | None  # None: it passed


@dataclass(frozen=True, slots=True)
class Hashed:
    check: Check  # READY or UNUSABLE
    sha: str | None
    stat: Any  # os.stat_result, or a sequence's Snapshot
    error: OSError | FlickerdError | None


def candidate_path(item: Gate | Check) -> str:
    return (item.check if isinstance(item, Gate) else item).candidate.path


def work(item: Gate | Check, beat: Callable[[], None], *, limits: Any, journal: Journal) -> Gated | Hashed:
    """The gate for a ``Gate``, else the hash of a settled ``Check``; errors come back in the record."""
    if isinstance(item, Gate):
        cand = item.check.candidate
        try:
            (probe_sequence if cand.sequence is not None else default_probe)(cand.path, limits)
        except FlickerdError as exc:
            return Gated(cand.path, exc)
        return Gated(cand.path, None)
    cand = item.candidate
    try:
        if cand.sequence is not None:
            sha, st = sequence_hash(cand.path, marker=cand.sequence.marker, default_fps=cand.sequence.fps, beat=beat)
        else:
            sha, st = content_hash(cand.path, journal, beat)
    except (OSError, FlickerdError) as exc:  # a full state disk fails the hash cache write
        return Hashed(item, None, None, exc)
    return Hashed(item, sha, st, None)


def unreadable(path: str, error: OSError | None, uid: int) -> tuple[str, str]:
    """(failure reason, sentence) for a regular file the hash could not read. Only a permission error is
    about its owner or mode (a name swapped for a socket or pipe is refused before this, never quarantined)."""
    why = error.strerror if error is not None and error.strerror else str(error)
    if isinstance(error, PermissionError):
        return "permission", (f"{path}: cannot be read by the daemon's user (uid {uid}): {why}. "
                              "Fix its owner or mode, then run `flickerd retry` with this job's id.")
    return "missing_input", (f"{path}: could not be read ({why}); once it reads (`cat` it to check), "
                             "run `flickerd retry` with this job's id.")


__all__ = ["Gate", "Gated", "Hashed", "candidate_path", "unreadable", "work"]
