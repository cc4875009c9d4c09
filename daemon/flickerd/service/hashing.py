"""Content hashes for idempotence, cached by (device, inode, size, mtime) so restarts do not re-hash."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

from flickerd.media.guarded import InputKind, open_input
from flickerd.service.journal import Journal

CHUNK_BYTES = 1 << 20


def _idle() -> None:
    pass


def sha256_file(path: str | os.PathLike, beat: Callable[[], None] = _idle) -> str:
    """Hex sha256 of the file's bytes, read in 1 MiB chunks (constant memory), calling ``beat`` per chunk.

    Opened through the guard: a pipe or device under the name is ``UnsafeInput``, never read.
    """
    h = hashlib.sha256()
    with open_input(path, InputKind.VIDEO) as f:
        while chunk := f.read(CHUNK_BYTES):
            h.update(chunk)
            beat()
    return h.hexdigest()


def content_hash(path: str | os.PathLike, journal: Journal,
                 beat: Callable[[], None] = _idle) -> tuple[str, os.stat_result]:
    """The file's sha256, from the journal's cache when (dev, inode, size, mtime) is unchanged.

    The stat is taken before and after hashing; if the file changed meanwhile the result is
    not cached (the caller's settle logic will see the new size/mtime and try again).
    """
    before = os.stat(path)
    cached = journal.cached_hash(before)
    if cached is not None:
        return cached, before
    digest = sha256_file(path, beat)
    after = os.stat(path)
    if (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino):
        journal.remember_hash(after, digest)
    return digest, after
