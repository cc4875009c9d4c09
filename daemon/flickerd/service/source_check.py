"""Is the source still the version a job took in? Asked once more just before publishing.

A render rewritten while its job ran (a re-export under the same name, a sync tool) would
otherwise get the fix of the old bytes, or of a half-old, half-new read, published under its
name. The cheap test is the stat the journal recorded; only when that differs is the content
hashed again, so a touch or a same-bytes copy still publishes.
"""

from __future__ import annotations

import os
from typing import Any

from flickerd.service.hashing import sha256_file


def _stat(path: str) -> tuple[int, float]:
    if os.path.isdir(path):  # an image sequence: the journal holds its frames' total and newest mtime
        from flickerd.service.sequence_settle import snapshot

        snap = snapshot(path, "")
        return snap.st_size, snap.st_mtime
    st = os.stat(path)
    return st.st_size, st.st_mtime


def _sha(path: str, sequence_fps: float) -> str:
    if os.path.isdir(path):
        from flickerd.service.sequence_hash import sequence_hash

        return sequence_hash(path, marker="", default_fps=sequence_fps)[0]
    return sha256_file(path)


def source_changed(job: Any, *, sequence_fps: float = 24.0) -> str | None:
    """A sentence saying how ``job``'s source changed since it was journaled, or None.

    A source that is gone is not "changed": what was read is complete and its fix stands.
    """
    try:
        if _stat(job.path) == (job.size, job.mtime) or job.sha256 is None:
            return None
        if _sha(job.path, sequence_fps) == job.sha256:
            return None
    except FileNotFoundError:
        return None
    except OSError as exc:  # unreadable now: do not publish what cannot be checked
        return f"{job.path}: could not be checked before publishing ({exc.strerror or exc}); nothing was published."
    return (f"{job.path}: the source changed while it was being processed; this result was not published "
            "and the new version is processed as its own job.")
